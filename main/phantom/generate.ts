/**
 * One phantom from (seed, index): the study and person it belongs to, its anatomy, its findings,
 * its acquisition, the rendered stored values and the ground truth (labels, masks, parameters).
 * Pure and deterministic: the same (seed, index, options) always gives the same values.
 */
import { buildHeart, costophrenicAngle, sampleAnatomy, SIGMA } from './anatomy.js';
import type { Anatomy } from './anatomy.js';
import { Frame, sampleAcquisition } from './acquisition.js';
import type { Acquisition, PhantomFormat, Photometric, WindowKind } from './acquisition.js';
import { sampleFindings, visibleNodules } from './findings.js';
import type { FindingParams, NoduleAppearance } from './findings.js';
import { hash32, Random, uuidDecimal } from './random.js';
import { renderPhantom } from './render.js';
import { LABEL_COLUMNS, PHANTOM_TERMS, PREVALENCE } from './terms.js';
import type { LabelColumn, PhantomTerm } from './terms.js';

export const DEFAULT_SIZE = 600;
export const MIN_SIZE = 128;
export const MAX_SIZE = 4096;

export interface PhantomOptions {
  /** 'dicom' (default): 10 to 16 stored bits, MONOCHROME1 or 2; 'png': 8 or 16 bits, MONOCHROME2. */
  format?: PhantomFormat;
  /** Long side in pixels (default 600); the short side follows the framing (80 to 92 % of it). */
  size?: number;
  /** The same phantom without these findings (everything else identical, noise included). */
  without?: readonly PhantomTerm[];
  /** The same phantom with these findings forced present (their parameters as they were drawn). */
  with?: readonly PhantomTerm[];
  /** Overrides of what the acquisition would draw. */
  photometric?: Photometric;
  bitsStored?: number;
  window?: WindowKind;
  padding?: boolean;
  /**
   * 'standard' (default): nodules as drawn, often fainter than the lung texture; 'visible': a
   * density floor for nodules and a weaker coarse texture octave (see visibleNodules).
   */
  nodules?: NoduleAppearance;
}

export interface VoiLutTable {
  /** First stored value mapped, bits per entry, and one entry per stored value from there. */
  firstMapped: number;
  bitsPerEntry: number;
  data: Uint16Array;
  explanation: string;
}

export interface StudyInfo {
  /** 0-based study number within the seed; patient number is study + 1. */
  study: number;
  /** Position of the image in its study (0-based) and the study's size (1 to 3). */
  position: number;
  size: number;
  patientName: string;
  patientID: string;
  sex: 'M' | 'F';
  age: number;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  /** YYYYMMDD and HHMMSS: the study's date and start (the same for all its images). */
  date: string;
  studyTime: string;
  /** HHMMSS: this image's acquisition (3 minutes after the study's previous image). */
  time: string;
}

/** Ground truth of one finding instance (a phantom can hold several nodules). */
export interface FindingRecord {
  term: PhantomTerm;
  side: 'right' | 'left' | 'both' | null;
  kind: string | null;
  /** Centre in patient millimetres and in image pixels (row, column after rotation, scale and framing). */
  centreMm: [number, number];
  centrePx: { row: number; column: number };
  /** Radius (lesions) or half-extent (regions), mm and pixels. */
  radiusMm: number;
  radiusPx: number;
  /**
   * Fraction of the lung in its path turned to soft tissue, 0 to 1 (for cardiomegaly: the share of
   * the lung air the heart displaces at its centre; null for a pneumothorax).
   */
  density: number | null;
  /**
   * Mean attenuation change the finding makes inside its mask, in line-integral units (about 0.02
   * per mm of soft tissue; negative: more lucent); null for cardiomegaly, whose finding is its size
   * (details.ctr).
   */
  contrast: number | null;
  /** Mask area in pixels (all instances of the term together). */
  maskPixels: number;
  /** Extra parameters of the kind of finding (cardiothoracic ratio, fluid height, gap depth...). */
  details: Record<string, number | string>;
}

