/**
 * The reading workstation's window: worklist (left), viewer (centre), findings (right), status
 * bar and the not-for-clinical-use banner. It talks to the engine only through window.triage.
 */
import type { FindingData, ImageResultData, StudyData, WorklistStudyData } from '../../main/app/api/contract.js';
import { api, describeError, invoke, on } from './api.js';
import { byId, h, replace } from './dom.js';
import { FindingsPanel } from './findings.js';
import { NodePanel } from './node-panel.js';
import { StatusBar } from './statusbar.js';
import { ValidationView } from './validation-view.js';
import { findingKey, hasHeatmap } from './tree.js';
import { PRESETS, Viewer } from './viewer.js';
import { examinationParts, patientLine, separated, WorklistPanel } from './worklist.js';
import type { DialogKind, Verdict } from '../../main/common/index.js';

const SHORTCUTS: Array<[string, string]> = [
  ['↓  J', 'Next study'],
  ['↑  K', 'Previous study'],
  [']  [', 'Next / previous image of the study'],
  ['N  P', 'Next / previous finding'],
  ['H', 'Heatmap on / off'],
  ['M', 'Heatmap: ensemble or one model'],
  ...PRESETS.map((p): [string, string] => [p.key, `Window: ${p.name}`]),
  ['I', 'Invert'],
  ['F', 'Fit to window'],
  ['R', 'Reset window, zoom and pan'],
  ['+  −', 'Zoom in / out'],
  ['A', 'Accept the selected finding'],
  ['X', 'Reject the selected finding'],
  ['/', 'Search the worklist'],
  ['O', 'Open files (Shift+O: a folder)'],
  ['D', 'DICOM node'],
  ['V', 'Validate a pack'],
  ['?', 'This list'],
];

class App {
  private readonly worklist: WorklistPanel;
  private readonly viewer: Viewer;
  private readonly findings: FindingsPanel;
  private readonly status: StatusBar;
  private readonly tabs: HTMLElement;
  private readonly header: HTMLElement;
  private readonly toasts: HTMLElement;
  private readonly help: HTMLDialogElement;
  private readonly node: NodePanel;
  private readonly validation: ValidationView;
  private studies: WorklistStudyData[] = [];
  private selectedStudy: string | null = null;
  private study: StudyData | null = null;
  private imageIndex = 0;
  private studyStamp = '';
  private heatmapToken = 0;
  private studyToken = 0;
  /** A file the reader asked to analyse again, until the scan that does it ends. */
  private reanalysing: string | null = null;

  constructor() {
    this.worklist = new WorklistPanel(byId('worklist'), {
      select: (study) => void this.selectStudy(study),
      open: (kind) => void this.open(kind),
      cancelScan: () => void this.run(() => invoke('scan.cancel', {})),
    });
    this.viewer = new Viewer(byId('viewer'), {
      heatmapChanged: () => void this.updateHeatmap(),
      analyseAgain: (file) => void this.analyseAgain(file),
    });
    this.findings = new FindingsPanel(byId('findings'), {
      select: () => void this.updateHeatmap(),
      verdict: (finding, verdict) => void this.verdict(finding, verdict),
    });
    this.status = new StatusBar(byId('statusbar'), byId('banner'));
    this.tabs = byId('image-tabs');
    this.header = byId('study-header');
    this.toasts = byId('toasts');
    this.help = byId<HTMLDialogElement>('help');
    this.node = new NodePanel(byId<HTMLDialogElement>('node-panel'), (state) => this.status.setNode(state));
    this.validation = new ValidationView(byId<HTMLDialogElement>('validation-view'));
    replace(
      this.help,
      h('h2', null, 'Keyboard shortcuts'),
      h(
        'dl',
        { class: 'shortcuts' },
        ...SHORTCUTS.flatMap(([keys, what]) => [h('dt', null, h('kbd', null, keys)), h('dd', null, what)]),
      ),
      h('form', { method: 'dialog' }, h('button', { class: 'button', type: 'submit' }, 'Close')),
    );
  }

