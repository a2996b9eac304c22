//! The figures of one run, as a text table or as one JSON document.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::compare::{self, Comparison};
use crate::erase::EraseFigures;
use crate::floor::FloorBuild;
use crate::import::{ImportFigures, TARGET_PEAK_RSS_MB, TARGET_SECONDS_PER_MILLION};
use crate::incident::{
    self, ExportFigures, IncidentFigures, NoticeFigures, PrincipalFigures, ProcessorFigures, Timed,
};
use crate::ledger::{self, AppendRun, LedgerFigures, ProofFigures};
use crate::load::{self, LoadRun};
use crate::machine::Machine;
use crate::peer::PeerFigures;
use crate::policy::{self, PolicyFigures};
use crate::principals::SetupFigures;
use crate::read;
use crate::report_systems::{http_verdict, systems_note, update_verdict};
use crate::results::Build;
use crate::stats::Run;

/// PERFORMANCE.md: Custos imports at least 10× faster than the peer.
const GOAL_IMPORT_VS_PEER: f64 = 10.0;
/// Issue 3: the access path (recording, and now purpose, policy and the
/// re-check too) may cost at most 20% of the unaudited read rate.
pub(crate) const GOAL_AUDITED_VS_UNAUDITED: f64 = 0.8;

/// One workload measured audited and unaudited, side by side, at one
/// concurrency (threads or connections).
#[derive(Debug, Clone)]
pub(crate) struct Pair<T> {
    pub(crate) n: usize,
    pub(crate) audited: T,
    pub(crate) unaudited: T,
}

/// Everything one `custos bench` measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) members: u64,
    pub(crate) seconds: f64,
    pub(crate) quick: bool,
    pub(crate) seed: u64,
    pub(crate) import: ImportFigures,
    /// The standard principals' setup.
    pub(crate) principals: SetupFigures,
    /// W2's policy decision on its own.
    pub(crate) policy: PolicyFigures,
    /// The untimed warm-up of the decision cache.
    pub(crate) warm: Warm,
    /// In-process reads by thread count.
    pub(crate) reads: Vec<Pair<Run>>,
    /// W2 and W3 over HTTP: Custos, the peer and the floor by connection
    /// count.
    pub(crate) comparison: Comparison,
    /// The unaudited twin's HTTP reads, at the connections the access
    /// path's cost is judged at.
    pub(crate) http_unaudited: LoadRun,
    /// W3 in process, on the threads W2's target is judged at.
    pub(crate) update_in_process: Run,
    /// W6.
    pub(crate) erase: EraseFigures,
    /// The floor's table.
    pub(crate) floor: FloorBuild,
    /// The peer stack's figures, or why it was skipped.
    pub(crate) peer: Result<PeerFigures, String>,
    /// The build measured.
    pub(crate) build: Build,
    /// Events the vault's ledger gained during the read runs.
    pub(crate) recorded_by_reads: u64,
    /// W4's parts that were not skipped.
    pub(crate) incident: IncidentFigures,
    /// W5, unless skipped.
    pub(crate) ledger: Option<LedgerFigures>,
    pub(crate) server_threads: usize,
    pub(crate) client_threads: usize,
    pub(crate) total_seconds: f64,
    /// The 1-minute load average at the end of the run.
    pub(crate) load_average_after: Option<f64>,
}

/// The untimed audited reads that warmed the decision cache before the
/// runs, one per distinct decision.
#[derive(Debug, Clone)]
pub(crate) struct Warm {
    pub(crate) reads: usize,
    pub(crate) wall: std::time::Duration,
}

/// A target and whether it was met; no target means informational.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub(crate) target: Option<String>,
    pub(crate) pass: Option<bool>,
}

impl Verdict {
    pub(crate) fn none() -> Self {
        Self {
            target: None,
            pass: None,
        }
    }

    pub(crate) fn of(target: String, pass: bool) -> Self {
        Self {
            target: Some(target),
            pass: Some(pass),
        }
    }

    pub(crate) fn word(&self) -> &'static str {
        match self.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "-",
        }
    }
}

fn read_verdict(threads: usize, audited: bool, run: &Run) -> Verdict {
    match (audited, threads) {
        (true, read::AUDITED_TARGET_THREADS) => Verdict::of(
            format!(
                ">= {}/s (W2, 2 cores)",
                thousands(read::AUDITED_TARGET_PER_S)
            ),
            run.throughput() >= read::AUDITED_TARGET_PER_S && run.errors == 0,
        ),
        (false, 1) => Verdict::of(
            format!(
                ">= {}/s on one core (issue 2)",
                thousands(read::UNAUDITED_TARGET_PER_S)
            ),
            run.throughput() >= read::UNAUDITED_TARGET_PER_S && run.errors == 0,
        ),
        _ => Verdict::none(),
    }
}

/// The access path's cost is judged where reads run concurrently, as in a server:
/// HTTP at 64 connections and 64 threads in process.
fn cost_verdict(judged: bool, r: Option<f64>) -> Verdict {
    if !judged {
        return Verdict::none();
    }
    Verdict::of(
        format!(">= {GOAL_AUDITED_VS_UNAUDITED:.2}x"),
        r.is_some_and(|r| r >= GOAL_AUDITED_VS_UNAUDITED),
    )
}

fn decision_verdict(figures: &PolicyFigures) -> Verdict {
    Verdict::of(
        format!(
            "median <= {} µs per decision (field)",
            policy::TARGET_DECISION_US
        ),
        figures.pass(),
    )
}

fn import_verdict(import: &ImportFigures) -> Verdict {
    Verdict::of(
        format!(
            "<= {:.1} s, peak RSS <= {TARGET_PEAK_RSS_MB:.0} MB",
            import.target_seconds()
        ),
        import.pass(),
    )
}

fn append_verdict(figures: &LedgerFigures, run: &AppendRun) -> Verdict {
    let judged = figures
        .append_target_run()
        .is_some_and(|t| t.threads == run.threads);
    if !judged {
        return Verdict::none();
    }
    Verdict::of(
        format!(
            ">= {}/s (group commit)",
            thousands(ledger::TARGET_APPENDS_PER_S)
        ),
        LedgerFigures::pass_append(run),
    )
}

fn query_verdict(figures: &LedgerFigures) -> Verdict {
    Verdict::of(
        format!(
            "median <= {} ms, <= {} matches",
            ledger::TARGET_QUERY_MS,
            thousands(ledger::QUERY_MAX_MATCHES as f64)
        ),
        figures.pass_query(),
    )
}

fn verify_verdict(figures: &LedgerFigures) -> Verdict {
    Verdict::of(
        format!(
            "<= {:.2} s ({} s per 10M, linear)",
            figures.verify_target_s(),
            ledger::TARGET_VERIFY_S_PER_10M
        ),
        figures.pass_verify(),
    )
}

fn proof_verdict(proof: &ProofFigures) -> Verdict {
    Verdict::of(
        format!("median <= {} ms, verifies", ledger::TARGET_PROOF_MS),
        LedgerFigures::pass_proof(proof),
    )
}

fn storage_verdict(figures: &LedgerFigures) -> Verdict {
    Verdict::of(
        format!(
            "<= {} B/event, indexes incl.",
            ledger::TARGET_BYTES_PER_EVENT
        ),
        figures.pass_storage(),
    )
}

