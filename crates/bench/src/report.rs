//! The figures of one run, as a text table or as one JSON document.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::import::{ImportFigures, TARGET_PEAK_RSS_MB, TARGET_SECONDS_PER_MILLION};
use crate::load::{self, LoadRun};
use crate::machine::Machine;
use crate::read;
use crate::stats::Run;

/// PERFORMANCE.md's peer-stack figures (PostgreSQL 15 + pgcrypto + RLS +
/// pgaudit, 1M members, 2 cores). Quoted, not measured here.
const PEER_IMPORT_ROWS_PER_S: f64 = 10_700.0;
const PEER_READS_8_CLIENTS_PER_S: f64 = 4_792.0;
const GOAL_IMPORT_VS_PEER: f64 = 10.0;
const GOAL_READS_VS_PEER: f64 = 5.0;

/// Everything one `custos bench` measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) members: u64,
    pub(crate) seconds: f64,
    pub(crate) quick: bool,
    pub(crate) seed: u64,
    pub(crate) import: ImportFigures,
    /// In-process reads by thread count.
    pub(crate) reads: Vec<(usize, Run)>,
    /// HTTP reads by connection count.
    pub(crate) http: Vec<(usize, LoadRun)>,
    pub(crate) server_threads: usize,
    pub(crate) client_threads: usize,
    pub(crate) total_seconds: f64,
    /// The 1-minute load average at the end of the run.
    pub(crate) load_average_after: Option<f64>,
}

/// A target and whether it was met; no target means informational.
#[derive(Debug, Clone)]
struct Verdict {
    target: Option<String>,
    pass: Option<bool>,
}

impl Verdict {
    fn none() -> Self {
        Self {
            target: None,
            pass: None,
        }
    }

    fn word(&self) -> &'static str {
        match self.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "-",
        }
    }
}

fn read_verdict(threads: usize, run: &Run) -> Verdict {
    if threads != 1 {
        return Verdict::none();
    }
    Verdict {
        target: Some(format!(
            ">= {}/s on one core",
            thousands(read::TARGET_PER_S)
        )),
        pass: Some(run.throughput() >= read::TARGET_PER_S && run.errors == 0),
    }
}

fn http_verdict(connections: usize, run: &Run) -> Verdict {
    if connections != load::TARGET_CONNECTIONS {
        return Verdict::none();
    }
    Verdict {
        target: Some(format!(
            ">= {}/s, p99 <= {} ms",
            thousands(load::TARGET_PER_S),
            load::TARGET_P99_MS
        )),
        pass: Some(
            run.throughput() >= load::TARGET_PER_S
                && run.p99_us() <= load::TARGET_P99_MS * 1_000.0
                && run.errors == 0,
        ),
    }
}

