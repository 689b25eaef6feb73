/**
 * A bounded work queue: at most `concurrency` jobs run at once (inference is CPU-bound), at most
 * `capacity` wait. A full queue refuses at once (the API answers 503 with Retry-After). A job that
 * has not finished within its timeout is answered with a timeout error: a waiting job is dropped,
 * a running one is cancelled through its `AbortSignal` (the DC and LM stop at their next σ chunk or
 * step), so it does not go on starving the queue.
 *
 * @example
 * const q = new WorkQueue({ capacity: 16, concurrency: 1 });
 * const r = await q.run((signal) => classify(x, signal), 30_000);
 */
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
  /** Recent job durations (seconds) for Retry-After estimates. */
  private avgSeconds = 1;

  constructor(private readonly opts: { capacity: number; concurrency: number }) {}

  /** Jobs waiting (not running). */
  get depth(): number {
    return this.waiting.length;
  }
  get runningJobs(): number {
    return this.running;
  }

  /** Runs `fn` in turn; `cancelled` (e.g. the client's connection closing) cancels it like a timeout. */
  run<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number, cancelled?: AbortSignal): Promise<T> {
    if (this.waiting.length >= this.opts.capacity && this.running >= this.opts.concurrency) {
      const ahead = this.waiting.length + this.running;
      return Promise.reject(new QueueFullError(Math.max(1, Math.ceil((ahead * this.avgSeconds) / this.opts.concurrency))));
    }
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => job.cancel(new TimeoutError(timeoutMs)), timeoutMs);
      const job: Job = {
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
          const t0 = performance.now();
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
              this.avgSeconds = 0.8 * this.avgSeconds + 0.2 * ((performance.now() - t0) / 1000);
              this.running--;
              this.active.delete(job);
              this.next();
            });
        },
      };
      cancelled?.addEventListener('abort', () => job.cancel(new Error('the client closed the connection')), { once: true });
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
