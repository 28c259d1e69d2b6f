/** `triage phantom --count N --seed S --out DIR [--format dicom|png] [--size PX] [--nodules standard|visible] [--jobs N]` */
import { parseArgs } from 'node:util';
import { DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, NODULE_APPEARANCES, writePhantomSet } from '../../phantom/index.js';
import type { NoduleAppearance } from '../../phantom/index.js';
import { printJson } from '../output.js';
import { positiveInteger, usage } from '../usage.js';

export const PHANTOM_HELP = `triage phantom --count N --seed S --out DIR [--format dicom|png] [--size PX]
               [--nodules standard|visible] [--jobs N]

  Writes N synthetic frontal chest radiograph phantoms with ground truth, the same bytes for the
  same seed: DIR/phantom-NNNNN.dcm (or .png), DIR/masks/<finding>/phantom-NNNNN.png (one binary
  mask per present finding), DIR/labels.csv (file, then a 0/1 column per PadChest term: cardiomegaly,
  pleural effusion, pneumothorax, nodule, mass, consolidation, atelectasis, normal) and
  DIR/phantoms.json (every image's parameters). Prints a JSON summary. Not patient data.
  --count N        number of images
  --seed S         a whole number from 0 to ${Number.MAX_SAFE_INTEGER}
  --out DIR        output folder (created if needed; files of the same names are overwritten,
                   those of an earlier, larger set are left)
  --format F       dicom (default: DX for presentation, 10 to 16 bits, MONOCHROME1 or 2) or png (8 or 16 bit grey)
  --size PX        long side in pixels, ${MIN_SIZE} to ${MAX_SIZE} (default ${DEFAULT_SIZE})
  --nodules N      standard (default: nodules as first drawn, many fainter than the lung texture)
                   or visible (solid nodules denser, the texture at the nodules' scale weaker; the
                   same positions, sizes and other findings; phantoms.json records it)
  --jobs N         worker threads (default: the CPUs available, at most 8)`;

function seedValue(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    usage(`--seed takes a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, not "${text}".`);
  }
  return value;
}

export async function runPhantom(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      count: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string', default: 'dicom' },
      size: { type: 'string' },
      nodules: { type: 'string', default: 'standard' },
      jobs: { type: 'string' },
    },
  });
  if (positionals.length > 0)
    usage(`phantom takes no positional arguments (got "${positionals[0]}").\n\n${PHANTOM_HELP}`);
  if (values.count === undefined || values.seed === undefined || values.out === undefined) {
    usage(`phantom needs --count, --seed and --out.\n\n${PHANTOM_HELP}`);
  }
  const count = positiveInteger(values.count, '--count');
  const seed = seedValue(values.seed);
  const format = values.format!;
  if (format !== 'dicom' && format !== 'png') usage(`--format must be dicom or png, not "${format}".`);
  const size = values.size === undefined ? DEFAULT_SIZE : positiveInteger(values.size, '--size');
  if (size < MIN_SIZE || size > MAX_SIZE) usage(`--size must be ${MIN_SIZE} to ${MAX_SIZE} pixels, not ${size}.`);
  const nodules = values.nodules! as NoduleAppearance;
  if (!NODULE_APPEARANCES.includes(nodules)) usage(`--nodules must be standard or visible, not "${values.nodules}".`);
  const jobs = values.jobs === undefined ? undefined : positiveInteger(values.jobs, '--jobs');
  if (values.out.trim() === '') usage('--out needs a folder path.');

  const summary = await writePhantomSet({ out: values.out, count, seed, format, size, nodules, jobs });
  printJson(summary);
  return 0;
}

/** The command as main.ts registers it. */
export const PHANTOM_COMMAND = { run: runPhantom, help: PHANTOM_HELP };
