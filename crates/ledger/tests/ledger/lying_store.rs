//! The verifier against a store that lies: every kind of tampering the issue
//! lists, each expected to be caught and named precisely. The honest ledger
//! has 40 events (0 to 39) and signed heads at sizes 10, 20, 30 and 40.

use custos_crypto::{LedgerPublicKey, LedgerSigningKey};
use custos_ledger::merkle::{self, Hash, consistency_proof, inclusion_proof};
use custos_ledger::{
    Event, HeadError, Problem, Report, SignedHead, StoredEvent, Verifier, verify_against,
    verify_log,
};

use crate::support::{
    HEAD_SIZES, Ledger, event, events, honest, leaf_hashes, other_vault, sign_head, stored,
};

fn check(l: &Ledger, events: &[Event], kept: Option<&[Hash]>, heads: Vec<SignedHead>) -> Report {
    verify_log(stored(events, kept), heads, &l.vault, &l.public)
}

fn problem(report: &Report) -> Problem {
    report
        .problem
        .clone()
        .expect("a problem should have been found")
}

#[test]
fn the_honest_ledger_verifies() {
    let l = honest();
    let kept = leaf_hashes(&l.events);
    for kept in [None, Some(&kept[..])] {
        let report = check(&l, &l.events, kept, l.heads.clone());
        assert_eq!(report.problem, None);
        assert_eq!(report.events_checked, 40);
        assert_eq!(report.heads_checked, 4);
        assert_eq!(&report.root, l.heads[3].head().root());
    }
    // Heads may come in any order.
    let mut shuffled = l.heads.clone();
    shuffled.reverse();
    assert!(check(&l, &l.events, None, shuffled).is_ok());
    // A head of the empty log is checked too.
    let mut with_empty = l.heads.clone();
    with_empty.push(sign_head(&[], 0, &l.vault, &l.key));
    assert_eq!(check(&l, &l.events, None, with_empty).heads_checked, 5);
}

#[test]
fn an_edited_event_is_named_by_its_kept_leaf_hash() {
    let l = honest();
    let kept = leaf_hashes(&l.events);
    let mut edited = l.events.clone();
    edited[13].purpose = "something else".into();
    let report = check(&l, &edited, Some(&kept), l.heads.clone());
    assert_eq!(problem(&report), Problem::Altered { seq: 13 });
    assert_eq!(report.events_checked, 13);
    assert_eq!(report.heads_checked, 1);
}

#[test]
fn every_kind_of_single_field_edit_is_caught() {
    let l = honest();
    let edits: [fn(&mut Event); 8] = [
        |e| e.time = "2026-11-25T14:00:00.000Z".into(),
        |e| e.principal = "someone-else".into(),
        |e| e.auth = "session+totp".into(),
        |e| e.subjects.pop().map(drop).unwrap_or(()),
        |e| e.fields_released.push("date_of_birth".into()),
        |e| e.fields_denied.clear(),
        |e| e.reason.push('!'),
        |e| e.client = "203.0.113.9".into(),
    ];
    for (k, edit) in edits.iter().enumerate() {
        let mut edited = l.events.clone();
        edit(&mut edited[24]);
        assert_ne!(edited[24], l.events[24], "edit {k} changed nothing");
        let report = check(&l, &edited, None, l.heads.clone());
        assert_eq!(
            problem(&report),
            Problem::RootMismatch {
                size: 30,
                since: 20
            },
            "edit {k}"
        );
    }
}

