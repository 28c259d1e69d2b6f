/**
 * The report of a local validation (`triage eval`, DIR/report.html): one self-contained HTML5
 * document made from metrics.json alone, for a clinician and a hospital's IT/QA reader. It loads
 * nothing (no script, font, image, stylesheet or link: inline `<style>` and inline `<svg>` only),
 * escapes every string that comes from the data, and prints on A4.
 *
 * The plots' coordinates are exact functions of the data (rounded to 0.01 of a unit), in SVG units
 * that the document draws at 1 px each (the `<svg>` has width and height equal to its viewBox):
 *
 * - ROC plot (ROC_PLOT): x = 40 + fpr * 200, y = 240 - tpr * 200.
 * - Reliability diagram (RELIABILITY_PLOT): x = 40 + p * 240, y = 280 - observed * 240.
 */
import type {
  Confusion,
  Evaluation,
  FindingMetrics,
  Interval,
  IntervalMethod,
  ReliabilityBin,
  Subgroup,
} from './types.js';
import {
  confusionPoint,
  formatCount,
  formatInterval,
  formatNumber,
  MISSING,
  RELIABILITY_PLOT,
  reliabilityXY,
  ROC_PLOT,
  rocPolylinePoints,
  rocXY,
} from '../common/index.js';

/**
 * The report's own policy, a second line behind the escaping: nothing may load or run, only the
 * inline style applies, whatever a data string might smuggle in.
 */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** A subgroup row is flagged too small to judge below these (images in the subgroup, positives of the finding). */
export const SMALL_SUBGROUP_IMAGES = 30;
export const SMALL_SUBGROUP_POSITIVES = 5;

/** The banner of a demonstration pack's (or a pack marked not for clinical use) report. */
export const NOT_FOR_CLINICAL_USE_BANNER = 'NOT FOR CLINICAL USE — demonstration pack';

/** How many characters of a SHA-256 (or a fingerprint) the report shows. */
export const HASH_PREFIX = 12;

/** At most this many characters of the pack's calibration provenance are shown as JSON. */
export const CALIBRATION_JSON_LIMIT = 4000;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text for HTML (element content or a double-quoted attribute): the five markup characters as
 * entities; C0 controls (but tab, line feed and carriage return), DEL and the bidirectional
 * embedding, override and isolate controls (which can make a file name read backwards) as U+FFFD.
 */
export function escapeHtml(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const entity = ENTITIES[char];
    if (entity !== undefined) out += entity;
    else if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) out += '\uFFFD';
    else if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) out += '\uFFFD';
    else out += char;
  }
  return out;
}

const e = escapeHtml;
const clamp01 = (value: number) => Math.min(1, Math.max(0, value));
/** An SVG coordinate: rounded to 0.01. */
const c = (value: number) => String(Math.round(value * 100) / 100);

/** An interval as HTML: the value, then its bounds in a smaller type (the text reads "0.912 [0.871–0.944]"). */
function intervalCell(interval: Interval, signed = false): string {
  const text = formatInterval(interval, signed);
  const at = text.indexOf(' [');
  if (at < 0) return `<td class="num">${text}</td>`;
  return `<td class="num"><span class="v">${text.slice(0, at)}</span> <span class="ci">${text.slice(at + 1)}</span></td>`;
}

const numCell = (text: string) => `<td class="num">${e(text)}</td>`;

/** The member colours and marker shapes, in order (repeated past the fourth member). */
const MEMBER_STYLES = [
  { color: '#5e3c99', shape: 'square' },
  { color: '#1a7f37', shape: 'triangle' },
  { color: '#9a6700', shape: 'diamond' },
  { color: '#0969da', shape: 'square' },
] as const;
type Shape = (typeof MEMBER_STYLES)[number]['shape'];

/** A marker centred on (x, y): its bounding box's centre is the point. */
function marker(shape: Shape, x: number, y: number, s: number, attributes: string): string {
  if (shape === 'square')
    return `<rect x="${c(x - s)}" y="${c(y - s)}" width="${c(2 * s)}" height="${c(2 * s)}" ${attributes}/>`;
  if (shape === 'triangle')
    return `<path d="M${c(x)} ${c(y - s)}L${c(x + s)} ${c(y + s)}L${c(x - s)} ${c(y + s)}Z" ${attributes}/>`;
  return `<path d="M${c(x)} ${c(y - s)}L${c(x + s)} ${c(y)}L${c(x)} ${c(y + s)}L${c(x - s)} ${c(y)}Z" ${attributes}/>`;
}

