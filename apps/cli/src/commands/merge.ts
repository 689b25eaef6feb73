import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { formatRate, InputError, wilson } from '@rdc/core';
import {
  checkShards,
  decodePixels,
  expectedIndices,
  JsonlLog,
  mergeRecords,
  summarize,
  type ImageRecord,
  type Protocol,
  type RecheckRule,
  type RunManifest,
} from '@rdc/attacks';
import { loadCifar10, resolveDataDir } from '@rdc/train';
import { attackLabels, writeAttackReport } from '../report/attack-report.js';
import { writeCertifyReport, type CertifyRecord } from '../report/certify-report.js';
import { sweepPoint } from '../report/sweep-table.js';
import { readShared, sharedOptions } from '../util/schema-options.js';
import { imagesLabel } from '../util/shard-options.js';
import { writeJson } from '../util/output.js';
import { commandLine, provenance } from '../util/provenance.js';

interface Part {
  path: string;
  manifest: RunManifest;
}

/** Shard folders (with manifest.json) and eval JSON files under the given paths. */
function findParts(paths: string[]): Part[] {
  const out: Part[] = [];
  const readManifest = (file: string): RunManifest => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as RunManifest;
    } catch (err) {
      throw new InputError(`${file}: not readable JSON (${(err as Error).message})`);
    }
  };
  const evalFile = (file: string): Part | null => {
    let json: { manifest?: RunManifest };
    try {
      json = JSON.parse(readFileSync(file, 'utf8')) as { manifest?: RunManifest };
    } catch {
      return null;
    }
    return json.manifest?.kind === 'eval' ? { path: file, manifest: json.manifest } : null;
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new InputError(`${p} does not exist`);
    if (statSync(p).isFile()) {
      const part = evalFile(p);
      if (!part) throw new InputError(`${p} is not the JSON of an rdc eval run (no manifest of kind eval)`);
      out.push(part);
    } else if (existsSync(join(p, 'manifest.json'))) {
      out.push({ path: p, manifest: readManifest(join(p, 'manifest.json')) });
    } else {
      const found: Part[] = [];
      for (const name of readdirSync(p).sort()) {
        const q = join(p, name);
        if (statSync(q).isDirectory() && existsSync(join(q, 'manifest.json'))) found.push({ path: q, manifest: readManifest(join(q, 'manifest.json')) });
        else if (name.endsWith('.json') && statSync(q).isFile()) {
          const part = evalFile(q);
          if (part) found.push(part);
        }
      }
      if (!found.length) throw new InputError(`${p} holds no shard folders (with manifest.json) and no rdc eval JSON files`);
      out.push(...found);
    }
  }
  return out;
}

/** A record as compared between shards: without timings and kept examples. */
const withoutTimes = (r: ImageRecord) =>
  JSON.stringify({
    ...r,
    seconds: 0,
    examples: undefined,
    attacks: Object.fromEntries(Object.entries(r.attacks).map(([k, a]) => [k, a && { ...a, seconds: 0 }])),
  });

/** `rdc merge`: one report from the shards of an `rdc attack` or `rdc eval` run. */
export function mergeCommand() {
  const cmd = new Command('merge')
    .description(
      'merge the shards of a sharded rdc attack or rdc certify run (its --out folder, or shard folders) or rdc eval run (its --json files): one report with CIs, the ε plot and the example grid; refuses shards of other settings, models or code, reports missing and duplicated images (re-run it as shards finish)',
    )
    .argument('<paths...>', 'shard folders, folders holding them, or eval JSON files')
    .option('--out <dir>', 'report folder for an attack merge (default: DIR/merged when one folder is given)');
  sharedOptions(cmd, ['data', 'json']);
  return cmd.action(async (paths, o) => {
    const shared = readShared(o);
    const parts = findParts(paths);
    checkShards(parts);
    const m = parts[0].manifest;
    const shards = parts.map((p) => ({ path: p.path, shard: p.manifest.shard }));
    const count = m.shard?.count ?? 1;
    const shardsSeen = new Set(parts.map((p) => p.manifest.shard?.index ?? 1));
    const absentShards = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !shardsSeen.has(i));

    const ctx: MergeContext = { parts, m, shards, absentShards, json: shared.json };
    const out = o.out ?? (paths.length === 1 && !existsSync(join(paths[0], 'manifest.json')) ? join(paths[0], 'merged') : undefined);
    if (m.kind === 'eval') mergeEval(ctx);
    else if (m.kind === 'certify') await mergeCertify(ctx, out);
    else await mergeAttack(ctx, out, shared.dataDir);
  });
}

