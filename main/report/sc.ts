/**
 * The result as a Secondary Capture a PACS shows: the radiograph in its display window, reduced
 * to at most IMAGE_MAX_SIDE pixels a side, the ensemble heatmaps of its positive findings burned
 * in (the product's colour ramp, opacity growing with the value, as the app's overlays), then a
 * legend below it (pack, each positive finding with its probability and votes, the colour scale),
 * and for demonstration packs a red NOT FOR CLINICAL USE band across the top.
 */
import { colour } from '../common/index.js';
import type { AnalysisResult } from '../domain/index.js';
import type { Heatmap } from '../explain/index.js';
import { displayRowRenderer } from '../ingest/index.js';
import type { Radiograph } from '../ingest/index.js';
import type { DicomElement } from '../dicom/index.js';
import { CELL_HEIGHT, CELL_WIDTH, drawText, fillRect, fitText, wrapText } from './font.js';
import type { Canvas } from './font.js';
import { callOf, commonElements, decimal, NOT_FOR_CLINICAL_USE } from './sr.js';
import type { ObjectContext } from './sr.js';

export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
/** The radiograph's longest side in the capture; the legend and band add at most a few hundred rows. */
export const IMAGE_MAX_SIDE = 1536;
/** Heatmap opacity at value 1 (of 255), as the app's PNG overlays. */
const MAX_ALPHA = 200;

export const BAND_RGB = [200, 16, 16] as const;
const WHITE = [255, 255, 255] as const;
const GREY = [190, 190, 190] as const;

export interface CaptureLayout {
  width: number;
  height: number;
  /** Rows of the NOT FOR CLINICAL USE band at the top (0: none). */
  bandHeight: number;
  /** Where the radiograph lies, and how many source pixels one capture pixel averages per side. */
  image: { top: number; width: number; height: number; factor: number };
  /** The colour scale bar. */
  scale: { top: number; left: number; width: number; height: number };
  textScale: number;
  lines: string[];
}

/** The legend's lines for a result. */
export function legendLines(result: AnalysisResult): string[] {
  const lines = [`AI RESULT: ${result.pack.id} ${result.pack.version} - HEATMAPS OF POSITIVE FINDINGS`];
  if (result.status === 'rejected') {
    lines.push(`NOT ASSESSED: ${result.reason ?? 'rejected by the input gate'}`);
    return lines;
  }
  const positives = result.findings.filter((finding) => finding.assessed && finding.positive);
  if (positives.length === 0) lines.push('NO POSITIVE FINDING');
  for (const finding of positives) {
    if (!finding.direct) {
      // A parent made positive by roll-up: no vote of its own, the findings below it say why.
      lines.push(`${finding.term}: FROM ${finding.supportedBy.join(', ')}`);
      continue;
    }
    const probability = finding.probability ? `${decimal(Math.round(finding.probability.ensemble * 1000) / 10)}%` : '';
    const call = callOf(finding) === 'indeterminate' ? ' (INDETERMINATE)' : '';
    lines.push(`${finding.term}: ${probability} ${finding.votes.positive} OF ${finding.votes.total} VOTES${call}`);
  }
  return lines;
}

export function captureLayout(rows: number, columns: number, result: AnalysisResult): CaptureLayout {
  const factor = Math.max(1, Math.ceil(Math.max(rows, columns) / IMAGE_MAX_SIDE));
  const width = Math.max(1, Math.floor(columns / factor));
  const imageHeight = Math.max(1, Math.floor(rows / factor));
  const textScale = Math.max(1, Math.floor(width / 360));
  const lineHeight = CELL_HEIGHT * textScale;
  const margin = 2 * textScale;
  const demo = result.notForClinicalUse || result.pack.demo;
  const bandHeight = demo ? lineHeight + 2 * margin : 0;
  const lines = legendLines(result).flatMap((line) => wrapText(line, width - 2 * margin, textScale));
  const legendTop = bandHeight + imageHeight + margin;
  const scaleTop = legendTop + lines.length * lineHeight + margin;
  const scaleHeight = lineHeight;
  const height = scaleTop + scaleHeight + 2 * margin;
  const labelWidth = 5 * CELL_WIDTH * textScale;
  return {
    width,
    height,
    bandHeight,
    image: { top: bandHeight, width, height: imageHeight, factor },
    scale: {
      top: scaleTop,
      left: margin + labelWidth,
      width: Math.max(1, width - 2 * (margin + labelWidth)),
      height: scaleHeight,
    },
    textScale,
    lines,
  };
}

/**
 * The colour ramp sampled at RAMP_STEPS values (within one level of `colour` everywhere): a
 * capture has a million pixels, and `colour` allocates an array per call.
 */
const RAMP_STEPS = 4096;
let rampTable: Uint8Array | null = null;
function rampColours(): Uint8Array {
  if (!rampTable) {
    rampTable = new Uint8Array(RAMP_STEPS * 3);
    for (let i = 0; i < RAMP_STEPS; i++) rampTable.set(colour(i / (RAMP_STEPS - 1)), i * 3);
  }
  return rampTable;
}

/** The largest of the heatmaps at a source pixel (0 where none). */
function heatAt(heatmaps: readonly Heatmap[], row: number, column: number): number {
  let value = 0;
  for (const map of heatmaps) {
    const r = Math.min(map.rows - 1, Math.floor(row / map.scale));
    const c = Math.min(map.columns - 1, Math.floor(column / map.scale));
    const v = map.data[r * map.columns + c];
    if (v > value) value = v;
  }
  return Math.min(1, value);
}

