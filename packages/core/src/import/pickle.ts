/**
 * A restricted unpickler (Python's pickle, protocols 0–5) that never executes anything: every
 * GLOBAL / STACK_GLOBAL must name a callable of an allow-list of TypeScript handlers (anything else
 * is refused with its name), REDUCE and NEWOBJ only call those handlers, BUILD only sets state on
 * the objects they made, and persistent ids go to a caller's handler. Large byte strings are not
 * copied: they come back as `LazyBytes`, a range of the source, so a snapshot of hundreds of MB is
 * parsed without loading it.
 *
 * @example
 * const value = unpickle(fileSource(path), { globals: { 'collections.OrderedDict': orderedDict } });
 */
import { InputError } from '../errors.js';

/** Random-access bytes: a file or a buffer. */
export interface ByteSource {
  readonly length: number;
  read(offset: number, length: number): Uint8Array;
  /** What the bytes are (for error messages). */
  readonly name: string;
}

export function bufferSource(bytes: Uint8Array, name = 'pickle'): ByteSource {
  return { length: bytes.length, name, read: (o, n) => bytes.subarray(o, o + n) };
}

/** A byte string of the pickle left in its source: `read()` it when needed. */
export class LazyBytes {
  constructor(
    readonly source: ByteSource,
    readonly offset: number,
    readonly length: number,
  ) {}
  read(): Uint8Array {
    return this.source.read(this.offset, this.length);
  }
  /** A source over just these bytes (for a pickle inside a pickle). */
  asSource(): ByteSource {
    const { source, offset, length } = this;
    return { length, name: source.name, read: (o, n) => source.read(offset + o, Math.min(n, length - o)) };
  }
}

/** Python tuples (arrays are lists). */
export class PyTuple extends Array<unknown> {}
/** A dict: Map (keys are strings or numbers here). */
export type PyDict = Map<unknown, unknown>;

/** A global of the allow-list: called by REDUCE/NEWOBJ with the pickled arguments; `build` applies BUILD state to what it made. */
export interface GlobalHandler {
  call(args: unknown[]): unknown;
  build?(obj: unknown, state: unknown): void;
}

export interface UnpickleOptions {
  /** 'module.name' → handler. Nothing else may be named. */
  globals: Record<string, GlobalHandler>;
  /** BINPERSID: the persistent id (usually a tuple) → the object it stands for. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Byte strings longer than this stay in the source as LazyBytes (default 4 KiB). */
  lazyBytes?: number;
  /** Where to start reading (several pickles one after another). */
  offset?: number;
}

export class PickleError extends InputError {
  constructor(message: string) {
    super(message, 'bad_pickle');
  }
}

/** An object BUILD can set state on without handler: NEWOBJ of a class handler without `build` gets its state here. */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly cls: string,
    readonly args: unknown[],
  ) {}
}