/** What every merge has: the parts, the first one's manifest, where each shard came from, the shards not seen, --json. */
interface MergeContext {
  parts: Part[];
  m: RunManifest;
  shards: { path: string; shard: RunManifest['shard'] }[];
  absentShards: number[];
  json?: string;
}

/** One accuracy from the --json files of a sharded rdc eval. */
function mergeEval({ parts, m, absentShards, shards, json }: MergeContext): void {
  const recordsOf = (p: Part) => (JSON.parse(readFileSync(p.path, 'utf8')) as { records: { index: number; label: number; prediction: number }[] }).records;
  const merged = mergeRecords(
    parts.map((p) => ({ path: p.path, records: recordsOf(p) })),
    expectedIndices(m),
    (a, b) => a.prediction === b.prediction && a.label === b.label,
  );
  const correct = merged.records.filter((r) => r.prediction === r.label).length;
  const acc = wilson(correct, merged.records.length);
  const partial = merged.missing.length > 0;
  const result = {
    kind: 'eval',
    partial,
    images: merged.records.length,
    expected: merged.records.length + merged.missing.length,
    correct,
    accuracy: acc.rate,
    ci95: [acc.low, acc.high],
    missing: merged.missing,
    duplicated: merged.duplicated,
    absentShards,
    shards,
    settings: m.settings,
    selection: m.selection,
    code: m.code,
    records: merged.records,
    ...provenance(),
  };
  process.stdout.write(
    `${partial ? 'PARTIAL: ' : ''}${String(m.settings.defense)}: ${formatRate(acc)} on ${merged.records.length} of ${result.expected} images from ${parts.length} shard file(s)` +
      `${merged.missing.length ? `; missing ${merged.missing.length} (${merged.missing.slice(0, 10).join(', ')}${merged.missing.length > 10 ? ', …' : ''})` : ''}` +
      `${merged.duplicated.length ? `; ${merged.duplicated.length} duplicated` : ''}\n`,
  );
  if (json) writeJson(json, result);
}