export interface Phantom {
  seed: number;
  index: number;
  /** File stem, e.g. "phantom-00042". */
  name: string;
  format: PhantomFormat;
  rows: number;
  columns: number;
  bitsStored: number;
  photometric: Photometric;
  /** Stored values, row-major; MONOCHROME1 images are stored inverted (bone dark in the values). */
  stored: Uint16Array;
  /** Values outside the exposed field (DICOM Pixel Padding Value; 0 in PNG), or null when none. */
  paddingValue: number | null;
  /** Window Center/Width pairs written to the DICOM (empty: none). */
  windows: { center: number; width: number }[];
  /** The VOI LUT Sequence's one LUT (instead of windows), or null. */
  voiLut: VoiLutTable | null;
  labels: Record<LabelColumn, 0 | 1>;
  /** One binary mask (0/1, rows x columns) per present finding. */
  masks: Partial<Record<PhantomTerm, Uint8Array>>;
  findings: FindingRecord[];
  /** 1 in the right lung, 2 in the left, 0 elsewhere, before findings: where lesions can lie. */
  lungs: Uint8Array;
  /** Cardiothoracic ratio of this phantom's heart, present or not. */
  ctr: number;
  view: 'PA' | 'AP';
  acquisition: Acquisition;
  study: StudyInfo;
  anatomy: { size: number; inspiration: number; thoracicWidthMm: number };
}

/** Study sizes: 1 (50 %), 2 (30 %) or 3 (20 %) images. */
function studySize(seed: number, study: number): number {
  const r = hash32(seed, 'study size', study) / 4294967296;
  return r < 0.5 ? 1 : r < 0.8 ? 2 : 3;
}

/** The study an image belongs to: consecutive indices share a study of 1 to 3 images. */
export function studyOf(seed: number, index: number): { study: number; position: number; size: number } {
  let start = 0;
  for (let study = 0; ; study++) {
    const size = studySize(seed, study);
    if (index < start + size) return { study, position: index - start, size };
    start += size;
  }
}

export function phantomName(index: number): string {
  return `phantom-${String(index).padStart(5, '0')}`;
}

function studyInfo(seed: number, index: number): StudyInfo & { bodySize: number } {
  const { study, position, size } = studyOf(seed, index);
  const person = new Random(seed, 'person', study);
  const sex = person.chance(0.5) ? 'M' : 'F';
  const age = Math.round(person.truncatedNormal(58, 17, 18, 95));
  const bodySize = person.truncatedNormal(1, 0.065, 0.84, 1.18);
  const day = person.int(0, 364);
  const date = new Date(Date.UTC(2026, 0, 1 + day));
  const start = person.int(7 * 60, 19 * 60);
  const minutes = start + position * 3;
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const second = pad(person.int(0, 59));
  return {
    study,
    position,
    size,
    patientName: `PHANTOM^${study + 1}`,
    patientID: `PHANTOM-${study + 1}`,
    sex,
    age,
    bodySize,
    studyInstanceUID: `2.25.${uuidFor(seed, 'study', study)}`,
    seriesInstanceUID: `2.25.${uuidFor(seed, 'series', index)}`,
    sopInstanceUID: `2.25.${uuidFor(seed, 'instance', index)}`,
    date: `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}`,
    studyTime: `${pad(Math.floor(start / 60))}${pad(start % 60)}${second}`,
    time: `${pad(Math.floor(minutes / 60))}${pad(minutes % 60)}${second}`,
  };
}

function uuidFor(seed: number, kind: string, n: number): string {
  return uuidDecimal('cxr-triage phantom', seed, kind, n);
}