  async start(): Promise<void> {
    on('scan.progress', (progress) => {
      this.worklist.setScan(progress);
      if (!progress.running && progress.queued === 0 && this.reanalysing !== null) void this.reanalysed();
    });
    on('worklist.changed', () => void this.refreshWorklist());
    on('node.changed', () => void this.node.refresh(false));
    on('validation.changed', (progress) => this.validation.changed(progress));
    this.keyboard();
    this.dragAndDrop();
    byId('statusbar').addEventListener('click', (event) => {
      if ((event.target as HTMLElement).closest('[data-action="help"]')) this.help.showModal();
      if ((event.target as HTMLElement).closest('[data-action="node"]')) void this.node.open();
      if ((event.target as HTMLElement).closest('[data-action="validate"]')) void this.validation.open();
    });
    await this.run(async () => {
      const status = await invoke('status.get', {});
      this.status.show(status);
      this.worklist.setScan(status.scan);
    });
    await this.refreshWorklist();
    await this.node.refresh(true);
    document.body.dataset.ready = 'true';
  }

  /** Runs an API call; a failure becomes a toast with the coded message. */
  private async run<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (thrown) {
      this.toast(describeError(thrown).message);
      return undefined;
    }
  }

  private toast(message: string): void {
    const toast = h(
      'div',
      { class: 'toast', role: 'alert' },
      message,
      h(
        'button',
        { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', on: { click: () => toast.remove() } },
        '×',
      ),
    );
    this.toasts.appendChild(toast);
    setTimeout(() => toast.remove(), 8000);
  }

  private async refreshWorklist(): Promise<void> {
    const list = await this.run(() => invoke('worklist.list', {}));
    if (!list) return;
    this.studies = list.studies;
    this.worklist.setStudies(list.studies, list.counts);
    this.worklist.setSelected(this.selectedStudy);
    document.body.dataset.studies = String(list.studies.length);
    if (this.selectedStudy) {
      const current = list.studies.find((s) => s.study === this.selectedStudy);
      // The study on screen was re-analysed or gained images: show what the store says now.
      if (current && this.stampOf(current) !== this.studyStamp) await this.selectStudy(current.study, true);
    }
  }

  private stampOf(study: WorklistStudyData): string {
    return `${study.updatedAt}|${study.images.map((i) => `${i.file}:${i.status}`).join(',')}`;
  }

  private async selectStudy(key: string, keepImage = false): Promise<void> {
    const token = ++this.studyToken;
    const previousFile = this.study?.images[this.imageIndex]?.file;
    this.selectedStudy = key;
    this.worklist.setSelected(key);
    const study = await this.run(() => invoke('study.get', { study: key }));
    if (!study || token !== this.studyToken) return;
    const summary = this.studies.find((s) => s.study === key);
    this.studyStamp = summary ? this.stampOf(summary) : '';
    this.study = study;
    this.renderHeader();
    const keep = keepImage ? study.images.findIndex((i) => i.file === previousFile) : -1;
    this.imageIndex = keep >= 0 ? keep : 0;
    await this.showImage(keepImage && keep >= 0);
  }

  private get image(): ImageResultData | null {
    return this.study?.images[this.imageIndex] ?? null;
  }

  private async showImage(keepSelection = false): Promise<void> {
    const image = this.image;
    this.renderTabs();
    this.findings.show(image, keepSelection);
    if (!image) {
      await this.viewer.show(null);
      return;
    }
    document.body.dataset.image = image.file;
    const note =
      image.status === 'rejected'
        ? `Rejected by the input gate: ${image.reason ?? ''}`
        : image.status === 'duplicate'
          ? image.reason
          : null;
    if (image.status === 'error') {
      await this.viewer.show(null);
      return;
    }
    await this.viewer.show(image.file, note, image.scannedAt);
    await this.updateHeatmap();
  }

  /** "Analyse again" on a file that changed since its analysis: scans that one file. */
  private async analyseAgain(file: string): Promise<void> {
    this.viewer.analysing(file);
    try {
      const started = await invoke('scan.start', { paths: [file] });
      this.reanalysing = file;
      this.worklist.setScan(started.scan);
    } catch (thrown) {
      const { message } = describeError(thrown);
      this.viewer.analysing(file, message);
      this.toast(message);
    }
  }

  /** The scan that analysed a file again ended: show its new result if the reader is still on it. */
  private async reanalysed(): Promise<void> {
    const file = this.reanalysing;
    this.reanalysing = null;
    await this.refreshWorklist();
    if (file === null || this.image?.file !== file) return;
    // Its study, which may be another one now (the new content can name another study).
    const study = this.studies.find((s) => s.images.some((i) => i.file === file));
    if (study) await this.selectStudy(study.study, true);
  }

  /** The viewer's header: whose radiograph this is (name, ID, sex and age) and which examination. */
  private renderHeader(): void {
    const study = this.study;
    this.header.hidden = !study;
    if (!study) return;
    const { patient } = study;
    replace(
      this.header,
      h('span', { class: 'header-name' }, patient?.name ?? 'Unnamed patient'),
      patient ? h('span', { class: 'header-patient' }, patientLine(patient)) : null,
      h(
        'span',
        { class: 'header-study' },
        ...separated([...examinationParts(study), study.studyDescription ? study.studyDescription : null]),
      ),
    );
  }

  private renderTabs(): void {
    const images = this.study?.images ?? [];
    this.tabs.hidden = images.length < 2;
    replace(
      this.tabs,
      ...images.map((image, index) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            class: `image-tab status-${image.status}`,
            'aria-selected': String(index === this.imageIndex),
            on: {
              click: () => {
                this.imageIndex = index;
                void this.showImage();
              },
            },
          },
          image.name,
          image.findings.some((f) => f.positive && f.direct)
            ? h('span', { class: 'tab-dot', 'aria-label': 'has positive findings' })
            : null,
        ),
      ),
    );
  }

  /** Fetches the heatmap of the selected finding (ensemble or one model) for the image on screen. */
  private async updateHeatmap(): Promise<void> {
    const token = ++this.heatmapToken;
    const image = this.image;
    let finding = this.findings.selectedFinding();
    // A parent positive by roll-up shows where its first supporting finding is.
    if (image && finding && finding.positive && !finding.direct) {
      const parent = finding;
      finding =
        image.findings.find((f) => f.tree === parent.tree && parent.supportedBy.includes(f.term) && hasHeatmap(f)) ??
        parent;
    }
    // No pixels shown for this image (it changed since its analysis, or failed): no heatmap either.
    if (!image || !finding || !hasHeatmap(finding) || !image.heatmaps || this.viewer.file !== image.file) {
      this.viewer.setHeatmapMembers([]);
      this.viewer.setHeatmap(null);
      return;
    }
    this.viewer.setHeatmapMembers(
      Object.entries(finding.perModel)
        .filter(([, p]) => p >= 0.5)
        .map(([id]) => id),
    );
    // Hidden: the selection changed, so the loaded heatmap is stale; showing it again fetches this one.
    if (!this.viewer.heatmapVisible) {
      this.viewer.setHeatmap(null);
      return;
    }
    const shown = finding;
    const data = await this.run(() =>
      invoke('heatmap.get', { file: image.file, term: shown.term, tree: shown.tree, model: this.viewer.heatmapModel }),
    );
    if (token !== this.heatmapToken) return;
    this.viewer.setHeatmap(data ?? null);
  }

  private async verdict(finding: FindingData, verdict: Verdict | null): Promise<void> {
    const image = this.image;
    if (!image) return;
    const answer = await this.run(() =>
      invoke('feedback.set', { file: image.file, term: finding.term, tree: finding.tree, verdict }),
    );
    if (!answer || this.image?.file !== image.file) return;
    image.feedback = answer.feedback;
    this.findings.setFeedback(answer.feedback);
  }

  private async open(kind: DialogKind): Promise<void> {
    const opened = await this.run(() => invoke('dialog.open', { kind }));
    if (opened) this.worklist.setScan(opened.scan);
  }

  private async scanPaths(paths: string[]): Promise<void> {
    const started = await this.run(() => invoke('scan.start', { paths }));
    if (started) this.worklist.setScan(started.scan);
  }

  private moveStudy(step: 1 | -1): void {
    const visible = this.worklist.visible();
    if (visible.length === 0) return;
    const index = visible.findIndex((s) => s.study === this.selectedStudy);
    const next =
      index < 0 ? (step === 1 ? 0 : visible.length - 1) : Math.min(visible.length - 1, Math.max(0, index + step));
    if (visible[next].study !== this.selectedStudy) void this.selectStudy(visible[next].study);
  }

  private moveImage(step: 1 | -1): void {
    const count = this.study?.images.length ?? 0;
    const next = Math.min(count - 1, Math.max(0, this.imageIndex + step));
    if (count > 0 && next !== this.imageIndex) {
      this.imageIndex = next;
      void this.showImage();
    }
  }

  private judgeSelected(verdict: Verdict): void {
    const finding = this.findings.selectedFinding();
    const image = this.image;
    if (!finding || !image || !finding.direct || finding.votes.total === 0) return;
    const current = image.feedback.find((f) => findingKey(f) === findingKey(finding))?.verdict;
    void this.verdict(finding, current === verdict ? null : verdict);
  }

  private keyboard(): void {
    document.addEventListener('keydown', (event) => {
      const target = event.target as HTMLElement;
      if (target.closest('input, select, textarea') || this.help.open || this.node.isOpen || this.validation.isOpen)
        return;
      if (event.ctrlKey || event.metaKey || event.altKey) {
        if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'o') {
          event.preventDefault();
          void this.open(event.shiftKey ? 'folder' : 'files');
        }
        return;
      }
      const actions: Record<string, () => void> = {
        ArrowDown: () => this.moveStudy(1),
        j: () => this.moveStudy(1),
        ArrowUp: () => this.moveStudy(-1),
        k: () => this.moveStudy(-1),
        ']': () => this.moveImage(1),
        '[': () => this.moveImage(-1),
        n: () => this.findings.move(1),
        p: () => this.findings.move(-1),
        h: () => this.viewer.toggleHeatmap(),
        m: () => this.viewer.cycleHeatmapModel(),
        i: () => this.viewer.invert(),
        f: () => this.viewer.fit(),
        r: () => this.viewer.reset(),
        '+': () => this.viewer.zoomBy(1.25),
        '=': () => this.viewer.zoomBy(1.25),
        '-': () => this.viewer.zoomBy(0.8),
        a: () => this.judgeSelected('agree'),
        x: () => this.judgeSelected('disagree'),
        '/': () => this.worklist.search.focus(),
        o: () => void this.open('files'),
        O: () => void this.open('folder'),
        '?': () => this.help.showModal(),
        d: () => void this.node.open(),
        v: () => void this.validation.open(),
      };
      for (const preset of PRESETS) actions[preset.key] = () => this.viewer.preset(Number(preset.key));
      // A held A or X would toggle the verdict back and forth, once per key repeat.
      if (event.repeat && (event.key === 'a' || event.key === 'x')) {
        event.preventDefault();
        return;
      }
      const action = actions[event.key];
      if (action) {
        event.preventDefault();
        action();
      }
    });
  }

  private dragAndDrop(): void {
    const overlay = byId('drop-overlay');
    let depth = 0;
    const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
    document.addEventListener('dragenter', (event) => {
      if (!hasFiles(event)) return;
      depth++;
      overlay.hidden = false;
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) overlay.hidden = true;
    });
    document.addEventListener('dragover', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    });
    document.addEventListener('drop', (event) => {
      event.preventDefault();
      depth = 0;
      overlay.hidden = true;
      const files = [...(event.dataTransfer?.files ?? [])];
      const paths = files.map((file) => api().pathForFile(file)).filter((path) => path !== '');
      if (paths.length === 0) {
        if (files.length > 0) this.toast('Only files and folders from this computer can be opened.');
        return;
      }
      void this.scanPaths(paths);
    });
  }
}

function fatal(thrown: unknown): void {
  const error = describeError(thrown);
  document.body.dataset.ready = 'failed';
  replace(
    byId('toasts'),
    h('div', { class: 'toast', role: 'alert' }, `The workstation could not start: ${error.message}`),
  );
}

window.addEventListener('DOMContentLoaded', () => {
  try {
    void new App().start().catch(fatal);
  } catch (thrown) {
    fatal(thrown);
  }
});
