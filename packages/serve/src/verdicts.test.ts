import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './server.js';

/**
 * What the API says of one picture with a true label (issue: the page tells the truth), on the
 * shipped models and bundled CIFAR-10 test pictures: the four verdicts of an attack on the CNN (a
 * deterministic classifier: the same seed gives the same attack), the three of a certificate of the
 * noise-trained CNN, certification as a stream, the measured figures as data, and the card's files.
 */
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const example = (file: string) => readFileSync(join(repo, 'packages/serve/assets/examples', file));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  server = await startServer(
    ['default', 'cnn', 'cnn-noise'].map((m) => join(repo, 'models', m)),
    { port: 0, threads: 1 },
  );
  base = `http://127.0.0.1:${server.port}`;
}, 120_000);

afterAll(async () => {
  await server?.close();
});

const post = (path: string, file: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', body: example(file), headers: { 'content-type': 'image/png', ...headers } });

describe('verdicts that know the label', () => {
  it('an attack: held, fooled, wrong-before and made-right on bundled pictures with their labels; changed or unchanged without one', async () => {
    const attack = async (file: string, label: string | null, eps: string, iterations: number): Promise<Json> => {
      const q = new URLSearchParams({ model: 'cnn', eps, iterations: String(iterations), seed: '1', ...(label ? { label } : {}) });
      const res = await post(`/v1/attack?${q}`, file);
      expect(res.status).toBe(200);
      return res.json();
    };
    const cases: [string, string, string, number, string][] = [
      ['01-automobile.png', 'automobile', '1/255', 1, 'held'],
      ['03-cat.png', 'cat', '16/255', 10, 'fooled'],
      ['04-deer.png', 'deer', '1/255', 1, 'wrong-before'],
      ['04-deer.png', 'deer', '16/255', 10, 'made-right'],
    ];
    for (const [file, label, eps, iterations, verdict] of cases) {
      const r = await attack(file, label, eps, iterations);
      // The verdict is what the answers say: right before (the clean answer) and right after (under the rule).
      expect(r.verdict, `${file} at ${eps}`).toBe(verdict);
      expect(r.trueLabel).toBe(label);
      const before = r.clean.top.label === label;
      const after = r.attacked.top.label === label;
      expect(r.verdict).toBe(before ? (after ? 'held' : 'fooled') : after ? 'made-right' : 'wrong-before');
      // Without a label the same attack is only changed or unchanged.
      const blind = await attack(file, null, eps, iterations);
      expect(blind.trueLabel).toBeNull();
      expect(blind.verdict).toBe(blind.changed ? 'changed' : 'unchanged');
      expect(blind.adversarial.image).toBe(r.adversarial.image);
    }
    const bad = await post('/v1/attack?model=cnn&label=unicorn', '03-cat.png');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error.message).toMatch(/unicorn.*not a class/);
  }, 120_000);

  it('a certificate: certified-right, certified-wrong (flagged) and abstained; without a label certified or abstained', async () => {
    const certify = async (file: string, label: string | null): Promise<Json> => {
      const res = await post(`/v1/certify?model=cnn-noise&seed=1${label ? `&label=${label}` : ''}`, file);
      expect(res.status).toBe(200);
      return res.json();
    };
    for (const [file, label, flag] of [
      ['01-automobile.png', 'automobile', 'certified-right'],
      ['04-deer.png', 'deer', 'certified-wrong'],
      ['00-airplane.png', 'airplane', 'abstained'],
    ]) {
      const c = await certify(file, label);
      expect(c.certified, file).toBe(flag);
      expect(c.certified).toBe(c.prediction < 0 ? 'abstained' : c.label === label ? 'certified-right' : 'certified-wrong');
      const blind = await certify(file, null);
      expect(blind.certified).toBe(blind.prediction < 0 ? 'abstained' : 'certified');
      expect(blind.radius).toBe(c.radius);
    }
  }, 120_000);

  it('certification streams: progress events (draws done, of how many, counts so far) at least one per batch of draws, then the result', async () => {
    const res = await post('/v1/certify?model=cnn-noise&seed=1&n0=10&n=60&label=automobile', '01-automobile.png', { accept: 'text/event-stream' });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await res.text())
      .split('\n\n')
      .filter((b) => b.trim())
      .map((b) => ({ event: /^event: (.*)$/m.exec(b)![1], data: JSON.parse(/^data: (.*)$/m.exec(b)![1]) }));
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data);
    expect(events.at(-1)!.event).toBe('result');
    expect(events.at(-1)!.data.certified).toBe('certified-right');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({ stage: 'estimate', done: 60, total: 60 });
    for (const p of progress) expect(p.counts.reduce((a: number, b: number) => a + b, 0)).toBe(p.done);
    expect(progress.filter((p) => p.stage === 'select').at(-1)).toMatchObject({ done: 10, total: 10 });
  });
});