function axes(
  plot: { left: number; top: number; size: number },
  xTitle: string,
  yTitle: string,
  toXY: (a: number, b: number) => { x: number; y: number },
): string {
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const bottom = plot.top + plot.size;
  const right = plot.left + plot.size;
  const parts = [`<rect class="frame" x="${plot.left}" y="${plot.top}" width="${plot.size}" height="${plot.size}"/>`];
  for (const t of ticks) {
    const { x } = toXY(t, 0);
    const { y } = toXY(0, t);
    parts.push(
      `<line class="grid" x1="${c(x)}" y1="${plot.top}" x2="${c(x)}" y2="${bottom}"/>`,
      `<line class="grid" x1="${plot.left}" y1="${c(y)}" x2="${right}" y2="${c(y)}"/>`,
      `<line class="tick" x1="${c(x)}" y1="${bottom}" x2="${c(x)}" y2="${bottom + 4}"/>`,
      `<line class="tick" x1="${plot.left - 4}" y1="${c(y)}" x2="${plot.left}" y2="${c(y)}"/>`,
      `<text class="tl" x="${c(x)}" y="${bottom + 15}" text-anchor="middle">${t.toFixed(1)}</text>`,
      `<text class="tl" x="${plot.left - 6}" y="${c(y + 3.5)}" text-anchor="end">${t.toFixed(1)}</text>`,
    );
  }
  const d0 = toXY(0, 0);
  const d1 = toXY(1, 1);
  parts.push(
    `<line class="diagonal" x1="${c(d0.x)}" y1="${c(d0.y)}" x2="${c(d1.x)}" y2="${c(d1.y)}"/>`,
    `<text class="at" x="${plot.left + plot.size / 2}" y="${bottom + 32}" text-anchor="middle">${e(xTitle)}</text>`,
    `<text class="at" transform="translate(11 ${plot.top + plot.size / 2}) rotate(-90)" text-anchor="middle">${e(yTitle)}</text>`,
  );
  return parts.join('');
}

