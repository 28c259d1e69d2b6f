/**
 * Finding the bytes of the first frame, native or encapsulated, and checking that the file holds
 * as many bytes as the attributes announce before any decoder sees them.
 */
import dicomParser from 'dicom-parser';
import { TriageError } from '../../errors/index.js';
import type { PixelDescription } from './attributes.js';
import { TAG } from './attributes.js';
import type { DataSet, Element } from './parse.js';
import type { TransferSyntaxInfo } from './transfer-syntax.js';

export function pixelDataElement(dataSet: DataSet): Element {
  const element = dataSet.elements[TAG.pixelData];
  if (!element) {
    if (dataSet.elements[TAG.floatPixelData] || dataSet.elements[TAG.doubleFloatPixelData]) {
      throw new TriageError('INVALID_ATTRIBUTE', 'Float Pixel Data is used for parametric maps, not radiographs.');
    }
    throw new TriageError('NO_PIXEL_DATA', 'The DICOM object has image attributes but no Pixel Data (7FE0,0010).');
  }
  return element;
}

/** Bytes one native frame occupies. */
export function nativeFrameBytes(description: PixelDescription): number {
  return (description.rows * description.columns * description.samplesPerPixel * description.bitsAllocated) / 8;
}

export function firstNativeFrame(dataSet: DataSet, element: Element, description: PixelDescription): Uint8Array {
  const needed = nativeFrameBytes(description);
  const available = Math.min(element.length, dataSet.byteArray.length - element.dataOffset);
  if (element.length < needed) {
    throw new TriageError(
      'INVALID_ATTRIBUTE',
      `Pixel Data holds ${element.length} bytes but ${description.columns} x ${description.rows} x ${description.samplesPerPixel} samples of ${description.bitsAllocated} bits need ${needed}.`,
    );
  }
  if (available < needed) {
    throw new TriageError('TRUNCATED', `The file ends after ${available} of the ${needed} bytes of the first frame.`);
  }
  return dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + needed);
}

const JPEG_SOI = [0xff, 0xd8];
const J2K_SOC = [0xff, 0x4f, 0xff, 0x51];
const JP2_SIGNATURE = [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50];

function startsWith(bytes: Uint8Array, offset: number, prefix: number[]): boolean {
  return prefix.every((value, i) => bytes[offset + i] === value);
}

function startsCodestream(bytes: Uint8Array, offset: number, codec: TransferSyntaxInfo['codec']): boolean {
  if (codec === 'jpeg2000' || codec === 'htj2k') {
    return startsWith(bytes, offset, J2K_SOC) || startsWith(bytes, offset, JP2_SIGNATURE);
  }
  if (codec === 'rle') return true; // RLE has no marker: one fragment per frame by definition
  return startsWith(bytes, offset, JPEG_SOI);
}

/**
 * The first frame of encapsulated pixel data. Frame 1 begins at the first fragment; it ends where
 * the Basic Offset Table says, or at the next fragment that starts a new codestream, or at the end.
 */
export function firstEncapsulatedFrame(
  dataSet: DataSet,
  element: Element,
  syntax: TransferSyntaxInfo,
  description: PixelDescription,
): Uint8Array {
  const fragments = element.fragments ?? [];
  if (!element.encapsulatedPixelData || fragments.length === 0) {
    throw new TriageError(
      'MALFORMED',
      `Pixel Data is not encapsulated although the transfer syntax is ${syntax.name}.`,
    );
  }
  for (const fragment of fragments) {
    if (fragment.position + fragment.length > dataSet.byteArray.length) {
      throw new TriageError('TRUNCATED', 'The file ends inside a compressed pixel data fragment.');
    }
  }
  let count = fragments.length;
  const offsets = element.basicOffsetTable ?? [];
  if (description.numberOfFrames > 1 && fragments.length > 1) {
    if (offsets.length > 1) {
      const end = fragments.findIndex((fragment) => fragment.offset === offsets[1]);
      count = end > 0 ? end : 1;
    } else if (fragments.length === description.numberOfFrames) {
      count = 1;
    } else {
      const next = fragments.findIndex(
        (fragment, index) => index > 0 && startsCodestream(dataSet.byteArray, fragment.position, syntax.codec),
      );
      count = next > 0 ? next : fragments.length;
    }
  }
  try {
    return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, 0, count);
  } catch (thrown) {
    throw new TriageError('MALFORMED', `The compressed pixel data fragments cannot be read (${String(thrown)}).`);
  }
}
