/**
 * What the node accepts, by explicit list (dcmjs-dimse's own list of storage classes is
 * incomplete, and a triage node must not take objects it cannot judge): radiographs (CR, DX for
 * presentation and for processing) and Secondary Capture, each in every transfer syntax the
 * ingest decodes, so that no instance is ever transcoded on receipt.
 */
import { TRANSFER_SYNTAXES } from '../ingest/index.js';

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

export const RADIOGRAPH_SOP_CLASSES: Readonly<Record<string, string>> = {
  '1.2.840.10008.5.1.4.1.1.1': 'Computed Radiography Image Storage',
  '1.2.840.10008.5.1.4.1.1.1.1': 'Digital X-Ray Image Storage - For Presentation',
  '1.2.840.10008.5.1.4.1.1.1.1.1': 'Digital X-Ray Image Storage - For Processing',
  '1.2.840.10008.5.1.4.1.1.7': 'Secondary Capture Image Storage',
};

/** The transfer syntaxes received as they are: those the ingest decodes, in its order. */
export const RECEIVED_TRANSFER_SYNTAXES: readonly string[] = TRANSFER_SYNTAXES.map((syntax) => syntax.uid);

/** The first syntax the peer proposes that the ingest decodes (its order is its preference), or null. */
export function chooseTransferSyntax(proposed: readonly string[]): string | null {
  const decodable = new Set(RECEIVED_TRANSFER_SYNTAXES);
  return proposed.find((uid) => decodable.has(uid)) ?? null;
}

/** A UID as PS3.5 9.1 allows: digits in components without leading zeros, at most 64 characters. */
export function isValidUid(value: string): boolean {
  return value.length > 0 && value.length <= 64 && /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/.test(value);
}

/** An AE title as PS3.5 allows: 1 to 16 characters of the default repertoire, no backslash or control characters, not only spaces. */
export function isValidAeTitle(value: string): boolean {
  return value.length >= 1 && value.length <= 16 && /^[\x20-\x5b\x5d-\x7e]+$/.test(value) && value.trim().length > 0;
}
