/**
 * Rendering a phantom in the image's own geometry: every structure is evaluated directly at the
 * pixels its bounding box covers (patient coordinates from the inverse of the framing), into
 * three thickness maps (body soft tissue, air, bone). Their line integral gives the attenuation,
 * which the detector blurs and samples with quantum noise, and processing maps to stored values.
 * Findings change the maps inside their own region and write their ground-truth masks there.
 */
import {
  curveV,
  diaphragmAt,
  diaphragmV,
  distanceToOutline,
  ellipseExtent,
  ellipseR2,
  lateralEdge,
  medialEdge,
} from './anatomy.js';
import type { Anatomy, BoneCurve, Ellipse, Lung, VesselSegment } from './anatomy.js';
import { Frame } from './acquisition.js';
import type { Acquisition } from './acquisition.js';
import { effusionSurface } from './findings.js';
import type { FindingParams, Lesion, NoduleAppearance } from './findings.js';
import { hash32, Random } from './random.js';
import type { PhantomTerm } from './terms.js';

/** Linear attenuation per mm: soft tissue (water) and bone at a chest radiograph's effective energy. */
export const MU_SOFT = 0.0205;
export const MU_BONE = 0.055;
/** The coarse texture octave's weight with visible nodules (0.9 otherwise). */
export const VISIBLE_COARSE_TEXTURE = 0.3;

export interface Rendered {
  /** Stored values, row-major, rows x columns. */
  stored: Uint16Array;
  /** 1 inside each present finding, 0 elsewhere. */
  masks: Map<PhantomTerm, Uint8Array>;
  /** Per present finding: mean attenuation change inside its mask (positive: denser). */
  contrast: Map<PhantomTerm, number>;
  /** Pixel Padding Value written outside the field (DICOM), or null. */
  paddingValue: number | null;
  /** Stored values of the image content, before MONOCHROME1 inversion: [low, high]. */
  valueRange: [number, number];
  /** 1 right lung, 2 left lung, 0 elsewhere, before findings (a copy: the scratch maps are reused). */
  lungs: Uint8Array;
}

function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}

/** Position along the last segment measured by segmentDistance (0 to 1). */
let segmentT = 0;

/** Distance from (u, v) to a segment; the position along it is left in segmentT. */
function segmentDistance(s: VesselSegment, u: number, v: number): number {
  const du = s.u1 - s.u0;
  const dv = s.v1 - s.v0;
  const length2 = du * du + dv * dv;
  let t = length2 > 0 ? ((u - s.u0) * du + (v - s.v0) * dv) / length2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  segmentT = t;
  const pu = s.u0 + t * du - u;
  const pv = s.v0 + t * dv - v;
  return Math.sqrt(pu * pu + pv * pv);
}

/** A lattice node's value, 0 to 65535 (a small integer, so V8 never boxes it). */
function latticeHash(seed: number, a: number, b: number): number {
  let k = Math.imul(a, 0x27d4eb2d) ^ Math.imul(b, 0x165667b1) ^ seed;
  k = Math.imul(k ^ (k >>> 15), 0x85ebca6b);
  k ^= k >>> 13;
  return k & 0xffff;
}

/** Smooth value noise on a lattice in patient space: 0 to 1. */
function latticeNoise(seed: number, u: number, v: number, cell: number): number {
  const x = u / cell;
  const y = v / cell;
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const h00 = latticeHash(seed, ix, iy);
  const h10 = latticeHash(seed, ix + 1, iy);
  const h01 = latticeHash(seed, ix, iy + 1);
  const h11 = latticeHash(seed, ix + 1, iy + 1);
  const top = h00 + (h10 - h00) * sx;
  const bottom = h01 + (h11 - h01) * sx;
  return (top + (bottom - top) * sy) * (1 / 65536);
}

/** Value noise on a pixel lattice: node values from a hash, smooth interpolation between them. */
class PixelNoise {
  private readonly values: Float32Array;
  private readonly width: number;
  private readonly cell: number;

  constructor(seed: number, rows: number, columns: number, cell: number) {
    this.cell = Math.max(1, cell);
    this.width = Math.ceil(columns / this.cell) + 2;
    const height = Math.ceil(rows / this.cell) + 2;
    this.values = new Float32Array(this.width * height);
    for (let gy = 0; gy < height; gy++) {
      for (let gx = 0; gx < this.width; gx++)
        this.values[gy * this.width + gx] = latticeHash(seed, gx, gy) / 65536 - 0.5;
    }
  }

  /** Noise in [-0.5, 0.5] at pixel (x, y). */
  at(x: number, y: number): number {
    const fx = x / this.cell;
    const fy = y / this.cell;
    const ix = fx | 0;
    const iy = fy | 0;
    let tx = fx - ix;
    let ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const k = iy * this.width + ix;
    const v = this.values;
    const top = v[k] + (v[k + 1] - v[k]) * tx;
    const bottom = v[k + this.width] + (v[k + this.width + 1] - v[k + this.width]) * tx;
    return top + (bottom - top) * ty;
  }
}

/** 65,536 standard normal deviates, made once: noise draws index them with a per-image stream. */
let gaussianTable: Float32Array | null = null;
function gaussians(): Float32Array {
  if (gaussianTable) return gaussianTable;
  const rng = new Random('phantom gaussian table');
  const table = new Float32Array(65536);
  for (let i = 0; i < table.length; i++) table[i] = rng.normal();
  gaussianTable = table;
  return table;
}

/**
 * Separable Gaussian blur in place (sigma in pixels, up to about 1.4: a detector's blur), edges
 * clamped. The kernel is symmetric with at most 3 taps a side, written out: several times faster
 * than a general convolution loop.
 */