describe('claims from measurements', () => {
  it('/v1/models gives each shipped model its card figures as data: robust (fractions, ε in pixel units, no ε 0) and certified, and the sections', async () => {
    const { models } = (await (await fetch(`${base}/v1/models`)).json()) as Json;
    const by = Object.fromEntries(models.map((m: Json) => [m.name, m]));
    // The CNN's ε sweep: 17 of 32 robust at 1/255 under the single rule, null attack 27 of 32.
    const cnn1 = by.cnn.measured.robust.find((f: Json) => Math.abs(f.eps - 1 / 255) < 1e-9);
    expect(cnn1).toMatchObject({ defense: 'none', norm: 'linf', accuracy: 17 / 32, nullAttack: 27 / 32, rule: 'single', protocol: 'quick', images: 32 });
    expect(cnn1.ci95[0]).toBeLessThan(cnn1.accuracy);
    for (const m of models) for (const f of m.measured.robust) expect(f.eps).toBeGreaterThan(0);
    // The default model at 4/255 and 8/255: 0 % for the DC and the RDC, as its card says.
    const dflt = by.default.measured.robust.filter((f: Json) => f.eps >= 4 / 255 - 1e-9);
    expect(dflt).toHaveLength(4);
    for (const f of dflt) expect(f.accuracy).toBe(0);
    // Certified: the noise-trained CNN at radius 0.25: 47 of 100, 8 abstained; each figure once.
    const noise = by['cnn-noise'].measured.certified;
    expect(noise.find((f: Json) => f.radius === 0.25)).toMatchObject({ base: 'none', sigma: 0.25, accuracy: 0.47, abstained: 0.08, images: 100 });
    expect(new Set(noise.map((f: Json) => JSON.stringify(f))).size).toBe(noise.length);
    expect(by.default.measured.certified.filter((f: Json) => f.base === 'dc')).toHaveLength(5);
    expect(Object.keys(by.default.measured.sections)).toContain('eval-dc');
  });
});

describe("the card's files", () => {
  it('the images the card links are served from the model (as read at start); config.json, the weights and any path with .. or encoded dots and slashes are 404s', async () => {
    const card = await (await fetch(`${base}/models/default/card`)).text();
    expect(card).toMatch(/src="samples\/samples.png"/);
    const png = await fetch(`${base}/models/default/samples/samples.png`);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer())).toEqual(readFileSync(join(repo, 'models/default/samples/samples.png')));
    for (const path of [
      'config.json',
      'model.safetensors',
      'MODEL_CARD.md',
      'samples/missing.png',
      '%2e%2e/cnn/config.json',
      'samples%2fsamples.png',
      'samples/%2E%2E/config.json',
    ])
      expect((await fetch(`${base}/models/default/${path}`)).status, path).toBe(404);
    // A raw `..` (a client that does not normalize the path) is refused too.
    const raw = await new Promise<string>((done, fail) => {
      const s = connect(server.port, '127.0.0.1', () =>
        s.write('GET /models/default/samples/../config.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      s.on('data', (d) => (text += d));
      s.on('end', () => done(text));
      s.on('error', fail);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 404 /);
  });
});
