//! The group-commit recorder over real SQLite files: seqs, heads, several
//! recorders on one file, batching, and failing closed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use custos_crypto::LedgerSigningKey;
use custos_ledger::merkle::{self, Hash};
use custos_ledger::{
    AppendBatch, BoxError, Event, EventQuery, HeadPolicy, LedgerStore, LedgerStoreError, LogState,
    RecordError, Recorder, SignedHead, StoredEventRow, verify_against,
};
use custos_store::{SqliteLedger, SqliteOptions};

use crate::support::{self, all_events, new_event, rarely, start, vault, verify};

#[test]
fn recorded_events_are_stored_with_contiguous_seqs_and_a_final_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    let key = LedgerSigningKey::generate();
    let recorder = start(store.clone(), &key, rarely());
    let mut seqs = Vec::new();
    for i in 0..10 {
        seqs.push(recorder.record(new_event(i)).unwrap().seq());
    }
    let batch = recorder
        .record_batch((10..15).map(new_event).collect())
        .unwrap();
    seqs.extend(batch.iter().map(|r| r.seq()));
    assert_eq!(seqs, (0..15).collect::<Vec<_>>());
    assert!(recorder.record_batch(Vec::new()).unwrap().is_empty());
    let stats = recorder.stats();
    assert_eq!((stats.transactions, stats.events, stats.heads), (11, 15, 0));
    recorder.shutdown().unwrap();

    let events = all_events(&*store);
    assert_eq!(events.len(), 15);
    for (i, e) in events.iter().enumerate() {
        let want = new_event(i as u64);
        assert_eq!(e.seq, i as u64);
        assert_eq!(e.request_id, want.request_id);
        assert_eq!(e.subjects, want.subjects);
        assert_eq!(e.outcome, want.outcome);
    }
    assert_eq!(events[14].time, batch[4].time());
    // Shutting down signed a head over everything.
    let heads = store.heads().unwrap();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].head().size(), 15);
    let report = verify(&*store, &key.public_key());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.events_checked, report.heads_checked), (15, 1));
}

#[test]
fn heads_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    let key = LedgerSigningKey::generate();
    let policy = HeadPolicy {
        every_events: 100,
        every: Duration::from_secs(3600),
    };
    let recorder = start(store.clone(), &key, policy);
    for chunk in 0..10u64 {
        recorder
            .record_batch((chunk * 25..chunk * 25 + 25).map(new_event).collect())
            .unwrap();
    }
    assert_eq!(recorder.stats().heads, 2);
    drop(recorder);
    let sizes: Vec<u64> = store
        .heads()
        .unwrap()
        .iter()
        .map(|h| h.head().size())
        .collect();
    assert_eq!(sizes, vec![100, 200, 250]);

    // Time: an event waits at most `every` for a head, with no more traffic.
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    let policy = HeadPolicy {
        every_events: u64::MAX,
        every: Duration::from_millis(200),
    };
    let recorder = start(store.clone(), &key, policy);
    recorder
        .record_batch(vec![new_event(0), new_event(1)])
        .unwrap();
    assert!(store.latest_head().unwrap().is_none());
    let mut waited = Duration::ZERO;
    while store.latest_head().unwrap().is_none() && waited < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
        waited += Duration::from_millis(10);
    }
    assert_eq!(store.latest_head().unwrap().unwrap().head().size(), 2);
    assert_eq!(store.heads().unwrap().len(), 1);
}

#[test]
fn sign_head_now_signs_the_current_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    let key = LedgerSigningKey::generate();
    let recorder = start(store.clone(), &key, rarely());
    let empty = recorder.sign_head_now().unwrap();
    assert_eq!(empty.head().size(), 0);
    assert_eq!(*empty.head().root(), merkle::empty_root());
    for i in 0..3 {
        recorder.record(new_event(i)).unwrap();
    }
    let head = recorder.sign_head_now().unwrap();
    assert_eq!(head.head().size(), 3);
    assert_eq!(head.head().vault_id(), &vault());
    head.verify(&recorder.public_key()).unwrap();
    assert_eq!(store.latest_head().unwrap(), Some(head.clone()));
    // The log as it is extends the head of the empty log.
    let proof = merkle::consistency_proof(&*store as &dyn LedgerStore, 0, 3).unwrap();
    verify_against(&empty, &head, &proof, &vault(), &key.public_key()).unwrap();
    // Asking again with nothing new gives a fresh head over the same tree;
    // the stored one stays.
    std::thread::sleep(Duration::from_millis(5));
    let again = recorder.sign_head_now().unwrap();
    assert_eq!(
        (again.head().size(), again.head().root()),
        (3, head.head().root())
    );
    assert_eq!(store.heads().unwrap().len(), 2);
}

