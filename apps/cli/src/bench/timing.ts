/**
 * Wall-clock timing for benchmarks: one warm-up call, then repeats until `minSeconds` have passed
 * (at least `minReps`, at most `maxReps`); reports the median. Throughput figures are reported next to
 * a baseline measured in the same run, since these machines are noisy.
 */
export interface Timing {
  medianSeconds: number;
  minSeconds: number;
  reps: number;
}

export async function time(fn: () => Promise<unknown>, o: { minSeconds?: number; minReps?: number; maxReps?: number; warmup?: boolean } = {}): Promise<Timing> {
  if (o.warmup !== false) await fn();
  const runs: number[] = [];
  const start = performance.now();
  while (runs.length < (o.maxReps ?? 50) && (runs.length < (o.minReps ?? 3) || performance.now() - start < 1000 * (o.minSeconds ?? 2))) {
    const t = performance.now();
    await fn();
    runs.push((performance.now() - t) / 1000);
  }
  runs.sort((a, b) => a - b);
  return { medianSeconds: runs[Math.floor(runs.length / 2)], minSeconds: runs[0], reps: runs.length };
}

export const round = (v: number, digits = 3): number => Number(v.toPrecision(digits));
