/** exportTo on Services, ServiceEntries, VirtualServices and DestinationRules, with MeshConfig's defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters, buildNameTable, buildRoutes } from '../../../src/control-plane/builders/index.js';
import { isExportedTo } from '../../../src/control-plane/push-export-to.js';
import type { ConfigResource } from '../../../src/config/types.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
import { kubeService, makePc, proxy, res, subsetsRule, vs } from './fixtures.js';

const LEDGER = 'ledger.payments.svc.cluster.local';
const IN = (ns: string) => proxy({ namespace: ns, labels: { app: 'client' } });

function annotated(r: ConfigResource, exportTo: string): ConfigResource {
  return { ...r, metadata: { ...r.metadata, annotations: { 'networking.istio.io/exportTo': exportTo } } };
}

const outbound = (config: ConfigResource[], ns: string, mesh?: MeshConfig) =>
  buildClusters(makePc(config, [], mesh), IN(ns)).map((c) => c.name as string).filter((n) => n.startsWith('outbound|'));

test('isExportedTo: * everywhere, . own namespace, ~ nowhere, names; the fallback when unset', () => {
  assert.equal(isExportedTo(['*'], [], 'a', 'b'), true);
  assert.equal(isExportedTo(['.'], [], 'a', 'a'), true);
  assert.equal(isExportedTo(['.'], [], 'a', 'b'), false);
  assert.equal(isExportedTo(['~'], ['*'], 'a', 'a'), false);
  assert.equal(isExportedTo(['.', 'c'], [], 'a', 'c'), true);
  assert.equal(isExportedTo(undefined, ['.'], 'a', 'b'), false);
  assert.equal(isExportedTo([], ['*'], 'a', 'b'), true);
});

test('Service exportTo annotation and ServiceEntry exportTo decide which namespaces get the clusters and names', () => {
  const ledger = annotated(kubeService('ledger', [{ name: 'http', port: 9080 }], { app: 'ledger' }, 'payments'), '., audit');
  const se = res('ServiceEntry', 'bank', {
    hosts: ['bank.example.com'], addresses: ['10.9.0.1'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS', exportTo: ['payments'],
  }, 'payments');
  const hidden = res('ServiceEntry', 'nowhere', { hosts: ['nowhere.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS', exportTo: ['~'] }, 'payments');
  const config = [ledger, se, hidden];
  assert.deepEqual(outbound(config, 'payments'), [`outbound|9080||${LEDGER}`, 'outbound|443||bank.example.com']);
  assert.deepEqual(outbound(config, 'audit'), [`outbound|9080||${LEDGER}`]);
  assert.deepEqual(outbound(config, 'shop'), []);
  // the name table follows (the DNS proxy answers only for visible services)
  const pc = makePc(config);
  assert.deepEqual(Object.keys(buildNameTable(pc, IN('payments'))[0].table as object), ['bank.example.com']);
  assert.deepEqual(Object.keys(buildNameTable(pc, IN('shop'))[0].table as object), []);
});

test('VirtualService and DestinationRule exportTo: other namespaces route with the defaults, no subsets', () => {
  const config = [
    kubeService('ledger', [{ name: 'http', port: 9080 }], { app: 'ledger' }, 'payments'),
    { ...subsetsRule('ledger', ['v1', 'v2'], 'payments'), spec: { host: 'ledger', subsets: [{ name: 'v1', labels: { version: 'v1' } }], exportTo: ['.'] } },
    vs('ledger', { hosts: ['ledger'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'ledger', subset: 'v1' } }] }] }, 'payments'),
  ] as ConfigResource[];
  assert.ok(outbound(config, 'payments').includes(`outbound|9080|v1|${LEDGER}`));
  assert.deepEqual(outbound(config, 'shop'), [`outbound|9080||${LEDGER}`]);
  const route = (ns: string) => buildRoutes(makePc(config), IN(ns), ['9080'])[0].virtual_hosts.find((v: any) => v.name === `${LEDGER}:9080`).routes[0];
  assert.equal(route('payments').route.cluster, `outbound|9080|v1|${LEDGER}`);
  assert.equal(route('shop').name, 'default');
  // a gateway in another namespace does not see a VirtualService exported to its own namespace only
  const gwConfig: ConfigResource[] = [...config,
    res('Gateway', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }, 'istio-system'),
    vs('edge', { hosts: ['ledger.example.com'], gateways: ['istio-system/gw'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'ledger' } }] }] }, 'payments'),
  ];
  const gw = proxy({ type: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] });
  assert.deepEqual(buildRoutes(makePc(gwConfig), gw, ['http.80'])[0].virtual_hosts, []);
});

test('MeshConfig defaults: defaultServiceExportTo, defaultVirtualServiceExportTo, defaultDestinationRuleExportTo apply to resources without exportTo', () => {
  const config = [
    kubeService('ledger', [{ name: 'http', port: 9080 }], { app: 'ledger' }, 'payments'),
    annotated(kubeService('public', [{ name: 'http', port: 9080 }], { app: 'public' }, 'payments'), '*'),
    subsetsRule('public', ['v1'], 'payments'),
    vs('public', { hosts: ['public'], http: [{ route: [{ destination: { host: 'public', subset: 'v1' } }] }] }, 'payments'),
  ];
  const PUBLIC = 'public.payments.svc.cluster.local';
  const mesh = { defaultServiceExportTo: ['.'] } as MeshConfig;
  assert.deepEqual(outbound(config, 'shop', mesh), [`outbound|9080||${PUBLIC}`, `outbound|9080|v1|${PUBLIC}`]);
  assert.equal(outbound(config, 'payments', mesh).length, 3);
  // private DestinationRules: no subset cluster elsewhere
  assert.deepEqual(outbound(config, 'shop', { defaultDestinationRuleExportTo: ['.'] } as MeshConfig).filter((n) => n.includes('|v1|')), []);
  // private VirtualServices: the default route elsewhere
  const route = buildRoutes(makePc(config, [], { defaultVirtualServiceExportTo: ['.'] } as MeshConfig), IN('shop'), ['9080'])[0]
    .virtual_hosts.find((v: any) => v.name === `${PUBLIC}:9080`).routes[0];
  assert.equal(route.name, 'default');
  // an explicit exportTo wins over the default
  assert.ok(outbound([...config.slice(0, 3), vs('public', { hosts: ['public'], exportTo: ['*'], http: [{ route: [{ destination: { host: 'public', subset: 'v1' } }] }] }, 'payments')], 'shop', { defaultVirtualServiceExportTo: ['.'] } as MeshConfig)
    .includes(`outbound|9080|v1|${PUBLIC}`));
});
