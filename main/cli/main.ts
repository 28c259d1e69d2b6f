/**
 * The `triage` command: one binary, one subcommand per job, all thin adapters over the engine.
 * Exit codes: 0 done, 2 a coded error (printed as JSON on stderr).
 */
import { reportError, TriageError } from '../errors/index.js';
import { ANALYZE_HELP, runAnalyze } from './commands/analyze.js';
import { DECODE_HELP, runDecode } from './commands/decode.js';
import { ENQUEUE_HELP, runEnqueue } from './commands/enqueue.js';
import { EXPORT_HELP, runExport } from './commands/export.js';
import { MERGE_HELP, runMerge } from './commands/merge.js';
import { PHANTOM_COMMAND } from './commands/phantom.js';
import { runScan, SCAN_HELP } from './commands/scan.js';
import { runServe, SERVE_HELP } from './commands/serve.js';
import { OUTBOX_HELP, runOutbox } from './commands/outbox.js';
import { CALIBRATE_HELP, EVAL_HELP, runCalibrate, runEval } from './commands/validate.js';
import { runSelftest, SELFTEST_HELP } from '../selftest/index.js';
import { runWorklist, WORKLIST_HELP } from './commands/worklist.js';
import { runTritonRepo, TRITON_REPO_HELP } from './commands/triton-repo.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  decode: { run: runDecode, help: DECODE_HELP },
  analyze: { run: runAnalyze, help: ANALYZE_HELP },
  phantom: PHANTOM_COMMAND,
  selftest: { run: runSelftest, help: SELFTEST_HELP },
  scan: { run: runScan, help: SCAN_HELP },
  enqueue: { run: runEnqueue, help: ENQUEUE_HELP },
  export: { run: runExport, help: EXPORT_HELP },
  merge: { run: runMerge, help: MERGE_HELP },
  worklist: { run: runWorklist, help: WORKLIST_HELP },
  serve: { run: runServe, help: SERVE_HELP },
  outbox: { run: runOutbox, help: OUTBOX_HELP },
  eval: { run: runEval, help: EVAL_HELP },
  calibrate: { run: runCalibrate, help: CALIBRATE_HELP },
  'triton-repo': { run: runTritonRepo, help: TRITON_REPO_HELP },
};

export const HELP = `triage: chest X-ray triage engine

Commands:
${Object.values(COMMANDS)
  .map((command) => command.help.split('\n')[0])
  .map((line) => `  ${line}`)
  .join('\n')}

Run "triage COMMAND --help" for one command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new TriageError('USAGE', `Unknown command "${name}".\n\n${HELP}`);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${command.help}\n`);
      return 0;
    }
    return await command.run(rest);
  } catch (error) {
    // parseArgs throws TypeErrors with a code for unknown or malformed options.
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      return reportError(new TriageError('USAGE', `${(error as Error).message}\n\n${command?.help ?? HELP}`));
    }
    return reportError(error);
  }
}
