/**
 * MeshConfig pathNormalization -> HttpConnectionManager fields on every HTTP listener (sidecar
 * outbound and inbound, gateway), as Istio translates it; the mesh config schema takes the
 * enum and refuses anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import { applyMeshConfig, type MeshConfig } from '../../../src/config/mesh-config.js';
import { parseMeshConfigText } from '../../../src/config/load-mesh-config.js';
import { LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { assertRoundTrip, BOOKINFO_SERVICES, byName, makePc, proxy, res } from './fixtures.js';

const GATEWAY = res('Gateway', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });

function hcms(mesh: MeshConfig): EnvoyResource[] {
  const pc = makePc([...BOOKINFO_SERVICES, GATEWAY], [], mesh);
  const sidecar = buildListeners(pc, proxy());
  const gw = buildListeners(pc, proxy({ type: 'router', name: 'gw', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] }));
  for (const l of [...sidecar, ...gw]) assertRoundTrip(LISTENER_TYPE, l);
  return [
    byName(sidecar, '0.0.0.0_9080').filter_chains[0].filters[0].typed_config,
    byName(sidecar, '127.0.10.1_9080').filter_chains[0].filters[0].typed_config,
    byName(gw, '0.0.0.0_80').filter_chains[0].filters[0].typed_config,
  ];
}

const fields = (h: EnvoyResource) => ({ normalize_path: h.normalize_path, merge_slashes: h.merge_slashes, path_with_escaped_slashes_action: h.path_with_escaped_slashes_action });

test("each mode as Istio's HCM fields, on sidecar outbound, sidecar inbound and gateway listeners", () => {
  const want: Record<string, object> = {
    unset: { normalize_path: { value: true }, merge_slashes: undefined, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
    DEFAULT: { normalize_path: { value: true }, merge_slashes: undefined, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
    BASE: { normalize_path: { value: true }, merge_slashes: undefined, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
    NONE: { normalize_path: { value: false }, merge_slashes: undefined, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
    MERGE_SLASHES: { normalize_path: { value: true }, merge_slashes: true, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
    DECODE_AND_MERGE_SLASHES: { normalize_path: { value: true }, merge_slashes: true, path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' },
  };
  for (const [mode, expected] of Object.entries(want)) {
    const mesh = applyMeshConfig(mode === 'unset' ? {} : { pathNormalization: { normalization: mode as 'BASE' } });
    for (const h of hcms(mesh)) assert.deepEqual(fields(h), expected, mode);
  }
});

test('mesh config: pathNormalization.normalization is an enum', () => {
  const ok = parseMeshConfigText('pathNormalization:\n  normalization: DECODE_AND_MERGE_SLASHES\n', 'mesh.yaml');
  assert.deepEqual(ok.messages, []);
  assert.equal(ok.meshConfig.pathNormalization?.normalization, 'DECODE_AND_MERGE_SLASHES');
  const bad = parseMeshConfigText('pathNormalization:\n  normalization: DECODE\n', 'mesh.yaml');
  assert.equal(bad.messages.length, 1);
  assert.equal(bad.messages[0].line, 2);
  assert.equal(bad.messages[0].field, 'pathNormalization.normalization');
  assert.match(bad.messages[0].message, /DECODE_AND_MERGE_SLASHES/);
  assert.equal(bad.meshConfig.pathNormalization, undefined, 'a bad document is not applied');
});
