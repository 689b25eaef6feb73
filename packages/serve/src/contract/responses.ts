/**
 * What the API answers: the zod schemas of every response (the OpenAPI document is generated from
 * them and the tests validate real answers against it), their vocabularies taken from the
 * declarations in core and the attacks package, and the error answers every route may give.
 *
 * @example
 * responses: { 200: jsonResponse(ClassifyResult, 'the prediction'), ...ERRORS }
 */
import { z } from '@hono/zod-openapi';
import {
  CertifiedFigure,
  CertifyStage,
  DefenseName,
  GuardStatus,
  MAX_SEED,
  MethodName,
  NetworkArch,
  NormName,
  RobustFigure,
  SmoothingBaseName,
  WeightingName,
} from '@rdc/core/runtime';
import { AttackVerdict, CertifiedVerdict, OneImageAttack, OneImageRule } from '@rdc/attacks';

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi('Error');

export const CertifyResult = z
  .object({
    model: z.string(),
    prediction: z.number().int().openapi({ description: 'the certified class; −1: abstained' }),
    label: z.string().nullable().openapi({ description: "the certified class's name (null on abstention)" }),
    radius: z.number().openapi({
      description: 'ℓ2 radius (pixel units) within which no perturbation changes the smoothed answer, except with probability alpha; 0 on abstention',
    }),
    pALower: z.number(),
    nA: z.number().int(),
    n: z.number().int(),
    n0: z.number().int(),
    sigma: z.number(),
    alpha: z.number(),
    base: SmoothingBaseName,
    levels: z.number().int().nullable(),
    seed: z.number().int(),
    trueLabel: z.string().nullable().openapi({ description: 'the true class the request gave (null: none)' }),
    certified: CertifiedVerdict.describe(
      'certified-right, certified-wrong (an error: a wrong answer certified), abstained; without a true label: certified or abstained',
    ),
    timings: z.object({ decodeMs: z.number(), queueMs: z.number(), certifyMs: z.number(), totalMs: z.number() }),
  })
  .openapi('CertifyResult');
export type CertifyResult = z.infer<typeof CertifyResult>;

/** One server-sent `progress` event of `POST /v1/certify`: after each batch of noisy draws. */
export const CertifyProgress = z
  .object({
    stage: CertifyStage.describe('select: the N0 draws that pick the class; estimate: the N draws that bound its probability'),
    done: z.number().int(),
    total: z.number().int(),
    counts: z.array(z.number().int()).openapi({ description: "this stage's draws so far, per class" }),
  })
  .openapi('CertifyProgress');
export type CertifyProgress = z.infer<typeof CertifyProgress>;

/** An answer from k fresh draws: the most frequent class with its mean probability, and each draw's class. */
export const DrawnTop = z
  .object({
    top: z.object({ index: z.number().int(), label: z.string(), probability: z.number() }),
    draws: z.array(z.number().int()).openapi({ description: "each fresh draw's class" }),
    seeds: z
      .array(z.number().int())
      .openapi({ description: "each draw's seed: /v1/classify with that seed on the same image (for `attacked`, the returned PNG) gives that draw's class" }),
  })
  .openapi('DrawnTop');

export const AttackResult = z
  .object({
    model: z.string(),
    defense: DefenseName,
    options: z.object({
      norm: NormName,
      eps: z.number(),
      attack: OneImageAttack,
      iterations: z.number().int(),
      levels: z.number().int().nullable(),
      eot: z.number().int(),
      recheck: z.number().int(),
      rule: OneImageRule,
      seed: z.number().int(),
    }),
    input: z.string().openapi({ description: 'the input as attacked (PNG data URL, 8-bit): distances are measured from it' }),
    adversarial: z.object({
      image: z.string().openapi({ description: 'the adversarial image (PNG data URL, 8-bit, inside the ε ball and [0, 1])' }),
      linf: z.number().openapi({ description: 'ℓ∞ distance from the input, pixel units' }),
      l2: z.number().openapi({ description: 'ℓ2 distance from the input, pixel units' }),
      perturbation: z.string().openapi({ description: 'the perturbation made visible: 0.5 + δ·perturbationGain (PNG data URL)' }),
      perturbationGain: z.number(),
    }),
    clean: DrawnTop,
    attacked: DrawnTop.openapi({ description: 'computed on exactly the returned PNG' }),
    changed: z.boolean().openapi({ description: 'whether the adversarial draws do not count as the clean answer under the rule' }),
    trueLabel: z.string().nullable().openapi({ description: 'the true class the request gave (null: none)' }),
    verdict: AttackVerdict.describe(
      'with a true label: held (right before and after), fooled (right before, wrong after), wrong-before (wrong before: the attack proves nothing), made-right (wrong before, right after), each under the re-check rule; without: changed or unchanged',
    ),
    iterations: z.number().int(),
    queries: z.number().int().openapi({ description: 'classifier calls, re-checks included' }),
    found: z.boolean().openapi({ description: "whether the attack's own (possibly noisy) evaluation saw a change; not counted" }),
    timings: z.object({ decodeMs: z.number(), queueMs: z.number(), attackMs: z.number(), totalMs: z.number() }),
  })
  .openapi('AttackResult');
export type AttackResult = z.infer<typeof AttackResult>;

/** One server-sent `progress` event of `POST /v1/attack`. */
export const AttackProgress = z
  .object({
    iteration: z.number().int(),
    iterations: z.number().int(),
    loss: z.number(),
    answer: z
      .object({ index: z.number().int(), label: z.string(), probability: z.number() })
      .nullable()
      .openapi({ description: "the current iterate's class as the attack saw it (one draw: noisy on the DC and the RDC)" }),
  })
  .openapi('AttackProgress');