/// Two ledgers on one file, each with its own recorder, stand in for two
/// processes: seqs must still be contiguous and unique, times must agree
/// with seqs, and the log must verify.
#[test]
fn two_recorders_on_one_file_keep_one_consistent_log() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    let first = support::create(&path);
    let second = support::open(&path);
    let key = LedgerSigningKey::generate();
    let policy = HeadPolicy {
        every_events: 300,
        every: Duration::from_millis(20),
    };
    let recorders = [
        Arc::new(start(first.clone(), &key, policy)),
        Arc::new(start(second.clone(), &key, policy)),
    ];
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let recorder = Arc::clone(&recorders[(t % 2) as usize]);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                (0..PER_THREAD)
                    .map(|i| {
                        let mut e = new_event(i);
                        e.request_id = format!("t{t}-{i}");
                        let r = recorder.record(e).unwrap();
                        (r.seq(), format!("t{t}-{i}"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let acknowledged: Vec<(u64, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let stats: Vec<_> = recorders.iter().map(|r| r.stats()).collect();
    drop(recorders);

    let total = THREADS * PER_THREAD;
    let seqs: BTreeSet<u64> = acknowledged.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs.len() as u64, total, "a seq was handed out twice");
    assert_eq!(seqs, (0..total).collect(), "seqs are not 0..{total}");
    assert!(stats.iter().all(|s| s.events > 0), "{stats:?}");
    assert_eq!(stats.iter().map(|s| s.events).sum::<u64>(), total);

    let events = all_events(&*first);
    assert_eq!(events.len() as u64, total);
    for (seq, request_id) in &acknowledged {
        assert_eq!(&events[*seq as usize].request_id, request_id);
    }
    assert!(
        events.windows(2).all(|w| w[0].time <= w[1].time),
        "time went back"
    );

    let report = verify(&*second, &key.public_key());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, total);
    assert!(report.heads_checked >= 2, "{report:?}");

    // Proofs served by either connection verify against the signed heads.
    let heads = first.heads().unwrap();
    let latest = heads.last().unwrap();
    assert_eq!(latest.head().size(), total);
    let store: &dyn LedgerStore = &*second;
    for seq in [0, 1, 17, 1999, total - 1] {
        let proof = merkle::inclusion_proof(store, seq, total).unwrap();
        let leaf = events[seq as usize].leaf_hash();
        assert!(merkle::verify_inclusion(
            &leaf,
            seq,
            total,
            &proof,
            latest.head().root()
        ));
    }
    for pair in heads.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let proof = merkle::consistency_proof(store, old.head().size(), new.head().size()).unwrap();
        verify_against(old, new, &proof, &vault(), &key.public_key()).unwrap();
    }
}

/// A store that counts appends and holds each transaction open a little, so
/// requests pile up behind it as they would behind a slow disk. It notes how
/// many events its last sync covered, and fails its syncs when told to.
#[derive(Debug)]
struct SlowStore {
    inner: Arc<SqliteLedger>,
    appends: AtomicU64,
    synced: AtomicU64,
    fail_sync: AtomicBool,
}

impl SlowStore {
    fn new(inner: Arc<SqliteLedger>) -> Self {
        Self {
            inner,
            appends: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            fail_sync: AtomicBool::new(false),
        }
    }
}

impl LedgerStore for SlowStore {
    fn append(
        &self,
        build: &mut dyn FnMut(LogState<'_>) -> Result<AppendBatch, BoxError>,
    ) -> Result<u64, LedgerStoreError> {
        self.appends.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(3));
        self.inner.append(build)
    }
    fn sync(&self) -> Result<(), LedgerStoreError> {
        if self.fail_sync.load(Ordering::SeqCst) {
            return Err(LedgerStoreError::Io("simulated sync failure".into()));
        }
        // Read before syncing: every commit counted here is covered.
        let size = self.inner.size()?;
        self.inner.sync()?;
        self.synced.fetch_max(size, Ordering::SeqCst);
        Ok(())
    }
    fn size(&self) -> Result<u64, LedgerStoreError> {
        self.inner.size()
    }
    fn events(&self, from: u64, limit: usize) -> Result<Vec<StoredEventRow>, LedgerStoreError> {
        self.inner.events(from, limit)
    }
    fn event(&self, seq: u64) -> Result<Option<Event>, LedgerStoreError> {
        self.inner.event(seq)
    }
    fn query(&self, query: &EventQuery) -> Result<Vec<Event>, LedgerStoreError> {
        self.inner.query(query)
    }
    fn heads(&self) -> Result<Vec<SignedHead>, LedgerStoreError> {
        self.inner.heads()
    }
    fn latest_head(&self) -> Result<Option<SignedHead>, LedgerStoreError> {
        self.inner.latest_head()
    }
    fn add_head(&self, head: &SignedHead) -> Result<(), LedgerStoreError> {
        self.inner.add_head(head)
    }
    fn tree_leaf(&self, seq: u64) -> Result<Hash, LedgerStoreError> {
        self.inner.tree_leaf(seq)
    }
    fn tree_node(&self, level: u32, index: u64) -> Result<Hash, LedgerStoreError> {
        self.inner.tree_node(level, index)
    }
}

#[test]
fn concurrent_requests_share_transactions() {
    const THREADS: u64 = 16;
    const PER_THREAD: u64 = 100;
    let dir = tempfile::tempdir().unwrap();
    let inner = support::create(&support::ledger_path(&dir));
    let store = Arc::new(SlowStore::new(inner.clone()));
    let key = LedgerSigningKey::generate();
    let recorder = Arc::new(Recorder::start(
        store.clone(),
        support::clone_key(&key),
        vault(),
        rarely(),
    ));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let recorder = Arc::clone(&recorder);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    recorder.record(new_event(t * PER_THREAD + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = recorder.stats();
    let events = THREADS * PER_THREAD;
    println!(
        "group commit: {events} events from {THREADS} threads in {} transactions ({:.1} events per transaction)",
        stats.transactions,
        events as f64 / stats.transactions as f64
    );
    assert_eq!(stats.events, events);
    assert_eq!(stats.transactions, store.appends.load(Ordering::Relaxed));
    assert!(
        stats.transactions * 4 <= events,
        "{} transactions for {events} events: requests were not batched",
        stats.transactions
    );
    drop(recorder);
    assert_eq!(inner.size().unwrap(), events);
    assert!(verify(&*inner, &key.public_key()).is_ok());
}

#[test]
fn a_failed_append_fails_every_waiter_and_records_nothing() {
    const THREADS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    drop(support::create(&path));
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(100),
    };
    let store = Arc::new(SqliteLedger::open(&path, &vault(), options).unwrap());
    let key = LedgerSigningKey::generate();
    let recorder = Arc::new(start(store.clone(), &key, rarely()));

    // Another process holds the write lock past the busy timeout.
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS as u64)
        .map(|i| {
            let recorder = Arc::clone(&recorder);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                recorder.record(new_event(i))
            })
        })
        .collect();
    for h in handles {
        let err = h.join().unwrap().unwrap_err();
        let RecordError::Storage(cause) = &err else {
            panic!("expected a storage error, got {err}");
        };
        assert!(matches!(**cause, LedgerStoreError::Busy { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("the access ledger could not record the event: the ledger is busy"),
            "{err}"
        );
    }
    let err = recorder.sign_head_now().unwrap_err();
    assert!(matches!(err, RecordError::Storage(_)), "{err}");
    let stats = recorder.stats();
    assert!(stats.failures >= 2, "{stats:?}");
    assert_eq!((stats.events, stats.transactions), (0, 0));
    holder.execute_batch("ROLLBACK").unwrap();

    // Nothing of the failed batches is in the log, and the recorder serves
    // the next request from seq 0.
    assert_eq!(store.size().unwrap(), 0);
    assert_eq!(recorder.record(new_event(99)).unwrap().seq(), 0);
    drop(recorder);
    let events = all_events(&*store);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].request_id, new_event(99).request_id);
}

