/** Gateway references as Istio resolves them: `name` relative to the config's namespace, `name.ns` and `ns/name` absolute. */

/** `bookinfo-gateway` in ns default → `default/bookinfo-gateway`; `mesh` stays. */
export function gatewayKey(name: string, namespace: string): string {
  if (name === 'mesh') return 'mesh';
  if (name.includes('/')) return name;
  if (name.includes('.')) {
    const [gw, ns] = name.split('.');
    return `${ns}/${gw}`;
  }
  return `${namespace}/${name}`;
}
