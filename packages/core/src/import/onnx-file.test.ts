import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageSpec } from '../config/schema.js';
import { InputError } from '../errors.js';
import { floatBytes, onnx, type OnnxNs } from '../nn/onnx/emitter.js';
import { importOnnxClassifier } from './onnx.js';
import { ONNX_FIXTURES } from '../testing.js';

const FLOAT = 1;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

/**
 * A small classifier as ONNX: GlobalAveragePool → Flatten → Gemm (W [10, 3] from an initializer),
 * with hooks to break it the ways hostile or broken files are broken.
 */
function tinyModel(
  o: { weight?: OnnxNs.ITensorProto; extraNodes?: OnnxNs.INodeProto[]; inputDims?: number[]; classes?: number; bnOutputs?: number } = {},
): Uint8Array {
  const k = o.classes ?? 10;
  const dims = o.inputDims ?? [1, 3, 32, 32];
  const weight = o.weight ?? { name: 'fc.weight', dataType: FLOAT, dims: [k, 3], rawData: floatBytes(Array.from({ length: k * 3 }, (_, i) => i / 10)) };
  const node: OnnxNs.INodeProto[] = [
    { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'], name: 'pool' },
    { opType: 'Flatten', input: ['pooled'], output: ['flat'], name: 'flatten', attribute: [{ name: 'axis', type: 2, i: 1 }] },
    ...(o.extraNodes ?? []),
    {
      opType: 'Gemm',
      input: [o.extraNodes?.length ? o.extraNodes[o.extraNodes.length - 1].output![0] : 'flat', 'fc.weight'],
      output: ['logits'],
      name: 'fc',
      attribute: [{ name: 'transB', type: 2, i: 1 }],
    },
  ];
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'test',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny',
      node,
      initializer: [weight],
      input: [
        { name: 'input', type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d, i) => (i === 0 ? { dimParam: 'batch' } : { dimValue: d })) } } } },
      ],
      output: [{ name: 'logits', type: { tensorType: { elemType: FLOAT } } }],
    },
  }).finish();
}

const read = (path: string) => importOnnxClassifier(path, { image: ImageSpec.parse({}), numClasses: 10, inputRange: [0, 1] });

function folderWith(bytes: Uint8Array, files: Record<string, Uint8Array> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'rdc-onnx-'));
  writeFileSync(join(dir, 'model.onnx'), bytes);
  for (const [name, b] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), b);
  }
  return join(dir, 'model.onnx');
}

/** The weight [10, 3] stored outside the model file. */
function external(location: string, extra: Record<string, string> = {}): OnnxNs.ITensorProto {
  const entries = { location, offset: '0', length: '120', ...extra };
  return {
    name: 'fc.weight',
    dataType: FLOAT,
    dims: [10, 3],
    dataLocation: EXTERNAL,
    externalData: Object.entries(entries).map(([key, value]) => ({ key, value })),
  };
}

function expectRefused(path: string, message: RegExp): void {
  let err: unknown;
  try {
    read(path);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).toMatch(message);
}

const weightBytes = floatBytes(Array.from({ length: 30 }, (_, i) => i / 10));

