/**
 * The Validation view (a dialog over the window): the loaded pack measured on a hospital's own
 * labelled images. The user chooses a folder of images and a labels file (CSV) in the system's
 * dialog, runs it, sees its progress, then the figures as the report shows them: the pack and
 * its models, what the data held, each finding's figures with their 95 % intervals and its ROC
 * curve, the reliability diagram, the overall F1, ECE and Brier score, the subgroups, and where
 * report.html was written. Plots are SVG built node by node (no markup from data, no inline style).
 */
import type { EvaluationData, ValidationProgressData, ValidationStateData } from '../../main/app/api/contract.js';
import { describeError, invoke } from './api.js';
import { h, replace } from './dom.js';
import { countsText, duration, termLabel } from './format.js';
import {
  confusionPoint,
  formatInterval,
  formatNumber,
  RELIABILITY_PLOT,
  reliabilityXY,
  ROC_PLOT,
  rocPolylinePoints,
  rocXY,
} from '../../main/common/index.js';

type Finding = EvaluationData['findings'][number];

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes (numbers rounded to 0.01) and children. */
function s(tag: string, attributes: Record<string, string | number>, ...children: Array<SVGElement | string>) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes))
    element.setAttribute(key, typeof value === 'number' ? String(Math.round(value * 100) / 100) : value);
  for (const child of children) element.append(child);
  return element;
}

/** The plot's frame, grid, ticks, diagonal and axis titles. */
function axes(
  plot: { left: number; top: number; size: number },
  toXY: (a: number, b: number) => { x: number; y: number },
  xTitle: string,
  yTitle: string,
): SVGElement[] {
  const bottom = plot.top + plot.size;
  const right = plot.left + plot.size;
  const parts: SVGElement[] = [
    s('rect', { class: 'frame', x: plot.left, y: plot.top, width: plot.size, height: plot.size }),
  ];
  for (const t of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    const { x } = toXY(t, 0);
    const { y } = toXY(0, t);
    parts.push(
      s('line', { class: 'grid', x1: x, y1: plot.top, x2: x, y2: bottom }),
      s('line', { class: 'grid', x1: plot.left, y1: y, x2: right, y2: y }),
      s('text', { class: 'tick', x, y: bottom + 15, 'text-anchor': 'middle' }, t.toFixed(1)),
      s('text', { class: 'tick', x: plot.left - 6, y: y + 3.5, 'text-anchor': 'end' }, t.toFixed(1)),
    );
  }
  const d0 = toXY(0, 0);
  const d1 = toXY(1, 1);
  parts.push(
    s('line', { class: 'diagonal', x1: d0.x, y1: d0.y, x2: d1.x, y2: d1.y }),
    s('text', { class: 'axis', x: plot.left + plot.size / 2, y: bottom + 32, 'text-anchor': 'middle' }, xTitle),
    s(
      'text',
      { class: 'axis', transform: `translate(11 ${plot.top + plot.size / 2}) rotate(-90)`, 'text-anchor': 'middle' },
      yTitle,
    ),
  );
  return parts;
}

