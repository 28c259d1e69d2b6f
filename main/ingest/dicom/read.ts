/** A DICOM file's bytes to a Radiograph: parse, check, take the first frame, decode, apply semantics. */
import { quoted, TriageError } from '../../errors/index.js';
import { FRAME_DECODERS } from '../codecs/index.js';
import type { DecodedFrame } from '../codecs/index.js';
import { toModality, withIndexedPixels } from '../pixels/modality.js';
import { automaticWindow, lutWindow, readDicomWindow, readVoiLut } from '../pixels/window.js';
import type { Radiograph } from '../radiograph.js';
import { readMetadata, readPixelDescription, TAG } from './attributes.js';
import { firstEncapsulatedFrame, firstNativeFrame, pixelDataElement } from './frames.js';
import { parseDataSet } from './parse.js';
import type { DataSet } from './parse.js';
import { describeTransferSyntax, findTransferSyntax } from './transfer-syntax.js';

export interface DecodeOptions {
  /** Decode only the resolution needed for this many pixels on the shorter side, where possible. */
  minShortSide?: number;
}

/** SOP classes that are documents, reports or presentation states rather than images. */
const NON_IMAGE_SOP_CLASS = /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.(88\.|104\.|11\.|66|481\.[2-9]|9\.)/;

function checkIsImage(dataSet: DataSet): void {
  const sopClass = dataSet.string(TAG.sopClassUID) ?? '';
  const hasPixels = TAG.pixelData in dataSet.elements;
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
    if (error instanceof TriageError) throw error;
    // dicom-parser's accessors throw plain strings and TypeErrors on damaged attribute values.
    const detail = error instanceof Error ? error.message : String(error);
    throw new TriageError('MALFORMED', `An attribute of the DICOM file cannot be read (${detail}).`, { cause: error });
  }
}

async function readParsed(file: string, dataSet: DataSet, options: DecodeOptions): Promise<Radiograph> {
  checkIsImage(dataSet);
  const element = pixelDataElement(dataSet);
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
  if (syntax.encapsulated !== Boolean(element.encapsulatedPixelData)) {
    throw new TriageError(
      'MALFORMED',
      `Pixel Data is ${element.encapsulatedPixelData ? '' : 'not '}encapsulated, which contradicts the transfer syntax ${syntax.name}.`,
    );
  }
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
  const voiLut = readVoiLut(dataSet, description.signed);
  const window =
    readDicomWindow(dataSet) ??
    (voiLut
      ? lutWindow(voiLut)
      : automaticWindow(image.indexed ?? image.pixels, image.indexed ? null : image.padding, image.range));
  const metadata = readMetadata(dataSet, description.numberOfFrames);
  if (decoded.level > 0 && metadata.pixelSpacing) {
    const factor = description.rows / image.rows;
    metadata.pixelSpacing = [
      metadata.pixelSpacing[0] * factor,
      metadata.pixelSpacing[1] * (description.columns / image.columns),
    ];
  }

  const radiograph: Omit<Radiograph, 'pixels' | 'padding' | 'indexed' | 'range'> = {
    file,
    format: 'dicom',
    transferSyntax: { uid: syntax.uid, name: syntax.name },
    rows: image.rows,
    columns: image.columns,
    photometric: description.photometric,
    bitsAllocated: description.bitsAllocated,
    bitsStored: description.bitsStored,
    signed: description.signed,
    rescale: { slope: description.rescaleSlope, intercept: description.rescaleIntercept },
    invert: description.photometric === 'MONOCHROME1',
    window,
    voiLut,
    resolution:
      decoded.level > 0 ? { level: decoded.level, fullRows: description.rows, fullColumns: description.columns } : null,
    metadata,
  };
  // An indexed image's float32 values and padding mask are made only if something asks for them.
  return image.indexed
    ? withIndexedPixels(radiograph, image.indexed)
    : { ...radiograph, pixels: image.pixels, padding: image.padding, range: image.range };
}
