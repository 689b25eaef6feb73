/**
 * The certification report (rdc certify and rdc merge of its shards): per image the certified class
 * or an abstention with its radius; certified accuracy at radii 0, 0.25, 0.5, 0.75 and 1.0 (correct
 * and certified at least that far; abstentions count as wrong) with 95 % Wilson intervals; the
 * abstention rate; seconds per image; report.md, report.json and certified-vs-radius.svg.
 *
 * @example
 * await writeCertifyReport(out, { records, settings, imagesLabel, commandLine });
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRate, InputError, smoothingBaseLabel, wilson, type CertifiedFigure, type SmoothingBaseName } from '@rdc/core';
import { writeJson } from '../util/output.js';
import { readNamedReport } from './sweep-table.js';
import { writeLineChart } from '../util/plot.js';

const CERTIFY_RADII = [0, 0.25, 0.5, 0.75, 1.0] as const;

export interface CertifyRecord {
  index: number;
  label: number;
  /** The certified class, −1 when it abstains. */
  prediction: number;
  /** Counts of the N estimation draws (N0 not included). */
  nA: number;
  n: number;
  pALower: number;
  /** ℓ2 radius in pixel units (0 on abstention). */
  radius: number;
  correct: boolean;
  seconds: number;
}

interface CertifiedPoint {
  radius: number;
  accuracy: number;
  ci95: [number, number];
  correct: number;
}

export interface CertifySummary {
  images: number;
  certified: CertifiedPoint[];
  abstained: number;
  abstentionRate: number;
  secondsPerImage: number;
}

function certifySummary(records: readonly CertifyRecord[], radii: readonly number[] = CERTIFY_RADII): CertifySummary {
  const n = records.length;
  const certified = radii.map((radius) => {
    const correct = records.filter((r) => r.correct && r.prediction >= 0 && r.radius >= radius).length;
    const w = wilson(correct, n);
    return { radius, accuracy: w.rate, ci95: [w.low, w.high] as [number, number], correct };
  });
  const abstained = records.filter((r) => r.prediction < 0).length;
  return { images: n, certified, abstained, abstentionRate: n ? abstained / n : 0, secondsPerImage: n ? records.reduce((a, r) => a + r.seconds, 0) / n : 0 };
}

/** A certification's figures as a card records them (config.json's `measured.certified`). */
export function certifiedFigures(settings: { base: string; sigma: number }, s: CertifySummary): Omit<CertifiedFigure, 'section'>[] {
  return s.certified.map((p) => ({
    base: settings.base as SmoothingBaseName,
    sigma: settings.sigma,
    radius: p.radius,
    accuracy: p.accuracy,
    ci95: p.ci95,
    abstained: s.abstentionRate,
    images: s.images,
  }));
}

/** Rows of a certified-accuracy-against-radius chart (several runs, one line each). */
export function certifiedRows(name: string, s: CertifySummary): Record<string, unknown>[] {
  return s.certified.map((p) => ({ radius: p.radius, accuracy: 100 * p.accuracy, low: 100 * p.ci95[0], high: 100 * p.ci95[1], run: name }));
}

/** The chart of certified accuracy against ℓ2 radius (rows from `certifiedRows`). */
export const CERTIFIED_CHART = {
  x: 'radius',
  y: 'accuracy',
  series: 'run',
  band: { low: 'low', high: 'high' },
  yDomain: [0, 100] as [number, number],
  title: 'Certified accuracy against ℓ2 radius (95 % interval shaded)',
  xTitle: 'ℓ2 radius (pixel units)',
  yTitle: 'certified accuracy (%)',
};

/** The settings of a certification run, in words. */
export function certifyLabel(s: { base: string; sigma: number; n0: number; n: number; alpha: number; levels?: number | null }): string {
  const base = smoothingBaseLabel[s.base as SmoothingBaseName] ?? s.base;
  return `${base}, τ = ${s.sigma}, N0 = ${s.n0}, N = ${s.n}, α = ${s.alpha}${s.levels ? `, ${s.levels} σ levels` : ''}`;
}