/** One finding's ROC plot: the ensemble's curve, its operating point, each member's point, a legend. */
export function rocPlot(finding: Finding): SVGElement {
  const { width, height, left, top, size } = ROC_PLOT;
  const svg = s('svg', {
    class: 'roc',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `ROC curve of ${finding.term}`,
    'data-finding': finding.term,
  });
  svg.append(...axes(ROC_PLOT, rocXY, '1 − specificity (false positive rate)', 'Sensitivity (true positive rate)'));
  svg.append(s('text', { class: 'caption', x: left, y: top - 12 }, `AUC ${formatInterval(finding.auc)}`));
  const curve = rocPolylinePoints(finding.roc)
    .map((p) => {
      const { x, y } = rocXY(p.fpr, p.tpr);
      return `${Math.round(x * 100) / 100},${Math.round(y * 100) / 100}`;
    })
    .join(' ');
  if (curve) svg.append(s('polyline', { class: 'curve', points: curve }));
  const op = finding.operatingPoint;
  if (Number.isFinite(op.fpr) && Number.isFinite(op.tpr)) {
    const { x, y } = rocXY(op.fpr, op.tpr);
    svg.append(s('circle', { class: 'operating-point', cx: x, cy: y, r: 5.5, 'data-fpr': op.fpr, 'data-tpr': op.tpr }));
  }
  finding.members.forEach((member, m) => {
    const point = confusionPoint(member.confusion);
    if (!point) return;
    const { x, y } = rocXY(point.fpr, point.tpr);
    svg.append(s('rect', { class: `member-point m${m % 4}`, x: x - 3.5, y: y - 3.5, width: 7, height: 7 }));
  });
  // The legend, right of the plot.
  const lx = left + size + 22;
  let ly = top + 8;
  const entry = (mark: SVGElement, label: string, extra = 0) => {
    svg.append(mark, s('text', { class: 'legend', x: lx + 24, y: ly + 3.5 }, label));
    ly += 18 + extra;
  };
  entry(s('line', { class: 'curve', x1: lx, y1: ly, x2: lx + 18, y2: ly }), 'ensemble ROC');
  entry(s('circle', { class: 'operating-point', cx: lx + 9, cy: ly, r: 5.5 }), 'operating point (call ≥ 0.5)', 0);
  if (Number.isFinite(op.fpr) && Number.isFinite(op.tpr)) {
    svg.append(
      s(
        'text',
        { class: 'legend sub', x: lx + 24, y: ly - 0.5 },
        `sens ${formatNumber(op.tpr)}, 1−spec ${formatNumber(op.fpr)}`,
      ),
    );
    ly += 14;
  }
  entry(s('line', { class: 'diagonal', x1: lx, y1: ly, x2: lx + 18, y2: ly }), 'chance');
  finding.members.forEach((member, m) => {
    const name = member.model.length > 22 ? `${member.model.slice(0, 21)}…` : member.model;
    entry(s('rect', { class: `member-point m${m % 4}`, x: lx + 5.5, y: ly - 3.5, width: 7, height: 7 }), name);
  });
  return svg;
}

/** The reliability diagram: per bin a bar of the observed rate, the mean predicted as a dot, the count above. */
export function reliabilityPlot(bins: EvaluationData['overall']['calibration']['bins']): SVGElement {
  const { width, height, left, top } = RELIABILITY_PLOT;
  const svg = s('svg', {
    class: 'reliability',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'Reliability diagram',
  });
  svg.append(...axes(RELIABILITY_PLOT, reliabilityXY, 'Shown probability (mean in bin)', 'Observed positive rate'));
  svg.append(s('text', { class: 'tick', x: left - 6, y: top - 4, 'text-anchor': 'end' }, 'n'));
  bins.forEach((bin, i) => {
    const x0 = reliabilityXY(bin.low, 0).x;
    const x1 = reliabilityXY(bin.high, 0).x;
    svg.append(
      s(
        'text',
        { class: 'count', transform: `translate(${(x0 + x1) / 2 + 3} ${top - 4}) rotate(-90)` },
        String(bin.count),
      ),
    );
    if (bin.observed === null) return;
    const { y } = reliabilityXY(0, bin.observed);
    const base = reliabilityXY(0, 0).y;
    svg.append(
      s('rect', { class: 'bin', 'data-bin': i, x: x0 + 1, y, width: Math.max(0, x1 - x0 - 2), height: base - y }),
    );
    if (bin.meanPredicted !== null) {
      const p = reliabilityXY(bin.meanPredicted, bin.observed);
      svg.append(s('circle', { class: 'bin-point', cx: p.x, cy: p.y, r: 3 }));
    }
  });
  return svg;
}

const FIGURES = [
  ['auc', 'AUC'],
  ['sensitivity', 'Sensitivity'],
  ['specificity', 'Specificity'],
  ['ppv', 'PPV'],
  ['npv', 'NPV'],
  ['f1', 'F1'],
] as const;

