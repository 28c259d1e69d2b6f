/**
 * The loop guard: an instance this product made (an SR or SC of its own that a PACS forwards
 * back) is recognised by its SOP Instance UID in the outbox and never triaged.
 */
import type { ResultStore } from '../store/index.js';
import type { InstanceHeader } from './received.js';

export function isOwnResult(header: InstanceHeader, store: Pick<ResultStore, 'outbox'>): boolean {
  return header.sopInstanceUID !== null && store.outbox.produced(header.sopInstanceUID);
}
