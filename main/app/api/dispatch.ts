/**
 * One invoke, validated: the channel must be in the contract, the request must match its schema
 * (extra keys refused), and whatever the handler throws becomes a coded envelope, never a stack
 * trace. Electron's IPC wiring and the end-to-end tests' page bridge both go through here, so
 * validation is the same in both.
 */
import { log } from '../../log/index.js';
import { describeIssues } from '../../packs/manifest.js';
import { toTriageError } from '../../errors/index.js';
import { API, isApiChannel } from './contract.js';
import type { ApiChannel, ApiEnvelope, ApiHandlers } from './contract.js';

export type AnyEnvelope = ApiEnvelope<ApiChannel>;

export async function dispatch(handlers: ApiHandlers, channel: unknown, request: unknown): Promise<AnyEnvelope> {
  if (!isApiChannel(channel)) {
    return { ok: false, error: { code: 'INVALID_REQUEST', message: `Unknown API channel ${JSON.stringify(String(channel)).slice(0, 80)}.` } };
  }
  const parsed = API[channel].request.safeParse(request);
  if (!parsed.success) {
    return { ok: false, error: { code: 'INVALID_REQUEST', message: `Invalid ${channel} request: ${describeIssues(parsed.error)}.` } };
  }
  try {
    const handler = handlers[channel] as (request: unknown) => Promise<unknown>;
    const value = await handler(parsed.data);
    return { ok: true, value } as AnyEnvelope;
  } catch (thrown) {
    const error = toTriageError(thrown);
    // Internal failures are logged with their message (never patient data: the engine reads none).
    if (error.code === 'INTERNAL') log('error', 'api-internal-error', { channel, message: error.message });
    return { ok: false, error: { code: error.code, message: error.message } };
  }
}
