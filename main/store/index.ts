/**
 * The results store: the single source of truth for the worklist. An embedded SQLite database
 * (see sqlite.ts for the choice of driver and its durability), behind this narrow typed API.
 * Every analysed image is written in one transaction with its findings and its study's priority,
 * so a scan killed at any moment leaves whole results or none.
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AnalysisResult, Finding, ModelProvenance } from '../engine/result.js';
import type { ErrorCode } from '../errors/index.js';
import { TriageError } from '../errors/index.js';
import type { Provider } from '../inference/providers.js';
import { PRIORITIES, priorityRank } from '../triage/index.js';
import type { Priority } from '../triage/index.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { Sqlite } from './sqlite.js';
import type { Row } from './sqlite.js';

export { SCHEMA_VERSION } from './schema.js';

export const DATABASE_FILE = 'results.sqlite';

/** The user's data folder for this application, per platform convention. */
export function defaultDataDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'cxr-triage');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'cxr-triage');
  return join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'cxr-triage');
}

/** `--db FILE` when given, else TRIAGE_DB, else results.sqlite in the user's data folder. */
export function defaultDatabasePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRIAGE_DB || join(defaultDataDir(process.platform, env), DATABASE_FILE);
}

/** What decides whether a stored result is still valid: the pack and every model's identity. */
export interface PackProvenance {
  pack: AnalysisResult['pack'];
  models: ModelProvenance[];
  notForClinicalUse: boolean;
}