fn principal_verdict(p: &PrincipalFigures) -> Verdict {
    Verdict::of(
        format!(
            "median <= {} ms, <= {} events",
            incident::TARGET_PRINCIPAL_MS,
            thousands(incident::PRINCIPAL_MAX_MATCHES as f64)
        ),
        p.pass(incident::TARGET_PRINCIPAL_MS),
    )
}

fn principal_issue_verdict(p: &PrincipalFigures) -> Verdict {
    Verdict::of(
        format!(
            "median <= {} s (issue 5)",
            incident::ISSUE_PRINCIPAL_MS / 1e3
        ),
        p.pass(incident::ISSUE_PRINCIPAL_MS),
    )
}

fn processor_verdict(p: &ProcessorFigures) -> Verdict {
    Verdict::of(
        format!(
            "median <= {:.2} s ({} s/500k, linear)",
            p.target_s(incident::TARGET_PROCESSOR_S),
            incident::TARGET_PROCESSOR_S
        ),
        p.pass(incident::TARGET_PROCESSOR_S),
    )
}

fn notices_verdict(n: &NoticeFigures) -> Verdict {
    Verdict::of(
        format!(
            "<= {:.2} s ({} s/100k, linear)",
            n.target_s(),
            incident::TARGET_NOTICES_S
        ),
        n.pass(),
    )
}

fn met(pass: bool) -> &'static str {
    if pass { "met" } else { "missed" }
}

/// `1234567.8` → `1,234,568`.
pub(crate) fn thousands(x: f64) -> String {
    let n = x.round().max(0.0) as u64;
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A latency in microseconds, shown in µs below 10 ms and in ms above.
pub(crate) fn latency(us: f64) -> String {
    if us < 10_000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.1} ms", us / 1_000.0)
    }
}

pub(crate) fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

pub(crate) fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"))
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One access-path-cost comparison: key, label, concurrency, audited and
/// unaudited throughput, and whether the goal is judged there.
struct Cost {
    key: String,
    label: String,
    audited: f64,
    unaudited: f64,
    judged: bool,
}

impl Cost {
    fn ratio(&self) -> Option<f64> {
        ratio(self.audited, self.unaudited)
    }
}

impl Report {
    fn read_at(&self, threads: usize) -> Option<&Pair<Run>> {
        self.reads.iter().find(|p| p.n == threads)
    }

    fn http_at(&self, connections: usize) -> Option<&LoadRun> {
        compare::at(&self.comparison.read.custos, connections)
    }

    fn costs(&self) -> Vec<Cost> {
        let reads = self.reads.iter().map(|p| Cost {
            key: format!(
                "audited_vs_unaudited_in_process_{}_thread{}",
                p.n,
                plural(p.n)
            ),
            label: format!("in process, {} thread{}", p.n, plural(p.n)),
            audited: p.audited.throughput(),
            unaudited: p.unaudited.throughput(),
            judged: p.n == read::AUDITED_TARGET_THREADS,
        });
        let n = load::TARGET_CONNECTIONS;
        let http = std::iter::once(&self.http_unaudited)
            .zip(self.http_at(n))
            .map(|(unaudited, audited)| Cost {
                key: format!("audited_vs_unaudited_http_{n}_connections"),
                label: format!("HTTP, {n} connections"),
                audited: audited.run.throughput(),
                unaudited: unaudited.run.throughput(),
                judged: true,
            });
        reads.chain(http).collect()
    }

    pub(crate) fn ratios(&self) -> Vec<(String, String, Option<f64>)> {
        let audited = |p: Option<&Pair<Run>>| p.map_or(0.0, |p| p.audited.throughput());
        let http = |p: Option<&LoadRun>| p.map_or(0.0, |p| p.run.throughput());
        let read1 = audited(self.read_at(1));
        let read2 = audited(self.read_at(2));
        let read64 = audited(self.read_at(read::AUDITED_TARGET_THREADS));
        let plain1 = self.read_at(1).map_or(0.0, |p| p.unaudited.throughput());
        let http1 = http(self.http_at(1));
        let http64 = http(self.http_at(64));
        let mut out = vec![
            (
                "http64_vs_in_process_64_threads".to_owned(),
                "audited: HTTP at 64 connections / in process on 64 threads".to_owned(),
                ratio(http64, read64),
            ),
            (
                "in_process_2_vs_1_threads".to_owned(),
                "audited: in process, 2 threads / 1 thread".to_owned(),
                ratio(read2, read1),
            ),
            (
                "in_process_64_vs_1_threads".to_owned(),
                "audited: in process, 64 threads / 1 thread".to_owned(),
                ratio(read64, read1),
            ),
            (
                "http64_vs_http1".to_owned(),
                "audited: HTTP, 64 connections / 1 connection".to_owned(),
                ratio(http64, http1),
            ),
            (
                "import_vs_target".to_owned(),
                "import speed / target speed (>= 1 passes)".to_owned(),
                ratio(self.import.target_seconds(), self.import.wall.as_secs_f64()),
            ),
            (
                "in_process_64_threads_vs_target".to_owned(),
                "audited in process on 64 threads / W2 target (>= 1 passes)".to_owned(),
                ratio(read64, read::AUDITED_TARGET_PER_S),
            ),
            (
                "unaudited_in_process_1_thread_vs_target".to_owned(),
                "unaudited in process on 1 thread / issue 2's get-and-decrypt target (>= 1 passes)"
                    .to_owned(),
                ratio(plain1, read::UNAUDITED_TARGET_PER_S),
            ),
            (
                "http64_vs_target".to_owned(),
                "audited HTTP at 64 connections / W2 target (>= 1 passes)".to_owned(),
                ratio(http64, load::TARGET_PER_S),
            ),
            (
                "import_vs_peer".to_owned(),
                format!(
                    "import rows/s / the peer's, measured in this run (goal >= {GOAL_IMPORT_VS_PEER}x)"
                ),
                self.peer
                    .as_ref()
                    .ok()
                    .and_then(|p| ratio(self.import.rows_per_s(), p.import.rows_per_s())),
            ),
            (
                "import_vs_floor".to_owned(),
                "import rows/s / the floor's plain table load (no keys, no ledger)".to_owned(),
                ratio(self.import.rows_per_s(), self.floor.rows_per_s()),
            ),
        ];
        if let Some(l) = &self.ledger {
            let appends = l.append_target_run().map_or(0.0, |a| a.run.throughput());
            out.push((
                "ledger_appends_vs_target".to_owned(),
                format!(
                    "ledger appends at {} threads / W5 target (>= 1 passes)",
                    l.append_target_run().map_or(0, |a| a.threads)
                ),
                ratio(appends, ledger::TARGET_APPENDS_PER_S),
            ));
            out.push((
                "ledger_verify_vs_target".to_owned(),
                "ledger verify speed / target speed (>= 1 passes)".to_owned(),
                ratio(l.verify_target_s(), l.verify_wall.as_secs_f64()),
            ));
            out.push((
                "ledger_storage_vs_target".to_owned(),
                "ledger bytes per event / target (<= 1 passes)".to_owned(),
                ratio(l.bytes_per_event(), ledger::TARGET_BYTES_PER_EVENT),
            ));
        }
        out
    }

