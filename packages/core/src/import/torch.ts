/**
 * PyTorch's files, read without PyTorch and without executing anything: a `torch.save`d state dict
 * (the zip format: `<root>/data.pkl` and one stored entry per tensor storage) and NVIDIA's EDM
 * training snapshots (`.pkl`: a pickle of persistent objects whose tensor storages are embedded
 * legacy `torch.save` blobs, `torch.storage._load_from_bytes`). Tensors come back as references
 * into the file (`TensorRef`), read one at a time with `readTensor`.
 *
 * The callables a file may name are the allow-lists below (`PT_GLOBALS`, `SNAPSHOT_GLOBALS`,
 * `STORAGE_GLOBALS`): exactly what these formats need, nothing else. The Python source an EDM
 * snapshot embeds (`module_src`) is never interpreted.
 *
 * @example
 * const sd = readTorchZip(openFileSource('tiny-cond.pt'));
 * const w = readTensor(sd.get('model.map_layer0.weight')!);
 */
import { bufferSource, LazyBytes, PickleError, PyObject, PyTuple, pyClass, unpickle, type ByteSource, type GlobalHandler, type PyDict } from './pickle.js';

/** A float32 storage: where its elements start in the file. */
export interface StorageRef {
  source: ByteSource;
  byteOffset: number;
  numel: number;
  key: string;
}

