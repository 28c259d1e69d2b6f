/**
 * The main process's side of the engine process: starts it on the first request, sends the
 * settings, relays requests and pairs replies by id, passes push events on, and starts a new
 * process for the next request when one dies (its pending requests end with ENGINE_STOPPED,
 * nothing hangs). Electron's utilityProcess in the app; a forked Node process in tests.
 *
 * Every request has a deadline (REQUEST_TIMEOUT_MS): one the engine has not answered by then is
 * answered ENGINE_TIMEOUT, so one stuck image cannot hold the window's other requests' callers
 * forever. The engine's work goes on; its late answer is dropped (and reported to onLateReply).
 * The open dialog's request waits for the user without a deadline while the dialog is open.
 */
import type { Envelope } from '../api/contract.js';
import type { EngineSettings, FromEngine, ToEngine } from '../engine-process/messages.js';
import { isFromEngine } from '../engine-process/messages.js';
import type { ChooserKind } from '../../common/index.js';

/** A running engine process, whatever started it. */
export interface EngineChild {
  post(message: ToEngine): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null) => void): void;
  kill(): void;
}

export interface EngineLinkOptions {
  spawn: () => EngineChild;
  settings: EngineSettings;
  onEvent: (event: string, payload: unknown) => void;
  /** Shows the open dialog for the engine's 'dialog.open' and 'validation.choose' handlers; [] when cancelled. */
  chooseFiles: (kind: ChooserKind) => Promise<string[]>;
  /** Opens a validation's report the engine names in the system's viewer (the shell checks the path). */
  openReport?: (path: string) => void;
  /** Told when the process ends unasked (the main process logs it). */
  onExit?: (code: number | null) => void;
  /** How long `close` waits for the process to release the database before killing it. */
  closeTimeoutMs?: number;
  /** How long a request may wait for its answer, ms (REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** Told when an answer arrives after its request timed out; the answer is dropped. */
  onLateReply?: (channel: string) => void;
}

/**
 * A request's deadline: generous for a real render or heatmap of a large radiograph (a few
 * seconds), a scan.start answers at once (scans run in the background).
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/** The channels whose answer waits for the user (the open dialog): no deadline while it is open. */
const DIALOG_CHANNELS: ReadonlySet<string> = new Set(['dialog.open', 'validation.choose']);

interface Pending {
  channel: string;
  resolve: (reply: Envelope) => void;
  timer: NodeJS.Timeout | null;
}

const stopped = (detail: string): Envelope => ({
  ok: false,
  error: {
    code: 'ENGINE_STOPPED',
    message: `The analysis engine process stopped (${detail}); it is restarted for the next request.`,
  },
});

const timedOut = (channel: string, seconds: number): Envelope => ({
  ok: false,
  error: {
    code: 'ENGINE_TIMEOUT',
    message: `The analysis engine did not answer ${channel} within ${seconds} s; it may still be working on a large or damaged image. Try again in a moment; if it keeps happening, restart the application.`,
  },
});

/** How many timed-out requests are remembered, to recognise their late answers. */
const LATE_MEMORY = 256;

export class EngineLink {
  private child: EngineChild | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests answered ENGINE_TIMEOUT whose real answer has not come yet: id -> channel. */
  private readonly late = new Map<number, string>();
  /** Open dialogs (the engine asked the main process to show one and waits for the answer). */
  private dialogsOpen = 0;
  private closing: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;
  private readonly timeoutMs: number;

