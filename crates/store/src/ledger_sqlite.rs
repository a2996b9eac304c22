//! The access ledger in its own SQLite file, `DIR/ledger.sqlite`.
//!
//! The ledger has a file of its own so that its group commit, which every
//! request waits on, never queues behind a bulk write to `store.sqlite` such
//! as an import or a key rotation. The connection settings are the store's
//! (see `sqlite.rs`): WAL, `synchronous=FULL`, `secure_delete`, and a busy
//! timeout after which a writer fails with [`LedgerStoreError::Busy`]; but
//! the appending connection commits with `synchronous=NORMAL`, and
//! [`LedgerStore::sync`] then syncs the WAL file itself, so that the recorder
//! can commit one batch while the previous one syncs (see "Durability").
//! Every append runs in `BEGIN IMMEDIATE`, so
//! processes sharing the file take turns and assign seqs from the size they
//! see under the lock. `PRAGMA user_version` holds the format; a newer one is
//! refused.
//!
//! # Tables
//!
//! The names are meant to be read by an auditor with `sqlite3`.
//!
//! `ledger_events`: one row per recorded decision about personal data, never
//! a field value.
//!
//! | column | meaning |
//! |---|---|
//! | `seq` | the event's position in the log, from 0 with no gaps; also its leaf index in the Merkle tree |
//! | `time` | when it was recorded, UTC, `YYYY-MM-DDTHH:MM:SS.mmmZ`; never decreases as `seq` grows |
//! | `principal` | who acted: a principal id, such as an API token's name or `local:alice` |
//! | `auth` | how they authenticated, such as `local_operator`, or `api_token tk_0123456789ab` with the public id of the token used |
//! | `action` | what was done: `read`, `create`, `update`, `erase`, `find`, `list`, `import`, `export`, … |
//! | `purpose` | the purpose the principal declared |
//! | `subjects` | the ids of the subjects touched, separated by single spaces |
//! | `fields_released` | the names of the fields released, separated by commas |
//! | `fields_denied` | the names of the fields asked for and denied, separated by commas |
//! | `outcome` | `allowed`, `partial`, `denied` or `failed` |
//! | `reason` | why, in words: the policy that decided, or the error |
//! | `request_id` | the request id, as in the server log and the `x-request-id` header |
//! | `client` | the client address, or the name of the internal job |
//! | `leaf_hash` | 32 bytes: SHA-256 of `0x00` and the event's canonical encoding, its leaf in the tree |
//!
//! Since `time` grows with `seq`, a time range is a `seq` range, found by
//! binary search on the primary key, so no time index is kept.
//!
//! `ledger_event_subjects`: `(subject_id, seq)`, one row per subject an event
//! touched, for "every access to subject X" (`WHERE subject_id = 'X'`).
//!
//! `ledger_event_principals`: `(principal, seq)`, one row per event, for
//! "everything principal P did" (also between two times, as a `seq` range).
//!
//! Both of these index tables cover the events before `indexed_to` in
//! `ledger_meta`; the events from there on (at most [`INDEX_LAG`] of them)
//! are found by scanning `ledger_events` itself. An auditor asking about
//! recent events with `sqlite3` reads `ledger_events` directly.
//!
//! `ledger_nodes`: `(level, idx, hash)`, the root `hash` of the complete
//! subtree of `2^level` events starting at `seq = idx << level`, kept for
//! levels 4 and up only. Lower subtrees are recomputed from at most 16
//! `leaf_hash` values, which keeps the tree to about 6 bytes per event.
//!
//! `ledger_heads`: one row per signed tree head. `size` is the number of
//! events covered (`seq` 0 to `size - 1`), `time` when it was signed, `root`
//! the 32-byte tree root, `key_id` the signing key's id (16 hex digits), and
//! `signature` the 64-byte Ed25519 signature over the text
//! `custos-ledger-head/v1\n{vault_id}\n{size}\n{root in base64}\n{time}\n`.
//!
//! `ledger_meta`: `(key, value)`; `vault_id` is the vault the ledger belongs
//! to, and a ledger is never opened for another vault; `indexed_to` is the
//! seq up to which the two index tables are complete.
//!
//! # Durability
//!
//! In WAL mode with `synchronous=NORMAL`, SQLite writes a commit's frames to
//! the WAL and syncs it only before a checkpoint (and syncs the database file
//! after one). `sync` runs `fdatasync` on the WAL, so every commit that had
//! returned before it began is on disk: its frames are in the WAL, or a
//! checkpoint already synced them into the database file. That is exactly
//! what `synchronous=FULL` gives each commit, paid once for all of them.
//! Recovery after a crash replays the WAL up to its last complete commit, so
//! a commit written after the sync began is either whole or absent.
//!
//! # Indexing behind the log
//!
//! Every request waits on the group commit, so the commit writes only what
//! must be durable before data is released: the events, the tree's new
//! nodes, and sometimes a head. Those are appended in `seq` order, so a
//! commit of n events dirties about n/10 pages. An index entry, keyed by
//! subject or principal, lands on a random page instead: indexing in every
//! commit made a 55-event commit write 102 pages (400 KiB) to the WAL
//! (measured with strace), capping appends near 20k/s. The indexes are
//! therefore brought up to date in one pass once the log is [`INDEX_LAG`]
//! events ahead of them, or when a commit carries no events (the recorder's
//! quiet-time and final heads), where thousands of entries share each page.
//! The index tables are derived from `ledger_events` and not covered by the
//! tree; the events stay the record, and a query reads the unindexed tail
//! from them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use custos_ledger::merkle::{self, Hash, HashSource, node_hash};
use custos_ledger::{
    AppendBatch, BoxError, Event, EventQuery, HeadRow, LedgerStore, LedgerStoreError, LogState,
    Outcome, SignedHead, StoredEventRow, check_storable,
};
use custos_model::VaultId;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior,
    params,
};

