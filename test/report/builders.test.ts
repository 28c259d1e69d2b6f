/** The result objects' pure builders: codes, the SR tree, the capture's layout and font. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dicomParser from 'dicom-parser';
import type { AnalysisResult, Finding } from '../../main/domain/index.js';
import { encodePart10 } from '../../main/dicom/index.js';
import type { DicomElement } from '../../main/dicom/index.js';
import {
  callOf,
  captureLayout,
  CELL_WIDTH,
  drawText,
  glyph,
  IMAGE_MAX_SIDE,
  legendLines,
  PRIVATE_SCHEME,
  scDataSet,
  sourceFromHeader,
  srDataSet,
  termCode,
  wrapText,
} from '../../main/report/index.js';
import type { ObjectContext, SourceImage } from '../../main/report/index.js';

function finding(term: string, overrides: Partial<Finding> = {}): Finding {
  return {
    term,
    cui: null,
    tree: 'finding',
    positive: false,
    direct: true,
    assessed: true,
    votes: { positive: 0, total: 3 },
    probability: { ensemble: 0.1234, mean: 0.1, min: 0, max: 0.2 },
    indeterminate: false,
    perModel: { a: 0.1 },
    supportedBy: [],
    paths: [[term]],
    ...overrides,
  };
}

function result(overrides: Partial<AnalysisResult> = {}): AnalysisResult {
  return {
    file: '/x.dcm',
    status: 'ok',
    sopInstanceUID: '1.2.3.4',
    studyInstanceUID: '1.2.3',
    executionProvider: 'cpu',
    pack: { id: 'demo', version: '1.1.0', rule: 'majority', indeterminate: { low: 0.4, high: 0.6 }, demo: true },
    models: [{ id: 'a', version: '1.0.0', sha256: 'f'.repeat(64), operatingPoints: { effusion: 0.3 } }],
    notForClinicalUse: true,
    notes: [],
    findings: [
      finding('pleural effusion', {
        cui: 'C0032227',
        positive: true,
        votes: { positive: 3, total: 3 },
        probability: { ensemble: 0.8321, mean: 0.8, min: 0.7, max: 0.9 },
      }),
      finding('nodule'),
      finding('hernia', { assessed: false, votes: { positive: 0, total: 0 }, probability: null }),
    ],
    timings: { decodeMs: 0, preprocessMs: 0, inferenceMs: 0, explainMs: 0 },
    ...overrides,
  };
}

const SOURCE: SourceImage = {
  sopClassUID: '1.2.840.10008.5.1.4.1.1.1.1',
  sopInstanceUID: '1.2.3.4',
  studyInstanceUID: '1.2.3',
  seriesInstanceUID: '1.2.3.5',
  copied: [
    { tag: 0x00100010, vr: 'PN', value: 'DOE^JANE' },
    { tag: 0x0020000d, vr: 'UI', value: '1.2.3' },
  ],
  utf8: false,
  instanceNumber: '1',
  patientOrientation: ['L', 'F'],
  lossy: null,
};

function context(analysis: AnalysisResult): ObjectContext {
  return {
    source: SOURCE,
    result: analysis,
    sopInstanceUID: '2.25.1',
    seriesInstanceUID: '2.25.2',
    seriesNumber: '9901',
    seriesDescription: 'AI report',
    date: '20261207',
    time: '120000',
    deviceUid: '2.25.3',
  };
}

/** The SR written and read back by dicom-parser, with its content items flattened. */
function contentItems(analysis: AnalysisResult): dicomParser.DataSet[] {
  const bytes = encodePart10(srDataSet(context(analysis), 'fp'), {
    mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.88.34',
    mediaStorageSOPInstanceUID: '2.25.1',
  });
  const items: dicomParser.DataSet[] = [];
  const walk = (dataSet: dicomParser.DataSet) => {
    for (const item of dataSet.elements.x0040a730?.items ?? []) {
      items.push(item.dataSet!);
      walk(item.dataSet!);
    }
  };
  walk(dicomParser.parseDicom(bytes));
  return items;
}

const conceptOf = (item: dicomParser.DataSet) => item.elements.x0040a043?.items?.[0].dataSet?.string('x00080104');

