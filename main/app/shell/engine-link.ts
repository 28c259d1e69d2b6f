/**
 * The main process's side of the engine process: starts it on the first request, sends the
 * settings, relays requests and pairs replies by id, passes push events on, and starts a new
 * process for the next request when one dies (its pending requests end with ENGINE_STOPPED,
 * nothing hangs). Electron's utilityProcess in the app; a forked Node process in tests.
 */
import type { Envelope } from '../api/contract.js';
import type { EngineSettings, FromEngine, ToEngine } from '../engine-process/messages.js';
import { isFromEngine } from '../engine-process/messages.js';
import type { DialogKind } from '../../common/index.js';

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
  /** Shows the open dialog for the engine's 'dialog.open' handler; [] when cancelled. */
  chooseFiles: (kind: DialogKind) => Promise<string[]>;
  /** Told when the process ends unasked (the main process logs it). */
  onExit?: (code: number | null) => void;
  /** How long `close` waits for the process to release the database before killing it. */
  closeTimeoutMs?: number;
}

const stopped = (detail: string): Envelope => ({
  ok: false,
  error: {
    code: 'ENGINE_STOPPED',
    message: `The analysis engine process stopped (${detail}); it is restarted for the next request.`,
  },
});

export class EngineLink {
  private child: EngineChild | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Envelope) => void>();
  private closing: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;

  constructor(private readonly options: EngineLinkOptions) {}

  /** Relays one validated request; always resolves to an envelope. */
  request(channel: string, request: unknown): Promise<Envelope> {
    if (this.closing) return Promise.resolve(stopped('the application is closing'));
    const child = this.ensureChild();
    const id = this.nextId++;
    return new Promise<Envelope>((resolve) => {
      this.pending.set(id, resolve);
      try {
        child.post({ kind: 'request', id, channel, request });
      } catch (thrown) {
        this.pending.delete(id);
        resolve(stopped(thrown instanceof Error ? thrown.message : 'post failed'));
      }
    });
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
      for (const [id, resolve] of this.pending) {
        this.pending.delete(id);
        resolve(stopped(code === null ? 'killed' : `exit code ${code}`));
      }
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
      const resolve = this.pending.get(typed.id);
      if (resolve) {
        this.pending.delete(typed.id);
        resolve(typed.reply);
      }
    } else if (typed.kind === 'event') {
      this.options.onEvent(typed.event, typed.payload);
    } else if (typed.kind === 'choose') {
      const kind: DialogKind = typed.choose === 'folder' ? 'folder' : 'files';
      const answer = (paths: string[]) => {
        // The process may have died while the dialog was open; its exit already failed its requests.
        if (child === this.child) child.post({ kind: 'chosen', id: typed.id, paths });
      };
      this.options.chooseFiles(kind).then(answer, () => answer([]));
    } else if (typed.kind === 'closed') {
      this.onClosed?.();
    }
    // 'ready' and 'init-failed' need no action here: requests sent meanwhile are answered in order.
  }
}
