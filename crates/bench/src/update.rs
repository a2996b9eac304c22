//! W3 in process: audited updates of two fields of random members, each by a
//! staff member of the membership team with their own token, for membership
//! administration, through `Vault::update_subject`: authenticate, check the
//! purpose, validate, decide per field, record durably, check the principal
//! again, seal the new values and write them. The HTTP form of the same
//! update is a PATCH (`workload::Update::path` and `body`), sent by the load
//! generator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use custos_engine::{Caller, FieldSelection, Vault};

use crate::stats::Run;
use crate::threads::{self, Threads};
use crate::workload::{UPDATE_FIELDS, UPDATE_PURPOSE, Update};

/// W3's HTTP target on the machine's two cores.
pub(crate) const TARGET_PER_S: f64 = 5_000.0;
/// W3's p99 target, in milliseconds.
pub(crate) const TARGET_P99_MS: f64 = 20.0;

/// The caller of one W3 update: the staff member's token, a request id of
/// the bench's own and the membership purpose, as the server builds it from
/// a request.
fn caller(update: &Update, request_id: &str) -> Caller {
    Caller::with_token(&update.token, request_id, "bench").with_purpose(Some(UPDATE_PURPOSE))
}

/// Applies `update` and reads the two fields back through the vault, as the
/// same staff member for the same purpose: both must hold the new values.
/// This is what makes a W3 run meaningful (the default policies allow the
/// update, and it lands), so the bench checks it before timing.
pub(crate) fn check(vault: &Vault, update: &Update) -> anyhow::Result<()> {
    let id = update.id.as_str();
    vault
        .update_subject(&caller(update, "bench-check"), &update.id, &update.values())
        .map_err(|e| anyhow::anyhow!("a staff member's update of `{id}` failed: {e}"))?;
    let selection = FieldSelection::Only(UPDATE_FIELDS.iter().map(|&f| f.to_owned()).collect());
    let record = vault
        .read_subject(&caller(update, "bench-check-read"), &update.id, &selection)
        .map_err(|e| anyhow::anyhow!("reading `{id}` back after its update failed: {e}"))?;
    anyhow::ensure!(
        record.denied.is_empty(),
        "reading `{id}` back after its update was denied {} field(s)",
        record.denied.len()
    );
    for (name, wanted) in update.values() {
        let found = record
            .fields
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.as_ref());
        // Values are personal data: say which field differs, never what it holds.
        anyhow::ensure!(
            found.map(|v| v.as_str()) == Some(wanted.as_str()),
            "`{name}` of `{id}` does not hold the value just written"
        );
    }
    Ok(())
}

/// Audited updates (`Vault::update_subject`, each by a staff member for
/// membership administration) on `threads` threads for `warmup` (not
/// counted) then `duration`, each thread cycling through `updates` from its
/// own offset. Any refusal counts as an error.
pub(crate) fn run_audited(
    vault: &Vault,
    updates: &[Update],
    threads: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    anyhow::ensure!(!updates.is_empty() && threads > 0, "nothing to update");
    // Request ids are unique across threads, as the server's are.
    let requests = AtomicU64::new(0);
    let shape = Threads {
        count: threads,
        warmup,
        duration,
        name: "bench-update",
        what: "an updater thread",
        stack_size: None,
        samples_capacity: 1 << 14,
    };
    threads::timed(&shape, &|t| {
        let mut next = t * updates.len() / threads;
        let requests = &requests;
        move || {
            let update = &updates[next % updates.len()];
            next += 1;
            let request_id = format!("bench-w3-{:012x}", requests.fetch_add(1, Ordering::Relaxed));
            vault
                .update_subject(&caller(update, &request_id), &update.id, &update.values())
                .map_err(|e| e.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::Arc;

    use custos_model::PrincipalKind;
    use custos_synth::{Generator, constituencies};

    use super::*;
    use crate::workload;

    const MEMBERS: u64 = 300;

    /// A vault with `MEMBERS` imported members. (The whole standard roster
    /// takes seconds to add in a debug build; each test adds the few
    /// principals it needs.)
    fn vault() -> (tempfile::TempDir, Vault) {
        let dir = tempfile::tempdir().unwrap();
        let (_, init) = crate::import::run(dir.path(), MEMBERS, 1, &|_| {}).unwrap();
        (dir, init.vault)
    }

    /// Adds a principal as `principals::create` does, and returns its token.
    fn principal(
        vault: &Vault,
        name: &str,
        kind: PrincipalKind,
        attribute: (&str, &str),
    ) -> Arc<str> {
        let operator = vault.local_operator();
        let attributes = [(attribute.0.to_owned(), attribute.1.to_owned())];
        vault
            .add_principal(&operator, name, kind, &attributes, None, None)
            .unwrap();
        Arc::from(
            vault
                .create_token(&operator, name, None)
                .unwrap()
                .token
                .expose(),
        )
    }

    fn staff(vault: &Vault, count: usize) -> Vec<Arc<str>> {
        (1..=count)
            .map(|i| {
                let name = format!("staff-{i:03}");
                principal(vault, &name, PrincipalKind::Staff, ("team", "membership"))
            })
            .collect()
    }

    fn plan(tokens: &[Arc<str>], count: usize, seed: u64) -> Vec<Update> {
        let generator = Generator::new(1);
        let picked = workload::random_members(&generator, MEMBERS, count, seed).unwrap();
        workload::updates(&picked, tokens, seed).unwrap()
    }

    fn ledger_size(vault: &Vault) -> u64 {
        vault
            .ledger_head(&vault.local_operator())
            .unwrap()
            .head()
            .size()
    }

    #[test]
    fn staff_updates_land_and_each_is_recorded() {
        let (_dir, vault) = vault();
        let updates = plan(&staff(&vault, 3), 64, 3);
        check(&vault, &updates[0]).unwrap();

        let before = ledger_size(&vault);
        let run = run_audited(
            &vault,
            &updates,
            2,
            Duration::from_millis(50),
            Duration::from_millis(300),
        )
        .unwrap();
        assert_eq!(run.errors, 0, "{:?}", run.first_error);
        assert!(run.ops > 0);
        // Each update is one event; the warm-up's (at least one per
        // thread) are recorded too, but not counted.
        assert!(ledger_size(&vault) >= before + run.ops + 2);
    }

    #[test]
    fn refused_updates_fail_the_check_and_count_as_errors() {
        let (_dir, vault) = vault();
        // A representative may read members for casework but not update
        // them; a made-up token is nobody's; and staff outside the
        // membership team have no permit either.
        let seat = &constituencies()[0].code;
        let representative = principal(
            &vault,
            "rep-one",
            PrincipalKind::Representative,
            ("constituency", seat),
        );
        let finance = principal(
            &vault,
            "staff-fin",
            PrincipalKind::Staff,
            ("team", "finance"),
        );
        let mut refused = plan(&[representative], 3, 4);
        refused[1].token = Arc::from("not-a-token");
        refused[2].token = finance;
        for update in &refused {
            let message = check(&vault, update).unwrap_err().to_string();
            assert!(message.contains("update of"), "{message}");
        }
        let run = run_audited(
            &vault,
            &refused,
            1,
            Duration::ZERO,
            Duration::from_millis(100),
        )
        .unwrap();
        assert_eq!(run.ops, 0);
        assert!(run.errors > 0);
    }
}
