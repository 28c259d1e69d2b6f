/**
 * Merging results databases: the shards of one archive (`triage scan --shard i/N`), scanned on
 * several machines, into one database equal to a scan of the whole archive on one machine, apart
 * from scan ids, timings and id numbering.
 *
 * Every table is copied (packs, pack_models, scans, studies, images, findings, feedback,
 * outbox), with new ids: images numbered in walk order, scans, feedback and outbox rows in the
 * order of their inputs. What a single scan would have decided differently is decided again:
 * - Content (or a SOP Instance UID) found in several shards: a single scan analyses the first
 *   copy in walk order and records the later ones as its duplicates. So, in walk order, an
 *   analysed image whose SHA-256 (else whose SOP Instance UID) an earlier one has becomes a
 *   duplicate of it (its findings dropped); every duplicate points at the original a scan's
 *   lookup would find (same content first, then same SOP Instance UID) and takes its study.
 *   Walk order: the scans' PATHs in the order given (when stored as absolute paths), then
 *   folder by folder, names in code-unit order, as main/scan's walk goes.
 * - Studies: a study's priority only rises, so the merged study takes the most urgent of the
 *   inputs' (an input whose image became a duplicate counts only its remaining images for that
 *   study); its patient and examination take, value by value, the latest one set in walk order.
 * - The same path in several inputs (overlapping scans): the later-scanned result, refused as
 *   MERGE_CONFLICT when the two came from different model packs.
 * The scans lose their shard: the output is whole, and takes whole scans (their summaries still
 * say which shard each was).
 *
 * The output must be empty (OUTPUT_EXISTS); the merge is one transaction. The SQL is plain
 * (`?` parameters, no SQLite functions on the read side, explicit ids) through the connection's
 * run/get/all/transaction, so another backend behind the same methods can be a source.
 */
import { isAbsolute, sep } from 'node:path';
import { TriageError } from '../errors/index.js';
import type { ResultReader } from './reads.js';
import type { Row, SqlDatabase, SqlValue } from './connection.js';
import { boundedText } from './writes.js';

/** What the copier needs of a database connection. */
export type Connection = Pick<SqlDatabase, 'path' | 'run' | 'get' | 'all' | 'transaction'>;

export interface MergeSummary {
  inputs: number;
  scans: number;
  images: number;
  /** Images analysed in one input that another input's earlier copy (in walk order) makes duplicates. */
  duplicatesAcrossInputs: number;
  /** Paths found in more than one input: the later-scanned result was kept. */
  pathsInSeveralInputs: number;
  studies: number;
  findings: number;
  feedback: number;
  outbox: number;
}

const TABLES = ['packs', 'pack_models', 'scans', 'studies', 'images', 'findings', 'feedback', 'outbox'] as const;
const PAGE = 500;

/** An image as the merge decides about it. */
interface Image {
  source: number;
  oldId: number;
  path: string;
  sha256: string | null;
  sop: string | null;
  status: string;
  studyKey: string;
  priority: string | null;
  priorityRank: number | null;
  packFingerprint: string;
  scannedAt: string;
  oldDuplicateOf: number | null;
  /** Decided here: */
  newId: number;
  order: number;
  converted: boolean;
  original: Image | null;
}

/** All rows of a table, a page at a time in order of its integer key. */
function* pages(db: Connection, table: string, key = 'id'): Generator<Row> {
  let after = -1;
  for (;;) {
    const rows = db.all(`SELECT * FROM ${table} WHERE ${key} > ? ORDER BY ${key} LIMIT ${PAGE}`, [after]);
    if (rows.length === 0) return;
    yield* rows;
    after = Number(rows[rows.length - 1][key]);
  }
}

/** Findings a page at a time, in order of (image_id, position). */
function* findingPages(db: Connection): Generator<Row> {
  let image = -1;
  let position = -1;
  for (;;) {
    const rows = db.all(
      `SELECT * FROM findings WHERE image_id > ? OR (image_id = ? AND position > ?)
       ORDER BY image_id, position LIMIT ${PAGE}`,
      [image, image, position],
    );
    if (rows.length === 0) return;
    yield* rows;
    image = Number(rows[rows.length - 1].image_id);
    position = Number(rows[rows.length - 1].position);
  }
}

const text = (value: SqlValue | undefined): string | null =>
  value === null || value === undefined ? null : String(value);

