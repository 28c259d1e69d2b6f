/**
 * The validation report's HTML as text: every data string escaped (hostile terms, file names,
 * manufacturers, pack names), the NOT FOR CLINICAL USE banner exactly for demonstration packs,
 * undefined figures as "—", nothing that loads or runs anything, figures formatted one way, and the
 * plots' coordinates where the documented geometry puts them (x = 40 + fpr * 200,
 * y = 240 − tpr * 200; reliability x = 40 + p * 240, y = 280 − observed * 240), written out here by
 * hand rather than taken from the code under test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatInterval, formatNumber, formatSigned } from '../../main/common/index.js';
import { escapeHtml, renderReport, NOT_FOR_CLINICAL_USE_BANNER } from '../../main/validation/index.js';
import type { Evaluation, Interval } from '../../main/validation/index.js';
import { fixtureEvaluation } from './fixture.js';

const HOSTILE = '<img src=x onerror=alert(1)>';
const ATTRIBUTE_BREAKER = '" onmouseover="alert(2)';

/** The elements the report may contain: anything else in its markup came from the data. */
const ALLOWED_TAGS = new Set(
  (
    'html head meta title style body main header footer section h1 h2 h3 p dl dt dd div span b ul li br code pre a ' +
    'table caption thead tbody tr th td svg rect line circle path polyline text'
  ).split(' '),
);

function tagsOf(html: string): string[] {
  return [...html.replace(/^<!DOCTYPE html>/, '').matchAll(/<\/?([A-Za-z][A-Za-z0-9-]*)/g)].map((m) =>
    m[1].toLowerCase(),
  );
}

