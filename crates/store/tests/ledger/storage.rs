//! The store on its own: appends through the builder, reads, the batch
//! checks that keep the log's invariants, heads, and proofs served from the
//! stored tree.

use custos_crypto::LedgerSigningKey;
use custos_ledger::merkle::{self, Frontier, Hash};
use custos_ledger::{
    AppendBatch, AppendedEvent, Event, LedgerStore, LedgerStoreError, Outcome, SignedHead, TreeHead,
};

use crate::support::{self, append_events, other_vault, vault};

/// Event `seq` with a time that grows with it.
pub(crate) fn event(seq: u64) -> Event {
    Event {
        seq,
        time: format!("2026-11-25T14:{:02}:{:02}.000Z", seq / 60 % 60, seq % 60),
        principal: format!("p{}", seq % 3),
        auth: "api_token".into(),
        action: "read".into(),
        purpose: "casework".into(),
        subjects: vec![format!("M{seq}"), "M0".into()],
        fields_released: vec!["email".into(), "phone".into()],
        fields_denied: vec![],
        outcome: Outcome::Allowed,
        reason: "policy rule 1".into(),
        request_id: format!("req-{seq}"),
        client: "192.0.2.1".into(),
    }
}

fn head(events: &[Event], key: &LedgerSigningKey) -> SignedHead {
    let leaves: Vec<Hash> = events.iter().map(Event::leaf_hash).collect();
    let root = merkle::root(&leaves[..], leaves.len() as u64).unwrap();
    SignedHead::sign(
        TreeHead::new(
            vault(),
            leaves.len() as u64,
            root,
            "2026-11-25T15:00:00.000Z",
        )
        .unwrap(),
        key,
    )
}

#[test]
fn events_read_back_exactly_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    let mut written: Vec<Event> = (0..5).map(event).collect();
    // Every list shape: empty, one, several; empty texts too.
    written[1].subjects.clear();
    written[1].fields_released.clear();
    written[2].fields_denied = vec!["date_of_birth".into(), "ethnicity".into()];
    written[3].reason.clear();
    written[3].outcome = Outcome::Denied;
    written[4].client = "job:import".into();
    {
        let store = support::create(&path);
        assert_eq!(store.size().unwrap(), 0);
        assert_eq!(append_events(&*store, written[..2].to_vec()), 2);
        assert_eq!(append_events(&*store, written[2..].to_vec()), 5);
    }
    let store = support::open(&path);
    assert_eq!(store.size().unwrap(), 5);
    let rows = store.events(0, 100).unwrap();
    assert_eq!(rows.len(), 5);
    for (row, e) in rows.iter().zip(&written) {
        assert_eq!(row.seq, e.seq);
        assert_eq!(row.event.as_ref().unwrap(), e);
        assert_eq!(row.leaf_hash, Some(e.leaf_hash()));
    }
    assert_eq!(store.events(3, 1).unwrap().len(), 1);
    assert_eq!(store.events(3, 1).unwrap()[0].seq, 3);
    assert_eq!(store.event(2).unwrap().as_ref(), Some(&written[2]));
    assert_eq!(store.event(5).unwrap(), None);
    assert_eq!(store.tree_leaf(4).unwrap(), written[4].leaf_hash());
}

#[test]
fn batches_that_would_break_the_log_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    append_events(&*store, vec![event(0), event(1)]);
    let key = LedgerSigningKey::generate();

    let try_append = |events: Vec<Event>, head: Option<SignedHead>| {
        let mut pending = Some((events, head));
        store.append(&mut |state| {
            let (events, head) = pending.take().unwrap();
            let mut frontier = Frontier::load(state.tree, state.size)?;
            let mut batch = AppendBatch {
                head,
                ..AppendBatch::default()
            };
            for event in events {
                let leaf_hash = event.leaf_hash();
                frontier.append_reporting(leaf_hash, |n| batch.nodes.push(n));
                batch.events.push(AppendedEvent { event, leaf_hash });
            }
            Ok(batch)
        })
    };
    let mut back_in_time = event(3);
    back_in_time.time = "2026-11-25T13:00:00.000Z".into();
    let mut spaced = event(2);
    spaced.subjects = vec!["M 1".into()];
    let mut comma = event(2);
    comma.fields_denied = vec!["a,b".into()];
    let three: Vec<Event> = (0..3).map(event).collect();
    let mut foreign = head(&three, &key);
    foreign = SignedHead::sign(
        TreeHead::new(
            other_vault(),
            3,
            *foreign.head().root(),
            "2026-11-25T15:00:00.000Z",
        )
        .unwrap(),
        &key,
    );
    let cases: Vec<(&str, Vec<Event>, Option<SignedHead>, &str)> = vec![
        ("gap", vec![event(3)], None, "event 3 is not the next"),
        ("reuse", vec![event(1)], None, "event 1 is not the next"),
        (
            "order",
            vec![event(2), back_in_time],
            None,
            "earlier than the event before it",
        ),
        ("space", vec![spaced], None, "subject id `M 1`"),
        ("comma", vec![comma], None, "field name `a,b`"),
        (
            "head size",
            vec![event(2)],
            Some(head(&three[..2], &key)),
            "a head of size 2",
        ),
        (
            "head vault",
            vec![event(2)],
            Some(foreign),
            "cannot be stored in this vault",
        ),
    ];
    for (name, events, head, message) in cases {
        let err = try_append(events, head).unwrap_err();
        assert!(matches!(err, LedgerStoreError::Invalid(_)), "{name}: {err}");
        assert!(err.to_string().contains(message), "{name}: {err}");
        assert_eq!(store.size().unwrap(), 2, "{name}");
    }
    assert!(store.heads().unwrap().is_empty());

    // A failing builder writes nothing either.
    let err = store
        .append(&mut |_| Err("the signer is unavailable".into()))
        .unwrap_err();
    assert!(matches!(err, LedgerStoreError::Aborted(_)), "{err}");
    assert_eq!(err.to_string(), "the signer is unavailable");
    assert_eq!(store.size().unwrap(), 2);

    // And the log still takes the right batch.
    assert_eq!(
        try_append(vec![event(2)], Some(head(&three, &key))).unwrap(),
        3
    );
    assert_eq!(store.latest_head().unwrap().unwrap().head().size(), 3);
}

