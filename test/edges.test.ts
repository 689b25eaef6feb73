import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { buildClassifierGraph, CnnConfig, initWeights, writeModelFolder } from '@rdc/core';
import { sharedFixture, tinyUNet } from '@rdc/core/testing';
import { CIFAR10_CLASSES } from '@rdc/train';
import { pngBytes } from '@rdc/serve';
import { beforeAll, describe, expect, it } from 'vitest';
import { data, rdc, rdcCapture, tmp } from './helpers.js';

/** The command line's edges (issue 24): bad numbers, bad files, --json -, the import's order, the report's words, busy ports. */
const dir = tmp('rdc-edges-');
const model = join(dir, 'unet');
const cnn = join(dir, 'cnn');
const fixtures = sharedFixture('edm');

beforeAll(() => {
  const { config, weights } = tinyUNet({ size: 32, classes: 10, seed: 3, attention: false });
  writeModelFolder(model, { network: config, weights, classes: CIFAR10_CLASSES, dc: { levels: 3 }, card: '# tiny' });
  const net = CnnConfig.parse({ arch: 'cnn', widths: [4, 8], numClasses: 10 });
  writeModelFolder(cnn, { network: net, weights: initWeights(buildClassifierGraph(net), 2), classes: CIFAR10_CLASSES, card: '# tiny cnn' });
});

describe('the command line refuses bad numbers and bad files with exit 2, naming them', () => {
  it('--limit 0 and −3, an ℓ∞ ε above 1, one σ level', async () => {
    for (const limit of ['0', '-3']) {
      const r = await rdcCapture('eval', '--model', model, '--limit', limit);
      expect(r.code, limit).toBe(2);
      expect(r.stderr).toMatch(/--limit: .*(>0|positive|>=1|expected number to be >0)/i);
      expect(r.stdout).not.toMatch(/NaN/);
    }
    const eps = await rdcCapture('attack', '--model', cnn, '--defense', 'none', '--eps', '300/255', '--limit', '1');
    expect(eps.code).toBe(2);
    expect(eps.stderr).toMatch(/--eps: an ℓ∞ radius of 1\.176 is larger than the pixel range/);
    expect((await rdcCapture('eval', '--model', model, '--levels', '1', '--limit', '1')).stderr).toMatch(/--levels: .*2/);
  });

  it('rdc classify: a missing file, a folder, a non-image and a truncated PNG, each named', async () => {
    const png = await pngBytes({ data: new Float32Array(3 * 32 * 32).fill(0.3), dims: [1, 3, 32, 32] });
    writeFileSync(join(dir, 'text.png'), 'hello, not an image');
    writeFileSync(join(dir, 'half.png'), png.subarray(0, png.length - 20));
    mkdirSync(join(dir, 'folder.png'), { recursive: true });
    for (const [file, why] of [
      ['missing.png', /missing\.png: no such file/],
      ['folder.png', /folder\.png: not a file/],
      ['text.png', /text\.png: the bytes are not a PNG, JPEG or WebP image/],
      ['half.png', /half\.png: the image could not be decoded/],
    ] as const) {
      const r = await rdcCapture('classify', '--model', model, '--defense', 'dc', '--levels', '2', join(dir, file));
      expect(r.code, file).toBe(2);
      expect(r.stderr, file).toMatch(why);
    }
  });
});

describe.skipIf(!data)('--json - puts the JSON alone on stdout', () => {
  it('rdc eval and rdc attack', async () => {
    const e = await rdcCapture('eval', '--model', model, '--defense', 'dc', '--limit', '2', '--json', '-');
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).images).toBe(2);
    expect(e.stderr).toMatch(/dc: [\d.]+ %/);
    const a = await rdcCapture('attack', '--model', cnn, '--defense', 'none', '--limit', '2', '--iterations', '2', '--out', join(dir, 'att'), '--json', '-');
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout).images).toBe(2);
    expect(a.stderr).toMatch(/worst case/);
  });
});

describe.skipIf(!data)('rdc attack: the report says what ran', () => {
  it('an overridden iteration count is named against the preset', async () => {
    const out = join(dir, 'overridden');
    expect(await rdc('attack', '--model', cnn, '--defense', 'none', '--limit', '2', '--iterations', '5', '--out', out)).toBe(0);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/Protocol \*\*quick\*\*.*5 iterations \(the preset has 20\)/);
    expect(report).not.toMatch(/with 20 iterations/);
  });

  it('rdc sweeps names the settings that differ', async () => {
    const a = join(dir, 'sweep-a');
    const b = join(dir, 'sweep-b');
    for (const [out, it] of [
      [a, '2'],
      [b, '3'],
    ])
      expect(await rdc('attack', '--model', cnn, '--defense', 'none', '--limit', '2', '--iterations', it, '--sweep', '2/255', '--out', out)).toBe(0);
    const r = await rdcCapture('sweeps', `A=${a}`, `B=${b}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/protocol\.iterations: 2 ≠ 3/);
    expect(r.stderr).not.toMatch(/\{"norm"/);
  });
});

describe.skipIf(!fixtures)('rdc import edm checks the inputs in the order given', () => {
  it('a missing checkpoint is named before the CIFAR-10 folder is needed, with or without calibration', async () => {
    const env = process.env.RDC_DATA_DIR;
    process.env.RDC_DATA_DIR = join(dir, 'no-such-data');
    try {
      for (const extra of [[], ['--calibration-images', '0']]) {
        const r = await rdcCapture('import', 'edm', '--cond', join(dir, 'nothere.pkl'), '--model', join(dir, 'imported'), ...extra);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/nothere\.pkl: no such file/);
        expect(r.stderr).not.toMatch(/CIFAR-10|ENOENT/);
      }
    } finally {
      process.env.RDC_DATA_DIR = env;
    }
  });
});

describe('exports, training output and ports', () => {
  it.skipIf(!data)('a CNN exports without calibration and without data; training prints accuracy as a percentage', async () => {
    const run = join(dir, 'cnn-run');
    const t = await rdcCapture(...`train --arch cnn --size tiny --steps 2 --batch 8 --val-size 20 --val-images 8 --run`.split(' '), run);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/validation accuracy \d+\.\d %/);
    const env = process.env.RDC_DATA_DIR;
    process.env.RDC_DATA_DIR = join(dir, 'no-such-data');
    try {
      expect(await rdc('export', '--run', run, '--model', join(dir, 'cnn-exported'), '--calibration-images', '0')).toBe(0);
    } finally {
      process.env.RDC_DATA_DIR = env;
    }
  });

  it('a busy port: the port named and what to do', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { startServer } = await import('@rdc/serve');
      const err = await startServer(model, { port, host: '127.0.0.1', threads: 1 }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use .*--port`));
    } finally {
      blocker.close();
    }
  });
});
