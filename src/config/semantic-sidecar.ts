/** Sidecar semantics: egress hosts, catch-all listener, ingress ports and endpoints. */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asNum, asObj, asObjList, asStr, checkSelectorLabels, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { checkNamespacedHost } from './value-host.js';

const DEFAULT_ENDPOINT = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):(\d{1,5})$/;

export function validateSidecar(spec: Obj, rep: Reporter): void {
  checkSelectorLabels(asObj(spec.workloadSelector).labels, 'spec.workloadSelector.labels', rep, Codes.format);
  const egress = asObjList(spec.egress);
  const ingress = asObjList(spec.ingress);
  if (egress.length === 0 && ingress.length === 0 && !has(spec, 'outboundTrafficPolicy') && !has(spec, 'inboundConnectionPool')) {
    rep.error('spec', 'at least one of egress, ingress or outboundTrafficPolicy is required', Codes.sidecar);
  }

  egress.forEach((e, i) => {
    const p = joinIndex('spec.egress', i);
    const hosts = asList(e.hosts);
    if (has(e, 'hosts') && hosts.length === 0) rep.error(joinKey(p, 'hosts'), 'at least one host is required', Codes.empty);
    hosts.forEach((h, j) => {
      if (typeof h !== 'string') return;
      const err = checkNamespacedHost(h, true);
      if (err) rep.error(joinIndex(joinKey(p, 'hosts'), j), err, Codes.host);
    });
    if (!has(e, 'port') && i !== egress.length - 1) {
      rep.error(p, 'the egress listener without a port (the catch-all) must be the last one', Codes.sidecar);
    }
  });
  const catchAll = egress.filter((e) => !has(e, 'port')).length;
  if (catchAll > 1) rep.error('spec.egress', 'at most one egress listener may omit the port', Codes.sidecar);
  findDuplicates(egress.map((e) => asNum(asObj(e.port).number)), (n, i) =>
    rep.error(joinKey(joinKey(joinIndex('spec.egress', i), 'port'), 'number'), `duplicate egress port ${n}`, Codes.duplicate),
  );

  ingress.forEach((ing, i) => {
    const p = joinIndex('spec.ingress', i);
    const ep = asStr(ing.defaultEndpoint);
    if (ep !== undefined && !ep.startsWith('unix://')) {
      const m = DEFAULT_ENDPOINT.exec(ep);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        rep.error(joinKey(p, 'defaultEndpoint'), 'must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>', Codes.sidecar);
      }
    }
  });
  findDuplicates(ingress.map((e) => asNum(asObj(e.port).number)), (n, i) =>
    rep.error(joinKey(joinKey(joinIndex('spec.ingress', i), 'port'), 'number'), `duplicate ingress port ${n}`, Codes.duplicate),
  );
}
