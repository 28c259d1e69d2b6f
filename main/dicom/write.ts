/**
 * Part 10 files through dcmjs's DicomDict: a 128-byte preamble, "DICM", the File Meta group
 * (with its group length) and the data set, Explicit VR Little Endian, elements in tag order,
 * sequences and items of undefined length. The File Meta group names this product
 * (identity.ts), not dcmjs.
 */
import dcmjs from 'dcmjs';
import { DicomWriteError, toDcmjs, UTF8_CHARACTER_SET } from './elements.js';
import type { DicomElement } from './elements.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './identity.js';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

// dcmjs logs through loglevel; the product's own checks run before it and its warnings are noise.
dcmjs.log.setLevel('error');

export interface FileMetaOptions {
  mediaStorageSOPClassUID: string;
  mediaStorageSOPInstanceUID: string;
  /** Default: the product's (identity.ts). */
  implementationClassUID?: string;
  /** At most 16 characters; default: the product's. */
  implementationVersionName?: string;
  sourceApplicationEntityTitle?: string;
}

/**
 * A Part 10 file of the data set. The data set must not contain group 0002 elements; the meta
 * group is derived from `meta`. Text beyond ASCII needs Specific Character Set ISO_IR 192.
 */
export function encodePart10(dataSet: readonly DicomElement[], meta: FileMetaOptions): Uint8Array {
  const stray = dataSet.find((element) => element.tag >>> 16 === 0x0002);
  if (stray)
    throw new DicomWriteError(stray.tag, 'File Meta elements are written from the meta options, not the data set');
  const characterSet = dataSet.find((element) => element.tag === 0x00080005);
  const utf8 =
    characterSet?.vr === 'CS' &&
    (typeof characterSet.value === 'string' ? [characterSet.value] : characterSet.value).includes(UTF8_CHARACTER_SET);
  const metaElements: DicomElement[] = [
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: meta.mediaStorageSOPClassUID },
    { tag: 0x00020003, vr: 'UI', value: meta.mediaStorageSOPInstanceUID },
    { tag: 0x00020010, vr: 'UI', value: EXPLICIT_VR_LITTLE_ENDIAN },
    { tag: 0x00020012, vr: 'UI', value: meta.implementationClassUID ?? IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: meta.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME },
  ];
  if (meta.sourceApplicationEntityTitle) {
    metaElements.push({ tag: 0x00020016, vr: 'AE', value: meta.sourceApplicationEntityTitle });
  }
  const file = new dcmjs.data.DicomDict(toDcmjs(metaElements, false));
  file.dict = toDcmjs(dataSet, utf8);
  return new Uint8Array(file.write({ allowInvalidVRLength: false }));
}

/**
 * The preamble, "DICM" and File Meta group of a file whose data set is written by someone else
 * in `transferSyntaxUID` (a received instance's bytes, kept as sent): the Part 10 file is this
 * prefix followed by those bytes. Cut at the meta group's end, so that nothing of an (empty)
 * data set, such as a deflated stream's header, follows it.
 */
export function encodeFileMetaPrefix(meta: FileMetaOptions & { transferSyntaxUID: string }): Uint8Array {
  const metaElements: DicomElement[] = [
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: meta.mediaStorageSOPClassUID },
    { tag: 0x00020003, vr: 'UI', value: meta.mediaStorageSOPInstanceUID },
    { tag: 0x00020010, vr: 'UI', value: meta.transferSyntaxUID },
    { tag: 0x00020012, vr: 'UI', value: meta.implementationClassUID ?? IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: meta.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME },
  ];
  if (meta.sourceApplicationEntityTitle) {
    metaElements.push({ tag: 0x00020016, vr: 'AE', value: meta.sourceApplicationEntityTitle });
  }
  const bytes = new Uint8Array(
    new dcmjs.data.DicomDict(toDcmjs(metaElements, false)).write({ allowInvalidVRLength: false }),
  );
  // (0002,0000) UL at offset 132: tag, "UL", length 4, then the group's length after it.
  const groupLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(140, true);
  return bytes.slice(0, 144 + groupLength);
}
