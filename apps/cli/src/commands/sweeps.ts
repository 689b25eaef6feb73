import { relative, resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { InputError, readModelFolder, updateModelCardSection } from '@rdc/core';
import { CERTIFIED_CHART, certifiedFigures, certifiedRows, certifiedTable, readCertification } from '../report/certify-report.js';
import { readNamedReport, readSweep, sweepFigures, sweepRows, sweepTable } from '../report/sweep-table.js';
import { writeLineChart } from '../util/plot.js';
import { shellWord } from '../util/provenance.js';

/**
 * `rdc sweeps`: one table and one plot over several runs on the same images: robust accuracy against
 * ε of `rdc attack --sweep` runs, or certified accuracy against ℓ2 radius of `rdc certify` runs.
 */
export function sweepsCommand() {
  return new Command('sweeps')
    .description(
      'one Markdown table and one plot from several runs on the same images (e.g. the baseline CNN, the DC and the RDC): robust accuracy against ε of rdc attack --sweep runs, or certified accuracy against ℓ2 radius of rdc certify runs',
    )
    .argument('<runs...>', 'NAME=DIR, DIR the --out folder of an rdc attack --sweep run or of an rdc certify run')
    .option('--svg <file>', 'write the plot (worst case against ε, clean at ε = 0; or certified accuracy against radius) as SVG')
    .option('--card <model>', "write the table (and the plot, when it lies inside the model folder) into that model's MODEL_CARD.md")
    .addHelpText(
      'after',
      '\nExamples:\n  rdc sweeps --svg models/default/samples/robust-vs-eps.svg --card models/default CNN=runs/sweep-cnn DC=runs/sweep-dc RDC=runs/sweep-rdc\n  rdc sweeps --svg models/default/samples/certified.svg --card models/default CNN=runs/certify-cnn APNDC=runs/certify-apndc',
    )
    .action(async (args, o) => {
      const command = ['rdc sweeps', ...args.map(shellWord)].join(' ');
      const print = (table: string) =>
        process.stdout.write(`${table}\n${o.svg ? `\nplot: ${o.svg}\n` : ''}${o.card ? `card: ${resolve(o.card, 'MODEL_CARD.md')}\n` : ''}`);
      if (readNamedReport<{ kind?: string }>(args[0]).report.kind === 'certify') {
        const runs = args.map(readCertification);
        const table = certifiedTable(runs);
        if (o.svg)
          await writeLineChart(
            o.svg,
            runs.flatMap((r) => certifiedRows(r.name, r.report)),
            CERTIFIED_CHART,
          );
        if (o.card)
          recordInCard(
            o.card,
            o.svg,
            'certified-vs-radius',
            `Certified accuracy against ℓ2 radius (\`${command}\`):\n\n${table}`,
            'certified accuracy against radius',
            (sha) => ({ certified: runs.filter((r) => r.report.settings.modelSha256 === sha).flatMap((r) => certifiedFigures(r.report.settings, r.report)) }),
          );
        print(table);
        return;
      }
      const runs = args.map(readSweep);
      const table = sweepTable(runs);
      if (o.svg)
        await writeLineChart(o.svg, sweepRows(runs), {
          x: 'eps',
          y: 'acc',
          series: 'series',
          title: 'Robust accuracy (worst case) against ε',
          xTitle: runs[0].report.settings.threat.norm === 'linf' ? 'ε (×1/255, ℓ∞)' : 'ε (ℓ2)',
          yTitle: 'accuracy (%)',
        });
      if (o.card)
        recordInCard(o.card, o.svg, 'robust-vs-eps', `Robust accuracy against ε (\`${command}\`):\n\n${table}`, 'robust accuracy against ε', (sha) => ({
          robust: runs.filter((r) => r.report.settings.modelSha256 === sha).flatMap((r) => sweepFigures(r.report)),
        }));
      print(table);
    });
}

/**
 * Writes a table (and the plot, when it lies inside the model folder) into a card section, with the
 * figures of the runs on that model (`figures` of its weights' sha256) as data.
 */
function recordInCard(
  card: string,
  svg: string | undefined,
  section: string,
  text: string,
  alt: string,
  figures: (sha256: string) => Parameters<typeof updateModelCardSection>[4],
): void {
  const plot = svg ? relative(resolve(card), resolve(svg)) : null;
  if (plot !== null && plot.startsWith('..')) throw new InputError(`--svg ${svg} is outside the model folder ${card}: the card can only link files inside it`);
  const sha = readModelFolder(card).config.files['model.safetensors'].sha256;
  updateModelCardSection(card, section, `${text}${plot ? `\n\n![${alt}](${plot})` : ''}`, {}, figures(sha));
}