test('a term is coded by its UMLS CUI, else by a stable private code in the 99 scheme', () => {
  assert.deepEqual(termCode({ term: 'pleural effusion', cui: 'C0032227' }), ['C0032227', 'UMLS', 'pleural effusion']);
  const own = termCode({ term: 'kerley lines', cui: null });
  assert.equal(own[1], PRIVATE_SCHEME);
  assert.ok(PRIVATE_SCHEME.startsWith('99'));
  assert.match(own[0], /^T[0-9A-F]{10}$/);
  assert.deepEqual(termCode({ term: 'kerley lines', cui: null }), own);
  assert.notDeepEqual(termCode({ term: 'kerley line', cui: null }), own);
  assert.equal(termCode({ term: 'x'.repeat(80), cui: null })[2].length, 64);
});

test('the call is indeterminate inside the band, else the vote', () => {
  assert.equal(callOf(finding('a', { positive: true })), 'positive');
  assert.equal(callOf(finding('a', { positive: true, indeterminate: true })), 'indeterminate');
  assert.equal(callOf(finding('a')), 'negative');
});

test('the SR has one measurement group per assessed finding, with the probability in percent and the votes', () => {
  const items = contentItems(result());
  const groups = items.filter((item) => conceptOf(item) === 'Measurement Group');
  assert.equal(groups.length, 2, 'pleural effusion and nodule; hernia was not assessed');
  const certainty = items.filter((item) => conceptOf(item) === 'Certainty of Finding');
  assert.deepEqual(
    certainty.map((item) => item.elements.x0040a300.items![0].dataSet!.string('x0040a30a')),
    ['83.21', '12.34'],
  );
  const votes = items.filter((item) => conceptOf(item) === 'Votes').map((item) => item.string('x0040a160'));
  assert.deepEqual(votes, ['3 of 3', '0 of 3']);
  const texts = items.map((item) => item.string('x0040a160') ?? '');
  assert.ok(texts.some((t) => t.startsWith('NOT FOR CLINICAL USE')));
  assert.ok(
    texts.some((t) => t.includes('f'.repeat(64))),
    "the model's hash",
  );
});

test("a rejected image's SR says why, with the failed gate check, and has no measurement", () => {
  const items = contentItems(
    result({
      status: 'rejected',
      reason: 'out of distribution',
      findings: [],
      gate: {
        passed: false,
        checks: [{ check: 'feature-distance', score: 12.5, min: null, max: 3.25, passed: false }],
      },
    }),
  );
  assert.equal(items.filter((item) => conceptOf(item) === 'Measurement Group').length, 0);
  const texts = items.map((item) => item.string('x0040a160'));
  assert.ok(texts.includes('Not assessed: out of distribution'));
  assert.ok(texts.includes('feature-distance: score 12.5, accepted range -inf to 3.25'));
});

test("a demonstration pack's SR is labelled only when it is one", () => {
  const clinical = result({ notForClinicalUse: false, pack: { ...result().pack, demo: false } });
  assert.ok(!contentItems(clinical).some((item) => (item.string('x0040a160') ?? '').includes('NOT FOR CLINICAL USE')));
});

test('the capture keeps the radiograph within its bound, a band only for demonstration packs', () => {
  const big = captureLayout(4300, 3500, result());
  assert.ok(big.image.width <= IMAGE_MAX_SIDE && big.image.height <= IMAGE_MAX_SIDE);
  assert.ok(big.width <= 2048 && big.height <= 2048);
  assert.equal(big.image.factor, 3);
  assert.ok(big.bandHeight > 0);
  const long = captureLayout(3000, 12288, result());
  assert.ok(long.width <= 2048 && long.height <= 2048);
  assert.equal(
    captureLayout(300, 300, result({ notForClinicalUse: false, pack: { ...result().pack, demo: false } })).bandHeight,
    0,
  );
  assert.deepEqual(legendLines(result()).slice(1), ['pleural effusion: 83.2% 3 OF 3 VOTES']);
  assert.deepEqual(legendLines(result({ status: 'rejected', reason: 'why', findings: [] })).slice(1), [
    'NOT ASSESSED: why',
  ]);
});

