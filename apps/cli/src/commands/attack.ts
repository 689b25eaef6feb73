/**
 * `rdc attack`: adaptive white-box attacks and the robust accuracy of a model, with a per-image log
 * that resumes, shards that `rdc merge` joins, a sweep over radii, the adaptive-attack sanity checks
 * and a Markdown report. Options: core's measuring options and the attacks' `AttackOptions`.
 */
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import {
  ClassifierFactory,
  createEngine,
  formatRate,
  guardLabel,
  guardStatus,
  InputError,
  readModelFolder,
  resolveEngineChoice,
  updateModelCardSection,
  type ModelFolder,
} from '@rdc/core';
import {
  AttackOptions,
  attackNeeds,
  buildAttacks,
  DEFAULT_EPS,
  evaluateRobustness,
  isClean,
  isRobust,
  JsonlLog,
  protocolPreset,
  RECHECK_RULES,
  runSanityChecks,
  survives,
  type ImageRecord,
  type Protocol,
  type RobustSummary,
  type RunManifest,
} from '@rdc/attacks';
import { resolveDataDir } from '@rdc/train';
import { attackLabels, ruleLabel, writeAttackReport } from '../report/attack-report.js';
import { sweepPoint, type SweepPoint } from '../report/sweep-table.js';
import { measureOptions, readMeasureOptions } from '../util/measure-options.js';
import { humanOutput, writeJson } from '../util/output.js';
import { progressBar } from '../util/progress.js';
import { prepareRunFolder } from '../util/run-folder.js';
import { commandLine, provenance } from '../util/provenance.js';
import { parseOptions, schemaOptions } from '../util/schema-options.js';
import { asksForShard, imagesLabel, shardedSelection, shardFolder, splitImages } from '../util/shard-options.js';

const SHARED = { limit: 16, defense: 'rdc', dc: [] } as const;

/** Every option of a run, parsed and checked. */
function readOptions(raw: Record<string, unknown>) {
  const o = { ...readMeasureOptions(raw, SHARED), ...parseOptions(raw, AttackOptions) };
  if (o.record && o.split !== 'test') throw new InputError('--record reports test-set figures: drop --split val');
  if (o.record && asksForShard(o))
    throw new InputError('--record needs the whole selection: run it unsharded (rdc merge reports merged figures but does not record them)');
  return o;
}
type Options = ReturnType<typeof readOptions>;

/** The protocol of a run: the preset with the options given. */
function runProtocol(o: Options): Protocol {
  return protocolPreset(o.protocol, {
    attacks: o.attacks,
    iterations: o.iterations,
    restarts: o.restarts,
    queries: o.queries,
    eot: o.eot,
    recheck: o.recheck,
    rule: o.rule,
    confirm: o.confirm,
    squareDraws: o.squareDraws,
    levels: o.levels,
  });
}

/** The lines printed after a run: every rule side by side, the sanity checks, where the report is. */
function summaryLines(o: Options, summary: RobustSummary, labels: { defense: string; threat: string; images: string }, extra: string[]): string[] {
  const pct = (x: { rate: number; ci95: [number, number] }) =>
    `${(100 * x.rate).toFixed(1)} % [${(100 * x.ci95[0]).toFixed(1)}, ${(100 * x.ci95[1]).toFixed(1)}]`.padEnd(22);
  const row = (name: string, pick: (x: RobustSummary['rules']['single']) => { rate: number; ci95: [number, number] }) =>
    `  ${name.padEnd(12)} ${RECHECK_RULES.map((rule) => pct(pick(summary.rules[rule]))).join(' ')}`;
  return [
    `${labels.defense}, ${labels.threat}, protocol ${o.protocol}, ${labels.images}; ${summary.recheck} fresh re-checks per image, counted by`,
    `  ${''.padEnd(12)} ${RECHECK_RULES.map((r) => ruleLabel(r, summary.recheck).padEnd(22)).join(' ')}`,
    row('clean', (x) => x.clean),
    ...Object.keys(summary.attacks).map((n) => row(n, (x) => x.attacks[n])),
    row('worst case', (x) => x.worstCase),
    row('null attack', (x) => x.nullAttack),
    ...extra,
  ];
}

