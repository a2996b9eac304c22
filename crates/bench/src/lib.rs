//! `custos bench`: measures Custos against the targets in PERFORMANCE.md.
//!
//! One run measures, side by side: the machine (cores, CPU, fdatasync rate),
//! W1 import of N synthetic members, in-process get-and-decrypt of ten
//! fields on one and two threads, and the real HTTP server under a
//! keep-alive load generator at 1, 8 and 64 connections. It prints a table
//! with medians, p99s, throughputs and pass/fail against each target, then
//! the ratios; or, with `--json`, one JSON document.
//!
//! Modules: `machine` (/proc and fdatasync), `import` (W1), `read` (in
//! process), `server` and `load` (HTTP, with the pure parsing in `http`),
//! `stats` (percentiles), `workload` (ids and fields) and `report`.

mod http;
mod import;
mod load;
mod machine;
mod read;
mod report;
mod server;
mod stats;
mod workload;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use custos_synth::Generator;

/// Members with `--quick`.
const QUICK_MEMBERS: u64 = 20_000;
/// Members by default.
const DEFAULT_MEMBERS: u64 = 1_000_000;
/// Seconds per throughput run with `--quick`.
const QUICK_SECONDS: f64 = 3.0;
/// Seconds per throughput run by default.
const DEFAULT_SECONDS: f64 = 10.0;
/// How many random member ids the read workloads cycle through.
const READ_IDS: usize = 1 << 17;
/// In-process reader thread counts.
const READ_THREADS: [usize; 2] = [1, 2];
/// HTTP connection counts.
const HTTP_CONNECTIONS: [usize; 3] = [1, 8, 64];

/// Options of `custos bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// How many synthetic members to import [default: 1,000,000; 20,000 with --quick].
    #[arg(long, value_name = "N")]
    pub members: Option<u64>,
    /// Seconds per throughput run [default: 10; 3 with --quick].
    #[arg(long, value_name = "S")]
    pub seconds: Option<f64>,
    /// A short run: 20,000 members and 3-second runs (explicit --members and
    /// --seconds still apply).
    #[arg(long)]
    pub quick: bool,
    /// Where to write the CSV and the vault (kept afterwards) [default: a new
    /// directory under the system temp dir, removed at the end].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Print one JSON document with all figures on stdout (progress still goes
    /// to stderr).
    #[arg(long)]
    pub json: bool,
    /// Threads of the HTTP load generator's own runtime.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub client_threads: usize,
    /// Seed of the synthetic members and of the choice of members to read.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs the benchmarks and prints the figures.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let members = args.members.unwrap_or(if args.quick {
        QUICK_MEMBERS
    } else {
        DEFAULT_MEMBERS
    });
    let seconds = args.seconds.unwrap_or(if args.quick {
        QUICK_SECONDS
    } else {
        DEFAULT_SECONDS
    });
    anyhow::ensure!(members > 0, "--members must be at least 1");
    anyhow::ensure!(
        seconds.is_finite() && (0.1..=3600.0).contains(&seconds),
        "--seconds must be between 0.1 and 3600"
    );
    anyhow::ensure!(
        (1..=64).contains(&args.client_threads),
        "--client-threads must be between 1 and 64"
    );
    let duration = Duration::from_secs_f64(seconds);
    let warmup = Duration::from_secs_f64((seconds / 5.0).min(1.0));
    let log = move |message: &str| {
        let _ = writeln!(
            std::io::stderr(),
            "[{:>6.1} s] {message}",
            started.elapsed().as_secs_f64()
        );
    };

    let (work_dir, temp) = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))?;
            for name in ["vault", "members.csv"] {
                anyhow::ensure!(
                    !dir.join(name).exists(),
                    "`{}` exists already; give an empty --work-dir",
                    dir.join(name).display()
                );
            }
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new().prefix("custos-bench-").tempdir()?;
            (temp.path().to_owned(), Some(temp))
        }
    };

    log("measuring the machine …");
    let machine = machine::probe(&work_dir, Duration::from_secs(1))?;

    let (import, init) = import::run(&work_dir, members, args.seed, &log)?;
    log(&format!(
        "imported in {:.2} s ({} rows/s)",
        import.wall.as_secs_f64(),
        report::thousands(import.rows_per_s())
    ));
    let token = init.admin_token().to_owned();
    let vault = Arc::new(init.vault);

    let generator = Generator::new(args.seed);
    let ids = workload::random_ids(
        &generator,
        members,
        READ_IDS,
        args.seed ^ 0x7265_6164_5f69_6473,
    )?;
    read::check(&vault, &ids[0])?;

    let mut reads = Vec::new();
    for threads in READ_THREADS {
        log(&format!(
            "reading in process on {threads} thread(s) for {seconds} s …"
        ));
        let run = read::run(&vault, &ids, threads, warmup, duration)?;
        log(&format!(
            "  {}/s, median {}, p99 {}",
            report::thousands(run.throughput()),
            report::latency(run.median_us()),
            report::latency(run.p99_us())
        ));
        reads.push((threads, run));
    }

    let server = server::start(Arc::clone(&vault))?;
    let server_threads = server.worker_threads;
    let http = http_runs(
        &server,
        &token,
        &ids,
        args.client_threads,
        warmup,
        duration,
        &log,
    );
    let stopped = server.stop();
    let http = http?;
    stopped?;
    drop(vault);

    let report = report::Report {
        machine,
        members,
        seconds,
        quick: args.quick,
        seed: args.seed,
        import,
        reads,
        http,
        server_threads,
        client_threads: args.client_threads,
        total_seconds: started.elapsed().as_secs_f64(),
        load_average_after: machine::load_average(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.text());
    }
    if let Some(temp) = temp {
        temp.close()?;
    }
    Ok(())
}

fn http_runs(
    server: &server::Server,
    token: &str,
    ids: &[custos_model::SubjectId],
    client_threads: usize,
    warmup: Duration,
    duration: Duration,
    log: &dyn Fn(&str),
) -> anyhow::Result<Vec<(usize, load::LoadRun)>> {
    let first = ids
        .first()
        .ok_or_else(|| anyhow::anyhow!("no ids to read"))?;
    let (status, body) = load::fetch(server.addr, token, first.as_str())?;
    anyhow::ensure!(
        status == 200,
        "GET of one subject answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&body)?;
    let fields = parsed
        .get("fields")
        .and_then(serde_json::Value::as_object)
        .map_or(0, serde_json::Map::len);
    anyhow::ensure!(
        fields == workload::READ_FIELDS.len(),
        "GET of one subject returned {fields} fields, expected {}",
        workload::READ_FIELDS.len()
    );

    let ids: Arc<[String]> = ids.iter().map(|id| id.as_str().to_owned()).collect();
    let mut runs = Vec::new();
    for connections in HTTP_CONNECTIONS {
        log(&format!(
            "HTTP GET on {connections} connection(s) for {} s …",
            duration.as_secs_f64()
        ));
        let load = load::Load {
            addr: server.addr,
            token: token.into(),
            ids: Arc::clone(&ids),
            connections,
            client_threads,
            warmup,
            duration,
        };
        let result = load::run(&load)?;
        log(&format!(
            "  {}/s, median {}, p99 {}, {} errors",
            report::thousands(result.run.throughput()),
            report::latency(result.run.median_us()),
            report::latency(result.run.p99_us()),
            result.run.errors
        ));
        runs.push((connections, result));
    }
    Ok(runs)
}
