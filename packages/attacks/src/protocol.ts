import { z } from 'zod';
import type { Attack } from './attack.js';
import { Apgd } from './attacks/apgd.js';
import { Fab } from './attacks/fab.js';
import { Fgsm } from './attacks/fgsm.js';
import { Pgd } from './attacks/pgd.js';
import { Square } from './attacks/square.js';

/**
 * Attack budgets (`--protocol`):
 * - `quick`: the labelled reduced CPU setting: APGD-CE and APGD-DLR, 20 iterations, 1 restart,
 *   25 σ levels;
 * - `paper`: the authors' protocol in full (rdc-method.md §4): APGD-DLR, 100 iterations, 5 restarts,
 *   EOT 1, 125 σ levels, LM by BPDA, fresh noise at every call (hours per image on a 2-core CPU: a
 *   GPU command);
 * - `strong`: APGD-CE, APGD-DLR, APGD-T, FAB-T and Square, 100 iterations, EOT 4; its headline rule
 *   is "all of 5": robust only if every fresh re-check is correct.
 * Every protocol re-checks each clean and adversarial image with `recheck` = 5 fresh draws and
 * reports the paper's rule (the first draw), the majority of the 5 and all of the 5, each beside
 * the null attack under the same rule. Attacks stop early only on an iterate misclassified under
 * `confirm` fresh draws (default 3 on a stochastic classifier, 1 on a deterministic one).
 * Any field can be overridden on the command line.
 *
 * @example
 * const p = protocolPreset('quick', { eot: 2 });
 */
export const AttackName = z.enum(['fgsm', 'pgd', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'fab-t', 'square']);
export type AttackName = z.infer<typeof AttackName>;

export const Protocol = z.object({
  name: z.enum(['quick', 'paper', 'strong']),
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
  rule: z.enum(['single', 'majority', 'all']),
  /** Confirmation draws before an attack may stop early (unset: 3 on a stochastic classifier, 1 otherwise; 0: never). */
  confirm: z.number().int().nonnegative().optional(),
  /** Fixed noise draws Square averages per query (EOT inside its search). */
  squareDraws: z.number().int().positive(),
  /** apgd-t and fab-t target classes. */
  targets: z.number().int().positive(),
});
export type Protocol = z.infer<typeof Protocol>;

const PRESETS: Record<Protocol['name'], Omit<Protocol, 'name'>> = {
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

/** The attack objects of a protocol. */
export function buildAttacks(p: Protocol): Attack[] {
  return p.attacks.map((name) => {
    switch (name) {
      case 'fgsm':
        return new Fgsm();
      case 'pgd':
        return new Pgd({ steps: p.iterations, restarts: p.restarts });
      case 'apgd-ce':
        return new Apgd({ loss: 'ce', iterations: p.iterations, restarts: p.restarts });
      case 'apgd-dlr':
        return new Apgd({ loss: 'dlr', iterations: p.iterations, restarts: p.restarts });
      case 'apgd-t':
        return new Apgd({ loss: 'dlr-t', iterations: p.iterations, restarts: p.restarts, targets: p.targets });
      case 'fab-t':
        return new Fab({ iterations: p.iterations, restarts: p.restarts, targets: p.targets });
      case 'square':
        return new Square({ queries: p.queries });
    }
  });
}
