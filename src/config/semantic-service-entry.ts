/** ServiceEntry and WorkloadEntry semantics: hosts, ports, resolution and endpoints. */
import { isIP } from 'node:net';
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asNum, asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { checkWildcardDomain, isWildcardHost } from './value-host.js';

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

  asList(spec.addresses).forEach((a, i) => {
    if (typeof a === 'string' && !isIpOrCidr(a)) rep.error(joinIndex('spec.addresses', i), `invalid address "${a}" (expected an IP or CIDR)`, Codes.format);
  });

  const ports = asObjList(spec.ports);
  if (ports.length === 0) rep.error('spec.ports', 'at least one port is required', Codes.empty);
  ports.forEach((port, i) => {
    if (!has(port, 'name')) rep.error(joinKey(joinIndex('spec.ports', i), 'name'), 'is required', Codes.required);
  });
  findDuplicates(ports.map((x) => asStr(x.name)), (n, i) => rep.error(joinKey(joinIndex('spec.ports', i), 'name'), `duplicate port name "${n}"`, Codes.duplicate));
  findDuplicates(ports.map((x) => asNum(x.number)), (n, i) => rep.error(joinKey(joinIndex('spec.ports', i), 'number'), `duplicate port number ${n}`, Codes.duplicate));
  const portNames = new Set(ports.map((x) => asStr(x.name)).filter((n): n is string => n !== undefined));

  const resolution = asStr(spec.resolution) ?? 'NONE';
  const endpoints = asObjList(spec.endpoints);
  endpoints.forEach((ep, i) => {
    const p = joinIndex('spec.endpoints', i);
    validateWorkloadEntry(ep, p, rep, resolution);
    for (const name of Object.keys(asObj(ep.ports))) {
      if (!portNames.has(name)) rep.error(joinKey(joinKey(p, 'ports'), name), `port "${name}" is not defined in spec.ports`, Codes.format);
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
        hosts.forEach((h, i) => {
          if (typeof h === 'string' && isWildcardHost(h)) {
            rep.error(joinIndex('spec.hosts', i), `wildcard host "${h}" is not allowed with resolution ${resolution}`, Codes.resolution);
          }
        });
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
        rep.error('spec.endpoints', 'resolution DNS_ROUND_ROBIN allows at most one endpoint', Codes.resolution);
      }
      break;
    case 'NONE':
      if (endpoints.length > 0) rep.error('spec.endpoints', 'endpoints are not allowed with resolution NONE', Codes.resolution);
      break;
  }
}

/** `prefix` is `spec` for a WorkloadEntry, `spec.endpoints[i]` inside a ServiceEntry. */
export function validateWorkloadEntry(we: Obj, prefix: string, rep: Reporter, resolution?: string): void {
  const address = asStr(we.address);
  const ap = joinKey(prefix, 'address');
  if (address === undefined) {
    if (!has(we, 'network')) rep.error(ap, 'is required', Codes.required);
    return;
  }
  if (address.startsWith('unix://')) {
    if (address.length === 'unix://'.length) rep.error(ap, 'unix domain socket path must not be empty', Codes.format);
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
