/**
 * The results store's read path: lookups for the scan, whole results for exports and the app, the
 * worklist in order of urgency, and the reader's verdicts. Nothing here writes.
 */
import { personName, PRIORITIES } from '../common/index.js';
import type { ImageStatus, Priority, Provider, SourceFormat, Tree, Verdict } from '../common/index.js';
import type {
  CurrentVerdict,
  Finding,
  ModelProvenance,
  StoredResult,
  Patient,
  StudyIdentityRecord,
  WorklistImage,
  WorklistStudy,
} from '../domain/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { Row, SqlDatabase } from './connection.js';
import type { Feedback, ImageKey, StoredStudy } from './types.js';

/** A JSON column's value, or the fallback when it is null. */
export const parseJson = <T>(value: unknown, fallback: T): T =>
  typeof value === 'string' ? (JSON.parse(value) as T) : fallback;

/** What a stored image was recorded as (ResultReader.storedImage). */
export interface StoredImage {
  status: ImageStatus;
  packFingerprint: string;
  sopInstanceUID: string | null;
  studyInstanceUID: string | null;
}

export class ResultReader {
  protected constructor(protected readonly db: SqlDatabase) {}

  /**
   * The connection under the store, for what must share its transactions or read its tables whole
   * (the work queue, the merge's copier); everything else uses the typed API.
   */
  get connection(): SqlDatabase {
    return this.db;
  }

  /** The stored result for a path, if any. */
  lookup(path: string): ImageKey | undefined {
    const row = this.db.get(
      'SELECT id, path, sha256, pack_fingerprint, rules_fingerprint, status, error_code FROM images WHERE path = ?',
      [path],
    );
    return row && toKey(row);
  }

  /**
   * What a stored image was recorded as: its status, its result's pack fingerprint and its UIDs
   * (null where it had none); undefined when the path is not stored.
   */
  storedImage(path: string): StoredImage | undefined {
    const row = this.db.get<{ status: string; fingerprint: string; sop: string | null; study: string | null }>(
      `SELECT status, pack_fingerprint AS fingerprint, sop_instance_uid AS sop, study_instance_uid AS study
       FROM images WHERE path = ?`,
      [path],
    );
    return (
      row && {
        status: row.status as ImageStatus,
        packFingerprint: String(row.fingerprint),
        sopInstanceUID: row.sop ?? null,
        studyInstanceUID: row.study ?? null,
      }
    );
  }

  /** An analysed (not duplicate) image at another path with the same content or SOP Instance UID. */
  findOriginal(path: string, sha256: string | null, sopInstanceUID: string | null): ImageKey | undefined {
    const columns = 'id, path, sha256, pack_fingerprint, rules_fingerprint, status, error_code';
    if (sha256) {
      const row = this.db.get(
        `SELECT ${columns} FROM images WHERE sha256 = ? AND path <> ? AND status <> 'duplicate' ORDER BY id LIMIT 1`,
        [sha256, path],
      );
      if (row) return toKey(row);
    }
    if (sopInstanceUID) {
      const row = this.db.get(
        `SELECT ${columns} FROM images WHERE sop_instance_uid = ? AND path <> ? AND status <> 'duplicate' ORDER BY id LIMIT 1`,
        [sopInstanceUID, path],
      );
      if (row) return toKey(row);
    }
    return undefined;
  }

  /** Every result this scan covered (analysed, duplicate, or unchanged and skipped), in path order. */
  *scanResults(scanId: number): Generator<StoredResult> {
    // Pages of ids, so an export of a huge scan never holds every row at once.
    let after = '';
    for (;;) {
      const page = this.db.all<{ id: number; path: string }>(
        'SELECT id, path FROM images WHERE seen_scan_id = ? AND path > ? ORDER BY path LIMIT 256',
        [scanId, after],
      );
      if (page.length === 0) return;
      for (const { id } of page) yield this.result(Number(id))!;
      after = page[page.length - 1].path;
    }
  }

