/**
 * The results store's write path. Every analysed image is written in one transaction with its
 * findings and its study's priority, so a scan killed at any moment leaves whole results or none.
 */
import type { Priority, Provider, ScanOutcome, SourceFormat, StudyIdentity, Verdict } from '../common/index.js';
import type { AnalysisResult } from '../domain/index.js';
import { TriageError } from '../errors/index.js';
import { priorityRank } from '../triage/index.js';
import { packFingerprint } from './fingerprint.js';
import type { PackProvenance } from './fingerprint.js';
import { ResultReader } from './reads.js';
import type { FileIdentity, ImageKey, ScanStart } from './types.js';

const now = () => new Date().toISOString();
const json = (value: unknown) => JSON.stringify(value);

/**
 * The longest reason, error message or note the store keeps, in UTF-16 code units. These texts
 * can echo a file's attribute values, and every worklist answer carries the reasons: a hostile
 * file must not make them grow.
 */
export const STORED_TEXT_MAX = 1000;

/** Findings written per statement (18 parameters each: well within both databases' limits). */
const FINDING_ROWS = 64;
const FINDING_PLACEHOLDERS = Array(18).fill('?').join(', ');

/** `text` cut to at most `max` code units, ending in an ellipsis when cut (never half a surrogate pair). */
export function boundedText(text: string, max = STORED_TEXT_MAX): string {
  if (text.length <= max) return text;
  let end = max - 1;
  // A high surrogate left alone at the end would be half a character.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

const bounded = (text: string | null | undefined): string | null =>
  text === null || text === undefined ? null : boundedText(text);

/** The study an image belongs to: its Study Instance UID, else the image alone. */
export function studyKey(studyInstanceUID: string | null, path: string): string {
  return studyInstanceUID ? studyInstanceUID : `file:${path}`;
}

/**
 * More work in a write's own transaction, run after its rows are written: the shared work queue
 * marks the file done there, and throws (rolling the write back) when this worker lost its lease.
 */
export type Within = () => void;

export class ResultWriter extends ResultReader {
  /** Records a pack's provenance (once per fingerprint); its fingerprint. */
  registerPack(provenance: PackProvenance): string {
    return this.db.transaction(() => this.ensurePack(provenance));
  }

  private ensurePack(provenance: PackProvenance): string {
    const fingerprint = packFingerprint(provenance);
    const { pack } = provenance;
    const inserted = this.db.run(
      `INSERT INTO packs (fingerprint, pack_id, version, rule, demo, not_for_clinical_use, indeterminate_low, indeterminate_high)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
      [
        fingerprint,
        pack.id,
        pack.version,
        pack.rule,
        pack.demo ? 1 : 0,
        provenance.notForClinicalUse ? 1 : 0,
        pack.indeterminate.low,
        pack.indeterminate.high,
      ],
    );
    if (inserted.changes > 0) {
      provenance.models.forEach((model, position) =>
        this.db.run(
          'INSERT INTO pack_models (fingerprint, position, model_id, version, onnx_sha256, operating_points) VALUES (?, ?, ?, ?, ?, ?)',
          [fingerprint, position, model.id, model.version, model.sha256, json(model.operatingPoints)],
        ),
      );
    }
    return fingerprint;
  }

  /**
   * Records a scan's start. A database holds one shard's scans, or whole scans, never a mix: a
   * scan of another shard, of another number of shards, or a whole scan where shards were (or
   * the other way round) is refused (SHARD_MISMATCH) before anything is written.
   */
  beginScan(start: ScanStart): number {
    const shard = start.shard ?? null;
    return this.db.transaction(() => {
      const spec = (s: { index: number; count: number } | null) =>
        s ? `shard ${s.index}/${s.count}` : 'all files (no --shard)';
      for (const row of this.db.all<{ i: number | null; n: number | null }>(
        'SELECT DISTINCT shard_index AS i, shard_count AS n FROM scans',
      )) {
        const stored = row.n === null ? null : { index: Number(row.i), count: Number(row.n) };
        if (stored?.index === shard?.index && stored?.count === shard?.count) continue;
        throw new TriageError(
          'SHARD_MISMATCH',
          `The results database ${this.db.path} holds a scan of ${spec(stored)}; this scan is of ${spec(shard)}. ` +
            'A shard resumes only in its own database with the same --shard: give the same --shard, or another --db.',
          { file: this.db.path },
        );
      }
      const fingerprint = this.ensurePack(start.provenance);
      const row = this.db.get<{ id: number }>(
        'INSERT INTO scans (started_at, roots, provider, pack_fingerprint, rules_fingerprint, shard_index, shard_count) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
        [
          now(),
          json(start.roots),
          start.provider,
          fingerprint,
          start.rulesFingerprint,
          shard?.index ?? null,
          shard?.count ?? null,
        ],
      );
      return Number(row!.id);
    });
  }

  finishScan(scanId: number, outcome: ScanOutcome, summary: unknown): void {
    this.db.run('UPDATE scans SET finished_at = ?, outcome = ?, summary = ? WHERE id = ?', [
      now(),
      outcome,
      json(summary),
      scanId,
    ]);
  }

  /**
   * Marks an unchanged, skipped image as covered by this scan (for its export), and writes the
   * identity its file holds into its study (a study stored before schema 5 gets it so).
   */
  markSeen(imageId: number, scanId: number, identity: StudyIdentity | null = null, within?: Within): void {
    this.db.transaction(() => {
      this.db.run('UPDATE images SET seen_scan_id = ? WHERE id = ?', [scanId, imageId]);
      this.writeIdentityOf(imageId, identity);
      within?.();
    });
  }

  /** The image's study takes the identity its file holds (see writeIdentity). */
  private writeIdentityOf(imageId: number, identity: StudyIdentity | null): void {
    if (!identity) return;
    const row = this.db.get<{ study_key: string; status: string }>(
      'SELECT study_key, status FROM images WHERE id = ?',
      [imageId],
    );
    if (row && row.status !== 'duplicate') this.writeIdentity(row.study_key, identity);
  }

  /**
   * A study's patient and examination as its latest file says: each value the file has replaces
   * the stored one; one it lacks leaves the stored one.
   */
  private writeIdentity(key: string, identity: StudyIdentity | null): void {
    if (!identity) return;
    const v = identity.reveal();
    this.db.run(
      `UPDATE studies SET
         patient_name = coalesce(?, patient_name),
         patient_id = coalesce(?, patient_id),
         issuer_of_patient_id = coalesce(?, issuer_of_patient_id),
         patient_sex = coalesce(?, patient_sex),
         patient_age_derived = CASE WHEN CAST(? AS TEXT) IS NULL THEN patient_age_derived ELSE ? END,
         patient_age = coalesce(?, patient_age),
         accession_number = coalesce(?, accession_number),
         study_date = coalesce(?, study_date),
         study_time = coalesce(?, study_time),
         study_description = coalesce(?, study_description)
       WHERE key = ?`,
      [
        v.patientName,
        v.patientId,
        v.issuerOfPatientId,
        v.patientSex,
        v.patientAge,
        v.patientAgeDerived ? 1 : 0,
        v.patientAge,
        v.accessionNumber,
        v.studyDate,
        v.studyTime,
        v.studyDescription,
        key,
      ],
    );
  }

  /** Re-applies new rules to a stored image (same pack, new rules): its priority and its study's. */
  reprioritize(
    imageId: number,
    priority: Priority,
    rulesFingerprint: string,
    scanId: number,
    identity: StudyIdentity | null = null,
    within?: Within,
  ): void {
    this.db.transaction(() => {
      this.db.run(
        'UPDATE images SET priority = ?, priority_rank = ?, rules_fingerprint = ?, seen_scan_id = ? WHERE id = ?',
        [priority, priorityRank(priority), rulesFingerprint, scanId, imageId],
      );
      const row = this.db.get<{ study_key: string; study_instance_uid: string | null }>(
        'SELECT study_key, study_instance_uid FROM images WHERE id = ?',
        [imageId],
      );
      if (row) this.raiseStudy(row.study_key, row.study_instance_uid, priority);
      this.writeIdentityOf(imageId, identity);
      within?.();
    });
  }

  /** A study's priority only ever rises: a later, less urgent image never lowers it. */
  private raiseStudy(key: string, studyInstanceUID: string | null, priority: Priority): void {
    const at = now();
    this.db.run(
      `INSERT INTO studies (key, study_instance_uid, priority, priority_rank, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET
         priority = CASE WHEN excluded.priority_rank < studies.priority_rank THEN excluded.priority ELSE studies.priority END,
         priority_rank = CASE WHEN excluded.priority_rank < studies.priority_rank THEN excluded.priority_rank ELSE studies.priority_rank END,
         updated_at = excluded.updated_at`,
      [key, studyInstanceUID, priority, priorityRank(priority), at, at],
    );
  }

  /**
   * Writes one analysed image: the image row (replacing an earlier result for the same path), all
   * its findings, its pack's provenance, its study's priority and the patient and examination its
   * file names (`identity`, read apart from the result: see main/common/identity.ts), in one
   * transaction.
   */
  recordResult(input: {
    result: AnalysisResult;
    identity?: StudyIdentity | null;
    file: FileIdentity;
    format: SourceFormat | null;
    priority: Priority;
    rulesFingerprint: string;
    scanId: number | null;
    within?: Within;
  }): number {
    const { result, file, priority } = input;
    return this.db.transaction(() => {
      const fingerprint = this.ensurePack(result);
      const key = studyKey(result.studyInstanceUID, file.path);
      this.raiseStudy(key, result.studyInstanceUID, priority);
      this.writeIdentity(key, input.identity ?? null);
      const id = this.upsertImage({
        path: file.path,
        sha256: file.sha256,
        size: file.size,
        format: input.format,
        sop_instance_uid: result.sopInstanceUID,
        study_instance_uid: result.studyInstanceUID,
        study_key: key,
        status: result.status,
        reason: bounded(result.reason),
        error_code: result.error?.code ?? null,
        error_message: bounded(result.error?.message),
        duplicate_of: null,
        provider: result.executionProvider,
        pack_fingerprint: fingerprint,
        rules_fingerprint: input.rulesFingerprint,
        priority,
        priority_rank: priorityRank(priority),
        not_for_clinical_use: result.notForClinicalUse ? 1 : 0,
        notes: json(result.notes),
        heatmaps: result.heatmaps ? json(result.heatmaps) : null,
        gate: result.gate ? json(result.gate) : null,
        decode_ms: result.timings.decodeMs,
        preprocess_ms: result.timings.preprocessMs,
        inference_ms: result.timings.inferenceMs,
        explain_ms: result.timings.explainMs,
        scanned_at: now(),
        scan_id: input.scanId,
        seen_scan_id: input.scanId,
      });
      this.db.run('DELETE FROM findings WHERE image_id = ?', [id]);
      const rows = result.findings.map((f, position) => [
        id,
        position,
        f.term,
        f.tree,
        f.cui,
        f.positive ? 1 : 0,
        f.direct ? 1 : 0,
        f.assessed ? 1 : 0,
        f.votes.positive,
        f.votes.total,
        f.probability?.ensemble ?? null,
        f.indeterminate ? 1 : 0,
        f.probability?.mean ?? null,
        f.probability?.min ?? null,
        f.probability?.max ?? null,
        json(f.perModel),
        json(f.supportedBy),
        json(f.paths),
      ]);
      // A few statements of many rows, not one per finding: on a database server each statement
      // is a round trip.
      for (let start = 0; start < rows.length; start += FINDING_ROWS) {
        const chunk = rows.slice(start, start + FINDING_ROWS);
        this.db.run(
          `INSERT INTO findings (image_id, position, term, tree, cui, positive, direct, assessed, votes_positive,
             votes_total, probability_ensemble, indeterminate, probability_mean, probability_min, probability_max,
             per_model, supported_by, paths)
           VALUES ${chunk.map(() => `(${FINDING_PLACEHOLDERS})`).join(', ')}`,
          chunk.flat(),
        );
      }
      input.within?.();
      return id;
    });
  }

  /** Writes a file recognised as a duplicate of an analysed one (not analysed again). */
  recordDuplicate(input: {
    file: FileIdentity;
    format: SourceFormat | null;
    sopInstanceUID: string | null;
    studyInstanceUID: string | null;
    original: ImageKey;
    provider: Provider;
    provenance: PackProvenance;
    rulesFingerprint: string;
    scanId: number | null;
    within?: Within;
  }): number {
    return this.db.transaction(() => {
      const fingerprint = this.ensurePack(input.provenance);
      const original = this.db.get<{ study_key: string }>('SELECT study_key FROM images WHERE id = ?', [
        input.original.id,
      ]);
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
        reason: boundedText(
          `The same image as ${input.original.path} (${input.original.sha256 === input.file.sha256 ? 'identical content' : 'same SOP Instance UID'}); not analysed again.`,
        ),
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
        gate: null,
        decode_ms: null,
        preprocess_ms: null,
        inference_ms: null,
        explain_ms: null,
        scanned_at: now(),
        scan_id: input.scanId,
        seen_scan_id: input.scanId,
      });
      this.db.run('DELETE FROM findings WHERE image_id = ?', [id]);
      input.within?.();
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

  addFeedback(input: {
    file: string;
    term?: string;
    tree?: string;
    verdict: Verdict | 'withdrawn';
    note?: string;
  }): number {
    const image = this.lookup(input.file);
    if (!image)
      throw new TriageError('FILE_NOT_FOUND', `No stored result for ${input.file}; scan it first.`, {
        file: input.file,
      });
    const row = this.db.get<{ id: number }>(
      'INSERT INTO feedback (image_id, term, tree, verdict, note, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
      [image.id, input.term ?? null, input.tree ?? null, input.verdict, bounded(input.note), now()],
    );
    return Number(row!.id);
  }
}
