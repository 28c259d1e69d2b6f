/**
 * The File Meta Information group that makes a received data set a Part 10 file, written by
 * dcmjs (the product's one DICOM writer) with an empty data set: the received bytes follow it.
 */
import dcmjs from 'dcmjs';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './identity.js';

export interface FileMetaInput {
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  /** The calling AE title that sent it. */
  sourceAeTitle: string;
}

export function filePrefix(input: FileMetaInput): Uint8Array {
  const meta = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: input.sopClassUID,
    MediaStorageSOPInstanceUID: input.sopInstanceUID,
    TransferSyntaxUID: input.transferSyntaxUID,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
    ...(input.sourceAeTitle ? { SourceApplicationEntityTitle: input.sourceAeTitle } : {}),
  });
  return new Uint8Array(new dcmjs.data.DicomDict(meta).write());
}
