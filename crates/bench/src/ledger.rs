//! W5 (and W4's first question) on a fresh ledger of its own, in process:
//! `custos_store::SqliteLedger` under a `custos_ledger::Recorder` with a
//! generated signing key, as a vault has.
//!
//! In order, on one ledger:
//! 1. populate it with N events shaped like the audited HTTP reads just
//!    measured, in `record_batch`es of 4096 (the bulk append rate);
//! 2. sign a head, checkpoint the WAL and divide the file sizes by N;
//! 3. a principal-and-time query returning just under 10,000 events, timed
//!    several times (the chosen principal is given every k-th event, so the
//!    match count stays near the target's 10k bound at any N);
//! 4. a full verification of the N events and the stored heads, with
//!    `custos_ledger::verify_store` (the path `custos ledger verify` takes);
//! 5. inclusion and consistency proofs read from the store;
//! 6. appends through the group commit from 1, 16, 64 and 256 threads, on
//!    top of the N events.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custos_crypto::LedgerSigningKey;
use custos_ledger::merkle::{self, Hash};
use custos_ledger::{
    Event, EventQuery, HeadPolicy, LedgerStore, NewEvent, Outcome, Recorder, verify_store,
};
use custos_model::VaultId;
use custos_store::{SqliteLedger, SqliteOptions};

use crate::machine;
use crate::stats::{self, Run, per_s};
use crate::threads::{self, Threads};
use crate::workload::{READ_FIELDS, SplitMix64};

/// W5's append target (events/s), judged at the largest thread count.
pub(crate) const TARGET_APPENDS_PER_S: f64 = 50_000.0;
/// W4/W5's query target at 10M events, in milliseconds.
pub(crate) const TARGET_QUERY_MS: f64 = 100.0;
/// The most events the query may return.
pub(crate) const QUERY_MAX_MATCHES: u64 = 10_000;
/// W5's full-verify target for 10M events, in seconds.
pub(crate) const TARGET_VERIFY_S_PER_10M: f64 = 15.0;
/// W5's proof target, in milliseconds.
pub(crate) const TARGET_PROOF_MS: f64 = 5.0;
/// W5's storage target, bytes per event, indexes included.
pub(crate) const TARGET_BYTES_PER_EVENT: f64 = 150.0;
/// The append thread counts.
pub(crate) const APPEND_THREADS: [usize; 4] = [1, 16, 64, 256];
/// Events per `record_batch` while populating.
const POPULATE_BATCH: usize = 4096;
/// Timed runs of the query, after one untimed.
const QUERY_RUNS: usize = 9;
/// Proofs of each kind.
const PROOFS: usize = 200;
/// PERFORMANCE.md's principals: 650 representatives, 50 staff, 200
/// volunteers, 3 processors, 1 admin.
const PRINCIPALS: usize = 904;
/// The principal whose events the query asks for (`staff-007`); while
/// populating, only its every-k-th events are given to it.
const QUERIED: usize = 656;

/// What the events are modelled on.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) auth: String,
    pub(crate) action: String,
    pub(crate) purpose: String,
    pub(crate) fields_released: Vec<String>,
    pub(crate) fields_denied: Vec<String>,
    pub(crate) outcome: Outcome,
    pub(crate) reason: String,
    pub(crate) request_id_len: usize,
    pub(crate) client: String,
    /// Where it came from, for the report.
    pub(crate) source: String,
}

impl Template {
    /// The shape of a recorded event (other than its principal, subject and
    /// request id, which the bench varies).
    pub(crate) fn from_event(event: &Event, source: &str) -> Self {
        Self {
            auth: event.auth.clone(),
            action: event.action.clone(),
            purpose: event.purpose.clone(),
            fields_released: event.fields_released.clone(),
            fields_denied: event.fields_denied.clone(),
            outcome: event.outcome,
            reason: event.reason.clone(),
            request_id_len: event.request_id.len(),
            client: event.client.clone(),
            source: source.to_owned(),
        }
    }

