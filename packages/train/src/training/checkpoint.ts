/**
 * Training checkpoints: weights, EMA weights and optimizer moments in safetensors, and the rest of
 * the state (step, images seen, random streams, data order) in JSON. Written atomically: into a
 * temporary folder, flushed to disk, renamed, and only then pointed to by `latest.json`, so a crash
 * mid-write never corrupts the previous checkpoint. The last `keep` checkpoints are kept.
 *
 * @example
 * saveCheckpoint(runDir, ckpt, 2);
 * const restored = loadCheckpoint(runDir);
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, InputError, type RandomState, type Weights } from '@rdc/core';
import type { SamplerState } from './epoch-order.js';

export interface TrainState {
  step: number;
  imagesSeen: number;
  optimizerSteps: number;
  rng: RandomState;
  sampler: SamplerState;
  elapsedSeconds: number;
}

export interface Checkpoint {
  weights: Weights;
  ema: Weights;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
  state: TrainState;
}

function writeSynced(path: string, bytes: Uint8Array | string): void {
  writeFileSync(path, bytes);
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const asWeights = (arrays: Record<string, Float32Array>, like: Weights): Weights =>
  Object.fromEntries(Object.entries(arrays).map(([k, d]) => [k, { data: d, dims: like[k].dims }]));

export function saveCheckpoint(runDir: string, ckpt: Checkpoint, keep = 2): string {
  const root = join(runDir, 'checkpoints');
  mkdirSync(root, { recursive: true });
  const name = `step-${String(ckpt.state.step).padStart(8, '0')}`;
  const tmp = join(root, `${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  writeSynced(join(tmp, 'weights.safetensors'), encodeSafetensors(ckpt.weights));
  writeSynced(join(tmp, 'ema.safetensors'), encodeSafetensors(ckpt.ema));
  writeSynced(
    join(tmp, 'optimizer.safetensors'),
    encodeSafetensors({ ...prefix('m.', asWeights(ckpt.m, ckpt.weights)), ...prefix('v.', asWeights(ckpt.v, ckpt.weights)) }),
  );
  writeSynced(join(tmp, 'state.json'), `${JSON.stringify(ckpt.state)}\n`);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  const latestTmp = join(runDir, `latest.json.tmp-${process.pid}`);
  writeSynced(latestTmp, `${JSON.stringify({ checkpoint: `checkpoints/${name}`, step: ckpt.state.step })}\n`);
  renameSync(latestTmp, join(runDir, 'latest.json'));
  const all = readdirSync(root)
    .filter((d) => /^step-\d+$/.test(d))
    .sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(root, old), { recursive: true, force: true });
  return final;
}

function prefix(p: string, w: Weights): Weights {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [`${p}${k}`, v]));
}

/** Whether a run folder has a checkpoint to resume from. */
export function hasCheckpoint(runDir: string): boolean {
  return existsSync(join(runDir, 'latest.json'));
}

export function loadCheckpoint(runDir: string): Checkpoint {
  const latest = join(runDir, 'latest.json');
  if (!existsSync(latest)) throw new InputError(`no checkpoint to resume in '${runDir}' (latest.json is missing)`, 'no_checkpoint');
  const { checkpoint } = JSON.parse(readFileSync(latest, 'utf8')) as { checkpoint: string };
  const dir = join(runDir, checkpoint);
  const read = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new InputError(`checkpoint ${dir} is incomplete: ${f} is missing`, 'bad_checkpoint');
    return readFileSync(p);
  };
  const weights = decodeSafetensors(read('weights.safetensors'), join(dir, 'weights.safetensors')).tensors;
  const ema = decodeSafetensors(read('ema.safetensors'), join(dir, 'ema.safetensors')).tensors;
  const opt = decodeSafetensors(read('optimizer.safetensors'), join(dir, 'optimizer.safetensors')).tensors;
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(opt)) (k.startsWith('m.') ? m : v)[k.slice(2)] = t.data;
  const state = JSON.parse(read('state.json').toString('utf8')) as TrainState;
  return { weights, ema, m, v, state };
}

/** Whether a process with this id is running (on this machine). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what killed checkpoint writes left behind: `checkpoints/step-N.tmp-PID` folders and
 * `latest.json.tmp-PID` files of processes that no longer run. Returns what it removed.
 */
export function removeStaleCheckpointWrites(runDir: string): string[] {
  const removed: string[] = [];
  const stale = (name: string) => {
    const m = /\.tmp-(\d+)$/.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  const root = join(runDir, 'checkpoints');
  if (existsSync(root))
    for (const d of readdirSync(root).filter(stale)) {
      rmSync(join(root, d), { recursive: true, force: true });
      removed.push(`checkpoints/${d}`);
    }
  if (existsSync(runDir))
    for (const f of readdirSync(runDir).filter((f) => f.startsWith('latest.json.tmp-') && stale(f))) {
      rmSync(join(runDir, f), { force: true });
      removed.push(f);
    }
  return removed;
}

/**
 * Cuts log.jsonl back to the checkpoint a run resumes from: the records a killed session wrote after
 * its last checkpoint (steps that are now done again) are dropped, so every step appears once.
 * Returns the number of lines dropped.
 */
export function truncateLogToCheckpoint(runDir: string, step: number): number {
  const path = join(runDir, 'log.jsonl');
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  let last = -1;
  lines.forEach((l, i) => {
    try {
      const r = JSON.parse(l) as { event?: string; step?: number };
      if (r.event === 'checkpoint' && r.step === step) last = i;
    } catch {
      // a torn line: dropped below if it follows the checkpoint
    }
  });
  if (last < 0 || last === lines.length - 1) return 0;
  const tmp = `${path}.tmp-${process.pid}`;
  writeSynced(tmp, `${lines.slice(0, last + 1).join('\n')}\n`);
  renameSync(tmp, path);
  return lines.length - 1 - last;
}
