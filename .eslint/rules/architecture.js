/**
 * The architecture as a lint rule: which part of the code may import which. Every file belongs to
 * one zone (see zoneOf); an import is checked against the importing file's zone and the imported
 * file's. Relative imports are resolved here (`.js` specifiers name the `.ts` sources); package
 * imports are checked by name.
 *
 * - main/common/: imports nothing outside itself. The renderer, the preload, workers and every
 *   process read it.
 * - renderer/ and the preload (main/app/preload/): their own files, main/common/, and types alone
 *   from the API contract (`import type`, erased at build). The preload may import electron.
 * - The engine's stages (every other folder under main/ but app/ and cli/): never electron, the
 *   app or the CLI; another stage only through its index.ts.
 * - The Electron main process (main/app/shell/): electron, its own files and a light set
 *   (SHELL_LIGHT: main/common, main/domain, main/errors, main/log, the API contract and dispatch,
 *   the engine process's messages). The engine, the self-test and everything heavy load lazily,
 *   with `await import(...)`, or in the engine process.
 * - The adapters over the engine (main/app/api/, main/app/engine-process/, main/cli/): stages
 *   through their index only, never electron, never one another's files but the API's.
 * - Scripts in models/ and bin/ use main/ through stage indexes too. Tests may reach anything.
 */
import { dirname, relative, resolve, sep } from 'node:path';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');

/** The path of a file relative to the project root, with forward slashes. */
function projectPath(file) {
  return relative(ROOT, file).split(sep).join('/');
}

/** The zone of a project path, and for a stage its name. */
export function zoneOf(path) {
  if (path.startsWith('renderer/src/')) return { zone: 'renderer' };
  if (path.startsWith('test/')) return { zone: 'test' };
  // Build and training scripts (renderer/build.mjs among them).
  if (path.startsWith('models/') || path.startsWith('bin/') || path.startsWith('renderer/')) return { zone: 'script' };
  if (!path.startsWith('main/')) return { zone: 'other' };
  const parts = path.split('/');
  const top = parts[1];
  if (top === 'app') {
    const part = parts[2];
    if (part === 'preload') return { zone: 'preload' };
    if (part === 'shell') return { zone: 'shell' };
    if (part === 'engine-process') return { zone: 'engine-process' };
    if (part === 'api') return { zone: 'api' };
    return { zone: 'app-other' };
  }
  if (top === 'cli') return { zone: 'cli' };
  if (top === 'common') return { zone: 'common' };
  return { zone: 'stage', stage: top };
}

/** main/STAGE/index.ts: the one file of a stage that another part may import. */
function isStageIndex(path) {
  return /^main\/[^/]+\/index\.(ts|js)$/.test(path);
}

const CONTRACT = 'main/app/api/contract.ts';
/** What the Electron main process may load at start-up besides its own folder. */
const SHELL_LIGHT = [
  'main/common/',
  'main/domain/',
  'main/errors/',
  'main/log/',
  CONTRACT,
  'main/app/api/dispatch.ts',
  // The typed messages to and from the engine process (types and two guards).
  'main/app/engine-process/messages.ts',
];

