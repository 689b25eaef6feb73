import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeModelFolder } from '@rdc/core';
import { tinyUNet } from '@rdc/core/testing';
import { CIFAR10_CLASSES } from '@rdc/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { data, rdc, tmp } from './helpers.js';

const dir = tmp('rdc-attack-it-');
const unet = join(dir, 'unet');
const cnn = join(dir, 'cnn');

beforeAll(async () => {
  if (!data) return;
  const { config, weights } = tinyUNet({ size: 32, classes: 10, seed: 2, attention: false });
  writeModelFolder(unet, { network: config, weights, classes: CIFAR10_CLASSES, temperature: 0.5, dc: { levels: 3 }, card: '# tiny' });
  // A small CNN trained for a few seconds: better than chance, so that attacks have something to break.
  const run = join(dir, 'cnn-train');
  expect(await rdc('train', '--arch', 'cnn', '--widths', '8,16', '--steps', '120', '--batch', '32', '--lr', '3e-3', '--val-every', '1000', '--run', run)).toBe(
    0,
  );
  expect(await rdc('export', '--run', run, '--model', cnn, '--calibration-images', '64')).toBe(0);
});

const report = (out: string) => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

describe.skipIf(!data)('rdc attack', () => {
  it('attacks the undefended CNN: clean, per-attack and worst-case accuracy with CIs, and a report', async () => {
    const out = join(dir, 'cnn-run');
    expect(
      await rdc(
        'attack',
        '--model',
        cnn,
        '--defense',
        'none',
        '--attacks',
        'fgsm,pgd,apgd-ce,square',
        '--iterations',
        '5',
        '--queries',
        '30',
        '--limit',
        '12',
        '--eps',
        '16/255',
        '--out',
        out,
      ),
    ).toBe(0);
    const r = report(out);
    expect(r.images).toBe(12);
    expect(Object.keys(r.attacks)).toEqual(['fgsm', 'pgd', 'apgd-ce', 'square']);
    expect(r.worstCase.correct).toBeLessThanOrEqual(Math.min(...Object.values(r.attacks).map((a) => (a as { correct: number }).correct)));
    // The attacks work: robust accuracy is below clean accuracy. The null attack (the clean image
    // itself, re-checked like the adversarials) would fail this: on a deterministic CNN it is clean accuracy.
    expect(r.clean.correct).toBeGreaterThan(0);
    expect(r.worstCase.correct).toBeLessThan(r.clean.correct);
    expect(r.nullAttack).toEqual(r.clean);
    expect(r.nullAttack.correct).not.toBeLessThan(r.clean.correct);
    expect(r.rules.majority.worstCase.correct).toBe(r.worstCase.correct);
    expect(r.settings.threat).toEqual({ norm: 'linf', eps: 16 / 255 });
    expect(r.commit).toBeTruthy();
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/\| \*\*worst case\*\*/);
    expect(md).toMatch(/\| null attack/);
    expect(existsSync(join(out, 'examples.png'))).toBe(true);
    expect(readFileSync(join(out, 'images.jsonl'), 'utf8').trim().split('\n').length).toBe(12);
  });

  it('resumes an interrupted run and gives the same report', async () => {
    const out = join(dir, 'dc-run');
    const args = ['attack', '--model', unet, '--defense', 'dc', '--protocol', 'quick', '--iterations', '2', '--levels', '2', '--limit', '3', '--out', out];
    expect(await rdc(...args)).toBe(0);
    const first = report(out);
    // Cut the log back to one image, as an interruption would.
    const log = join(out, 'images.jsonl');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(log, `${readFileSync(log, 'utf8').split('\n')[0]}\n`);
    expect(await rdc(...args)).toBe(0);
    const second = report(out);
    for (const k of ['clean', 'attacks', 'worstCase']) expect(second[k]).toEqual(first[k]);
    // Other settings on the same folder are refused.
    expect(await rdc('attack', '--model', unet, '--defense', 'dc', '--iterations', '3', '--levels', '2', '--limit', '3', '--out', out)).toBe(2);
  });

  it('RDC with BPDA and with full gradients, an ε sweep and the sanity checks in the report', async () => {
    const out = join(dir, 'rdc-run');
    expect(
      await rdc(
        'attack',
        '--model',
        unet,
        '--defense',
        'rdc',
        '--method',
        'paper',
        '--gradient',
        'full',
        '--attacks',
        'apgd-dlr',
        '--iterations',
        '2',
        '--levels',
        '2',
        '--limit',
        '2',
        '--sweep',
        '4/255',
        '--sanity',
        '--sanity-images',
        '2',
        '--queries',
        '10',
        '--out',
        out,
      ),
    ).toBe(0);
    const r = report(out);
    expect(r.settings.gradient).toBe('full');
    expect(r.sweep.map((s: { eps: number }) => s.eps)).toEqual([4 / 255, 8 / 255]);
    expect(r.sanity.map((c: { name: string }) => c.name)).toEqual([
      'large ε drives robust accuracy to ~0',
      'robust accuracy does not rise with ε',
      'robust accuracy does not rise with more iterations',
      'Square does not beat the gradient attacks by a wide margin',
      'the exact gradient matches finite differences',
    ]);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/## Sanity checks/);
    expect(md).toMatch(/robust-vs-eps.svg/);
    expect(
      await rdc(
        'attack',
        '--model',
        unet,
        '--defense',
        'rdc',
        '--attacks',
        'apgd-dlr',
        '--norm',
        'l2',
        '--iterations',
        '1',
        '--levels',
        '2',
        '--limit',
        '1',
        '--sweep',
        '0.25',
        '--out',
        join(dir, 'l2'),
      ),
    ).toBe(0);
    expect(report(join(dir, 'l2')).settings.threat).toEqual({ norm: 'l2', eps: 0.5 });

    // rdc sweeps: the table and plot over runs, written into a model card; runs without a sweep, on
    // other images or in another norm are refused, and so is a plot the card cannot link.
    const svg = join(unet, 'samples', 'robust-vs-eps.svg');
    expect(await rdc('sweeps', '--svg', svg, '--card', unet, `RDC=${out}`, `again=${out}`)).toBe(0);
    const card = readFileSync(join(unet, 'MODEL_CARD.md'), 'utf8');
    const clean = (100 * r.rules[r.rule].clean.rate).toFixed(1);
    expect(card).toContain(`| 0 (clean) | ${clean} %`);
    for (const s of r.sweep) expect(card).toContain(`| ${Math.round(s.eps * 255)}/255 | ${(100 * s.robust).toFixed(1)} %`);
    expect(card).toContain('![robust accuracy against ε](samples/robust-vs-eps.svg)');
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg/);
    expect(await rdc('sweeps', `CNN=${join(dir, 'cnn-run')}`)).toBe(2);
    expect(await rdc('sweeps', `RDC=${out}`, `L2=${join(dir, 'l2')}`)).toBe(2);
    expect(await rdc('sweeps', '--svg', join(dir, 'elsewhere.svg'), '--card', unet, `RDC=${out}`)).toBe(2);
  });

  it('refuses bad options', async () => {
    expect(await rdc('attack', '--model', unet, '--attacks', 'magic')).toBe(2);
    expect(await rdc('attack', '--model', cnn, '--defense', 'dc')).toBe(2);
    expect(await rdc('attack', '--model', unet, '--eps', 'big')).toBe(2);
  });
});
