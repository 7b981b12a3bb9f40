/** DestinationRule semantics: subsets, traffic policies, deprecated fields. */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asNum, asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { checkWildcardDomain, isDns1123Label } from './value-host.js';
import { validateClientTls } from './semantic-tls.js';
import { validateExportTo } from './semantic-export-to.js';

const TOPOLOGY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);
const POLICY_FIELDS = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'];

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

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
  validateExportTo(spec.exportTo, rep, { destinationRuleWithSelector: workloadSelector });
}

function validateTrafficPolicy(tp: Obj, p: string, rep: Reporter, workloadSelector: boolean): void {
  if (!POLICY_FIELDS.some((k) => has(tp, k))) rep.error(p, 'traffic policy must have at least one field', Codes.empty);
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
  if (has(tp, 'connectionPool')) validateConnectionPool(asObj(tp.connectionPool), joinKey(p, 'connectionPool'), rep);
  if (has(tp, 'outlierDetection')) {
    const od = asObj(tp.outlierDetection);
    if (od.splitExternalLocalOriginErrors !== true && (asNum(od.consecutiveLocalOriginFailures) ?? 0) > 0) {
      rep.error(
        joinKey(joinKey(p, 'outlierDetection'), 'consecutiveLocalOriginFailures'),
        'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
        Codes.format,
      );
    }
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
      const chp = joinKey(lp, 'consistentHash');
      const ch = asObj(lb.consistentHash);
      if (!['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].some((k) => has(ch, k))) {
        rep.error(chp, 'must set one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName', Codes.empty);
      }
      const attrs = asObjList(asObj(ch.httpCookie).attributes);
      findDuplicates(attrs.map((a) => asStr(a.name)), (n, i) =>
        rep.error(joinKey(joinIndex(joinKey(joinKey(chp, 'httpCookie'), 'attributes'), i), 'name'), `duplicate cookie attribute name: ${n}`, Codes.duplicate),
      );
      if ((asNum(ch.minimumRingSize) ?? 0) !== 0) {
        rep.warn(joinKey(chp, 'minimumRingSize'), "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead", Codes.deprecated);
      }
      if (has(ch, 'maglev')) {
        const tp2 = joinKey(joinKey(chp, 'maglev'), 'tableSize');
        const size = asNum(asObj(ch.maglev).tableSize) ?? 0;
        if (size === 0) rep.error(tp2, 'tableSize must be set for maglev', Codes.required);
        else if (size >= 5000011) rep.error(tp2, 'tableSize must be less than 5000011 for maglev', Codes.range);
        else if (!isPrime(size)) rep.error(tp2, 'tableSize must be a prime number for maglev', Codes.format);
      }
    }
    const za = asObj(lb.zoneAwareLbSetting);
    const zp = joinKey(lp, 'zoneAwareLbSetting');
    asList(za.failoverPriority).forEach((l, i) => {
      if (typeof l === 'string' && TOPOLOGY_LABELS.has(l)) {
        rep.error(joinIndex(joinKey(zp, 'failoverPriority'), i), `'failover_priority' for zone aware lb must not use topology label '${l}'; region- and zone-level routing are handled automatically`, Codes.format);
      }
    });
    asObjList(za.failover).forEach((f, i) => {
      const fp = joinIndex(joinKey(zp, 'failover'), i);
      const from = asStr(f.from) ?? '';
      const to = asStr(f.to) ?? '';
      if (from === to) rep.error(fp, 'zone aware lb failover settings must specify different regions', Codes.format);
      if (from.includes('/') || to.includes('/')) rep.error(fp, 'zone aware lb failover only specifies region; zone and subzone failover are handled automatically', Codes.format);
      if (from.includes('*') || to.includes('*')) rep.error(fp, "zone aware lb failover region should not contain '*' wildcard", Codes.format);
    });
    const warmup = asObj(lb.warmup);
    const aggression = asNum(warmup.aggression);
    if (aggression !== undefined && aggression <= 0) rep.error(joinKey(joinKey(lp, 'warmup'), 'aggression'), 'aggression should be greater than 0', Codes.range);
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

/** Also a Sidecar's inboundConnectionPool and ingress connectionPool. */
export function validateConnectionPool(cp: Obj, p: string, rep: Reporter): void {
  if (!has(cp, 'tcp') && !has(cp, 'http')) rep.error(p, 'must set tcp or http', Codes.empty);
  const http = asObj(cp.http);
  const hp = joinKey(p, 'http');
  if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true) {
    rep.error(joinKey(hp, 'useClientProtocol'), 'use client protocol must not be true when H2UpgradePolicy is UPGRADE', Codes.exclusive);
  }
  if (has(http, 'http2KeepAlive')) {
    const ka = asObj(http.http2KeepAlive);
    for (const k of ['interval', 'timeout']) {
      if (!has(ka, k)) rep.error(joinKey(joinKey(hp, 'http2KeepAlive'), k), `http2 keepalive ${k} is required`, Codes.required);
    }
  }
}
