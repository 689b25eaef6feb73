import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { QueueFullError, TimeoutError, WorkQueue } from './queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('runs at most `concurrency` jobs and refuses beyond `capacity` waiting', async () => {
    const q = new WorkQueue({ capacity: 2, concurrency: 1 });
    let running = 0;
    let peak = 0;
    const job = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(30);
      running--;
      return 1;
    };
    const accepted = [q.run(job, 5000), q.run(job, 5000), q.run(job, 5000)];
    expect(q.depth).toBe(2);
    await expect(q.run(job, 5000)).rejects.toBeInstanceOf(QueueFullError);
    expect(await Promise.all(accepted)).toEqual([1, 1, 1]);
    expect(peak).toBe(1);
  });

  it('times out a job that waits too long and drops it from the queue', async () => {
    const q = new WorkQueue({ capacity: 5, concurrency: 1 });
    const slow = q.run(() => sleep(100).then(() => 'slow'), 5000);
    let ran = false;
    const waiting = q.run(async () => (ran = true), 20);
    await expect(waiting).rejects.toBeInstanceOf(TimeoutError);
    expect(await slow).toBe('slow');
    await q.drain();
    expect(ran).toBe(false);
  });

  it('drain resolves when everything finished', async () => {
    const q = new WorkQueue({ capacity: 5, concurrency: 2 });
    let done = 0;
    for (let i = 0; i < 4; i++) void q.run(() => sleep(10).then(() => done++), 5000);
    await q.drain();
    expect(done).toBe(4);
  });
});

describe('serving needs ONNX Runtime alone', () => {
  it('importing @rdc/serve never loads TensorFlow.js', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "await import('@rdc/serve'); console.log(globalThis._tfGlobals === undefined ? 'no-tfjs' : 'tfjs-loaded')"],
      { cwd: new URL('..', import.meta.url) },
    ).toString();
    expect(out.trim()).toBe('no-tfjs');
  });
});