    fn counted_reads(&self) -> u64 {
        self.reads.iter().map(|p| p.audited.ops).sum::<u64>()
            + self
                .comparison
                .read
                .custos
                .iter()
                .map(|(_, r)| r.run.ops)
                .sum::<u64>()
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            "Audited reads (W2) are what PERFORMANCE.md defines: a representative reads 10 fields of a random member of their own constituency, declaring purpose casework. In process each is Vault::read_subject with Caller::with_token(the representative's API token).with_purpose(casework); over HTTP each GET carries that token and ?purpose=casework. So every audited row includes authentication (token digest, the access-generation read, principal and token standing), the purpose check, the per-field Cedar decision (from the decision cache after the first request with the same inputs; see the policy rows), one durable ledger event through the group-commit recorder (one fdatasync shared by every read waiting at that moment), the re-check of principal and token at release, then the data-key unwrap and decryption. One reader can go no faster than the disk syncs; concurrency is what lets reads share syncs, so W2's in-process target and the access-path-cost goal are judged at 64 threads and 64 connections. A read with any field denied would count as an error; the checks before the runs fail the bench if the default policies deny any of the ten fields.".to_owned(),
            format!(
                "The policy rows time one decision single-threaded outside the vault: Policies::default_for(the default party schema), {} prepared principals (650 representatives, 200 volunteers, 50 staff, 100 processors and services) and {} synthetic members. The request is one whole W2 read, a representative's 10-field casework read of a member of their constituency; decisions are field by field, so Cedar decides it in {} evaluations, and one decision (one field) is that median / {}. Uncached is decide_uncached (a cache miss: entities, contexts, the rules that could apply to this principal and action, and {} Cedar evaluations); cached is decide after every request was decided once (the cache key, a lock and a map lookup), which is what nearly every audited read above pays. The 20 µs target is judged on one uncached decision, the median per field; the whole request's median is shown beside it.",
                thousands(self.policy.principals as f64),
                thousands(self.policy.subjects as f64),
                self.policy.fields,
                self.policy.fields,
                self.policy.fields
            ),
            format!(
                "Before the timed runs, {} untimed audited reads on {} threads ({:.2} s) warmed the decision cache: one per distinct combination of what the default policies read for this request (the representative, and the member's constituency, branch and consent_phone), so the runs measure the steady state of a server that has been up a while. A cache miss costs the uncached decision above; every change to any principal moves the access generation, which is part of every principal's cache key, so after any such change each decision misses once more.",
                thousands(self.warm.reads as f64),
                read::AUDITED_TARGET_THREADS,
                self.warm.wall.as_secs_f64()
            ),
            format!(
                "The standard principals ({} principals plus the admin from init, {} of them representatives, each with an API token) were made after the import through Vault::add_principal and Vault::create_token as the local operator, one call at a time; every add moves the access generation, so the next call reloads every principal (the adds came first, so the reload shows in their times: median {} for the first {} adds, {} for the last {}). Each call also records one durable ledger event. Not a PERFORMANCE.md target; informational.",
                thousands(self.principals.principals as f64),
                thousands(self.principals.representatives as f64),
                latency(self.principals.add_first_median_us),
                self.principals.ends(),
                latency(self.principals.add_last_median_us),
                self.principals.ends()
            ),
            format!(
                "Unaudited reads are the same work without the ledger, assembled in the bench from public parts because the engine has no unaudited path (decryption needs a Recorded proof): a second custos_store::SqliteStore on the vault's store.sqlite, the vault keys unsealed with custos_crypto::Keyring::open and the master key file, then the same field selection, fetch, data-key unwrap and decryption. Its output was checked equal to Vault::read_subject's (by the member's representative) for {} members. In process it checks no token, purpose or policy and records nothing. The unaudited HTTP server is the same GET route, fed the same paths and tokens, behind the same middleware (request id, trace, timeout), blocking pool and JSON rendering as custos_server::app, and it checks the token (Vault::whoami, which authenticates and records nothing on success); it leaves out the purpose, the policy decision, the ledger, the re-check at release and the engine's error mapping. So in process the ratio prices authentication, authorization and recording together; over HTTP it prices everything but authentication.",
                crate::BASELINE_CHECKS
            ),
            format!(
                "The vault's ledger gained {} events during the read runs, for {} audited reads counted in the measured windows (warm-ups, checks and reads at the window edges are recorded too).",
                thousands(self.recorded_by_reads as f64),
                thousands(self.counted_reads() as f64)
            ),
            format!(
                "The HTTP load generator runs in this process on its own runtime ({} thread{}) and shares the machine's {} cores with the server ({} runtime workers plus its blocking pool), so HTTP figures understate what a separate client machine would see.",
                self.client_threads,
                plural(self.client_threads),
                self.machine.nproc,
                self.server_threads
            ),
            format!(
                "The import time target is scaled linearly from {TARGET_SECONDS_PER_MILLION} s per 1,000,000 members to {:.2} s for {}.",
                self.import.target_seconds(),
                thousands(self.members as f64)
            ),
            systems_note(&compare::CONNECTIONS),
            "The unaudited figures keep encryption, and over HTTP the token check; the unaudited twin is measured over HTTP only at the connection count where the access path's cost is judged.".to_owned(),
            format!(
                "W3 updates two fields (email and phone) of a random member, each by one of the {} staff of the membership team with their own token, declaring membership_admin; in process through Vault::update_subject, over HTTP as PATCH /v1/subjects/ID?purpose=membership_admin. Each is authenticated, validated, decided per field, recorded durably before the change, re-checked, then sealed and written. One update was applied and read back before the runs.",
                crate::principals::STAFF
            ),
            "cores busy = process CPU time (all threads, /proc/self/stat) / wall time of the run; it counts the bench process, which holds Custos, the floor and the load generator, so on the peer rows it counts only the load generator (PostgreSQL runs in processes of its own).".to_owned(),
            format!(
                "1-minute load average before the run {}, after it {} (this bench alone adds up to {}; more means other work shared the cores).",
                load_text(self.machine.load_average_before),
                load_text(self.load_average_after),
                self.machine.nproc
            ),
        ];
        if let Some(g) = &self.policy.generation_read {
            notes.push(format!(
                "The access-generation read is one SELECT of the store's counter on a second connection to store.sqlite, timed {} times single-threaded (median {}, p99 {}); an audited read makes it twice, at authentication and again at the re-check at release, next to the one read of the subject that the unaudited read makes too.",
                thousands(g.count as f64),
                latency(g.median_us()),
                latency(g.p99_us())
            ));
        }
        self.incident_notes(&mut notes);
        if let Some(l) = &self.ledger {
            notes.push(format!(
                "W5 ran on a fresh ledger of its own (custos_store::SqliteLedger and custos_ledger::Recorder with a generated signing key and the default head policy: a signed head every 4,096 events or 250 ms), filled with {} events shaped like {}, spread over 904 principals (650 representatives, 50 staff, 200 volunteers, 3 processors, 1 admin) and the members' ids.",
                thousands(l.events as f64),
                l.template
            ));
            notes.push(format!(
                "The query asks for principal `{}` over the middle 80% of the log's time; that principal was given every k-th event so that it matches just under 10,000 events at any N. Its cost grows with the matches and with the depth of the principal index, not with N itself, but at 10M events the ledger (about {:.1} GB at this size per event) may no longer sit in the page cache, so the figure here is a lower bound for 10M.",
                l.query_principal,
                l.bytes_per_event() * 1e7 / 1e9
            ));
            notes.push(format!(
                "Verify reads every event in pages of 10,000 from events(), recomputes each leaf hash and the tree, and checks every stored head; its target is scaled linearly from {} s per 10M events; at this speed 10M events would take {:.1} s.",
                ledger::TARGET_VERIFY_S_PER_10M,
                l.verify_s_at_10m()
            ));
            notes.push(
                "Appends were measured after the query, verify and proofs, on top of the N events, each thread recording one event at a time and waiting for its commit; events per sync counts the whole run, warm-up included.".to_owned(),
            );
            if !l.checkpoint_complete {
                notes.push("The WAL checkpoint before the storage figure did not complete (a reader held it), so the WAL is counted as it was.".to_owned());
            }
            if l.tables.is_empty() {
                notes.push("SQLite's dbstat table is not available in this build, so storage is not broken down by table.".to_owned());
            }
        }
        if let Some(e) = &self.import.rss_reset_error {
            notes.push(format!(
                "{e}: the peak RSS includes everything before the import."
            ));
        }
        notes
    }

    /// The machine in one phrase: cores, CPU, memory and fdatasync rate.
    pub(crate) fn machine_text(&self) -> String {
        let m = &self.machine;
        format!(
            "{} cores, {}, {} MB RAM; fdatasync {}/s ({:.0} µs each)",
            m.nproc,
            m.cpu_model,
            m.memory_total_mb
                .map_or_else(|| "?".to_owned(), |mb| thousands(mb as f64)),
            thousands(m.fdatasync_per_s),
            m.fdatasync_mean_us,
        )
    }

    /// The human-readable report.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "\ncustos bench: {} members, {} s per run{}, seed {}",
            thousands(self.members as f64),
            self.seconds,
            if self.quick { " (--quick)" } else { "" },
            self.seed
        );
        let _ = writeln!(out, "machine: {} in {}", self.machine_text(), m.work_dir);
        let i = &self.import;
        let _ = writeln!(
            out,
            "data: CSV of {:.1} MB generated in {:.2} s (not timed); store files (with the WAL) {:.1} MB after the import",
            i.csv_bytes as f64 / 1e6,
            i.csv_seconds,
            i.store_bytes as f64 / 1e6
        );
        let _ = writeln!(out);
        header(&mut out);
        let v = import_verdict(i);
        line(
            &mut out,
            &format!("W1 import, {} rows", thousands(i.members as f64)),
            &format!("{} rows/s", thousands(i.rows_per_s())),
            "-",
            "-",
            &cores(
                i.cpu
                    .map(|c| c.as_secs_f64() / i.wall.as_secs_f64().max(1e-9)),
            ),
            &v,
            &format!(
                " ({:.2} s, peak RSS {})",
                i.wall.as_secs_f64(),
                i.peak_rss_mb
                    .map_or_else(|| "unknown".to_owned(), |mb| format!("{mb:.0} MB"))
            ),
        );
        self.setup_and_policy_rows(&mut out);
        for p in &self.reads {
            let s = plural(p.n);
            row(
                &mut out,
                &format!("W2 read in process, {} thread{s}", p.n),
                &p.audited,
                &read_verdict(p.n, true, &p.audited),
            );
            row(
                &mut out,
                &format!("   unaudited, {} thread{s}", p.n),
                &p.unaudited,
                &read_verdict(p.n, false, &p.unaudited),
            );
        }
        self.comparison_rows(&mut out);
        self.incident_rows(&mut out);
        if let Some(l) = &self.ledger {
            self.ledger_rows(&mut out, l);
        }
        let _ = writeln!(out);
        let phases = match (i.validated_after, i.written_after) {
            (Some(validated), Some(written)) => format!(
                "validate {:.2} s, seal+insert {:.2} s, commit {:.2} s",
                validated.as_secs_f64(),
                written.saturating_sub(validated).as_secs_f64(),
                i.wall.saturating_sub(written).as_secs_f64()
            ),
            _ => "phases unknown".to_owned(),
        };
        let _ = writeln!(
            out,
            "import phases: {phases}; RSS before the import {}",
            i.rss_before_mb
                .map_or_else(|| "unknown".to_owned(), |mb| format!("{mb:.0} MB"))
        );
        if let Some((_, p)) = self.comparison.read.custos.first() {
            let _ = writeln!(
                out,
                "HTTP response body: {:.0} bytes on average (floor: {})",
                p.mean_body_bytes,
                self.comparison.read.floor.first().map_or_else(
                    || "-".to_owned(),
                    |(_, f)| format!("{:.0}", f.mean_body_bytes)
                )
            );
        }
        self.incident_details(&mut out);
        if let Some(l) = &self.ledger {
            self.ledger_details(&mut out, l);
        }
        self.errors(&mut out);

        let _ = writeln!(
            out,
            "\nwhat the access path costs: audited / unaudited reads per second, side by side in this run (goal >= {GOAL_AUDITED_VS_UNAUDITED:.2}x, i.e. it costs < 20%, judged where reads run concurrently; in process it prices authentication, purpose, policy, ledger and re-check; over HTTP all but authentication):"
        );
        for c in self.costs() {
            let v = cost_verdict(c.judged, c.ratio());
            let _ = writeln!(
                out,
                "  {:<26} {:>7}  ({}/s vs {}/s){}",
                format!("{}:", c.label),
                ratio_text(c.ratio()),
                thousands(c.audited),
                thousands(c.unaudited),
                match v.pass {
                    Some(_) => format!("  {}", v.word()),
                    None => String::new(),
                }
            );
        }
        let _ = writeln!(
            out,
            "\nratios (measured side by side in this run unless said otherwise):"
        );
        for (_, label, r) in self.ratios() {
            let _ = writeln!(out, "  {label}: {}", ratio_text(r));
        }
        let _ = writeln!(out, "\nnotes:");
        for note in self.notes() {
            let _ = writeln!(out, "  - {note}");
        }
        let _ = writeln!(out, "\ntotal bench time {:.1} s", self.total_seconds);
        out
    }

    fn setup_and_policy_rows(&self, out: &mut String) {
        let p = &self.principals;
        line(
            out,
            &format!(
                "setup, {} principals + tokens",
                thousands(p.principals as f64)
            ),
            &format!(
                "{}/s",
                thousands(p.principals as f64 / p.wall.as_secs_f64().max(1e-9))
            ),
            &latency(p.add_last_median_us),
            "-",
            "-",
            &Verdict::none(),
            &format!(
                " ({:.2} s: adds {:.2} s, first {} median {}; tokens {:.2} s, median {})",
                p.wall.as_secs_f64(),
                p.add_wall.as_secs_f64(),
                p.ends(),
                latency(p.add_first_median_us),
                p.token_wall.as_secs_f64(),
                latency(p.token_median_us)
            ),
        );
        let d = &self.policy;
        line(
            out,
            "W2 policy decision, uncached",
            "-",
            &latency(d.uncached_per_field_us()),
            "-",
            "-",
            &decision_verdict(d),
            &format!(
                " (one field; the whole {}-field request: median {}, p99 {}; {} requests, {} principals)",
                d.fields,
                latency(d.uncached.median_us()),
                latency(d.uncached.p99_us()),
                thousands(d.uncached.count as f64),
                thousands(d.principals as f64)
            ),
        );
        line(
            out,
            "   cached",
            "-",
            &latency(d.cached.median_us()),
            &latency(d.cached.p99_us()),
            "-",
            &Verdict::none(),
            &format!(
                " ({} decisions over {} distinct requests)",
                thousands(d.cached.count as f64),
                thousands(d.cached_requests as f64)
            ),
        );
        if let Some(g) = &d.generation_read {
            line(
                out,
                "   access-generation read",
                "-",
                &latency(g.median_us()),
                &latency(g.p99_us()),
                "-",
                &Verdict::none(),
                &format!(" ({} reads)", thousands(g.count as f64)),
            );
        }
    }

    fn incident_rows(&self, out: &mut String) {
        let w = &self.incident;
        if let Some(p) = &w.principal {
            let i = &p.incident;
            line(
                out,
                "W4a exposure, principal + window",
                "-",
                &latency(i.median_ms() * 1e3),
                "-",
                "-",
                &principal_verdict(p),
                &format!(
                    " ({} people in {} events, of {} in the ledger; opening {}; stretch <= {} ms: {})",
                    thousands(i.subjects as f64),
                    thousands(i.events as f64),
                    thousands(p.ledger_size as f64),
                    latency(i.open_ms * 1e3),
                    incident::STRETCH_PRINCIPAL_MS,
                    met(p.pass(incident::STRETCH_PRINCIPAL_MS))
                ),
            );
            line(
                out,
                "   the same, issue 5's target",
                "-",
                &latency(i.median_ms() * 1e3),
                "-",
                "-",
                &principal_issue_verdict(p),
                "",
            );
            line(
                out,
                "W4a append to the vault's ledger",
                &format!("{}/s", thousands(p.populate_per_s())),
                "-",
                "-",
                "-",
                &Verdict::none(),
                &format!(
                    " ({} events in {:.2} s, batches of {})",
                    thousands(p.appended as f64),
                    p.populate_wall.as_secs_f64(),
                    p.batch
                ),
            );
        }
        if let Some(p) = &w.processor {
            export_row(out, "W4b export to a processor", &p.export);
            let i = &p.incident;
            line(
                out,
                "W4b exposure, processor scope",
                "-",
                &latency(i.median_ms() * 1e3),
                "-",
                "-",
                &processor_verdict(p),
                &format!(
                    " ({} people in {} events; opening {}; stretch <= {:.2} s: {})",
                    thousands(i.subjects as f64),
                    thousands(i.events as f64),
                    latency(i.open_ms * 1e3),
                    p.target_s(incident::STRETCH_PROCESSOR_S),
                    met(p.pass(incident::STRETCH_PROCESSOR_S))
                ),
            );
        }
        if let Some(n) = &w.notices {
            export_row(out, "W4 export for the notices", &n.export);
            line(
                out,
                &format!("W4 notices, {} people", thousands(n.written as f64)),
                &format!("{}/s", thousands(n.per_s())),
                "-",
                "-",
                "-",
                &notices_verdict(n),
                &format!(
                    " ({:.2} s: letters and mail merge, {:.1} MB)",
                    n.wall.as_secs_f64(),
                    n.bytes as f64 / 1e6
                ),
            );
        }
    }

    fn incident_details(&self, out: &mut String) {
        let runs = |i: &Timed| -> Vec<String> {
            i.report_ms.iter().map(|&ms| latency(ms * 1e3)).collect()
        };
        let w = &self.incident;
        if let Some(p) = &w.principal {
            list_line(
                out,
                &format!("W4a scope {}; reports", p.incident.scope),
                runs(&p.incident).into_iter(),
            );
        }
        if let Some(p) = &w.processor {
            list_line(
                out,
                &format!(
                    "W4b scope {} (export {} and the reads of its principal processor-1); reports",
                    p.incident.scope, p.export.id
                ),
                runs(&p.incident).into_iter(),
            );
        }
        if let Some(n) = &w.notices {
            let _ = writeln!(
                out,
                "W4 notices of {} (scope export:{}): {} written, {} not permitted, {} erased since, {} with no address",
                n.incident,
                n.export.id,
                thousands(n.written as f64),
                thousands(n.not_permitted as f64),
                thousands(n.erased as f64),
                thousands(n.unreachable as f64)
            );
        }
    }

    fn incident_notes(&self, notes: &mut Vec<String>) {
        let w = &self.incident;
        if w.principal.is_none() && w.processor.is_none() && w.notices.is_none() {
            return;
        }
        notes.push("W4 runs through the engine on the vault measured above, as the local operator: each incident is opened with Vault::open_incident (aware now), which computes its exposure from the vault's ledger and the export manifests, then Vault::incident_report, which computes it again with the rest of the Art. 33 report, is timed 5 times; the median is judged. The opening is shown for information.".to_owned());
        if let Some(p) = &w.principal {
            notes.push(format!(
                "W4a appended {} synthetic reads to the vault's own ledger (the same SQLite file, through LedgerStore::append as a second writer would: events, leaf hashes and tree nodes, no head, so the vault's next signed head covers them and the ledger verifies), shaped like the last audited HTTP read, each by one of the vault's 904 principals (`staff-007` was given every k-th, so that the middle 80% of them holds just under 10,000) about a random member. Event times are the real clock at each batch, so the window is the middle 80% of the append's wall time. The cost grows with the matching events and the depth of the principal index rather than with the ledger's size, but PERFORMANCE.md's figure is for a 10M-event ledger{}.",
                thousands(p.appended as f64),
                if p.ledger_size < 10_000_000 {
                    format!(
                        "; this one held {}, so the figure is a lower bound for 10M",
                        thousands(p.ledger_size as f64)
                    )
                } else {
                    String::new()
                }
            ));
        }
        if w.processor.is_some() || w.notices.is_some() {
            notes.push(format!(
                "Exports go through Vault::export_to_processor declaring membership_admin, {} fields ({}) of members chosen by id and spread over the vault, to a CSV file under the work dir, with the default canaries; W4b's target is scaled linearly from {} s per 500,000 subjects. The notices' incident is scoped to their own export to a second processor; Vault::incident_notices (declaring breach_notification) computes its exposure, then decides, records and decrypts each page of names and contact details, and the bench's sink writes one file per letter (0600, created new) and the mail-merge CSV, as `custos incident notices` does, timed from the call to the mail merge's flush; its target is scaled linearly from {} s per 100,000 people.",
                incident::EXPORT_FIELDS.len(),
                incident::EXPORT_FIELDS.join(", "),
                incident::TARGET_PROCESSOR_S,
                incident::TARGET_NOTICES_S
            ));
        }
    }

    fn ledger_rows(&self, out: &mut String, l: &LedgerFigures) {
        for a in &l.appends {
            let extra = a
                .events_per_sync()
                .map_or_else(String::new, |e| format!(" ({e:.1} events/sync)"));
            row_extra(
                out,
                &format!("W5 append, {} thread{}", a.threads, plural(a.threads)),
                &a.run,
                &append_verdict(l, a),
                &extra,
            );
        }
        line(
            out,
            "W5 bulk append, batches of 4096",
            &format!("{}/s", thousands(l.populate_per_s())),
            "-",
            "-",
            &cores(
                l.populate_cpu
                    .map(|c| c.as_secs_f64() / l.populate_wall.as_secs_f64().max(1e-9)),
            ),
            &Verdict::none(),
            &format!(
                " ({} events in {:.2} s)",
                thousands(l.events as f64),
                l.populate_wall.as_secs_f64()
            ),
        );
        line(
            out,
            "W4 query, principal + time",
            "-",
            &latency(l.query_median_ms() * 1e3),
            "-",
            "-",
            &query_verdict(l),
            &format!(
                " ({} matches of {} events; first run {})",
                thousands(l.query_matches as f64),
                thousands(l.events as f64),
                latency(l.query_first_ms * 1e3)
            ),
        );
        line(
            out,
            &format!("W5 verify, {} events", thousands(l.events as f64)),
            &format!("{}/s", thousands(l.verify_per_s())),
            &format!("{:.2} s", l.verify_wall.as_secs_f64()),
            "-",
            "-",
            &verify_verdict(l),
            &format!(" ({:.1} s at 10M)", l.verify_s_at_10m()),
        );
        for (label, proof) in [
            ("W5 inclusion proof", &l.inclusion),
            ("W5 consistency proof", &l.consistency),
        ] {
            line(
                out,
                label,
                "-",
                &latency(proof.median_us),
                &latency(proof.p99_us),
                "-",
                &proof_verdict(proof),
                &format!(
                    " ({} proofs, {:.1} hashes each)",
                    proof.count, proof.mean_hashes
                ),
            );
        }
        line(
            out,
            "W5 storage",
            &format!("{:.1} B/event", l.bytes_per_event()),
            "-",
            "-",
            "-",
            &storage_verdict(l),
            &format!(" ({:.1} MB)", (l.db_bytes + l.wal_bytes) as f64 / 1e6),
        );
    }

    fn ledger_details(&self, out: &mut String, l: &LedgerFigures) {
        list_line(
            out,
            "W5 bulk append rate by quarter of the log, first to last",
            l.populate_quarters
                .iter()
                .map(|&r| format!("{}/s", thousands(r))),
        );
        let _ = writeln!(
            out,
            "W5 storage after a checkpoint: ledger.sqlite {} bytes + WAL {} bytes for {} events",
            thousands(l.db_bytes as f64),
            thousands(l.wal_bytes as f64),
            thousands(l.events as f64)
        );
        if !l.tables.is_empty() {
            list_line(
                out,
                "W5 storage by table and index, bytes per event (pages, free space included)",
                l.tables.iter().map(|(name, bytes)| {
                    format!("{name} {:.1}", *bytes as f64 / l.events.max(1) as f64)
                }),
            );
        }
        let _ = writeln!(
            out,
            "W5 verify: {} events and {} signed heads checked{}",
            thousands(l.verify_events as f64),
            thousands(l.verify_heads as f64),
            l.verify_problem.as_ref().map_or_else(
                || ", no problem found".to_owned(),
                |p| format!("; PROBLEM: {p}")
            )
        );
    }

    fn errors(&self, out: &mut String) {
        let runs = self
            .reads
            .iter()
            .flat_map(|p| {
                let s = plural(p.n);
                [
                    (format!("in process, {} thread{s}", p.n), &p.audited),
                    (
                        format!("unaudited in process, {} thread{s}", p.n),
                        &p.unaudited,
                    ),
                ]
            })
            .chain(std::iter::once((
                "W3 in process".to_owned(),
                &self.update_in_process,
            )))
            .chain(std::iter::once((
                "unaudited HTTP".to_owned(),
                &self.http_unaudited.run,
            )))
            .chain(self.comparison.labelled_runs())
            .chain(self.ledger.iter().flat_map(|l| {
                l.appends.iter().map(|a| {
                    (
                        format!("ledger appends, {} thread{}", a.threads, plural(a.threads)),
                        &a.run,
                    )
                })
            }));
        for (label, run) in runs {
            if run.errors > 0 {
                let _ = writeln!(
                    out,
                    "errors in {label}: {} (first: {})",
                    run.errors,
                    run.first_error.as_deref().unwrap_or("?")
                );
            }
        }
    }

    /// The JSON document.
    pub(crate) fn json(&self) -> Value {
        let m = &self.machine;
        let i = &self.import;
        let iv = import_verdict(i);
        let reads: Vec<Value> = self
            .reads
            .iter()
            .map(|p| {
                let mut v = run_json(&p.audited, &read_verdict(p.n, true, &p.audited));
                v["threads"] = json!(p.n);
                v
            })
            .collect();
        let unaudited_reads: Vec<Value> = self
            .reads
            .iter()
            .map(|p| {
                let mut v = run_json(&p.unaudited, &read_verdict(p.n, false, &p.unaudited));
                v["threads"] = json!(p.n);
                v
            })
            .collect();
        let http_json = |n: usize, load: &LoadRun, audited: bool| {
            let verdict = if audited {
                http_verdict(n, &load.run)
            } else {
                Verdict::none()
            };
            let mut v = run_json(&load.run, &verdict);
            v["connections"] = json!(n);
            v["mean_body_bytes"] = json!(load.mean_body_bytes.round());
            v
        };
        let http: Vec<Value> = self
            .comparison
            .read
            .custos
            .iter()
            .map(|(n, r)| http_json(*n, r, true))
            .collect();
        let unaudited_http = vec![http_json(
            load::TARGET_CONNECTIONS,
            &self.http_unaudited,
            false,
        )];
        let updates: Vec<Value> = self
            .comparison
            .update
            .custos
            .iter()
            .map(|(n, r)| {
                let mut v = run_json(&r.run, &update_verdict(*n, &r.run));
                v["connections"] = json!(n);
                v
            })
            .collect();
        let costs: serde_json::Map<String, Value> = self
            .costs()
            .into_iter()
            .map(|c| {
                let v = cost_verdict(c.judged, c.ratio());
                (
                    c.key.clone(),
                    json!({
                        "audited_per_s": c.audited.round(),
                        "unaudited_per_s": c.unaudited.round(),
                        "ratio": c.ratio().map(round2),
                        "goal": v.target,
                        "pass": v.pass,
                    }),
                )
            })
            .collect();
        let ratios: serde_json::Map<String, Value> = self
            .ratios()
            .into_iter()
            .map(|(key, _, r)| (key, json!(r.map(round2))))
            .collect();
        let mut doc = json!({
            "machine": {
                "nproc": m.nproc,
                "cpu_model": m.cpu_model,
                "memory_total_mb": m.memory_total_mb,
                "work_dir": m.work_dir,
                "fdatasync_per_s": m.fdatasync_per_s.round(),
                "fdatasync_mean_us": round2(m.fdatasync_mean_us),
                "load_average_before": m.load_average_before,
                "load_average_after": self.load_average_after,
            },
            "dataset": {
                "members": self.members,
                "ledger_events": self.ledger.as_ref().map(|l| l.events),
                "exposure_events": self.incident.principal.as_ref().map(|p| p.appended),
                "processor_subjects": self.incident.processor.as_ref().map(|p| p.export.rows),
                "notices": self.incident.notices.as_ref().map(|n| n.written),
                "seconds_per_run": self.seconds,
                "quick": self.quick,
                "seed": self.seed,
                "csv_bytes": i.csv_bytes,
                "csv_generation_s": round2(i.csv_seconds),
            },
            "import": {
                "rows": i.members,
                "wall_s": i.wall.as_secs_f64(),
                "throughput_per_s": i.rows_per_s().round(),
                "median_us": null,
                "p99_us": null,
                "validate_s": i.validated_after.map(|d| d.as_secs_f64()),
                "seal_and_insert_s": match (i.validated_after, i.written_after) {
                    (Some(v), Some(w)) => Some(w.saturating_sub(v).as_secs_f64()),
                    _ => None,
                },
                "commit_s": i.written_after.map(|w| i.wall.saturating_sub(w).as_secs_f64()),
                "cpu_s": i.cpu.map(|c| c.as_secs_f64()),
                "rss_before_mb": i.rss_before_mb.map(round2),
                "peak_rss_mb": i.peak_rss_mb.map(round2),
                "peak_rss_reset": i.rss_reset_error.is_none(),
                "peak_rss_reset_error": i.rss_reset_error,
                "store_bytes": i.store_bytes,
                "target": iv.target,
                "target_s": i.target_seconds(),
                "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
                "pass_time": i.pass_time(),
                "pass_rss": i.pass_rss(),
                "pass": iv.pass,
            },
            "principals_setup": {
                "principals": self.principals.principals,
                "representatives": self.principals.representatives,
                "tokens": self.principals.tokens,
                "wall_s": self.principals.wall.as_secs_f64(),
                "add_wall_s": self.principals.add_wall.as_secs_f64(),
                "token_wall_s": self.principals.token_wall.as_secs_f64(),
                "add_calls_compared": self.principals.ends(),
                "add_first_median_us": round2(self.principals.add_first_median_us),
                "add_last_median_us": round2(self.principals.add_last_median_us),
                "token_median_us": round2(self.principals.token_median_us),
            },
            "policy_decision": policy_json(&self.policy),
            "decision_cache_warm_up": {
                "reads": self.warm.reads,
                "wall_s": self.warm.wall.as_secs_f64(),
            },
            "read_in_process": reads,
            "read_in_process_unaudited": unaudited_reads,
            "http": http,
            "http_unaudited": unaudited_http,
            "recording_cost": costs,
            "ledger_events_recorded_by_reads": self.recorded_by_reads,
            "audited_reads_counted": self.counted_reads(),
            "incident": incident_json(&self.incident),
            "ledger": self.ledger.as_ref().map(ledger_json),
            "ratios": ratios,
            "server_threads": self.server_threads,
            "client_threads": self.client_threads,
            "notes": self.notes(),
            "total_s": round2(self.total_seconds),
        });
        doc["build"] = json!({
            "commit": self.build.commit,
            "uncommitted_changes": self.build.dirty,
            "date": self.build.date,
        });
        doc["update_in_process"] = {
            let mut v = run_json(&self.update_in_process, &Verdict::none());
            v["threads"] = json!(read::AUDITED_TARGET_THREADS);
            v
        };
        doc["update_http"] = json!(updates);
        doc["comparison"] = self.comparison.json();
        doc["floor"] = self.floor.json();
        doc["peer"] = match &self.peer {
            Ok(p) => p.json(),
            Err(why) => json!({ "skipped": why }),
        };
        doc["erase"] = self.erase.json();
        doc
    }
}

