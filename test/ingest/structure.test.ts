/**
 * The structure walk (main/ingest/dicom/structure.ts) against dicom-parser itself: on every
 * construct where the two could part ways (length field sizes, sequences of known length holding
 * longer items, delimiter searches, item tags at the top level, undefined-length UN, encapsulated
 * pixel data, the first element after the meta group, implicit VR), the walk counts exactly the
 * elements, items and fragments dicom-parser builds, and refuses exactly what it refuses. A budget
 * counted on another structure than the parser's would be no budget.
 */
import assert from 'node:assert/strict';
import dicomParser from 'dicom-parser';
import { describe, test } from 'node:test';
import { walkStructure } from '../../main/ingest/dicom/structure.js';
import {
  element,
  fileMeta,
  imageAttributes,
  ITEM,
  ITEM_END,
  itemTag,
  nativePixels,
  SEQUENCE_END,
  SYNTAX,
  UNDEFINED,
} from '../support/hostile.js';

interface Counts {
  elements: number;
  items: number;
  fragments: number;
}

/** What dicom-parser built: elements (group 0002 left out), items and fragments, recursively. */
function parserCounts(dataSet: dicomParser.DataSet, top = true): Counts {
  const counts = { elements: 0, items: 0, fragments: 0 };
  for (const [tag, el] of Object.entries(dataSet.elements)) {
    if (top && tag.startsWith('x0002')) continue;
    counts.elements++;
    counts.fragments += (el.fragments?.length ?? 0) + (el.basicOffsetTable?.length ?? 0);
    for (const item of el.items ?? []) {
      counts.items++;
      if (item.dataSet) {
        const inner = parserCounts(item.dataSet, false);
        counts.elements += inner.elements;
        counts.items += inner.items;
        counts.fragments += inner.fragments;
      }
    }
  }
  return counts;
}

/** Where a Part 10 file's data set starts: after the meta group (its group length says where). */
function metaEnd(bytes: Buffer): number {
  return 132 + 12 + bytes.readUInt32LE(140);
}

function compare(bytes: Buffer): { walk: Counts | string; parser: Counts | string } {
  const explicit = { explicit: true, littleEndian: true };
  let walk: Counts | string;
  try {
    const { elements, items, fragments } = walkStructure(bytes, metaEnd(bytes), explicit);
    walk = { elements, items, fragments };
  } catch (error) {
    walk = (error as { code: string }).code;
  }
  let parser: Counts | string;
  try {
    parser = parserCounts(dicomParser.parseDicom(bytes));
  } catch {
    parser = 'refused';
  }
  return { walk, parser };
}

/** The walk agrees with dicom-parser: the same counts, or both refuse. */
function agrees(name: string, dataSet: Buffer, syntax: string = SYNTAX.explicitLE): void {
  const { walk, parser } = compare(Buffer.concat([fileMeta(syntax), dataSet]));
  if (parser === 'refused') assert.equal(typeof walk, 'string', `${name}: dicom-parser refuses it; so must the walk`);
  else assert.deepEqual(walk, parser, name);
}

const pixels = nativePixels(4, 4);
const image = imageAttributes(4, 4);

