/**
 * The scan's path strings: any bytes a name holds map to a string of valid Unicode and back to
 * the same bytes; valid UTF-8 reads as itself; each byte of an invalid sequence and each byte of
 * a real U+EF80-U+EFFF character reads as U+EF00 + the byte. Checked on hand-worked cases and on
 * random byte strings (seeded), the bytes themselves being the reference.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fsPath, pathFromBytes, pathFromText } from '../../main/paths/index.js';
import { mulberry32 } from '../../main/phantom/index.js';

const bytesOf = (path: string) => {
  const converted = fsPath(path);
  return typeof converted === 'string' ? Buffer.from(converted, 'utf8') : converted;
};
/** Valid Unicode: no lone surrogate, so UTF-8 (a database's text) holds it exactly. */
const wellFormed = (text: string) => Buffer.from(text, 'utf8').toString('utf8') === text;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('path strings for any bytes', () => {
  test('hand-worked names: invalid bytes one private character each, valid UTF-8 as itself', () => {
    const cases: Array<[number[], string]> = [
      [[0x61, 0x2e, 0x70, 0x6e, 0x67], 'a.png'],
      [[0xff, 0xfe], '\uEFFF\uEFFE'],
      // é (C3 A9) is valid; a lone C3 before "x" is not.
      [[0xc3, 0xa9, 0xc3, 0x78], 'é\uEFC3x'],
      // Overlong "/" (C0 AF), a UTF-8-encoded surrogate (ED A0 80), above U+10FFFF (F4 90 80 80).
      [[0xc0, 0xaf], '\uEFC0\uEFAF'],
      [[0xed, 0xa0, 0x80], '\uEFED\uEFA0\uEF80'],
      [[0xf4, 0x90, 0x80, 0x80], '\uEFF4\uEF90\uEF80\uEF80'],
      // A sequence cut short, then ASCII.
      [[0xe2, 0x82, 0x41], '\uEFE2\uEF82A'],
      // A real U+EF90 (EE BE 90) is escaped byte by byte, so that it cannot be taken for byte 0x90.
      [[0xee, 0xbe, 0x90], '\uEFEE\uEFBE\uEF90'],
      // Just outside the escape range, valid characters stay as they are: U+EF7F, U+F000.
      [[0xee, 0xbd, 0xbf, 0xef, 0x80, 0x80], '\uEF7F\uF000'],
      // Four-byte characters and a byte-order mark are kept.
      [[0xf0, 0x9f, 0xa9, 0xbb, 0xef, 0xbb, 0xbf], '\u{1FA7B}\uFEFF'],
    ];
    for (const [bytes, expected] of cases) {
      const text = pathFromBytes(Uint8Array.from(bytes));
      assert.equal(text, expected, hex(Uint8Array.from(bytes)));
      assert.equal(
        hex(bytesOf(text)),
        hex(Uint8Array.from(bytes)),
        `back to the bytes: ${hex(Uint8Array.from(bytes))}`,
      );
    }
  });

  test('fsPath gives the string itself unless it holds an escaped byte', () => {
    assert.equal(fsPath('/data/scan/IM0001'), '/data/scan/IM0001');
    assert.equal(fsPath('/data/é/x'), '/data/é/x');
    const raw = fsPath('/data/\uEFFF\uEFFE.png');
    assert.ok(Buffer.isBuffer(raw));
    assert.equal(hex(raw), hex(Buffer.concat([Buffer.from('/data/'), Buffer.of(0xff, 0xfe), Buffer.from('.png')])));
  });

  test('a path given as text holding U+EF90 opens the file whose name is its UTF-8', () => {
    const given = '/data/\uEF90.png';
    const path = pathFromText(given);
    assert.equal(path, '/data/\uEFEE\uEFBE\uEF90.png');
    assert.equal(hex(bytesOf(path)), hex(Buffer.from(given, 'utf8')));
    assert.equal(pathFromBytes(Buffer.from(given, 'utf8')), path, 'the walk reads the same name the same way');
    assert.equal(pathFromText('/data/plain'), '/data/plain');
  });

  test('random byte strings round-trip exactly and read as well-formed Unicode', () => {
    const next = mulberry32(20261207);
    // Bytes drawn to hit valid multi-byte sequences, broken ones and the escape range often.
    const pool = [0x2f, 0x41, 0x7a, 0x80, 0x90, 0xa9, 0xbe, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xee, 0xef, 0xf0, 0xf4, 0xff];
    const seen = new Map<string, string>();
    for (let n = 0; n < 20_000; n++) {
      const length = 1 + Math.floor(next() * 12);
      const bytes = Uint8Array.from({ length }, () =>
        next() < 0.7 ? pool[Math.floor(next() * pool.length)] : 1 + Math.floor(next() * 255),
      );
      const text = pathFromBytes(bytes);
      assert.ok(wellFormed(text), hex(bytes));
      assert.equal(hex(bytesOf(text)), hex(bytes));
      const earlier = seen.get(text);
      assert.ok(earlier === undefined || earlier === hex(bytes), `${hex(bytes)} and ${earlier} read alike`);
      seen.set(text, hex(bytes));
      // Valid UTF-8 outside the escape range reads as every UTF-8 decoder reads it.
      const decoded = Buffer.from(bytes).toString('utf8');
      if (Buffer.from(decoded, 'utf8').equals(bytes) && !/[\uEF80-\uEFFF]/.test(decoded)) assert.equal(text, decoded);
    }
  });
});
