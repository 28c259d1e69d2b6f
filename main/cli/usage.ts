/** Command-line argument errors, coded like every other error. */
import { defaultDecodeWorkers, defaultThreads } from '../engine/index.js';
import { TriageError } from '../errors/index.js';

export function usage(message: string): never {
  throw new TriageError('USAGE', message);
}

export function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) usage(`${flag} takes a positive whole number, not "${text}".`);
  return value;
}

/**
 * The help of the engine's thread options, shared by the commands that run the engine; each
 * option's description starts at `column`, as the rest of the command's help does.
 */
export function threadOptionsHelp(column: number): string {
  const option = (flag: string, lines: string[]) =>
    [`  ${flag.padEnd(column - 2)}${lines[0]}`, ...lines.slice(1).map((line) => `${' '.repeat(column)}${line}`)].join(
      '\n',
    );
  return [
    option('--concurrency N', [
      'decode workers: files read, decoded and preprocessed in parallel',
      'with inference, each holding one full-size image (default, at least 1:',
      `with a GPU provider the cores less one, here ${defaultDecodeWorkers('webgpu', defaultThreads())}; with the CPU`,
      `provider the cores its threads leave, here ${defaultDecodeWorkers('cpu', defaultThreads())}, to start with)`,
    ]),
    option('--threads N', [
      `CPU threads for the execution provider (default: half the cores, here ${defaultThreads()},`,
      'to start with). On the CPU provider, with neither option given, the',
      'threads and decode workers are then chosen from what decoding and',
      'inference cost per image, and chosen again as the costs change',
    ]),
  ].join('\n');
}