function insert(db: Connection, table: string, row: Record<string, SqlValue>, conflict = ''): number {
  const columns = Object.keys(row);
  return db.run(
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})${conflict}`,
    columns.map((c) => row[c]),
  ).changes;
}

/** The walk's order of two paths under the same PATH: folder by folder, names in code-unit order. */
function comparePaths(a: string, b: string): number {
  const x = a.split(sep);
  const y = b.split(sep);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

/** The scans' PATHs, in the order first given, where stored as absolute paths. */
function scannedRoots(sources: readonly Connection[]): string[] {
  const roots: string[] = [];
  for (const db of sources)
    for (const row of db.all('SELECT roots FROM scans ORDER BY id'))
      for (const root of JSON.parse(String(row.roots)) as string[])
        if (isAbsolute(root) && !roots.includes(root)) roots.push(root.length > 1 ? root.replace(/[\\/]+$/, '') : root);
  return roots;
}

function rootRank(path: string, roots: readonly string[]): number {
  const rank = roots.findIndex((root) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep));
  return rank < 0 ? roots.length : rank;
}

const IDENTITY = [
  'patient_name',
  'patient_id',
  'issuer_of_patient_id',
  'patient_sex',
  'accession_number',
  'study_date',
  'study_time',
  'study_description',
] as const;

/** One input's share of a study. */
interface Contribution {
  row: Row;
  rank: number;
  priority: string;
  /** The walk position of the input's last image in the study (its identity is the latest of that input's). */
  last: number;
}

/**
 * Copies every source into `destination`, which must be empty, in one transaction (see the
 * module's comment); returns what was copied.
 */
export function copyResults(sources: readonly Connection[], destination: Connection): MergeSummary {
  for (const table of TABLES)
    if (destination.get(`SELECT 1 AS one FROM ${table} LIMIT 1`))
      throw new TriageError(
        'OUTPUT_EXISTS',
        `The output database ${destination.path} already holds results (its ${table}); a merge writes only into a new or empty database. Name a new file.`,
        { file: destination.path },
      );

  // The images, and which copy of each path is kept.
  const byPath = new Map<string, Image>();
  let pathsInSeveralInputs = 0;
  sources.forEach((db, source) => {
    for (const row of pages(db, 'images')) {
      const image: Image = {
        source,
        oldId: Number(row.id),
        path: String(row.path),
        sha256: text(row.sha256),
        sop: text(row.sop_instance_uid),
        status: String(row.status),
        studyKey: String(row.study_key),
        priority: text(row.priority),
        priorityRank: row.priority_rank === null ? null : Number(row.priority_rank),
        packFingerprint: String(row.pack_fingerprint),
        scannedAt: String(row.scanned_at),
        oldDuplicateOf: row.duplicate_of === null ? null : Number(row.duplicate_of),
        newId: 0,
        order: 0,
        converted: false,
        original: null,
      };
      const other = byPath.get(image.path);
      if (!other) {
        byPath.set(image.path, image);
        continue;
      }
      if (other.source === source) continue; // one row per path in a database
      pathsInSeveralInputs++;
      if (other.packFingerprint !== image.packFingerprint)
        throw new TriageError(
          'MERGE_CONFLICT',
          `${image.path} has results of two different model packs, in ${sources[other.source].path} and in ${db.path}; merge only databases scanned with the same pack (or scan one of them again with it).`,
          { file: image.path },
        );
      if (image.scannedAt >= other.scannedAt) byPath.set(image.path, image);
    }
  });

  // Walk order, then the originals and duplicates a single scan would have recorded.
  const roots = scannedRoots(sources);
  const images = [...byPath.values()];
  const rank = new Map(images.map((image) => [image, rootRank(image.path, roots)]));
  images.sort((a, b) => rank.get(a)! - rank.get(b)! || comparePaths(a.path, b.path));
  images.forEach((image, i) => {
    image.order = i;
    image.newId = i + 1;
  });
  const bySha = new Map<string, Image>();
  const bySop = new Map<string, Image>();
  for (const image of images) {
    if (image.status === 'duplicate') continue;
    const original = (image.sha256 && bySha.get(image.sha256)) || (image.sop && bySop.get(image.sop)) || null;
    if (original) {
      image.converted = true;
      image.original = original;
      continue;
    }
    if (image.sha256) bySha.set(image.sha256, image);
    if (image.sop && !bySop.has(image.sop)) bySop.set(image.sop, image);
  }
  const oldIds = sources.map(() => new Map<number, Image>());
  for (const image of byPath.values()) oldIds[image.source].set(image.oldId, image);
  // Rows not kept (an older copy of a path) still name their path: feedback and duplicates follow it.
  const keptByOldId = (source: number, id: number): Image | undefined => {
    const kept = oldIds[source].get(id);
    if (kept) return kept;
    const path = sources[source].get('SELECT path FROM images WHERE id = ?', [id])?.path;
    return path === undefined ? undefined : byPath.get(String(path));
  };
  for (const image of images) {
    if (image.status !== 'duplicate') continue;
    const before = image.oldDuplicateOf === null ? undefined : keptByOldId(image.source, image.oldDuplicateOf);
    image.original =
      (image.sha256 && bySha.get(image.sha256)) ||
      (image.sop && bySop.get(image.sop)) ||
      (before && before.status !== 'duplicate' && !before.converted ? before : null);
  }
  const isOriginal = (image: Image) => image.status !== 'duplicate' && !image.converted;

  return destination.transaction(() => {
    const summary: MergeSummary = {
      inputs: sources.length,
      scans: 0,
      images: images.length,
      duplicatesAcrossInputs: images.filter((image) => image.converted).length,
      pathsInSeveralInputs,
      studies: 0,
      findings: 0,
      feedback: 0,
      outbox: 0,
    };

    // Packs: one row per fingerprint, which names its content.
    for (const db of sources) {
      for (const row of db.all('SELECT * FROM packs ORDER BY fingerprint'))
        insert(destination, 'packs', row, ' ON CONFLICT (fingerprint) DO NOTHING');
      for (const row of db.all('SELECT * FROM pack_models ORDER BY fingerprint, position'))
        insert(destination, 'pack_models', row, ' ON CONFLICT (fingerprint, position) DO NOTHING');
    }

    // Scans, in input order, without their shard.
    const scanIds = sources.map(() => new Map<number, number>());
    sources.forEach((db, source) => {
      for (const row of pages(db, 'scans')) {
        scanIds[source].set(Number(row.id), ++summary.scans);
        insert(destination, 'scans', { ...row, id: summary.scans, shard_index: null, shard_count: null });
      }
    });
    const scanId = (source: number, id: SqlValue) => (id === null ? null : (scanIds[source].get(Number(id)) ?? null));

    // Studies: each input's share, then combined.
    const tainted = new Set(images.filter((i) => i.converted).map((i) => `${i.source}\n${i.studyKey}`));
    const lastOf = new Map<string, number>();
    const remaining = new Map<string, { rank: number; priority: string }>();
    for (const image of images) {
      if (!isOriginal(image)) continue;
      const key = `${image.source}\n${image.studyKey}`;
      lastOf.set(key, Math.max(lastOf.get(key) ?? -1, image.order));
      const best = remaining.get(key);
      if (image.priorityRank !== null && image.priority !== null && (!best || image.priorityRank < best.rank))
        remaining.set(key, { rank: image.priorityRank, priority: image.priority });
    }
    const contributions = new Map<string, Contribution[]>();
    sources.forEach((db, source) => {
      for (const row of db.all('SELECT * FROM studies ORDER BY key')) {
        const key = `${source}\n${String(row.key)}`;
        let share: Contribution;
        if (tainted.has(key)) {
          // An image of this input's that became a duplicate may have raised the study: only the rest count.
          const rest = remaining.get(key);
          if (!rest) continue;
          share = { row, rank: rest.rank, priority: rest.priority, last: lastOf.get(key) ?? -1 };
        } else {
          share = {
            row,
            rank: Number(row.priority_rank),
            priority: String(row.priority),
            last: lastOf.get(key) ?? -1,
          };
        }
        const list = contributions.get(String(row.key)) ?? [];
        list.push(share);
        contributions.set(String(row.key), list);
      }
    });
    for (const [key, shares] of contributions) {
      const urgent = shares.reduce((a, b) => (b.rank < a.rank ? b : a));
      const study: Record<string, SqlValue> = {
        key,
        study_instance_uid: shares.map((s) => text(s.row.study_instance_uid)).find((v) => v !== null) ?? null,
        priority: urgent.priority,
        priority_rank: urgent.rank,
        first_seen_at: shares.map((s) => String(s.row.first_seen_at)).reduce((a, b) => (b < a ? b : a)),
        updated_at: shares.map((s) => String(s.row.updated_at)).reduce((a, b) => (b > a ? b : a)),
        patient_age: null,
        patient_age_derived: 0,
      };
      for (const column of IDENTITY) study[column] = null;
      // Value by value, the latest set wins, as a scan writes each file's identity in turn.
      for (const share of [...shares].sort((a, b) => a.last - b.last)) {
        for (const column of IDENTITY) if (share.row[column] !== null) study[column] = share.row[column];
        if (share.row.patient_age !== null) {
          study.patient_age = share.row.patient_age;
          study.patient_age_derived = share.row.patient_age_derived;
        }
      }
      insert(destination, 'studies', study);
      summary.studies++;
    }

    // Images (duplicates pointed at their originals once all are in), then findings.
    sources.forEach((db, source) => {
      for (const row of pages(db, 'images')) {
        const image = oldIds[source].get(Number(row.id));
        if (!image || byPath.get(image.path) !== image) continue;
        const copy: Record<string, SqlValue> = {
          ...row,
          id: image.newId,
          duplicate_of: null,
          scan_id: scanId(source, row.scan_id),
          seen_scan_id: scanId(source, row.seen_scan_id),
        };
        if (image.status === 'duplicate' || image.converted) {
          const original = image.original;
          Object.assign(copy, {
            status: 'duplicate',
            study_key: original ? original.studyKey : row.study_key,
            reason: original
              ? boundedText(
                  `The same image as ${original.path} (${original.sha256 !== null && original.sha256 === image.sha256 ? 'identical content' : 'same SOP Instance UID'}); not analysed again.`,
                )
              : row.reason,
            error_code: null,
            error_message: null,
            priority: null,
            priority_rank: null,
            notes: '[]',
            heatmaps: null,
            gate: null,
            decode_ms: null,
            preprocess_ms: null,
            inference_ms: null,
            explain_ms: null,
          });
        }
        insert(destination, 'images', copy);
      }
    });
    for (const image of images)
      if (image.original)
        destination.run('UPDATE images SET duplicate_of = ? WHERE id = ?', [image.original.newId, image.newId]);
    sources.forEach((db, source) => {
      for (const row of findingPages(db)) {
        const image = oldIds[source].get(Number(row.image_id));
        if (!image || byPath.get(image.path) !== image || !isOriginal(image)) continue;
        insert(destination, 'findings', { ...row, image_id: image.newId });
        summary.findings++;
      }
    });

    // Feedback: the reader's log, in time order (the latest row of a finding is its verdict).
    const feedback: Array<{ row: Row; image: Image; source: number }> = [];
    sources.forEach((db, source) => {
      for (const row of pages(db, 'feedback')) {
        const image = keptByOldId(source, Number(row.image_id));
        if (image) feedback.push({ row, image, source });
      }
    });
    feedback.sort(byTime);
    for (const { row, image } of feedback)
      insert(destination, 'feedback', { ...row, id: ++summary.feedback, image_id: image.newId });

    // The outbox: one row per destination and object; a delivered one wins over one still pending.
    const outbox = new Map<string, { row: Row; source: number }>();
    const progress = (state: SqlValue) => (state === 'sent' ? 2 : state === 'pending' ? 1 : 0);
    sources.forEach((db, source) => {
      for (const row of pages(db, 'outbox')) {
        const key = `${String(row.destination)}\n${String(row.sop_instance_uid)}`;
        const other = outbox.get(key);
        if (!other || progress(row.state) > progress(other.row.state)) outbox.set(key, { row, source });
      }
    });
    const items = [...outbox.values()].sort(byTime);
    for (const { row } of items) insert(destination, 'outbox', { ...row, id: ++summary.outbox });

    return summary;
  });
}

/** Merges result stores (see copyResults): the sources into `destination`, which must be empty. */
export function mergeStores(sources: readonly ResultReader[], destination: ResultReader): MergeSummary {
  return copyResults(
    sources.map((source) => source.connection),
    destination.connection,
  );
}

/** Rows from several inputs in time order: by creation time, then input, then their own id. */
function byTime(a: { row: Row; source: number }, b: { row: Row; source: number }): number {
  const at = String(a.row.created_at);
  const bt = String(b.row.created_at);
  return (at < bt ? -1 : at > bt ? 1 : 0) || a.source - b.source || Number(a.row.id) - Number(b.row.id);
}
