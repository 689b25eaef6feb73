/**
 * The attack report: report.md (tables with 95 % confidence intervals, settings, sanity checks),
 * robust-vs-eps.svg (with --sweep) and examples.png (clean and adversarial images).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRate, type Tensor } from '@rdc/core';
import { protocolPreset, RECHECK_RULES, type Protocol, type RecheckRule, type RobustSummary, type SanityCheck } from '@rdc/attacks';
import { writeImageGrid } from '../util/image.js';
import { lineChartSvg } from '../util/plot.js';

export interface ReportInput {
  title: string;
  /** Which images, in words (e.g. 'the first 16 images of the CIFAR-10 test batch'). */
  imagesLabel: string;
  /** Lines under the title (e.g. a partial merge's missing images). */
  notes?: string[];
  summary: RobustSummary;
  /** The rule of the headline figures (bold). */
  rule: RecheckRule;
  settings: Record<string, unknown>;
  threatLabel: string;
  protocolNote: string;
  sweep?: { eps: number; robust: number; low: number; high: number }[];
  sanity?: SanityCheck[];
  imageDims: readonly [number, number, number];
  commandLine: string;
}

/** What each preset is for, in words. */
const PROTOCOL_PURPOSE: Record<Protocol['name'], string> = {
  quick: "the reduced CPU setting; not the authors' protocol: its numbers are not comparable to the paper's",
  paper: "the authors' protocol (LM by BPDA, fresh noise on every call); its headline is the paper's rule",
  strong:
    'every attack with EOT; its headline counts an image only if it survives every fresh re-check, a stricter rule whose null-attack baseline is lower too',
  rand: "AutoAttack's version='rand' for randomized defenses, the community's protocol",
  standard:
    "AutoAttack's version='standard' for deterministic classifiers, run as a cascade: each attack only on the images the earlier ones left correct, so each attack's row is the robust accuracy after it and every earlier one",
};

/** The protocol as it ran, with what was overridden from its preset. */
export function protocolNote(p: {
  name: string;
  attacks: readonly string[];
  iterations: number;
  restarts: number;
  eot: number;
  levels: number;
  recheck: number;
  rule: string;
}): string {
  const preset = protocolPreset(p.name as Protocol['name']);
  const v = (name: 'iterations' | 'restarts' | 'eot' | 'levels', text: string) =>
    `${text}${p[name] !== preset[name] ? ` (the preset has ${preset[name]})` : ''}`;
  const attacks = p.attacks.join(', ');
  const parts = [
    `${attacks}${attacks !== preset.attacks.join(', ') ? ` (the preset has ${preset.attacks.join(', ')})` : ''}`,
    v('iterations', `${p.iterations} iterations`),
    v('restarts', `${p.restarts} restart${p.restarts === 1 ? '' : 's'}`),
    v('eot', `EOT ${p.eot}`),
    v('levels', `${p.levels} σ levels`),
  ];
  return `Protocol **${p.name}** (${PROTOCOL_PURPOSE[p.name as Protocol['name']] ?? 'custom'}): ${parts.join(', ')}; headline rule: ${ruleLabel(p.rule as RecheckRule, p.recheck)}.`;
}

/** The words of a report, from a run's settings (shared by rdc attack and rdc merge). */
export function attackLabels(s: {
  defense: string;
  method?: string;
  gradient: string;
  protocol: Parameters<typeof protocolNote>[0];
  threat: { norm: string; eps: number };
}): {
  title: string;
  defenseLabel: string;
  threatLabel: string;
  protocolNote: string;
} {
  const defenseLabel =
    s.defense === 'none'
      ? 'undefended network'
      : s.defense === 'dc'
        ? 'diffusion classifier (DC)'
        : `RDC (${s.method} LM, gradient ${s.gradient === 'bpda' ? 'by BPDA through LM' : 'through the LM steps'})`;
  const { norm, eps } = s.threat;
  return {
    title: `Robust accuracy: ${defenseLabel}`,
    defenseLabel,
    threatLabel: `${norm === 'linf' ? 'ℓ∞' : 'ℓ2'}, ε = ${norm === 'linf' ? `${(eps * 255).toFixed(2)}/255` : eps}`,
    protocolNote: protocolNote(s.protocol),
  };
}

const r = (x: { rate: number; ci95: [number, number] }) => formatRate({ rate: x.rate, low: x.ci95[0], high: x.ci95[1] });

/** What each re-check rule means, for k fresh draws. */
export function ruleLabel(rule: RecheckRule, k: number): string {
  const labels: Record<RecheckRule, string> = {
    single: 'first re-check (paper)',
    majority: `majority of ${k}`,
    all: `all of ${k}`,
    mean: `mean of ${k}`,
  };
  return labels[rule];
}

function rowOf(s: RobustSummary) {
  return (name: string, pick: (x: RobustSummary['rules'][RecheckRule]) => { rate: number; ci95: [number, number] }, bold: RecheckRule): string =>
    `| ${name} | ${RECHECK_RULES.map((rule) => (rule === bold ? `**${r(pick(s.rules[rule]))}**` : r(pick(s.rules[rule])))).join(' | ')} |`;
}

