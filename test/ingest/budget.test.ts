/**
 * The ingest's budget, one hostile construct at a time and at small scale (the fuzz tier runs the
 * full-size bombs through `triage decode`): each is refused with its code before anything of its
 * size is allocated, and a healthy file of the same kind still reads. Every limit is tested on both
 * sides: just within it reads, just beyond it does not.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { constants, crc32, deflateRawSync, deflateSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import { decode as fastPngDecode } from 'fast-png';
import { fileURLToPath } from 'node:url';
import { decodeRadiograph, MAX_FILE_BYTES, parseDataSet, readRadiograph } from '../../main/ingest/index.js';
import type { TriageError } from '../../main/errors/index.js';
import {
  MAX_DECODED_BYTES,
  MAX_ELEMENTS,
  MAX_PNG_CHUNKS,
  MAX_FRAGMENTS,
  MAX_JPEG_SCANS,
  MAX_NESTING_DEPTH,
  MAX_SEQUENCE_ITEMS,
} from '../../main/ingest/budget.js';
import {
  deflatedFile,
  element,
  fileMeta,
  imageAttributes,
  ITEM,
  itemTag,
  nativePixels,
  pngChunk,
  pngWithHeader,
  SEQUENCE_END,
  sequence,
  SYNTAX,
  UNDEFINED,
} from '../support/hostile.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('ingest-budget');
after(() => scratch.remove());
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

const decode = (bytes: Uint8Array, name = 'hostile.dcm') => decodeRadiograph(join(scratch.path, name), bytes);
const code = (expected: string, message?: RegExp) => (error: TriageError) => {
  assert.equal(error.code, expected, error.message);
  if (message) assert.match(error.message, message);
  return true;
};
const dicom = (dataSet: Buffer) => Buffer.concat([fileMeta(SYNTAX.explicitLE), dataSet]);

describe('the pixel ceiling', () => {
  test('a DICOM declaring 10,000 x 10,000 is TOO_LARGE before its pixels are read; 6,000 x 6,000 passes the check', async () => {
    const declaring = (rows: number, columns: number) =>
      dicom(Buffer.concat([imageAttributes(rows, columns), nativePixels(8, 8)]));
    await assert.rejects(decode(declaring(10_000, 10_000)), code('TOO_LARGE', /10000 x 10000/));
    // Within the ceiling the size check passes, and the short pixel data is what is reported.
    await assert.rejects(decode(declaring(6000, 6000)), code('INVALID_ATTRIBUTE', /Pixel Data holds/));
  });

  test('a PNG declaring 65,535 x 65,535 is TOO_LARGE from its header, without inflating anything', async () => {
    const png = pngWithHeader(65_535, 65_535, deflateRawSync(Buffer.alloc(16)));
    const started = performance.now();
    await assert.rejects(decode(png, 'huge.png'), code('TOO_LARGE', /65535 x 65535/));
    console.log(`# 65,535^2 PNG refused in ${(performance.now() - started).toFixed(1)} ms`);
  });

  test('a PNG whose image data inflates beyond its declared size is MALFORMED; exactly the declared size decodes', async () => {
    const width = 64;
    const rows = Buffer.alloc(64 * (1 + width), 0x40); // filter byte 0 (none) and 64 grey samples per row
    for (let y = 0; y < 64; y++) rows[y * (1 + width)] = 0;
    const exact = await decode(pngWithHeader(width, 64, deflateSync(rows)), 'exact.png');
    assert.deepEqual([exact.columns, exact.rows], [64, 64]);
    const bomb = pngWithHeader(width, 64, deflateSync(Buffer.alloc(rows.length * 1000)));
    await assert.rejects(decode(bomb, 'bomb.png'), code('MALFORMED', /inflates beyond/));
  });

  test(`a PNG whose samples decode to more than ${MAX_DECODED_BYTES / 2 ** 20} MiB is TOO_LARGE; RGBA at 8 bits passes the check`, async () => {
    // 6,000 x 6,000 is within the pixel ceiling; 16-bit RGBA is 288 MB of samples, 8-bit 144 MB.
    const idat = deflateSync(Buffer.alloc(16));
    await assert.rejects(
      decode(pngWithHeader(6000, 6000, idat, { colourType: 6, depth: 16 }), 'rgba16.png'),
      code('TOO_LARGE', /decode to more than/),
    );
    const within = await decode(pngWithHeader(6000, 6000, idat, { colourType: 6 }), 'rgba8.png').catch(
      (error: TriageError) => error,
    );
    assert.ok('code' in within && within.code !== 'TOO_LARGE', 'refused for its short image data, not its size');
  });
});

describe('PNG chunks', () => {
  const width = 64;
  const rows = Buffer.alloc(64 * (1 + width));
  const image = () => deflateSync(rows);
  const text = (keyword: string, compressed: Uint8Array) =>
    Buffer.concat([Buffer.from(`${keyword}\0\0`, 'latin1'), compressed]);

  test('ancillary chunks never reach the decoder: a profile it would refuse, text, and a 128 MiB profile bomb', async () => {
    // Compression method 1 does not exist: fast-png refuses the profile, so it must never see it.
    const refused = pngWithHeader(width, 64, image(), {
      before: [
        ['iCCP', text('icc', deflateSync(Buffer.alloc(64)))],
        ['tEXt', Buffer.from('Comment\0hello', 'latin1')],
      ],
    });
    refused[refused.indexOf('iCCP') + 8] = 1;
    const crcEnd = refused.indexOf('IDAT') - 4;
    const iccpStart = refused.indexOf('iCCP');
    refused.writeUInt32BE(crc32(refused.subarray(iccpStart, crcEnd - 4)), crcEnd - 4);
    assert.throws(() => fastPngDecode(refused), /iCCP compression method/, 'the reference decoder reads the profile');
    assert.equal((await decode(refused, 'profile.png')).rows, 64);

    const bomb = pngWithHeader(width, 64, image(), {
      before: [
        ['iCCP', text('icc', deflateSync(Buffer.alloc(128 * 2 ** 20)))],
        ['zTXt', text('Comment', deflateSync(Buffer.alloc(128 * 2 ** 20)))],
      ],
    });
    assert.ok(bomb.length < 600_000, `${bomb.length} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    assert.equal((await decode(bomb, 'profile-bomb.png')).rows, 64);
    const grew = process.memoryUsage().arrayBuffers - before;
    console.log(
      `# 2 x 128 MiB chunk bombs read in ${(performance.now() - started).toFixed(1)} ms, +${(grew / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.ok(grew < 16 * 2 ** 20, `${grew} bytes of buffers held`);
  });

  test('a second image header is MALFORMED; so is a critical chunk the reader does not know', async () => {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(8000, 0);
    ihdr.writeUInt32BE(8000, 4);
    ihdr[8] = 8;
    await assert.rejects(
      decode(pngWithHeader(width, 64, image(), { before: [['IHDR', ihdr]] }), 'two-headers.png'),
      code('MALFORMED', /second image header/),
    );
    await assert.rejects(
      decode(pngWithHeader(width, 64, image(), { before: [['ZZZZ', Buffer.alloc(4)]] }), 'unknown.png'),
      code('MALFORMED', /critical chunk/),
    );
    // The same chunk as an ancillary one (lower-case first letter) is left out, and the image reads.
    assert.equal(
      (await decode(pngWithHeader(width, 64, image(), { before: [['zZZZ', Buffer.alloc(4)]] }), 'a.png')).rows,
      64,
    );
  });
});

describe('the structure of a DICOM data set', () => {
  const withBefore = (before: Buffer) => dicom(Buffer.concat([imageAttributes(8, 8, [before]), nativePixels(8, 8)]));

  test(`more than ${MAX_SEQUENCE_ITEMS.toLocaleString('en')} sequence items is TOO_LARGE; as many reads`, async () => {
    await assert.rejects(
      decode(withBefore(sequence(0x00081110, MAX_SEQUENCE_ITEMS + 1))),
      code('TOO_LARGE', /sequence items/),
    );
    const radiograph = await decode(withBefore(sequence(0x00081110, MAX_SEQUENCE_ITEMS)));
    assert.equal(radiograph.rows, 8);
  });

  test(`sequences nested more than ${MAX_NESTING_DEPTH} deep are TOO_LARGE; ${MAX_NESTING_DEPTH} deep reads`, async () => {
    await assert.rejects(decode(withBefore(sequence(0x00081110, 1, MAX_NESTING_DEPTH))), code('TOO_LARGE', /nested/));
    assert.equal((await decode(withBefore(sequence(0x00081110, 1, MAX_NESTING_DEPTH - 1)))).rows, 8);
  });

  test(`more than ${MAX_ELEMENTS.toLocaleString('en')} elements is TOO_LARGE; as many reads`, async () => {
    // Private elements of 8 bytes each, one group of many.
    const privates = (count: number) => {
      const many = Buffer.alloc(count * 8);
      for (let i = 0; i < count; i++) {
        many.writeUInt16LE(0x0009, i * 8);
        many.writeUInt16LE(0x1000 + (i % 0xe000), i * 8 + 2);
        many.write('SH', i * 8 + 4, 'latin1');
        many.writeUInt16LE(0, i * 8 + 6);
      }
      return many;
    };
    // The image's own elements, as dicom-parser counts them (the meta group is not counted).
    const own = Object.keys(dicomParser.parseDicom(withBefore(privates(0))).elements).filter(
      (tag) => !tag.startsWith('x0002'),
    ).length;
    await assert.rejects(decode(withBefore(privates(MAX_ELEMENTS - own + 1))), code('TOO_LARGE', /elements/));
    assert.equal((await decode(withBefore(privates(MAX_ELEMENTS - own)))).rows, 8);
  });

  test(`more than ${MAX_FRAGMENTS.toLocaleString('en')} pixel data fragments is TOO_LARGE; as many pass the count`, async () => {
    // An empty basic offset table, then `count` empty fragments.
    const encapsulated = (count: number) => {
      const fragments = Buffer.alloc((count + 1) * 8);
      for (let i = 0; i <= count; i++) itemTag(ITEM, 0).copy(fragments, i * 8);
      return Buffer.concat([
        fileMeta(SYNTAX.jpegBaseline),
        imageAttributes(8, 8),
        element(0x7fe00010, 'OB', new Uint8Array(0), UNDEFINED),
        fragments,
        itemTag(SEQUENCE_END, 0),
      ]);
    };
    await assert.rejects(decode(encapsulated(MAX_FRAGMENTS + 1)), code('TOO_LARGE', /fragments/));
    // Counted and let through: refused later, for the empty frame it holds.
    await assert.rejects(decode(encapsulated(MAX_FRAGMENTS)), (error: TriageError) => error.code !== 'TOO_LARGE');
  });
});

describe('a hostile structure as the first element after the meta group', () => {
  // Where a header-only read (the scan's identification) and a whole read meet the data set first.
  const first = (bomb: Buffer) => Buffer.concat([bomb, imageAttributes(8, 8), nativePixels(8, 8)]);
  const bombs: Array<[string, Buffer, RegExp]> = [
    ['sequence items', sequence(0x00081110, MAX_SEQUENCE_ITEMS + 1), /sequence items/],
    ['nesting', sequence(0x00081110, 1, MAX_NESTING_DEPTH), /nested/],
  ];
  for (const [what, bomb, message] of bombs) {
    test(`${what}: TOO_LARGE for the header read and the whole read, explicit and deflated`, async () => {
      for (const file of [dicom(first(bomb)), deflatedFile(first(bomb))]) {
        await assert.rejects(parseDataSet(file), code('TOO_LARGE', message));
        await assert.rejects(decode(file), code('TOO_LARGE', message));
      }
    });
  }
});

describe('the transfer syntax, as dicom-parser reads it', () => {
  /** A meta group with the Transfer Syntax UID values given, in order (dicom-parser keeps the last). */
  const metaWith = (...syntaxes: Uint8Array[]) => {
    const body = Buffer.concat([
      element(0x00020001, 'OB', new Uint8Array([0, 1])),
      element(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.1.1'),
      element(0x00020003, 'UI', '2.25.1'),
      ...syntaxes.map((uid) => element(0x00020010, 'UI', uid)),
    ]);
    return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), element(0x00020000, 'UL', body.length), body]);
  };
  const bomb = Buffer.concat([sequence(0x00081110, MAX_SEQUENCE_ITEMS + 1), imageAttributes(8, 8), nativePixels(8, 8)]);

  test('the last of two UIDs counts, however long (one padded with NULs to 300 bytes)', async () => {
    const padded = Buffer.alloc(300);
    padded.write(SYNTAX.explicitLE, 'latin1');
    // dicom-parser parses explicit VR by the second UID: the walk must count what it will build.
    const file = Buffer.concat([metaWith(Buffer.from('1.2.840.10008.1.2\0', 'latin1'), padded), bomb]);
    await assert.rejects(parseDataSet(file), code('TOO_LARGE', /sequence items/));
  });

  test('an implicit, big-endian or deflated UID padded with a space is MALFORMED; explicit reads', async () => {
    for (const uid of ['1.2.840.10008.1.2 ', '1.2.840.10008.1.2.2 ', '1.2.840.10008.1.2.1.99 ']) {
      const file = Buffer.concat([fileMeta(uid), imageAttributes(8, 8), nativePixels(8, 8)]);
      await assert.rejects(parseDataSet(file), code('MALFORMED', /padded with spaces/));
    }
    const healthy = Buffer.concat([fileMeta('1.2.840.10008.1.2.1 '), imageAttributes(8, 8), nativePixels(8, 8)]);
    assert.equal((await decode(healthy)).rows, 8);
  });
});

