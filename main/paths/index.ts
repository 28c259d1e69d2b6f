/**
 * File paths as the scan keeps them: strings, whatever bytes the file system holds. Linux allows
 * any byte but "/" and NUL in a name, and Node turns a name that is not valid UTF-8 into a string
 * lossily (U+FFFD), after which the file cannot be opened again. So names are read as bytes and
 * decoded here: valid UTF-8 as itself; each byte of an invalid sequence (0x80-0xFF) as one
 * private-use character, U+EF80-U+EFFF (U+EF00 + the byte, as OPTU-8 does); and valid UTF-8 for a
 * character in U+EF80-U+EFFF is escaped the same way, byte by byte, so that the mapping is
 * exactly reversible. The strings are valid Unicode (a database keeps them as they are);
 * `fsPath` gives back the bytes to open. Nothing here imports another stage: the ingest opens
 * the files it is given through it too.
 */

/** Byte b (0x80-0xFF) <-> U+EF00 + b. */
const ESCAPE_BASE = 0xef00;
const ESCAPED = /[\uEF80-\uEFFF]/;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const isEscape = (codePoint: number) => codePoint >= 0xef80 && codePoint <= 0xefff;
const continuation = (byte: number | undefined) => byte !== undefined && byte >= 0x80 && byte <= 0xbf;

/**
 * The code point and length of the UTF-8 sequence at `at`, or null when it is not valid UTF-8
 * (Unicode's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
function sequence(bytes: Uint8Array, at: number): { codePoint: number; length: number } | null {
  const lead = bytes[at];
  const b1 = bytes[at + 1];
  if (lead >= 0xc2 && lead <= 0xdf) {
    return continuation(b1) ? { codePoint: ((lead & 0x1f) << 6) | (b1 & 0x3f), length: 2 } : null;
  }
  const b2 = bytes[at + 2];
  if (lead >= 0xe0 && lead <= 0xef) {
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    if (b1 === undefined || b1 < low || b1 > high || !continuation(b2)) return null;
    return { codePoint: ((lead & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f), length: 3 };
  }
  const b3 = bytes[at + 3];
  if (lead >= 0xf0 && lead <= 0xf4) {
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    if (b1 === undefined || b1 < low || b1 > high || !continuation(b2) || !continuation(b3)) return null;
    return {
      codePoint: ((lead & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f),
      length: 4,
    };
  }
  return null;
}

/** A name or path read as bytes (`{ encoding: 'buffer' }`), as the scan's string. */
export function pathFromBytes(bytes: Uint8Array): string {
  try {
    const text = strict.decode(bytes);
    if (!ESCAPED.test(text)) return text;
  } catch {
    // Not valid UTF-8: decoded sequence by sequence below.
  }
  let text = '';
  let at = 0;
  while (at < bytes.length) {
    const byte = bytes[at];
    if (byte < 0x80) {
      text += String.fromCharCode(byte);
      at++;
      continue;
    }
    const valid = sequence(bytes, at);
    if (valid && !isEscape(valid.codePoint)) {
      text += String.fromCodePoint(valid.codePoint);
      at += valid.length;
      continue;
    }
    // An invalid byte alone; a valid character in the escape range, each of its bytes.
    const length = valid ? valid.length : 1;
    for (let i = 0; i < length; i++) text += String.fromCharCode(ESCAPE_BASE + bytes[at + i]);
    at += length;
  }
  return text;
}

/**
 * A path given as Unicode text (a command line, a file dialog) as the scan's string: the same,
 * but a character in U+EF80-U+EFFF is escaped as its UTF-8 bytes, so that `fsPath` opens it.
 */
export function pathFromText(text: string): string {
  if (!ESCAPED.test(text)) return text;
  return text.replace(/[\uEF80-\uEFFF]/g, (character) =>
    [...Buffer.from(character, 'utf8')].map((byte) => String.fromCharCode(ESCAPE_BASE + byte)).join(''),
  );
}

/**
 * What to hand node:fs for one of the scan's paths: the string itself when it holds no escaped
 * byte (nearly always), else the exact bytes as a Buffer.
 */
export function fsPath(path: string): string | Buffer {
  if (!ESCAPED.test(path)) return path;
  const parts: Buffer[] = [];
  let plain = '';
  for (const character of path) {
    const codePoint = character.codePointAt(0)!;
    if (!isEscape(codePoint)) {
      plain += character;
      continue;
    }
    if (plain) parts.push(Buffer.from(plain, 'utf8'));
    plain = '';
    parts.push(Buffer.of(codePoint - ESCAPE_BASE));
  }
  if (plain) parts.push(Buffer.from(plain, 'utf8'));
  return Buffer.concat(parts);
}
