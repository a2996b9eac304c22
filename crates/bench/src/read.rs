//! In-process reads of ten fields of random members, on one or more threads:
//! W2's audited `Vault::read_subject`, each as a request of the member's
//! representative with their token, for casework (authenticate, check the
//! purpose, decide per field, record durably, check the principal again,
//! decrypt), or any other read given as a closure (the unaudited baseline
//! of `unaudited.rs`).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use custos_engine::{Caller, FieldSelection, SubjectRecord, Vault};

use crate::stats::Run;
use crate::threads::{self, Threads};
use crate::workload::{PURPOSE, READ_FIELDS, Read};

/// Issue 2's get-and-decrypt target, on one core: it applies to the
/// unaudited read, which is exactly get-and-decrypt.
pub(crate) const UNAUDITED_TARGET_PER_S: f64 = 100_000.0;
/// W2's in-process audited target on the machine's two cores.
pub(crate) const AUDITED_TARGET_PER_S: f64 = 30_000.0;
/// The thread count W2's in-process target is judged at: a durable read
/// waits for its group commit, so only concurrent readers share syncs, as
/// the server's blocking pool does.
pub(crate) const AUDITED_TARGET_THREADS: usize = 64;

pub(crate) fn selection() -> FieldSelection {
    FieldSelection::Only(READ_FIELDS.iter().map(|&f| f.to_owned()).collect())
}

/// Checks that a read returned the ten fields, with values, and denied
/// none of them.
pub(crate) fn check_record(record: &SubjectRecord) -> anyhow::Result<()> {
    if !record.denied.is_empty() {
        let denied: Vec<String> = record
            .denied
            .iter()
            .map(|d| {
                format!(
                    "{} ({}: {})",
                    d.field.as_deref().unwrap_or("(request)"),
                    d.code,
                    d.reason
                )
            })
            .collect();
        anyhow::bail!(
            "a representative's casework read of `{}` was denied {}; W2 expects the default policies to allow all ten fields",
            record.id.as_str(),
            denied.join(", ")
        );
    }
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

/// The caller of one W2 read: the representative's token, a request id of
/// the bench's own and the casework purpose, as the server builds it from
/// a request.
pub(crate) fn caller(read: &Read, request_id: &str) -> Caller {
    Caller::with_token(&read.token, request_id, "bench").with_purpose(Some(PURPOSE))
}

/// Checks that an audited read by the member's representative returns the
/// ten fields, with values, none denied.
pub(crate) fn check(vault: &Vault, read: &Read) -> anyhow::Result<SubjectRecord> {
    let record = vault
        .read_subject(&caller(read, "bench-check"), &read.id, &selection())
        .map_err(|e| {
            anyhow::anyhow!(
                "the representative's casework read of `{}` failed: {e}",
                read.id.as_str()
            )
        })?;
    check_record(&record)?;
    Ok(record)
}

/// Audited reads (`Vault::read_subject`, each by the member's
/// representative for casework) on `threads` threads for `warmup` (not
/// counted) then `duration`. A read with any field denied counts as an
/// error.
pub(crate) fn run_audited(
    vault: &Vault,
    reads: &[Read],
    threads: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    let selection = selection();
    // Request ids are unique across threads, as the server's are; one
    // shared counter costs nothing next to a durable read.
    let requests = AtomicU64::new(0);
    run(reads, threads, warmup, duration, &|read| {
        let request_id = format!("bench-{:012x}", requests.fetch_add(1, Ordering::Relaxed));
        let record = vault
            .read_subject(&caller(read, &request_id), &read.id, &selection)
            .map_err(|e| e.to_string())?;
        if record.denied.is_empty() {
            Ok(black_box(record).fields.len())
        } else {
            Err(format!("{} field(s) denied", record.denied.len()))
        }
    })
}

/// Reads each of `reads` once, audited, on `threads` threads, untimed: to
/// warm the decision cache before the timed runs. Any failure or denial
/// stops the bench.
pub(crate) fn warm(vault: &Vault, reads: &[Read], threads: usize) -> anyhow::Result<()> {
    let selection = selection();
    let chunk = reads.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = reads
            .chunks(chunk)
            .enumerate()
            .map(|(t, part)| {
                let selection = &selection;
                scope.spawn(move || -> anyhow::Result<()> {
                    for (i, read) in part.iter().enumerate() {
                        let request_id = format!("bench-warm-{t:02}-{i:06}");
                        let record = vault
                            .read_subject(&caller(read, &request_id), &read.id, selection)
                            .map_err(|e| {
                                anyhow::anyhow!(
                                    "a warm-up read of `{}` failed: {e}",
                                    read.id.as_str()
                                )
                            })?;
                        check_record(&record)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| anyhow::anyhow!("a warm-up thread panicked"))?
        })
    })
}

/// Runs `read` on `threads` threads for `warmup` (not counted) then
/// `duration`, each thread cycling through `items` from its own offset.
pub(crate) fn run<T: Sync>(
    items: &[T],
    threads: usize,
    warmup: Duration,
    duration: Duration,
    read: &(dyn Fn(&T) -> Result<usize, String> + Sync),
) -> anyhow::Result<Run> {
    anyhow::ensure!(!items.is_empty() && threads > 0, "nothing to read");
    let shape = Threads {
        count: threads,
        warmup,
        duration,
        name: "bench-read",
        what: "a reader thread",
        stack_size: None,
        samples_capacity: 1 << 16,
    };
    threads::timed(&shape, &|t| {
        let mut next = t * items.len() / threads;
        move || {
            let item = &items[next % items.len()];
            next += 1;
            read(item)
        }
    })
}
