/** Where the results database lives by default: the user's data folder, per platform convention. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DATABASE_FILE = 'results.sqlite';

/** The user's data folder for this application, per platform convention. */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home = homedir(),
): string {
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'cxr-triage');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'cxr-triage');
  return join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'cxr-triage');
}

/** `--db FILE` when given, else TRIAGE_DB, else results.sqlite in the user's data folder. */
export function defaultDatabasePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRIAGE_DB || join(defaultDataDir(process.platform, env), DATABASE_FILE);
}