/** Which findings an image carries: independent draws, except that images 0 to 7 of every set cover normal and each finding once. */
function drawPresence(seed: number, index: number): Set<PhantomTerm> {
  const rng = new Random(seed, index, 'presence');
  const present = new Set<PhantomTerm>();
  for (const term of PHANTOM_TERMS) if (rng.chance(PREVALENCE[term])) present.add(term);
  if (index === 0) present.clear();
  else if (index <= PHANTOM_TERMS.length) present.add(PHANTOM_TERMS[index - 1]);
  return present;
}

/** The anatomy the findings act on: atelectasis's volume loss and the heart for the CTR. */
function finalAnatomy(base: Anatomy, findings: FindingParams, present: ReadonlySet<PhantomTerm>): Anatomy {
  const anatomy: Anatomy = structuredClone(base);
  if (present.has('atelectasis')) {
    const a = findings.atelectasis;
    anatomy.lungs[a.side].dome.v -= a.diaphragmRise;
    const shift = SIGMA[a.side] * a.mediastinalShift;
    anatomy.mediastinumShift += shift;
    anatomy.trachea.u += shift;
    for (const b of anatomy.trachea.bronchi) {
      b.u0 += shift;
      b.u1 += shift;
    }
    anatomy.aorticKnob.u += shift;
    anatomy.greatVessels.u += shift;
  }
  anatomy.ctr = present.has('cardiomegaly') ? findings.cardiomegaly.ctrEnlarged : findings.cardiomegaly.ctrNormal;
  anatomy.heart = buildHeart(anatomy, anatomy.ctr);
  return anatomy;
}

function windowsFor(
  acquisition: Acquisition,
  range: [number, number],
  rng: Random,
): { center: number; width: number }[] {
  if (acquisition.window !== 'single' && acquisition.window !== 'multiple') return [];
  const [low, high] = range;
  const maxValue = 2 ** acquisition.bitsStored - 1;
  const make = (centre: number, width: number): { center: number; width: number } => {
    const c = acquisition.photometric === 'MONOCHROME1' ? maxValue - centre : centre;
    return { center: Math.round(c), width: Math.max(2, Math.round(width)) };
  };
  const span = high - low;
  const windows = [make(low + span * rng.uniform(0.42, 0.58), span * rng.uniform(0.75, 1.05))];
  if (acquisition.window === 'multiple')
    windows.push(make(low + span * rng.uniform(0.3, 0.45), span * rng.uniform(0.45, 0.65)));
  return windows;
}

/** A sigmoid VOI LUT over the image's stored range, 12 bits per entry (mirrored for MONOCHROME1). */
function voiLutFor(acquisition: Acquisition, range: [number, number], rng: Random): VoiLutTable | null {
  if (acquisition.window !== 'lut') return null;
  const [low, high] = range;
  const maxValue = 2 ** acquisition.bitsStored - 1;
  const entries = high - low + 1;
  const centre = rng.uniform(0.4, 0.6);
  const slope = rng.uniform(0.12, 0.25);
  const sigmoid = (t: number): number => 1 / (1 + Math.exp(-(t - centre) / slope));
  const s0 = sigmoid(0);
  const s1 = sigmoid(1);
  const top = 4095;
  const data = new Uint16Array(entries);
  for (let k = 0; k < entries; k++) {
    const level = Math.round((top * (sigmoid(k / Math.max(1, entries - 1)) - s0)) / (s1 - s0));
    data[k] = level;
  }
  if (acquisition.photometric === 'MONOCHROME1') {
    // Display inverts MONOCHROME1 after the LUT: mirror the table so the rendering is the same.
    data.reverse();
    for (let k = 0; k < entries; k++) data[k] = top - data[k];
    return { firstMapped: maxValue - high, bitsPerEntry: 12, data, explanation: 'SIGMOID' };
  }
  return { firstMapped: low, bitsPerEntry: 12, data, explanation: 'SIGMOID' };
}

