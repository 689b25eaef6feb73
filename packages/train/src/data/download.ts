/**
 * `rdc download-data`: fetches the official CIFAR-10 binary archive into a cache directory,
 * resumable (HTTP Range on the `.part` file, retried on dropped connections), verifies its checksum,
 * and unpacks it atomically. A finished download is recognised and not fetched again.
 *
 * @example
 * const dir = await downloadDataset({ cacheDir: '~/.cache/rdc', onProgress: (got, total) => bar.update(got) });
 */
import { InputError } from '@rdc/core';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { x as untar } from 'tar';

export const CIFAR10_ARCHIVE = {
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
  /** The checksum published with the archive. */
  md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  fileName: 'cifar-10-binary.tar.gz',
  folder: 'cifar-10-batches-bin',
};

export interface DownloadOptions {
  cacheDir: string;
  url?: string;
  /** Expected checksum of the archive (hex). At least one must be known. */
  md5?: string;
  sha256?: string;
  fileName?: string;
  /** The folder the archive unpacks to. */
  folder?: string;
  /** Attempts before giving up on a connection that keeps dropping. */
  retries?: number;
  /** The first wait between attempts (doubling after each; default 1 s). */
  retryDelayMs?: number;
  onProgress?: (received: number, total: number | null) => void;
  onLog?: (message: string) => void;
}

async function checksum(path: string, algo: 'md5' | 'sha256'): Promise<string> {
  const h = createHash(algo);
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** One attempt: continues `part` from its current size. Resolves when the server has sent everything. */
async function fetchInto(url: string, part: string, onProgress?: DownloadOptions['onProgress']): Promise<void> {
  const offset = await sizeOf(part);
  const res = await fetch(url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {} });
  if (res.status === 416) {
    // The part file is already complete (or longer than the resource): start over to be safe.
    await rm(part, { force: true });
    throw new Error('range not satisfiable; restarting the download');
  }
  if (!res.ok || !res.body) throw new Error(`GET ${url} answered ${res.status} ${res.statusText}`);
  const resumed = res.status === 206;
  const start = resumed ? offset : 0;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? start + length : null;
  let received = start;
  // Each chunk is on disk before the next is read, so a dropped connection keeps every byte received.
  const file = await open(part, resumed ? 'a' : 'w');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      received += chunk.length;
      onProgress?.(received, total);
    }
  } finally {
    await file.close();
  }
  if (total !== null && received !== total) throw new Error(`connection closed after ${received} of ${total} bytes`);
}

/** Exponential backoff: 1×, 2×, 4×… the first delay between attempts. */
function retryBackoff(first: number) {
  return {
    delay: (attempt: number) => first * 2 ** (attempt - 1),
    total: (attempts: number) => first * (2 ** (attempts - 1) - 1),
  };
}

/** What went wrong with a request, in words (fetch's own message is only 'fetch failed'). */
function describeFailure(err: unknown, url: string): string {
  const e = err as Error & { cause?: { code?: string; message?: string; hostname?: string } };
  const code = e.cause?.code;
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the name ${host} could not be resolved (no network, or no DNS)`;
  if (code === 'ECONNREFUSED') return `${host} refused the connection`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `the connection to ${host} was reset`;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return `the connection to ${host} timed out`;
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
}

/** Downloads (or resumes), verifies and unpacks; returns the data folder. */
export async function downloadDataset(opts: DownloadOptions): Promise<string> {
  const url = opts.url ?? CIFAR10_ARCHIVE.url;
  const fileName = opts.fileName ?? CIFAR10_ARCHIVE.fileName;
  const folder = opts.folder ?? CIFAR10_ARCHIVE.folder;
  const md5 = opts.md5 ?? (opts.sha256 || opts.url ? undefined : CIFAR10_ARCHIVE.md5);
  if (!md5 && !opts.sha256) throw new Error('download: give the expected --md5 or --sha256 of the archive so it can be verified');
  const log = opts.onLog ?? (() => undefined);
  await mkdir(opts.cacheDir, { recursive: true });
  const target = join(opts.cacheDir, folder);
  const marker = join(target, '.rdc-complete');
  const archive = join(opts.cacheDir, fileName);
  const part = `${archive}.part`;
  const expected = opts.sha256 ? { algo: 'sha256' as const, hex: opts.sha256.toLowerCase() } : { algo: 'md5' as const, hex: md5!.toLowerCase() };

  if (existsSync(marker) && (await readFile(marker, 'utf8')).trim() === expected.hex) {
    log(`already downloaded: ${target}`);
    return target;
  }

  if (!(existsSync(archive) && (await checksum(archive, expected.algo)) === expected.hex)) {
    const retries = opts.retries ?? 5;
    const backoff = retryBackoff(opts.retryDelayMs ?? 1000);
    for (let attempt = 1; ; attempt++) {
      try {
        const have = await sizeOf(part);
        if (have > 0) log(`resuming at ${have} bytes`);
        await fetchInto(url, part, opts.onProgress);
        break;
      } catch (err) {
        const why = describeFailure(err, url);
        if (attempt >= retries)
          throw new InputError(
            `could not download ${url} (${attempt} attempts over ${Math.round(backoff.total(attempt) / 1000)} s): ${why}. Run the command again to resume, or, with a copy of CIFAR-10's binary version at hand, pass --data-dir DIR (or set RDC_DATA_DIR) to the commands instead.`,
            'download_failed',
          );
        const wait = backoff.delay(attempt);
        log(`attempt ${attempt} failed (${why}); retrying in ${(wait / 1000).toFixed(1)} s`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    const got = await checksum(part, expected.algo);
    if (got !== expected.hex) {
      await rm(part, { force: true });
      throw new Error(
        `${expected.algo} of the downloaded archive is ${got}, expected ${expected.hex}; the corrupt download was removed, run the command again`,
      );
    }
    await rename(part, archive);
  }

  // Unpack beside the target, then move into place, so a crash never leaves a half-unpacked folder.
  const tmp = join(opts.cacheDir, `.unpack-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await untar({ file: archive, cwd: tmp });
  const unpacked = join(tmp, folder);
  if (!existsSync(unpacked)) throw new Error(`the archive has no '${folder}' folder`);
  await rm(target, { recursive: true, force: true });
  await rename(unpacked, target);
  await rm(tmp, { recursive: true, force: true });
  await writeFile(marker, `${expected.hex}\n`);
  log(`unpacked to ${target}`);
  return target;
}
