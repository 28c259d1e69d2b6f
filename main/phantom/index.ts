/**
 * Synthetic frontal chest radiograph phantoms with ground truth, deterministic from a seed:
 * `generatePhantom(seed, index, options)` for one image in memory, `writePhantomSet` for a folder
 * of DICOM or PNG files with masks, labels.csv and phantoms.json.
 */
export { generatePhantom, studyOf, phantomName, DEFAULT_SIZE, MIN_SIZE, MAX_SIZE } from './generate.js';
export type { Phantom, PhantomOptions, FindingRecord, StudyInfo, VoiLutTable } from './generate.js';
export { Frame } from './acquisition.js';
export { NODULE_APPEARANCES } from './findings.js';
export { mulberry32 } from './random.js';
export type { NoduleAppearance } from './findings.js';
export type { Acquisition, PhantomFormat, Photometric, WindowKind } from './acquisition.js';
export { encodePhantomDicom, phantomDataSet, DX_FOR_PRESENTATION } from './dicom.js';
export { encodePhantom, encodePhantomPng, encodeMaskPng, imageFileName, maskPath, writePhantom } from './files.js';
export type { PhantomEntry } from './files.js';
export { writePhantomSet, labelsCsv, PHANTOM_SET_VERSION } from './dataset.js';
export type { PhantomSetOptions, PhantomSetSummary } from './dataset.js';
export { PHANTOM_TERMS, LABEL_COLUMNS, PREVALENCE, termSlug, isPhantomTerm } from './terms.js';
export type { PhantomTerm, LabelColumn } from './terms.js';
