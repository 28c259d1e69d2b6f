/**
 * The engine process: Electron starts this file as a utility process (`process.parentPort`); tests
 * fork it with Node (`process.send`). It owns the engine (whose inference worker it starts), the
 * results store and the scanner, so nothing heavy runs on Electron's main thread, and a crash
 * here takes no window down.
 */
import { isProviderChoice } from '../../inference/index.js';
import type { ProviderChoice } from '../../inference/index.js';
import { TriageError } from '../../errors/index.js';
import { serveEngine } from './host.js';
import type { FromEngine, MessageEnd, ToEngine } from './messages.js';

interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

function parentEnd(): MessageEnd<FromEngine, ToEngine> {
  const parentPort = (process as { parentPort?: ParentPort }).parentPort;
  if (parentPort) {
    return {
      post: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data as ToEngine)),
    };
  }
  const send = process.send?.bind(process);
  if (send) {
    return {
      post: (message) => void send(message),
      onMessage: (listener) => process.on('message', (message) => listener(message as ToEngine)),
    };
  }
  throw new Error('the engine process is started by the app (utility process) or forked with an IPC channel');
}

serveEngine(
  parentEnd(),
  async (settings, emit, chooseFiles, openReport) => {
    // Before the backend's modules load: the default pack and the taxonomy resolve against it.
    if (settings.resources) process.env.TRIAGE_RESOURCES = settings.resources;
    let provider: ProviderChoice | undefined;
    if (settings.provider !== null) {
      if (!isProviderChoice(settings.provider))
        throw new TriageError('USAGE', `Unknown execution provider "${settings.provider}".`);
      provider = settings.provider;
    }
    const { openBackend } = await import('../api/backend.js');
    return openBackend({
      packDir: settings.packDir ?? undefined,
      databasePath: settings.database ?? undefined,
      provider,
      emit,
      chooseFiles,
      openReport,
    });
  },
  () => process.exit(0),
);
