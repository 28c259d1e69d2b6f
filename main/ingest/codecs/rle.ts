/**
 * RLE Lossless with the decoder that Cornerstone's DICOM image loader maintains (its package
 * exports do not list it, so it is loaded from the installed file).
 */
import { pathToFileURL } from 'node:url';
import { TriageError } from '../../errors/index.js';
import { loaderCodecPath } from './jpeg-extended.js';
import type { DecodedFrame, FrameRequest, Samples } from './types.js';
import { lazyModule, withModule } from './wasm-module.js';

interface RleImageFrame {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  planarConfiguration: number;
  pixelRepresentation: number;
  pixelData?: Samples;
}
type DecodeRle = (frame: RleImageFrame, pixelData: Uint8Array) => Promise<RleImageFrame>;

const codec = lazyModule(async () => {
  // A file of @cornerstonejs/dicom-image-loader that its package exports do not list: a package's
  // file, found at run time, not a module of this project.
  // eslint-disable-next-line local/architecture
  const module = (await import(pathToFileURL(loaderCodecPath('shared/decoders/decodeRLE.js')).href)) as {
    default: DecodeRle;
  };
  return module.default;
});

/** The RLE header: a segment count and 15 offsets, each inside the frame. */
function checkRleHeader(bytes: Uint8Array, expectedSegments: number): void {
  if (bytes.length < 64) throw new TriageError('TRUNCATED', 'The RLE frame is shorter than its 64-byte header.');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== expectedSegments) {
    throw new TriageError(
      'MALFORMED',
      `The RLE frame has ${segments} segments; the attributes need ${expectedSegments}.`,
    );
  }
  // All 15 offset slots: the decoder reads the slot after the last segment as that segment's end,
  // and a garbage offset there would make it loop over billions of absent bytes.
  for (let i = 0; i < 15; i++) {
    const offset = view.getUint32(4 + i * 4, true);
    const unused = i >= segments && offset === 0;
    if (!unused && (offset < 64 || offset >= bytes.length)) {
      throw new TriageError('MALFORMED', `RLE segment ${i + 1} starts at byte ${offset}, outside the frame.`);
    }
  }
}

export async function decodeRle({ bytes, description }: FrameRequest): Promise<DecodedFrame> {
  checkRleHeader(bytes, (description.bitsAllocated / 8) * description.samplesPerPixel);
  const frame = await withModule(codec, (decode) =>
    decode(
      {
        rows: description.rows,
        columns: description.columns,
        samplesPerPixel: description.samplesPerPixel,
        bitsAllocated: description.bitsAllocated,
        planarConfiguration: description.planarConfiguration,
        // Unsigned words: sign extension happens once, for every codec, in the pixel stage.
        pixelRepresentation: 0,
      },
      // A copy, so the decoder's views over the buffer cannot reach past this frame.
      bytes.slice(),
    ),
  );
  if (!frame.pixelData) throw new TriageError('DECODE_FAILED', 'The RLE decoder produced no pixels.');
  return {
    rows: description.rows,
    columns: description.columns,
    samples: frame.pixelData,
    // The loader keeps planes apart only when Planar Configuration says so (8-bit colour).
    planar: description.samplesPerPixel === 3 && description.planarConfiguration === 1,
    convertedToRgb: false,
    level: 0,
  };
}
