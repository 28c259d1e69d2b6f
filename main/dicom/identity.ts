/**
 * Who wrote a DICOM object: the product's Manufacturer, model name and software version (from
 * package.json) for the General Equipment module, its implementation class UID for the File Meta
 * group, and its UIDs. The product has no registered root: every UID it makes is a 2.25 UID (a
 * UUID as a decimal, PS3.5 B.2), either random or a version 8 UUID (RFC 9562) from the SHA-256 of
 * a name under the product's namespace, so the same name always gives the same UID.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../resources/index.js';
import type { DicomElement } from './elements.js';

export const MANUFACTURER = 'cxr-triage';
export const MANUFACTURER_MODEL_NAME = 'cxr-triage workstation';

/** The product's version, as package.json states it. */
export const SOFTWARE_VERSION: string = (
  JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }
).version;

/** The namespace every name-based UID of this product is made under. */
const NAMESPACE = 'cxr-triage DICOM UID namespace 1';

function uuidToDecimal(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes.subarray(0, 16)) value = (value << 8n) | BigInt(byte);
  return value.toString();
}

/** A 2.25 UID that is the same for the same name parts (a version 8 UUID from SHA-256). */
export function nameUid(...parts: readonly string[]): string {
  const hash = createHash('sha256').update(NAMESPACE);
  for (const part of parts) hash.update(`\0${part}`);
  const bytes = new Uint8Array(hash.digest().subarray(0, 16));
  bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
  return `2.25.${uuidToDecimal(bytes)}`;
}

/** A new random 2.25 UID (a version 4 UUID). */
export function randomUid(): string {
  return `2.25.${uuidToDecimal(Buffer.from(randomUUID().replace(/-/g, ''), 'hex'))}`;
}

export const IMPLEMENTATION_CLASS_UID = nameUid('implementation class');
/** At most 16 characters (SH). */
export const IMPLEMENTATION_VERSION_NAME = `CXRTRIAGE_${SOFTWARE_VERSION}`.slice(0, 16);

/** The General Equipment module's product attributes. */
export function equipmentElements(): DicomElement[] {
  return [
    { tag: 0x00080070, vr: 'LO', value: MANUFACTURER },
    { tag: 0x00081090, vr: 'LO', value: MANUFACTURER_MODEL_NAME },
    { tag: 0x00181020, vr: 'LO', value: SOFTWARE_VERSION },
  ];
}