export const Top = z.object({ index: z.number().int(), label: z.string(), probability: z.number() }).openapi('Top');

export const ClassifyResult = z
  .object({
    model: z.string().openapi({ description: 'the model that answered' }),
    top: Top,
    probabilities: z.array(z.object({ label: z.string(), probability: z.number() })),
    logits: z.array(z.number()),
    options: z.object({
      defense: DefenseName,
      method: MethodName.optional(),
      levels: z.number().int().optional().openapi({ description: 'σ levels (diffusion models)' }),
      seed: z.number().int().min(0).max(MAX_SEED),
      temperature: z.number(),
      grid: z.string().optional(),
      weighting: WeightingName.optional(),
    }),
    timings: z
      .object({
        decodeMs: z.number().optional(),
        queueMs: z.number().optional(),
        lmMs: z.number().optional(),
        dcMs: z.number(),
        totalMs: z.number().optional(),
      })
      .openapi({ description: 'milliseconds: decoding, waiting in the queue, LM, the classifier (dcMs; the network for a CNN), in all' }),
    explain: z
      .object({
        input: z.string(),
        lm: z.string().optional(),
        perturbation: z.string().optional().openapi({ description: "LM's change shown as 0.5 + δ·perturbationGain" }),
        perturbationGain: z.number().optional(),
        perturbationLinf: z.number().optional(),
        perturbationL2: z.number().optional(),
      })
      .optional(),
  })
  .openapi('ClassifyResult');
export type ClassifyResult = z.infer<typeof ClassifyResult>;

export const BatchResult = z
  .object({
    results: z.array(ClassifyResult),
    timings: z.object({ decodeMs: z.number(), totalMs: z.number() }).openapi({ description: 'milliseconds for the whole batch' }),
  })
  .openapi('BatchResult');

export const Limits = z
  .object({
    maxBodyBytes: z.number().int(),
    maxBatch: z.number().int(),
    maxWorkMacs: z.number().openapi({ description: 'the work limit of one request, multiply–accumulates (GET /v1/model gives the model’s)' }),
    timeoutMs: z.number().int(),
  })
  .openapi('Limits');

export const ModelSummary = z
  .object({
    name: z.string(),
    arch: NetworkArch,
    title: z.string().openapi({ description: "what to call it: an imported classifier's name (rdc import onnx --name), else the model's name" }),
    inputRange: z
      .tuple([z.number(), z.number()])
      .openapi({ description: "the pixel range the network takes inside (an imported classifier's own; requests always send pixels in [0, 1])" }),
    defenses: z.array(DefenseName).openapi({ description: 'what the model can run' }),
    defaultDefense: DefenseName,
    classes: z.array(z.string()),
    guard: z
      .object({ status: GuardStatus, label: z.string().nullable() })
      .openapi({ description: 'the generative guard: whether the class heads denoise (a diffusion classifier), and the label shown if they do not' }),
    description: z.string().openapi({ description: "what the model is: its card's first paragraph (Markdown)" }),
    measured: z
      .object({
        robust: z.array(RobustFigure.omit({ section: true })).openapi({ description: 'robust accuracies the card states: fractions, eps in pixel units' }),
        certified: z
          .array(CertifiedFigure.omit({ section: true }))
          .openapi({ description: 'certified accuracies the card states: fractions, radius in pixel units' }),
        sections: z.record(z.string(), z.string()).openapi({ description: 'the card sections `rdc eval/attack/certify/sweeps --record` wrote, as Markdown' }),
      })
      .openapi({ description: "the card's measured figures as data, and its sections" }),
  })
  .openapi('ModelSummary');

export const ModelInfo = ModelSummary.extend({
  config: z.record(z.string(), z.unknown()).openapi({ description: "the model folder's config.json (verified at start-up)" }),
  card: z.string().openapi({ description: 'MODEL_CARD.md as verified at start-up' }),
  limits: Limits,
}).openapi('ModelInfo');

export const ModelList = z.object({ models: z.array(ModelSummary) }).openapi('ModelList');

export const Examples = z
  .array(z.object({ label: z.string(), testIndex: z.number().int(), url: z.string() }))
  .openapi({ description: 'bundled CIFAR-10 test images for the page' });

export const Status = z.object({ status: z.string() }).openapi('Status');

const Bounded = z.object({ default: z.number(), max: z.number() });
/** `GET /v1/options`: the defaults and bounds of the request options, read off their declarations. */
export const FormOptions = z
  .object({
    levels: z.object({ min: z.number().int(), max: z.number().int() }),
    attack: z.object({
      attacks: z.array(OneImageAttack),
      attack: OneImageAttack,
      iterations: Bounded,
      eps: z.object({ linf: Bounded, l2: Bounded }),
      levels: z.number().int(),
      recheck: z.number().int(),
      rule: OneImageRule,
    }),
    certify: z.object({ sigma: z.number(), n0: z.number().int(), n: z.number().int(), levels: z.number().int() }),
  })
  .openapi('FormOptions');

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

/** The error answers every route that reads a request may give. */
export const ERRORS = {
  400: json(ErrorBody, 'bad image, pixels, shape, options, JSON or Host; too much work'),
  403: json(ErrorBody, 'a cross-origin browser request (CORS is off unless the server allows the origin)'),
  404: json(ErrorBody, 'no such model'),
  413: json(ErrorBody, 'body too large or too many images'),
  415: json(ErrorBody, 'unsupported content type or image format'),
  503: json(ErrorBody, 'busy (queue full) or timed out; see Retry-After'),
};

export { json as jsonResponse };
