//! `custos bench`: measures Custos against the targets in PERFORMANCE.md.
//!
//! One run measures, side by side: the machine (cores, CPU, fdatasync rate);
//! W1 import of N synthetic members; the setup of PERFORMANCE.md's standard
//! principals (650 representatives, 50 staff, 200 volunteers, 3 processors
//! and the admin, each with an API token), timed for information; W2's
//! policy decision on its own (one ten-field request, uncached and cached,
//! against its 20 µs budget); W2 audited reads, each a representative
//! reading ten fields of a random member of their constituency for
//! casework with their own token (authenticate, check the purpose, decide
//! per field, record durably, re-check, decrypt), in process on 1, 2 and 64
//! threads and over HTTP at 1, 8 and 64 connections, each next to the same
//! read without purpose, policy or ledger (the unaudited baseline), so that
//! the report can say what the access path costs; W4, an incident's
//! exposure computed by the engine from the vault's own ledger, for a
//! principal over a time window (after appending N synthetic reads) and
//! for a processor that received N members, and the notices of an
//! incident written to files; and W5 on a fresh ledger of N events:
//! group-commit appends, a principal-and-time query, full verify, proofs
//! and storage per event. It prints a table with medians,
//! p99s, throughputs and pass/fail against each target, then the ratios;
//! or, with `--json`, one JSON document.
//!
//! Modules: `machine` (/proc and fdatasync), `import` (W1), `principals`
//! (the standard principals), `policy` (the decision alone), `read` (in
//! process), `unaudited` (the baseline read), `server` and `load` (HTTP,
//! with the pure parsing in `http`), `incident` (W4), `ledger` (W5),
//! `stats` (percentiles), `threads` (the timed loop), `workload` (members,
//! tokens, fields and paths) and `report`.

mod compare;
mod erase;
mod floor;
mod http;
mod import;
mod incident;
mod ledger;
mod load;
mod machine;
mod peer;
mod plot;
mod policy;
mod principals;
mod read;
mod report;
mod report_systems;
mod results;
mod server;
mod stats;
mod threads;
mod unaudited;
mod update;
mod workload;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use custos_engine::{EventQuery, Vault};
use custos_synth::Generator;

use crate::unaudited::Baseline;

/// Members with `--quick`.
const QUICK_MEMBERS: u64 = 20_000;
/// Members by default.
const DEFAULT_MEMBERS: u64 = 1_000_000;
/// Ledger events of W5 with `--quick`.
const QUICK_LEDGER_EVENTS: u64 = 200_000;
/// Ledger events of W5 by default.
const DEFAULT_LEDGER_EVENTS: u64 = 1_000_000;
/// Synthetic reads W4a appends to the vault's ledger, with `--quick` and by
/// default (PERFORMANCE.md's standard ledger).
const QUICK_EXPOSURE_EVENTS: u64 = 200_000;
const DEFAULT_EXPOSURE_EVENTS: u64 = 10_000_000;
/// Members W4b exports to a processor, with `--quick` and by default.
const QUICK_PROCESSOR_SUBJECTS: u64 = 10_000;
const DEFAULT_PROCESSOR_SUBJECTS: u64 = incident::PROCESSOR_TARGET_SUBJECTS;
/// People W4's notices are written for, with `--quick` and by default.
const QUICK_NOTICES: u64 = 2_000;
const DEFAULT_NOTICES: u64 = incident::NOTICES_TARGET_PEOPLE;
/// Seconds per throughput run with `--quick`.
const QUICK_SECONDS: f64 = 1.5;
/// Seconds per throughput run by default.
const DEFAULT_SECONDS: f64 = 10.0;
/// How many random members the read workloads cycle through.
const READ_IDS: usize = 1 << 17;
/// How many random members the update workloads cycle through.
const UPDATE_IDS: usize = 1 << 16;
/// Members W6 erases, with `--quick` and by default.
const QUICK_ERASED: usize = 200;
const DEFAULT_ERASED: usize = 1_000;
/// In-process reader thread counts.
const READ_THREADS: [usize; 3] = [1, 2, read::AUDITED_TARGET_THREADS];
/// Members whose unaudited read is compared with the audited one.
const BASELINE_CHECKS: usize = 20;

/// PERFORMANCE.md's standard data sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// 20,000 members, the demo size.
    #[value(name = "20k")]
    Demo,
    /// 1,000,000 members, the standard size.
    #[value(name = "1m")]
    Standard,
    /// 10,000,000 members, the stretch size.
    #[value(name = "10m")]
    Stretch,
}

