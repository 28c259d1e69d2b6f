/**
 * The DICOM node (main/node) in the desktop app: run in the engine process, on the same engine,
 * results store and triage rules as the window's scans, so what it receives and triages lands in
 * the same worklist (and the window is told, as after a scan). Its settings persist in a small
 * JSON file beside the results database, validated with the contract's schema when read; a bad
 * file is INVALID_SETTINGS (the defaults are shown, nothing starts by itself). The node starts
 * with the app only when the user turned that on, and listens on 127.0.0.1 unless the user chose
 * another address. What it reports to the window and the log is AE titles, addresses, counts and
 * reasons: never patient data or UIDs.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { echo, isValidAeTitle } from '../../dimse/index.js';
import type { Engine } from '../../engine/index.js';
import { describeIssues, toTriageError, TriageError } from '../../errors/index.js';
import { log } from '../../log/index.js';
import { DicomNode, destinationName, parseDestination } from '../../node/index.js';
import type { NodeDestination, NodeEvent } from '../../node/index.js';
import type { ResultStore } from '../../store/index.js';
import type { TriageRules } from '../../triage/index.js';
import { LOOPBACK, NodeSettings } from './contract.js';
import type { ApiError, ApiEmit, EchoResultData, NodeSettingsData, NodeStateData } from './contract.js';

export const NODE_SETTINGS_FILE = 'dicom-node.json';
/** The settings file's own bound: a few kilobytes hold every allowed setting. */
const MAX_SETTINGS_BYTES = 64 * 1024;
/** Recent outbox items the panel lists. */
export const RECENT_OUTBOX = 30;
/** The window hears of node events at most this often (a push of many instances is many events). */
export const NODE_DEBOUNCE_MS = 300;
const ECHO_TIMEOUT_MS = 10_000;

export const DEFAULT_NODE_SETTINGS: NodeSettingsData = {
  aeTitle: 'CXR_TRIAGE',
  port: 11112,
  host: LOOPBACK,
  allowedCallingAeTitles: [],
  stableSeconds: 10,
  destinations: [],
  startWithApp: false,
};

/** Reads the settings file: the defaults when there is none; INVALID_SETTINGS when it cannot be used. */
export async function readNodeSettings(file: string): Promise<NodeSettingsData> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_SETTINGS_BYTES)
      throw new TriageError(
        'INVALID_SETTINGS',
        `The DICOM node settings file is larger than ${MAX_SETTINGS_BYTES} bytes.`,
      );
    text = bytes.toString('utf8');
  } catch (thrown) {
    if ((thrown as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEFAULT_NODE_SETTINGS };
    if (thrown instanceof TriageError) throw thrown;
    throw new TriageError('INVALID_SETTINGS', 'The DICOM node settings file cannot be read.');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TriageError('INVALID_SETTINGS', 'The DICOM node settings file is not JSON.');
  }
  const parsed = NodeSettings.safeParse(json);
  if (!parsed.success)
    throw new TriageError(
      'INVALID_SETTINGS',
      `The DICOM node settings file does not match its format: ${describeIssues(parsed.error)}.`,
    );
  checkSettings(parsed.data);
  return parsed.data;
}

/** The engine side's own checks, beyond the schema (the node's parsers, which it uses to run). */
export function checkSettings(settings: NodeSettingsData): NodeDestination[] {
  if (!isValidAeTitle(settings.aeTitle)) throw new TriageError('USAGE', `"${settings.aeTitle}" is not an AE title.`);
  for (const ae of settings.allowedCallingAeTitles)
    if (!isValidAeTitle(ae)) throw new TriageError('USAGE', `"${ae}" is not an AE title.`);
  return settings.destinations.map(parseDestination);
}

async function writeSettingsFile(file: string, settings: NodeSettingsData): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, file);
  } catch (thrown) {
    throw new TriageError(
      'OUTPUT_FAILED',
      `The DICOM node settings could not be saved: ${toTriageError(thrown).message}`,
    );
  }
}

const coded = (thrown: unknown): ApiError => {
  const error = toTriageError(thrown);
  return { code: error.code, message: error.message };
};

export interface NodeControlOptions {
  engine: Engine;
  store: ResultStore;
  rules: TriageRules;
  emit: ApiEmit;
  /** The settings file (NODE_SETTINGS_FILE beside the database in the app). */
  settingsFile: string;
  /** Received instances and result objects (receivedFolder(database) in the app). */
  dataDir: string;
  /** The worklist changed: the node triaged a study. */
  onResults: () => void;
}

