/**
 * `rdc attack`: adaptive white-box attacks and the robust accuracy of a model, with a per-image log
 * that resumes, shards that `rdc merge` joins, a sweep over radii, the adaptive-attack sanity checks
 * and a Markdown report. Options: core's measuring options and the attacks' `AttackOptions`.
 */
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { formatRate, guardStatus, InputError, updateModelCardSection, type Classifier, type DefenseName, type MethodName, type ModelFolder } from '@rdc/core';
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
  type SanityCheck,
  type ThreatModel,
} from '@rdc/attacks';
import { attackLabels, ruleLabel, writeAttackReport } from '../report/attack-report.js';
import { sweepPoint, type SweepPoint } from '../report/sweep-table.js';
import { checkRecord, defenseOf, finish, openImages, openModel, runFolder, type Images } from '../util/command-steps.js';
import { measureOptions, readMeasureOptions } from '../util/measure-options.js';
import { progressBar } from '../util/progress.js';
import { commandLine, provenance } from '../util/provenance.js';
import { parseOptions, schemaOptions } from '../util/schema-options.js';

const SHAPE = { limit: 16, dc: [] } as const;

/** Every option of a run, parsed and checked. */
function readOptions(raw: Record<string, unknown>) {
  const o = { ...readMeasureOptions(raw, SHAPE), ...parseOptions(raw, AttackOptions) };
  checkRecord(o);
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
  o: Options & { defense: DefenseName },
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
    {},
    {
      robust: [
        {
          defense: o.defense,
          ...(o.defense === 'rdc' ? { method: method as MethodName } : {}),
          eps: o.eps ?? DEFAULT_EPS[o.norm],
          norm: o.norm,
          accuracy: w.worstCase.rate,
          ci95: w.worstCase.ci95,
          nullAttack: w.nullAttack.rate,
          rule: protocol.rule,
          protocol: o.protocol,
          images: summary.images,
        },
      ],
    },
  );
}

export function attackCommand() {
  const cmd = new Command('attack').description(
    'adaptive white-box attacks: clean and robust accuracy (per attack and worst case, with 95 % CIs) on the first N CIFAR-10 test images, a per-image log that resumes, and a Markdown report',
  );
  measureOptions(cmd, SHAPE);
  schemaOptions(cmd, AttackOptions);
  return cmd.action(async (raw: Record<string, unknown>) => {
    const given = readOptions(raw);
    const { model, engine, factory } = await openModel(given);
    const o = { ...given, defense: defenseOf(given, factory) };
    const { norm } = o;
    const eps = o.eps ?? DEFAULT_EPS[norm];
    const protocol = runProtocol(o);
    const method = o.method ?? model.config.lmMethod;
    const classifier = factory.get({ defense: o.defense, method, dc: { levels: protocol.levels }, gradient: o.gradient });
    const d = classifier.imageDims.reduce((a, b) => a * b, 1);
    if (norm === 'l2' && Math.max(eps, ...(o.sweep ?? [])) > Math.sqrt(d))
      throw new InputError(`--eps: an ℓ2 radius above √${d} = ${Math.sqrt(d).toFixed(1)} is larger than the whole pixel cube`);
    const images = openImages(o, model);
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
      selection: images.selection,
      seed: o.seed,
      classifier: classifier.settings,
    };
    // What rdc merge checks: every shard of a run shares these (the model by checksum, not path).
    const out = runFolder(o, `attack-${o.defense}-${o.protocol}`, 'attack', settings, images.shard);
    const run = (e: number, file: string, label: string, keep = 0) =>
      attackImages({ classifier, protocol, threat: { norm, eps: e }, images, seed: o.seed, log: new JsonlLog<ImageRecord>(join(out, file)), keep, label });
    const summary = await run(eps, 'images.jsonl', `attack ε=${eps.toFixed(4)}`, 4);
    let sweep: SweepPoint[] | undefined;
    if (sweepRadii) {
      sweep = [];
      for (const e of sweepRadii) {
        const s = e === eps ? summary : await run(e, `images-eps-${e.toFixed(6)}.jsonl`, `sweep ε=${e.toFixed(4)}`);
        sweep.push(sweepPoint(e, s.rules[protocol.rule]));
      }
    }
    const exactGradient = () => (classifier.defense === 'rdc' ? factory.get({ defense: 'dc', dc: { levels: protocol.levels } }) : classifier);
    const sanity = o.sanity
      ? await sanityChecks(o, { classifier, exactGradient: exactGradient(), protocol, threat: { norm, eps }, images, summary, sweep })
      : undefined;
    const command = commandLine();
    const { title, defenseLabel, threatLabel, protocolNote } = attackLabels(settings);
    const where = provenance({ engine: engine.info, seeds: { seed: o.seed } });
    await writeAttackReport(out, {
      title,
      summary,
      rule: protocol.rule,
      settings: { ...settings, shard: images.shard, ...where },
      threatLabel,
      imagesLabel: images.words,
      protocolNote,
      sweep,
      sanity,
      imageDims: classifier.imageDims,
      commandLine: command,
    });
    const { records: _records, adversarial: _adv, ...brief } = summary;
    const words = { defense: defenseLabel, threat: threatLabel, images: images.words };
    if (o.record) recordHeadline(model, o, protocol, summary, words, method, command);
    finish(
      o,
      model,
      { ...brief, guard: guardStatus(model.config), rule: protocol.rule, sweep, sanity, settings, shard: images.shard, ...where },
      summaryLines(o, summary, words, [
        ...(sanity ?? []).map((c) => `  ${c.passed ? 'ok  ' : 'WARN'} ${c.name}: ${c.detail}`),
        `report: ${join(out, 'report.md')}`,
      ]),
      out,
    );
  });
}