    /// An HTTP read of the ten fields, when no recorded event is at hand.
    pub(crate) fn synthetic() -> Self {
        Self {
            auth: "api_token".to_owned(),
            action: "read".to_owned(),
            purpose: "membership_admin".to_owned(),
            fields_released: READ_FIELDS.iter().map(|&f| f.to_owned()).collect(),
            fields_denied: Vec::new(),
            outcome: Outcome::Allowed,
            reason: String::new(),
            request_id_len: 36,
            client: "127.0.0.1:50000".to_owned(),
            source: "a synthetic HTTP read of the ten fields".to_owned(),
        }
    }

    /// Event `n` of a stream: principal `principal`, a random member of
    /// `members`, a random request id.
    fn event(&self, principal: String, rng: &mut SplitMix64, members: u64) -> NewEvent {
        let member = rng.below(members.max(1));
        self.event_for(principal, format!("M{member:08}"), rng)
    }

    /// An event of this shape by `principal` about `subject`, with a random
    /// request id.
    pub(crate) fn event_for(
        &self,
        principal: String,
        subject: String,
        rng: &mut SplitMix64,
    ) -> NewEvent {
        NewEvent {
            principal,
            auth: self.auth.clone(),
            action: self.action.clone(),
            purpose: self.purpose.clone(),
            subjects: vec![subject],
            fields_released: self.fields_released.clone(),
            fields_denied: self.fields_denied.clone(),
            outcome: self.outcome,
            reason: self.reason.clone(),
            request_id: request_id(rng, self.request_id_len),
            client: self.client.clone(),
        }
    }
}

/// A request id of `len` characters: UUID-shaped when 36, else hex.
fn request_id(rng: &mut SplitMix64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut bits = 0u64;
    let mut left = 0;
    for i in 0..len {
        if len == 36 && matches!(i, 8 | 13 | 18 | 23) {
            out.push('-');
            continue;
        }
        if left == 0 {
            bits = rng.next_u64();
            left = 16;
        }
        let _ = write!(out, "{:x}", bits & 0xf);
        bits >>= 4;
        left -= 1;
    }
    out
}

/// The name of principal `i` of [`PRINCIPALS`].
fn principal(i: usize) -> String {
    match i {
        0..650 => format!("rep-{:03}", i + 1),
        650..700 => format!("staff-{:03}", i - 650 + 1),
        700..900 => format!("volunteer-{:03}", i - 700 + 1),
        900..903 => format!("processor-{}", i - 900 + 1),
        _ => "admin".to_owned(),
    }
}

/// One append run.
#[derive(Debug, Clone)]
pub(crate) struct AppendRun {
    pub(crate) threads: usize,
    pub(crate) run: Run,
    /// Transactions (syncs) and events the writer committed over the whole
    /// run, warm-up included.
    pub(crate) transactions: u64,
    pub(crate) events: u64,
}

impl AppendRun {
    pub(crate) fn events_per_sync(&self) -> Option<f64> {
        (self.transactions > 0).then(|| self.events as f64 / self.transactions as f64)
    }
}

/// Latencies of one kind of proof.
#[derive(Debug, Clone)]
pub(crate) struct ProofFigures {
    pub(crate) count: usize,
    pub(crate) median_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) max_us: f64,
    pub(crate) mean_hashes: f64,
    /// All proofs checked out against the signed head's root.
    pub(crate) verified: bool,
}

