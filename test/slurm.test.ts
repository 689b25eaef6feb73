import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { data, rdcCapture, tmp } from './helpers.js';

/**
 * The Slurm array scripts on a real Slurm cluster: a private single-node cluster (slurmctld, slurmd
 * and munged with their own configuration, key, state and logs under a temporary folder, on free
 * ports) runs deploy/slurm/attack-array.sh and certify-array.sh as `sbatch` arrays; `rdc merge`
 * must give what one process gives, a task cancelled with `scancel` must resume its shard when its
 * index is resubmitted alone. Without RDC_SLURM=1 the tests skip where Slurm is not installed; with
 * it a missing Slurm is a failure (CI installs Debian's packages).
 */
const root = resolve(import.meta.dirname, '..');
const tools = ['slurmctld', 'slurmd', 'munged', 'sbatch', 'squeue', 'scancel', 'sinfo'];
const which = (t: string) => {
  try {
    return execFileSync('sh', ['-c', `command -v ${t} || ls /usr/sbin/${t}`], { stdio: 'pipe' })
      .toString()
      .trim()
      .split('\n')[0];
  } catch {
    return null;
  }
};
const missing = tools.filter((t) => !which(t));
if (missing.length && process.env.RDC_SLURM === '1')
  throw new Error(
    `RDC_SLURM=1 but Slurm is not installed (missing ${missing.join(', ')}): apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge`,
  );
if (missing.length) process.stderr.write(`skipping the Slurm tests: ${missing.join(', ')} not installed (set RDC_SLURM=1 to require them)\n`);

const dir = tmp('rdc-slurm-');
const daemons: ChildProcess[] = [];
let env: NodeJS.ProcessEnv;

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a Slurm client command against the private cluster. */
const slurm = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { cwd: root, env, stdio: 'pipe' }).toString();

/** The run an array must equal: the same command in one process, seed 0, one thread, into `out`. */
async function oneProcess(out: string, ...args: string[]): Promise<void> {
  const r = await rdcCapture(...args, '--seed', '0', '--threads', '1', '--out', out);
  expect(r.code, r.stderr).toBe(0);
}