#[test]
fn a_tree_rebuilt_after_an_edit_is_narrowed_to_a_range() {
    let l = honest();
    let mut edited = l.events.clone();
    edited[13].fields_released.retain(|f| f != "email");
    // The store recomputed the leaf hashes (and would rebuild its nodes),
    // so only the signed roots can show the edit.
    let recomputed = leaf_hashes(&edited);
    let report = check(&l, &edited, Some(&recomputed), l.heads.clone());
    let p = problem(&report);
    assert_eq!(
        p,
        Problem::RootMismatch {
            size: 20,
            since: 10
        }
    );
    assert_eq!(
        p.to_string(),
        "events 10 to 19 do not match the signed head at size 20: an event there was altered, \
         inserted or deleted and the tree rebuilt (the head at size 10 still matches)"
    );
    assert_eq!(report.heads_checked, 1);

    // Before the first head the range starts at event 0.
    let mut edited = l.events.clone();
    edited[3] = event(3, 1);
    let report = check(&l, &edited, Some(&leaf_hashes(&edited)), l.heads.clone());
    assert_eq!(
        problem(&report),
        Problem::RootMismatch { size: 10, since: 0 }
    );
    assert_eq!(report.heads_checked, 0);
}

#[test]
fn edits_after_the_last_head_show_only_in_kept_leaf_hashes() {
    // Events after the last signed head are covered by no signature yet: a
    // rebuilt tail passes until the next head is signed. This pins that
    // limit, and that kept leaf hashes still catch a careless edit.
    let key = LedgerSigningKey::generate();
    let vault = crate::support::vault();
    let evs = events(45);
    let heads: Vec<SignedHead> = HEAD_SIZES
        .iter()
        .map(|&n| sign_head(&evs, n, &vault, &key))
        .collect();
    let kept = leaf_hashes(&evs);
    let mut edited = evs.clone();
    edited[42] = event(42, 7);
    let public = key.public_key();
    let rebuilt = verify_log(
        stored(&edited, Some(&leaf_hashes(&edited))),
        heads.clone(),
        &vault,
        &public,
    );
    assert!(rebuilt.is_ok());
    assert_eq!(rebuilt.events_checked, 45);
    let careless = verify_log(stored(&edited, Some(&kept)), heads, &vault, &public);
    assert_eq!(careless.problem, Some(Problem::Altered { seq: 42 }));
}

#[test]
fn a_dropped_event_is_named() {
    let l = honest();
    let mut dropped = l.events.clone();
    dropped.remove(13);
    let report = check(&l, &dropped, None, l.heads.clone());
    let p = problem(&report);
    assert_eq!(
        p,
        Problem::UnexpectedSeq {
            expected: 13,
            found: 14
        }
    );
    assert!(p.to_string().starts_with("event 13 is missing"), "{p}");
    assert_eq!(report.events_checked, 13);
}

#[test]
fn a_duplicated_event_is_named() {
    let l = honest();
    let mut duplicated = l.events.clone();
    duplicated.insert(14, l.events[13].clone());
    let report = check(&l, &duplicated, None, l.heads.clone());
    assert_eq!(
        problem(&report),
        Problem::UnexpectedSeq {
            expected: 14,
            found: 13
        }
    );
    assert_eq!(report.events_checked, 14);
}

#[test]
fn reordered_events_are_named() {
    let l = honest();
    let mut reordered = l.events.clone();
    reordered.swap(13, 14);
    assert_eq!(
        problem(&check(&l, &reordered, None, l.heads.clone())),
        Problem::UnexpectedSeq {
            expected: 13,
            found: 14
        }
    );
    // Swapped and renumbered, so the seqs look right: the roots catch it.
    reordered[13].seq = 13;
    reordered[14].seq = 14;
    assert_eq!(
        problem(&check(&l, &reordered, None, l.heads.clone())),
        Problem::RootMismatch {
            size: 20,
            since: 10
        }
    );
}

#[test]
fn deletions_and_insertions_hidden_by_renumbering_are_caught() {
    let l = honest();
    let renumber = |evs: &mut Vec<Event>| {
        for (i, e) in evs.iter_mut().enumerate() {
            e.seq = i as u64;
        }
    };
    let mut dropped = l.events.clone();
    dropped.remove(25);
    renumber(&mut dropped);
    assert_eq!(
        problem(&check(
            &l,
            &dropped,
            Some(&leaf_hashes(&dropped)),
            l.heads.clone()
        )),
        Problem::RootMismatch {
            size: 30,
            since: 20
        }
    );
    let mut inserted = l.events.clone();
    inserted.insert(25, event(25, 3));
    renumber(&mut inserted);
    assert_eq!(
        problem(&check(&l, &inserted, None, l.heads.clone())),
        Problem::RootMismatch {
            size: 30,
            since: 20
        }
    );
}