describe('the structure walk counts what dicom-parser builds', () => {
  test('a plain image', () => agrees('plain', Buffer.concat([image, pixels])));

  test('nested sequences of undefined length', () => {
    const inner = Buffer.concat([
      element(0x00081150, 'UI', '1.2.3'),
      element(0x00081199, 'SQ', new Uint8Array(0), UNDEFINED),
      itemTag(ITEM, UNDEFINED),
      element(0x00081155, 'UI', '4.5.6'),
      itemTag(ITEM_END, 0),
      itemTag(SEQUENCE_END, 0),
    ]);
    const sequence = Buffer.concat([
      element(0x00081110, 'SQ', new Uint8Array(0), UNDEFINED),
      itemTag(ITEM, UNDEFINED),
      inner,
      itemTag(ITEM_END, 0),
      itemTag(ITEM, 0),
      itemTag(SEQUENCE_END, 0),
    ]);
    agrees('nested', Buffer.concat([sequence, image, pixels]));
  });

  test('OV, SV and UV carry a 16-bit length in dicom-parser 1.8 (not the standard 32-bit one)', () => {
    for (const vr of ['OV', 'SV', 'UV']) {
      // The standard's layout: 2 reserved bytes and a 32-bit length; dicom-parser reads a 16-bit one.
      const header = Buffer.alloc(12);
      header.writeUInt16LE(0x0009, 0);
      header.writeUInt16LE(0x1001, 2);
      header.write(vr, 4, 'latin1');
      header.writeUInt32LE(8, 8);
      agrees(vr, Buffer.concat([header, Buffer.alloc(8), image, pixels]));
    }
  });

  test('a sequence of known length holding a longer item: both go on where the item ends', () => {
    const item = Buffer.concat([itemTag(ITEM, 16), element(0x00081150, 'UI', '1.2.3.4.5.6')]);
    const sequence = Buffer.concat([element(0x00081110, 'SQ', new Uint8Array(0), 4), item]);
    agrees('short sequence', Buffer.concat([sequence, image, pixels]));
  });

  test('an undefined-length value searched for its delimiter, with a decoy FFFE group before it', () => {
    const decoy = Buffer.from([0xfe, 0xff, 0xfe, 0xff, 0x0d, 0xe0, 0x00, 0x00, 0x00, 0x00]);
    const value = Buffer.concat([Buffer.alloc(6), decoy, Buffer.alloc(4), itemTag(ITEM_END, 0)]);
    agrees('delimiter', Buffer.concat([element(0x00091010, 'UT', new Uint8Array(0), UNDEFINED), value, image, pixels]));
  });

  test('an item tag at the top level whose length bytes spell a VR', () => {
    const stray = Buffer.alloc(8);
    stray.writeUInt16LE(0xfffe, 0);
    stray.writeUInt16LE(0xe000, 2);
    stray.write('SQ', 4, 'latin1');
    agrees('stray item tag', Buffer.concat([stray, Buffer.alloc(4, 0xff), itemTag(SEQUENCE_END, 0), image, pixels]));
  });

  test('UN of undefined length: items read as implicit VR', () => {
    const items = Buffer.concat([
      itemTag(ITEM, UNDEFINED),
      Buffer.from([0x08, 0x00, 0x50, 0x11, 0x04, 0x00, 0x00, 0x00, 0x31, 0x2e, 0x32, 0x00]), // (0008,1150) "1.2"
      itemTag(ITEM_END, 0),
      itemTag(SEQUENCE_END, 0),
    ]);
    agrees('UN', Buffer.concat([element(0x00091010, 'UN', new Uint8Array(0), UNDEFINED), items, image, pixels]));
  });

  test('encapsulated pixel data: the offset table and every fragment', () => {
    const offsets = Buffer.alloc(12);
    const fragments = [5, 7, 0, 9].map((n) => Buffer.concat([itemTag(ITEM, n + (n % 2)), Buffer.alloc(n + (n % 2))]));
    agrees(
      'encapsulated',
      Buffer.concat([
        image,
        element(0x7fe00010, 'OB', new Uint8Array(0), UNDEFINED),
        itemTag(ITEM, offsets.length),
        offsets,
        ...fragments,
        itemTag(SEQUENCE_END, 0),
      ]),
      SYNTAX.jpegBaseline,
    );
  });

  test('the first element after the meta group is a sequence (dicom-parser reads it twice)', () => {
    const items = Array.from({ length: 5 }, () => itemTag(ITEM, 0));
    agrees(
      'first element',
      Buffer.concat([
        element(0x00081110, 'SQ', new Uint8Array(0), UNDEFINED),
        ...items,
        itemTag(SEQUENCE_END, 0),
        image,
        pixels,
      ]),
    );
  });

  test('implicit VR: a value that starts with an item tag is a sequence', () => {
    const implicit = (group: number, elementNumber: number, value: Buffer, length = value.length) => {
      const header = Buffer.alloc(8);
      header.writeUInt16LE(group, 0);
      header.writeUInt16LE(elementNumber, 2);
      header.writeUInt32LE(length, 4);
      return Buffer.concat([header, value]);
    };
    const dataSet = Buffer.concat([
      implicit(0x0008, 0x0060, Buffer.from('DX')),
      implicit(
        0x0008,
        0x1110,
        Buffer.concat([itemTag(ITEM, 0), itemTag(ITEM, 0), itemTag(SEQUENCE_END, 0)]),
        UNDEFINED,
      ),
      implicit(0x0008, 0x1111, Buffer.concat([itemTag(ITEM, 0), itemTag(ITEM, 0)])),
      implicit(0x0028, 0x0010, Buffer.from([4, 0])),
    ]);
    const walked = walkStructure(dataSet, 0, { explicit: false, littleEndian: true });
    const parsed = parserCounts(dicomParser.parseDicom(dataSet, { TransferSyntaxUID: '1.2.840.10008.1.2' }));
    assert.deepEqual({ elements: walked.elements, items: walked.items, fragments: walked.fragments }, parsed);
  });

  test('explicit VR big endian: nested sequences and an image, counted alike', () => {
    const be = (tag: number, vr: string, value: Buffer, length = value.length) => {
      const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
      const header = Buffer.alloc(long ? 12 : 8);
      header.writeUInt16BE(tag >>> 16, 0);
      header.writeUInt16BE(tag & 0xffff, 2);
      header.write(vr, 4, 'latin1');
      if (long) header.writeUInt32BE(length, 8);
      else header.writeUInt16BE(length, 6);
      return Buffer.concat([header, value]);
    };
    const beItem = (elementNumber: number, length: number) => {
      const bytes = Buffer.alloc(8);
      bytes.writeUInt16BE(0xfffe, 0);
      bytes.writeUInt16BE(elementNumber, 2);
      bytes.writeUInt32BE(length, 4);
      return bytes;
    };
    const us = (value: number) => Buffer.from([value >> 8, value & 0xff]);
    const inner = be(0x00081150, 'UI', Buffer.from('1.2.3\0'));
    const dataSet = Buffer.concat([
      be(0x00080060, 'CS', Buffer.from('DX')),
      be(0x00081110, 'SQ', Buffer.alloc(0), UNDEFINED),
      beItem(ITEM, UNDEFINED),
      inner,
      be(0x00081199, 'SQ', Buffer.concat([beItem(ITEM, inner.length), inner])),
      beItem(ITEM_END, 0),
      beItem(ITEM, inner.length),
      inner,
      beItem(SEQUENCE_END, 0),
      be(0x00280010, 'US', us(4)),
      be(0x00280011, 'US', us(4)),
      be(0x7fe00010, 'OW', Buffer.alloc(32)),
    ]);
    const file = Buffer.concat([fileMeta('1.2.840.10008.1.2.2'), dataSet]);
    const walked = walkStructure(file, metaEnd(file), { explicit: true, littleEndian: false });
    const parsed = parserCounts(dicomParser.parseDicom(file));
    assert.deepEqual({ elements: walked.elements, items: walked.items, fragments: walked.fragments }, parsed);
    assert.deepEqual([walked.items, walked.image.rows], [3, 4]);
  });

  test('the meta group is walked as dicom-parser reads it: up to the first element of another group', () => {
    const bytes = Buffer.concat([fileMeta(SYNTAX.explicitLE), image, pixels]);
    const meta = walkStructure(bytes, 132, { explicit: true, littleEndian: true }, { meta: true });
    assert.equal(meta.end, metaEnd(bytes));
    assert.equal(meta.transferSyntax, SYNTAX.explicitLE);
  });
});
