/**
 * The architecture as a lint rule: which part of the code may import which. Every file belongs to
 * one zone (see zoneOf); an import (static, `export ... from`, `import()`, `require`) is checked
 * against the importing file's zone and the imported file's. Relative imports are resolved here
 * (`.js` specifiers name the `.ts` sources); package imports are checked by name.
 *
 * - main/common/: imports nothing outside itself. The renderer, the preload, workers and every
 *   process read it, through its index.ts.
 * - renderer/src/ and the preload (main/app/preload/): their own files, main/common/, and types
 *   alone from the API contract (`import type`, erased at build). The preload may import electron.
 * - The engine's stages (every other folder under main/ but app/ and cli/): never electron, the
 *   app or the CLI; another stage only through its index.ts.
 * - The adapters over the engine (main/cli/, main/app/api/, main/app/engine-process/, the Electron
 *   shell main/app/shell/): stages through their index only, never electron but the shell, never
 *   one another's files (the shell relays to the API's contract and dispatch, and talks to the
 *   engine process through its messages module).
 * - The Electron main process (main/app/shell/) loads at start-up only its own files and
 *   SHELL_LIGHT: anything else it imports lazily (`await import(...)`) or as types.
 * - Product code imports nothing outside main/ (and renderer/src/ for the renderer) but packages.
 *   Scripts in models/, bin/ and renderer/ use main/ through stage indexes. Tests reach anything.
 */
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

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
  if (!path.startsWith('main/')) return { zone: 'outside' };
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

/** main/NAME/index.ts: the one file of a stage (or of main/common) that another part may import. */
function isIndex(path) {
  return /^main\/[^/]+\/index\.ts$/.test(path);
}

const PRODUCT_ZONES = new Set(['stage', 'common', 'cli', 'api', 'engine-process', 'shell', 'preload', 'renderer']);
const CONTRACT = 'main/app/api/contract.ts';
const ENGINE_MESSAGES = 'main/app/engine-process/messages.ts';
/** What the Electron main process may load at start-up besides its own folder. */
export const SHELL_LIGHT = [
  'main/common/index.ts',
  'main/domain/index.ts',
  'main/errors/index.ts',
  'main/log/index.ts',
  CONTRACT,
  'main/app/api/dispatch.ts',
  // The typed messages to and from the engine process (types and two guards).
  ENGINE_MESSAGES,
];

/** The reason an import is refused, or null when it is allowed. */
export function refusal(fromPath, target, { typeOnly, dynamic }) {
  const from = zoneOf(fromPath);
  if (from.zone === 'test' || from.zone === 'outside') return null;

  if (target.kind === 'package') {
    const name = target.name;
    const isElectron = name === 'electron' || name.startsWith('electron/');
    if (from.zone === 'common')
      return typeOnly ? null : `main/common/ imports nothing (every process loads it): not "${name}"`;
    if (from.zone === 'renderer')
      return typeOnly ? null : `the renderer imports no package (cornerstone-core is a script tag): not "${name}"`;
    if (from.zone === 'preload')
      return isElectron || typeOnly ? null : `the preload imports only electron: not "${name}"`;
    if (isElectron && from.zone !== 'shell')
      return `only the Electron shell (main/app/shell) imports electron; ${fromPath} runs without it`;
    return null;
  }
  if (target.kind === 'builtin') {
    if (from.zone === 'common' || from.zone === 'renderer' || from.zone === 'preload') {
      return `the ${from.zone} runs where Node's modules may not exist: not ${target.name}`;
    }
    return null;
  }

  const to = target.path;
  const toZone = zoneOf(to);
  if (from.zone === 'common') {
    return toZone.zone === 'common' ? null : `main/common/ imports nothing outside itself: not ${to}`;
  }
  if (toZone.zone === 'common' && !isIndex(to)) return `main/common/ is used through its index.ts, not ${to}`;

  if (from.zone === 'renderer' || from.zone === 'preload') {
    const own = from.zone === 'renderer' ? to.startsWith('renderer/src/') : to.startsWith('main/app/preload/');
    if (own || toZone.zone === 'common') return null;
    if (to === CONTRACT && typeOnly) return null;
    return `the ${from.zone} imports only its own files, main/common/ and types from the API contract (import type): not ${to}`;
  }

  if (PRODUCT_ZONES.has(from.zone) && !to.startsWith('main/')) {
    return `product code imports nothing outside main/ but packages: not ${to}`;
  }
  if (toZone.zone === 'test') return `only tests import tests: not ${to}`;
  if (toZone.zone === 'renderer') return `only the renderer's build reads renderer/src/: not ${to}`;
  if (toZone.zone === 'preload') return `the preload is bundled on its own, never imported: not ${to}`;
  if (toZone.zone === 'app-other') return `main/app/ holds only api/, shell/, preload/ and engine-process/: not ${to}`;
  if (toZone.zone === 'shell' && from.zone !== 'shell') return `only the shell's own files import the shell: not ${to}`;
  if (toZone.zone === 'cli' && from.zone !== 'cli')
    return `nothing imports the CLI (an adapter over the engine): not ${to}`;
  if (toZone.zone === 'api' && from.zone !== 'api' && from.zone !== 'shell' && from.zone !== 'engine-process') {
    return from.zone === 'stage'
      ? `the engine's stages never import the app: not ${to}`
      : `only the app (its shell and engine process) imports the app's API: not ${to}`;
  }
  if (
    toZone.zone === 'engine-process' &&
    from.zone !== 'engine-process' &&
    !(from.zone === 'shell' && to === ENGINE_MESSAGES)
  ) {
    return `the engine process is started, not imported (the shell reads its messages module only): not ${to}`;
  }
  if (toZone.zone === 'stage' && !(from.zone === 'stage' && from.stage === toZone.stage) && !isIndex(to)) {
    return `main/${toZone.stage}/ is used through its index.ts, not ${to}`;
  }

  // The Electron main process's start-up: its own files and the light set, the rest lazily.
  if (from.zone === 'shell' && !typeOnly && !dynamic && toZone.zone !== 'shell' && !SHELL_LIGHT.includes(to)) {
    return `the Electron main process loads only the shell at start-up: import ${to} lazily (await import) or in the engine process`;
  }
  return null;
}