const table = (headers: string[], rows: HTMLElement[], className: string) =>
  h(
    'table',
    { class: `validation-table ${className}` },
    h('thead', null, h('tr', null, ...headers.map((text) => h('th', null, text)))),
    h('tbody', null, ...rows),
  );

const num = (text: string | number, attributes: Record<string, string> = {}) =>
  h('td', { class: 'num', ...attributes }, String(text));

function findingsTable(evaluation: EvaluationData): HTMLElement {
  const rows = evaluation.findings.map((f) =>
    h(
      'tr',
      { 'data-finding': f.term },
      h('td', null, termLabel(f.term)),
      num(f.n),
      num(f.positives),
      num(formatNumber(f.prevalence)),
      ...FIGURES.map(([key]) => num(formatInterval(f[key]), { 'data-metric': key })),
    ),
  );
  return table(
    ['Finding', 'n', 'Positives', 'Prevalence', ...FIGURES.map(([, label]) => label)],
    rows,
    'validation-findings',
  );
}

function subgroupsTable(evaluation: EvaluationData): HTMLElement {
  const rows = evaluation.subgroups.flatMap((group) =>
    group.findings.map((f) =>
      h(
        'tr',
        null,
        h('td', null, group.attribute),
        h('td', null, group.value),
        num(group.images),
        h('td', null, termLabel(f.term)),
        num(f.n),
        num(f.positives),
        num(formatInterval(f.auc)),
        num(formatInterval(f.sensitivity)),
        num(formatInterval(f.specificity)),
      ),
    ),
  );
  return table(
    ['Attribute', 'Value', 'Images', 'Finding', 'n', 'Positives', 'AUC', 'Sensitivity', 'Specificity'],
    rows,
    'validation-subgroups',
  );
}

function facts(pairs: Array<[string, string | number]>, name: string): HTMLElement {
  return h(
    'dl',
    { class: 'validation-facts', 'data-validation': name },
    ...pairs.flatMap(([term, value]) => [h('dt', null, term), h('dd', null, String(value))]),
  );
}

