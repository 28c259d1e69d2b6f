/**
 * The findings of the image on screen, in the PadChest hierarchy: a collapsible tree (findings and
 * differential diagnoses), each node with the ensemble's calibrated probability (>= 50% exactly
 * when the vote calls it), "k of n models", "indeterminate" when that value lies in the pack's
 * band, the spread between the members, and each member's value; positive findings first; a term
 * no model of the pack was trained on says "not assessed". The reader accepts or rejects each
 * finding (stored with the time). A clear state for no positive finding; a rejected or unreadable
 * image shows why instead.
 */
import type { FeedbackData, FindingData, ImageResultData } from '../../main/app/api/contract.js';
import { h, replace } from './dom.js';
import { percent, termLabel, timeOfDay } from './format.js';
import { buildTree, findingKey, hasHeatmap } from './tree.js';
import type { TreeNode } from './tree.js';
import { PRIORITY_LABELS, priorityClass } from './worklist-filter.js';
import type { Tree, Verdict } from '../../main/common/index.js';
import { TREES } from '../../main/common/index.js';

export interface FindingsCallbacks {
  /** A finding was selected (its heatmap is shown when it has one). */
  select(key: string | null): void;
  /** Accept (agree), reject (disagree) or withdraw (null). */
  verdict(finding: FindingData, verdict: Verdict | null): void;
}

const TREE_NAMES: Record<FindingData['tree'], string> = {
  finding: 'Radiological findings',
  diagnosis: 'Differential diagnoses',
};

/** What the ensemble's probability is, per voting rule (main/ensemble's ensembleProbability). */
const ENSEMBLE_MEANING: Record<string, string> = {
  majority: 'the value a majority of the models reaches',
  any: 'the highest model’s value',
  all: 'the lowest model’s value',
  'soft-mean': 'the models’ mean, calibrated at the rule’s threshold',
};

const NOT_ASSESSED_TITLE = 'No model of this pack was trained on this finding: the image was not assessed for it';