describe('deflated data sets', () => {
  test('a data set whose header inflates beyond 16 MiB is TOO_LARGE, and the inflated bytes stay near the cap', async () => {
    // 64 MiB of one private OB element before the image: a 65 KB file.
    const bomb = deflatedFile(
      Buffer.concat([
        element(0x00091010, 'OB', new Uint8Array(64 * 1024 * 1024)),
        imageAttributes(8, 8),
        nativePixels(8, 8),
      ]),
    );
    assert.ok(bomb.length < 200_000, `${bomb.length} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(decode(bomb), code('TOO_LARGE', /header inflates beyond/));
    assert.ok(process.memoryUsage().arrayBuffers - before < 48 * 1024 * 1024, 'at most the cap held');
  });

  test('Pixel Data that inflates beyond the frame its header declares is TOO_LARGE', async () => {
    // 8 x 8 declared, then a 32 MiB pixel data element.
    const bomb = deflatedFile(
      Buffer.concat([imageAttributes(8, 8), element(0x7fe00010, 'OW', new Uint8Array(32 * 1024 * 1024))]),
    );
    await assert.rejects(decode(bomb), code('TOO_LARGE', /beyond the .* bytes its header declares/));
  });

  test('a defined-length item longer than what is inflated so far reads (the walk waits for its end)', async () => {
    // 300 KB of incompressible bytes in one item: it spans many steps of the inflation.
    const noise = Buffer.alloc(300_000);
    for (let i = 0, x = 12345; i < noise.length; i++) noise[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const inner = element(0x00091010, 'OB', noise);
    const item = Buffer.concat([itemTag(ITEM, inner.length), inner]);
    const file = deflatedFile(
      Buffer.concat([element(0x00081110, 'SQ', item), imageAttributes(8, 8), nativePixels(8, 8)]),
    );
    assert.equal((await decode(file)).rows, 8);
  });

  test('a healthy deflated file within its declared size decodes (the conformance fixture)', async () => {
    const file = join(FIXTURES, 'dicom', 'deflated-le.dcm');
    const radiograph = await readRadiograph(file);
    assert.ok(radiograph.rows > 0 && radiograph.columns > 0);
  });
});

describe('PNG image data read by one inflater only', () => {
  test('a stored block whose length check zlib refuses (fast-png would inflate past it) is MALFORMED', async () => {
    // 1 x 1 grey: 2 bytes of image data. A non-final stored block of one byte with a wrong NLEN,
    // then a final fixed-Huffman block of runs: fast-png's inflater ignores NLEN and carries on.
    const runs = (bytes: number) =>
      Buffer.concat([
        Buffer.from([0x78, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]),
        deflateRawSync(Buffer.alloc(bytes), { strategy: constants.Z_FIXED }),
        Buffer.alloc(4),
      ]);
    const reference = fastPngDecode(pngWithHeader(1, 1, runs(1024 * 1024)));
    assert.equal(reference.width, 1, 'fast-png alone decodes it, having inflated a megabyte');
    const bomb = pngWithHeader(1, 1, runs(256 * 1024 * 1024));
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(decode(bomb, 'nlen.png'), code('MALFORMED', /image data is corrupt/));
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20);
  });

  test(`a palette over 256 colours is MALFORMED; more than ${MAX_PNG_CHUNKS.toLocaleString('en')} chunks is TOO_LARGE`, async () => {
    const rows = deflateSync(Buffer.alloc(2));
    await assert.rejects(
      decode(pngWithHeader(1, 1, rows, { colourType: 3, before: [['PLTE', Buffer.alloc(771)]] }), 'palette.png'),
      code('MALFORMED', /palette/),
    );
    const grey = (chunks: number) =>
      Buffer.concat([
        pngWithHeader(1, 1, rows).subarray(0, 33),
        Buffer.concat(Array.from({ length: chunks }, () => pngChunk('tEXt', new Uint8Array(0)))),
        pngChunk('IDAT', rows),
        pngChunk('IEND', new Uint8Array(0)),
      ]);
    await assert.rejects(decode(grey(MAX_PNG_CHUNKS), 'chunks.png'), code('TOO_LARGE', /chunks/));
    assert.equal((await decode(grey(MAX_PNG_CHUNKS - 3), 'fewer.png')).rows, 1);
  });
});

describe('JPEG scans', () => {
  /** The progressive fixture with its last scan repeated `copies` more times before EOI. */
  function repeatedScans(copies: number): Buffer {
    const jpeg = readFileSync(join(FIXTURES, 'jpeg', 'progressive.jpg'));
    const lastScan = jpeg.lastIndexOf(Buffer.from([0xff, 0xda]));
    const end = jpeg.length - 2; // EOI
    const scan = jpeg.subarray(lastScan, end);
    return Buffer.concat([jpeg.subarray(0, end), ...Array.from({ length: copies }, () => scan), jpeg.subarray(end)]);
  }

  test(`a progressive JPEG with more than ${MAX_JPEG_SCANS} scans is TOO_LARGE before decoding; the fixture decodes`, async () => {
    const healthy = await decode(repeatedScans(0), 'progressive.jpg');
    assert.equal(healthy.rows, 256);
    const started = performance.now();
    await assert.rejects(decode(repeatedScans(2000), 'bomb.jpg'), code('TOO_LARGE', /scans/));
    console.log(`# 2,000 repeated scans refused in ${(performance.now() - started).toFixed(1)} ms`);
  });
});

describe('files', () => {
  test(`a file over ${MAX_FILE_BYTES / 1024 / 1024} MiB is TOO_LARGE before it is read`, async () => {
    const path = join(scratch.path, 'huge.dcm');
    writeFileSync(path, fileMeta(SYNTAX.explicitLE));
    truncateSync(path, MAX_FILE_BYTES + 1); // sparse: no disk used
    await assert.rejects(readRadiograph(path), code('TOO_LARGE', /radiographs are far smaller/));
  });

  test('a large file that is no image is NOT_DICOM after reading its first kilobyte only', async () => {
    const path = join(scratch.path, 'video.mp4');
    writeFileSync(path, Buffer.from('\x00\x00\x00\x18ftypmp42', 'latin1'));
    truncateSync(path, 200 * 1024 * 1024);
    const readBefore = process.platform === 'linux' ? bytesRead() : 0;
    await assert.rejects(readRadiograph(path), code('NOT_DICOM'));
    if (process.platform === 'linux') {
      const read = bytesRead() - readBefore;
      assert.ok(read < 1024 * 1024, `${read} bytes read for a 200 MB file`);
    }
  });

  test('a FIFO is UNREADABLE at once, never waited on', async () => {
    const path = join(scratch.path, 'fifo');
    execFileSync('mkfifo', [path]);
    await assert.rejects(readRadiograph(path), code('UNREADABLE', /not a regular file/));
  });
});

describe('values echoed from a file', () => {
  test('a 64 KB attribute becomes a bounded reason and bounded metadata', async () => {
    const { gate } = await import('../../main/gate/index.js');
    const huge = 'X'.repeat(65_000); // an explicit VR LO holds at most 64 KiB
    const file = dicom(
      Buffer.concat([
        element(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.1.1'),
        element(0x00080060, 'CS', 'DX'),
        element(0x00180015, 'LO', huge),
        element(0x00280002, 'US', 1),
        element(0x00280004, 'CS', 'MONOCHROME2'),
        element(0x00280010, 'US', 8),
        element(0x00280011, 'US', 8),
        element(0x00280100, 'US', 16),
        element(0x00280101, 'US', 12),
        element(0x00280102, 'US', 11),
        element(0x00280103, 'US', 0),
        nativePixels(8, 8),
      ]),
    );
    const radiograph = await decode(file);
    assert.ok(radiograph.metadata.bodyPartExamined!.length <= 64);
    const decision = gate(radiograph);
    assert.equal(decision.accepted, false);
    assert.ok(!decision.accepted && decision.reason.length < 160, 'the reason quotes a bounded value');
  });
});

/** Bytes this process has read through read system calls (Linux /proc/self/io). */
function bytesRead(): number {
  const io = readFileSync('/proc/self/io', 'utf8');
  return Number(/^rchar: (\d+)$/m.exec(io)![1]);
}
