/** The OpenAPI document (generated from the routes' schemas) and the interactive docs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import swaggerUiPath from 'swagger-ui-dist/absolute-path.js';

const OPENAPI_INFO = {
  title: 'Robust Diffusion Classifier API',
  version: '2.0.0',
  description:
    'Classify, attack and certify images with the diffusion classifier (DC), the robust diffusion classifier (RDC = DC ∘ LM) or a baseline CNN, on ONNX Runtime. Every error is JSON { error: { code, message } }.',
};

export function docsRoutes(app: OpenAPIHono): void {
  app.doc31('/openapi.json', { openapi: '3.1.0', info: OPENAPI_INFO });
  const swaggerDir = swaggerUiPath();
  const asset = (file: string, type: string) => (c: Context) =>
    c.body(readFileSync(join(swaggerDir, file)), 200, { 'content-type': type, 'cache-control': 'max-age=86400' });
  app.get('/docs/swagger-ui.css', asset('swagger-ui.css', 'text/css'));
  app.get('/docs/swagger-ui-bundle.js', asset('swagger-ui-bundle.js', 'application/javascript'));
  // The page runs only scripts it loads from here (its Content-Security-Policy): no inline script.
  app.get('/docs/init.js', (c) =>
    c.body("window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });\n", 200, {
      'content-type': 'application/javascript',
      'cache-control': 'no-cache',
    }),
  );
  app.get('/docs', (c) =>
    c.html(`<!doctype html><html><head><meta charset="utf-8"><title>RDC API</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`),
  );
}