/** The reason an import is refused, or null when it is allowed. */
export function refusal(fromPath, target, { typeOnly, dynamic }) {
  const from = zoneOf(fromPath);
  if (from.zone === 'test' || from.zone === 'other') return null;

  if (target.kind === 'package') {
    const name = target.name;
    const isElectron = name === 'electron' || name.startsWith('electron/');
    if (from.zone === 'common')
      return typeOnly
        ? null
        : `main/common/ imports nothing (it is bundled into the renderer and the preload): not "${name}"`;
    if (from.zone === 'renderer')
      return typeOnly ? null : `the renderer imports no package (cornerstone-core is a script tag): not "${name}"`;
    if (from.zone === 'preload')
      return isElectron || typeOnly ? null : `the preload imports only electron: not "${name}"`;
    if (isElectron && from.zone !== 'shell')
      return `only the Electron shell (main/app/shell) imports electron; ${fromPath} runs without it`;
    return null;
  }

  const to = target.path;
  const toZone = zoneOf(to);
  if (from.zone === 'common')
    return toZone.zone === 'common' ? null : `main/common/ imports nothing outside itself: not ${to}`;
  if (toZone.zone === 'common' && from.zone !== 'common' && !isStageIndex(to))
    return `main/common/ is used through its index.ts, not ${to}`;

  if (from.zone === 'renderer' || from.zone === 'preload') {
    const own = from.zone === 'renderer' ? to.startsWith('renderer/src/') : to.startsWith('main/app/preload/');
    if (own || toZone.zone === 'common') return null;
    if (to === CONTRACT && typeOnly) return null;
    return `the ${from.zone} imports only its own files, main/common/ and types from the API contract (import type): not ${to}`;
  }

  if (toZone.zone === 'test') return `product code never imports tests: ${to}`;
  if (toZone.zone === 'renderer') return `only the renderer's build reads renderer/: not ${to}`;
  if (toZone.zone === 'preload' && from.zone !== 'shell') return `the preload is bundled on its own: not ${to}`;

  if (from.zone === 'shell') {
    if (toZone.zone === 'shell' || toZone.zone === 'preload') return null;
    if (typeOnly || dynamic) return null;
    if (SHELL_LIGHT.some((light) => to === light || (light.endsWith('/') && to.startsWith(light)))) return null;
    return `the Electron main process loads only the shell at start-up: import ${to} lazily (await import) or in the engine process`;
  }

  // Stages, adapters and scripts.
  if (toZone.zone === 'shell' || toZone.zone === 'app-other')
    return `only the shell's own files import the shell: not ${to}`;
  if (toZone.zone === 'cli' && from.zone !== 'cli')
    return `nothing imports the CLI (an adapter over the engine): not ${to}`;
  if ((toZone.zone === 'api' || toZone.zone === 'engine-process') && from.zone === 'stage') {
    return `the engine's stages never import the app: not ${to}`;
  }
  if (toZone.zone === 'engine-process' && from.zone !== 'engine-process')
    return `the engine process is started, not imported: not ${to}`;
  if (toZone.zone === 'stage') {
    if (from.zone === 'stage' && from.stage === toZone.stage) return null;
    if (!isStageIndex(to)) return `main/${toZone.stage}/ is used through its index.ts, not ${to}`;
  }
  return null;
}

/** The project path a relative specifier names, the `.js` of an import standing for the `.ts` source. */
function resolveRelative(fromFile, specifier) {
  const absolute = resolve(dirname(fromFile), specifier);
  return projectPath(absolute)
    .replace(/\.js$/, '.ts')
    .replace(/\.mjs$/, '.mjs');
}

function targetOf(fromFile, specifier) {
  if (specifier.startsWith('.')) return { kind: 'file', path: resolveRelative(fromFile, specifier) };
  if (specifier.startsWith('node:')) return { kind: 'builtin', name: specifier };
  const parts = specifier.split('/');
  return { kind: 'package', name: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] };
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'The module boundaries of the architecture (docs: CONTRIBUTING.md, "Architecture rules").' },
    schema: [],
    messages: { refused: '{{reason}}' },
  },
  create(context) {
    const file = context.filename;
    const fromPath = projectPath(file);
    const check = (node, source, options) => {
      if (!source || typeof source.value !== 'string') return;
      const target = targetOf(file, source.value);
      if (target.kind === 'builtin') {
        const zone = zoneOf(fromPath).zone;
        if (zone === 'common' || zone === 'renderer' || zone === 'preload') {
          context.report({
            node,
            messageId: 'refused',
            data: { reason: `the ${zone} runs where Node's modules may not exist: not ${source.value}` },
          });
        }
        return;
      }
      const reason = refusal(fromPath, target, options);
      if (reason) context.report({ node, messageId: 'refused', data: { reason } });
    };
    return {
      ImportDeclaration(node) {
        const typeOnly =
          node.importKind === 'type' ||
          (node.specifiers.length > 0 && node.specifiers.every((s) => s.importKind === 'type'));
        check(node, node.source, { typeOnly, dynamic: false });
      },
      ExportNamedDeclaration(node) {
        if (node.source) check(node, node.source, { typeOnly: node.exportKind === 'type', dynamic: false });
      },
      ExportAllDeclaration(node) {
        check(node, node.source, { typeOnly: node.exportKind === 'type', dynamic: false });
      },
      ImportExpression(node) {
        if (node.source.type === 'Literal') check(node, node.source, { typeOnly: false, dynamic: true });
      },
    };
  },
};
