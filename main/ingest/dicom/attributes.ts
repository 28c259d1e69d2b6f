/**
 * The Image Pixel module and the attributes around it, read once and checked, so that decoders get
 * a description they can trust: absurd or inconsistent values stop here with INVALID_ATTRIBUTE or
 * TOO_LARGE, before anything is allocated.
 */
import { quoted, TriageError } from '../../errors/index.js';
import { checkImageSize } from '../budget.js';
import type { Photometric, RadiographMetadata } from '../radiograph.js';
import type { DataSet } from './parse.js';

export const TAG = {
  transferSyntaxUID: 'x00020010',
  sopClassUID: 'x00080016',
  sopInstanceUID: 'x00080018',
  modality: 'x00080060',
  studyInstanceUID: 'x0020000d',
  seriesInstanceUID: 'x0020000e',
  bodyPartExamined: 'x00180015',
  viewPosition: 'x00185101',
  imageLaterality: 'x00200062',
  laterality: 'x00200060',
  patientOrientation: 'x00200020',
  patientSex: 'x00100040',
  patientAge: 'x00101010',
  samplesPerPixel: 'x00280002',
  photometric: 'x00280004',
  planarConfiguration: 'x00280006',
  numberOfFrames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  imagerPixelSpacing: 'x00181164',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  highBit: 'x00280102',
  pixelRepresentation: 'x00280103',
  pixelPaddingValue: 'x00280120',
  pixelPaddingRangeLimit: 'x00280121',
  windowCenter: 'x00281050',
  windowWidth: 'x00281051',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  voiLutSequence: 'x00283010',
  lutDescriptor: 'x00283002',
  lutExplanation: 'x00283003',
  lutData: 'x00283006',
  pixelData: 'x7fe00010',
  floatPixelData: 'x7fe00008',
  doubleFloatPixelData: 'x7fe00009',
} as const;

const PHOTOMETRICS: readonly Photometric[] = [
  'MONOCHROME1',
  'MONOCHROME2',
  'RGB',
  'YBR_FULL',
  'YBR_FULL_422',
  'YBR_RCT',
  'YBR_ICT',
  'PALETTE COLOR',
];

export interface PixelDescription {
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  photometric: Photometric;
  /** 0: colour-by-pixel (RGBRGB), 1: colour-by-plane (RRGGBB). */
  planarConfiguration: 0 | 1;
  bitsAllocated: 1 | 8 | 16 | 32;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  numberOfFrames: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Stored values (after masking and sign extension) that mark padding, inclusive range. */
  padding: { from: number; to: number } | null;
}

function invalid(message: string): never {
  throw new TriageError('INVALID_ATTRIBUTE', message);
}

function required(dataSet: DataSet, tag: string, name: string): number {
  const value = dataSet.uint16(tag);
  if (value === undefined) invalid(`${name} (${tagLabel(tag)}) is missing; the image cannot be laid out without it.`);
  return value;
}

export function tagLabel(tag: string): string {
  return `${tag.slice(1, 5)},${tag.slice(5, 9)}`.toUpperCase();
}

function finiteDS(dataSet: DataSet, tag: string, name: string, fallback: number): number {
  if (!dataSet.elements[tag] || dataSet.elements[tag].length === 0) return fallback;
  const value = dataSet.floatString(tag);
  if (value === undefined || !Number.isFinite(value)) invalid(`${name} (${tagLabel(tag)}) is not a number.`);
  return value;
}

/** A US/SS value whose sign follows Pixel Representation (implicit VR cannot tell them apart). */
function pixelValueAttribute(dataSet: DataSet, tag: string, signed: boolean, bitsStored: number): number | null {
  const raw = dataSet.uint16(tag);
  if (raw === undefined) return null;
  return signed ? signExtend(raw, Math.min(16, bitsStored)) : raw;
}

export function signExtend(value: number, bits: number): number {
  const shift = 32 - bits;
  return (value << shift) >> shift;
}

