/**
 * The shell's wiring (install.ts) on a recording stand-in for Electron's API, since Electron's
 * binary cannot run here; its utilityProcess.fork forks the real engine-process entry with Node,
 * so IPC calls go through the real checks to the real engine, pack and store. Checked: the scheme
 * is registered privileged before ready and served from the renderer folder; the sandbox is forced;
 * the session refuses permissions, network requests and downloads and puts the CSP on every
 * response; every WebContents refuses navigation, new windows and <webview>; one window with the
 * secure options loads the app origin; one IPC handler per contract channel refuses foreign
 * senders and malformed payloads and relays the rest; the open dialog and push events go through
 * the window; scan.start takes only what the window was granted (the dialog's answer, a drop the
 * preload reports) or what the store holds, and never a network or automount path; quitting
 * closes the engine process first. Nothing here can call shell.openExternal:
 * the stand-in has no `shell`, and no shell source names it.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { API } from '../../../main/app/api/contract.js';
import type { ApiChannel, ApiResponse } from '../../../main/app/api/contract.js';
import { CONTENT_SECURITY_POLICY } from '../../../main/app/shell/csp.js';
import { installShell } from '../../../main/app/shell/install.js';
import type { Shell, ShellElectron } from '../../../main/app/shell/install.js';
import { windowOptions } from '../../../main/app/shell/window.js';
import { scratchDir } from '../../support/tools.js';
import { appPack, PHANTOMS, PHANTOM_FILES } from '../fixtures.js';

const SHELL_DIR = fileURLToPath(new URL('../../../main/app/shell/', import.meta.url));
const ENTRY = join(SHELL_DIR, '..', 'engine-process', 'entry.ts');
const scratch = scratchDir('app-install');
after(() => scratch.remove());

const rendererRoot = join(scratch.path, 'renderer');
mkdirSync(rendererRoot);
writeFileSync(join(rendererRoot, 'index.html'), '<!doctype html><title>CXR Triage</title>');
writeFileSync(join(scratch.path, 'secret.txt'), 'SECRET');
const reading = join(scratch.path, 'reading');
mkdirSync(reading);
copyFileSync(join(PHANTOMS, PHANTOM_FILES[0]), join(reading, PHANTOM_FILES[0]));

// ---- the recording stand-in -------------------------------------------------------------------

const calls: string[] = [];
const record = (name: string) => calls.push(name);

class FakeEvent {
  defaultPrevented = false;
  constructor(readonly url = '') {}
  preventDefault() {
    this.defaultPrevented = true;
  }
}

class FakeWebContents extends EventEmitter {
  static nextId = 1;
  readonly id = FakeWebContents.nextId++;
  windowOpenHandler: ((details: unknown) => unknown) | null = null;
  readonly sent: Array<[string, unknown]> = [];
  setWindowOpenHandler(handler: (details: unknown) => unknown) {
    this.windowOpenHandler = handler;
  }
  send(channel: string, payload: unknown) {
    this.sent.push([channel, payload]);
  }
}

const app = new EventEmitter() as EventEmitter & Record<string, unknown>;
let resolveReady!: () => void;
const ready = new Promise<void>((resolve) => (resolveReady = resolve));
Object.assign(app, {
  isPackaged: false,
  enableSandbox: () => record('app.enableSandbox'),
  requestSingleInstanceLock: () => (record('app.requestSingleInstanceLock'), true),
  quit: () => {
    record('app.quit');
    const event = new FakeEvent();
    app.emit('before-quit', event);
    if (!event.defaultPrevented) record('app.quit:proceeds');
  },
  whenReady: () => ready,
});

const windows: FakeWindow[] = [];
class FakeWindow extends EventEmitter {
  readonly webContents = new FakeWebContents();
  loaded: string | null = null;
  shown = false;
  constructor(readonly options: unknown) {
    super();
    windows.push(this);
    app.emit('web-contents-created', new FakeEvent(), this.webContents);
  }
  loadURL(url: string) {
    this.loaded = url;
    return Promise.resolve();
  }
  show() {
    this.shown = true;
  }
  isDestroyed() {
    return false;
  }
  isMinimized() {
    return false;
  }
  restore() {}
  focus() {}
}

const privileged: unknown[] = [];
const protocolHandlers = new Map<string, (request: Request) => Promise<Response>>();
const ipcHandlers = new Map<string, (event: unknown, payload: unknown) => Promise<unknown>>();
const ipcListeners = new Map<string, (event: { returnValue?: unknown }, payload: unknown) => void>();
/** What the main process posted to the engine process: kind, and the channel of requests. */
const enginePosts: string[] = [];
const session = new EventEmitter() as EventEmitter & Record<string, unknown>;
const sessionHandlers: Record<string, (...args: never[]) => unknown> = {};
Object.assign(session, {
  setPermissionRequestHandler: (h: never) => (sessionHandlers.permissionRequest = h),
  setPermissionCheckHandler: (h: never) => (sessionHandlers.permissionCheck = h),
  setDevicePermissionHandler: (h: never) => (sessionHandlers.devicePermission = h),
  webRequest: {
    onBeforeRequest: (h: never) => (sessionHandlers.beforeRequest = h),
    onHeadersReceived: (h: never) => (sessionHandlers.headersReceived = h),
  },
});
const dialogCalls: Array<[unknown, { properties: string[] }]> = [];
const engineChildren: ChildProcess[] = [];
let menu: unknown = null;

