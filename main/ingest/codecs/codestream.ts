/**
 * Reading the size a JPEG-family or JPEG 2000 codestream declares, before decoding it. A decoder
 * allocates what the codestream says, so a corrupt or hostile header is caught here against the
 * DICOM attributes instead of inside the codec. This reads headers only; the codecs decode.
 */
import { TriageError } from '../../errors/index.js';
import { checkImageSize, MAX_JPEG_SCANS } from '../budget.js';
import type { PixelDescription } from '../dicom/attributes.js';

export interface CodestreamHeader {
  width: number;
  height: number;
  components: number;
  precision: number;
}

const SOF_MARKERS = new Set([
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xc5,
  0xc6,
  0xc7,
  0xc9,
  0xca,
  0xcb,
  0xcd,
  0xce,
  0xcf,
  0xf7, // SOF55, JPEG-LS
]);

function malformed(what: string): never {
  throw new TriageError('MALFORMED', `The compressed frame is corrupt: ${what}.`);
}

/** JPEG, JPEG lossless and JPEG-LS: walk the markers to the start of frame. */
export function readJpegHeader(bytes: Uint8Array): CodestreamHeader {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) malformed('no JPEG start-of-image marker');
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) malformed(`expected a marker at byte ${offset}`);
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    if (SOF_MARKERS.has(marker)) {
      if (offset + 10 > bytes.length) break;
      return {
        precision: bytes[offset + 4],
        height: (bytes[offset + 5] << 8) | bytes[offset + 6],
        width: (bytes[offset + 7] << 8) | bytes[offset + 8],
        components: bytes[offset + 9],
      };
    }
    if (length < 2) malformed(`marker segment of length ${length}`);
    offset += 2 + length;
  }
  throw new TriageError('TRUNCATED', 'The compressed frame ends before its start-of-frame header.');
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Where the codestream starts: 0, or inside the jp2c box of a JP2 file; -1 when JP2 has none. */
function j2kCodestreamOffset(bytes: Uint8Array): number {
  if (!(bytes[0] === 0x00 && bytes[4] === 0x6a && bytes[5] === 0x50)) return 0;
  // JP2 file format: walk the boxes to the contiguous codestream box.
  for (let box = 0; box + 8 <= bytes.length;) {
    const length = readUint32(bytes, box);
    const type = String.fromCharCode(bytes[box + 4], bytes[box + 5], bytes[box + 6], bytes[box + 7]);
    if (type === 'jp2c') return box + 8;
    if (length < 8) break;
    box += length;
  }
  return -1;
}

/** JPEG 2000 and HTJ2K: the SIZ segment right after SOC (inside a jp2c box for JP2 files). */
export function readJ2kHeader(bytes: Uint8Array): CodestreamHeader {
  const offset = j2kCodestreamOffset(bytes);
  if (offset < 0) malformed('no codestream box in the JP2 file');
  if (
    bytes[offset] !== 0xff ||
    bytes[offset + 1] !== 0x4f ||
    bytes[offset + 2] !== 0xff ||
    bytes[offset + 3] !== 0x51
  ) {
    malformed('no JPEG 2000 SOC and SIZ markers');
  }
  const siz = offset + 4;
  if (siz + 40 > bytes.length) throw new TriageError('TRUNCATED', 'The JPEG 2000 frame ends inside its SIZ header.');
  const xsiz = readUint32(bytes, siz + 4);
  const ysiz = readUint32(bytes, siz + 8);
  const xosiz = readUint32(bytes, siz + 12);
  const yosiz = readUint32(bytes, siz + 16);
  const components = (bytes[siz + 36] << 8) | bytes[siz + 37];
  if (xosiz >= xsiz || yosiz >= ysiz) malformed('image offset beyond image size in SIZ');
  return { width: xsiz - xosiz, height: ysiz - yosiz, components, precision: (bytes[siz + 38] & 0x7f) + 1 };
}

/**
 * The number of wavelet decompositions the main header declares (COD, or a COC with fewer), so
 * that a decoder whose header reading does not report it (OpenJPEG's WASM wrapper fills it in only
 * after a full decode) can still be asked for a lower resolution. 0 when it cannot be read, which
 * means a full-resolution decode.
 */
