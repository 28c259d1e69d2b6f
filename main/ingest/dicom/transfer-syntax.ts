/**
 * The transfer syntaxes this build decodes, and which codec decodes each. One table, so that the
 * list of supported inputs (docs/cli.md), the decoder dispatch and the error for anything else agree.
 */

export type CodecId =
  'native' | 'rle' | 'jpeg-baseline' | 'jpeg-extended' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000' | 'htj2k';

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  codec: CodecId;
  /** Pixel data in fragments (compressed), as opposed to one native value field. */
  encapsulated: boolean;
  bigEndian: boolean;
  lossy: boolean;
  /** The codestream holds resolution levels, so a smaller image can be decoded directly. */
  multiResolution: boolean;
}

function ts(
  uid: string,
  name: string,
  codec: CodecId,
  extra: Partial<Pick<TransferSyntaxInfo, 'bigEndian' | 'lossy' | 'multiResolution'>> = {},
): TransferSyntaxInfo {
  return {
    uid,
    name,
    codec,
    encapsulated: codec !== 'native',
    bigEndian: extra.bigEndian ?? false,
    lossy: extra.lossy ?? false,
    multiResolution: extra.multiResolution ?? false,
  };
}

export const TRANSFER_SYNTAXES: readonly TransferSyntaxInfo[] = [
  ts('1.2.840.10008.1.2', 'Implicit VR Little Endian', 'native'),
  ts('1.2.840.10008.1.2.1', 'Explicit VR Little Endian', 'native'),
  ts('1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', 'native'),
  ts('1.2.840.10008.1.2.2', 'Explicit VR Big Endian', 'native', { bigEndian: true }),
  ts('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg-baseline', { lossy: true }),
  ts('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', 'jpeg-extended', { lossy: true }),
  ts('1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', 'jpeg-lossless'),
  ts(
    '1.2.840.10008.1.2.4.70',
    'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 SV1)',
    'jpeg-lossless',
  ),
  ts('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpeg-ls'),
  ts('1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless)', 'jpeg-ls', { lossy: true }),
  ts('1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)', 'jpeg2000', { multiResolution: true }),
  ts('1.2.840.10008.1.2.4.91', 'JPEG 2000', 'jpeg2000', { lossy: true, multiResolution: true }),
  ts('1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 (Lossless Only)', 'htj2k', { multiResolution: true }),
  ts('1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', 'htj2k', {
    multiResolution: true,
  }),
  ts('1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000', 'htj2k', { lossy: true, multiResolution: true }),
  ts('1.2.840.10008.1.2.5', 'RLE Lossless', 'rle'),
];

const BY_UID = new Map(TRANSFER_SYNTAXES.map((t) => [t.uid, t]));

/** Well-known syntaxes that are recognised but not decoded, so the error can name them. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.101': 'MPEG2 High Profile',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD',
  '1.2.840.10008.1.2.4.110': 'JPEG XL Lossless',
  '1.2.840.10008.1.2.4.111': 'JPEG XL JPEG Recompression',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 Part 2 Multi-component (Lossless Only)',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 Part 2 Multi-component',
  '1.2.840.10008.1.2.4.94': 'JPIP Referenced',
  '1.2.840.10008.1.2.4.95': 'JPIP Referenced Deflate',
  '1.2.840.10008.1.2.1.98': 'Encapsulated Uncompressed Explicit VR Little Endian',
};

export function findTransferSyntax(uid: string): TransferSyntaxInfo | undefined {
  return BY_UID.get(uid);
}

export function describeTransferSyntax(uid: string): string {
  return BY_UID.get(uid)?.name ?? KNOWN_UNSUPPORTED[uid] ?? 'unknown transfer syntax';
}
