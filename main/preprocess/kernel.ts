/**
 * The area resize (axis.ts, vertical.ts) of integer sources, in a small WebAssembly module. For
 * one source row of sample words w and a table of integer source values, the horizontal pass
 * makes each output sample
 *
 *   f32(((head * table[w[first]] + body) + tail * table[w[last]]) / scale)
 *   body = table[w[first + 1]] + ... + table[w[last - 1]]   (an int32 sum)
 *
 * (one covered sample: f32(head * table[w[first]] / scale)), w[i] masked to the bits its value
 * depends on; the vertical pass then adds that row into the output rows it covers, as
 * VerticalSums does. Both are the JavaScript passes' arithmetic exactly: the same integer sum,
 * the same double-precision operations in the same order, rounded to float32 to nearest even as a
 * Float32Array store rounds. The horizontal pass reads every pixel of the crop; reading a word
 * and its table entry without JavaScript's bounds checks makes the resize about twice as fast.
 *
 * The module is assembled here from its instructions (under a kilobyte, compiled once per
 * thread), each function commented with the JavaScript it stands for; nothing is loaded from a
 * binary file.
 *
 * Memory (one per thread, grown as needed; the views are made after growing):
 *   [0, 128 KiB)   the table: uint8 (display levels) or uint16 per masked word
 *   then           the horizontal axis: per output sample, first (int32, from the row's first
 *                  sample read), count (int32), head (float64), tail (float64); 24 bytes each
 *   then           the horizontal row (float32 per output sample), a row of float64 zeros, and
 *                  the vertical sums: heads and bodies (float64), the output (float32)
 *   then           the rows: sample words, copied or read in by the caller
 */

import type { AreaAxis } from './axis.js';
import { HEAD, LAST, LAST_OF_TWO, START, ADD, VerticalRoles, VerticalSums } from './vertical.js';

const TABLE_BYTES = 65536 * 2;
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
const F32_LOAD: Code = [0x2a, 2, 0];
const F64_LOAD: Code = [0x2b, 3, 0];
const F64_STORE: Code = [0x39, 3, 0];
const F64_PROMOTE_F32 = 0xbb;
const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
const loop = (...body: Code[]): Code => [0x03, 0x40, ...body.flat(), 0x0b];
/** if (result f64) ... else ... end */
const ifF64 = (then: Code[], otherwise: Code[]): Code => [0x04, F64, ...then.flat(), 0x05, ...otherwise.flat(), 0x0b];
const brIf = (depth: number): Code => [0x0d, depth];
const br = (depth: number): Code => [0x0c, depth];

/**
 * row(words, mask, axis, width, scale, out): `words` is the byte address of the first sample the
 * axis reads, `axis` of the first axis entry, `out` of the horizontal row; the table is at address
 * 0. One function per word size and table entry size (1 or 2 bytes each).
 */
