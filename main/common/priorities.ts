/**
 * The worklist's priorities, most urgent first: the triage rules, the API contract, the results
 * database and the renderer read this one list.
 */
export const PRIORITIES = ['critical', 'urgent', 'abnormal', 'needs review', 'normal'] as const;
export type Priority = (typeof PRIORITIES)[number];