/// Everything W5 measured.
#[derive(Debug, Clone)]
pub(crate) struct LedgerFigures {
    pub(crate) events: u64,
    pub(crate) template: String,
    pub(crate) populate_wall: Duration,
    pub(crate) populate_cpu: Option<Duration>,
    /// The bulk rate over each quarter of the log, in order.
    pub(crate) populate_quarters: Vec<f64>,
    pub(crate) db_bytes: u64,
    pub(crate) wal_bytes: u64,
    pub(crate) checkpoint_complete: bool,
    /// Bytes per table and index, from SQLite's `dbstat`, if available.
    pub(crate) tables: Vec<(String, u64)>,
    pub(crate) query_principal: String,
    pub(crate) query_matches: u64,
    pub(crate) query_first_ms: f64,
    pub(crate) query_ms: Vec<f64>,
    pub(crate) verify_wall: Duration,
    pub(crate) verify_events: u64,
    pub(crate) verify_heads: u64,
    pub(crate) verify_problem: Option<String>,
    pub(crate) inclusion: ProofFigures,
    pub(crate) consistency: ProofFigures,
    pub(crate) appends: Vec<AppendRun>,
}

impl LedgerFigures {
    pub(crate) fn populate_per_s(&self) -> f64 {
        per_s(self.events, self.populate_wall)
    }

    pub(crate) fn bytes_per_event(&self) -> f64 {
        (self.db_bytes + self.wal_bytes) as f64 / self.events.max(1) as f64
    }

    pub(crate) fn pass_storage(&self) -> bool {
        self.bytes_per_event() <= TARGET_BYTES_PER_EVENT
    }

    pub(crate) fn query_median_ms(&self) -> f64 {
        median(&self.query_ms)
    }

    pub(crate) fn pass_query(&self) -> bool {
        self.query_median_ms() <= TARGET_QUERY_MS && self.query_matches <= QUERY_MAX_MATCHES
    }

    pub(crate) fn verify_per_s(&self) -> f64 {
        per_s(self.verify_events, self.verify_wall)
    }

    /// The verify target scaled linearly to N events.
    pub(crate) fn verify_target_s(&self) -> f64 {
        TARGET_VERIFY_S_PER_10M * self.events as f64 / 10_000_000.0
    }

    /// The verify time scaled linearly to 10M events.
    pub(crate) fn verify_s_at_10m(&self) -> f64 {
        self.verify_wall.as_secs_f64() * 10_000_000.0 / self.events.max(1) as f64
    }

    pub(crate) fn pass_verify(&self) -> bool {
        self.verify_problem.is_none()
            && self.verify_events == self.events
            && self.verify_wall.as_secs_f64() <= self.verify_target_s()
    }

    pub(crate) fn pass_proof(proof: &ProofFigures) -> bool {
        proof.verified && proof.median_us <= TARGET_PROOF_MS * 1_000.0
    }

    /// The append run the target is judged at: the most threads.
    pub(crate) fn append_target_run(&self) -> Option<&AppendRun> {
        self.appends.iter().max_by_key(|a| a.threads)
    }

    pub(crate) fn pass_append(run: &AppendRun) -> bool {
        run.run.throughput() >= TARGET_APPENDS_PER_S && run.run.errors == 0
    }
}

pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// What a W5 run needs.
#[derive(Debug)]
pub(crate) struct Options<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) events: u64,
    pub(crate) members: u64,
    pub(crate) seed: u64,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) template: Template,
}

/// Where W5 keeps its ledger under the work dir.
pub(crate) fn ledger_path(work_dir: &Path) -> PathBuf {
    work_dir.join("ledger-bench").join("ledger.sqlite")
}