/** A tensor view of a storage: element offset, shape, strides (in elements). */
export interface TensorRef {
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A `torch_utils.persistence` object: its class name and state (`__dict__`); its source is ignored. */
export class PersistentObject {
  constructor(
    readonly className: string,
    readonly state: PyDict,
  ) {}
}

/** The elements of a tensor, in row-major order, as float32. */
export function readTensor(t: TensorRef): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (n === 0) return out;
  // The span of the storage this view touches.
  let last = t.offset;
  t.shape.forEach((d, i) => (last += (d - 1) * t.stride[i]));
  if (t.offset < 0 || last >= t.storage.numel)
    throw new PickleError(`tensor of shape [${t.shape.join(', ')}] reaches past its storage '${t.storage.key}' (${t.storage.numel} elements)`);
  const first = t.offset;
  const bytes = t.storage.source.read(t.storage.byteOffset + 4 * first, 4 * (last - first + 1));
  const span = new Float32Array(last - first + 1);
  new Uint8Array(span.buffer).set(bytes);
  const contiguous = t.stride.every((s, i) => s === t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous) return span.subarray(0, n).slice();
  const idx = new Array(t.shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let o = 0;
    for (let i = 0; i < idx.length; i++) o += idx[i] * t.stride[i];
    out[k] = span[o];
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i] < t.shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

const FLOAT_STORAGE: GlobalHandler = {
  call: () => {
    throw new PickleError('torch.FloatStorage is only allowed as a storage type');
  },
};

const orderedDict: GlobalHandler = {
  call: (args) => new Map(args.length ? (args[0] as [unknown, unknown][]) : []),
  // A state dict's BUILD carries `_metadata` (per-module versions): not needed.
  build: () => undefined,
};

const rebuildTensor: GlobalHandler = {
  call: ([storage, offset, size, stride]) => {
    if (!isStorage(storage)) throw new PickleError('_rebuild_tensor_v2 without a storage');
    if (!(size instanceof PyTuple) || !(stride instanceof PyTuple) || typeof offset !== 'number')
      throw new PickleError('_rebuild_tensor_v2 with bad arguments');
    return { storage, offset, shape: [...size].map(Number), stride: [...stride].map(Number) } satisfies TensorRef;
  },
};

function isStorage(s: unknown): s is StorageRef {
  return !!s && typeof s === 'object' && 'numel' in s && 'source' in s;
}

/** A persistent id ('storage', FloatStorage, key, location, numel[, view]) → the storage, placed by `locate`. */
function storageId(pid: unknown, locate: (key: string, numel: number) => StorageRef): StorageRef {
  if (!(pid instanceof PyTuple) || pid[0] !== 'storage')
    throw new PickleError(`unknown persistent id kind ${JSON.stringify(pid instanceof PyTuple ? pid[0] : typeof pid).slice(0, 40)}`);
  const [, type, key, , numel] = pid;
  if (type !== FLOAT_STORAGE) throw new PickleError('only float32 storages (torch.FloatStorage) are supported');
  if (typeof key !== 'string' || typeof numel !== 'number') throw new PickleError('a storage id without key or size');
  return locate(key, numel);
}

/** What a torch.save zip's data.pkl may name. */
export const PT_GLOBALS: Record<string, GlobalHandler> = {
  'collections.OrderedDict': orderedDict,
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch.FloatStorage': FLOAT_STORAGE,
};

/** What an embedded legacy storage blob may name. */
export const STORAGE_GLOBALS: Record<string, GlobalHandler> = { 'torch.FloatStorage': FLOAT_STORAGE };

/** A numpy dtype, as far as `numpy.core.multiarray.scalar` needs it. */
class NumpyDtype {
  littleEndian = true;
  constructor(readonly code: string) {}
}

/** What an EDM training snapshot may name (its outer pickle). */
export const SNAPSHOT_GLOBALS: Record<string, GlobalHandler> = {
  'collections.OrderedDict': orderedDict,
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_parameter': { call: ([tensor]) => tensor },
  'torch.storage._load_from_bytes': {
    call: ([b]) => {
      if (b instanceof LazyBytes) return readLegacyStorage(b.asSource(), b.source.name);
      if (b instanceof Uint8Array) return readLegacyStorage(bufferSource(b), 'an embedded storage');
      throw new PickleError('_load_from_bytes without bytes');
    },
  },
  'torch_utils.persistence._reconstruct_persistent_obj': {
    call: ([meta]) => {
      if (!(meta instanceof Map) || meta.get('type') !== 'class' || typeof meta.get('class_name') !== 'string' || !(meta.get('state') instanceof Map))
        throw new PickleError('a persistent object without class name and state');
      // meta.module_src (Python source) is deliberately never read.
      return new PersistentObject(meta.get('class_name') as string, meta.get('state') as PyDict);
    },
  },
  'torch.nn.modules.container.ModuleDict': pyClass('torch.nn.modules.container.ModuleDict'),
  'numpy.dtype': {
    call: ([code]) => new NumpyDtype(String(code)),
    build: (obj, state) => {
      if (state instanceof PyTuple && (state[1] === '>' || state[1] === '<' || state[1] === '|')) (obj as NumpyDtype).littleEndian = state[1] !== '>';
    },
  },
  'numpy.core.multiarray.scalar': {
    call: ([dtype, data]) => {
      if (!(dtype instanceof NumpyDtype) || !(data instanceof Uint8Array)) throw new PickleError('numpy scalar with bad arguments');
      const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
      if (dtype.code === 'f8' && data.length === 8) return v.getFloat64(0, dtype.littleEndian);
      if (dtype.code === 'f4' && data.length === 4) return v.getFloat32(0, dtype.littleEndian);
      if (dtype.code === 'i8' && data.length === 8) return Number(v.getBigInt64(0, dtype.littleEndian));
      throw new PickleError(`numpy scalar of dtype '${dtype.code}' is not supported`);
    },
  },
};

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * A legacy (non-zip) `torch.save` of one storage: five pickles (magic number, protocol 1001,
 * sys_info, the storage as a persistent id, its keys), then per key an int64 element count and the
 * raw little-endian data.
 */
function readLegacyStorage(src: ByteSource, where: string): StorageRef {
  const pickles: unknown[] = [];
  const storages = new Map<string, StorageRef>();
  let offset = 0;
  for (let i = 0; i < 5; i++) {
    const r = unpickle(src, {
      offset,
      globals: STORAGE_GLOBALS,
      persistentLoad: (pid) =>
        storageId(pid, (key, numel) => {
          const s: StorageRef = { source: src, byteOffset: -1, numel, key };
          storages.set(key, s);
          return s;
        }),
    });
    pickles.push(r.value);
    offset = r.end;
  }
  const [magic, protocol, sysInfo, storage, keys] = pickles;
  if (BigInt(magic as number | bigint) !== LEGACY_MAGIC) throw new PickleError(`${where}: an embedded storage has the wrong magic number`);
  if (protocol !== 1001) throw new PickleError(`${where}: an embedded storage has protocol ${String(protocol)}, not 1001`);
  if (!(sysInfo instanceof Map) || sysInfo.get('little_endian') !== true) throw new PickleError(`${where}: only little-endian storages are supported`);
  if (!Array.isArray(keys) || !isStorage(storage)) throw new PickleError(`${where}: an embedded storage is malformed`);
  for (const key of keys as string[]) {
    const s = storages.get(String(key));
    if (!s) throw new PickleError(`${where}: an embedded storage lists key ${String(key)} it does not define`);
    if (offset + 8 > src.length) throw new PickleError(`${where}: an embedded storage is truncated`);
    const b = src.read(offset, 8);
    const count = Number(new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0, true));
    if (count !== s.numel) throw new PickleError(`${where}: storage ${key} has ${count} elements, its id says ${s.numel}`);
    s.byteOffset = offset + 8;
    offset += 8 + 4 * count;
    if (offset > src.length) throw new PickleError(`${where}: an embedded storage is truncated`);
  }
  if ((storage as StorageRef).byteOffset < 0) throw new PickleError(`${where}: an embedded storage has no data`);
  return storage as StorageRef;
}

