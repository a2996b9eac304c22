//! What the ledger costs: bytes per event on disk for 100k plausible events,
//! indexes included, and the append rates seen on the way. Printed, not
//! asserted (except a generous size bound); the benchmarks own the targets.

use std::sync::Arc;
use std::time::Instant;

use custos_crypto::LedgerSigningKey;
use custos_ledger::{HeadPolicy, LedgerStore, NewEvent};

use crate::support::{self, new_event, start, verify};

#[test]
fn storage_per_event_for_100k_events() {
    const EVENTS: u64 = 100_000;
    const BATCH: u64 = 4096;
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    let store = support::create(&path);
    let key = LedgerSigningKey::generate();
    let recorder = start(store.clone(), &key, HeadPolicy::default());
    let started = Instant::now();
    let mut next = 0;
    while next < EVENTS {
        let end = (next + BATCH).min(EVENTS);
        let batch: Vec<NewEvent> = (next..end).map(new_event).collect();
        assert_eq!(recorder.record_batch(batch).unwrap()[0].seq(), next);
        next = end;
    }
    let elapsed = started.elapsed();
    drop(recorder);
    println!(
        "bulk record_batch of {BATCH}: {EVENTS} events in {:.2} s ({:.0} events/s; unoptimised unless run with --release)",
        elapsed.as_secs_f64(),
        EVENTS as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(store.size().unwrap(), EVENTS);
    assert!(verify(&*store, &key.public_key()).is_ok());
    drop(store);

    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let bytes: i64 = conn
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let per_event = bytes as f64 / EVENTS as f64;
    println!("ledger file: {bytes} bytes for {EVENTS} events = {per_event:.1} bytes/event");
    let mut stmt = conn
        .prepare("SELECT name, sum(pgsize), sum(payload) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .unwrap();
    let parts = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .unwrap();
    for part in parts {
        let (name, pages, payload) = part.unwrap();
        println!(
            "  {name:<28} {:>6.1} bytes/event on disk, {:>6.1} of payload",
            pages as f64 / EVENTS as f64,
            payload as f64 / EVENTS as f64
        );
    }
    assert!(per_event < 400.0, "{per_event:.1} bytes per event");
}

#[test]
fn concurrent_single_records_rate() {
    // Group commit turns concurrency into batch size: the rate is roughly
    // the number of waiting callers divided by one commit's latency.
    const EVENTS: u64 = 12_800;
    for threads in [4u64, 16, 64, 256] {
        let per_thread = EVENTS / threads;
        let dir = tempfile::tempdir().unwrap();
        let store = support::create(&support::ledger_path(&dir));
        let key = LedgerSigningKey::generate();
        let recorder = Arc::new(start(store.clone(), &key, HeadPolicy::default()));
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let recorder = Arc::clone(&recorder);
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        recorder.record(new_event(t * per_thread + i)).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let elapsed = started.elapsed();
        let stats = recorder.stats();
        let events = threads * per_thread;
        println!(
            "{threads:>3} threads recording one event at a time: {events} events in {:.2} s ({:.0} events/s, {} transactions, {:.1} events per transaction)",
            elapsed.as_secs_f64(),
            events as f64 / elapsed.as_secs_f64(),
            stats.transactions,
            events as f64 / stats.transactions as f64
        );
        assert_eq!(stats.events, events);
        drop(recorder);
        assert_eq!(store.size().unwrap(), events);
    }
}