use crate::error::StoreError;
use crate::sqlite::{self, SqliteOptions, connect, poisoned};

/// The ledger format this build writes and reads.
const FORMAT: i64 = 2;

/// The lowest tree level kept in `ledger_nodes`.
const NODE_LEVEL: u32 = 4;

/// How far the index tables may fall behind the log, in events: a bound on
/// the tail a query scans, and the batch the indexes are brought up to date
/// in while appends never pause (see the module documentation).
const INDEX_LAG: u64 = 8192;

/// The `ledger_meta` key of the seq up to which the index tables are
/// complete.
const INDEXED_TO: &str = "indexed_to";

/// Each entry upgrades the ledger by one format version.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE ledger_meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE ledger_events (
        seq             INTEGER PRIMARY KEY,
        time            TEXT NOT NULL,
        principal       TEXT NOT NULL,
        auth            TEXT NOT NULL,
        action          TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        subjects        TEXT NOT NULL,
        fields_released TEXT NOT NULL,
        fields_denied   TEXT NOT NULL,
        outcome         TEXT NOT NULL,
        reason          TEXT NOT NULL,
        request_id      TEXT NOT NULL,
        client          TEXT NOT NULL,
        leaf_hash       BLOB NOT NULL
    );
    CREATE INDEX ledger_events_by_principal ON ledger_events (principal);
    CREATE TABLE ledger_event_subjects (
        subject_id TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        PRIMARY KEY (subject_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE ledger_nodes (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE ledger_heads (
        size      INTEGER PRIMARY KEY,
        time      TEXT NOT NULL,
        root      BLOB NOT NULL,
        key_id    TEXT NOT NULL,
        signature BLOB NOT NULL
    );
"#,
    // Format 2: the principal index becomes a table of its own, maintained
    // behind the log like the subject table rather than in every commit.
    r#"
    CREATE TABLE ledger_event_principals (
        principal TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (principal, seq)
    ) WITHOUT ROWID;
    INSERT INTO ledger_event_principals (principal, seq)
        SELECT principal, seq FROM ledger_events ORDER BY principal, seq;
    DROP INDEX ledger_events_by_principal;
    INSERT INTO ledger_meta (key, value)
        SELECT 'indexed_to', COALESCE(MAX(seq) + 1, 0) FROM ledger_events;
"#,
];

// A migration added without raising `FORMAT` (or the reverse) would leave
// ledgers at a format that no build names.
const _: () = assert!(MIGRATIONS.len() as u64 == FORMAT as u64);

const VAULT_ID: &str = "vault_id";

const NOT_A_DATABASE: &str = "the file is not a custos ledger (not an SQLite database)";

/// The columns of `ledger_events`, in the order [`stored_row`] reads them.
const EVENT_COLUMNS: &str = "e.seq, e.time, e.principal, e.auth, e.action, e.purpose, e.subjects, \
     e.fields_released, e.fields_denied, e.outcome, e.reason, e.request_id, e.client, e.leaf_hash";

/// A vault's access ledger in one SQLite file.
#[derive(Debug)]
pub struct SqliteLedger {
    path: PathBuf,
    options: SqliteOptions,
    vault_id: VaultId,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteLedger {
    /// Creates a new, empty ledger for `vault_id`. Fails if the file exists.
    pub fn create(
        path: &Path,
        vault_id: &VaultId,
        options: SqliteOptions,
    ) -> Result<Self, LedgerStoreError> {
        if path.exists() {
            return Err(LedgerStoreError::Exists(path.to_owned()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let mut conn = connect(path, flags, options).map_err(from_store)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| classify(e, options))?;
        migrate(&mut conn, options, 0, Some(vault_id))?;
        Self::with_writer(path, options, vault_id, conn)
    }

    /// Opens the existing ledger of `vault_id`, upgrading its format if it
    /// is older. Refuses a newer format, a file that is not a ledger, and a
    /// ledger of another vault.
    pub fn open(
        path: &Path,
        vault_id: &VaultId,
        options: SqliteOptions,
    ) -> Result<Self, LedgerStoreError> {
        if !path.is_file() {
            return Err(LedgerStoreError::Missing(path.to_owned()));
        }
        let mut conn =
            connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE, options).map_err(from_store)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| classify(e, options))?;
        if found > FORMAT {
            return Err(LedgerStoreError::TooNew {
                found,
                supported: FORMAT,
            });
        }
        if found < 1 {
            return Err(LedgerStoreError::Corrupt(format!(
                "`{}` is not a custos ledger (it has no ledger tables)",
                path.display()
            )));
        }
        migrate(&mut conn, options, found, None)?;
        let stored: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM ledger_meta WHERE key = ?1",
                [VAULT_ID],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| classify(e, options))?;
        let stored = stored.ok_or_else(|| {
            LedgerStoreError::Corrupt("the ledger does not say which vault it belongs to".into())
        })?;
        if stored != vault_id.as_str().as_bytes() {
            return Err(LedgerStoreError::OtherVault {
                expected: vault_id.to_string(),
                found: String::from_utf8_lossy(&stored).into_owned(),
            });
        }
        Self::with_writer(path, options, vault_id, conn)
    }

    /// The vault this ledger belongs to.
    pub fn vault_id(&self) -> &VaultId {
        &self.vault_id
    }

    fn with_writer(
        path: &Path,
        options: SqliteOptions,
        vault_id: &VaultId,
        writer: Connection,
    ) -> Result<Self, LedgerStoreError> {
        // Commits reach the disk through `sync`, not one by one.
        writer
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| classify(e, options))?;
        Ok(Self {
            path: path.to_owned(),
            options,
            vault_id: vault_id.clone(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn wal_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push("-wal");
        PathBuf::from(name)
    }

    fn err(&self, e: rusqlite::Error) -> LedgerStoreError {
        classify(e, self.options)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, LedgerStoreError>,
    ) -> Result<T, LedgerStoreError> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| from_store(poisoned()))?
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE, self.options)
                .map_err(from_store)?,
        };
        let out = f(&conn);
        self.readers
            .lock()
            .map_err(|_| from_store(poisoned()))?
            .push(conn);
        out
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, LedgerStoreError>,
    ) -> Result<T, LedgerStoreError> {
        let mut conn = self.writer.lock().map_err(|_| from_store(poisoned()))?;
        let tx =
            Transaction::new(&mut conn, TransactionBehavior::Immediate).map_err(|e| self.err(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Refuses a batch that would break the log's invariants.
    fn check_batch(
        &self,
        batch: &AppendBatch,
        size: u64,
        last_time: Option<&str>,
    ) -> Result<(), LedgerStoreError> {
        let invalid = LedgerStoreError::Invalid;
        let mut previous = last_time;
        for (expected, appended) in (size..).zip(&batch.events) {
            let e = &appended.event;
            if e.seq != expected {
                return Err(invalid(format!(
                    "event {} is not the next in a ledger of {expected} events",
                    e.seq
                )));
            }
            if previous.is_some_and(|p| e.time.as_str() < p) {
                return Err(invalid(format!(
                    "event {} has time `{}`, earlier than the event before it",
                    e.seq, e.time
                )));
            }
            check_storable(&e.subjects, &e.fields_released, &e.fields_denied)
                .map_err(|why| invalid(format!("event {}: {why}", e.seq)))?;
            previous = Some(&e.time);
        }
        if let Some(head) = &batch.head {
            let new_size = size + batch.events.len() as u64;
            if head.head().vault_id() != &self.vault_id {
                return Err(invalid(format!(
                    "a head for vault `{}` cannot be stored in this vault's ledger",
                    head.head().vault_id()
                )));
            }
            if head.head().size() != new_size {
                return Err(invalid(format!(
                    "a head of size {} cannot be stored with an append that makes the ledger {new_size} events",
                    head.head().size()
                )));
            }
        }
        Ok(())
    }
}

/// Maps SQLite's errors onto the ones a user can act on, naming the ledger
/// where the store's [`sqlite::classify`] would name the store.
fn classify(e: rusqlite::Error, options: SqliteOptions) -> LedgerStoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => LedgerStoreError::Corrupt(NOT_A_DATABASE.to_owned()),
        Some(ErrorCode::DatabaseCorrupt) => LedgerStoreError::Corrupt(format!(
            "damaged pages ({e}); restore the ledger from a backup and verify it"
        )),
        Some(ErrorCode::ReadOnly) => LedgerStoreError::ReadOnly,
        Some(ErrorCode::SystemIoFailure) => LedgerStoreError::Io(e.to_string()),
        _ => from_store(sqlite::classify(e, options)),
    }
}

fn from_store(e: StoreError) -> LedgerStoreError {
    match e {
        StoreError::Busy { waited } => LedgerStoreError::Busy { waited },
        StoreError::Full => LedgerStoreError::Full,
        StoreError::Missing(path) => LedgerStoreError::Missing(path),
        // The store's classification reports only "not a database" as
        // corrupt.
        StoreError::Corrupt(_) => LedgerStoreError::Corrupt(NOT_A_DATABASE.to_owned()),
        StoreError::Database(message) => LedgerStoreError::Database(message),
        other => LedgerStoreError::Database(other.to_string()),
    }
}

fn migrate(
    conn: &mut Connection,
    options: SqliteOptions,
    found: i64,
    vault_id: Option<&VaultId>,
) -> Result<(), LedgerStoreError> {
    if found == FORMAT {
        return Ok(());
    }
    let tx =
        Transaction::new(conn, TransactionBehavior::Immediate).map_err(|e| classify(e, options))?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.execute_batch(sql).map_err(|e| classify(e, options))?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(FORMAT))
            .map_err(|e| classify(e, options))?;
    }
    if let Some(vault_id) = vault_id {
        tx.execute(
            "INSERT INTO ledger_meta (key, value) VALUES (?1, ?2)",
            params![VAULT_ID, vault_id.as_str().as_bytes()],
        )
        .map_err(|e| classify(e, options))?;
    }
    tx.commit().map_err(|e| classify(e, options))
}

