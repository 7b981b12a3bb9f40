/** DestinationRule semantics: subsets, traffic policies, deprecated fields. */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asNum, asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { checkWildcardDomain, isDns1123Label } from './value-host.js';
import { validateClientTls } from './semantic-tls.js';

export function validateDestinationRule(spec: Obj, rep: Reporter): void {
  const host = asStr(spec.host);
  if (host !== undefined) {
    const err = checkWildcardDomain(host);
    if (err) rep.error('spec.host', err, Codes.host);
  }
  const workloadSelector = has(spec, 'workloadSelector');
  if (has(spec, 'trafficPolicy')) validateTrafficPolicy(asObj(spec.trafficPolicy), 'spec.trafficPolicy', rep, workloadSelector);

  const subsets = asObjList(spec.subsets);
  subsets.forEach((s, i) => {
    const p = joinIndex('spec.subsets', i);
    const name = asStr(s.name);
    if (name !== undefined && !isDns1123Label(name)) {
      rep.error(joinKey(p, 'name'), `invalid subset name "${name}" (must be a DNS-1123 label)`, Codes.name);
    }
    if (has(s, 'trafficPolicy')) validateTrafficPolicy(asObj(s.trafficPolicy), joinKey(p, 'trafficPolicy'), rep, workloadSelector);
  });
  findDuplicates(subsets.map((s) => asStr(s.name)), (name, i) =>
    rep.error(joinKey(joinIndex('spec.subsets', i), 'name'), `duplicate subset name "${name}"`, Codes.duplicate),
  );
}

function validateTrafficPolicy(tp: Obj, p: string, rep: Reporter, workloadSelector: boolean): void {
  validatePolicy(tp, p, rep, workloadSelector);
  const ports = asObjList(tp.portLevelSettings);
  ports.forEach((pl, i) => {
    const pp = joinIndex(joinKey(p, 'portLevelSettings'), i);
    if (has(pl, 'port') && !has(asObj(pl.port), 'number')) rep.error(joinKey(pp, 'port'), 'port number is required', Codes.required);
    validatePolicy(pl, pp, rep, workloadSelector);
  });
  findDuplicates(ports.map((pl) => asNum(asObj(pl.port).number)), (n, i) =>
    rep.error(joinKey(joinIndex(joinKey(p, 'portLevelSettings'), i), 'port'), `duplicate port-level settings for port ${n}`, Codes.duplicate),
  );
}

/** The parts shared by a traffic policy and its port-level settings. */
function validatePolicy(tp: Obj, p: string, rep: Reporter, workloadSelector: boolean): void {
  if (has(tp, 'connectionPool')) {
    const cp = asObj(tp.connectionPool);
    if (!has(cp, 'tcp') && !has(cp, 'http')) rep.error(joinKey(p, 'connectionPool'), 'must set tcp or http', Codes.empty);
  }
  if (has(tp, 'outlierDetection')) {
    const od = asObj(tp.outlierDetection);
    if (has(od, 'consecutiveErrors')) {
      rep.warn(
        joinKey(joinKey(p, 'outlierDetection'), 'consecutiveErrors'),
        'consecutiveErrors is deprecated; use consecutive5xxErrors (or consecutiveGatewayErrors)',
        Codes.deprecated,
      );
    }
  }
  if (has(tp, 'loadBalancer')) {
    const lp = joinKey(p, 'loadBalancer');
    const lb = asObj(tp.loadBalancer);
    if (has(lb, 'consistentHash')) {
      const ch = asObj(lb.consistentHash);
      if (!['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].some((k) => has(ch, k))) {
        rep.error(joinKey(lp, 'consistentHash'), 'must set one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName', Codes.empty);
      }
    }
    asObjList(asObj(lb.localityLbSetting).distribute).forEach((d, i) => {
      const to = Object.values(asObj(d.to)).map((v) => asNum(v) ?? 0);
      const sum = to.reduce((a, b) => a + b, 0);
      if (to.length > 0 && sum !== 100) {
        rep.error(joinKey(joinIndex(joinKey(joinKey(lp, 'localityLbSetting'), 'distribute'), i), 'to'), `weights must add up to 100, got ${sum}`, Codes.weight);
      }
    });
  }
  if (has(tp, 'tls')) validateClientTls(asObj(tp.tls), joinKey(p, 'tls'), rep, { workloadSelector });
}
