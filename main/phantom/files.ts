/**
 * Writing one phantom to a set folder: the image (DICOM or PNG) and one binary mask PNG per
 * present finding, and the entry that labels.csv and phantoms.json are made from.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { TriageError } from '../errors/index.js';
import { encodePhantomDicom } from './dicom.js';
import { generatePhantom } from './generate.js';
import type { FindingRecord, Phantom, PhantomOptions } from './generate.js';
import { PHANTOM_TERMS, termSlug } from './terms.js';
import type { LabelColumn, PhantomTerm } from './terms.js';

/** What phantoms.json records about one image (everything but the pixels). */
export interface PhantomEntry {
  file: string;
  index: number;
  rows: number;
  columns: number;
  bitsStored: number;
  photometric: Phantom['photometric'];
  view: Phantom['view'];
  labels: Record<LabelColumn, 0 | 1>;
  masks: Partial<Record<PhantomTerm, string>>;
  ctr: number;
  findings: FindingRecord[];
  acquisition: {
    pixelSpacingMm: number;
    imagerPixelSpacingMm: number;
    rotationDeg: number;
    collimated: boolean;
    padding: boolean;
    paddingValue: number | null;
    voi: Phantom['acquisition']['window'];
    windows: Phantom['windows'];
    photonsPerPixel: number;
    blurPx: number;
    rangeCompression: number;
    gamma: number;
  };
  patient: {
    name: string;
    id: string;
    sex: 'M' | 'F';
    age: number;
    size: number;
    inspiration: number;
    thoracicWidthMm: number;
  };
  study: {
    number: number;
    position: number;
    size: number;
    studyInstanceUID: string;
    seriesInstanceUID: string;
    sopInstanceUID: string;
  };
  /** Size of the image file, bytes. */
  bytes: number;
}

/** A 0/255 8-bit grey PNG of a 0/1 mask. */
export function encodeMaskPng(mask: Uint8Array, columns: number, rows: number): Uint8Array {
  const data = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) data[i] = mask[i] ? 255 : 0;
  return encode({ width: columns, height: rows, data, depth: 8, channels: 1 }, { zlib: { level: 1 } });
}

/** The phantom as an 8- or 16-bit grey PNG of its stored values. */
export function encodePhantomPng(phantom: Phantom): Uint8Array {
  const { columns: width, rows: height } = phantom;
  if (phantom.bitsStored === 8) {
    return encode(
      { width, height, data: Uint8Array.from(phantom.stored), depth: 8, channels: 1 },
      { zlib: { level: 4 } },
    );
  }
  if (phantom.bitsStored !== 16) throw new RangeError(`PNG phantoms are 8 or 16 bits, not ${phantom.bitsStored}`);
  return encode({ width, height, data: phantom.stored, depth: 16, channels: 1 }, { zlib: { level: 4 } });
}

export function encodePhantom(phantom: Phantom): Uint8Array {
  return phantom.format === 'png' ? encodePhantomPng(phantom) : encodePhantomDicom(phantom);
}

export function imageFileName(phantom: Pick<Phantom, 'name' | 'format'>): string {
  return `${phantom.name}.${phantom.format === 'png' ? 'png' : 'dcm'}`;
}

export function maskPath(term: PhantomTerm, name: string): string {
  return `masks/${termSlug(term)}/${name}.png`;
}

async function write(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new TriageError('OUTPUT_FAILED', `Cannot write ${path} (${code}); check the folder exists and is writable.`, {
      file: path,
    });
  }
}

export function entryOf(phantom: Phantom, bytes: number): PhantomEntry {
  const acq = phantom.acquisition;
  const masks: Partial<Record<PhantomTerm, string>> = {};
  for (const term of PHANTOM_TERMS) if (phantom.masks[term]) masks[term] = maskPath(term, phantom.name);
  const round = (value: number, digits: number): number => Number(value.toFixed(digits));
  return {
    file: imageFileName(phantom),
    index: phantom.index,
    rows: phantom.rows,
    columns: phantom.columns,
    bitsStored: phantom.bitsStored,
    photometric: phantom.photometric,
    view: phantom.view,
    labels: phantom.labels,
    masks,
    ctr: phantom.ctr,
    findings: phantom.findings,
    acquisition: {
      pixelSpacingMm: round(acq.spacing, 4),
      imagerPixelSpacingMm: round(acq.spacing * acq.magnification, 4),
      rotationDeg: round((acq.rotation * 180) / Math.PI, 2),
      collimated: acq.collimated,
      padding: acq.padding,
      paddingValue: phantom.paddingValue,
      voi: phantom.format === 'png' ? 'none' : acq.window,
      windows: phantom.windows,
      photonsPerPixel: Math.round(acq.photons),
      blurPx: round(acq.blur, 2),
      rangeCompression: round(acq.compression, 3),
      gamma: round(acq.gamma, 3),
    },
    patient: {
      name: phantom.study.patientName,
      id: phantom.study.patientID,
      sex: phantom.study.sex,
      age: phantom.study.age,
      size: phantom.anatomy.size,
      inspiration: phantom.anatomy.inspiration,
      thoracicWidthMm: phantom.anatomy.thoracicWidthMm,
    },
    study: {
      number: phantom.study.study + 1,
      position: phantom.study.position + 1,
      size: phantom.study.size,
      studyInstanceUID: phantom.study.studyInstanceUID,
      seriesInstanceUID: phantom.study.seriesInstanceUID,
      sopInstanceUID: phantom.study.sopInstanceUID,
    },
    bytes,
  };
}

/** Generates phantom `index` and writes its image and masks under `out` (whose mask folders exist). */
export async function writePhantom(
  out: string,
  seed: number,
  index: number,
  options: PhantomOptions,
): Promise<PhantomEntry> {
  const phantom = generatePhantom(seed, index, options);
  const bytes = encodePhantom(phantom);
  await write(join(out, imageFileName(phantom)), bytes);
  for (const term of PHANTOM_TERMS) {
    const mask = phantom.masks[term];
    if (mask) await write(join(out, maskPath(term, phantom.name)), encodeMaskPng(mask, phantom.columns, phantom.rows));
  }
  return entryOf(phantom, bytes.length);
}
