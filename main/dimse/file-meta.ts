/**
 * The File Meta Information group that makes a received data set a Part 10 file, written by the
 * product's one DICOM writer: the received bytes follow it as they came.
 */
import { encodeFileMetaPrefix } from '../dicom/index.js';

export interface FileMetaInput {
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  /** The calling AE title that sent it. */
  sourceAeTitle: string;
}

export function filePrefix(input: FileMetaInput): Uint8Array {
  return encodeFileMetaPrefix({
    mediaStorageSOPClassUID: input.sopClassUID,
    mediaStorageSOPInstanceUID: input.sopInstanceUID,
    transferSyntaxUID: input.transferSyntaxUID,
    sourceApplicationEntityTitle: input.sourceAeTitle || undefined,
  });
}
