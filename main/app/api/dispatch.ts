/**
 * One invoke, validated: the channel must be in the contract, the request must match its schema
 * (extra keys refused), and whatever the handler throws becomes a coded envelope, never a stack
 * trace. Electron's IPC wiring and the end-to-end tests' page bridge both go through here, so
 * validation is the same in both. The main process validates with the same `validateRequest`
 * before it relays a request to the engine process, and builds its error replies with the same
 * `errorEnvelope`, so the wording cannot drift between the two.
 */
import type { ZodType } from 'zod';
import { log } from '../../log/index.js';
import { describeIssues, TriageError, toTriageError } from '../../errors/index.js';
import { API } from './contract.js';
import type { ApiChannel, ApiEnvelope, ApiError, ApiHandlers } from './contract.js';
import { unknownChannel } from '../../common/index.js';

export type AnyEnvelope = ApiEnvelope<ApiChannel>;

/** Request schemas by channel name (the contract's API, or a subset of it). */
export type RequestSchemas = Readonly<Record<string, { readonly request: ZodType }>>;

/** A failed envelope: the code and message of whatever was thrown (unexpected throws are INTERNAL). */
export function errorEnvelope(thrown: unknown): { ok: false; error: ApiError } {
  const error = toTriageError(thrown);
  return { ok: false, error: { code: error.code, message: error.message } };
}

/** Parses a payload with the channel's request schema; an unknown channel or a mismatch is INVALID_REQUEST. */
export function validateRequest(
  schemas: RequestSchemas,
  channel: unknown,
  payload: unknown,
): { ok: true; request: unknown } | { ok: false; error: TriageError } {
  if (typeof channel !== 'string' || !Object.hasOwn(schemas, channel)) {
    return { ok: false, error: new TriageError('INVALID_REQUEST', unknownChannel(channel)) };
  }
  const parsed = schemas[channel].request.safeParse(payload);
  // The payload itself is never echoed.
  if (!parsed.success)
    return {
      ok: false,
      error: new TriageError('INVALID_REQUEST', `Invalid ${channel} request: ${describeIssues(parsed.error)}.`),
    };
  return { ok: true, request: parsed.data };
}

export async function dispatch(handlers: ApiHandlers, channel: unknown, request: unknown): Promise<AnyEnvelope> {
  const validated = validateRequest(API, channel, request);
  if (!validated.ok) return errorEnvelope(validated.error);
  try {
    const handler = handlers[channel as ApiChannel] as (request: unknown) => Promise<unknown>;
    const value = await handler(validated.request);
    return { ok: true, value } as AnyEnvelope;
  } catch (thrown) {
    const error = toTriageError(thrown);
    // Internal failures are logged with their message (never patient data: the engine reads none).
    if (error.code === 'INTERNAL') log('error', 'api-internal-error', { channel, message: error.message });
    return errorEnvelope(error);
  }
}
