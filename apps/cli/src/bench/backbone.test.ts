import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNetConfig } from '@rdc/core';
import { describe, expect, it } from 'vitest';
import { pytorchReference } from './backbone.js';

// The PyTorch reference is not installed in CI: a stand-in script (run by Node in place of Python)
// checks the arguments it is given and the parsing of its JSON line.
describe('pytorchReference', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rdc-torch-'));
  const network = UNetConfig.parse({ arch: 'unet', modelChannels: 24, channelMult: [1, 2, 3], numBlocks: 2, attnResolutions: [16, 8] });

  it("passes the network's shape, threads and batch, and reads the last JSON line", () => {
    const script = join(dir, 'echo.mjs');
    writeFileSync(
      script,
      `const a = process.argv.slice(2);
       console.log('some warning');
       console.log(JSON.stringify({ engine: 'stand-in', args: a, threads: Number(a[a.indexOf('--threads') + 1]), gflop_per_image: 1, fwd_img_s: 2, fwd_gflops: 3, fwdbwd_img_s: 4, fwdbwd_gflops: 5 }));`,
    );
    const out = pytorchReference(script, process.execPath, network, 16, 2) as unknown as { args: string[]; threads: number; fwdbwd_gflops: number };
    expect(out.args).toEqual(['--ch', '24', '--mult', '1,2,3', '--blocks', '2', '--attn', '16,8', '--threads', '2', '--batch', '16']);
    expect(out.threads).toBe(2);
    expect(out.fwdbwd_gflops).toBe(5);
  });

  it('a failing script is an error that quotes its last line', () => {
    const script = join(dir, 'fail.mjs');
    writeFileSync(script, `console.error('Traceback ...'); console.error("ModuleNotFoundError: No module named 'torch'"); process.exit(1);`);
    expect(() => pytorchReference(script, process.execPath, network, 32, 1)).toThrow(/No module named 'torch'/);
  });
});