export async function writeAttackReport(dir: string, o: ReportInput): Promise<void> {
  const s = o.summary;
  const row = rowOf(s);
  const lines = [
    `# ${o.title}`,
    '',
    ...(o.notes?.length ? [...o.notes, ''] : []),
    `${o.protocolNote}`,
    '',
    `Threat model: ${o.threatLabel}. Selection: ${o.imagesLabel} (${s.images} in this report). Command: \`${o.commandLine}\`.`,
    '',
    `Every clean and adversarial image is classified ${s.recheck} more times with fresh noise; each column counts an image as correct under one rule. **Bold**: the headline rule of this protocol. The **null attack** returns the clean image itself and re-checks it under the same rule with the same number of fresh draws as the worst case (${s.recheck} per attack, ${s.nullDraws} in all): on a randomized classifier robust accuracy can only be read against it, since part of the drop from clean accuracy is noise, not the attacks.`,
    '',
    `| | ${RECHECK_RULES.map((rule) => (rule === o.rule ? `**${ruleLabel(rule, s.recheck)}**` : ruleLabel(rule, s.recheck))).join(' | ')} | mean ℓ∞ | mean ℓ2 |`,
    `|---|${RECHECK_RULES.map(() => '---|').join('')}---|---|`,
    row('clean', (x) => x.clean, o.rule),
    ...Object.entries(s.attacks).map(([name, a]) => `${row(name, (x) => x.attacks[name], o.rule)} ${a.meanLinf.toFixed(4)} | ${a.meanL2.toFixed(3)} |`),
    `${row('**worst case** (robust only if every attack failed)', (x) => x.worstCase, o.rule)} | |`,
    `${row('null attack (the clean image, same re-checks)', (x) => x.nullAttack, o.rule)} | |`,
    '',
    `Seconds per image (all attacks): ${s.secondsPerImage.toPrecision(2)}.`,
  ];
  if (o.sweep?.length) {
    // ε = 0 is clean accuracy under the same rule; the 95 % interval is a band around the worst case.
    const c = s.rules[o.rule].clean;
    const points = [{ eps: 0, robust: c.rate, low: c.ci95[0], high: c.ci95[1] }, ...o.sweep.filter((p) => p.eps > 0)];
    const svg = await lineChartSvg(
      points.map((p) => ({ eps: p.eps * 255, acc: 100 * p.robust, low: 100 * p.low, high: 100 * p.high, series: 'worst case (ε = 0: clean)' })),
      {
        x: 'eps',
        y: 'acc',
        series: 'series',
        band: { low: 'low', high: 'high' },
        yDomain: [0, 100],
        title: 'Robust accuracy against ε (95 % interval shaded)',
        xTitle: 'ε (×1/255)',
        yTitle: 'robust accuracy (%)',
      },
    );
    writeFileSync(join(dir, 'robust-vs-eps.svg'), svg);
    lines.push(
      '',
      '## Robust accuracy against ε',
      '',
      `| ε | worst case, ${ruleLabel(o.rule, s.recheck)} (95 % CI) |`,
      '|---|---|',
      ...o.sweep.map((p) => `| ${(p.eps * 255).toFixed(2)}/255 | ${formatRate({ rate: p.robust, low: p.low, high: p.high })} |`),
      '',
      '![robust accuracy against ε](robust-vs-eps.svg)',
    );
  }
  if (o.sanity?.length) {
    lines.push('', '## Sanity checks', '', ...o.sanity.map((c) => `- ${c.passed ? '✓' : '⚠'} ${c.name}: ${c.detail}`));
    if (o.sanity.some((c) => !c.passed)) lines.push('', '**Warning:** at least one check failed; the robust accuracy above may be overestimated.');
  }
  if (s.adversarial.length) {
    const names = Object.keys(s.adversarial[0].adv);
    const [c, h, w] = o.imageDims;
    const d = c * h * w;
    const cols = 1 + names.length;
    const all = new Float32Array(s.adversarial.length * cols * d);
    s.adversarial.forEach((e, i) => {
      all.set(e.clean, i * cols * d);
      names.forEach((n, j) => e.adv[n] && all.set(e.adv[n], (i * cols + 1 + j) * d));
    });
    const grid: Tensor = { data: all, dims: [s.adversarial.length * cols, c, h, w] };
    await writeImageGrid(join(dir, 'examples.png'), grid, cols, 3);
    lines.push(
      '',
      '## Examples',
      '',
      `Each row: the clean image, then the adversarial image of ${names.join(', ')}.`,
      '',
      '![clean and adversarial images](examples.png)',
    );
  }
  lines.push('', '## Settings', '', '```json', JSON.stringify(o.settings, null, 2), '```', '');
  writeFileSync(join(dir, 'report.md'), lines.join('\n'));
}