fn timing_json(t: &policy::Timing) -> Value {
    json!({
        "count": t.count,
        "median_us": round2(t.median_us()),
        "p99_us": round2(t.p99_us()),
    })
}

fn policy_json(d: &PolicyFigures) -> Value {
    let v = decision_verdict(d);
    let mut uncached = timing_json(&d.uncached);
    uncached["median_per_field_us"] = json!(round2(d.uncached_per_field_us()));
    uncached["target"] = json!(v.target);
    uncached["target_us"] = json!(policy::TARGET_DECISION_US);
    uncached["pass"] = json!(v.pass);
    let mut cached = timing_json(&d.cached);
    cached["distinct_requests"] = json!(d.cached_requests);
    json!({
        "principals": d.principals,
        "subjects": d.subjects,
        "fields_per_request": d.fields,
        "rules": d.rules,
        "uncached": uncached,
        "cached": cached,
        "access_generation_read": d.generation_read.as_ref().map(timing_json),
    })
}

fn timed_json(i: &Timed) -> Value {
    json!({
        "scope": i.scope,
        "subjects": i.subjects,
        "events": i.events,
        "open_ms": round2(i.open_ms),
        "runs_ms": i.report_ms.iter().map(|&x| round2(x)).collect::<Vec<_>>(),
        "median_ms": round2(i.median_ms()),
    })
}