  /** Every stored result, in path order. */
  *allResults(): Generator<StoredResult> {
    let after = '';
    for (;;) {
      const page = this.db.all<{ id: number; path: string }>(
        'SELECT id, path FROM images WHERE path > ? ORDER BY path LIMIT 256',
        [after],
      );
      if (page.length === 0) return;
      for (const { id } of page) yield this.result(Number(id))!;
      after = page[page.length - 1].path;
    }
  }

  result(id: number): StoredResult | undefined {
    const row = this.db.get(
      `SELECT i.*, p.pack_id, p.version AS pack_version, p.rule, p.demo, p.indeterminate_low, p.indeterminate_high,
         d.path AS duplicate_path
       FROM images i JOIN packs p ON p.fingerprint = i.pack_fingerprint LEFT JOIN images d ON d.id = i.duplicate_of
       WHERE i.id = ?`,
      [id],
    );
    if (!row) return undefined;
    const models = this.db
      .all(
        'SELECT model_id, version, onnx_sha256, operating_points FROM pack_models WHERE fingerprint = ? ORDER BY position',
        [row.pack_fingerprint],
      )
      .map((m): ModelProvenance => ({
        id: String(m.model_id),
        version: String(m.version),
        sha256: String(m.onnx_sha256),
        operatingPoints: parseJson(m.operating_points, {}),
      }));
    const findings = this.db
      .all('SELECT * FROM findings WHERE image_id = ? ORDER BY position', [id])
      .map((f): Finding => ({
        term: String(f.term),
        tree: f.tree as Tree,
        cui: (f.cui as string | null) ?? null,
        positive: f.positive === 1,
        direct: f.direct === 1,
        assessed: f.assessed === 1,
        votes: { positive: Number(f.votes_positive), total: Number(f.votes_total) },
        // No ensemble probability: a finding without one, or (schema 2, soft-mean) one not known.
        probability:
          f.probability_mean === null || f.probability_ensemble === null
            ? null
            : {
                ensemble: Number(f.probability_ensemble),
                mean: Number(f.probability_mean),
                min: Number(f.probability_min),
                max: Number(f.probability_max),
              },
        indeterminate: f.indeterminate === 1,
        perModel: parseJson(f.per_model, {}),
        supportedBy: parseJson(f.supported_by, []),
        paths: parseJson(f.paths, []),
      }));
    const timed = row.decode_ms !== null;
    return {
      id,
      file: String(row.path),
      sha256: (row.sha256 as string | null) ?? null,
      size: row.size === null ? null : Number(row.size),
      format: (row.format as SourceFormat | null) ?? null,
      status: row.status as ImageStatus,
      reason: (row.reason as string | null) ?? null,
      error: row.error_code ? { code: row.error_code as ErrorCode, message: String(row.error_message) } : null,
      duplicateOf: (row.duplicate_path as string | null) ?? null,
      sopInstanceUID: (row.sop_instance_uid as string | null) ?? null,
      studyInstanceUID: (row.study_instance_uid as string | null) ?? null,
      study: String(row.study_key),
      priority: (row.priority as Priority | null) ?? null,
      executionProvider: row.provider as Provider,
      pack: {
        id: String(row.pack_id),
        version: String(row.pack_version),
        rule: String(row.rule),
        indeterminate: { low: Number(row.indeterminate_low), high: Number(row.indeterminate_high) },
        demo: row.demo === 1,
        fingerprint: String(row.pack_fingerprint),
      },
      models,
      notForClinicalUse: row.not_for_clinical_use === 1,
      rulesFingerprint: String(row.rules_fingerprint),
      notes: parseJson(row.notes, []),
      findings,
      heatmaps: parseJson(row.heatmaps, null),
      gate: parseJson(row.gate, null),
      timings: timed
        ? {
            decodeMs: Number(row.decode_ms),
            preprocessMs: Number(row.preprocess_ms),
            inferenceMs: Number(row.inference_ms),
            explainMs: Number(row.explain_ms),
          }
        : null,
      scannedAt: String(row.scanned_at),
      scanId: row.scan_id === null ? null : Number(row.scan_id),
    };
  }

