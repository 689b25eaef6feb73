import { SingleBar, Presets } from 'cli-progress';

/** A progress bar on stderr (a line every few seconds when stderr is not a terminal). */
export interface Bar {
  update(value: number, payload?: Record<string, string | number>): void;
  setTotal(total: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number, opts: { unit?: string; fields?: string[] } = {}): Bar {
  const fields = (opts.fields ?? []).map((f) => ` ${f} {${f}}`).join('');
  if (!process.stderr.isTTY) {
    let last = 0;
    let tot = total;
    const started = Date.now();
    return {
      update(value, payload = {}) {
        const now = Date.now();
        if (now - last < 5000 && value < tot) return;
        last = now;
        const extra = Object.entries(payload)
          .map(([k, v]) => ` ${k}=${v}`)
          .join('');
        process.stderr.write(`${label}: ${value}/${tot}${opts.unit ? ` ${opts.unit}` : ''} (${((now - started) / 1000).toFixed(0)} s)${extra}\n`);
      },
      setTotal(t) {
        tot = t;
      },
      stop() {},
    };
  }
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {value}/{total}${opts.unit ? ` ${opts.unit}` : ''} | ETA {eta_formatted}${fields}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, Object.fromEntries((opts.fields ?? []).map((f) => [f, '-'])));
  return {
    update: (value, payload) => bar.update(value, payload),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  };
}
