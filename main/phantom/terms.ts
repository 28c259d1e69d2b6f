/**
 * The findings a phantom can carry, named exactly as in the PadChest finding tree
 * (models/taxonomy/padchest/trees_code.txt), in the fixed column order of labels.csv.
 */

export const PHANTOM_TERMS = [
  'cardiomegaly',
  'pleural effusion',
  'pneumothorax',
  'nodule',
  'mass',
  'consolidation',
  'atelectasis',
] as const;

export type PhantomTerm = (typeof PHANTOM_TERMS)[number];

/** labels.csv columns after `file`: the findings, then `normal` (1 when none is present). */
export const LABEL_COLUMNS = [...PHANTOM_TERMS, 'normal'] as const;
export type LabelColumn = (typeof LABEL_COLUMNS)[number];

/** Folder name of a term's masks: spaces become dashes ("pleural effusion" -> "pleural-effusion"). */
export function termSlug(term: PhantomTerm): string {
  return term.replace(/ /g, '-');
}

export function isPhantomTerm(value: string): value is PhantomTerm {
  return (PHANTOM_TERMS as readonly string[]).includes(value);
}

/** Probability that a phantom carries each finding (independently); about 30 % carry none. */
export const PREVALENCE: Readonly<Record<PhantomTerm, number>> = {
  cardiomegaly: 0.17,
  'pleural effusion': 0.17,
  pneumothorax: 0.15,
  nodule: 0.17,
  mass: 0.15,
  consolidation: 0.16,
  atelectasis: 0.16,
};
