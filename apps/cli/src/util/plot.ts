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

export interface ChartOptions {
  x: string;
  y: string;
  series?: string;
  title?: string;
  logX?: boolean;
  logY?: boolean;
  xTitle?: string;
  yTitle?: string;
  /** The y axis's range (default: fitted to the data, not from zero). */
  yDomain?: [number, number];
  /** Fields of a confidence band drawn around each line (shaded, not a legend series). */
  band?: { low: string; high: string };
}

export async function lineChartSvg(rows: Record<string, unknown>[], o: ChartOptions): Promise<string> {
  const x = { field: o.x, type: 'quantitative' as const, title: o.xTitle ?? o.x, scale: o.logX ? { type: 'log' as const } : {} };
  const yScale = o.logY ? { type: 'log' as const } : o.yDomain ? { domain: o.yDomain } : { zero: false };
  const color = o.series ? { color: { field: o.series, type: 'nominal' as const } } : {};
  const line = {
    mark: { type: 'line' as const, point: true },
    encoding: { x, y: { field: o.y, type: 'quantitative' as const, title: o.yTitle ?? o.y, scale: yScale }, ...color },
  };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: o.title,
    width: 420,
    height: 260,
    data: { values: rows },
    layer: [
      ...(o.band
        ? [
            {
              mark: { type: 'area' as const, opacity: 0.18 },
              encoding: {
                x,
                y: { field: o.band.low, type: 'quantitative' as const, scale: yScale, title: o.yTitle ?? o.y },
                y2: { field: o.band.high },
                ...color,
              },
            },
          ]
        : []),
      line,
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export async function writeLineChart(path: string, rows: Record<string, unknown>[], o: ChartOptions): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await lineChartSvg(rows, o));
}
