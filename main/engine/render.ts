/**
 * The decode pool's other jobs on one file, beside preparing model inputs: the viewer's image
 * (checked against the content the result was made from: never other pixels under these
 * findings) and `triage decode`'s summary and outputs. Both run in a decode worker, within its
 * time and memory budget, so a hostile file stops only that worker.
 */
import { createHash } from 'node:crypto';
import type { RenderedImage } from '../domain/index.js';
import { TriageError } from '../errors/index.js';
import {
  decodeRadiograph,
  decodeSummary,
  encodeGreyPng,
  modalityBytes,
  readImageFile,
  renderDisplay,
  storedPixels,
} from '../ingest/index.js';
import type { DecodeSummary, ReadBuffer } from '../ingest/index.js';

/** A file's bytes, checked against the content hash its result was made from (when known). */
export async function readChecked(file: string, sha256: string | null, buffer?: ReadBuffer): Promise<Uint8Array> {
  const bytes = await readImageFile(file, buffer);
  if (sha256 !== null && createHash('sha256').update(bytes).digest('hex') !== sha256) {
    throw new TriageError(
      'FILE_CHANGED',
      'The file changed since it was analysed; its pixels are not shown under the old findings. Analyse it again.',
      { file },
    );
  }
  return bytes;
}

/** A typed array's values in an ArrayBuffer of their own (a view may share a larger buffer). */
function ownBuffer(array: Uint16Array): ArrayBuffer {
  return array.slice().buffer as ArrayBuffer;
}

/** The viewer's image of a file whose content must still be `sha256` (null: not checked). */
export async function renderImage(file: string, sha256: string | null, buffer?: ReadBuffer): Promise<RenderedImage> {
  const bytes = await readChecked(file, sha256, buffer);
  const started = performance.now();
  const radiograph = await decodeRadiograph(file, bytes);
  const decodeMs = Math.round((performance.now() - started) * 10) / 10;
  const { metadata } = radiograph;
  return {
    file,
    rows: radiograph.rows,
    columns: radiograph.columns,
    ...storedPixels(radiograph),
    window: { ...radiograph.window },
    voiLut: radiograph.voiLut
      ? {
          firstMapped: radiograph.voiLut.firstMapped,
          bitsPerEntry: radiograph.voiLut.bitsPerEntry,
          data: ownBuffer(radiograph.voiLut.data),
        }
      : null,
    invert: radiograph.invert,
    photometric: radiograph.photometric,
    bitsStored: radiograph.bitsStored,
    pixelSpacing: metadata.pixelSpacing,
    format: radiograph.format,
    transferSyntax: radiograph.transferSyntax?.name ?? null,
    modality: metadata.modality,
    viewPosition: metadata.viewPosition,
    decodeMs,
  };
}

export interface DecodeOutputs {
  /** Decode only enough resolution for this many pixels on the shorter side. */
  shortSide?: number;
  /** Return the modality values (float32 little endian). */
  modality?: boolean;
  /** Return the display rendering as an 8-bit grey PNG. */
  display?: boolean;
}

export interface DecodedFile {
  summary: DecodeSummary;
  modality: Uint8Array | null;
  display: Uint8Array | null;
}

/** `triage decode`'s work on one file. */
export async function decodeFile(file: string, outputs: DecodeOutputs, buffer?: ReadBuffer): Promise<DecodedFile> {
  const started = performance.now();
  const bytes = await readImageFile(file, buffer);
  const radiograph = await decodeRadiograph(file, bytes, { minShortSide: outputs.shortSide });
  const summary = decodeSummary(radiograph, performance.now() - started);
  const display = outputs.display ? renderDisplay(radiograph) : null;
  return {
    summary,
    modality: outputs.modality ? modalityBytes(radiograph.pixels) : null,
    display: display ? encodeGreyPng(display.pixels, display.columns, display.rows) : null,
  };
}