#[test]
fn heads_are_stored_only_when_they_match_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::create(&support::ledger_path(&dir));
    let events: Vec<Event> = (0..40).map(event).collect();
    append_events(&*store, events.clone());
    let key = LedgerSigningKey::generate();

    let good = head(&events[..20], &key);
    store.add_head(&good).unwrap();
    assert_eq!(store.heads().unwrap(), vec![good.clone()]);
    // The same size again keeps the first.
    let mut later = head(&events[..20], &key);
    later = SignedHead::sign(
        TreeHead::new(
            vault(),
            20,
            *later.head().root(),
            "2026-11-26T00:00:00.000Z",
        )
        .unwrap(),
        &key,
    );
    store.add_head(&later).unwrap();
    assert_eq!(store.heads().unwrap(), vec![good.clone()]);

    let mut forged_events = events[..30].to_vec();
    forged_events[7].purpose = "covert".into();
    let forged = head(&forged_events, &key);
    assert!(matches!(
        store.add_head(&forged),
        Err(LedgerStoreError::Invalid(m)) if m.contains("not the root")
    ));
    let mut longer = events.clone();
    longer.push(event(40));
    assert!(matches!(
        store.add_head(&head(&longer, &key)),
        Err(LedgerStoreError::Invalid(m)) if m.contains("covers 41 events but the ledger has 40")
    ));
    let full = head(&events, &key);
    store.add_head(&full).unwrap();
    assert_eq!(store.heads().unwrap(), vec![good, full.clone()]);
    assert_eq!(store.latest_head().unwrap(), Some(full));
}

#[test]
fn proofs_from_the_store_match_an_in_memory_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::ledger_path(&dir);
    let store = support::create(&path);
    let events: Vec<Event> = (0..300).map(event).collect();
    // Uneven batches, so completed nodes are reported across batch edges.
    let mut at = 0;
    for n in [1usize, 2, 13, 16, 17, 100, 151] {
        append_events(&*store, events[at..at + n].to_vec());
        at += n;
    }
    assert_eq!(at, 300);
    let leaves: Vec<Hash> = events.iter().map(Event::leaf_hash).collect();
    let dyn_store: &dyn LedgerStore = &*store;
    for size in [0u64, 1, 15, 16, 17, 31, 32, 33, 64, 255, 256, 257, 299, 300] {
        assert_eq!(
            merkle::root(dyn_store, size).unwrap(),
            merkle::root(&leaves[..], size).unwrap(),
            "root at {size}"
        );
        let loaded = Frontier::load(dyn_store, size).unwrap();
        assert_eq!(loaded.root(), merkle::root(&leaves[..], size).unwrap());
    }
    let root = merkle::root(&leaves[..], 300).unwrap();
    for seq in [0u64, 1, 15, 16, 100, 255, 256, 299] {
        let proof = merkle::inclusion_proof(dyn_store, seq, 300).unwrap();
        assert_eq!(
            proof,
            merkle::inclusion_proof(&leaves[..], seq, 300).unwrap()
        );
        assert!(merkle::verify_inclusion(
            &leaves[seq as usize],
            seq,
            300,
            &proof,
            &root
        ));
        // The proof is for that event and no other.
        assert!(!merkle::verify_inclusion(
            &leaves[(seq as usize + 1) % 300],
            seq,
            300,
            &proof,
            &root
        ));
    }
    for (old, new) in [(1u64, 300u64), (16, 17), (17, 256), (100, 299), (255, 300)] {
        let proof = merkle::consistency_proof(dyn_store, old, new).unwrap();
        assert_eq!(
            proof,
            merkle::consistency_proof(&leaves[..], old, new).unwrap()
        );
        let old_root = merkle::root(&leaves[..], old).unwrap();
        let new_root = merkle::root(&leaves[..], new).unwrap();
        assert!(merkle::verify_consistency(
            old, new, &old_root, &new_root, &proof
        ));
    }
    // Only levels 4 and up are kept as nodes: 300 events have 18 + 9 + 4 + 2
    // + 1 completed subtrees there.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let nodes: i64 = conn
        .query_row("SELECT count(*) FROM ledger_nodes", [], |r| r.get(0))
        .unwrap();
    let lowest: i64 = conn
        .query_row("SELECT min(level) FROM ledger_nodes", [], |r| r.get(0))
        .unwrap();
    assert_eq!((nodes, lowest), (18 + 9 + 4 + 2 + 1, 4));
}
