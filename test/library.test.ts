import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { argmax, loadCifar10, NetworkClassifier, OrtEngine, readModelFolder } from '@rdc/core';
import { describe, expect, it } from 'vitest';
import { data, tmp } from './helpers.js';

const root = resolve(import.meta.dirname, '..');

/**
 * The packages as another project uses them: @rdc/core and @rdc/attacks packed with `pnpm pack`,
 * examples/library copied outside the workspace and installed there with npm from the tarballs
 * (onnxruntime-node's download skipped), its attack.mjs run on models/cnn.
 */
describe.skipIf(!data)('@rdc/core and @rdc/attacks installed from their packed tarballs outside the workspace', () => {
  it('examples/library/attack.mjs prints the one JSON object, with the clean accuracy the workspace computes', async () => {
    const packs = tmp('rdc-pack-');
    for (const pkg of ['core', 'attacks']) execFileSync('pnpm', ['pack', '--pack-destination', packs], { cwd: join(root, 'packages', pkg), stdio: 'pipe' });
    const tarballs = readdirSync(packs).map((f) => join(packs, f));
    expect(tarballs.map((f) => f.split('/').pop()).sort()).toEqual(['rdc-attacks-0.1.0.tgz', 'rdc-core-0.1.0.tgz']);
    // The example names the packages by range, not workspace: or file:.
    const manifest = JSON.parse(readFileSync(join(root, 'examples/library/package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual({ '@rdc/attacks': '^0.1.0', '@rdc/core': '^0.1.0' });
    const app = join(tmp('rdc-library-'), 'app');
    cpSync(join(root, 'examples/library'), app, { recursive: true });
    const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false' };
    execFileSync('npm', ['install', '--no-save', ...tarballs], { cwd: app, env, stdio: 'pipe', timeout: 600_000 });
    const stdout = execFileSync('node', ['attack.mjs', join(root, 'models/cnn')], {
      cwd: app,
      env: { ...env, RDC_DATA_DIR: data! },
      timeout: 300_000,
    }).toString();
    // Nothing but the one JSON line on stdout.
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(stdout);
    expect(Object.keys(out)).toEqual(['images', 'cleanAccuracy', 'robustAccuracy', 'certified']);
    expect(out.images).toBe(4);
    expect(out.robustAccuracy).toBeLessThanOrEqual(out.cleanAccuracy);
    expect(out.certified).toHaveLength(4);
    for (const c of out.certified) {
      expect(Number.isInteger(c.prediction) && c.prediction >= -1 && c.prediction < 10).toBe(true);
      expect(c.radius).toBeGreaterThanOrEqual(0);
      if (c.prediction === -1) expect(c.radius).toBe(0);
    }
    // The same clean accuracy as the workspace's own packages give on those images.
    const model = readModelFolder(join(root, 'models/cnn'));
    if (model.config.network.arch !== 'cnn') throw new Error('models/cnn is not a CNN');
    const test = loadCifar10(data!, 'test', { limit: 4 });
    const clf = new NetworkClassifier(await OrtEngine.create({ threads: 1 }), model.config.network, model.weights);
    const predicted = argmax((await clf.logits(test.pixels([0, 1, 2, 3]))).data, 10);
    expect(out.cleanAccuracy).toBe(predicted.filter((p, i) => p === test.labels[i]).length / 4);
  }, 900_000);
});
