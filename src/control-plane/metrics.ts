/**
 * The control plane's own Prometheus metrics, with istiod's names where one exists
 * (pilot_xds_pushes, pilot_xds, pilot_total_xds_rejects, pilot_proxy_convergence_time ...).
 */

type Labels = Record<string, string>;

function labelText(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

class Counter {
  private values = new Map<string, { labels: Labels; v: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, n = 1): void {
    const k = labelText(labels);
    const e = this.values.get(k);
    if (e) e.v += n;
    else this.values.set(k, { labels, v: n });
  }
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [k, e] of this.values) s += `${this.name}${k} ${e.v}\n`;
    return s;
  }
}

class Gauge {
  private fn: () => number;
  constructor(readonly name: string, readonly help: string, fn: () => number) {
    this.fn = fn;
  }
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${this.fn()}\n`;
  }
}

class Histogram {
  private series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(v: number, labels: Labels = {}): void {
    const k = labelText(labels);
    let e = this.series.get(k);
    if (!e) {
      e = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, e);
    }
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) e.counts[i]++;
    e.sum += v;
    e.count++;
  }
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const e of this.series.values()) {
      for (let i = 0; i < this.buckets.length; i++) {
        s += `${this.name}_bucket${labelText({ ...e.labels, le: String(this.buckets[i]) })} ${e.counts[i]}\n`;
      }
      s += `${this.name}_bucket${labelText({ ...e.labels, le: '+Inf' })} ${e.count}\n`;
      s += `${this.name}_sum${labelText(e.labels)} ${e.sum}\n${this.name}_count${labelText(e.labels)} ${e.count}\n`;
    }
    return s;
  }
}

const SECONDS_BUCKETS = [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30];

export class ControlPlaneMetrics {
  readonly pushes = new Counter('pilot_xds_pushes', 'Pushes sent, by xDS type.');
  readonly rejects = new Counter('pilot_total_xds_rejects', 'Resources rejected (NACK) by proxies, by xDS type.');
  readonly configRejects = new Counter('clew_config_rejected_total', 'Configuration refused by validation.');
  readonly pushTime = new Histogram('pilot_xds_push_time', 'Seconds to compute and write one push to all proxies.', SECONDS_BUCKETS);
  readonly convergence = new Histogram(
    'pilot_proxy_convergence_time',
    'Seconds from a configuration change until the push is written.',
    SECONDS_BUCKETS,
  );
  readonly ackLatency = new Histogram('clew_xds_ack_latency_seconds', 'Seconds from a response to its ACK, by xDS type.', SECONDS_BUCKETS);
  private gauges: Gauge[] = [];

  gauge(name: string, help: string, fn: () => number): void {
    this.gauges.push(new Gauge(name, help, fn));
  }

  render(): string {
    return [this.pushes, this.rejects, this.configRejects, this.pushTime, this.convergence, this.ackLatency, ...this.gauges]
      .map((m) => m.render())
      .join('');
  }
}
