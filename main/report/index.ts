/**
 * Results as DICOM objects a PACS stores and shows, for every DICOM image analysed or rejected:
 * a Comprehensive 3D SR (TID 1500) and a Secondary Capture with the heatmaps burned in, both in
 * the source's patient and study, in series of their own, written by the product's one DICOM
 * writer. Their SOP Instance UIDs are derived from (source SOP Instance UID, pack fingerprint,
 * kind), so sending the same result again deduplicates at the PACS. A PNG or JPEG source has no
 * patient or study to attach them to: it gets none.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalysisResult } from '../domain/index.js';
import { DicomWriteError, encodePart10, nameUid, tagText } from '../dicom/index.js';
import type { DicomElement } from '../dicom/index.js';
import { TriageError } from '../errors/index.js';
import type { Heatmap } from '../explain/index.js';
import { readHead, readRadiograph, sniffFormat } from '../ingest/index.js';
import { packFingerprint } from '../store/index.js';
import { readSource } from './source.js';
import { drawCapture, scDataSet, SECONDARY_CAPTURE } from './sc.js';
import { COMPREHENSIVE_3D_SR, NOT_FOR_CLINICAL_USE, srDataSet } from './sr.js';
import type { ObjectContext } from './sr.js';

export { readSource, sourceFromHeader } from './source.js';
export type { SourceImage } from './source.js';
export { CODES, COMPREHENSIVE_3D_SR, PRIVATE_SCHEME, termCode, callOf, srDataSet, NOT_FOR_CLINICAL_USE } from './sr.js';
export type { Code, ObjectContext } from './sr.js';
export {
  BAND_RGB,
  captureLayout,
  drawCapture,
  IMAGE_MAX_SIDE,
  legendLines,
  scDataSet,
  SECONDARY_CAPTURE,
} from './sc.js';
export type { CaptureLayout } from './sc.js';
export { drawText, wrapText, fitText, glyph, CELL_HEIGHT, CELL_WIDTH } from './font.js';
export type { Canvas } from './font.js';

/** Series numbers of the result series (one SR and one SC series per study and pack). */
export const SR_SERIES_NUMBER = '9901';
export const SC_SERIES_NUMBER = '9902';

export type ResultKind = 'sr' | 'sc';

export interface ResultObject {
  kind: ResultKind;
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  /** The Part 10 file. */
  bytes: Uint8Array;
}

export interface ResultObjects {
  /** The source image's SOP Instance UID. */
  source: string;
  sr: ResultObject;
  /** Null when `secondaryCapture` was false. */
  sc: ResultObject | null;
}

export interface ResultObjectsInput {
  /** The engine's result for the image (`result.file` is the source path). */
  result: AnalysisResult;
  /** The registered ensemble heatmaps of the positive findings, by finding term (Engine.analyze's `heatmaps`). */
  heatmaps: ReadonlyMap<string, { ensemble: Heatmap }>;
  /** Default true. */
  secondaryCapture?: boolean;
  /** The content date and time (default: now). */
  now?: Date;
}

/** Why an analysis gets no result objects, or null when it gets them. */
export function noObjectsReason(result: AnalysisResult): 'error' | null {
  return result.status === 'error' ? 'error' : null;
}

/** The deterministic SOP Instance UID of one result object. */
export function resultObjectUid(sourceSopInstanceUID: string, fingerprint: string, kind: ResultKind): string {
  return nameUid('result object', sourceSopInstanceUID, fingerprint, kind);
}

function dateTime(now: Date): { date: string; time: string } {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return {
    date: `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`,
    time: `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`,
  };
}

/** The writer's refusal of a copied value, as a coded error naming the attribute, never its value. */
function encode(dataSet: DicomElement[], sopClassUID: string, sopInstanceUID: string): Uint8Array {
  try {
    return encodePart10(dataSet, { mediaStorageSOPClassUID: sopClassUID, mediaStorageSOPInstanceUID: sopInstanceUID });
  } catch (error) {
    if (!(error instanceof DicomWriteError)) throw error;
    throw new TriageError(
      'INVALID_ATTRIBUTE',
      `The source's attribute (${tagText(error.tag)}) has a value no valid DICOM object can carry; no result object was written.`,
    );
  }
}

/**
 * The SR and the SC of one analysed or rejected image, or null for a PNG or JPEG source. Reads the
 * source's header (never its pixels) for the SR, and decodes the image again for the SC. Coded
 * errors: an error result (INVALID_REQUEST), a hostile or changed source (its ingest code,
 * FILE_CHANGED when its SOP Instance UID is no longer the result's).
 */
