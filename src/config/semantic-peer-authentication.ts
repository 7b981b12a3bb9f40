/**
 * PeerAuthentication semantics, with Istio's messages (pkg/config/validation ValidatePeerAuthentication
 * and the v1 CRD's CEL rule): port-level mTLS only with a selector, at least one port when the
 * map is present, ports 1..65535, selector label rules.
 */
import { joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asObj, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';

export function validatePeerAuthentication(spec: Obj, rep: Reporter): void {
  const labels = asObj(asObj(spec.selector).matchLabels);
  for (const [k, v] of Object.entries(labels)) {
    const p = joinKey('spec.selector.matchLabels', k);
    if (k === '') rep.error(p, 'empty key is not supported in selector', Codes.format);
    else if (k.includes('*')) rep.error(p, 'wildcard is not supported in selector', Codes.format);
    if (typeof v === 'string' && v.includes('*')) rep.error(p, 'wildcard is not supported in selector', Codes.format);
  }
  const emptySelector = Object.keys(labels).length === 0;
  if (!has(spec, 'portLevelMtls')) return;
  const ports = asObj(spec.portLevelMtls);
  if (emptySelector && Object.keys(ports).length > 0) {
    rep.error('spec.portLevelMtls', 'mesh/namespace peer authentication cannot have port level mTLS (portLevelMtls requires selector)', Codes.mtls);
  }
  if (Object.keys(ports).length === 0) {
    rep.error('spec.portLevelMtls', 'port level mTLS, if defined, must have at least one element', Codes.mtls);
  }
  for (const k of Object.keys(ports)) {
    const n = Number(k);
    if (/^\d+$/.test(k) && (n < 1 || n > 65535)) rep.error(joinKey('spec.portLevelMtls', k), 'port must be in range 1..65535', Codes.range);
  }
}
