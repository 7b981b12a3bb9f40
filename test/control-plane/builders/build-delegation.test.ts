/** VirtualService delegation: delegate routes merged into the root's as Istio builds them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRoutes } from '../../../src/control-plane/builders/index.js';
import { mergeMatches, mergeRoutes } from '../../../src/control-plane/push-vs-delegation.js';
import type { ConfigResource } from '../../../src/config/types.js';
import { ROUTE_TYPE } from '../../../src/xds/type-urls.js';
import { assertRoundTrip, byName, kubeService, makePc, proxy, res, subsetsRule, vs } from './fixtures.js';

const REVIEWS = 'reviews.reviews-ns.svc.cluster.local';
const RATINGS = 'ratings.ratings-ns.svc.cluster.local';
const PRODUCTPAGE = 'productpage.ingress.svc.cluster.local';
const GW = proxy({ type: 'router', name: 'ingressgateway', namespace: 'ingress', labels: { istio: 'ingressgateway' }, podPorts: [] });

/** Istio's delegation example: a root on the gateway delegating /reviews and /ratings to VirtualServices in their own namespaces. */
function bookinfoDelegation(overrides: { reviewsDelegate?: unknown; ratingsDelegate?: unknown; root?: unknown; extra?: ConfigResource[] } = {}): ConfigResource[] {
  return [
    kubeService('productpage', [{ name: 'http', port: 9080 }], { app: 'productpage' }, 'ingress'),
    kubeService('reviews', [{ name: 'http', port: 9080 }], { app: 'reviews' }, 'reviews-ns'),
    kubeService('ratings', [{ name: 'http', port: 9080 }], { app: 'ratings' }, 'ratings-ns'),
    subsetsRule('reviews', ['v1', 'v2'], 'reviews-ns'),
    res('Gateway', 'bookinfo-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }, 'ingress'),
    vs('bookinfo', overrides.root ?? {
      hosts: ['bookinfo.com'], gateways: ['bookinfo-gateway'],
      http: [
        { name: 'reviews', match: [{ uri: { prefix: '/reviews' } }], delegate: { name: 'reviews', namespace: 'reviews-ns' }, timeout: '5s' },
        { name: 'ratings', match: [{ uri: { prefix: '/ratings' } }], delegate: { name: 'ratings', namespace: 'ratings-ns' } },
        { match: [{ uri: { prefix: '/' } }], route: [{ destination: { host: 'productpage' } }] },
      ],
    }, 'ingress'),
    vs('reviews', overrides.reviewsDelegate ?? {
      http: [
        { name: 'v2', match: [{ uri: { prefix: '/reviews/v2' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }], timeout: '1s' },
        { name: 'v1', route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
      ],
    }, 'reviews-ns'),
    vs('ratings', overrides.ratingsDelegate ?? {
      http: [{ match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'ratings' } }], headers: { request: { set: { 'x-delegate': 'ratings' } } } }],
    }, 'ratings-ns'),
    ...(overrides.extra ?? []),
  ];
}

function gatewayRoutes(config: ConfigResource[], meshConfig?: Parameters<typeof makePc>[2]): any[] {
  const [rc] = buildRoutes(makePc(config, [], meshConfig), GW, ['http.80']);
  assertRoundTrip(ROUTE_TYPE, rc);
  return byName(rc.virtual_hosts, 'bookinfo.com:80').routes;
}

