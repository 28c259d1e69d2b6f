/**
 * What the Electron main process loads at start-up: the built main entry (dist/main/app/shell/
 * main.js) imported in a Node process where `electron` resolves to a stand-in whose app never
 * becomes ready, with a module hook recording every module that loads. Only the shell and its
 * light dependencies may load; the engine, the self-test, the CLI and onnxruntime load in the
 * engine process, or when --selftest asks for them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { scratchDir } from '../../support/tools.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'main', 'app', 'shell', 'main.js');
const scratch = scratchDir('shell-startup');
after(() => scratch.remove());

/** Modules the shell may load at start-up, as paths under dist/main/. */
const ALLOWED = [
  /^app\/shell\//,
  /^common\//,
  /^domain\//,
  /^errors\//,
  /^log\//,
  /^app\/api\/contract\.js$/,
  /^app\/api\/dispatch\.js$/,
  /^app\/engine-process\/messages\.js$/,
];

const STAND_IN = `
const noop = () => {};
export const app = {
  getAppPath: () => ${JSON.stringify(ROOT)},
  isPackaged: false,
  enableSandbox: noop,
  requestSingleInstanceLock: () => true,
  quit: noop,
  exit: noop,
  on: noop,
  whenReady: () => new Promise(noop),
};
export const protocol = { registerSchemesAsPrivileged: noop, handle: noop };
export const BrowserWindow = class {};
export const Menu = { buildFromTemplate: noop, setApplicationMenu: noop };
export const dialog = {};
export const ipcMain = { handle: noop };
export const session = {};
export const utilityProcess = { fork: () => { throw new Error('the engine process starts on the first request, not at start-up'); } };
`;

const HOOKS = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  if (specifier === 'electron') return { url: ${JSON.stringify('STAND_IN_URL')}, shortCircuit: true };
  return next(specifier, context);
}
export async function load(url, context, next) {
  port.postMessage(url);
  return next(url, context);
}
`;

function startUp(argv: string[]): { loaded: string[]; stderr: string; status: number | null } {
  const standIn = join(scratch.path, 'electron.mjs');
  writeFileSync(standIn, STAND_IN);
  const hooks = join(scratch.path, 'hooks.mjs');
  writeFileSync(hooks, HOOKS.replace('STAND_IN_URL', pathToFileURL(standIn).href));
  const child = join(scratch.path, 'child.mjs');
  writeFileSync(
    child,
    `import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const loaded = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => loaded.push(url));
port1.unref();
register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { port: port2 }, transferList: [port2] });
await import(${JSON.stringify(pathToFileURL(MAIN).href)});
// Let the hooks' last messages arrive, then report.
await new Promise((resolve) => setTimeout(resolve, 200));
process.stdout.write(JSON.stringify(loaded));
process.exit(0);
`,
  );
  const result = spawnSync(process.execPath, [child, ...argv], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TRIAGE_LOG: 'error' },
  });
  return {
    loaded: result.status === 0 ? (JSON.parse(result.stdout) as string[]) : [],
    stderr: result.stderr,
    status: result.status,
  };
}

test('the main process loads only the shell at start-up: no engine, no self-test, no CLI, no onnxruntime', () => {
  assert.ok(existsSync(MAIN), `${MAIN} is built by npm run build`);
  const { loaded, stderr, status } = startUp([]);
  assert.equal(status, 0, stderr);
  const distMain = pathToFileURL(join(ROOT, 'dist', 'main')).href + '/';
  const ours = loaded.filter((url) => url.startsWith(distMain)).map((url) => url.slice(distMain.length));
  assert.ok(
    ours.includes('app/shell/main.js') && ours.includes('app/shell/install.js'),
    `the shell itself loaded: ${ours.join(', ')}`,
  );
  const unexpected = ours.filter((path) => !ALLOWED.some((allowed) => allowed.test(path)));
  assert.deepEqual(unexpected, [], 'modules beyond the shell loaded at start-up');
  for (const heavy of ['onnxruntime-node', 'node-sqlite3-wasm', 'dicom-parser', '@cornerstonejs']) {
    assert.ok(!loaded.some((url) => url.includes(`/node_modules/${heavy}`)), `${heavy} loaded at start-up`);
  }
  console.log(`# ${ours.length} of the project's modules load at start-up: ${ours.join(', ')}`);
});
