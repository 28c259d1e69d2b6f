/**
 * The installer's contents, for real: electron-builder (as `npm run package` runs it, with
 * electron-builder.yml) packages a Linux directory build offline into a scratch folder, for x64 and
 * arm64. Electron's own binary cannot be downloaded here, so electronDist is a stand-in folder
 * whose `electron` file carries what @electron/fuses edits in a real one: the fuse sentinel
 * (dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX), the wire version (1), the wire length (8) and one byte per
 * fuse ('0' off, '1' on) set to Electron's shipped defaults. Checked in the output: app.asar holds
 * the main process, the bundled preload and the renderer build; onnxruntime-node's .node and
 * libonnxruntime are real files in app.asar.unpacked for the target architecture only, and no
 * other platform's or architecture's runtime is anywhere; the model packs, taxonomy and sample
 * phantoms are extra resources without build scripts; every fuse reads back as configured. Then
 * the packaged JavaScript runs: the engine process, extracted from app.asar, starts with plain
 * Node on the packaged resources and answers the API.
 */
import assert from 'node:assert/strict';
import { fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { extractAll, listPackage, statFile } from '@electron/asar';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { parse } from 'yaml';
import { EngineLink } from '../../../main/app/shell/engine-link.js';
import { scratchDir } from '../../support/tools.js';
import { appPack } from '../fixtures.js';

const root = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const scratch = scratchDir('app-packaging');
after(() => scratch.remove());

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Electron's defaults, in @electron/fuses' V1 order: runAsNode on, cookie encryption off, NODE_OPTIONS
// on, --inspect on, asar integrity off, only-asar off, browser V8 snapshot off, file:// privileges on.
const SHIPPED_FUSES = '10110001';
const config = parse(readFileSync(join(root, 'electron-builder.yml'), 'utf8'));
const electronVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8'))
  .version as string;

function standInElectron(dir: string): void {
  mkdirSync(join(dir, 'resources'), { recursive: true });
  const wire = Buffer.from([1, SHIPPED_FUSES.length, ...Buffer.from(SHIPPED_FUSES, 'latin1')]);
  // Padding on both sides, as the wire sits in the middle of a real binary.
  writeFileSync(
    join(dir, 'electron'),
    Buffer.concat([Buffer.alloc(4096, 0x7f), Buffer.from(SENTINEL, 'latin1'), wire, Buffer.alloc(4096, 0x7f)]),
    { mode: 0o755 },
  );
  writeFileSync(join(dir, 'version'), electronVersion);
  writeFileSync(join(dir, 'LICENSE'), 'stand-in for the Electron distribution');
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

function size(dir: string): number {
  return files(dir).reduce((sum, file) => sum + statSync(file).size, 0);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

interface Build {
  arch: 'x64' | 'arm64';
  out: string;
  resources: string;
  asar: string;
  entries: string[];
}

function packageLinuxDir(arch: Build['arch']): Build {
  const standIn = join(scratch.path, 'electron-dist');
  if (!existsSync(standIn)) standInElectron(standIn);
  const output = join(scratch.path, `out-${arch}`);
  const result = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules', 'electron-builder', 'cli.js'),
      '--linux',
      'dir',
      `--${arch}`,
      '--publish',
      'never',
      `-c.electronVersion=${electronVersion}`,
      `-c.electronDist=${standIn}`,
      `-c.directories.output=${output}`,
    ],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1', CSC_IDENTITY_AUTO_DISCOVERY: 'false' },
    },
  );
  assert.equal(result.status, 0, `electron-builder failed:\n${result.stdout}\n${result.stderr}`);
  const out = join(output, arch === 'x64' ? 'linux-unpacked' : 'linux-arm64-unpacked');
  const resources = join(out, 'resources');
  const asar = join(resources, 'app.asar');
  return {
    arch,
    out,
    resources,
    asar,
    entries: listPackage(asar, { isPack: false }).map((e) => e.split(sep).join('/')),
  };
}

const builds: Partial<Record<Build['arch'], Build>> = {};

before(() => {
  // What `npm run build` (run by `npm test` first) makes; packaging without it would prove nothing.
  for (const built of [
    'dist/main/app/shell/main.js',
    'dist/main/app/preload/preload.cjs',
    'dist/renderer/index.html',
    'dist/renderer/app.js',
  ]) {
    assert.ok(existsSync(join(root, built)), `${built} is missing: run npm run build (npm test does) before this test`);
  }
  builds.x64 = packageLinuxDir('x64');
  builds.arm64 = packageLinuxDir('arm64');
});

