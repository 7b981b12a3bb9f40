/**
 * The hook between the data plane and telemetry (src/proxy/telemetry/): the connection manager
 * fills a StreamInfo per request (or TCP connection) and hands it here when the stream is done.
 */
import type { StreamInfo } from './stream-info.js';

export interface RequestObserver {
  onRequestComplete(info: StreamInfo): void;
}

export const NOOP_OBSERVER: RequestObserver = { onRequestComplete() {} };