/// The log's size and its last event's time.
fn tail(
    conn: &Connection,
    options: SqliteOptions,
) -> Result<(u64, Option<String>), LedgerStoreError> {
    let last: Option<(u64, String)> = conn
        .prepare_cached("SELECT seq, time FROM ledger_events ORDER BY seq DESC LIMIT 1")
        .map_err(|e| classify(e, options))?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(|e| classify(e, options))?;
    Ok(match last {
        Some((seq, time)) => (seq + 1, Some(time)),
        None => (0, None),
    })
}

/// The seq up to which the index tables are complete, at most `size`. A
/// missing or damaged value reads as 0, which re-indexes every event (the
/// inserts ignore entries already there) rather than refusing to append.
fn indexed_to(
    conn: &Connection,
    options: SqliteOptions,
    size: u64,
) -> Result<u64, LedgerStoreError> {
    let value: Option<Value> = conn
        .prepare_cached("SELECT value FROM ledger_meta WHERE key = ?1")
        .map_err(|e| classify(e, options))?
        .query_row([INDEXED_TO], |r| r.get(0))
        .optional()
        .map_err(|e| classify(e, options))?;
    Ok(match value {
        Some(Value::Integer(n)) => u64::try_from(n).unwrap_or(0).min(size),
        _ => 0,
    })
}

