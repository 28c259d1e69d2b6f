/**
 * The worklist: studies most urgent first (the store's order: priority, then first seen), with
 * priority badges, the patient (name, ID, sex and age), the accession number and study date, each
 * image's status and the positive findings; a priority filter and a search over patients' names
 * and IDs, accession numbers, file names, study UIDs, findings and reasons; the live progress of a running scan; buttons
 * to open files or a folder.
 */
import type { ScanProgressData, WorklistStudyData } from '../../main/app/api/contract.js';
import { findingText, sexAgeText } from '../../main/common/index.js';
import type { Priority, DialogKind } from '../../main/common/index.js';
import { h, replace } from './dom.js';
import { filterStudies, ORDER, PRIORITY_LABELS, priorityClass } from './worklist-filter.js';
import { duration, namedRoots, shortUid, termLabel } from './format.js';

function statusLabel(study: WorklistStudyData): { text: string; kind: string } {
  const errors = study.images.filter((i) => i.status === 'error').length;
  const rejected = study.images.filter((i) => i.status === 'rejected').length;
  if (errors > 0)
    return { text: errors === study.images.length ? 'Unreadable' : `${errors} unreadable`, kind: 'error' };
  if (rejected > 0)
    return { text: rejected === study.images.length ? 'Rejected' : `${rejected} rejected`, kind: 'rejected' };
  return { text: 'Analysed', kind: 'ok' };
}

type PatientData = NonNullable<WorklistStudyData['patient']>;

/** "ID 123 (ISSUER)", or '' without an ID. */
export function patientIdText(patient: PatientData): string {
  return patient.id ? `ID ${patient.id}${patient.issuer ? ` (${patient.issuer})` : ''}` : '';
}

/** "ID 123 (ISSUER) · F 58y": the patient beside the name (the viewer's header). */
export function patientLine(patient: PatientData): string {
  return [patientIdText(patient), sexAgeText(patient.sex, patient.age)].filter(Boolean).join(' · ');
}

/** The accession number and the study's date and time, as spans (for the worklist and the viewer). */
export function examinationParts(study: {
  accessionNumber: string | null;
  studyDate: string | null;
  studyTime: string | null;
}): HTMLElement[] {
  const parts: HTMLElement[] = [];
  if (study.accessionNumber) parts.push(h('span', { class: 'accession' }, `Acc ${study.accessionNumber}`));
  if (study.studyDate)
    parts.push(
      h(
        'span',
        { class: 'study-date' },
        `${study.studyDate}${study.studyTime ? ` ${study.studyTime.slice(0, 5)}` : ''}`,
      ),
    );
  return parts;
}

/** The parts that are there, with " · " between them. */
export function separated(parts: Array<HTMLElement | string | null>): Array<HTMLElement | string> {
  return parts.filter((p): p is HTMLElement | string => p !== null).flatMap((p, i) => (i === 0 ? [p] : [' · ', p]));
}

export interface WorklistCallbacks {
  select(study: string): void;
  open(kind: DialogKind): void;
  cancelScan(): void;
}

