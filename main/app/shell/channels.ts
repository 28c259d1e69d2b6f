/**
 * IPC channel names, namespaced so they never meet Electron's own. A module of its own with no
 * imports, because the preload bundles it (and must stay small and free of zod).
 */
export const invokeChannel = (channel: string): string => `triage:invoke:${channel}`;
export const eventChannel = (event: string): string => `triage:event:${event}`;