function blur(data: Float32Array, rows: number, columns: number, sigma: number, scratch: Float32Array): void {
  if (sigma <= 0.05) return;
  const radius = Math.max(1, Math.min(3, Math.round(sigma * 2.2)));
  const w = [0, 0, 0, 0];
  let sum = 0;
  for (let k = 0; k <= radius; k++) {
    w[k] = Math.exp((-k * k) / (2 * sigma * sigma));
    sum += k === 0 ? w[k] : 2 * w[k];
  }
  const w0 = w[0] / sum;
  const w1 = w[1] / sum;
  const w2 = w[2] / sum;
  const w3 = w[3] / sum;
  const line = new Float32Array(columns + 6);
  for (let y = 0; y < rows; y++) {
    const row = y * columns;
    line[0] = line[1] = line[2] = data[row];
    for (let x = 0; x < columns; x++) line[x + 3] = data[row + x];
    line[columns + 3] = line[columns + 4] = line[columns + 5] = data[row + columns - 1];
    for (let x = 0; x < columns; x++) {
      const c = x + 3;
      scratch[row + x] =
        w0 * line[c] +
        w1 * (line[c - 1] + line[c + 1]) +
        w2 * (line[c - 2] + line[c + 2]) +
        w3 * (line[c - 3] + line[c + 3]);
    }
  }
  const rowAt = (y: number): number => (y < 0 ? 0 : y >= rows ? rows - 1 : y) * columns;
  for (let y = 0; y < rows; y++) {
    const c = y * columns;
    const m1 = rowAt(y - 1);
    const p1 = rowAt(y + 1);
    const m2 = rowAt(y - 2);
    const p2 = rowAt(y + 2);
    const m3 = rowAt(y - 3);
    const p3 = rowAt(y + 3);
    for (let x = 0; x < columns; x++) {
      data[c + x] =
        w0 * scratch[c + x] +
        w1 * (scratch[m1 + x] + scratch[p1 + x]) +
        w2 * (scratch[m2 + x] + scratch[p2 + x]) +
        w3 * (scratch[m3 + x] + scratch[p3 + x]);
    }
  }
}

/** A low-pass of `data` (block means, box-blurred, bilinear back to full size). */
function lowPass(data: Float32Array, rows: number, columns: number, factor: number, out: Float32Array): void {
  const gw = Math.ceil(columns / factor);
  const gh = Math.ceil(rows / factor);
  let grid = new Float32Array(gw * gh);
  const counts = new Float32Array(gw * gh);
  const cells = new Int32Array(columns);
  for (let x = 0; x < columns; x++) cells[x] = Math.floor(x / factor);
  for (let y = 0; y < rows; y++) {
    const gy = Math.floor(y / factor) * gw;
    const row = y * columns;
    for (let x = 0; x < columns; x++) {
      const g = gy + cells[x];
      grid[g] += data[row + x];
      counts[g]++;
    }
  }
  for (let g = 0; g < grid.length; g++) grid[g] /= counts[g];
  // Three passes of a 5-cell box blur approximate a Gaussian.
  let next = new Float32Array(grid.length);
  for (let pass = 0; pass < 3; pass++) {
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        let acc = 0;
        for (let k = -2; k <= 2; k++) acc += grid[y * gw + Math.min(gw - 1, Math.max(0, x + k))];
        next[y * gw + x] = acc / 5;
      }
    }
    [grid, next] = [next, grid];
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        let acc = 0;
        for (let k = -2; k <= 2; k++) acc += grid[Math.min(gh - 1, Math.max(0, y + k)) * gw + x];
        next[y * gw + x] = acc / 5;
      }
    }
    [grid, next] = [next, grid];
  }
  // Bilinear back to full size, with the column weights computed once.
  const x0s = new Int32Array(columns);
  const x1s = new Int32Array(columns);
  const txs = new Float32Array(columns);
  for (let x = 0; x < columns; x++) {
    const fx = Math.min(gw - 1, Math.max(0, (x + 0.5) / factor - 0.5));
    x0s[x] = Math.floor(fx);
    x1s[x] = Math.min(gw - 1, x0s[x] + 1);
    txs[x] = fx - x0s[x];
  }
  for (let y = 0; y < rows; y++) {
    const fy = Math.min(gh - 1, Math.max(0, (y + 0.5) / factor - 0.5));
    const y0 = Math.floor(fy);
    const r0 = y0 * gw;
    const r1 = Math.min(gh - 1, y0 + 1) * gw;
    const ty = fy - y0;
    const row = y * columns;
    for (let x = 0; x < columns; x++) {
      const a = x0s[x];
      const b = x1s[x];
      const tx = txs[x];
      const top = grid[r0 + a] + (grid[r0 + b] - grid[r0 + a]) * tx;
      const bottom = grid[r1 + a] + (grid[r1 + b] - grid[r1 + a]) * tx;
      out[row + x] = top + (bottom - top) * ty;
    }
  }
}

/** The lung's air thickness along one row span (the outline and profile of anatomy.ts, inlined). */
function lungRow(
  lung: Lung,
  code: number,
  air: Float32Array,
  map: Uint8Array,
  i: number,
  count: number,
  u: number,
  v: number,
  du: number,
  dv: number,
): void {
  const { sigma, cu, cv, top, bottom, airDepth, lateral, lateralTaper, medial, medialLow } = lung;
  const [m0, m1] = lung.medialBlend;
  const { u: domeU, v: domeV, k } = lung.dome;
  const taperSpan = top * 2.2;
  for (let x = 0; x < count; x++, i++, u += du, v += dv) {
    const ubar = sigma * u;
    const dx = ubar - cu;
    const y = v - cv;
    let radius: number;
    if (dx > 0) {
      let t = (y + top) / taperSpan;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      radius = lateral * (1 - lateralTaper * (1 - t * t * (3 - 2 * t)));
    } else {
      let t = (y - m0) / (m1 - m0);
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      radius = medial + (medialLow - medial) * t * t * (3 - 2 * t);
    }
    const a = (dx < 0 ? -dx : dx) / radius;
    let R = a * a * Math.sqrt(a);
    if (R >= 1) continue;
    if (y < 0) {
      const b = y / top;
      R += b * b;
    } else {
      const b = y / bottom;
      R += b * b * Math.sqrt(b);
    }
    if (R >= 1) continue;
    const d = ubar - domeU;
    const below = domeV + k * d * d - v;
    if (below <= 0) continue;
    air[i] += airDepth * Math.sqrt(1 - R) * (below < 4 ? below / 4 : 1);
    map[i] = code;
  }
}

