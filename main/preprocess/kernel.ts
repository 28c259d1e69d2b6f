/**
 * The area resize's horizontal pass over integer sources, as a small WebAssembly function: for
 * one source row of sample words w and a table of integer source values, each output sample is
 *
 *   f32(((head * table[w[first]] + body) + tail * table[w[last]]) / scale)
 *   body = table[w[first + 1]] + ... + table[w[last - 1]]   (an int32 sum)
 *
 * (one covered sample: f32(head * table[w[first]] / scale)), w[i] masked to the bits its value
 * depends on. That is the JavaScript pass's arithmetic exactly (see areaAxis in area.ts): the same
 * integer sum, the same double-precision operations in the same order, rounded to float32 to
 * nearest even as a Float32Array store rounds. It runs on every pixel of the crop, where reading
 * a word and its table entry without JavaScript's bounds checks makes it two to three times as
 * fast.
 *
 * The module is assembled here from its instructions (about 400 bytes, compiled once per thread),
 * each block commented with the JavaScript it stands for; nothing is loaded from a binary file.
 *
 * Memory (one per thread, grown as needed; the views are remade after growth):
 *   [0, 256 KiB)     the table: int32 per masked word
 *   [256 KiB, ...)   the axis: per output sample, first (int32, from the row's first sample),
 *                    count (int32), head (float64), tail (float64); 24 bytes each
 *   then             the horizontal row: float32 per output sample
 *   then             the rows: sample words, copied or read in by the caller
 */

const TABLE_BYTES = 65536 * 4;
const AXIS_STRIDE = 24;
const PAGE = 65536;

// ---- A minimal WebAssembly assembler: the instructions the kernel uses ----

type Code = number[];

