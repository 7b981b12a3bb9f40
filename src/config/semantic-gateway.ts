/** Gateway semantics: servers, hosts, port names, TLS requirements. */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { checkNamespacedHost } from './value-host.js';
import { validateServerTls } from './semantic-tls.js';

export function validateGateway(spec: Obj, rep: Reporter): void {
  const servers = asObjList(spec.servers);
  if (servers.length === 0) rep.error('spec.servers', 'at least one server is required', Codes.empty);

  servers.forEach((s, i) => {
    const p = joinIndex('spec.servers', i);
    const hosts = asList(s.hosts);
    if (hosts.length === 0) rep.error(joinKey(p, 'hosts'), 'at least one host is required', Codes.empty);
    hosts.forEach((h, j) => {
      if (typeof h !== 'string') return;
      const err = checkNamespacedHost(h, false);
      if (err) rep.error(joinIndex(joinKey(p, 'hosts'), j), err, Codes.host);
    });
    findDuplicates(hosts.map(asStr), (h, j) => rep.error(joinIndex(joinKey(p, 'hosts'), j), `duplicate host "${h}"`, Codes.duplicate));

    const protocol = asStr(asObj(s.port).protocol)?.toUpperCase();
    validateServerTls(s, p, protocol, rep);
  });

  findDuplicates(servers.map((s) => asStr(asObj(s.port).name)), (name, i) =>
    rep.error(joinKey(joinKey(joinIndex('spec.servers', i), 'port'), 'name'), `duplicate port name "${name}"`, Codes.duplicate),
  );
}
