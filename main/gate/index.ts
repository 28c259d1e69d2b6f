/**
 * The input gate: only frontal chest projection radiographs go on to the models. Everything else
 * is reported as rejected with the reason, never analysed silently: a model shown a lateral view,
 * a hand or a CT localiser still outputs confident-looking numbers.
 */
import { quoted } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { Radiograph } from '../ingest/index.js';

export type GateDecision = { accepted: true; notes: string[] } | { accepted: false; reason: string };

/** Projection radiography modalities (DICOM codes) and the SOP classes that carry them. */
const PROJECTION_MODALITIES = new Set(['CR', 'DX', 'RG', 'DR']);
const PROJECTION_SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.1', // Computed Radiography
  '1.2.840.10008.5.1.4.1.1.1.1', // Digital X-Ray, for presentation
  '1.2.840.10008.5.1.4.1.1.1.1.1', // Digital X-Ray, for processing
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture (digitised films)
]);
const CHEST_BODY_PARTS = new Set(['CHEST', 'THORAX', 'LUNG', 'LUNGS', 'TORAX', 'THORAX_PA', 'CHEST_PA', 'CHEST_AP']);
const LATERAL_VIEWS = new Set(['LL', 'RL', 'LLD', 'RLD', 'LAT', 'LATERAL', 'XCL']);

/** Ingest errors that mean "not a radiograph" rather than "a broken file". */
export const REJECTING_ERRORS: ReadonlySet<ErrorCode> = new Set(['NOT_AN_IMAGE', 'NO_PIXEL_DATA']);

/** Reads the radiograph's format and metadata only (a file read a row at a time has no pixels yet). */
export function gate(radiograph: Pick<Radiograph, 'format' | 'metadata'>): GateDecision {
  if (radiograph.format !== 'dicom') {
    // PNG and JPEG carry no acquisition metadata; the image is taken as the user's frontal chest.
    return {
      accepted: true,
      notes: [`${radiograph.format.toUpperCase()} file: modality, body part and view not verifiable`],
    };
  }
  const m = radiograph.metadata;
  const notes: string[] = [];
  const modality = m.modality?.toUpperCase() ?? null;
  if (modality !== null && !PROJECTION_MODALITIES.has(modality)) {
    return {
      accepted: false,
      reason: `modality ${quoted(modality)} is not a projection radiograph (CR or DX expected)`,
    };
  }
  if (modality === null) {
    if (m.sopClassUID && !PROJECTION_SOP_CLASSES.has(m.sopClassUID)) {
      return { accepted: false, reason: `SOP Class ${quoted(m.sopClassUID)} is not a projection radiograph` };
    }
    notes.push('no Modality attribute');
  }
  const bodyPart = m.bodyPartExamined?.toUpperCase().trim() ?? null;
  if (bodyPart !== null && !CHEST_BODY_PARTS.has(bodyPart)) {
    return { accepted: false, reason: `body part ${quoted(bodyPart)} is not the chest` };
  }
  if (bodyPart === null) notes.push('no Body Part Examined attribute');
  const view = m.viewPosition?.toUpperCase().trim() ?? null;
  if (view !== null && LATERAL_VIEWS.has(view)) {
    return {
      accepted: false,
      reason: `view position ${quoted(view)} is a lateral view; the models read frontal (PA or AP) views`,
    };
  }
  // A frontal view's rows run left-right; a lateral's run anterior-posterior.
  const rowDirection = m.patientOrientation?.[0]?.charAt(0).toUpperCase();
  if (view === null && (rowDirection === 'A' || rowDirection === 'P')) {
    return {
      accepted: false,
      reason: `patient orientation ${quoted(m.patientOrientation!.join('\\'))} is a lateral view`,
    };
  }
  if (view === null) notes.push('no View Position attribute');
  return { accepted: true, notes };
}

export { checkName, disagreement, jointEnergy, judgeImage, rmse, score, ssim } from './image.js';
export type { CheckOutcome, GateEvidence, ImageGateDecision } from './image.js';
