/**
 * A route whose OpenAPI entry and handler come from one `createRoute` object: the document lists
 * exactly the routes the app serves, with the schemas their handlers validate with.
 *
 * @example
 * defineRoute(app, createRoute({ method: 'get', path: '/healthz', responses: { 200: jsonResponse(Status, 'up') } }), (c) => c.json({ status: 'ok' }));
 */
import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';

export function defineRoute(
  app: OpenAPIHono,
  route: RouteConfig,
  handler: (c: Context) => Response | Promise<Response>,
  ...middleware: MiddlewareHandler[]
): void {
  app.openAPIRegistry.registerPath(route);
  // Hono paths use :param where OpenAPI uses {param}.
  const path = route.path.replace(/\{(\w+)\}/g, ':$1');
  const handlers = [...middleware, handler] as unknown as [MiddlewareHandler, ...MiddlewareHandler[]];
  if (route.method === 'get') app.get(path, ...handlers);
  else if (route.method === 'post') app.post(path, ...handlers);
  else throw new Error(`defineRoute: ${route.method} routes are not used`);
}
