/**
 * JPEG extended 12-bit (process 2 and 4). No codec package covers it; Cornerstone's DICOM image
 * loader carries a maintained decoder (derived from pdf.js) for exactly this, which we load from
 * the installed package rather than copying it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkAgainstAttributes, checkJpegBudget, readJpegHeader } from './codestream.js';
import type { DecodedFrame, FrameRequest } from './types.js';
import { lazyModule, withModule } from './wasm-module.js';

interface JpegImage {
  parse(bytes: Uint8Array): void;
  colorTransform: boolean;
  getData(width: number, height: number): Uint8Array;
  getData16(width: number, height: number): Uint16Array;
}

/** The installed loader's `dist/esm/codecs/jpeg.js`; its package exports do not list it. */
export function loaderCodecPath(relative: string): string {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@cornerstonejs/dicom-image-loader/package.json'));
  return join(root, 'dist', 'esm', relative);
}

const codec = lazyModule(async () => {
  // A file of @cornerstonejs/dicom-image-loader that its package exports do not list: a package's
  // file, found at run time, not a module of this project.
  // eslint-disable-next-line local/architecture
  const module = (await import(pathToFileURL(loaderCodecPath('codecs/jpeg.js')).href)) as {
    default: new () => JpegImage;
  };
  return module.default;
});

export async function decodeJpegExtended({ bytes, description }: FrameRequest): Promise<DecodedFrame> {
  const header = readJpegHeader(bytes);
  checkAgainstAttributes(header, description);
  checkJpegBudget(bytes, header);
  return withModule(codec, (JpegImageClass) => {
    const jpeg = new JpegImageClass();
    jpeg.parse(bytes);
    // Colour stays as stored (the DICOM header says how to read it).
    jpeg.colorTransform = false;
    const samples =
      header.precision > 8
        ? jpeg.getData16(description.columns, description.rows)
        : jpeg.getData(description.columns, description.rows);
    return {
      rows: description.rows,
      columns: description.columns,
      samples,
      planar: false,
      convertedToRgb: false,
      level: 0,
    };
  });
}
