/** `triage worklist [--db FILE] [--json]`: the studies in the results store, most urgent first. */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { findingText } from '../../common/index.js';
import { defaultDatabasePath, ResultStore } from '../../store/index.js';
import type { WorklistStudy } from '../../domain/index.js';
import { printJson } from '../output.js';
import { usage } from '../usage.js';

export const WORKLIST_HELP = `triage worklist [--db FILE] [--json]

  Prints the studies in the results database, most urgent first (critical, urgent, abnormal,
  needs review, normal; equal priorities oldest first), each with its images, their positive
  findings and the terms the pack does not assess. A study's priority is its most urgent image's
  and never falls. A finding reads "mass (3/3, 97%)": members voting positive of those covering
  it, and the ensemble's calibrated probability (50% is the operating point); "pleural effusion:
  indeterminate (2/3, 52%)" when that lies in the pack's indeterminate band (the vote still
  decides); "nodule: not assessed" when no member was trained on the term.
  --db FILE   results database (default: ${defaultDatabasePath()})
  --json      one JSON array: [{study, studyInstanceUID, priority, firstSeenAt, updatedAt,
              images: [{file, sopInstanceUID, status, priority, reason, notForClinicalUse,
                        findings: [{term, tree, votes: {positive, total}, probability,
                                    indeterminate}],
                        notAssessed: [{term, tree}]}]}]
  Results from a demonstration pack are headed NOT FOR CLINICAL USE.`;

export const NOT_FOR_CLINICAL_USE =
  'NOT FOR CLINICAL USE: these results come from a demonstration model pack (or a model marked not for clinical use).';

function render(studies: WorklistStudy[]): string {
  if (studies.length === 0) return 'The worklist is empty: no studies have been scanned into this database.\n';
  const width = Math.max(...studies.map((s) => s.priority.length));
  const lines: string[] = [];
  if (studies.some((s) => s.images.some((i) => i.notForClinicalUse))) lines.push(NOT_FOR_CLINICAL_USE, '');
  for (const study of studies) {
    lines.push(
      `${study.priority.toUpperCase().padEnd(width)}  ${study.studyInstanceUID ?? '(no study UID)'}  ${study.images.length} image${study.images.length === 1 ? '' : 's'}`,
    );
    for (const image of study.images) {
      const what =
        image.status === 'ok'
          ? [
              image.findings.length > 0 ? image.findings.map((f) => findingText(f)).join(', ') : 'no positive finding',
              ...image.notAssessed.map((f) =>
                findingText({
                  ...f,
                  votes: { positive: 0, total: 0 },
                  probability: null,
                  indeterminate: false,
                  assessed: false,
                }),
              ),
            ].join('; ')
          : `${image.status}: ${image.reason ?? ''}`;
      lines.push(`${' '.repeat(width)}  - ${image.file}: ${what}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function runWorklist(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { db: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length > 0) usage(`worklist takes no arguments, only options.\n\n${WORKLIST_HELP}`);
  const path = values.db ?? defaultDatabasePath();
  let studies: WorklistStudy[] = [];
  // Reading an empty worklist creates nothing.
  if (existsSync(path)) {
    const store = ResultStore.open(path);
    try {
      studies = store.worklist();
    } finally {
      store.close();
    }
  }
  if (values.json) printJson(studies);
  else process.stdout.write(render(studies));
  return 0;
}