/** Draws the capture: radiograph, heatmaps, band, legend and scale. */
export function drawCapture(radiograph: Radiograph, heatmaps: readonly Heatmap[], result: AnalysisResult): Canvas {
  const layout = captureLayout(radiograph.rows, radiograph.columns, result);
  const { width, height, image, textScale } = layout;
  const canvas: Canvas = { width, height, pixels: new Uint8Array(width * height * 3) };
  const ramp = rampColours();
  const render = displayRowRenderer(radiograph);
  const sourceRow = new Uint8Array(radiograph.columns);
  const sums = new Uint32Array(width);
  const f = image.factor;
  for (let y = 0; y < image.height; y++) {
    sums.fill(0);
    for (let k = 0; k < f; k++) {
      render(y * f + k, 0, radiograph.columns, sourceRow);
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let j = 0; j < f; j++) sum += sourceRow[x * f + j];
        sums[x] += sum;
      }
    }
    const rowAt = (image.top + y) * width * 3;
    const centreRow = y * f + (f >> 1);
    for (let x = 0; x < width; x++) {
      const grey = sums[x] / (f * f);
      const heat = heatmaps.length > 0 ? heatAt(heatmaps, centreRow, x * f + (f >> 1)) : 0;
      const at = rowAt + x * 3;
      if (heat > 0) {
        const alpha = (heat * MAX_ALPHA) / 255;
        const index = ((heat * (RAMP_STEPS - 1) + 0.5) | 0) * 3;
        canvas.pixels[at] = Math.round(grey * (1 - alpha) + ramp[index] * alpha);
        canvas.pixels[at + 1] = Math.round(grey * (1 - alpha) + ramp[index + 1] * alpha);
        canvas.pixels[at + 2] = Math.round(grey * (1 - alpha) + ramp[index + 2] * alpha);
      } else {
        const level = Math.round(grey);
        canvas.pixels[at] = level;
        canvas.pixels[at + 1] = level;
        canvas.pixels[at + 2] = level;
      }
    }
  }
  const margin = 2 * textScale;
  const lineHeight = CELL_HEIGHT * textScale;
  if (layout.bandHeight > 0) {
    fillRect(canvas, 0, 0, width, layout.bandHeight, BAND_RGB);
    const label = fitText(`${NOT_FOR_CLINICAL_USE} - DEMONSTRATION MODEL PACK`, width - 2 * margin, textScale);
    const shown = label.endsWith('...') ? fitText(NOT_FOR_CLINICAL_USE, width - 2 * margin, textScale) : label;
    const textWidth = shown.length * CELL_WIDTH * textScale;
    drawText(canvas, shown, Math.max(margin, (width - textWidth) / 2), margin + textScale, textScale, WHITE);
  }
  let y = image.top + image.height + margin;
  for (const line of layout.lines) {
    drawText(canvas, line, margin, y, textScale, WHITE);
    y += lineHeight;
  }
  const { scale } = layout;
  drawText(canvas, 'LOW', margin, scale.top + textScale, textScale, GREY);
  drawText(canvas, 'HIGH', scale.left + scale.width + textScale * 2, scale.top + textScale, textScale, GREY);
  for (let x = 0; x < scale.width; x++) {
    fillRect(canvas, scale.left + x, scale.top, 1, scale.height, colour(x / Math.max(1, scale.width - 1)));
  }
  return canvas;
}

/** The Secondary Capture data set of a drawn capture. */
export function scDataSet(context: ObjectContext, canvas: Canvas): DicomElement[] {
  const { result, source } = context;
  const demo = result.notForClinicalUse || result.pack.demo;
  const description = `Radiograph with the heatmaps of the positive findings of ${result.pack.id} ${result.pack.version} burned in${demo ? `; ${NOT_FOR_CLINICAL_USE}` : ''}`;
  return [
    ...commonElements(context, SECONDARY_CAPTURE),
    // General Series
    { tag: 0x00080060, vr: 'CS', value: 'OT' },
    { tag: 0x00180015, vr: 'CS', value: 'CHEST' },
    // SC Equipment
    { tag: 0x00080064, vr: 'CS', value: 'WSD' },
    // General Image
    { tag: 0x00080008, vr: 'CS', value: ['DERIVED', 'SECONDARY'] },
    { tag: 0x00200020, vr: 'CS', value: source.patientOrientation ?? [] },
    { tag: 0x00280301, vr: 'CS', value: 'YES' },
    // Lossy Image Compression: kept from a lossy source (the capture itself is not compressed).
    { tag: 0x00282110, vr: 'CS', value: source.lossy ? '01' : '00' },
    ...(source.lossy && source.lossy.ratio.length > 0
      ? [{ tag: 0x00282112, vr: 'DS' as const, value: source.lossy.ratio }]
      : []),
    ...(source.lossy && source.lossy.method.length > 0
      ? [{ tag: 0x00282114, vr: 'CS' as const, value: source.lossy.method }]
      : []),
    { tag: 0x00082111, vr: 'ST', value: description.slice(0, 1024) },
    { tag: 0x00204000, vr: 'LT', value: description },
    {
      tag: 0x00082112,
      vr: 'SQ',
      value: [
        [
          { tag: 0x00081150, vr: 'UI', value: source.sopClassUID },
          { tag: 0x00081155, vr: 'UI', value: source.sopInstanceUID },
        ],
      ],
    },
    // Image Pixel
    { tag: 0x00280002, vr: 'US', value: 3 },
    { tag: 0x00280004, vr: 'CS', value: 'RGB' },
    { tag: 0x00280006, vr: 'US', value: 0 },
    { tag: 0x00280010, vr: 'US', value: canvas.height },
    { tag: 0x00280011, vr: 'US', value: canvas.width },
    { tag: 0x00280100, vr: 'US', value: 8 },
    { tag: 0x00280101, vr: 'US', value: 8 },
    { tag: 0x00280102, vr: 'US', value: 7 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x7fe00010, vr: 'OB', value: canvas.pixels },
  ];
}