function uleb(value: number): Code {
  const out: Code = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: number): Code {
  const out: Code = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && !(byte & 0x40)) || (value === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const vector = (items: Code[]): Code => [...uleb(items.length), ...items.flat()];
const text = (value: string): Code => [...uleb(value.length), ...Array.from(value, (c) => c.charCodeAt(0))];
const section = (id: number, content: Code): Code => [id, ...uleb(content.length), ...content];

const I32 = 0x7f;
const F64 = 0x7c;
const get = (local: number): Code => [0x20, ...uleb(local)];
const set = (local: number): Code => [0x21, ...uleb(local)];
const i32 = (value: number): Code => [0x41, ...sleb(value)];
const f64Zero: Code = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I32_SHL = 0x74;
const I32_LT_U = 0x49;
const I32_GE_U = 0x4f;
const I32_EQZ = 0x45;
const F64_ADD = 0xa0;
const F64_MUL = 0xa2;
const F64_DIV = 0xa3;
const F64_CONVERT_I32_S = 0xb7;
const F32_DEMOTE_F64 = 0xb6; // to nearest, ties to even
const i32Load = (offset: number): Code => [0x28, 2, ...uleb(offset)];
const f64Load = (offset: number): Code => [0x2b, 3, ...uleb(offset)];
const F32_STORE: Code = [0x38, 2, 0];
const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
const loop = (...body: Code[]): Code => [0x03, 0x40, ...body.flat(), 0x0b];
/** if (result f64) ... else ... end */
const ifF64 = (then: Code[], otherwise: Code[]): Code => [0x04, F64, ...then.flat(), 0x05, ...otherwise.flat(), 0x0b];
const brIf = (depth: number): Code => [0x0d, depth];
const br = (depth: number): Code => [0x0c, depth];

/**
 * row(words, mask, axis, width, scale, out): `words` is the byte address of the row's first
 * sample, `axis` of the first axis entry, `out` of the horizontal row; the table is at address 0.
 * One function per word size (1 or 2 bytes).
 */
function rowFunction(bytes: 1 | 2): Code {
  const [words, mask, axis, width, scale, out] = [0, 1, 2, 3, 4, 5]; // parameters
  const [end, a, e, body, p, count] = [6, 7, 8, 9, 10, 11]; // int32 locals
  const toBytes: Code = bytes === 2 ? [...i32(1), I32_SHL] : []; // a sample index to a byte offset
  // i32.load16_u / i32.load8_u
  const loadWord = (offset: number): Code => (bytes === 2 ? [0x2f, 1, ...uleb(offset)] : [0x2d, 0, ...uleb(offset)]);
  // table[word at byte address `at` + offset, & mask], as int32
  const value = (at: number, offset = 0): Code => [
    ...get(at),
    ...loadWord(offset),
    ...get(mask),
    I32_AND,
    ...i32(2),
    I32_SHL,
    ...i32Load(0),
  ];
  // weight (float64 at axis + offset) * table[word at `at`]
  const weighted = (offset: number, at: number): Code => [
    ...get(axis),
    ...f64Load(offset),
    ...value(at),
    F64_CONVERT_I32_S,
    F64_MUL,
  ];
  return [
    // end = out + width * 4
    ...get(out),
    ...get(width),
    ...i32(2),
    I32_SHL,
    I32_ADD,
    ...set(end),
    ...block(
      loop(
        // for (; out < end; out += 4, axis += 24)
        [...get(out), ...get(end), I32_GE_U, ...brIf(1)],
        // a = words + axis.first * bytes; count = axis.count
        [...get(words), ...get(axis), ...i32Load(0), ...toBytes, I32_ADD, ...set(a)],
        [...get(axis), ...i32Load(4), ...set(count)],
        get(out), // the store's address, under the value
        [...get(count), ...i32(2), I32_LT_U],
        ifF64(
          [
            // count 0: 0; count 1: head * table[w(a)] / scale
            [...get(count), I32_EQZ],
            ifF64([f64Zero], [[...weighted(8, a), ...get(scale), F64_DIV]]),
          ],
          [
            // e = a + (count - 1) * bytes; body = sum of table[w(p)] for a < p < e
            [...get(a), ...get(count), ...i32(1), I32_SUB, ...toBytes, I32_ADD, ...set(e)],
            [...i32(0), ...set(body), ...get(a), ...i32(bytes), I32_ADD, ...set(p)],
            // four at a time while p + 3 samples < e, then one at a time
            block(
              loop(
                [...get(p), ...i32(3 * bytes), I32_ADD, ...get(e), I32_GE_U, ...brIf(1)],
                [...get(body), ...value(p), I32_ADD, ...value(p, bytes), I32_ADD],
                [...value(p, 2 * bytes), I32_ADD, ...value(p, 3 * bytes), I32_ADD, ...set(body)],
                [...get(p), ...i32(4 * bytes), I32_ADD, ...set(p), ...br(0)],
              ),
            ),
            block(
              loop(
                [...get(p), ...get(e), I32_GE_U, ...brIf(1)],
                [...get(body), ...value(p), I32_ADD, ...set(body)],
                [...get(p), ...i32(bytes), I32_ADD, ...set(p), ...br(0)],
              ),
            ),
            // ((head * table[w(a)] + body) + tail * table[w(e)]) / scale
            [...weighted(8, a), ...get(body), F64_CONVERT_I32_S, F64_ADD],
            [...weighted(16, e), F64_ADD, ...get(scale), F64_DIV],
          ],
        ),
        [F32_DEMOTE_F64, ...F32_STORE],
        [...get(out), ...i32(4), I32_ADD, ...set(out)],
        [...get(axis), ...i32(AXIS_STRIDE), I32_ADD, ...set(axis), ...br(0)],
      ),
    ),
  ];
}

function moduleBytes(): Uint8Array {
  const rowType = [0x60, ...vector([I32, I32, I32, I32, F64, I32].map((t) => [t])), 0];
  const body = (code: Code): Code => {
    const withLocals = [...vector([[6, I32]]), ...code, 0x0b];
    return [...uleb(withLocals.length), ...withLocals];
  };
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vector([rowType])),
    ...section(3, vector([[0], [0]])),
    ...section(5, vector([[0, ...uleb(1)]])), // one memory, 1 page at first
    ...section(
      7,
      vector([
        [...text('row8'), 0, 0],
        [...text('row16'), 0, 1],
        [...text('memory'), 2, 0],
      ]),
    ),
    ...section(10, vector([body(rowFunction(1)), body(rowFunction(2))])),
  ]);
}

