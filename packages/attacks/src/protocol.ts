/**
 * Attack budgets (`--protocol`):
 * - `quick`: the labelled reduced CPU setting: APGD-CE and APGD-DLR, 20 iterations, 1 restart,
 *   25 σ levels;
 * - `paper`: the authors' protocol in full (docs/method.md): APGD-DLR, 100 iterations, 5 restarts,
 *   EOT 1, 125 σ levels, LM by BPDA, fresh noise at every call (hours per image on a 2-core CPU: a
 *   GPU command);
 * - `strong`: APGD-CE, APGD-DLR, APGD-T, FAB-T and Square, 100 iterations, EOT 4; its headline rule
 *   is "all of 5": robust only if every fresh re-check is correct;
 * - `rand`: AutoAttack's `version='rand'` for randomized defenses: APGD-CE and APGD-DLR, 100
 *   iterations, 1 restart, EOT 20 (the community's protocol; about 17 minutes per image that holds
 *   at 10 σ levels on a 2-core CPU);
 * - `standard`: AutoAttack's `version='standard'` for deterministic classifiers (an imported
 *   ResNet, the CNN): APGD-CE, APGD-T (9 target classes), FAB-T (9 target classes) and Square
 *   (5 000 queries), 100 iterations, 1 restart, EOT 1, the paper's single re-check rule, run as a
 *   cascade: each attack only on the images still robust after the ones before it (its per-attack
 *   figure is then the robust accuracy after it and every earlier one, as AutoAttack reports).
 * Every protocol re-checks each clean and adversarial image with `recheck` = 5 fresh draws and
 * reports the paper's rule (the first draw), the majority of the 5 and all of the 5, each beside
 * the null attack under the same rule. Attacks stop early only on an iterate misclassified under
 * `confirm` fresh draws (default 3 on a stochastic classifier, 1 on a deterministic one).
 * Any field can be overridden on the command line.
 *
 * @example
 * const p = protocolPreset('quick', { eot: 2 });
 */
import { z } from 'zod';
import { AttackName, type Attack, type AttackNeeds } from './attack.js';
import { RecheckRule } from './eval/rules.js';
import { Apgd } from './attacks/apgd.js';
import { Fab } from './attacks/fab.js';
import { Fgsm } from './attacks/fgsm.js';
import { Pgd } from './attacks/pgd.js';
import { Square } from './attacks/square.js';

export const Protocol = z.object({
  name: z.enum(['quick', 'paper', 'strong', 'rand', 'standard']),
  attacks: z.array(AttackName).min(1),
  iterations: z.number().int().positive(),
  restarts: z.number().int().positive(),
  /** Square's query budget. */
  queries: z.number().int().positive(),
  /** σ levels of the DC. */
  levels: z.number().int().positive(),
  eot: z.number().int().positive(),
  /** Fresh re-classifications of each adversarial (and clean) image. */
  recheck: z.number().int().positive(),
  /** The rule of the headline figure: the paper's single re-check, or robust only if every re-check is correct. */
  rule: RecheckRule,
  /** Confirmation draws before an attack may stop early (unset: 3 on a stochastic classifier, 1 otherwise; 0: never). */
  confirm: z.number().int().nonnegative().optional(),
  /** Fixed noise draws Square averages per query (EOT inside its search). */
  squareDraws: z.number().int().positive(),
  /** apgd-t and fab-t target classes. */
  targets: z.number().int().positive(),
  /** Each attack only on the images the earlier ones did not break (under `rule`), as AutoAttack runs them. */
  cascade: z.boolean().default(false),
});
export type Protocol = z.infer<typeof Protocol>;

const PRESETS: Record<Protocol['name'], Omit<z.input<typeof Protocol>, 'name'>> = {
  quick: {
    attacks: ['apgd-ce', 'apgd-dlr'],
    iterations: 20,
    restarts: 1,
    queries: 200,
    levels: 25,
    eot: 1,
    recheck: 5,
    rule: 'single',
    squareDraws: 1,
    targets: 3,
  },
  paper: { attacks: ['apgd-dlr'], iterations: 100, restarts: 5, queries: 5000, levels: 125, eot: 1, recheck: 5, rule: 'single', squareDraws: 1, targets: 9 },
  // AutoAttack's version='rand' for randomized defenses: APGD-CE and APGD-DLR, 100 iterations, 1 restart, EOT 20.
  rand: {
    attacks: ['apgd-ce', 'apgd-dlr'],
    iterations: 100,
    restarts: 1,
    queries: 5000,
    levels: 125,
    eot: 20,
    recheck: 5,
    rule: 'single',
    squareDraws: 1,
    targets: 9,
  },
  // AutoAttack's version='standard'.
  standard: {
    attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
    iterations: 100,
    restarts: 1,
    queries: 5000,
    levels: 125,
    eot: 1,
    recheck: 5,
    rule: 'single',
    squareDraws: 1,
    targets: 9,
    cascade: true,
  },
  strong: {
    attacks: ['apgd-ce', 'apgd-dlr', 'apgd-t', 'fab-t', 'square'],
    iterations: 100,
    restarts: 1,
    queries: 1000,
    levels: 125,
    eot: 4,
    recheck: 5,
    rule: 'all',
    squareDraws: 1,
    targets: 9,
  },
};

export function protocolPreset(name: Protocol['name'], overrides: Partial<Omit<Protocol, 'name'>> = {}): Protocol {
  return Protocol.parse({ name, ...PRESETS[name], ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) });
}

/**
 * The attack registry, keyed by name: how each is built from a protocol's budget. Typed over every
 * `AttackName`, so an attack without an entry does not compile.
 */
export const ATTACKS: { readonly [K in AttackName]: (p: Protocol) => Attack } = {
  fgsm: () => new Fgsm(),
  pgd: (p) => new Pgd({ steps: p.iterations, restarts: p.restarts }),
  'apgd-ce': (p) => new Apgd({ loss: 'ce', iterations: p.iterations, restarts: p.restarts }),
  'apgd-dlr': (p) => new Apgd({ loss: 'dlr', iterations: p.iterations, restarts: p.restarts }),
  'apgd-t': (p) => new Apgd({ loss: 'dlr-t', iterations: p.iterations, restarts: p.restarts, targets: p.targets }),
  'fab-t': (p) => new Fab({ iterations: p.iterations, restarts: p.restarts, targets: p.targets }),
  square: (p) => new Square({ queries: p.queries }),
};

/** The attack objects of a protocol. */
export function buildAttacks(p: Protocol): Attack[] {
  return p.attacks.map((name) => ATTACKS[name](p));
}

/** What an attack queries (each attack declares it). */
export function attackNeeds(name: AttackName): AttackNeeds {
  return ATTACKS[name](protocolPreset('quick')).needs;
}