/** A bone curve's thickness along one row span, for ū in [start, end) only. */
function boneCurveRow(
  curve: BoneCurve,
  bone: Float32Array,
  start: number,
  end: number,
  i: number,
  count: number,
  u: number,
  v: number,
  du: number,
  dv: number,
): void {
  const { sigma, from, to, fadeFrom, fadeTo, marrow } = curve;
  const [h0, h1] = curve.halfWidth;
  const [c0, c1, c2, c3] = curve.c;
  const amplitude = curve.bone / (1 - 0.75 * marrow);
  const length = to - from;
  for (let x = 0; x < count; x++, i++, u += du, v += dv) {
    const ubar = sigma * u;
    // Each pixel belongs to exactly one piece of the curve, so nothing is added twice.
    if (ubar < start || ubar >= end) continue;
    const centre = c0 + ubar * (c1 + ubar * (c2 + ubar * c3));
    const slope = c1 + ubar * (2 * c2 + 3 * c3 * ubar);
    const d = (v - centre) / Math.sqrt(1 + slope * slope);
    const half = h0 + ((h1 - h0) * (ubar - from)) / length;
    const q = d / half;
    const q2 = q * q;
    if (q2 >= 1) continue;
    let profile = Math.sqrt(1 - q2);
    const qi2 = q2 / (marrow * marrow);
    if (qi2 < 1) profile -= 0.75 * marrow * Math.sqrt(1 - qi2);
    let fade = 1;
    if (fadeFrom > 0 && ubar < from + fadeFrom) {
      const t = (ubar - from) / fadeFrom;
      fade *= t * t * (3 - 2 * t);
    }
    if (fadeTo > 0 && ubar > to - fadeTo) {
      const t = (to - ubar) / fadeTo;
      fade *= t * t * (3 - 2 * t);
    }
    bone[i] += amplitude * profile * fade;
  }
}

/** A tube's chord thickness along one row span (see Renderer.tube). */
function tubeRow(
  s: VesselSegment,
  target: Float32Array,
  scale: number,
  airReference: number,
  air: Float32Array,
  lung: Uint8Array,
  clear: Float32Array,
  i: number,
  count: number,
  u: number,
  v: number,
  du: number,
  dv: number,
): void {
  const su = s.u1 - s.u0;
  const sv = s.v1 - s.v0;
  const length2 = su * su + sv * sv;
  const inverse = length2 > 0 ? 1 / length2 : 0;
  for (let x = 0; x < count; x++, i++, u += du, v += dv) {
    let t = ((u - s.u0) * su + (v - s.v0) * sv) * inverse;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const pu = s.u0 + t * su - u;
    const pv = s.v0 + t * sv - v;
    const d2 = pu * pu + pv * pv;
    const radius = s.r0 + (s.r1 - s.r0) * t;
    if (d2 >= radius * radius) continue;
    let w = 1;
    if (airReference > 0) {
      if (lung[i] === 0) continue;
      w = air[i] / airReference;
      w = (w > 1 ? 1 : w) * (1 - clear[i]);
      if (w <= 0) continue;
    }
    target[i] += scale * w * 2 * Math.sqrt(radius * radius - d2);
  }
}

/**
 * Scratch maps reused from one image to the next (rendering is synchronous, so one set serves a
 * thread): allocating and collecting six full-size float maps per image costs more than drawing.
 */
const scratch = { f32: [] as Float32Array[], lung: new Uint8Array(0) };
function scratchMaps(n: number): {
  soft: Float32Array;
  air: Float32Array;
  bone: Float32Array;
  clear: Float32Array;
  A: Float32Array;
  lung: Uint8Array;
} {
  if (scratch.f32.length === 0 || scratch.f32[0].length < n) {
    scratch.f32 = Array.from({ length: 5 }, () => new Float32Array(n));
    scratch.lung = new Uint8Array(n);
  }
  const [soft, air, bone, clear, A] = scratch.f32.map((buffer) => buffer.subarray(0, n).fill(0));
  return { soft, air, bone, clear, A, lung: scratch.lung.subarray(0, n).fill(0) };
}

/** Block letters for the lead side marker, 5 x 7. */
const MARKER_GLYPHS: Record<'L' | 'R', string[]> = {
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
};

interface Maps {
  frame: Frame;
  soft: Float32Array;
  air: Float32Array;
  bone: Float32Array;
  /** 1 right lung, 2 left lung, 0 elsewhere (before findings). */
  lung: Uint8Array;
  /** 1 where there is no lung tissue (the pneumothorax's air space): no vessels, no texture. */
  clear: Float32Array;
}

class Renderer {
  private readonly m: Maps;
  readonly masks = new Map<PhantomTerm, Uint8Array>();
  readonly contrast = new Map<PhantomTerm, number>();
  private readonly patientBox: { uMin: number; uMax: number; vMin: number; vMax: number };
  private readonly attenuation: Float32Array;

  constructor(
    private readonly anatomy: Anatomy,
    private readonly findings: FindingParams,
    private readonly present: ReadonlySet<PhantomTerm>,
    private readonly acquisition: Acquisition,
    private readonly seed: number,
    private readonly index: number,
    private readonly nodules: NoduleAppearance,
  ) {
    const frame = new Frame(acquisition);
    const n = frame.rows * frame.columns;
    const maps = scratchMaps(n);
    this.m = { frame, soft: maps.soft, air: maps.air, bone: maps.bone, lung: maps.lung, clear: maps.clear };
    this.attenuation = maps.A;
    let uMin = Infinity;
    let uMax = -Infinity;
    let vMin = Infinity;
    let vMax = -Infinity;
    for (const [x, y] of [
      [0, 0],
      [frame.columns, 0],
      [0, frame.rows],
      [frame.columns, frame.rows],
    ]) {
      const u = frame.u(x, y);
      const v = frame.v(x, y);
      uMin = Math.min(uMin, u);
      uMax = Math.max(uMax, u);
      vMin = Math.min(vMin, v);
      vMax = Math.max(vMax, v);
    }
    this.patientBox = { uMin, uMax, vMin, vMax };
  }

  private mask(term: PhantomTerm): Uint8Array {
    let mask = this.masks.get(term);
    if (!mask) {
      mask = new Uint8Array(this.m.soft.length);
      this.masks.set(term, mask);
    }
    return mask;
  }

  /** Records the mean attenuation change of a finding over its mask. */
  private addContrast(term: PhantomTerm, sum: number, count: number): void {
    const previous = this.contrast.get(term);
    this.contrast.set(term, (previous ?? 0) + (count > 0 ? sum / count : 0));
  }

