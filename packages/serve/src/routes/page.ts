/**
 * The page: `/` (classify, attack and certify a picture against every model; assets/page/), its
 * script, style and icon, each model's card rendered as a page (`/models/{name}/card`; the card as
 * verified at start-up, Markdown without raw HTML), and the files the card links
 * (`/models/{name}/samples/samples.png`, read at start-up); any other path under `/models/{name}/`
 * (config.json, the weights), or one with `..` or an encoded `.` or `/`, is a 404.
 */
import { readFileSync } from 'node:fs';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import MarkdownIt from 'markdown-it';
import { ModelName } from '../contract/requests.js';
import { ERRORS } from '../contract/responses.js';
import { modelOf, type RouteContext } from './context.js';
import { defineRoute } from './define.js';
import { errorBody } from '../http/errors.js';

const PAGE_DIR = new URL('../../assets/page/', import.meta.url);
const asset = (file: string) => readFileSync(new URL(file, PAGE_DIR));

/** Markdown to HTML; raw HTML in the card is shown as text, never run. */
const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A model card as an HTML page (its section markers dropped). */
function cardPage(name: string, card: string): string {
  const body = markdown.render(card.replace(/<!--[\s\S]*?-->/g, ''));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(name)}: model card</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/page.css">
</head><body class="card-page"><p><a href="/">← back to the page</a> · <a href="/v1/model?model=${encodeURIComponent(name)}">this model as JSON</a></p>
<p class="model-name">Model <strong>${escape(name)}</strong></p>
${body}</body></html>`;
}

export function pageRoutes(app: OpenAPIHono, ctx: RouteContext): void {
  const files: Record<string, [string, string]> = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    '/page.js': ['page.js', 'application/javascript; charset=utf-8'],
    '/page.css': ['page.css', 'text/css; charset=utf-8'],
    '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
    '/favicon.ico': ['favicon.svg', 'image/svg+xml'],
  };
  for (const [path, [file, type]] of Object.entries(files)) {
    const bytes = asset(file);
    app.get(path, (c) => c.body(bytes, 200, { 'content-type': type, 'cache-control': 'no-cache' }));
  }
  defineRoute(
    app,
    createRoute({
      method: 'get',
      path: '/models/{name}/card',
      summary: "A model's card as a page (HTML)",
      request: { params: z.object({ name: ModelName }) },
      responses: { 200: { description: 'the card', content: { 'text/html': { schema: z.string() } } }, 404: ERRORS[404] },
    }),
    (c) => {
      const model = modelOf(ctx, { model: c.req.param('name') });
      return c.html(cardPage(model.name, model.card));
    },
  );
  app.get('/models/:name/*', (c) => {
    const raw = new URL(c.req.url).pathname;
    const missing = () => c.json(errorBody('not_found', 'no such file: a model folder serves the images its card links, nothing else'), 404);
    if (/%2e|%2f|%5c|\.\./i.test(raw)) return missing();
    const [, , name, ...rest] = raw.split('/');
    const file = ctx.models
      .list()
      .find((m) => m.name === name)
      ?.cardFiles.get(rest.join('/'));
    if (!file) return missing();
    return c.body(new Uint8Array(file.bytes), 200, { 'content-type': file.type, 'cache-control': 'max-age=3600' });
  });
}
