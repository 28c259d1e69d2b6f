/**
 * The DICOM node panel (a dialog over the window): the node's settings (AE title, port, the
 * listening address, which stays 127.0.0.1 unless "accept connections from other computers" is
 * ticked, the calling AE titles allowed, the stable time, the destinations, start with the app),
 * start and stop, what it received, the last association, the studies waiting to become stable,
 * the outbox per destination with a Test connection (C-ECHO) for each C-STORE peer, and the
 * latest outbox items. It shows AE titles, addresses, counts and reasons, never patient data.
 */
import type { EchoResultData, NodeStateData } from '../../main/app/api/contract.js';
import { describeError, invoke } from './api.js';
import { h, replace } from './dom.js';
import {
  destinationLabel,
  fieldsOf,
  LOOPBACK,
  nodeHeadline,
  sameSettings,
  settingsDestination,
  settingsOf,
  when,
} from './node-form.js';
import type { NodeFormFields } from './node-form.js';

/** While the panel is open it asks again this often (waiting studies, retries by backoff). */
const POLL_MS = 2_000;

export class NodePanel {
  private state: NodeStateData | null = null;
  private readonly echoes = new Map<string, EchoResultData | 'testing' | { error: string }>();
  private error: string | null = null;
  private timer: number | null = null;
  private busy = false;
  private readonly form: HTMLFormElement;
  private readonly inputs: {
    aeTitle: HTMLInputElement;
    port: HTMLInputElement;
    network: HTMLInputElement;
    host: HTMLInputElement;
    allowed: HTMLInputElement;
    stableSeconds: HTMLInputElement;
    destinations: HTMLTextAreaElement;
    startWithApp: HTMLInputElement;
  };
  private readonly headline = h('span', { class: 'node-headline', 'data-node': 'headline' });
  private readonly message = h('p', { class: 'node-message', role: 'status', 'data-node': 'message' });
  private readonly saveButton = h('button', { class: 'button', type: 'button', 'data-node': 'save' }, 'Save');
  private readonly startButton = h(
    'button',
    { class: 'button primary', type: 'button', 'data-node': 'start' },
    'Start',
  );
  private readonly stopButton = h('button', { class: 'button', type: 'button', 'data-node': 'stop' }, 'Stop');
  private readonly activity = h('section', { class: 'node-activity', 'aria-label': 'Activity' });
  private readonly outbox = h('section', { class: 'node-outbox', 'aria-label': 'Outbox' });

  constructor(
    private readonly dialog: HTMLDialogElement,
    private readonly changed: (state: NodeStateData) => void,
  ) {
    const field = (label: string, control: HTMLElement, hint?: string) =>
      h(
        'label',
        { class: 'node-field' },
        h('span', null, label),
        control,
        hint ? h('small', { class: 'muted' }, hint) : null,
      );
    this.inputs = {
      aeTitle: h('input', { name: 'aeTitle', maxLength: 16, spellcheck: false, autocomplete: 'off' }),
      port: h('input', { name: 'port', inputMode: 'numeric', maxLength: 5, autocomplete: 'off' }),
      network: h('input', { name: 'network', type: 'checkbox' }),
      host: h('input', { name: 'host', maxLength: 253, spellcheck: false, autocomplete: 'off' }),
      allowed: h('input', { name: 'allowed', spellcheck: false, autocomplete: 'off', placeholder: 'any' }),
      stableSeconds: h('input', { name: 'stableSeconds', inputMode: 'numeric', maxLength: 4, autocomplete: 'off' }),
      destinations: h('textarea', {
        name: 'destinations',
        rows: 3,
        spellcheck: false,
        placeholder: 'PACS@10.0.0.5:104\nhttp://pacs:8042/dicom-web',
      }),
      startWithApp: h('input', { name: 'startWithApp', type: 'checkbox' }),
    };
    this.inputs.network.addEventListener('change', () => {
      this.inputs.host.disabled = !this.inputs.network.checked || this.state?.running === true;
      if (!this.inputs.network.checked) this.inputs.host.value = LOOPBACK;
    });
    this.form = h(
      'form',
      { class: 'node-settings', 'aria-label': 'Settings', on: { submit: (event) => event.preventDefault() } },
      h(
        'fieldset',
        { class: 'node-fieldset' },
        h(
          'div',
          { class: 'node-row' },
          field('AE title', this.inputs.aeTitle),
          field('Port', this.inputs.port, '0: any free port'),
        ),
        h(
          'label',
          { class: 'node-check' },
          this.inputs.network,
          'Accept connections from other computers (listen on another address than 127.0.0.1)',
        ),
        field('Listening address', this.inputs.host),
        field('Calling AE titles allowed', this.inputs.allowed, 'comma-separated; empty: any'),
        field(
          'Stable after (seconds)',
          this.inputs.stableSeconds,
          'a study is triaged once nothing arrived for this long',
        ),
        field(
          'Destinations of results',
          this.inputs.destinations,
          'one per line: AET@HOST:PORT (C-STORE) or a STOW-RS URL',
        ),
        h('label', { class: 'node-check' }, this.inputs.startWithApp, 'Start with the app'),
      ),
      h('div', { class: 'node-actions' }, this.saveButton, this.startButton, this.stopButton),
    );
    this.saveButton.addEventListener('click', () => void this.act(() => this.save()));
    this.startButton.addEventListener('click', () => void this.act(() => this.start()));
    this.stopButton.addEventListener('click', () => void this.act(() => invoke('node.stop', {})));
    replace(
      dialog,
      h(
        'header',
        { class: 'node-header' },
        h('h2', null, 'DICOM node'),
        this.headline,
        h(
          'form',
          { method: 'dialog' },
          h('button', { class: 'button', type: 'submit', 'data-node': 'close' }, 'Close'),
        ),
      ),
      this.message,
      h('div', { class: 'node-grid' }, this.form, this.activity),
      this.outbox,
    );
    dialog.addEventListener('close', () => this.stopPolling());
  }

