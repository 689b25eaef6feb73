import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelCardSections, readModelFolder } from '@rdc/core';
import { describe, expect, it } from 'vitest';
import { TINY_UNET, data, rdc, rdcCapture, tmp } from './helpers.js';

/** train → resume → export → eval → sample → info, through the CLI, on a tiny network. */
describe.skipIf(!data)('the backbone pipeline through the CLI', () => {
  const dir = tmp();
  const run = join(dir, 'run');
  const model = join(dir, 'model');

  it('trains, resumes from its checkpoint, and exports a model folder', async () => {
    const common = [
      ...TINY_UNET,
      '--run',
      run,
      '--batch',
      '4',
      '--val-size',
      '20',
      '--val-every',
      '1000',
      '--val-images',
      '8',
      '--val-levels',
      '3',
      '--ckpt-every',
      '2',
      '--warmup',
      '2',
    ];
    expect(await rdc('train', ...common, '--steps', '3')).toBe(0);
    expect(await rdc('train', '--run', run, '--resume', '--steps', '5', '--json', join(dir, 'train.json'))).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'train.json'), 'utf8'));
    expect(summary).toMatchObject({ step: 5, imagesSeen: 20, stoppedBy: 'steps' });
    expect(summary.commit).toBeTruthy();
    expect(readFileSync(join(run, 'log.jsonl'), 'utf8')).toMatch(/"event":"resume","step":3/);

    // Five steps do not make denoisers: the generative guard refuses the export, naming its figures.
    const refused = await rdcCapture('export', '--run', run, '--model', model, '--calibration-images', '8', '--levels', '4');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /refusing to write .*not a diffusion classifier: its class heads do not denoise .*at σ = 0\.4 the true class's loss \d\.\d{3}/,
    );
    expect(existsSync(model)).toBe(false);
    const exported = await rdcCapture('export', '--run', run, '--model', model, '--calibration-images', '8', '--levels', '4', '--allow-discriminative');
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('not a diffusion classifier: its class heads do not denoise');
    const m = readModelFolder(model);
    expect(m.config.guard?.validation).toMatchObject({ images: 20, split: 'val', denoises: false });
    expect(m.config.guard?.validation.rows.map((r) => r.sigma)).toEqual([0.1, 0.2, 0.4, 0.8, 1.6]);
    expect(m.config.guard?.test).toMatchObject({ images: 128, split: 'test' });
    const exportedCard = readFileSync(join(model, 'MODEL_CARD.md'), 'utf8');
    expect(exportedCard).toMatch(/\*\*Warning: not a diffusion classifier: its class heads do not denoise\.\*\*/);
    expect(exportedCard).toMatch(/\| 0\.4 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    expect(m.config.lmMethod).toBe('paper');
    expect(m.config.temperature).toBeGreaterThan(0);
    expect(m.config.calibration?.images).toBe(8);
    expect(m.config.dc.levels).toBe(4);
    expect(Object.keys(m.config.files).sort()).toEqual(['MODEL_CARD.md', 'dc_chunk.onnx', 'dc_vjp.onnx', 'denoiser.onnx', 'lm_grad.onnx', 'model.safetensors']);
    expect(readFileSync(join(model, 'MODEL_CARD.md'), 'utf8')).toMatch(/Steps: 5, images seen: 20/);
  });

  it('--per-level: every σ level on its own, summing to the DC; --adaptive with --agreement; --ce-weight trains with the DC cross-entropy', async () => {
    const plain = join(dir, 'plain.json');
    const levels = join(dir, 'levels.json');
    const adaptive = join(dir, 'adaptive.json');
    expect(await rdc('eval', '--model', model, '--defense', 'dc', '--limit', '6', '--levels', '6', '--threads', '1', '--json', plain)).toBe(0);
    expect(await rdc('eval', '--model', model, '--defense', 'dc', '--limit', '6', '--levels', '6', '--threads', '1', '--per-level', '--json', levels)).toBe(0);
    const [a, b] = [plain, levels].map((f) => JSON.parse(readFileSync(f, 'utf8')));
    expect(b.perLevel).toHaveLength(6);
    for (const l of b.perLevel) expect(l.accuracy).toBeGreaterThanOrEqual(0);
    // The levels' terms sum to the DC's logits (same draws): the same predictions.
    expect(b.predictions).toEqual(a.predictions);
    expect(
      await rdc(
        'eval',
        '--model',
        model,
        '--defense',
        'dc',
        '--limit',
        '6',
        '--levels',
        '6',
        '--threads',
        '1',
        '--adaptive',
        '0.2',
        '--agreement',
        '--json',
        adaptive,
      ),
    ).toBe(0);
    const c = JSON.parse(readFileSync(adaptive, 'utf8'));
    expect(c.adaptive.meanLevels).toBeLessThanOrEqual(6);
    expect(c.adaptive.agreement).toBe(c.records.filter((r: { prediction: number; fullGrid: number }) => r.prediction === r.fullGrid).length / 6);
    expect(c.records.map((r: { fullGrid: number }) => r.fullGrid)).toEqual(a.predictions);
    expect(await rdc('eval', '--model', model, '--defense', 'rdc', '--per-level')).toBe(2);
    const ceRun = join(dir, 'ce-run');
    expect(
      await rdc(
        'train',
        ...TINY_UNET,
        '--run',
        ceRun,
        '--batch',
        '4',
        '--steps',
        '2',
        '--val-every',
        '1000',
        '--ce-weight',
        '0.5',
        '--uncond-weight',
        '0.5',
        '--json',
        join(dir, 'ce.json'),
      ),
    ).toBe(0);
    expect(JSON.parse(readFileSync(join(ceRun, 'config.json'), 'utf8')).train).toMatchObject({ ceWeight: 0.5, uncondWeight: 0.5 });
    expect(Number.isFinite(JSON.parse(readFileSync(join(dir, 'ce.json'), 'utf8')).lastLoss)).toBe(true);
  });

  it('evaluates DC and RDC with a confidence interval and records them in the card', async () => {
    const out = join(dir, 'eval.json');
    expect(await rdc('eval', '--model', model, '--defense', 'dc', '--limit', '4', '--json', out, '--record')).toBe(0);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    expect(r.images).toBe(4);
    expect(r.ci95[0]).toBeLessThanOrEqual(r.accuracy);
    expect(r.ci95[1]).toBeGreaterThanOrEqual(r.accuracy);
    expect(r.settings.dc.levels).toBe(4);
    expect(r.secondsPerImage).toBeGreaterThan(0);
    // The validation split, for choosing settings; it never writes the card.
    const val = join(dir, 'eval-val.json');
    expect(await rdc('eval', '--model', model, '--defense', 'dc', '--split', 'val', '--limit', '3', '--json', val)).toBe(0);
    expect(JSON.parse(readFileSync(val, 'utf8'))).toMatchObject({ images: 3, split: expect.stringMatching(/^validation/) });
    expect(await rdc('eval', '--model', model, '--defense', 'dc', '--split', 'val', '--record')).toBe(2);
    // Without --method, the RDC uses the model's LM preset (paper, set at export).
    expect(await rdc('eval', '--model', model, '--defense', 'rdc', '--limit', '2', '--record')).toBe(0);
    const card = readFileSync(join(model, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/\*\*DC\*\*: clean accuracy [\d.]+ % \[[\d.]+, [\d.]+\]/);
    expect(card).toMatch(/\*\*RDC \(paper LM\)\*\*/);
    expect(card).toMatch(/\*\*DC\*\*: clean accuracy [^\n]* on the first 4 images of the CIFAR-10 test batch/);
    // The card names the images a run took, not a prefix of that many.
    expect(await rdc('eval', '--model', model, '--defense', 'dc', '--images', '5,9', '--record')).toBe(0);
    expect(readFileSync(join(model, 'MODEL_CARD.md'), 'utf8')).toMatch(/\*\*DC\*\*: clean accuracy [^\n]* on images 5, 9 of the CIFAR-10 test batch/);
    // The card's checksum was updated with it.
    expect(() => readModelFolder(model)).not.toThrow();
    expect(await rdc('eval', '--model', model, '--defense', 'none', '--limit', '1')).toBe(2);
  });

  it('samples per class and writes the per-σ loss curve', async () => {
    const out = join(model, 'samples');
    expect(await rdc('sample', '--model', model, '--out', out, '--per-class', '1', '--steps', '2', '--val-images', '4', '--record')).toBe(0);
    expect(existsSync(join(out, 'samples.png'))).toBe(true);
    expect(readFileSync(join(out, 'sigma-loss.svg'), 'utf8')).toMatch(/^<svg/);
    const loss = JSON.parse(readFileSync(join(out, 'sigma-loss.json'), 'utf8'));
    const curve = loss.curve;
    // 13 σ from 0.002 to 80 (0.4 among them) and the generative guard's other four.
    expect(curve.length).toBe(17);
    expect(loss.guard.denoises).toBe(false);
    // --record links them from the card, with the loss table, and keeps the folder valid.
    const card = readFileSync(join(model, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/!\[samples\]\(samples\/samples\.png\)/);
    expect(modelCardSections(card).samples.match(/^\| [\d.e+-]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/gm)?.length).toBe(17);
    expect(() => readModelFolder(model)).not.toThrow();
  });

  it('info reports parameters and FLOPs of the model', async () => {
    const out = join(dir, 'info.json');
    expect(await rdc('info', '--model', model, '--json', out)).toBe(0);
    const info = JSON.parse(readFileSync(out, 'utf8'));
    expect(info.model.parameters).toBeGreaterThan(1000);
    expect(info.model.flopsPerImage).toBeGreaterThan(1e6);
  });

  it('trains, exports and evaluates the baseline CNN (--arch cnn)', async () => {
    const crun = join(dir, 'cnn-run');
    const cmodel = join(dir, 'cnn');
    expect(await rdc('train', '--arch', 'cnn', '--size', 'tiny', '--run', crun, '--steps', '3', '--batch', '8', '--val-size', '20', '--val-images', '8')).toBe(
      0,
    );
    expect(await rdc('export', '--run', crun, '--model', cmodel, '--calibration-images', '16')).toBe(0);
    expect(readModelFolder(cmodel).config.network.arch).toBe('cnn');
    expect(await rdc('eval', '--model', cmodel, '--defense', 'none', '--limit', '8')).toBe(0);
    expect(await rdc('eval', '--model', cmodel, '--defense', 'dc', '--limit', '1')).toBe(2);
    // Cohen's recipe: the CNN trained on Gaussian noise of the smoothing τ (its training loss is higher on noisy images).
    const nrun = join(dir, 'noisy-cnn-run');
    expect(
      await rdc(
        'train',
        '--arch',
        'cnn',
        '--size',
        'tiny',
        '--run',
        nrun,
        '--steps',
        '3',
        '--batch',
        '8',
        '--val-size',
        '20',
        '--noise-sd',
        '0.25',
        '--json',
        join(dir, 'noisy.json'),
      ),
    ).toBe(0);
    expect(JSON.parse(readFileSync(join(nrun, 'config.json'), 'utf8')).train.noiseSd).toBe(0.25);
    expect(JSON.parse(readFileSync(join(dir, 'noisy.json'), 'utf8')).lastLoss).not.toBe(
      JSON.parse(
        readFileSync(join(crun, 'log.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l.includes('"event":"step"'))
          .pop()!,
      ).loss,
    );
    expect(await rdc('train', ...TINY_UNET, '--run', join(dir, 'noisy-unet'), '--steps', '1', '--noise-sd', '0.25')).toBe(2);
    // The CNN judges the diffusion model's class-conditional samples.
    const samples = join(dir, 'judged');
    expect(await rdc('sample', '--model', model, '--out', samples, '--per-class', '2', '--steps', '2', '--val-images', '0', '--judge', cmodel)).toBe(0);
    const judged = JSON.parse(readFileSync(join(samples, 'judged.json'), 'utf8'));
    expect(judged.samples).toBe(20);
    expect(judged.perClass).toHaveLength(10);
    expect(judged.perClass.every((c: { samples: number }) => c.samples === 2)).toBe(true);
    expect(judged.overall.rate).toBeCloseTo(judged.recognised / 20, 12);
    expect(await rdc('sample', '--model', model, '--out', samples, '--per-class', '1', '--steps', '2', '--val-images', '0', '--judge', join(dir, 'nope'))).toBe(
      2,
    );
  });

  it('refuses bad input with exit code 2 and a clear message', async () => {
    expect(await rdc('eval', '--model', join(dir, 'nope'))).toBe(2);
    expect(await rdc('train', '--run', join(dir, 'nope'), '--resume')).toBe(2);
    expect(await rdc('train', '--time-budget', 'soon')).toBe(2);
  });
});
