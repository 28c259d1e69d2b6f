/**
 * How the CLI speaks: results as JSON on stdout, coded errors as one JSON object on stderr with
 * exit code 2, never a stack trace. Unexpected failures are logged as INTERNAL with the detail
 * only when TRIAGE_DEBUG is set.
 */
import { errorJson, toTriageError } from '../errors/index.js';

export const EXIT_ERROR = 2;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function reportError(thrown: unknown, file?: string): number {
  const error = toTriageError(thrown, file);
  process.stderr.write(`${JSON.stringify(errorJson(error))}\n`);
  if (error.code === 'INTERNAL' && process.env.TRIAGE_DEBUG && error.cause instanceof Error) {
    process.stderr.write(`${error.cause.stack ?? error.cause.message}\n`);
  }
  return EXIT_ERROR;
}