export class WorklistPanel {
  private studies: WorklistStudyData[] = [];
  private counts: Record<string, number> = {};
  private filter: Priority | null = null;
  private query = '';
  private selected: string | null = null;
  private readonly list: HTMLElement;
  private readonly chips: HTMLElement;
  private readonly scan: HTMLElement;
  readonly search: HTMLInputElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly callbacks: WorklistCallbacks,
  ) {
    this.search = h('input', {
      type: 'search',
      class: 'search',
      placeholder: 'Search patients, IDs, accession, findings  ( / )',
      'aria-label': 'Search the worklist',
      spellcheck: false,
      on: {
        input: () => {
          this.query = this.search.value;
          this.renderList();
        },
        keydown: (event) => {
          if (event.key === 'Escape') {
            this.search.value = '';
            this.query = '';
            this.renderList();
            this.search.blur();
          }
        },
      },
    });
    this.chips = h('div', { class: 'chips', role: 'toolbar', 'aria-label': 'Filter by priority' });
    this.scan = h('div', { class: 'scan', 'aria-live': 'polite' });
    this.list = h('div', {
      class: 'worklist-list',
      role: 'listbox',
      'aria-label': 'Worklist, most urgent first',
      tabindex: 0,
    });
    replace(
      root,
      h(
        'div',
        { class: 'panel-head' },
        h('h2', null, 'Worklist'),
        h(
          'div',
          { class: 'open-buttons' },
          h(
            'button',
            {
              class: 'button',
              type: 'button',
              title: 'Open radiograph files (Ctrl+O)',
              on: { click: () => callbacks.open('files') },
            },
            'Open files…',
          ),
          h(
            'button',
            {
              class: 'button',
              type: 'button',
              title: 'Open a folder and scan it (Ctrl+Shift+O)',
              on: { click: () => callbacks.open('folder') },
            },
            'Open folder…',
          ),
        ),
      ),
      this.scan,
      this.search,
      this.chips,
      this.list,
    );
    this.renderChips();
    this.renderList();
  }

  setStudies(studies: WorklistStudyData[], counts: Record<string, number>): void {
    this.studies = studies;
    this.counts = counts;
    this.renderChips();
    this.renderList();
  }

  setSelected(study: string | null): void {
    this.selected = study;
    for (const row of this.list.querySelectorAll<HTMLElement>('[role="option"]')) {
      const on = row.dataset.study === study;
      row.setAttribute('aria-selected', String(on));
      if (on) row.scrollIntoView({ block: 'nearest' });
    }
  }

  /** The visible studies, in order (what next/previous move through). */
  visible(): WorklistStudyData[] {
    return filterStudies(this.studies, this.filter, this.query);
  }

  setScan(scan: ScanProgressData): void {
    if (scan.running) {
      const fraction = scan.total ? Math.min(1, scan.done / scan.total) : null;
      const bar = h('div', {
        class: `progress${fraction === null ? ' indeterminate' : ''}`,
        role: 'progressbar',
        'aria-label': 'Scan progress',
        'aria-valuemin': 0,
        'aria-valuemax': scan.total ?? undefined,
        'aria-valuenow': scan.total ? scan.done : undefined,
      });
      const fill = h('div', { class: 'progress-fill' });
      if (fraction !== null) fill.style.width = `${(fraction * 100).toFixed(1)}%`;
      bar.appendChild(fill);
      replace(
        this.scan,
        h(
          'div',
          { class: 'scan-running' },
          h(
            'div',
            { class: 'scan-title' },
            h('span', { class: 'spinner', 'aria-hidden': 'true' }),
            `Scanning ${namedRoots(scan.roots, scan.rootCount)}`,
          ),
          bar,
          h(
            'div',
            { class: 'scan-figures' },
            h(
              'span',
              { class: 'scan-count' },
              scan.total === null ? `${scan.done} files` : `${scan.done} / ${scan.total} files`,
            ),
            h('span', null, `${scan.rate.toFixed(1)} files/s`),
            h('span', null, `ETA ${duration(scan.etaSeconds)}`),
            h(
              'button',
              { class: 'link-button', type: 'button', on: { click: () => this.callbacks.cancelScan() } },
              'Stop',
            ),
          ),
          scan.queued > 0
            ? h(
                'div',
                { class: 'scan-queued' },
                `Then ${scan.queued === 1 ? '1 more scan' : `${scan.queued} more scans`}: ${namedRoots(scan.queuedRoots, scan.queuedRootCount)}`,
              )
            : null,
        ),
      );
      this.scan.hidden = false;
    } else if (scan.last) {
      const last = scan.last;
      const text =
        last.outcome === 'failed'
          ? `Scan failed: ${last.error?.message ?? 'unknown error'}`
          : `Scan ${last.outcome}: ${last.files} files, ${last.analysed} analysed, ${last.rejected} rejected, ${last.errors} unreadable, in ${duration(last.seconds)}`;
      replace(this.scan, h('div', { class: `scan-done ${last.outcome}` }, text));
      this.scan.hidden = false;
    } else {
      this.scan.hidden = true;
    }
  }

  private renderChips(): void {
    const total = Object.values(this.counts).reduce((a, b) => a + b, 0);
    const chip = (priority: Priority | null, label: string, count: number) =>
      h(
        'button',
        {
          type: 'button',
          class: `chip ${priority ? priorityClass(priority) : 'chip-all'}`,
          'aria-pressed': String(this.filter === priority),
          'data-priority': priority ?? 'all',
          on: {
            click: () => {
              this.filter = this.filter === priority ? null : priority;
              this.renderChips();
              this.renderList();
            },
          },
        },
        label,
        h('span', { class: 'chip-count' }, count),
      );
    replace(
      this.chips,
      chip(null, 'All', total),
      ...ORDER.map((p) => chip(p, PRIORITY_LABELS[p], this.counts[p] ?? 0)),
    );
  }

  private renderList(): void {
    const studies = this.visible();
    if (this.studies.length === 0) {
      replace(
        this.list,
        h(
          'div',
          { class: 'empty' },
          h('p', { class: 'empty-title' }, 'No studies yet'),
          h(
            'p',
            null,
            'Open radiographs or a folder, or drop them on this window. DICOM, PNG and JPEG files are analysed and sorted by urgency.',
          ),
        ),
      );
      return;
    }
    if (studies.length === 0) {
      replace(
        this.list,
        h(
          'div',
          { class: 'empty' },
          h('p', { class: 'empty-title' }, 'No study matches'),
          h('p', null, 'Clear the search or the filter.'),
        ),
      );
      return;
    }
    replace(this.list, ...studies.map((study) => this.row(study)));
  }

  private row(study: WorklistStudyData): HTMLElement {
    const first = study.images[0];
    const status = statusLabel(study);
    // Each term once, from the most urgent image that has it (the images come in that order).
    const positives = new Map<string, WorklistStudyData['images'][number]['findings'][number]>();
    for (const image of study.images) {
      for (const f of image.findings) if (!positives.has(f.term)) positives.set(f.term, f);
    }
    const reason = study.images.find((i) => i.reason)?.reason ?? null;
    return h(
      'div',
      {
        class: `study ${priorityClass(study.priority)}`,
        role: 'option',
        'aria-selected': String(study.study === this.selected),
        'data-study': study.study,
        'data-priority': study.priority,
        tabindex: -1,
        on: { click: () => this.callbacks.select(study.study) },
      },
      h('span', { class: `badge ${priorityClass(study.priority)}` }, PRIORITY_LABELS[study.priority]),
      h(
        'div',
        { class: 'study-main' },
        h(
          'div',
          { class: 'study-title', title: study.images.map((i) => i.file).join('\n') },
          study.patient?.name
            ? h('span', { class: 'patient-name' }, study.patient.name)
            : h('span', { class: 'file-name' }, first.name),
          study.patient && sexAgeText(study.patient.sex, study.patient.age)
            ? h('span', { class: 'patient-sex-age' }, sexAgeText(study.patient.sex, study.patient.age))
            : null,
        ),
        h(
          'div',
          { class: 'study-sub', title: study.studyInstanceUID ? `Study Instance UID ${study.studyInstanceUID}` : '' },
          ...separated([
            study.patient?.id ? h('span', { class: 'patient-id' }, patientIdText(study.patient)) : null,
            ...examinationParts(study),
            study.accessionNumber || study.studyDate
              ? null
              : study.studyInstanceUID
                ? `Study ${shortUid(study.studyInstanceUID)}`
                : 'No study UID',
            `${study.images.length} image${study.images.length === 1 ? '' : 's'}`,
            // The file, where the patient's name took its place in the title.
            study.patient?.name ? h('span', { class: 'file-name' }, first.name) : null,
          ]),
        ),
        positives.size > 0
          ? h(
              'div',
              { class: 'study-findings' },
              ...[...positives].map(([term, f]) =>
                h(
                  'span',
                  { class: `finding-chip${f.indeterminate ? ' indeterminate' : ''}`, title: findingText(f) },
                  termLabel(term),
                  h('span', { class: 'votes' }, `${f.votes.positive}/${f.votes.total}`),
                  f.indeterminate ? h('span', { class: 'indeterminate-tag' }, 'indeterminate') : null,
                ),
              ),
            )
          : reason
            ? h('div', { class: 'study-reason' }, reason)
            : h('div', { class: 'study-none' }, study.images.some((i) => i.status === 'ok') ? 'No finding' : ''),
      ),
      h(
        'div',
        { class: 'study-side' },
        h('span', { class: `status status-${status.kind}` }, status.text),
        study.reviewed > 0
          ? h('span', { class: 'reviewed', title: 'Findings you accepted or rejected' }, `✓ ${study.reviewed}`)
          : null,
        study.notForClinicalUse
          ? h('span', { class: 'demo-tag', title: 'Analysed by a demonstration pack: not for clinical use' }, 'DEMO')
          : null,
      ),
    );
  }
}