/// Adds the events `from..to` to the index tables, sorted by key so that
/// neighbouring entries share pages, and records that they are indexed. A
/// row whose `subjects` is not text is left out of the subject table rather
/// than stopping every later append; verification names such a row.
fn index_events(
    tx: &Transaction<'_>,
    options: SqliteOptions,
    from: u64,
    to: u64,
) -> Result<(), LedgerStoreError> {
    let db = |e| classify(e, options);
    tx.prepare_cached(
        "INSERT OR IGNORE INTO ledger_event_principals (principal, seq) \
         SELECT principal, seq FROM ledger_events WHERE seq >= ?1 AND seq < ?2 \
         ORDER BY principal, seq",
    )
    .map_err(db)?
    .execute(params![from, to])
    .map_err(db)?;
    let mut entries: Vec<(String, u64)> = Vec::new();
    {
        let mut stmt = tx
            .prepare_cached("SELECT seq, subjects FROM ledger_events WHERE seq >= ?1 AND seq < ?2")
            .map_err(db)?;
        let mut rows = stmt.query(params![from, to]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let seq: u64 = row.get(0).map_err(db)?;
            if let ValueRef::Text(subjects) = row.get_ref(1).map_err(db)? {
                let subjects = String::from_utf8_lossy(subjects);
                entries.extend(split(&subjects, ' ').into_iter().map(|s| (s, seq)));
            }
        }
    }
    entries.sort_unstable();
    let mut insert = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO ledger_event_subjects (subject_id, seq) VALUES (?1, ?2)",
        )
        .map_err(db)?;
    for (subject, seq) in &entries {
        insert.execute(params![subject, seq]).map_err(db)?;
    }
    tx.prepare_cached("INSERT OR REPLACE INTO ledger_meta (key, value) VALUES (?1, ?2)")
        .map_err(db)?
        .execute(params![INDEXED_TO, to])
        .map_err(db)?;
    Ok(())
}