export class FindingsPanel {
  private image: ImageResultData | null = null;
  /** The image's findings as a forest: built once per show(), not on every render. */
  private roots: TreeNode[] = [];
  private selected: string | null = null;
  private readonly expanded = new Set<string>();
  private readonly collapsed = new Set<string>();
  private readonly body: HTMLElement;
  private readonly header: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly callbacks: FindingsCallbacks,
  ) {
    this.header = h('div', { class: 'panel-head findings-head' });
    this.body = h('div', { class: 'findings-body' });
    replace(root, this.header, this.body);
    this.show(null);
  }

  /** The selected finding's data, when it is a finding the engine reported. */
  selectedFinding(): FindingData | null {
    if (!this.image || !this.selected) return null;
    return this.image.findings.find((f) => findingKey(f) === this.selected) ?? null;
  }

  show(image: ImageResultData | null, keepSelection = false): void {
    const sameImage = image !== null && this.image?.file === image.file;
    this.image = image;
    this.roots = image ? buildTree(image.findings) : [];
    if (!sameImage || !keepSelection) {
      this.expanded.clear();
      this.collapsed.clear();
      // The most probable positive finding that has a heatmap is selected first.
      const first = image?.findings.find((f) => hasHeatmap(f)) ?? null;
      this.selected = first ? findingKey(first) : null;
    }
    this.render();
  }

  select(key: string | null): void {
    this.selected = key;
    this.render();
    this.callbacks.select(key);
  }

  /** Moves the selection through the visible rows that carry a finding. */
  move(step: 1 | -1): void {
    const rows = [...this.body.querySelectorAll<HTMLElement>('[role="treeitem"][data-key]')];
    const keys = [...new Set(rows.map((r) => r.dataset.key!))];
    if (keys.length === 0) return;
    const index = this.selected ? keys.indexOf(this.selected) : -1;
    const next = keys[Math.min(keys.length - 1, Math.max(0, index + step))];
    this.select(next);
  }

  setFeedback(feedback: FeedbackData[]): void {
    if (!this.image) return;
    this.image = { ...this.image, feedback };
    this.render();
  }

  private render(): void {
    const image = this.image;
    if (!image) {
      replace(this.header, h('h2', null, 'Findings'));
      replace(this.body, h('div', { class: 'empty' }, h('p', null, 'The findings of the selected image appear here.')));
      return;
    }
    replace(
      this.header,
      h('h2', null, 'Findings'),
      h(
        'div',
        { class: 'findings-meta' },
        image.priority
          ? h('span', { class: `badge ${priorityClass(image.priority)}` }, PRIORITY_LABELS[image.priority])
          : null,
        image.notForClinicalUse
          ? h('span', { class: 'demo-tag', title: 'Produced by a demonstration model pack' }, 'NOT FOR CLINICAL USE')
          : null,
      ),
    );
    const sections: HTMLElement[] = [];
    if (image.status === 'rejected') {
      sections.push(
        h(
          'div',
          { class: 'state-card rejected', role: 'note' },
          // Refused by the pack's image-based gate after the models ran (its report says which check).
          ...(image.gate && !image.gate.passed
            ? [
                h('p', { class: 'state-title' }, 'Refused: unlike the images this model pack was trained on'),
                h('p', { class: 'state-reason' }, image.reason),
                h(
                  'p',
                  { class: 'muted' },
                  "The pack's out-of-distribution gate refused it: its models' findings would mean nothing here. Review this image yourself.",
                ),
              ]
            : [
                h('p', { class: 'state-title' }, 'Not analysed: rejected by the input gate'),
                h('p', { class: 'state-reason' }, image.reason ?? 'No reason was recorded.'),
                h(
                  'p',
                  { class: 'muted' },
                  'The models read frontal chest radiographs only. Review this image yourself.',
                ),
              ]),
        ),
      );
    } else if (image.status === 'error') {
      sections.push(
        h(
          'div',
          { class: 'state-card error', role: 'note' },
          h('p', { class: 'state-title' }, 'This file could not be read'),
          h(
            'p',
            { class: 'state-reason' },
            image.error ? `${image.error.message}` : (image.reason ?? 'Unknown error.'),
          ),
          image.error ? h('p', { class: 'muted' }, `Error ${image.error.code}`) : null,
        ),
      );
    } else if (image.status === 'duplicate') {
      sections.push(
        h(
          'div',
          { class: 'state-card', role: 'note' },
          h('p', { class: 'state-title' }, 'Duplicate'),
          h('p', { class: 'state-reason' }, image.reason ?? `Same image as ${image.duplicateOf}`),
        ),
      );
    } else {
      const positives = image.findings.filter((f) => f.positive && f.direct);
      const covered = image.findings.filter((f) => f.direct && f.votes.total > 0).length;
      const unassessed = image.findings.filter((f) => !f.assessed);
      sections.push(
        positives.length === 0
          ? h(
              'div',
              { class: 'state-card clear', role: 'status', 'data-state': 'no-finding' },
              h('p', { class: 'state-title' }, 'No finding'),
              h(
                'p',
                null,
                `None of the ${covered} findings the models cover reaches its operating point on this image.`,
              ),
            )
          : h(
              'div',
              { class: 'summary', role: 'status', 'data-state': 'positive' },
              `${positives.length} positive finding${positives.length === 1 ? '' : 's'}: `,
              positives.map((f) => `${termLabel(f.term)}${f.indeterminate ? ' (indeterminate)' : ''}`).join(', '),
            ),
      );
      if (unassessed.length > 0) {
        sections.push(
          h(
            'div',
            { class: 'not-assessed-note', role: 'note', title: NOT_ASSESSED_TITLE },
            unassessed.map((f) => `${termLabel(f.term)}: not assessed`).join('; '),
          ),
        );
      }
      sections.push(this.tree(image));
    }
    sections.push(this.provenance(image));
    replace(this.body, ...sections);
  }

  private tree(image: ImageResultData): HTMLElement {
    const verdicts = new Map(image.feedback.map((f) => [findingKey(f), f]));
    const byTree = new Map<FindingData['tree'], TreeNode[]>();
    for (const root of this.roots) byTree.set(root.tree, [...(byTree.get(root.tree) ?? []), root]);
    const container = h('div', { class: 'tree', role: 'tree', 'aria-label': 'Findings in the PadChest hierarchy' });
    const order: readonly Tree[] = TREES;
    for (const tree of order) {
      const nodes = byTree.get(tree);
      if (!nodes) continue;
      // A tree whose roots are groups (e.g. the diagnoses) is titled; finding roots are findings.
      container.appendChild(h('div', { class: 'tree-title' }, TREE_NAMES[tree]));
      const group = h('div', { role: 'group' });
      for (const node of nodes) this.node(node, 1, group, verdicts);
      container.appendChild(group);
    }
    return container;
  }

  /** Open by default: nodes with something positive inside; the rest fold away. */
  private isOpen(node: TreeNode): boolean {
    if (this.expanded.has(node.id)) return true;
    if (this.collapsed.has(node.id)) return false;
    // With nothing positive, the reader sees every finding's value at once.
    return node.positiveWithin || !(this.image?.findings.some((f) => f.positive) ?? false);
  }

  private node(node: TreeNode, depth: number, parent: HTMLElement, verdicts: Map<string, FeedbackData>): void {
    const finding = node.finding;
    const key = finding ? findingKey(finding) : null;
    const open = node.children.length > 0 && this.isOpen(node);
    const detailsOpen = this.expanded.has(`${node.id}#members`);
    const selected = key !== null && key === this.selected;
    const verdict = key ? verdicts.get(key) : undefined;
    const toggle = (event: Event) => {
      event.stopPropagation();
      if (open) {
        this.expanded.delete(node.id);
        this.collapsed.add(node.id);
      } else {
        this.collapsed.delete(node.id);
        this.expanded.add(node.id);
      }
      this.render();
    };
    const row = h(
      'div',
      {
        class: `node depth-${Math.min(depth, 6)}${finding?.positive ? ' positive' : ''}${finding ? '' : ' group'}${finding && !finding.assessed ? ' unassessed' : ''}${selected ? ' selected' : ''}`,
        role: 'treeitem',
        'aria-level': depth,
        'aria-expanded': node.children.length > 0 ? String(open) : undefined,
        'aria-selected': String(selected),
        'data-key': key ?? undefined,
        'data-term': node.term,
        'data-tree': node.tree,
        'data-positive': finding ? String(finding.positive) : undefined,
        on: {
          click: () => {
            if (key) this.select(key);
            else if (node.children.length > 0) toggle(new Event('click'));
          },
        },
      },
      node.children.length > 0
        ? h(
            'button',
            {
              type: 'button',
              class: 'twisty',
              'aria-label': open ? `Collapse ${node.term}` : `Expand ${node.term}`,
              on: { click: toggle },
            },
            open ? '▾' : '▸',
          )
        : h('span', { class: 'twisty-space' }),
      h('span', { class: `dot${finding?.positive ? ' on' : ''}`, 'aria-hidden': 'true' }),
      h(
        'span',
        { class: 'node-main' },
        h(
          'span',
          {
            class: 'term',
            title: finding?.cui ? `${termLabel(node.term)} (UMLS ${finding.cui})` : termLabel(node.term),
          },
          termLabel(node.term),
        ),
        finding ? this.figures(finding) : null,
      ),
      finding?.probability
        ? h(
            'span',
            {
              class: 'probability',
              title: 'The ensemble’s calibrated probability: 50% is the operating point',
            },
            percent(finding.probability.ensemble),
          )
        : h('span', { class: 'probability' }),
      finding && finding.direct && finding.votes.total > 0
        ? this.verdictButtons(finding, verdict)
        : h('span', { class: 'verdicts' }),
    );
    parent.appendChild(row);
    const member = finding && Object.keys(finding.perModel).length > 0;
    if (finding && (selected || detailsOpen)) parent.appendChild(this.details(finding, depth, verdict, !!member));
    if (open) {
      const group = h('div', { role: 'group' });
      for (const child of node.children) this.node(child, depth + 1, group, verdicts);
      parent.appendChild(group);
    }
  }

  /**
   * The line under the term: votes (or what a rolled-up parent stands for, or "not assessed"),
   * "indeterminate" when it is, and the probability bar.
   */
  private figures(finding: FindingData): HTMLElement {
    if (!finding.assessed) {
      return h(
        'span',
        { class: 'node-sub' },
        h('span', { class: 'not-assessed', title: NOT_ASSESSED_TITLE }, 'not assessed'),
      );
    }
    const probability = finding.probability;
    const band = this.image?.pack.indeterminate;
    let bar: HTMLElement | null = null;
    if (probability) {
      bar = h('span', {
        class: 'bar',
        'aria-hidden': 'true',
        title:
          'The ensemble’s probability (fill), the models’ range (line), the indeterminate band (shade), the operating point (tick)',
      });
      const shade = h('span', { class: 'bar-band' });
      if (band) {
        shade.style.left = `${band.low * 100}%`;
        shade.style.width = `${(band.high - band.low) * 100}%`;
      }
      const fill = h('span', { class: `bar-fill${finding.positive ? ' positive' : ''}` });
      fill.style.width = `${Math.min(1, Math.max(0, probability.ensemble)) * 100}%`;
      const range = h('span', { class: 'bar-range' });
      range.style.left = `${Math.round(probability.min * 100)}%`;
      range.style.width = `${Math.max(1, Math.round((probability.max - probability.min) * 100))}%`;
      bar.append(shade, fill, range, h('span', { class: 'bar-threshold' }));
    }
    return h(
      'span',
      { class: 'node-sub' },
      finding.direct
        ? h(
            'span',
            { class: 'votes', title: 'Models voting positive of the models that cover this finding' },
            `${finding.votes.positive} of ${finding.votes.total} models`,
          )
        : h(
            'span',
            { class: 'votes', title: 'Positive because a finding below it is' },
            `via ${finding.supportedBy.map(termLabel).join(', ')}`,
          ),
      finding.indeterminate
        ? h(
            'span',
            {
              class: 'indeterminate-tag',
              title: band
                ? `Within the pack’s indeterminate band, ${percent(band.low)} to ${percent(band.high)}: too close to the operating point to call with confidence. The vote still decides.`
                : undefined,
            },
            'indeterminate',
          )
        : null,
      bar,
    );
  }

  private verdictButtons(finding: FindingData, verdict: FeedbackData | undefined): HTMLElement {
    const button = (value: Verdict, label: string, title: string) =>
      h(
        'button',
        {
          type: 'button',
          class: `verdict verdict-${value}`,
          'aria-pressed': String(verdict?.verdict === value),
          'aria-label': `${value === 'agree' ? 'Accept' : 'Reject'} ${finding.term}`,
          title,
          on: {
            click: (event: MouseEvent) => {
              event.stopPropagation();
              this.callbacks.verdict(finding, verdict?.verdict === value ? null : value);
            },
          },
        },
        label,
      );
    return h(
      'span',
      { class: 'verdicts' },
      button('agree', '✓', 'Accept: I agree with the models (A)'),
      button('disagree', '✗', 'Reject: I disagree with the models (X)'),
    );
  }

  private details(
    finding: FindingData,
    depth: number,
    verdict: FeedbackData | undefined,
    members: boolean,
  ): HTMLElement {
    const probability = finding.probability;
    const values = Object.entries(finding.perModel).sort(([a], [b]) => a.localeCompare(b));
    return h(
      'div',
      { class: `node-details depth-${Math.min(depth, 6)}`, 'data-details': findingKey(finding) },
      probability
        ? h(
            'div',
            { class: 'detail-line' },
            `Ensemble ${percent(probability.ensemble)}, ${ENSEMBLE_MEANING[this.image?.pack.rule ?? ''] ?? 'by the pack’s rule'} · mean ${percent(probability.mean)} · spread ${percent(probability.min)}–${percent(probability.max)} (${Math.round((probability.max - probability.min) * 100)} points)`,
          )
        : null,
      finding.indeterminate && probability && this.image
        ? h(
            'div',
            { class: 'detail-line indeterminate-note' },
            `Indeterminate: ${percent(probability.ensemble)} lies in the pack’s band, ${percent(this.image.pack.indeterminate.low)} to ${percent(this.image.pack.indeterminate.high)}; the vote calls it ${probability.ensemble >= 0.5 ? 'positive' : 'negative'}.`,
          )
        : null,
      !finding.assessed ? h('div', { class: 'detail-line muted' }, `Not assessed. ${NOT_ASSESSED_TITLE}.`) : null,
      members
        ? h(
            'ul',
            { class: 'members', 'aria-label': 'Each model’s calibrated probability' },
            ...values.map(([id, value]) =>
              h(
                'li',
                { class: value >= 0.5 ? 'member positive' : 'member' },
                h('span', { class: 'member-id' }, id),
                h('span', { class: 'member-value' }, percent(value)),
                h('span', { class: 'member-vote' }, value >= 0.5 ? 'positive' : 'negative'),
              ),
            ),
          )
        : null,
      !finding.direct && finding.supportedBy.length > 0
        ? h('div', { class: 'detail-line muted' }, `Rolled up from ${finding.supportedBy.map(termLabel).join(', ')}`)
        : null,
      verdict
        ? h(
            'div',
            { class: `detail-line verdict-note ${verdict.verdict}` },
            `${verdict.verdict === 'agree' ? 'Accepted' : 'Rejected'} by you at ${timeOfDay(verdict.at)}`,
          )
        : null,
    );
  }

  private provenance(image: ImageResultData): HTMLElement {
    return h(
      'details',
      { class: 'provenance' },
      h('summary', null, 'Provenance'),
      h(
        'dl',
        null,
        h('dt', null, 'Pack'),
        h(
          'dd',
          null,
          `${image.pack.id} ${image.pack.version} (${image.pack.rule} vote)${image.pack.demo ? ', demonstration' : ''}`,
        ),
        h('dt', null, 'Indeterminate'),
        h(
          'dd',
          null,
          `${percent(image.pack.indeterminate.low)} to ${percent(image.pack.indeterminate.high)} (the vote still decides)`,
        ),
        h('dt', null, 'Provider'),
        h('dd', null, image.executionProvider),
        h('dt', null, 'Analysed'),
        h('dd', null, timeOfDay(image.scannedAt)),
        ...image.models.flatMap((model) => [
          h('dt', null, model.id),
          h(
            'dd',
            null,
            `v${model.version} · sha256 ${model.sha256.slice(0, 12)}…`,
            h(
              'div',
              { class: 'muted' },
              Object.entries(model.operatingPoints)
                .map(([label, point]) => `${label} ${point}`)
                .join(', ') || 'no trained labels',
            ),
          ),
        ]),
        image.notes.length > 0 ? h('dt', null, 'Notes') : null,
        image.notes.length > 0 ? h('dd', null, image.notes.join('; ')) : null,
      ),
      h('div', { class: 'muted file-path' }, image.file),
    );
  }
}