#[test]
fn a_truncated_log_is_named() {
    let l = honest();
    let report = check(&l, &l.events[..25], None, l.heads.clone());
    let p = problem(&report);
    assert_eq!(
        p,
        Problem::Truncated {
            head_size: 30,
            log_size: 25
        }
    );
    assert_eq!(
        p.to_string(),
        "the ledger has 25 events but a signed head covers 30: events 25 to 29 were deleted"
    );
    assert_eq!(report.events_checked, 25);
    assert_eq!(report.heads_checked, 2);
}

#[test]
fn a_truncated_and_regrown_log_is_caught() {
    let l = honest();
    let mut regrown = l.events[..25].to_vec();
    regrown.extend((25..45).map(|seq| event(seq, 9)));
    let report = check(&l, &regrown, Some(&leaf_hashes(&regrown)), l.heads.clone());
    assert_eq!(
        problem(&report),
        Problem::RootMismatch {
            size: 30,
            since: 20
        }
    );
    assert_eq!(report.heads_checked, 2);
}

fn forge_root(head: &SignedHead, root: &Hash) -> SignedHead {
    // Edit the published JSON, keeping the signature: what a forger without
    // the key can do.
    let mut json: serde_json::Value = serde_json::from_str(&head.to_json()).unwrap();
    let original = head.head().root();
    let b64 = |h: &Hash| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(h.as_bytes())
    };
    assert_eq!(json["root"], b64(original));
    json["root"] = b64(root).into();
    SignedHead::from_json(&json.to_string()).unwrap()
}

#[test]
fn a_forged_head_is_refused() {
    let l = honest();
    // The store edited event 23, rebuilt the tree and put the new root into
    // the head at 30, keeping its old signature.
    let mut edited = l.events.clone();
    edited[23] = event(23, 2);
    let root = merkle::root(&leaf_hashes(&edited)[..], 30).unwrap();
    let mut heads = l.heads.clone();
    heads[2] = forge_root(&heads[2], &root);
    let report = check(&l, &edited, Some(&leaf_hashes(&edited)), heads);
    let p = problem(&report);
    assert_eq!(
        p,
        Problem::BadHeadSignature {
            size: 30,
            reason: HeadError::BadSignature
        }
    );
    assert!(p.to_string().contains("size 30"), "{p}");
}

#[test]
fn heads_signed_with_another_key_are_refused() {
    let l = honest();
    // A complete rewrite: edit, rebuild, and re-sign every head with a key
    // the forger made.
    let mut edited = l.events.clone();
    edited[5] = event(5, 4);
    let forger = LedgerSigningKey::generate();
    let heads: Vec<SignedHead> = HEAD_SIZES
        .iter()
        .map(|&n| sign_head(&edited, n, &l.vault, &forger))
        .collect();
    let report = check(&l, &edited, None, heads);
    assert!(matches!(
        problem(&report),
        Problem::BadHeadSignature {
            size: 10,
            reason: HeadError::KeyMismatch { .. }
        }
    ));
    assert_eq!(report.heads_checked, 0);
}

#[test]
fn heads_from_another_vault_are_refused() {
    let l = honest();
    let other = other_vault();
    // Another vault's head, signed with that vault's key...
    let their_key = LedgerSigningKey::generate();
    let mut heads = l.heads.clone();
    heads[1] = sign_head(&l.events, 20, &other, &their_key);
    let p = problem(&check(&l, &l.events, None, heads));
    assert_eq!(
        p,
        Problem::HeadFromAnotherVault {
            size: 20,
            vault_id: other.to_string()
        }
    );
    assert!(p.to_string().contains(&format!("`{other}`")), "{p}");
    // ...or even with this vault's key (a key reused across vaults).
    let mut heads = l.heads.clone();
    heads[1] = sign_head(&l.events, 20, &other, &l.key);
    assert!(matches!(
        problem(&check(&l, &l.events, None, heads)),
        Problem::HeadFromAnotherVault { size: 20, .. }
    ));
}

