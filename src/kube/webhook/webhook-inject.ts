/**
 * The injecting admission webhook (istiod's `/inject`): a Pod being created whose injection policy
 * says yes (its namespace's labels from the registry's namespace informer, the pod's own label or
 * annotation) comes back as a JSON Patch adding what `injectPod` adds, the same function
 * `clew kube-inject` runs. A pod the policy skips is admitted unchanged; a pod whose annotations
 * cannot be honoured is refused with the reason (a silently uncaptured pod would bypass policy).
 */
import type { KubeObject } from '../kube-client.js';
import { injectionPolicy } from '../inject/inject-policy.js';
import { InjectError, injectPod, type InjectSettings } from '../inject/inject-pod.js';
import type { AdmissionRequest, AdmissionResponse } from './webhook-validate.js';

export interface InjectWebhookOptions {
  settings: InjectSettings;
  /** labels of a namespace (undefined: no such namespace) */
  namespaceLabels: (namespace: string) => Record<string, string> | undefined | Promise<Record<string, string> | undefined>;
}

export async function injectAdmission(req: AdmissionRequest, opts: InjectWebhookOptions): Promise<AdmissionResponse> {
  const uid = req.uid;
  if (req.operation !== 'CREATE' || req.kind?.kind !== 'Pod' || (req.kind.group ?? '') !== '' || !req.object) return { uid, allowed: true };
  const pod = req.object as KubeObject;
  const ns = req.namespace ?? pod.metadata?.namespace ?? 'default';
  const decision = injectionPolicy(pod, (await opts.namespaceLabels(ns)) ?? {});
  if (!decision.inject) return { uid, allowed: true };
  let injected: KubeObject;
  try {
    injected = injectPod(pod, opts.settings);
  } catch (err) {
    if (err instanceof InjectError) {
      return { uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `sidecar injection: ${err.message}` } };
    }
    throw err;
  }
  // `add` of an object member replaces it when present (RFC 6902)
  const ops = [
    { op: 'add', path: '/metadata/labels', value: injected.metadata.labels },
    { op: 'add', path: '/metadata/annotations', value: injected.metadata.annotations },
    { op: 'replace', path: '/spec', value: injected.spec },
  ];
  return { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') };
}