/** The finding's ROC plot: the ensemble's curve, its operating point, each member's operating point. */
export function rocSvg(finding: FindingMetrics, index: number): string {
  const { width, height, left, top, size } = ROC_PLOT;
  const curve = rocPolylinePoints(finding.roc)
    .map((p) => {
      const { x, y } = rocXY(p.fpr, p.tpr);
      return `${c(x)},${c(y)}`;
    })
    .join(' ');
  const parts = [
    `<svg class="roc" id="roc-${index}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="roc-${index}-title">`,
    `<title id="roc-${index}-title">ROC curve of ${e(finding.term)}</title>`,
    axes(ROC_PLOT, '1 \u2212 specificity (false positive rate)', 'Sensitivity (true positive rate)', rocXY),
    `<text class="cap" x="${left}" y="${top - 12}">AUC ${e(formatInterval(finding.auc))}</text>`,
  ];
  if (curve) parts.push(`<polyline class="curve" points="${curve}"/>`);
  const op = finding.operatingPoint;
  const opValid = Number.isFinite(op.fpr) && Number.isFinite(op.tpr);
  if (opValid) {
    const { x, y } = rocXY(clamp01(op.fpr), clamp01(op.tpr));
    // The label sits off the point, down and right (under a ROC curve, where the plot is empty, away from
    // the members' points around it), with a leader line; left or up where the plot ends.
    const right = x < left + size * 0.4;
    const down = y < top + size - 50;
    const tx = right ? x + 34 : x - 34;
    const ty = down ? y + 38 : y - 30;
    parts.push(
      `<line class="op-leader" x1="${c(x + (right ? 5 : -5))}" y1="${c(y + (down ? 5 : -5))}" x2="${c(tx + (right ? -2 : 2))}" y2="${c(ty - 4)}"/>`,
      `<circle class="operating-point" cx="${c(x)}" cy="${c(y)}" r="5.5"/>`,
      `<text class="op-label" x="${c(tx)}" y="${c(ty)}" text-anchor="${right ? 'start' : 'end'}">operating point</text>`,
    );
  }
  // The members' points over the ensemble's (small: both stay visible where they meet).
  finding.members.forEach((member, m) => {
    const point = confusionPoint(member.confusion);
    if (!point) return;
    const style = MEMBER_STYLES[m % MEMBER_STYLES.length];
    const { x, y } = rocXY(clamp01(point.fpr), clamp01(point.tpr));
    parts.push(
      marker(
        style.shape,
        x,
        y,
        3.5,
        `class="member-point" data-member="${m}" fill="${style.color}" stroke="#fff" stroke-width="0.8"`,
      ),
    );
  });
  // The legend, right of the plot.
  const lx = left + size + 22;
  let ly = top + 8;
  parts.push(`<line class="curve" x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}"/>`);
  parts.push(`<text class="lg" x="${lx + 24}" y="${ly + 3.5}">ensemble ROC</text>`);
  ly += 18;
  parts.push(`<circle class="operating-point legend-op" cx="${lx + 9}" cy="${ly}" r="5.5"/>`);
  parts.push(`<text class="lg" x="${lx + 24}" y="${ly + 3.5}">operating point (call \u2265 0.5)</text>`);
  if (opValid) {
    ly += 14;
    parts.push(
      `<text class="lg sub" x="${lx + 24}" y="${ly + 3.5}">sens ${e(formatNumber(op.tpr))}, 1\u2212spec ${e(formatNumber(op.fpr))}</text>`,
    );
  }
  ly += 18;
  parts.push(`<line class="diagonal" x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}"/>`);
  parts.push(`<text class="lg" x="${lx + 24}" y="${ly + 3.5}">chance</text>`);
  finding.members.forEach((member, m) => {
    ly += 18;
    const style = MEMBER_STYLES[m % MEMBER_STYLES.length];
    parts.push(marker(style.shape, lx + 9, ly, 3.5, `fill="${style.color}"`));
    const name = member.model.length > 22 ? `${member.model.slice(0, 21)}\u2026` : member.model;
    parts.push(`<text class="lg" x="${lx + 24}" y="${ly + 3.5}">${e(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** The reliability diagram: per bin, a bar of the observed rate over the bin, its mean predicted as a dot, its count. */
export function reliabilitySvg(bins: readonly ReliabilityBin[]): string {
  const { width, height, top } = RELIABILITY_PLOT;
  const parts = [
    `<svg class="reliability" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="reliability-title">`,
    `<title id="reliability-title">Reliability diagram</title>`,
    axes(RELIABILITY_PLOT, 'Shown probability (mean in bin)', 'Observed positive rate', reliabilityXY),
    `<text class="tl" x="${RELIABILITY_PLOT.left - 6}" y="${top - 4}" text-anchor="end">n</text>`,
  ];
  bins.forEach((bin, i) => {
    if (!Number.isFinite(bin.low) || !Number.isFinite(bin.high)) return;
    const x0 = reliabilityXY(clamp01(bin.low), 0).x;
    const x1 = reliabilityXY(clamp01(bin.high), 0).x;
    parts.push(
      `<text class="count" transform="translate(${c((x0 + x1) / 2 + 3)} ${top - 4}) rotate(-90)">${e(formatCount(bin.count))}</text>`,
    );
    if (bin.observed === null || !Number.isFinite(bin.observed)) return;
    const { y } = reliabilityXY(0, clamp01(bin.observed));
    const base = reliabilityXY(0, 0).y;
    parts.push(
      `<rect class="bin" data-bin="${i}" x="${c(x0 + 1)}" y="${c(y)}" width="${c(Math.max(0, x1 - x0 - 2))}" height="${c(base - y)}"/>`,
    );
    if (bin.meanPredicted !== null && Number.isFinite(bin.meanPredicted)) {
      const p = reliabilityXY(clamp01(bin.meanPredicted), clamp01(bin.observed));
      parts.push(`<circle class="bin-point" data-bin="${i}" cx="${c(p.x)}" cy="${c(p.y)}" r="3"/>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

const METHOD_TEXT: Record<IntervalMethod, string> = {
  delong:
    "DeLong's variance of the Mann\u2013Whitney AUC (and of the difference of two AUCs paired on the same images), normal approximation, clipped to [0, 1]",
  wilson: "Wilson's score interval of a proportion",
  bootstrap: 'percentile bootstrap over images (each image drawn with replacement)',
  'bootstrap-patient': "percentile bootstrap over patients (a patient's images drawn together)",
};

function methodsUsed(evaluation: Evaluation): IntervalMethod[] {
  const used = new Set<IntervalMethod>();
  const add = (interval: Interval) => used.add(interval.method);
  for (const f of evaluation.findings) {
    for (const scorer of [f, ...f.members]) {
      [scorer.auc, scorer.sensitivity, scorer.specificity, scorer.ppv, scorer.npv, scorer.f1].forEach(add);
    }
    f.members.forEach((m) => add(m.aucDifference));
  }
  const o = evaluation.overall;
  [o.microF1.precision, o.microF1.recall, o.microF1.f1, o.macroF1].forEach(add);
  [o.hierarchical.precision, o.hierarchical.recall, o.hierarchical.f1].forEach(add);
  for (const s of evaluation.subgroups) for (const f of s.findings) [f.auc, f.sensitivity, f.specificity].forEach(add);
  return (Object.keys(METHOD_TEXT) as IntervalMethod[]).filter((m) => used.has(m));
}

function intervalsText(evaluation: Evaluation): string {
  const { intervals } = evaluation;
  const level = formatNumber(intervals.level * 100, 0);
  const methods = methodsUsed(evaluation)
    .map((m) => `<li>${e(METHOD_TEXT[m])}</li>`)
    .join('');
  const bootstrap = intervals.bootstrap
    ? `<p>Bootstrap: ${e(formatCount(intervals.bootstrap.resamples))} resamples, seed ${e(formatCount(intervals.bootstrap.seed))}, ` +
      `${intervals.clustered ? "by patient (a patient's images are drawn together)" : 'by image'}.</p>`
    : '<p>No bootstrap: every interval is analytic.</p>';
  const note = intervals.note ? `<p class="warning">${e(intervals.note)}</p>` : '';
  return `<p>Every interval is a ${e(level)} % interval, made by:</p><ul>${methods || '<li>no interval</li>'}</ul>${bootstrap}${note}`;
}

function countsList(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (entries.length === 0) return '';
  return `<ul class="counts">${entries.map(([k, v]) => `<li><span>${e(k)}</span> <b>${e(formatCount(v))}</b></li>`).join('')}</ul>`;
}

/** The pack's calibration provenance (any JSON): a definition list of its top-level fields, values as JSON. */
function calibrationBlock(calibration: unknown): string {
  if (calibration === null || calibration === undefined) return '';
  const json = (value: unknown) => {
    let text: string;
    try {
      text = JSON.stringify(value, null, 1) ?? String(value);
    } catch {
      text = String(value);
    }
    return text.length > CALIBRATION_JSON_LIMIT ? `${text.slice(0, CALIBRATION_JSON_LIMIT)}\u2026 (truncated)` : text;
  };
  let body: string;
  if (typeof calibration === 'object' && !Array.isArray(calibration)) {
    const entries = Object.entries(calibration as Record<string, unknown>).slice(0, 50);
    body = `<dl class="calibration">${entries
      .map(
        ([k, v]) =>
          `<dt>${e(k)}</dt><dd>${typeof v === 'string' ? e(v.length > CALIBRATION_JSON_LIMIT ? `${v.slice(0, CALIBRATION_JSON_LIMIT)}\u2026` : v) : `<code>${e(json(v))}</code>`}</dd>`,
      )
      .join('')}</dl>`;
  } else {
    body = `<pre>${e(json(calibration))}</pre>`;
  }
  return `<div class="box"><h3>Operating points derived on site (<code>triage calibrate</code>)</h3>${body}</div>`;
}

function header(evaluation: Evaluation): string {
  const { pack } = evaluation;
  const banner =
    pack.demo || pack.notForClinicalUse
      ? `<div class="banner" role="alert">${e(NOT_FOR_CLINICAL_USE_BANNER)}<span>${
          pack.demo
            ? 'This pack is a demonstration: its figures show how the validation works, not how a clinical pack performs.'
            : 'This pack is marked not for clinical use.'
        }</span></div>`
      : '';
  const models = pack.models
    .map((m) => {
      const points = Object.entries(m.operatingPoints)
        .map(([term, t]) => `${e(term)}\u00a0${e(formatNumber(t))}`)
        .join(', ');
      return `<tr><td class="term">${e(m.id)}</td><td class="term">${e(m.version)}</td><td><code>${e(m.sha256.slice(0, HASH_PREFIX))}</code></td><td class="points">${points || MISSING}</td></tr>`;
    })
    .join('');
  return `<header>
${banner}
<h1>Local validation of <span class="pack">${e(pack.id)} ${e(pack.version)}</span></h1>
<dl class="meta">
<dt>Pack</dt><dd>${e(pack.id)} ${e(pack.version)}, fingerprint <code title="${e(pack.fingerprint)}">${e(pack.fingerprint.slice(0, HASH_PREFIX))}</code></dd>
<dt>Rule</dt><dd>${e(pack.rule)}; indeterminate band [${e(formatNumber(pack.indeterminate.low, 2))}, ${e(formatNumber(pack.indeterminate.high, 2))}]</dd>
<dt>Date</dt><dd>${e(evaluation.createdAt)}</dd>
<dt>Software</dt><dd>${e(evaluation.software)}</dd>
</dl>
<table class="models"><thead><tr><th>Model</th><th>Version</th><th>SHA-256</th><th>Operating points (the probability at which each output votes positive)</th></tr></thead><tbody>${models}</tbody></table>
${calibrationBlock(pack.calibration)}
</header>`;
}

function dataSummary(evaluation: Evaluation): string {
  const { data } = evaluation;
  const shownPaths = data.paths.slice(0, 20);
  const paths =
    shownPaths.map((p) => `<code>${e(p)}</code>`).join('<br>') +
    (data.paths.length > shownPaths.length ? ` and ${data.paths.length - shownPaths.length} more` : '');
  const notAssessed = data.notAssessed.length
    ? `<h3>Labelled terms the pack does not assess (prevalence only)</h3><table class="narrow"><thead><tr><th>Term</th><th>Tree</th><th>n</th><th>Positives</th><th>Prevalence</th></tr></thead><tbody>${data.notAssessed
        .map(
          (t) =>
            `<tr><td class="term">${e(t.term)}</td><td>${e(t.tree)}</td>${numCell(formatCount(t.n))}${numCell(formatCount(t.positives))}${numCell(formatNumber(t.n > 0 ? t.positives / t.n : null))}</tr>`,
        )
        .join('')}</tbody></table>`
    : '<p>Every labelled term is assessed by the pack.</p>';
  return `<section id="data"><h2>Data</h2>
<div class="columns">
<dl class="meta">
<dt>Labels file</dt><dd><code>${e(data.labels.file)}</code></dd>
<dt>SHA-256</dt><dd><code class="hash">${e(data.labels.sha256)}</code></dd>
<dt>Rows</dt><dd>${e(formatCount(data.labels.rows))} (${e(formatCount(data.labels.terms.length))} term columns)</dd>
<dt>Images under</dt><dd>${paths || MISSING}</dd>
<dt>Images analysed</dt><dd><b>${e(formatCount(data.images))}</b> labelled images: every figure below is on these</dd>
<dt>Patients</dt><dd>${data.patients === null ? 'not known' : e(formatCount(data.patients))}</dd>
<dt>Results reused</dt><dd>${e(formatCount(data.reused))} (same image content and pack, from the results database)</dd>
<dt>Labels without an image</dt><dd>${e(formatCount(data.missing))}</dd>
<dt>Images read without labels</dt><dd>${e(formatCount(data.unlabelled))} (left out)</dd>
<dt>Repeated images</dt><dd>${e(formatCount(data.duplicates))} (the same content or SOP Instance UID as another labelled image: judged once)</dd>
</dl>
<dl class="meta">
<dt>Refused by the gates</dt><dd>${e(formatCount(data.rejected.total))} (no figures: a refusal is not a miss)${countsList(data.rejected.byReason)}</dd>
<dt>Unreadable</dt><dd>${e(formatCount(data.errors.total))}${countsList(data.errors.byCode)}</dd>
</dl>
</div>
${notAssessed}
<h3>Intervals</h3>
${intervalsText(evaluation)}
</section>`;
}

function treeNote(tree: string): string {
  return tree === 'finding' ? '' : ` <span class="tree">(${e(tree)})</span>`;
}

function findingsTable(findings: readonly FindingMetrics[]): string {
  const rows = findings
    .map(
      (f, i) =>
        `<tr><td class="term"><a href="#finding-${i}">${e(f.term)}</a>${treeNote(f.tree)}</td>${numCell(formatCount(f.n))}${numCell(formatCount(f.positives))}${numCell(formatNumber(f.prevalence))}` +
        `${intervalCell(f.auc)}${intervalCell(f.sensitivity)}${intervalCell(f.specificity)}${intervalCell(f.ppv)}${intervalCell(f.npv)}${intervalCell(f.f1)}${numCell(formatCount(f.indeterminate))}</tr>`,
    )
    .join('');
  return `<table class="findings"><thead><tr><th>Finding</th><th>n</th><th>Posi&shy;tives</th><th>Preva&shy;lence</th><th>AUC</th><th>Sensitivity</th><th>Specificity</th><th>PPV</th><th>NPV</th><th>F1</th><th title="Images whose ensemble probability lies in the indeterminate band">Indeter&shy;minate</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function confusionTable(confusion: Confusion): string {
  return `<table class="confusion"><caption>Ensemble calls (probability \u2265 0.5) against labels</caption>
<thead><tr><th></th><th>Called positive</th><th>Called negative</th></tr></thead>
<tbody><tr><th>Labelled positive</th><td class="num tp">${e(formatCount(confusion.tp))}</td><td class="num fn">${e(formatCount(confusion.fn))}</td></tr>
<tr><th>Labelled negative</th><td class="num fp">${e(formatCount(confusion.fp))}</td><td class="num tn">${e(formatCount(confusion.tn))}</td></tr></tbody></table>`;
}

function membersTable(evaluation: Evaluation, finding: FindingMetrics): string {
  const rows = [
    `<tr class="ensemble"><td>ensemble</td><td class="term">${e(evaluation.pack.rule)}</td>${intervalCell(finding.auc)}<td class="num">${MISSING}</td>${intervalCell(finding.sensitivity)}${intervalCell(finding.specificity)}${intervalCell(finding.f1)}</tr>`,
    ...finding.members.map((m, i) => {
      const style = MEMBER_STYLES[i % MEMBER_STYLES.length];
      const swatch = `<svg class="swatch" width="10" height="10" viewBox="0 0 10 10" aria-hidden="true">${marker(style.shape, 5, 5, 4, `fill="${style.color}"`)}</svg>`;
      return `<tr><td class="term">${swatch}\u00a0${e(m.model)}</td><td class="term">${e(m.version)}</td>${intervalCell(m.auc)}${intervalCell(m.aucDifference, true)}${intervalCell(m.sensitivity)}${intervalCell(m.specificity)}${intervalCell(m.f1)}</tr>`;
    }),
  ].join('');
  return `<table class="members"><thead><tr><th>Scorer</th><th>Version / rule</th><th>AUC</th><th class="wrap">AUC difference (ensemble \u2212 member)</th><th>Sensitivity</th><th>Specificity</th><th>F1</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function findingSection(evaluation: Evaluation, finding: FindingMetrics, index: number): string {
  return `<section class="finding" id="finding-${index}">
<h3>${e(finding.term)}${treeNote(finding.tree)}</h3>
<p class="lead">n ${e(formatCount(finding.n))}, ${e(formatCount(finding.positives))} positive (prevalence ${e(formatNumber(finding.prevalence))}); sensitivity ${e(formatInterval(finding.sensitivity))}, specificity ${e(formatInterval(finding.specificity))}; ${e(formatCount(finding.indeterminate))} indeterminate.</p>
<div class="figure-row">${rocSvg(finding, index)}${confusionTable(finding.confusion)}</div>
${membersTable(evaluation, finding)}
</section>`;
}

function overallSection(evaluation: Evaluation): string {
  const { overall } = evaluation;
  const f1Row = (name: string, f: Evaluation['overall']['microF1']) =>
    `<tr><td>${name}</td>${intervalCell(f.precision)}${intervalCell(f.recall)}${intervalCell(f.f1)}${numCell(formatCount(f.tp))}${numCell(formatCount(f.fp))}${numCell(formatCount(f.fn))}</tr>`;
  const bins = overall.calibration.bins
    .map(
      (b) =>
        `<tr><td class="num">${e(formatNumber(b.low, 1))}\u2013${e(formatNumber(b.high, 1))}</td>${numCell(formatCount(b.count))}${numCell(formatNumber(b.meanPredicted))}${numCell(formatNumber(b.observed))}</tr>`,
    )
    .join('');
  return `<section id="overall"><h2>All findings together</h2>
<table class="overall"><thead><tr><th></th><th>Precision</th><th>Recall</th><th>F1</th><th>TP</th><th>FP</th><th>FN</th></tr></thead><tbody>
${f1Row('Micro (every image and finding decision pooled)', overall.microF1)}
${f1Row('Hierarchical (ancestors added, root left out)', overall.hierarchical)}
<tr><td>Macro (mean of the findings\u2019 F1)</td><td class="num">${MISSING}</td><td class="num">${MISSING}</td>${intervalCell(overall.macroF1)}<td class="num">${MISSING}</td><td class="num">${MISSING}</td><td class="num">${MISSING}</td></tr>
</tbody></table>
<h3>Calibration</h3>
<p class="note">The probability shown is the pack's calibrated score: 0.5 is the operating point (the call), and the indeterminate band lies around it. It is not a verified risk: the diagram shows how often images with a given score were labelled positive here.</p>
<div class="figure-row">${reliabilitySvg(overall.calibration.bins)}
<div><dl class="meta"><dt>ECE</dt><dd class="num">${e(formatNumber(overall.calibration.ece))}</dd><dt>Brier score</dt><dd class="num">${e(formatNumber(overall.calibration.brier))}</dd></dl>
<table class="bins"><thead><tr><th>Bin</th><th>Count</th><th>Mean shown</th><th>Observed</th></tr></thead><tbody>${bins}</tbody></table></div></div>
</section>`;
}

/** Whether a subgroup's figures for a finding are too few to judge. */
export function tooSmall(subgroup: Pick<Subgroup, 'images'>, positives: number): boolean {
  return subgroup.images < SMALL_SUBGROUP_IMAGES || positives < SMALL_SUBGROUP_POSITIVES;
}

function subgroupsSection(evaluation: Evaluation): string {
  if (evaluation.subgroups.length === 0)
    return '<section id="subgroups"><h2>Subgroups</h2><p>No subgroup.</p></section>';
  const terms: Array<{ term: string; tree: string }> = [];
  for (const s of evaluation.subgroups)
    for (const f of s.findings)
      if (!terms.some((t) => t.term === f.term && t.tree === f.tree)) terms.push({ term: f.term, tree: f.tree });
  const bodies = terms
    .map((t) => {
      const rows = evaluation.subgroups
        .map((s) => {
          const f = s.findings.find((x) => x.term === t.term && x.tree === t.tree);
          if (!f) return '';
          const small = tooSmall(s, f.positives);
          return `<tr${small ? ' class="small"' : ''}><td>${e(s.attribute)}</td><td class="term">${e(s.value)}</td>${numCell(formatCount(s.images))}${numCell(formatCount(f.n))}${numCell(formatCount(f.positives))}${intervalCell(f.auc)}${intervalCell(f.sensitivity)}${intervalCell(f.specificity)}<td>${small ? '<span class="flag">too small to judge</span>' : ''}</td></tr>`;
        })
        .join('');
      return `<tbody><tr class="group"><th colspan="9">${e(t.term)}${treeNote(t.tree)}</th></tr>${rows}</tbody>`;
    })
    .join('');
  return `<section id="subgroups"><h2>Subgroups</h2>
<p class="note">A row with fewer than ${SMALL_SUBGROUP_IMAGES} images or fewer than ${SMALL_SUBGROUP_POSITIVES} positives is flagged too small to judge: its intervals are wide and a difference there means little.</p>
<table class="subgroups"><thead><tr><th>Attribute</th><th>Value</th><th>Images</th><th>n</th><th>Positives</th><th>AUC</th><th>Sensitivity</th><th>Specificity</th><th></th></tr></thead>${bodies}</table>
</section>`;
}

function footer(evaluation: Evaluation): string {
  return `<footer>
<p>Every figure in this report can be recomputed from <code>predictions.csv</code> beside it (one row per image and assessed term with a known label: the ensemble's shown probability, the call, the label, the patient's cluster number and each member's calibrated probability); <code>metrics.json</code> holds them as numbers.</p>
${intervalsText(evaluation)}
<p>Made by ${e(evaluation.software)} on ${e(evaluation.createdAt)}. This file loads nothing from anywhere.</p>
</footer>`;
}

const STYLE = `
:root{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--head:#f3f4f6;--accent:#1b4f8a;--op:#d1242f}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;color:var(--ink);background:#fff;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif;overflow-wrap:break-word}
main{max-width:1200px;margin:0 auto;padding:16px 24px 32px}
h1{font-size:24px;margin:12px 0 8px}
h2{font-size:19px;margin:28px 0 8px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:16px;margin:18px 0 6px}
table.models code{white-space:nowrap}
code{font:12px/1.3 ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;overflow-wrap:anywhere}
td.term{overflow-wrap:anywhere;min-width:9em}
thead th{white-space:nowrap}
thead th.wrap{white-space:normal;min-width:9em}
table.findings td .ci{display:block}
.banner{background:#b3000c;color:#fff;font-weight:700;font-size:20px;letter-spacing:.02em;padding:10px 16px;border-radius:4px;margin:8px 0}
.banner span{display:block;font-weight:400;font-size:13px;letter-spacing:0}
dl.meta{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 14px;margin:6px 0}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0}
dl.calibration{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px;margin:4px 0}
dl.calibration dt{color:var(--muted)}
dl.calibration dd{margin:0}
.columns{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:24px}
.box{border:1px solid var(--line);border-radius:4px;padding:6px 12px;margin:10px 0}
.box h3{margin:4px 0}
pre{white-space:pre-wrap;margin:0;font-size:12px}
ul.counts{margin:2px 0 0;padding-left:18px}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
thead th{background:var(--head);font-weight:600;font-size:13px}
td.num,dd.num{text-align:right;white-space:nowrap}
td .v{font-weight:600}
td .ci{color:var(--muted);font-size:12px}
table.findings,table.members,table.subgroups,table.overall,table.models{width:100%}
td.points{font-size:12px;color:var(--muted)}
.tree{color:var(--muted);font-size:12px}
.figure-row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.figure-row svg{flex:none}
table.confusion caption{caption-side:top;text-align:left;color:var(--muted);font-size:12px;padding-bottom:4px}
table.confusion td{min-width:90px;font-size:16px}
table.confusion th{background:var(--head);font-size:13px}
td.tp,td.tn{background:#eef6ee}
td.fp,td.fn{background:#fbefef}
tr.ensemble td{background:#f6f8fa;font-weight:600}
tr.group th{background:#e8eef6;font-size:14px}
tr.small td{color:var(--muted)}
.flag{display:inline-block;border:1px solid #9a6700;color:#7d4e00;border-radius:3px;padding:0 4px;font-size:11px;white-space:nowrap}
.note{color:var(--muted);max-width:900px}
.warning{color:#8a4b00;font-weight:600;max-width:900px}
.lead{margin:2px 0 8px}
section.finding{border-top:1px solid var(--line);padding-top:4px;margin-top:18px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;fill:var(--ink)}
svg .frame{fill:#fff;stroke:#57606a;stroke-width:1}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .tick{stroke:#57606a;stroke-width:1}
svg .tl{font-size:10px;fill:var(--muted)}
svg .at{font-size:11px}
svg .cap{font-size:12px;font-weight:600}
svg .lg{font-size:11px}
svg .count{font-size:9px;fill:var(--muted)}
svg .diagonal{stroke:#8c959f;stroke-width:1;stroke-dasharray:4 3}
svg .curve{fill:none;stroke:var(--accent);stroke-width:2;stroke-linejoin:round}
svg .operating-point{fill:var(--op);stroke:#fff;stroke-width:1.5}
svg .op-label{font-size:11px;font-weight:600;fill:var(--op)}
svg .lg.sub{font-size:10px;fill:var(--muted)}
svg .op-leader{stroke:var(--op);stroke-width:1}
svg .bin{fill:#b6cde8}
svg .bin-point{fill:var(--accent)}
svg.swatch{vertical-align:-1px}
footer{margin-top:32px;padding-top:8px;border-top:2px solid var(--line);color:var(--muted);font-size:13px}
a{color:var(--accent)}
@page{size:A4;margin:12mm}
@media print{
body{font-size:10.5px}
main{max-width:none;padding:0}
h2{break-after:avoid}
section.finding,.figure-row,table.confusion,tr{break-inside:avoid}
.banner{-webkit-print-color-adjust:exact;print-color-adjust:exact}
td.tp,td.tn,td.fp,td.fn,thead th,tr.group th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
td .ci{font-size:9px;display:block}
th,td{padding:2px 4px}
thead th{white-space:normal;font-size:9.5px}
td.term{min-width:8.5em}
table.findings{font-size:9.5px}
.figure-row{gap:12px}
.figure-row svg.roc{width:380px;height:auto}
table.confusion td{font-size:12px;min-width:56px}
table.confusion th{font-size:10px}
table.confusion caption{font-size:9.5px}
a{color:inherit;text-decoration:none}
}
`;

/** The whole report: a complete HTML5 document (pure: the same evaluation gives the same text). */
export function renderReport(evaluation: Evaluation): string {
  const { pack } = evaluation;
  const demo = pack.demo || pack.notForClinicalUse;
  const title = `${demo ? 'NOT FOR CLINICAL USE \u2013 ' : ''}Local validation of ${pack.id} ${pack.version}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${header(evaluation)}
${dataSummary(evaluation)}
<section id="findings"><h2>Findings</h2>
<p class="note">Each finding on the images with a known label for it. The ensemble calls a finding when its probability is at least 0.5; a member's figures are at its own operating point.</p>
${findingsTable(evaluation.findings)}
${evaluation.findings.map((f, i) => findingSection(evaluation, f, i)).join('\n')}
</section>
${overallSection(evaluation)}
${subgroupsSection(evaluation)}
${footer(evaluation)}
</main>
</body>
</html>
`;
}