/** Writes the headline into the model card. */
function recordHeadline(
  model: ModelFolder,
  o: Options,
  protocol: Protocol,
  summary: RobustSummary,
  labels: { defense: string; threat: string; images: string },
  method: string,
  command: string,
) {
  const w = summary.rules[protocol.rule];
  const f = (x: { rate: number; ci95: [number, number] }) => formatRate({ rate: x.rate, low: x.ci95[0], high: x.ci95[1] });
  updateModelCardSection(
    model.dir,
    `attack-${o.defense}${o.defense === 'rdc' ? `-${method}` : ''}`,
    `- **${labels.defense}** under attack (${labels.threat}, protocol ${o.protocol}: ${protocol.attacks.join(', ')}, ${protocol.iterations} iterations, EOT ${protocol.eot}, ${protocol.levels} σ levels; ${labels.images}; re-check rule ${ruleLabel(protocol.rule, summary.recheck)}): clean ${f(w.clean)}, **worst case ${f(w.worstCase)}**, null attack ${f(w.nullAttack)} (95 % CIs). Command: \`${command}\``,
  );
}

export function attackCommand() {
  const cmd = new Command('attack').description(
    'adaptive white-box attacks: clean and robust accuracy (per attack and worst case, with 95 % CIs) on the first N CIFAR-10 test images, a per-image log that resumes, and a Markdown report',
  );
  measureOptions(cmd, SHARED);
  schemaOptions(cmd, AttackOptions);
  return cmd.action(async (raw: Record<string, unknown>) => {
    const o = readOptions(raw);
    const model = readModelFolder(o.model);
    const norm = o.norm;
    const eps = o.eps ?? DEFAULT_EPS[norm];
    const protocol = runProtocol(o);
    const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device, precision: o.precision });
    const method = o.method ?? model.config.lmMethod;
    const factory = new ClassifierFactory(model, engine);
    const classifier = factory.get({ defense: o.defense, method, dc: { levels: protocol.levels }, gradient: o.gradient });
    const exactGradient = classifier.defense === 'rdc' ? factory.get({ defense: 'dc', dc: { levels: protocol.levels } }) : classifier;
    const d = classifier.imageDims.reduce((a, b) => a * b, 1);
    if (norm === 'l2' && Math.max(eps, ...(o.sweep ?? [])) > Math.sqrt(d))
      throw new InputError(`--eps: an ℓ2 radius above √${d} = ${Math.sqrt(d).toFixed(1)} is larger than the whole pixel cube`);
    // Positions in the split (for the validation split, positions in its list of training images).
    const { data, size, at } = splitImages(o, model.config, resolveDataDir(o.dataDir));
    const { selection, shard, indices, label: selected } = shardedSelection(o, size);
    const imagesWords = imagesLabel(selected, o.split);
    const labels = indices.map((i) => data.labels[at(i)]);
    const images = (p: number) => data.pixels([at(indices[p])]);
    if (shard && !o.out)
      throw new InputError('a sharded run needs --out DIR, the same for every shard (each writes DIR/shard-I-of-N; rdc merge DIR joins them)');
    const base = o.out ?? join('runs', `attack-${o.defense}-${o.protocol}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const out = shard ? join(base, shardFolder(shard)) : base;
    const sweepRadii = o.sweep ? [...new Set([...o.sweep, eps])].sort((a, b) => a - b) : undefined;
    const settings = {
      model: model.dir,
      modelSha256: model.config.files['model.safetensors'].sha256,
      defense: o.defense,
      method: o.defense === 'rdc' ? method : undefined,
      gradient: o.defense === 'rdc' ? o.gradient : 'exact',
      protocol,
      threat: { norm, eps },
      sweep: sweepRadii,
      split: o.split,
      selection,
      seed: o.seed,
      classifier: classifier.settings,
    };
    // What rdc merge checks: every shard of a run shares these (the model by checksum, not path).
    prepareRunFolder(out, 'attack', settings, shard);

    const run = async (e: number, file: string, label: string, keep = 0): Promise<RobustSummary> => {
      const bar = progressBar(label, indices.length, { unit: 'images', fields: ['robust'] });
      let robust = 0;
      try {
        return await evaluateRobustness({
          classifier,
          attacks: buildAttacks(protocol),
          threat: { norm, eps: e },
          images,
          labels,
          indices,
          eot: protocol.eot,
          recheck: protocol.recheck,
          confirm: protocol.confirm,
          squareDraws: protocol.squareDraws,
          seed: o.seed,
          log: new JsonlLog<ImageRecord>(join(out, file)),
          keepAdversarial: keep,
          onImage: (done, _total, rec) => {
            robust += isRobust(rec, protocol.attacks, protocol.rule) ? 1 : 0;
            bar.update(done, { robust: `${robust}/${done}` });
          },
        });
      } finally {
        bar.stop();
      }
    };

    const summary = await run(eps, 'images.jsonl', `attack ε=${eps.toFixed(4)}`, 4);
    let sweep: SweepPoint[] | undefined;
    if (sweepRadii) {
      sweep = [];
      for (const e of sweepRadii) {
        const s = e === eps ? summary : await run(e, `images-eps-${e.toFixed(6)}.jsonl`, `sweep ε=${e.toFixed(4)}`);
        sweep.push(sweepPoint(e, s.rules[protocol.rule]));
      }
    }
    let sanity;
    if (o.sanity) {
      const k = Math.min(o.sanityImages, indices.length);
      const sub = summary.records.slice(0, k);
      const gradientNames = protocol.attacks.filter((a) => attackNeeds(a) === 'gradients');
      const gradRobust = sub.filter((r) => isClean(r, 'single') && gradientNames.every((a) => survives(r, a, 'single'))).length / k;
      const bar = progressBar('sanity', 5, { unit: 'checks' });
      let step = 0;
      sanity = await runSanityChecks({
        classifier,
        exactGradient,
        threat: { norm, eps },
        attack: { iterations: protocol.iterations, restarts: 1, loss: protocol.attacks.includes('apgd-ce') ? 'ce' : 'dlr' },
        images,
        labels: labels.slice(0, k),
        indices: indices.slice(0, k),
        seed: o.seed + 1,
        gradientRobust: gradientNames.length ? gradRobust : undefined,
        sweep: k === indices.length ? sweep?.map((s) => ({ eps: s.eps, robust: s.robust })) : undefined,
        eot: protocol.eot,
        recheck: protocol.recheck,
        squareQueries: protocol.queries,
        onProgress: () => bar.update(++step),
      });
      bar.stop();
    }
    const command = commandLine();
    const { title, defenseLabel, threatLabel, protocolNote } = attackLabels(settings);
    await writeAttackReport(out, {
      title,
      summary,
      rule: protocol.rule,
      settings: { ...settings, shard, ...provenance({ engine: engine.info, seeds: { seed: o.seed } }) },
      threatLabel,
      imagesLabel: imagesWords,
      protocolNote,
      sweep,
      sanity,
      imageDims: classifier.imageDims,
      commandLine: command,
    });
    const { records: _records, adversarial: _adv, ...brief } = summary;
    const result = {
      ...brief,
      guard: guardStatus(model.config),
      rule: protocol.rule,
      sweep,
      sanity,
      settings,
      shard,
      ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
    };
    writeJson(join(out, 'report.json'), result);
    if (o.json) writeJson(o.json, result);
    const words = { defense: defenseLabel, threat: threatLabel, images: imagesWords };
    if (o.record) recordHeadline(model, o, protocol, summary, words, method, command);
    const modelLabel = guardLabel(model.config);
    humanOutput(o.json).write(
      [
        ...(modelLabel ? [`${o.model}: ${modelLabel}`] : []),
        ...summaryLines(o, summary, words, [
          ...(sanity ?? []).map((c) => `  ${c.passed ? 'ok  ' : 'WARN'} ${c.name}: ${c.detail}`),
          `report: ${join(out, 'report.md')}`,
        ]),
        '',
      ].join('\n'),
    );
  });
}
