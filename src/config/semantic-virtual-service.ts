/** VirtualService semantics beyond the schema: Istio's cross-field rules. */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asNum, asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import { validateExportTo } from './semantic-export-to.js';
import type { Reporter } from './validate-reporter.js';
import { checkRegexRewrite } from './value-regex.js';
import { checkVirtualServiceHost, checkWildcardDomain, hostMatches, isDns1123Subdomain } from './value-host.js';

const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  // gRPC status names (x-envoy-retry-grpc-on)
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);

export function validateVirtualService(spec: Obj, rep: Reporter): void {
  const hosts = asList(spec.hosts);
  const gateways = asList(spec.gateways).filter((g): g is string => typeof g === 'string');
  const appliesToMesh = gateways.length === 0 || gateways.includes('mesh');

  // no hosts: a delegate VirtualService (its routes are merged into the root routes that name it)
  const delegate = hosts.length === 0;
  if (delegate) {
    if (gateways.length > 0) rep.error('spec.gateways', 'delegate virtual service must have no gateways specified', Codes.route);
    if (asList(spec.tls).length > 0) rep.error('spec.tls', 'delegate virtual service must have no tls route specified', Codes.route);
    if (asList(spec.tcp).length > 0) rep.error('spec.tcp', 'delegate virtual service must have no tcp route specified', Codes.route);
    asObjList(spec.http).forEach((r, i) => {
      if (has(r, 'delegate')) rep.error(joinKey(joinIndex('spec.http', i), 'delegate'), 'delegate virtual service must not have delegate', Codes.route);
    });
  }
  hosts.forEach((h, i) => {
    if (typeof h !== 'string') return;
    const p = joinIndex('spec.hosts', i);
    const err = checkVirtualServiceHost(h);
    if (err) rep.error(p, err, Codes.host);
    else if (h === '*' && appliesToMesh) rep.error(p, 'wildcard host "*" is not allowed for virtual services bound to the mesh', Codes.host);
  });
  findDuplicates(hosts.map(asStr), (h, i) => rep.error(joinIndex('spec.hosts', i), `duplicate host "${h}"`, Codes.duplicate));

  gateways.forEach((g, i) => {
    if (g === 'mesh') return;
    const ok = g.split('/').length <= 2 && g.split('/').every((part) => isDns1123Subdomain(part));
    if (!ok) rep.error(joinIndex('spec.gateways', i), `invalid gateway name "${g}" (expected <name> or <namespace>/<name>)`, Codes.name);
  });

  const http = asObjList(spec.http);
  const tcp = asObjList(spec.tcp);
  const tls = asObjList(spec.tls);
  if (http.length + tcp.length + tls.length === 0) rep.error('spec', 'at least one of http, tcp or tls routes is required', Codes.empty);

  http.forEach((route, i) => validateHttpRoute(route, joinIndex('spec.http', i), rep));
  tcp.forEach((route, i) => {
    const p = joinIndex('spec.tcp', i);
    validateDestinations(asObjList(route.route), joinKey(p, 'route'), rep, true);
  });
  const hostStrings = hosts.filter((h): h is string => typeof h === 'string');
  tls.forEach((route, i) => {
    const p = joinIndex('spec.tls', i);
    asObjList(route.match).forEach((m, j) => {
      const mp = joinIndex(joinKey(p, 'match'), j);
      const sni = asList(m.sniHosts);
      if (has(m, 'sniHosts') && sni.length === 0) rep.error(joinKey(mp, 'sniHosts'), 'at least one SNI host is required', Codes.empty);
      sni.forEach((s, k) => {
        if (typeof s !== 'string') return;
        const sp = joinIndex(joinKey(mp, 'sniHosts'), k);
        const err = checkWildcardDomain(s);
        if (err) rep.error(sp, err, Codes.host);
        else if (!hostStrings.some((h) => hostMatches(h, s))) rep.error(sp, `SNI host "${s}" does not match any host of the virtual service`, Codes.host);
      });
    });
    validateDestinations(asObjList(route.route), joinKey(p, 'route'), rep, true);
  });
  validateExportTo(spec.exportTo, rep);
}

