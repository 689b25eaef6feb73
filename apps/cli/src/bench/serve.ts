/**
 * Latency (p50/p95, sequential requests) and throughput (concurrent requests) of POST /v1/classify for
 * `dc` and `rdc`, over real HTTP on localhost, at `levels` σ levels.
 */
import { startServer } from '@rdc/serve';
import sharp from 'sharp';
import { round } from './timing.js';

export async function benchServe(modelDir: string, o: { requests: number; concurrency: number; threads?: number; levels: number }) {
  const server = await startServer(modelDir, { port: 0, host: '127.0.0.1', threads: o.threads, queueCapacity: 1024, timeoutMs: 600_000, maxWorkMacs: 1e15 });
  try {
    const [c, h, w] = server.service.imageDims;
    const raw = Buffer.alloc(h * w * c);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 31) % 256;
    const png = await sharp(raw, { raw: { width: w, height: h, channels: c as 3 } })
      .png()
      .toBuffer();
    const url = (defense: string, seed: number) => `http://127.0.0.1:${server.port}/v1/classify?defense=${defense}&seed=${seed}&levels=${o.levels}`;
    const once = async (defense: string, seed: number) => {
      const t = performance.now();
      const res = await fetch(url(defense, seed), { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
      if (res.status !== 200) throw new Error(`bench: ${res.status} ${await res.text()}`);
      await res.json();
      return (performance.now() - t) / 1000;
    };
    const out: Record<string, unknown> = {
      levels: o.levels,
      threads: server.service.engine.info.threads,
      requests: o.requests,
      concurrency: o.concurrency,
    };
    for (const defense of ['dc', 'rdc']) {
      await once(defense, 0);
      const lat: number[] = [];
      for (let i = 0; i < o.requests; i++) lat.push(await once(defense, i));
      lat.sort((a, b) => a - b);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: o.concurrency }, (_, i) => once(defense, 1000 + i)));
      const elapsed = (performance.now() - t0) / 1000;
      out[defense] = {
        p50Seconds: round(lat[Math.floor(0.5 * (lat.length - 1))]),
        p95Seconds: round(lat[Math.floor(0.95 * (lat.length - 1))]),
        throughputPerSecond: round(o.concurrency / elapsed),
      };
    }
    return out;
  } finally {
    await server.close();
  }
}
