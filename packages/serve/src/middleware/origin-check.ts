/**
 * Browsers: cross-origin requests only from the allowed origins (`--cors`, with preflight), and
 * refused with 403 before any work otherwise (the page at / is same-origin).
 *
 * @example
 * for (const m of originCheck(['https://app.example'])) app.use('*', m);
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { brief, errorBody } from '../http/errors.js';

export function originCheck(allowed: readonly string[]): MiddlewareHandler[] {
  const out: MiddlewareHandler[] = [];
  if (allowed.length) out.push(cors({ origin: allowed.includes('*') ? '*' : [...allowed], allowMethods: ['GET', 'POST', 'OPTIONS'] }));
  out.push(async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && origin !== new URL(c.req.url).origin && !allowed.includes('*') && !allowed.includes(origin))
      return c.json(
        errorBody(
          'cross_origin',
          `cross-origin requests from ${brief(origin, 60)} are refused (the server allows ${allowed.length ? allowed.join(', ') : 'none: start it with --cors ORIGIN'})`,
        ),
        403,
      );
    await next();
  });
  return out;
}
