/**
 * The app's one origin. The renderer is served from `app://triage/` by our own protocol handler,
 * never from file:// (which would give the page the whole disk's origin) and never from the network.
 */

export const APP_SCHEME = 'app';
export const APP_HOST = 'triage';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const ENTRY_URL = `${APP_ORIGIN}/index.html`;

/** True only for a URL on exactly our origin (scheme and host; no user info, no port). */
export function isAppOrigin(url: URL): boolean {
  return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST && url.username === '' && url.password === '';
}

/** True only for a well-formed URL on exactly our origin (see isAppOrigin). */
export function isAppUrl(url: string): boolean {
  try {
    return isAppOrigin(new URL(url));
  } catch {
    return false;
  }
}