/// A column as text, or why it is not.
fn text(r: &Row<'_>, i: usize, column: &str) -> rusqlite::Result<Result<String, String>> {
    Ok(match r.get_ref(i)? {
        ValueRef::Text(t) => {
            String::from_utf8(t.to_vec()).map_err(|_| format!("`{column}` is not UTF-8 text"))
        }
        _ => Err(format!("`{column}` is not text")),
    })
}

fn split(joined: &str, separator: char) -> Vec<String> {
    if joined.is_empty() {
        Vec::new()
    } else {
        joined.split(separator).map(str::to_owned).collect()
    }
}

/// Reads a row selected with [`EVENT_COLUMNS`]. A row whose columns do not
/// make an event is returned with the reason, not as an error, so that the
/// verifier can name it.
fn stored_row(r: &Row<'_>) -> rusqlite::Result<StoredEventRow> {
    let seq: u64 = r.get(0)?;
    let cols = [
        "time",
        "principal",
        "auth",
        "action",
        "purpose",
        "subjects",
        "fields_released",
        "fields_denied",
        "outcome",
        "reason",
        "request_id",
        "client",
    ];
    let mut texts = Vec::with_capacity(cols.len());
    for (i, name) in cols.iter().enumerate() {
        texts.push(text(r, i + 1, name)?);
    }
    let leaf_hash = match r.get_ref(13)? {
        ValueRef::Blob(b) => Hash::from_slice(b),
        _ => None,
    };
    let event = (|| {
        let mut t = texts.into_iter();
        let mut next = || t.next().unwrap_or_else(|| Err("missing column".to_owned()));
        let time = next()?;
        let principal = next()?;
        let auth = next()?;
        let action = next()?;
        let purpose = next()?;
        let subjects = split(&next()?, ' ');
        let fields_released = split(&next()?, ',');
        let fields_denied = split(&next()?, ',');
        let outcome = next()?;
        let outcome = Outcome::parse(&outcome).ok_or_else(|| {
            format!("`outcome` is `{outcome}`, not allowed, partial, denied or failed")
        })?;
        let reason = next()?;
        let request_id = next()?;
        let client = next()?;
        if leaf_hash.is_none() {
            return Err("`leaf_hash` is not 32 bytes".to_owned());
        }
        Ok(Event {
            seq,
            time,
            principal,
            auth,
            action,
            purpose,
            subjects,
            fields_released,
            fields_denied,
            outcome,
            reason,
            request_id,
            client,
        })
    })();
    Ok(StoredEventRow {
        seq,
        event,
        leaf_hash,
    })
}

fn readable(row: StoredEventRow) -> Result<Event, LedgerStoreError> {
    row.event.map_err(|why| {
        LedgerStoreError::Corrupt(format!("event {} cannot be read: {why}", row.seq))
    })
}

fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The stored tree, read through one connection (inside the append's
/// transaction, or a reader's).
struct TreeReader<'c> {
    conn: &'c Connection,
    options: SqliteOptions,
}

impl TreeReader<'_> {
    fn missing(level: u32, index: u64) -> LedgerStoreError {
        LedgerStoreError::Corrupt(format!(
            "the tree node at level {level}, index {index} is missing"
        ))
    }

    fn hash(bytes: &[u8], level: u32, index: u64) -> Result<Hash, LedgerStoreError> {
        Hash::from_slice(bytes).ok_or_else(|| {
            LedgerStoreError::Corrupt(format!(
                "the tree node at level {level}, index {index} is not 32 bytes"
            ))
        })
    }
}