/** Attacks every image of a run at one radius (resuming its log), with a progress bar. */
async function attackImages(o: {
  classifier: Classifier;
  protocol: Protocol;
  threat: ThreatModel;
  images: Images;
  seed: number;
  log: JsonlLog<ImageRecord>;
  keep: number;
  label: string;
}): Promise<RobustSummary> {
  const { protocol, images } = o;
  const bar = progressBar(o.label, images.indices.length, { unit: 'images', fields: ['robust', 'now'] });
  let robust = 0;
  let done = 0;
  try {
    return await evaluateRobustness({
      classifier: o.classifier,
      attacks: buildAttacks(protocol),
      threat: o.threat,
      images: (p) => images.pixels(images.indices[p]),
      labels: images.indices.map(images.label),
      indices: images.indices,
      eot: protocol.eot,
      recheck: protocol.recheck,
      confirm: protocol.confirm,
      squareDraws: protocol.squareDraws,
      cascade: protocol.cascade ? protocol.rule : undefined,
      seed: o.seed,
      log: o.log,
      keepAdversarial: o.keep,
      onImage: (n, _total, rec) => {
        done = n;
        robust += isRobust(rec, protocol.attacks, protocol.rule) ? 1 : 0;
        bar.update(done, { robust: `${robust}/${done}`, now: '-' });
      },
      // A line at least every few seconds within an image too (a protocol like rand takes minutes per image).
      onIteration: (attack, i) => bar.update(done, { robust: `${robust}/${done}`, now: `${attack} iteration ${i}` }),
    });
  } finally {
    bar.stop();
  }
}

/** The adaptive-attack sanity checks on the first `--sanity-images` images. */
async function sanityChecks(
  o: Options,
  r: {
    classifier: Classifier;
    exactGradient: Classifier;
    protocol: Protocol;
    threat: ThreatModel;
    images: Images;
    summary: RobustSummary;
    sweep?: SweepPoint[];
  },
): Promise<SanityCheck[]> {
  const { protocol, images } = r;
  const k = Math.min(o.sanityImages, images.indices.length);
  const sub = r.summary.records.slice(0, k);
  const gradientNames = protocol.attacks.filter((a) => attackNeeds(a) === 'gradients');
  const gradRobust = sub.filter((x) => isClean(x, 'single') && gradientNames.every((a) => survives(x, a, 'single'))).length / k;
  const bar = progressBar('sanity', 5, { unit: 'checks' });
  let step = 0;
  try {
    return await runSanityChecks({
      classifier: r.classifier,
      exactGradient: r.exactGradient,
      threat: r.threat,
      attack: { iterations: protocol.iterations, restarts: 1, loss: protocol.attacks.includes('apgd-ce') ? 'ce' : 'dlr' },
      images: (p) => images.pixels(images.indices[p]),
      labels: images.indices.slice(0, k).map(images.label),
      indices: images.indices.slice(0, k),
      seed: o.seed + 1,
      gradientRobust: gradientNames.length ? gradRobust : undefined,
      sweep: k === images.indices.length ? r.sweep?.map((s) => ({ eps: s.eps, robust: s.robust })) : undefined,
      eot: protocol.eot,
      recheck: protocol.recheck,
      squareQueries: protocol.queries,
      onProgress: () => bar.update(++step),
    });
  } finally {
    bar.stop();
  }
}