/** SHA-256 of the pack's id, version, rule and each member's id, version, ONNX hash and operating points. */
export function packFingerprint(provenance: Pick<PackProvenance, 'pack' | 'models'>): string {
  const canonical = {
    pack: { id: provenance.pack.id, version: provenance.pack.version, rule: provenance.pack.rule, demo: provenance.pack.demo },
    models: provenance.models.map((m) => ({
      id: m.id,
      version: m.version,
      sha256: m.sha256,
      operatingPoints: Object.fromEntries(Object.entries(m.operatingPoints).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    })),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** An image's identity on disk, as the scan saw it. */
export interface FileIdentity {
  path: string;
  sha256: string | null;
  size: number | null;
}

/** A finding reads back exactly as the engine reported it. */
export type StoredFinding = Finding;

export type StoredStatus = 'ok' | 'rejected' | 'error' | 'duplicate';

/** One stored result, as exports and the app read it back. */
export interface StoredResult {
  id: number;
  file: string;
  sha256: string | null;
  size: number | null;
  format: string | null;
  status: StoredStatus;
  reason: string | null;
  error: { code: ErrorCode; message: string } | null;
  duplicateOf: string | null;
  sopInstanceUID: string | null;
  studyInstanceUID: string | null;
  study: string;
  priority: Priority | null;
  executionProvider: Provider;
  pack: AnalysisResult['pack'] & { fingerprint: string };
  models: ModelProvenance[];
  notForClinicalUse: boolean;
  rulesFingerprint: string;
  notes: string[];
  findings: StoredFinding[];
  heatmaps: Record<string, string> | null;
  timings: { decodeMs: number; preprocessMs: number; inferenceMs: number; explainMs: number } | null;
  scannedAt: string;
  scanId: number | null;
}

/** The row the scan consults to skip or de-duplicate a file. */
export interface ImageKey {
  id: number;
  path: string;
  sha256: string | null;
  packFingerprint: string;
  rulesFingerprint: string;
  status: StoredStatus;
}

export interface WorklistImage {
  file: string;
  sopInstanceUID: string | null;
  status: StoredStatus;
  priority: Priority | null;
  reason: string | null;
  /** The pack behind the result is a demonstration pack or a model says not for clinical use. */
  notForClinicalUse: boolean;
  findings: Array<{ term: string; tree: string; votes: { positive: number; total: number }; probability: number | null }>;
}

export interface WorklistStudy {
  study: string;
  studyInstanceUID: string | null;
  priority: Priority;
  firstSeenAt: string;
  updatedAt: string;
  images: WorklistImage[];
}

export interface ScanStart {
  roots: string[];
  provider: Provider;
  provenance: PackProvenance;
  rulesFingerprint: string;
}

export type Verdict = 'agree' | 'disagree';

export interface Feedback {
  id: number;
  file: string;
  term: string | null;
  tree: string | null;
  /** 'withdrawn' takes back the reader's earlier verdict on the same finding. */
  verdict: Verdict | 'withdrawn';
  note: string | null;
  createdAt: string;
}

/** A reader's current verdict on one finding of an image: the latest, unless withdrawn. */
export interface CurrentVerdict {
  term: string;
  tree: string;
  verdict: Verdict;
  createdAt: string;
}

/** A study and every (non-duplicate) image's full result, most urgent image first. */
export interface StoredStudy {
  study: string;
  studyInstanceUID: string | null;
  priority: Priority;
  results: StoredResult[];
}

const now = () => new Date().toISOString();
const json = (value: unknown) => JSON.stringify(value);
const parse = <T>(value: unknown, fallback: T): T => (typeof value === 'string' ? (JSON.parse(value) as T) : fallback);

/** The study an image belongs to: its Study Instance UID, else the image alone. */
export function studyKey(studyInstanceUID: string | null, path: string): string {
  return studyInstanceUID ? studyInstanceUID : `file:${path}`;
}

export class ResultStore {
  readonly path: string;
  private readonly db: Sqlite;

  private constructor(db: Sqlite) {
    this.db = db;
    this.path = db.path;
  }

  /** Opens (creating and migrating as needed) the database at `path`. */
  static open(path: string = defaultDatabasePath()): ResultStore {
    const db = Sqlite.open(path);
    try {
      migrate(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new ResultStore(db);
  }

  close(): void {
    this.db.close();
  }

  /** SQLite's integrity check: ['ok'] for a sound database, else the problems it found. */
  integrityCheck(): string[] {
    return this.db.all('PRAGMA integrity_check').map((row) => String(Object.values(row)[0]));
  }

  schemaVersion(): number {
    return Number(this.db.get<{ v: number }>('SELECT max(version) AS v FROM schema_version')?.v ?? 0);
  }

  private ensurePack(provenance: PackProvenance): string {
    const fingerprint = packFingerprint(provenance);
    const { pack } = provenance;
    const inserted = this.db.run(
      'INSERT INTO packs (fingerprint, pack_id, version, rule, demo, not_for_clinical_use) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING',
      [fingerprint, pack.id, pack.version, pack.rule, pack.demo ? 1 : 0, provenance.notForClinicalUse ? 1 : 0],
    );
    if (inserted.changes > 0) {
      provenance.models.forEach((model, position) =>
        this.db.run('INSERT INTO pack_models (fingerprint, position, model_id, version, onnx_sha256, operating_points) VALUES (?, ?, ?, ?, ?, ?)', [
          fingerprint,
          position,
          model.id,
          model.version,
          model.sha256,
          json(model.operatingPoints),
        ]),
      );
    }
    return fingerprint;
  }

  beginScan(start: ScanStart): number {
    return this.db.transaction(() => {
      const fingerprint = this.ensurePack(start.provenance);
      return this.db.run('INSERT INTO scans (started_at, roots, provider, pack_fingerprint, rules_fingerprint) VALUES (?, ?, ?, ?, ?)', [
        now(),
        json(start.roots),
        start.provider,
        fingerprint,
        start.rulesFingerprint,
      ]).lastInsertRowid;
    });
  }

  finishScan(scanId: number, outcome: 'completed' | 'interrupted' | 'failed', summary: unknown): void {
    this.db.run('UPDATE scans SET finished_at = ?, outcome = ?, summary = ? WHERE id = ?', [now(), outcome, json(summary), scanId]);
  }

  /** The stored result for a path, if any. */
  lookup(path: string): ImageKey | undefined {
    const row = this.db.get('SELECT id, path, sha256, pack_fingerprint, rules_fingerprint, status FROM images WHERE path = ?', [path]);
    return row && toKey(row);
  }

  /** An analysed (not duplicate) image at another path with the same content or SOP Instance UID. */
  findOriginal(path: string, sha256: string | null, sopInstanceUID: string | null): ImageKey | undefined {
    const columns = 'id, path, sha256, pack_fingerprint, rules_fingerprint, status';
    if (sha256) {
      const row = this.db.get(`SELECT ${columns} FROM images WHERE sha256 = ? AND path <> ? AND status <> 'duplicate' ORDER BY id LIMIT 1`, [sha256, path]);
      if (row) return toKey(row);
    }
    if (sopInstanceUID) {
      const row = this.db.get(`SELECT ${columns} FROM images WHERE sop_instance_uid = ? AND path <> ? AND status <> 'duplicate' ORDER BY id LIMIT 1`, [sopInstanceUID, path]);
      if (row) return toKey(row);
    }
    return undefined;
  }

  /** Marks an unchanged, skipped image as covered by this scan (for its export). */
  markSeen(imageId: number, scanId: number): void {
    this.db.run('UPDATE images SET seen_scan_id = ? WHERE id = ?', [scanId, imageId]);
  }

  /** Re-applies new rules to a stored image (same pack, new rules): its priority and its study's. */
  reprioritize(imageId: number, priority: Priority, rulesFingerprint: string, scanId: number): void {
    this.db.transaction(() => {
      this.db.run('UPDATE images SET priority = ?, priority_rank = ?, rules_fingerprint = ?, seen_scan_id = ? WHERE id = ?', [
        priority,
        priorityRank(priority),
        rulesFingerprint,
        scanId,
        imageId,
      ]);
      const row = this.db.get<{ study_key: string; study_instance_uid: string | null }>('SELECT study_key, study_instance_uid FROM images WHERE id = ?', [imageId]);
      if (row) this.raiseStudy(row.study_key, row.study_instance_uid, priority);
    });
  }

  /** A study's priority only ever rises: a later, less urgent image never lowers it. */
  private raiseStudy(key: string, studyInstanceUID: string | null, priority: Priority): void {
    const at = now();
    this.db.run(
      `INSERT INTO studies (key, study_instance_uid, priority, priority_rank, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET
         priority = CASE WHEN excluded.priority_rank < studies.priority_rank THEN excluded.priority ELSE studies.priority END,
         priority_rank = min(excluded.priority_rank, studies.priority_rank),
         updated_at = excluded.updated_at`,
      [key, studyInstanceUID, priority, priorityRank(priority), at, at],
    );
  }

  /**
   * Writes one analysed image: the image row (replacing an earlier result for the same path), all
   * its findings, its pack's provenance and its study's priority, in one transaction.
   */
  recordResult(input: { result: AnalysisResult; file: FileIdentity; format: string | null; priority: Priority; rulesFingerprint: string; scanId: number | null }): number {
    const { result, file, priority } = input;
    return this.db.transaction(() => {
      const fingerprint = this.ensurePack(result);
      const key = studyKey(result.studyInstanceUID, file.path);
      this.raiseStudy(key, result.studyInstanceUID, priority);
      const id = this.upsertImage({
        path: file.path,
        sha256: file.sha256,
        size: file.size,
        format: input.format,
        sop_instance_uid: result.sopInstanceUID,
        study_instance_uid: result.studyInstanceUID,
        study_key: key,
        status: result.status,
        reason: result.reason ?? null,
        error_code: result.error?.code ?? null,
        error_message: result.error?.message ?? null,
        duplicate_of: null,
        provider: result.executionProvider,
        pack_fingerprint: fingerprint,
        rules_fingerprint: input.rulesFingerprint,
        priority,
        priority_rank: priorityRank(priority),
        not_for_clinical_use: result.notForClinicalUse ? 1 : 0,
        notes: json(result.notes),
        heatmaps: result.heatmaps ? json(result.heatmaps) : null,
        decode_ms: result.timings.decodeMs,
        preprocess_ms: result.timings.preprocessMs,
        inference_ms: result.timings.inferenceMs,
        explain_ms: result.timings.explainMs,
        scanned_at: now(),
        scan_id: input.scanId,
        seen_scan_id: input.scanId,
      });
      this.db.run('DELETE FROM findings WHERE image_id = ?', [id]);
      result.findings.forEach((f, position) =>
        this.db.run(
          `INSERT INTO findings (image_id, position, term, tree, cui, positive, direct, votes_positive, votes_total,
             probability_mean, probability_min, probability_max, per_model, supported_by, paths)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            id,
            position,
            f.term,
            f.tree,
            f.cui,
            f.positive ? 1 : 0,
            f.direct ? 1 : 0,
            f.votes.positive,
            f.votes.total,
            f.probability?.mean ?? null,
            f.probability?.min ?? null,
            f.probability?.max ?? null,
            json(f.perModel),
            json(f.supportedBy),
            json(f.paths),
          ],
        ),
      );
      return id;
    });
  }

  /** Writes a file recognised as a duplicate of an analysed one (not analysed again). */
  recordDuplicate(input: {
    file: FileIdentity;
    format: string | null;
    sopInstanceUID: string | null;
    studyInstanceUID: string | null;
    original: ImageKey;
    provider: Provider;
    provenance: PackProvenance;
    rulesFingerprint: string;
    scanId: number | null;
  }): number {
    return this.db.transaction(() => {
      const fingerprint = this.ensurePack(input.provenance);
      const original = this.db.get<{ study_key: string }>('SELECT study_key FROM images WHERE id = ?', [input.original.id]);
      const key = original?.study_key ?? studyKey(input.studyInstanceUID, input.file.path);
      const id = this.upsertImage({
        path: input.file.path,
        sha256: input.file.sha256,
        size: input.file.size,
        format: input.format,
        sop_instance_uid: input.sopInstanceUID,
        study_instance_uid: input.studyInstanceUID,
        study_key: key,
        status: 'duplicate',
        reason: `The same image as ${input.original.path} (${input.original.sha256 === input.file.sha256 ? 'identical content' : 'same SOP Instance UID'}); not analysed again.`,
        error_code: null,
        error_message: null,
        duplicate_of: input.original.id,
        provider: input.provider,
        pack_fingerprint: fingerprint,
        rules_fingerprint: input.rulesFingerprint,
        priority: null,
        priority_rank: null,
        not_for_clinical_use: input.provenance.notForClinicalUse ? 1 : 0,
        notes: '[]',
        heatmaps: null,
        decode_ms: null,
        preprocess_ms: null,
        inference_ms: null,
        explain_ms: null,
        scanned_at: now(),
        scan_id: input.scanId,
        seen_scan_id: input.scanId,
      });
      this.db.run('DELETE FROM findings WHERE image_id = ?', [id]);
      return id;
    });
  }

  private upsertImage(row: Record<string, string | number | null>): number {
    const columns = Object.keys(row);
    const updates = columns.filter((c) => c !== 'path').map((c) => `${c} = excluded.${c}`);
    const result = this.db.get<{ id: number }>(
      `INSERT INTO images (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
       ON CONFLICT (path) DO UPDATE SET ${updates.join(', ')} RETURNING id`,
      columns.map((c) => row[c]),
    );
    return Number(result!.id);
  }

  /** Every result this scan covered (analysed, duplicate, or unchanged and skipped), in path order. */
  *scanResults(scanId: number): Generator<StoredResult> {
    // Pages of ids, so an export of a huge scan never holds every row at once.
    let after = '';
    for (;;) {
      const page = this.db.all<{ id: number; path: string }>('SELECT id, path FROM images WHERE seen_scan_id = ? AND path > ? ORDER BY path LIMIT 256', [scanId, after]);
      if (page.length === 0) return;
      for (const { id } of page) yield this.result(Number(id))!;
      after = page[page.length - 1].path;
    }
  }

  /** Every stored result, in path order. */
  *allResults(): Generator<StoredResult> {
    let after = '';
    for (;;) {
      const page = this.db.all<{ id: number; path: string }>('SELECT id, path FROM images WHERE path > ? ORDER BY path LIMIT 256', [after]);
      if (page.length === 0) return;
      for (const { id } of page) yield this.result(Number(id))!;
      after = page[page.length - 1].path;
    }
  }

  result(id: number): StoredResult | undefined {
    const row = this.db.get(
      `SELECT i.*, p.pack_id, p.version AS pack_version, p.rule, p.demo, d.path AS duplicate_path
       FROM images i JOIN packs p ON p.fingerprint = i.pack_fingerprint LEFT JOIN images d ON d.id = i.duplicate_of
       WHERE i.id = ?`,
      [id],
    );
    if (!row) return undefined;
    const models = this.db
      .all('SELECT model_id, version, onnx_sha256, operating_points FROM pack_models WHERE fingerprint = ? ORDER BY position', [row.pack_fingerprint])
      .map((m): ModelProvenance => ({ id: String(m.model_id), version: String(m.version), sha256: String(m.onnx_sha256), operatingPoints: parse(m.operating_points, {}) }));
    const findings = this.db.all('SELECT * FROM findings WHERE image_id = ? ORDER BY position', [id]).map(
      (f): StoredFinding => ({
        term: String(f.term),
        tree: f.tree as Finding['tree'],
        cui: (f.cui as string | null) ?? null,
        positive: f.positive === 1,
        direct: f.direct === 1,
        votes: { positive: Number(f.votes_positive), total: Number(f.votes_total) },
        probability: f.probability_mean === null ? null : { mean: Number(f.probability_mean), min: Number(f.probability_min), max: Number(f.probability_max) },
        perModel: parse(f.per_model, {}),
        supportedBy: parse(f.supported_by, []),
        paths: parse(f.paths, []),
      }),
    );
    const timed = row.decode_ms !== null;
    return {
      id,
      file: String(row.path),
      sha256: (row.sha256 as string | null) ?? null,
      size: row.size === null ? null : Number(row.size),
      format: (row.format as string | null) ?? null,
      status: row.status as StoredStatus,
      reason: (row.reason as string | null) ?? null,
      error: row.error_code ? { code: row.error_code as ErrorCode, message: String(row.error_message) } : null,
      duplicateOf: (row.duplicate_path as string | null) ?? null,
      sopInstanceUID: (row.sop_instance_uid as string | null) ?? null,
      studyInstanceUID: (row.study_instance_uid as string | null) ?? null,
      study: String(row.study_key),
      priority: (row.priority as Priority | null) ?? null,
      executionProvider: row.provider as Provider,
      pack: { id: String(row.pack_id), version: String(row.pack_version), rule: String(row.rule), demo: row.demo === 1, fingerprint: String(row.pack_fingerprint) },
      models,
      notForClinicalUse: row.not_for_clinical_use === 1,
      rulesFingerprint: String(row.rules_fingerprint),
      notes: parse(row.notes, []),
      findings,
      heatmaps: parse(row.heatmaps, null),
      timings: timed
        ? { decodeMs: Number(row.decode_ms), preprocessMs: Number(row.preprocess_ms), inferenceMs: Number(row.inference_ms), explainMs: Number(row.explain_ms) }
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
    const studies = this.db.all('SELECT key, study_instance_uid, priority, first_seen_at, updated_at FROM studies ORDER BY priority_rank, first_seen_at, key');
    const images = this.db.all(
      `SELECT id, path, sop_instance_uid, status, priority, reason, study_key, not_for_clinical_use FROM images
       WHERE status <> 'duplicate' ORDER BY study_key, priority_rank, path`,
    );
    const positives = this.db.all(
      `SELECT f.image_id, f.term, f.tree, f.votes_positive, f.votes_total, f.probability_mean FROM findings f
       JOIN images i ON i.id = f.image_id WHERE f.positive = 1 AND f.direct = 1 AND i.status = 'ok' ORDER BY f.image_id, f.position`,
    );
    const findingsOf = new Map<number, WorklistImage['findings']>();
    for (const f of positives) {
      const list = findingsOf.get(Number(f.image_id)) ?? [];
      list.push({
        term: String(f.term),
        tree: String(f.tree),
        votes: { positive: Number(f.votes_positive), total: Number(f.votes_total) },
        probability: f.probability_mean === null ? null : Number(f.probability_mean),
      });
      findingsOf.set(Number(f.image_id), list);
    }
    const imagesOf = new Map<string, WorklistImage[]>();
    for (const image of images) {
      const list = imagesOf.get(String(image.study_key)) ?? [];
      list.push({
        file: String(image.path),
        sopInstanceUID: (image.sop_instance_uid as string | null) ?? null,
        status: image.status as StoredStatus,
        priority: (image.priority as Priority | null) ?? null,
        reason: (image.reason as string | null) ?? null,
        notForClinicalUse: image.not_for_clinical_use === 1,
        findings: findingsOf.get(Number(image.id)) ?? [],
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
        images: imagesOf.get(String(s.key)) ?? [],
      }))
      .filter((s) => s.images.length > 0);
  }

  /** Counts by priority over the worklist's studies. */
  studyCounts(): Record<Priority, number> {
    const counts = Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>;
    const rows = this.db.all(`SELECT priority, count(*) AS n FROM studies s WHERE EXISTS (SELECT 1 FROM images i WHERE i.study_key = s.key AND i.status <> 'duplicate') GROUP BY priority`);
    for (const row of rows) counts[row.priority as Priority] = Number(row.n);
    return counts;
  }

  /** One study by its key, or undefined. Duplicates are left out, as in the worklist. */
  study(key: string): StoredStudy | undefined {
    const row = this.db.get('SELECT key, study_instance_uid, priority FROM studies WHERE key = ?', [key]);
    if (!row) return undefined;
    const ids = this.db.all<{ id: number }>(`SELECT id FROM images WHERE study_key = ? AND status <> 'duplicate' ORDER BY priority_rank, path`, [key]);
    return {
      study: String(row.key),
      studyInstanceUID: (row.study_instance_uid as string | null) ?? null,
      priority: row.priority as Priority,
      results: ids.map(({ id }) => this.result(Number(id))!),
    };
  }

  addFeedback(input: { file: string; term?: string; tree?: string; verdict: Verdict | 'withdrawn'; note?: string }): number {
    const image = this.lookup(input.file);
    if (!image) throw new TriageError('FILE_NOT_FOUND', `No stored result for ${input.file}; scan it first.`, { file: input.file });
    return this.db.run('INSERT INTO feedback (image_id, term, tree, verdict, note, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      image.id,
      input.term ?? null,
      input.tree ?? null,
      input.verdict,
      input.note ?? null,
      now(),
    ]).lastInsertRowid;
  }

  feedbackFor(file: string): Feedback[] {
    return this.db
      .all('SELECT f.id, i.path, f.term, f.tree, f.verdict, f.note, f.created_at FROM feedback f JOIN images i ON i.id = f.image_id WHERE i.path = ? ORDER BY f.id', [file])
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
      .map((r) => ({ term: String(r.term), tree: String(r.tree), verdict: r.verdict as Verdict, createdAt: String(r.created_at) }));
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
  SELECT max(g.id) FROM feedback g WHERE g.image_id = f.image_id AND g.term = f.term AND g.tree IS f.tree)`;

function toKey(row: Row): ImageKey {
  return {
    id: Number(row.id),
    path: String(row.path),
    sha256: (row.sha256 as string | null) ?? null,
    packFingerprint: String(row.pack_fingerprint),
    rulesFingerprint: String(row.rules_fingerprint),
    status: row.status as StoredStatus,
  };
}

/** Brings the database to SCHEMA_VERSION, one transaction per migration. */
function migrate(db: Sqlite): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const current = Number(db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')?.v ?? 0);
  if (current > SCHEMA_VERSION) {
    throw new TriageError(
      'DATABASE_TOO_NEW',
      `The results database ${db.path} has schema version ${current}; this version of the application reads up to ${SCHEMA_VERSION}. Update the application.`,
      { file: db.path },
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      // Another process may have migrated meanwhile: the check is repeated under the lock.
      const again = Number(db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')?.v ?? 0);
      if (again >= migration.version) return;
      db.exec(migration.sql);
      db.run('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)', [migration.version, migration.description, now()]);
    });
  }
}