#[test]
fn an_unstorable_event_fails_only_its_own_caller() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    let key = LedgerSigningKey::generate();
    let recorder = start(store.clone(), &key, rarely());
    let mut bad = new_event(0);
    bad.subjects = vec!["M1 M2".into()];
    let err = recorder.record_batch(vec![new_event(1), bad]).unwrap_err();
    assert!(matches!(err, RecordError::Invalid(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "the access ledger cannot record the event: subject id `M1 M2` is empty or contains a space, so it cannot be recorded"
    );
    assert_eq!(recorder.record(new_event(2)).unwrap().seq(), 0);
    assert_eq!(store.size().unwrap(), 1);
}

#[test]
fn no_caller_hears_of_its_event_before_a_sync_covers_it() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SlowStore::new(support::create(&support::ledger_path(&dir))));
    let key = LedgerSigningKey::generate();
    let recorder = Arc::new(Recorder::start(
        store.clone(),
        support::clone_key(&key),
        vault(),
        rarely(),
    ));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (recorder, store) = (Arc::clone(&recorder), Arc::clone(&store));
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let seq = recorder
                        .record(new_event(t * PER_THREAD + i))
                        .unwrap()
                        .seq();
                    let synced = store.synced.load(Ordering::SeqCst);
                    assert!(
                        seq < synced,
                        "event {seq} acknowledged with {synced} synced"
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let head = recorder.sign_head_now().unwrap();
    assert!(head.head().size() <= store.synced.load(Ordering::SeqCst));
}

