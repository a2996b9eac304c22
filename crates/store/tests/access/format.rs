//! Store formats: a format-1 store (subjects only) upgrades in place to
//! the current format and keeps its subjects, ending with the same schema as a new
//! store; a newer format is refused.

use std::path::Path;

use custos_model::{FieldName, SubjectId};
use custos_store::{AccessStore, ScopeFilter, SqliteOptions, SqliteStore, Store, StoreError};

use crate::support::{TestStore, name, principal, raw, store_path};

/// The first migration as format 1 shipped it, copied so that this test
/// keeps building format-1 stores whatever the code does later.
const FORMAT_1: &str = r#"
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
"#;

/// A field map in the store's encoding (`codec.rs`): a version byte, then
/// per entry a name length, the name, a 4-byte little-endian value length
/// and the value.
fn field_map(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = vec![1u8];
    for (name, value) in entries {
        out.push(u8::try_from(name.len()).unwrap());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u32::try_from(value.len()).unwrap().to_le_bytes());
        out.extend_from_slice(value);
    }
    out
}

const DIGEST: [u8; 16] = [7; 16];

/// A format-1 store holding subject `A1` in constituency `E1`, with a
/// lookup digest for `email`, and 2 subjects erased.
fn format_1_store(path: &Path) {
    let conn = raw(path);
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(FORMAT_1).unwrap();
    conn.execute(
        "INSERT INTO subjects (id, key_version, wrapped_key, scope, sealed, lookups) VALUES ('A1', 3, x'0102', ?1, ?2, ?3)",
        rusqlite::params![
            field_map(&[("constituency", b"E1")]),
            field_map(&[("email", b"sealed-email"), ("name", b"sealed-name")]),
            field_map(&[("email", &DIGEST)]),
        ],
    )
    .unwrap();
    conn.execute_batch(
        "INSERT INTO subject_scope VALUES ('constituency', 'E1', 'A1');
         UPDATE counters SET value = 2 WHERE name = 'erased_subjects';",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO blind_index VALUES ('email', ?1, 'A1')",
        [DIGEST.as_slice()],
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
}

fn user_version(path: &Path) -> i64 {
    raw(path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

/// Every table, index and trigger, as `(type, name, sql)`.
type Objects = Vec<(String, String, String)>;

/// Every table, index and trigger with its SQL, whitespace normalised, and
/// the counters.
fn schema(path: &Path) -> (Objects, Vec<(String, i64)>) {
    let conn = raw(path);
    let objects = conn
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
        .unwrap()
        .query_map([], |r| {
            let sql: String = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                sql.split_whitespace().collect::<Vec<_>>().join(" "),
            ))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let counters = conn
        .prepare("SELECT name, value FROM counters ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (objects, counters)
}

#[test]
fn a_format_1_store_upgrades_in_place_and_keeps_its_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_path(&dir);
    format_1_store(&path);
    assert_eq!(user_version(&path), 1);

    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(user_version(&path), 3);

    let id = SubjectId::parse("A1").unwrap();
    let subject = store.subject(&id).unwrap().unwrap();
    assert_eq!(subject.key_version, 3);
    assert_eq!(subject.wrapped_key, [1, 2]);
    let field = |s: &str| FieldName::parse(s).unwrap();
    assert_eq!(subject.scope, [(field("constituency"), "E1".to_owned())]);
    assert_eq!(
        subject.sealed,
        [
            (field("email"), b"sealed-email".to_vec()),
            (field("name"), b"sealed-name".to_vec())
        ]
    );
    assert_eq!(
        store.find("email", &DIGEST).unwrap(),
        std::slice::from_ref(&id)
    );
    let filter = ScopeFilter {
        field: field("constituency"),
        value: "E1".to_owned(),
    };
    assert_eq!(store.list(&[filter], None, 10).unwrap()[0].id, id);
    assert_eq!(store.counts().unwrap(), (1, 2));

    // The new state is there and works.
    assert_eq!(store.access_generation().unwrap(), 0);
    store.insert_principal(&principal("ana")).unwrap();
    assert!(store.principal(&name("ana")).unwrap().is_some());
    assert_eq!(store.access_generation().unwrap(), 1);
    drop(store);

    // Opening again does not migrate twice.
    let again = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(again.principals().unwrap().len(), 1);
    assert_eq!(again.counts().unwrap(), (1, 2));
}

#[test]
fn an_upgraded_store_has_the_schema_of_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.sqlite");
    format_1_store(&old);
    drop(SqliteStore::open(&old, SqliteOptions::default()).unwrap());
    // The subject's row and the erasures are data, not schema.
    raw(&old)
        .execute_batch("UPDATE counters SET value = 0 WHERE name = 'erased_subjects';")
        .unwrap();

    let new = TestStore::new();
    let (old_objects, old_counters) = schema(&old);
    let (new_objects, new_counters) = schema(&new.path());
    assert_eq!(old_objects, new_objects);
    assert_eq!(old_counters, new_counters);
    let tables: Vec<&str> = new_objects
        .iter()
        .filter(|(kind, ..)| kind == "table")
        .map(|(_, name, _)| name.as_str())
        .collect();
    for table in ["principals", "tokens", "purposes", "policies", "alerts"] {
        assert!(tables.contains(&table), "{table} missing from {tables:?}");
    }
    assert_eq!(
        new_counters,
        [
            ("access_generation".to_owned(), 0),
            ("erased_subjects".to_owned(), 0)
        ]
    );
}

#[test]
fn two_stores_opening_a_format_1_store_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_path(&dir);
    format_1_store(&path);
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    SqliteStore::open(&path, SqliteOptions::default()).map(drop)
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    });
    assert_eq!(user_version(&path), 3);
}

#[test]
fn a_newer_store_is_refused_untouched() {
    let t = TestStore::new();
    t.raw().pragma_update(None, "user_version", 4).unwrap();
    let err = SqliteStore::open(&t.path(), SqliteOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooNew {
                found: 4,
                supported: 3
            }
        ),
        "{err:?}"
    );
    assert_eq!(user_version(&t.path()), 4);
}

#[test]
fn the_hot_reads_are_index_probes() {
    let t = TestStore::new();
    let conn = t.raw();
    let plan = |sql: &str| {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("; ")
    };
    for (sql, index) in [
        (
            "SELECT value FROM counters WHERE name = 'access_generation'",
            "sqlite_autoindex_counters_1",
        ),
        (
            "SELECT id FROM tokens WHERE digest = x'00'",
            "sqlite_autoindex_tokens_2",
        ),
        (
            "SELECT id FROM tokens WHERE principal = 'ana'",
            "tokens_by_principal",
        ),
        (
            "SELECT id FROM alerts WHERE id > 0 AND principal = 'ana' ORDER BY id",
            "alerts_by_principal",
        ),
    ] {
        let plan = plan(sql);
        assert!(
            plan.contains(&format!("USING INDEX {index}"))
                || plan.contains(&format!("USING COVERING INDEX {index}")),
            "{sql}: {plan}"
        );
    }
}