  constructor(private readonly options: EngineLinkOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** Relays one validated request; always resolves to an envelope, within the deadline. */
  request(channel: string, request: unknown): Promise<Envelope> {
    return this.call(channel, (id) => ({ kind: 'request', id, channel, request }));
  }

  /**
   * Which of these paths the results store holds (the envelope's value: that list). The main
   * process asks before it lets the window re-scan a path it was never granted.
   */
  stored(paths: string[]): Promise<Envelope> {
    return this.call('store lookup', (id) => ({ kind: 'stored', id, paths }));
  }

  private call(channel: string, message: (id: number) => ToEngine): Promise<Envelope> {
    if (this.closing) return Promise.resolve(stopped('the application is closing'));
    const child = this.ensureChild();
    const id = this.nextId++;
    return new Promise<Envelope>((resolve) => {
      const entry: Pending = { channel, resolve, timer: null };
      this.pending.set(id, entry);
      this.arm(id, entry);
      try {
        child.post(message(id));
      } catch (thrown) {
        this.settle(id, stopped(thrown instanceof Error ? thrown.message : 'post failed'));
      }
    });
  }

  /** Starts a request's deadline (none for the dialog's while a dialog is open). */
  private arm(id: number, entry: Pending): void {
    if (entry.timer || (DIALOG_CHANNELS.has(entry.channel) && this.dialogsOpen > 0)) return;
    entry.timer = setTimeout(() => {
      if (this.pending.get(id) !== entry) return;
      this.late.set(id, entry.channel);
      if (this.late.size > LATE_MEMORY) this.late.delete(this.late.keys().next().value!);
      this.settle(id, timedOut(entry.channel, Math.round(this.timeoutMs / 1000)));
    }, this.timeoutMs);
    // A pending request alone does not keep the process alive.
    entry.timer.unref?.();
  }

  /** Answers a pending request once: its timer stops and it leaves the table. */
  private settle(id: number, reply: Envelope): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    entry.resolve(reply);
  }

  /** The dialog's requests wait for the user while a dialog is open, then get a fresh deadline. */
  private dialogOpened(): void {
    this.dialogsOpen++;
    for (const entry of this.pending.values()) {
      if (DIALOG_CHANNELS.has(entry.channel) && entry.timer) {
        clearTimeout(entry.timer);
        entry.timer = null;
      }
    }
  }

  private dialogClosed(): void {
    this.dialogsOpen = Math.max(0, this.dialogsOpen - 1);
    if (this.dialogsOpen > 0) return;
    for (const [id, entry] of this.pending) if (DIALOG_CHANNELS.has(entry.channel)) this.arm(id, entry);
  }

  /** Asks the process to close the store and exit; kills it if it has not after the timeout. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const child = this.child;
    if (!child) return (this.closing = Promise.resolve());
    this.closing = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill();
        resolve();
      }, this.options.closeTimeoutMs ?? 5000);
      this.onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      child.post({ kind: 'shutdown' });
    });
    return this.closing;
  }

  private ensureChild(): EngineChild {
    if (this.child) return this.child;
    const child = this.options.spawn();
    this.child = child;
    child.onMessage((message) => this.receive(child, message));
    child.onExit((code) => {
      if (this.child === child) this.child = null;
      for (const id of [...this.pending.keys()])
        this.settle(id, stopped(code === null ? 'killed' : `exit code ${code}`));
      this.late.clear();
      this.dialogsOpen = 0;
      if (this.onClosed) this.onClosed();
      else this.options.onExit?.(code);
    });
    child.post({ kind: 'init', settings: this.options.settings });
    return child;
  }

  private receive(child: EngineChild, message: unknown): void {
    if (child !== this.child || !isFromEngine(message)) return;
    const typed: FromEngine = message;
    if (typed.kind === 'reply') {
      if (this.pending.has(typed.id)) this.settle(typed.id, typed.reply);
      else {
        // Too late: the request was answered ENGINE_TIMEOUT; this answer reaches no one.
        const channel = this.late.get(typed.id);
        this.late.delete(typed.id);
        if (channel !== undefined) this.options.onLateReply?.(channel);
      }
    } else if (typed.kind === 'event') {
      this.options.onEvent(typed.event, typed.payload);
    } else if (typed.kind === 'choose') {
      const kind: ChooserKind = typed.choose === 'folder' || typed.choose === 'labels' ? typed.choose : 'files';
      this.dialogOpened();
      const answer = (paths: string[]) => {
        // The process may have died while the dialog was open; its exit already failed its requests.
        if (child !== this.child) return;
        this.dialogClosed();
        child.post({ kind: 'chosen', id: typed.id, paths });
      };
      this.options.chooseFiles(kind).then(answer, () => answer([]));
    } else if (typed.kind === 'open-report') {
      if (typeof typed.path === 'string') this.options.openReport?.(typed.path);
    } else if (typed.kind === 'closed') {
      this.onClosed?.();
    }
    // 'ready' and 'init-failed' need no action here: requests sent meanwhile are answered in order.
  }
}