fn export_json(e: &ExportFigures) -> Value {
    json!({
        "id": e.id,
        "rows": e.rows,
        "canaries": e.canaries,
        "bytes": e.bytes,
        "wall_s": e.wall.as_secs_f64(),
        "throughput_per_s": e.rows_per_s().round(),
    })
}

fn incident_json(w: &IncidentFigures) -> Value {
    let principal = w.principal.as_ref().map(|p| {
        let v = principal_verdict(p);
        let issue = principal_issue_verdict(p);
        let mut out = timed_json(&p.incident);
        out["appended_events"] = json!(p.appended);
        out["ledger_events"] = json!(p.ledger_size);
        out["populate"] = json!({
            "batch_events": p.batch,
            "wall_s": p.populate_wall.as_secs_f64(),
            "throughput_per_s": p.populate_per_s().round(),
        });
        out["max_events"] = json!(incident::PRINCIPAL_MAX_MATCHES);
        out["target"] = json!(v.target);
        out["target_ms"] = json!(incident::TARGET_PRINCIPAL_MS);
        out["pass"] = json!(v.pass);
        out["stretch_ms"] = json!(incident::STRETCH_PRINCIPAL_MS);
        out["pass_stretch"] = json!(p.pass(incident::STRETCH_PRINCIPAL_MS));
        out["issue_target"] = json!(issue.target);
        out["issue_target_ms"] = json!(incident::ISSUE_PRINCIPAL_MS);
        out["pass_issue"] = json!(issue.pass);
        out
    });
    let processor = w.processor.as_ref().map(|p| {
        let v = processor_verdict(p);
        let mut out = timed_json(&p.incident);
        out["export"] = export_json(&p.export);
        out["target"] = json!(v.target);
        out["target_s"] = json!(round2(p.target_s(incident::TARGET_PROCESSOR_S)));
        out["pass"] = json!(v.pass);
        out["stretch_s"] = json!(round2(p.target_s(incident::STRETCH_PROCESSOR_S)));
        out["pass_stretch"] = json!(p.pass(incident::STRETCH_PROCESSOR_S));
        out
    });
    let notices = w.notices.as_ref().map(|n| {
        let v = notices_verdict(n);
        json!({
            "export": export_json(&n.export),
            "incident": n.incident,
            "written": n.written,
            "not_permitted": n.not_permitted,
            "erased": n.erased,
            "unreachable": n.unreachable,
            "bytes": n.bytes,
            "wall_s": n.wall.as_secs_f64(),
            "throughput_per_s": n.per_s().round(),
            "target": v.target,
            "target_s": round2(n.target_s()),
            "pass": v.pass,
        })
    });
    json!({
        "exposure_principal": principal,
        "exposure_processor": processor,
        "notices": notices,
    })
}

