/** ServiceEntry and WorkloadEntry semantics (Istio's ValidateServiceEntry / ValidateWorkloadEntry). */
import { isIP } from 'node:net';
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asNum, asObj, asObjList, asStr, checkSelectorLabels, findDuplicates, has, type Obj } from './semantic-util.js';
import { validateExportTo } from './semantic-export-to.js';
import type { Reporter } from './validate-reporter.js';
import { checkWildcardDomain, isDns1123Label, isWildcardHost } from './value-host.js';
import { invalidValue, labelValueErrors, qualifiedNameErrors } from './value-kube-name.js';

const UNIX = 'unix://';
/** Protocols by which a proxy tells several hosts on one port apart (Host header or SNI). */
const HOST_AWARE = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTPS', 'TLS']);

export function validateServiceEntry(spec: Obj, rep: Reporter): void {
  const hosts = asList(spec.hosts);
  if (hosts.length === 0) rep.error('spec.hosts', 'at least one host is required', Codes.empty);
  hosts.forEach((h, i) => {
    if (typeof h !== 'string') return;
    const p = joinIndex('spec.hosts', i);
    if (h === '*') rep.error(p, 'host "*" is not allowed in a service entry', Codes.host);
    else if (isIP(h)) rep.error(p, `host "${h}" must be a DNS name; put IP addresses in addresses`, Codes.host);
    else {
      const err = checkWildcardDomain(h);
      if (err) rep.error(p, err, Codes.host);
    }
  });
  findDuplicates(hosts.map(asStr), (h, i) => rep.error(joinIndex('spec.hosts', i), `duplicate host "${h}"`, Codes.duplicate));

  const resolution = asStr(spec.resolution) ?? 'NONE';
  let cidr = false;
  asList(spec.addresses).forEach((a, i) => {
    if (typeof a !== 'string') return;
    cidr ||= a.includes('/');
    if (!isIpOrCidr(a)) rep.error(joinIndex('spec.addresses', i), `invalid address "${a}" (expected an IP or CIDR)`, Codes.format);
  });
  if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') {
    rep.error('spec.addresses', 'CIDR addresses are allowed only for NONE/STATIC resolution types', Codes.resolution);
  }

  // No ports is valid (Istio takes the ports from the traffic); a port without a protocol is sniffed.
  const ports = asObjList(spec.ports);
  ports.forEach((port, i) => {
    const p = joinKey(joinIndex('spec.ports', i), 'name');
    const name = asStr(port.name);
    if (name === undefined) rep.error(p, 'is required', Codes.required);
    else if (!isDns1123Label(name)) rep.error(p, `invalid port name: ${name}`, Codes.name);
  });
  findDuplicates(ports.map((x) => asStr(x.name)), (n, i) => rep.error(joinKey(joinIndex('spec.ports', i), 'name'), `duplicate port name "${n}"`, Codes.duplicate));
  findDuplicates(ports.map((x) => asNum(x.number)), (n, i) => rep.error(joinKey(joinIndex('spec.ports', i), 'number'), `duplicate port number ${n}`, Codes.duplicate));
  const portNames = new Set(ports.map((x) => asStr(x.name)).filter((n): n is string => n !== undefined));

  // several hosts on one port: only HTTP (Host) and TLS (SNI) tell them apart
  if (resolution !== 'NONE' && hosts.length > 1) {
    const i = ports.findIndex((x) => !HOST_AWARE.has((asStr(x.protocol) ?? '').toUpperCase()));
    if (i >= 0) rep.error(joinIndex('spec.ports', i), 'multiple hosts provided with non-HTTP, non-TLS ports', Codes.resolution);
  }

  const endpoints = asObjList(spec.endpoints);
  endpoints.forEach((ep, i) => {
    const p = joinIndex('spec.endpoints', i);
    validateWorkloadEntry(ep, p, rep, resolution);
    for (const name of Object.keys(asObj(ep.ports))) {
      if (!portNames.has(name)) rep.error(joinKey(joinKey(p, 'ports'), name), `port "${name}" is not defined in spec.ports`, Codes.format);
    }
    if (resolution === 'STATIC' && asStr(ep.address)?.startsWith(UNIX) && ports.length !== 1) {
      rep.error(joinKey(p, 'address'), 'exactly 1 service port required for unix endpoints', Codes.resolution);
    }
  });

  switch (resolution) {
    case 'STATIC':
      if (endpoints.length === 0 && !has(spec, 'workloadSelector')) {
        rep.error('spec.endpoints', 'at least one endpoint (or a workloadSelector) is required for resolution STATIC', Codes.resolution);
      }
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (endpoints.length === 0) {
        // Istio: hosts must be FQDNs when the proxy resolves the hosts themselves
        hosts.forEach((h, i) => {
          if (typeof h === 'string' && isWildcardHost(h)) {
            rep.error(joinIndex('spec.hosts', i), `wildcard host "${h}" is not allowed with resolution ${resolution} without endpoints (there is no name to resolve)`, Codes.resolution);
          }
        });
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
        rep.error('spec.endpoints', 'resolution DNS_ROUND_ROBIN allows at most one endpoint', Codes.resolution);
      }
      break;
    case 'NONE':
      if (endpoints.length > 0) rep.error('spec.endpoints', 'endpoints are not allowed with resolution NONE', Codes.resolution);
      if (has(spec, 'workloadSelector')) rep.warn('spec.workloadSelector', 'workloadSelector should not be set when resolution mode is NONE', Codes.resolution);
      break;
  }
  checkSelectorLabels(asObj(spec.workloadSelector).labels, 'spec.workloadSelector.labels', rep, Codes.format);
  validateExportTo(spec.exportTo, rep, { serviceEntry: true });
}