#[test]
fn a_forged_head_beyond_the_log_is_a_forgery_not_a_truncation() {
    let l = honest();
    let mut heads = l.heads.clone();
    heads[3] = forge_root(&heads[3], &Hash::from_bytes([7; 32]));
    assert!(matches!(
        problem(&check(&l, &l.events[..35], None, heads)),
        Problem::BadHeadSignature { size: 40, .. }
    ));
}

#[test]
fn two_signed_heads_of_one_size_that_differ_are_a_fork() {
    let l = honest();
    let mut forked = l.events.clone();
    forked[15] = event(15, 5);
    let mut heads = l.heads.clone();
    // The key holder signed two different histories of 20 events.
    heads.push(sign_head(&forked, 20, &l.vault, &l.key));
    assert_eq!(
        problem(&check(&l, &l.events, None, heads)),
        Problem::ConflictingHeads { size: 20 }
    );
}

#[test]
fn an_unreadable_event_is_named_by_position() {
    let l = honest();
    let mut items = stored(&l.events, None);
    let mut data = l.events[7].leaf_data();
    data.truncate(data.len() - 3);
    let err = Event::from_leaf_data(&data).unwrap_err();
    items[7] = StoredEvent::unreadable(&err);
    let report = verify_log(items, l.heads.clone(), &l.vault, &l.public);
    let p = problem(&report);
    assert_eq!(
        p,
        Problem::Unreadable {
            seq: 7,
            reason: err.to_string()
        }
    );
    assert!(
        p.to_string()
            .starts_with("event 7 cannot be read: ledger event data is damaged")
    );
    // A newer format is refused with a version message, not a guess.
    let mut items = stored(&l.events, None);
    let mut data = l.events[7].leaf_data();
    data[0] = 2;
    items[7] = StoredEvent::unreadable(Event::from_leaf_data(&data).unwrap_err());
    let p = problem(&verify_log(items, l.heads.clone(), &l.vault, &l.public));
    assert!(p.to_string().contains("newer than this custos"), "{p}");
}

#[test]
fn the_streaming_verifier_stops_at_the_first_problem() {
    let l = honest();
    let mut v = Verifier::new(&l.vault, &l.public, l.heads.clone());
    let mut dropped = l.events.clone();
    dropped.remove(3);
    let mut pushed = 0;
    for e in dropped {
        pushed += 1;
        if !v.push(e.into()) {
            break;
        }
    }
    assert_eq!(
        pushed, 4,
        "the 4th pushed event (seq 4) is the first problem"
    );
    assert!(
        !v.push(l.events[3].clone().into()),
        "later events are ignored"
    );
    let report = v.finish();
    assert_eq!(
        report.problem,
        Some(Problem::UnexpectedSeq {
            expected: 3,
            found: 4
        })
    );
}

/// What the vault would present now: a head over the (possibly tampered)
/// events, freshly signed by the engine, and a consistency proof from its
/// tree back to `previous`.
fn current(l: &Ledger, events: &[Event], previous: u64) -> (SignedHead, Vec<Hash>) {
    let leaves = leaf_hashes(events);
    let size = events.len() as u64;
    let head = sign_head(events, size, &l.vault, &l.key);
    let proof = consistency_proof(&leaves[..], previous, size).unwrap();
    (head, proof)
}

#[test]
fn the_log_extends_a_published_head() {
    let l = honest();
    let published = l.heads[2].clone(); // size 30, emailed to the DPO
    let mut grown = l.events.clone();
    grown.extend((40..55).map(|seq| event(seq, 0)));
    let (head, proof) = current(&l, &grown, 30);
    assert_eq!(
        verify_against(&published, &head, &proof, &l.vault, &l.public),
        Ok(())
    );
    // The same head again: nothing to prove.
    assert_eq!(
        verify_against(&published, &published, &[], &l.vault, &l.public),
        Ok(())
    );
    // A tampered proof fails.
    let mut bad = proof.clone();
    bad[0] = Hash::from_bytes([0; 32]);
    assert_eq!(
        verify_against(&published, &head, &bad, &l.vault, &l.public),
        Err(Problem::NotExtension {
            previous_size: 30,
            size: 55
        })
    );
}