export function readPixelDescription(dataSet: DataSet): PixelDescription {
  const rows = required(dataSet, TAG.rows, 'Rows');
  const columns = required(dataSet, TAG.columns, 'Columns');
  if (rows === 0 || columns === 0) invalid(`The image has ${rows} rows and ${columns} columns; both must be positive.`);
  checkImageSize(columns, rows, 'The image');

  const samples = dataSet.uint16(TAG.samplesPerPixel) ?? 1;
  if (samples !== 1 && samples !== 3) invalid(`Samples per Pixel is ${samples}; only 1 (grey) or 3 (colour) exist.`);

  const photometricText = (dataSet.string(TAG.photometric) ?? (samples === 3 ? 'RGB' : 'MONOCHROME2')).toUpperCase();
  if (!PHOTOMETRICS.includes(photometricText as Photometric)) {
    invalid(`Photometric Interpretation ${quoted(photometricText)} is not one this reader knows.`);
  }
  const photometric = photometricText as Photometric;
  const colour = samples === 3;
  if (colour === (photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2' || photometric === 'PALETTE COLOR')) {
    invalid(`Photometric Interpretation ${photometric} does not fit Samples per Pixel ${samples}.`);
  }
  if (photometric === 'PALETTE COLOR') invalid('Palette colour images are not radiographs and are not supported.');

  const bitsAllocated = required(dataSet, TAG.bitsAllocated, 'Bits Allocated');
  if (![1, 8, 16, 32].includes(bitsAllocated))
    invalid(`Bits Allocated is ${bitsAllocated}; it must be 1, 8, 16 or 32.`);
  if (bitsAllocated === 1) invalid('1-bit images (Bits Allocated 1) are overlays, not radiographs.');
  const bitsStored = dataSet.uint16(TAG.bitsStored) ?? bitsAllocated;
  if (bitsStored < 1 || bitsStored > bitsAllocated) {
    invalid(
      `Bits Stored is ${bitsStored} but Bits Allocated is ${bitsAllocated}; Bits Stored must be 1 to ${bitsAllocated}.`,
    );
  }
  const highBit = dataSet.uint16(TAG.highBit) ?? bitsStored - 1;
  if (highBit < bitsStored - 1 || highBit >= bitsAllocated) {
    invalid(
      `High Bit is ${highBit}; with Bits Stored ${bitsStored} and Bits Allocated ${bitsAllocated} it must be ${bitsStored - 1} to ${bitsAllocated - 1}.`,
    );
  }
  const representation = dataSet.uint16(TAG.pixelRepresentation) ?? 0;
  if (representation !== 0 && representation !== 1)
    invalid(`Pixel Representation is ${representation}; it must be 0 or 1.`);
  const signed = representation === 1;

  const planar = colour ? (dataSet.uint16(TAG.planarConfiguration) ?? 0) : 0;
  if (planar !== 0 && planar !== 1) invalid(`Planar Configuration is ${planar}; it must be 0 or 1.`);

  const framesValue = dataSet.elements[TAG.numberOfFrames] ? dataSet.intString(TAG.numberOfFrames) : 1;
  const numberOfFrames = framesValue === undefined || Number.isNaN(framesValue) ? 1 : framesValue;
  if (numberOfFrames < 1) invalid(`Number of Frames is ${numberOfFrames}; it must be at least 1.`);

  const rescaleSlope = finiteDS(dataSet, TAG.rescaleSlope, 'Rescale Slope', 1);
  const rescaleIntercept = finiteDS(dataSet, TAG.rescaleIntercept, 'Rescale Intercept', 0);
  if (rescaleSlope === 0) invalid('Rescale Slope is 0, which would flatten every pixel to the same value.');

  const paddingValue = pixelValueAttribute(dataSet, TAG.pixelPaddingValue, signed, bitsStored);
  const paddingLimit = pixelValueAttribute(dataSet, TAG.pixelPaddingRangeLimit, signed, bitsStored);
  const padding =
    paddingValue === null
      ? null
      : {
          from: Math.min(paddingValue, paddingLimit ?? paddingValue),
          to: Math.max(paddingValue, paddingLimit ?? paddingValue),
        };

  return {
    rows,
    columns,
    samplesPerPixel: samples,
    photometric,
    planarConfiguration: planar,
    bitsAllocated: bitsAllocated as PixelDescription['bitsAllocated'],
    bitsStored,
    highBit,
    signed,
    numberOfFrames,
    rescaleSlope,
    rescaleIntercept,
    padding,
  };
}

/**
 * A string attribute, or null. The metadata's attributes are codes, UIDs and short texts (64
 * characters at most in the standard): a longer value is cut there, so a hostile file cannot
 * carry megabytes into results, logs or the window.
 */
function text(dataSet: DataSet, tag: string): string | null {
  const value = dataSet.string(tag);
  if (value === undefined || value === '') return null;
  return value.length > MAX_TEXT ? value.slice(0, MAX_TEXT) : value;
}

/** The longest metadata value kept: UIDs and LO texts are at most 64 characters. */
const MAX_TEXT = 64;

/**
 * The value at `index` of a multi-valued string attribute, or undefined. dicom-parser's own
 * accessors throw when the attribute holds fewer values than the index asks for.
 */
export function numberAt(dataSet: DataSet, tag: string, index: number): number | undefined {
  const count = dataSet.numStringValues(tag);
  if (count === undefined || count <= index) return undefined;
  return dataSet.floatString(tag, index);
}

function spacing(dataSet: DataSet): [number, number] | null {
  for (const tag of [TAG.pixelSpacing, TAG.imagerPixelSpacing]) {
    const row = numberAt(dataSet, tag, 0);
    const column = numberAt(dataSet, tag, 1);
    if (row !== undefined && column !== undefined && row > 0 && column > 0 && Number.isFinite(row + column)) {
      return [row, column];
    }
  }
  return null;
}

/** What later stages need; Patient Name (0010,0010) and Patient ID (0010,0020) are never read. */
export function readMetadata(dataSet: DataSet, numberOfFrames: number): RadiographMetadata {
  const orientation = text(dataSet, TAG.patientOrientation);
  return {
    sopClassUID: text(dataSet, TAG.sopClassUID),
    sopInstanceUID: text(dataSet, TAG.sopInstanceUID),
    studyInstanceUID: text(dataSet, TAG.studyInstanceUID),
    seriesInstanceUID: text(dataSet, TAG.seriesInstanceUID),
    modality: text(dataSet, TAG.modality),
    bodyPartExamined: text(dataSet, TAG.bodyPartExamined),
    viewPosition: text(dataSet, TAG.viewPosition),
    imageLaterality: text(dataSet, TAG.imageLaterality) ?? text(dataSet, TAG.laterality),
    patientOrientation: orientation === null ? null : orientation.split('\\').map((part) => part.trim()),
    pixelSpacing: spacing(dataSet),
    patientSex: text(dataSet, TAG.patientSex),
    patientAge: text(dataSet, TAG.patientAge),
    numberOfFrames,
  };
}