describe('rdc import onnx refuses bad and hostile files with a clear error', () => {
  it('reads the tiny model (the baseline the broken ones differ from), with its weights from an external file beside it', () => {
    expect(read(folderWith(tinyModel())).network.source.ops).toEqual(['Flatten', 'Gemm', 'GlobalAveragePool']);
    const { weights } = read(folderWith(tinyModel({ weight: external('weights/fc.bin') }), { 'weights/fc.bin': weightBytes }));
    expect(Array.from(Object.values(weights)[0].data.slice(0, 3))).toEqual([0, 0.1, 0.2].map(Math.fround));
  });

  it('a truncated file and a file that is not ONNX', () => {
    const whole = readFileSync(join(ONNX_FIXTURES, 'resnet.onnx'));
    expectRefused(folderWith(whole.subarray(0, whole.length >> 1)), /not an ONNX model, or a truncated one/);
    expectRefused(folderWith(new TextEncoder().encode('PK\u0003\u0004 a PyTorch checkpoint, say')), /not an ONNX model/);
    expectRefused(join(tmpdir(), 'rdc-no-such-file.onnx'), /no such file/);
  });

  it('an unsupported op, naming the op and the node', () => {
    const erf: OnnxNs.INodeProto = { opType: 'Erf', input: ['flat'], output: ['erf'], name: 'gelu/erf' };
    expectRefused(folderWith(tinyModel({ extraNodes: [erf] })), /Erf node 'gelu\/erf': unsupported op Erf/);
    const custom: OnnxNs.INodeProto = { opType: 'FusedGemm', domain: 'com.microsoft', input: ['flat'], output: ['f'], name: 'fused' };
    expectRefused(folderWith(tinyModel({ extraNodes: [custom] })), /unsupported op com\.microsoft\.FusedGemm/);
  });

  it('a training-mode graph, an input that is not 3×32×32 and an output that is not 10 logits', () => {
    const scale = (name: string, v: number): OnnxNs.ITensorProto => ({ name, dataType: FLOAT, dims: [3], floatData: [v, v, v] });
    const bn: OnnxNs.INodeProto = {
      opType: 'BatchNormalization',
      input: ['flat', 'g', 'b', 'm', 'v'],
      output: ['bn', 'running_mean', 'running_var'],
      name: 'bn',
      attribute: [{ name: 'training_mode', type: 2, i: 1 }],
    };
    const bytes = onnx.ModelProto.decode(tinyModel({ extraNodes: [bn] }));
    bytes.graph!.initializer!.push(scale('g', 1), scale('b', 0), scale('m', 0), scale('v', 1));
    expectRefused(folderWith(onnx.ModelProto.encode(bytes).finish()), /training-mode graph .* export with model\.eval\(\)/);
    expectRefused(folderWith(tinyModel({ inputDims: [1, 1, 28, 28] })), /input 'input' is \[batch, 1, 28, 28\]; it must be N×3×32×32/);
    expectRefused(folderWith(tinyModel({ classes: 100 })), /output 'logits' is \[N, 100\]; it must be N×10 logits/);
  });

  it('external data that is missing, absolute, has .. anywhere, or resolves through a symlink out of the folder', () => {
    expectRefused(folderWith(tinyModel({ weight: external('fc.bin') })), /external-data file 'fc\.bin' is missing/);
    expectRefused(folderWith(tinyModel({ weight: external('/etc/passwd') })), /absolute path/);
    expectRefused(folderWith(tinyModel({ weight: external('../secret.bin') })), /contains '\.\.'/);
    expectRefused(folderWith(tinyModel({ weight: external('sub/../../secret.bin') }), { 'sub/x': weightBytes }), /contains '\.\.'/);
    expectRefused(folderWith(tinyModel({ weight: external('sub\\..\\..\\secret.bin') })), /contains '\.\.'/);
    const outside = mkdtempSync(join(tmpdir(), 'rdc-outside-'));
    writeFileSync(join(outside, 'secret.bin'), weightBytes);
    const path = folderWith(tinyModel({ weight: external('link.bin') }));
    symlinkSync(join(outside, 'secret.bin'), join(path, '..', 'link.bin'));
    expectRefused(path, /resolves \(through a symlink\) to .*outside the model's folder/);
  });

  it('sizes and offsets checked against the bytes present before anything is allocated', () => {
    // External data declared past the end of its file, or a length that is not the tensor's.
    expectRefused(
      folderWith(tinyModel({ weight: external('fc.bin', { offset: '100' }) }), { 'fc.bin': weightBytes }),
      /runs past the end of its file \(120 bytes\)/,
    );
    expectRefused(
      folderWith(tinyModel({ weight: external('fc.bin', { length: '12' }) }), { 'fc.bin': weightBytes }),
      /declares 10×3 values \(120 bytes\) but its external data holds 12/,
    );
    // A tensor declaring 2²⁸·3 elements with 120 bytes inline; and one declaring more than 2³¹.
    expectRefused(
      folderWith(tinyModel({ weight: { name: 'fc.weight', dataType: FLOAT, dims: [2 ** 28, 3], rawData: weightBytes } })),
      /declares 268435456×3 values \(3221225472 bytes\) but holds 120 bytes/,
    );
    expectRefused(
      folderWith(tinyModel({ weight: { name: 'fc.weight', dataType: FLOAT, dims: [2 ** 20, 2 ** 20], rawData: weightBytes } })),
      /more than this importer reads/,
    );
    expectRefused(folderWith(tinyModel({ weight: { name: 'fc.weight', dataType: FLOAT, dims: [10, -3], rawData: weightBytes } })), /declares a dimension -3/);
  });
});
