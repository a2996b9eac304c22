//! Group-commit append rate on a release build, for profiling the ledger
//! without the whole `custos bench`: a ledger of `APPEND_RATE_EVENTS`
//! (default 200,000) events, then each of 1, 16, 64 and 256 threads
//! recording one event at a time for `APPEND_RATE_SECONDS` (default 3);
//! `APPEND_RATE_THREADS` (such as `64,256`) picks the thread counts.
//! Ignored by default; run it with
//! `cargo test --release -p custos-store --test ledger append_rate -- --ignored --nocapture`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use custos_crypto::LedgerSigningKey;
use custos_ledger::{HeadPolicy, NewEvent};

use crate::support::{self, new_event, start};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "a benchmark: run it on a release build"]
fn append_rate() {
    let events = env("APPEND_RATE_EVENTS", 200_000);
    let seconds = env("APPEND_RATE_SECONDS", 3);
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    let key = LedgerSigningKey::generate();
    let recorder = Arc::new(start(store, &key, HeadPolicy::default()));
    let started = Instant::now();
    let mut next = 0;
    while next < events {
        let end = (next + 4096).min(events);
        let batch: Vec<NewEvent> = (next..end).map(new_event).collect();
        recorder.record_batch(batch).unwrap();
        next = end;
    }
    println!(
        "populate: {events} events at {:.0}/s",
        events as f64 / started.elapsed().as_secs_f64()
    );
    let counts = std::env::var("APPEND_RATE_THREADS").unwrap_or_else(|_| "1,16,64,256".into());
    for threads in counts.split(',').map(|t| t.trim().parse::<u64>().unwrap()) {
        let stop = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(AtomicU64::new(next));
        let before = recorder.stats();
        let t0 = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (recorder, stop, counter) = (
                    Arc::clone(&recorder),
                    Arc::clone(&stop),
                    Arc::clone(&counter),
                );
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            let i = counter.fetch_add(1, Ordering::Relaxed);
                            recorder.record(new_event(i)).unwrap();
                        }
                    })
                    .unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let after = recorder.stats();
        let n = after.events - before.events;
        println!(
            "{threads:>3} threads: {:.0} events/s, {:.1} events per transaction",
            n as f64 / elapsed,
            n as f64 / (after.transactions - before.transactions) as f64
        );
        next = counter.load(Ordering::Relaxed);
    }
}