function validateHttpRoute(route: Obj, p: string, rep: Reporter): void {
  if (!has(route, 'route') && !has(route, 'redirect') && !has(route, 'directResponse') && !has(route, 'delegate')) {
    rep.error(p, 'one of route, redirect, directResponse or delegate is required', Codes.route);
  }
  if (has(route, 'route')) validateDestinations(asObjList(route.route), joinKey(p, 'route'), rep, true);
  if (has(route, 'mirror')) validateDestinationHost(asObj(route.mirror), joinKey(p, 'mirror'), rep);
  if (has(route, 'mirrorPercent')) rep.warn(joinKey(p, 'mirrorPercent'), 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead', Codes.deprecated);

  if (has(route, 'redirect')) {
    const r = asObj(route.redirect);
    if (!['uri', 'prefixRewrite', 'authority', 'scheme', 'port', 'derivePort'].some((k) => has(r, k))) {
      rep.error(joinKey(p, 'redirect'), 'must set at least one of uri, prefixRewrite, authority, scheme, port or derivePort', Codes.route);
    }
  }

  const rrw = asObj(asObj(route.rewrite).uriRegexRewrite);
  if (typeof rrw.match === 'string' && typeof rrw.rewrite === 'string') {
    // the proxy compiles the rewrite against the match's groups (RE2::Rewrite rules)
    const err = checkRegexRewrite(rrw.match, rrw.rewrite);
    if (err) rep.error(joinKey(joinKey(joinKey(p, 'rewrite'), 'uriRegexRewrite'), 'rewrite'), err, Codes.regex);
  }

  if (has(route, 'fault')) {
    const fp = joinKey(p, 'fault');
    const fault = asObj(route.fault);
    if (!has(fault, 'abort') && !has(fault, 'delay')) rep.error(fp, 'must have an abort or a delay', Codes.fault);
    if (has(fault, 'abort')) {
      const abort = asObj(fault.abort);
      if (!['httpStatus', 'grpcStatus', 'http2Error'].some((k) => has(abort, k))) {
        rep.error(joinKey(fp, 'abort'), 'must set httpStatus, grpcStatus or http2Error', Codes.fault);
      }
    }
    if (has(fault, 'delay')) {
      const delay = asObj(fault.delay);
      if (!has(delay, 'fixedDelay') && !has(delay, 'exponentialDelay')) rep.error(joinKey(fp, 'delay'), 'fixedDelay is required', Codes.fault);
    }
  }

  const retryOn = asStr(asObj(route.retries).retryOn);
  if (retryOn !== undefined) {
    for (const cond of retryOn.split(',').map((s) => s.trim())) {
      const code = /^\d+$/.test(cond) ? Number(cond) : undefined;
      if (code !== undefined ? code < 100 || code > 599 : !RETRY_ON.has(cond)) {
        rep.error(joinKey(joinKey(p, 'retries'), 'retryOn'), `unknown retry condition "${cond}"`, Codes.route);
      }
    }
  }
}

function validateDestinationHost(dest: Obj, p: string, rep: Reporter): void {
  const host = asStr(dest.host);
  if (host === undefined) return;
  const hp = joinKey(p, 'host');
  if (host === '*') rep.error(hp, 'destination host must not be "*"', Codes.host);
  else {
    const err = checkWildcardDomain(host);
    if (err) rep.error(hp, err, Codes.host);
  }
}

/** Shared by http, tcp and tls routes: destinations and their weights. */
function validateDestinations(routes: Obj[], p: string, rep: Reporter, required: boolean): void {
  if (routes.length === 0) {
    if (required) rep.error(p, 'at least one destination is required', Codes.route);
    return;
  }
  let total = 0;
  routes.forEach((r, i) => {
    validateDestinationHost(asObj(r.destination), joinKey(joinIndex(p, i), 'destination'), rep);
    total += Math.max(0, asNum(r.weight) ?? 0);
  });
  // With one destination the weight is implied (100); with several they must not all be 0.
  if (routes.length > 1 && total === 0) rep.error(p, 'total weight of destinations must be > 0', Codes.weight);
}
