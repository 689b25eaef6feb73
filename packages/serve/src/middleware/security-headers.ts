/**
 * What every answer says about itself to a browser: `X-Content-Type-Options: nosniff` (HTML, JSON,
 * images are what their type says), and a Content-Security-Policy that lets a page run only its own
 * scripts and styles (`img-src 'self' data: blob:` for the pictures it draws) and be framed by no
 * one (`frame-ancestors 'none'`, and X-Frame-Options for older browsers). The interactive API docs
 * (Swagger UI) also need inline styles.
 *
 * @example
 * app.use('*', securityHeaders());
 */
import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

const policy = (styles: string[]) => ({
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", ...styles],
  imgSrc: ["'self'", 'data:', 'blob:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
});

export function securityHeaders(): MiddlewareHandler {
  const page = secureHeaders({ contentSecurityPolicy: policy([]), xFrameOptions: 'DENY', xContentTypeOptions: 'nosniff', crossOriginEmbedderPolicy: false });
  const docs = secureHeaders({
    contentSecurityPolicy: policy(["'unsafe-inline'"]),
    xFrameOptions: 'DENY',
    xContentTypeOptions: 'nosniff',
    crossOriginEmbedderPolicy: false,
  });
  return (c, next) => (c.req.path === '/docs' || c.req.path.startsWith('/docs/') ? docs(c, next) : page(c, next));
}
