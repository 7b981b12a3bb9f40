/**
 * The dashboard's lists: services and workloads with health (last minute of traffic) and sync
 * status, Istio config with validation state and YAML.
 */
import { API_PATHS, GRAPH_WINDOWS } from '../../api/api-paths.js';
import type { ConfigListItem, ConfigListResponse, GraphResponse, ServiceListResponse, WorkloadListResponse } from '../../api/api-types.js';
import { formatMessage, redacted, resourceKey } from '../../config/index.js';
import { toYaml } from '../../config/resource-yaml.js';
import { buildGraph, serviceNodeId, workloadNodeId } from '../../mesh-metrics/graph-build.js';
import { healthOf } from '../../mesh-metrics/graph-health.js';
import { proxyStatusRows } from '../proxy-status.js';
import { topologyOf } from './api-graph.js';
import { json, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

function lastMinute(view: ControlPlaneView): GraphResponse | undefined {
  if (!view.scrapeStatus()) return undefined;
  return buildGraph(view.traffic(GRAPH_WINDOWS['1m']), topologyOf(view), '1m', 'control-plane');
}

export function listRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      method: 'GET', path: API_PATHS.services, doc: API_PATHS.services,
      handle: () => {
        const graph = lastMinute(view);
        const byId = new Map(graph?.nodes.map((n) => [n.id, n]));
        const items = view.services().map((s) => {
          const eps = s.ports.flatMap((p) => view.instances(s.hostname, p.port).map((i) => i.endpoint));
          const node = byId.get(serviceNodeId(s.hostname));
          const healthy = eps.filter((e) => e.healthy).length;
          const rate = node?.inRate ?? 0;
          const errorRate = node?.errorRate ?? 0;
          const noEndpoints = s.resolution === 'EDS' && eps.length > 0 && healthy === 0;
          return {
            hostname: s.hostname, name: s.name, namespace: s.namespace, ports: s.ports, origin: s.origin, location: s.location,
            endpoints: eps.length, healthyEndpoints: healthy, rate, errorRate,
            health: noEndpoints ? 'failure' as const : healthOf(rate, errorRate),
          };
        });
        return json(200, { items } satisfies ServiceListResponse);
      },
    },
    {
      method: 'GET', path: API_PATHS.workloads, doc: API_PATHS.workloads,
      handle: () => {
        const graph = lastMinute(view);
        const byId = new Map(graph?.nodes.map((n) => [n.id, n]));
        const sync = new Map(proxyStatusRows(view.streams()).map((r) => [r.nodeId, r]));
        const items = view.workloads().map((w) => {
          const node = byId.get(workloadNodeId(w.namespace, w.name));
          const row = w.proxyId ? sync.get(w.proxyId) : undefined;
          const rate = (node?.inRate ?? 0) + (node?.outRate ?? 0);
          const errorRate = node?.errorRate ?? 0;
          const nack = row && [row.CDS, row.LDS, row.EDS, row.RDS].includes('NACK');
          return {
            name: w.name, namespace: w.namespace, app: w.labels.app, version: w.labels.version, address: w.address,
            labels: w.labels, serviceAccount: w.serviceAccount, origin: w.origin, proxyId: w.proxyId, sync: row,
            rate, errorRate, health: nack ? 'failure' as const : healthOf(rate, errorRate),
          };
        });
        return json(200, { items } satisfies WorkloadListResponse);
      },
    },
    {
      method: 'GET', path: API_PATHS.configList, doc: API_PATHS.configList,
      handle: () => {
        const rejected = view.rejectedFiles();
        const refusedFiles = new Map(rejected.map((f) => [f.file, f.messages.map(formatMessage)]));
        const warnings = new Map<string, string[]>();
        for (const m of view.meshWarnings()) {
          const key = `${m.kind}/${m.namespace}/${m.name}`;
          warnings.set(key, [...(warnings.get(key) ?? []), formatMessage(m)]);
        }
        const items = view.configResources().map((r): ConfigListItem => {
          const key = resourceKey(r);
          const file = r.source?.file;
          const refused = file ? refusedFiles.get(file) : undefined;
          const warned = warnings.get(key);
          return {
            key, kind: r.kind, namespace: r.metadata.namespace ?? 'default', name: r.metadata.name, file,
            state: refused ? 'error' : warned ? 'warning' : 'valid',
            messages: refused ?? warned ?? [],
            yaml: toYaml([redacted(r)]),
          };
        });
        return json(200, {
          revision: view.configRevision(),
          items,
          rejected: rejected.map((f) => ({ file: f.file, messages: f.messages.map(formatMessage) })),
        } satisfies ConfigListResponse);
      },
    },
  ];
}
