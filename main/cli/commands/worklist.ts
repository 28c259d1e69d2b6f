/**
 * `triage worklist [--db FILE|URL] [--json] [--search TEXT]`: the studies in the results store, most
 * urgent first, with their patients.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { findingText, matchesIdentity, sexAgeText } from '../../common/index.js';
import { defaultDatabasePath, isDatabaseUrl, ResultStore } from '../../store/index.js';
import type { WorklistStudy } from '../../domain/index.js';
import { printJson } from '../output.js';
import { usage } from '../usage.js';

export const WORKLIST_HELP = `triage worklist [--db FILE|URL] [--json] [--search TEXT]

  Prints the studies in the results database, most urgent first (critical, urgent, abnormal,
  needs review, normal; equal priorities oldest first), each with its patient (name, ID, sex and
  age), accession number and study date as its DICOM files say, its images, their positive
  findings and the terms the pack does not assess. A study's priority is its most urgent image's
  and never falls. A finding reads "mass (3/3, 97%)": members voting positive of those covering
  it, and the ensemble's calibrated probability (50% is the operating point); "pleural effusion:
  indeterminate (2/3, 52%)" when that lies in the pack's indeterminate band (the vote still
  decides); "nodule: not assessed" when no member was trained on the term.
  --db FILE|URL   results database: a file (default: ${defaultDatabasePath()}), or a
                  PostgreSQL server's, postgresql://user@host:port/database
  --search TEXT   only the studies whose patient's name, patient ID or accession number holds
                  every word of TEXT (case and accents aside)
  --json          one JSON array: [{study, studyInstanceUID, priority, firstSeenAt, updatedAt,
                  patient: {name, id, issuer, sex, age, ageDerived} | null, accessionNumber,
                  studyDate (YYYY-MM-DD), studyTime, studyDescription,
                  images: [{file, sopInstanceUID, status, priority, reason, notForClinicalUse,
                            findings: [{term, tree, votes: {positive, total}, probability,
                                        indeterminate}],
                            notAssessed: [{term, tree}]}]}]
                  (age: a DICOM age string, "058Y"; ageDerived: computed from the birth date and
                  the study date because the files state no age)
  Results from a demonstration pack are headed NOT FOR CLINICAL USE. The patient is shown here
  and in the app only: never in logs or progress, and in exports only with --include-patient.`;

export const NOT_FOR_CLINICAL_USE =
  'NOT FOR CLINICAL USE: these results come from a demonstration model pack (or a model marked not for clinical use).';

/**
 * A study's heading: "DOE, Jane · ID 123 · F 58y · acc A77 · 2026-03-14 10:12 · study 1.2.3 · 2 images",
 * each part there when known.
 */
export function studyLine(study: WorklistStudy): string {
  const patient = study.patient;
  const parts = [
    patient ? (patient.name ?? '(no name)') : null,
    patient?.id ? `ID ${patient.id}${patient.issuer ? ` (${patient.issuer})` : ''}` : null,
    patient ? sexAgeText(patient.sex, patient.age) || null : null,
    study.accessionNumber ? `acc ${study.accessionNumber}` : null,
    study.studyDate ? `${study.studyDate}${study.studyTime ? ` ${study.studyTime.slice(0, 5)}` : ''}` : null,
    study.studyInstanceUID ? `study ${study.studyInstanceUID}` : '(no study UID)',
    `${study.images.length} image${study.images.length === 1 ? '' : 's'}`,
  ];
  return parts.filter((part): part is string => part !== null).join(' · ');
}

function render(studies: WorklistStudy[], searched: boolean): string {
  if (studies.length === 0 && searched) return 'No study matches the search.\n';
  if (studies.length === 0) return 'The worklist is empty: no studies have been scanned into this database.\n';
  const width = Math.max(...studies.map((s) => s.priority.length));
  const lines: string[] = [];
  if (studies.some((s) => s.images.some((i) => i.notForClinicalUse))) lines.push(NOT_FOR_CLINICAL_USE, '');
  for (const study of studies) {
    lines.push(`${study.priority.toUpperCase().padEnd(width)}  ${studyLine(study)}`);
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
    options: { db: { type: 'string' }, json: { type: 'boolean', default: false }, search: { type: 'string' } },
  });
  if (positionals.length > 0) usage(`worklist takes no arguments, only options.\n\n${WORKLIST_HELP}`);
  const path = values.db ?? defaultDatabasePath();
  let studies: WorklistStudy[] = [];
  // Reading an empty worklist creates nothing.
  if (isDatabaseUrl(path) || existsSync(path)) {
    const store = ResultStore.open(path);
    try {
      studies = store.worklist();
    } finally {
      store.close();
    }
  }
  const search = values.search;
  if (search !== undefined) studies = studies.filter((study) => matchesIdentity(study, search));
  if (values.json) printJson(studies);
  else process.stdout.write(render(studies, search !== undefined));
  return 0;
}
