//! Shared fixtures: a vault, plausible events, ledgers in temporary
//! directories, and whole-log verification through the public API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use custos_crypto::{LedgerPublicKey, LedgerSigningKey};
use custos_ledger::merkle::Frontier;
use custos_ledger::{
    AppendBatch, AppendedEvent, Event, HeadPolicy, LedgerStore, NewEvent, Outcome, Recorder,
    Report, StoredEvent, verify_log,
};
use custos_model::VaultId;
use custos_store::{SqliteLedger, SqliteOptions};

pub(crate) fn vault() -> VaultId {
    VaultId::from_random([21; 16])
}

pub(crate) fn other_vault() -> VaultId {
    VaultId::from_random([22; 16])
}

pub(crate) fn ledger_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ledger.sqlite")
}

pub(crate) fn create(path: &Path) -> Arc<SqliteLedger> {
    Arc::new(SqliteLedger::create(path, &vault(), SqliteOptions::default()).unwrap())
}

pub(crate) fn open(path: &Path) -> Arc<SqliteLedger> {
    Arc::new(SqliteLedger::open(path, &vault(), SqliteOptions::default()).unwrap())
}

/// A policy that signs only when told to (and at shutdown).
pub(crate) fn rarely() -> HeadPolicy {
    HeadPolicy {
        every_events: u64::MAX,
        every: Duration::from_secs(3600),
    }
}

pub(crate) fn start(
    store: Arc<SqliteLedger>,
    key: &LedgerSigningKey,
    policy: HeadPolicy,
) -> Recorder {
    let signer = clone_key(key);
    Recorder::start(store, signer, vault(), policy)
}

/// The same signing key again, for a second recorder (as a second process
/// would open it from the vault).
pub(crate) fn clone_key(key: &LedgerSigningKey) -> LedgerSigningKey {
    // The key has no Clone by design; a vault hands each process its own
    // copy through the keyring, and so does this.
    let vault = vault();
    let (ring, _) = custos_crypto::Keyring::create(&custos_crypto::MasterKey::generate(), &vault);
    ring.open_signing_key(&ring.seal_signing_key(key)).unwrap()
}

/// A plausible API read: one subject, a UUID request id.
pub(crate) fn new_event(i: u64) -> NewEvent {
    let actions = ["read", "read", "read", "find", "update", "export"];
    let purposes = ["membership renewal", "ballot mailing", "casework"];
    NewEvent {
        principal: format!("caseworker-{}", i % 40),
        auth: "api_token".into(),
        action: actions[(i % 6) as usize].into(),
        purpose: purposes[(i % 3) as usize].into(),
        subjects: vec![format!("M{:08}", (i * 7919) % 1_000_000 + 1)],
        fields_released: vec!["email".into(), "postcode".into()],
        fields_denied: if i.is_multiple_of(10) {
            vec!["date_of_birth".into()]
        } else {
            vec![]
        },
        outcome: if i.is_multiple_of(10) {
            Outcome::Partial
        } else {
            Outcome::Allowed
        },
        reason: "policy caseworkers".into(),
        request_id: format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            i.wrapping_mul(0x9e37_79b9) as u32,
            i % 0xffff,
            i % 0xfff,
            (i / 7) % 0xfff,
            i.wrapping_mul(0x2545_f491_4f6c_dd1d) & 0xffff_ffff_ffff
        ),
        client: "192.0.2.10".into(),
    }
}

/// Appends fully formed events straight to the store (no recorder), with
/// their leaf hashes and completed nodes, as a builder must.
pub(crate) fn append_events(store: &dyn LedgerStore, events: Vec<Event>) -> u64 {
    let mut pending = Some(events);
    store
        .append(&mut |state| {
            let events = pending.take().unwrap();
            let mut frontier = Frontier::load(state.tree, state.size)?;
            let mut batch = AppendBatch::default();
            for event in events {
                let leaf_hash = event.leaf_hash();
                frontier.append_reporting(leaf_hash, |n| batch.nodes.push(n));
                batch.events.push(AppendedEvent { event, leaf_hash });
            }
            Ok(batch)
        })
        .unwrap()
}

/// Every stored event, read in pages as an export would.
pub(crate) fn all_rows(store: &dyn LedgerStore) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    loop {
        let page = store.events(out.len() as u64, 1000).unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page.into_iter().map(StoredEvent::from));
    }
}

pub(crate) fn all_events(store: &dyn LedgerStore) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    loop {
        let page = store.events(out.len() as u64, 1000).unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page.into_iter().map(|r| r.event.unwrap()));
    }
}

/// `verify_log` over the stored events and heads.
pub(crate) fn verify(store: &dyn LedgerStore, key: &LedgerPublicKey) -> Report {
    verify_log(all_rows(store), store.heads().unwrap(), &vault(), key)
}
