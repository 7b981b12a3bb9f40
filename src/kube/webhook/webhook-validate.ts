/**
 * The validating admission webhook's decision (istiod's `validation.istio.io`), as a pure
 * function of an AdmissionReview v1 request: an object of a kind Clew implements is validated as
 * `clew validate` validates a file (schema, semantics, name rule), and refused with the same
 * messages; warnings go back as admission warnings (kubectl prints them). A kind in an Istio API
 * group that Clew does not implement, or a version it does not accept, is refused: applying it
 * would give a false sense of routing or protection. DELETE and objects of other groups pass.
 */
import { classifyKind, type KindDefinition } from '../../config/kinds.js';
import type { ValidationMessage } from '../../config/messages.js';
import { validateResource } from '../../config/validate-resource.js';
import type { KubeObject } from '../kube-client.js';
import { configFromKube } from '../kube-config-source.js';

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  name?: string;
  object?: KubeObject | null;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  /** base64 of a JSON Patch (mutating webhooks) */
  patch?: string;
  patchType?: 'JSONPatch';
}

/** `VirtualService default/reviews: spec.http[0].timeout: ...`: formatMessage without the file:line. */
export function admissionText(m: ValidationMessage): string {
  return `${m.kind ? `${m.kind} ${m.namespace}/${m.name}: ` : ''}${m.field ? `${m.field}: ` : ''}${m.message}`;
}

function deny(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code: 400, reason: 'BadRequest', message } };
}

export function validateAdmission(req: AdmissionRequest): AdmissionResponse {
  const uid = req.uid;
  if (req.operation === 'DELETE' || req.operation === 'CONNECT' || !req.object) return { uid, allowed: true };
  const group = req.kind?.group ?? '';
  const version = req.kind?.version ?? '';
  const kind = req.kind?.kind ?? req.object.kind ?? '';
  const cls = classifyKind(group ? `${group}/${version}` : version, kind);
  if (cls.status === 'ignored') return { uid, allowed: true };
  if (cls.status !== 'known') {
    return deny(uid, `configuration is invalid: ${kind}.${group} is not implemented by Clew (its effect would be silently missing)`);
  }
  const def: KindDefinition = cls.def;
  if (!def.versions.includes(version)) {
    return deny(uid, `configuration is invalid: ${kind} ${group}/${version}: version not accepted (${def.versions.join(', ')})`);
  }
  const obj: KubeObject = {
    ...req.object,
    metadata: { ...req.object.metadata, name: req.object.metadata?.name ?? req.name ?? '', namespace: req.object.metadata?.namespace ?? req.namespace },
  };
  const messages = validateResource(configFromKube(def, obj));
  const errors = messages.filter((m) => m.severity === 'error');
  const warnings = messages.filter((m) => m.severity !== 'error').map(admissionText);
  if (errors.length > 0) {
    const res = deny(uid, `configuration is invalid: ${errors.map(admissionText).join('; ')}`);
    if (warnings.length) res.warnings = warnings;
    return res;
  }
  return warnings.length ? { uid, allowed: true, warnings } : { uid, allowed: true };
}