  /**
   * Studies most urgent first; equal priorities oldest first (first come, first read). Each image
   * lists the positive findings the models called (the parents they roll up to are implied).
   * Duplicates are left out: the original stands for them.
   */
  worklist(): WorklistStudy[] {
    const studies = this.db.all(
      `SELECT key, study_instance_uid, priority, first_seen_at, updated_at, ${IDENTITY_COLUMNS} FROM studies
       ORDER BY priority_rank, first_seen_at, key`,
    );
    const images = this.db.all(
      `SELECT id, path, sop_instance_uid, status, priority, reason, study_key, not_for_clinical_use FROM images
       WHERE status <> 'duplicate' ORDER BY study_key, priority_rank, path`,
    );
    const positives = this.db.all(
      `SELECT f.image_id, f.term, f.tree, f.votes_positive, f.votes_total, f.probability_ensemble, f.indeterminate
       FROM findings f JOIN images i ON i.id = f.image_id
       WHERE f.positive = 1 AND f.direct = 1 AND i.status = 'ok' ORDER BY f.image_id, f.position`,
    );
    const findingsOf = new Map<number, WorklistImage['findings']>();
    for (const f of positives) {
      const list = findingsOf.get(Number(f.image_id)) ?? [];
      list.push({
        term: String(f.term),
        tree: f.tree as Tree,
        votes: { positive: Number(f.votes_positive), total: Number(f.votes_total) },
        probability: f.probability_ensemble === null ? null : Number(f.probability_ensemble),
        indeterminate: f.indeterminate === 1,
      });
      findingsOf.set(Number(f.image_id), list);
    }
    const unassessed = this.db.all(
      `SELECT f.image_id, f.term, f.tree FROM findings f JOIN images i ON i.id = f.image_id
       WHERE f.assessed = 0 AND i.status = 'ok' ORDER BY f.image_id, f.position`,
    );
    const notAssessedOf = new Map<number, WorklistImage['notAssessed']>();
    for (const f of unassessed) {
      const list = notAssessedOf.get(Number(f.image_id)) ?? [];
      list.push({ term: String(f.term), tree: f.tree as Tree });
      notAssessedOf.set(Number(f.image_id), list);
    }
    const imagesOf = new Map<string, WorklistImage[]>();
    for (const image of images) {
      const list = imagesOf.get(String(image.study_key)) ?? [];
      list.push({
        file: String(image.path),
        sopInstanceUID: (image.sop_instance_uid as string | null) ?? null,
        status: image.status as ImageStatus,
        priority: (image.priority as Priority | null) ?? null,
        reason: (image.reason as string | null) ?? null,
        notForClinicalUse: image.not_for_clinical_use === 1,
        findings: findingsOf.get(Number(image.id)) ?? [],
        notAssessed: notAssessedOf.get(Number(image.id)) ?? [],
      });
      imagesOf.set(String(image.study_key), list);
    }
    return studies
      .map((s) => ({
        study: String(s.key),
        studyInstanceUID: (s.study_instance_uid as string | null) ?? null,
        priority: s.priority as Priority,
        firstSeenAt: String(s.first_seen_at),
        updatedAt: String(s.updated_at),
        ...identityRecord(s),
        images: imagesOf.get(String(s.key)) ?? [],
      }))
      .filter((s) => s.images.length > 0);
  }

  /** Counts by priority over the worklist's studies. */
  studyCounts(): Record<Priority, number> {
    const counts = Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>;
    const rows = this.db.all(
      `SELECT priority, count(*) AS n FROM studies s WHERE EXISTS (SELECT 1 FROM images i WHERE i.study_key = s.key AND i.status <> 'duplicate') GROUP BY priority`,
    );
    for (const row of rows) counts[row.priority as Priority] = Number(row.n);
    return counts;
  }

  /** One study by its key, or undefined. Duplicates are left out, as in the worklist. */
  study(key: string): StoredStudy | undefined {
    const row = this.db.get(
      `SELECT key, study_instance_uid, priority, ${IDENTITY_COLUMNS} FROM studies WHERE key = ?`,
      [key],
    );
    if (!row) return undefined;
    const ids = this.db.all<{ id: number }>(
      `SELECT id FROM images WHERE study_key = ? AND status <> 'duplicate' ORDER BY priority_rank, path`,
      [key],
    );
    return {
      study: String(row.key),
      studyInstanceUID: (row.study_instance_uid as string | null) ?? null,
      priority: row.priority as Priority,
      ...identityRecord(row),
      results: ids.map(({ id }) => this.result(Number(id))!),
    };
  }

