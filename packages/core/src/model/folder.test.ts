import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CnnConfig } from '../config/schema.js';
import { Denoiser } from '../engines/denoiser.js';
import { OrtEngine } from '../engines/ort.js';
import { TfjsEngine } from '../engines/tfjs.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import { initWeights } from '../nn/weights.js';
import { decodeOnnx, graphToOnnx } from '../nn/onnx/writer.js';
import { dcChunkGraph } from '../nn/objectives.js';
import { Random } from '../rng/random.js';
import { relativeError } from '../tensor.js';
import { tinyUNet } from '../testing.js';
import { configChecksum, relativePaths } from './checksum.js';
import { readModelFolder, writeModelFolder } from './folder.js';
import { resealModelFolder } from './reseal.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

let ort: OrtEngine;
let tfjs: TfjsEngine;
beforeAll(async () => {
  ort = await OrtEngine.create({ threads: 1 });
  tfjs = await TfjsEngine.create('wasm');
});

const tmp = () => mkdtempSync(join(tmpdir(), 'rdc-model-'));

describe('safetensors', () => {
  it('round-trips tensors and metadata with 8-byte aligned data', () => {
    const a = { data: Float32Array.of(1, 2, 3, 4, 5, 6), dims: [2, 3] };
    const b = { data: Float32Array.of(-1.5), dims: [1] };
    const bytes = encodeSafetensors({ a, b }, { note: 'x' });
    const back = decodeSafetensors(bytes);
    expect(Array.from(back.tensors.a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.a.dims).toEqual([2, 3]);
    expect(back.metadata).toEqual({ note: 'x' });
    for (const o of Object.values(back.offsets)) expect(o.offset % 8).toBe(0);
  });

  it('rejects truncated and foreign files clearly', () => {
    const bytes = encodeSafetensors({ a: { data: new Float32Array(4), dims: [4] } });
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 3))).toThrow(/do not match its shape|file size/);
    expect(() => decodeSafetensors(new Uint8Array(4))).toThrow(/too short/);
    expect(() => decodeSafetensors(Buffer.from('{"not":"safetensors"}........'))).toThrow(/header length/);
  });
});

