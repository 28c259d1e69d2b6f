/**
 * The acquisition: detector framing (size, aspect, pixel spacing, in-plane rotation, shifted
 * framing, collimation), exposure (photon count, so quantum noise), detector blur, the
 * processing a DX "for presentation" image gets (dynamic range compression, brightness, contrast,
 * gamma), and how the values are stored (bit depth, MONOCHROME1/2, padding, windows).
 */
import { apexV, costophrenicAngle, lateralEdge } from './anatomy.js';
import type { Anatomy } from './anatomy.js';
import type { Random } from './random.js';

export type PhantomFormat = 'dicom' | 'png';
export type Photometric = 'MONOCHROME1' | 'MONOCHROME2';
/**
 * The DICOM VOI: one Window Center/Width pair, two pairs, a VOI LUT Sequence instead of a window,
 * or nothing (only on request: DX for presentation requires one or the other, so such files fail
 * dciodvfy; they exercise a reader's automatic window).
 */
export type WindowKind = 'single' | 'multiple' | 'lut' | 'none';

export interface Acquisition {
  rows: number;
  columns: number;
  /** Pixel spacing at the patient, mm (square pixels). */
  spacing: number;
  /** In-plane rotation of the patient on the detector, radians (positive: clockwise on screen). */
  rotation: number;
  /** Pixel position (column, row) of the patient origin. */
  originX: number;
  originY: number;
  /** The exposed field, inclusive pixel bounds; the whole image when not collimated. */
  field: { top: number; bottom: number; left: number; right: number };
  collimated: boolean;
  /** Outside the exposed field the pixels hold the Pixel Padding Value (DICOM) or 0 (PNG). */
  padding: boolean;
  photometric: Photometric;
  bitsStored: number;
  window: WindowKind;
  /** Photons per pixel without the patient (quantum noise). */
  photons: number;
  /** Detector blur, Gaussian sigma in pixels. */
  blur: number;
  /** Dynamic range compression strength (0 none) and its kernel size, mm. */
  compression: number;
  compressionRadius: number;
  /**
   * Exposure and processing: black and white are set this many lung-to-mediastinum contrasts below
   * the lungs and above the mediastinum (so brightness and contrast vary, the anatomy stays in range),
   * with this gamma between.
   */
  blackMargin: number;
  whiteMargin: number;
  gamma: number;
  /** Stored value range used by the image, as fractions of the full scale. */
  low: number;
  high: number;
  /** Source-to-detector over source-to-patient: detector (imager) spacing = spacing * magnification. */
  magnification: number;
  /** Whether the DICOM carries a calibrated Pixel Spacing beside Imager Pixel Spacing. */
  pixelSpacingAttribute: boolean;
  kvp: number;
  sourceToDetector: number;
}

export interface AcquisitionOptions {
  format: PhantomFormat;
  /** Long side in pixels. */
  size: number;
  photometric?: Photometric;
  bitsStored?: number;
  window?: WindowKind;
  padding?: boolean;
}

/** The thorax box every framing must contain (lungs, costophrenic angles, the lateral ribs). */
export function thoraxBox(anatomy: Anatomy): { uMin: number; uMax: number; vMin: number; vMax: number } {
  const { right, left } = anatomy.lungs;
  const cpRight = costophrenicAngle(right);
  const cpLeft = costophrenicAngle(left);
  return {
    uMin: -lateralEdge(right) - 14,
    uMax: lateralEdge(left) + 14,
    vMin: Math.min(apexV(right), apexV(left)) - 22,
    vMax: Math.max(cpRight.v, cpLeft.v, anatomy.lungs.left.dome.v + 20) + 14,
  };
}