export function generatePhantom(seed: number, index: number, options: PhantomOptions = {}): Phantom {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`seed must be a non-negative whole number, not ${seed}`);
  if (!Number.isSafeInteger(index) || index < 0)
    throw new RangeError(`index must be a non-negative whole number, not ${index}`);
  const format = options.format ?? 'dicom';
  const size = options.size ?? DEFAULT_SIZE;
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE)
    throw new RangeError(`size must be ${MIN_SIZE} to ${MAX_SIZE}, not ${size}`);

  const study = studyInfo(seed, index);
  const viewRng = new Random(seed, index, 'view');
  const view = viewRng.chance(0.8) ? 'PA' : 'AP';
  const base = sampleAnatomy(
    new Random(seed, index, 'anatomy'),
    { sex: study.sex, age: study.age, size: study.bodySize },
    view,
  );
  const nodules = options.nodules ?? 'standard';
  if (nodules !== 'standard' && nodules !== 'visible')
    throw new RangeError(`nodules must be standard or visible, not ${String(nodules)}`);
  const findings = sampleFindings(seed, index, base);
  if (nodules === 'visible') findings.nodule.lesions = visibleNodules(findings.nodule.lesions);
  const acquisition = sampleAcquisition(new Random(seed, index, 'acquisition'), base, {
    format,
    size,
    photometric: format === 'png' ? 'MONOCHROME2' : options.photometric,
    bitsStored: options.bitsStored,
    window: format === 'png' ? 'none' : options.window,
    padding: options.padding,
  });

  const present = drawPresence(seed, index);
  for (const term of options.with ?? []) present.add(term);
  for (const term of options.without ?? []) present.delete(term);

  const anatomy = finalAnatomy(base, findings, present);
  const rendered = renderPhantom(anatomy, findings, present, acquisition, seed, index, nodules);
  const frame = new Frame(acquisition);

  const masks: Partial<Record<PhantomTerm, Uint8Array>> = {};
  const maskPixels = new Map<PhantomTerm, number>();
  for (const term of PHANTOM_TERMS) {
    const mask = rendered.masks.get(term);
    if (!mask || !present.has(term)) continue;
    let count = 0;
    for (let i = 0; i < mask.length; i++) count += mask[i];
    masks[term] = mask;
    maskPixels.set(term, count);
  }
  const labels = Object.fromEntries(LABEL_COLUMNS.map((column) => [column, 0])) as Record<LabelColumn, 0 | 1>;
  for (const term of present) labels[term] = 1;
  labels.normal = present.size === 0 ? 1 : 0;

  const records = describeFindings(anatomy, findings, present, frame, rendered.contrast, maskPixels);
  const windows = windowsFor(acquisition, rendered.valueRange, new Random(seed, index, 'window'));
  const voiLut = voiLutFor(acquisition, rendered.valueRange, new Random(seed, index, 'voi lut'));

  return {
    seed,
    index,
    name: phantomName(index),
    format,
    rows: acquisition.rows,
    columns: acquisition.columns,
    bitsStored: acquisition.bitsStored,
    photometric: acquisition.photometric,
    stored: rendered.stored,
    paddingValue: rendered.paddingValue,
    windows,
    voiLut,
    labels,
    masks,
    findings: records,
    lungs: rendered.lungs,
    ctr: round(anatomy.ctr, 4),
    view,
    acquisition,
    study: {
      study: study.study,
      position: study.position,
      size: study.size,
      patientName: study.patientName,
      patientID: study.patientID,
      sex: study.sex,
      age: study.age,
      studyInstanceUID: study.studyInstanceUID,
      seriesInstanceUID: study.seriesInstanceUID,
      sopInstanceUID: study.sopInstanceUID,
      date: study.date,
      studyTime: study.studyTime,
      time: study.time,
    },
    anatomy: {
      size: round(anatomy.size, 3),
      inspiration: round(anatomy.inspiration, 3),
      thoracicWidthMm: round(anatomy.thoracicWidth, 1),
    },
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function describeFindings(
  anatomy: Anatomy,
  findings: FindingParams,
  present: ReadonlySet<PhantomTerm>,
  frame: Frame,
  contrast: ReadonlyMap<PhantomTerm, number>,
  maskPixels: ReadonlyMap<PhantomTerm, number>,
): FindingRecord[] {
  const records: FindingRecord[] = [];
  const record = (
    term: PhantomTerm,
    side: FindingRecord['side'],
    kind: string | null,
    u: number,
    v: number,
    radius: number,
    density: number | null,
    details: Record<string, number | string> = {},
  ): void => {
    records.push({
      term,
      side,
      kind,
      centreMm: [round(u, 1), round(v, 1)],
      centrePx: { row: round(frame.y(u, v), 1), column: round(frame.x(u, v), 1) },
      radiusMm: round(radius, 1),
      radiusPx: round(radius / frame.spacing, 1),
      density: density === null ? null : round(density, 3),
      contrast: term === 'cardiomegaly' ? null : round(contrast.get(term) ?? 0, 4),
      maskPixels: maskPixels.get(term) ?? 0,
      details,
    });
  };
  for (const term of PHANTOM_TERMS) {
    if (!present.has(term)) continue;
    switch (term) {
      case 'cardiomegaly': {
        const h = anatomy.heart;
        record(term, null, null, h.u, h.v, (anatomy.ctr * anatomy.thoracicWidth) / 2, h.displaces, {
          ctr: round(anatomy.ctr, 4),
        });
        break;
      }
      case 'pleural effusion': {
        const p = findings[term];
        const side = p.sides.length === 2 ? 'both' : p.sides[0];
        const lung = anatomy.lungs[p.sides[0]];
        const cp = costophrenicAngle(lung);
        const height = Math.max(...p.sides.map((s) => p.height[s]));
        const details: Record<string, number | string> = { meniscusRampMm: round(p.ramp, 1) };
        for (const s of p.sides) details[`heightMm_${s}`] = round(p.height[s], 1);
        record(
          term,
          side,
          null,
          SIGMA[p.sides[0]] * (cp.u - height / 2),
          cp.v - height / 2,
          Math.max(height, 8),
          p.density,
          details,
        );
        break;
      }
      case 'pneumothorax': {
        const p = findings[term];
        const lung = anatomy.lungs[p.side];
        const apex = lung.cv - lung.top;
        record(
          term,
          p.side,
          p.kind,
          SIGMA[p.side] * (lung.cu + lung.lateral * 0.5),
          apex + p.extent / 3,
          p.extent / 2,
          null,
          {
            gapMm: round(p.depth, 1),
            extentMm: round(p.extent, 1),
            pleuralLineMm: round(p.line.density, 2),
          },
        );
        break;
      }
      case 'nodule':
      case 'mass':
        for (const lesion of findings[term].lesions) {
          record(term, lesion.side, null, lesion.u, lesion.v, lesion.radius, lesion.density, {
            diameterMm: round(lesion.radius * 2, 1),
            marginMm: round(lesion.margin, 1),
          });
        }
        break;
      case 'consolidation': {
        const p = findings[term];
        record(term, p.side, p.zone, p.u, p.v, p.extent, p.density, { airBronchograms: p.bronchi.length / 3 });
        break;
      }
      case 'atelectasis': {
        const p = findings[term];
        let u: number;
        let v: number;
        let radius: number;
        if (p.band) {
          ({ u, v } = p.band);
          radius = p.band.length / 2;
        } else {
          const vs = p.wedge!.vertices;
          u = (vs[0][0] + vs[1][0] + vs[2][0]) / 3;
          v = (vs[0][1] + vs[1][1] + vs[2][1]) / 3;
          radius = Math.max(...vs.map((x) => Math.hypot(x[0] - u, x[1] - v)));
        }
        record(term, p.side, p.kind, u, v, radius, p.density, {
          diaphragmRiseMm: round(p.diaphragmRise, 1),
          mediastinalShiftMm: round(p.mediastinalShift, 1),
        });
        break;
      }
    }
  }
  return records;
}
