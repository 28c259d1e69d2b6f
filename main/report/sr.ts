/**
 * The result as a Comprehensive 3D SR following TID 1500 (Imaging Measurement Report), the shape
 * of the IHE AI Results profile: a plain content tree of typed elements, written by the product's
 * DICOM writer. docs/dicom-outputs.md lists every concept used.
 */
import { createHash } from 'node:crypto';
import type { AnalysisResult, Finding } from '../domain/index.js';
import { equipmentElements, nameUid } from '../dicom/index.js';
import type { DicomElement } from '../dicom/index.js';
import type { SourceImage } from './source.js';

export const COMPREHENSIVE_3D_SR = '1.2.840.10008.5.1.4.1.1.88.34';

/** A coded concept: value, scheme designator, meaning. */
export type Code = readonly [value: string, scheme: string, meaning: string];

/** The product's private coding scheme (PS3.16 8.2: a private designator begins with 99). */
export const PRIVATE_SCHEME = '99CXRTRIAGE';
export const PRIVATE_SCHEME_NAME = 'cxr-triage result concepts';

export const CODES = {
  report: ['126000', 'DCM', 'Imaging Measurement Report'],
  language: ['121049', 'DCM', 'Language of Content Item and Descendants'],
  english: ['en-US', 'RFC5646', 'English (United States)'],
  observerType: ['121005', 'DCM', 'Observer Type'],
  device: ['121007', 'DCM', 'Device'],
  deviceUid: ['121012', 'DCM', 'Device Observer UID'],
  deviceName: ['121013', 'DCM', 'Device Observer Name'],
  deviceManufacturer: ['121014', 'DCM', 'Device Observer Manufacturer'],
  deviceModel: ['121015', 'DCM', 'Device Observer Model Name'],
  procedureReported: ['121058', 'DCM', 'Procedure reported'],
  imagingProcedure: ['363679005', 'SCT', 'Imaging procedure'],
  imageLibrary: ['111028', 'DCM', 'Image Library'],
  imageLibraryGroup: ['126200', 'DCM', 'Image Library Group'],
  measurements: ['126010', 'DCM', 'Imaging Measurements'],
  group: ['125007', 'DCM', 'Measurement Group'],
  trackingId: ['112039', 'DCM', 'Tracking Identifier'],
  trackingUid: ['112040', 'DCM', 'Tracking Unique Identifier'],
  finding: ['121071', 'DCM', 'Finding'],
  algorithmName: ['111001', 'DCM', 'Algorithm Name'],
  algorithmVersion: ['111003', 'DCM', 'Algorithm Version'],
  algorithmParameters: ['111002', 'DCM', 'Algorithm Parameters'],
  sourceOfMeasurement: ['121112', 'DCM', 'Source of Measurement'],
  certainty: ['111012', 'DCM', 'Certainty of Finding'],
  qualitative: ['C0034375', 'UMLS', 'Qualitative Evaluations'],
  percent: ['%', 'UCUM', '%'],
  votesUnit: ['{votes}', 'UCUM', 'votes'],
  positive: ['10828004', 'SCT', 'Positive'],
  negative: ['260385009', 'SCT', 'Negative'],
  indeterminate: ['82334004', 'SCT', 'Indeterminate'],
  call: ['CALL', PRIVATE_SCHEME, 'AI call'],
  positiveVotes: ['VOTESPOS', PRIVATE_SCHEME, 'Members voting positive'],
  votingMembers: ['VOTESALL', PRIVATE_SCHEME, 'Members voting'],
  votes: ['VOTES', PRIVATE_SCHEME, 'Votes'],
  operatingPoint: ['OPPOINT', PRIVATE_SCHEME, 'Operating point'],
  indeterminateBand: ['INDETBAND', PRIVATE_SCHEME, 'Indeterminate band'],
  model: ['MODEL', PRIVATE_SCHEME, 'Model'],
  notForClinicalUse: ['NOTCLINICAL', PRIVATE_SCHEME, 'Not for clinical use'],
  notAssessed: ['NOTASSESSED', PRIVATE_SCHEME, 'Not assessed'],
  gateCheck: ['GATECHECK', PRIVATE_SCHEME, 'Image gate check'],
} as const satisfies Record<string, Code>;

