import { Float16Array } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { OrtEngine } from '../engines/ort.js';
import { tinyUNet } from '../testing.js';
import { buildDenoiserGraph } from './denoiser-graph.js';
import { decodeOnnx, graphToOnnx } from './onnx/writer.js';

describe('the ONNX writer, fp16', () => {
  it('computes in half precision between float32 edges; Resize scales stay float32; weights rounded to the nearest half', () => {
    const { config, weights } = tinyUNet({ seed: 1 });
    const graph = buildDenoiserGraph({ ...config, resample: 'pool' });
    const m = decodeOnnx(graphToOnnx(graph, { weights: { mode: 'inline', values: weights }, precision: 'fp16' }));
    const g = m.graph!;
    expect(g.input!.map((i) => i.type!.tensorType!.elemType)).toEqual(g.input!.map(() => 1));
    expect(g.output!.map((o) => o.type!.tensorType!.elemType)).toEqual([1]);
    const resizeScales = new Set(g.node!.filter((n) => n.opType === 'Resize').map((n) => n.input![2]));
    for (const t of g.initializer!) {
      if (t.dataType === 7) continue; // int64 shapes and axes
      expect(t.dataType, t.name!).toBe(resizeScales.has(t.name!) ? 1 : 10);
    }
    const w = Object.keys(weights)[0];
    const t = g.initializer!.find((x) => x.name === w)!;
    const half = new Float16Array(new Uint8Array(t.rawData!).buffer);
    expect(Array.from(half)).toEqual(Array.from(new Float16Array(weights[w].data)));
    expect(g.node![0].opType).toBe('Cast');
    expect(g.node![g.node!.length - 1].opType).toBe('Cast');
    expect(() => graphToOnnx(graph, { weights: { mode: 'external', location: 'x', offsets: {} }, precision: 'fp16' })).toThrow(
      /inline weights or weights as inputs/,
    );
  });

  it('is refused on the CPU provider (where it is not offered)', async () => {
    await expect(OrtEngine.create({ threads: 1, precision: 'fp16' })).rejects.toThrow(/GPU providers/);
  });
});