  render(): Rendered {
    this.body();
    this.lungs();
    this.mediastinum();
    if (this.present.has('pneumothorax')) this.pneumothorax();
    this.texture();
    if (this.present.has('pleural effusion')) this.effusion();
    if (this.present.has('consolidation')) this.consolidation();
    if (this.present.has('atelectasis')) this.atelectasis();
    if (this.present.has('nodule')) for (const lesion of this.findings.nodule.lesions) this.lesion('nodule', lesion);
    if (this.present.has('mass')) for (const lesion of this.findings.mass.lesions) this.lesion('mass', lesion);
    this.vessels();
    this.softExtras();
    this.bones();
    return this.expose();
  }

  /** Body soft tissue: an elliptical cross-section whose width follows neck, shoulders, chest and abdomen. */
  private body(): void {
    const { frame, soft } = this.m;
    const { body } = this.anatomy;
    const domeMean = (this.anatomy.lungs.right.dome.v + this.anatomy.lungs.left.dome.v) / 2;
    const box = this.patientBox;
    const { dudx, dvdx } = frame;
    // The half-width and depth depend on v only: tabulate them every 0.5 mm.
    const step = 0.5;
    const count = Math.ceil((box.vMax - box.vMin) / step) + 2;
    const halfWidths = new Float32Array(count);
    const depths = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      const v = box.vMin + k * step;
      let halfWidth: number;
      let depth = body.depth;
      if (v >= body.axillaV) {
        halfWidth = body.halfWidth * (1 - 0.06 * smoothstep(domeMean + 40, domeMean + 160, v));
      } else if (v >= body.shoulderV) {
        const t = smoothstep(body.axillaV - 45, body.axillaV, v);
        halfWidth = body.shoulderHalfWidth + (body.halfWidth - body.shoulderHalfWidth) * t;
      } else {
        // The shoulder line slopes from the acromion up to the neck.
        const t = smoothstep(body.shoulderV - 60, body.shoulderV, v);
        halfWidth = body.neckHalfWidth + (body.shoulderHalfWidth - body.neckHalfWidth) * Math.sqrt(t);
        depth *= 0.6 + 0.4 * t;
      }
      halfWidths[k] = halfWidth;
      depths[k] = depth;
    }
    frame.scanRows(box.uMin, box.uMax, box.vMin, box.vMax, (x0, x1, u, v, i) => {
      for (let x = x0; x <= x1; x++, i++, u += dudx, v += dvdx) {
        const k = Math.min(count - 1, Math.max(0, Math.round((v - box.vMin) / step)));
        const r = u / halfWidths[k];
        const r2 = r * r;
        if (r2 < 1) soft[i] = depths[k] * Math.sqrt(1 - r2);
      }
    });
  }

  private lungs(): void {
    for (const side of ['right', 'left'] as const) this.lung(this.anatomy.lungs[side], side === 'right' ? 1 : 2);
  }

  private lung(lung: Lung, code: number): void {
    const { frame, air, lung: lungMap } = this.m;
    const inner = medialEdge(lung);
    const outer = lateralEdge(lung);
    const top = lung.cv - lung.top;
    const bottom = Math.max(diaphragmV(lung, inner), diaphragmV(lung, outer)) + 2;
    const uA = lung.sigma * inner;
    const uB = lung.sigma * outer;
    frame.scanRows(Math.min(uA, uB), Math.max(uA, uB), top, bottom, (x0, x1, u, v, i) => {
      lungRow(lung, code, air, lungMap, i, x1 - x0 + 1, u, v, frame.dudx, frame.dvdx);
    });
  }

  /**
   * Air displaced by a solid ellipsoid (heart, great vessels, aortic knob): the lung air falls by
   * `fraction` at its centre. With `mask`, marks the part above the diaphragm (the heart's silhouette).
   */
  private displace(e: Ellipse, fraction: number, mask: Uint8Array | null = null): void {
    const { frame, air } = this.m;
    const extent = ellipseExtent(e);
    const c = Math.cos(e.angle);
    const s = Math.sin(e.angle);
    const right = this.anatomy.lungs.right.dome;
    const left = this.anatomy.lungs.left.dome;
    frame.scanRows(e.u - extent.x, e.u + extent.x, e.v - extent.y, e.v + extent.y, (x0, x1, u, v, i) => {
      for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
        const du = u - e.u;
        const dv = v - e.v;
        const p = (du * c + dv * s) / e.a;
        const q = (-du * s + dv * c) / e.b;
        const r2 = p * p + q * q;
        if (r2 >= 1) continue;
        air[i] *= 1 - fraction * Math.sqrt(1 - r2);
        if (mask) {
          const dome = u < 0 ? right : left;
          const d = (u < 0 ? -u : u) - dome.u;
          if (v < dome.v + dome.k * d * d) mask[i] = 1;
        }
      }
    });
  }

  private mediastinum(): void {
    const a = this.anatomy;
    const heartMask = this.present.has('cardiomegaly') ? this.mask('cardiomegaly') : null;
    this.displace(a.heart, a.heart.displaces, heartMask);
    this.displace(a.greatVessels, 0.9);
    this.displace(a.aorticKnob, 0.85);
    // Trachea and main bronchi: air columns in the mediastinum.
    const { frame, air } = this.m;
    const t = a.trachea;
    frame.scanRows(t.u - t.halfWidth, t.u + t.halfWidth, t.topV, t.carinaV, (x0, x1, u, v, i) => {
      for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
        const r = (u - t.u) / t.halfWidth;
        if (r * r < 1) air[i] += 1.6 * t.halfWidth * Math.sqrt(1 - r * r) * smoothstep(t.carinaV, t.carinaV - 10, v);
      }
    });
    for (const s of t.bronchi) this.tube(s, air, 1.5);
  }

  /**
   * A tube (vessel, bronchus) along a segment, added to `target` with `scale` per mm of chord.
   * With `airReference`, only inside the lung, weighted by the air left there (vessels vanish in
   * airless lung) and absent where there is no lung tissue (a pneumothorax).
   */
  private tube(s: VesselSegment, target: Float32Array, scale: number, airReference = 0): void {
    const { frame, air, lung, clear } = this.m;
    const r = Math.max(s.r0, s.r1);
    frame.scanRows(
      Math.min(s.u0, s.u1) - r,
      Math.max(s.u0, s.u1) + r,
      Math.min(s.v0, s.v1) - r,
      Math.max(s.v0, s.v1) + r,
      (x0, x1, u, v, i) => {
        tubeRow(s, target, scale, airReference, air, lung, clear, i, x1 - x0 + 1, u, v, frame.dudx, frame.dvdx);
      },
    );
  }

  private pneumothorax(): void {
    const p = this.findings.pneumothorax;
    const lung = this.anatomy.lungs[p.side];
    const code = p.side === 'right' ? 1 : 2;
    const { frame, air, soft, lung: lungMap, clear } = this.m;
    const mask = this.mask('pneumothorax');
    const sigma = lung.sigma;
    const apex = lung.cv - lung.top;
    const gap = (v: number): number => {
      const below = v - apex;
      if (p.kind === 'apical') return p.depth * (1 - smoothstep(p.extent * 0.25, p.extent, below));
      return (
        p.depth *
        (0.55 + 0.45 * (1 - smoothstep(0, p.extent * 0.6, below))) *
        (1 - smoothstep(p.extent * 0.75, p.extent, below))
      );
    };
    const inner = medialEdge(lung);
    const outer = lateralEdge(lung);
    const tally = new Float64Array(2); // [sum, count]: typed, so the hot loops do not box doubles
    frame.scanRows(
      Math.min(sigma * inner, sigma * outer),
      Math.max(sigma * inner, sigma * outer),
      apex,
      apex + p.extent + 5,
      (x0, x1, u, v, i) => {
        for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
          if (lungMap[i] !== code) continue;
          const ubar = sigma * u;
          // Only the apical and lateral pleura: not the mediastinal surface.
          if (ubar - lung.cu < -0.35 * lung.medial && v - lung.cv > -0.55 * lung.top) continue;
          const g = gap(v);
          if (g <= 0.05) continue;
          const d = distanceToOutline(lung, ubar, v);
          const line = Math.abs(d - g);
          if (line < p.line.halfWidth * 2) soft[i] += p.line.density * Math.max(0, 1 - line / (p.line.halfWidth * 2));
          if (d < g) {
            const before = air[i];
            air[i] *= 1 + p.lucency;
            clear[i] = Math.max(clear[i], smoothstep(g, g - 0.6, d));
            mask[i] = 1;
            tally[0] += -(air[i] - before) * MU_SOFT;
            tally[1]++;
          } else {
            air[i] *= 1 - p.collapse * (1 - smoothstep(g, g + 40, d) * 0.5);
          }
        }
      },
    );
    this.addContrast('pneumothorax', tally[0], tally[1]);
  }

  /**
   * Parenchymal texture: two octaves of value noise (about 3 and 9 mm) modulating the lung air.
   * With visible nodules the coarse octave, at the nodules' own scale, is weakened: the texture of
   * real lungs (secondary lobules, about 1 to 2.5 cm, and finer) is much fainter than a solid
   * nodule at 5 to 30 mm.
   */
  private texture(): void {
    const { frame, air, lung, clear } = this.m;
    const amount = 2 * this.anatomy.texture;
    const coarseWeight = this.nodules === 'visible' ? VISIBLE_COARSE_TEXTURE : 0.9;
    const { rows, columns, spacing } = frame;
    const fine = new PixelNoise(hash32(this.seed, this.index, 'texture fine'), rows, columns, 3.2 / spacing);
    const coarse = new PixelNoise(hash32(this.seed, this.index, 'texture coarse'), rows, columns, 9 / spacing);
    for (let y = 0, i = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++, i++) {
        if (lung[i] === 0) continue;
        const n = 0.6 * fine.at(x, y) + coarseWeight * coarse.at(x, y);
        air[i] *= 1 + amount * n * (1 - clear[i]);
      }
    }
  }

  private effusion(): void {
    const p = this.findings['pleural effusion'];
    const { frame, air, lung: lungMap } = this.m;
    const mask = this.mask('pleural effusion');
    const tally = new Float64Array(2); // [sum, count]: typed, so the hot loops do not box doubles
    for (const side of p.sides) {
      const lung = this.anatomy.lungs[side];
      const code = side === 'right' ? 1 : 2;
      const surface = effusionSurface(lung, p, side);
      const sigma = lung.sigma;
      const inner = medialEdge(lung);
      const outer = lateralEdge(lung);
      const topV = surface(outer);
      const bottomV = Math.max(diaphragmV(lung, inner), diaphragmV(lung, outer)) + 2;
      frame.scanRows(
        Math.min(sigma * inner, sigma * outer),
        Math.max(sigma * inner, sigma * outer),
        topV - 2,
        bottomV,
        (x0, x1, u, v, i) => {
          for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
            if (lungMap[i] !== code) continue;
            const depth = v - surface(sigma * u);
            if (depth <= 0) continue;
            const fraction = p.density * smoothstep(0, p.ramp, depth);
            const before = air[i];
            air[i] *= 1 - fraction;
            if (fraction >= 0.5 * p.density) {
              mask[i] = 1;
              tally[0] += (before - air[i]) * MU_SOFT;
              tally[1]++;
            }
          }
        },
      );
    }
    this.addContrast('pleural effusion', tally[0], tally[1]);
  }

  private consolidation(): void {
    const p = this.findings.consolidation;
    const { frame, air, lung: lungMap } = this.m;
    const mask = this.mask('consolidation');
    const code = p.side === 'right' ? 1 : 2;
    let uMin = Infinity;
    let uMax = -Infinity;
    let vMin = Infinity;
    let vMax = -Infinity;
    for (const b of p.blobs) {
      uMin = Math.min(uMin, b.u - 2.5 * b.sigma);
      uMax = Math.max(uMax, b.u + 2.5 * b.sigma);
      vMin = Math.min(vMin, b.v - 2.5 * b.sigma);
      vMax = Math.max(vMax, b.v + 2.5 * b.sigma);
    }
    const total = p.blobs.reduce((sum, b) => sum + b.weight, 0);
    const norm = 1 / Math.max(1, total * 0.45);
    const tally = new Float64Array(2); // [sum, count]: typed, so the hot loops do not box doubles
    frame.scanRows(uMin, uMax, vMin, vMax, (x0, x1, u, v, i) => {
      for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
        if (lungMap[i] !== code) continue;
        let c = 0;
        for (const b of p.blobs) {
          const du = u - b.u;
          const dv = v - b.v;
          c += b.weight * Math.exp(-(du * du + dv * dv) / (2 * b.sigma * b.sigma));
        }
        c *= norm;
        if (c < 0.2) continue;
        const core = smoothstep(0.25, 0.75, c);
        const patch =
          0.55 +
          0.45 * latticeNoise(p.patchSeed, u, v, 7) +
          0.15 * (latticeNoise(p.patchSeed ^ 0x5bd1e995, u, v, 2.5) - 0.5);
        let bronchus = 0;
        for (const s of p.bronchi) {
          const d = segmentDistance(s, u, v);
          const radius = s.r0 + (s.r1 - s.r0) * segmentT;
          if (d < radius) bronchus = Math.max(bronchus, Math.sqrt(1 - (d * d) / (radius * radius)));
        }
        const fraction = Math.min(0.97, p.density * core * patch * (1 - 0.85 * bronchus));
        const before = air[i];
        air[i] *= 1 - fraction;
        if (c >= 0.5) {
          mask[i] = 1;
          tally[0] += (before - air[i]) * MU_SOFT;
          tally[1]++;
        }
      }
    });
    this.addContrast('consolidation', tally[0], tally[1]);
  }

  private atelectasis(): void {
    const p = this.findings.atelectasis;
    const { frame, air, lung: lungMap } = this.m;
    const mask = this.mask('atelectasis');
    const code = p.side === 'right' ? 1 : 2;
    const tally = new Float64Array(2); // [sum, count]: typed, so the hot loops do not box doubles
    const apply = (i: number, fraction: number, inside: boolean): void => {
      const before = air[i];
      air[i] *= 1 - fraction;
      if (inside) {
        mask[i] = 1;
        tally[0] += (before - air[i]) * MU_SOFT;
        tally[1]++;
      }
    };
    if (p.band) {
      const b = p.band;
      const c = Math.cos(b.angle);
      const s = Math.sin(b.angle);
      const reach = b.length / 2 + b.halfThickness;
      frame.scanRows(b.u - reach, b.u + reach, b.v - reach, b.v + reach, (x0, x1, u, v, i) => {
        for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
          if (lungMap[i] !== code) continue;
          const along = (u - b.u) * c + (v - b.v) * s;
          const across = -(u - b.u) * s + (v - b.v) * c;
          const taper = 1 - (2 * Math.abs(along)) / b.length;
          if (taper <= 0) continue;
          const half = b.halfThickness * Math.sqrt(taper);
          const q = Math.abs(across) / half;
          if (q >= 1.4) continue;
          const profile = 1 - smoothstep(0.7, 1.4, q);
          apply(i, p.density * profile, q < 1);
        }
      });
    }
    if (p.wedge) {
      const vs = p.wedge.vertices;
      // Orientation-aware inward normals.
      const area = (vs[1][0] - vs[0][0]) * (vs[2][1] - vs[0][1]) - (vs[2][0] - vs[0][0]) * (vs[1][1] - vs[0][1]);
      const orient = area > 0 ? 1 : -1;
      const edges = vs.map((a, k) => {
        const b = vs[(k + 1) % 3];
        const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
        return {
          a,
          nu: (-(b[1] - a[1]) / length) * orient,
          nv: ((b[0] - a[0]) / length) * orient,
          margin: p.wedge!.margins[k],
        };
      });
      const us = vs.map((x) => x[0]);
      const vv = vs.map((x) => x[1]);
      const pad = Math.max(...p.wedge.margins);
      frame.scanRows(
        Math.min(...us) - pad,
        Math.max(...us) + pad,
        Math.min(...vv) - pad,
        Math.max(...vv) + pad,
        (x0, x1, u, v, i) => {
          for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
            if (lungMap[i] !== code) continue;
            let fraction = p.density;
            let inside = true;
            for (const e of edges) {
              const d = (u - e.a[0]) * e.nu + (v - e.a[1]) * e.nv;
              if (d < 0) inside = false;
              fraction *= smoothstep(-e.margin * 0.5, e.margin * 0.5, d);
              if (fraction <= 0) continue;
            }
            apply(i, fraction, inside);
          }
        },
      );
    }
    this.addContrast('atelectasis', tally[0], tally[1]);
  }

  private lesion(term: 'nodule' | 'mass', lesion: Lesion): void {
    const { frame, air } = this.m;
    const mask = this.mask(term);
    const maxLobe = lesion.lobes.reduce((s, l) => s + l.amp, 0);
    const reach = lesion.radius * (1 + maxLobe) + lesion.margin * 2;
    const e = lesion.margin / lesion.radius;
    const tally = new Float64Array(2); // [sum, count]: typed, so the hot loops do not box doubles
    frame.scanRows(lesion.u - reach, lesion.u + reach, lesion.v - reach, lesion.v + reach, (x0, x1, u, v, i) => {
      for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
        const du = u - lesion.u;
        const dv = v - lesion.v;
        const angle = Math.atan2(dv, du);
        let scale = 1;
        for (const l of lesion.lobes) scale += l.amp * Math.cos(l.freq * angle + l.phase);
        const r = Math.sqrt(du * du + dv * dv) / (lesion.radius * scale);
        if (r >= 1 + e) continue;
        const dome = Math.sqrt(Math.max(0, 1 - (r / (1 + e)) ** 2));
        const edge = 1 - smoothstep(1 - e, 1 + e, r);
        const thickness = 2 * lesion.radius * lesion.density * dome * edge * 0.9;
        const before = air[i];
        air[i] = Math.max(before * 0.08, before - thickness);
        if (r < 1) {
          mask[i] = 1;
          tally[0] += (before - air[i]) * MU_SOFT;
          tally[1]++;
        }
      }
    });
    this.addContrast(term, tally[0] / Math.max(1, this.findings[term].lesions.length), tally[1]);
  }

  /** Vessels: soft tissue in the aerated lung, fading where the air is gone, absent in a pneumothorax. */
  private vessels(): void {
    const reference = (0.3 * (this.anatomy.lungs.right.airDepth + this.anatomy.lungs.left.airDepth)) / 2;
    for (const s of this.anatomy.vessels) this.tube(s, this.m.soft, this.anatomy.vesselDensity, reference);
  }

  private softExtras(): void {
    const { frame, soft, air } = this.m;
    const a = this.anatomy;
    const addEllipsoid = (
      e: Ellipse & { thickness: number },
      target: Float32Array,
      condition?: (u: number, v: number) => boolean,
    ): void => {
      const extent = ellipseExtent(e);
      frame.scanRows(e.u - extent.x, e.u + extent.x, e.v - extent.y, e.v + extent.y, (x0, x1, u, v, i) => {
        for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
          const r2 = ellipseR2(e, u, v);
          if (r2 >= 1) continue;
          if (condition && !condition(u, v)) continue;
          target[i] += e.thickness * Math.sqrt(1 - r2);
        }
      });
    };
    // Breasts: dense below, fading upwards (an ellipse twice as tall above its centre).
    for (const b of a.breasts) {
      addEllipsoid(b, soft, (_u, v) => v >= b.v);
      addEllipsoid({ ...b, b: b.b * 2 }, soft, (_u, v) => v < b.v);
    }
    for (const n of a.nipples) addEllipsoid(n, soft);
    if (a.gastricBubble) {
      const g = a.gastricBubble;
      addEllipsoid(g, air, (u, v) => v > diaphragmAt(a, u) + 4);
    }
  }

  /** A bone along a curve, scanned in short pieces so each box hugs the curve. */
  private boneCurve(curve: BoneCurve): void {
    const { frame, bone } = this.m;
    const { sigma, from, to } = curve;
    const h = Math.max(...curve.halfWidth);
    const pieces = Math.max(1, Math.ceil((to - from) / 8));
    const piece = (to - from) / pieces;
    for (let p = 0; p < pieces; p++) {
      const start = from + p * piece;
      const end = p === pieces - 1 ? to : start + piece;
      const va = curveV(curve, start);
      const vb = curveV(curve, end);
      const vm = curveV(curve, (start + end) / 2);
      const vMin = Math.min(va, vb, vm) - h * 1.5;
      const vMax = Math.max(va, vb, vm) + h * 1.5;
      frame.scanRows(
        Math.min(sigma * start, sigma * end),
        Math.max(sigma * start, sigma * end),
        vMin,
        vMax,
        (x0, x1, u, v, i) => {
          boneCurveRow(curve, bone, start, end, i, x1 - x0 + 1, u, v, frame.dudx, frame.dvdx);
        },
      );
    }
  }

  private bones(): void {
    const { frame, bone } = this.m;
    const a = this.anatomy;
    const box = this.patientBox;
    // Spine: vertebral bodies with end plates, discs and pedicles.
    const sp = a.spine;
    frame.scanRows(sp.u - sp.halfWidth, sp.u + sp.halfWidth, box.vMin, box.vMax, (x0, x1, u, v, i) => {
      for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
        const x = (u - sp.u) / sp.halfWidth;
        if (x * x >= 1) continue;
        let phase = v / sp.period + sp.phase;
        phase -= Math.floor(phase);
        const inDisc = phase < 0.16;
        const plate = phase < 0.22 ? 1.2 : phase > 0.94 ? 1.15 : 1;
        let value = sp.bone * Math.sqrt(1 - x * x) * (inDisc ? 0.7 : plate);
        if (!inDisc) {
          // Pedicles: rings either side of the upper half of each body.
          const pu = (Math.abs(x) - 0.62) / 0.2;
          const pv = (phase - 0.42) / 0.16;
          const r2 = pu * pu + pv * pv;
          if (r2 < 1) value += sp.bone * 0.35 * (r2 > 0.45 ? 1 : 0.4);
        }
        bone[i] += value;
      }
    });
    for (const rib of a.ribs) this.boneCurve(rib);
    for (const clavicle of a.clavicles) this.boneCurve(clavicle);
    for (const s of a.scapulae) {
      const height = s.bottomV - s.topV;
      frame.scanRows(
        Math.min(s.sigma * s.borderU, s.sigma * (s.borderU + 90)),
        Math.max(s.sigma * s.borderU, s.sigma * (s.borderU + 90)),
        s.topV,
        s.bottomV,
        (x0, x1, u, v, i) => {
          for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
            const t = (v - s.topV) / height;
            const border = s.borderU + s.slope * (v - s.topV);
            const width = 85 * (1 - t) + 4;
            const x = s.sigma * u - border;
            if (x < 0 || x > width) continue;
            let value = s.bone * (0.6 + 0.4 * Math.sqrt(1 - ((2 * x) / width - 1) ** 2));
            if (x < 3.5) value += s.bone * 1.1 * (1 - x / 3.5);
            bone[i] += value * smoothstep(0, 0.08, t);
          }
        },
      );
    }
    for (const h of a.humeralHeads) {
      frame.scanRows(h.u - h.a, h.u + h.a, h.v - h.b, h.v + h.b, (x0, x1, u, v, i) => {
        for (let x = x0; x <= x1; x++, i++, u += frame.dudx, v += frame.dvdx) {
          const r2 = ellipseR2(h, u, v);
          if (r2 < 1) bone[i] += h.bone * Math.sqrt(1 - r2);
        }
      });
    }
  }

  /** Detector and processing: attenuation, blur, collimation, noise, range compression, stored values. */
  private expose(): Rendered {
    const { frame, soft, air, bone } = this.m;
    const acq = this.acquisition;
    const { rows, columns } = frame;
    const n = rows * columns;
    const A = this.attenuation;
    for (let i = 0; i < n; i++) {
      const tissue = soft[i] - air[i];
      A[i] = MU_SOFT * (tissue > 0 ? tissue : 0) + MU_BONE * bone[i];
    }
    this.marker(A);
    blur(A, rows, columns, acq.blur, soft); // `soft` is free now: it serves as scratch

    const { top, bottom, left, right } = acq.field;
    // Outside the field the collimator blades absorb most of the beam.
    if (acq.collimated) {
      for (let y = 0; y < rows; y++) {
        const row = y * columns;
        if (y < top || y > bottom) {
          for (let x = 0; x < columns; x++) A[row + x] += 3.2;
        } else {
          for (let x = 0; x < left; x++) A[row + x] += 3.2;
          for (let x = right + 1; x < columns; x++) A[row + x] += 3.2;
        }
      }
    }

    // Exposure anchors from the anatomy (not from the pixels, so a finding never changes them):
    // typical attenuation through the lungs and through the mediastinum.
    const a = this.anatomy;
    const airDepth = (a.lungs.right.airDepth + a.lungs.left.airDepth) / 2;
    const lungLevel = MU_SOFT * (a.body.depth - airDepth * 0.85);
    const mediastinumLevel = MU_SOFT * a.body.depth + MU_BONE * a.spine.bone * 0.7;
    const reference = (lungLevel + mediastinumLevel) / 2;
    const k = acq.compression;
    const lungAfter = lungLevel - k * (lungLevel - reference);
    const mediastinumAfter = mediastinumLevel - k * (mediastinumLevel - reference);
    const spread = mediastinumAfter - lungAfter;
    const black = lungAfter - acq.blackMargin * spread;
    const white = mediastinumAfter + acq.whiteMargin * spread;

    // Dynamic range compression: subtract a fraction of the low-pass (the processing of a DX image
    // for presentation, which lets lungs and mediastinum share one window).
    const low = air; // free now
    if (k > 0) {
      const clipped = bone; // free now
      const lowClip = lungLevel - 0.5 * (mediastinumLevel - lungLevel);
      const highClip = mediastinumLevel + 0.5 * (mediastinumLevel - lungLevel);
      for (let i = 0; i < n; i++) clipped[i] = A[i] < lowClip ? lowClip : A[i] > highClip ? highClip : A[i];
      const factor = Math.max(2, Math.round(acq.compressionRadius / acq.spacing / 3));
      lowPass(clipped, rows, columns, factor, low);
    }

    // Quantum noise: the sigma of the log signal is exp(A / 2) / sqrt(photons), tabulated.
    const table = gaussians();
    let state = hash32(this.seed, this.index, 'quantum noise') | 1;
    const expSteps = 256;
    const expTable = new Float32Array(12 * expSteps + 2);
    const noiseScale = 1 / Math.sqrt(acq.photons);
    for (let q = 0; q < expTable.length; q++) expTable[q] = noiseScale * Math.exp((0.5 * q) / expSteps);
    const expLimit = 12 * expSteps;

    const maxValue = 2 ** acq.bitsStored - 1;
    const lowValue = Math.max(1, Math.round(acq.low * maxValue));
    const highValue = Math.min(maxValue - 1, Math.round(acq.high * maxValue));
    // Gamma through a table with linear interpolation.
    const lutSize = 2048;
    const lut = new Float32Array(lutSize + 2);
    for (let q = 0; q <= lutSize + 1; q++) lut[q] = Math.min(1, q / lutSize) ** acq.gamma;
    const span = 1 / (white - black);
    const valueSpan = highValue - lowValue;
    const stored = new Uint16Array(n);
    const invert = acq.photometric === 'MONOCHROME1';
    const paddingValue = acq.padding ? (invert ? maxValue : 0) : null;
    for (let y = 0; y < rows; y++) {
      const rowInField = y >= top && y <= bottom;
      for (let x = 0, i = y * columns; x < columns; x++, i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        if (paddingValue !== null && !(rowInField && x >= left && x <= right)) {
          stored[i] = paddingValue;
          continue;
        }
        const attenuation = A[i];
        let e = attenuation * expSteps;
        e = e < 0 ? 0 : e > expLimit ? expLimit : e;
        let L = attenuation + table[(state >>> 8) & 0xffff] * expTable[e | 0];
        if (k > 0) L -= k * (low[i] - reference);
        let t = (L - black) * span;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const f = t * lutSize;
        const q = f | 0;
        const level = lut[q] + (lut[q + 1] - lut[q]) * (f - q);
        const value = (lowValue + valueSpan * level + 0.5) | 0;
        stored[i] = invert ? maxValue - value : value;
      }
    }

    // Masks live in the exposed field only.
    if (acq.collimated) {
      for (const mask of this.masks.values()) {
        for (let y = 0; y < rows; y++) {
          const row = y * columns;
          if (y < top || y > bottom) mask.fill(0, row, row + columns);
          else {
            mask.fill(0, row, row + left);
            mask.fill(0, row + right + 1, row + columns);
          }
        }
      }
    }
    return {
      stored,
      masks: this.masks,
      contrast: this.contrast,
      paddingValue,
      valueRange: [lowValue, highValue],
      lungs: this.m.lung.slice(),
    };
  }

  /** A lead side marker ("L" on the patient's left, "R" on the right) near a top corner of the field. */
  private marker(A: Float32Array): void {
    const marker = this.anatomy.marker;
    if (!marker) return;
    const { frame } = this.m;
    const acq = this.acquisition;
    const glyph = MARKER_GLYPHS[marker.sigma > 0 ? 'L' : 'R'];
    const cell = Math.max(1, Math.round(2.4 / acq.spacing));
    const widthPx = 5 * cell;
    const inset = Math.round(8 / acq.spacing);
    const x0 = marker.sigma > 0 ? acq.field.right - inset - widthPx : acq.field.left + inset;
    const y0 = acq.field.top + inset;
    for (let gy = 0; gy < 7; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        if (glyph[gy][gx] !== '#') continue;
        for (let dy = 0; dy < cell; dy++) {
          for (let dx = 0; dx < cell; dx++) {
            const x = x0 + gx * cell + dx;
            const y = y0 + gy * cell + dy;
            if (x >= 0 && y >= 0 && x < frame.columns && y < frame.rows) A[y * frame.columns + x] += 2.2;
          }
        }
      }
    }
  }
}

export function renderPhantom(
  anatomy: Anatomy,
  findings: FindingParams,
  present: ReadonlySet<PhantomTerm>,
  acquisition: Acquisition,
  seed: number,
  index: number,
  nodules: NoduleAppearance = 'standard',
): Rendered {
  return new Renderer(anatomy, findings, present, acquisition, seed, index, nodules).render();
}
