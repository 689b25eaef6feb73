import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRate, type Tensor } from '@rdc/core';
import type { RobustSummary, SanityCheck } from '@rdc/attacks';
import { writeImageGrid } from '../util/image.js';
import { lineChartSvg } from '../util/plot.js';

/**
 * The attack report: report.md (tables with 95 % confidence intervals, settings, sanity checks),
 * robust-vs-eps.svg (with --sweep) and examples.png (clean and adversarial images).
 */
export interface ReportInput {
  title: string;
  summary: RobustSummary;
  settings: Record<string, unknown>;
  threatLabel: string;
  protocolNote: string;
  sweep?: { eps: number; robust: number; low: number; high: number }[];
  sanity?: SanityCheck[];
  imageDims: readonly [number, number, number];
  commandLine: string;
}

const r = (x: { rate: number; ci95: [number, number] }) => formatRate({ rate: x.rate, low: x.ci95[0], high: x.ci95[1] });

export async function writeAttackReport(dir: string, o: ReportInput): Promise<void> {
  const s = o.summary;
  const lines = [
    `# ${o.title}`,
    '',
    `${o.protocolNote}`,
    '',
    `Threat model: ${o.threatLabel}. Images: the first ${s.images} of the CIFAR-10 test batch. Command: \`${o.commandLine}\`.`,
    '',
    '| | accuracy (95 % CI) | mean ℓ∞ | mean ℓ2 |',
    '|---|---|---|---|',
    `| clean | ${r(s.clean)} | | |`,
    ...Object.entries(s.attacks).map(([name, a]) => `| ${name} | ${r(a)} | ${a.meanLinf.toFixed(4)} | ${a.meanL2.toFixed(3)} |`),
    `| **worst case** (robust only if every attack failed) | **${r(s.worstCase)}** | | |`,
    '',
    `Seconds per image (all attacks): ${s.secondsPerImage.toPrecision(2)}.`,
  ];
  if (o.sweep?.length) {
    const svg = await lineChartSvg(
      o.sweep.flatMap((p) => [
        { eps: p.eps * 255, acc: 100 * p.robust, series: 'worst case' },
        { eps: p.eps * 255, acc: 100 * p.low, series: '95 % CI low' },
        { eps: p.eps * 255, acc: 100 * p.high, series: '95 % CI high' },
      ]),
      { x: 'eps', y: 'acc', series: 'series', title: 'Robust accuracy against ε', xTitle: 'ε (×1/255)', yTitle: 'robust accuracy (%)' },
    );
    writeFileSync(join(dir, 'robust-vs-eps.svg'), svg);
    lines.push(
      '',
      '## Robust accuracy against ε',
      '',
      '| ε | worst case (95 % CI) |',
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