#[test]
fn a_failed_sync_fails_its_callers_and_stops_the_recorder() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SlowStore::new(support::create(&support::ledger_path(&dir))));
    let key = LedgerSigningKey::generate();
    let recorder = Recorder::start(store.clone(), support::clone_key(&key), vault(), rarely());
    assert_eq!(recorder.record(new_event(0)).unwrap().seq(), 0);

    store.fail_sync.store(true, Ordering::SeqCst);
    let err = recorder.record(new_event(1)).unwrap_err();
    let RecordError::Storage(cause) = &err else {
        panic!("expected a storage error, got {err}");
    };
    assert!(matches!(**cause, LedgerStoreError::Io(_)), "{err}");

    // The disk may have dropped what it was given: even once syncs work
    // again, nothing more is recorded or acknowledged.
    store.fail_sync.store(false, Ordering::SeqCst);
    let appends = store.appends.load(Ordering::SeqCst);
    let err = recorder.record(new_event(2)).unwrap_err();
    assert!(matches!(err, RecordError::Stopped), "{err}");
    assert!(matches!(
        recorder.sign_head_now().unwrap_err(),
        RecordError::Stopped
    ));
    assert_eq!(store.appends.load(Ordering::SeqCst), appends);
    assert!(matches!(recorder.shutdown(), Err(RecordError::Stopped)));
}

/// A store whose every append panics, as a bug in a store would.
#[derive(Debug)]
struct PanickingStore;

impl LedgerStore for PanickingStore {
    fn append(
        &self,
        _: &mut dyn FnMut(LogState<'_>) -> Result<AppendBatch, BoxError>,
    ) -> Result<u64, LedgerStoreError> {
        panic!("simulated bug in a ledger store")
    }
    fn sync(&self) -> Result<(), LedgerStoreError> {
        Ok(())
    }
    fn size(&self) -> Result<u64, LedgerStoreError> {
        Ok(0)
    }
    fn events(&self, _: u64, _: usize) -> Result<Vec<StoredEventRow>, LedgerStoreError> {
        Ok(Vec::new())
    }
    fn event(&self, _: u64) -> Result<Option<Event>, LedgerStoreError> {
        Ok(None)
    }
    fn query(&self, _: &EventQuery) -> Result<Vec<Event>, LedgerStoreError> {
        Ok(Vec::new())
    }
    fn heads(&self) -> Result<Vec<SignedHead>, LedgerStoreError> {
        Ok(Vec::new())
    }
    fn latest_head(&self) -> Result<Option<SignedHead>, LedgerStoreError> {
        Ok(None)
    }
    fn add_head(&self, _: &SignedHead) -> Result<(), LedgerStoreError> {
        Ok(())
    }
    fn tree_leaf(&self, _: u64) -> Result<Hash, LedgerStoreError> {
        Err(LedgerStoreError::Database("empty".into()))
    }
    fn tree_node(&self, _: u32, _: u64) -> Result<Hash, LedgerStoreError> {
        Err(LedgerStoreError::Database("empty".into()))
    }
}

#[test]
fn a_crashed_writer_fails_closed() {
    let recorder = Recorder::start(
        Arc::new(PanickingStore),
        LedgerSigningKey::generate(),
        vault(),
        rarely(),
    );
    assert!(matches!(
        recorder.record(new_event(0)),
        Err(RecordError::Stopped)
    ));
    assert!(matches!(
        recorder.record(new_event(1)),
        Err(RecordError::Stopped)
    ));
    assert!(matches!(recorder.shutdown(), Err(RecordError::Stopped)));
}
