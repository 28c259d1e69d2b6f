/**
 * The one window's options. The page is an untrusted document as far as the main process is
 * concerned: it runs sandboxed, isolated from the preload, without Node, with web security on,
 * and reaches the engine only through `window.triage`.
 */
import type { BrowserWindowConstructorOptions, OpenDialogOptions } from 'electron';
import type { ChooserKind } from '../../common/index.js';

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

/**
 * The open dialog for each thing the window may ask for: files or a folder of radiographs (to
 * scan, or a validation's images), or one labels file (CSV) for a validation.
 */
export function dialogOptions(kind: ChooserKind): OpenDialogOptions {
  if (kind === 'folder') return { title: 'Open a folder of radiographs', properties: ['openDirectory'] };
  if (kind === 'labels')
    return {
      title: 'Choose the labels file (CSV)',
      properties: ['openFile'],
      filters: [
        { name: 'Labels (CSV)', extensions: ['csv'] },
        { name: 'All files', extensions: ['*'] },
      ],
    };
  return { title: 'Open radiographs', properties: ['openFile', 'multiSelections'] };
}
