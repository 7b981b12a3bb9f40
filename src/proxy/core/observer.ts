/**
 * An embedder's view of finished streams: the connection manager and the TCP proxy hand every
 * completed StreamInfo (one per request or TCP connection) here, after the listener's own
 * telemetry (Istio metrics, access logs, spans: src/proxy/telemetry/, configured per listener by
 * xDS) has recorded it. Tests and tools use it; the proxy needs none (default: no-op).
 */
import type { StreamInfo } from './stream-info.js';

export interface RequestObserver {
  onRequestComplete(info: StreamInfo): void;
}

export const NOOP_OBSERVER: RequestObserver = { onRequestComplete() {} };
