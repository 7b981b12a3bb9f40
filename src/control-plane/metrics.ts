/**
 * The control plane's own Prometheus metrics, with istiod's names where one exists
 * (pilot_xds_pushes, pilot_xds, pilot_total_xds_rejects, pilot_proxy_convergence_time ...),
 * kept in the same stats store and exposition code the proxy uses (src/stats).
 */
import { StatsStore } from '../stats/stats-store.js';
import { prometheusText } from '../stats/stats-prometheus.js';

const SECONDS_BUCKETS = [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30];

const HELP: Record<string, string> = {
  pilot_xds_pushes: 'Pushes sent, by xDS type.',
  pilot_total_xds_rejects: 'Resources rejected (NACK) by proxies, by xDS type.',
  clew_config_rejected_total: 'Configuration refused by validation.',
  clew_xds_push_scoped_out_total: 'Proxies a push left out: their Sidecar scope imports nothing the change touched.',
  pilot_xds_push_time: 'Seconds to compute and write one push to all proxies.',
  pilot_proxy_convergence_time: 'Seconds from a configuration change until the push is written.',
  clew_xds_ack_latency_seconds: 'Seconds from a response to its ACK, by xDS type.',
  citadel_server_csr_count: 'Certificate signing requests received.',
  citadel_server_success_cert_issuance_count: 'Certificates issued.',
  citadel_server_authentication_failure_count: 'Requests (CSR or xDS) whose credential did not authenticate.',
  citadel_server_csr_parsing_err_count: 'CSRs refused as invalid (bad CSR, TTL above the maximum).',
  clew_zipkin_spans_total: 'Spans POSTed to the Zipkin receiver, by result (stored, or dropped: their trace was full).',
  clew_zipkin_requests_refused_total: 'Span POSTs refused (malformed, too large, wrong media type or encoding).',
};

export class ControlPlaneMetrics {
  private readonly store = new StatsStore();
  private readonly gauges: { name: string; fn: () => number }[] = [];

  constructor() {
    for (const [name, text] of Object.entries(HELP)) this.store.help(name, text);
  }

  /** A proxy left out of a push: its Sidecar scope imports nothing the change touched. */
  pushScopedOut(): void {
    this.store.counter('clew_xds_push_scoped_out_total').inc();
  }

  pushed(type: string): void {
    this.store.counter('pilot_xds_pushes', { type }).inc();
  }

  rejected(type: string): void {
    this.store.counter('pilot_total_xds_rejects', { type }).inc();
  }

  configRejected(source: 'api' | 'file'): void {
    this.store.counter('clew_config_rejected_total', { source }).inc();
  }

  pushTime(seconds: number): void {
    this.store.histogram('pilot_xds_push_time', undefined, SECONDS_BUCKETS).record(seconds);
  }

  convergence(seconds: number): void {
    this.store.histogram('pilot_proxy_convergence_time', undefined, SECONDS_BUCKETS).record(seconds);
  }

  ackLatency(type: string, seconds: number): void {
    this.store.histogram('clew_xds_ack_latency_seconds', { type }, SECONDS_BUCKETS).record(seconds);
  }

  /** One CreateCertificate answer (istiod's citadel_server_* counters); 'unauthenticated' also counts xDS streams. */
  caResult(result: 'issued' | 'unauthenticated' | 'invalid' | 'error'): void {
    if (result === 'unauthenticated') {
      this.store.counter('citadel_server_authentication_failure_count').inc();
      return;
    }
    this.store.counter('citadel_server_csr_count').inc();
    if (result === 'issued') this.store.counter('citadel_server_success_cert_issuance_count').inc();
    if (result === 'invalid') this.store.counter('citadel_server_csr_parsing_err_count').inc();
  }

  /** Spans the Zipkin receiver stored or dropped (trace at its span bound). */
  spansReceived(stored: number, dropped: number): void {
    if (stored) this.store.counter('clew_zipkin_spans_total', { result: 'stored' }).inc(stored);
    if (dropped) this.store.counter('clew_zipkin_spans_total', { result: 'dropped' }).inc(dropped);
  }

  spansRefused(): void {
    this.store.counter('clew_zipkin_requests_refused_total').inc();
  }

  /** A gauge read at scrape time. */
  gauge(name: string, help: string, fn: () => number): void {
    this.store.help(name, help);
    this.gauges.push({ name, fn });
  }

  render(): string {
    for (const g of this.gauges) this.store.gauge(g.name).set(g.fn());
    return prometheusText(this.store);
  }
}
