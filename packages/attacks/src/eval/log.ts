import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A per-image JSONL log: one line per finished image, appended (and flushed) as soon as the image is
 * done, so an interrupted run resumes where it stopped. A torn last line (a crash mid-write) is
 * ignored and that image is redone.
 *
 * @example
 * const log = new JsonlLog<ImageRecord>('runs/attack/images.jsonl');
 * const done = log.read();
 */
export class JsonlLog<T extends { index: number }> {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  read(): Map<number, T> {
    const out = new Map<number, T>();
    if (!existsSync(this.path)) return out;
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const rec = JSON.parse(line) as T;
        out.set(rec.index, rec);
      } catch {
        // a torn line from an interrupted write
      }
    }
    return out;
  }

  append(rec: T): void {
    appendFileSync(this.path, `${JSON.stringify(rec)}\n`);
  }
}
