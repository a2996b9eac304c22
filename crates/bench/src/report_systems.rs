//! The parts of the report that set Custos beside the peer and the floor:
//! the table rows of W2 and W3 over HTTP, W6, and the Markdown document
//! kept in `bench/results/`.

use std::fmt::Write as _;

use crate::compare::{self, Workload};
use crate::load::{self, LoadRun};
use crate::read;
use crate::report::{Report, Verdict, latency, line, ratio_text, row, thousands};
use crate::results::{Files, file_name};
use crate::stats::Run;
use crate::update;

/// W2's HTTP target applies to Custos's audited reads at 64 connections.
pub(crate) fn http_verdict(connections: usize, run: &Run) -> Verdict {
    target_at_64(connections, run, load::TARGET_PER_S, load::TARGET_P99_MS)
}

/// W3's HTTP target, judged where W2's is.
pub(crate) fn update_verdict(connections: usize, run: &Run) -> Verdict {
    target_at_64(
        connections,
        run,
        update::TARGET_PER_S,
        update::TARGET_P99_MS,
    )
}

/// A throughput and p99 target judged at the target's connection count.
fn target_at_64(connections: usize, run: &Run, per_s: f64, p99_ms: f64) -> Verdict {
    if connections != load::TARGET_CONNECTIONS {
        return Verdict::none();
    }
    Verdict::of(
        format!(">= {}/s, p99 <= {p99_ms} ms", thousands(per_s)),
        run.throughput() >= per_s && run.p99_us() <= p99_ms * 1_000.0 && run.errors == 0,
    )
}

fn curve_rows(
    out: &mut String,
    label: &str,
    points: &[(usize, LoadRun)],
    verdict: fn(usize, &Run) -> Verdict,
) {
    for (n, r) in points {
        let s = if *n == 1 { "" } else { "s" };
        row(
            out,
            &format!("{label}, {n} connection{s}"),
            &r.run,
            &verdict(*n, &r.run),
        );
    }
}

impl Report {
    /// The rows of W2 and W3 over HTTP for the three systems, W3 in
    /// process, the peer's import and W6.
    pub(crate) fn comparison_rows(&self, out: &mut String) {
        let none = |_: usize, _: &Run| Verdict::none();
        let c = &self.comparison;
        curve_rows(out, "W2 HTTP GET", &c.read.custos, http_verdict);
        row(
            out,
            &format!("   unaudited, {} connections", load::TARGET_CONNECTIONS),
            &self.http_unaudited.run,
            &Verdict::none(),
        );
        curve_rows(out, "   floor", &c.read.floor, none);
        curve_rows(out, "   peer", &c.read.peer, none);
        row(
            out,
            &format!(
                "W3 update in process, {} threads",
                read::AUDITED_TARGET_THREADS
            ),
            &self.update_in_process,
            &Verdict::none(),
        );
        curve_rows(out, "W3 HTTP PATCH", &c.update.custos, update_verdict);
        curve_rows(out, "   floor", &c.update.floor, none);
        curve_rows(out, "   peer", &c.update.peer, none);
        if let Ok(p) = &self.peer {
            line(
                out,
                &format!("W1 peer import, {} rows", thousands(p.import.rows as f64)),
                &format!("{} rows/s", thousands(p.import.rows_per_s())),
                "-",
                "-",
                "-",
                &Verdict::none(),
                &format!(" ({:.2} s)", p.import.wall.as_secs_f64()),
            );
        }
        let e = &self.erase;
        line(
            out,
            &format!("W6 erase, {} members", thousands(e.run.ops as f64)),
            "-",
            &latency(e.run.median_us()),
            &latency(e.run.p99_us()),
            "-",
            &Verdict::of(
                format!(
                    "p99 <= {} ms, no key bytes left",
                    crate::erase::TARGET_P99_MS
                ),
                e.pass(),
            ),
            &format!(" ({})", e.summary()),
        );
    }

