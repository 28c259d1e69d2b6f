/**
 * Coded API errors across process and context boundaries. Electron's contextBridge copies an
 * Error's message only (custom properties such as `code` are lost), so the code travels inside the
 * message as "CODE: message" and is parsed back on the renderer's side.
 */

export interface CodedError {
  code: string;
  message: string;
}

/**
 * The refusal of a channel the contract does not have, worded alike by the preload, the main
 * process and the engine process (at most 80 characters of the name, quoted).
 */
export function unknownChannel(channel: unknown): string {
  return `Unknown API channel ${JSON.stringify(String(channel)).slice(0, 80)}.`;
}

/** The Error the preload's invoke() rejects with. */
export function toApiCallError(error: CodedError): Error {
  const thrown = new Error(`${error.code}: ${error.message}`);
  thrown.name = 'ApiCallError';
  return thrown;
}

/** Code and message of an error from invoke(); INTERNAL when it carries no code. */
export function parseApiCallError(thrown: unknown): CodedError {
  const text = thrown instanceof Error ? thrown.message : String(thrown);
  // Electron may prefix "Error invoking remote method '...': Error: " when a handler throws raw.
  const match = /(?:^|: )([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(text);
  return match ? { code: match[1], message: match[2] } : { code: 'INTERNAL', message: text };
}

/** The payload of a failed invoke, or the value of a successful one (the preload unwraps). */
export function unwrapEnvelope<T>(envelope: { ok: true; value: T } | { ok: false; error: CodedError }): T {
  if (envelope && envelope.ok === true) return envelope.value;
  if (envelope && envelope.ok === false) throw toApiCallError(envelope.error);
  throw toApiCallError({ code: 'INTERNAL', message: 'The main process sent a malformed answer.' });
}