/** `prefix` is `spec` for a WorkloadEntry, `spec.endpoints[i]` inside a ServiceEntry (with its resolution). */
export function validateWorkloadEntry(we: Obj, prefix: string, rep: Reporter, resolution?: string): void {
  const address = asStr(we.address);
  const ap = joinKey(prefix, 'address');
  for (const [k, v] of Object.entries(asObj(we.labels))) {
    const lp = joinKey(joinKey(prefix, 'labels'), k);
    for (const e of qualifiedNameErrors(k)) rep.error(lp, invalidValue(k, e), Codes.name);
    if (typeof v === 'string') for (const e of labelValueErrors(v)) rep.error(lp, invalidValue(v, e), Codes.name);
  }
  if (address === undefined || address === '') {
    if (!has(we, 'network')) rep.error(ap, 'is required', Codes.required);
    return;
  }
  if (address.startsWith(UNIX)) {
    const path = address.slice(UNIX.length);
    if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
      rep.error(ap, `endpoint address "${address}" is not a valid FQDN or an IP address`, Codes.format);
    } else if (path === '') rep.error(ap, 'unix address must not be empty', Codes.format);
    else if (!path.startsWith('@') && (!path.startsWith('/') || path.endsWith('/'))) {
      rep.error(ap, `${path} is not an absolute path to a file (a unix domain socket is unix:///path or unix://@abstract)`, Codes.format);
    }
    if (Object.keys(asObj(we.ports)).length > 0) rep.error(joinKey(prefix, 'ports'), `unix endpoint ${address} must not include ports`, Codes.format);
    return;
  }
  if (resolution === 'STATIC' && !isIP(address)) {
    rep.error(ap, `must be an IP address for resolution STATIC, got "${address}"`, Codes.format);
  } else if (!isIP(address)) {
    const err = checkWildcardDomain(address);
    if (err || address.includes('*')) rep.error(ap, `invalid address "${address}"`, Codes.format);
  }
}

function isIpOrCidr(a: string): boolean {
  const [ip, bits, extra] = a.split('/');
  if (extra !== undefined || !isIP(ip)) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (isIP(ip) === 4 ? 32 : 128);
}
