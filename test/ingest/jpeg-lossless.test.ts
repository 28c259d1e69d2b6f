/**
 * The JPEG lossless decoder on damaged and hostile codestreams, one construct at a time: each ends
 * in its coded error (never a crash, a hang or an allocation the attributes did not allow), and
 * what still holds a whole image decodes. The decoded values themselves are checked against dcmtk
 * and gdcm in jpeg-lossless.conformance.test.ts; the codestreams here come from the tests' encoder.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TriageError } from '../../main/errors/index.js';
import type { ErrorCode } from '../../main/errors/index.js';
import { decodeJpegLossless } from '../../main/ingest/codecs/jpeg-lossless.js';
import type { PixelDescription } from '../../main/ingest/dicom/attributes.js';
import { mulberry32 } from '../../main/phantom/index.js';
import { encodeJpegLossless } from '../support/jpeg-lossless-encoder.js';
import type { LosslessEncoding } from '../support/jpeg-lossless-encoder.js';

const COLUMNS = 37;
const ROWS = 23;

function describeImage(rows: number, columns: number, samplesPerPixel: 1 | 3 = 1, bits = 12): PixelDescription {
  return {
    rows,
    columns,
    samplesPerPixel,
    photometric: samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2',
    planarConfiguration: 0,
    bitsAllocated: bits > 8 ? 16 : 8,
    bitsStored: bits,
    highBit: bits - 1,
    signed: false,
    numberOfFrames: 1,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    padding: null,
  };
}

function image(components = 1, seed = 1): Uint16Array {
  const next = mulberry32(seed);
  return Uint16Array.from({ length: COLUMNS * ROWS * components }, (_, i) =>
    Math.round(2000 + 1500 * Math.sin(i / 40) + next() * 60),
  );
}

const SOURCE = image();

function encode(options: Partial<LosslessEncoding> = {}, values = SOURCE): Uint8Array {
  return encodeJpegLossless(values, {
    columns: COLUMNS,
    rows: ROWS,
    components: 1,
    precision: 12,
    predictor: 4,
    ...options,
  });
}

function decode(bytes: Uint8Array, description = describeImage(ROWS, COLUMNS)) {
  return decodeJpegLossless({ bytes, description, bigEndian: false });
}

function refused(bytes: Uint8Array, code: ErrorCode, description?: PixelDescription): void {
  assert.throws(
    () => decode(bytes, description),
    (error: unknown) => error instanceof TriageError && error.code === code,
    `expected ${code}`,
  );
}

/** The offset of the first FF `marker` (its FF byte). */
function markerAt(bytes: Uint8Array, marker: number): number {
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] === marker) return i;
  throw new Error(`no marker ${marker.toString(16)}`);
}

function edited(bytes: Uint8Array, edit: (copy: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  edit(copy);
  return copy;
}

const SOF3 = 0xc3;
const DHT = 0xc4;
const SOS = 0xda;
const EOI = 0xd9;

test('a whole codestream decodes to its source, and one without its EOI marker too', () => {
  const bytes = encode();
  assert.deepEqual([...decode(bytes).samples], [...SOURCE]);
  assert.deepEqual([...decode(bytes.subarray(0, bytes.length - 2)).samples], [...SOURCE]);
});

test('cut anywhere before its last entropy-coded byte: TRUNCATED, or MALFORMED inside a header', () => {
  for (const options of [{}, { restartInterval: 3 * COLUMNS }]) {
    const bytes = encode(options);
    const sos = markerAt(bytes, SOS);
    for (let length = 0; length < bytes.length - 2; length++) {
      let code: string | undefined;
      try {
        decode(bytes.subarray(0, length));
      } catch (error) {
        code = error instanceof TriageError ? error.code : `uncoded ${String(error)}`;
      }
      const expected = length < 2 ? ['MALFORMED'] : length < sos ? ['TRUNCATED', 'MALFORMED'] : ['TRUNCATED'];
      assert.ok(code && expected.includes(code), `cut at ${length} of ${bytes.length}: ${code ?? 'decoded'}`);
    }
  }
});

describe('damaged headers end in their coded errors', () => {
  const bytes = encode();
  const sof = markerAt(bytes, SOF3);
  const dht = markerAt(bytes, DHT);
  const sos = markerAt(bytes, SOS);

  test('no start-of-image, a segment length below 2 or past the frame', () => {
    refused(
      edited(bytes, (b) => (b[1] = 0xd9)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => ((b[dht + 2] = 0), (b[dht + 3] = 1))),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => ((b[dht + 2] = 0xff), (b[dht + 3] = 0xf0))),
      'TRUNCATED',
    );
  });

  test('start of frame: other sizes than the attributes, precision, other coding processes, twice', () => {
    refused(
      edited(bytes, (b) => (b[sof + 8] += 1)),
      'INVALID_ATTRIBUTE',
    ); // width
    refused(
      edited(bytes, (b) => (b[sof + 6] += 1)),
      'INVALID_ATTRIBUTE',
    ); // height
    refused(
      edited(bytes, (b) => (b[sof + 4] = 17)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => (b[sof + 4] = 1)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => (b[sof + 1] = 0xc0)),
      'DECODE_FAILED',
    ); // baseline DCT
    refused(
      edited(bytes, (b) => (b[sof + 1] = 0xcb)),
      'DECODE_FAILED',
    ); // arithmetic lossless
    refused(
      edited(bytes, (b) => (b[sof + 1] = 0xc7)),
      'DECODE_FAILED',
    ); // differential lossless
    const frameSegment = bytes.subarray(sof, dht);
    const twice = Uint8Array.from([...bytes.subarray(0, dht), ...frameSegment, ...bytes.subarray(dht)]);
    refused(twice, 'MALFORMED');
  });

  test('colour with sampling factors other than 1 x 1', () => {
    const rgb = image(3);
    const colour = encode({ components: 3 }, rgb);
    const at = markerAt(colour, SOF3);
    const description = describeImage(ROWS, COLUMNS, 3);
    assert.deepEqual([...decode(colour, description).samples], [...rgb]);
    refused(
      edited(colour, (b) => (b[at + 14] = 0x21)),
      'DECODE_FAILED',
      description,
    );
  });

  test('Huffman tables: too many codes, codes that overflow their lengths, categories above 16', () => {
    refused(
      edited(bytes, (b) => (b[dht + 5 + 15] = 255)),
      'MALFORMED',
    ); // 16-bit count: past the segment
    refused(
      edited(bytes, (b) => ((b[dht + 5] = 3), (b[dht + 7] -= 3))),
      'MALFORMED',
    ); // three 1-bit codes
    refused(
      edited(bytes, (b) => (b[dht + 5 + 16] = 17)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => (b[dht + 4] = 0x05)),
      'MALFORMED',
    ); // table id 5
  });

  test('scan header: undefined table or component, predictors 0 and 8, point transform of the precision', () => {
    const count = bytes[sos + 4];
    const table = sos + 6;
    const predictor = sos + 5 + 2 * count;
    const transform = predictor + 2;
    refused(
      edited(bytes, (b) => (b[table] = 0x10)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => (b[sos + 5] = 9)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => (b[predictor] = 0)),
      'DECODE_FAILED',
    );
    refused(
      edited(bytes, (b) => (b[predictor] = 8)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => (b[transform] = 12)),
      'MALFORMED',
    );
    refused(
      edited(bytes, (b) => (b[sos + 4] = 0)),
      'MALFORMED',
    );
    // No scan at all: the end of the image comes first.
    refused(Uint8Array.from([...bytes.subarray(0, sos), 0xff, EOI]), 'TRUNCATED');
  });

  test('restart intervals: across rows, a wrong or missing restart marker', () => {
    const restarted = encode({ restartInterval: 2 * COLUMNS });
    const dri = markerAt(restarted, 0xdd);
    assert.deepEqual([...decode(restarted).samples], [...SOURCE]);
    refused(
      edited(restarted, (b) => (b[dri + 5] += 1)),
      'DECODE_FAILED',
    );
    const rst0 = markerAt(restarted, 0xd0);
    refused(
      edited(restarted, (b) => (b[rst0 + 1] = 0xd3)),
      'MALFORMED',
    );
    const missing = Uint8Array.from([...restarted.subarray(0, rst0), ...restarted.subarray(rst0 + 2)]);
    assert.throws(
      () => decode(missing),
      (error: unknown) => error instanceof TriageError && ['MALFORMED', 'TRUNCATED'].includes(error.code),
    );
  });
});