  /**
   * The patient and examination of a study (by its key, as results carry it in `study`), for
   * exports that were explicitly asked to carry them; null for a study not in the store.
   */
  studyIdentity(key: string): StudyIdentityRecord | null {
    const row = this.db.get(`SELECT ${IDENTITY_COLUMNS} FROM studies WHERE key = ?`, [key]);
    return row ? identityRecord(row) : null;
  }

  feedbackFor(file: string): Feedback[] {
    return this.db
      .all(
        'SELECT f.id, i.path, f.term, f.tree, f.verdict, f.note, f.created_at FROM feedback f JOIN images i ON i.id = f.image_id WHERE i.path = ? ORDER BY f.id',
        [file],
      )
      .map((r) => ({
        id: Number(r.id),
        file: String(r.path),
        term: (r.term as string | null) ?? null,
        tree: (r.tree as string | null) ?? null,
        verdict: r.verdict as Feedback['verdict'],
        note: (r.note as string | null) ?? null,
        createdAt: String(r.created_at),
      }));
  }

  /** The reader's current verdict on each finding of an image (latest row per finding, withdrawn ones left out). */
  currentVerdicts(file: string): CurrentVerdict[] {
    return this.db
      .all(
        `SELECT f.term, f.tree, f.verdict, f.created_at FROM feedback f JOIN images i ON i.id = f.image_id
         WHERE i.path = ? AND ${CURRENT_VERDICT} ORDER BY f.id`,
        [file],
      )
      .map((r) => ({
        term: String(r.term),
        tree: r.tree as Tree,
        verdict: r.verdict as Verdict,
        at: String(r.created_at),
      }));
  }

  /** How many findings carry a current verdict, per study key (for the worklist's "reviewed" column). */
  reviewedCounts(): Map<string, number> {
    const rows = this.db.all(
      `SELECT i.study_key, count(*) AS n FROM feedback f JOIN images i ON i.id = f.image_id
       WHERE ${CURRENT_VERDICT} GROUP BY i.study_key`,
    );
    return new Map(rows.map((r) => [String(r.study_key), Number(r.n)]));
  }
}

/**
 * A feedback row `f` that is a finding's current verdict: the latest row for that finding of that
 * image, and not a withdrawal.
 */
const CURRENT_VERDICT = `f.term IS NOT NULL AND f.verdict <> 'withdrawn' AND f.id = (
  SELECT max(g.id) FROM feedback g WHERE g.image_id = f.image_id AND g.term = f.term AND g.tree IS NOT DISTINCT FROM f.tree)`;

const IDENTITY_COLUMNS = `patient_name, patient_id, issuer_of_patient_id, patient_sex, patient_age,
  patient_age_derived, accession_number, study_date, study_time, study_description`;

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** A studies row's identity columns as the worklist shows them (the name for display). */
function identityRecord(row: Row): StudyIdentityRecord {
  const name = text(row.patient_name);
  const sex = text(row.patient_sex);
  const patient: Patient = {
    name: name === null ? null : personName(name),
    id: text(row.patient_id),
    issuer: text(row.issuer_of_patient_id),
    sex: sex === 'M' || sex === 'F' || sex === 'O' ? sex : null,
    age: text(row.patient_age),
    ageDerived: row.patient_age_derived === 1,
  };
  const known = patient.name !== null || patient.id !== null || patient.sex !== null || patient.age !== null;
  return {
    patient: known ? patient : null,
    accessionNumber: text(row.accession_number),
    studyDate: text(row.study_date),
    studyTime: text(row.study_time),
    studyDescription: text(row.study_description),
  };
}

function toKey(row: Row): ImageKey {
  return {
    id: Number(row.id),
    path: String(row.path),
    sha256: (row.sha256 as string | null) ?? null,
    packFingerprint: String(row.pack_fingerprint),
    rulesFingerprint: String(row.rules_fingerprint),
    status: row.status as ImageStatus,
    errorCode: (row.error_code as ErrorCode | null) ?? null,
  };
}