test('delegation: /reviews and /ratings routed by delegates in other namespaces, in the root route order', () => {
  const routes = gatewayRoutes(bookinfoDelegation());
  assert.deepEqual(routes.map((r: any) => [r.name, r.match, r.route.cluster]), [
    // the delegate's own match, within the root's /reviews
    ['reviews-v2', { prefix: '/reviews/v2' }, `outbound|9080|v2|${REVIEWS}`],
    // a delegate route without a match takes the root's
    ['reviews-v1', { prefix: '/reviews' }, `outbound|9080|v1|${REVIEWS}`],
    // root match and delegate match merged: the root's uri, the delegate's header
    ['ratings', { prefix: '/ratings', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }, `outbound|9080||${RATINGS}`],
    ['bookinfo.ingress', { prefix: '/' }, `outbound|9080||${PRODUCTPAGE}`],
  ]);
  // short hosts of a delegate are its own namespace's; the delegate's timeout wins, else the root's
  assert.deepEqual(routes[0].route.timeout, { seconds: 1 });
  assert.deepEqual(routes[1].route.timeout, { seconds: 5 });
  assert.deepEqual(routes[2].request_headers_to_add, [{ header: { key: 'x-delegate', value: 'ratings' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
});

test('delegation: a delegate match outside the root match is a conflict and that delegate route is left out', () => {
  const routes = gatewayRoutes(bookinfoDelegation({
    reviewsDelegate: {
      http: [
        { match: [{ uri: { prefix: '/details' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
        { match: [{ uri: { regex: '/reviews/.*' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
        { match: [{ uri: { exact: '/reviews/1' } }], route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
      ],
    },
  }));
  assert.deepEqual(routes.filter((r: any) => r.name === 'reviews').map((r: any) => r.match), [{ path: '/reviews/1' }]);
});

test('delegation: a delegate not exported to the root namespace, or missing, drops only that root route', () => {
  const hidden = gatewayRoutes(bookinfoDelegation({
    reviewsDelegate: { exportTo: ['.'], http: [{ route: [{ destination: { host: 'reviews' } }] }] },
    ratingsDelegate: { exportTo: ['other'], http: [{ route: [{ destination: { host: 'ratings' } }] }] },
  }));
  assert.deepEqual(hidden.map((r: any) => r.name), ['bookinfo.ingress']);
  // exported to the root's namespace by name
  const named = gatewayRoutes(bookinfoDelegation({ reviewsDelegate: { exportTo: ['ingress'], http: [{ route: [{ destination: { host: 'reviews' } }] }] } }));
  assert.deepEqual(named.map((r: any) => r.name), ['reviews', 'ratings', 'bookinfo.ingress']);
  // the mesh default applies to delegates without exportTo (the root, in the gateway's namespace, stays visible)
  const meshPrivate = gatewayRoutes(bookinfoDelegation(), { defaultVirtualServiceExportTo: ['.'] } as never);
  assert.deepEqual(meshPrivate.map((r: any) => r.name), ['bookinfo.ingress']);
  const missing = gatewayRoutes(bookinfoDelegation({
    root: { hosts: ['bookinfo.com'], gateways: ['bookinfo-gateway'], http: [{ match: [{ uri: { prefix: '/x' } }], delegate: { name: 'nope' } }, { route: [{ destination: { host: 'productpage' } }] }] },
  }));
  assert.deepEqual(missing.map((r: any) => r.route.cluster), [`outbound|9080||${PRODUCTPAGE}`]);
});

test('delegation: a delegate is never routed on its own, and a sidecar sees the merged root for mesh hosts', () => {
  const config = [
    kubeService('reviews', [{ name: 'http', port: 9080 }], { app: 'reviews' }, 'reviews-ns'),
    subsetsRule('reviews', ['v1', 'v2'], 'reviews-ns'),
    vs('reviews-root', { hosts: ['reviews.reviews-ns.svc.cluster.local'], http: [{ match: [{ headers: { 'end-user': { exact: 'jason' } } }], delegate: { name: 'reviews-jason', namespace: 'team' } }, { route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] }, 'reviews-ns'),
    vs('reviews-jason', { http: [{ match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'reviews.reviews-ns', subset: 'v2' } }] }] }, 'team'),
  ];
  const pc = makePc(config);
  assert.deepEqual(pc.virtualServices.map((v) => v.resource.metadata.name), ['reviews-root']);
  assert.deepEqual(pc.virtualServices[0].delegates, ['team/reviews-jason']);
  const [rc] = buildRoutes(pc, proxy({ namespace: 'reviews-ns' }), ['9080']);
  const routes = byName(rc.virtual_hosts, `${REVIEWS}:9080`).routes;
  assert.deepEqual(routes.map((r: any) => [r.match, r.route.cluster]), [
    [{ prefix: '/api', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }, `outbound|9080|v2|${REVIEWS}`],
    [{ prefix: '/' }, `outbound|9080|v1|${REVIEWS}`],
  ]);
});

test('mergeMatches: each delegate match must lie within a root match (Istio hasConflict)', () => {
  const root = [{ uri: { prefix: '/a' } }, { uri: { exact: '/b' }, headers: { x: { exact: '1' } } }];
  // within both? '/a/1' only under /a
  assert.deepEqual(mergeMatches(root, [{ uri: { prefix: '/a/1' } }]), [{ uri: { prefix: '/a/1' } }]);
  // no uri: within every root match, merged with each (uri and headers from the root)
  assert.deepEqual(mergeMatches(root, [{ method: { exact: 'GET' } }]), [
    { uri: { prefix: '/a' }, method: { exact: 'GET' } },
    { uri: { exact: '/b' }, method: { exact: 'GET' }, headers: { x: { exact: '1' } } },
  ]);
  assert.equal(mergeMatches(root, [{ uri: { prefix: '/b' } }]), 'conflict'); // a prefix under an exact
  assert.equal(mergeMatches(root, [{ uri: { prefix: '/a/1' } }, { uri: { prefix: '/c' } }]), 'conflict'); // every one must fit
  assert.equal(mergeMatches(root, [{ uri: { exact: '/b' }, headers: { x: { exact: '2' } } }]), 'conflict');
  assert.equal(mergeMatches([{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/a' }, ignoreUriCase: true }]), 'conflict');
  assert.equal(mergeMatches([{ port: 80 }], [{ port: 8080 }]), 'conflict');
  assert.equal(mergeMatches([{ sourceNamespace: 'a' }], [{ sourceNamespace: 'b' }]), 'conflict');
  assert.deepEqual(mergeMatches(undefined, [{ uri: { exact: '/z' } }]), [{ uri: { exact: '/z' } }]);
  assert.deepEqual(mergeMatches([{ uri: { exact: '/z' } }], undefined), [{ uri: { exact: '/z' } }]);
});

test('mergeRoutes: names joined, root policies fill what the delegate leaves out', () => {
  const root = { name: 'r', match: [{ uri: { prefix: '/p' } }], rewrite: { uri: '/' }, retries: { attempts: 5 }, corsPolicy: { allowMethods: ['GET'] }, timeout: '3s', delegate: { name: 'd' } };
  const [a, b] = mergeRoutes(root, [
    { name: 'd1', route: [{ destination: { host: 'x' } }], timeout: '1s' },
    { route: [{ destination: { host: 'y' } }], rewrite: { uri: '/y' } },
  ]);
  assert.equal(a.name, 'r-d1');
  assert.equal(a.timeout, '1s');
  assert.deepEqual(a.rewrite, { uri: '/' });
  assert.deepEqual(a.retries, { attempts: 5 });
  assert.deepEqual(a.corsPolicy, { allowMethods: ['GET'] });
  assert.equal(a.delegate, undefined);
  assert.equal(b.name, 'r');
  assert.deepEqual(b.rewrite, { uri: '/y' });
  assert.equal(b.timeout, '3s');
});
