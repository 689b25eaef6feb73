/**
 * DNS rebinding: a page on `evil.example` whose name resolves to 127.0.0.1 could otherwise reach a
 * server bound to loopback (the browser sends Host: evil.example). Bound to loopback, the server
 * answers only loopback host names (localhost, 127.0.0.1 and the rest of 127/8, [::1]) and those
 * `--allowed-hosts` names; bound to another interface, any host unless `--allowed-hosts` lists some.
 * Refused before any work, with a JSON 400.
 *
 * @example
 * app.use('*', hostCheck({ host: '127.0.0.1', allowedHosts: [] }));
 */
import type { MiddlewareHandler } from 'hono';
import { brief, errorBody } from '../http/errors.js';

/** Whether an interface address is loopback. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The host name of a Host header value (without its port; IPv6 without brackets). */
function hostName(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader);
  if (m) return m[1].toLowerCase();
  return hostHeader.replace(/:\d+$/, '').toLowerCase();
}

export function hostCheck(cfg: { host: string; allowedHosts: readonly string[] }): MiddlewareHandler {
  const allowed = cfg.allowedHosts.map((h) => h.toLowerCase());
  const any = allowed.includes('*');
  const loopbackOnly = isLoopback(cfg.host);
  return async (c, next) => {
    if (any || (!loopbackOnly && allowed.length === 0)) return next();
    const host = new URL(c.req.url).host;
    const name = hostName(host);
    if (isLoopback(name) || allowed.includes(name) || allowed.includes(host.toLowerCase())) return next();
    return c.json(
      errorBody(
        'bad_host',
        `Host ${brief(host, 60)} is not this server's: it answers ${loopbackOnly ? 'localhost, 127.0.0.1 and [::1]' : 'only'}${allowed.length ? ` and ${allowed.join(', ')}` : ''} (start it with --allowed-hosts NAME to add a name)`,
      ),
      400,
    );
  };
}
