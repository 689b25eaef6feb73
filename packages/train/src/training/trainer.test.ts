import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CnnConfig,
  Denoiser,
  DiffusionClassifier,
  edmLossGraph,
  initWeights,
  OrtEngine,
  Random,
  TfjsEngine,
  UNetConfig,
  type Engine,
  type Weights,
} from '@rdc/core';
import { relativeError } from '@rdc/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainConfig } from '@rdc/core';
import { loadCifar10, type Cifar10 } from '../data/cifar10.js';
import { trainValSplit } from '../data/split.js';
import { cifarForTests } from '../testing.js';
import { loadCheckpoint } from './checkpoint.js';
import { adaptWeights } from './heads.js';
import { inferenceGraph, Trainer, type TrainerOptions } from './trainer.js';

/** A UNet of a few MFLOP on 32×32 images (3 classes keep the heads small). */
const net = (classes = 10) =>
  UNetConfig.parse({
    arch: 'unet',
    numClasses: classes,
    modelChannels: 8,
    channelMult: [1, 2],
    numBlocks: 1,
    attnResolutions: [16],
    dropout: 0.1,
  });

let data: Cifar10;
let split: { train: Int32Array; val: Int32Array };
let tfjs: Engine;
let ort: Engine;
const dir = cifarForTests();
beforeAll(async () => {
  if (!dir) return;
  data = loadCifar10(dir, ['data_batch_1.bin'], { limit: 600 });
  split = trainValSplit(data.size, 40, 0);
  tfjs = await TfjsEngine.create('wasm');
  ort = await OrtEngine.create({ threads: 1 });
});

const runDir = () => mkdtempSync(join(tmpdir(), 'rdc-train-'));
const cfg = (o: Partial<TrainConfig> = {}) =>
  TrainConfig.parse({ batch: 4, steps: 6, warmup: 2, lr: 1e-3, valEvery: 1000, ckptEvery: 3, valImages: 8, valLevels: 3, ...o });
const trainer = (o: Partial<TrainerOptions> & { config: TrainConfig; runDir: string }) =>
  new Trainer({ network: net(), data, split, gradientEngine: tfjs, forwardEngine: ort, ...o });

function same(a: Weights, b: Weights): boolean {
  return Object.keys(a).every((k) => a[k].data.every((v, i) => v === b[k].data[i]));
}

