/**
 * `exportTo` with Istio's rules (validateExportTo): each entry is `.` (this namespace), `*`
 * (everyone), `~` (no one; ServiceEntry only) or a namespace; no duplicates (`.` and the own
 * namespace are the same entry); `*` and `~` stand alone; a DestinationRule with a
 * workloadSelector stays in its own namespace.
 */
import { joinIndex } from './field-path.js';
import { Codes } from './messages.js';
import { asList } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { isDns1123Label } from './value-host.js';

export function validateExportTo(
  value: unknown, rep: Reporter, o: { serviceEntry?: boolean; destinationRuleWithSelector?: boolean } = {},
): void {
  const entries = asList(value).filter((e): e is string => typeof e === 'string');
  if (entries.length === 0) return;
  const namespace = rep.resource.metadata.namespace;
  const seen = new Set<string>();
  entries.forEach((e, i) => {
    const p = joinIndex('spec.exportTo', i);
    const key = e === '.' ? namespace : e;
    if (seen.has(key)) {
      rep.error(p, key !== e ? `duplicate entries in exportTo: . and current namespace ${namespace}` : `duplicate entries in exportTo for entry ${e}`, Codes.exportTo);
      return;
    }
    if (e === '~' && !o.serviceEntry) {
      rep.error(p, 'exportTo ~ (no one) is allowed only on a ServiceEntry', Codes.exportTo);
      return;
    }
    if (e !== '*' && e !== '~' && !isDns1123Label(key)) {
      rep.error(p, `exportTo entry "${e}" is not ".", "*" or a namespace name`, Codes.exportTo);
      return;
    }
    seen.add(key);
  });
  if (o.destinationRuleWithSelector && seen.size > 0) {
    if (!seen.has(namespace)) rep.error('spec.exportTo', 'destination rule with workload selector cannot have exportTo beyond current namespace', Codes.exportTo);
    else if (seen.size > 1) rep.error('spec.exportTo', 'destination rule with workload selector cannot have multiple entries in exportTo', Codes.exportTo);
  }
  if (seen.has('*') && entries.length > 1) rep.error('spec.exportTo', 'cannot have both public (*) and non-public exportTo values for a resource', Codes.exportTo);
  if (seen.has('~') && entries.length > 1) rep.error('spec.exportTo', 'cannot export service entry to no one (~) and someone', Codes.exportTo);
}
