//! The embedded SQLite store.
//!
//! SQLite specifics live here and nowhere else. The file is in WAL mode so
//! that readers never block the writer; `synchronous=FULL` makes every commit
//! durable; `secure_delete` overwrites erased content instead of leaving it
//! in free pages. Several processes may share one file: a writer waits up to
//! the busy timeout for the lock and then fails with [`StoreError::Busy`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use custos_model::{FieldName, SubjectId};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::codec::{decode, decode_text, encode};
use crate::error::{BoxError, StoreError};
use crate::types::{
    Digest, Erasure, HeldFields, NewSubject, ScopeFilter, StoredSubject, SubjectChange,
    SubjectSummary,
};
use crate::{KEY_EPOCH, RewrapFn, Store};

/// The store format this build writes and reads: the number of
/// [`MIGRATIONS`].
const FORMAT: i64 = 3;

/// Page cache of the writer connection, in KiB (SQLite's negative
/// `cache_size`): imports and rotations touch many pages in one transaction.
const WRITER_CACHE_KIB: i64 = -131_072;
/// Page cache of each reader connection, in KiB.
const READER_CACHE_KIB: i64 = -16_384;

/// Each entry upgrades the store by one format version.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('erased_subjects', 0);
    CREATE TABLE subjects (
        id          TEXT PRIMARY KEY,
        key_version INTEGER NOT NULL,
        wrapped_key BLOB NOT NULL,
        scope       BLOB NOT NULL,
        sealed      BLOB NOT NULL,
        lookups     BLOB NOT NULL
    );
    CREATE TABLE subject_scope (
        field      TEXT NOT NULL,
        value      TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        PRIMARY KEY (field, value, subject_id)
    ) WITHOUT ROWID;
    CREATE TABLE blind_index (
        field      TEXT NOT NULL,
        digest     BLOB NOT NULL,
        subject_id TEXT NOT NULL,
        PRIMARY KEY (field, digest, subject_id)
    ) WITHOUT ROWID;
"#,
    // Format 2: access control (principals, tokens, purposes, policies,
    // alerts). The tables are described in `access_sqlite.rs`.
    r#"
    CREATE TABLE principals (
        name              TEXT PRIMARY KEY,
        kind              TEXT NOT NULL,
        attributes        TEXT NOT NULL,
        status            TEXT NOT NULL,
        status_reason     TEXT NOT NULL DEFAULT '',
        status_changed_at TEXT,
        valid_from        TEXT,
        valid_until       TEXT,
        created_at        TEXT NOT NULL,
        password_hash     TEXT,
        totp_sealed       BLOB,
        totp_last_step    INTEGER,
        failed_logins     INTEGER NOT NULL DEFAULT 0,
        locked_until      TEXT
    );
    CREATE TABLE tokens (
        id         TEXT PRIMARY KEY,
        digest     BLOB UNIQUE NOT NULL CHECK (length(digest) = 32),
        principal  TEXT NOT NULL REFERENCES principals (name),
        kind       TEXT NOT NULL CHECK (kind IN ('api', 'session')),
        mfa        INTEGER NOT NULL CHECK (mfa IN (0, 1)),
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT
    );
    CREATE INDEX tokens_by_principal ON tokens (principal);
    CREATE TABLE purposes (
        name              TEXT PRIMARY KEY,
        description       TEXT NOT NULL,
        lawful_basis      TEXT NOT NULL,
        special_condition TEXT,
        categories        TEXT NOT NULL,
        requires_consent  INTEGER NOT NULL CHECK (requires_consent IN (0, 1)),
        consent_fields    TEXT NOT NULL,
        created_at        TEXT NOT NULL
    );
    CREATE TABLE policies (
        version    INTEGER PRIMARY KEY,
        text       TEXT NOT NULL,
        tests      TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        applied_by TEXT NOT NULL
    );
    CREATE TABLE alerts (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        time      TEXT NOT NULL,
        principal TEXT NOT NULL,
        kind      TEXT NOT NULL,
        details   TEXT NOT NULL
    );
    CREATE INDEX alerts_by_principal ON alerts (principal);
    INSERT INTO counters (name, value) VALUES ('access_generation', 0);
