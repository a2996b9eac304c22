//! A small honest ledger to tamper with: events, their tree, and heads
//! signed along the way.

use custos_crypto::{LedgerPublicKey, LedgerSigningKey};
use custos_ledger::merkle::{self, Hash};
use custos_ledger::{Event, Outcome, SignedHead, StoredEvent, TreeHead};
use custos_model::VaultId;

pub(crate) fn vault() -> VaultId {
    VaultId::from_random([11; 16])
}

pub(crate) fn other_vault() -> VaultId {
    VaultId::from_random([12; 16])
}

/// A plausible event `seq`; `variant` changes its contents without changing
/// its seq, to make forged replacements.
pub(crate) fn event(seq: u64, variant: u32) -> Event {
    let actions = ["read", "find", "update", "export", "erase"];
    let outcomes = [
        Outcome::Allowed,
        Outcome::Partial,
        Outcome::Denied,
        Outcome::Failed,
    ];
    let i = seq as usize;
    Event {
        seq,
        time: format!(
            "2026-11-25T14:{:02}:{:02}.{:03}Z",
            (seq / 60) % 60,
            seq % 60,
            (seq * 7 + u64::from(variant)) % 1000
        ),
        principal: format!("caseworker-{}", seq % 3),
        auth: if seq.is_multiple_of(4) {
            "local_operator"
        } else {
            "api_token"
        }
        .into(),
        action: actions[i % actions.len()].into(),
        purpose: if variant == 0 {
            "renewal reminder".into()
        } else {
            format!("covert purpose {variant}")
        },
        subjects: vec![format!("M{}", 1000 + seq), format!("M{}", 2000 + seq % 5)],
        fields_released: vec!["email".into(), "postcode".into()],
        fields_denied: if seq.is_multiple_of(2) {
            vec!["date_of_birth".into()]
        } else {
            vec![]
        },
        outcome: outcomes[i % outcomes.len()],
        reason: format!("policy rule {}", seq % 7),
        request_id: format!("req-{seq:04}"),
        client: "192.0.2.10".into(),
    }
}

pub(crate) fn events(n: u64) -> Vec<Event> {
    (0..n).map(|seq| event(seq, 0)).collect()
}

pub(crate) fn leaf_hashes(events: &[Event]) -> Vec<Hash> {
    events.iter().map(Event::leaf_hash).collect()
}

/// The time of the head at `size`, later for larger heads.
fn head_time(size: u64) -> String {
    format!("2026-11-25T15:{:02}:00.000Z", size % 60)
}

/// Signs the head of the first `size` of `events`.
pub(crate) fn sign_head(
    events: &[Event],
    size: u64,
    vault: &VaultId,
    key: &LedgerSigningKey,
) -> SignedHead {
    let leaves = leaf_hashes(events);
    let root = merkle::root(&leaves[..], size).unwrap();
    SignedHead::sign(
        TreeHead::new(vault.clone(), size, root, &head_time(size)).unwrap(),
        key,
    )
}

/// The honest ledger: 40 events and heads signed at 10, 20, 30 and 40.
pub(crate) struct Ledger {
    pub(crate) key: LedgerSigningKey,
    pub(crate) public: LedgerPublicKey,
    pub(crate) vault: VaultId,
    pub(crate) events: Vec<Event>,
    pub(crate) heads: Vec<SignedHead>,
}

pub(crate) const HEAD_SIZES: [u64; 4] = [10, 20, 30, 40];

pub(crate) fn honest() -> Ledger {
    let key = LedgerSigningKey::generate();
    let vault = vault();
    let events = events(40);
    let heads = HEAD_SIZES
        .iter()
        .map(|&size| sign_head(&events, size, &vault, &key))
        .collect();
    Ledger {
        public: key.public_key(),
        key,
        vault,
        events,
        heads,
    }
}

/// Events as a store returns them, with the leaf hashes it kept (if any).
pub(crate) fn stored(events: &[Event], kept: Option<&[Hash]>) -> Vec<StoredEvent> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let s = StoredEvent::new(e.clone());
            match kept {
                Some(hashes) => s.with_leaf_hash(hashes[i]),
                None => s,
            }
        })
        .collect()
}
