/**
 * The status bar and the "not for clinical use" banner: the execution provider in use (GPU or CPU,
 * and why faster ones were not used), the model pack and its members' versions, the database.
 * The banner shows whenever the loaded pack is a demonstration pack.
 */
import type { NodeStateData, StatusData } from '../../main/app/api/contract.js';
import { h, replace } from './dom.js';
import { shortPath } from './format.js';
import { nodeHeadline } from './node-form.js';

export class StatusBar {
  /** The DICOM node's state; a click opens its panel. */
  private readonly node = h(
    'button',
    { type: 'button', class: 'status-item link-button node-button', 'data-action': 'node', title: 'DICOM node (D)' },
    'DICOM node',
  );

  constructor(
    private readonly bar: HTMLElement,
    private readonly banner: HTMLElement,
  ) {
    replace(bar, h('span', { class: 'status-item muted' }, 'Starting the engine…'));
  }

  setNode(state: NodeStateData): void {
    this.node.textContent = `DICOM node: ${state.running ? nodeHeadline(state).replace(/^Listening as /, '') : 'off'}`;
    this.node.classList.toggle('on', state.running);
    this.node.dataset.running = String(state.running);
  }

  show(status: StatusData): void {
    const { pack } = status;
    const attempts = status.providerAttempts.map((a) => `${a.provider}: ${a.reason}`).join('\n');
    replace(
      this.bar,
      h(
        'span',
        {
          class: `status-item provider ${status.device === 'GPU' ? 'gpu' : 'cpu'}`,
          'data-provider': status.provider,
          title: attempts ? `Tried first:\n${attempts}` : `Execution provider: ${status.provider}`,
        },
        h('span', { class: 'provider-dot', 'aria-hidden': 'true' }),
        status.device === 'GPU' ? `GPU (${status.provider})` : 'CPU',
      ),
      h(
        'span',
        {
          class: 'status-item pack',
          'data-pack': `${pack.id}@${pack.version}`,
          title: pack.members.map((m) => `${m.id} ${m.version}: ${m.architecture}`).join('\n'),
        },
        `Pack ${pack.name} ${pack.version}`,
        h('span', { class: 'muted' }, ` · ${pack.rule} of ${pack.members.length}: `),
        pack.members.map((m) => `${m.id} ${m.version}`).join(', '),
      ),
      h('span', { class: 'status-item muted' }, `Taxonomy ${status.taxonomy}`),
      h('span', { class: 'status-spacer' }),
      h('span', { class: 'status-item muted', title: status.database }, `Results ${shortPath(status.database, 2)}`),
      this.node,
      h(
        'button',
        {
          type: 'button',
          class: 'status-item link-button validate-button',
          title: 'Measure the pack on your own labelled images (V)',
          'data-action': 'validate',
        },
        'Validate a pack',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'status-item link-button help-button',
          title: 'Keyboard shortcuts (?)',
          'data-action': 'help',
        },
        'Shortcuts ?',
      ),
    );
    this.banner.hidden = !status.notForClinicalUse;
    replace(
      this.banner,
      h('strong', null, 'NOT FOR CLINICAL USE'),
      ` · ${pack.demo ? 'Demonstration' : 'Unvalidated'} model pack ${pack.name} ${pack.version}: its results are for evaluation only and must not guide diagnosis.`,
    );
  }
}
