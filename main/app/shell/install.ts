/**
 * Wires the shell's decisions to Electron: the privileged app:// scheme and its file server, the
 * session's permission, request and download handlers, the hardening of every WebContents
 * (navigation, new windows, <webview>), the one window, the IPC handlers (one per contract
 * channel, sender-checked and validated) and the engine process they relay to. Electron is passed
 * in rather than imported, so a test can run this wiring with a recording stand-in and check
 * that every handler is in place and behaves; `main.ts` passes the real module.
 */
import type * as Electron from 'electron';
import { log } from '../../log/index.js';
import { API, API_EVENTS, isApiEvent } from '../api/contract.js';
import { CONTENT_SECURITY_POLICY } from './csp.js';
import {
  allowNavigation,
  allowRequest,
  permissionCheckDecision,
  permissionRequestDecision,
  windowOpenDecision,
} from './guards.js';
import { eventChannel, GRANT_PATH_CHANNEL, handleGrant, handleInvoke, invokeChannel } from './ipc.js';
import type { InvokeContext } from './ipc.js';
import { EngineLink } from './engine-link.js';
import type { EngineChild } from './engine-link.js';
import type { EngineSettings } from '../engine-process/messages.js';
import { menuTemplate } from './menu.js';
import { ENTRY_URL, APP_SCHEME } from './origin.js';
import { SCHEME_PRIVILEGES, serveAsset } from './protocol.js';
import { dialogOptions, windowOptions } from './window.js';
import { isValidationReport, pathSemantics } from './reach.js';
import { WindowPolicy } from './window-policy.js';
import type { ChooserKind } from '../../common/index.js';

export type ShellElectron = Pick<
  typeof Electron,
  'app' | 'BrowserWindow' | 'Menu' | 'dialog' | 'ipcMain' | 'protocol' | 'session' | 'shell' | 'utilityProcess'
>;

export interface ShellConfig {
  /** The renderer's build folder, served as app://triage/. */
  rendererRoot: string;
  /** The bundled CommonJS preload. */
  preload: string;
  /** The engine process's entry module (main/app/engine-process/entry.js). */
  engineEntry: string;
  devTools: boolean;
  settings: EngineSettings;
  platform?: NodeJS.Platform;
}

export interface Shell {
  /** The window, once created (null before ready and after it closed). */
  window(): Electron.BrowserWindow | null;
  engine: EngineLink;
}

/** Navigation, new windows and <webview> refused on any WebContents the app ever creates. */
export function hardenContents(contents: Electron.WebContents): void {
  const refuse = (kind: string) => (event: { preventDefault(): void; url: string }) => {
    if (allowNavigation(event.url)) return;
    event.preventDefault();
    log('warn', 'navigation-refused', { kind, scheme: event.url.split(':')[0]?.slice(0, 16) });
  };
  contents.on('will-navigate', refuse('will-navigate'));
  contents.on('will-frame-navigate', refuse('will-frame-navigate'));
  contents.on('will-redirect', refuse('will-redirect'));
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log('warn', 'webview-refused');
  });
  contents.setWindowOpenHandler(() => windowOpenDecision());
}

/** Default-session policy: no permission, no network, no download, the CSP on every response. */
export function hardenSession(session: Electron.Session): void {
  session.setPermissionRequestHandler((_contents, permission, callback) =>
    callback(permissionRequestDecision(permission)),
  );
  session.setPermissionCheckHandler((_contents, permission) => permissionCheckDecision(permission));
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => {
    const allowed = allowRequest(details.url);
    if (!allowed) log('warn', 'request-refused', { scheme: details.url.split(':')[0]?.slice(0, 16) });
    callback({ cancel: !allowed });
  });
  session.webRequest.onHeadersReceived((details, callback) => {
    const responseHeaders: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      if (name.toLowerCase() !== 'content-security-policy') responseHeaders[name] = value;
    }
    responseHeaders['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
    callback({ responseHeaders });
  });
  session.on('will-download', (event) => {
    event.preventDefault();
    log('warn', 'download-refused');
  });
}

