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
