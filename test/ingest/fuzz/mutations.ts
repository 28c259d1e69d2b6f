/**
 * Deterministic mutations of valid files, the way archives and networks damage them: cut short,
 * bits flipped, length fields overwritten, VRs garbled.
 */

import { mulberry32 } from '../../../main/phantom/index.js';

/** A small seeded generator (mulberry32), so a failing case can be replayed from its seed. */
export const random = mulberry32;

export type MutationKind = 'truncate' | 'bitflip' | 'length' | 'vr' | 'splice';
export const MUTATION_KINDS: readonly MutationKind[] = ['truncate', 'bitflip', 'length', 'vr', 'splice'];

const VRS = [
  'AE',
  'AS',
  'AT',
  'CS',
  'DA',
  'DS',
  'DT',
  'FL',
  'FD',
  'IS',
  'LO',
  'LT',
  'OB',
  'OD',
  'OF',
  'OL',
  'OW',
  'PN',
  'SH',
  'SL',
  'SQ',
  'SS',
  'ST',
  'TM',
  'UI',
  'UL',
  'UN',
  'US',
  'UT',
];
const EXTREME_LENGTHS = [0, 1, 2, 0xffff, 0xfffe, 0x7fffffff, 0xffffffff, 0xfffffffe, 0x10000, 0x1000000];

/** Offsets where an explicit-VR element header's two VR letters sit. */
function vrOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  const limit = Math.min(bytes.length - 2, 64 * 1024);
  for (let i = 4; i < limit; i++) {
    const pair = String.fromCharCode(bytes[i], bytes[i + 1]);
    if (VRS.includes(pair)) offsets.push(i);
  }
  return offsets;
}

export function mutate(original: Uint8Array, kind: MutationKind, next: () => number): Uint8Array {
  const bytes = original.slice();
  const at = (limit = bytes.length) => Math.floor(next() * limit);
  switch (kind) {
    case 'truncate':
      return bytes.slice(0, at());
    case 'bitflip': {
      const flips = 1 + at(16);
      for (let i = 0; i < flips; i++) bytes[at()] ^= 1 << at(8);
      return bytes;
    }
    case 'length': {
      // Overwrite what follows a VR (a 16- or 32-bit length) or a random header word.
      const candidates = vrOffsets(bytes);
      const base =
        candidates.length > 0 && next() < 0.8
          ? candidates[at(candidates.length)] + 2
          : at(Math.min(bytes.length, 4096));
      const value = EXTREME_LENGTHS[at(EXTREME_LENGTHS.length)];
      const view = new DataView(bytes.buffer);
      if (base + 6 <= bytes.length) {
        if (next() < 0.5) view.setUint16(base, value & 0xffff, true);
        else view.setUint32(base + 2, value >>> 0, true);
      }
      return bytes;
    }
    case 'vr': {
      const candidates = vrOffsets(bytes);
      if (candidates.length === 0) return mutate(original, 'bitflip', next);
      const offset = candidates[at(candidates.length)];
      const replacement = next() < 0.7 ? VRS[at(VRS.length)] : String.fromCharCode(65 + at(26), 65 + at(26));
      bytes[offset] = replacement.charCodeAt(0);
      bytes[offset + 1] = replacement.charCodeAt(1);
      return bytes;
    }
    case 'splice': {
      // Repeat or drop a block: shifts everything after it, as a bad copy does.
      const start = at();
      const length = 1 + at(Math.min(512, bytes.length - start));
      return next() < 0.5
        ? new Uint8Array([...bytes.subarray(0, start), ...bytes.subarray(start + length)])
        : new Uint8Array([
            ...bytes.subarray(0, start + length),
            ...bytes.subarray(start, start + length),
            ...bytes.subarray(start + length),
          ]);
    }
  }
}

/**
 * Damage to a JPEG codestream itself (the DICOM around it stays intact, so the damage reaches the
 * codec): cut short, bits flipped, a marker segment's byte set to an extreme (lengths, counts,
 * sizes, table ids, predictor, point transform), the entropy-coded data given 0xFF bytes and stray
 * markers, blocks repeated or dropped.
 */
export type CodestreamMutation = 'truncate' | 'bitflip' | 'segment' | 'entropy' | 'splice';
export const CODESTREAM_MUTATIONS: readonly CodestreamMutation[] = [
  'truncate',
  'bitflip',
  'segment',
  'entropy',
  'splice',
];

/** Where each marker segment (FF xx with a length) and each scan's data start. */
function jpegLayout(bytes: Uint8Array): { segments: { at: number; length: number }[]; data: number[] } {
  const segments: { at: number; length: number }[] = [];
  const data: number[] = [];
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    segments.push({ at, length });
    at += 2 + length;
    if (marker !== 0xda) continue;
    data.push(at);
    // The scan's data runs to the next marker that is neither a stuffed zero nor a restart.
    while (at + 1 < bytes.length && !(bytes[at] === 0xff && bytes[at + 1] !== 0 && (bytes[at + 1] & 0xf8) !== 0xd0))
      at++;
  }
  return { segments, data };
}

export function mutateCodestream(original: Uint8Array, kind: CodestreamMutation, next: () => number): Uint8Array {
  const bytes = original.slice();
  const at = (limit = bytes.length) => Math.floor(next() * limit);
  const layout = jpegLayout(bytes);
  const dataStart = layout.data[0] ?? 2;
  switch (kind) {
    case 'truncate':
      // Mostly inside the entropy-coded data, where a cut is hardest to see.
      return bytes.slice(0, next() < 0.8 ? dataStart + at(bytes.length - dataStart) : at());
    case 'bitflip':
      return mutate(original, 'bitflip', next);
    case 'segment': {
      if (layout.segments.length === 0) return mutate(original, 'bitflip', next);
      const segment = layout.segments[at(layout.segments.length)];
      const offset = segment.at + 2 + at(Math.max(1, segment.length));
      const extremes = [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 0x7f, 0x80, 0xfe, 0xff, at(256)];
      if (offset < bytes.length) bytes[offset] = extremes[at(extremes.length)];
      return bytes;
    }
    case 'entropy': {
      const span = bytes.length - dataStart;
      if (span <= 2) return mutate(original, 'bitflip', next);
      const edits = 1 + at(4);
      for (let i = 0; i < edits; i++) {
        const offset = dataStart + at(span - 2);
        const choice = next();
        if (choice < 0.4) bytes[offset] ^= 1 << at(8);
        else if (choice < 0.6)
          bytes[offset] = 0xff; // an unstuffed FF: a marker of whatever follows
        else if (choice < 0.8) {
          bytes[offset] = 0xff;
          bytes[offset + 1] = 0xd0 + at(8); // a restart marker where none belongs
        } else {
          bytes[offset] = 0xff;
          bytes[offset + 1] = [0xd9, 0xda, 0xc4, 0xdd, 0xc3][at(5)];
        }
      }
      return bytes;
    }
    case 'splice':
      return mutate(original, 'splice', next);
  }
}