describe.skipIf(!dir)('training', () => {
  it('resumes exactly: 3 + 3 steps equal 6 steps, bit for bit (weights, EMA, optimizer)', async () => {
    const lossesStraight: number[] = [];
    const lossesResumed: number[] = [];
    const straight = await trainer({ config: cfg(), runDir: runDir(), onProgress: (p) => lossesStraight.push(p.loss) }).run();
    const dir = runDir();
    const first = await trainer({ config: cfg({ steps: 3 }), runDir: dir, onProgress: (p) => lossesResumed.push(p.loss) }).run();
    expect(first.step).toBe(3);
    const second = await trainer({ config: cfg(), runDir: dir, resume: true, onProgress: (p) => lossesResumed.push(p.loss) }).run();
    expect(second.step).toBe(6);
    expect(second.imagesSeen).toBe(24);
    expect(same(second.weights, straight.weights)).toBe(true);
    expect(same(second.ema, straight.ema)).toBe(true);
    const log = readFileSync(join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.some((r) => r.event === 'resume' && r.step === 3)).toBe(true);
    // The losses of the two sessions are the straight run's, step by step.
    expect(lossesStraight.length).toBe(6);
    expect(lossesResumed).toEqual(lossesStraight);
  });

  it('the optimizer inside the step graph (AdamW, clipping and the EMA on the engine) matches the host optimizer, and resumes exactly', async () => {
    const c = cfg({ steps: 4, weightDecay: 0.01, gradClip: 0.05 });
    const host = await trainer({ config: { ...c, optimizer: 'host' }, runDir: runDir(), gradientEngine: ort }).run();
    const onDevice = await trainer({ config: { ...c, optimizer: 'device' }, runDir: runDir(), gradientEngine: ort }).run();
    const flat = (w: Weights) => Object.keys(w).flatMap((k) => Array.from(w[k].data));
    const init = initWeights(inferenceGraph(net()), c.seed);
    const moved = relativeError(flat(host.weights), flat(init));
    expect(moved).toBeGreaterThan(1e-4);
    // float32 in the graph against float64 on the host: the same steps to rounding.
    expect(relativeError(flat(onDevice.weights), flat(host.weights))).toBeLessThan(1e-4 * moved + 1e-6);
    expect(relativeError(flat(onDevice.ema), flat(host.ema))).toBeLessThan(1e-4 * moved + 1e-6);
    // 2 + 2 steps equal 4, bit for bit.
    const dir = runDir();
    await trainer({ config: { ...c, steps: 2, optimizer: 'device' }, runDir: dir, gradientEngine: ort }).run();
    const resumed = await trainer({ config: { ...c, optimizer: 'device' }, runDir: dir, gradientEngine: ort, resume: true }).run();
    expect(same(resumed.weights, onDevice.weights)).toBe(true);
    expect(same(resumed.ema, onDevice.ema)).toBe(true);
  });

  it('stops cleanly on request (Ctrl-C) with a checkpoint to resume from', async () => {
    const dir = runDir();
    const t = trainer({ config: cfg({ steps: 50, ckptEvery: 1000 }), runDir: dir, onProgress: (p) => p.step === 2 && t.requestStop() });
    const r = await t.run();
    expect(r.stoppedBy).toBe('interrupt');
    expect(r.step).toBe(2);
    expect(loadCheckpoint(dir).state.step).toBe(2);
  });

  it('stops at the time budget', async () => {
    const r = await trainer({ config: cfg({ steps: 10_000, timeBudget: 2 }), runDir: runDir() }).run();
    expect(r.stoppedBy).toBe('time-budget');
    expect(r.step).toBeGreaterThan(0);
    expect(r.step).toBeLessThan(10_000);
  });

  it('a crash while writing a checkpoint leaves the previous one usable', async () => {
    const dir = runDir();
    await trainer({ config: cfg({ steps: 3 }), runDir: dir }).run();
    // What a crash mid-write leaves: a temporary folder with partial files, never pointed to.
    const partial = join(dir, 'checkpoints', 'step-00000006.tmp-99999');
    mkdirSync(partial);
    writeFileSync(join(partial, 'weights.safetensors'), Buffer.alloc(10));
    expect(loadCheckpoint(dir).state.step).toBe(3);
    const r = await trainer({ config: cfg(), runDir: dir, resume: true }).run();
    expect(r.step).toBe(6);
    expect(readdirSync(join(dir, 'checkpoints')).filter((d) => /^step-\d+$/.test(d))).toEqual(['step-00000003', 'step-00000006']);
    // The killed write's temporary folder is cleaned up on start.
    expect(readdirSync(join(dir, 'checkpoints')).filter((d) => d.includes('.tmp-'))).toEqual([]);
  });

  it('after a kill past its last checkpoint, the resumed log has every step once', async () => {
    const dir = runDir();
    // A session killed after step 5, its last checkpoint at step 3: the log has steps 4 and 5 it must redo.
    await trainer({ config: cfg({ steps: 5, ckptEvery: 3 }), runDir: dir }).run();
    const lines = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n');
    const stopAt = lines.findIndex((l) => l.includes('"event":"stop"'));
    writeFileSync(join(dir, 'log.jsonl'), `${lines.slice(0, stopAt).join('\n')}\n${'{"event":"step","step":5'}`);
    // The kill lost the step-5 checkpoint: latest still says step 3 (as it would after a kill between 3 and 6).
    writeFileSync(join(dir, 'latest.json'), JSON.stringify({ checkpoint: 'checkpoints/step-00000003', step: 3 }));
    await trainer({ config: cfg({ steps: 6, ckptEvery: 3 }), runDir: dir, resume: true }).run();
    const log = readFileSync(join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const resume = log.find((r) => r.event === 'resume');
    expect(resume).toMatchObject({ step: 3 });
    expect(resume.droppedLogLines).toBeGreaterThan(0);
    const steps = log.filter((r) => r.event === 'step' || r.event === 'checkpoint').map((r) => `${r.event}@${r.step}`);
    expect(new Set(steps).size).toBe(steps.length);
    expect(steps).toContain('checkpoint@6');
    // The killed session's records after step 3 are gone; the new session's replace them.
    expect(steps).not.toContain('checkpoint@5');
    expect(log.findIndex((r) => r.event === 'resume')).toBeGreaterThan(log.findIndex((r) => r.event === 'checkpoint' && r.step === 3));
  });

  it('refuses to resume a folder without a checkpoint', async () => {
    await expect(trainer({ config: cfg(), runDir: runDir(), resume: true }).run()).rejects.toThrow(/no checkpoint/);
  });

  it('lowers the EDM loss on a fixed held-out batch and reports validation DC accuracy', async () => {
    const network = { ...net(), attnResolutions: [], dropout: 0 };
    const dir = runDir();
    const config = cfg({ steps: 60, batch: 8, lr: 1e-2, warmup: 10, valEvery: 60, ckptEvery: 1000 });
    const r = await trainer({ network, config, runDir: dir }).run();
    // The loss on the same 32 validation images, σ and noise, before and after training.
    const f = await ort.compile(edmLossGraph(network));
    const idx = split.val.subarray(0, 32);
    const x = data.pixels(idx).data.map((p) => 2 * p - 1);
    const rng = new Random(1);
    const sigma = Float32Array.from({ length: 32 }, () => Math.exp(-1.2 + 1.2 * rng.gaussian()));
    const noise = rng.normal(32 * 3072);
    const target = new Float32Array(32 * 11 * 3072);
    const mask = new Float32Array(32 * 11);
    const labels = data.labelsAt(idx);
    for (let i = 0; i < 32; i++) {
      for (let h = 0; h < 11; h++) target.set(x.subarray(i * 3072, (i + 1) * 3072), (i * 11 + h) * 3072);
      mask[i * 11 + labels[i]] = 1;
      mask[i * 11 + 10] = 1;
    }
    const feeds = {
      x: { data: x, dims: [32, 3, 32, 32] },
      noise: { data: noise, dims: [32, 3, 32, 32] },
      sigma: { data: sigma, dims: [32] },
      target: { data: target, dims: [32, 11, 3, 32, 32] },
      mask: { data: mask, dims: [32, 11] },
    };
    const before = (await f.run(feeds, initWeights(inferenceGraph(network), config.seed))).loss.data[0];
    const after = (await f.run(feeds, r.weights)).loss.data[0];
    expect(after).toBeLessThan(0.9 * before);
    // The reported validation accuracy is the DC of the EMA weights on the first validation images.
    const val = split.val.subarray(0, config.valImages);
    const dc = new DiffusionClassifier(new Denoiser(ort, network, r.ema), { levels: config.valLevels, chunk: config.valLevels });
    const logits = (await dc.logits(data.pixels(val), { rng: new Random(config.seed) })).data;
    const truth = data.labelsAt(val);
    let right = 0;
    for (let i = 0; i < val.length; i++) {
      const row = Array.from(logits.subarray(i * 10, (i + 1) * 10));
      right += row.indexOf(Math.max(...row)) === truth[i] ? 1 : 0;
    }
    expect(r.valAccuracy).toBe(right / val.length);
    expect(readFileSync(join(dir, 'log.jsonl'), 'utf8')).toMatch(/"event":"validation"/);
  });

  it('distillation from an identical teacher has zero loss and leaves the weights unchanged', async () => {
    const teacherRun = await trainer({ config: cfg({ steps: 2 }), runDir: runDir() }).run();
    const teacher = new Denoiser(tfjs, net(), teacherRun.weights);
    const student = Object.fromEntries(Object.entries(teacherRun.weights).map(([k, w]) => [k, { data: Float32Array.from(w.data), dims: w.dims }]));
    const losses: number[] = [];
    // No dropout in the student, so that it computes exactly the teacher's function.
    const network = { ...net(), dropout: 0 };
    const r = await trainer({
      network,
      config: cfg({ steps: 2, weightDecay: 0 }),
      runDir: runDir(),
      init: student,
      teacher,
      onProgress: (p) => losses.push(p.loss),
    }).run();
    for (const l of losses) expect(l).toBe(0);
    expect(same(r.weights, teacherRun.weights)).toBe(true);
  });

  it('fine-tunes from a model with another head count, keeping the shared heads', async () => {
    const src = await trainer({ network: net(4), config: cfg({ steps: 1 }), runDir: runDir() }).run();
    const { weights, copied, adapted } = adaptWeights(src.weights, net(4), net(10), 0);
    expect(adapted).toEqual(['dec.32x32_aux_conv.weight', 'dec.32x32_aux_conv.bias']);
    expect(copied).toBe(Object.keys(weights).length - 2);
    const per = (weights['dec.32x32_aux_conv.weight'].data.length / 33) * 3; // one head = 3 output channels
    const srcOut = src.weights['dec.32x32_aux_conv.weight'].data;
    const out = weights['dec.32x32_aux_conv.weight'].data;
    expect(Array.from(out.subarray(0, 4 * per))).toEqual(Array.from(srcOut.subarray(0, 4 * per))); // class heads 0..3
    expect(Array.from(out.subarray(10 * per, 11 * per))).toEqual(Array.from(srcOut.subarray(4 * per, 5 * per))); // unconditional
    const r = await trainer({ config: cfg({ steps: 2 }), runDir: runDir(), init: weights }).run();
    expect(r.step).toBe(2);
    expect(() => adaptWeights(src.weights, net(4), { ...net(4), modelChannels: 16 }, 0)).toThrow(/only the head count may differ/);
  });

  it('trains the baseline CNN with cross-entropy', async () => {
    const network = CnnConfig.parse({ arch: 'cnn', widths: [8, 16] });
    const losses: number[] = [];
    const r = await trainer({ network, config: cfg({ steps: 20, batch: 16, lr: 3e-3 }), runDir: runDir(), onProgress: (p) => losses.push(p.loss) }).run();
    expect(losses[0]).toBeGreaterThan(1.5); // ≈ ln 10 at the start
    expect(losses.slice(-5).reduce((a, b) => a + b, 0) / 5).toBeLessThan(losses[0]);
    expect(r.valAccuracy).not.toBeNull();
  });
});
