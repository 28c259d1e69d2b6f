/** The worklist's priorities and its filter: no DOM here, so Node tests import it as it is. */
import type { WorklistStudyData } from '../../main/app/api/contract.js';
import { foldForSearch, identitySearchText, PRIORITIES } from '../../main/common/index.js';
import type { Priority } from '../../main/common/index.js';

export const PRIORITY_LABELS: Record<Priority, string> = {
  critical: 'Critical',
  urgent: 'Urgent',
  abnormal: 'Abnormal',
  'needs review': 'Needs review',
  normal: 'Normal',
};
export const ORDER: readonly Priority[] = PRIORITIES;

export function priorityClass(priority: Priority | null): string {
  return `priority-${(priority ?? 'none').replace(' ', '-')}`;
}

/**
 * Studies matching a priority filter and a free-text query (every word must match somewhere,
 * case and accents aside): the patient's name and ID, the accession number, the study's
 * description, date and UID, file names, statuses, reasons and findings.
 */
export function filterStudies(
  studies: WorklistStudyData[],
  priority: Priority | null,
  query: string,
): WorklistStudyData[] {
  const words = foldForSearch(query).split(/\s+/).filter(Boolean);
  return studies.filter((study) => {
    if (priority && study.priority !== priority) return false;
    if (words.length === 0) return true;
    const haystack = foldForSearch(
      [
        identitySearchText(study),
        study.studyDescription ?? '',
        study.studyDate ?? '',
        study.study,
        study.studyInstanceUID ?? '',
        PRIORITY_LABELS[study.priority],
        ...study.images.flatMap((image) => [
          image.file,
          image.name,
          image.status,
          image.reason ?? '',
          ...image.findings.flatMap((f) => (f.indeterminate ? [f.term, 'indeterminate'] : [f.term])),
        ]),
      ].join(' '),
    );
    return words.every((word) => haystack.includes(word));
  });
}
