//! Files that are not this vault's ledger, or not in a form this build
//! understands, are refused with a clear error and left unchanged.

use std::time::Duration;

use custos_ledger::{LedgerStore, LedgerStoreError};
use custos_store::{SqliteLedger, SqliteOptions};

use crate::storage::event;
use crate::support::{self, append_events, other_vault, vault};

fn open_err(path: &std::path::Path) -> LedgerStoreError {
    SqliteLedger::open(path, &vault(), SqliteOptions::default()).unwrap_err()
}

#[test]
fn a_ledger_opens_only_for_its_own_vault() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    drop(support::create(&path));
    let err = SqliteLedger::open(&path, &other_vault(), SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, LedgerStoreError::OtherVault { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "the ledger belongs to vault `{}`, not to this vault `{}`",
            vault(),
            other_vault()
        )
    );
    assert_eq!(support::open(&path).vault_id(), &vault());
}

#[test]
fn a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    drop(support::create(&path));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 3).unwrap();
    drop(conn);
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            LedgerStoreError::TooNew {
                found: 3,
                supported: 2
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the ledger has format 3, newer than this custos supports (2); upgrade custos"
    );
}

#[test]
fn files_that_are_not_ledgers_are_refused() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.sqlite");
    assert!(matches!(open_err(&missing), LedgerStoreError::Missing(_)));

    let text = dir.path().join("text.sqlite");
    std::fs::write(
        &text,
        "this is not a database, it is a shopping list\n".repeat(100),
    )
    .unwrap();
    let err = open_err(&text);
    assert!(matches!(err, LedgerStoreError::Corrupt(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "the ledger is damaged: the file is not a custos ledger (not an SQLite database)"
    );
    assert!(
        std::fs::read_to_string(&text)
            .unwrap()
            .starts_with("this is not")
    );

    let other_db = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other_db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = open_err(&other_db);
    assert!(
        err.to_string()
            .contains("is not a custos ledger (it has no ledger tables)"),
        "{err}"
    );

    let existing = support::ledger_path(&dir);
    drop(support::create(&existing));
    let err = SqliteLedger::create(&existing, &vault(), SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, LedgerStoreError::Exists(_)), "{err}");
}

#[test]
fn damaged_pages_are_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    {
        let store = support::create(&path);
        append_events(&*store, (0..3000).map(event).collect());
    }
    // Closing the last connection checkpoints the WAL into the file; now
    // overwrite every page after the first (the schema) with garbage.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4096 * 8, "{} bytes", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = SqliteLedger::open(&path, &vault(), SqliteOptions::default())
        .and_then(|store| store.events(0, 10_000).map(|_| ()))
        .unwrap_err();
    assert!(matches!(err, LedgerStoreError::Corrupt(_)), "{err}");
    assert!(
        err.to_string().starts_with("the ledger is damaged"),
        "{err}"
    );
}

#[test]
fn a_short_busy_timeout_fails_with_busy() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    drop(support::create(&path));
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(50),
    };
    let store = SqliteLedger::open(&path, &vault(), options).unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = store.append(&mut |_| Ok(Default::default())).unwrap_err();
    assert!(matches!(err, LedgerStoreError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("more than 50 ms"), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(store.append(&mut |_| Ok(Default::default())).unwrap(), 0);
}
