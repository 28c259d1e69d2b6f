/**
 * The architecture's lint rule (.eslint/rules/architecture.js) on real file names: what each part
 * of the code may import, checked with ESLint's own RuleTester, so a rule that lets everything
 * through fails here.
 */
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import architecture from '../../.eslint/rules/architecture.js';

RuleTester.describe = describe;
RuleTester.it = it;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tester = new RuleTester({
  languageOptions: { parser: tseslint.parser, ecmaVersion: 2023, sourceType: 'module' },
});
const at = (path: string) => `${ROOT}${path}`;
const ok = (path: string, code: string) => ({ filename: at(path), code });
const refused = (path: string, code: string, reason: RegExp) => ({
  filename: at(path),
  code,
  errors: [{ message: reason }],
});

tester.run('architecture', architecture, {
  valid: [
    // A stage uses another stage through its index, and its own files freely.
    ok('main/scan/index.ts', "import { readRadiograph } from '../ingest/index.js';"),
    ok('main/ingest/index.ts', "import { readDicom } from './dicom/read.js';"),
    // The renderer: its own files, main/common, types from the contract.
    ok('renderer/src/worklist.ts', "import { PRIORITIES } from '../../main/common/index.js';"),
    ok('renderer/src/worklist.ts', "import type { StatusData } from '../../main/app/api/contract.js';"),
    ok('renderer/src/main.ts', "import { Viewer } from './viewer.js';"),
    // The preload: electron, main/common, contract types.
    ok('main/app/preload/preload.ts', "import { contextBridge } from 'electron';"),
    ok('main/app/preload/preload.ts', "import type { TriageApi } from '../api/contract.js';"),
    // The shell: electron, its light set, and the engine only lazily.
    ok('main/app/shell/install.ts', "import { API } from '../api/contract.js';"),
    ok('main/app/shell/selftest.ts', "const m = await import('../../selftest/index.js');"),
    // Adapters over the engine; tests reach anything.
    ok('main/cli/commands/scan.ts', "import { Scanner } from '../../scan/index.js';"),
    ok('main/app/engine-process/entry.ts', "const { openBackend } = await import('../api/backend.js');"),
    ok('test/ingest/pixels.test.ts', "import { toModality } from '../../main/ingest/pixels/modality.js';"),
    ok('renderer/src/api.ts', "export { type StudyData } from '../../main/app/api/contract.js';"),
    ok('main/app/shell/engine-link.ts', "import { isFromEngine } from '../engine-process/messages.js';"),
    ok('main/app/shell/install.ts', "import type { Engine } from '../../engine/index.js';"),
    ok('main/ingest/index.ts', "export { readDicom } from './dicom/read.js';"),
  ],
  invalid: [
    refused(
      'main/scan/dicomdir.ts',
      "import { parseDataSet } from '../ingest/dicom/parse.js';",
      /main\/ingest\/ is used through its index\.ts/,
    ),
    refused('main/engine/index.ts', "import { app } from 'electron';", /only the Electron shell/),
    refused('main/store/index.ts', "import { API } from '../app/api/contract.js';", /stages never import the app/),
    refused('main/engine/index.ts', "import { main } from '../cli/main.js';", /nothing imports the CLI/),
    refused(
      'main/app/shell/main.ts',
      "import { Engine } from '../../engine/index.js';",
      /loads only the shell at start-up/,
    ),
    refused(
      'main/app/shell/selftest.ts',
      "import { runSelftest } from '../../selftest/index.js';",
      /loads only the shell at start-up/,
    ),
    refused(
      'renderer/src/api.ts',
      "import { API } from '../../main/app/api/contract.js';",
      /types from the API contract/,
    ),
    refused(
      'renderer/src/viewer.ts',
      "import { peak } from '../../main/explain/index.js';",
      /the renderer imports only/,
    ),
    refused('renderer/src/viewer.ts', "import { readFileSync } from 'node:fs';", /Node's modules/),
    refused('main/app/preload/preload.ts', "import { z } from 'zod';", /the preload imports only electron/),
    refused('main/common/priorities.ts', "import { z } from 'zod';", /main\/common\/ imports nothing/),
    refused(
      'main/common/index.ts',
      "import { log } from '../log/index.js';",
      /main\/common\/ imports nothing outside itself/,
    ),
    refused(
      'main/triage/index.ts',
      "import { PRIORITIES } from '../common/priorities.js';",
      /main\/common\/ is used through its index\.ts/,
    ),
    refused(
      'models/training/record-selftest.ts',
      "import { x } from '../../main/cli/main.js';",
      /nothing imports the CLI/,
    ),
    refused(
      'main/cli/main.ts',
      "import { serveEngine } from '../app/engine-process/host.js';",
      /the engine process is started, not imported/,
    ),
    // Every form of import is checked, not only `import ... from`.
    refused(
      'main/scan/index.ts',
      "export * from '../engine/decode-pool.js';",
      /main\/engine\/ is used through its index\.ts/,
    ),
    refused(
      'main/scan/index.ts',
      "export { DecodePool } from '../engine/decode-pool.js';",
      /main\/engine\/ is used through its index\.ts/,
    ),
    refused(
      'main/scan/index.ts',
      "const pool = require('../engine/decode-pool.js');",
      /main\/engine\/ is used through its index\.ts/,
    ),
    refused('main/scan/index.ts', "const e = createRequire(import.meta.url)('electron');", /only the Electron shell/),
    refused(
      'main/scan/index.ts',
      'const m = await import(`../engine/decode-pool.js`);',
      /main\/engine\/ is used through its index\.ts/,
    ),
    refused('main/scan/index.ts', 'const m = await import(name);', /computed at run time/),
    // A lazy import frees the shell from the start-up rule only, not from the others.
    refused('main/app/shell/selftest.ts', "const m = await import('../../cli/main.js');", /nothing imports the CLI/),
    refused(
      'main/app/shell/selftest.ts',
      "const m = await import('../../engine/decode-pool.js');",
      /main\/engine\/ is used through its index\.ts/,
    ),
    refused(
      'main/app/shell/ipc.ts',
      "import { describeIssues } from '../../errors/issues.js';",
      /main\/errors\/ is used through its index\.ts/,
    ),
    // Product code stays inside main/.
    refused('main/scan/index.ts', "export * from '../../models/training/metrics.js';", /nothing outside main\//),
    refused('main/scan/index.ts', "import '../../dist/main/engine/decode-pool.js';", /nothing outside main\//),
    refused(
      'main/app/api/handlers.ts',
      "import type { ChooseKind } from '../engine-process/messages.js';",
      /started, not imported/,
    ),
    refused('main/cli/commands/scan.ts', "import { ScanQueue } from '../../app/api/scan-queue.js';", /only the app/),
  ],
});