/** The project path a relative specifier names, the `.js` of an import standing for the `.ts` source. */
function resolveRelative(fromFile, specifier) {
  const absolute = resolve(dirname(fromFile), specifier);
  return projectPath(absolute).replace(/\.js$/, '.ts');
}

function targetOf(fromFile, specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/'))
    return { kind: 'file', path: resolveRelative(fromFile, specifier) };
  if (specifier.startsWith('node:')) return { kind: 'builtin', name: specifier };
  const parts = specifier.split('/');
  return { kind: 'package', name: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] };
}

/** The string a module specifier node holds: a literal, or a template literal without expressions. */
function specifierText(node) {
  if (!node) return null;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked;
  return null;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'The module boundaries of the architecture (CONTRIBUTING.md, "Architecture rules").' },
    schema: [],
    messages: { refused: '{{reason}}' },
  },
  create(context) {
    const file = context.filename;
    const fromPath = projectPath(file);
    const zone = zoneOf(fromPath).zone;
    const product = PRODUCT_ZONES.has(zone);
    const report = (node, reason) => context.report({ node, messageId: 'refused', data: { reason } });
    const check = (node, sourceNode, options) => {
      const specifier = specifierText(sourceNode);
      if (specifier === null) {
        // A module named at run time cannot be checked: product code names its modules literally.
        if (product)
          report(node, `a module path computed at run time cannot be checked in ${fromPath}; name it literally`);
        return;
      }
      const reason = refusal(fromPath, targetOf(file, specifier), options);
      if (reason) report(node, reason);
    };
    const allTypes = (specifiers, kindOf) => specifiers.length > 0 && specifiers.every((s) => kindOf(s) === 'type');
    return {
      ImportDeclaration(node) {
        const typeOnly = node.importKind === 'type' || allTypes(node.specifiers, (s) => s.importKind);
        check(node, node.source, { typeOnly, dynamic: false });
      },
      ExportNamedDeclaration(node) {
        if (!node.source) return;
        const typeOnly = node.exportKind === 'type' || allTypes(node.specifiers, (s) => s.exportKind);
        check(node, node.source, { typeOnly, dynamic: false });
      },
      ExportAllDeclaration(node) {
        check(node, node.source, { typeOnly: node.exportKind === 'type', dynamic: false });
      },
      ImportExpression(node) {
        check(node, node.source, { typeOnly: false, dynamic: true });
      },
      TSImportEqualsDeclaration(node) {
        if (node.moduleReference.type !== 'TSExternalModuleReference') return;
        check(node, node.moduleReference.expression, { typeOnly: node.importKind === 'type', dynamic: false });
      },
      CallExpression(node) {
        // require('x'), and createRequire(...)('x'): loaded when the line runs, like a static import.
        const callee = node.callee;
        const isRequire =
          (callee.type === 'Identifier' && callee.name === 'require') ||
          (callee.type === 'CallExpression' &&
            callee.callee.type === 'Identifier' &&
            callee.callee.name === 'createRequire');
        if (!isRequire || node.arguments.length === 0) return;
        check(node, node.arguments[0], { typeOnly: false, dynamic: false });
      },
    };
  },
};
