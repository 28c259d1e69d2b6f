/**
 * The results database's schema, as code: migration N takes a database at version N - 1 to N, in
 * one transaction with the `schema_version` row it adds. A database newer than this build is
 * refused (DATABASE_TOO_NEW) rather than misread.
 *
 * Tables:
 *   packs         one row per pack fingerprint: pack id, version, rule, demo flag, indeterminate
 *                 band (since schema 3)
 *   pack_models   the members behind a fingerprint: model id, version, ONNX SHA-256, operating points
 *   scans         one row per `triage scan` run: roots, provider, fingerprint, start/end, summary;
 *                 since schema 7 its shard (`--shard i/N`: index and count; NULL for a whole scan)
 *   studies       Study Instance UID (or `file:PATH` for an image without one) and its priority,
 *                 which only ever rises; since schema 5 its patient and examination (Patient's
 *                 Name, ID and issuer, sex, age and whether it was derived, Accession Number,
 *                 Study Date and Time, Study Description), as its DICOM files say (the latest
 *                 value read wins; NULL where none said, and for studies stored before until a
 *                 scan sees their files again)
 *   images        the current result for each path: content SHA-256, UIDs, status, reason or coded
 *                 error, duplicate_of, provider, pack fingerprint (the result's provenance), priority,
 *                 timings, when it was scanned and by which scan
 *   findings      every finding of an image (term, tree, CUI, positive, direct, votes, probability
 *                 mean/min/max, per-model JSON, supported-by JSON, paths JSON; since schema 3 the
 *                 ensemble probability, indeterminate, and assessed)
 *   outbox        result objects (SR, SC) to deliver to each destination (a DICOM peer or a STOW-RS
 *                 URL): pending, sent or failed, attempts, the next attempt and the last error
 *                 (since schema 6)
 *   feedback      a reader's verdicts on an image or one of its findings (agree, disagree, or
 *                 withdrawn since schema 2), with the time: an append-only log, so the history of
 *                 a reader's decisions is kept; the current verdict on a finding is its latest row
 */

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'images, studies, findings, model provenance, scans, feedback',
    sql: `
      CREATE TABLE packs (
        fingerprint TEXT PRIMARY KEY,
        pack_id TEXT NOT NULL,
        version TEXT NOT NULL,
        rule TEXT NOT NULL,
        demo INTEGER NOT NULL,
        not_for_clinical_use INTEGER NOT NULL
      );
      CREATE TABLE pack_models (
        fingerprint TEXT NOT NULL REFERENCES packs(fingerprint),
        position INTEGER NOT NULL,
        model_id TEXT NOT NULL,
        version TEXT NOT NULL,
        onnx_sha256 TEXT NOT NULL,
        operating_points TEXT NOT NULL,
        PRIMARY KEY (fingerprint, position)
      );
      CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        roots TEXT NOT NULL,
        provider TEXT NOT NULL,
        pack_fingerprint TEXT NOT NULL REFERENCES packs(fingerprint),
        rules_fingerprint TEXT NOT NULL,
        outcome TEXT,
        summary TEXT
      );
      CREATE TABLE studies (
        key TEXT PRIMARY KEY,
        study_instance_uid TEXT,
        priority TEXT NOT NULL,
        priority_rank INTEGER NOT NULL,
        first_seen_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        sha256 TEXT,
        size INTEGER,
        format TEXT,
        sop_instance_uid TEXT,
        study_instance_uid TEXT,
        study_key TEXT NOT NULL REFERENCES studies(key),
        status TEXT NOT NULL CHECK (status IN ('ok', 'rejected', 'error', 'duplicate')),
        reason TEXT,
        error_code TEXT,
        error_message TEXT,
        duplicate_of INTEGER REFERENCES images(id) ON DELETE SET NULL,
        provider TEXT NOT NULL,
        pack_fingerprint TEXT NOT NULL REFERENCES packs(fingerprint),
        rules_fingerprint TEXT NOT NULL,
        priority TEXT,
        priority_rank INTEGER,
        not_for_clinical_use INTEGER NOT NULL,
        notes TEXT NOT NULL DEFAULT '[]',
        heatmaps TEXT,
        decode_ms REAL,
        preprocess_ms REAL,
        inference_ms REAL,
        explain_ms REAL,
        scanned_at TEXT NOT NULL,
        scan_id INTEGER REFERENCES scans(id),
        seen_scan_id INTEGER REFERENCES scans(id)
      );
      CREATE INDEX images_sha256 ON images(sha256);
      CREATE INDEX images_sop ON images(sop_instance_uid);
      CREATE INDEX images_study ON images(study_key);
      CREATE INDEX images_seen_scan ON images(seen_scan_id);
      CREATE TABLE findings (
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        term TEXT NOT NULL,
        tree TEXT NOT NULL,
        cui TEXT,
        positive INTEGER NOT NULL,
        direct INTEGER NOT NULL,
        votes_positive INTEGER NOT NULL,
        votes_total INTEGER NOT NULL,
        probability_mean REAL,
        probability_min REAL,
        probability_max REAL,
        per_model TEXT NOT NULL,
        supported_by TEXT NOT NULL,
        paths TEXT NOT NULL,
        PRIMARY KEY (image_id, position)
      );
      CREATE INDEX findings_term ON findings(term, tree) WHERE positive = 1;
      CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        term TEXT,
        tree TEXT,
        verdict TEXT NOT NULL CHECK (verdict IN ('agree', 'disagree')),
        note TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX feedback_image ON feedback(image_id);
    `,
  },
  {
    version: 2,
    description: 'feedback: a verdict can be withdrawn; index for the latest verdict per finding',
    // SQLite cannot alter a CHECK constraint: the table is rebuilt with its rows and ids.
    sql: `
      CREATE TABLE feedback_v2 (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        term TEXT,
        tree TEXT,
        verdict TEXT NOT NULL CHECK (verdict IN ('agree', 'disagree', 'withdrawn')),
        note TEXT,
        created_at TEXT NOT NULL
      );
      INSERT INTO feedback_v2 (id, image_id, term, tree, verdict, note, created_at)
        SELECT id, image_id, term, tree, verdict, note, created_at FROM feedback;
      DROP TABLE feedback;
      ALTER TABLE feedback_v2 RENAME TO feedback;
      CREATE INDEX feedback_image ON feedback(image_id, term, tree, id);
    `,
  },
  {
    version: 3,
    description:
      'findings: the ensemble probability, indeterminate, assessed; packs: the indeterminate band; backfilled',
    // Results stored before: their packs declared no band, so they get the default of the time,
    // [0.4, 0.6) (fingerprint.ts's LEGACY_INDETERMINATE_BAND). Every stored finding was assessed.
    // The ensemble probability is replayed from the stored members' values and the rule:
    // majority the (floor(n/2) + 1)-th largest, any the largest, all the smallest. Those values
    // were rounded to 4 decimals, so one just below 0.5 may read 0.5: where the stored votes say
    // the rule did not call the finding, the value is held below 0.5 (0.4999), as the engine now
    // rounds. Under soft-mean the threshold was not stored: the value stays NULL and such a
    // finding reads back with no probability (and not indeterminate) until it is analysed again.
    sql: `
      ALTER TABLE packs ADD COLUMN indeterminate_low REAL NOT NULL DEFAULT 0.4;
      ALTER TABLE packs ADD COLUMN indeterminate_high REAL NOT NULL DEFAULT 0.6;
      ALTER TABLE findings ADD COLUMN assessed INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE findings ADD COLUMN probability_ensemble REAL;
      ALTER TABLE findings ADD COLUMN indeterminate INTEGER NOT NULL DEFAULT 0;
      UPDATE findings SET probability_ensemble = (
        SELECT CASE p.rule
          WHEN 'any' THEN findings.probability_max
          WHEN 'all' THEN findings.probability_min
          WHEN 'majority' THEN (
            SELECT ranked.value FROM (
              SELECT j.value, row_number() OVER (ORDER BY j.value DESC) AS rank
              FROM json_each(findings.per_model) j) ranked
            WHERE ranked.rank = findings.votes_total / 2 + 1)
        END
        FROM images i JOIN packs p ON p.fingerprint = i.pack_fingerprint
        WHERE i.id = findings.image_id)
      WHERE probability_mean IS NOT NULL AND votes_total > 0;
      UPDATE findings SET probability_ensemble = 0.4999
      WHERE probability_ensemble >= 0.5 AND NOT (
        SELECT CASE p.rule
          WHEN 'majority' THEN findings.votes_positive * 2 > findings.votes_total
          WHEN 'any' THEN findings.votes_positive > 0
          WHEN 'all' THEN findings.votes_positive = findings.votes_total
        END
        FROM images i JOIN packs p ON p.fingerprint = i.pack_fingerprint
        WHERE i.id = findings.image_id);
      UPDATE findings SET indeterminate = 1
      WHERE probability_ensemble IS NOT NULL AND EXISTS (
        SELECT 1 FROM images i JOIN packs p ON p.fingerprint = i.pack_fingerprint
        WHERE i.id = findings.image_id
          AND findings.probability_ensemble >= p.indeterminate_low
          AND findings.probability_ensemble < p.indeterminate_high);
    `,
  },
  {
    version: 4,
    description: "images: the image-based gate's report (each check's score, range and outcome)",
    // NULL for results stored before, and for images that never reached the models.
    sql: `ALTER TABLE images ADD COLUMN gate TEXT;`,
  },
  {
    version: 5,
    description:
      'studies: the patient and examination (name, ID, issuer, sex, age, accession, date, time, description)',
    // NULL for studies stored before: the next scan of their files fills them in, without
    // analysing the files again (an unchanged file's identity is written with its "seen" mark).
    sql: `
      ALTER TABLE studies ADD COLUMN patient_name TEXT;
      ALTER TABLE studies ADD COLUMN patient_id TEXT;
      ALTER TABLE studies ADD COLUMN issuer_of_patient_id TEXT;
      ALTER TABLE studies ADD COLUMN patient_sex TEXT;
      ALTER TABLE studies ADD COLUMN patient_age TEXT;
      ALTER TABLE studies ADD COLUMN patient_age_derived INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE studies ADD COLUMN accession_number TEXT;
      ALTER TABLE studies ADD COLUMN study_date TEXT;
      ALTER TABLE studies ADD COLUMN study_time TEXT;
      ALTER TABLE studies ADD COLUMN study_description TEXT;
      CREATE INDEX studies_patient_id ON studies(patient_id);
      CREATE INDEX studies_accession_number ON studies(accession_number);
    `,
  },
  {
    version: 6,
    description: 'outbox: result objects to deliver to each destination, with their state and retries',
    // One row per (destination, object): delivered once, retried with backoff until then. The
    // object's file is the product's own (written before the row); the row survives restarts.
    sql: `
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        destination TEXT NOT NULL,
        file TEXT NOT NULL,
        sop_instance_uid TEXT NOT NULL,
        kind TEXT NOT NULL,
        source_path TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (destination, sop_instance_uid)
      );
      CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
      CREATE INDEX outbox_sop ON outbox(sop_instance_uid);
    `,
  },
  {
    version: 7,
    description: 'scans: the shard a scan took (--shard i/N), NULL for a scan of every file',
    // A shard's database takes only scans of that shard (see ResultWriter.beginScan); a merged
    // database is whole again, its scans carrying no shard.
    sql: `
      ALTER TABLE scans ADD COLUMN shard_index INTEGER;
      ALTER TABLE scans ADD COLUMN shard_count INTEGER;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