"#,
    // Format 3: incident response (processors, exports and their canaries,
    // incidents). The tables are described in `breach_sqlite.rs`.
    r#"
    CREATE TABLE processors (
        name         TEXT PRIMARY KEY,
        contact      TEXT NOT NULL,
        contract_ref TEXT NOT NULL,
        purposes     TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        created_by   TEXT NOT NULL
    );
    CREATE TABLE exports (
        id           INTEGER PRIMARY KEY,
        processor    TEXT NOT NULL REFERENCES processors (name),
        purpose      TEXT NOT NULL,
        principal    TEXT NOT NULL,
        request_id   TEXT NOT NULL,
        fields       TEXT NOT NULL,
        filters      TEXT NOT NULL,
        file_name    TEXT,
        started_at   TEXT NOT NULL,
        first_seq    INTEGER NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('writing', 'complete', 'failed')),
        completed_at TEXT,
        manifest_seq INTEGER,
        subjects     INTEGER NOT NULL DEFAULT 0,
        canaries     INTEGER NOT NULL DEFAULT 0,
        sha256       TEXT
    );
    CREATE INDEX exports_by_processor ON exports (processor);
    CREATE TABLE canaries (
        export_id   INTEGER NOT NULL REFERENCES exports (id),
        n           INTEGER NOT NULL,
        wrapped_key BLOB NOT NULL,
        sealed      BLOB NOT NULL,
        PRIMARY KEY (export_id, n)
    ) WITHOUT ROWID;
    CREATE TABLE canary_traces (
        kind      TEXT NOT NULL,
        digest    BLOB NOT NULL CHECK (length(digest) = 16),
        export_id INTEGER NOT NULL,
        n         INTEGER NOT NULL,
        PRIMARY KEY (kind, digest, export_id, n)
    ) WITHOUT ROWID;
    CREATE TABLE incidents (
        id                   INTEGER PRIMARY KEY,
        title                TEXT NOT NULL,
        nature               TEXT NOT NULL,
        aware_at             TEXT NOT NULL,
        opened_at            TEXT NOT NULL,
        opened_by            TEXT NOT NULL,
        scopes               TEXT NOT NULL,
        keys_exposed         INTEGER NOT NULL CHECK (keys_exposed IN (0, 1)),
        status               TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        consequences         TEXT NOT NULL DEFAULT '',
        measures             TEXT NOT NULL DEFAULT '',
        reported_at          TEXT,
        subjects_notified_at TEXT,
        closed_at            TEXT,
        affected_subjects    INTEGER NOT NULL DEFAULT 0,
        special_subjects     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE incident_updates (
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        n           INTEGER NOT NULL,
        time        TEXT NOT NULL,
        by          TEXT NOT NULL,
        summary     TEXT NOT NULL,
        PRIMARY KEY (incident_id, n)
    ) WITHOUT ROWID;
"#,
];

// A migration added without raising `FORMAT` (or the reverse) would leave
// stores at a format that no build names.
const _: () = assert!(MIGRATIONS.len() as u64 == FORMAT as u64);

