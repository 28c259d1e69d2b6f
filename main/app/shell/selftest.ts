/**
 * `cxr-triage --selftest [--ep NAME] [--models DIR]... [--samples DIR] [--json]`: the installed app
 * checks itself as `triage selftest` does (main/selftest), with no window. Hospital IT needs this
 * on the workstation the app was installed on, and the installed executable cannot run the
 * `triage` command (its runAsNode fuse is off). Same options, same report on stdout, same exit
 * codes (0 passed, 1 a check failed, 2 a coded error as JSON on stderr). The self-test and the
 * engine are loaded only when asked for: a window's start-up never loads them.
 */
import { reportError } from '../../errors/index.js';

export const SELFTEST_FLAG = '--selftest';

/** The selftest's own options (everything after --selftest), or null when the app was not asked for one. */
export function selftestArgs(argv: readonly string[]): string[] | null {
  const at = argv.indexOf(SELFTEST_FLAG);
  return at < 0 ? null : argv.slice(at + 1);
}

/** Runs the selftest; resolves to the exit code (the caller exits with it). */
export async function runInstalledSelftest(args: string[]): Promise<number> {
  try {
    const { selftestCommand } = await import('../../selftest/index.js');
    return await selftestCommand(args);
  } catch (thrown) {
    return reportError(thrown);
  }
}
