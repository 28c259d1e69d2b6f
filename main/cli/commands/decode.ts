/**
 * `triage decode FILE [--modality-out PATH] [--display-out PATH.png] [--short-side N]`: one file
 * decoded in a decode worker of its own (main/engine decodeIsolated), within its budget.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { TriageError } from '../../errors/index.js';
import { decodeIsolated } from '../../engine/index.js';
import { printJson } from '../output.js';
import { positiveInteger, usage } from '../usage.js';

export const DECODE_HELP = `triage decode FILE [--modality-out PATH] [--display-out PATH.png] [--short-side N]

  Decodes one radiograph (DICOM, PNG or JPEG) and prints what was read as one JSON object.
  --modality-out PATH   write rows x columns float32 little-endian modality values (after rescale, before VOI)
  --display-out PATH    write an 8-bit greyscale PNG after VOI, bone bright
  --short-side N        decode only enough resolution for N pixels on the shorter side
                        (JPEG 2000 and HTJ2K decode a lower resolution level directly)`;

async function write(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new TriageError('OUTPUT_FAILED', `Cannot write ${path} (${code}); check the folder exists and is writable.`);
  }
}

export async function runDecode(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'modality-out': { type: 'string' },
      'display-out': { type: 'string' },
      'short-side': { type: 'string' },
    },
  });
  if (positionals.length !== 1) usage(`decode takes exactly one FILE.\n\n${DECODE_HELP}`);
  const file = positionals[0];
  const shortSide =
    values['short-side'] === undefined ? undefined : positiveInteger(values['short-side'], '--short-side');

  // In a decode worker of its own, within the file's time and memory budget.
  const decoded = await decodeIsolated(file, {
    shortSide,
    modality: values['modality-out'] !== undefined,
    display: values['display-out'] !== undefined,
  });
  if (values['modality-out'] && decoded.modality) await write(values['modality-out'], decoded.modality);
  if (values['display-out'] && decoded.display) await write(values['display-out'], decoded.display);
  printJson(decoded.summary);
  return 0;
}
