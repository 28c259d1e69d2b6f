/** The contract between the DICOM reader and the codecs: bytes of one frame in, samples out. */
import type { PixelDescription } from '../dicom/attributes.js';

export type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

export interface FrameRequest {
  bytes: Uint8Array;
  description: PixelDescription;
  bigEndian: boolean;
  /**
   * Decode only as much resolution as needed for the shorter side to keep at least this many
   * pixels, where the codestream holds resolution levels; undefined means full resolution.
   */
  minShortSide?: number;
}

export interface DecodedFrame {
  rows: number;
  columns: number;
  /** Raw sample words as the codec produced them: bits above Bits Stored may still be set. */
  samples: Samples;
  /** Colour samples by plane (RRR...GGG...BBB) rather than by pixel. */
  planar: boolean;
  /** The codec already converted YCbCr to RGB (JPEG baseline does); else colour is as stored. */
  convertedToRgb: boolean;
  /** Resolution level decoded: 0 is full resolution, each level halves both sides. */
  level: number;
}

export type FrameDecoder = (request: FrameRequest) => Promise<DecodedFrame> | DecodedFrame;
