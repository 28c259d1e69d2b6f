/**
 * Decoding DICOM text by its Specific Character Set (PS3.3 C.12.1.1.2), one table for every
 * reader: the patient identity the worklist shows, and the attributes result objects copy.
 */

export type Decode = (bytes: Uint8Array) => string;

/** Defined terms (spaces as underscores) to the WHATWG encoding that decodes them. */
const ENCODINGS: Record<string, string> = {
  ISO_IR_100: 'latin1',
  ISO_IR_101: 'iso-8859-2',
  ISO_IR_109: 'iso-8859-3',
  ISO_IR_110: 'iso-8859-4',
  ISO_IR_144: 'iso-8859-5',
  ISO_IR_127: 'iso-8859-6',
  ISO_IR_126: 'iso-8859-7',
  ISO_IR_138: 'iso-8859-8',
  ISO_IR_148: 'iso-8859-9',
  ISO_IR_203: 'iso-8859-15',
  ISO_IR_166: 'windows-874',
  ISO_IR_192: 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** ISO 8859-1 exactly (TextDecoder's "latin1" is windows-1252, which differs at 0x80-0x9F). */
const latin1: Decode = (bytes) => {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
};

/** ASCII kept, every other byte U+FFFD: the safe reading of an unknown set. */
export const asciiOnly: Decode = (bytes) => {
  let text = '';
  for (const byte of bytes) text += byte < 0x80 ? String.fromCharCode(byte) : '\ufffd';
  return text;
};

function values(specificCharacterSet: string | null): string[] {
  return (specificCharacterSet ?? '').split('\\').map((v) => v.trim().toUpperCase());
}

/** A single defined term's decoder, or null when unknown (or this runtime lacks its table). */
function termDecoder(value: string): Decode | null {
  // No set: the default repertoire, read as Latin-1 (as pydicom and dcmtk do).
  if (value === '') return latin1;
  // "ISO 2022 IR 100" without escape sequences reads as ISO_IR 100.
  const term = value.replace(/^ISO 2022 IR /, 'ISO_IR ').replace(/ /g, '_');
  if (term === 'ISO_IR_6') return latin1;
  const label = ENCODINGS[term];
  if (!label) return null;
  if (label === 'latin1') return latin1;
  try {
    const decoder = new TextDecoder(label, { fatal: false });
    return (bytes) => decoder.decode(bytes);
  } catch {
    return null; // a runtime without that table (small-icu)
  }
}

/**
 * The decoder that reads every value of a data set faithfully, or null when none can: code
 * extensions (several values: sets switched by escape sequences inside a value), or an unknown set.
 */
export function exactDecoder(specificCharacterSet: string | null): Decode | null {
  const terms = values(specificCharacterSet);
  return terms.length === 1 ? termDecoder(terms[0]) : null;
}

/**
 * The decoder for displaying a data set's values: its first (default) set; ASCII only where that
 * is unknown, or empty before code extensions ("\\ISO 2022 IR 87"). Escape sequences are the
 * caller's to detect.
 */
export function decoderFor(specificCharacterSet: string | null): Decode {
  const terms = values(specificCharacterSet);
  if (terms[0] === '' && terms.length > 1) return asciiOnly;
  return termDecoder(terms[0]) ?? asciiOnly;
}