export function readJ2kDecompositions(bytes: Uint8Array): number {
  const start = j2kCodestreamOffset(bytes);
  if (start < 0 || bytes[start] !== 0xff || bytes[start + 1] !== 0x4f) return 0;
  const components = start + 42 <= bytes.length ? (bytes[start + 40] << 8) | bytes[start + 41] : 0;
  let decompositions = -1;
  let offset = start + 2;
  // Main header marker segments, up to the first tile-part (SOT).
  while (offset + 4 <= bytes.length && bytes[offset] === 0xff && bytes[offset + 1] !== 0x90) {
    const marker = bytes[offset + 1];
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    if (length < 2 || offset + 2 + length > bytes.length) return 0;
    if (marker === 0x52 && length >= 12) {
      // COD: Lcod, Scod, SGcod (progression, layers x2, MCT), then SPcod's decomposition levels.
      const levels = bytes[offset + 9];
      decompositions = decompositions < 0 ? levels : Math.min(decompositions, levels);
    } else if (marker === 0x53) {
      // COC: Lcoc, Ccoc (1 byte, 2 when there are 257 components or more), Scoc, SPcoc's levels.
      const at = offset + 4 + (components < 257 ? 1 : 2) + 1;
      if (at < offset + 2 + length)
        decompositions = decompositions < 0 ? bytes[at] : Math.min(decompositions, bytes[at]);
    }
    offset += 2 + length;
  }
  return Math.max(0, decompositions);
}

/** The codestream must describe the image the DICOM attributes describe. */
export function checkAgainstAttributes(header: CodestreamHeader, description: PixelDescription): void {
  const heightKnown = header.height !== 0; // JPEG allows the height to come later (DNL)
  if (header.width !== description.columns || (heightKnown && header.height !== description.rows)) {
    throw new TriageError(
      'INVALID_ATTRIBUTE',
      `The compressed frame is ${header.width} x ${header.height} but Columns x Rows say ${description.columns} x ${description.rows}.`,
    );
  }
  if (header.components !== description.samplesPerPixel) {
    throw new TriageError(
      'INVALID_ATTRIBUTE',
      `The compressed frame has ${header.components} components but Samples per Pixel is ${description.samplesPerPixel}.`,
    );
  }
  if (header.precision > 16 || header.precision < 2) {
    throw new TriageError(
      'INVALID_ATTRIBUTE',
      `The compressed frame has a sample precision of ${header.precision} bits.`,
    );
  }
}

/**
 * The number of scans (SOS markers) in a JPEG-family codestream, walking its marker segments and
 * skipping each scan's entropy-coded data. A progressive image has about ten; every scan is a pass
 * over the whole image, so a file that repeats one scan thousands of times costs minutes.
 */
export function countJpegScans(bytes: Uint8Array): number {
  let scans = 0;
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return scans; // the decoder reports the damage
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    if (marker === 0xd9) return scans; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // TEM and RSTn have no length
      continue;
    }
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    if (length < 2) return scans;
    offset += 2 + length;
    if (marker !== 0xda) continue;
    scans++;
    if (scans > MAX_JPEG_SCANS) return scans;
    // Entropy-coded data runs to the next marker that is not a stuffed zero or a restart.
    while (offset + 1 < bytes.length) {
      if (
        bytes[offset] === 0xff &&
        bytes[offset + 1] !== 0x00 &&
        !(bytes[offset + 1] >= 0xd0 && bytes[offset + 1] <= 0xd7)
      )
        break;
      offset++;
    }
  }
  return scans;
}

/** A JPEG-family frame must fit the pixel ceiling and the scan budget before a codec sees it. */
export function checkJpegBudget(bytes: Uint8Array, header: CodestreamHeader): void {
  checkImageSize(header.width, header.height, 'The JPEG frame');
  const scans = countJpegScans(bytes);
  if (scans > MAX_JPEG_SCANS) {
    throw new TriageError(
      'TOO_LARGE',
      `The JPEG has more than ${MAX_JPEG_SCANS} scans (a progressive image has about ten); decoding it would take minutes.`,
    );
  }
}
