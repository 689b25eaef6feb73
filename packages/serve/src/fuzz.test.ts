import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random, writeModelFolder } from '@rdc/core/runtime';
import { tinyUNet } from '@rdc/core/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './server.js';

/**
 * A seeded, bounded fuzz of the API as a hostile client would try it: a few hundred cases of each
 * kind (malformed multipart, JSON type confusion, query options, image bytes, raw HTTP, routes and
 * methods, oversized echoes, bursts of load). Every answer must be a 2xx, a 4xx or a 503 under load,
 * with a JSON error body that names no absolute path and shows no stack trace; the server must be
 * healthy at the end.
 */
const CASES = 200;
const dir = join(mkdtempSync(join(tmpdir(), 'rdc-fuzz-')), 'model');
let server: RunningServer;
let base: string;
let images: Buffer[];
const rng = new Random(20261201);

beforeAll(async () => {
  const { config, weights } = tinyUNet({ seed: 6 });
  writeModelFolder(dir, { network: config, weights, classes: ['cat', 'dog', 'ship'], temperature: 1, dc: { levels: 2 }, card: '# fuzz' });
  server = await startServer(dir, { port: 0, threads: 1, queueCapacity: 4, maxBatch: 3, maxBodyBytes: 64 * 1024, bodyTimeoutMs: 2000 });
  base = `http://127.0.0.1:${server.port}`;
  const raw = Buffer.from(Array.from({ length: 8 * 8 * 3 }, () => rng.int(256)));
  const s = () => sharp(raw, { raw: { width: 8, height: 8, channels: 3 } });
  images = [await s().png().toBuffer(), await s().jpeg().toBuffer(), await s().webp().toBuffer()];
});

afterAll(async () => {
  await server?.close();
});

const LEAKS = /(^|[\s"'(=:])\/(tmp|work|home|root|usr|etc|var|opt)\/|\n\s+at |\.ts:\d+|node_modules/;
let checked = 0;

/** The invariants of every answer. */
function checkAnswer(what: string, status: number, type: string | null, body: string): void {
  checked++;
  expect(status >= 500 && status !== 503, `${what}: ${status} ${body.slice(0, 200)}`).toBe(false);
  expect(status, what).toBeGreaterThanOrEqual(200);
  expect(body.length, what).toBeLessThan(20_000);
  expect(LEAKS.test(body), `${what}: leaks ${body.slice(0, 300)}`).toBe(false);
  if (status >= 400) {
    expect(type ?? '', `${what}: ${status} without JSON`).toMatch(/application\/json/);
    const e = JSON.parse(body).error;
    expect(typeof e?.code === 'string' && typeof e?.message === 'string', `${what}: ${body.slice(0, 200)}`).toBe(true);
    expect(e.message.length, what).toBeLessThan(1000);
  }
}

async function send(what: string, path: string, init: RequestInit): Promise<void> {
  const res = await fetch(`${base}${path}`, init);
  checkAnswer(what, res.status, res.headers.get('content-type'), await res.text());
}

const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rng.int(256)));
const randomText = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + rng.int(95))).join('');
const JUNK: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 40, NaN, '', 'x', '0x10', '5', [], [5], {}, { a: 1 }, 'rdc', 'dc', 'uint8', 'HWC', [3, 8, 8]];
const junk = (): unknown => (rng.uniform() < 0.15 ? Array(rng.int(3000)).fill(rng.int(9)) : pick(JUNK));

function mutate(b: Buffer): Buffer {
  const out = Buffer.from(b);
  const kind = rng.int(4);
  if (kind === 0) return out.subarray(0, rng.int(out.length));
  if (kind === 1) for (let i = 0; i < 1 + rng.int(8); i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
  if (kind === 2) return Buffer.concat([out, randomBytes(rng.int(200))]);
  return Buffer.concat([out.subarray(0, 16), randomBytes(rng.int(400))]);
}

function rawRequest(bytes: Buffer | string): Promise<{ status: number; type: string | null; body: string }> {
  return new Promise((done) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const i = text.indexOf('\r\n\r\n');
      const head = i < 0 ? text : text.slice(0, i);
      let body = i < 0 ? '' : text.slice(i + 4);
      if (/transfer-encoding: chunked/i.test(head)) body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
      done({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), type: /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? null, body });
    };
    socket.on('data', (c) => {
      chunks.push(c);
      // One response is enough: stop once its body is complete.
      const text = Buffer.concat(chunks).toString('latin1');
      const len = /content-length: (\d+)/i.exec(text);
      const i = text.indexOf('\r\n\r\n');
      if (i >= 0 && len && text.length - i - 4 >= Number(len[1])) socket.destroy();
      if (i >= 0 && /\r\n0\r\n\r\n$/.test(text)) socket.destroy();
    });
    socket.on('close', finish);
    socket.on('error', () => undefined);
    socket.setTimeout(4000, () => socket.destroy());
    socket.write(bytes);
  });
}

