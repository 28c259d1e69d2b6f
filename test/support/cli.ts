/** Runs the real `triage` binary (bin/triage.js over the built dist/) as a user would. */
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const BIN = fileURLToPath(new URL('../../bin/triage.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function triage(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