async function until(what: string, test: () => boolean, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out after ${seconds} s waiting for ${what}\n${logs()}`);
    await sleep(250);
  }
}

function logs(): string {
  return ['slurmctld.log', 'slurmd.log']
    .map((f) => join(dir, 'log', f))
    .filter(existsSync)
    .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
    .join('\n');
}

/** Submits an array script with settings in the environment; returns the job id. */
function submit(script: string, array: string, settings: Record<string, string>): string {
  const out = execFileSync(
    which('sbatch')!,
    ['--parsable', `--array=${array}`, '--cpus-per-task=1', '--mem=1G', `--output=${join(dir, 'log', '%x-%A_%a.out')}`, `deploy/slurm/${script}`],
    {
      cwd: root,
      env: { ...env, ...settings },
      stdio: 'pipe',
    },
  );
  return out.toString().trim().split(';')[0];
}

const running = (job: string) => slurm('squeue', '-h', '-j', job, '-o', '%i').trim() !== '';
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
/** A per-image record without its timing and kept examples (the same image gives the same record in any process; each shard keeps its own first images' adversarial examples). */
const record = (line: string) => {
  const { seconds: _s, examples: _e, ...rest } = JSON.parse(line);
  if (rest.attacks) for (const a of Object.values(rest.attacks) as ({ seconds?: number } | null)[]) if (a) delete a.seconds;
  return rest;
};
const byIndex = (file: string) => Object.fromEntries(lines(file).map((l) => [JSON.parse(l).index, record(l)]));

describe.skipIf(missing.length > 0 || !data)('Slurm arrays on a private single-node cluster', () => {
  beforeAll(async () => {
    for (const d of ['state', 'spool', 'log', 'munge']) mkdirSync(join(dir, d), { recursive: true });
    const key = join(dir, 'munge', 'munge.key');
    writeFileSync(key, randomBytes(1024));
    chmodSync(key, 0o400);
    const socket = join(dir, 'munge', 'munge.sock');
    const [ctldPort, dPort] = [await freePort(), await freePort()];
    const conf = join(dir, 'slurm.conf');
    writeFileSync(
      conf,
      [
        'ClusterName=rdctest',
        `SlurmctldHost=${hostname()}`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${dPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${join(dir, 'state')}`,
        `SlurmdSpoolDir=${join(dir, 'spool')}`,
        `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
        `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
        `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
        `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU_Memory',
        'MpiDefault=none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'ReturnToService=2',
        'SchedulerParameters=sched_interval=1',
        `NodeName=${hostname()} CPUs=${cpus().length} RealMemory=${Math.floor(totalmem() / 2 ** 20) - 512} State=UNKNOWN`,
        'PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
      ].join('\n') + '\n',
    );
    env = { ...process.env, SLURM_CONF: conf, RDC_DATA_DIR: data! };
    const start = (cmd: string, args: string[]) => {
      const p = spawn(which(cmd)!, args, { env, stdio: 'ignore', detached: true });
      daemons.push(p);
    };
    start('munged', [
      '-F',
      '-f',
      `--key-file=${key}`,
      `--socket=${socket}`,
      `--pid-file=${join(dir, 'munge', 'munged.pid')}`,
      `--log-file=${join(dir, 'log', 'munged.log')}`,
      `--seed-file=${join(dir, 'munge', 'seed')}`,
    ]);
    await until('munged', () => existsSync(socket), 10);
    start('slurmctld', ['-D', '-f', conf]);
    await sleep(500);
    start('slurmd', ['-D', '-f', conf]);
    await until(
      'the node to be idle',
      () => {
        try {
          return slurm('sinfo', '-h', '-o', '%T').trim() === 'idle';
        } catch {
          return false;
        }
      },
      30,
    );
  }, 60_000);

  afterAll(async () => {
    // The daemons stop whatever happened (their process groups: slurmd's job steps too).
    for (const p of daemons.reverse()) {
      try {
        process.kill(-p.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    await sleep(500);
    for (const p of daemons) {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });

  const attackSettings = { MODEL: 'models/cnn', DEFENSE: 'none', PROTOCOL: 'quick', RANGE: '0:24' };

  it('an attack array of 3 shards, merged, gives the per-image results and figures of one process', async () => {
    const out = join(dir, 'attack');
    const t0 = performance.now();
    const job = submit('attack-array.sh', '0-2', { ...attackSettings, OUT: out });
    await until(`job ${job}`, () => !running(job), 600);
    const arraySeconds = (performance.now() - t0) / 1000;
    expect(readFileSync(join(out, 'slurm-layout.env'), 'utf8')).toMatch(/^SHARDS=3\nkind=attack\nMODEL=models\/cnn\n/);
    const merged = await rdcCapture('merge', out);
    expect(merged.code, merged.stderr).toBe(0);
    const t1 = performance.now();
    const single = join(dir, 'attack-single');
    await oneProcess(single, 'attack', '--model', join(root, 'models/cnn'), '--defense', 'none', '--protocol', 'quick', '--range', '0:24');
    const singleSeconds = (performance.now() - t1) / 1000;
    process.stderr.write(`slurm: the 3-task attack array took ${arraySeconds.toFixed(1)} s from sbatch to done; one process ${singleSeconds.toFixed(1)} s\n`);
    const a = byIndex(join(out, 'merged', 'images.jsonl'));
    const b = byIndex(join(single, 'images.jsonl'));
    expect(Object.keys(a).length).toBe(24);
    expect(a).toEqual(b);
    const figures = (f: string) => {
      const { clean, worstCase, nullAttack, attacks, rules } = JSON.parse(readFileSync(f, 'utf8'));
      expect(clean.total).toBe(24);
      return { clean, worstCase, nullAttack, attacks, rules };
    };
    expect(figures(join(out, 'merged', 'report.json'))).toEqual(figures(join(single, 'report.json')));
  }, 900_000);

  it('a task cancelled with scancel resumes its shard when its index is resubmitted alone; no image twice, none missing', async () => {
    const out = join(dir, 'resume');
    // Full budgets (no early stop): a few seconds per image, so the cancel lands inside a shard.
    const settings = { ...attackSettings, OUT: out, RDC_ARGS: '--iterations 300 --confirm 0' };
    const job = submit('attack-array.sh', '0-2', settings);
    const shard2 = join(out, 'shard-002-of-003', 'images.jsonl');
    await until('shard 2 to write its first record', () => lines(shard2).length >= 1, 600);
    slurm('scancel', `${job}_1`);
    await until(`task ${job}_1 to stop`, () => slurm('squeue', '-h', '-j', `${job}_1`, '-o', '%i').trim() === '', 60);
    const before = lines(shard2);
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before.length).toBeLessThan(8);
    // A lone index, resubmitted: it reads the layout (3 shards) from OUT, not its own array size of 1.
    const again = submit('attack-array.sh', '1', settings);
    await until(`jobs ${job} and ${again}`, () => !running(job) && !running(again), 900);
    const after = lines(shard2);
    // The records written before the cancel are kept as they were (not recomputed).
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBe(8);
    const merged = await rdcCapture('merge', out);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout + merged.stderr).not.toMatch(/PARTIAL|missing|twice|duplicate/i);
    const indices = lines(join(out, 'merged', 'images.jsonl')).map((l) => JSON.parse(l).index);
    expect([...indices].sort((x, y) => x - y)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    // Other settings under the same OUT are refused, and the layout is not overwritten.
    const layout = readFileSync(join(out, 'slurm-layout.env'), 'utf8');
    const wrong = submit('attack-array.sh', '0', { ...settings, PROTOCOL: 'strong' });
    await until(`job ${wrong}`, () => !running(wrong), 120);
    expect(readFileSync(join(dir, 'log', `rdc-attack-${wrong}_0.out`), 'utf8')).toMatch(
      /records this run with other settings[\s\S]*PROTOCOL=quick[\s\S]*PROTOCOL=strong/,
    );
    expect(readFileSync(join(out, 'slurm-layout.env'), 'utf8')).toBe(layout);
  }, 1_200_000);

  it('a certify array of 3 shards, merged, gives the certificates of one process', async () => {
    const out = join(dir, 'certify');
    const settings = { MODEL: 'models/cnn-noise', BASE: 'none', SIGMA: '0.25', N0: '10', N: '100', RANGE: '0:12', OUT: out };
    const job = submit('certify-array.sh', '0-2', settings);
    await until(`job ${job}`, () => !running(job), 600);
    const merged = await rdcCapture('merge', out);
    expect(merged.code, merged.stderr).toBe(0);
    const single = join(dir, 'certify-single');
    await oneProcess(
      single,
      'certify',
      '--model',
      join(root, 'models/cnn-noise'),
      '--base',
      'none',
      '--sigma',
      '0.25',
      '--n0',
      '10',
      '--n',
      '100',
      '--range',
      '0:12',
    );
    const a = byIndex(join(out, 'merged', 'images.jsonl'));
    expect(Object.keys(a).length).toBe(12);
    expect(a).toEqual(byIndex(join(single, 'images.jsonl')));
  }, 900_000);
});
