/** Kind names on the command line (kubectl/istioctl habits), from the kinds table (config/kinds.ts). */
import { KINDS, kindByName, qualifiedName } from '../config/kinds.js';
import { UsageError } from './errors.js';

export { qualifiedName };

/** `vs`, `virtualservices`, `VirtualService`, `virtualservice.networking.istio.io` → `VirtualService`. */
export function resolveKind(text: string): string {
  const def = kindByName(text);
  if (!def) throw new UsageError(`unknown kind ${JSON.stringify(text)}; known: ${KINDS.map((k) => k.kind).join(', ')}`);
  return def.kind;
}
