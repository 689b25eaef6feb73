import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { runtimeVersions, type EngineInfo } from '@rdc/core';
import { RDC_VERSION } from '../version.js';

let argv: string[] = process.argv;

/** Records the arguments `run` was called with (in-process calls have their own, not process.argv). */
export function setCommandLine(args: string[]): void {
  argv = args;
}

/** The command being run, as a user would type it: `rdc train --steps 10`. */
export function commandLine(): string {
  return ['rdc', ...argv.slice(2).map(shellWord)].join(' ');
}

/**
 * One argument as a POSIX shell reads it back: quoted when it holds anything but plain characters.
 * @example shellWord('CNN (noise-trained)=runs/cnn'); // "'CNN (noise-trained)=runs/cnn'"
 */
export function shellWord(a: string): string {
  return /^[\w./:=,+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

/**
 * Where a figure was measured, as cards say it.
 *
 * @example
 * engineLabel(engine.info); // 'ort (2 threads)'
 */
export function engineLabel(info: EngineInfo): string {
  return `${info.engine} (${info.threads} thread${info.threads === 1 ? '' : 's'})`;
}

/**
 * The git commit of the checkout (with '-dirty' when it has uncommitted changes), else $RDC_COMMIT
 * (set where there is no checkout, e.g. by the container image's build), else 'unknown'.
 */
function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return process.env.RDC_COMMIT || 'unknown';
  }
}

/** The code that made a result: the CLI's version and the commit (compared when shards are merged). */
export function codeVersion(): { version: string; commit: string } {
  return { version: RDC_VERSION, commit: gitCommit() };
}

/** What every JSON output records: commit, versions, engine, threads and seeds. */
export function provenance(extra: { engine?: EngineInfo; seeds?: Record<string, number> } = {}) {
  return {
    commit: gitCommit(),
    date: new Date().toISOString(),
    node: process.version,
    cores: availableParallelism(),
    versions: runtimeVersions(),
    engine: extra.engine,
    seeds: extra.seeds,
  };
}