interface ZipEntry {
  dataOffset: number;
  size: number;
}

/** The stored (uncompressed) entries of a zip file, by name (what torch.save writes). */
function readZip(src: ByteSource): Map<string, ZipEntry> {
  const tailLen = Math.min(src.length, 65_557);
  const tail = src.read(src.length - tailLen, tailLen);
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--)
    if (dv(tail).getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new PickleError(`${src.name}: not a zip file (a torch.save file is one), or truncated`);
  const e = dv(tail);
  let count = e.getUint16(eocd + 10, true);
  let cdSize = e.getUint32(eocd + 12, true);
  let cdOffset = e.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    // Zip64: the locator sits just before the end record.
    const loc = eocd - 20;
    if (loc < 0 || e.getUint32(loc, true) !== 0x07064b50) throw new PickleError(`${src.name}: a zip64 file without its locator`);
    const rec = Number(e.getBigUint64(loc + 8, true));
    const z = dv(src.read(rec, 56));
    if (z.getUint32(0, true) !== 0x06064b50) throw new PickleError(`${src.name}: a bad zip64 end record`);
    count = Number(z.getBigUint64(32, true));
    cdSize = Number(z.getBigUint64(40, true));
    cdOffset = Number(z.getBigUint64(48, true));
  }
  if (cdOffset + cdSize > src.length) throw new PickleError(`${src.name}: the zip directory lies past the end of the file (truncated)`);
  const cd = Uint8Array.from(src.read(cdOffset, cdSize));
  const c = dv(cd);
  const out = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (c.getUint32(p, true) !== 0x02014b50) throw new PickleError(`${src.name}: a damaged zip directory`);
    const method = c.getUint16(p + 10, true);
    let size = c.getUint32(p + 20, true);
    const nameLen = c.getUint16(p + 28, true);
    const extraLen = c.getUint16(p + 30, true);
    const commentLen = c.getUint16(p + 32, true);
    let local = c.getUint32(p + 42, true);
    const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
    // Zip64 extra field: 64-bit sizes and offset where the 32-bit ones are saturated.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = c.getUint16(x, true);
      const len = c.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        if (c.getUint32(p + 24, true) === 0xffffffff) q += 8; // uncompressed size first
        if (size === 0xffffffff) {
          size = Number(c.getBigUint64(q, true));
          q += 8;
        }
        if (local === 0xffffffff) local = Number(c.getBigUint64(q, true));
      }
      x += 4 + len;
    }
    if (method !== 0) throw new PickleError(`${src.name}: entry ${name} is compressed; torch.save writes stored entries`);
    const lh = dv(src.read(local, 30));
    if (lh.getUint32(0, true) !== 0x04034b50) throw new PickleError(`${src.name}: a damaged zip entry ${name}`);
    const dataOffset = local + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
    if (dataOffset + size > src.length) throw new PickleError(`${src.name}: entry ${name} is truncated`);
    out.set(name, { dataOffset, size });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** A `torch.save`d state dict (zip format): parameter name → tensor reference. */