#[test]
fn a_rewritten_history_does_not_extend_the_published_head() {
    let l = honest();
    let published = l.heads[3].clone(); // size 40
    // The store edits event 13, rebuilds its tree and deletes the stored
    // heads that would show it; the engine, none the wiser, signs new heads
    // over the rewritten log.
    let mut edited = l.events.clone();
    edited[13] = event(13, 6);
    edited.extend((40..50).map(|seq| event(seq, 0)));
    let stored_heads = vec![l.heads[0].clone(), sign_head(&edited, 50, &l.vault, &l.key)];
    let alone = check(
        &l,
        &edited,
        Some(&leaf_hashes(&edited)),
        stored_heads.clone(),
    );
    assert!(
        alone.is_ok(),
        "without outside heads the rewrite is invisible"
    );

    // The published head exposes it, both ways.
    let (head, proof) = current(&l, &edited, 40);
    assert_eq!(
        verify_against(&published, &head, &proof, &l.vault, &l.public),
        Err(Problem::NotExtension {
            previous_size: 40,
            size: 50
        })
    );
    let mut heads = stored_heads;
    heads.push(published);
    assert_eq!(
        problem(&check(&l, &edited, None, heads)),
        Problem::RootMismatch {
            size: 40,
            since: 10
        }
    );
}

#[test]
fn a_head_older_than_one_seen_is_a_rollback() {
    let l = honest();
    let seen = l.heads[3].clone(); // size 40
    // The vault is restored from an old backup and presents its head.
    let (older, proof) = current(&l, &l.events[..30], 30);
    let p = verify_against(&seen, &older, &proof, &l.vault, &l.public).unwrap_err();
    assert_eq!(p, Problem::OlderHead { size: 30, seen: 40 });
    assert!(p.to_string().contains("rolled back"));
}

#[test]
fn verify_against_checks_both_heads() {
    let l = honest();
    let (head, proof) = current(&l, &l.events, 30);
    let other = other_vault();
    let foreign = sign_head(&l.events, 30, &other, &l.key);
    assert!(matches!(
        verify_against(&foreign, &head, &proof, &l.vault, &l.public),
        Err(Problem::HeadFromAnotherVault { size: 30, .. })
    ));
    let forged = forge_root(&l.heads[2], &Hash::from_bytes([1; 32]));
    assert!(matches!(
        verify_against(&forged, &head, &proof, &l.vault, &l.public),
        Err(Problem::BadHeadSignature { size: 30, .. })
    ));
    let stranger = LedgerSigningKey::generate().public_key();
    assert!(matches!(
        verify_against(&l.heads[2], &head, &proof, &l.vault, &stranger),
        Err(Problem::BadHeadSignature {
            reason: HeadError::KeyMismatch { .. },
            ..
        })
    ));
    // Same size, different root, both genuinely signed: a fork.
    let mut forked = l.events.clone();
    forked[2] = event(2, 8);
    let fork = sign_head(&forked, 40, &l.vault, &l.key);
    assert_eq!(
        verify_against(&l.heads[3], &fork, &[], &l.vault, &l.public),
        Err(Problem::ConflictingHeads { size: 40 })
    );
}

#[test]
fn inclusion_proofs_tie_an_event_to_a_signed_head() {
    let l = honest();
    let leaves = leaf_hashes(&l.events);
    let head = l.heads[3].head();
    for seq in [0u64, 13, 39] {
        let proof = inclusion_proof(&leaves[..], seq, head.size()).unwrap();
        let e = &l.events[seq as usize];
        assert!(merkle::verify_inclusion(
            &e.leaf_hash(),
            seq,
            head.size(),
            &proof,
            head.root()
        ));
        let mut edited = e.clone();
        edited.purpose.push('?');
        assert!(!merkle::verify_inclusion(
            &edited.leaf_hash(),
            seq,
            head.size(),
            &proof,
            head.root()
        ));
    }
}