const electron = {
  app,
  BrowserWindow: FakeWindow,
  Menu: { buildFromTemplate: (template: unknown) => template, setApplicationMenu: (m: unknown) => (menu = m) },
  dialog: {
    showOpenDialog: async (window: unknown, options: { properties: string[] }) => {
      dialogCalls.push([window, options]);
      return { canceled: false, filePaths: [reading] };
    },
  },
  ipcMain: {
    handle: (channel: string, handler: (event: unknown, payload: unknown) => Promise<unknown>) =>
      ipcHandlers.set(channel, handler),
    on: (channel: string, listener: (event: { returnValue?: unknown }, payload: unknown) => void) =>
      ipcListeners.set(channel, listener),
  },
  protocol: {
    registerSchemesAsPrivileged: (schemes: unknown[]) => (
      record('protocol.registerSchemesAsPrivileged'),
      privileged.push(...schemes)
    ),
    handle: (scheme: string, handler: (request: Request) => Promise<Response>) => protocolHandlers.set(scheme, handler),
  },
  session: { defaultSession: session },
  shell: { openPath: async () => (record('shell.openPath'), '') },
  utilityProcess: {
    fork: (modulePath: string, args: string[], options: { serviceName?: string }) => {
      record(`utilityProcess.fork:${options.serviceName}`);
      assert.equal(modulePath, ENTRY);
      const child = fork(modulePath, args, {
        execArgv: ['--import', 'tsx'],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, TRIAGE_LOG: 'error' },
      });
      child.on('error', () => undefined);
      engineChildren.push(child);
      return {
        postMessage: (message: unknown) => {
          const { kind, channel } = message as { kind: string; channel?: string };
          enginePosts.push(channel ? `${kind}:${channel}` : kind);
          return child.send(message as never);
        },
        on: (event: string, listener: (...args: unknown[]) => void) => child.on(event, listener),
        kill: () => child.kill('SIGKILL'),
      };
    },
  },
};

// ---- the shell on the stand-in ------------------------------------------------------------------

let shell: Shell;
let window: FakeWindow;
const ours = () => ({
  sender: { id: window.webContents.id },
  senderFrame: { url: 'app://triage/index.html', parent: null },
});
/** One invoke through the registered IPC handler; the reply's value typed by the channel. */
const invoke = <C extends ApiChannel>(channel: C, event: unknown, payload: unknown) =>
  ipcHandlers.get(`triage:invoke:${channel}`)!(event, payload) as Promise<{
    ok: boolean;
    value?: ApiResponse<C>;
    error?: { code: string };
  }>;

before(async () => {
  const installed = installShell(electron as unknown as ShellElectron, {
    rendererRoot,
    preload: '/app/dist/main/app/preload/preload.cjs',
    engineEntry: ENTRY,
    devTools: false,
    settings: { resources: null, packDir: appPack(), database: join(scratch.path, 'results.sqlite'), provider: 'cpu' },
    platform: 'linux',
  });
  assert.ok(installed);
  shell = installed;
  record('ready');
  resolveReady();
  await ready;
  await new Promise((resolve) => setImmediate(resolve));
  window = windows[0];
});

after(async () => {
  await shell?.engine.close();
});

