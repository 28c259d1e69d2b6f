/**
 * The display window: DICOM's Window Center/Width (the first pair when there are several), else
 * the VOI LUT Sequence, else an automatic window from the histogram of the non-padding pixels.
 * The linear window follows PS3.3 C.11.2.1.2.1 exactly, so a value renders as dcmtk renders it.
 */
import { numberAt, TAG } from '../dicom/attributes.js';
import type { DataSet } from '../dicom/parse.js';
import type { DisplayWindow, VoiLut } from '../radiograph.js';
import type { IndexedPixels } from './modality.js';

/** The first Window Center/Width pair, or null when absent or unusable (width below 1). */
export function readDicomWindow(dataSet: DataSet): DisplayWindow | null {
  const center = numberAt(dataSet, TAG.windowCenter, 0);
  const width = numberAt(dataSet, TAG.windowWidth, 0);
  if (center === undefined || width === undefined || !Number.isFinite(center) || !Number.isFinite(width) || width < 1) {
    return null;
  }
  return { center, width, source: 'dicom-window' };
}

/** The first item of the VOI LUT Sequence, or null when absent or inconsistent. */
export function readVoiLut(dataSet: DataSet, signed: boolean): VoiLut | null {
  const item = dataSet.elements[TAG.voiLutSequence]?.items?.[0]?.dataSet;
  if (!item) return null;
  const descriptor = item.elements[TAG.lutDescriptor];
  const data = item.elements[TAG.lutData];
  if (!descriptor || !data || descriptor.length < 6) return null;
  const entries = item.uint16(TAG.lutDescriptor, 0) || 65536; // 0 means 2^16 entries
  const firstRaw = item.uint16(TAG.lutDescriptor, 1) ?? 0;
  const firstMapped = signed ? (firstRaw << 16) >> 16 : firstRaw;
  const bitsPerEntry = item.uint16(TAG.lutDescriptor, 2) ?? 16;
  if (bitsPerEntry < 8 || bitsPerEntry > 16) return null;
  const available = Math.min(data.length, item.byteArray.length - data.dataOffset);
  if (available < entries * 2) return null;
  const table = new Uint16Array(entries);
  // As item.uint16(TAG.lutData, i) reads each entry (within `available`), without finding the element each time.
  const { byteArrayParser, byteArray } = item;
  for (let i = 0; i < entries; i++) table[i] = byteArrayParser.readUint16(byteArray, data.dataOffset + 2 * i);
  const explanation = item.string(TAG.lutExplanation) ?? null;
  return { firstMapped, bitsPerEntry, data: table, explanation };
}

/** The window a VOI LUT covers, for callers that want a center and width. */
export function lutWindow(lut: VoiLut): DisplayWindow {
  return { center: lut.firstMapped + lut.data.length / 2, width: lut.data.length, source: 'voi-lut' };
}

/**
 * When the file gives no window: the 0.5th to 99.5th percentile of the non-padding pixels, which
 * ignores collimator edges and burned-in markers that a min-max window would let flatten the lungs.
 * An indexed image carries its padding per word; `padding` is the per-pixel mask of a float32 one.
 * `range` is the non-padding pixels' smallest and largest value when known; else it is found: for
 * an indexed image in the same one pass over its words that counts them.
 */
export function automaticWindow(
  pixels: Float32Array | IndexedPixels,
  padding: Uint8Array | null,
  range?: { min: number; max: number },
): DisplayWindow {
  // Count the words of an indexed image once: its range and its histogram come from the counts.
  const counts = pixels instanceof Float32Array ? null : wordCounts(pixels);
  const { min, max } =
    range ?? (counts ? countedRange(pixels as IndexedPixels, counts) : floatRange(pixels as Float32Array, padding));
  if (!(max > min)) return { center: min, width: 1, source: 'automatic' };
  const bins = 4096;
  const histogram = new Uint32Array(bins);
  const scale = (bins - 1) / (max - min);
  let total = 0;
  // (x + 0.5) | 0 rounds the non-negative bin positions like Math.round, at a third of the cost.
  if (!(pixels instanceof Float32Array)) {
    // Bin each word's value as often as it occurs: the same histogram as per pixel. Padding is
    // per word here (the `padding` argument is not read).
    const { wordMask, values } = pixels;
    for (let word = 0; word <= wordMask; word++) {
      if (counts![word] === 0 || pixels.padding?.[word]) continue;
      histogram[((values[word] - min) * scale + 0.5) | 0] += counts![word];
      total += counts![word];
    }
  } else if (padding) {
    for (let i = 0; i < pixels.length; i++) {
      if (padding[i]) continue;
      histogram[((pixels[i] - min) * scale + 0.5) | 0]++;
      total++;
    }
  } else {
    for (let i = 0; i < pixels.length; i++) histogram[((pixels[i] - min) * scale + 0.5) | 0]++;
    total = pixels.length;
  }
  const quantile = (q: number): number => {
    const target = q * total;
    let seen = 0;
    for (let bin = 0; bin < bins; bin++) {
      seen += histogram[bin];
      if (seen >= target) return min + bin / scale;
    }
    return max;
  };
  const low = quantile(0.005);
  const high = quantile(0.995);
  return { center: (low + high) / 2, width: Math.max(1, high - low), source: 'automatic' };
}

/** How many pixels hold each word. */
function wordCounts({ words, wordMask, length }: IndexedPixels): Uint32Array {
  const counts = new Uint32Array(wordMask + 1);
  for (let i = 0; i < length; i++) counts[words[i] & wordMask]++;
  return counts;
}

/** The smallest and largest value of the words that occur outside the padding (as indexedRange). */
function countedRange({ values, padding }: IndexedPixels, counts: Uint32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let word = 0; word < counts.length; word++) {
    if (counts[word] === 0 || padding?.[word]) continue;
    if (values[word] < min) min = values[word];
    if (values[word] > max) max = values[word];
  }
  return { min, max };
}

/** The smallest and largest value of the pixels outside the padding. */
function floatRange(pixels: Float32Array, padding: Uint8Array | null): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < pixels.length; i++) {
    if (padding?.[i]) continue;
    if (pixels[i] < min) min = pixels[i];
    if (pixels[i] > max) max = pixels[i];
  }
  return { min, max };
}

/** Linear window of PS3.3 C.11.2.1.2.1 onto 0..255. */
export function linearWindow(value: number, window: DisplayWindow): number {
  const { center, width } = window;
  if (width <= 1) return value <= center - 0.5 ? 0 : 255; // the standard's width-1 case is a threshold
  const position = (value - (center - 0.5)) / (width - 1) + 0.5;
  if (position <= 0) return 0;
  if (position >= 1) return 255;
  return position * 255;
}

/** VOI LUT lookup onto 0..255: values below the first entry take the first, above the last the last. */
export function lutWindow8(value: number, lut: VoiLut): number {
  const last = lut.data.length - 1;
  const index = Math.min(last, Math.max(0, Math.round(value) - lut.firstMapped));
  return (lut.data[index] / (2 ** lut.bitsPerEntry - 1)) * 255;
}
