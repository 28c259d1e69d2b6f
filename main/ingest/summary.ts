/**
 * What `triage decode` reports of a radiograph: its format, size, transfer syntax, pixel
 * semantics, identifying UIDs and display window, without its pixels. (Patient names and IDs are
 * never read into a Radiograph.)
 */
import { endianness } from 'node:os';
import type { Radiograph } from './radiograph.js';

export interface DecodeSummary {
  file: string;
  format: Radiograph['format'];
  rows: number;
  columns: number;
  transferSyntax: string | null;
  transferSyntaxName: string | null;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  sopInstanceUID: string | null;
  studyInstanceUID: string | null;
  modality: string | null;
  bodyPart: string | null;
  viewPosition: string | null;
  window: { center: number; width: number; source: string };
  resolution: Radiograph['resolution'];
  decodeMs: number;
}

export function decodeSummary(radiograph: Radiograph, decodeMs: number): DecodeSummary {
  const m = radiograph.metadata;
  return {
    file: radiograph.file,
    format: radiograph.format,
    rows: radiograph.rows,
    columns: radiograph.columns,
    transferSyntax: radiograph.transferSyntax?.uid ?? null,
    transferSyntaxName: radiograph.transferSyntax?.name ?? null,
    photometric: radiograph.photometric,
    bitsAllocated: radiograph.bitsAllocated,
    bitsStored: radiograph.bitsStored,
    sopInstanceUID: m.sopInstanceUID,
    studyInstanceUID: m.studyInstanceUID,
    modality: m.modality,
    bodyPart: m.bodyPartExamined,
    viewPosition: m.viewPosition,
    window: { center: radiograph.window.center, width: radiograph.window.width, source: radiograph.window.source },
    resolution: radiograph.resolution,
    decodeMs: Math.round(decodeMs * 100) / 100,
  };
}

/** Modality values as float32 little endian, whatever the host's byte order. */
export function modalityBytes(pixels: Float32Array): Uint8Array {
  const bytes = new Uint8Array(pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength));
  if (endianness() === 'BE') {
    for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  }
  return bytes;
}
