/**
 * A bounded work queue: at most `concurrency` jobs run at once (inference is CPU-bound), at most
 * `capacity` wait. A full queue refuses at once (the API answers 503 with Retry-After: the estimated
 * seconds of the work ahead — each job's own estimate, from its model's measured speed — spread over
 * `concurrency`). A job that has not finished within its timeout is answered with a timeout error,
 * and one whose client went away with `ClientGoneError`: a waiting job is dropped, a running one is
 * cancelled through its `AbortSignal` (the DC and LM stop at their next σ chunk or step, a
 * certification at its next batch of draws), so it does not go on starving the queue.
 *
 * @example
 * const q = new WorkQueue({ capacity: 16, concurrency: 1 });
 * const r = await q.run((signal) => classify(x, signal), 30_000, { seconds: 2.5 });
 */
import { ClientGoneError } from './http/errors.js';

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('the server is busy: the work queue is full');
  }
}

/** The server is shutting down and its drain deadline passed. */
export class ShutdownError extends Error {
  constructor() {
    super('the server is shutting down');
  }
}

export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`the request did not finish within ${ms} ms`);
  }
}

interface Job {
  /** Estimated seconds of work; when it started (ms), once running. */
  seconds: number;
  startedAt: number;
  start: () => void;
  /** Answers the job with an error now; a running job is also told to stop. */
  cancel: (reason: Error) => void;
  cancelled: boolean;
  controller: AbortController;
}

export class WorkQueue {
  private running = 0;
  private readonly waiting: Job[] = [];
  private readonly active = new Set<Job>();
  private idle: (() => void)[] = [];

  constructor(private readonly opts: { capacity: number; concurrency: number }) {}

  /** Jobs waiting (not running). */
  get depth(): number {
    return this.waiting.length;
  }
  get runningJobs(): number {
    return this.running;
  }

  /** Estimated seconds until the work queued and running now has finished, spread over the workers. */
  secondsAhead(): number {
    const now = performance.now();
    let total = 0;
    for (const job of this.waiting) total += job.seconds;
    for (const job of this.active) total += Math.max(0, job.seconds - (now - job.startedAt) / 1000);
    return total / this.opts.concurrency;
  }

  /**
   * Runs `fn` in turn. `cancelled` (the client's connection closing) cancels it like a timeout;
   * `seconds` is its estimated work (for the Retry-After of those refused behind it).
   */
  run<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number, o: { cancelled?: AbortSignal; seconds?: number } = {}): Promise<T> {
    if (this.waiting.length >= this.opts.capacity && this.running >= this.opts.concurrency)
      return Promise.reject(new QueueFullError(Math.max(1, Math.ceil(this.secondsAhead()))));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => job.cancel(new TimeoutError(timeoutMs)), timeoutMs);
      const job: Job = {
        seconds: o.seconds ?? 1,
        startedAt: 0,
        cancelled: false,
        controller: new AbortController(),
        cancel: (reason) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          job.cancelled = true;
          job.controller.abort(reason);
          const i = this.waiting.indexOf(job);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(reason);
          this.next();
        },
        start: () => {
          this.running++;
          this.active.add(job);
          job.startedAt = performance.now();
          fn(job.controller.signal)
            .then(
              (v) => {
                if (!done) resolve(v);
              },
              (e) => {
                if (!done) reject(e);
              },
            )
            .finally(() => {
              done = true;
              clearTimeout(timer);
              this.running--;
              this.active.delete(job);
              // The next job starts after the requests that arrived meanwhile are admitted or refused:
              // ONNX Runtime's runs hold the event loop, so they waited for this job's end, and they
              // meet the queue as it is (the next job waiting, not yet running).
              setImmediate(() => this.next());
            });
        },
      };
      if (o.cancelled?.aborted) return job.cancel(new ClientGoneError());
      o.cancelled?.addEventListener('abort', () => job.cancel(new ClientGoneError()), { once: true });
      this.waiting.push(job);
      this.next();
    });
  }

  private next(): void {
    while (this.running < this.opts.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      if (!job.cancelled) job.start();
    }
    if (this.running === 0 && this.waiting.length === 0) {
      for (const r of this.idle) r();
      this.idle = [];
    }
  }

  /** Resolves when nothing is running or waiting (graceful shutdown). */
  drain(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /** Cancels every waiting and running job with `reason` (a shutdown past its deadline). */
  abortAll(reason: Error): void {
    for (const job of [...this.waiting, ...this.active]) job.cancel(reason);
  }
}