/** One report from the shard folders of an rdc attack run: the report rdc attack writes, marked PARTIAL while shards are missing. */
async function mergeAttack({ parts, m, shards, absentShards, json }: MergeContext, out: string | undefined, dataDir: string | undefined): Promise<void> {
  const count = m.shard?.count ?? 1;
  if (!out) throw new InputError('name the report folder with --out DIR (or pass the one folder that holds the shards)');
  if (parts.some((p) => resolve(p.path) === resolve(out))) throw new InputError(`--out ${out} is one of the shards`);
  mkdirSync(out, { recursive: true });
  const settings = m.settings as {
    protocol: Protocol;
    threat: { norm: string; eps: number };
    sweep?: number[];
    split?: 'test' | 'val';
    defense: string;
    method?: string;
    gradient: string;
  };
  const protocol = settings.protocol;
  const expected = expectedIndices(m);
  const mergeLog = (file: string) =>
    mergeRecords(
      parts.map((p) => ({ path: p.path, records: [...new JsonlLog<ImageRecord>(join(p.path, file)).read({ readOnly: true }).values()] })),
      expected,
      (a, b) => withoutTimes(a) === withoutTimes(b),
    );
  const main = mergeLog('images.jsonl');
  writeFileSync(join(out, 'images.jsonl'), main.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const summary = summarize(main.records, protocol.attacks, protocol.recheck);

  // The example grid: the first images that carry adversarial examples, with their clean pixels.
  let adversarial: { index: number; label: number; clean: Float32Array; adv: Record<string, Float32Array> }[] = [];
  const withExamples = settings.split === 'val' ? [] : main.records.filter((r) => r.examples).slice(0, 4);
  if (withExamples.length) {
    try {
      const test = loadCifar10(resolveDataDir(dataDir), 'test', { limit: Math.max(...withExamples.map((r) => r.index)) + 1 });
      adversarial = withExamples.map((r) => ({
        index: r.index,
        label: r.label,
        clean: test.pixels([r.index]).data,
        adv: Object.fromEntries(Object.entries(r.examples!).map(([a, s]) => [a, decodePixels(s)])),
      }));
    } catch (err) {
      process.stderr.write(`no example grid: ${(err as Error).message}\n`);
    }
  }

  const rule = protocol.rule as RecheckRule;
  const sweep = settings.sweep?.map((e) => {
    const s = e === settings.threat.eps ? summary : summarize(mergeLog(`images-eps-${e.toFixed(6)}.jsonl`).records, protocol.attacks, protocol.recheck);
    return { ...sweepPoint(e, s.rules[rule]), images: s.images };
  });
  const partial = main.missing.length > 0 || (sweep ?? []).some((s) => s.images < expected.length);
  const { title, threatLabel, protocolNote } = attackLabels(settings);
  const sel = m.selection;
  const notes = [
    `Merged from ${parts.length} shard${parts.length === 1 ? '' : 's'} of ${count} (${shards.map((s) => basename(s.path)).join(', ')}); code ${m.code.version} at ${m.code.commit}.`,
    ...(partial
      ? [
          `**PARTIAL: ${main.records.length} of ${expected.length} images.** Missing: ${main.missing.slice(0, 20).join(', ')}${main.missing.length > 20 ? ', …' : ''}${absentShards.length ? ` (no output yet from shard${absentShards.length === 1 ? '' : 's'} ${absentShards.join(', ')})` : ''}. Re-run \`rdc merge\` when the shards finish.`,
        ]
      : []),
    ...(main.duplicated.length
      ? [
          `Duplicated images (held by two shards; the first is counted): ${main.duplicated.map((d) => `${d.index}${d.identical ? '' : ' (records differ)'}`).join(', ')}.`,
        ]
      : []),
  ];
  await writeAttackReport(out, {
    title: `${partial ? 'PARTIAL — ' : ''}${title}`,
    summary: { ...summary, records: main.records, adversarial },
    rule,
    settings: { ...settings, selection: sel, code: m.code },
    threatLabel,
    imagesLabel: imagesLabel(sel, settings.split),
    notes,
    protocolNote,
    sweep,
    imageDims: [3, 32, 32], // CIFAR-10, as rdc attack reads it
    commandLine: commandLine(),
  });
  const result = {
    kind: 'attack',
    partial,
    expected: expected.length,
    missing: main.missing,
    duplicated: main.duplicated,
    absentShards,
    shards,
    ...summary,
    rule,
    sweep,
    settings: m.settings,
    selection: sel,
    code: m.code,
    ...provenance(),
  };
  writeJson(join(out, 'report.json'), result);
  if (json) writeJson(json, result);
  const w = summary.rules[rule];
  process.stdout.write(
    `${partial ? 'PARTIAL: ' : ''}${main.records.length} of ${expected.length} images from ${parts.length} shard(s); worst case ${formatRate({ rate: w.worstCase.rate, low: w.worstCase.ci95[0], high: w.worstCase.ci95[1] })} (${rule} rule), null attack ${formatRate({ rate: w.nullAttack.rate, low: w.nullAttack.ci95[0], high: w.nullAttack.ci95[1] })}; report: ${join(out, 'report.md')}\n`,
  );
}

/** Joins the shards of an rdc certify run into one report (the same report rdc certify writes). */
async function mergeCertify({ parts, m, shards, absentShards, json }: MergeContext, out: string | undefined): Promise<void> {
  if (!out) throw new InputError('name the report folder with --out DIR (or pass the one folder that holds the shards)');
  if (parts.some((p) => resolve(p.path) === resolve(out))) throw new InputError(`--out ${out} is one of the shards`);
  mkdirSync(out, { recursive: true });
  const merged = mergeRecords(
    parts.map((p) => ({ path: p.path, records: [...new JsonlLog<CertifyRecord>(join(p.path, 'images.jsonl')).read({ readOnly: true }).values()] })),
    expectedIndices(m),
    (a, b) => a.prediction === b.prediction && a.nA === b.nA && a.radius === b.radius,
  );
  writeFileSync(join(out, 'images.jsonl'), merged.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const partial = merged.missing.length > 0;
  const sel = m.selection;
  const settings = m.settings as Parameters<typeof writeCertifyReport>[1]['settings'];
  const { summary, report } = await writeCertifyReport(out, {
    records: merged.records,
    settings: { ...settings, selection: sel },
    imagesLabel: imagesLabel(sel, settings.split),
    commandLine: commandLine(),
    notes: [
      `Merged from ${parts.length} shard${parts.length === 1 ? '' : 's'}; code ${m.code.version} at ${m.code.commit}.`,
      ...(partial
        ? [`**PARTIAL: ${merged.records.length} of ${merged.records.length + merged.missing.length} images.** Re-run \`rdc merge\` when the shards finish.`]
        : []),
    ],
    extra: { partial, missing: merged.missing, duplicated: merged.duplicated, absentShards, shards, code: m.code, ...provenance() },
  });
  if (json) writeJson(json, report);
  const at = (r: number) => summary.certified.find((p) => p.radius === r)!;
  process.stdout.write(
    `${partial ? 'PARTIAL: ' : ''}${merged.records.length} images from ${parts.length} shard(s); certified at radius 0: ${formatRate({ rate: at(0).accuracy, low: at(0).ci95[0], high: at(0).ci95[1] })}, at 0.5: ${formatRate({ rate: at(0.5).accuracy, low: at(0.5).ci95[0], high: at(0.5).ci95[1] })}; report: ${join(out, 'report.md')}\n`,
  );
}
