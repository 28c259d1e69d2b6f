/**
 * The app's engine side in one call: the model pack's engine, the results database and the API
 * handlers over them. The Electron shell starts this in its engine process; the end-to-end tests
 * start it in the test process. Closing stops a running scan after its batch (nothing is lost),
 * then the engine's worker and the database.
 */
import { dirname, join } from 'node:path';
import { Engine } from '../../engine/index.js';
import type { ProviderChoice } from '../../inference/index.js';
import { DEFAULT_PACK } from '../../packs/index.js';
import { defaultDataDir, defaultDatabasePath, isDatabaseUrl, ResultStore } from '../../store/index.js';
import { defaultRules } from '../../triage/index.js';
import type { ApiChannel, ApiEmit, ApiHandlers } from './contract.js';
import { dispatch } from './dispatch.js';
import type { AnyEnvelope } from './dispatch.js';
import { createApiHandlers } from './handlers.js';
import { NODE_SETTINGS_FILE } from './node-control.js';
import { receivedFolder } from '../../node/index.js';
import type { ChooserKind } from '../../common/index.js';

export interface BackendOptions {
  /** Model pack folder (default: the bundled demonstration pack). */
  packDir?: string;
  /** Results database (default: results.sqlite in the user's data folder). */
  databasePath?: string;
  provider?: ProviderChoice;
  threads?: number;
  emit: ApiEmit;
  chooseFiles: (kind: ChooserKind) => Promise<string[]>;
  /** Opens a validation's report in the system's viewer (the main process does it; absent in tests). */
  openReport?: (path: string) => void;
}

export interface Backend {
  handlers: ApiHandlers;
  /** Validates and runs one request; always resolves to an envelope. */
  invoke(channel: ApiChannel | string, request: unknown): Promise<AnyEnvelope>;
  /** Which of these paths the results store holds (a lookup; no file is touched). */
  stored(paths: string[]): string[];
  close(): Promise<void>;
}

export async function openBackend(options: BackendOptions): Promise<Backend> {
  // The product's rules, compiled before anything is opened (they read the bundled taxonomy).
  const rules = defaultRules();
  const database = options.databasePath ?? defaultDatabasePath();
  const store = ResultStore.open(database);
  // This machine's own files (the node's settings, validations) sit beside a database file, or in
  // the user's data folder when the database is on a server.
  const localDir = isDatabaseUrl(database) ? defaultDataDir() : dirname(database);
  let engine: Engine;
  try {
    engine = await Engine.create({
      models: options.packDir ?? DEFAULT_PACK,
      provider: options.provider ?? 'auto',
      threads: options.threads,
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const handlers = createApiHandlers({
    engine,
    store,
    rules,
    emit: options.emit,
    chooseFiles: options.chooseFiles,
    openReport: options.openReport,
    // The node's settings beside the database; what it receives where `triage serve --db` keeps it.
    node: { settingsFile: join(localDir, NODE_SETTINGS_FILE), dataDir: receivedFolder(database) },
    // Validations in <data dir>/validations/, with a database of their own (never this one).
    validation: { dataDir: localDir },
  });
  // Starts the node only if the user turned on "start with the app"; a bad settings file or a
  // port in use is shown in the panel, never a failure to open.
  await handlers.node?.open();
  return {
    handlers,
    invoke: (channel, request) => dispatch(handlers, channel, request),
    stored: (paths) => paths.filter((path) => store.lookup(path) !== undefined),
    async close() {
      await handlers.close();
      await engine.close();
      store.close();
    },
  };
}