/** The text of an HTML fragment: tags dropped, the report's entities decoded. */
function textOf(fragment: string): string {
  return fragment
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The cells' texts of the first table row that contains `marker`. */
function rowCells(html: string, marker: string): string[] {
  const at = html.indexOf(marker);
  assert.ok(at >= 0, `no row holds ${marker}`);
  const start = html.lastIndexOf('<tr', at);
  const end = html.indexOf('</tr>', at);
  return html
    .slice(start, end)
    .split(/<t[dh][^>]*>/)
    .slice(1)
    .map((cell) => textOf(cell).trim());
}

function hostileEvaluation(): Evaluation {
  const evaluation = fixtureEvaluation();
  const { pack, data } = evaluation;
  pack.id = `${HOSTILE}pack`;
  pack.version = `1.0${HOSTILE}`;
  pack.rule = `mean ${HOSTILE}`;
  pack.fingerprint = `abc${ATTRIBUTE_BREAKER}`;
  pack.models[0].id = `${HOSTILE}model`;
  pack.models[0].version = HOSTILE;
  pack.models[0].sha256 = `<script>alert(3)</script>`;
  pack.models[0].operatingPoints = { [HOSTILE]: 0.4 };
  pack.calibration = { [HOSTILE]: HOSTILE, nested: { deeper: [HOSTILE] } };
  evaluation.software = `triage ${HOSTILE}`;
  evaluation.createdAt = HOSTILE;
  data.labels.file = `C:\\labels\\${HOSTILE}.csv`;
  data.labels.sha256 = HOSTILE;
  data.paths = [`/srv/${HOSTILE}`];
  data.rejected.byReason = { [HOSTILE]: 3 };
  data.errors.byCode = { [HOSTILE]: 1 };
  data.notAssessed = [{ term: HOSTILE, tree: 'finding', n: 10, positives: 1 }];
  evaluation.findings[0].term = HOSTILE;
  evaluation.findings[0].members[0].model = HOSTILE;
  evaluation.findings[0].members[0].version = ATTRIBUTE_BREAKER;
  evaluation.subgroups[0].value = `${HOSTILE}Siemens`;
  evaluation.subgroups.find((s) => s.attribute === 'manufacturer')!.value = `<svg onload=alert(4)>`;
  evaluation.subgroups[1].findings[0].term = `</td></tr></table>${HOSTILE}`;
  return evaluation;
}

test('escapeHtml writes the five markup characters as entities and leaves other text alone', () => {
  assert.equal(escapeHtml(HOSTILE), '&lt;img src=x onerror=alert(1)&gt;');
  assert.equal(escapeHtml(`a & b "c" 'd'`), 'a &amp; b &quot;c&quot; &#39;d&#39;');
  assert.equal(escapeHtml('&amp;'), '&amp;amp;');
  assert.equal(escapeHtml('épanchement pleural — 胸水 🫁'), 'épanchement pleural — 胸水 🫁');
  assert.equal(escapeHtml('line\nnext\ttab'), 'line\nnext\ttab');
});

test('escapeHtml replaces control characters and bidirectional overrides with U+FFFD', () => {
  assert.equal(escapeHtml('a\u0000b\u001bc\u007fd'), 'a\uFFFDb\uFFFDc\uFFFDd');
  // "invoice\u202Egnp.exe" reads as "invoiceexe.png" where the override is honoured.
  assert.equal(escapeHtml('invoice\u202Egnp.exe'), 'invoice\uFFFDgnp.exe');
  assert.equal(escapeHtml('\u2066x\u2069'), '\uFFFDx\uFFFD');
});

test('every hostile string from the data reaches the report as text, never as markup', () => {
  const html = renderReport(hostileEvaluation());
  const foreign = tagsOf(html).filter((tag) => !ALLOWED_TAGS.has(tag));
  assert.deepEqual(foreign, [], `markup from the data: ${foreign.join(', ')}`);
  assert.ok(!/<img|<script|<svg onload|<\/td><\/tr><\/table>&lt;/i.test(html));
  assert.ok(!html.includes(ATTRIBUTE_BREAKER), 'a quote from the data closed an attribute');
  assert.ok(html.includes('&quot; onmouseover=&quot;alert(2)'));
  // The escaped term appears wherever the term is shown (table, section heading, SVG title, subgroups).
  const escaped = escapeHtml(HOSTILE);
  assert.ok(html.split(escaped).length - 1 >= 15, 'the hostile strings are shown, escaped');
  assert.ok(html.includes(`C:\\labels\\${escaped}.csv`));
  assert.ok(html.includes('&lt;svg onload=alert(4)&gt;'));
  assert.ok(html.includes('<code>&lt;script&gt;aler</code>'), 'a hash prefix is cut before it is escaped');
  // The tables stay whole: every <tr> is closed (a "</td></tr></table>" term closed nothing).
  assert.equal(html.split('<tr').length, html.split('</tr>').length);
  assert.equal(html.split('<table').length, html.split('</table>').length);
});

test('the report loads and runs nothing: no script, URL, source, event handler or import', () => {
  for (const evaluation of [fixtureEvaluation(), hostileEvaluation()]) {
    const html = renderReport(evaluation);
    assert.ok(!/<script/i.test(html));
    assert.ok(!/<(img|link|iframe|object|embed|video|audio|source|image|use|foreignobject)\b/i.test(html));
    assert.ok(!/@import|javascript:/i.test(html));
    assert.ok(!/\son[a-z]+\s*=\s*"/i.test(html), 'an event handler attribute');
    for (const href of html.matchAll(/href="([^"]*)"/g)) assert.match(href[1], /^#finding-\d+$/);
  }
  const html = renderReport(fixtureEvaluation());
  for (const forbidden of ['http:', 'https:', '<script', 'src=', 'url(', '//']) {
    assert.ok(!html.toLowerCase().includes(forbidden), `the report holds ${forbidden}`);
  }
  // Its own Content-Security-Policy forbids loading anything, should the escaping ever fail.
  assert.ok(
    html.includes(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">`,
    ),
  );
});

test('the report is one HTML5 document with an inline style', () => {
  const html = renderReport(fixtureEvaluation());
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">/);
  assert.ok(html.trimEnd().endsWith('</html>'));
  assert.equal(html.split('<style>').length, 2);
  assert.match(html, /@page\{size:A4/);
  assert.match(html, /@media print\{/);
});

test('a demonstration pack, or one marked not for clinical use, is headed by the banner', () => {
  const banner = `<div class="banner" role="alert">${NOT_FOR_CLINICAL_USE_BANNER}`;
  assert.equal(NOT_FOR_CLINICAL_USE_BANNER, 'NOT FOR CLINICAL USE — demonstration pack');
  for (const [demo, notForClinicalUse, shown] of [
    [true, true, true],
    [true, false, true],
    [false, true, true],
    [false, false, false],
  ] as const) {
    const evaluation = fixtureEvaluation();
    evaluation.pack.demo = demo;
    evaluation.pack.notForClinicalUse = notForClinicalUse;
    const html = renderReport(evaluation);
    assert.equal(html.includes(banner), shown, `demo ${demo}, notForClinicalUse ${notForClinicalUse}`);
    assert.equal(html.includes('NOT FOR CLINICAL USE'), shown);
    if (shown) assert.ok(html.indexOf(banner) < html.indexOf('<h1>'), 'the banner comes first');
  }
});

test('numbers are written with three decimals, intervals as value [low–high], differences signed', () => {
  const interval = (value: number | null, low: number | null, high: number | null): Interval => ({
    value,
    low,
    high,
    method: 'wilson',
  });
  assert.equal(formatInterval(interval(0.912, 0.871, 0.944)), '0.912 [0.871–0.944]');
  assert.equal(formatInterval(interval(0.91249, 0.8, 1)), '0.912 [0.800–1.000]');
  assert.equal(formatInterval(interval(0.5, null, null)), '0.500');
  assert.equal(formatInterval(interval(null, null, null)), '—');
  assert.equal(formatInterval(interval(0.022, -0.004, 0.05), true), '+0.022 [−0.004–0.050]');
  assert.equal(formatInterval(interval(-0.012, -0.031, 0.007), true), '−0.012 [−0.031–0.007]');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(Number.NaN), '—');
  assert.equal(formatNumber(-0.0001), '0.000');
  assert.equal(formatNumber(0.35, 2), '0.35');
  assert.equal(formatSigned(0), '+0.000');
});

test("the findings table shows each finding's figures as formatted", () => {
  const evaluation = fixtureEvaluation();
  const html = renderReport(evaluation);
  const fmt = (i: Interval) => `${i.value!.toFixed(3)} [${i.low!.toFixed(3)}–${i.high!.toFixed(3)}]`;
  evaluation.findings.forEach((f, i) => {
    const cells = rowCells(html, `<a href="#finding-${i}">`);
    assert.deepEqual(cells, [
      f.term,
      String(f.n),
      String(f.positives),
      f.prevalence.toFixed(3),
      fmt(f.auc),
      fmt(f.sensitivity),
      fmt(f.specificity),
      fmt(f.ppv),
      fmt(f.npv),
      fmt(f.f1),
      String(f.indeterminate),
    ]);
  });
  const cardiomegaly = evaluation.findings[0].confusion;
  assert.match(
    html,
    new RegExp(`<td class="num tp">${cardiomegaly.tp}</td><td class="num fn">${cardiomegaly.fn}</td>`),
  );
  assert.match(
    html,
    new RegExp(`<td class="num fp">${cardiomegaly.fp}</td><td class="num tn">${cardiomegaly.tn}</td>`),
  );
});

test('figures undefined on the data are shown as "—"', () => {
  const evaluation = fixtureEvaluation();
  const none: Interval = { value: null, low: null, high: null, method: 'delong' };
  const mass = evaluation.findings[4];
  mass.auc = none;
  mass.ppv = { ...none, method: 'wilson' };
  mass.members[1].aucDifference = none;
  const subgroup = evaluation.subgroups[0];
  subgroup.findings[0].auc = none;
  evaluation.overall.macroF1 = { ...none, method: 'bootstrap' };
  const html = renderReport(evaluation);
  const cells = rowCells(html, '<a href="#finding-4">');
  assert.equal(cells[4], '—', 'AUC');
  assert.equal(cells[7], '—', 'PPV');
  assert.notEqual(cells[5], '—', 'a defined sensitivity stays');
  assert.ok(html.includes('AUC —</text>'), "the ROC plot's caption");
  const densenet = rowCells(html.slice(html.indexOf('id="finding-4"')), `\u00a0${mass.members[1].model}`);
  assert.equal(densenet[3], '—', 'the AUC difference');
  const macro = rowCells(html, 'Macro (');
  assert.equal(macro[3], '—');
  const group = rowCells(html.slice(html.indexOf('id="subgroups"')), `<td class="term">${subgroup.value}</td>`);
  assert.equal(group[5], '—');
});

test("each finding's ROC plot puts the curve and the points where the geometry says", () => {
  const evaluation = fixtureEvaluation();
  const html = renderReport(evaluation);
  const near = (actual: number, expected: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= 0.006, `${what}: ${actual} against ${expected}`);
  evaluation.findings.forEach((f, i) => {
    const svg = html.slice(
      html.indexOf(`<svg class="roc" id="roc-${i}"`),
      html.indexOf('</svg>', html.indexOf(`id="roc-${i}"`)),
    );
    assert.match(svg, /width="440" height="280" viewBox="0 0 440 280"/);
    const op = /<circle class="operating-point" cx="([\d.]+)" cy="([\d.]+)"/.exec(svg);
    assert.ok(op, `the operating point of ${f.term}`);
    near(Number(op[1]), 40 + f.operatingPoint.fpr * 200, 'cx');
    near(Number(op[2]), 240 - f.operatingPoint.tpr * 200, 'cy');
    const points = /<polyline class="curve" points="([^"]+)"/
      .exec(svg)![1]
      .split(' ')
      .map((p) => p.split(',').map(Number));
    assert.deepEqual(points[0], [40, 240], 'the curve starts at (0, 0)');
    assert.deepEqual(points[points.length - 1], [240, 40], 'and ends at (1, 1)');
    // Every point drawn is a point of the curve.
    const curve = new Set(
      f.roc.map((p) => `${Math.round((40 + p.fpr * 200) * 100) / 100},${Math.round((240 - p.tpr * 200) * 100) / 100}`),
    );
    for (const [x, y] of points) assert.ok(curve.has(`${x},${y}`), `${x},${y} is on the curve`);
    // The operating point is a vertex of the drawn curve too (the fixture's consistency).
    assert.ok(f.roc.some((p) => p.fpr === f.operatingPoint.fpr && p.tpr === f.operatingPoint.tpr));
    f.members.forEach((member, m) => {
      const { tp, fp, fn, tn } = member.confusion;
      const x = 40 + (fp / (fp + tn)) * 200;
      const y = 240 - (tp / (tp + fn)) * 200;
      const marker = new RegExp(`<(rect|path) ([^>]*)class="member-point" data-member="${m}"`).exec(svg);
      assert.ok(marker, `${member.model}'s point`);
      if (marker[1] === 'rect') {
        const [, rx, ry, rw] = /x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/.exec(marker[2])!.map(Number);
        near(rx + rw / 2, x, `${member.model} x`);
        near(ry + rw / 2, y, `${member.model} y`);
      } else {
        const xs = [...marker[2].matchAll(/([\d.]+) ([\d.]+)/g)].map((v) => [Number(v[1]), Number(v[2])]);
        near((Math.min(...xs.map((v) => v[0])) + Math.max(...xs.map((v) => v[0]))) / 2, x, `${member.model} x`);
        near((Math.min(...xs.map((v) => v[1])) + Math.max(...xs.map((v) => v[1]))) / 2, y, `${member.model} y`);
      }
      assert.ok(svg.includes(`>${member.model}</text>`), 'the legend names the member');
    });
  });
});

test('the reliability diagram draws each bin as its observed rate with its count', () => {
  const evaluation = fixtureEvaluation();
  const html = renderReport(evaluation);
  const svg = html.slice(
    html.indexOf('<svg class="reliability"'),
    html.indexOf('</svg>', html.indexOf('<svg class="reliability"')),
  );
  evaluation.overall.calibration.bins.forEach((bin, i) => {
    const rect = new RegExp(
      `<rect class="bin" data-bin="${i}" x="([\\d.]+)" y="([\\d.]+)" width="([\\d.]+)" height="([\\d.]+)"`,
    ).exec(svg);
    assert.ok(rect);
    assert.ok(Math.abs(Number(rect[2]) - (280 - bin.observed! * 240)) <= 0.006, 'top at the observed rate');
    assert.ok(Math.abs(Number(rect[2]) + Number(rect[4]) - 280) <= 0.01, 'standing on 0');
    assert.ok(Math.abs(Number(rect[1]) - (40 + bin.low * 240 + 1)) <= 0.006, 'from the bin low');
    const dot = new RegExp(`<circle class="bin-point" data-bin="${i}" cx="([\\d.]+)" cy="([\\d.]+)"`).exec(svg)!;
    assert.ok(Math.abs(Number(dot[1]) - (40 + bin.meanPredicted! * 240)) <= 0.006);
    assert.ok(svg.includes(`>${bin.count}</text>`));
  });
  assert.ok(html.includes(`<dt>ECE</dt><dd class="num">${evaluation.overall.calibration.ece.toFixed(3)}</dd>`));
  assert.ok(html.includes('not a verified risk'));
});

test('subgroups with fewer than 30 images or 5 positives are flagged too small to judge', () => {
  const evaluation = fixtureEvaluation();
  const html = renderReport(evaluation);
  let expected = 0;
  for (const s of evaluation.subgroups) for (const f of s.findings) if (s.images < 30 || f.positives < 5) expected++;
  assert.ok(expected > 0 && expected < evaluation.subgroups.length * 7, 'the fixture has both kinds');
  assert.equal(html.split('<tr class="small">').length - 1, expected);
  assert.equal(html.split('too small to judge</span>').length - 1, expected);
  // A big subgroup with many positives is not flagged.
  const female = evaluation.subgroups.find((s) => s.attribute === 'sex' && s.value === 'F')!;
  assert.ok(female.images >= 30 && female.findings[0].positives >= 5);
  assert.ok(
    !rowCells(html.slice(html.indexOf('id="subgroups"')), '<td class="term">F</td>').includes('too small to judge'),
  );
});

test('the data, the pack and the interval methods are stated', () => {
  const evaluation = fixtureEvaluation();
  const html = renderReport(evaluation);
  const text = textOf(html);
  for (const expected of [
    evaluation.data.labels.sha256,
    evaluation.data.labels.file,
    'lateral view 17',
    'DICOM_TRUNCATED 3',
    'hilar enlargement',
    `fingerprint ${evaluation.pack.fingerprint.slice(0, 12)}`,
    evaluation.pack.models[1].sha256.slice(0, 12),
    'Bootstrap: 200 resamples, seed 20261207, by image.',
    "DeLong's variance",
    "Wilson's score interval",
    'predictions.csv',
    'site-labels-2026-11.csv',
  ])
    assert.ok(text.includes(expected), expected);
  assert.ok(!text.includes(evaluation.pack.models[1].sha256), 'a model hash is shown by its prefix');
  evaluation.intervals = { level: 0.95, bootstrap: { resamples: 1000, seed: 7 }, clustered: true, note: null };
  evaluation.findings[0].f1.method = 'bootstrap-patient';
  evaluation.pack.calibration = null;
  const clustered = textOf(renderReport(evaluation));
  assert.ok(clustered.includes("1000 resamples, seed 7, by patient (a patient's images are drawn together)"));
  assert.ok(clustered.includes('percentile bootstrap over patients'));
  assert.ok(!clustered.includes('triage calibrate'), 'no calibration provenance when there is none');
  evaluation.intervals = { level: 0.95, bootstrap: null, clustered: false, note: 'too few <patients>' };
  const analytic = renderReport(evaluation);
  assert.ok(textOf(analytic).includes('No bootstrap'));
  assert.ok(analytic.includes('too few &lt;patients&gt;'), 'the note, escaped');
});

test('renderReport is pure: the same evaluation gives the same document and is left unchanged', () => {
  const evaluation = fixtureEvaluation();
  const before = structuredClone(evaluation);
  const first = renderReport(evaluation);
  assert.equal(renderReport(evaluation), first);
  assert.deepEqual(evaluation, before);
});