describe('damaged entropy-coded data', () => {
  test('a code no table defines: MALFORMED', () => {
    const bytes = encode();
    const sos = markerAt(bytes, SOS);
    const data = sos + 2 + ((bytes[sos + 2] << 8) | bytes[sos + 3]);
    // All one bits (FF 00 is a stuffed FF): the default table leaves the all-ones codes undefined.
    const ones = edited(bytes, (b) => {
      for (let i = data; i + 1 < b.length - 2; i += 2) {
        b[i] = 0xff;
        b[i + 1] = 0;
      }
    });
    refused(ones, 'MALFORMED');
  });

  test('a marker inside the data: the rows after it are missing', () => {
    const bytes = encode();
    const middle = Math.floor((markerAt(bytes, SOS) + bytes.length) / 2);
    refused(
      edited(bytes, (b) => ((b[middle] = 0xff), (b[middle + 1] = EOI))),
      'TRUNCATED',
    );
  });

  test('random bit flips: an image or a coded error, every time', () => {
    const next = mulberry32(7);
    const bytes = encode({ restartInterval: 5 * COLUMNS });
    const start = markerAt(bytes, SOS);
    const outcomes = new Set<string>();
    for (let run = 0; run < 400; run++) {
      const damaged = edited(bytes, (b) => {
        for (let k = 0; k < 1 + Math.floor(next() * 8); k++) {
          b[start + Math.floor(next() * (b.length - start))] ^= 1 << Math.floor(next() * 8);
        }
      });
      try {
        const decoded = decode(damaged);
        assert.equal(decoded.samples.length, SOURCE.length);
        outcomes.add('decoded');
      } catch (error) {
        assert.ok(error instanceof TriageError, `uncoded: ${String(error)}`);
        outcomes.add(error.code);
      }
    }
    assert.ok(outcomes.has('decoded') && outcomes.size >= 3, [...outcomes].join(', '));
  });
});

describe('budgets before allocation', () => {
  test('a frame whose samples exceed the decode budget is refused before it is read', () => {
    const bytes = encodeJpegLossless(new Uint16Array(6 * 3), {
      columns: 6,
      rows: 1,
      components: 3,
      precision: 16,
      predictor: 1,
    });
    refused(bytes, 'TOO_LARGE', describeImage(6000, 6000, 3, 16));
  });

  test('a large frame with almost no data ends at its first row, not after decoding zeros', () => {
    // 6,000 x 6,000 declared; the data holds one row. Each row is checked for the end of the data.
    const one = encodeJpegLossless(new Uint16Array(6000), {
      columns: 6000,
      rows: 1,
      components: 1,
      precision: 12,
      predictor: 1,
    });
    const sof = markerAt(one, SOF3);
    const big = edited(one, (b) => ((b[sof + 5] = 6000 >> 8), (b[sof + 6] = 6000 & 0xff)));
    refused(big, 'TRUNCATED', describeImage(6000, 6000));
  });
});