export async function buildResultObjects(input: ResultObjectsInput): Promise<ResultObjects | null> {
  const { result } = input;
  if (result.status === 'error') {
    throw new TriageError('INVALID_REQUEST', 'An image that could not be read has no result objects.', {
      file: result.file,
    });
  }
  const { head, size } = await readHead(result.file);
  if (sniffFormat(head, size) !== 'dicom') return null;
  const source = await readSource(result.file);
  if (result.sopInstanceUID !== null && result.sopInstanceUID !== source.sopInstanceUID) {
    throw new TriageError(
      'FILE_CHANGED',
      'The file is no longer the image that was analysed (its SOP Instance UID changed).',
      {
        file: result.file,
      },
    );
  }
  const fingerprint = packFingerprint({ pack: result.pack, models: result.models });
  const { date, time } = dateTime(input.now ?? new Date());
  const demo = result.notForClinicalUse || result.pack.demo;
  const suffix = demo ? ` - ${NOT_FOR_CLINICAL_USE}` : '';
  const context = (kind: ResultKind): ObjectContext => ({
    source,
    result,
    sopInstanceUID: resultObjectUid(source.sopInstanceUID, fingerprint, kind),
    seriesInstanceUID: nameUid('result series', source.studyInstanceUID, fingerprint, kind),
    seriesNumber: kind === 'sr' ? SR_SERIES_NUMBER : SC_SERIES_NUMBER,
    seriesDescription: `${kind === 'sr' ? 'AI report' : 'AI heatmaps'}${suffix}`,
    date,
    time,
    deviceUid: nameUid('device observer', result.pack.id),
  });
  const resultObject = (
    kind: ResultKind,
    sopClassUID: string,
    dataSet: (objectContext: ObjectContext) => DicomElement[],
  ): ResultObject => {
    const objectContext = context(kind);
    return {
      kind,
      sopClassUID,
      sopInstanceUID: objectContext.sopInstanceUID,
      studyInstanceUID: source.studyInstanceUID,
      bytes: encode(dataSet(objectContext), sopClassUID, objectContext.sopInstanceUID),
    };
  };
  const sr = resultObject('sr', COMPREHENSIVE_3D_SR, (objectContext) => srDataSet(objectContext, fingerprint));
  if (input.secondaryCapture === false) return { source: source.sopInstanceUID, sr, sc: null };
  const radiograph = await readRadiograph(result.file);
  if (radiograph.metadata.sopInstanceUID !== source.sopInstanceUID) {
    throw new TriageError('FILE_CHANGED', 'The file changed while its result objects were being made.', {
      file: result.file,
    });
  }
  const positives = result.findings.filter((finding) => finding.assessed && finding.positive);
  const heatmaps = positives.flatMap((finding) => {
    const maps = input.heatmaps.get(finding.term) ?? input.heatmaps.get(`${finding.tree}:${finding.term}`);
    return maps ? [maps.ensemble] : [];
  });
  const canvas = drawCapture(radiograph, result.status === 'ok' ? heatmaps : [], result);
  const sc = resultObject('sc', SECONDARY_CAPTURE, (objectContext) => scDataSet(objectContext, canvas));
  return { source: source.sopInstanceUID, sr, sc };
}

/** Where a result object is written under DIR: DIR/<Study Instance UID>/<SOP Instance UID>.dcm. */
export function resultObjectPath(
  dir: string,
  object: Pick<ResultObject, 'studyInstanceUID' | 'sopInstanceUID'>,
): string {
  return join(dir, object.studyInstanceUID, `${object.sopInstanceUID}.dcm`);
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new TriageError('OUTPUT_FAILED', `Cannot write ${path} (${code}); check the folder is writable.`, {
      file: path,
    });
  }
}

/**
 * Writes the objects under DIR (resultObjectPath), each durably: a temporary file, fsynced, then
 * renamed over any earlier copy, and the folder fsynced. Returns the paths written.
 */
export async function writeResultObjects(dir: string, objects: ResultObjects): Promise<string[]> {
  const written: string[] = [];
  for (const object of [objects.sr, objects.sc]) {
    if (!object) continue;
    const path = resultObjectPath(dir, object);
    const folder = join(dir, object.studyInstanceUID);
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new TriageError('OUTPUT_FAILED', `Cannot create the folder ${folder} (${code}).`, { file: folder });
    }
    await writeDurably(path, object.bytes);
    const handle = await open(folder, 'r').catch(() => null);
    if (handle) {
      await handle.sync().catch(() => undefined);
      await handle.close();
    }
    written.push(path);
  }
  return written;
}
