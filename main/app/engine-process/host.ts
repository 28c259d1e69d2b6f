/**
 * The engine process's side: receives the settings, opens the backend (engine, store, API
 * handlers), answers each request through the contract's `dispatch` (validated a second time,
 * errors coded), forwards the handlers' push events, and asks the main process to show the open
 * dialog when a handler needs one. Requests that arrive while the backend opens wait for it; if
 * opening fails (no pack, a locked database), every request gets that coded error.
 */
import type { ApiEmit, Envelope } from '../api/contract.js';
import { errorEnvelope } from '../api/dispatch.js';
import type { EngineSettings, FromEngine, MessageEnd, ToEngine } from './messages.js';
import { isToEngine } from './messages.js';
import type { ChooserKind } from '../../common/index.js';

/** What the host needs of the backend (main/app/api/backend.ts openBackend). */
export interface HostedBackend {
  invoke(channel: string, request: unknown): Promise<Envelope>;
  /** Which of these paths the results store holds. */
  stored(paths: string[]): string[];
  close(): Promise<void>;
}

/** The most paths one 'stored' question may name (scan.start's own bound). */
const MAX_STORED_QUERY = 256;

export type OpenBackend = (
  settings: EngineSettings,
  emit: ApiEmit,
  chooseFiles: (kind: ChooserKind) => Promise<string[]>,
  openReport: (path: string) => void,
) => Promise<HostedBackend>;

type Opened = { backend: HostedBackend } | { failed: Envelope & { ok: false } };

const notInitialised: Envelope & { ok: false } = {
  ok: false,
  error: { code: 'ENGINE_STOPPED', message: 'The engine process was not initialised.' },
};

export function serveEngine(end: MessageEnd<FromEngine, ToEngine>, open: OpenBackend, exit: () => void): void {
  let opened: Promise<Opened> | null = null;
  let nextChoice = 1;
  const choices = new Map<number, (paths: string[]) => void>();

  const emit: ApiEmit = (event, payload) => end.post({ kind: 'event', event, payload });
  const chooseFiles = (choose: ChooserKind) =>
    new Promise<string[]>((resolve) => {
      const id = nextChoice++;
      choices.set(id, resolve);
      end.post({ kind: 'choose', id, choose });
    });

  const openReport = (path: string) => end.post({ kind: 'open-report', path });

  end.onMessage(async (message) => {
    if (!isToEngine(message)) return;
    switch (message.kind) {
      case 'init': {
        if (opened) return;
        opened = open(message.settings, emit, chooseFiles, openReport).then(
          (backend): Opened => {
            end.post({ kind: 'ready' });
            return { backend };
          },
          (thrown): Opened => {
            const failed = errorEnvelope(thrown);
            end.post({ kind: 'init-failed', error: failed.error });
            return { failed };
          },
        );
        return;
      }
      case 'request': {
        const ready: Opened = opened ? await opened : { failed: notInitialised };
        const reply = 'failed' in ready ? ready.failed : await ready.backend.invoke(message.channel, message.request);
        end.post({ kind: 'reply', id: message.id, reply });
        return;
      }
      case 'stored': {
        const ready: Opened = opened ? await opened : { failed: notInitialised };
        const paths = Array.isArray(message.paths) ? message.paths : [];
        let reply: Envelope;
        if ('failed' in ready) reply = ready.failed;
        else if (paths.length > MAX_STORED_QUERY || !paths.every((p) => typeof p === 'string'))
          reply = { ok: false, error: { code: 'INVALID_REQUEST', message: 'A malformed store lookup was refused.' } };
        else {
          try {
            reply = { ok: true, value: ready.backend.stored(paths) };
          } catch (thrown) {
            reply = errorEnvelope(thrown);
          }
        }
        end.post({ kind: 'reply', id: message.id, reply });
        return;
      }
      case 'chosen': {
        const resolve = choices.get(message.id);
        choices.delete(message.id);
        // Only absolute-path strings come back into the handlers (the dialog's own answer).
        resolve?.(Array.isArray(message.paths) ? message.paths.filter((p) => typeof p === 'string') : []);
        return;
      }
      case 'shutdown': {
        const ready = opened ? await opened : null;
        if (ready && 'backend' in ready) await ready.backend.close().catch(() => undefined);
        end.post({ kind: 'closed' });
        exit();
        return;
      }
    }
  });
}
