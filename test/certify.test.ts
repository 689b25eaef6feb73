import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildClassifierGraph, CnnConfig, initWeights, writeModelFolder } from '@rdc/core';
import { tinyUNet } from '@rdc/core/testing';
import { CIFAR10_CLASSES } from '@rdc/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { data, rdc, rdcCapture, tmp } from './helpers.js';

/** rdc certify through the CLI on tiny networks: the report, shards merged into one run, a killed run resumed. */
const dir = tmp('rdc-certify-it-');
const unet = join(dir, 'unet');
const cnn = join(dir, 'cnn');

beforeAll(() => {
  if (!data) return;
  const { config, weights } = tinyUNet({ size: 32, classes: 10, seed: 3, attention: false });
  writeModelFolder(unet, { network: config, weights, classes: CIFAR10_CLASSES, dc: { levels: 3 }, card: '# tiny' });
  const net = CnnConfig.parse({ arch: 'cnn', widths: [4, 8], numClasses: 10 });
  writeModelFolder(cnn, { network: net, weights: initWeights(buildClassifierGraph(net), 2), classes: CIFAR10_CLASSES, card: '# tiny cnn' });
});

type Rec = { index: number; label: number; prediction: number; nA: number; n: number; pALower: number; radius: number; correct: boolean; seconds: number };
const records = (folder: string): Rec[] =>
  readFileSync(join(folder, 'images.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Rec)
    .sort((a, b) => a.index - b.index);
const noTime = (r: Rec) => ({ ...r, seconds: 0 });

describe.skipIf(!data)('rdc certify', () => {
  const ARGS = ['--base', 'apndc', '--levels', '2', '--n0', '4', '--n', '12', '--sigma', '0.25', '--alpha', '0.01', '--limit', '5', '--threads', '1'];

  it('writes per-image certificates and certified accuracy at radii 0–1 with intervals, a plot and report.json', async () => {
    const out = join(dir, 'whole');
    const r = await rdcCapture('certify', '--model', unet, ...ARGS, '--out', out, '--json', join(dir, 'whole.json'));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.kind).toBe('certify');
    expect(report.certified.map((p: { radius: number }) => p.radius)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    for (const p of report.certified) expect(p.ci95[0]).toBeLessThanOrEqual(p.accuracy);
    expect(report.records).toHaveLength(5);
    for (const rec of report.records as Rec[]) {
      expect(rec.n).toBe(12);
      expect(rec.nA).toBeLessThanOrEqual(12);
      if (rec.prediction === -1) expect(rec.radius).toBe(0);
      else expect(rec.pALower).toBeGreaterThanOrEqual(0.5);
      expect(rec.correct).toBe(rec.prediction === rec.label);
    }
    // Certified accuracy never rises with the radius.
    const acc = report.certified.map((p: { accuracy: number }) => p.accuracy);
    for (let i = 1; i < acc.length; i++) expect(acc[i]).toBeLessThanOrEqual(acc[i - 1]);
    expect(readFileSync(join(out, 'certified-vs-radius.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/\| 0\.5 \| [\d.]+ %/);
    expect(JSON.parse(readFileSync(join(dir, 'whole.json'), 'utf8')).records).toHaveLength(5);
  });

  it('two shards merged are the one run; a killed run resumes where it stopped', async () => {
    const sharded = join(dir, 'sharded');
    for (const s of ['1/2', '2/2']) expect(await rdc('certify', '--model', unet, ...ARGS, '--out', sharded, '--shard', s)).toBe(0);
    expect(await rdc('merge', sharded, '--out', join(dir, 'merged'))).toBe(0);
    expect(records(join(dir, 'merged')).map(noTime)).toEqual(records(join(dir, 'whole')).map(noTime));
    const selection = (folder: string) => readFileSync(join(dir, folder, 'report.md'), 'utf8').match(/Selection: [^.]*\./)?.[0];
    expect(selection('merged')).toBe('Selection: the first 5 images of the CIFAR-10 test batch (5 images).');
    expect(selection('merged')).toBe(selection('whole'));
    // Kill after two images (and a torn third line), then resume.
    const killed = join(dir, 'killed');
    expect(await rdc('certify', '--model', unet, ...ARGS, '--out', killed)).toBe(0);
    const lines = readFileSync(join(killed, 'images.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(join(killed, 'images.jsonl'), `${lines.slice(0, 2).join('\n')}\n${lines[2].slice(0, 20)}`);
    expect(await rdc('certify', '--model', unet, ...ARGS, '--out', killed)).toBe(0);
    expect(records(killed).map(noTime)).toEqual(records(join(dir, 'whole')).map(noTime));
    // The first two were not certified again: their times are the killed run's.
    expect(records(killed).slice(0, 2)).toEqual(lines.slice(0, 2).map((l) => JSON.parse(l)));
    // Other settings in the same folder are refused, naming the difference.
    const other = await rdcCapture('certify', '--model', unet, ...ARGS, '--n', '16', '--out', killed);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/n: 12 ≠ 16/);
  });

  it('the plain network of a CNN (--base none by default), the DC; bad settings refused', async () => {
    const out = join(dir, 'cnn-run');
    expect(await rdc('certify', '--model', cnn, '--n0', '4', '--n', '20', '--limit', '3', '--out', out)).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).settings.base).toBe('none');
    expect(await rdc('certify', '--model', unet, '--base', 'dc', '--levels', '2', '--n0', '2', '--n', '4', '--limit', '1', '--out', join(dir, 'dc'))).toBe(0);
    expect(await rdc('certify', '--model', cnn, '--base', 'dc', '--limit', '1')).toBe(2);
    expect(await rdc('certify', '--model', unet, '--base', 'none', '--limit', '1')).toBe(2);
    expect(await rdc('certify', '--model', unet, '--n0', '50', '--n', '10', '--limit', '1')).toBe(2);
    expect(await rdc('certify', '--model', unet, '--alpha', '0.7', '--limit', '1')).toBe(2);
    expect(existsSync(join(dir, 'dc', 'report.md'))).toBe(true);
  });

  it('rdc sweeps puts certification runs on the same images in one table and one plot', async () => {
    const a = join(dir, 'sweep-a');
    const b = join(dir, 'sweep-b');
    expect(await rdc('certify', '--model', cnn, '--n0', '4', '--n', '20', '--limit', '3', '--out', a)).toBe(0);
    expect(await rdc('certify', '--model', cnn, '--n0', '4', '--n', '40', '--limit', '3', '--out', b, '--sigma', '0.5')).toBe(0);
    const svg = join(dir, 'both.svg');
    const r = await rdcCapture('sweeps', '--svg', svg, `small=${a}`, `wide=${b}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| run \| r = 0 \| r = 0\.25 .*\| abstained \|/);
    expect(r.stdout).toMatch(/\| small \| [\d.]+ % \[/);
    expect(r.stdout).toMatch(/\| wide \| .*τ = 0\.5, N0 = 4, N = 40/);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*small[\s\S]*wide/);
    // Runs on different numbers of images, or of different kinds, are refused.
    expect(await rdc('certify', '--model', cnn, '--n0', '4', '--n', '20', '--limit', '2', '--out', join(dir, 'sweep-c'))).toBe(0);
    expect((await rdcCapture('sweeps', `small=${a}`, `two=${join(dir, 'sweep-c')}`)).code).toBe(2);
  });
});
