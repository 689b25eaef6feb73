import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedFixture } from '../testing.js';
import { bufferSource, PickleError, PyTuple, unpickle } from './pickle.js';
import { PT_GLOBALS, SNAPSHOT_GLOBALS, STORAGE_GLOBALS } from './torch.js';

const dir = sharedFixture('edm');
const latin = (s: string) => Buffer.from(s, 'latin1');

describe('the restricted unpickler', () => {
  it("reads Python's containers and scalars (protocol 0 and 4)", () => {
    // pickle.dumps({'a': [1, 2.5, None, True], 'b': (b'xy', 'é')}, protocol=4), then protocol 0's (I1\n.
    const p4 = Buffer.from('8004952a000000000000007d94288c0161945d94284b014740040000000000004e88658c01629443027879948c02c3a9948694752e', 'hex');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const v = unpickle(bufferSource(p4), { globals: {} }).value as Map<string, any>;
    expect(v.get('a')).toEqual([1, 2.5, null, true]);
    const b = v.get('b');
    expect(b).toBeInstanceOf(PyTuple);
    expect(Array.from(b[0] as Uint8Array)).toEqual([0x78, 0x79]);
    expect(b[1]).toBe('é');
    expect(unpickle(bufferSource(latin('I7\n.')), { globals: {} }).value).toBe(7);
  });

  it('never calls what is not allowed: os.system, builtins.eval, subprocess, by GLOBAL or STACK_GLOBAL', () => {
    const hostile = [
      latin("cos\nsystem\n(S'touch /tmp/pwned'\ntR."),
      latin("cbuiltins\neval\n(S'1+1'\ntR."),
      latin("csubprocess\nPopen\n(S'ls'\ntR."),
      // protocol 4: STACK_GLOBAL('builtins', 'exec')
      Buffer.concat([
        Buffer.from([0x80, 4]),
        Buffer.from([0x8c, 8]),
        latin('builtins'),
        Buffer.from([0x8c, 4]),
        latin('exec'),
        Buffer.from([0x93]),
        latin('.'),
      ]),
    ];
    const names = ['os.system', 'builtins.eval', 'subprocess.Popen', 'builtins.exec'];
    hostile.forEach((bytes, i) => {
      expect(() => unpickle(bufferSource(bytes), { globals: SNAPSHOT_GLOBALS })).toThrow(
        new RegExp(`names ${names[i].replace('.', '\\.')}, which is not allowed`),
      );
      expect(() => unpickle(bufferSource(bytes), { globals: SNAPSHOT_GLOBALS })).toThrow(PickleError);
    });
  });

  it('refuses truncated pickles, unknown opcodes and REDUCE on non-callables', () => {
    expect(() => unpickle(bufferSource(latin('(I1\nI2\n')), { globals: {} })).toThrow(/truncated/);
    expect(() => unpickle(bufferSource(Buffer.from([0x80, 4, 0xff])), { globals: {} })).toThrow(/opcode 0xff/);
    // INST and OBJ (protocol 0/1 instance creation) are not supported.
    expect(() => unpickle(bufferSource(latin("(ios\nsystem\nS'x'\n.")), { globals: {} })).toThrow(/opcode 0x69/);
    expect(() => unpickle(bufferSource(latin("I1\n(S'x'\ntR.")), { globals: {} })).toThrow(/not an allowed global/);
    expect(() => unpickle(bufferSource(latin('I1\nQ.')), { globals: {} })).toThrow(/persistent id/);
  });
});

describe.skipIf(!dir)('the allow-list', () => {
  it("equals the callables NVIDIA's snapshots and torch.save files need (manifest-pkl-globals.json)", () => {
    const m = JSON.parse(readFileSync(join(dir!, 'manifest-pkl-globals.json'), 'utf8'));
    const names = (list: { module: string; name: string }[]) => list.map((g) => `${g.module}.${g.name}`).sort();
    for (const file of ['full_size_cond_snapshot', 'tiny-cond.pkl', 'tiny-uncond.pkl']) {
      expect(Object.keys(SNAPSHOT_GLOBALS).sort()).toEqual(names(m[file].outer_pickle.GLOBAL_and_STACK_GLOBAL));
      expect(Object.keys(STORAGE_GLOBALS).sort()).toEqual(names(m[file].embedded_legacy_torch_blobs.GLOBAL));
    }
    // The .pt zip's data.pkl.
    for (const file of ['tiny-cond.pkl', 'tiny-uncond.pkl']) expect(Object.keys(PT_GLOBALS).sort()).toEqual(names(m[file].pt_file.pickle.global_list));
  });
});