describe('Linux directory build (x64)', () => {
  test('the executable is Electron renamed, and app.asar holds the main process, the preload and the renderer', () => {
    const { out, entries } = builds.x64!;
    assert.ok(existsSync(join(out, 'cxr-triage')), 'executable named after linux.executableName');
    const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).main as string;
    for (const entry of [
      main,
      'dist/main/app/preload/preload.cjs',
      'dist/main/app/engine-process/entry.js',
      'dist/main/app/api/backend.js',
      'dist/main/engine/index.js',
      'dist/main/inference/worker.js',
      'dist/main/engine/decode-worker.js',
      'dist/main/scan/identify-worker.js',
    ]) {
      assert.ok(entries.includes(`/${entry}`), `app.asar lacks ${entry}`);
    }
    const renderer = files(join(root, 'dist', 'renderer'))
      .map((f) => relative(root, f).split(sep).join('/'))
      .filter((f) => !f.endsWith('.map'));
    assert.ok(renderer.length >= 3);
    for (const file of renderer) assert.ok(entries.includes(`/${file}`), `app.asar lacks ${file}`);
    // The packaged files are the built ones, byte for byte.
    const packagedIndex = statFile(builds.x64!.asar, 'dist/renderer/index.html') as { size: number };
    assert.equal(packagedIndex.size, statSync(join(root, 'dist', 'renderer', 'index.html')).size);
  });

  test('build tools, source maps, tests, dev dependencies and dependency sources stay out', () => {
    const { entries } = builds.x64!;
    for (const entry of entries) {
      assert.ok(!entry.endsWith('.map'), entry);
      assert.ok(!/\.d\.[cm]?ts$/.test(entry) && !entry.endsWith('.ts'), entry);
      assert.ok(
        !entry.startsWith('/dist/test/') &&
          !entry.startsWith('/dist/models/') &&
          !entry.startsWith('/test/') &&
          !entry.startsWith('/main/'),
        entry,
      );
    }
    for (const absent of [
      '/dist/main/app/shell/bundle-preload.js',
      '/dist/main/app/preload/preload.js',
      '/node_modules/electron',
      '/node_modules/electron-builder',
      '/node_modules/esbuild',
      '/node_modules/typescript',
      '/node_modules/playwright-core',
      '/node_modules/tsx',
      '/node_modules/cornerstone-core',
    ]) {
      assert.ok(!entries.includes(absent), `${absent} is packaged`);
    }
    // The production dependencies the engine loads are there.
    for (const present of [
      '/node_modules/onnxruntime-node',
      '/node_modules/zod',
      '/node_modules/node-sqlite3-wasm',
      '/node_modules/dicom-parser',
    ]) {
      assert.ok(entries.includes(present), `${present} is missing`);
    }
  });

  test("onnxruntime-node's linux-x64 addon and runtime are real files in app.asar.unpacked, and nothing else is", () => {
    const { resources, asar } = builds.x64!;
    const dir = 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64';
    for (const name of ['onnxruntime_binding.node', 'libonnxruntime.so.1']) {
      const unpacked = join(resources, 'app.asar.unpacked', dir, name);
      assert.ok(statSync(unpacked).isFile(), `${name} unpacked`);
      assert.equal(
        (statFile(asar, `${dir}/${name}`) as { unpacked?: boolean }).unpacked,
        true,
        `${name} marked unpacked in the archive`,
      );
      const original = join(root, dir, name);
      assert.equal(
        createHash('sha256').update(readFileSync(unpacked)).digest('hex'),
        createHash('sha256').update(readFileSync(original)).digest('hex'),
      );
    }
    const unpackedFiles = files(join(resources, 'app.asar.unpacked'))
      .map((f) => relative(join(resources, 'app.asar.unpacked'), f).split(sep).join('/'))
      .sort();
    assert.deepEqual(unpackedFiles, [`${dir}/libonnxruntime.so.1`, `${dir}/onnxruntime_binding.node`]);
  });

  test("no other platform's or architecture's onnxruntime binaries anywhere in the build", () => {
    const { out, entries } = builds.x64!;
    const foreign = /napi-v6\/(win32|darwin|linux\/arm64)\b/;
    assert.deepEqual(
      entries.filter((e) => foreign.test(e)),
      [],
    );
    const everything = files(out).map((f) => relative(out, f).split(sep).join('/'));
    assert.deepEqual(
      everything.filter((f) => foreign.test(f) || /\.(dll|dylib)$/.test(f)),
      [],
    );
  });

  test('model packs, the taxonomy and the sample phantoms are extra resources, without build scripts', (t) => {
    const { resources } = builds.x64!;
    const models = join(resources, 'models');
    // electron-builder.yml leaves out the per-image evidence behind a pack's figures (not run).
    const kept = (path: string) =>
      !/^(import|training)\//.test(path) &&
      !/^packs\/[^/]+\/evidence\//.test(path) &&
      !path.endsWith('.py') &&
      !path.includes('__pycache__');
    const source = files(join(root, 'models'))
      .map((f) => relative(join(root, 'models'), f).split(sep).join('/'))
      .filter(kept)
      .sort();
    const packaged = files(models)
      .map((f) => relative(models, f).split(sep).join('/'))
      .sort();
    assert.deepEqual(
      packaged,
      source,
      "resources/models mirrors models/ minus import/, training/, the packs' evidence/ and Python",
    );
    for (const file of source)
      assert.equal(statSync(join(models, file)).size, statSync(join(root, 'models', file)).size, file);
    assert.ok(existsSync(join(models, 'taxonomy', 'padchest', 'trees_code.txt')));
    assert.ok(packaged.filter((f) => f.startsWith('samples/phantoms/') && f.endsWith('.dcm')).length >= 12);
    const packs = existsSync(join(root, 'models', 'packs')) ? readdirSync(join(root, 'models', 'packs')) : [];
    for (const pack of packs)
      assert.ok(existsSync(join(models, 'packs', pack, 'ensemble.json')), `pack ${pack} is in the resources`);
    if (packs.length === 0)
      t.diagnostic('models/packs is not in this tree yet (the demo pack lands with its training): no pack to package');
    t.diagnostic(
      `app.asar ${mib(statSync(builds.x64!.asar).size)}, app.asar.unpacked ${mib(size(join(resources, 'app.asar.unpacked')))}, resources/models ${mib(size(models))}, whole build without Electron ${mib(size(resources))}`,
    );
  });

  test('every fuse reads back as electron-builder.yml sets it', async () => {
    const wire = await getCurrentFuseWire(join(builds.x64!.out, 'cxr-triage'));
    const expected: Record<string, boolean> = config.electronFuses;
    const byOption: Record<string, FuseV1Options> = {
      runAsNode: FuseV1Options.RunAsNode,
      enableCookieEncryption: FuseV1Options.EnableCookieEncryption,
      enableNodeOptionsEnvironmentVariable: FuseV1Options.EnableNodeOptionsEnvironmentVariable,
      enableNodeCliInspectArguments: FuseV1Options.EnableNodeCliInspectArguments,
      enableEmbeddedAsarIntegrityValidation: FuseV1Options.EnableEmbeddedAsarIntegrityValidation,
      onlyLoadAppFromAsar: FuseV1Options.OnlyLoadAppFromAsar,
      loadBrowserProcessSpecificV8Snapshot: FuseV1Options.LoadBrowserProcessSpecificV8Snapshot,
      grantFileProtocolExtraPrivileges: FuseV1Options.GrantFileProtocolExtraPrivileges,
    };
    assert.deepEqual(Object.keys(expected).sort(), Object.keys(byOption).sort(), 'the configuration names every fuse');
    assert.deepEqual(expected, {
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
    for (const [name, option] of Object.entries(byOption)) {
      // '0' (48) off, '1' (49) on: the byte in the packaged executable.
      assert.equal(wire[option], (config.electronFuses as Record<string, boolean>)[name] ? 49 : 48, name);
    }
    // Seven of the eight differ from Electron's defaults: the packaged binary was really rewritten.
    const changed = Object.values(byOption).filter((option) => wire[option] !== SHIPPED_FUSES.charCodeAt(option));
    assert.equal(changed.length, 7);
  });

  test('the packaged JavaScript runs: the engine process from app.asar answers the API on the packaged resources', async () => {
    const extracted = join(scratch.path, 'extracted');
    extractAll(builds.x64!.asar, extracted);
    assert.ok(
      statSync(join(extracted, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1')).size > 1e6,
    );
    // The archive has no models/: the taxonomy can only come from the resources folder.
    assert.ok(!existsSync(join(extracted, 'models')));
    const entry = join(extracted, 'dist', 'main', 'app', 'engine-process', 'entry.js');
    const status = async (resources: string | null) => {
      const link = new EngineLink({
        spawn: () => {
          const child = fork(entry, [], {
            serialization: 'advanced',
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
            env: { ...process.env, TRIAGE_LOG: 'silent', TRIAGE_RESOURCES: '' },
          });
          child.on('error', () => undefined);
          return {
            post: (message) => void child.send(message),
            onMessage: (listener) => void child.on('message', listener),
            onExit: (listener) => void child.on('exit', (code) => listener(code)),
            kill: () => void child.kill('SIGKILL'),
          };
        },
        settings: {
          resources,
          packDir: appPack(),
          database: join(scratch.path, `packaged-${resources ? 'resources' : 'none'}.sqlite`),
          provider: 'cpu',
        },
        onEvent: () => undefined,
        chooseFiles: async () => [],
      });
      try {
        return await link.request('status.get', {});
      } finally {
        await link.close();
      }
    };
    const reply = await status(builds.x64!.resources);
    assert.ok(reply.ok, reply.ok ? '' : `${reply.error.code}: ${reply.error.message}`);
    const value = (reply as { ok: true; value: { provider: string; taxonomy: string } }).value;
    assert.equal(value.provider, 'cpu', 'onnxruntime loaded from the packaged tree');
    assert.equal(value.taxonomy, 'PadChest');
    // Control: without the resources folder the same packaged code finds no taxonomy.
    const without = await status(null);
    assert.equal(without.ok, false);
    assert.equal(!without.ok && without.error.code, 'TAXONOMY_NOT_FOUND');
  });

  test('the installed app checks itself: --selftest runs the packaged packs on the packaged phantoms', () => {
    const extracted = join(scratch.path, 'extracted-selftest');
    extractAll(builds.x64!.asar, extracted);
    // What main.ts does under Electron, where process.resourcesPath is the build's resources folder.
    const runner = join(scratch.path, 'selftest-runner.mjs');
    writeFileSync(
      runner,
      `process.resourcesPath = process.argv[2];
const { runInstalledSelftest, selftestArgs } = await import(process.argv[3]);
process.exitCode = await runInstalledSelftest(selftestArgs(process.argv.slice(4)));
`,
    );
    const selftestModule = pathToFileURL(join(extracted, 'dist', 'main', 'app', 'shell', 'selftest.js')).href;
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [runner, builds.x64!.resources, selftestModule, '--selftest', ...args], {
        encoding: 'utf8',
        env: { ...process.env, TRIAGE_LOG: 'silent', TRIAGE_RESOURCES: '' },
        timeout: 120_000,
      });
    const passed = run('--ep', 'cpu');
    assert.equal(passed.status, 0, passed.stdout + passed.stderr);
    assert.match(passed.stdout, /^demo +cpu +findings as recorded at build time +PASS +\d+ of \d+ images identical$/m);
    assert.match(passed.stdout, /SELFTEST PASSED \(1 pack\)/);
    // A coded usage error, not a stack: exit code 2, JSON on stderr.
    const refused = run('--ep', 'warp-drive');
    assert.equal(refused.status, 2);
    assert.equal(JSON.parse(refused.stderr.trim().split('\n').pop()!).error.code, 'USAGE');
    // The same options as `triage selftest`: --help, and an unknown option is a USAGE error.
    const help = run('--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^triage selftest \[--ep /);
    const unknown = run('--fast');
    assert.equal(unknown.status, 2);
    const unknownError = JSON.parse(unknown.stderr.trim().split('\n').pop()!).error;
    assert.equal(unknownError.code, 'USAGE');
    assert.match(unknownError.message, /--fast/);
  });
});

describe('Linux directory build (arm64)', () => {
  test('the same configuration keeps linux-arm64 onnxruntime only', () => {
    const { resources, entries } = builds.arm64!;
    const dir = 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64';
    for (const name of ['onnxruntime_binding.node', 'libonnxruntime.so.1']) {
      assert.ok(statSync(join(resources, 'app.asar.unpacked', dir, name)).isFile(), name);
    }
    assert.deepEqual(
      entries.filter((e) => /napi-v6\/(win32|darwin|linux\/x64)\b/.test(e)),
      [],
    );
  });
});

describe('the other platforms in electron-builder.yml', () => {
  test('AppImage and deb for Linux, NSIS for Windows, dmg for macOS; one onnxruntime rule for all', () => {
    assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
    assert.equal(config.win.target, 'nsis');
    assert.equal(config.mac.target, 'dmg');
    assert.equal(config.npmRebuild, false);
    assert.equal(config.asar.smartUnpack, false);
    // The keep rule and the unpack rule name the target through macros: win32/x64 and darwin/arm64
    // builds get their own folder and nothing else (checked above for linux x64 and arm64).
    assert.ok(config.files.includes('!node_modules/onnxruntime-node/bin/napi-v6/**'));
    assert.ok(config.files.includes('node_modules/onnxruntime-node/bin/napi-v6/${platform}/${arch}/**'));
    assert.deepEqual(config.asarUnpack, ['node_modules/onnxruntime-node/bin/napi-v6/${platform}/${arch}/**']);
    for (const platform of ['win32/x64', 'darwin/arm64', 'darwin/x64']) {
      const folder = join(root, 'node_modules/onnxruntime-node/bin/napi-v6', platform);
      if (existsSync(folder))
        assert.ok(
          readdirSync(folder).some((f) => /\.(node)$/.test(f)),
          `${platform} has its addon for its own build`,
        );
    }
  });
});
