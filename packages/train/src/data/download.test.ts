import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { c as tarCreate } from 'tar';
import { Random } from '@rdc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar10.js';
import { downloadDataset } from './download.js';

/** A small archive shaped like the official one: 2 records per batch file. */
const label0 = 7;
async function makeArchive(dir: string): Promise<Buffer> {
  const src = join(dir, 'src', 'cifar-10-batches-bin');
  mkdirSync(src, { recursive: true });
  const rng = new Random(label0);
  // Random pixels, so the archive does not compress to a few bytes.
  const rec = (label: number) => Buffer.concat([Buffer.from([label]), Buffer.from(Array.from({ length: 3072 }, () => rng.int(256)))]);
  writeFileSync(join(src, 'data_batch_1.bin'), Buffer.concat([rec(1), rec(2)]));
  writeFileSync(join(src, 'test_batch.bin'), Buffer.concat([rec(3), rec(4)]));
  writeFileSync(join(src, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  const file = join(dir, 'fixture.tar.gz');
  await tarCreate({ gzip: true, file, cwd: join(dir, 'src') }, ['cifar-10-batches-bin']);
  return readFileSync(file);
}

let archive: Buffer;
let server: Server;
let base: string;
const requests: { range?: string }[] = [];
/** Requests that get cut off after this many bytes (one per entry). */
const drops: number[] = [];

beforeAll(async () => {
  archive = await makeArchive(mkdtempSync(join(tmpdir(), 'rdc-dl-fixture-')));
  expect(archive.length).toBeGreaterThan(10_000);
  server = createServer((req, res) => {
    requests.push({ range: req.headers.range });
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const body = archive.subarray(start);
    res.writeHead(m ? 206 : 200, {
      'content-length': body.length,
      'content-type': 'application/gzip',
      ...(m ? { 'content-range': `bytes ${start}-${archive.length - 1}/${archive.length}` } : {}),
    });
    const drop = drops.shift();
    if (drop !== undefined) {
      // Send part of the body, let it arrive, then drop the connection.
      res.write(body.subarray(0, drop), () => setTimeout(() => res.destroy(), 100));
    } else {
      res.end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cifar.tar.gz`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const sha256 = () => createHash('sha256').update(archive).digest('hex');

describe('download-data against a local server', () => {
  it('downloads, verifies, unpacks, and skips a finished download', async () => {
    requests.length = 0;
    const cache = mkdtempSync(join(tmpdir(), 'rdc-dl-'));
    const seen: number[] = [];
    const dir = await downloadDataset({ cacheDir: cache, url: base, sha256: sha256(), onProgress: (got) => seen.push(got) });
    expect(seen.at(-1)).toBe(archive.length);
    const data = loadCifar10(dir, 'test');
    expect(Array.from(data.labels)).toEqual([3, 4]);
    expect(loadCifar10(dir, 'train').size).toBe(2);
    expect(requests.length).toBe(1);
    await downloadDataset({ cacheDir: cache, url: base, sha256: sha256() });
    expect(requests.length).toBe(1);
  });

  it('resumes with a Range request after the connection drops', async () => {
    requests.length = 0;
    drops.push(1000);
    const cache = mkdtempSync(join(tmpdir(), 'rdc-dl-'));
    const logs: string[] = [];
    const dir = await downloadDataset({ cacheDir: cache, url: base, sha256: sha256(), onLog: (m) => logs.push(m) });
    expect(requests.map((r) => r.range)).toEqual([undefined, 'bytes=1000-']);
    expect(logs.some((l) => /resuming at 1000 bytes/.test(l))).toBe(true);
    expect(loadCifar10(dir, 'test').size).toBe(2);
  });

  it('resumes a part file left by an interrupted run', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'rdc-dl-'));
    writeFileSync(join(cache, 'cifar-10-binary.tar.gz.part'), archive.subarray(0, 500));
    requests.length = 0;
    await downloadDataset({ cacheDir: cache, url: base, sha256: sha256() });
    expect(requests.map((r) => r.range)).toEqual(['bytes=500-']);
  });

  it('rejects a checksum mismatch and removes the corrupt file', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'rdc-dl-'));
    await expect(downloadDataset({ cacheDir: cache, url: base, sha256: '0'.repeat(64) })).rejects.toThrow(
      /sha256 of the downloaded archive is [0-9a-f]{64}, expected 0{64}/,
    );
    expect(existsSync(join(cache, 'cifar-10-binary.tar.gz.part'))).toBe(false);
    expect(existsSync(join(cache, 'cifar-10-batches-bin'))).toBe(false);
  });

  it('needs a checksum for a custom URL', async () => {
    await expect(downloadDataset({ cacheDir: mkdtempSync(join(tmpdir(), 'rdc-dl-')), url: base })).rejects.toThrow(/--md5 or --sha256/);
  });

  it('offline: backs off between attempts and says what failed and how to use a copy instead', async () => {
    const t0 = Date.now();
    const err = await downloadDataset({
      cacheDir: mkdtempSync(join(tmpdir(), 'rdc-dl-off-')),
      url: 'http://no-such-host.invalid/cifar.tar.gz',
      md5: '0'.repeat(32),
      retries: 3,
      retryDelayMs: 50,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/could not download http:\/\/no-such-host\.invalid\/cifar\.tar\.gz \(3 attempts/);
    expect((err as Error).message).toMatch(/could not be resolved|refused|timed out|reset/);
    expect((err as Error).message).toMatch(/--data-dir DIR \(or set RDC_DATA_DIR\)/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150); // 50 + 100 ms of backoff
  });
});
