import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellWord } from './provenance.js';

describe('shellWord', () => {
  it('gives back what the shell reads as the same argument (bash as the oracle)', () => {
    const words = ['--limit', 'CNN (noise-trained)=runs/cnn', "it's", 'a b', '$HOME', '`x`', 'runs/v3', '"q"'];
    const echoed = execFileSync('bash', ['-c', `printf '%s\\n' ${words.map(shellWord).join(' ')}`], { encoding: 'utf8' });
    expect(echoed.split('\n').slice(0, -1)).toEqual(words);
    expect(shellWord('runs/v3')).toBe('runs/v3'); // plain words stay unquoted
  });
});
