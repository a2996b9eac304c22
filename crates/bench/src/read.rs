//! In-process reads of ten fields of random members, on one or more threads:
//! W2's audited `Vault::read_subject` (authorize, record durably, decrypt),
//! or any other read given as a closure (the unaudited baseline of
//! `unaudited.rs`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use custos_engine::{FieldSelection, SubjectRecord, Vault};
use custos_model::SubjectId;

use crate::machine;
use crate::stats::Run;
use crate::workload::READ_FIELDS;

/// Issue 2's get-and-decrypt target, on one core: it applies to the
/// unaudited read, which is exactly get-and-decrypt.
pub(crate) const UNAUDITED_TARGET_PER_S: f64 = 100_000.0;
/// W2's in-process audited target on the machine's two cores.
pub(crate) const AUDITED_TARGET_PER_S: f64 = 30_000.0;
/// The thread count W2's in-process target is judged at: a durable read
/// waits for its group commit, so only concurrent readers share syncs, as
/// the server's blocking pool does.
pub(crate) const AUDITED_TARGET_THREADS: usize = 64;
/// A bound on the operations of one thread, so that a loop always ends.
const MAX_OPS_PER_THREAD: u64 = 200_000_000;

pub(crate) fn selection() -> FieldSelection {
    FieldSelection::Only(READ_FIELDS.iter().map(|&f| f.to_owned()).collect())
}

/// Checks that a read returned the ten fields, with values.
pub(crate) fn check_record(record: &SubjectRecord) -> anyhow::Result<()> {
    anyhow::ensure!(
        record.fields.len() == READ_FIELDS.len(),
        "a read returned {} fields, expected {}",
        record.fields.len(),
        READ_FIELDS.len()
    );
    let missing: Vec<String> = record
        .fields
        .iter()
        .filter(|(name, value)| value.is_none() && name.as_str() != "consent_email")
        .map(|(name, _)| name.to_string())
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "a read returned no value for {}",
        missing.join(", ")
    );
    Ok(())
}

/// Checks that an audited read returns the ten fields, with values.
pub(crate) fn check(vault: &Vault, id: &SubjectId) -> anyhow::Result<SubjectRecord> {
    let record = vault.read_subject(&vault.local_operator(), id, &selection())?;
    check_record(&record)?;
    Ok(record)
}

/// Audited reads (`Vault::read_subject` as the local operator) on `threads`
/// threads for `warmup` (not counted) then `duration`.
pub(crate) fn run_audited(
    vault: &Vault,
    ids: &[SubjectId],
    threads: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    let who = vault.local_operator();
    let selection = selection();
    run(ids, threads, warmup, duration, &|id| {
        vault
            .read_subject(&who, id, &selection)
            .map(|record| black_box(record).fields.len())
            .map_err(|e| e.to_string())
    })
}

/// Runs `read` on `threads` threads for `warmup` (not counted) then
/// `duration`, each thread cycling through `ids` from its own offset.
pub(crate) fn run(
    ids: &[SubjectId],
    threads: usize,
    warmup: Duration,
    duration: Duration,
    read: &(dyn Fn(&SubjectId) -> Result<usize, String> + Sync),
) -> anyhow::Result<Run> {
    anyhow::ensure!(!ids.is_empty() && threads > 0, "nothing to read");
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let cpu_before = std::sync::Mutex::new(None);
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let cpu_before = &cpu_before;
                std::thread::Builder::new()
                    .name(format!("bench-read-{t}"))
                    .spawn_scoped(scope, move || {
                        let mut samples = Vec::with_capacity(1 << 16);
                        let mut errors = 0u64;
                        let mut first_error = None;
                        let mut next = t * ids.len() / threads;
                        let mut ops = 0u64;
                        let mut measuring = false;
                        while ops < MAX_OPS_PER_THREAD {
                            let t0 = Instant::now();
                            if t0 >= end {
                                break;
                            }
                            if !measuring && t0 >= measure_from {
                                measuring = true;
                                if t == 0
                                    && let Ok(mut slot) = cpu_before.lock()
                                {
                                    *slot = machine::cpu_time();
                                }
                            }
                            let id = &ids[next % ids.len()];
                            next += 1;
                            let result = read(id);
                            let nanos = t0.elapsed().as_nanos();
                            ops += 1;
                            match black_box(result) {
                                Ok(_) if measuring => {
                                    samples.push(u64::try_from(nanos).unwrap_or(u64::MAX))
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    errors += 1;
                                    first_error.get_or_insert(e);
                                }
                            }
                        }
                        (samples, errors, first_error)
                    })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| match w {
                Ok(handle) => handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a reader thread panicked")),
                Err(e) => Err(anyhow::anyhow!("cannot start a reader thread: {e}")),
            })
            .collect::<Vec<_>>()
    });
    let cpu = machine::cpu_since(cpu_before.into_inner().unwrap_or(None));
    let mut samples = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for result in results {
        let (s, e, f) = result?;
        samples.extend(s);
        errors += e;
        first_error = first_error.or(f);
    }
    // Counted operations are those that started inside the window.
    let mut run = Run::from_samples(samples, errors, first_error, duration);
    run.cpu = cpu;
    Ok(run)
}