/** Unpickles one pickle from `source` and returns its value and the offset just after its STOP. */
export function unpickle(source: ByteSource, opts: UnpickleOptions): { value: unknown; end: number } {
  let pos = opts.offset ?? 0;
  const lazyLimit = opts.lazyBytes ?? 4096;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const made = new WeakMap<object, GlobalHandler>();
  const where = () => `${source.name}, byte ${pos}`;
  const fail = (m: string): never => {
    throw new PickleError(`${where()}: ${m}`);
  };
  const need = (n: number) => {
    if (pos + n > source.length) fail(`the pickle is truncated (needs ${n} more bytes)`);
  };
  const bytes = (n: number) => {
    need(n);
    const b = source.read(pos, n);
    pos += n;
    return b;
  };
  const u8 = () => bytes(1)[0];
  const view = (n: number) => {
    const b = bytes(n);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  };
  const u16 = () => view(2).getUint16(0, true);
  const u32 = () => view(4).getUint32(0, true);
  const i32 = () => view(4).getInt32(0, true);
  const u64 = () => {
    const v = view(8).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('a length does not fit in a number');
    return Number(v);
  };
  const line = () => {
    const start = pos;
    while (pos < source.length && source.read(pos, 1)[0] !== 0x0a) pos++;
    if (pos >= source.length) fail('the pickle is truncated (an unterminated line)');
    const text = Buffer.from(source.read(start, pos - start)).toString('latin1');
    pos++;
    return text;
  };
  const utf8 = (n: number) => Buffer.from(bytes(n)).toString('utf8');
  const bin = (n: number): Uint8Array | LazyBytes => {
    if (n > lazyLimit) {
      need(n);
      const lazy = new LazyBytes(source, pos, n);
      pos += n;
      return lazy;
    }
    return Uint8Array.from(bytes(n));
  };
  const pop = () => {
    if (!stack.length) fail('the pickle pops an empty stack');
    return stack.pop();
  };
  const top = () => {
    if (!stack.length) fail('the pickle reads an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('the pickle has no MARK to pop to');
    return stack.splice(m!);
  };
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    const h = opts.globals[full];
    if (!h) fail(`the pickle names ${full}, which is not allowed (only ${Object.keys(opts.globals).sort().join(', ')}); refusing to load it`);
    return h;
  };
  const call = (h: unknown, args: unknown) => {
    if (!isHandler(h)) fail('REDUCE/NEWOBJ on something that is not an allowed global');
    if (!(args instanceof PyTuple)) fail('REDUCE/NEWOBJ arguments are not a tuple');
    const out = (h as GlobalHandler).call([...(args as PyTuple)]);
    if (out && typeof out === 'object') made.set(out, h as GlobalHandler);
    return out;
  };
  const tuple = (items: unknown[]) => PyTuple.from(items) as PyTuple;
  const setItems = (d: unknown, items: unknown[]) => {
    if (!(d instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) (d as PyDict).set(items[i], items[i + 1]);
  };

  for (;;) {
    need(1);
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x49: {
        // INT (text; 01/00 are True/False in protocol 0)
        const t = line();
        stack.push(t === '01' ? true : t === '00' ? false : Number.parseInt(t, 10));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(Number(BigInt(line().replace(/L$/, ''))));
        break;
      case 0x8a:
      case 0x8b: {
        // LONG1 / LONG4: little-endian two's complement
        const n = op === 0x8a ? u8() : u32();
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view(8).getFloat64(0, false));
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number.parseFloat(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(u64()));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(line());
        break;
      case 0x42: // BINBYTES
        stack.push(bin(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bin(u8()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(bin(u64()));
        break;
      case 0x53: {
        // STRING (protocol 0: a quoted Python string literal)
        const t = line();
        const q = t[0];
        if ((q !== "'" && q !== '"') || t[t.length - 1] !== q) fail('a malformed STRING');
        stack.push(t.slice(1, -1).replace(/\\(.)/g, '$1'));
        break;
      }
      case 0x54: // BINSTRING (protocol 1 str)
        stack.push(Buffer.from(bytes(i32())).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(bytes(u8())).toString('latin1'));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x64: {
        // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x85:
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l) || l instanceof PyTuple) fail('APPEND to something that is not a list');
        (l as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        if (!Array.isArray(l) || l instanceof PyTuple) fail('APPENDS to something that is not a list');
        (l as unknown[]).push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: // SETITEMS
        setItems(stack[marks[marks.length - 1] - 1], popMark());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS to something that is not a set');
        for (const i of items) (s as Set<unknown>).add(i);
        break;
      }
      case 0x68: // BINGET
        stack.push(memoGet(memo, u8(), fail));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(memo, u32(), fail));
        break;
      case 0x67: // GET
        stack.push(memoGet(memo, Number(line()), fail));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        const h = obj && typeof obj === 'object' ? made.get(obj) : undefined;
        if (h?.build) h.build(obj, state);
        else if (obj instanceof PyObject) obj.state = state;
        else fail('BUILD on an object that no allowed global made');
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('the pickle has a persistent id, which this file should not have');
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')} is not supported (or not allowed)`);
    }
  }
}

function memoGet(memo: Map<number, unknown>, i: number, fail: (m: string) => never): unknown {
  if (!memo.has(i)) fail(`the pickle reads memo entry ${i}, which was never stored`);
  return memo.get(i);
}

function isHandler(h: unknown): h is GlobalHandler {
  return !!h && typeof h === 'object' && typeof (h as GlobalHandler).call === 'function';
}

/** A class whose instances are plain `PyObject`s (BUILD stores their state). */
export function pyClass(name: string): GlobalHandler {
  return { call: (args) => new PyObject(name, args) };
}
