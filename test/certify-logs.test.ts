import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { certifiedRadius, clopperPearsonLower, loadCifar10 } from '@rdc/core';
import { describe, expect, it } from 'vitest';
import { data } from './helpers.js';

/**
 * The committed per-image certification logs (docs/certify-runs) against the rules that made them and
 * the figures published from them: every line is re-derived from its counts (Clopper–Pearson bound at
 * α = 0.001, radius τ·Φ⁻¹(p̲), abstention under 1/2, right answer against the test label), no image
 * is logged twice, and each finished log gives exactly the certified accuracy its model's
 * config.json records.
 */
const ROOT = resolve(import.meta.dirname, '..');
const LOGS = join(ROOT, 'docs/certify-runs');
const TAU = 0.25;
const ALPHA = 0.001;
const RADII = [0, 0.25, 0.5, 0.75, 1];

type Rec = { index: number; label: number; prediction: number; nA: number; n: number; pALower: number; radius: number; correct: boolean; seconds: number };
const read = (file: string): Rec[] =>
  readFileSync(join(LOGS, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Rec);

/** Which model and card section each finished log stands behind. */
const PUBLISHED: Record<string, { model: string; section: string }> = {
  'cnn.jsonl': { model: 'cnn', section: 'certify-none' },
  'cnn-noise.jsonl': { model: 'cnn-noise', section: 'certify-none' },
  'dc.jsonl': { model: 'default', section: 'certify-dc' },
  'apndc.jsonl': { model: 'default', section: 'certify-apndc' },
  'epndc.jsonl': { model: 'default', section: 'certify-epndc' },
};

const logs = readdirSync(LOGS).filter((f) => f.endsWith('.jsonl'));

describe('the committed certification logs', () => {
  it('are all found, and the published ones are complete', () => {
    expect(logs).toEqual(expect.arrayContaining(Object.keys(PUBLISHED)));
    for (const f of Object.keys(PUBLISHED)) expect(read(f).length, f).toBe(100);
  });

  it.each(logs)('%s: each image once, the first images of the test set in order, every line re-derived from its counts', (file) => {
    const recs = read(file);
    expect(recs.map((r) => r.index)).toEqual(recs.map((_, i) => i));
    const labels = data ? loadCifar10(data, 'test', { limit: recs.length }).labels : null;
    for (const r of recs) {
      const where = `${file} image ${r.index}`;
      if (labels) expect(r.label, where).toBe(labels[r.index]);
      expect(r.n, where).toBe(1000);
      expect(r.pALower, where).toBeCloseTo(clopperPearsonLower(r.nA, r.n, ALPHA), 9);
      const radius = certifiedRadius(r.pALower, TAU);
      expect(r.prediction < 0, where).toBe(radius === null);
      expect(r.radius, where).toBeCloseTo(radius ?? 0, 9);
      expect(r.correct, where).toBe(r.prediction === r.label);
      expect(r.seconds, where).toBeGreaterThan(0);
    }
  });

  it.each(Object.entries(PUBLISHED).map(([file, p]) => [file, p.model, p.section]))(
    '%s gives the certified accuracy and abstentions that models/%s records (%s)',
    (file, model, section) => {
      const recs = read(file);
      const config = JSON.parse(readFileSync(join(ROOT, 'models', model, 'config.json'), 'utf8')) as {
        measured: { certified: { section: string; sigma: number; radius: number; accuracy: number; abstained: number; images: number }[] };
      };
      const recorded = config.measured.certified.filter((c) => c.section === section);
      expect(recorded.map((c) => c.radius)).toEqual(RADII);
      for (const c of recorded) {
        const count = recs.filter((r) => r.correct && r.prediction >= 0 && r.radius >= c.radius).length;
        expect([c.sigma, c.images, c.accuracy, c.abstained], `radius ${c.radius}`).toEqual([
          TAU,
          recs.length,
          count / recs.length,
          recs.filter((r) => r.prediction < 0).length / recs.length,
        ]);
      }
    },
  );
});