describe('model folder', () => {
  it('stores the weights once; the ONNX graphs reference them, and both engines agree on it', async () => {
    const { config, weights } = tinyUNet({ seed: 2 });
    const dir = join(tmp(), 'model');
    const written = writeModelFolder(dir, { network: config, weights, classes: ['a', 'b', 'c'], temperature: 2.5, card: '# test model' });
    expect(Object.keys(written.files).sort()).toEqual(['MODEL_CARD.md', 'dc_chunk.onnx', 'dc_vjp.onnx', 'denoiser.onnx', 'lm_grad.onnx', 'model.safetensors']);
    // No second copy: every weight of the ONNX graph is external data pointing into model.safetensors.
    const onnx = decodeOnnx(readFileSync(join(dir, 'denoiser.onnx')));
    const params = Object.keys(weights);
    const ext = onnx.graph!.initializer!.filter((t) => t.dataLocation === 1);
    expect(ext.map((t) => t.name).sort()).toEqual([...params].sort());
    expect(ext.every((t) => t.externalData!.some((e) => e.key === 'location' && e.value === 'model.safetensors'))).toBe(true);
    const inline = onnx.graph!.initializer!.reduce((a, t) => a + (t.rawData?.length ?? 0), 0);
    expect(inline).toBeLessThan(statSync(join(dir, 'model.safetensors')).size / 20);

    const model = readModelFolder(dir);
    expect(model.config.temperature).toBe(2.5);
    const fromFile = new Denoiser(ort, model.config.network as typeof config, model.weights, model.onnx);
    const inMemory = new Denoiser(tfjs, config, weights);
    const rng = new Random(3);
    const x = { data: rng.normal(4 * 192), dims: [4, 3, 8, 8] };
    const sigma = Float32Array.of(0.01, 0.2, 1, 5);
    const a = await fromFile.denoise(x, sigma);
    const b = await inMemory.denoise(x, sigma);
    expect(relativeError(a.data, b.data)).toBeLessThan(1e-5);
    const noise = { data: rng.normal(3 * 192), dims: [3, 3, 8, 8] };
    const px = { data: rng.normal(192).map((v) => Math.tanh(v)), dims: [1, 3, 8, 8] };
    const la = await fromFile.dcChunk(px, noise, Float32Array.of(0.1, 0.5, 1), Float32Array.of(1, 2, 3));
    const lb = await inMemory.dcChunk(px, noise, Float32Array.of(0.1, 0.5, 1), Float32Array.of(1, 2, 3));
    expect(relativeError(la, lb)).toBeLessThan(1e-5);
    // The exported reverse passes (ONNX Runtime alone) match TensorFlow.js autodiff.
    const cot = Float32Array.of(1, -0.5, 0.25);
    const va = await fromFile.dcChunkVjp(px, noise, Float32Array.of(0.1, 0.5, 1), Float32Array.of(1, 2, 3), 0, cot);
    const vb = await inMemory.dcChunkVjp(px, noise, Float32Array.of(0.1, 0.5, 1), Float32Array.of(1, 2, 3), 0, cot);
    expect(relativeError(va.grad.data, vb.grad.data)).toBeLessThan(1e-4);
    const ga = await fromFile.lmObjective(px, { data: noise.data.subarray(0, 192), dims: [1, 3, 8, 8] }, Float32Array.of(0.5));
    const gb = await inMemory.lmObjective(px, { data: noise.data.subarray(0, 192), dims: [1, 3, 8, 8] }, Float32Array.of(0.5));
    expect(relativeError(ga.grad.data, gb.grad.data)).toBeLessThan(1e-4);
  });

  it('holds a CNN classifier too', async () => {
    const network = CnnConfig.parse({ arch: 'cnn', widths: [8, 16], image: { channels: 3, height: 8, width: 8 }, numClasses: 4 });
    const weights = initWeights(buildClassifierGraph(network), 1);
    const dir = join(tmp(), 'cnn');
    writeModelFolder(dir, { network, weights, classes: ['a', 'b', 'c', 'd'], card: '# cnn' });
    const model = readModelFolder(dir);
    expect(model.onnx.classifier).toBeDefined();
    const f = await ort.load(model.onnx.classifier!, buildClassifierGraph(network));
    const out = await f.run({ x: { data: new Float32Array(2 * 192), dims: [2, 3, 8, 8] } });
    expect(out.logits.dims).toEqual([2, 4]);
    expect(model.onnx.classifierVjp).toBeDefined();
  });

  it('names the corrupt or missing file', () => {
    const { config, weights } = tinyUNet();
    const dir = join(tmp(), 'model');
    writeModelFolder(dir, { network: config, weights, classes: ['a', 'b', 'c'], card: '# x' });
    const st = readFileSync(join(dir, 'model.safetensors'));
    st[st.length - 1] ^= 0xff;
    writeFileSync(join(dir, 'model.safetensors'), st);
    expect(() => readModelFolder(dir)).toThrow(/model.safetensors has sha256 [0-9a-f]+, config.json expects/);
    expect(() => readModelFolder(tmp())).toThrow(/config.json is missing/);
    writeFileSync(join(dir, 'config.json'), '{"format":"rdc-model"}');
    expect(() => readModelFolder(dir)).toThrow(/no checksum of its own .*rdc reseal --model/);
    expect(() => writeModelFolder(join(tmp(), 'm'), { network: config, weights, classes: ['a'], card: '' })).toThrow(
      /1 class names for a network with 3 classes/,
    );
  });

  it('replaces an existing folder only once the new one is complete', () => {
    const { config, weights } = tinyUNet();
    const dir = join(tmp(), 'model');
    writeModelFolder(dir, { network: config, weights, classes: ['a', 'b', 'c'], card: '# first' });
    expect(() => writeModelFolder(dir, { network: config, weights: {}, classes: ['a', 'b', 'c'], card: '# second' })).toThrow(/missing weight/);
    expect(readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8')).toBe('# first\n');
    writeModelFolder(dir, { network: config, weights, classes: ['a', 'b', 'c'], card: '# second' });
    expect(readModelFolder(dir).config.files['MODEL_CARD.md']).toBeDefined();
    expect(readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8')).toBe('# second\n');
  });
});

describe('model folder integrity', () => {
  const { config, weights } = tinyUNet({ seed: 5 });
  const fresh = () => {
    const dir = join(tmp(), 'model');
    writeModelFolder(dir, { network: config, weights, classes: ['a', 'b', 'c'], temperature: 2, dc: { levels: 125 }, card: '# x' });
    return dir;
  };
  const edit = (dir: string, f: (c: Record<string, unknown>) => void, reseal = false) => {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    f(c);
    if (reseal) c.configSha256 = configChecksum(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
  };

  it('config.json carries a checksum of its own content: any changed setting is refused', () => {
    const changes: ((c: Record<string, unknown> & { dc: { levels: number; sigmaMax: number; guidance: number }; classes: string[] }) => void)[] = [
      (c) => (c.classes[0] = 'z'),
      (c) => (c.dc.levels = 124),
      (c) => (c.dc.sigmaMax = 2.5),
      (c) => (c.dc.guidance = 1),
      (c) => (c.temperature = 3),
      (c) => (c.lmMethod = 'paper'),
    ];
    for (const change of changes) {
      const dir = fresh();
      expect(() => readModelFolder(dir)).not.toThrow();
      edit(dir, change as (c: Record<string, unknown>) => void);
      expect(() => readModelFolder(dir)).toThrow(/config.json was changed after it was written/);
    }
    // Formatting is not content: the same JSON on one line still reads.
    const dir = fresh();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))));
    expect(readModelFolder(dir).config.temperature).toBe(2);
  });

  it('class names must match the network, one per class', () => {
    for (const classes of [
      ['a', 'b'],
      ['a', 'b', 'c', 'd'],
      ['a', 'a', 'b'],
    ]) {
      const dir = fresh();
      edit(dir, (c) => (c.classes = classes), true);
      expect(() => readModelFolder(dir)).toThrow(/class names/);
    }
  });

  it('every file is a plain name inside the folder: no paths, no links out of it', () => {
    const dir = fresh();
    edit(dir, (c) => ((c.files as Record<string, unknown>)['../../../../etc/passwd'] = { sha256: '0'.repeat(64), bytes: 1 }), true);
    expect(() => readModelFolder(dir)).toThrow(/lists the file '\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd': only plain file names inside the model folder/);
    const other = fresh();
    const outside = join(tmp(), 'weights.safetensors');
    renameSync(join(other, 'model.safetensors'), outside);
    symlinkSync(outside, join(other, 'model.safetensors'));
    expect(() => readModelFolder(other)).toThrow(/model.safetensors is a link to a file outside the folder/);
  });

  it('recorded absolute paths become their last component; URLs, fractions, relative paths and card markers stay', () => {
    expect(relativePaths({ cmd: 'train --data-dir /home/a/cifar-10-batches-bin --run runs/x', data: ['/tmp/rdc-x/model/'] })).toEqual({
      cmd: 'train --data-dir cifar-10-batches-bin --run runs/x',
      data: ['model'],
    });
    for (const keep of ['http://localhost:8080/v1/model', 'ε = 8/255', 'runs/default', '<!-- /rdc:eval-dc -->', '![s](samples/samples.png)'])
      expect(relativePaths(keep)).toBe(keep);
    // Inside the working folder a path stays re-runnable from there.
    expect(relativePaths('train --run /srv/rdc/runs/tiny --data-dir /srv/data/cifar', '/srv/rdc')).toBe('train --run runs/tiny --data-dir cifar');
  });

  it('a folder written before config.json was sealed is refused until re-sealed; re-sealing keeps the weights and makes paths relative', async () => {
    const dir = fresh();
    edit(dir, (c) => {
      delete c.configSha256;
      c.training = { data: { dir: '/home/someone/cifar-10-batches-bin' }, command: 'train --data-dir /home/someone/cifar-10-batches-bin' };
    });
    expect(() => readModelFolder(dir)).toThrow(/no checksum of its own .*rdc reseal --model/);
    const before = readFileSync(join(dir, 'model.safetensors'));
    const sealed = resealModelFolder(dir);
    expect(sealed.training).toEqual({ data: { dir: 'cifar-10-batches-bin' }, command: 'train --data-dir cifar-10-batches-bin' });
    const m = readModelFolder(dir);
    expect(m.config.temperature).toBe(2);
    expect(Buffer.compare(readFileSync(join(dir, 'model.safetensors')), before)).toBe(0);
    expect(JSON.stringify(m.config)).not.toMatch(/\/home\//);
  });

  it('an ONNX graph emitted by other graph code is not used: the current graph is compiled from the weights, with a warning', async () => {
    const dir = fresh();
    // What an older exporter would have left: a different (here: wrong) DC graph, recorded with its checksum.
    const other = tinyUNet({ seed: 5, attention: false }).config;
    const wrong = graphToOnnx(dcChunkGraph(other), { weights: { mode: 'inline', values: initWeights(dcChunkGraph(other), 1) } });
    writeFileSync(join(dir, 'dc_chunk.onnx'), wrong);
    edit(
      dir,
      (c) =>
        ((c.files as Record<string, { sha256: string; bytes: number }>)['dc_chunk.onnx'] = {
          sha256: createHash('sha256').update(wrong).digest('hex'),
          bytes: wrong.length,
        }),
      true,
    );
    const warnings: string[] = [];
    const m = readModelFolder(dir, { warn: (w) => warnings.push(w) });
    expect(m.stale).toEqual(['dcChunk']);
    expect(m.onnx.dcChunk).toBeUndefined();
    expect(m.onnx.denoiser).toBeDefined();
    expect(warnings.join()).toMatch(/dc_chunk.onnx was emitted by another version of the graph code.*rdc reseal/);
    // The DC still computes the current graph: the same logits as a fresh folder's.
    const rng = new Random(2);
    const px = { data: rng.normal(192).map((v) => 0.5 + 0.2 * Math.tanh(v)), dims: [1, 3, 8, 8] };
    const noise = { data: rng.normal(2 * 192), dims: [2, 3, 8, 8] };
    const args = [px, noise, Float32Array.of(0.1, 1), Float32Array.of(1, 2)] as const;
    const a = await new Denoiser(ort, config, m.weights, m.onnx).dcChunk(...args);
    const fresh2 = readModelFolder(fresh());
    const b = await new Denoiser(ort, config, fresh2.weights, fresh2.onnx).dcChunk(...args);
    expect(relativeError(a, b)).toBeLessThan(1e-6);
    // Re-sealing rewrites it.
    resealModelFolder(dir);
    expect(readModelFolder(dir).stale).toEqual([]);
  });
});
