/**
 * The worklist's priorities, most urgent first. No imports: the triage rules, the desktop app's
 * API contract and its renderer all read this one list.
 */
export const PRIORITIES = ['critical', 'urgent', 'abnormal', 'needs review', 'normal'] as const;
export type Priority = (typeof PRIORITIES)[number];
