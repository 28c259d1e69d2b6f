/** IPC channel names, namespaced so they never meet Electron's own. */
export const invokeChannel = (channel: string): string => `triage:invoke:${channel}`;
export const eventChannel = (event: string): string => `triage:event:${event}`;
