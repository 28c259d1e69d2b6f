/**
 * The one window's options. The page is an untrusted document as far as the main process is
 * concerned: it runs sandboxed, isolated from the preload, without Node, with web security on,
 * and reaches the engine only through `window.triage`.
 */
import type { BrowserWindowConstructorOptions } from 'electron';

export interface WindowSettings {
  /** The bundled CommonJS preload (a sandboxed preload cannot require local files). */
  preload: string;
  /** Developer tools: on for `npm start` from a checkout, off in an installed app. */
  devTools: boolean;
}

export function windowOptions(settings: WindowSettings): BrowserWindowConstructorOptions {
  return {
    width: 1600,
    height: 1000,
    minWidth: 1024,
    minHeight: 700,
    title: 'CXR Triage Workstation',
    backgroundColor: '#111111',
    // Shown at 'ready-to-show', so no blank frame flashes on a dark reading-room screen.
    show: false,
    autoHideMenuBar: true,
    webPreferences: {
      preload: settings.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: settings.devTools,
    },
  };
}
