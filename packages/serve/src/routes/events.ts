/**
 * A route's answer as JSON, or — when the client asks for `text/event-stream` — as server-sent
 * events: a `progress` event for each step the work reports, then `result` (the JSON answer) or
 * `error` ({ status, error: { code, message } }). Attack and certify answer this way.
 *
 * @example
 * return answerWithProgress(c, (onProgress) => queueWork(ctx, c, model, macs, (s) => attackImage(model, pixels, req, s, onProgress)), finish);
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { errorAnswer } from '../middleware/errors.js';

/** Whether the request asked for server-sent events. */
function wantsEvents(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/event-stream');
}

/**
 * Starts the work (`start` gets a progress callback when streaming) and answers: its result through
 * `finish` as JSON, or the progress events then the result as a stream. A full queue is refused at
 * once, before the stream starts, so it keeps its status.
 */
export async function answerWithProgress<P, R>(c: Context, start: (onProgress?: (p: P) => void) => Promise<R>, finish: (r: R) => unknown): Promise<Response> {
  if (!wantsEvents(c)) return c.json(finish(await start()));
  const events = new ProgressEvents<P>();
  const job = start((p) => events.push(p));
  await Promise.race([job, Promise.resolve()]);
  return streamSSE(c, async (sse) => {
    const outcome = job.then(
      (r) => ({ ok: true as const, r }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    void outcome.then(() => events.close());
    for await (const p of events) await sse.writeSSE({ event: 'progress', data: JSON.stringify(p) });
    const o = await outcome;
    if (o.ok) await sse.writeSSE({ event: 'result', data: JSON.stringify(finish(o.r)) });
    else {
      const a = errorAnswer(o.err);
      await sse.writeSSE({ event: 'error', data: JSON.stringify({ status: a.status, error: { code: a.code, message: a.message } }) });
    }
  });
}

/** Progress events from a running job, read in order by the stream until the job ends. */
class ProgressEvents<P> implements AsyncIterable<P> {
  private readonly items: P[] = [];
  private closed = false;
  private wake: (() => void) | null = null;
  push(p: P): void {
    this.items.push(p);
    this.wake?.();
  }
  close(): void {
    this.closed = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator]() {
    for (;;) {
      while (this.items.length) yield this.items.shift()!;
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}