  /** Opens the panel with the node's state now. */
  async open(): Promise<void> {
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh(true);
    this.stopPolling();
    this.timer = window.setInterval(() => void this.refresh(false), POLL_MS);
  }

  get isOpen(): boolean {
    return this.dialog.open;
  }

  /** The node's state again (after node.changed, or the poll); the form is refilled only when asked. */
  async refresh(refillForm: boolean): Promise<NodeStateData | null> {
    try {
      this.show(await invoke('node.get', {}), refillForm);
    } catch (thrown) {
      this.error = describeError(thrown).message;
      this.render();
    }
    return this.state;
  }

  private stopPolling(): void {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
  }

  private fields(): NodeFormFields {
    const i = this.inputs;
    return {
      aeTitle: i.aeTitle.value,
      port: i.port.value,
      network: i.network.checked,
      host: i.host.value,
      allowed: i.allowed.value,
      stableSeconds: i.stableSeconds.value,
      destinations: i.destinations.value,
      startWithApp: i.startWithApp.checked,
    };
  }

  private fill(fields: NodeFormFields): void {
    const i = this.inputs;
    i.aeTitle.value = fields.aeTitle;
    i.port.value = fields.port;
    i.network.checked = fields.network;
    i.host.value = fields.host;
    i.allowed.value = fields.allowed;
    i.stableSeconds.value = fields.stableSeconds;
    i.destinations.value = fields.destinations;
    i.startWithApp.checked = fields.startWithApp;
  }

  private async save(): Promise<NodeStateData> {
    return invoke('node.configure', { settings: settingsOf(this.fields()) });
  }

  /** Saves what the form says when it differs from the saved settings, then starts. */
  private async start(): Promise<NodeStateData> {
    const wanted = settingsOf(this.fields());
    if (!this.state || this.state.settingsError || !sameSettings(wanted, this.state.settings)) {
      this.show(await invoke('node.configure', { settings: wanted }), true);
    }
    return invoke('node.start', {});
  }

