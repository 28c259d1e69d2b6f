/**
 * One file to what the models need, and nothing more: read, decode (at the resolution the largest
 * model input needs), gate, and preprocess into each member's input plane. This runs in the
 * decode pool's worker threads, so its output is plain data that crosses a thread boundary
 * (structured clone, the input planes' buffers transferred): the full-size pixels never leave
 * the thread that decoded them.
 */
import { toTriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import { gate, REJECTING_ERRORS } from '../gate/index.js';
import { decodeRadiograph, openDicomRows } from '../ingest/index.js';
import type { SourceFormat } from '../common/index.js';
import type { Radiograph, RadiographFields, RadiographMetadata, ReadBuffer } from '../ingest/index.js';
import type { InputSpec } from '../packs/index.js';
import { preprocess, preprocessRows } from '../preprocess/index.js';
import { readChecked } from './render.js';
import type { ModelInput, PlaneCache } from '../preprocess/index.js';

/** What a decode worker is told once: every member's input, in the pack's order. */
export interface PreparePlan {
  inputs: InputSpec[];
  /** Decode at least this many pixels on the shorter side (JPEG 2000 and HTJ2K decode a level). */
  shortSide: number;
}

/** The radiograph without its pixels: what a viewer or a report needs to know about it. */
export interface ImageSummary {
  format: SourceFormat;
  /** The stored size (before any reduced-resolution decode). */
  rows: number;
  columns: number;
  /** The size decoded (smaller when a resolution level was enough). */
  decodedRows: number;
  decodedColumns: number;
  transferSyntax: string | null;
  metadata: RadiographMetadata;
}

export interface PrepareTimings {
  decodeMs: number;
  preprocessMs: number;
}

export type PreparedImage =
  /** Accepted by the gate: one input per member, in the pack's order. */
  | { status: 'ok'; image: ImageSummary; notes: string[]; inputs: ModelInput[]; timings: PrepareTimings }
  /** Refused by the gate (or not an image at all: then no summary). */
  | { status: 'rejected'; image: ImageSummary | null; reason: string; timings: PrepareTimings }
  /** A file that cannot be read or decoded: its coded error. */
  | { status: 'error'; image: null; error: { code: ErrorCode; message: string }; timings: PrepareTimings };

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function summarize(radiograph: RadiographFields): ImageSummary {
  return {
    format: radiograph.format,
    rows: radiograph.resolution?.fullRows ?? radiograph.rows,
    columns: radiograph.resolution?.fullColumns ?? radiograph.columns,
    decodedRows: radiograph.rows,
    decodedColumns: radiograph.columns,
    transferSyntax: radiograph.transferSyntax?.uid ?? null,
    metadata: radiograph.metadata,
  };
}

/**
 * Never throws: every failure is an outcome with its coded error. A decode worker lends its
 * ReadBuffer (nothing returned points into it: the summary is copied, the inputs are new). With
 * `sha256`, the file must still have that content (FILE_CHANGED otherwise).
 */
export async function prepareImage(
  file: string,
  plan: PreparePlan,
  buffer?: ReadBuffer,
  sha256: string | null = null,
): Promise<PreparedImage> {
  // An uncompressed DICOM is read a chunk of rows at a time where it can be (the same inputs);
  // a file whose content is checked is read whole, to hash it.
  if (sha256 === null) {
    const prepared = prepareFromRows(file, plan);
    if (prepared) return prepared;
  }
  const started = performance.now();
  let radiograph: Radiograph;
  try {
    const bytes = await readChecked(file, sha256, buffer);
    radiograph = await decodeRadiograph(file, bytes, { minShortSide: plan.shortSide });
  } catch (thrown) {
    const error = toTriageError(thrown, file);
    const timings = { decodeMs: round(performance.now() - started), preprocessMs: 0 };
    if (REJECTING_ERRORS.has(error.code)) return { status: 'rejected', image: null, reason: error.message, timings };
    return { status: 'error', image: null, error: { code: error.code, message: error.message }, timings };
  }
  const decodeMs = round(performance.now() - started);
  const image = summarize(radiograph);
  const decision = gate(radiograph);
  if (!decision.accepted)
    return { status: 'rejected', image, reason: decision.reason, timings: { decodeMs, preprocessMs: 0 } };
  const preprocessStarted = performance.now();
  try {
    // Members that read the same plane (the display rendering, usually) share it.
    const planes: PlaneCache = new Map();
    const inputs = plan.inputs.map((spec) => preprocess(radiograph, spec, planes));
    return {
      status: 'ok',
      image,
      notes: decision.notes,
      inputs,
      timings: { decodeMs, preprocessMs: round(performance.now() - preprocessStarted) },
    };
  } catch (thrown) {
    const error = toTriageError(thrown, file);
    return {
      status: 'error',
      image: null,
      error: { code: error.code, message: error.message },
      timings: { decodeMs, preprocessMs: 0 },
    };
  }
}

/**
 * prepareImage for a file read a chunk of rows at a time, straight into the preprocess stage's
 * area resize (openDicomRows, preprocessRows); null when the file or the plan does not allow it
 * (then nothing of it has been decoded, and the file is read whole). decodeMs is the header and
 * word tables, preprocessMs the rows' reading and resizing.
 */
function prepareFromRows(file: string, plan: PreparePlan): PreparedImage | null {
  if (plan.inputs.some((spec) => spec.resize !== 'area')) return null;
  const started = performance.now();
  const rows = openDicomRows(file);
  if (!rows) return null;
  try {
    const decodeMs = round(performance.now() - started);
    const image = summarize(rows.radiograph);
    const decision = gate(rows.radiograph);
    if (!decision.accepted)
      return { status: 'rejected', image, reason: decision.reason, timings: { decodeMs, preprocessMs: 0 } };
    const preprocessStarted = performance.now();
    let inputs: ModelInput[] | null;
    try {
      inputs = preprocessRows(rows, plan.inputs);
    } catch (thrown) {
      const error = toTriageError(thrown, file);
      const timings = { decodeMs, preprocessMs: 0 };
      return { status: 'error', image: null, error: { code: error.code, message: error.message }, timings };
    }
    if (!inputs) return null;
    const preprocessMs = round(performance.now() - preprocessStarted);
    return { status: 'ok', image, notes: decision.notes, inputs, timings: { decodeMs, preprocessMs } };
  } finally {
    rows.close();
  }
}

/** The buffers a prepared image hands over instead of copying (each input plane owns its own). */
export function transferables(prepared: PreparedImage): ArrayBuffer[] {
  if (prepared.status !== 'ok') return [];
  return prepared.inputs.map((input) => input.data.buffer as ArrayBuffer);
}