/** The figures of a completed validation, as the report lays them out. */
export function evaluationSection(evaluation: EvaluationData, reportPath: string | null): HTMLElement {
  const { pack, data, overall } = evaluation;
  const banner =
    pack.demo || pack.notForClinicalUse
      ? h(
          'div',
          { class: 'banner validation-banner', role: 'alert', 'data-validation': 'banner' },
          h('strong', null, 'NOT FOR CLINICAL USE'),
          ` · ${pack.demo ? 'Demonstration' : 'Unvalidated'} model pack: these figures are for evaluation only.`,
        )
      : null;
  const models = pack.models.map((m) => `${m.id} ${m.version} (${m.sha256.slice(0, 12)})`).join(', ');
  return h(
    'section',
    { class: 'validation-results', 'aria-label': 'Results' },
    banner,
    h('h3', null, 'Pack'),
    facts(
      [
        ['Pack', `${pack.id} ${pack.version}`],
        ['Fingerprint', pack.fingerprint.slice(0, 12)],
        ['Rule', pack.rule],
        ['Models', models],
        ['Evaluated', evaluation.createdAt],
      ],
      'pack',
    ),
    h('h3', null, 'Data'),
    facts(
      [
        ['Images analysed', data.images],
        ['Patients', data.patients ?? 'unknown'],
        ['Rejected', `${data.rejected.total} (${countsText(data.rejected.byReason)})`],
        ['Errors', `${data.errors.total} (${countsText(data.errors.byCode)})`],
        ['Missing (labels without an image)', data.missing],
        ['Unlabelled images (left out)', data.unlabelled],
        ['Duplicates', data.duplicates],
        ['Reused results', data.reused],
        [
          'Not assessed by the pack',
          data.notAssessed.length === 0
            ? 'none'
            : data.notAssessed.map((t) => `${t.term} (${t.positives} of ${t.n})`).join(', '),
        ],
      ],
      'data',
    ),
    h('h3', null, 'Findings (95 % intervals)'),
    h(
      'p',
      { class: 'validation-intervals' },
      evaluation.intervals.clustered
        ? "Intervals resample patients (a patient's images together)."
        : 'Intervals: DeLong for AUCs, Wilson for proportions, an image bootstrap for F1.',
      evaluation.intervals.note ? ` ${evaluation.intervals.note}.` : '',
    ),
    findingsTable(evaluation),
    h('h3', null, 'ROC curves'),
    h(
      'div',
      { class: 'validation-plots' },
      ...evaluation.findings.map((f) =>
        h('figure', { class: 'validation-plot' }, h('figcaption', null, termLabel(f.term)), rocPlot(f)),
      ),
    ),
    h('h3', null, 'Overall and calibration'),
    h(
      'div',
      { class: 'validation-overall' },
      h(
        'figure',
        { class: 'validation-plot' },
        h('figcaption', null, 'Reliability diagram'),
        reliabilityPlot(overall.calibration.bins),
      ),
      facts(
        [
          ['Micro F1', formatInterval(overall.microF1.f1)],
          ['Macro F1', formatInterval(overall.macroF1)],
          ['Hierarchical F1', formatInterval(overall.hierarchical.f1)],
          ['ECE', formatNumber(overall.calibration.ece)],
          ['Brier score', formatNumber(overall.calibration.brier)],
        ],
        'overall',
      ),
    ),
    h('h3', null, 'Subgroups'),
    subgroupsTable(evaluation),
    h(
      'p',
      { class: 'validation-report' },
      'Report: ',
      h('code', { 'data-validation': 'report-path' }, reportPath ?? '—'),
    ),
  );
}

export class ValidationView {
  private images: string | null = null;
  private labels: string | null = null;
  private state: ValidationProgressData | null = null;
  private shownReport: string | null = null;
  private readonly imagesText = h('code', { class: 'validation-path', 'data-validation': 'images' }, 'none chosen');
  private readonly labelsText = h('code', { class: 'validation-path', 'data-validation': 'labels' }, 'none chosen');
  private readonly runButton = h(
    'button',
    { class: 'button primary', type: 'button', 'data-validation': 'run' },
    'Run',
  );
  private readonly cancelButton = h(
    'button',
    { class: 'button', type: 'button', 'data-validation': 'cancel' },
    'Cancel',
  );
  /** The last report, in the system's browser (the main process opens only a validation's report). */
  private readonly reportButton = h(
    'button',
    { class: 'button', type: 'button', 'data-validation': 'open-report' },
    'Open report',
  );
  private readonly message = h('p', { class: 'node-message', role: 'status', 'data-validation': 'message' });
  private readonly bar = h('progress', { class: 'validation-progress', max: 1, value: 0 });
  private readonly counts = h('span', { class: 'muted', 'data-validation': 'counts' });
  private readonly results = h('div', { class: 'validation-body' });

  constructor(private readonly dialog: HTMLDialogElement) {
    const chooser = (kind: 'images' | 'labels') =>
      h(
        'button',
        { class: 'button', type: 'button', 'data-choose': kind, on: { click: () => void this.choose(kind) } },
        'Choose…',
      );
    this.runButton.addEventListener('click', () => void this.run());
    this.cancelButton.addEventListener('click', () => void this.act(() => invoke('validation.cancel', {})));
    this.reportButton.addEventListener('click', () => void this.act(() => invoke('validation.openReport', {})));
    replace(
      dialog,
      h(
        'header',
        { class: 'node-header' },
        h('h2', null, 'Validate a pack'),
        h(
          'form',
          { method: 'dialog' },
          h('button', { class: 'button', type: 'submit', 'data-validation': 'close' }, 'Close'),
        ),
      ),
      h(
        'div',
        { class: 'validation-form' },
        h('span', null, 'Images folder'),
        this.imagesText,
        chooser('images'),
        h('span', null, 'Labels file (CSV)'),
        this.labelsText,
        chooser('labels'),
      ),
      h('div', { class: 'node-actions' }, this.runButton, this.cancelButton, this.reportButton, this.bar, this.counts),
      this.message,
      this.results,
    );
    this.render();
  }