test('the font draws the same pixels for a text every time and wraps at whole words', () => {
  const draw = () => {
    const canvas = { width: 60, height: 10, pixels: new Uint8Array(60 * 10 * 3) };
    drawText(canvas, 'Ab1%', 0, 0, 1, [255, 255, 255]);
    return canvas.pixels;
  };
  assert.deepEqual(draw(), draw());
  const pixels = draw();
  // The top row of "A" (0x0e): columns 1 to 3 lit, 0 and 4 dark.
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((x) => pixels[x * 3]),
    [0, 255, 255, 255, 0],
  );
  assert.deepEqual(glyph('b'), glyph('B'));
  assert.deepEqual(glyph('\u00e9'), glyph('?'));
  assert.deepEqual(wrapText('one two three', 8 * CELL_WIDTH, 1), ['one two', 'three']);
});

test('the source header gives the copied attributes, decoded in its character set', () => {
  const header = encodePart10(
    [
      { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' },
      { tag: 0x00080016, vr: 'UI', value: SOURCE.sopClassUID },
      { tag: 0x00080018, vr: 'UI', value: SOURCE.sopInstanceUID },
      { tag: 0x00100010, vr: 'PN', value: 'M\u00fcller^J\u00fcrgen' },
      { tag: 0x00101010, vr: 'AS', value: '042Y' },
      { tag: 0x0020000d, vr: 'UI', value: '1.2.3' },
      { tag: 0x0020000e, vr: 'UI', value: '1.2.3.5' },
    ],
    { mediaStorageSOPClassUID: SOURCE.sopClassUID, mediaStorageSOPInstanceUID: SOURCE.sopInstanceUID },
  );
  const source = sourceFromHeader(dicomParser.parseDicom(header));
  assert.equal(source.utf8, true);
  const byTag = new Map(source.copied.map((element) => [element.tag, element.value]));
  assert.deepEqual(byTag.get(0x00100010), ['M\u00fcller^J\u00fcrgen']);
  assert.deepEqual(byTag.get(0x00101010), ['042Y']);
  assert.deepEqual(byTag.get(0x00080050), '', 'Accession Number, Type 2, written empty');
  assert.equal(byTag.has(0x00081030), false, 'Study Description, absent, left out');
  assert.equal(source.lossy, null, 'explicit VR little endian, no Lossy Image Compression: not lossy');
});

test('a source that was lossy-compressed makes a capture that says so, with its ratio and method', () => {
  const header = (extra: DicomElement[]) =>
    sourceFromHeader(
      dicomParser.parseDicom(
        encodePart10(
          [
            { tag: 0x00080016, vr: 'UI', value: SOURCE.sopClassUID },
            { tag: 0x00080018, vr: 'UI', value: SOURCE.sopInstanceUID },
            { tag: 0x0020000d, vr: 'UI', value: '1.2.3' },
            { tag: 0x0020000e, vr: 'UI', value: '1.2.3.5' },
            ...extra,
          ],
          { mediaStorageSOPClassUID: SOURCE.sopClassUID, mediaStorageSOPInstanceUID: SOURCE.sopInstanceUID },
        ),
      ),
    );
  const lossy = header([
    { tag: 0x00282110, vr: 'CS', value: '01' },
    { tag: 0x00282112, vr: 'DS', value: '12.5' },
    { tag: 0x00282114, vr: 'CS', value: 'ISO_10918_1' },
  ]);
  assert.deepEqual(lossy.lossy, { ratio: ['12.5'], method: ['ISO_10918_1'] });
  const elements = new Map(
    scDataSet({ ...context(result()), source: lossy }, { width: 1, height: 1, pixels: new Uint8Array(3) }).map((e) => [
      e.tag,
      e.value,
    ]),
  );
  assert.equal(elements.get(0x00282110), '01');
  assert.deepEqual(elements.get(0x00282112), ['12.5']);
  assert.deepEqual(elements.get(0x00282114), ['ISO_10918_1']);
  const plain = new Map(
    scDataSet(context(result()), { width: 1, height: 1, pixels: new Uint8Array(3) }).map((e) => [e.tag, e.value]),
  );
  assert.equal(plain.get(0x00282110), '00');
  assert.equal(plain.has(0x00282112), false);
});