impl HashSource for TreeReader<'_> {
    type Error = LedgerStoreError;

    fn leaf_hash(&self, index: u64) -> Result<Hash, LedgerStoreError> {
        let bytes: Vec<u8> = self
            .conn
            .prepare_cached("SELECT leaf_hash FROM ledger_events WHERE seq = ?1")
            .map_err(|e| classify(e, self.options))?
            .query_row([index], |r| r.get(0))
            .optional()
            .map_err(|e| classify(e, self.options))?
            .ok_or_else(|| Self::missing(0, index))?;
        Self::hash(&bytes, 0, index)
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, LedgerStoreError> {
        if level == 0 {
            return self.leaf_hash(index);
        }
        if level >= NODE_LEVEL {
            let bytes: Vec<u8> = self
                .conn
                .prepare_cached("SELECT hash FROM ledger_nodes WHERE level = ?1 AND idx = ?2")
                .map_err(|e| classify(e, self.options))?
                .query_row(params![level, index], |r| r.get(0))
                .optional()
                .map_err(|e| classify(e, self.options))?
                .ok_or_else(|| Self::missing(level, index))?;
            return Self::hash(&bytes, level, index);
        }
        // Below the kept levels: at most 2^(NODE_LEVEL-1) leaves in one read.
        let width = 1u64 << level;
        let start = index
            .checked_mul(width)
            .ok_or_else(|| Self::missing(level, index))?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, leaf_hash FROM ledger_events WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )
            .map_err(|e| classify(e, self.options))?;
        let rows = stmt
            .query_map(params![start, start.saturating_add(width)], |r| {
                Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| classify(e, self.options))?;
        let mut hashes = Vec::with_capacity(1 << level);
        for (expected, row) in (start..).zip(rows) {
            let (seq, bytes) = row.map_err(|e| classify(e, self.options))?;
            if seq != expected {
                return Err(Self::missing(0, expected));
            }
            hashes.push(Self::hash(&bytes, 0, seq)?);
        }
        if hashes.len() as u64 != width {
            return Err(Self::missing(0, start + hashes.len() as u64));
        }
        while hashes.len() > 1 {
            hashes = hashes
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
        }
        hashes.pop().ok_or_else(|| Self::missing(level, index))
    }
}

