import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A per-image JSONL log: one line per finished image, appended as soon as the image is done, so an
 * interrupted run resumes where it stopped. A torn last line (a crash mid-write) is cut off when the
 * log is read, with a note on stderr, so that the next record starts on a line of its own; that
 * image is redone. A later record for the same index replaces an earlier one.
 *
 * @example
 * const log = new JsonlLog<ImageRecord>('runs/attack/images.jsonl');
 * const done = log.read();
 */
export class JsonlLog<T extends { index: number }> {
  constructor(
    readonly path: string,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /** The records by index; `readOnly` leaves a torn last line in place (a reader beside a running writer). */
  read(opts: { readOnly?: boolean } = {}): Map<number, T> {
    const out = new Map<number, T>();
    if (!existsSync(this.path)) return out;
    const text = readFileSync(this.path, 'utf8');
    const lines = text.split('\n');
    let offset = 0;
    let cut = -1;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      // The piece after the last newline is a line whose write never finished (empty when the file ends cleanly).
      if (i === lines.length - 1) {
        if (line) cut = offset;
        break;
      }
      if (line.trim()) {
        try {
          const rec = JSON.parse(line) as T;
          out.set(rec.index, rec);
        } catch {
          if (i === lines.length - 2) cut = offset;
          else this.warn(`${this.path}: line ${i + 1} is damaged and was skipped; its image will be redone`);
        }
      }
      offset += line.length + 1;
    }
    if (cut >= 0 && !opts.readOnly) {
      truncateSync(this.path, Buffer.byteLength(text.slice(0, cut)));
      this.warn(`${this.path}: cut off a torn last line (an interrupted write); that image will be redone`);
    }
    return out;
  }

  append(rec: T): void {
    appendFileSync(this.path, `${JSON.stringify(rec)}\n`);
  }
}
