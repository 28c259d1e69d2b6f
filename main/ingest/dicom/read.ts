/** A DICOM file's bytes to a Radiograph: parse, check, take the first frame, decode, apply semantics. */
import { quoted, TriageError } from '../../errors/index.js';
import { FRAME_DECODERS } from '../codecs/index.js';
import type { DecodedFrame } from '../codecs/index.js';
import { toModality, withIndexedPixels } from '../pixels/modality.js';
import { automaticWindow, lutWindow, readDicomWindow, readVoiLut } from '../pixels/window.js';
import type { DisplayWindow, Radiograph, RadiographFields, VoiLut } from '../radiograph.js';
import { readMetadata, readPixelDescription, TAG } from './attributes.js';
import type { PixelDescription } from './attributes.js';
import { firstEncapsulatedFrame, firstNativeFrame, pixelDataElement } from './frames.js';
import { parseDataSet } from './parse.js';
import type { DataSet } from './parse.js';
import { describeTransferSyntax, findTransferSyntax } from './transfer-syntax.js';
import type { TransferSyntaxInfo } from './transfer-syntax.js';

export interface DecodeOptions {
  /** Decode only the resolution needed for this many pixels on the shorter side, where possible. */
  minShortSide?: number;
}

/** SOP classes that are documents, reports or presentation states rather than images. */
const NON_IMAGE_SOP_CLASS = /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.(88\.|104\.|11\.|66|481\.[2-9]|9\.)/;

/** `hasPixels`: whether the data set has a Pixel Data element (a header read alone says so itself). */
export function checkIsImage(dataSet: DataSet, hasPixels = TAG.pixelData in dataSet.elements): void {
  const sopClass = dataSet.string(TAG.sopClassUID) ?? '';
  if (NON_IMAGE_SOP_CLASS.test(sopClass)) {
    throw new TriageError(
      'NOT_AN_IMAGE',
      `The DICOM object is not an image (SOP Class ${quoted(sopClass)}); nothing to analyse.`,
    );
  }
  if (!hasPixels && dataSet.elements[TAG.rows] === undefined) {
    throw new TriageError(
      'NOT_AN_IMAGE',
      'The DICOM object has neither image attributes nor pixel data; it is not an image.',
    );
  }
}

export async function readDicom(file: string, bytes: Uint8Array, options: DecodeOptions = {}): Promise<Radiograph> {
  try {
    return await readParsed(file, await parseDataSet(bytes), options);
  } catch (error) {
    throw attributeError(error);
  }
}

/** dicom-parser's accessors throw plain strings and TypeErrors on damaged attribute values. */
export function attributeError(error: unknown): TriageError {
  if (error instanceof TriageError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new TriageError('MALFORMED', `An attribute of the DICOM file cannot be read (${detail}).`, { cause: error });
}

/**
 * The image's transfer syntax and pixel description, checked against each other and against
 * whether the Pixel Data is encapsulated.
 */
export function describeImage(
  dataSet: DataSet,
  encapsulated: boolean,
): { syntax: TransferSyntaxInfo; description: PixelDescription } {
  const uid = (dataSet.string(TAG.transferSyntaxUID) ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim();
  const syntax = findTransferSyntax(uid);
  if (!syntax) {
    throw new TriageError(
      'UNSUPPORTED_TRANSFER_SYNTAX',
      `Transfer syntax ${quoted(uid)} (${describeTransferSyntax(uid)}) cannot be decoded; convert the file to an uncompressed or JPEG 2000 syntax (for example with dcmtk's dcmconv or gdcmconv) and try again.`,
    );
  }
  const description = readPixelDescription(dataSet);
  if (!syntax.encapsulated && description.photometric === 'YBR_FULL_422') {
    throw new TriageError(
      'INVALID_ATTRIBUTE',
      'Uncompressed YBR_FULL_422 is chroma-subsampled and not supported for radiographs.',
    );
  }
  if (syntax.encapsulated !== encapsulated) {
    throw new TriageError(
      'MALFORMED',
      `Pixel Data is ${encapsulated ? '' : 'not '}encapsulated, which contradicts the transfer syntax ${syntax.name}.`,
    );
  }
  return { syntax, description };
}

/** The window the file gives (its first Window Center/Width, else its VOI LUT), and its VOI LUT. */
export function fileWindow(
  dataSet: DataSet,
  description: PixelDescription,
): { window: DisplayWindow | null; voiLut: VoiLut | null } {
  const voiLut = readVoiLut(dataSet, description.signed);
  return { window: readDicomWindow(dataSet) ?? (voiLut ? lutWindow(voiLut) : null), voiLut };
}

/** A radiograph's fields but its pixels, for an image of `size` (smaller than the stored one when a level was decoded). */
export function radiographFields(
  file: string,
  dataSet: DataSet,
  syntax: TransferSyntaxInfo,
  description: PixelDescription,
  size: { rows: number; columns: number; level: number },
  window: DisplayWindow,
  voiLut: VoiLut | null,
): RadiographFields {
  const metadata = readMetadata(dataSet, description.numberOfFrames);
  if (size.level > 0 && metadata.pixelSpacing) {
    metadata.pixelSpacing = [
      metadata.pixelSpacing[0] * (description.rows / size.rows),
      metadata.pixelSpacing[1] * (description.columns / size.columns),
    ];
  }
  return {
    file,
    format: 'dicom',
    transferSyntax: { uid: syntax.uid, name: syntax.name },
    rows: size.rows,
    columns: size.columns,
    photometric: description.photometric,
    bitsAllocated: description.bitsAllocated,
    bitsStored: description.bitsStored,
    signed: description.signed,
    rescale: { slope: description.rescaleSlope, intercept: description.rescaleIntercept },
    invert: description.photometric === 'MONOCHROME1',
    window,
    voiLut,
    resolution:
      size.level > 0 ? { level: size.level, fullRows: description.rows, fullColumns: description.columns } : null,
    metadata,
  };
}

async function readParsed(file: string, dataSet: DataSet, options: DecodeOptions): Promise<Radiograph> {
  checkIsImage(dataSet);
  const element = pixelDataElement(dataSet);
  const { syntax, description } = describeImage(dataSet, Boolean(element.encapsulatedPixelData));
  const frame = syntax.encapsulated
    ? firstEncapsulatedFrame(dataSet, element, syntax, description)
    : firstNativeFrame(dataSet, element, description);

  let decoded: DecodedFrame;
  try {
    decoded = await FRAME_DECODERS[syntax.codec]({
      bytes: frame,
      description,
      bigEndian: syntax.bigEndian,
      minShortSide: options.minShortSide,
    });
  } catch (error) {
    if (error instanceof TriageError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new TriageError('DECODE_FAILED', `The ${syntax.name} pixel data cannot be decoded (${detail}).`, {
      cause: error,
    });
  }

  const image = toModality(decoded, description);
  const fromFile = fileWindow(dataSet, description);
  const window =
    fromFile.window ??
    (image.indexed ? automaticWindow(image.indexed, null) : automaticWindow(image.pixels, image.padding, image.range));
  const size = { rows: image.rows, columns: image.columns, level: decoded.level };
  const radiograph = radiographFields(file, dataSet, syntax, description, size, window, fromFile.voiLut);
  // An indexed image's float32 values and padding mask are made only if something asks for them.
  return image.indexed
    ? withIndexedPixels(radiograph, image.indexed)
    : { ...radiograph, pixels: image.pixels, padding: image.padding, range: image.range };
}
