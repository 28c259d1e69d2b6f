/**
 * The typed messages between the main process and the engine process (an Electron utility
 * process; a forked Node process in tests). The main process only relays: it validates a window's
 * request, sends it here, and passes the envelope back. Every message is structured-clonable
 * (pixels travel as ArrayBuffers).
 */
import type { ChooserKind } from '../../common/index.js';
import type { ApiError, Envelope } from '../api/contract.js';

/** What the engine process needs to know from the main process (null: the product's default). */
export interface EngineSettings {
  /** Bundled resources (model packs, taxonomy, samples): Electron's resources folder when installed. */
  resources: string | null;
  /** The model pack folder (default: the bundled demonstration pack). */
  packDir: string | null;
  /** The results database (default: the file the `triage` command uses too). */
  database: string | null;
  /** Execution provider: auto (GPU first, CPU fallback) unless named. */
  provider: string | null;
}

export type ToEngine =
  | { kind: 'init'; settings: EngineSettings }
  | { kind: 'request'; id: number; channel: string; request: unknown }
  /**
   * Which of these paths the results store holds (answered as a reply whose value is that list):
   * the main process lets the window re-scan them. Not a contract channel: the window cannot send it.
   */
  | { kind: 'stored'; id: number; paths: string[] }
  | { kind: 'chosen'; id: number; paths: string[] }
  | { kind: 'shutdown' };

export type FromEngine =
  | { kind: 'ready' }
  | { kind: 'init-failed'; error: ApiError }
  | { kind: 'reply'; id: number; reply: Envelope }
  | { kind: 'event'; event: string; payload: unknown }
  /** The open dialog belongs to the window, so the main process shows it and answers 'chosen'. */
  | { kind: 'choose'; id: number; choose: ChooserKind }
  /** A validation's report, opened by the main process in the system's viewer (a browser). */
  | { kind: 'open-report'; path: string }
  | { kind: 'closed' };

/** One end of the message channel, whatever carries it (parentPort, process.send, a utility process). */
export interface MessageEnd<Out, In> {
  post(message: Out): void;
  onMessage(listener: (message: In) => void): void;
}

export function isToEngine(value: unknown): value is ToEngine {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === 'init' || kind === 'request' || kind === 'stored' || kind === 'chosen' || kind === 'shutdown';
}

export function isFromEngine(value: unknown): value is FromEngine {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return (
    kind === 'ready' ||
    kind === 'init-failed' ||
    kind === 'reply' ||
    kind === 'event' ||
    kind === 'choose' ||
    kind === 'open-report' ||
    kind === 'closed'
  );
}
