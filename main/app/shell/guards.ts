/**
 * What the window may do beyond showing the app: almost nothing. Navigation away from the app
 * origin, new windows, <webview>, permission requests (camera, notifications, clipboard, devices,
 * fullscreen...) and any network request that is not the app's own protocol are refused. These
 * are the decisions; `install.ts` hangs them on Electron's events.
 */
import { isAppUrl } from './origin.js';

/** will-navigate / will-frame-navigate / will-redirect: only within the app origin (a reload). */
export function allowNavigation(url: string): boolean {
  return isAppUrl(url);
}

/** setWindowOpenHandler: no window.open, no target=_blank, and no external browser either. */
export function windowOpenDecision(): { action: 'deny' } {
  return { action: 'deny' };
}

/** setPermissionRequestHandler: every request is refused. */
export function permissionRequestDecision(_permission: string): false {
  return false;
}

/** setPermissionCheckHandler / setDevicePermissionHandler: every check says no. */
export function permissionCheckDecision(_permission: string): false {
  return false;
}

/**
 * session.webRequest.onBeforeRequest: the app's protocol, and the in-memory URLs the page makes
 * itself (data:, blob:) and devtools' own pages; everything else (http, https, ws, file, ftp...) is
 * cancelled, so nothing leaves the workstation and no local file is read by URL.
 */
export function allowRequest(url: string): boolean {
  if (isAppUrl(url)) return true;
  return /^(data|blob):/i.test(url) || /^devtools:\/\//i.test(url);
}
