import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './program.js';

const rdc = (...args: string[]) => run(['node', 'rdc', ...args]);

describe('rdc CLI', () => {
  it('info reports the engines as JSON with provenance', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rdc-cli-')), 'info.json');
    expect(await rdc('info', '--engine', 'tfjs-wasm', '--json', out)).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.engine).toMatchObject({ engine: 'tfjs', backend: 'wasm', threads: 1, differentiable: true });
    expect(report.ortProviders.some((p: { name: string }) => p.name === 'cpu')).toBe(true);
    expect(report.commit).toMatch(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
    expect(report.versions['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exit codes: 0 for help, 2 for bad arguments', async () => {
    expect(await rdc('--help')).toBe(0);
    expect(await rdc('no-such-command')).toBe(2);
    expect(await rdc('info', '--engine', 'bogus')).toBe(2);
  });

  it('honours RDC_ENGINE', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rdc-cli-')), 'info.json');
    process.env.RDC_ENGINE = 'tfjs-cpu';
    try {
      expect(await rdc('info', '--json', out)).toBe(0);
    } finally {
      delete process.env.RDC_ENGINE;
    }
    expect(JSON.parse(readFileSync(out, 'utf8')).engine.backend).toBe('cpu');
    expect(await rdc('info', '--json', out)).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).engine.engine).toBe('ort');
  });

  it('--device: webgpu or cuda with a tfjs engine exits 2; RDC_DEVICE is for ONNX Runtime and leaves tfjs alone; an unknown device exits 2', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rdc-cli-')), 'info.json');
    expect(await rdc('info', '--engine', 'tfjs-cpu', '--device', 'webgpu')).toBe(2);
    expect(await rdc('info', '--engine', 'tfjs-cpu', '--device', 'cuda')).toBe(2);
    expect(await rdc('info', '--engine', 'ort', '--device', 'tpu')).toBe(2);
    expect(await rdc('info', '--engine', 'tfjs-cpu', '--device', 'cpu', '--json', out)).toBe(0);
    process.env.RDC_DEVICE = 'cpu';
    try {
      expect(await rdc('info', '--engine', 'tfjs-cpu', '--json', out)).toBe(0);
      expect(JSON.parse(readFileSync(out, 'utf8')).device).toMatchObject({ choice: 'cpu', device: 'cpu' });
    } finally {
      delete process.env.RDC_DEVICE;
    }
  });
});
