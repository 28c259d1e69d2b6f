/**
 * Patient and study identity: who the radiograph is of (Patient's Name, ID and its issuer, sex,
 * age) and which examination (Accession Number, Study Date and Time, Study Description). It is
 * shown to the reader (worklist, viewer, `triage worklist`) and kept in the results database, and
 * nowhere else: never in logs, progress, summaries or exports made without an explicit choice.
 *
 * Inside the engine it travels as a StudyIdentity, whose values are reachable only through
 * reveal(): JSON.stringify, String(), a template literal and Node's util.inspect (console.log,
 * the log's fields) all give WITHHELD, so a result, an outcome or an error that carries one by
 * mistake writes nothing of it. A structured clone (postMessage between threads) drops it whole
 * (its values are private fields): across a thread boundary the fields travel as plain data, on
 * purpose, and are sealed again on arrival (StudyIdentity.from).
 */

/** What stands in for an identity wherever one is turned into text. */
export const WITHHELD = '[patient identity withheld]';

/** The identity of one study, as read from its DICOM files (every value sanitised, or null). */
export interface StudyIdentityFields {
  /** Patient's Name (0010,0010), alphabetic group, DICOM's "^"-separated components. */
  patientName: string | null;
  /** Patient ID (0010,0020). */
  patientId: string | null;
  /** Issuer of Patient ID (0010,0021). */
  issuerOfPatientId: string | null;
  /** Patient's Sex (0010,0040): M, F or O. */
  patientSex: string | null;
  /** Patient's Age as a DICOM age string ("058Y", "006M", "003W", "010D"). */
  patientAge: string | null;
  /** The age was derived from Patient's Birth Date and Study Date (no Patient's Age in the file). */
  patientAgeDerived: boolean;
  /** Accession Number (0008,0050). */
  accessionNumber: string | null;
  /** Study Date (0008,0020) as YYYY-MM-DD. */
  studyDate: string | null;
  /** Study Time (0008,0030) as HH:MM or HH:MM:SS. */
  studyTime: string | null;
  /** Study Description (0008,1030). */
  studyDescription: string | null;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** A study's identity, sealed: see the module's comment. */
export class StudyIdentity {
  readonly #fields: Readonly<StudyIdentityFields>;

  private constructor(fields: StudyIdentityFields) {
    this.#fields = Object.freeze({ ...fields });
  }

  /** Seals fields (read from a file, or received from another thread); null when none is known. */
  static from(fields: StudyIdentityFields | null | undefined): StudyIdentity | null {
    if (!fields) return null;
    const known = Object.entries(fields).some(([key, value]) => key !== 'patientAgeDerived' && value !== null);
    return known ? new StudyIdentity(fields) : null;
  }

  /** The values: for the results store, the worklist and explicit exports only. */
  reveal(): Readonly<StudyIdentityFields> {
    return this.#fields;
  }

  toJSON(): string {
    return WITHHELD;
  }

  toString(): string {
    return WITHHELD;
  }

  [INSPECT](): string {
    return WITHHELD;
  }

  /** `${identity}` and string concatenation. */
  [Symbol.toPrimitive](): string {
    return WITHHELD;
  }
}

/**
 * A DICOM person name for display: "FAMILY, Given Middle" (prefix and suffix around them), from
 * the "^"-separated components; a name of one component as it is.
 */
export function personName(pn: string): string {
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = pn.split('^').map((part) => part.trim());
  const rest = [prefix, given, middle].filter(Boolean).join(' ');
  const name = family && rest ? `${family}, ${rest}` : family || rest;
  return suffix ? `${name}, ${suffix}` : name;
}

const AGE_UNITS: Record<string, string> = { Y: 'y', M: 'mo', W: 'wk', D: 'd' };

/** A DICOM age string for display: "058Y" -> "58y", "006M" -> "6mo"; anything else as it is. */
export function ageText(age: string): string {
  const match = /^(\d{3})([DWMY])$/.exec(age);
  return match ? `${Number(match[1])}${AGE_UNITS[match[2]]}` : age;
}

/** Sex and age for display: "F 58y", "M", "58y", or '' when neither is known. */
export function sexAgeText(sex: string | null, age: string | null): string {
  return [sex ?? '', age ? ageText(age) : ''].filter(Boolean).join(' ');
}

/** Text folded for search: lower case, accents removed ("Müller" is found as "muller"). */
export function foldForSearch(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

/** What a study's search matches of its identity: the patient's name and ID, the accession number. */
export interface SearchableIdentity {
  patient: { name: string | null; id: string | null } | null;
  accessionNumber: string | null;
}

/** The study's name, patient ID and accession number, folded for search (see foldForSearch). */
export function identitySearchText(study: SearchableIdentity): string {
  return foldForSearch([study.patient?.name ?? '', study.patient?.id ?? '', study.accessionNumber ?? ''].join(' '));
}

/**
 * Whether a study's identity matches a search: every word of the query (folded) is found in its
 * patient's name, patient ID or accession number. An empty query matches every study.
 */
export function matchesIdentity(study: SearchableIdentity, query: string): boolean {
  const words = foldForSearch(query).split(/\s+/).filter(Boolean);
  const haystack = identitySearchText(study);
  return words.every((word) => haystack.includes(word));
}