describe('before the app is ready', () => {
  test('the scheme is privileged, the sandbox forced and one instance held before ready', () => {
    const readyAt = calls.indexOf('ready');
    for (const call of ['protocol.registerSchemesAsPrivileged', 'app.enableSandbox', 'app.requestSingleInstanceLock']) {
      assert.ok(calls.indexOf(call) >= 0 && calls.indexOf(call) < readyAt, call);
    }
    assert.deepEqual(privileged, [
      { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    ]);
  });

  test('a second instance quits at once', () => {
    const second = {
      ...electron,
      app: Object.assign(new EventEmitter(), {
        enableSandbox() {},
        requestSingleInstanceLock: () => false,
        quit: () => record('second.quit'),
      }),
    };
    assert.equal(
      installShell(second as unknown as ShellElectron, {
        rendererRoot,
        preload: '',
        engineEntry: ENTRY,
        devTools: false,
        settings: { resources: null, packDir: null, database: null, provider: null },
      }),
      null,
    );
    assert.ok(calls.includes('second.quit'));
  });
});

describe('the session', () => {
  test('permission requests, checks and devices are refused', () => {
    const granted: boolean[] = [];
    for (const permission of [
      'media',
      'notifications',
      'geolocation',
      'clipboard-read',
      'fullscreen',
      'openExternal',
    ]) {
      (sessionHandlers.permissionRequest as (...a: unknown[]) => void)(
        window.webContents,
        permission,
        (ok: boolean) => granted.push(ok),
        {},
      );
      assert.equal(
        (sessionHandlers.permissionCheck as (...a: unknown[]) => boolean)(
          window.webContents,
          permission,
          'app://triage',
          {},
        ),
        false,
      );
    }
    assert.deepEqual(granted, [false, false, false, false, false, false]);
    assert.equal((sessionHandlers.devicePermission as (...a: unknown[]) => boolean)({ deviceType: 'usb' }), false);
  });

  test('network requests are cancelled; the app protocol passes', () => {
    const decide = (url: string) => {
      let cancel: boolean | undefined;
      (sessionHandlers.beforeRequest as (...a: unknown[]) => void)(
        { url },
        (response: { cancel: boolean }) => (cancel = response.cancel),
      );
      return cancel;
    };
    assert.equal(decide('https://example.org/track.js'), true);
    assert.equal(decide('file:///etc/passwd'), true);
    assert.equal(decide('app://triage/index.html'), false);
  });

  test('every response gets the CSP, replacing any looser one', () => {
    let headers: Record<string, string[]> = {};
    (sessionHandlers.headersReceived as (...a: unknown[]) => void)(
      {
        responseHeaders: {
          'content-security-policy': ["default-src *; script-src 'unsafe-eval'"],
          'Content-Type': ['text/html'],
        },
      },
      (response: { responseHeaders: Record<string, string[]> }) => (headers = response.responseHeaders),
    );
    assert.deepEqual(headers, { 'Content-Type': ['text/html'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] });
  });

  test('downloads are refused', () => {
    const event = new FakeEvent();
    session.emit('will-download', event);
    assert.ok(event.defaultPrevented);
  });
});

describe('the window', () => {
  test('one window with the secure options, loading the app origin, shown when ready', () => {
    assert.equal(windows.length, 1);
    assert.deepEqual(
      window.options,
      windowOptions({ preload: '/app/dist/main/app/preload/preload.cjs', devTools: false }),
    );
    assert.equal(window.loaded, 'app://triage/index.html');
    assert.equal(window.shown, false);
    window.emit('ready-to-show');
    assert.equal(window.shown, true);
    assert.ok(JSON.stringify(menu).includes('editMenu') && !JSON.stringify(menu).includes('toggleDevTools'));
    // A failed load shows the window anyway (with the error), so the app never starts invisible.
    window.shown = false;
    window.webContents.emit('did-fail-load', new FakeEvent(), -6, 'ERR_FILE_NOT_FOUND');
    assert.equal(window.shown, true);
  });

  test('navigation away, redirects, frame navigation, new windows and <webview> are refused', () => {
    const contents = window.webContents;
    for (const event of ['will-navigate', 'will-frame-navigate', 'will-redirect']) {
      const away = new FakeEvent('https://evil.example/');
      contents.emit(event, away, away.url);
      assert.ok(away.defaultPrevented, event);
      const file = new FakeEvent('file:///etc/passwd');
      contents.emit(event, file, file.url);
      assert.ok(file.defaultPrevented, event);
      const home = new FakeEvent('app://triage/index.html');
      contents.emit(event, home, home.url);
      assert.ok(!home.defaultPrevented, `${event} within the app`);
    }
    const webview = new FakeEvent();
    contents.emit('will-attach-webview', webview, {}, {});
    assert.ok(webview.defaultPrevented);
    assert.deepEqual(contents.windowOpenHandler!({ url: 'https://example.org/' }), { action: 'deny' });
  });

  test('any other WebContents the app creates is hardened the same way', () => {
    const other = new FakeWebContents();
    app.emit('web-contents-created', new FakeEvent(), other);
    const away = new FakeEvent('https://evil.example/');
    other.emit('will-navigate', away, away.url);
    assert.ok(away.defaultPrevented);
    assert.deepEqual(other.windowOpenHandler!({}), { action: 'deny' });
  });
});

describe('the app protocol', () => {
  test('serves the renderer folder and nothing outside it', async () => {
    const handler = protocolHandlers.get('app')!;
    const page = await handler(new Request('app://triage/index.html'));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    for (const url of [
      'app://triage/..%2fsecret.txt',
      'app://triage/%2e%2e/secret.txt',
      'app://triage/..%5csecret.txt',
    ]) {
      const response = await handler(new Request(url));
      assert.notEqual(response.status, 200, url);
      assert.ok(!(await response.text()).includes('SECRET'));
    }
  });
});

describe('IPC to the engine process', () => {
  test('one handler per contract channel, namespaced', () => {
    assert.deepEqual(
      [...ipcHandlers.keys()].sort(),
      Object.keys(API)
        .map((c) => `triage:invoke:${c}`)
        .sort(),
    );
  });

  test('foreign senders and malformed payloads are refused before the engine starts', async () => {
    assert.equal(
      (await invoke('status.get', { sender: { id: window.webContents.id }, senderFrame: null }, {})).error?.code,
      'FORBIDDEN_SENDER',
    );
    assert.equal(
      (await invoke('status.get', { sender: { id: 999 }, senderFrame: { url: 'app://triage/', parent: null } }, {}))
        .error?.code,
      'FORBIDDEN_SENDER',
    );
    assert.equal(
      (
        await invoke(
          'status.get',
          { sender: { id: window.webContents.id }, senderFrame: { url: 'https://evil.example/', parent: null } },
          {},
        )
      ).error?.code,
      'FORBIDDEN_SENDER',
    );
    assert.equal((await invoke('image.render', ours(), { file: '../../etc/passwd' })).error?.code, 'INVALID_REQUEST');
    assert.equal(engineChildren.length, 0, 'no engine process was needed to refuse them');
  });

  test('a valid request runs in the engine process, not in main', async () => {
    const reply = await invoke('status.get', ours(), {});
    assert.equal(reply.ok, true, JSON.stringify(reply.error));
    assert.equal(reply.value?.provider, 'cpu');
    assert.deepEqual(
      calls.filter((c) => c.startsWith('utilityProcess.fork')),
      ['utilityProcess.fork:CXR Triage engine'],
    );
    assert.equal(engineChildren.length, 1);
  });

  test('the open dialog belongs to the window; scan progress is pushed to it', async () => {
    const opened = await invoke('dialog.open', ours(), { kind: 'folder' });
    assert.equal(opened.ok, true);
    assert.deepEqual(opened.value?.paths, [reading]);
    assert.equal(dialogCalls.length, 1);
    assert.equal(dialogCalls[0][0], window);
    assert.deepEqual(dialogCalls[0][1].properties, ['openDirectory']);
    const deadline = Date.now() + 60_000;
    // The end of the scan, and the worklist refresh (debounced, so it may come after the end).
    const ended = () =>
      window.webContents.sent.some(
        ([channel, payload]) =>
          channel === 'triage:event:scan.progress' &&
          !(payload as { running: boolean }).running &&
          (payload as { last: unknown }).last,
      );
    const refreshed = () => window.webContents.sent.some(([channel]) => channel === 'triage:event:worklist.changed');
    while (!ended() || !refreshed()) {
      assert.ok(Date.now() < deadline, 'the scan ends');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.ok(
      window.webContents.sent.every(
        ([channel]) => channel === 'triage:event:scan.progress' || channel === 'triage:event:worklist.changed',
      ),
    );
    const worklist = await invoke('worklist.list', ours(), {});
    assert.equal(worklist.value?.studies.length, 1);
  });

  test('scan.start takes what the dialog granted (a folder: what lies inside); the rest is refused', async () => {
    const added = join(reading, 'added-1.dcm');
    copyFileSync(join(PHANTOMS, PHANTOM_FILES[1]), added);
    const inside = await invoke('scan.start', ours(), { paths: [added] });
    assert.equal(inside.ok, true, JSON.stringify(inside.error));
    enginePosts.length = 0;
    const secret = await invoke('scan.start', ours(), { paths: [join(scratch.path, 'secret.txt')] });
    assert.equal(secret.error?.code, 'PATH_NOT_GRANTED');
    // The engine process was asked whether the store holds it (it does not), and nothing else.
    assert.deepEqual(enginePosts, ['stored']);
  });

  test('network and automount paths are refused outright, granted or not, before the engine hears of them', async () => {
    const grant = ipcListeners.get('triage:grant-path')!;
    const event = { ...ours(), returnValue: undefined as unknown };
    grant(event, '/net/fileserver/export');
    assert.equal(event.returnValue, true, 'the preload always gets an answer');
    enginePosts.length = 0;
    for (const path of [
      '/net/fileserver/export/a.dcm',
      '//fileserver/share/a.dcm',
      String.raw`\\fileserver\share\a.dcm`,
    ]) {
      const reply = await invoke('scan.start', ours(), { paths: [path] });
      assert.equal(reply.error?.code, 'PATH_NOT_LOCAL', path);
    }
    assert.deepEqual(enginePosts, [], 'no lookup, no stat: the engine process was not asked');
  });

  test("a dropped file is granted by the preload's message, from our window only", async () => {
    const dropped = join(scratch.path, 'dropped');
    mkdirSync(dropped);
    const file = join(dropped, 'dropped.dcm');
    copyFileSync(join(PHANTOMS, PHANTOM_FILES[2]), file);
    assert.equal((await invoke('scan.start', ours(), { paths: [file] })).error?.code, 'PATH_NOT_GRANTED');
    const grant = ipcListeners.get('triage:grant-path')!;
    const foreign = {
      sender: { id: 999 },
      senderFrame: { url: 'app://triage/', parent: null },
      returnValue: undefined as unknown,
    };
    grant(foreign, file);
    assert.equal(foreign.returnValue, false);
    // A frame Electron can no longer describe: still an answer, so the window never hangs on it.
    const gone = {
      sender: { id: window.webContents.id },
      get senderFrame(): never {
        throw new Error('Render frame was disposed before WebFrameMain could be accessed');
      },
      returnValue: undefined as unknown,
    };
    grant(gone, file);
    assert.equal(gone.returnValue, false);
    assert.equal((await invoke('scan.start', ours(), { paths: [file] })).error?.code, 'PATH_NOT_GRANTED');
    const event = { ...ours(), returnValue: undefined as unknown };
    grant(event, file);
    assert.equal(event.returnValue, true);
    const reply = await invoke('scan.start', ours(), { paths: [file] });
    assert.equal(reply.ok, true, JSON.stringify(reply.error));
  });

  test('a new window has no grants, but may scan again what the results store holds', async () => {
    const first = window;
    const firstFile = join(reading, PHANTOM_FILES[0]); // scanned from the dialog above
    first.emit('closed');
    app.emit('activate');
    const second = windows[windows.length - 1];
    assert.notEqual(second, first);
    const theirs = () => ({
      sender: { id: second.webContents.id },
      senderFrame: { url: 'app://triage/index.html', parent: null },
    });
    const again = await invoke('scan.start', theirs(), { paths: [firstFile] });
    assert.equal(again.ok, true, JSON.stringify(again.error));
    const never = join(reading, 'added-2.dcm');
    copyFileSync(join(PHANTOMS, PHANTOM_FILES[3]), never);
    assert.equal(
      (await invoke('scan.start', theirs(), { paths: [never] })).error?.code,
      'PATH_NOT_GRANTED',
      'the closed window took its folder grant with it',
    );
    window = second;
  });

  test('a flood of verdicts is cut to the burst and the rate before it reaches the engine', async () => {
    enginePosts.length = 0;
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 200 }, () =>
        invoke('feedback.set', ours(), {
          file: join(reading, PHANTOM_FILES[0]),
          term: 'nodule',
          tree: 'finding',
          verdict: 'agree',
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const limited = replies.filter((reply) => reply.error?.code === 'RATE_LIMITED').length;
    const relayed = enginePosts.filter((post) => post === 'request:feedback.set').length;
    assert.equal(relayed + limited, 200);
    // However slow this machine: at most the burst, and the rate over the time the flood took.
    assert.ok(
      relayed >= 40 && relayed <= 40 + Math.ceil(10 * seconds),
      `${relayed} relayed in ${seconds.toFixed(2)} s`,
    );
  });

  test('quitting closes the engine process (and with it the database) first', async () => {
    const child = engineChildren[0];
    (app.quit as () => void)();
    assert.deepEqual(calls.slice(-1), ['app.quit'], 'the first quit waits for the engine');
    const code = await new Promise((resolve) =>
      child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
    );
    assert.equal(code, 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(calls.includes('app.quit:proceeds'), 'then the app quits');
  });
});

test('no shell source calls shell.openExternal or loads remote content', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    );
  for (const file of sources(SHELL_DIR)) {
    const text = readFileSync(file, 'utf8');
    assert.ok(!/openExternal\s*\(/.test(text), file);
    assert.ok(!/loadURL\(\s*['"`]https?:/.test(text), file);
  }
});
