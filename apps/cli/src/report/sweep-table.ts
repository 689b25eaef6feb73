import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, type RobustFigure } from '@rdc/core';
import { differences, type Rate, type RuleSummary } from '@rdc/attacks';

/** One radius of a sweep: the worst case with its interval, clean accuracy and the null attack under one rule. */
export interface SweepPoint {
  eps: number;
  robust: number;
  low: number;
  high: number;
  clean: number;
  nullAttack: number;
}

/**
 * The sweep point of a summary's rule at radius `eps` (what `rdc attack` and `rdc merge` record).
 *
 * @example
 * sweepPoint(4 / 255, summary.rules.single);
 */
export function sweepPoint(eps: number, r: RuleSummary): SweepPoint {
  return { eps, robust: r.worstCase.rate, low: r.worstCase.ci95[0], high: r.worstCase.ci95[1], clean: r.clean.rate, nullAttack: r.nullAttack.rate };
}

/** What `rdc attack --sweep` writes into report.json that the table needs. */
interface SweepReport {
  images: number;
  recheck: number;
  rule: string;
  rules: Record<string, { clean: Pick<Rate, 'rate' | 'ci95'> }>;
  /** Runs made before sweeps recorded clean accuracy and the null attack lack them. */
  sweep: (Omit<SweepPoint, 'clean' | 'nullAttack'> & Partial<SweepPoint>)[];
  settings: {
    protocol: { name: string; attacks: string[]; iterations: number; levels: number };
    split?: string;
    threat: { norm: string };
    selection?: { begin: number; end: number };
    modelSha256?: string;
    defense?: string;
    method?: string;
  };
}

/** One named sweep run: `NAME=DIR` on the command line. */
export interface NamedSweep {
  name: string;
  report: SweepReport;
}

/**
 * Reads `NAME=DIR` (DIR holding the report.json of an `rdc attack --sweep` run).
 *
 * @example
 * readSweep('DC=runs/sweep-dc'); // { name: 'DC', report: {...} }
 */
/** The report.json of a run named NAME=DIR (an attack or a certification run's --out folder). */
export function readNamedReport<T>(arg: string): { name: string; dir: string; report: T } {
  const at = arg.indexOf('=');
  if (at <= 0) throw new InputError(`${arg}: expected NAME=DIR, e.g. DC=runs/sweep-dc`);
  const name = arg.slice(0, at);
  const dir = arg.slice(at + 1);
  const file = join(dir, 'report.json');
  if (!existsSync(file)) throw new InputError(`${file} does not exist: give the --out folder of an rdc attack or rdc certify run`);
  try {
    return { name, dir, report: JSON.parse(readFileSync(file, 'utf8')) as T };
  } catch (err) {
    throw new InputError(`${file}: not readable JSON (${(err as Error).message})`);
  }
}

export function readSweep(arg: string): NamedSweep {
  const { name, dir, report } = readNamedReport<SweepReport>(arg);
  if (!Array.isArray(report.sweep)) throw new InputError(`${dir}: this run has no ε sweep (run rdc attack with --sweep)`);
  return { name, report };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/**
 * A Markdown table of robust accuracy against ε over several sweep runs on the same images: ε = 0 is
 * clean accuracy; each radius gives the worst case [95 % CI] and the null attack under the run's
 * headline re-check rule. Refuses runs on different images, in different norms or under different protocols.
 *
 * @example
 * sweepTable([readSweep('CNN=runs/sweep-cnn'), readSweep('DC=runs/sweep-dc')]);
 */
export function sweepTable(runs: NamedSweep[]): string {
  if (runs.length === 0) throw new InputError('give at least one NAME=DIR');
  const first = runs[0].report;
  const key = (r: SweepReport) => ({
    norm: r.settings.threat.norm,
    images: r.images,
    split: r.settings.split,
    selection: r.settings.selection,
    protocol: r.settings.protocol,
    recheck: r.recheck,
    rule: r.rule,
  });
  for (const { name, report } of runs.slice(1)) {
    const diff = differences(key(first), key(report));
    if (diff.length)
      throw new InputError(
        `${name} was not run like ${runs[0].name} (the same images, norm, protocol and re-check rule): ${diff.join('; ')} (${runs[0].name} ≠ ${name})`,
      );
  }
  const radii = [...new Set(runs.flatMap(({ report }) => report.sweep.map((s) => s.eps)))].sort((a, b) => a - b);
  const clean = (r: SweepReport) => r.rules[r.rule].clean;
  const lines = [
    `| ε (${first.settings.threat.norm === 'linf' ? 'ℓ∞' : 'ℓ2'}) | ${runs.map(({ name }) => `${name}: worst case [95 % CI] · null attack`).join(' | ')} |`,
    `|---|${runs.map(() => '---|').join('')}`,
    `| 0 (clean) | ${runs.map(({ report }) => `${pct(clean(report).rate)} [${pct(clean(report).ci95[0])}, ${pct(clean(report).ci95[1])}]`).join(' | ')} |`,
  ];
  for (const e of radii)
    lines.push(
      `| ${first.settings.threat.norm === 'linf' ? `${(e * 255).toFixed(0)}/255` : e.toFixed(3)} | ${runs
        .map(({ report }) => {
          const s = report.sweep.find((x) => x.eps === e);
          return s ? `${pct(s.robust)} [${pct(s.low)}, ${pct(s.high)}] · ${s.nullAttack === undefined ? '–' : pct(s.nullAttack)}` : '–';
        })
        .join(' | ')} |`,
    );
  const p = first.settings.protocol;
  const sel = first.settings.selection;
  const where = sel ? ` (${sel.begin}–${sel.end - 1} of the CIFAR-10 ${first.settings.split === 'val' ? 'validation split' : 'test batch'})` : '';
  return `${lines.join('\n')}\n\n${first.images} images${where}, protocol ${p.name} (${p.attacks.join(', ')}, ${p.iterations} iterations, ${p.levels} σ levels), ${first.recheck} fresh re-checks, rule ${first.rule}.`;
}

/** A sweep's robust figures (ε > 0) as a card records them (config.json's `measured.robust`). */
export function sweepFigures(report: SweepReport): Omit<RobustFigure, 'section'>[] {
  const s = report.settings;
  return report.sweep.map((p) => ({
    defense: s.defense as RobustFigure['defense'],
    ...(s.method ? { method: s.method as RobustFigure['method'] } : {}),
    eps: p.eps,
    norm: s.threat.norm as RobustFigure['norm'],
    accuracy: p.robust,
    ci95: [p.low, p.high] as [number, number],
    nullAttack: p.nullAttack ?? 0,
    rule: report.rule,
    protocol: s.protocol.name,
    images: report.images,
  }));
}

/** The plot's rows: clean accuracy at ε = 0 and the worst case at every radius, per run (ℓ∞ radii in 1/255). */
export function sweepRows(runs: NamedSweep[]): { eps: number; acc: number; series: string }[] {
  return runs.flatMap(({ name, report }) => [
    { eps: 0, acc: 100 * report.rules[report.rule].clean.rate, series: name },
    ...report.sweep.map((s) => ({ eps: report.settings.threat.norm === 'linf' ? s.eps * 255 : s.eps, acc: 100 * s.robust, series: name })),
  ]);
}