    /// The Markdown report kept in `bench/results/`: the headline
    /// comparison, the charts, the peer's capabilities, then the whole
    /// text report.
    pub(crate) fn markdown(&self, files: &Files) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# custos bench{}: {} members, {}\n",
            if self.quick { " --quick" } else { "" },
            thousands(self.members as f64),
            self.build.date
        );
        let _ = writeln!(
            out,
            "Build {}. Machine: {}. {} s per run; the load generator runs in the bench's process on {} thread(s) and shares the cores with the system under load.\n",
            self.build.describe(),
            self.machine_text(),
            self.seconds,
            self.client_threads
        );
        let _ = writeln!(out, "## Headline\n");
        let _ = writeln!(out, "| ratio | value | goal | result |");
        let _ = writeln!(out, "|---|---:|---:|---|");
        for r in self.comparison.ratios().iter().filter(|r| r.goal.is_some()) {
            let _ = writeln!(
                out,
                "| {} | {} | >= {:.2}x | {} |",
                r.label,
                ratio_text(r.value),
                r.goal.unwrap_or_default(),
                match r.pass() {
                    Some(true) => "PASS",
                    Some(false) => "FAIL",
                    None => "not measured",
                }
            );
        }
        for (key, label, value) in self.ratios() {
            if key == "import_vs_peer" {
                let _ = writeln!(
                    out,
                    "| {label} | {} | >= 10.00x | {} |",
                    ratio_text(value),
                    match value {
                        Some(v) if v >= 10.0 => "PASS",
                        Some(_) => "FAIL",
                        None => "not measured",
                    }
                );
            }
        }
        for workload in [Workload::Read, Workload::Update] {
            let (title, charts) = match workload {
                Workload::Read => (
                    "W2: a representative reads 10 fields of a member of their constituency",
                    (0, 1),
                ),
                Workload::Update => (
                    "W3: a membership officer updates 2 fields of a member",
                    (2, 3),
                ),
            };
            let _ = writeln!(out, "\n## {title}\n");
            out.push_str(&self.comparison.markdown(workload));
            let _ = writeln!(out);
            for index in [charts.0, charts.1] {
                if let Some(path) = files.charts.get(index) {
                    let name = file_name(path);
                    let _ = writeln!(out, "![{name}]({name})");
                }
            }
        }
        let _ = writeln!(out, "\n## The peer stack\n");
        match &self.peer {
            Ok(p) => out.push_str(&p.markdown()),
            Err(why) => {
                let _ = writeln!(out, "Not measured in this run: {why}.");
            }
        }
        let _ = writeln!(
            out,
            "\n## Every figure\n\nThe same run as `custos bench` printed it; `{}` holds every figure as JSON.\n\n```text{}```",
            file_name(&files.json),
            self.text()
        );
        out
    }
}

/// How the peer and the floor are measured, for the report's notes.
pub(crate) fn systems_note(connections: &[usize]) -> String {
    format!(
        "W2 and W3 are loaded at {} connections on every system by the same closed-loop generator (load::drive: one tokio task per connection, one operation at a time, on the bench's client runtime). Custos is custos_server::app over HTTP with its real token, purpose, policy, ledger and re-check; the floor is a minimal axum service in the bench serving the same ten fields (and taking the same two-field PATCH, durably) from a plain SQLite table with no authentication, encryption or ledger; the peer is PostgreSQL 15 with pgcrypto, row-level security and pgaudit, driven over its own protocol by tokio-postgres from the same loop, so it pays no HTTP. The ratios Custos / peer and Custos / floor compare throughput at the same connection count; the peer goal (>= {:.0}x) compares each system's best throughput over all connection counts, the floor goal (>= {:.2}x) is judged at {} connections.",
        connections
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        compare::GOAL_READS_VS_PEER,
        compare::GOAL_VS_FLOOR,
        compare::JUDGED_AT
    )
}
