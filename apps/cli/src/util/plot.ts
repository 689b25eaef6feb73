/**
 * A line chart rendered with Vega-Lite to SVG (no native canvas needed): one line per `series`.
 *
 * @example
 * await writeLineChart('loss.svg', rows, { x: 'sigma', y: 'loss', series: 'head', logX: true });
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function lineChartSvg(
  rows: Record<string, unknown>[],
  o: { x: string; y: string; series?: string; title?: string; logX?: boolean; logY?: boolean; xTitle?: string; yTitle?: string },
): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: o.title,
    width: 420,
    height: 260,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: o.x, type: 'quantitative', title: o.xTitle ?? o.x, scale: o.logX ? { type: 'log' } : {} },
      y: { field: o.y, type: 'quantitative', title: o.yTitle ?? o.y, scale: o.logY ? { type: 'log' } : { zero: false } },
      ...(o.series ? { color: { field: o.series, type: 'nominal' as const } } : {}),
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export async function writeLineChart(path: string, rows: Record<string, unknown>[], o: Parameters<typeof lineChartSvg>[1]): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await lineChartSvg(rows, o));
}
