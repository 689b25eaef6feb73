import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the API: requests, latency histogram, queue depth. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'rdc_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'rdc_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly queueDepth: Gauge;
  readonly inFlight: Gauge;

  constructor(queue: { depth: number; runningJobs: number }) {
    this.queueDepth = this.gauge('rdc_queue_depth', 'classification jobs waiting', () => queue.depth);
    this.inFlight = this.gauge('rdc_queue_running', 'classification jobs running', () => queue.runningJobs);
  }

  /** A gauge read when Prometheus scrapes. */
  private gauge(name: string, help: string, read: () => number): Gauge {
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}
