/** The ControlPlane object seen through the API's interfaces. */
import type { ControlPlane } from '../control-plane.js';
import { configDumpFor } from '../config-dump.js';
import type { ControlPlaneTraces, ControlPlaneView, ControlPlaneWrites } from './control-plane-view.js';

export function controlPlaneView(cp: ControlPlane): ControlPlaneView {
  return {
    isReady: () => cp.isReady(),
    metricsText: () => cp.metrics.render(),
    streams: () => cp.ads.streams(),
    configDump: (stream) => configDumpFor(cp, stream),
    meshConfig: () => cp.meshConfig(),
    services: () => cp.registry.services(),
    instances: (hostname, port) => cp.registry.instances(hostname, port),
    workloads: () => cp.registry.workloads(),
    clusterOf: (hostname) => cp.registry.clusterOf(hostname),
    configRevision: () => cp.store.revision,
    configResources: () => cp.allConfig(),
    listResources: (kind, namespace, name) => cp.store.list(kind, namespace, name),
    rejectedFiles: () => cp.store.rejectedFiles(),
    meshWarnings: (keys) => cp.meshWarnings(keys),
    rootCertPem: () => cp.security.ca.rootCertPem(),
    traffic: (windowMs) => cp.scraper.store.query(windowMs),
    scrapeStatus: () => (cp.scrapeIntervalMs > 0 ? cp.scraper.status() : undefined),
  };
}

export function controlPlaneWrites(cp: ControlPlane): ControlPlaneWrites {
  return {
    applyText: (text, file) => cp.store.applyText(text, file),
    deleteText: (text, file) => cp.store.deleteText(text, file),
    deleteKeys: (items) => cp.store.deleteKeys(items),
    configRejected: (source) => cp.metrics.configRejected(source),
    mintToken: (body) => cp.security.mintToken(body),
  };
}

export function controlPlaneTraces(cp: ControlPlane): ControlPlaneTraces {
  return {
    receiveSpans: (spans, truncated) => {
      const r = cp.traces.add(spans, truncated);
      cp.metrics.spansReceived(r.accepted, r.dropped);
    },
    spansRefused: () => {
      cp.traces.rejected();
      cp.metrics.spansRefused();
    },
    maxSpanBodyBytes: () => cp.traces.limits.maxBodyBytes,
    reader: () => cp.traces,
  };
}