  private async act(work: () => Promise<NodeStateData>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error = null;
    this.render();
    try {
      this.show(await work(), true);
    } catch (thrown) {
      this.error = describeError(thrown).message;
      await this.refresh(false);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  private async test(destination: string, name: string): Promise<void> {
    this.echoes.set(name, 'testing');
    this.render();
    try {
      this.echoes.set(name, await invoke('node.echo', { destination }));
    } catch (thrown) {
      this.echoes.set(name, { error: describeError(thrown).message });
    }
    this.render();
  }

  private async retry(name: string): Promise<void> {
    try {
      const answer = await invoke('node.retry', { destination: name });
      this.show(answer.node, false);
    } catch (thrown) {
      this.error = describeError(thrown).message;
      this.render();
    }
  }

  private show(state: NodeStateData, refillForm: boolean): void {
    this.state = state;
    if (refillForm) this.fill(fieldsOf(state.settings));
    this.render();
    this.changed(state);
  }

  private render(): void {
    const state = this.state;
    const running = state?.running ?? false;
    this.dialog.dataset.running = String(running);
    this.headline.textContent = state ? nodeHeadline(state) : 'Loading…';
    this.headline.classList.toggle('on', running);
    const problem = this.error ?? state?.settingsError?.message ?? state?.problem?.message ?? null;
    this.message.textContent = problem ?? '';
    this.message.hidden = problem === null;
    for (const input of Object.values(this.inputs)) input.disabled = running || this.busy;
    this.inputs.host.disabled = running || this.busy || !this.inputs.network.checked;
    this.saveButton.disabled = running || this.busy;
    this.startButton.disabled = running || this.busy;
    this.stopButton.disabled = !running || this.busy;
    if (!state) return;
    this.renderActivity(state);
    this.renderOutbox(state);
  }

  private renderActivity(state: NodeStateData): void {
    const count = (label: string, value: number, key: string) =>
      h('div', { class: 'node-count', 'data-count': key }, h('strong', null, value), h('span', null, label));
    const last = state.lastAssociation;
    replace(
      this.activity,
      h('h3', null, 'Received since it started'),
      h(
        'div',
        { class: 'node-counts' },
        count('instances', state.received.instances, 'instances'),
        count('duplicates', state.received.duplicates, 'duplicates'),
        count('own results ignored', state.received.ownResults, 'ownResults'),
        count('refused', state.received.refused, 'refused'),
      ),
      h(
        'p',
        { 'data-node': 'waiting' },
        state.waiting.studies === 0
          ? 'No study waiting to become stable.'
          : `${state.waiting.studies} ${state.waiting.studies === 1 ? 'study' : 'studies'} (${state.waiting.instances} instances) waiting to become stable.`,
        state.triaging ? ' Triaging now.' : '',
      ),
      h('p', { 'data-node': 'triaged' }, `Triaged: ${state.triaged.studies} studies, ${state.triaged.images} images.`),
      h('h3', null, 'Last association'),
      last
        ? h(
            'p',
            { 'data-node': 'association', class: last.accepted ? 'accepted' : 'refused' },
            h('strong', null, last.calling),
            ` from ${last.remote} · `,
            last.accepted ? 'accepted' : `refused: ${last.reason ?? 'no reason given'}`,
            h('span', { class: 'muted' }, ` · ${when(last.at)}`),
          )
        : h('p', { class: 'muted', 'data-node': 'association' }, 'None since it started.'),
    );
  }

  private renderOutbox(state: NodeStateData): void {
    const echoCell = (name: string) => {
      const text = settingsDestination(state.settings, name);
      if (!text) return h('td', { class: 'muted' }, name.startsWith('stow:') ? 'no C-ECHO for STOW-RS' : '');
      const result = this.echoes.get(name);
      return h(
        'td',
        { class: 'node-echo' },
        h(
          'button',
          {
            class: 'button small',
            type: 'button',
            'data-echo': name,
            disabled: result === 'testing',
            on: { click: () => void this.test(text, name) },
          },
          'Test connection',
        ),
        result === undefined
          ? null
          : result === 'testing'
            ? h('span', { class: 'muted', 'data-echo-result': name }, ' testing…')
            : 'error' in result
              ? h('span', { class: 'echo-failed', 'data-echo-result': name }, ` ${result.error}`)
              : result.ok
                ? h('span', { class: 'echo-ok', 'data-echo-result': name }, ` OK · ${result.ms} ms`)
                : h(
                    'span',
                    { class: 'echo-failed', 'data-echo-result': name },
                    ` Failed · ${result.detail ?? 'no answer'}`,
                  ),
      );
    };
    replace(
      this.outbox,
      h('h3', null, 'Outbox'),
      state.outbox.length === 0
        ? h('p', { class: 'muted' }, 'No destination: results are written to the results folder only.')
        : h(
            'table',
            { class: 'node-table', 'data-node': 'outbox' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ...['Destination', 'Sent', 'Pending', 'Failed', 'Reason', 'Connection'].map((t) => h('th', null, t)),
              ),
            ),
            h(
              'tbody',
              null,
              ...state.outbox.map((row) =>
                h(
                  'tr',
                  { 'data-destination': row.destination },
                  h(
                    'td',
                    null,
                    destinationLabel(row.destination),
                    row.configured ? null : h('span', { class: 'muted' }, ' (no longer configured)'),
                  ),
                  h('td', { class: 'num sent' }, row.sent),
                  h('td', { class: `num ${row.pending > 0 ? 'pending' : ''}` }, row.pending),
                  h(
                    'td',
                    { class: `num ${row.failed > 0 ? 'failed' : ''}` },
                    row.failed,
                    row.failed > 0
                      ? h(
                          'button',
                          {
                            class: 'link-button',
                            type: 'button',
                            'data-retry': row.destination,
                            on: { click: () => void this.retry(row.destination) },
                          },
                          ' retry',
                        )
                      : null,
                  ),
                  h('td', { class: 'reason' }, row.pending + row.failed > 0 ? (row.lastError ?? '') : ''),
                  echoCell(row.destination),
                ),
              ),
            ),
          ),
      h('h3', null, 'Recent items'),
      state.recent.length === 0
        ? h('p', { class: 'muted' }, 'Nothing sent yet.')
        : h(
            'table',
            { class: 'node-table', 'data-node': 'recent' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ...['Queued', 'Destination', 'Object', 'State', 'Attempts', 'Reason'].map((t) => h('th', null, t)),
              ),
            ),
            h(
              'tbody',
              null,
              ...state.recent.map((item) =>
                h(
                  'tr',
                  { 'data-state': item.state },
                  h('td', null, when(item.createdAt)),
                  h('td', null, destinationLabel(item.destination)),
                  h('td', null, item.kind),
                  h('td', { class: `state ${item.state}` }, item.state),
                  h('td', { class: 'num' }, item.attempts),
                  h('td', { class: 'reason' }, item.state === 'sent' ? '' : (item.lastError ?? '')),
                ),
              ),
            ),
          ),
    );
  }
}
