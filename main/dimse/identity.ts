/**
 * How the node names itself on the wire and in the files it writes: an implementation class UID
 * (a fixed name-derived 2.25 UID: the same on every installation of this product) and version.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../resources/index.js';

/** A 2.25 UID from the first 128 bits of a name's SHA-256 (stable, collision-free in practice). */
export function nameUid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

const version = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

export const IMPLEMENTATION_CLASS_UID = nameUid('cxr-triage DICOM node implementation');
/** At most 16 characters (SH). */
export const IMPLEMENTATION_VERSION_NAME = `CXRTRIAGE_${version}`.slice(0, 16);