/// The first seq in `0..size` whose time is at or after `time`, or `size`.
/// Binary search is correct because appends never let time decrease.
fn first_at_or_after(
    conn: &Connection,
    options: SqliteOptions,
    size: u64,
    time: &str,
) -> Result<u64, LedgerStoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT time FROM ledger_events WHERE seq = ?1")
        .map_err(|e| classify(e, options))?;
    let (mut lo, mut hi) = (0u64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: String = stmt
            .query_row([mid], |r| r.get(0))
            .optional()
            .map_err(|e| classify(e, options))?
            .ok_or_else(|| LedgerStoreError::Corrupt(format!("event {mid} is missing")))?;
        if at.as_str() < time {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

impl LedgerStore for SqliteLedger {
    fn append(
        &self,
        build: &mut dyn FnMut(LogState<'_>) -> Result<AppendBatch, BoxError>,
    ) -> Result<u64, LedgerStoreError> {
        let options = self.options;
        let db = |e| classify(e, options);
        self.write(|tx| {
            let (size, last_time) = tail(tx, options)?;
            let tree = TreeReader { conn: tx, options };
            let state = LogState {
                size,
                last_time: last_time.as_deref(),
                tree: &tree,
            };
            let batch = build(state).map_err(|e| match e.downcast::<LedgerStoreError>() {
                Ok(own) => *own,
                Err(other) => LedgerStoreError::Aborted(other),
            })?;
            self.check_batch(&batch, size, last_time.as_deref())?;

            let mut insert_event = tx
                .prepare_cached(
                    "INSERT INTO ledger_events (seq, time, principal, auth, action, purpose, \
                     subjects, fields_released, fields_denied, outcome, reason, request_id, \
                     client, leaf_hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(db)?;
            for appended in &batch.events {
                let e = &appended.event;
                insert_event
                    .execute(params![
                        e.seq,
                        e.time,
                        e.principal,
                        e.auth,
                        e.action,
                        e.purpose,
                        e.subjects.join(" "),
                        e.fields_released.join(","),
                        e.fields_denied.join(","),
                        e.outcome.as_str(),
                        e.reason,
                        e.request_id,
                        e.client,
                        appended.leaf_hash.as_bytes(),
                    ])
                    .map_err(db)?;
            }
            let mut insert_node = tx
                .prepare_cached("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
                .map_err(db)?;
            for node in batch.nodes.iter().filter(|n| n.level >= NODE_LEVEL) {
                insert_node
                    .execute(params![node.level, node.index, node.hash.as_bytes()])
                    .map_err(db)?;
            }
            if let Some(head) = &batch.head {
                insert_head(tx, head, options)?;
            }
            let new_size = size + batch.events.len() as u64;
            let indexed = indexed_to(tx, options, new_size)?;
            if indexed < new_size && (batch.events.is_empty() || new_size - indexed >= INDEX_LAG) {
                index_events(tx, options, indexed, new_size)?;
            }
            Ok(new_size)
        })
    }

    fn sync(&self) -> Result<(), LedgerStoreError> {
        // The writer connection keeps the WAL open (and so in place) for as
        // long as this store exists; a WAL that is missing is an error, not
        // nothing to sync.
        let wal = self.wal_path();
        std::fs::File::open(&wal)
            .and_then(|file| file.sync_data())
            .map_err(|e| LedgerStoreError::Io(format!("syncing `{}`: {e}", wal.display())))
    }

    fn size(&self) -> Result<u64, LedgerStoreError> {
        self.read(|conn| Ok(tail(conn, self.options)?.0))
    }

    fn events(&self, from_seq: u64, limit: usize) -> Result<Vec<StoredEventRow>, LedgerStoreError> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM ledger_events e WHERE e.seq >= ?1 ORDER BY e.seq LIMIT ?2"
            );
            conn.prepare_cached(&sql)
                .map_err(|e| self.err(e))?
                .query_map(params![from_seq, sql_count(limit)], stored_row)
                .map_err(|e| self.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))
        })
    }

    fn event(&self, seq: u64) -> Result<Option<Event>, LedgerStoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {EVENT_COLUMNS} FROM ledger_events e WHERE e.seq = ?1");
            conn.prepare_cached(&sql)
                .map_err(|e| self.err(e))?
                .query_row([seq], stored_row)
                .optional()
                .map_err(|e| self.err(e))?
                .map(readable)
                .transpose()
        })
    }

    fn query(&self, query: &EventQuery) -> Result<Vec<Event>, LedgerStoreError> {
        let limit = query.limit.min(EventQuery::MAX_LIMIT);
        self.read(|conn| {
            // One read transaction, so the size and the rows are one snapshot.
            let tx = conn.unchecked_transaction().map_err(|e| self.err(e))?;
            let (size, _) = tail(&tx, self.options)?;
            let mut lo = query.after_seq.map_or(0, |s| s.saturating_add(1));
            let mut hi = size;
            if let Some(from) = &query.time_from {
                lo = lo.max(first_at_or_after(&tx, self.options, size, from)?);
            }
            if let Some(to) = &query.time_to {
                hi = hi.min(first_at_or_after(&tx, self.options, size, to)?);
            }
            // The most selective filter drives the scan: the subject
            // table, else the principal table, else the seq range itself;
            // the tail the index tables do not cover yet is scanned.
            let driver = if query.subject.is_some() {
                Driver::Subjects
            } else if query.principal.is_some() {
                Driver::Principals
            } else {
                Driver::Events
            };
            let indexed = indexed_to(&tx, self.options, size)?;
            let mut rows = Vec::new();
            let mut tail_from = lo;
            if driver != Driver::Events {
                rows = select_range(&tx, self.options, query, driver, lo..hi.min(indexed), limit)?;
                tail_from = lo.max(indexed);
            }
            let left = limit.saturating_sub(rows.len());
            rows.extend(select_range(
                &tx,
                self.options,
                query,
                Driver::Events,
                tail_from..hi,
                left,
            )?);
            rows.into_iter().map(readable).collect()
        })
    }

    fn heads(&self) -> Result<Vec<SignedHead>, LedgerStoreError> {
        self.read(|conn| {
            read_heads(
                conn,
                "SELECT size, time, root, key_id, signature FROM ledger_heads ORDER BY size",
                &self.vault_id,
                self.options,
            )
        })
    }

    fn latest_head(&self) -> Result<Option<SignedHead>, LedgerStoreError> {
        self.read(|conn| {
            Ok(read_heads(
                conn,
                "SELECT size, time, root, key_id, signature FROM ledger_heads ORDER BY size DESC LIMIT 1",
                &self.vault_id,
                self.options,
            )?
            .pop())
        })
    }

    fn add_head(&self, head: &SignedHead) -> Result<(), LedgerStoreError> {
        let options = self.options;
        self.write(|tx| {
            let (size, _) = tail(tx, options)?;
            let h = head.head();
            if h.vault_id() != &self.vault_id {
                return Err(LedgerStoreError::Invalid(format!(
                    "the head is for vault `{}`, not this one",
                    h.vault_id()
                )));
            }
            if h.size() > size {
                return Err(LedgerStoreError::Invalid(format!(
                    "the head covers {} events but the ledger has {size}",
                    h.size()
                )));
            }
            let tree = TreeReader { conn: tx, options };
            if merkle::root(&tree, h.size())? != *h.root() {
                return Err(LedgerStoreError::Invalid(format!(
                    "the head's root is not the root of this ledger's first {} events",
                    h.size()
                )));
            }
            insert_head(tx, head, options)
        })?;
        self.sync()
    }

    fn tree_leaf(&self, seq: u64) -> Result<Hash, LedgerStoreError> {
        self.read(|conn| {
            TreeReader {
                conn,
                options: self.options,
            }
            .leaf_hash(seq)
        })
    }

    fn tree_node(&self, level: u32, index: u64) -> Result<Hash, LedgerStoreError> {
        self.read(|conn| {
            TreeReader {
                conn,
                options: self.options,
            }
            .subtree(level, index)
        })
    }
}