describe('fuzz: every answer a 2xx, 4xx or 503 with a JSON error body; no paths, no stack traces', () => {
  it('malformed multipart', async () => {
    for (let i = 0; i < CASES; i++) {
      const form = new FormData();
      const field = pick(['image', 'images', 'file', 'x', '']);
      form.append(
        field,
        new Blob([rng.uniform() < 0.5 ? mutate(pick(images)) : pick(images)], { type: pick(['image/png', 'image/jpeg', '', 'text/plain']) }),
        'f',
      );
      if (rng.uniform() < 0.5) form.append(pick(['defense', 'levels', 'seed', 'method', 'nope']), String(junk()));
      let body: Buffer = Buffer.from(await new Response(form).arrayBuffer());
      const boundary = /--([^\r\n]+)/.exec(body.toString('latin1'))![1];
      let type = `multipart/form-data; boundary=${boundary}`;
      const k = rng.int(5);
      if (k === 0) body = body.subarray(0, rng.int(body.length));
      if (k === 1) type = pick(['multipart/form-data', 'multipart/form-data; boundary=', `multipart/form-data; boundary=${randomText(10)}`]);
      if (k === 2) body = randomBytes(rng.int(500));
      if (k === 3) body = Buffer.concat([body.subarray(0, rng.int(body.length)), randomBytes(50), body.subarray(rng.int(body.length))]);
      await send(`multipart ${i}`, pick(['/v1/classify', '/v1/classify/batch']) + '?levels=1&defense=dc', {
        method: 'POST',
        body,
        headers: { 'content-type': type },
      });
    }
  });

  it('JSON type confusion, extra fields and unknown values', async () => {
    const pixels = () => ({
      data: Buffer.alloc(192, rng.int(256)).toString('base64'),
      shape: [3, 8, 8] as unknown,
      dtype: 'uint8' as unknown,
      layout: 'CHW' as unknown,
    });
    for (let i = 0; i < CASES; i++) {
      const img: Record<string, unknown> = pixels();
      const k = rng.int(6);
      if (k === 0) img[pick(['data', 'shape', 'dtype', 'layout'])] = junk();
      if (k === 1) img[randomText(5)] = junk();
      if (k === 2) delete img[pick(['data', 'shape'])];
      const body: Record<string, unknown> =
        rng.uniform() < 0.5 ? { image: k === 3 ? junk() : img } : { images: k === 3 ? junk() : Array(rng.int(5)).fill(img) };
      if (k === 4) body[pick(['defense', 'method', 'levels', 'seed', 'extra'])] = junk();
      if (k === 5) body.levels = 1;
      const text = rng.uniform() < 0.1 ? JSON.stringify(body).slice(0, rng.int(200)) : JSON.stringify(body);
      await send(`json ${i}`, pick(['/v1/classify', '/v1/classify/batch']) + (rng.uniform() < 0.7 ? '?levels=1' : ''), {
        method: 'POST',
        body: text,
        headers: { 'content-type': 'application/json' },
      });
    }
  });

  it('query options', async () => {
    for (let i = 0; i < CASES; i++) {
      const q = new URLSearchParams();
      for (let j = 0; j < 1 + rng.int(3); j++) q.append(pick(['defense', 'method', 'levels', 'seed', 'x', randomText(3)]), String(junk()));
      q.set('levels', rng.uniform() < 0.6 ? '1' : String(junk()));
      await send(`query ${i}`, `/v1/classify?${q}`, { method: 'POST', body: pick(images), headers: { 'content-type': 'image/png' } });
    }
  });

  it('image bytes: mutated files, other formats, random bytes, wrong declared types', async () => {
    const others = [
      Buffer.from('GIF89a'),
      Buffer.from('II*\0'),
      Buffer.concat([Buffer.alloc(4), Buffer.from('ftypavif')]),
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      Buffer.from('BM'),
    ];
    for (let i = 0; i < CASES; i++) {
      const k = rng.int(4);
      const body =
        k === 0
          ? mutate(pick(images))
          : k === 1
            ? Buffer.concat([pick(others), randomBytes(rng.int(100))])
            : k === 2
              ? randomBytes(rng.int(300))
              : pick(images);
      const type = pick(['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream', 'image/gif', 'image/svg+xml', 'text/html', '']);
      await send(`image ${i}`, '/v1/classify?levels=1&defense=dc', { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
    }
  });

  it('raw HTTP that the parser refuses', async () => {
    const methods = ['GET', 'POST', 'FOO@', 'G\0T', 'get', '', 'PUT', 'OPTIONS'];
    for (let i = 0; i < CASES; i++) {
      const k = rng.int(5);
      const path = pick(['/', '/v1/classify', '/a\\b', `/${randomText(20)}`, '*', 'http://x/', '/%zz', `/${'a'.repeat(rng.int(10_000))}`]);
      const headers = [`Host: ${pick(['x', '', 'a b', '127.0.0.1'])}`];
      if (k === 0) headers.push(`X-A: ${randomText(10)}\0${randomText(3)}`);
      if (k === 1) headers.push(`X-Big: ${'a'.repeat(10_000 + rng.int(30_000))}`);
      if (k === 2) headers.push(`${randomText(5)}: ${randomText(5)}`, 'Content-Length: abc');
      if (k === 3) headers.push('Transfer-Encoding: chunked', 'Content-Length: 5');
      const request = k === 4 ? randomBytes(1 + rng.int(200)) : `${pick(methods)} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`;
      const r = await rawRequest(request);
      expect(r.status, `raw ${i}: no response`).toBeGreaterThan(0);
      checkAnswer(`raw ${i}`, r.status, r.type, r.body);
    }
  });

  it('routes and methods', async () => {
    for (let i = 0; i < CASES; i++) {
      const path = pick([
        '/',
        '/v1/classify',
        '/v1/classify/batch',
        '/v1/model',
        '/healthz',
        '/readyz',
        '/metrics',
        '/openapi.json',
        '/nope',
        `/v1/${randomText(8)}`,
      ]);
      const method = pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD']);
      const res = await fetch(`${base}${encodeURI(path)}`, { method, body: method === 'GET' || method === 'HEAD' ? undefined : randomBytes(rng.int(64)) });
      const text = await res.text();
      if (res.status < 400) {
        checked++;
        expect(LEAKS.test(text), `${method} ${path}: leaks`).toBe(false);
      } else if (method === 'HEAD') checked++;
      else checkAnswer(`${method} ${path}`, res.status, res.headers.get('content-type'), text);
    }
  });

  it('oversized bodies, arrays and strings: refused with short messages', async () => {
    for (let i = 0; i < CASES; i++) {
      const k = rng.int(3);
      const body =
        k === 0
          ? JSON.stringify({ image: { data: 'A'.repeat(rng.int(100_000)), shape: [3, 8, 8] } })
          : k === 1
            ? JSON.stringify({ image: { data: '', shape: Array(rng.int(5000)).fill(7) } })
            : JSON.stringify({ [randomText(rng.int(3000))]: 1, image: {} });
      await send(`oversized ${i}`, '/v1/classify', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    }
  });

  it('bursts of load: only 200s and 503s with Retry-After, then healthy', async () => {
    for (let burst = 0; burst < 10; burst++) {
      const answers = await Promise.all(
        Array.from({ length: CASES / 10 }, () =>
          fetch(`${base}/v1/classify?levels=${1 + rng.int(20)}`, {
            method: 'POST',
            body: pick(images),
            headers: { 'content-type': pick(['image/png', 'image/jpeg', 'image/webp']) },
          }),
        ),
      );
      for (const r of answers) {
        const text = await r.text();
        if (r.status === 400 && /type_mismatch/.test(text)) continue;
        checkAnswer('load', r.status, r.headers.get('content-type'), text);
        expect([200, 400, 503]).toContain(r.status);
        if (r.status === 503) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const ok = await fetch(`${base}/v1/classify?levels=2&seed=1`, { method: 'POST', body: images[0], headers: { 'content-type': 'image/png' } });
    expect(ok.status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toMatch(/status="5(0[0-2]|0[4-9])"/);
    expect(checked).toBeGreaterThan(7 * CASES);
  });
});
