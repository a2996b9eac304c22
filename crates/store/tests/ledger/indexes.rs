//! The subject and principal index tables, kept behind the log: they catch
//! up in batches so that the tail they do not cover stays bounded, a quiet
//! moment brings them up to date, and a format 1 ledger (whose principal
//! index was maintained in every commit) upgrades to them in place.

use std::path::Path;

use custos_crypto::LedgerSigningKey;
use custos_ledger::{EventQuery, LedgerStore, NewEvent};

use crate::support::{self, all_events, new_event, rarely, start, verify};

/// `indexed_to`, and how many rows each index table holds.
fn index_state(path: &Path) -> (i64, i64, i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let indexed_to = conn
        .query_row(
            "SELECT value FROM ledger_meta WHERE key = 'indexed_to'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (
        indexed_to,
        count("ledger_event_principals"),
        count("ledger_event_subjects"),
    )
}

fn seqs(store: &dyn LedgerStore, query: EventQuery) -> Vec<u64> {
    store.query(&query).unwrap().iter().map(|e| e.seq).collect()
}

fn by_principal(principal: &str) -> EventQuery {
    EventQuery {
        principal: Some(principal.to_owned()),
        limit: EventQuery::MAX_LIMIT,
        ..EventQuery::default()
    }
}

#[test]
fn the_indexes_catch_up_in_batches_and_when_the_log_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    let store = support::create(&path);
    let key = LedgerSigningKey::generate();
    let recorder = start(store.clone(), &key, rarely());
    let mut caught_up = false;
    for first in (0..20_000).step_by(100) {
        let batch: Vec<NewEvent> = (first..first + 100).map(new_event).collect();
        recorder.record_batch(batch).unwrap();
        let (indexed_to, principals, _) = index_state(&path);
        let size = first as i64 + 100;
        // The unindexed tail a query scans stays bounded.
        assert!(
            size - indexed_to <= 10_000,
            "{size} events, {indexed_to} indexed"
        );
        assert_eq!(principals, indexed_to);
        caught_up |= indexed_to > 0;
    }
    assert!(caught_up, "the indexes never caught up");
    // A head with no events (as the recorder signs when the log is quiet)
    // indexes the rest.
    recorder.sign_head_now().unwrap();
    let (indexed_to, principals, subjects) = index_state(&path);
    assert_eq!((indexed_to, principals), (20_000, 20_000));
    assert!(subjects >= 20_000, "{subjects}");
    let events = all_events(&*store);
    let expected: Vec<u64> = events
        .iter()
        .filter(|e| e.principal == "caseworker-7")
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs(&*store, by_principal("caseworker-7")), expected);
}

#[test]
fn a_format_1_ledger_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    let key = LedgerSigningKey::generate();
    {
        let store = support::create(&path);
        let recorder = start(store.clone(), &key, rarely());
        recorder
            .record_batch((0..300).map(new_event).collect())
            .unwrap();
        // Shutting down signs a final head, which indexes every event.
        recorder.shutdown().unwrap();
    }
    // Back to format 1: the principal index on the events table, every
    // subject in the subject table, and no `indexed_to`.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE INDEX ledger_events_by_principal ON ledger_events (principal);
             DROP TABLE ledger_event_principals;
             DELETE FROM ledger_meta WHERE key = 'indexed_to';
             PRAGMA user_version = 1;",
        )
        .unwrap();

    let store = support::open(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let old_index: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'ledger_events_by_principal'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_index, 0);
    assert_eq!(index_state(&path), (300, 300, 300));
    assert!(verify(&*store, &key.public_key()).is_ok());

    // It keeps recording, and answers from the index and the tail alike.
    let recorder = start(store.clone(), &key, rarely());
    recorder
        .record_batch((300..400).map(new_event).collect())
        .unwrap();
    let expected: Vec<u64> = (0..400).filter(|i| i % 40 == 3).collect();
    assert_eq!(seqs(&*store, by_principal("caseworker-3")), expected);
    let subject = all_events(&*store)[350].subjects[0].clone();
    let found = seqs(
        &*store,
        EventQuery {
            subject: Some(subject.clone()),
            ..EventQuery::default()
        },
    );
    assert!(found.contains(&350), "{subject}: {found:?}");
    drop(recorder);
    assert!(verify(&*store, &key.public_key()).is_ok());
}