export const NOT_FOR_CLINICAL_USE = 'NOT FOR CLINICAL USE';

/** A PadChest term's code: its UMLS CUI, else a private code derived from the term. */
export function termCode(finding: Pick<Finding, 'term' | 'cui'>): Code {
  const meaning = finding.term.length > 64 ? `${finding.term.slice(0, 61)}...` : finding.term;
  if (finding.cui && /^C\d{7}$/.test(finding.cui)) return [finding.cui, 'UMLS', meaning];
  const digest = createHash('sha256').update(finding.term).digest('hex').slice(0, 10).toUpperCase();
  return [`T${digest}`, PRIVATE_SCHEME, meaning];
}

/** The finding's call as the worklist shows it. */
export function callOf(finding: Finding): 'positive' | 'negative' | 'indeterminate' {
  if (finding.indeterminate) return 'indeterminate';
  return finding.positive ? 'positive' : 'negative';
}

/** A decimal string of at most 16 characters. */
export function decimal(value: number): string {
  for (let digits = 6; digits >= 0; digits--) {
    const text = String(Number(value.toFixed(digits)));
    if (text.length <= 16) return text;
  }
  return String(Math.round(value));
}

function codeItem(code: Code): DicomElement[] {
  return [
    { tag: 0x00080100, vr: 'SH', value: code[0] },
    { tag: 0x00080102, vr: 'SH', value: code[1] },
    { tag: 0x00080104, vr: 'LO', value: code[2] },
  ];
}

type Relationship = 'CONTAINS' | 'HAS OBS CONTEXT' | 'HAS CONCEPT MOD' | 'HAS PROPERTIES' | 'HAS ACQ CONTEXT';

function item(
  relationship: Relationship | null,
  valueType: string,
  concept: Code | null,
  rest: DicomElement[],
): DicomElement[] {
  return [
    ...(relationship ? [{ tag: 0x0040a010, vr: 'CS', value: relationship } as DicomElement] : []),
    { tag: 0x0040a040, vr: 'CS', value: valueType },
    ...(concept ? [{ tag: 0x0040a043, vr: 'SQ', value: [codeItem(concept)] } as DicomElement] : []),
    ...rest,
  ];
}

const container = (relationship: Relationship | null, concept: Code, children: DicomElement[][]) =>
  item(relationship, 'CONTAINER', concept, [
    { tag: 0x0040a050, vr: 'CS', value: 'SEPARATE' },
    ...(children.length > 0 ? [{ tag: 0x0040a730, vr: 'SQ', value: children } as DicomElement] : []),
  ]);
const text = (relationship: Relationship, concept: Code, value: string) =>
  item(relationship, 'TEXT', concept, [{ tag: 0x0040a160, vr: 'UT', value }]);
const code = (relationship: Relationship, concept: Code, value: Code) =>
  item(relationship, 'CODE', concept, [{ tag: 0x0040a168, vr: 'SQ', value: [codeItem(value)] }]);
const uidref = (relationship: Relationship, concept: Code, value: string) =>
  item(relationship, 'UIDREF', concept, [{ tag: 0x0040a124, vr: 'UI', value }]);
const num = (relationship: Relationship, concept: Code, value: number, unit: Code) =>
  item(relationship, 'NUM', concept, [
    {
      tag: 0x0040a300,
      vr: 'SQ',
      value: [
        [
          { tag: 0x004008ea, vr: 'SQ', value: [codeItem(unit)] },
          { tag: 0x0040a30a, vr: 'DS', value: decimal(value) },
        ],
      ],
    },
  ]);
const image = (relationship: Relationship, concept: Code | null, source: SourceImage) =>
  item(relationship, 'IMAGE', concept, [
    {
      tag: 0x00081199,
      vr: 'SQ',
      value: [
        [
          { tag: 0x00081150, vr: 'UI', value: source.sopClassUID },
          { tag: 0x00081155, vr: 'UI', value: source.sopInstanceUID },
        ],
      ],
    },
  ]);

