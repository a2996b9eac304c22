//! In-process reads of ten fields of random members, on one or more threads:
//! W2's audited `Vault::read_subject` (authorize, record durably, decrypt),
//! or any other read given as a closure (the unaudited baseline of
//! `unaudited.rs`).

use std::hint::black_box;
use std::time::Duration;

use custos_engine::{FieldSelection, SubjectRecord, Vault};
use custos_model::SubjectId;

use crate::stats::Run;
use crate::threads::{self, Threads};
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
        let mut next = t * ids.len() / threads;
        move || {
            let id = &ids[next % ids.len()];
            next += 1;
            read(id)
        }
    })
}
