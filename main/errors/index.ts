/**
 * Every failure a user can meet is a TriageError with a stable code (the list: main/common's
 * ERROR_CODES, which every process can read): the CLI prints it as `{"error": {code, message,
 * file}}`, the app shows the message, tests assert the code. Messages say what went wrong and
 * what to do; they never carry patient names or IDs.
 */

import type { ErrorCode } from '../common/index.js';

export { ERROR_CODES } from '../common/index.js';
export type { ErrorCode };

export class TriageError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;

  constructor(code: ErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TriageError';
    this.code = code;
    this.file = options.file;
  }

  /** The same error attributed to a file (errors are raised deep down, where the path is unknown). */
  withFile(file: string): TriageError {
    return this.file === file ? this : new TriageError(this.code, this.message, { file, cause: this.cause });
  }
}

export interface ErrorJson {
  error: { code: ErrorCode; message: string; file: string | null };
}

/** Turns anything thrown into a coded error; unexpected throws become INTERNAL, never a stack trace. */
export function toTriageError(thrown: unknown, file?: string): TriageError {
  if (thrown instanceof TriageError) return file ? thrown.withFile(file) : thrown;
  const detail = thrown instanceof Error ? thrown.message : String(thrown);
  return new TriageError('INTERNAL', `Unexpected failure: ${detail}`, { file, cause: thrown });
}

export function errorJson(error: TriageError): ErrorJson {
  return { error: { code: error.code, message: error.message, file: error.file ?? null } };
}
export { describeIssues } from './issues.js';

/** The exit code of a command-line run that ends on a coded error. */
export const EXIT_ERROR = 2;

/**
 * How a command-line run reports a failure: one JSON object on stderr, exit code 2, never a stack
 * trace (but with TRIAGE_DEBUG set, for an unexpected INTERNAL failure). The `triage` command and
 * the installed app's --selftest both answer this way.
 */
export function reportError(thrown: unknown, file?: string): number {
  const error = toTriageError(thrown, file);
  process.stderr.write(`${JSON.stringify(errorJson(error))}\n`);
  if (error.code === 'INTERNAL' && process.env.TRIAGE_DEBUG && error.cause instanceof Error) {
    process.stderr.write(`${error.cause.stack ?? error.cause.message}\n`);
  }
  return EXIT_ERROR;
}

/** Characters of a value from a file quoted in a message: enough to recognise it. */
export const MAX_QUOTED = 64;

/**
 * A value read from a file, quoted for a message at a bounded length with control characters
 * blanked: a hostile attribute of 100 KB must not become a 100 KB reason in every answer.
 */
export function quoted(value: unknown): string {
  let text = '';
  for (const character of String(value).slice(0, MAX_QUOTED + 1)) {
    const code = character.charCodeAt(0);
    text += code < 0x20 || code === 0x7f ? ' ' : character;
  }
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}...` : text);
}
