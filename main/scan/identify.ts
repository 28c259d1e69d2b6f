/**
 * What the scan needs to know about a file before deciding to analyse it: its content hash, its
 * format by content (the ingest's sniffing of the first bytes), and for DICOM the SOP and Study
 * Instance UIDs (to recognise a duplicate before analysis), whether it is a DICOMDIR, and the
 * patient and study identity (for the worklist; sealed, see main/common/identity.ts).
 */
import { createHash } from 'node:crypto';
import { hashFile, parseDataSet, readHead, readStudyIdentityFields, readWhole, sniffFormat } from '../ingest/index.js';
import type { SourceFormat, StudyIdentity, StudyIdentityFields } from '../common/index.js';
import type { ReadBuffer } from '../ingest/index.js';
import { isDicomdir } from './dicomdir.js';

export interface Identified {
  path: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  /** null: not DICOM, PNG or JPEG by content. */
  format: SourceFormat | null;
  dicomdir: boolean;
  sopInstanceUID: string | null;
  studyInstanceUID: string | null;
  /** The patient and study identity of a DICOM file (sealed); null when it has none. */
  identity: StudyIdentity | null;
}

/**
 * What the identification thread posts: the identity as plain fields (a structured clone drops a
 * sealed StudyIdentity), sealed again on arrival by the Identifier.
 */
export type IdentifiedMessage = Omit<Identified, 'identity'> & { identity: StudyIdentityFields | null };

const uid = (value: string | undefined) => value?.replace(/\0/g, '').trim() || null;

/**
 * Knows a file by its first kilobyte, then reads an image once, into `buffer` (lent by the caller:
 * a scan identifies file after file, and a new file-sized buffer each time was garbage that cost
 * the scan's thread as much as reading): hash, sniff, header. A file that is no image is hashed as
 * a stream, never held whole. Nothing returned points into the buffer. Failures to read are coded
 * errors (thrown).
 */
export async function identify(
  path: string,
  stats: { size: number; mtimeMs: number },
  buffer: ReadBuffer,
): Promise<IdentifiedMessage> {
  // The size of the file as it is now (one still being written is hashed as far as it goes); one
  // too large to be a radiograph is refused (TOO_LARGE) before it is read; a FIFO or a device
  // swapped in since the walk is refused, never waited on (see ingest readWhole).
  const { head, size } = await readHead(path);
  if (sniffFormat(head, size) === null) {
    return {
      path,
      size,
      mtimeMs: stats.mtimeMs,
      sha256: await hashFile(path),
      format: null,
      dicomdir: false,
      sopInstanceUID: null,
      studyInstanceUID: null,
      identity: null,
    };
  }
  const bytes = await readWhole(path, null, buffer);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const format = sniffFormat(bytes);
  let sopInstanceUID: string | null = null;
  let studyInstanceUID: string | null = null;
  let dicomdir = false;
  let identity: StudyIdentityFields | null = null;
  if (format === 'dicom') {
    try {
      const dataSet = await parseDataSet(bytes);
      dicomdir = isDicomdir(dataSet);
      sopInstanceUID = uid(dataSet.string('x00080018'));
      studyInstanceUID = uid(dataSet.string('x0020000d'));
      if (!dicomdir) identity = readStudyIdentityFields(dataSet);
    } catch {
      // A broken file: the engine reports it with its coded error.
    }
  }
  return {
    path,
    size: bytes.byteLength,
    mtimeMs: stats.mtimeMs,
    sha256,
    format,
    dicomdir,
    sopInstanceUID,
    studyInstanceUID,
    identity,
  };
}