/// What a query reads its seq range through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// `ledger_event_subjects`, for the query's subject.
    Subjects,
    /// `ledger_event_principals`, for the query's principal.
    Principals,
    /// `ledger_events` itself, testing every filter on each event.
    Events,
}

/// Up to `limit` events with seqs in `range` that match every filter of
/// `query`, in seq order, read through `driver`. Each index table is ordered
/// by seq within one key, so the range and the order come from it, and
/// SQLite stops at the limit instead of sorting.
fn select_range(
    conn: &Connection,
    options: SqliteOptions,
    query: &EventQuery,
    driver: Driver,
    range: std::ops::Range<u64>,
    limit: usize,
) -> Result<Vec<StoredEventRow>, LedgerStoreError> {
    if range.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let text = |s: &str| Value::Text(s.to_owned());
    let seq = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    let (mut sql, order, mut args) = match driver {
        Driver::Subjects => (
            format!(
                "SELECT {EVENT_COLUMNS} FROM ledger_event_subjects s CROSS JOIN ledger_events e \
                 ON e.seq = s.seq WHERE s.subject_id = ? AND s.seq >= ? AND s.seq < ?"
            ),
            "s.seq",
            vec![text(query.subject.as_deref().unwrap_or_default())],
        ),
        Driver::Principals => (
            format!(
                "SELECT {EVENT_COLUMNS} FROM ledger_event_principals p CROSS JOIN ledger_events e \
                 ON e.seq = p.seq WHERE p.principal = ? AND p.seq >= ? AND p.seq < ?"
            ),
            "p.seq",
            vec![text(query.principal.as_deref().unwrap_or_default())],
        ),
        Driver::Events => (
            format!("SELECT {EVENT_COLUMNS} FROM ledger_events e WHERE e.seq >= ? AND e.seq < ?"),
            "e.seq",
            Vec::new(),
        ),
    };
    args.extend([seq(range.start), seq(range.end)]);
    if let (Some(subject), Driver::Events) = (&query.subject, driver) {
        // `subjects` is the ids separated by single spaces, and an id holds
        // no space, so padding both sides matches whole ids only.
        sql.push_str(" AND instr(' ' || e.subjects || ' ', ' ' || ? || ' ') > 0");
        args.push(text(subject));
    }
    let principal = query
        .principal
        .as_deref()
        .filter(|_| driver != Driver::Principals);
    let filters = [
        ("principal", principal),
        ("purpose", query.purpose.as_deref()),
        ("action", query.action.as_deref()),
        ("outcome", query.outcome.map(Outcome::as_str)),
    ];
    for (column, value) in filters {
        if let Some(value) = value {
            sql.push_str(&format!(" AND e.{column} = ?"));
            args.push(text(value));
        }
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?"));
    args.push(Value::Integer(sql_count(limit)));
    conn.prepare_cached(&sql)
        .map_err(|e| classify(e, options))?
        .query_map(rusqlite::params_from_iter(args), stored_row)
        .map_err(|e| classify(e, options))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| classify(e, options))
}

/// Stores a head, keeping an existing head of the same size.
fn insert_head(
    tx: &Transaction<'_>,
    head: &SignedHead,
    options: SqliteOptions,
) -> Result<(), LedgerStoreError> {
    let row = HeadRow::from_signed(head);
    tx.prepare_cached(
        "INSERT INTO ledger_heads (size, time, root, key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (size) DO NOTHING",
    )
    .map_err(|e| classify(e, options))?
    .execute(params![
        row.size,
        row.time,
        row.root.as_bytes(),
        row.key_id,
        row.signature.as_slice()
    ])
    .map_err(|e| classify(e, options))?;
    Ok(())
}

fn read_heads(
    conn: &Connection,
    sql: &str,
    vault_id: &VaultId,
    options: SqliteOptions,
) -> Result<Vec<SignedHead>, LedgerStoreError> {
    let rows = conn
        .prepare_cached(sql)
        .map_err(|e| classify(e, options))?
        .query_map([], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .map_err(|e| classify(e, options))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| classify(e, options))?;
    rows.into_iter()
        .map(|(size, time, root, key_id, signature)| {
            let damaged =
                |why: &str| LedgerStoreError::Corrupt(format!("the head at size {size} {why}"));
            let root = Hash::from_slice(&root)
                .ok_or_else(|| damaged("has a root that is not 32 bytes"))?;
            let signature: [u8; 64] = signature
                .try_into()
                .map_err(|_| damaged("has a signature that is not 64 bytes"))?;
            HeadRow {
                size,
                time,
                root,
                key_id,
                signature,
            }
            .into_signed(vault_id)
            .map_err(|e| damaged(&format!("cannot be read: {e}")))
        })
        .collect()
}
