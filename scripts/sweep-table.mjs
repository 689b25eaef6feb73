// One table and one plot of robust accuracy against ε from several `rdc attack --sweep` runs
// (their report.json), e.g. the baseline CNN, the DC and the RDC on the same images:
//   node scripts/sweep-table.mjs --svg docs/robust-vs-eps.svg CNN=runs/sweep-cnn DC=runs/sweep-dc RDC=runs/sweep-rdc
// Prints a Markdown table: ε = 0 is clean accuracy; every radius gives the worst case (95 % CI) and
// the null attack under the run's headline re-check rule.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const svgAt = args.indexOf('--svg');
const svg = svgAt >= 0 ? args.splice(svgAt, 2)[1] : null;
const runs = args.map((a) => {
  const [name, dir] = a.split('=');
  const r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  if (!r.sweep) throw new Error(`${dir}: no --sweep in this run`);
  return { name, r };
});
const pct = (x) => `${(100 * x).toFixed(1)} %`;
const radii = [...new Set(runs.flatMap(({ r }) => r.sweep.map((s) => s.eps)))].sort((a, b) => a - b);
const head = `| ε (ℓ∞) | ${runs.map(({ name }) => `${name}: worst case [95 % CI] · null attack`).join(' | ')} |`;
const lines = [head, `|---|${runs.map(() => '---|').join('')}`];
lines.push(
  `| 0 (clean) | ${runs.map(({ r }) => `${pct(r.rules[r.rule].clean.rate)} [${pct(r.rules[r.rule].clean.ci95[0])}, ${pct(r.rules[r.rule].clean.ci95[1])}]`).join(' | ')} |`,
);
for (const e of radii) {
  lines.push(
    `| ${(e * 255).toFixed(0)}/255 | ${runs
      .map(({ r }) => {
        const s = r.sweep.find((x) => x.eps === e);
        return s ? `${pct(s.robust)} [${pct(s.low)}, ${pct(s.high)}] · ${s.nullAttack === undefined ? '–' : pct(s.nullAttack)}` : '–';
      })
      .join(' | ')} |`,
  );
}
const r0 = runs[0].r;
console.log(lines.join('\n'));
console.log(
  `\n${r0.images} images, protocol ${r0.settings.protocol.name} (${r0.settings.protocol.attacks.join(', ')}, ${r0.settings.protocol.iterations} iterations, ${r0.settings.protocol.levels} σ levels), ${r0.recheck} fresh re-checks, rule ${r0.rule}.`,
);
if (svg) {
  const { writeLineChart } = await import('../apps/cli/dist/util/plot.js');
  const rows = runs.flatMap(({ name, r }) => [
    { eps: 0, acc: 100 * r.rules[r.rule].clean.rate, series: name },
    ...r.sweep.map((s) => ({ eps: s.eps * 255, acc: 100 * s.robust, series: name })),
  ]);
  await writeLineChart(svg, rows, {
    x: 'eps',
    y: 'acc',
    series: 'series',
    title: 'Robust accuracy (worst case) against ε',
    xTitle: 'ε (×1/255, ℓ∞)',
    yTitle: 'accuracy (%)',
  });
  console.log(`\nplot: ${svg}`);
}