fn proof_json(proof: &ProofFigures) -> Value {
    let v = proof_verdict(proof);
    json!({
        "count": proof.count,
        "median_us": round2(proof.median_us),
        "p99_us": round2(proof.p99_us),
        "max_us": round2(proof.max_us),
        "mean_hashes": round2(proof.mean_hashes),
        "verified": proof.verified,
        "target": v.target,
        "pass": v.pass,
    })
}

fn ledger_json(l: &LedgerFigures) -> Value {
    let appends: Vec<Value> = l
        .appends
        .iter()
        .map(|a| {
            let mut v = run_json(&a.run, &append_verdict(l, a));
            v["threads"] = json!(a.threads);
            v["transactions"] = json!(a.transactions);
            v["events_committed"] = json!(a.events);
            v["events_per_sync"] = json!(a.events_per_sync().map(round2));
            v
        })
        .collect();
    let tables: serde_json::Map<String, Value> = l
        .tables
        .iter()
        .map(|(name, bytes)| (name.clone(), json!(bytes)))
        .collect();
    let qv = query_verdict(l);
    let vv = verify_verdict(l);
    let sv = storage_verdict(l);
    json!({
        "events": l.events,
        "event_template": l.template,
        "populate": {
            "batch_events": 4096,
            "wall_s": l.populate_wall.as_secs_f64(),
            "throughput_per_s": l.populate_per_s().round(),
            "cpu_s": l.populate_cpu.map(|c| c.as_secs_f64()),
            "throughput_by_quarter_per_s": l.populate_quarters.iter().map(|r| r.round()).collect::<Vec<_>>(),
        },
        "appends": appends,
        "query": {
            "principal": l.query_principal,
            "matches": l.query_matches,
            "first_ms": round2(l.query_first_ms),
            "runs_ms": l.query_ms.iter().map(|&x| round2(x)).collect::<Vec<_>>(),
            "median_ms": round2(l.query_median_ms()),
            "target": qv.target,
            "target_ms": ledger::TARGET_QUERY_MS,
            "pass": qv.pass,
        },
        "verify": {
            "wall_s": l.verify_wall.as_secs_f64(),
            "events_checked": l.verify_events,
            "heads_checked": l.verify_heads,
            "throughput_per_s": l.verify_per_s().round(),
            "problem": l.verify_problem,
            "target": vv.target,
            "target_s": round2(l.verify_target_s()),
            "scaled_to_10m_s": round2(l.verify_s_at_10m()),
            "pass": vv.pass,
        },
        "inclusion_proof": proof_json(&l.inclusion),
        "consistency_proof": proof_json(&l.consistency),
        "storage": {
            "db_bytes": l.db_bytes,
            "wal_bytes": l.wal_bytes,
            "checkpoint_complete": l.checkpoint_complete,
            "bytes_per_event": round2(l.bytes_per_event()),
            "bytes_by_table": tables,
            "target": sv.target,
            "target_bytes_per_event": ledger::TARGET_BYTES_PER_EVENT,
            "pass": sv.pass,
        },
    })
}

