/**
 * Learning rate at a step: linear warm-up from 0 over `warmup` steps, then constant (EDM's schedule),
 * or cosine decay to `minFactor`·lr by `total` steps.
 *
 * @example
 * learningRate(10, { lr: 1e-3, warmup: 100 }); // 1e-4
 */
export function learningRate(step: number, s: { lr: number; warmup: number; schedule?: 'constant' | 'cosine'; total?: number; minFactor?: number }): number {
  const warm = s.warmup > 0 ? Math.min(1, (step + 1) / s.warmup) : 1;
  if (s.schedule !== 'cosine' || !s.total) return s.lr * warm;
  const t = Math.min(1, Math.max(0, (step - s.warmup) / Math.max(1, s.total - s.warmup)));
  const min = s.minFactor ?? 0.05;
  return s.lr * warm * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * t)));
}
