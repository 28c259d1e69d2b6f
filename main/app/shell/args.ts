/**
 * The app's own command-line options (`npm start -- --models DIR`, or after the installed
 * executable's name): the same meaning as the `triage` command's. Chromium's and Electron's own
 * switches in the same argv are left alone.
 */
import { isAbsolute, resolve } from 'node:path';
import { isDatabaseUrl } from '../../common/index.js';

export interface ShellArgs {
  packDir: string | null;
  database: string | null;
  provider: string | null;
}

const FLAGS = { '--models': 'packDir', '--db': 'database', '--ep': 'provider' } as const;

export function parseShellArgs(argv: readonly string[], cwd: string = process.cwd()): ShellArgs {
  const args: ShellArgs = { packDir: null, database: null, provider: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (!Object.hasOwn(FLAGS, flag)) continue;
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') continue;
    const key = FLAGS[flag as keyof typeof FLAGS];
    // A provider name, an absolute path and a database server's URL are taken as they are.
    const asIs = key === 'provider' || isAbsolute(value) || (key === 'database' && isDatabaseUrl(value));
    args[key] = asIs ? value : resolve(cwd, value);
  }
  return args;
}