export async function writeCertifyReport(
  dir: string,
  o: {
    records: readonly CertifyRecord[];
    settings: { base: string; sigma: number; n0: number; n: number; alpha: number; levels?: number | null; split?: 'test' | 'val' } & Record<string, unknown>;
    imagesLabel: string;
    commandLine: string;
    notes?: string[];
    extra?: Record<string, unknown>;
  },
): Promise<{ summary: CertifySummary; report: Record<string, unknown> }> {
  const summary = certifySummary(o.records);
  const label = certifyLabel(o.settings);
  const rate = (p: CertifiedPoint) => formatRate({ rate: p.accuracy, low: p.ci95[0], high: p.ci95[1] });
  const lines = [
    `# Certified robustness: ${label}`,
    '',
    ...(o.notes?.length ? [...o.notes, ''] : []),
    `Randomized smoothing (Cohen et al. 2019): the smoothed classifier's answer at each image and the ℓ2 radius within which no perturbation changes it, except with probability α = ${o.settings.alpha} over the draws. It certifies the smoothed classifier, not the base classifier itself. Selection: ${o.imagesLabel} (${summary.images} images). Command: \`${o.commandLine}\`.`,
    '',
    '| ℓ2 radius | certified accuracy (95 % CI) |',
    '|---|---|',
    ...summary.certified.map((p) => `| ${p.radius} | ${rate(p)} |`),
    '',
    `Abstained: ${summary.abstained} of ${summary.images} (${(100 * summary.abstentionRate).toFixed(1)} %), counted as wrong at every radius. Seconds per image: ${summary.secondsPerImage.toPrecision(3)}.`,
    '',
    '![certified accuracy against radius](certified-vs-radius.svg)',
    '',
  ];
  writeFileSync(join(dir, 'report.md'), `${lines.join('\n')}\n`);
  await writeLineChart(join(dir, 'certified-vs-radius.svg'), certifiedRows(label, summary), CERTIFIED_CHART);
  const report = { kind: 'certify', ...summary, settings: o.settings, records: o.records, ...o.extra };
  writeJson(join(dir, 'report.json'), report);
  return { summary, report };
}

/** A certification run named NAME=DIR (its --out folder). */
export interface NamedCertification {
  name: string;
  report: CertifySummary & { kind: string; settings: Parameters<typeof certifyLabel>[0] & { modelSha256?: string } };
}

export function readCertification(arg: string): NamedCertification {
  const { name, dir, report } = readNamedReport<NamedCertification['report']>(arg);
  if (report.kind !== 'certify') throw new InputError(`${dir}: not an rdc certify run (give every run of one kind: certify runs or attack --sweep runs)`);
  return { name, report };
}

/**
 * A Markdown table of certified accuracy against ℓ2 radius over several certification runs (each
 * radius's accuracy [95 % CI]; the abstentions, seconds per image and settings of each). Refuses runs
 * on different numbers of images.
 *
 * @example
 * certifiedTable([readCertification('CNN=runs/certify-cnn'), readCertification('APNDC=runs/certify-apndc')]);
 */
export function certifiedTable(runs: readonly NamedCertification[]): string {
  const images = new Set(runs.map((r) => r.report.images));
  if (images.size > 1) throw new InputError(`the runs certify different numbers of images (${[...images].join(', ')}): compare runs on the same images`);
  const radii = runs[0].report.certified.map((p) => p.radius);
  const head = `| run | ${radii.map((r) => `r = ${r}`).join(' | ')} | abstained | s/image | settings |`;
  const rule = `|---|${radii.map(() => '---').join('|')}|---|---|---|`;
  const rows = runs.map(
    (r) =>
      `| ${r.name} | ${r.report.certified.map((p) => formatRate({ rate: p.accuracy, low: p.ci95[0], high: p.ci95[1] })).join(' | ')} | ${r.report.abstained} of ${r.report.images} | ${r.report.secondsPerImage.toPrecision(3)} | ${certifyLabel(r.report.settings)} |`,
  );
  return [head, rule, ...rows].join('\n');
}
