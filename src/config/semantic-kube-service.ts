/** Kubernetes Service semantics: port names (Kubernetes' rules and Istio's naming convention). */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asNum, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { followsPortNameConvention, isDns1123Label } from './value-host.js';

export function validateKubeService(spec: Obj, rep: Reporter): void {
  const ports = asObjList(spec.ports);
  ports.forEach((port, i) => {
    const p = joinIndex('spec.ports', i);
    const name = asStr(port.name);
    if (name === undefined) {
      if (ports.length > 1) rep.error(joinKey(p, 'name'), 'is required when a service has more than one port', Codes.required);
    } else if (!isDns1123Label(name)) {
      rep.error(joinKey(p, 'name'), `invalid port name "${name}" (must be a DNS-1123 label)`, Codes.name);
    }
    if (!has(port, 'appProtocol') && !followsPortNameConvention(name ?? '')) {
      const what = name === undefined ? 'unnamed port' : `port name "${name}"`;
      rep.warn(
        name === undefined ? p : joinKey(p, 'name'),
        `${what} does not follow the <protocol>[-<suffix>] convention (and no appProtocol); port ${asNum(port.port) ?? '?'} is treated as TCP`,
        Codes.portNameConvention,
      );
    }
  });
  findDuplicates(ports.map((x) => asStr(x.name)), (n, i) => rep.error(joinKey(joinIndex('spec.ports', i), 'name'), `duplicate port name "${n}"`, Codes.duplicate));
  findDuplicates(
    ports.map((x) => (asNum(x.port) === undefined ? undefined : `${asNum(x.port)}/${asStr(x.protocol) ?? 'TCP'}`)),
    (key, i) => rep.error(joinKey(joinIndex('spec.ports', i), 'port'), `duplicate port ${key}`, Codes.duplicate),
  );
}
