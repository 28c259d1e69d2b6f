/**
 * The one DICOM writer of the product: every DICOM object it writes (the phantoms, the result
 * SRs and Secondary Captures) is a list of typed elements, checked against their VRs and written
 * as a Part 10 file by dcmjs's DicomDict, with the product's identity (Manufacturer, software
 * version, implementation class UID) and its 2.25 UIDs.
 */
export { DicomWriteError, tagText, UTF8_CHARACTER_SET } from './elements.js';
export type { BytesVR, DicomElement, NumberVR, TextVR, VR } from './elements.js';
export { encodeFileMetaPrefix, encodePart10, EXPLICIT_VR_LITTLE_ENDIAN } from './write.js';
export type { FileMetaOptions } from './write.js';
export {
  equipmentElements,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  MANUFACTURER,
  MANUFACTURER_MODEL_NAME,
  nameUid,
  randomUid,
  SOFTWARE_VERSION,
} from './identity.js';