export function sampleAcquisition(rng: Random, anatomy: Anatomy, options: AcquisitionOptions): Acquisition {
  const landscape = rng.chance(0.7);
  const long = options.size;
  const short = Math.round(long * rng.uniform(0.8, 0.92));
  const rows = landscape ? short : long;
  const columns = landscape ? long : short;
  const rotation = (rng.truncatedNormal(0, 1.8, -5, 5) * Math.PI) / 180;

  const collimatedDraw = rng.chance(0.55);
  const collimated = options.padding === true || collimatedDraw;
  const edge = (extent: number): number => (collimated ? Math.round(extent * rng.uniform(0.015, 0.1)) : 0);
  const field = {
    top: edge(rows),
    bottom: rows - 1 - edge(rows),
    left: edge(columns),
    right: columns - 1 - edge(columns),
  };
  const fieldWidth = field.right - field.left + 1;
  const fieldHeight = field.bottom - field.top + 1;

  // Spacing: the smallest that fits the rotated thorax into the field, times a framing margin.
  const box = thoraxBox(anatomy);
  const w = box.uMax - box.uMin;
  const h = box.vMax - box.vMin;
  const c = Math.abs(Math.cos(rotation));
  const s = Math.abs(Math.sin(rotation));
  const boxW = c * w + s * h;
  const boxH = s * w + c * h;
  const minimum = Math.max(boxW / fieldWidth, boxH / fieldHeight);
  const spacing = minimum * rng.uniform(1.02, 1.3);
  // Radiographers centre the chest: the framing shifts by at most 35 mm across and 45 mm down.
  const slackX = Math.min((fieldWidth - boxW / spacing) * 0.47, 35 / spacing);
  const slackY = Math.min((fieldHeight - boxH / spacing) * 0.47, 45 / spacing);
  const centreX = field.left + (fieldWidth - 1) / 2 + rng.uniform(-1, 1) * slackX;
  const centreY = field.top + (fieldHeight - 1) / 2 + rng.uniform(-1, 1) * slackY;
  const uc = (box.uMin + box.uMax) / 2;
  const vc = (box.vMin + box.vMax) / 2;
  const cos = Math.cos(rotation);
  const sin = Math.sin(rotation);
  const originX = centreX - (cos * uc - sin * vc) / spacing;
  const originY = centreY - (sin * uc + cos * vc) / spacing;

  const dicom = options.format === 'dicom';
  const bitsStored =
    options.bitsStored ??
    (dicom
      ? rng.weighted([
          [10, 0.15],
          [12, 0.4],
          [14, 0.25],
          [16, 0.2],
        ] as const)
      : rng.chance(0.5)
        ? 8
        : 16);
  const photometric = options.photometric ?? (dicom && rng.chance(0.2) ? 'MONOCHROME1' : 'MONOCHROME2');
  const window: WindowKind =
    options.window ??
    (dicom
      ? rng.weighted([
          ['single', 0.45],
          ['multiple', 0.12],
          ['lut', 0.43],
        ] as const)
      : 'none');
  const padding = options.padding ?? (collimated && rng.chance(0.45));
  const ap = anatomy.view === 'AP';

  return {
    rows,
    columns,
    spacing,
    rotation,
    originX,
    originY,
    field,
    collimated,
    padding,
    photometric,
    bitsStored,
    window,
    photons: rng.logUniform(2500, 40000),
    blur: rng.uniform(0.45, 1.3),
    compression: rng.chance(0.8) ? rng.uniform(0.25, 0.7) : 0,
    compressionRadius: rng.uniform(20, 45),
    blackMargin: rng.uniform(0.7, 1.2),
    whiteMargin: rng.uniform(0.2, 0.6),
    gamma: rng.uniform(0.75, 1.25),
    low: rng.uniform(0, 0.07),
    high: rng.uniform(0.8, 1),
    magnification: ap ? rng.uniform(1.12, 1.25) : rng.uniform(1.06, 1.12),
    pixelSpacingAttribute: rng.chance(0.5),
    kvp: ap ? rng.int(85, 110) : rng.int(110, 130),
    sourceToDetector: ap ? rng.int(1000, 1200) : rng.int(1700, 1830),
  };
}

/** Patient (mm) to pixel mapping and back for an acquisition. Pixel (x, y) is column, row of a pixel centre. */
export class Frame {
  readonly rows: number;
  readonly columns: number;
  readonly spacing: number;
  /** Patient coordinate steps per pixel along x (a column step) and y (a row step). */
  readonly dudx: number;
  readonly dvdx: number;
  readonly dudy: number;
  readonly dvdy: number;
  private readonly ox: number;
  private readonly oy: number;
  private readonly cos: number;
  private readonly sin: number;

  constructor(acquisition: Pick<Acquisition, 'rows' | 'columns' | 'spacing' | 'rotation' | 'originX' | 'originY'>) {
    this.rows = acquisition.rows;
    this.columns = acquisition.columns;
    this.spacing = acquisition.spacing;
    this.cos = Math.cos(acquisition.rotation);
    this.sin = Math.sin(acquisition.rotation);
    this.ox = acquisition.originX;
    this.oy = acquisition.originY;
    this.dudx = this.cos * this.spacing;
    this.dvdx = -this.sin * this.spacing;
    this.dudy = this.sin * this.spacing;
    this.dvdy = this.cos * this.spacing;
  }

  x(u: number, v: number): number {
    return this.ox + (this.cos * u - this.sin * v) / this.spacing;
  }

  y(u: number, v: number): number {
    return this.oy + (this.sin * u + this.cos * v) / this.spacing;
  }

  u(x: number, y: number): number {
    return (x - this.ox) * this.dudx + (y - this.oy) * this.dudy;
  }

  v(x: number, y: number): number {
    return (x - this.ox) * this.dvdx + (y - this.oy) * this.dvdy;
  }

  /** Pixel bounds (inclusive, clipped) covering a patient-space box; null when outside the image. */
  box(
    uMin: number,
    uMax: number,
    vMin: number,
    vMax: number,
  ): { x0: number; x1: number; y0: number; y1: number } | null {
    let xMin = Infinity;
    let xMax = -Infinity;
    let yMin = Infinity;
    let yMax = -Infinity;
    for (const u of [uMin, uMax]) {
      for (const v of [vMin, vMax]) {
        const x = this.x(u, v);
        const y = this.y(u, v);
        if (x < xMin) xMin = x;
        if (x > xMax) xMax = x;
        if (y < yMin) yMin = y;
        if (y > yMax) yMax = y;
      }
    }
    const x0 = Math.max(0, Math.floor(xMin) - 1);
    const x1 = Math.min(this.columns - 1, Math.ceil(xMax) + 1);
    const y0 = Math.max(0, Math.floor(yMin) - 1);
    const y1 = Math.min(this.rows - 1, Math.ceil(yMax) + 1);
    if (x0 > x1 || y0 > y1) return null;
    return { x0, x1, y0, y1 };
  }

  /**
   * Visits every row of a patient-space box: the pixel span [x0, x1], the patient coordinates of
   * its first pixel and that pixel's index. Hot loops iterate the span themselves with dudx, dvdx.
   */
  scanRows(
    uMin: number,
    uMax: number,
    vMin: number,
    vMax: number,
    visit: (x0: number, x1: number, u: number, v: number, i: number) => void,
  ): void {
    const b = this.box(uMin, uMax, vMin, vMax);
    if (!b) return;
    for (let y = b.y0; y <= b.y1; y++) visit(b.x0, b.x1, this.u(b.x0, y), this.v(b.x0, y), y * this.columns + b.x0);
  }
}
