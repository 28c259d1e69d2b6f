/** `triage decode FILE [--modality-out PATH] [--display-out PATH.png] [--short-side N]` */
import { writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { parseArgs } from 'node:util';
import { TriageError } from '../../errors/index.js';
import { encodeGreyPng, readRadiograph, renderDisplay } from '../../ingest/index.js';
import type { Radiograph } from '../../ingest/index.js';
import { printJson } from '../output.js';
import { positiveInteger, usage } from '../usage.js';

export const DECODE_HELP = `triage decode FILE [--modality-out PATH] [--display-out PATH.png] [--short-side N]

  Decodes one radiograph (DICOM, PNG or JPEG) and prints what was read as one JSON object.
  --modality-out PATH   write rows x columns float32 little-endian modality values (after rescale, before VOI)
  --display-out PATH    write an 8-bit greyscale PNG after VOI, bone bright
  --short-side N        decode only enough resolution for N pixels on the shorter side
                        (JPEG 2000 and HTJ2K decode a lower resolution level directly)`;

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

export function summarize(radiograph: Radiograph, decodeMs: number): DecodeSummary {
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

/** Float32 little endian whatever the host's byte order. */
export function modalityBytes(pixels: Float32Array): Uint8Array {
  const bytes = new Uint8Array(pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength));
  if (endianness() === 'BE') {
    for (let i = 0; i < bytes.length; i += 4) {
      bytes.subarray(i, i + 4).reverse();
    }
  }
  return bytes;
}

async function write(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new TriageError('OUTPUT_FAILED', `Cannot write ${path} (${code}); check the folder exists and is writable.`);
  }
}

export async function runDecode(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'modality-out': { type: 'string' },
      'display-out': { type: 'string' },
      'short-side': { type: 'string' },
    },
  });
  if (positionals.length !== 1) usage(`decode takes exactly one FILE.\n\n${DECODE_HELP}`);
  const file = positionals[0];
  const shortSide =
    values['short-side'] === undefined ? undefined : positiveInteger(values['short-side'], '--short-side');

  const started = performance.now();
  const radiograph = await readRadiograph(file, { minShortSide: shortSide });
  const decodeMs = performance.now() - started;

  if (values['modality-out']) await write(values['modality-out'], modalityBytes(radiograph.pixels));
  if (values['display-out']) {
    const display = renderDisplay(radiograph);
    await write(values['display-out'], encodeGreyPng(display.pixels, display.columns, display.rows));
  }
  printJson(summarize(radiograph, decodeMs));
  return 0;
}