fn import_verdict(import: &ImportFigures) -> Verdict {
    Verdict {
        target: Some(format!(
            "<= {:.1} s, peak RSS <= {TARGET_PEAK_RSS_MB:.0} MB",
            import.target_seconds()
        )),
        pass: Some(import.pass()),
    }
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

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Report {
    fn read_at(&self, threads: usize) -> Option<&Run> {
        self.reads
            .iter()
            .find(|(t, _)| *t == threads)
            .map(|(_, r)| r)
    }

    fn http_at(&self, connections: usize) -> Option<&Run> {
        self.http
            .iter()
            .find(|(c, _)| *c == connections)
            .map(|(_, r)| &r.run)
    }

    fn ratios(&self) -> Vec<(&'static str, String, Option<f64>)> {
        let tput = |r: Option<&Run>| r.map_or(0.0, Run::throughput);
        let read1 = tput(self.read_at(1));
        let read2 = tput(self.read_at(2));
        let http1 = tput(self.http_at(1));
        let http8 = tput(self.http_at(8));
        let http64 = tput(self.http_at(64));
        vec![
            (
                "http64_vs_in_process_1_thread",
                "HTTP at 64 connections / in process on 1 thread".to_owned(),
                ratio(http64, read1),
            ),
            (
                "http64_vs_in_process_2_threads",
                "HTTP at 64 connections / in process on 2 threads".to_owned(),
                ratio(http64, read2),
            ),
            (
                "in_process_2_vs_1_threads",
                "in process, 2 threads / 1 thread".to_owned(),
                ratio(read2, read1),
            ),
            (
                "http64_vs_http1",
                "HTTP, 64 connections / 1 connection".to_owned(),
                ratio(http64, http1),
            ),
            (
                "import_vs_target",
                "import speed / target speed (>= 1 passes)".to_owned(),
                ratio(self.import.target_seconds(), self.import.wall.as_secs_f64()),
            ),
            (
                "in_process_1_thread_vs_target",
                "in process on 1 thread / target (>= 1 passes)".to_owned(),
                ratio(read1, read::TARGET_PER_S),
            ),
            (
                "http64_vs_target",
                "HTTP at 64 connections / target (>= 1 passes)".to_owned(),
                ratio(http64, load::TARGET_PER_S),
            ),
            (
                "import_vs_peer_reference",
                format!(
                    "import rows/s / peer's {} rows/s (goal >= {GOAL_IMPORT_VS_PEER}x)",
                    thousands(PEER_IMPORT_ROWS_PER_S)
                ),
                ratio(self.import.rows_per_s(), PEER_IMPORT_ROWS_PER_S),
            ),
            (
                "http8_vs_peer_reference",
                format!(
                    "HTTP at 8 connections / peer's audited reads at 8 clients, {}/s (goal >= {GOAL_READS_VS_PEER}x)",
                    thousands(PEER_READS_8_CLIENTS_PER_S)
                ),
                ratio(http8, PEER_READS_8_CLIENTS_PER_S),
            ),
        ]
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            format!(
                "The HTTP load generator runs in this process on its own runtime ({} thread{}) and shares the machine's {} cores with the server ({} runtime workers plus its blocking pool), so HTTP figures understate what a separate client machine would see.",
                self.client_threads,
                if self.client_threads == 1 { "" } else { "s" },
                self.machine.nproc,
                self.server_threads
            ),
            format!(
                "The import time target is scaled linearly from {TARGET_SECONDS_PER_MILLION} s per 1,000,000 members to {:.2} s for {}.",
                self.import.target_seconds(),
                thousands(self.members as f64)
            ),
            "The peer-stack ratios use PERFORMANCE.md's quoted figures (1M members, a similar 2-core machine), not a side-by-side run; the floor (an unauthenticated SQLite HTTP service) is not measured by this command.".to_owned(),
            "Vault::read_subject records no durable ledger event yet (it logs through tracing only), so these reads are get-and-decrypt, not yet W2's audited reads.".to_owned(),
            "cores busy = process CPU time (all threads, /proc/self/stat) / wall time of the run.".to_owned(),
            format!(
                "1-minute load average before the run {}, after it {} (this bench alone adds up to {}; more means other work shared the cores).",
                load_text(self.machine.load_average_before),
                load_text(self.load_average_after),
                self.machine.nproc
            ),
        ];
        if let Some(e) = &self.import.rss_reset_error {
            notes.push(format!(
                "{e}: the peak RSS includes everything before the import."
            ));
        }
        notes
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
        let _ = writeln!(
            out,
            "machine: {} cores, {}, {} MB RAM; fdatasync {}/s ({:.0} µs each) in {}",
            m.nproc,
            m.cpu_model,
            m.memory_total_mb
                .map_or_else(|| "?".to_owned(), |mb| thousands(mb as f64)),
            thousands(m.fdatasync_per_s),
            m.fdatasync_mean_us,
            m.work_dir
        );
        let i = &self.import;
        let _ = writeln!(
            out,
            "data: CSV of {:.1} MB generated in {:.2} s (not timed); store files (with the WAL) {:.1} MB after the import",
            i.csv_bytes as f64 / 1e6,
            i.csv_seconds,
            i.store_bytes as f64 / 1e6
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<32} {:>16} {:>11} {:>11} {:>11}  {:<34} result",
            "workload", "throughput", "median", "p99", "cores busy", "target"
        );
        let v = import_verdict(i);
        let _ = writeln!(
            out,
            "{:<32} {:>16} {:>11} {:>11} {:>11}  {:<34} {} ({:.2} s, peak RSS {})",
            format!("W1 import, {} rows", thousands(i.members as f64)),
            format!("{} rows/s", thousands(i.rows_per_s())),
            "-",
            "-",
            cores(
                i.cpu
                    .map(|c| c.as_secs_f64() / i.wall.as_secs_f64().max(1e-9))
            ),
            v.target.as_deref().unwrap_or_default(),
            v.word(),
            i.wall.as_secs_f64(),
            i.peak_rss_mb
                .map_or_else(|| "unknown".to_owned(), |mb| format!("{mb:.0} MB"))
        );
        for (threads, run) in &self.reads {
            let v = read_verdict(*threads, run);
            row(
                &mut out,
                &format!("read in process, {threads} thread{}", plural(*threads)),
                run,
                &v,
            );
        }
        for (connections, load) in &self.http {
            let v = http_verdict(*connections, &load.run);
            row(
                &mut out,
                &format!("HTTP GET, {connections} connection{}", plural(*connections)),
                &load.run,
                &v,
            );
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
        if let Some((_, load)) = self.http.first() {
            let _ = writeln!(
                out,
                "HTTP response body: {:.0} bytes on average",
                load.mean_body_bytes
            );
        }
        for (label, run) in self
            .reads
            .iter()
            .map(|(t, r)| (format!("in process, {t} thread{}", plural(*t)), r))
            .chain(
                self.http
                    .iter()
                    .map(|(c, l)| (format!("HTTP, {c} connection{}", plural(*c)), &l.run)),
            )
        {
            if run.errors > 0 {
                let _ = writeln!(
                    out,
                    "errors in {label}: {} (first: {})",
                    run.errors,
                    run.first_error.as_deref().unwrap_or("?")
                );
            }
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

    /// The JSON document.
    pub(crate) fn json(&self) -> Value {
        let m = &self.machine;
        let i = &self.import;
        let iv = import_verdict(i);
        let reads: Vec<Value> = self
            .reads
            .iter()
            .map(|(threads, run)| {
                let mut v = run_json(run, &read_verdict(*threads, run));
                v["threads"] = json!(threads);
                v
            })
            .collect();
        let http: Vec<Value> = self
            .http
            .iter()
            .map(|(connections, load)| {
                let mut v = run_json(&load.run, &http_verdict(*connections, &load.run));
                v["connections"] = json!(connections);
                v["mean_body_bytes"] = json!(load.mean_body_bytes.round());
                v
            })
            .collect();
        let ratios: serde_json::Map<String, Value> = self
            .ratios()
            .into_iter()
            .map(|(key, _, r)| (key.to_owned(), json!(r.map(round2))))
            .collect();
        json!({
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
            "read_in_process": reads,
            "http": http,
            "ratios": ratios,
            "server_threads": self.server_threads,
            "client_threads": self.client_threads,
            "notes": self.notes(),
            "total_s": round2(self.total_seconds),
        })
    }
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

fn row(out: &mut String, label: &str, run: &Run, verdict: &Verdict) {
    let _ = writeln!(
        out,
        "{:<32} {:>16} {:>11} {:>11} {:>11}  {:<34} {}",
        label,
        format!("{}/s", thousands(run.throughput())),
        latency(run.median_us()),
        latency(run.p99_us()),
        cores(run.cores_busy()),
        verdict.target.as_deref().unwrap_or("(no target)"),
        verdict.word()
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
    fn the_http_target_needs_throughput_and_p99() {
        use std::time::Duration;
        let fast = Run::from_samples(vec![1_000_000; 120_000], 0, None, Duration::from_secs(10));
        assert_eq!(http_verdict(64, &fast).pass, Some(true));
        assert_eq!(http_verdict(8, &fast).pass, None);
        let slow_tail =
            Run::from_samples(vec![16_000_000; 120_000], 0, None, Duration::from_secs(10));
        assert_eq!(http_verdict(64, &slow_tail).pass, Some(false));
        let too_few = Run::from_samples(vec![1_000_000; 90_000], 0, None, Duration::from_secs(10));
        assert_eq!(http_verdict(64, &too_few).pass, Some(false));
    }
}