/// An auditor's export: JSON Lines of events and a file of signed heads,
/// checked with only the public key as printed.
struct Export {
    events: String,
    heads: String,
    public_key: String,
}

fn export(l: &Ledger) -> Export {
    let mut events = String::new();
    for e in &l.events {
        events.push_str(&e.to_json());
        events.push('\n');
    }
    let mut heads = String::new();
    for h in &l.heads {
        heads.push_str(&h.to_json());
        heads.push('\n');
    }
    Export {
        events,
        heads,
        public_key: l.public.to_base64(),
    }
}

fn audit(x: &Export, vault: &custos_model::VaultId) -> Report {
    let key = LedgerPublicKey::from_base64(&x.public_key).unwrap();
    let heads = x
        .heads
        .lines()
        .map(|line| SignedHead::from_json(line).unwrap())
        .collect();
    let events = x.events.lines().map(|line| match Event::from_json(line) {
        Ok(e) => StoredEvent::new(e),
        Err(err) => StoredEvent::unreadable(err),
    });
    verify_log(events, heads, vault, &key)
}

#[test]
fn an_auditor_verifies_an_export_with_only_the_public_key() {
    let l = honest();
    let x = export(&l);
    let report = audit(&x, &l.vault);
    assert!(report.is_ok(), "{:?}", report.problem);
    assert_eq!((report.events_checked, report.heads_checked), (40, 4));

    // An edited line.
    let mut lines: Vec<String> = x.events.lines().map(str::to_owned).collect();
    lines[17] = lines[17].replace("renewal reminder", "renewal reminded");
    let edited = Export {
        events: lines.join("\n"),
        ..export(&l)
    };
    assert_eq!(
        audit(&edited, &l.vault).problem,
        Some(Problem::RootMismatch {
            size: 20,
            since: 10
        })
    );
    // A deleted line.
    let mut lines: Vec<&str> = x.events.lines().collect();
    lines.remove(31);
    let deleted = Export {
        events: lines.join("\n"),
        ..export(&l)
    };
    assert_eq!(
        audit(&deleted, &l.vault).problem,
        Some(Problem::UnexpectedSeq {
            expected: 31,
            found: 32
        })
    );
}

#[test]
fn every_byte_flip_in_an_export_is_detected() {
    let l = honest();
    let x = export(&l);
    let lines: Vec<&str> = x.events.lines().collect();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        // Every 37th byte, from a different offset on each line, so the
        // flips spread over keys, values and syntax. (Sparser would miss
        // fields; denser costs seconds of unoptimised signature checks.)
        for pos in ((i * 7) % 37..line.len()).step_by(37) {
            let mut bytes = line.as_bytes().to_vec();
            bytes[pos] ^= 0x01;
            let Ok(flipped) = String::from_utf8(bytes) else {
                continue;
            };
            let mut tampered = lines.clone();
            tampered[i] = &flipped;
            let report = audit(
                &Export {
                    events: tampered.join("\n"),
                    ..export(&l)
                },
                &l.vault,
            );
            let p = report
                .problem
                .unwrap_or_else(|| panic!("flip at line {i} byte {pos} went unnoticed: {flipped}"));
            // The problem is at or before the flipped event, and no later
            // than the head that covers it.
            let covering_head = (i as u64 / 10 + 1) * 10;
            match p {
                Problem::Unreadable { seq, .. } | Problem::UnexpectedSeq { expected: seq, .. } => {
                    assert_eq!(seq, i as u64, "line {i} byte {pos}: {p}")
                }
                Problem::RootMismatch { size, since } => {
                    assert_eq!(size, covering_head, "line {i} byte {pos}");
                    assert!(since <= i as u64 && (i as u64) < size);
                }
                other => panic!("line {i} byte {pos}: unexpected {other}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} flips tried");
}