  get isOpen(): boolean {
    return this.dialog.open;
  }

  /** Opens the view with the validation's state now (a running one's progress, the last one's figures). */
  async open(): Promise<void> {
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  /** A validation.changed event: the progress now; the figures once it has ended. */
  changed(progress: ValidationProgressData): void {
    const ended = this.state?.state === 'running' && progress.state !== 'running';
    this.state = progress;
    this.render();
    if (ended || (progress.state === 'completed' && progress.reportPath !== this.shownReport)) void this.refresh();
  }

  private async refresh(): Promise<void> {
    try {
      this.show(await invoke('validation.get', {}));
    } catch (thrown) {
      this.say(describeError(thrown).message);
    }
  }

  private show(state: ValidationStateData): void {
    const { evaluation, ...progress } = state;
    this.state = progress;
    if (state.state === 'completed' && evaluation && state.reportPath !== this.shownReport) {
      this.shownReport = state.reportPath;
      replace(this.results, evaluationSection(evaluation, state.reportPath));
    } else if (state.state !== 'completed') {
      this.shownReport = null;
      replace(this.results);
    }
    this.render();
  }

  private async choose(kind: 'images' | 'labels'): Promise<void> {
    await this.act(async () => {
      const { path } = await invoke('validation.choose', { kind });
      if (path === null) return;
      if (kind === 'images') this.images = path;
      else this.labels = path;
    });
  }

  private async run(): Promise<void> {
    if (this.images === null || this.labels === null) return;
    const images = this.images;
    const labels = this.labels;
    await this.act(async () => this.show(await invoke('validation.start', { images: [images], labels })));
  }

  /** Runs an API call; its failure is shown as the coded message. */
  private async act(work: () => Promise<unknown>): Promise<void> {
    this.say(null);
    try {
      await work();
    } catch (thrown) {
      this.say(describeError(thrown).message);
    }
    this.render();
  }

  private say(text: string | null): void {
    this.message.textContent = text ?? '';
    this.message.hidden = text === null;
  }

  private render(): void {
    const state = this.state;
    const running = state?.state === 'running';
    this.dialog.dataset.state = state?.state ?? 'idle';
    this.imagesText.textContent = this.images ?? 'none chosen';
    this.labelsText.textContent = this.labels ?? 'none chosen';
    this.runButton.disabled = running || this.images === null || this.labels === null;
    this.cancelButton.disabled = !running;
    this.reportButton.disabled = running || !state?.reportPath;
    for (const button of this.dialog.querySelectorAll<HTMLButtonElement>('[data-choose]')) button.disabled = running;
    const progress = state?.progress;
    if (progress && progress.total !== null && progress.total > 0) {
      this.bar.max = progress.total;
      this.bar.value = progress.done;
    } else if (running) this.bar.removeAttribute('value');
    else this.bar.value = 0;
    if (!state || state.state === 'idle') this.counts.textContent = 'Choose the images and their labels, then Run.';
    else {
      const p = state.progress;
      const of = p.total === null ? `${p.done} files` : `${p.done} of ${p.total} files`;
      const left = running ? ` · ${duration(p.etaSeconds)} left` : '';
      this.counts.textContent = `${STATE_TEXT[state.state]} · ${of} · ${p.analysed} analysed${left}`;
    }
    if (state?.state === 'failed' && state.error) this.say(state.error.message);
    else if (this.message.textContent === '') this.say(null);
  }
}

const STATE_TEXT: Record<ValidationProgressData['state'], string> = {
  idle: 'Idle',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  interrupted: 'Cancelled',
};