/// Runs W5.
pub(crate) fn run(options: &Options<'_>, log: &dyn Fn(&str)) -> anyhow::Result<LedgerFigures> {
    let n = options.events;
    anyhow::ensure!(
        n >= 1_000,
        "--ledger-events must be at least 1,000 (or 0 to skip)"
    );
    let path = ledger_path(options.dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let vault_id = VaultId::from_random(custos_crypto::random_bytes());
    let store: Arc<dyn LedgerStore> = Arc::new(SqliteLedger::create(
        &path,
        &vault_id,
        SqliteOptions::default(),
    )?);
    let recorder = Recorder::start(
        Arc::clone(&store),
        LedgerSigningKey::generate(),
        vault_id.clone(),
        HeadPolicy::default(),
    );
    let template = &options.template;
    let mut rng = SplitMix64::new(options.seed ^ 0x6c65_6467_6572);

    // 1. Populate. The queried principal gets every k-th event, so that the
    // middle 80% of the log holds just under 10,000 of them.
    let every = (n * 8 / 10).div_ceil(9_500).max(1);
    log(&format!(
        "W5: recording {n} events in batches of {POPULATE_BATCH} into {} …",
        path.display()
    ));
    let cpu_before = machine::cpu_time();
    let start = Instant::now();
    let mut seq = 0u64;
    let mut next_log = n / 4;
    // (events, elapsed) at each quarter, to show how appends slow as the
    // log grows.
    let mut marks = vec![(0u64, Duration::ZERO)];
    while seq < n {
        let count = (n - seq).min(POPULATE_BATCH as u64);
        let batch: Vec<NewEvent> = (seq..seq + count)
            .map(|i| {
                let who = if i % every == 0 {
                    principal(QUERIED)
                } else {
                    // Any principal but the queried one.
                    let other = rng.below(PRINCIPALS as u64 - 1) as usize;
                    principal(if other >= QUERIED { other + 1 } else { other })
                };
                template.event(who, &mut rng, options.members)
            })
            .collect();
        recorder.record_batch(batch)?;
        seq += count;
        if seq >= next_log && seq < n {
            let (before, then) = marks.last().copied().unwrap_or_default();
            let now = start.elapsed();
            log(&format!(
                "  {seq} events, the last {} at {:.0}/s",
                seq - before,
                per_s(seq - before, now.saturating_sub(then))
            ));
            marks.push((seq, now));
            next_log += n / 4;
        }
    }
    let populate_wall = start.elapsed();
    marks.push((n, populate_wall));
    let populate_quarters: Vec<f64> = marks
        .windows(2)
        .map(|w| per_s(w[1].0 - w[0].0, w[1].1.saturating_sub(w[0].1)))
        .collect();
    let populate_cpu = machine::cpu_since(cpu_before);
    log(&format!(
        "  {n} events in {:.2} s ({:.0}/s)",
        populate_wall.as_secs_f64(),
        per_s(n, populate_wall)
    ));
    let head = recorder.sign_head_now()?;
    anyhow::ensure!(
        head.head().size() == n,
        "the ledger holds {} events, expected {n}",
        head.head().size()
    );

    // 2. Storage.
    let (checkpoint_complete, tables) = checkpoint(&path)?;
    let db_bytes = file_len(&path);
    let wal_bytes = file_len(&sibling(&path, "-wal"));
    log(&format!(
        "  storage {:.1} B/event ({} + {} bytes of WAL)",
        (db_bytes + wal_bytes) as f64 / n as f64,
        db_bytes,
        wal_bytes
    ));

    // 3. The principal-and-time query.
    let time_of = |seq: u64| -> anyhow::Result<String> {
        Ok(store
            .event(seq)?
            .ok_or_else(|| anyhow::anyhow!("event {seq} is missing"))?
            .time)
    };
    let queried = principal(QUERIED);
    let query = EventQuery {
        principal: Some(queried.clone()),
        time_from: Some(time_of(n / 10)?),
        time_to: Some(time_of(n - n / 10)?),
        limit: EventQuery::MAX_LIMIT,
        ..EventQuery::default()
    };
    log(&format!(
        "W4/W5: querying one principal over a time window, {QUERY_RUNS} + 1 times …"
    ));
    let t0 = Instant::now();
    let first = store.query(&query)?;
    let query_first_ms = t0.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        !first.is_empty() && first.iter().all(|e| e.principal == queried),
        "the query returned {} events, not all of `{queried}`",
        first.len()
    );
    let query_matches = first.len() as u64;
    drop(first);
    let mut query_ms = Vec::with_capacity(QUERY_RUNS);
    for _ in 0..QUERY_RUNS {
        let t0 = Instant::now();
        let found = store.query(&query)?;
        query_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            found.len() as u64 == query_matches,
            "the query returned {} events, then {}",
            query_matches,
            found.len()
        );
    }
    log(&format!(
        "  {query_matches} matches, median {:.1} ms (first {query_first_ms:.1} ms)",
        median(&query_ms)
    ));

    // 4. Full verification.
    log(&format!("W5: verifying all {n} events …"));
    let public_key = recorder.public_key();
    let start = Instant::now();
    let report = verify_store(&*store, &vault_id, &public_key)
        .map_err(|e| anyhow::anyhow!("reading the ledger to verify it failed: {e}"))?;
    let verify_wall = start.elapsed();
    log(&format!(
        "  {} events and {} heads in {:.2} s{}",
        report.events_checked,
        report.heads_checked,
        verify_wall.as_secs_f64(),
        report
            .problem
            .as_ref()
            .map_or_else(String::new, |p| format!(": {p}"))
    ));

    // 5. Proofs against the head over the N events.
    log(&format!(
        "W5: {PROOFS} inclusion and {PROOFS} consistency proofs …"
    ));
    let source: &dyn LedgerStore = &*store;
    let root = *head.head().root();
    let mut samples = Vec::with_capacity(PROOFS);
    let mut hashes = 0usize;
    let mut verified = true;
    for _ in 0..PROOFS {
        let index = rng.below(n);
        let t0 = Instant::now();
        let proof = merkle::inclusion_proof(source, index, n)?;
        samples.push(nanos(t0));
        hashes += proof.len();
        let leaf: Hash = store.tree_leaf(index)?;
        verified &= merkle::verify_inclusion(&leaf, index, n, &proof, &root);
    }
    let inclusion = proof_figures(samples, hashes, verified);
    let mut samples = Vec::with_capacity(PROOFS);
    let mut hashes = 0usize;
    let mut verified = true;
    for _ in 0..PROOFS {
        let old = 1 + rng.below(n - 1);
        let t0 = Instant::now();
        let proof = merkle::consistency_proof(source, old, n)?;
        samples.push(nanos(t0));
        hashes += proof.len();
        let old_root = merkle::root(source, old)?;
        verified &= merkle::verify_consistency(old, n, &old_root, &root, &proof);
    }
    let consistency = proof_figures(samples, hashes, verified);
    log(&format!(
        "  inclusion median {:.0} µs, consistency median {:.0} µs{}",
        inclusion.median_us,
        consistency.median_us,
        if inclusion.verified && consistency.verified {
            ""
        } else {
            " (SOME DID NOT VERIFY)"
        }
    ));

    // 6. Appends through the group commit.
    let mut appends = Vec::new();
    for threads in APPEND_THREADS {
        log(&format!(
            "W5: appending from {threads} thread(s) for {} s …",
            options.duration.as_secs_f64()
        ));
        let before = recorder.stats();
        let run = appends_run(&recorder, options, threads, rng.next_u64())?;
        let after = recorder.stats();
        let append = AppendRun {
            threads,
            run,
            transactions: after.transactions - before.transactions,
            events: after.events - before.events,
        };
        log(&format!(
            "  {:.0} events/s, median {:.0} µs, p99 {:.0} µs, {:.1} events per sync",
            append.run.throughput(),
            append.run.median_us(),
            append.run.p99_us(),
            append.events_per_sync().unwrap_or(0.0)
        ));
        appends.push(append);
    }
    recorder.shutdown()?;
    drop(store);

    Ok(LedgerFigures {
        events: n,
        template: template.source.clone(),
        populate_wall,
        populate_cpu,
        populate_quarters,
        db_bytes,
        wal_bytes,
        checkpoint_complete,
        tables,
        query_principal: queried,
        query_matches,
        query_first_ms,
        query_ms,
        verify_wall,
        verify_events: report.events_checked,
        verify_heads: report.heads_checked,
        verify_problem: report.problem.map(|p| p.to_string()),
        inclusion,
        consistency,
        appends,
    })
}