export function installShell(electron: ShellElectron, config: ShellConfig): Shell | null {
  const { app, BrowserWindow, Menu, dialog, ipcMain, protocol, session, shell, utilityProcess } = electron;
  // Both must happen before 'ready'.
  protocol.registerSchemesAsPrivileged([SCHEME_PRIVILEGES]);
  app.enableSandbox();
  // One instance: the results database is held by one process at a time.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return null;
  }

  let window: Electron.BrowserWindow | null = null;

  const relayEvent = (event: string, payload: unknown): void => {
    if (!isApiEvent(event) || !API_EVENTS[event].safeParse(payload).success) {
      log('warn', 'engine-event-dropped', { event: String(event).slice(0, 64) });
      return;
    }
    if (window && !window.isDestroyed()) window.webContents.send(eventChannel(event), payload);
  };

  // What each window may scan: the paths its user gave it (the dialog below, drops through the
  // preload) and the files already in the results store (asked of the engine process).
  const policy = new WindowPolicy({
    semantics: pathSemantics(config.platform ?? process.platform),
    stored: (paths) => engine.stored(paths),
  });

  const chooseFiles = async (kind: ChooserKind): Promise<string[]> => {
    if (!window || window.isDestroyed()) return [];
    const shownIn = window;
    const chosen = await dialog.showOpenDialog(shownIn, dialogOptions(kind));
    if (chosen.canceled) return [];
    // The user's answer: the window may scan these (and, for a folder, what lies inside it); a
    // labels file is granted the same way, for validation.start.
    if (!shownIn.isDestroyed()) policy.grant(shownIn.webContents.id, chosen.filePaths);
    return chosen.filePaths;
  };

  // A validation's report in the system's browser; only a path shaped like one (reach.ts).
  const openReport = (path: string): void => {
    if (!isValidationReport(path, pathSemantics(config.platform ?? process.platform))) {
      log('warn', 'report-open-refused', {});
      return;
    }
    void shell.openPath(path).then((failure) => {
      if (failure) log('warn', 'report-open-failed', { reason: failure.slice(0, 200) });
    });
  };

  const spawn = (): EngineChild => {
    const child = utilityProcess.fork(config.engineEntry, [], { serviceName: 'CXR Triage engine', stdio: 'inherit' });
    return {
      post: (message) => child.postMessage(message),
      onMessage: (listener) => void child.on('message', listener),
      onExit: (listener) => void child.on('exit', listener),
      kill: () => void child.kill(),
    };
  };

  const engine = new EngineLink({
    spawn,
    settings: config.settings,
    onEvent: relayEvent,
    chooseFiles,
    openReport,
    onExit: (code) => log('error', 'engine-process-exited', { code }),
    onLateReply: (channel) => log('warn', 'engine-late-reply', { channel: channel.slice(0, 64) }),
  });

  const invokeContext: InvokeContext = {
    schemas: API,
    windowContentsId: () => (window && !window.isDestroyed() ? window.webContents.id : null),
    run: (channel, request) => engine.request(channel, request),
    check: (windowId, channel, request) => policy.check(windowId, channel, request),
    onRefused: (channel, error) => log('warn', 'ipc-refused', { channel: channel.slice(0, 64), code: error.code }),
  };

  const createWindow = (): void => {
    window = new BrowserWindow(windowOptions({ preload: config.preload, devTools: config.devTools }));
    const shown = window;
    shown.once('ready-to-show', () => shown.show());
    shown.webContents.on('render-process-gone', (_event, details) =>
      log('error', 'renderer-gone', { reason: details.reason }),
    );
    // A page that failed to load still shows (its error), rather than leaving no window at all.
    shown.webContents.on('did-fail-load', (_event, code, description) => {
      log('error', 'renderer-load-failed', { code, description });
      shown.show();
    });
    // Read now: a closed window's webContents can no longer be asked.
    const contentsId = shown.webContents.id;
    shown.on('closed', () => {
      policy.forget(contentsId);
      if (window === shown) window = null;
    });
    void shown.loadURL(ENTRY_URL);
  };

  app.on('web-contents-created', (_event, contents) => hardenContents(contents));
  app.on('second-instance', () => {
    if (!window) return;
    if (window.isMinimized()) window.restore();
    window.focus();
  });
  app.on('window-all-closed', () => app.quit());

  // The engine process closes the database before the app exits (a scan stops after its batch).
  let engineClosed = false;
  app.on('before-quit', (event) => {
    if (engineClosed) return;
    event.preventDefault();
    void engine.close().finally(() => {
      engineClosed = true;
      app.quit();
    });
  });

  void app.whenReady().then(() => {
    hardenSession(session.defaultSession);
    protocol.handle(APP_SCHEME, (request) => serveAsset(request, config.rendererRoot));
    for (const channel of Object.keys(API)) {
      ipcMain.handle(invokeChannel(channel), (event, payload) => handleInvoke(invokeContext, channel, event, payload));
    }
    // A dropped file's path, from the preload (sendSync: it must always get an answer, or the
    // window would wait for it forever).
    ipcMain.on(GRANT_PATH_CHANNEL, (event, path) => {
      try {
        event.returnValue = handleGrant(invokeContext, event, path, (windowId, granted) =>
          policy.grant(windowId, [granted]),
        );
      } catch {
        event.returnValue = false;
      }
    });
    Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(config.platform ?? process.platform, config.devTools)));
    createWindow();
    app.on('activate', () => {
      if (!window) createWindow();
    });
  });

  return { window: () => window, engine };
}
