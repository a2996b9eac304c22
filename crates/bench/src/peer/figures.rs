//! One run of the whole peer stack, in the order the bench needs: start
//! the cluster, import, W2 and W3 at every concurrency of the comparison,
//! the unprotected read, then W4 on the audit log; and how the report
//! shows it.

use std::fmt::Write as _;
use std::path::Path;

use custos_synth::Generator;
use serde_json::{Value, json};

use super::{PeerCluster, PeerExposure, PeerFacts, PeerImport, PeerPlan, Unavailable};
use crate::compare;
use crate::load::{Drive, LoadRun};
use crate::report::{latency, thousands};
use crate::workload::Update;

/// Everything measured on the peer.
#[derive(Debug, Clone)]
pub(crate) struct PeerFigures {
    pub(crate) facts: PeerFacts,
    pub(crate) import: PeerImport,
    pub(crate) reads: Vec<(usize, LoadRun)>,
    pub(crate) updates: Vec<(usize, LoadRun)>,
    /// The same reads of a plaintext copy with no row-level security or
    /// audit, at the concurrency where the peer's reads peak.
    pub(crate) unprotected: Option<(usize, LoadRun)>,
    pub(crate) exposure: PeerExposure,
}

/// What the peer's runs need from the bench.
#[derive(Debug)]
pub(crate) struct Options<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) csv: &'a Path,
    pub(crate) members: u64,
    pub(crate) generator: &'a Generator,
    /// Custos's W3 updates: the peer updates the same members to the same
    /// values.
    pub(crate) updates: &'a [Update],
    pub(crate) seed: u64,
}

/// Runs the peer. `Err` holds why it was skipped (PostgreSQL 15 or pgaudit
/// missing); any other failure is an error of the bench.
pub(crate) fn run(
    options: &Options<'_>,
    drive: &dyn Fn(usize) -> Drive,
    log: &dyn Fn(&str),
) -> anyhow::Result<Result<PeerFigures, String>> {
    let cluster = match PeerCluster::start(options.dir, options.members, log) {
        Ok(cluster) => cluster,
        Err(e) if e.downcast_ref::<Unavailable>().is_some() => {
            log(&format!("the peer stack is {e}"));
            return Ok(Err(e.to_string()));
        }
        Err(e) => return Err(e),
    };
    let facts = cluster.facts()?;
    log("importing into the peer …");
    let import = cluster.import(options.csv)?;
    log(&format!(
        "  {} rows/s ({:.2} s)",
        thousands(import.rows_per_s()),
        import.wall.as_secs_f64()
    ));
    let plan = PeerPlan::new(
        options.generator,
        options.members,
        options.updates,
        options.seed,
    )?;
    let mut reads = Vec::new();
    let mut updates = Vec::new();
    for n in compare::CONNECTIONS {
        log(&format!("peer reads on {n} connection(s) …"));
        reads.push((n, logged(cluster.reads(&plan, &drive(n))?, log)));
    }
    for n in compare::CONNECTIONS {
        log(&format!("peer updates on {n} connection(s) …"));
        updates.push((n, logged(cluster.updates(&plan, &drive(n))?, log)));
    }
    let peak = reads
        .iter()
        .max_by(|a, b| a.1.run.throughput().total_cmp(&b.1.run.throughput()))
        .map(|(n, _)| *n);
    let unprotected = match peak {
        Some(n) => {
            log("loading the peer's plaintext copy (not timed) …");
            cluster.load_unprotected(options.csv)?;
            log(&format!(
                "peer reads with no crypto, RLS or audit on {n} connection(s) …"
            ));
            Some((n, logged(cluster.unprotected_reads(&plan, &drive(n))?, log)))
        }
        None => None,
    };
    log("loading the peer's audit log and asking W4's questions …");
    let exposure = cluster.exposure(&plan)?;
    Ok(Ok(PeerFigures {
        facts,
        import,
        reads,
        updates,
        unprotected,
        exposure,
    }))
}

fn logged(run: LoadRun, log: &dyn Fn(&str)) -> LoadRun {
    log(&format!(
        "  {}/s, median {}, p99 {}{}",
        thousands(run.run.throughput()),
        latency(run.run.median_us()),
        latency(run.run.p99_us()),
        if run.run.errors > 0 {
            format!(", {} errors", run.run.errors)
        } else {
            String::new()
        }
    ));
    run
}

impl PeerFigures {
    /// The JSON form; W2 and W3 runs are in the comparison.
    pub(crate) fn json(&self) -> Value {
        json!({
            "facts": self.facts.json(),
            "import": self.import.json(),
            "unprotected_reads": self.unprotected.as_ref().map(|(n, r)| json!({
                "connections": n,
                "throughput_per_s": r.run.throughput().round(),
                "median_us": r.run.median_us(),
                "p99_us": r.run.p99_us(),
                "errors": r.run.errors,
            })),
            "exposure": self.exposure.json(),
        })
    }

    /// The report's section on the peer: what ran, its import, its
    /// unprotected reads, and what its audit log can and cannot answer.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        let f = &self.facts;
        let _ = writeln!(
            out,
            "{}, started by the bench in its work directory; clients connect {}. Settings in force:\n",
            f.version, f.transport
        );
        let _ = writeln!(out, "| setting | value |\n|---|---|");
        for (k, v) in f.settings.iter().chain(&f.extensions) {
            let _ = writeln!(out, "| `{k}` | `{v}` |");
        }
        let i = &self.import;
        let _ = writeln!(
            out,
            "\nImport: {} rows in {:.2} s, {} rows/s ({} sessions, batches of {} rows, each a durable commit, encrypted by pgcrypto on the server).",
            thousands(i.rows as f64),
            i.wall.as_secs_f64(),
            thousands(i.rows_per_s()),
            i.loaders,
            i.batch_rows
        );
        if let Some((n, r)) = &self.unprotected {
            let _ = writeln!(
                out,
                "\nThe same reads with no crypto, RLS or audit (a plaintext copy read by the superuser), at {n} connections: {}/s, p99 {}.",
                thousands(r.run.throughput()),
                latency(r.run.p99_us())
            );
        }
        let e = &self.exposure;
        let _ = writeln!(
            out,
            "\nW4 on the peer: loading its audit log ({} lines, {:.1} MB in {} files) into a table took {:.2} s ({} lines/s). For representative `{}` over the run:\n",
            thousands(e.log_rows as f64),
            e.log_bytes as f64 / 1e6,
            e.log_files,
            e.load.as_secs_f64(),
            thousands(e.load_rows_per_s()),
            e.principal
        );
        let _ = writeln!(
            out,
            "| question | answer | median | rows |\n|---|---|---:|---:|"
        );
        for q in [&e.statements, &e.members_named] {
            let _ = writeln!(
                out,
                "| {} | measured | {:.1} ms | {} |",
                q.question,
                q.median.as_secs_f64() * 1e3,
                thousands(q.rows as f64)
            );
        }
        for c in e.capabilities {
            let _ = writeln!(
                out,
                "| {} | {}: {} | | |",
                c.question,
                c.answer.as_str(),
                c.why
            );
        }
        out
    }
}
