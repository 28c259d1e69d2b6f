/**
 * How the CLI speaks: results as JSON on stdout, coded errors as one JSON object on stderr with
 * exit code 2 (main/errors' reportError), never a stack trace.
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