export function readTorchZip(src: ByteSource): Map<string, TensorRef> {
  const entries = readZip(src);
  const pkl = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new PickleError(`${src.name}: a zip without <name>/data.pkl is not a torch.save file`);
  const root = pkl.slice(0, -'/data.pkl'.length);
  const e = entries.get(pkl)!;
  const value = unpickle(bufferSource(Uint8Array.from(src.read(e.dataOffset, e.size)), `${src.name}:${pkl}`), {
    globals: PT_GLOBALS,
    persistentLoad: (pid) =>
      storageId(pid, (key, numel) => {
        const d = entries.get(`${root}/data/${key}`);
        if (!d) throw new PickleError(`${src.name}: storage ${key} is missing from the zip`);
        if (d.size < 4 * numel) throw new PickleError(`${src.name}: storage ${key} has ${d.size} bytes, ${numel} float32 need ${4 * numel}`);
        return { source: src, byteOffset: d.dataOffset, numel, key };
      }),
  }).value;
  if (!(value instanceof Map)) throw new PickleError(`${src.name}: data.pkl is not a state dict`);
  const out = new Map<string, TensorRef>();
  for (const [k, v] of value) {
    if (typeof k !== 'string' || !v || typeof v !== 'object' || !('storage' in v))
      throw new PickleError(`${src.name}: state dict entry ${String(k).slice(0, 60)} is not a tensor`);
    out.set(k, v as TensorRef);
  }
  return out;
}

/** A module's `__dict__` in a snapshot (a persistent object's state, or a ModuleDict's BUILD state). */
function moduleState(m: unknown, where: string): PyDict {
  if (m instanceof PersistentObject) return m.state;
  if (m instanceof PyObject && m.state instanceof Map) return m.state;
  throw new PickleError(`${where} is not a module`);
}

/** Every parameter and persistent buffer under a module, as a state dict (`prefix.name`). */
function collect(m: unknown, prefix: string, out: Map<string, TensorRef>): void {
  const state = moduleState(m, prefix || 'the network');
  const skip = state.get('_non_persistent_buffers_set');
  for (const field of ['_parameters', '_buffers']) {
    const d = state.get(field);
    if (!(d instanceof Map)) continue;
    for (const [k, t] of d) {
      if (t === null || (field === '_buffers' && skip instanceof Set && skip.has(k))) continue;
      out.set(`${prefix}${String(k)}`, t as TensorRef);
    }
  }
  const children = state.get('_modules');
  if (children instanceof Map) for (const [k, child] of children) if (child !== null) collect(child, `${prefix}${String(k)}.`, out);
}

/** JSON-like value of a pickled constructor argument (dicts, tuples, numbers, strings). */
function plain(v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return [...v].map(plain);
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** An EDM training snapshot (`network-snapshot-*.pkl`, `edm-cifar10-*.pkl`): the EMA network's state dict and constructor arguments. */
export function readEdmSnapshot(src: ByteSource): { className: string; kwargs: Record<string, unknown>; stateDict: Map<string, TensorRef> } {
  const top = unpickle(src, { globals: SNAPSHOT_GLOBALS }).value;
  if (!(top instanceof Map) || !top.has('ema')) throw new PickleError(`${src.name}: not an EDM snapshot (no 'ema' network)`);
  const ema = top.get('ema');
  if (!(ema instanceof PersistentObject)) throw new PickleError(`${src.name}: the 'ema' entry is not a persistent network`);
  const stateDict = new Map<string, TensorRef>();
  collect(ema, '', stateDict);
  const kwargs = plain(ema.state.get('_init_kwargs') ?? new Map()) as Record<string, unknown>;
  return { className: ema.className, kwargs, stateDict };
}
