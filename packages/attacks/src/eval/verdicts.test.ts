import { describe, expect, it } from 'vitest';
import { attackVerdict, certifiedVerdict } from './verdicts.js';

describe('verdicts', () => {
  it('an attack on a labelled picture: held, fooled, wrong-before, made-right, each under the rule', () => {
    const v = (clean: number[], attacked: number[], rule: 'single' | 'majority' | 'all' = 'majority') =>
      attackVerdict({ label: 3, rule, clean, attacked, changed: attacked[0] !== clean[0] });
    expect(v([3, 3, 3], [3, 3, 5])).toBe('held');
    expect(v([3, 3, 3], [5, 5, 3])).toBe('fooled');
    expect(v([5, 5, 3], [5, 5, 5])).toBe('wrong-before');
    expect(v([5, 5, 3], [3, 3, 3])).toBe('made-right');
    // The rule decides: "all" needs every re-check right.
    expect(v([3, 3, 3], [3, 3, 5], 'all')).toBe('fooled');
    expect(v([3, 5, 5], [3, 5, 5], 'single')).toBe('held');
  });

  it('without a label: changed or unchanged, nothing claimed about right or wrong', () => {
    expect(attackVerdict({ label: null, rule: 'majority', clean: [1], attacked: [2], changed: true })).toBe('changed');
    expect(attackVerdict({ label: null, rule: 'majority', clean: [1], attacked: [1], changed: false })).toBe('unchanged');
  });

  it('a certificate: right, wrong (an error), abstained; without a label certified or abstained', () => {
    expect(certifiedVerdict(3, 3)).toBe('certified-right');
    expect(certifiedVerdict(4, 3)).toBe('certified-wrong');
    expect(certifiedVerdict(-1, 3)).toBe('abstained');
    expect(certifiedVerdict(4, null)).toBe('certified');
    expect(certifiedVerdict(-1, null)).toBe('abstained');
  });
});