type RowFunction = (words: number, mask: number, axis: number, width: number, scale: number, out: number) => void;

interface Exports {
  row8: RowFunction;
  row16: RowFunction;
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
}

/** The WebAssembly API as far as used here (the project's TypeScript libraries do not declare it). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

let instance: Exports | null = null;

function kernelExports(): Exports {
  const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  instance ??= new Instance(new Module(moduleBytes())).exports as Exports;
  return instance;
}

/** An axis as areaAxis in area.ts makes it. */
export interface KernelAxis {
  scale: number;
  first: Int32Array;
  count: Int32Array;
  head: Float64Array;
  tail: Float64Array;
}

/**
 * The kernel set up for one resize: the table to fill, the rows area to put sample words into
 * (`rowCapacity` rows of `rowSamples` words), and `run` for the horizontal pass of one of those
 * rows into `horizontal`. Valid until the next setUp in this thread (one resize at a time).
 */
export interface RowKernel {
  table: Int32Array;
  /** The rows area, as words of the size asked for. */
  rows: Uint8Array | Uint16Array;
  rowCapacity: number;
  horizontal: Float32Array;
  /** The horizontal pass of row `index` of the rows area, its words masked with `mask`. */
  run(index: number, mask: number): void;
}

/**
 * Sets the kernel up for rows of `rowSamples` words of `bytes` bytes (the crop's columns) and the
 * horizontal axis `axis` (its `first` relative to the crop's first column, every sample within the
 * row), with room for at least `minRows` rows (more when they fit in `chunkBytes`).
 */
export function setUpKernel(bytes: 1 | 2, rowSamples: number, axis: KernelAxis, chunkBytes: number): RowKernel {
  const width = axis.first.length;
  for (let t = 0; t < width; t++) {
    // The kernel reads only within the row: a wrong axis would read other memory, not crash.
    if (axis.first[t] < 0 || axis.count[t] < 0 || axis.first[t] + axis.count[t] > rowSamples)
      throw new RangeError(`axis sample ${t} reaches beyond the row of ${rowSamples}`);
  }
  const exports = kernelExports();
  const axisAt = TABLE_BYTES;
  const horizontalAt = axisAt + AXIS_STRIDE * width;
  const rowBytes = rowSamples * bytes;
  const rowsAt = Math.ceil((horizontalAt + 4 * width) / 8) * 8;
  const rowCapacity = Math.max(1, Math.floor(chunkBytes / rowBytes));
  const needed = rowsAt + rowCapacity * rowBytes;
  const { memory } = exports;
  if (memory.buffer.byteLength < needed) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
  const buffer = memory.buffer;
  const entries = new DataView(buffer, axisAt, AXIS_STRIDE * width);
  for (let t = 0; t < width; t++) {
    entries.setInt32(t * AXIS_STRIDE, axis.first[t], true);
    entries.setInt32(t * AXIS_STRIDE + 4, axis.count[t], true);
    entries.setFloat64(t * AXIS_STRIDE + 8, axis.head[t], true);
    entries.setFloat64(t * AXIS_STRIDE + 16, axis.tail[t], true);
  }
  const row = bytes === 2 ? exports.row16 : exports.row8;
  const { scale } = axis;
  return {
    table: new Int32Array(buffer, 0, TABLE_BYTES / 4),
    rows:
      bytes === 2
        ? new Uint16Array(buffer, rowsAt, rowCapacity * rowSamples)
        : new Uint8Array(buffer, rowsAt, rowCapacity * rowSamples),
    rowCapacity,
    horizontal: new Float32Array(buffer, horizontalAt, width),
    run(index, mask) {
      // Within the rows area and the table, or the kernel would read other memory.
      if (!(index >= 0 && index < rowCapacity && mask >= 0 && mask <= 0xffff))
        throw new RangeError(`row ${index} or mask ${mask} outside the kernel's memory`);
      row(rowsAt + index * rowBytes, mask, axisAt, width, scale, horizontalAt);
    },
  };
}
