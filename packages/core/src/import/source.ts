import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InputError } from '../errors.js';
import { basename } from 'node:path';
import type { ByteSource } from './pickle.js';

/**
 * A file as random-access bytes, read through a 1 MiB window: a multi-hundred-MB checkpoint is
 * parsed without loading it, and the byte-by-byte reads of an unpickler stay cheap.
 *
 * @example
 * const src = openFileSource('edm-cifar10-32x32-cond-vp.pkl');
 * try { ... } finally { src.close(); }
 */
export interface FileSource extends ByteSource {
  close(): void;
}

export function openFileSource(path: string, window = 1 << 20): FileSource {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new InputError(
      `${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : (err as Error).message}`,
      'bad_checkpoint',
    );
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new InputError(`${path}: a folder, not a file`, 'bad_checkpoint');
  }
  const length = fstatSync(fd).size;
  let start = 0;
  let buf = new Uint8Array(0);
  return {
    length,
    name: basename(path),
    read(offset: number, n: number): Uint8Array {
      if (offset < 0 || offset + n > length) throw new RangeError(`${basename(path)}: read of ${n} bytes at ${offset} is past the end (${length} bytes)`);
      if (offset >= start && offset + n <= start + buf.length) return buf.subarray(offset - start, offset - start + n);
      const size = Math.min(Math.max(n, window), length - offset);
      const next = new Uint8Array(size);
      let got = 0;
      while (got < size) {
        const r = readSync(fd, next, got, size - got, offset + got);
        if (r <= 0) throw new Error(`${basename(path)}: could not read bytes at ${offset + got}`);
        got += r;
      }
      start = offset;
      buf = next;
      return buf.subarray(0, n);
    },
    close: () => closeSync(fd),
  };
}