fn nanos(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn proof_figures(mut samples: Vec<u64>, hashes: usize, verified: bool) -> ProofFigures {
    samples.sort_unstable();
    let us = |p| stats::percentile(&samples, p).unwrap_or(0) as f64 / 1_000.0;
    ProofFigures {
        count: samples.len(),
        median_us: us(stats::MEDIAN),
        p99_us: us(stats::P99),
        max_us: samples.last().copied().unwrap_or(0) as f64 / 1_000.0,
        mean_hashes: hashes as f64 / samples.len().max(1) as f64,
        verified,
    }
}

/// `threads` threads each recording one event at a time for the warm-up
/// and the measured window.
fn appends_run(
    recorder: &Recorder,
    options: &Options<'_>,
    threads: usize,
    seed: u64,
) -> anyhow::Result<Run> {
    let shape = Threads {
        count: threads,
        warmup: options.warmup,
        duration: options.duration,
        name: "bench-append",
        what: "an append thread",
        stack_size: Some(256 * 1024),
        samples_capacity: 1024,
    };
    threads::timed(&shape, &|t| {
        let mut rng = SplitMix64::new(seed ^ (t as u64).wrapping_mul(0x9e37));
        move || {
            let who = principal(rng.below(PRINCIPALS as u64) as usize);
            let event = options.template.event(who, &mut rng, options.members);
            recorder.record(event)
        }
    })
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Checkpoints the WAL into the database file and truncates it, through a
/// connection of its own; returns whether the checkpoint completed, and the
/// bytes per table and index if SQLite was built with `dbstat`.
fn checkpoint(path: &Path) -> anyhow::Result<(bool, Vec<(String, u64)>)> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let (busy, _log, _done): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let tables = conn
        .prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap_or_default();
    Ok((busy == 0, tables))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn principals_are_named_by_role() {
        assert_eq!(principal(0), "rep-001");
        assert_eq!(principal(649), "rep-650");
        assert_eq!(principal(650), "staff-001");
        assert_eq!(principal(699), "staff-050");
        assert_eq!(principal(700), "volunteer-001");
        assert_eq!(principal(899), "volunteer-200");
        assert_eq!(principal(900), "processor-1");
        assert_eq!(principal(902), "processor-3");
        assert_eq!(principal(903), "admin");
        assert_eq!(PRINCIPALS, 650 + 50 + 200 + 3 + 1);
        assert_eq!(principal(QUERIED), "staff-007");
    }

    #[test]
    fn request_ids_have_the_template_length() {
        let mut rng = SplitMix64::new(1);
        let uuid = request_id(&mut rng, 36);
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.matches('-').count(), 4);
        assert_eq!(&uuid[8..9], "-");
        assert_eq!(request_id(&mut rng, 16).len(), 16);
        assert!(
            request_id(&mut rng, 16)
                .chars()
                .all(|c| c.is_ascii_hexdigit())
        );
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn a_small_ledger_runs_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            dir: dir.path(),
            events: 5_000,
            members: 100,
            seed: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(50),
            template: Template::synthetic(),
        };
        let figures = run(&options, &|_| {}).unwrap();
        assert_eq!(figures.events, 5_000);
        assert_eq!(figures.verify_events, 5_000);
        assert!(figures.verify_problem.is_none());
        assert!(figures.verify_heads > 0);
        assert!(figures.inclusion.verified && figures.consistency.verified);
        assert!(figures.query_matches > 0 && figures.query_matches <= QUERY_MAX_MATCHES);
        assert!(figures.bytes_per_event() > 0.0);
        assert_eq!(figures.appends.len(), APPEND_THREADS.len());
    }
}