/// Tuning for the SQLite store.
#[derive(Debug, Clone, Copy)]
pub struct SqliteOptions {
    /// How long a writer waits for another process's lock. Default 5 s.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A vault store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    options: SqliteOptions,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Creates a new, empty store. Fails if the file exists.
    pub fn create(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::Database(format!(
                "`{}` already exists",
                path.display()
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let mut conn = connect(path, flags, options)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        migrate(&mut conn, options)?;
        Self::with_writer(path, options, conn)
    }

    /// Opens an existing store, upgrading its format if it is older.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        let mut conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE, options)?;
        migrate(&mut conn, options)?;
        Self::with_writer(path, options, conn)
    }

    fn with_writer(
        path: &Path,
        options: SqliteOptions,
        writer: Connection,
    ) -> Result<Self, StoreError> {
        // The writer builds large transactions (imports, rotations); a
        // bigger cache keeps their B-tree pages in memory.
        writer
            .pragma_update(None, "cache_size", WRITER_CACHE_KIB)
            .map_err(db)?;
        Ok(Self {
            path: path.to_owned(),
            options,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` on a pooled reader connection (opened on first use). Each
    /// statement sees the latest commit of any process, since no read
    /// transaction stays open between calls.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().map_err(|_| poisoned())?.pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE, self.options)?,
        };
        let out = f(&conn);
        self.readers.lock().map_err(|_| poisoned())?.push(conn);
        out
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer, which
    /// commits if `f` succeeds and rolls back otherwise. Taking the write
    /// lock up front means a read inside `f` cannot be invalidated by
    /// another process before the transaction's writes.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        let tx = Transaction::new(&mut conn, TransactionBehavior::Immediate)
            .map_err(|e| classify(e, self.options))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| classify(e, self.options))?;
        Ok(out)
    }
}

pub(crate) fn poisoned() -> StoreError {
    StoreError::Database("a previous operation panicked while holding a connection".to_owned())
}

pub(crate) fn connect(
    path: &Path,
    flags: OpenFlags,
    options: SqliteOptions,
) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| classify(e, options))?;
    conn.busy_timeout(options.busy_timeout).map_err(db)?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
    )
    .map_err(|e| classify(e, options))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "cache_size", READER_CACHE_KIB)
        .map_err(db)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, options: SqliteOptions) -> Result<(), StoreError> {
    let format = |conn: &Connection| -> Result<i64, StoreError> {
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| classify(e, options))?;
        if found > FORMAT {
            return Err(StoreError::TooNew {
                found,
                supported: FORMAT,
            });
        }
        Ok(found)
    };
    if format(conn)? == FORMAT {
        return Ok(());
    }
    let tx =
        Transaction::new(conn, TransactionBehavior::Immediate).map_err(|e| classify(e, options))?;
    // Another process may have upgraded the store while this one waited for
    // the lock; read the format again under it, or it would run the same
    // migration twice.
    let found = format(&tx)?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.execute_batch(sql).map_err(db)?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(FORMAT))
            .map_err(db)?;
    }
    tx.commit().map_err(|e| classify(e, options))
}

pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    classify(e, SqliteOptions::default())
}

/// Maps SQLite's errors onto the ones a user can act on.
pub(crate) fn classify(e: rusqlite::Error, options: SqliteOptions) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            waited: options.busy_timeout,
        },
        Some(ErrorCode::DiskFull) => StoreError::Full,
        Some(ErrorCode::NotADatabase) => StoreError::Corrupt(
            "the file is not a custos store (not an SQLite database)".to_owned(),
        ),
        _ => StoreError::Database(e.to_string()),
    }
}

fn subject_id(raw: String) -> Result<SubjectId, StoreError> {
    SubjectId::parse(&raw).map_err(|e| StoreError::Corrupt(format!("a subject id {e}")))
}

fn digest_entries(entries: &[(FieldName, Digest)]) -> Vec<(FieldName, &[u8])> {
    entries
        .iter()
        .map(|(k, d)| (k.clone(), d.as_slice()))
        .collect()
}

fn decode_digests(bytes: &[u8]) -> Result<Vec<(FieldName, Digest)>, StoreError> {
    decode(bytes)?
        .into_iter()
        .map(|(k, v)| {
            Digest::try_from(v.as_slice())
                .map(|d| (k, d))
                .map_err(|_| StoreError::Corrupt("bad blind-index digest".to_owned()))
        })
        .collect()
}

/// What [`index_rows`] does with a subject's index entries.
#[derive(Clone, Copy)]
enum IndexOp {
    Insert,
    /// Append to the import staging tables; [`flush_staged_index_rows`]
    /// moves them into the indexes in key order.
    Stage,
    Delete,
}

fn index_rows(
    tx: &Transaction<'_>,
    id: &SubjectId,
    scope: &[(FieldName, String)],
    lookups: &[(FieldName, Digest)],
    op: IndexOp,
) -> Result<(), StoreError> {
    let (scope_sql, lookup_sql) = match op {
        IndexOp::Insert => (
            "INSERT INTO subject_scope (field, value, subject_id) VALUES (?1, ?2, ?3)",
            "INSERT INTO blind_index (field, digest, subject_id) VALUES (?1, ?2, ?3)",
        ),
        IndexOp::Stage => (
            "INSERT INTO temp.staged_scope (field, value, subject_id) VALUES (?1, ?2, ?3)",
            "INSERT INTO temp.staged_lookups (field, digest, subject_id) VALUES (?1, ?2, ?3)",
        ),
        IndexOp::Delete => (
            "DELETE FROM subject_scope WHERE field = ?1 AND value = ?2 AND subject_id = ?3",
            "DELETE FROM blind_index WHERE field = ?1 AND digest = ?2 AND subject_id = ?3",
        ),
    };
    let mut stmt = tx.prepare_cached(scope_sql).map_err(db)?;
    for (field, value) in scope {
        stmt.execute(params![field.as_str(), value, id.as_str()])
            .map_err(db)?;
    }
    let mut stmt = tx.prepare_cached(lookup_sql).map_err(db)?;
    for (field, digest) in lookups {
        stmt.execute(params![field.as_str(), digest.as_slice(), id.as_str()])
            .map_err(db)?;
    }
    Ok(())
}

/// Creates the staging tables for a bulk insert. Index entries arrive in
/// subject order, which is random order for the indexes; inserting them at
/// random into large B-trees thrashes the page cache, so they are staged in
/// arrival order and inserted sorted at the end (SQLite's sorter spills to
/// temporary files, so memory stays bounded).
fn create_staging(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS staged_scope (field TEXT, value TEXT, subject_id TEXT);
         CREATE TEMP TABLE IF NOT EXISTS staged_lookups (field TEXT, digest BLOB, subject_id TEXT);
         DELETE FROM temp.staged_scope;
         DELETE FROM temp.staged_lookups;",
    )
    .map_err(db)
}

fn flush_staged_index_rows(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "INSERT INTO subject_scope (field, value, subject_id)
             SELECT field, value, subject_id FROM temp.staged_scope ORDER BY 1, 2, 3;
         INSERT INTO blind_index (field, digest, subject_id)
             SELECT field, digest, subject_id FROM temp.staged_lookups ORDER BY 1, 2, 3;
         DELETE FROM temp.staged_scope;
         DELETE FROM temp.staged_lookups;",
    )
    .map_err(db)
}

struct FullRow {
    key_version: u32,
    scope: Vec<(FieldName, String)>,
    sealed: Vec<(FieldName, Vec<u8>)>,
    lookups: Vec<(FieldName, Digest)>,
}

fn full_row(tx: &Transaction<'_>, id: &SubjectId) -> Result<FullRow, StoreError> {
    let row = tx
        .prepare_cached("SELECT key_version, scope, sealed, lookups FROM subjects WHERE id = ?1")
        .map_err(db)?
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .optional()
        .map_err(db)?
        .ok_or_else(|| StoreError::NotFound(id.clone()))?;
    Ok(FullRow {
        key_version: row.0,
        scope: decode_text(&row.1)?,
        sealed: decode(&row.2)?,
        lookups: decode_digests(&row.3)?,
    })
}

/// Replaces the entries of `set` in `map` and drops those named in `clear`.
fn merge<V: Clone>(map: &mut Vec<(FieldName, V)>, clear: &[FieldName], set: &[(FieldName, V)]) {
    map.retain(|(k, _)| !clear.contains(k) && !set.iter().any(|(s, _)| s == k));
    map.extend(set.iter().cloned());
    map.sort_by(|a, b| a.0.cmp(&b.0));
}

impl Store for SqliteStore {
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
                .map_err(db)?
                .query_row([key], |r| r.get(0))
                .optional()
                .map_err(db)
        })
    }

    fn set_meta(&self, entries: &[(&str, &[u8])]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .map_err(db)?;
            for (key, value) in entries {
                stmt.execute(params![key, value]).map_err(db)?;
            }
            Ok(())
        })
    }

    fn insert_subjects(
        &self,
        batches: &mut dyn Iterator<Item = Result<Vec<NewSubject>, BoxError>>,
        key_epoch: u64,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let stored_epoch = tx
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")
                .map_err(db)?
                .query_row([KEY_EPOCH], |r| r.get::<_, Vec<u8>>(0))
                .optional()
                .map_err(db)?
                .map_or(Ok(0), |bytes| {
                    <[u8; 8]>::try_from(bytes.as_slice())
                        .map(u64::from_be_bytes)
                        .map_err(|_| StoreError::Corrupt("bad key epoch".to_owned()))
                })?;
            if stored_epoch != key_epoch {
                return Err(StoreError::KeysRotated);
            }
            create_staging(tx)?;
            let mut count = 0u64;
            for batch in batches {
                let batch = batch.map_err(StoreError::Aborted)?;
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO subjects (id, key_version, wrapped_key, scope, sealed, lookups)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(db)?;
                for s in &batch {
                    let inserted = stmt.execute(params![
                        s.id.as_str(),
                        s.key_version,
                        s.wrapped_key,
                        encode(&s.scope),
                        encode(&s.sealed),
                        encode(&digest_entries(&s.lookups)),
                    ]);
                    match inserted {
                        Ok(_) => {}
                        Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                            return Err(StoreError::Exists(s.id.clone()));
                        }
                        Err(e) => return Err(db(e)),
                    }
                    index_rows(tx, &s.id, &s.scope, &s.lookups, IndexOp::Stage)?;
                    count += 1;
                }
            }
            flush_staged_index_rows(tx)?;
            Ok(count)
        })
    }

    fn existing(&self, ids: &[SubjectId]) -> Result<Vec<SubjectId>, StoreError> {
        const CHUNK: usize = 500;
        self.read(|conn| {
            let mut found = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                let sql = format!("SELECT id FROM subjects WHERE id IN ({placeholders})");
                let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
                let rows = stmt
                    .query_map(
                        rusqlite::params_from_iter(chunk.iter().map(SubjectId::as_str)),
                        |r| r.get::<_, String>(0),
                    )
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db)?;
                for id in rows {
                    found.push(subject_id(id)?);
                }
            }
            Ok(found)
        })
    }

    fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, StoreError> {
        self.read(|conn| {
            let row = conn
                .prepare_cached(
                    "SELECT key_version, wrapped_key, scope, sealed FROM subjects WHERE id = ?1",
                )
                .map_err(db)?
                .query_row([id.as_str()], |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ))
                })
                .optional()
                .map_err(db)?;
            row.map(|(key_version, wrapped_key, scope, sealed)| {
                Ok(StoredSubject {
                    key_version,
                    wrapped_key,
                    scope: decode_text(&scope)?,
                    sealed: decode(&sealed)?,
                })
            })
            .transpose()
        })
    }

    fn update_subject(&self, id: &SubjectId, change: &SubjectChange) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut row = full_row(tx, id)?;
            if row.key_version != change.key_version {
                return Err(StoreError::Changed(id.clone()));
            }
            let touched: Vec<FieldName> = change
                .clear
                .iter()
                .cloned()
                .chain(change.scope.iter().map(|(k, _)| k.clone()))
                .chain(change.sealed.iter().map(|(k, _)| k.clone()))
                .collect();
            let old_scope: Vec<_> = row
                .scope
                .iter()
                .filter(|(k, _)| touched.contains(k))
                .cloned()
                .collect();
            let old_lookups: Vec<_> = row
                .lookups
                .iter()
                .filter(|(k, _)| touched.contains(k))
                .cloned()
                .collect();
            index_rows(tx, id, &old_scope, &old_lookups, IndexOp::Delete)?;
            index_rows(tx, id, &change.scope, &change.lookups, IndexOp::Insert)?;
            merge(&mut row.scope, &touched, &change.scope);
            merge(&mut row.sealed, &touched, &change.sealed);
            merge(&mut row.lookups, &touched, &change.lookups);
            tx.prepare_cached(
                "UPDATE subjects SET scope = ?2, sealed = ?3, lookups = ?4 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![
                id.as_str(),
                encode(&row.scope),
                encode(&row.sealed),
                encode(&digest_entries(&row.lookups)),
            ])
            .map_err(db)?;
            Ok(())
        })
    }

    fn erase_subject(&self, id: &SubjectId) -> Result<Erasure, StoreError> {
        self.write(|tx| {
            let row = full_row(tx, id)?;
            index_rows(tx, id, &row.scope, &row.lookups, IndexOp::Delete)?;
            tx.prepare_cached("DELETE FROM subjects WHERE id = ?1")
                .map_err(db)?
                .execute([id.as_str()])
                .map_err(db)?;
            tx.prepare_cached(
                "UPDATE counters SET value = value + 1 WHERE name = 'erased_subjects'",
            )
            .map_err(db)?
            .execute([])
            .map_err(db)?;
            Ok(())
        })?;
        // The WAL may still hold frames with the wrapped key; a truncating
        // checkpoint copies the zeroed pages back and empties it.
        let conn = self.writer.lock().map_err(|_| poisoned())?;
        let (busy, log_frames, _): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(db)?;
        Ok(Erasure {
            log_purged: busy == 0 && log_frames == 0,
        })
    }

    fn find(&self, field: &str, digest: &Digest) -> Result<Vec<SubjectId>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT subject_id FROM blind_index WHERE field = ?1 AND digest = ?2 ORDER BY subject_id")
                .map_err(db)?;
            let ids = stmt
                .query_map(params![field, digest.as_slice()], |r| r.get::<_, String>(0))
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            ids.into_iter().map(subject_id).collect()
        })
    }

    fn list(
        &self,
        filters: &[ScopeFilter],
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectSummary>, StoreError> {
        // The first filter drives an index range scan; each further filter is
        // a primary-key probe per candidate.
        let mut sql = String::from("SELECT s.id, s.scope FROM ");
        let mut args: Vec<String> = Vec::new();
        match filters.split_first() {
            None => {
                sql.push_str("subjects s WHERE s.id > ?1");
                args.push(after.map(|a| a.as_str().to_owned()).unwrap_or_default());
            }
            Some((first, rest)) => {
                sql.push_str("subject_scope f0 JOIN subjects s ON s.id = f0.subject_id");
                for (i, _) in rest.iter().enumerate() {
                    let n = i + 1;
                    sql.push_str(&format!(
                        " JOIN subject_scope f{n} ON f{n}.field = ?{a} AND f{n}.value = ?{b} AND f{n}.subject_id = f0.subject_id",
                        a = 2 * n + 2,
                        b = 2 * n + 3,
                    ));
                }
                sql.push_str(" WHERE f0.subject_id > ?1 AND f0.field = ?2 AND f0.value = ?3");
                args.push(after.map(|a| a.as_str().to_owned()).unwrap_or_default());
                args.push(first.field.as_str().to_owned());
                args.push(first.value.clone());
                for f in rest {
                    args.push(f.field.as_str().to_owned());
                    args.push(f.value.clone());
                }
            }
        }
        sql.push_str(&format!(" ORDER BY s.id LIMIT {}", limit.min(100_000)));
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.into_iter()
                .map(|(id, scope)| {
                    Ok(SubjectSummary {
                        id: subject_id(id)?,
                        scope: decode_text(&scope)?,
                    })
                })
                .collect()
        })
    }

    fn held_fields(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<HeldFields>, StoreError> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT id, scope, sealed FROM subjects WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .map_err(db)?
                .query_map(
                    params![after.map_or("", SubjectId::as_str), limit.min(100_000)],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                        ))
                    },
                )
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.into_iter()
                .map(|(id, scope, sealed)| {
                    Ok(HeldFields {
                        id: subject_id(id)?,
                        clear: decode(&scope)?.into_iter().map(|(k, _)| k).collect(),
                        sealed: decode(&sealed)?.into_iter().map(|(k, _)| k).collect(),
                    })
                })
                .collect()
        })
    }

    fn counts(&self) -> Result<(u64, u64), StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT (SELECT count(*) FROM subjects), (SELECT value FROM counters WHERE name = 'erased_subjects')",
                [],
                |r| Ok((r.get::<_, u64>(0)?, r.get::<_, u64>(1)?)),
            )
            .map_err(db)
        })
    }

    fn rewrap_keys(
        &self,
        rewrap: &mut RewrapFn<'_>,
        meta: &[(&str, &[u8])],
    ) -> Result<u64, StoreError> {
        const CHUNK: usize = 1000;
        self.write(|tx| {
            let mut count = 0u64;
            let mut after = String::new();
            loop {
                let chunk: Vec<(String, u32, Vec<u8>)> = tx
                    .prepare_cached("SELECT id, key_version, wrapped_key FROM subjects WHERE id > ?1 ORDER BY id LIMIT ?2")
                    .map_err(db)?
                    .query_map(params![after, CHUNK], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(db)?
                    .collect::<Result<_, _>>()
                    .map_err(db)?;
                let Some(last) = chunk.last() else { break };
                after = last.0.clone();
                let mut update = tx
                    .prepare_cached("UPDATE subjects SET wrapped_key = ?2 WHERE id = ?1")
                    .map_err(db)?;
                for (id, version, wrapped) in &chunk {
                    let sid = subject_id(id.clone())?;
                    let new = rewrap(&sid, *version, wrapped).map_err(StoreError::Aborted)?;
                    update.execute(params![id, new]).map_err(db)?;
                    count += 1;
                }
            }
            let mut stmt = tx
                .prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .map_err(db)?;
            for (key, value) in meta {
                stmt.execute(params![key, value]).map_err(db)?;
            }
            Ok(count)
        })
    }
}