function rowFunction(bytes: 1 | 2, tableBytes: 1 | 2): Code {
  const [words, mask, axis, width, scale, out] = [0, 1, 2, 3, 4, 5]; // parameters
  const [end, a, e, body, p, count] = [6, 7, 8, 9, 10, 11]; // int32 locals
  const toBytes: Code = bytes === 2 ? [...i32(1), I32_SHL] : []; // a sample index to a byte offset
  // i32.load16_u / i32.load8_u
  const loadWord = (offset: number): Code => (bytes === 2 ? [0x2f, 1, ...uleb(offset)] : [0x2d, 0, ...uleb(offset)]);
  // i32.load16_u / i32.load8_u of a table entry at address 0 + entry * tableBytes
  const loadEntry: Code = tableBytes === 2 ? [...i32(1), I32_SHL, 0x2f, 1, 0] : [0x2d, 0, 0];
  // table[word at byte address `at` + offset, & mask]
  const value = (at: number, offset = 0): Code => [
    ...get(at),
    ...loadWord(offset),
    ...get(mask),
    I32_AND,
    ...loadEntry,
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

/**
 * The vertical pass's operations on one output row, for c < n (see vertical.ts), each a function
 * (dst, a, b, src, w, scale, n) over float64 sums and the float32 horizontal row `src`:
 *   one:   dst[c] = f32(w * src[c] / scale)                     (float32 output row)
 *   head:  dst[c] = w * src[c]
 *   start: dst[c] = src[c]
 *   add:   dst[c] = dst[c] + src[c]
 *   last:  dst[c] = f32(((a[c] + b[c]) + w * src[c]) / scale)    (float32 output row)
 */
const VERTICAL = ['one', 'head', 'start', 'add', 'last'] as const;

function verticalFunction(operation: (typeof VERTICAL)[number]): Code {
  const [dst, a, b, src, w, scale, n] = [0, 1, 2, 3, 4, 5, 6]; // parameters
  const c = 7; // int32 local
  const at = (base: number, shift: number): Code => [...get(base), ...get(c), ...i32(shift), I32_SHL, I32_ADD];
  const h: Code = [...at(src, 2), ...F32_LOAD, F64_PROMOTE_F32];
  const step: Record<(typeof VERTICAL)[number], Code> = {
    one: [...at(dst, 2), ...get(w), ...h, F64_MUL, ...get(scale), F64_DIV, F32_DEMOTE_F64, ...F32_STORE],
    head: [...at(dst, 3), ...get(w), ...h, F64_MUL, ...F64_STORE],
    start: [...at(dst, 3), ...h, ...F64_STORE],
    add: [...at(dst, 3), ...at(dst, 3), ...F64_LOAD, ...h, F64_ADD, ...F64_STORE],
    last: [
      ...at(dst, 2),
      ...at(a, 3),
      ...F64_LOAD,
      ...at(b, 3),
      ...F64_LOAD,
      F64_ADD,
      ...get(w),
      ...h,
      F64_MUL,
      F64_ADD,
      ...get(scale),
      F64_DIV,
      F32_DEMOTE_F64,
      ...F32_STORE,
    ],
  };
  return block(
    loop([...get(c), ...get(n), I32_GE_U, ...brIf(1)], step[operation], [
      ...get(c),
      ...i32(1),
      I32_ADD,
      ...set(c),
      ...br(0),
    ]),
  );
}

function moduleBytes(): Uint8Array {
  const rowType = [0x60, ...vector([I32, I32, I32, I32, F64, I32].map((t) => [t])), 0];
  const verticalType = [0x60, ...vector([I32, I32, I32, I32, F64, F64, I32].map((t) => [t])), 0];
  const body = (code: Code, locals: number): Code => {
    const withLocals = [...vector([[locals, I32]]), ...code, 0x0b];
    return [...uleb(withLocals.length), ...withLocals];
  };
  const names = [...VARIANTS.map(({ name }) => name), ...VERTICAL];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vector([rowType, verticalType])),
    ...section(3, vector([...VARIANTS.map(() => [0]), ...VERTICAL.map(() => [1])])),
    ...section(5, vector([[0, ...uleb(1)]])), // one memory, 1 page at first
    ...section(7, vector([...names.map((name, index) => [...text(name), 0, index]), [...text('memory'), 2, 0]])),
    ...section(
      10,
      vector([
        ...VARIANTS.map(({ bytes, tableBytes }) => body(rowFunction(bytes, tableBytes), 6)),
        ...VERTICAL.map((operation) => body(verticalFunction(operation), 1)),
      ]),
    ),
  ]);
}
type RowFunction = (words: number, mask: number, axis: number, width: number, scale: number, out: number) => void;

/** One row function per sample word size and table entry size (display levels fit a byte). */
const VARIANTS = [
  { name: 'w1t1', bytes: 1, tableBytes: 1 },
  { name: 'w1t2', bytes: 1, tableBytes: 2 },
  { name: 'w2t1', bytes: 2, tableBytes: 1 },
  { name: 'w2t2', bytes: 2, tableBytes: 2 },
] as const;

type VerticalFunction = (dst: number, a: number, b: number, src: number, w: number, scale: number, n: number) => void;

type Exports = Record<(typeof VARIANTS)[number]['name'], RowFunction> &
  Record<(typeof VERTICAL)[number], VerticalFunction> & {
    memory: { buffer: ArrayBuffer; grow(pages: number): number };
  };

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

/**
 * The kernel set up for one resize: the table to fill, the rows area to put whole rows of sample
 * words into (`rowCapacity` of them), `add` for both passes over one of those rows, and `result`.
 * Valid until the next areaKernel in this thread: a resize runs from start to end without
 * awaiting anything, so two never share the kernel.
 */
export interface AreaKernel {
  /** Uint8Array or Uint16Array, as asked for: 65,536 entries (a mask indexes at most that many). */
  table: Uint8Array | Uint16Array;
  /** The rows area as words of the size asked for, and as bytes (to read a file into). */
  rows: Uint8Array | Uint16Array;
  rowBytes: Uint8Array;
  rowCapacity: number;
  /**
   * Both passes for row `index` of the rows area, which is source row `row` (rows in increasing
   * order, each the vertical axis reads), its words masked with `mask`.
   */
  add(index: number, row: number, mask: number): void;
  /** The output, a new array, once every row has been added. */
  result(): Float32Array;
}

/** Output sizes up to this many samples keep their vertical sums in the kernel's memory (20 bytes each). */
const KERNEL_SUMS = 1 << 20;

/**
 * Sets the kernel up for a table of `tableBytes` per entry and rows of `rowSamples` words of
 * `bytes` bytes each, of which the horizontal axis `xs` reads from `rowOffset` on (its `first`
 * relative to that sample, every sample it reads within the row), to `ys.first.length` output
 * rows, with room for as many rows as fit in `chunkBytes` (at least one).
 */
