/**
 * The ingest stage's output: one radiograph as the modality stored it, plus what later stages
 * need to know about it. Patient names and IDs are never read into this structure.
 */

import type { SourceFormat, WindowSource } from '../common/index.js';
import type { IndexedPixels } from './pixels/modality.js';

export type { IndexedPixels, WordTables } from './pixels/modality.js';

/** Photometric interpretations the ingest stage accepts; colour ones are reduced to luminance. */
export type Photometric =
  'MONOCHROME1' | 'MONOCHROME2' | 'RGB' | 'YBR_FULL' | 'YBR_FULL_422' | 'YBR_RCT' | 'YBR_ICT' | 'PALETTE COLOR';

export interface DisplayWindow {
  center: number;
  width: number;
  source: WindowSource;
}

/** A VOI LUT from the VOI LUT Sequence: input modality values from firstMapped map to data[i]. */
export interface VoiLut {
  firstMapped: number;
  bitsPerEntry: number;
  data: Uint16Array;
  explanation: string | null;
}

export interface TransferSyntax {
  uid: string;
  name: string;
}

/** The metadata later stages need; the names are DICOM's, values are trimmed strings or numbers. */
export interface RadiographMetadata {
  sopClassUID: string | null;
  sopInstanceUID: string | null;
  studyInstanceUID: string | null;
  seriesInstanceUID: string | null;
  modality: string | null;
  bodyPartExamined: string | null;
  viewPosition: string | null;
  imageLaterality: string | null;
  patientOrientation: string[] | null;
  /** Row spacing then column spacing in mm, at the resolution decoded. */
  pixelSpacing: [number, number] | null;
  patientSex: string | null;
  patientAge: string | null;
  numberOfFrames: number;
}

/** When only a lower resolution level was decoded (JPEG 2000, HTJ2K), the full size it came from. */
export interface ResolutionLevel {
  level: number;
  fullRows: number;
  fullColumns: number;
}

export interface Radiograph {
  file: string;
  format: SourceFormat;
  transferSyntax: TransferSyntax | null;
  rows: number;
  columns: number;
  /**
   * Modality values (stored values masked, sign-extended, rescaled), row-major, rows x columns.
   * When `indexed` is set this is made on first read (and kept): the stages that run on every
   * file read `indexed` instead, so a scan never holds a float32 copy of each image.
   */
  readonly pixels: Float32Array;
  /**
   * The same values as sample words and a per-word table (grey 8 and 16-bit DICOM); else absent.
   * Not enumerable where set: a copy of the radiograph with other pixels does not carry it.
   */
  readonly indexed?: IndexedPixels | null;
  /** Photometric interpretation as stored; pixels of colour images hold luminance. */
  photometric: Photometric;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  rescale: { slope: number; intercept: number };
  /** Smallest and largest modality value of the non-padding pixels. */
  range: { min: number; max: number };
  /** MONOCHROME1: low values are bright, so display inverts after VOI. */
  invert: boolean;
  window: DisplayWindow;
  voiLut: VoiLut | null;
  /**
   * 1 where the pixel is Pixel Padding (outside the collimated image), else 0; null when none.
   * Made on first read when `indexed` is set (which holds the padding per word).
   */
  readonly padding: Uint8Array | null;
  resolution: ResolutionLevel | null;
  metadata: RadiographMetadata;
}

/** A radiograph's fields but its pixels (`pixels`, `padding`, `range`, `indexed`). */
export type RadiographFields = Omit<Radiograph, 'pixels' | 'padding' | 'indexed' | 'range'>;

export function emptyMetadata(): RadiographMetadata {
  return {
    sopClassUID: null,
    sopInstanceUID: null,
    studyInstanceUID: null,
    seriesInstanceUID: null,
    modality: null,
    bodyPartExamined: null,
    viewPosition: null,
    imageLaterality: null,
    patientOrientation: null,
    pixelSpacing: null,
    patientSex: null,
    patientAge: null,
    numberOfFrames: 1,
  };
}
