import { relative, resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { InputError, updateModelCardSection } from '@rdc/core';
import { readSweep, sweepRows, sweepTable } from '../report/sweep-table.js';
import { writeLineChart } from '../util/plot.js';

/** `rdc sweeps`: one table and one plot of robust accuracy against ε over several `rdc attack --sweep` runs. */
export function sweepsCommand() {
  return new Command('sweeps')
    .description(
      'one Markdown table and one plot of robust accuracy against ε from several rdc attack --sweep runs on the same images (e.g. the baseline CNN, the DC and the RDC)',
    )
    .argument('<runs...>', 'NAME=DIR, DIR the --out folder of an rdc attack --sweep run')
    .option('--svg <file>', 'write the plot (worst case against ε, clean at ε = 0) as SVG')
    .option('--card <model>', "write the table (and the plot, when it lies inside the model folder) into that model's MODEL_CARD.md")
    .addHelpText(
      'after',
      '\nExample:\n  rdc sweeps --svg models/default/samples/robust-vs-eps.svg --card models/default CNN=runs/sweep-cnn DC=runs/sweep-dc RDC=runs/sweep-rdc',
    )
    .action(async (args, o) => {
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
      if (o.card) {
        const plot = o.svg ? relative(resolve(o.card), resolve(o.svg)) : null;
        if (plot !== null && plot.startsWith('..'))
          throw new InputError(`--svg ${o.svg} is outside the model folder ${o.card}: the card can only link files inside it`);
        updateModelCardSection(
          o.card,
          'robust-vs-eps',
          `Robust accuracy against ε (\`${['rdc sweeps', ...args].join(' ')}\`):\n\n${table}${plot ? `\n\n![robust accuracy against ε](${plot})` : ''}`,
        );
      }
      process.stdout.write(`${table}\n${o.svg ? `\nplot: ${o.svg}\n` : ''}${o.card ? `card: ${resolve(o.card, 'MODEL_CARD.md')}\n` : ''}`);
    });
}
