import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeModelFolder } from '@rdc/core/runtime';
import { tinyUNet } from '@rdc/core/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServeConfig } from '@rdc/core/runtime';
import { attackCost, attackSettings } from './service/attack.js';
import { certifyCost, certifyOptions } from './service/certify.js';
import { classifyCost } from './service/classify.js';
import { ServedModel } from './service/served-model.js';
import { WorkQueue } from './queue.js';
import { startServer, type RunningServer } from './server.js';
import { grayPng } from './testing.js';

/**
 * The hostile-client findings, one `describe` per finding: each of these answered with a 500, a
 * silent coercion, an empty body or a hang before.
 */
const root = mkdtempSync(join(tmpdir(), 'rdc-harden-'));
const dir = join(root, 'model');
let server: RunningServer;
let base: string;
let png: Buffer;

beforeAll(async () => {
  const { config, weights } = tinyUNet({ seed: 4 });
  writeModelFolder(dir, {
    network: config,
    weights,
    classes: ['cat', 'dog', 'ship'],
    temperature: 1,
    dc: { levels: 3 },
    training: { data: { dir: join(root, 'data', 'cifar-10-batches-bin') }, command: `train --data-dir ${join(root, 'data')}` },
    card: `# tiny\n\nTrained on ${join(root, 'data', 'cifar-10-batches-bin')}.`,
  });
  server = await startServer(dir, { port: 0, threads: 1, queueCapacity: 8, maxBatch: 4, bodyTimeoutMs: 1500 });
  base = `http://127.0.0.1:${server.port}`;
  png = await grayPng();
});

afterAll(async () => {
  await server?.close();
});

// Response bodies are JSON of known shape; tests read them loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const post = (path: string, body: NonNullable<RequestInit['body']>, type?: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', body, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });
const postJson = (path: string, value: unknown) => post(path, JSON.stringify(value), 'application/json');
async function expectError(res: Response, status: number, code: string, message?: RegExp): Promise<Json> {
  const text = await res.text();
  expect({ status: res.status, type: res.headers.get('content-type') }, text).toMatchObject({ status, type: expect.stringMatching(/application\/json/) });
  const body = JSON.parse(text);
  expect(body.error.code, text).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
  return body;
}

/** Sends raw bytes over TCP and returns the raw response (the connection is closed by the server or after `waitMs`). */
function raw(bytes: string | Buffer, waitMs = 3000): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((done, fail) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      done({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), headers: head, body: rest.join('\r\n\r\n') });
    };
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', finish);
    socket.on('error', fail);
    socket.setTimeout(waitMs, () => {
      socket.destroy();
      finish();
    });
    socket.write(bytes);
  });
}

const u8 = (n: number) => Buffer.alloc(n, 128).toString('base64');

