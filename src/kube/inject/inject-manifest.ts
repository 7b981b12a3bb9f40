/**
 * Offline injection of a YAML manifest (`clew kube-inject`, istioctl's command): every pod
 * template in it (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
 * Job, CronJob, and the items of a List) goes through the same `injectPod` as the webhook; a
 * template opted out by `sidecar.istio.io/inject: "false"` or already injected is left as it is,
 * every other document is passed through unchanged.
 */
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from '../kube-client.js';
import { injectionPolicy } from './inject-policy.js';
import { InjectError, injectPod, type InjectSettings } from './inject-pod.js';

const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job']);

export interface InjectedManifest {
  yaml: string;
  injected: string[];
  skipped: { name: string; reason: string }[];
}

function injectObject(o: any, settings: InjectSettings, out: InjectedManifest, where: string): any {
  if (!o || typeof o !== 'object') return o;
  const name = `${o.kind}/${o.metadata?.name ?? '?'}`;
  const one = (pod: KubeObject): KubeObject => {
    const withMd: KubeObject = { ...pod, metadata: { ...(pod.metadata ?? {}), name: pod.metadata?.name ?? '' } };
    const d = injectionPolicy(withMd, 'offline');
    if (!d.inject) {
      out.skipped.push({ name, reason: d.reason });
      return pod;
    }
    try {
      const res = injectPod(withMd, settings);
      if (!pod.metadata?.name) delete (res.metadata as Record<string, unknown>).name;
      out.injected.push(name);
      return res;
    } catch (err) {
      if (err instanceof InjectError) throw new InjectError(`${where}: ${name}: ${err.message}`);
      throw err;
    }
  };
  if (o.kind === 'List' && Array.isArray(o.items)) return { ...o, items: o.items.map((i: any) => injectObject(i, settings, out, where)) };
  if (o.kind === 'Pod' && (o.apiVersion ?? 'v1') === 'v1') return one(o);
  if (TEMPLATE_KINDS.has(o.kind) && o.spec?.template) return { ...o, spec: { ...o.spec, template: one(o.spec.template) } };
  if (o.kind === 'CronJob' && o.spec?.jobTemplate?.spec?.template) {
    return {
      ...o,
      spec: { ...o.spec, jobTemplate: { ...o.spec.jobTemplate, spec: { ...o.spec.jobTemplate.spec, template: one(o.spec.jobTemplate.spec.template) } } },
    };
  }
  return o;
}

export function injectManifest(text: string, settings: InjectSettings, file = '<stdin>'): InjectedManifest {
  const out: InjectedManifest = { yaml: '', injected: [], skipped: [] };
  const docs = parseAllDocuments(text, { prettyErrors: false });
  const parts: string[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length) {
      const e = doc.errors[0];
      throw new InjectError(`${file}:${(e.linePos?.[0]?.line ?? 0)}: YAML: ${e.message}`);
    }
    const line = doc.range ? text.slice(0, doc.range[0]).split('\n').length : 0;
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    parts.push(stringify(injectObject(value, settings, out, `${file}:${line}`), { lineWidth: 0 }));
  }
  out.yaml = parts.join('---\n');
  return out;
}
