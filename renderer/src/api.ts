/**
 * The renderer's only door to the engine: `window.triage`, exposed by the preload (or, in the
 * end-to-end tests, by the page bridge). Types come from the contract; no engine code is imported.
 */
import type {
  ApiChannel,
  ApiEvent,
  ApiEventPayload,
  ApiRequest,
  ApiResponse,
  TriageApi,
} from '../../main/app/api/contract.js';
import { parseApiCallError } from '../../main/common/index.js';
import type { CodedError } from '../../main/common/index.js';

declare global {
  interface Window {
    triage: TriageApi;
  }
}

export type { CodedError };

export function api(): TriageApi {
  if (!window.triage) throw new Error('window.triage is missing: the preload did not run.');
  return window.triage;
}

export function invoke<C extends ApiChannel>(channel: C, request: ApiRequest<C>): Promise<ApiResponse<C>> {
  return api().invoke(channel, request);
}

export function on<E extends ApiEvent>(event: E, listener: (payload: ApiEventPayload<E>) => void): () => void {
  return api().on(event, listener);
}

/** What a user is shown of a failure: the coded message, never a stack. */
export function describeError(thrown: unknown): CodedError {
  return parseApiCallError(thrown);
}