export class NodeControl {
  private settings: NodeSettingsData = { ...DEFAULT_NODE_SETTINGS };
  private settingsError: ApiError | null = null;
  private node: DicomNode | null = null;
  /** A start or a stop under way: the next one waits for it. */
  private busy: Promise<unknown> = Promise.resolve();
  private problem: NodeStateData['problem'] = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: NodeControlOptions) {}

  /** Reads the settings file, and starts the node if the user asked for that. Never throws. */
  async open(): Promise<void> {
    try {
      this.settings = await readNodeSettings(this.options.settingsFile);
    } catch (thrown) {
      this.settingsError = coded(thrown);
      log('warn', 'node-settings-invalid', { code: this.settingsError.code });
      return;
    }
    if (this.settings.startWithApp) {
      try {
        await this.start();
      } catch {
        // Recorded as the node's problem, shown in the panel.
      }
    }
  }

  async configure(settings: NodeSettingsData): Promise<NodeStateData> {
    await this.busy;
    if (this.node)
      throw new TriageError('NODE_RUNNING', 'The DICOM node is running; stop it before changing its settings.');
    checkSettings(settings);
    await writeSettingsFile(this.options.settingsFile, settings);
    this.settings = settings;
    this.settingsError = null;
    this.changed();
    return this.state();
  }

  async start(): Promise<NodeStateData> {
    const work = this.busy.then(() => this.startNow());
    this.busy = work.catch(() => undefined);
    await work;
    return this.state();
  }

  async stop(): Promise<NodeStateData> {
    const work = this.busy.then(() => this.stopNow());
    this.busy = work.catch(() => undefined);
    await work;
    return this.state();
  }

  async echo(destination: string): Promise<EchoResultData> {
    const wanted = destination.trim();
    if (!this.settings.destinations.some((d) => d.trim() === wanted))
      throw new TriageError('INVALID_REQUEST', 'Only a destination in the saved settings can be tested.');
    const parsed = parseDestination(wanted);
    if (parsed.kind !== 'dicom')
      throw new TriageError('INVALID_REQUEST', 'A STOW-RS URL has no C-ECHO; only C-STORE destinations can be tested.');
    const outcome = await echo(parsed.peer, { callingAeTitle: this.settings.aeTitle, timeoutMs: ECHO_TIMEOUT_MS });
    return {
      destination: destinationName(parsed),
      ok: outcome.ok,
      ms: Math.max(0, Math.round(outcome.ms)),
      detail: outcome.detail,
    };
  }

  retry(destination: string): number {
    const retried = this.options.store.outbox.retryFailed(destination);
    if (retried > 0) this.changed();
    return retried;
  }

  state(): NodeStateData {
    const status = this.node?.status() ?? null;
    const configured = new Map(
      this.settings.destinations.flatMap((text) => {
        try {
          const destination = parseDestination(text);
          return [[destinationName(destination), destination.kind] as const];
        } catch {
          return [];
        }
      }),
    );
    const counts = new Map(this.options.store.outbox.counts().map((row) => [row.destination, row]));
    const names = [...configured.keys(), ...[...counts.keys()].filter((name) => !configured.has(name))];
    return {
      settings: this.settings,
      settingsError: this.settingsError,
      running: status?.listening ?? false,
      listening: status?.listening ? { aeTitle: status.aet, host: status.host, port: status.port } : null,
      received: status?.received ?? { instances: 0, duplicates: 0, ownResults: 0, refused: 0 },
      waiting: status?.waiting ?? { studies: 0, instances: 0 },
      triaged: status?.triaged ?? { studies: 0, images: 0 },
      triaging: status?.triaging ?? false,
      lastAssociation: status?.lastAssociation ?? null,
      problem: this.problem,
      outbox: names.map((name) => {
        const row = counts.get(name);
        return {
          destination: name,
          kind: configured.get(name) ?? (name.startsWith('stow:') ? 'stow' : 'dicom'),
          configured: configured.has(name),
          pending: row?.pending ?? 0,
          sent: row?.sent ?? 0,
          failed: row?.failed ?? 0,
          lastError: row?.lastError ?? null,
        };
      }),
      recent: this.options.store.outbox.recent(RECENT_OUTBOX).map((item) => ({
        destination: item.destination,
        kind: item.kind,
        state: item.state,
        attempts: item.attempts,
        lastError: item.lastError,
        createdAt: item.createdAt,
        sentAt: item.sentAt,
      })),
    };
  }

  /** Stops the node (the backend closes engine and store after this). */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop().catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async startNow(): Promise<void> {
    if (this.node || this.closed) return;
    if (this.settingsError)
      throw new TriageError('INVALID_SETTINGS', `${this.settingsError.message} Save the settings in the panel first.`);
    const { engine, store, rules } = this.options;
    const settings = this.settings;
    try {
      const destinations = checkSettings(settings);
      this.problem = null;
      this.node = await DicomNode.start({
        aeTitle: settings.aeTitle,
        host: settings.host,
        port: settings.port,
        allowedCallingAeTitles: settings.allowedCallingAeTitles.length > 0 ? settings.allowedCallingAeTitles : null,
        stableSeconds: settings.stableSeconds,
        dataDir: this.options.dataDir,
        destinations,
        engine,
        store,
        rules,
        onEvent: (event) => this.onEvent(event),
      });
    } catch (thrown) {
      const error = coded(thrown);
      this.problem = error;
      log('warn', 'node-start-failed', { code: error.code });
      this.changed();
      throw thrown;
    }
    this.changed();
  }

  private async stopNow(): Promise<void> {
    const node = this.node;
    if (!node) return;
    await node.stop();
    this.node = null;
    this.changed();
  }

  /** Node events carry counts, AE titles and addresses only (main/node), so they may be logged. */
  private onEvent(event: NodeEvent): void {
    if ('listening' in event) log('info', 'node-listening', event.listening);
    else if ('association' in event && !event.association.accepted)
      log('warn', 'node-association-refused', { calling: event.association.calling, reason: event.association.reason });
    else if ('problem' in event) {
      this.problem = { code: null, message: event.problem.message };
      log('warn', 'node-problem', { message: event.problem.message });
    } else if ('triaged' in event) {
      log('info', 'node-triaged', event.triaged);
      this.options.onResults();
    } else if ('delivered' in event && event.delivered.failed > 0)
      log('warn', 'node-delivery-failed', { destination: event.delivered.destination, failed: event.delivered.failed });
    this.changed();
  }

  /** Tells the window, at most once per NODE_DEBOUNCE_MS. */
  private changed(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.options.emit('node.changed', { running: this.node?.status().listening ?? false });
    }, NODE_DEBOUNCE_MS);
  }
}