/** Everything the two objects share: identity, series, dates, provenance. */
export interface ObjectContext {
  source: SourceImage;
  result: AnalysisResult;
  sopInstanceUID: string;
  seriesInstanceUID: string;
  seriesNumber: string;
  seriesDescription: string;
  /** DA and TM of the object's content. */
  date: string;
  time: string;
  /** The SR's device observer: the product installation's algorithm identity. */
  deviceUid: string;
}

/** SOP Common's character set, then the copied Patient and Study attributes. */
export function commonElements(context: ObjectContext, sopClassUID: string): DicomElement[] {
  return [
    ...(context.source.utf8 ? [{ tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' } as DicomElement] : []),
    { tag: 0x00080016, vr: 'UI', value: sopClassUID },
    { tag: 0x00080018, vr: 'UI', value: context.sopInstanceUID },
    { tag: 0x00080012, vr: 'DA', value: context.date },
    { tag: 0x00080013, vr: 'TM', value: context.time },
    ...context.source.copied,
    { tag: 0x0020000e, vr: 'UI', value: context.seriesInstanceUID },
    { tag: 0x00200011, vr: 'IS', value: context.seriesNumber },
    { tag: 0x0008103e, vr: 'LO', value: context.seriesDescription },
    { tag: 0x00200013, vr: 'IS', value: context.source.instanceNumber ?? '1' },
    { tag: 0x00080023, vr: 'DA', value: context.date },
    { tag: 0x00080033, vr: 'TM', value: context.time },
    ...equipmentElements(),
  ];
}

function modelText(model: AnalysisResult['models'][number]): string {
  return `${model.id} ${model.version} (ONNX SHA-256 ${model.sha256})`;
}

function measurementGroup(context: ObjectContext, finding: Finding, fingerprint: string): DicomElement[] {
  const { result, source } = context;
  const probability = finding.probability?.ensemble ?? null;
  const members = result.models.filter((model) => model.id in finding.perModel);
  return container('CONTAINS', CODES.group, [
    text('HAS OBS CONTEXT', CODES.trackingId, finding.term),
    uidref(
      'HAS OBS CONTEXT',
      CODES.trackingUid,
      nameUid('finding', source.sopInstanceUID, fingerprint, finding.tree, finding.term),
    ),
    code('CONTAINS', CODES.finding, termCode(finding)),
    text('HAS CONCEPT MOD', CODES.algorithmName, result.pack.id),
    text('HAS CONCEPT MOD', CODES.algorithmVersion, result.pack.version),
    ...members.map((model) =>
      text(
        'HAS CONCEPT MOD',
        CODES.algorithmParameters,
        `model ${modelText(model)}; probability ${decimal(finding.perModel[model.id])}`,
      ),
    ),
    image('CONTAINS', CODES.sourceOfMeasurement, source),
    code('CONTAINS', CODES.call, CODES[callOf(finding)]),
    ...(probability === null ? [] : [num('CONTAINS', CODES.certainty, probability * 100, CODES.percent)]),
    num('CONTAINS', CODES.positiveVotes, finding.votes.positive, CODES.votesUnit),
    num('CONTAINS', CODES.votingMembers, finding.votes.total, CODES.votesUnit),
    text('CONTAINS', CODES.votes, `${finding.votes.positive} of ${finding.votes.total}`),
    num('CONTAINS', CODES.operatingPoint, 50, CODES.percent),
    text(
      'CONTAINS',
      CODES.indeterminateBand,
      `${decimal(result.pack.indeterminate.low * 100)} % to ${decimal(result.pack.indeterminate.high * 100)} %`,
    ),
  ]);
}

/** Why a rejected image was not assessed: the reason, then each failed gate check with its score and range. */
function rejectionItems(result: AnalysisResult): DicomElement[][] {
  const items = [text('CONTAINS', CODES.notAssessed, `Not assessed: ${result.reason ?? 'rejected by the input gate'}`)];
  for (const check of result.gate?.checks ?? []) {
    if (check.passed) continue;
    const range = `${check.min === null ? '-inf' : decimal(check.min)} to ${check.max === null ? '+inf' : decimal(check.max)}`;
    items.push(
      text('CONTAINS', CODES.gateCheck, `${check.check}: score ${decimal(check.score)}, accepted range ${range}`),
    );
  }
  return items;
}

/** The SR data set. */
export function srDataSet(context: ObjectContext, fingerprint: string): DicomElement[] {
  const { result, source } = context;
  const notForClinicalUse = result.notForClinicalUse || result.pack.demo;
  const assessed = result.status === 'ok' ? result.findings.filter((finding) => finding.assessed) : [];
  const evaluations: DicomElement[][] = [
    ...(notForClinicalUse
      ? [text('CONTAINS', CODES.notForClinicalUse, `${NOT_FOR_CLINICAL_USE}: results of a demonstration model pack.`)]
      : []),
    ...(result.status === 'rejected' ? rejectionItems(result) : []),
    ...result.models.map((model) => text('CONTAINS', CODES.model, modelText(model))),
  ];
  const content: DicomElement[][] = [
    code('HAS CONCEPT MOD', CODES.language, CODES.english),
    code('HAS OBS CONTEXT', CODES.observerType, CODES.device),
    uidref('HAS OBS CONTEXT', CODES.deviceUid, context.deviceUid),
    text('HAS OBS CONTEXT', CODES.deviceName, `cxr-triage ${result.pack.id} ${result.pack.version}`),
    code('HAS CONCEPT MOD', CODES.procedureReported, CODES.imagingProcedure),
    container('CONTAINS', CODES.imageLibrary, [
      container('CONTAINS', CODES.imageLibraryGroup, [image('CONTAINS', null, source)]),
    ]),
    ...(assessed.length > 0
      ? [
          container(
            'CONTAINS',
            CODES.measurements,
            assessed.map((finding) => measurementGroup(context, finding, fingerprint)),
          ),
        ]
      : []),
    container('CONTAINS', CODES.qualitative, evaluations),
  ];
  return [
    ...commonElements(context, COMPREHENSIVE_3D_SR),
    { tag: 0x00080060, vr: 'CS', value: 'SR' },
    { tag: 0x00081111, vr: 'SQ', value: [] }, // Referenced Performed Procedure Step Sequence (Type 2)
    {
      tag: 0x00080110,
      vr: 'SQ',
      value: [
        [
          { tag: 0x00080102, vr: 'SH', value: PRIVATE_SCHEME },
          { tag: 0x00080115, vr: 'ST', value: PRIVATE_SCHEME_NAME },
          { tag: 0x00080116, vr: 'ST', value: 'cxr-triage' },
        ],
      ],
    },
    // SR Document General
    { tag: 0x0040a491, vr: 'CS', value: 'COMPLETE' },
    { tag: 0x0040a493, vr: 'CS', value: 'UNVERIFIED' },
    { tag: 0x0040a372, vr: 'SQ', value: [] }, // Performed Procedure Code Sequence (Type 2)
    {
      tag: 0x0040a375,
      vr: 'SQ',
      value: [
        [
          { tag: 0x0020000d, vr: 'UI', value: source.studyInstanceUID },
          {
            tag: 0x00081115,
            vr: 'SQ',
            value: [
              [
                { tag: 0x0020000e, vr: 'UI', value: source.seriesInstanceUID },
                {
                  tag: 0x00081199,
                  vr: 'SQ',
                  value: [
                    [
                      { tag: 0x00081150, vr: 'UI', value: source.sopClassUID },
                      { tag: 0x00081155, vr: 'UI', value: source.sopInstanceUID },
                    ],
                  ],
                },
              ],
            ],
          },
        ],
      ],
    },
    // SR Document Content: the root container
    ...container(null, CODES.report, content),
    {
      tag: 0x0040a504,
      vr: 'SQ',
      value: [
        [
          { tag: 0x00080105, vr: 'CS', value: 'DCMR' },
          { tag: 0x0040db00, vr: 'CS', value: '1500' },
        ],
      ],
    },
  ];
}