fn run_json(run: &Run, verdict: &Verdict) -> Value {
    json!({
        "throughput_per_s": run.throughput().round(),
        "median_us": round2(run.median_us()),
        "p99_us": round2(run.p99_us()),
        "max_us": round2(run.max_ns as f64 / 1_000.0),
        "ops": run.ops,
        "errors": run.errors,
        "first_error": run.first_error,
        "seconds": run.elapsed.as_secs_f64(),
        "cores_busy": run.cores_busy().map(round2),
        "target": verdict.target,
        "pass": verdict.pass,
    })
}

fn load_text(load: Option<f64>) -> String {
    load.map_or_else(|| "unknown".to_owned(), |l| format!("{l:.2}"))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn cores(c: Option<f64>) -> String {
    c.map_or_else(|| "?".to_owned(), |c| format!("{c:.2}"))
}

const LABEL_WIDTH: usize = 34;
const TARGET_WIDTH: usize = 36;

/// Writes `{label}: a, b, c` as one line.
fn list_line(out: &mut String, label: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    let _ = writeln!(out, "{label}: {}", items.join(", "));
}

fn header(out: &mut String) {
    let _ = writeln!(
        out,
        "{:<LABEL_WIDTH$} {:>16} {:>11} {:>11} {:>10}  {:<TARGET_WIDTH$} result",
        "workload", "throughput", "median", "p99", "cores busy", "target"
    );
}

#[expect(clippy::too_many_arguments, reason = "one table row")]
pub(crate) fn line(
    out: &mut String,
    label: &str,
    throughput: &str,
    median: &str,
    p99: &str,
    cores: &str,
    verdict: &Verdict,
    extra: &str,
) {
    let _ = writeln!(
        out,
        "{:<LABEL_WIDTH$} {:>16} {:>11} {:>11} {:>10}  {:<TARGET_WIDTH$} {}{}",
        label,
        throughput,
        median,
        p99,
        cores,
        verdict.target.as_deref().unwrap_or("(no target)"),
        verdict.word(),
        extra
    );
}

fn export_row(out: &mut String, label: &str, e: &ExportFigures) {
    line(
        out,
        label,
        &format!("{} rows/s", thousands(e.rows_per_s())),
        "-",
        "-",
        "-",
        &Verdict::none(),
        &format!(
            " ({} rows and {} canaries in {:.2} s, {:.1} MB, {})",
            thousands(e.rows as f64),
            e.canaries,
            e.wall.as_secs_f64(),
            e.bytes as f64 / 1e6,
            e.id
        ),
    );
}

pub(crate) fn row(out: &mut String, label: &str, run: &Run, verdict: &Verdict) {
    row_extra(out, label, run, verdict, "");
}

fn row_extra(out: &mut String, label: &str, run: &Run, verdict: &Verdict, extra: &str) {
    line(
        out,
        label,
        &format!("{}/s", thousands(run.throughput())),
        &latency(run.median_us()),
        &latency(run.p99_us()),
        &cores(run.cores_busy()),
        verdict,
        extra,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.6), "1,234,568");
    }

    #[test]
    fn latencies_switch_to_milliseconds() {
        assert_eq!(latency(12.34), "12.3 µs");
        assert_eq!(latency(15_000.0), "15.0 ms");
    }

    #[test]
    fn the_http_targets_need_throughput_and_p99_at_64_connections() {
        use std::time::Duration;
        let fast = Run::from_samples(vec![1_000_000; 120_000], 0, None, Duration::from_secs(10));
        assert_eq!(http_verdict(64, &fast).pass, Some(true));
        assert_eq!(http_verdict(8, &fast).pass, None);
        assert_eq!(update_verdict(64, &fast).pass, Some(true));
        let slow_tail =
            Run::from_samples(vec![16_000_000; 120_000], 0, None, Duration::from_secs(10));
        assert_eq!(http_verdict(64, &slow_tail).pass, Some(false));
        assert_eq!(update_verdict(64, &slow_tail).pass, Some(true));
        let too_few = Run::from_samples(vec![1_000_000; 90_000], 0, None, Duration::from_secs(10));
        assert_eq!(http_verdict(64, &too_few).pass, Some(false));
        let slower = Run::from_samples(vec![21_000_000; 60_000], 0, None, Duration::from_secs(10));
        assert_eq!(update_verdict(64, &slower).pass, Some(false));
    }

    #[test]
    fn read_targets_apply_where_they_are_defined() {
        use std::time::Duration;
        let run = Run::from_samples(vec![1_000; 400_000], 0, None, Duration::from_secs(1));
        assert_eq!(read_verdict(64, true, &run).pass, Some(true));
        assert_eq!(read_verdict(1, true, &run).pass, None);
        assert_eq!(read_verdict(1, false, &run).pass, Some(true));
        assert_eq!(read_verdict(64, false, &run).pass, None);
    }

    #[test]
    fn recording_cost_is_judged_against_eighty_percent() {
        assert_eq!(cost_verdict(true, Some(0.81)).pass, Some(true));
        assert_eq!(cost_verdict(true, Some(0.79)).pass, Some(false));
        assert_eq!(cost_verdict(true, None).pass, Some(false));
        assert_eq!(cost_verdict(false, Some(0.1)).pass, None);
    }
}
