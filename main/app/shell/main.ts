/**
 * The desktop app's main process (package.json "main"; `npm start` runs it under Electron).
 * Everything it does is in install.ts; this file only gathers the paths and options. With
 * --selftest it opens no window and runs the installation check instead (selftest.ts, which loads
 * the engine then). Start-up loads the shell alone: the engine runs in its own process.
 */
import * as electron from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseShellArgs } from './args.js';
import { installShell } from './install.js';
import { runInstalledSelftest, selftestArgs } from './selftest.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const { app } = electron;
const selftest = selftestArgs(process.argv.slice(1));

if (selftest) {
  // An installation check, no window: the report on stdout, then exit with its code.
  void runInstalledSelftest(selftest).then((code) => app.exit(code));
} else {
  installShell(electron, {
    // app.getAppPath(): the project folder under `npm start`, app.asar when installed.
    rendererRoot: join(app.getAppPath(), 'dist', 'renderer'),
    preload: join(here, '..', 'preload', 'preload.cjs'),
    engineEntry: join(here, '..', 'engine-process', 'entry.js'),
    devTools: !app.isPackaged,
    settings: {
      // Installed: model packs and the taxonomy are extra resources next to app.asar.
      resources: app.isPackaged ? process.resourcesPath : null,
      ...parseShellArgs(process.argv.slice(1)),
    },
  });
}