impl Size {
    fn members(self) -> u64 {
        match self {
            Self::Demo => 20_000,
            Self::Standard => 1_000_000,
            Self::Stretch => 10_000_000,
        }
    }
}

/// Options of `custos bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The standard data size: 20k, 1m or 10m members [default: 1m; 20k
    /// with --quick].
    #[arg(long, value_name = "SIZE", conflicts_with = "members")]
    pub size: Option<Size>,
    /// How many synthetic members to import, for a size other than the
    /// standard ones.
    #[arg(long, value_name = "N")]
    pub members: Option<u64>,
    /// How many events W5's fresh ledger holds for the query, verify, proof
    /// and storage figures; 0 skips W5 [default: 1,000,000; 200,000 with
    /// --quick].
    #[arg(long, value_name = "N")]
    pub ledger_events: Option<u64>,
    /// How many synthetic reads W4a appends to the vault's own ledger
    /// before timing the exposure of one principal over a time window; 0
    /// skips W4a [default: 10,000,000; 200,000 with --quick].
    #[arg(long, value_name = "N")]
    pub exposure_events: Option<u64>,
    /// How many members W4b exports to a processor before timing the
    /// exposure of the processor, at most --members; 0 skips W4b [default:
    /// 500,000; 10,000 with --quick].
    #[arg(long, value_name = "N")]
    pub processor_subjects: Option<u64>,
    /// How many people W4's notices are written for (exported to a second
    /// processor first), at most --members; 0 skips them [default: 100,000;
    /// 2,000 with --quick].
    #[arg(long, value_name = "N")]
    pub notices: Option<u64>,
    /// Seconds per throughput run [default: 10; 1.5 with --quick].
    #[arg(long, value_name = "S")]
    pub seconds: Option<f64>,
    /// A short run: 20,000 members, 200,000 ledger events, W4 on 200,000
    /// appended events, 10,000 exported members and 2,000 notices, and
    /// 1.5-second runs (explicit sizes and --seconds still apply).
    #[arg(long)]
    pub quick: bool,
    /// Where to write the CSV, the vault, W4's exports and notices and W5's
    /// ledger (kept afterwards)
    /// [default: a new directory under the system temp dir, removed at the
    /// end].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Print one JSON document with all figures on stdout (progress still goes
    /// to stderr).
    #[arg(long)]
    pub json: bool,
    /// Where to keep the report (`<date>-<commit>[-quick].md`), its JSON and
    /// its charts.
    #[arg(long, value_name = "DIR", default_value = "bench/results")]
    pub results: PathBuf,
    /// Print the report only; keep no files.
    #[arg(long, conflicts_with = "results")]
    pub no_results: bool,
    /// Leave out the PostgreSQL peer stack (it needs PostgreSQL 15 and
    /// pgaudit installed).
    #[arg(long)]
    pub no_peer: bool,
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
    let build = results::Build::current();
    let members = match (args.members, args.size) {
        (Some(n), _) => n,
        (None, Some(size)) => size.members(),
        (None, None) if args.quick => QUICK_MEMBERS,
        (None, None) => DEFAULT_MEMBERS,
    };
    let ledger_events = args.ledger_events.unwrap_or(if args.quick {
        QUICK_LEDGER_EVENTS
    } else {
        DEFAULT_LEDGER_EVENTS
    });
    let pick = |given: Option<u64>, quick: u64, default: u64| {
        given.unwrap_or(if args.quick { quick } else { default })
    };
    let exposure_events = pick(
        args.exposure_events,
        QUICK_EXPOSURE_EVENTS,
        DEFAULT_EXPOSURE_EVENTS,
    );
    let processor_subjects = pick(
        args.processor_subjects,
        QUICK_PROCESSOR_SUBJECTS,
        DEFAULT_PROCESSOR_SUBJECTS,
    )
    .min(members);
    let notice_people = pick(args.notices, QUICK_NOTICES, DEFAULT_NOTICES).min(members);
    let erase_count = if args.quick {
        QUICK_ERASED
    } else {
        DEFAULT_ERASED
    }
    .min(usize::try_from(members).unwrap_or(usize::MAX));
    let seconds = args.seconds.unwrap_or(if args.quick {
        QUICK_SECONDS
    } else {
        DEFAULT_SECONDS
    });
    anyhow::ensure!(members > 0, "--members must be at least 1");
    anyhow::ensure!(
        ledger_events == 0 || ledger_events >= 1_000,
        "--ledger-events must be 0 (skip W5) or at least 1,000"
    );
    anyhow::ensure!(
        exposure_events == 0 || exposure_events >= 1_000,
        "--exposure-events must be 0 (skip W4a) or at least 1,000"
    );
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
            for path in [
                dir.join("vault"),
                import::csv_path(dir),
                dir.join("floor.sqlite"),
                dir.join("peer"),
                incident::dir(dir),
                ledger::ledger_path(dir),
            ] {
                anyhow::ensure!(
                    !path.exists(),
                    "`{}` exists already; give an empty --work-dir",
                    path.display()
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
    let vault = Arc::new(init.vault);
    let generator = Generator::new(args.seed);

    log("adding the standard principals and their tokens …");
    let setup = principals::create(&vault, &generator, members)?;
    log(&format!(
        "  {} principals and {} tokens in {:.2} s",
        setup.figures.principals,
        setup.figures.tokens,
        setup.figures.wall.as_secs_f64()
    ));

    let picked = workload::random_members(
        &generator,
        members,
        READ_IDS,
        args.seed ^ 0x7265_6164_5f69_6473,
    )?;
    let reads = workload::reads(&generator, &picked, &setup.representative_tokens)?;
    let warm = workload::one_per_decision(&generator, &picked, &reads)?;
    drop(picked);
    let baseline = Arc::new(Baseline::open(&vault)?);
    for r in reads.iter().take(BASELINE_CHECKS) {
        let audited = read::check(&vault, r)?;
        unaudited::check(&baseline, &r.id, &audited)?;
    }

    log("timing W2's policy decision alone …");
    let policy = policy::run(&generator, members, args.seed, Some(&baseline))?;
    log(&format!(
        "  uncached median {} ({} per field), cached median {}",
        report::latency(policy.uncached.median_us()),
        report::latency(policy.uncached_per_field_us()),
        report::latency(policy.cached.median_us())
    ));

    // A server that has run for a while decides W2's reads from the
    // decision cache; one untimed read per distinct decision makes the first
    // timed run start there too, instead of paying the misses.
    log(&format!(
        "warming the decision cache with {} reads …",
        warm.len()
    ));
    let warm_start = Instant::now();
    read::warm(&vault, &warm, read::AUDITED_TARGET_THREADS)?;
    let warm_figures = report::Warm {
        reads: warm.len(),
        wall: warm_start.elapsed(),
    };
    drop(warm);

    let operator = vault.local_operator();
    let ledger_before = vault.ledger_head(&operator)?.head().size();

    let mut read_runs = Vec::new();
    for threads in READ_THREADS {
        let plural = if threads == 1 { "" } else { "s" };
        log(&format!(
            "reading in process on {threads} thread{plural} for {seconds} s, audited …"
        ));
        let audited = read::run_audited(&vault, &reads, threads, warmup, duration)?;
        log_run(&log, &audited);
        log(&format!(
            "reading in process on {threads} thread{plural} for {seconds} s, unaudited …"
        ));
        let fields = workload::READ_FIELDS;
        let plain = read::run(&reads, threads, warmup, duration, &|r| {
            baseline
                .read(&r.id, &fields)
                .map(|record| std::hint::black_box(record).fields.len())
                .map_err(|e| e.to_string())
        })?;
        log_run(&log, &plain);
        read_runs.push(report::Pair {
            n: threads,
            audited,
            unaudited: plain,
        });
    }

    let update_members = workload::random_members(
        &generator,
        members,
        UPDATE_IDS,
        args.seed ^ 0x7570_6461_7465_7321,
    )?;
    let updates = workload::updates(
        &update_members,
        &setup.staff_tokens,
        args.seed ^ 0x7733_5f76_616c_7565,
    )?;
    drop(update_members);
    let first_update = updates
        .first()
        .ok_or_else(|| anyhow::anyhow!("no updates to make"))?;
    update::check(&vault, first_update)?;
    log(&format!(
        "updating in process on {} threads for {seconds} s, audited …",
        read::AUDITED_TARGET_THREADS
    ));
    let update_in_process = update::run_audited(
        &vault,
        &updates,
        read::AUDITED_TARGET_THREADS,
        warmup,
        duration,
    )?;
    log_run(&log, &update_in_process);

    let requests = Requests {
        reads: reads.iter().map(load::Request::of).collect(),
        updates: updates.iter().map(load::Request::of_update).collect(),
    };
    let drive = |connections| load::Drive {
        connections,
        client_threads: args.client_threads,
        warmup,
        duration,
    };
    let server = server::start(Arc::clone(&vault))?;
    let twin = server::start_unaudited(Arc::clone(&vault), Arc::clone(&baseline));
    let server_threads = server.worker_threads;
    let http = match &twin {
        Ok(twin) => http_runs(&server, twin, &requests, &drive, &log),
        Err(e) => Err(anyhow::anyhow!("cannot start the unaudited server: {e}")),
    };
    let stopped = server.stop();
    let twin_stopped = twin.map(server::Server::stop);
    let (custos_curves, http_unaudited) = http?;
    stopped?;
    twin_stopped??;

    let ledger_after = vault.ledger_head(&operator)?.head().size();
    let template = last_event_template(&vault, ledger_after);
    drop(baseline);

    let incident = incident::run(
        &vault,
        &generator,
        &incident::Options {
            dir: &incident::dir(&work_dir),
            exposure_events,
            processor_subjects,
            notice_people,
            members,
            seed: args.seed,
            template: template.clone(),
        },
        &log,
    )?;
    let mut erase_members = workload::random_members(
        &generator,
        members,
        erase_count,
        args.seed ^ 0x6572_6173_655f_6964,
    )?;
    // A member picked twice is erased once.
    erase_members.sort_unstable_by_key(|(index, _)| *index);
    erase_members.dedup_by_key(|(index, _)| *index);
    log(&format!(
        "erasing {} members one at a time …",
        erase_members.len()
    ));
    let erase_ids: Vec<_> = erase_members.into_iter().map(|(_, id)| id).collect();
    let erase = erase::run(&vault, &erase_ids, erase::DEFAULT_SAMPLE, &log)?;
    drop(vault);

    let ledger = if ledger_events > 0 {
        Some(ledger::run(
            &ledger::Options {
                dir: &work_dir,
                events: ledger_events,
                members,
                seed: args.seed,
                warmup,
                duration,
                template,
            },
            &log,
        )?)
    } else {
        None
    };

    let mut comparison = custos_curves;
    let csv = import::csv_path(&work_dir);
    log("building the floor's plain SQLite table …");
    let floor_build = floor::build(&csv, &work_dir.join("floor.sqlite"))?;
    let floor_server = floor::start(&work_dir.join("floor.sqlite"))?;
    let floor_runs = (|| {
        check_server(floor_server.addr, &requests.reads[0], "floor")?;
        let read = curve(
            floor_server.addr,
            &requests.reads,
            &drive,
            "GET, floor",
            &log,
        )?;
        let update = curve(
            floor_server.addr,
            &requests.updates,
            &drive,
            "PATCH, floor",
            &log,
        )?;
        anyhow::Ok((read, update))
    })();
    floor_server.stop()?;
    (comparison.read.floor, comparison.update.floor) = floor_runs?;

    let peer = if args.no_peer {
        Err("skipped: --no-peer".to_owned())
    } else {
        peer::run(
            &peer::Options {
                dir: &work_dir.join("peer"),
                csv: &csv,
                members,
                generator: &generator,
                updates: &updates,
                seed: args.seed,
            },
            &drive,
            &log,
        )?
    };
    if let Ok(p) = &peer {
        comparison.read.peer.clone_from(&p.reads);
        comparison.update.peer.clone_from(&p.updates);
    }

    let report = report::Report {
        machine,
        members,
        seconds,
        quick: args.quick,
        seed: args.seed,
        import,
        principals: setup.figures,
        policy,
        warm: warm_figures,
        reads: read_runs,
        comparison,
        http_unaudited,
        update_in_process,
        erase,
        floor: floor_build,
        peer,
        build,
        recorded_by_reads: ledger_after.saturating_sub(ledger_before),
        incident,
        ledger,
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
    if !args.no_results {
        std::fs::create_dir_all(&args.results)
            .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", args.results.display()))?;
        let stem = results::free_stem(&args.results, &report.build, args.quick);
        let files = results::files(&args.results, &stem, &report.comparison);
        results::write(
            &files,
            &report.comparison,
            &report.markdown(&files),
            &report.json(),
        )?;
        log(&format!(
            "kept the report in {} (with its JSON and {} charts)",
            files.markdown.display(),
            files.charts.len()
        ));
    }
    if let Some(temp) = temp {
        temp.close()?;
    }
    Ok(())
}

fn log_run(log: &dyn Fn(&str), run: &stats::Run) {
    log(&format!(
        "  {}/s, median {}, p99 {}{}",
        report::thousands(run.throughput()),
        report::latency(run.median_us()),
        report::latency(run.p99_us()),
        if run.errors > 0 {
            format!(", {} errors", run.errors)
        } else {
            String::new()
        }
    ));
}

/// The shape of the last event the vault recorded (an audited HTTP read),
/// for W5's events.
fn last_event_template(vault: &Vault, size: u64) -> ledger::Template {
    let query = EventQuery {
        after_seq: size.checked_sub(2),
        limit: 1,
        ..EventQuery::default()
    };
    match vault.ledger_query(&vault.local_operator(), &query) {
        Ok(events) => match events.first() {
            Some(event) if event.action == "read" => ledger::Template::from_event(
                event,
                "the last audited HTTP read in the vault's ledger (principal, subject and request id varied)",
            ),
            _ => ledger::Template::synthetic(),
        },
        Err(_) => ledger::Template::synthetic(),
    }
}

fn check_server(
    addr: std::net::SocketAddr,
    request: &load::Request,
    what: &str,
) -> anyhow::Result<()> {
    let (status, body) = load::fetch(addr, request)?;
    anyhow::ensure!(
        status == 200,
        "GET of one subject from the {what} server answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&body)?;
    let fields = parsed
        .get("fields")
        .and_then(serde_json::Value::as_object)
        .map_or(0, serde_json::Map::len);
    anyhow::ensure!(
        fields == workload::READ_FIELDS.len(),
        "GET of one subject from the {what} server returned {fields} fields, expected {}",
        workload::READ_FIELDS.len()
    );
    let denied = parsed
        .get("denied")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    anyhow::ensure!(
        denied == 0,
        "GET of one subject from the {what} server denied {denied} fields: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

/// The prepared HTTP requests of W2 and W3, the same for every system.
struct Requests {
    reads: Arc<[load::Request]>,
    updates: Arc<[load::Request]>,
}

/// Custos's W2 and W3 over HTTP at every concurrency of the comparison,
/// and the unaudited twin's W2 where the access path's cost is judged.
fn http_runs(
    server: &server::Server,
    twin: &server::Server,
    requests: &Requests,
    drive: &dyn Fn(usize) -> load::Drive,
    log: &dyn Fn(&str),
) -> anyhow::Result<(compare::Comparison, load::LoadRun)> {
    let first = requests
        .reads
        .first()
        .ok_or_else(|| anyhow::anyhow!("no reads to request"))?;
    check_server(server.addr, first, "audited")?;
    check_server(twin.addr, first, "unaudited")?;
    let mut comparison = compare::Comparison::default();
    comparison.read.custos = curve(server.addr, &requests.reads, drive, "GET, Custos", log)?;
    log(&format!(
        "HTTP GET on {} connections, unaudited …",
        compare::JUDGED_AT
    ));
    let unaudited = load::run(&load::Load {
        addr: twin.addr,
        requests: Arc::clone(&requests.reads),
        drive: drive(compare::JUDGED_AT),
    })?;
    log_run(log, &unaudited.run);
    comparison.update.custos = curve(server.addr, &requests.updates, drive, "PATCH, Custos", log)?;
    Ok((comparison, unaudited))
}

/// One system's runs of `requests` at every concurrency of the comparison.
fn curve(
    addr: std::net::SocketAddr,
    requests: &Arc<[load::Request]>,
    drive: &dyn Fn(usize) -> load::Drive,
    what: &str,
    log: &dyn Fn(&str),
) -> anyhow::Result<Vec<(usize, load::LoadRun)>> {
    let mut points = Vec::new();
    for connections in compare::CONNECTIONS {
        let d = drive(connections);
        log(&format!(
            "HTTP {what} on {connections} connection(s) for {} s …",
            d.duration.as_secs_f64()
        ));
        let result = load::run(&load::Load {
            addr,
            requests: Arc::clone(requests),
            drive: d,
        })?;
        log_run(log, &result.run);
        points.push((connections, result));
    }
    Ok(points)
}