describe('1. malformed bodies are 400s, never 500s', () => {
  it('multipart: garbage, empty, truncated, a missing or wrong boundary', async () => {
    const form = new FormData();
    form.append('image', new Blob([png], { type: 'image/png' }), 'x.png');
    const good = await new Response(form).arrayBuffer();
    const boundary = /--([^\r\n]+)/.exec(Buffer.from(good).toString('latin1'))![1];
    const bodies: [string, NonNullable<RequestInit['body']>][] = [
      ['multipart/form-data; boundary=x', 'garbage'],
      ['multipart/form-data; boundary=x', ''],
      [`multipart/form-data; boundary=${boundary}`, Buffer.from(good).subarray(0, good.byteLength - 30)],
      ['multipart/form-data', Buffer.from(good)],
      ['multipart/form-data; boundary=wrong', Buffer.from(good)],
    ];
    for (const path of ['/v1/classify?defense=dc&levels=2', '/v1/classify/batch?defense=dc&levels=2'])
      for (const [type, body] of bodies) {
        const res = await post(path, body, type);
        expect(res.status, `${path} ${type}`).toBeLessThan(500);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(((await res.json()) as Json).error.code).toMatch(/bad_multipart|missing_image/);
      }
  });

  it('a null image in a JSON batch', async () => {
    await expectError(await postJson('/v1/classify/batch', { images: [null] }), 400, 'bad_json', /images\.0/);
  });

  it('a client that hangs up mid-upload is not an internal error', async () => {
    const before = await (await fetch(`${base}/metrics`)).text();
    await new Promise<void>((done) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(`POST /v1/classify?levels=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n`);
        socket.write(png.subarray(0, 30));
        setTimeout(() => {
          socket.destroy();
          done();
        }, 100);
      });
    });
    await new Promise((r) => setTimeout(r, 200));
    const after = await (await fetch(`${base}/metrics`)).text();
    const count = (text: string, status: string) => Number(new RegExp(`route="/v1/classify",method="POST",status="${status}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(count(after, '500')).toBe(count(before, '500'));
    expect(count(after, '499')).toBe(count(before, '499') + 1);
  });
});

describe('2. strict options and JSON: no coercion, the field named', () => {
  const image = (extra: Record<string, unknown> = {}) => ({ data: u8(192), shape: [3, 8, 8], ...extra });
  it('unknown enum values and wrong JSON types', async () => {
    for (const [body, field] of [
      [{ image: image({ dtype: 'int16' }) }, 'image.dtype'],
      [{ image: image({ dtype: 5 }) }, 'image.dtype'],
      [{ image: image({ dtype: {} }) }, 'image.dtype'],
      [{ image: image({ layout: 'hwc' }) }, 'image.layout'],
      [{ image: image({ layout: 'XYZ' }) }, 'image.layout'],
      [{ image: image(), levels: true }, 'levels'],
      [{ image: image(), levels: [5] }, 'levels'],
      [{ image: image(), levels: '0x10' }, 'levels'],
      [{ image: image(), seed: false }, 'seed'],
      [{ image: image(), seed: [] }, 'seed'],
      [{ image: image(), defense: 'DC' }, 'defense'],
      [{ image: image(), extra: 1 }, '(body): unknown field "extra"'],
      [{ image: image({ colour: 'red' }) }, 'image: unknown field "colour"'],
    ] as [Record<string, unknown>, string][]) {
      const b = await expectError(await postJson('/v1/classify', body), 400, 'bad_json');
      expect(b.error.message, JSON.stringify(body)).toContain(field);
    }
  });

  it('query strings: decimal digits only for integers, known names only', async () => {
    await expectError(
      await post('/v1/classify?levels=0x10', png, 'image/png'),
      400,
      'bad_options',
      /levels: expected a non-negative integer in decimal digits, got "0x10"/,
    );
    await expectError(await post('/v1/classify?seed=1e3', png, 'image/png'), 400, 'bad_options', /seed/);
    await expectError(await post('/v1/classify?level=2', png, 'image/png'), 400, 'unknown_option', /unknown field "level"/);
    await expectError(await post('/v1/classify?defense=magic', png, 'image/png'), 400, 'bad_options', /defense/);
    const ok = (await (await post('/v1/classify?levels=2&seed=7&defense=dc', png, 'image/png')).json()) as Json;
    expect(ok.options).toMatchObject({ levels: 2, seed: 7, defense: 'dc' });
  });
});

describe('3. formats: PNG, JPEG and WebP by their magic bytes, and the declared type must agree', () => {
  it('refuses GIF, TIFF, AVIF and SVG whatever the declared type; SVG is never rendered', async () => {
    const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
    const tiff = await sharp(Buffer.alloc(8 * 8 * 3, 50), { raw: { width: 8, height: 8, channels: 3 } })
      .tiff()
      .toBuffer();
    const avif = Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from('ftypavif'), Buffer.alloc(40)]);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>');
    for (const [name, bytes] of [
      ['GIF', gif],
      ['TIFF', tiff],
      ['AVIF/HEIF', avif],
      ['SVG', svg],
    ] as const)
      for (const type of ['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'])
        await expectError(await post('/v1/classify', bytes, type), 415, 'unsupported_image', new RegExp(`${name.replace('/', '\\/')} images are not accepted`));
    const form = new FormData();
    form.append('image', new Blob([svg], { type: 'image/svg+xml' }), 'x.svg');
    await expectError(await post('/v1/classify', form), 415, 'unsupported_image', /SVG/);
  });

  it('the declared type must be the real one', async () => {
    await expectError(await post('/v1/classify', png, 'image/jpeg'), 400, 'type_mismatch', /is PNG but was declared as "image\/jpeg"/);
    const form = new FormData();
    form.append('image', new Blob([png], { type: 'image/webp' }), 'x.webp');
    await expectError(await post('/v1/classify', form), 400, 'type_mismatch');
    // Undeclared (octet-stream) is read by its signature.
    expect((await post('/v1/classify?levels=2', png, 'application/octet-stream')).status).toBe(200);
  });

  it('a JPEG whose header claims 6000×6000 pixels for 32×32 of data is refused', async () => {
    const jpg = await sharp(Buffer.alloc(32 * 32 * 3, 77), { raw: { width: 32, height: 32, channels: 3 } })
      .jpeg()
      .toBuffer();
    const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
    const fake = Buffer.from(jpg);
    fake.writeUInt16BE(6000, sof + 5);
    fake.writeUInt16BE(6000, sof + 7);
    await expectError(await post('/v1/classify', fake, 'image/jpeg'), 400, 'bad_image', /could not be decoded/);
    expect((await post('/v1/classify?levels=2', jpg, 'image/jpeg')).status).toBe(200);
  });
});

describe("4. what Node's HTTP parser refuses gets the same JSON error shape", () => {
  it('bad methods, a backslash or NUL where they cannot be, headers too large', async () => {
    for (const [request, status] of [
      ['FOO@ / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET /a\\b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 400],
      [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['NOT HTTP AT ALL\r\n\r\n', 400],
    ] as const) {
      const r = await raw(request);
      expect(r.status, request.slice(0, 30)).toBe(status);
      expect(r.headers).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(r.body).error.code).toMatch(/bad_request|headers_too_large|not_found/);
    }
  });
});

describe('5. echoed input is cut short', () => {
  it('a shape of a million entries gives a short error', async () => {
    const res = await postJson('/v1/classify', { image: { data: u8(12), shape: Array(1_000_000).fill(1) } });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text.length).toBeLessThan(1000);
    const long = await post(`/v1/classify?${'x'.repeat(5000)}=1`, png, 'image/png');
    expect((await long.text()).length).toBeLessThan(1000);
  });
});

describe('6. no absolute paths of the training machine', () => {
  it('GET /v1/model records paths relative or not at all', async () => {
    const text = await (await fetch(`${base}/v1/model`)).text();
    expect(text).not.toContain(root);
    const body = JSON.parse(text);
    expect(body.config.training.data.dir).toBe('cifar-10-batches-bin');
    expect(body.card).toMatch(/Trained on cifar-10-batches-bin/);
  });

  it('the shipped model folder records no absolute path', () => {
    const folder = resolve(import.meta.dirname, '../../../models/default');
    for (const f of ['config.json', 'MODEL_CARD.md']) expect(readFileSync(join(folder, f), 'utf8')).not.toMatch(/(^|[\s"'(=])\/(work|home|tmp|root|Users)\//m);
  });
});

describe('7. shutdown and slow bodies have deadlines', () => {
  it('a client that sends its body too slowly gets a JSON 408 and is disconnected', async () => {
    const t0 = Date.now();
    const r = await new Promise<{ status: number; body: string }>((done) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(`POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n`);
        socket.write(png.subarray(0, 10));
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString();
        done({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), body: text.split('\r\n\r\n')[1] ?? '' });
      });
    });
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body).error.code).toBe('request_timeout');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('SIGTERM with a slow client connected: the process is done within the drain deadline', async () => {
    const s = await startServer(dir, { port: 0, threads: 1, drainTimeoutMs: 500, bodyTimeoutMs: 60_000 });
    const socket = connect(s.port, '127.0.0.1', () => {
      socket.write(`POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n`);
      socket.write(png.subarray(0, 10));
    });
    socket.on('error', () => undefined);
    const disconnected = new Promise<void>((r) => socket.on('close', () => r()));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(1500);
    await disconnected;
  });
});

describe('8. one request cannot hold the server', () => {
  it('work is bounded by its estimated cost, with a clear 400 over the cap', async () => {
    const service = server.service;
    const one = classifyCost(service, { defense: 'rdc' }, 1);
    expect(one).toBe((3 * 1 + 3 * 5) * service.macsPerPass);
    // The default cap: a full batch at the model's own σ levels with LM, a certification or an attack with the API's defaults, the largest.
    expect(server.maxWorkMacs).toBe(
      Math.max(
        classifyCost(service, { defense: 'rdc' }, 4),
        certifyCost(service, certifyOptions(service, {})),
        attackCost(service, attackSettings(service, {})),
      ),
    );
    expect(certifyCost(service, certifyOptions(service, {}))).toBe((20 + 100) * (1 + 10) * service.macsPerPass);
    const res = await postJson('/v1/classify/batch', { images: Array(4).fill({ data: u8(192), shape: [3, 8, 8] }), levels: 1000 });
    await expectError(await post('/v1/certify?n=1000', png, 'image/png'), 400, 'too_much_work', /20 \+ 1000 draws/);
    await expectError(res, 400, 'too_much_work', /GMAC \(4 images × 1000 σ levels × 1 network pass per level, plus LM.* limit/);
    // One image at 1000 levels (1000 passes) fits under the certification-sized cap (1320 passes); two do not.
    expect((await post('/v1/classify?levels=1000&defense=dc', png, 'image/png')).status).toBe(200);
    await expectError(
      await postJson('/v1/classify/batch?levels=1000&defense=dc', { images: Array(2).fill({ data: u8(192), shape: [3, 8, 8] }) }),
      400,
      'too_much_work',
    );
    expect((await post('/v1/classify?levels=3&defense=dc', png, 'image/png')).status).toBe(200);
  });

  it('a batch has one time limit, and a timed-out job is cancelled at its next σ chunk', async () => {
    // 16 images × 1000 levels take about a second here: far past the 100 ms limit.
    const s = await startServer(dir, { port: 0, threads: 1, timeoutMs: 100, maxWorkMacs: 1e15 });
    let started = 0;
    const original = s.service.factory.get.bind(s.service.factory);
    s.service.factory.get = (...a) => (started++, original(...a));
    try {
      const url = `http://127.0.0.1:${s.port}`;
      const t0 = Date.now();
      const slow = await fetch(`${url}/v1/classify/batch?defense=dc&levels=1000`, {
        method: 'POST',
        body: JSON.stringify({ images: Array(16).fill({ data: u8(192), shape: [3, 8, 8] }) }),
        headers: { 'content-type': 'application/json' },
      });
      await expectError(slow, 503, 'timeout');
      expect(Date.now() - t0).toBeLessThan(600);
      // The cancelled job stopped at its next chunk: the next request does not wait for 4000 levels.
      const t1 = Date.now();
      const next = await fetch(`${url}/v1/classify?defense=dc&levels=2`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
      expect(next.status).toBe(200);
      expect(Date.now() - t1).toBeLessThan(500);
      // The batch got no further than its first image or two (then the follow-up request's one).
      expect(started).toBeLessThanOrEqual(3);
    } finally {
      await s.close();
    }
  });

  it('the queue tells a running job to stop when it times out', async () => {
    const q = new WorkQueue({ capacity: 2, concurrency: 1 });
    let stoppedAt = -1;
    const job = q.run(async (signal) => {
      for (let i = 0; i < 100; i++) {
        if (signal.aborted) {
          stoppedAt = i;
          throw signal.reason;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return 'done';
    }, 50);
    await expect(job).rejects.toThrow(/did not finish within 50 ms/);
    await q.drain();
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(20);
  });
});

describe('9. a model that fails to load or warm up ends the server', () => {
  it('a warm-up failure closes the port and rejects', async () => {
    const original = ServedModel.prototype.warmUp;
    ServedModel.prototype.warmUp = () => Promise.reject(new Error('warm-up failed'));
    try {
      await expect(startServer(dir, { port: 0, threads: 1 })).rejects.toThrow(/warm-up failed/);
    } finally {
      ServedModel.prototype.warmUp = original;
    }
  });
});

describe('10. binding and cross-origin requests', () => {
  it('listens on loopback unless told otherwise', () => {
    expect(ServeConfig.parse({}).host).toBe('127.0.0.1');
    expect((server as unknown as { port: number }).port).toBeGreaterThan(0);
  });

  it('with CORS off, a cross-origin POST is refused before any work; same-origin is served', async () => {
    const calls = { n: 0 };
    const original = server.service.factory.get.bind(server.service.factory);
    server.service.factory.get = (...a) => (calls.n++, original(...a));
    try {
      await expectError(await post('/v1/classify?levels=2', png, 'image/png', { origin: 'http://evil.example' }), 403, 'cross_origin', /--cors/);
      const form = new FormData();
      form.append('image', new Blob([png], { type: 'image/png' }), 'x.png');
      await expectError(await post('/v1/classify?levels=2', form, undefined, { origin: 'null' }), 403, 'cross_origin');
      expect(calls.n).toBe(0);
      expect((await post('/v1/classify?levels=2', png, 'image/png', { origin: base })).status).toBe(200);
      expect(calls.n).toBe(1);
    } finally {
      server.service.factory.get = original;
    }
  });

  it('with --cors, the listed origin is allowed (preflight too) and others are not', async () => {
    const s = await startServer(dir, { port: 0, threads: 1, cors: ['http://ok.example'] });
    try {
      const url = `http://127.0.0.1:${s.port}`;
      const pre = await fetch(`${url}/v1/classify`, {
        method: 'OPTIONS',
        headers: { origin: 'http://ok.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(pre.status).toBeLessThan(300);
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://ok.example');
      const ok = await fetch(`${url}/v1/classify?levels=2`, {
        method: 'POST',
        body: png,
        headers: { 'content-type': 'image/png', origin: 'http://ok.example' },
      });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe('http://ok.example');
      await expectError(
        await fetch(`${url}/v1/classify?levels=2`, { method: 'POST', body: png, headers: { 'content-type': 'image/png', origin: 'http://evil.example' } }),
        403,
        'cross_origin',
      );
    } finally {
      await s.close();
    }
  });
});

describe('11. the edges of the second hostile-input run', () => {
  it('DNS rebinding: bound to loopback, a foreign Host is refused before any work; --allowed-hosts names others', async () => {
    const port = server.port;
    const evil = (path: string, body?: Buffer) =>
      raw(
        `${body ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: evil.example:${port}\r\nOrigin: http://evil.example:${port}\r\n${body ? `Content-Type: image/png\r\nContent-Length: ${body.length}\r\n` : ''}Connection: close\r\n\r\n`.concat(
          body ? body.toString('latin1') : '',
        ),
      );
    for (const path of ['/v1/classify', '/v1/model']) {
      const r = await evil(path, path === '/v1/classify' ? png : undefined);
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body).error.code).toBe('bad_host');
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const r = await raw(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(r.status, host).toBe(200);
    }
    const { createApp } = await import('./app.js');
    const allowed = createApp(server.service, { allowedHosts: ['evil.example'] });
    expect((await allowed.app.request(`http://evil.example:${port}/healthz`)).status).toBe(200);
    expect((await allowed.app.request(`http://other.example:${port}/healthz`)).status).toBe(400);
    const open = createApp(server.service, { host: '0.0.0.0' });
    expect((await open.app.request('http://any.example/healthz')).status).toBe(200);
  });

  it('a field given twice or an empty field name is refused, naming it', async () => {
    for (const q of ['defense=rdc&defense=dc', 'levels=5&levels=abc', 'seed=7&seed=-1'])
      await expectError(await post(`/v1/classify?${q}`, png, 'image/png'), 400, 'bad_options', /given 2 times/);
    await expectError(await post('/v1/classify?levels=2&=5', png, 'image/png'), 400, 'unknown_option', /unknown field ""/);
  });

  it('data after base64 padding, a batch past the seed maximum and a single σ level are refused', async () => {
    const data = Buffer.alloc(3 * 8 * 8, 7).toString('base64');
    const extra = `${data}=${'A'.repeat(3000)}`;
    await expectError(await postJson('/v1/classify', { image: { data: extra, shape: [3, 8, 8] } }), 400, 'bad_json', /nothing after the padding/);
    expect((await postJson('/v1/classify?levels=2', { image: { data, shape: [3, 8, 8] } })).status).toBe(200);
    const images = Array.from({ length: 3 }, () => ({ data, shape: [3, 8, 8] }));
    await expectError(
      await postJson('/v1/classify/batch?seed=2147483646&levels=2', { images }),
      400,
      'bad_options',
      /2147483646 \+ 2 passes the largest seed 2147483647/,
    );
    expect((await postJson('/v1/classify/batch?seed=2147483645&levels=2', { images })).status).toBe(200);
    await expectError(await post('/v1/classify?levels=1', png, 'image/png'), 400, 'bad_options', /at least 2 σ levels/);
  });

  it('no Host header and CONNECT get the JSON error body', async () => {
    const noHost = await raw('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(noHost.status).toBe(400);
    expect(JSON.parse(noHost.body).error.code).toBe('missing_host');
    const tunnel = await raw(`CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`);
    expect(tunnel.status).toBe(405);
    expect(JSON.parse(tunnel.body).error.code).toBe('method_not_allowed');
  });

  it('a malformed chunked body is a 400, neither an internal error nor a client that went away', async () => {
    const count = (text: string, status: string) => Number(new RegExp(`route="/v1/classify",method="POST",status="${status}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const before = await (await fetch(`${base}/metrics`)).text();
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      logged.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    let r;
    try {
      r = await raw(`POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nnot hex\r\n0\r\n\r\n`);
      await new Promise((res) => setTimeout(res, 200));
    } finally {
      process.stderr.write = write;
    }
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.code).toBe('bad_request');
    expect(logged.join('')).not.toMatch(/internal error/);
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(count(after, '499')).toBe(count(before, '499'));
    expect(count(after, '500')).toBe(count(before, '500'));
  });

  it('a multipart file part without a Content-Type is read by its bytes', async () => {
    const boundary = 'XyZ';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n`),
      png,
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="levels"\r\n\r\n2\r\n--${boundary}--\r\n`),
    ]);
    const res = await post('/v1/classify', body, `multipart/form-data; boundary=${boundary}`);
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it('GET /v1/model serves the card verified at start-up, whatever happens to the file later', async () => {
    const first = (await (await fetch(`${base}/v1/model`)).json()) as Json;
    const { writeFileSync } = await import('node:fs');
    const path = join(dir, 'MODEL_CARD.md');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, `${original}\n<!-- rdc:eval-dc -->\n- **DC**: clean accuracy 95.9 %\n<!-- /rdc:eval-dc -->\n`);
    try {
      const later = (await (await fetch(`${base}/v1/model`)).json()) as Json;
      expect(later.card).toBe(first.card);
      expect(later.measured).toEqual(first.measured);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('a JSON body of a million empty objects, or nested a million deep, is refused while scanning, not built', async () => {
    const wide = `{"images":[${Array(1_000_000).fill('{}').join(',')}]}`;
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    const rss = process.memoryUsage().rss;
    await expectError(await post('/v1/classify/batch', wide, 'application/json'), 400, 'bad_json', /more than 64 entries/);
    await expectError(
      await post('/v1/classify', `{"images":[${Array(1000).fill('{}').join(',')}]}`, 'application/json'),
      400,
      'bad_json',
      /more than 64 entries/,
    );
    await expectError(await post('/v1/classify', deep, 'application/json'), 400, 'bad_json', /nests deeper than 6 levels/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(300 * 2 ** 20);
  });
});

describe('12. POST /v1/attack is bounded like every route', () => {
  /** The events of a server-sent event stream, in order. */
  async function events(res: Response): Promise<{ event: string; data: Json }[]> {
    const text = await res.text();
    return text
      .split('\n\n')
      .filter((block) => block.trim())
      .map((block) => {
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        return { event, data: JSON.parse(data) };
      });
  }

  it('work over the cap is a 400 naming the budget, before any is done', async () => {
    let calls = 0;
    const original = server.service.factory.get.bind(server.service.factory);
    server.service.factory.get = (...a) => (calls++, original(...a));
    try {
      await expectError(await post('/v1/attack?iterations=50&eot=8&defense=dc', png, 'image/png'), 400, 'too_much_work', /50 iterations × 8 EOT draws/);
      await expectError(await post('/v1/attack?iterations=50&eot=8&defense=dc', png, 'image/png', { accept: 'text/event-stream' }), 400, 'too_much_work');
      expect(calls).toBe(0);
      expect((await post('/v1/attack?iterations=2&defense=dc&seed=1', png, 'image/png')).status).toBe(200);
    } finally {
      server.service.factory.get = original;
    }
  });

  it('the time limit holds: a JSON 503, or an error event at the end of the stream, and the job stops', async () => {
    const s = await startServer(dir, { port: 0, threads: 1, timeoutMs: 150, maxWorkMacs: 1e15 });
    try {
      const url = `http://127.0.0.1:${s.port}`;
      const slow = (accept?: string) =>
        fetch(`${url}/v1/attack?defense=dc&iterations=50&eot=8&seed=1`, {
          method: 'POST',
          body: png,
          headers: { 'content-type': 'image/png', ...(accept ? { accept } : {}) },
        });
      const t0 = Date.now();
      await expectError(await slow(), 503, 'timeout');
      expect(Date.now() - t0).toBeLessThan(1500);
      const stream = await slow('text/event-stream');
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
      const list = await events(stream);
      expect(list.at(-1)).toMatchObject({ event: 'error', data: { status: 503, error: { code: 'timeout' } } });
      expect(list.slice(0, -1).every((e) => e.event === 'progress')).toBe(true);
      // The cancelled job stopped at its next query: the next request does not wait for it.
      const t1 = Date.now();
      const next = await fetch(`${url}/v1/classify?defense=dc&levels=2`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
      expect(next.status).toBe(200);
      expect(Date.now() - t1).toBeLessThan(1000);
    } finally {
      await s.close();
    }
  });

  it('streams a progress event per iteration, then the result; the host check and CORS apply', async () => {
    const res = await post('/v1/attack?defense=dc&iterations=3&attack=pgd&seed=5&recheck=2', png, 'image/png', { accept: 'text/event-stream' });
    const list = await events(res);
    const result = list.at(-1)!;
    expect(result.event).toBe('result');
    const progress = list.filter((e) => e.event === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(3);
    expect(progress.map((p) => p.data.iteration)).toEqual(progress.map((_, i) => i + 1));
    expect(result.data.iterations).toBe(progress.length);
    await expectError(await post('/v1/attack?defense=dc', png, 'image/png', { origin: 'http://evil.example' }), 403, 'cross_origin');
    const r = await raw(
      `POST /v1/attack HTTP/1.1\r\nHost: evil.example:${server.port}\r\nContent-Type: image/png\r\nContent-Length: ${png.length}\r\nConnection: close\r\n\r\n`.concat(
        png.toString('latin1'),
      ),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.code).toBe('bad_host');
  });
});
