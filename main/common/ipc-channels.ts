/** IPC channel names, namespaced so they never meet Electron's own. */
export const invokeChannel = (channel: string): string => `triage:invoke:${channel}`;
export const eventChannel = (event: string): string => `triage:event:${event}`;
/**
 * The preload's own message: a path the user dropped (webUtils.getPathForFile on a real File),
 * granted to the window by the main process. Not an API channel: the page cannot send it.
 */
export const GRANT_PATH_CHANNEL = 'triage:grant-path';