export function areaKernel(
  bytes: 1 | 2,
  tableBytes: 1 | 2,
  rowSamples: number,
  rowOffset: number,
  xs: AreaAxis,
  ys: AreaAxis,
  chunkBytes: number,
): AreaKernel {
  const width = xs.first.length;
  const height = ys.first.length;
  for (let t = 0; t < width; t++) {
    // The kernel reads only within the row: a wrong axis would read other memory (never outside
    // the module's, which cannot crash the process, but wrong all the same).
    if (xs.first[t] < 0 || xs.count[t] < 0 || rowOffset + xs.first[t] + xs.count[t] > rowSamples)
      throw new RangeError(`axis sample ${t} reaches beyond the row of ${rowSamples}`);
  }
  const exports = kernelExports();
  const size = width * height;
  const inKernel = size <= KERNEL_SUMS; // else the vertical pass runs in JavaScript
  const axisAt = TABLE_BYTES;
  const horizontalAt = axisAt + AXIS_STRIDE * width;
  const zerosAt = align(horizontalAt + 4 * width);
  const headsAt = zerosAt + 8 * width;
  const bodiesAt = headsAt + (inKernel ? 8 * size : 0);
  const outAt = bodiesAt + (inKernel ? 8 * size : 0);
  const rowsAt = align(outAt + (inKernel ? 4 * size : 0));
  const rowBytes = rowSamples * bytes;
  const rowCapacity = Math.max(1, Math.floor(chunkBytes / rowBytes));
  const needed = rowsAt + rowCapacity * rowBytes;
  const { memory } = exports;
  if (memory.buffer.byteLength < needed) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
  const buffer = memory.buffer;
  const entries = new DataView(buffer, axisAt, AXIS_STRIDE * width);
  for (let t = 0; t < width; t++) {
    entries.setInt32(t * AXIS_STRIDE, xs.first[t], true);
    entries.setInt32(t * AXIS_STRIDE + 4, xs.count[t], true);
    entries.setFloat64(t * AXIS_STRIDE + 8, xs.head[t], true);
    entries.setFloat64(t * AXIS_STRIDE + 16, xs.tail[t], true);
  }
  new Float64Array(buffer, zerosAt, width).fill(0);
  const row = exports[`w${bytes}t${tableBytes}`];
  const horizontal = new Float32Array(buffer, horizontalAt, width);
  const firstAt = rowsAt + rowOffset * bytes;
  const { scale } = xs;
  const pass = (index: number, mask: number): void => {
    // Within the rows area and the table, or the kernel would read other memory.
    if (!(index >= 0 && index < rowCapacity && mask >= 0 && mask <= 0xffff))
      throw new RangeError(`row ${index} or mask ${mask} outside the kernel's memory`);
    row(firstAt + index * rowBytes, mask, axisAt, width, scale, horizontalAt);
  };
  const common = {
    table: tableBytes === 2 ? new Uint16Array(buffer, 0, 65536) : new Uint8Array(buffer, 0, 65536),
    rows:
      bytes === 2
        ? new Uint16Array(buffer, rowsAt, rowCapacity * rowSamples)
        : new Uint8Array(buffer, rowsAt, rowCapacity * rowSamples),
    rowBytes: new Uint8Array(buffer, rowsAt, rowCapacity * rowBytes),
    rowCapacity,
  };
  if (!inKernel) {
    const sums = new VerticalSums(ys, width);
    return {
      ...common,
      add(index, source, mask) {
        pass(index, mask);
        sums.add(source, horizontal);
      },
      result: () => sums.result(),
    };
  }
  const roles = new VerticalRoles(ys);
  const operations = [exports.one, exports.head, exports.start, exports.add, exports.last, exports.last];
  const { head, tail } = ys;
  return {
    ...common,
    add(index, source, mask) {
      pass(index, mask);
      const found = roles.of(source);
      for (let i = 0; i < found; i++) {
        const t = roles.pairs[2 * i];
        const role = roles.pairs[2 * i + 1];
        const sums = role === HEAD ? headsAt : role === START || role === ADD ? bodiesAt : outAt;
        const bytesPerSum = role === HEAD || role === START || role === ADD ? 8 : 4;
        const last = role === LAST || role === LAST_OF_TWO;
        operations[role](
          sums + t * width * bytesPerSum,
          headsAt + t * width * 8,
          role === LAST_OF_TWO ? zerosAt : bodiesAt + t * width * 8,
          horizontalAt,
          last ? tail[t] : head[t],
          ys.scale,
          width,
        );
      }
    },
    result: () => new Float32Array(buffer, outAt, size).slice(),
  };
}

const align = (address: number): number => Math.ceil(address / 8) * 8;
