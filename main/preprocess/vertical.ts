/**
 * The vertical pass of the area resize: each source row's horizontal result (float32) is added,
 * rows in increasing order, into the output rows whose intervals cover it (see axis.ts): the
 * head row's share, then the whole rows' sum, then the tail's share and the division, rounded to
 * float32. VerticalRoles says what a source row is to each output row; VerticalSums does the
 * arithmetic in JavaScript (the kernel does the same in WebAssembly).
 */
import type { AreaAxis } from './axis.js';

/** The one source row of an output row: out = head * h / scale. */
export const ONE = 0;
/** The first of several: heads = head * h. */
export const HEAD = 1;
/** The first whole row: bodies = h (0 + h is h: the sums need no clearing between images). */
export const START = 2;
/** Another whole row: bodies += h. */
export const ADD = 3;
/** The last of two: out = (heads + 0 + tail * h) / scale. */
export const LAST_OF_TWO = 4;
/** The last of more: out = (heads + bodies + tail * h) / scale. */
export const LAST = 5;

export class VerticalRoles {
  /** (output row, role) pairs of the last call of `of`. */
  readonly pairs: Int32Array;
  /** The first output row whose source rows are not all added yet. */
  private firstOpen = 0;

  constructor(private readonly ys: AreaAxis) {
    this.pairs = new Int32Array(2 * ys.first.length);
  }

  /** Fills `pairs` for source `row` (called with rows in increasing order); returns how many. */
  of(row: number): number {
    const { first, count } = this.ys;
    const height = first.length;
    while (this.firstOpen < height && first[this.firstOpen] + count[this.firstOpen] <= row) this.firstOpen++;
    let found = 0;
    for (let t = this.firstOpen; t < height && first[t] <= row; t++) {
      const k = row - first[t];
      const n = count[t];
      if (k >= n) continue;
      const role =
        n === 1 ? ONE : k === 0 ? HEAD : k === 1 && n > 2 ? START : k < n - 1 ? ADD : n === 2 ? LAST_OF_TWO : LAST;
      this.pairs[2 * found] = t;
      this.pairs[2 * found + 1] = role;
      found++;
    }
    return found;
  }
}

/** Double-precision sums of the output rows, kept for the next resize of the same size (one at a time per thread). */
let spare: { heads: Float64Array; bodies: Float64Array } | null = null;

export class VerticalSums {
  private readonly heads: Float64Array;
  private readonly bodies: Float64Array;
  private readonly out: Float32Array;
  private readonly roles: VerticalRoles;

  constructor(
    private readonly ys: AreaAxis,
    private readonly width: number,
  ) {
    const size = width * ys.first.length;
    const sums = spare && spare.heads.length === size ? spare : null;
    spare = null;
    this.heads = sums?.heads ?? new Float64Array(size);
    this.bodies = sums?.bodies ?? new Float64Array(size);
    this.out = new Float32Array(size);
    this.roles = new VerticalRoles(ys);
  }

  add(row: number, horizontal: Float32Array): void {
    const { head, tail, scale } = this.ys;
    const { width, heads, bodies, out, roles } = this;
    const found = roles.of(row);
    for (let i = 0; i < found; i++) {
      const t = roles.pairs[2 * i];
      const role = roles.pairs[2 * i + 1];
      const at = t * width;
      if (role === ONE) {
        for (let c = 0; c < width; c++) out[at + c] = (head[t] * horizontal[c]) / scale;
      } else if (role === HEAD) {
        for (let c = 0; c < width; c++) heads[at + c] = head[t] * horizontal[c];
      } else if (role === START) {
        for (let c = 0; c < width; c++) bodies[at + c] = horizontal[c];
      } else if (role === ADD) {
        for (let c = 0; c < width; c++) bodies[at + c] += horizontal[c];
      } else if (role === LAST_OF_TWO) {
        for (let c = 0; c < width; c++) out[at + c] = (heads[at + c] + 0 + tail[t] * horizontal[c]) / scale;
      } else {
        for (let c = 0; c < width; c++)
          out[at + c] = (heads[at + c] + bodies[at + c] + tail[t] * horizontal[c]) / scale;
      }
    }
  }

  /** The output, once every source row has been added; the sums go back for the next resize. */
  result(): Float32Array {
    spare = { heads: this.heads, bodies: this.bodies };
    return this.out;
  }
}
