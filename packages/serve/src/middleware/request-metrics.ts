/**
 * Metrics for every request: latency by route (the matched path pattern) and a count by route,
 * method and status (499: the client hung up before the answer).
 *
 * @example
 * app.use('*', requestMetrics(metrics));
 */
import type { MiddlewareHandler } from 'hono';
import type { Metrics } from '../metrics.js';

export function requestMetrics(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const end = metrics.latency.startTimer();
    await next();
    const route = c.req.routePath ?? 'unmatched';
    end({ route });
    metrics.requests.inc({
      route,
      method: c.req.method,
      status: c.get('refusedByParser' as never)
        ? '400'
        : c.get('clientGone' as never) || (c.req.raw.signal.aborted && c.res.status >= 400)
          ? '499'
          : String(c.res.status),
    });
  };
}
