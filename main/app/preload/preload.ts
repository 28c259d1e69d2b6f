/**
 * The preload: exposes exactly `window.triage` (TriageApi) to the page, and nothing of Electron.
 * Sandboxed preloads cannot require local files, so this is bundled into one CommonJS file by
 * `main/app/shell/bundle-preload.ts`, which writes the contract's channel and event names in at build time
 * (TRIAGE_CHANNELS, TRIAGE_EVENTS): the preload refuses any other name before it reaches IPC,
 * and carries no zod (the main process validates every payload).
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { IpcRendererEvent } from 'electron';
import {
  eventChannel,
  GRANT_PATH_CHANNEL,
  invokeChannel,
  toApiCallError,
  unknownChannel,
  unwrapEnvelope,
} from '../../common/index.js';
import type { TriageApi } from '../api/contract.js';

declare const TRIAGE_CHANNELS: readonly string[];
declare const TRIAGE_EVENTS: readonly string[];

const channels = new Set<string>(TRIAGE_CHANNELS);
const events = new Set<string>(TRIAGE_EVENTS);

const api: TriageApi = {
  invoke(channel, request) {
    if (typeof channel !== 'string' || !channels.has(channel)) {
      return Promise.reject(toApiCallError({ code: 'INVALID_REQUEST', message: unknownChannel(channel) }));
    }
    return ipcRenderer.invoke(invokeChannel(channel), request).then(unwrapEnvelope) as never;
  },
  on(event, listener) {
    if (typeof event !== 'string' || !events.has(event))
      throw toApiCallError({
        code: 'INVALID_REQUEST',
        message: `Unknown API event ${JSON.stringify(String(event)).slice(0, 80)}.`,
      });
    if (typeof listener !== 'function')
      throw toApiCallError({ code: 'INVALID_REQUEST', message: 'An event listener must be a function.' });
    // The page gets the payload only: the IPC event object would hand it ipcRenderer itself.
    const forward = (_event: IpcRendererEvent, payload: unknown): void => listener(payload as never);
    ipcRenderer.on(eventChannel(event), forward);
    return () => {
      ipcRenderer.removeListener(eventChannel(event), forward);
    };
  },
  pathForFile(file) {
    let path: string;
    try {
      path = webUtils.getPathForFile(file);
    } catch {
      return '';
    }
    // The user dropped this file: the main process grants its path to the window (scan.start takes
    // only granted paths). Synchronous, so the grant lands before the page's next invoke.
    if (path !== '') {
      try {
        ipcRenderer.sendSync(GRANT_PATH_CHANNEL, path);
      } catch {
        // Not granted: scan.start refuses the path with its code.
      }
    }
    return path;
  },
};

contextBridge.exposeInMainWorld('triage', Object.freeze(api));
