//! `custos ledger`: signed heads, verification that exits 7 and names the
//! event, queries, subject histories with inclusion proofs, and exports that
//! an auditor verifies with nothing but the public key.

use std::fs;
use std::path::Path;

use custos_crypto::LedgerPublicKey;
use custos_ledger::merkle::{Hash, verify_inclusion};
use custos_ledger::{Event, SignedHead};
use serde_json::Value;

use crate::support::{Sandbox, run_without_vault};

const ALICE: &str = "alice";
const BOB: &str = "bob";

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A vault with seven events by two OS users:
///
/// ```text
/// 0 create M1        alice
/// 1 create M2        alice
/// 2 read   M1 email  alice
/// 3 read   M2 (all)  bob
/// 4 read   M2 email,branch  alice
/// 5 read   NOPE      alice  denied
/// 6 find   M1        bob
/// ```
fn busy_vault() -> Sandbox {
    let sb = Sandbox::new();
    sb.init();
    let add = |id: &str, name: &str, email: &str| {
        sb.run_as(
            ALICE,
            &[
                "subject",
                "add",
                "--id",
                id,
                &format!("given_name={name}"),
                &format!("email={email}"),
            ],
        )
        .ok();
    };
    add("M1", "Ana", "ana@example.org");
    add("M2", "Bo", "bo@example.org");
    sb.run_as(ALICE, &["subject", "get", "M1", "--fields", "email"])
        .ok();
    sb.run_as(BOB, &["subject", "get", "M2"]).ok();
    sb.run_as(ALICE, &["subject", "get", "M2", "--fields", "email,branch"])
        .ok();
    let denied = sb.run_as(ALICE, &["subject", "get", "NOPE"]);
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    sb.run_as(BOB, &["subject", "find", "email=ana@example.org"])
        .ok();
    sb
}

/// `custos ledger query --json` with `args`.
fn query(sb: &Sandbox, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["ledger", "query", "--json"];
    all.extend_from_slice(args);
    sb.run(&all).ok().json()["events"]
        .as_array()
        .unwrap()
        .clone()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn public_key(sb: &Sandbox) -> String {
    fs::read_to_string(sb.vault().join("ledger.pub"))
        .unwrap()
        .trim()
        .to_owned()
}

fn hash_from_hex(hex: &str) -> Hash {
    assert_eq!(hex.len(), 64, "{hex}");
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    Hash::from_bytes(bytes)
}

#[test]
fn head_prints_a_signed_head_as_json() {
    let sb = busy_vault();
    let run = sb.run(&["ledger", "head"]).ok();
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["vault_id", "size", "root", "time", "key_id", "signature"]
    );
    let head = SignedHead::from_json(run.stdout.trim()).unwrap();
    let key = LedgerPublicKey::from_base64(&public_key(&sb)).unwrap();
    head.verify(&key).unwrap();
    assert_eq!(head.head().size(), 7);
    let info = sb.run(&["info", "--json"]).ok().json();
    assert_eq!(head.head().vault_id().as_str(), info["vault_id"]);
    // Another vault's key does not verify it.
    let other = Sandbox::new();
    other.init();
    let other_key = LedgerPublicKey::from_base64(&public_key(&other)).unwrap();
    assert!(head.verify(&other_key).is_err());
}

#[test]
fn verify_passes_then_names_a_tampered_event_and_exits_7() {
    let sb = busy_vault();
    let report = sb.run(&["ledger", "verify", "--json"]).ok().json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events_checked"], 7, "{report}");
    assert_eq!(report["problem"], Value::Null, "{report}");
    let run = sb.run(&["ledger", "verify"]).ok();
    assert!(run.stdout.starts_with("ok: 7 events"), "{}", run.stdout);

    sb.ledger_db()
        .execute(
            "UPDATE ledger_events SET principal = 'local:mallory' WHERE seq = 4",
            [],
        )
        .unwrap();
    let run = sb.run(&["ledger", "verify"]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(run.stderr.contains("event 4 was altered"), "{}", run.stderr);
    let run = sb.run(&["ledger", "verify", "--json"]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["problem"].as_str().unwrap().contains("event 4 "),
        "{report}"
    );

    // A deleted event is named too.
    let sb = busy_vault();
    sb.ledger_db()
        .execute("DELETE FROM ledger_events WHERE seq = 2", [])
        .unwrap();
    let run = sb.run(&["ledger", "verify"]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(run.stderr.contains("event 2 is missing"), "{}", run.stderr);
}

#[test]
fn verify_against_an_earlier_head() {
    let sb = busy_vault();
    let old = sb.write("old-head.json", sb.run(&["ledger", "head"]).ok().stdout);
    sb.run_as(ALICE, &["subject", "get", "M1"]).ok();
    sb.run_as(BOB, &["subject", "update", "M1", "town=Leeds"])
        .ok();
    let run = sb.run(&["ledger", "verify", "--against", s(&old)]).ok();
    assert!(run.stdout.starts_with("ok: 9 events"), "{}", run.stdout);
    let report = sb
        .run(&["ledger", "verify", "--against", s(&old), "--json"])
        .ok()
        .json();
    assert_eq!(report["ok"], true, "{report}");

    // Another vault's head.
    let other = Sandbox::new();
    other.init();
    other
        .run(&["subject", "add", "--id", "M1", "given_name=Cy"])
        .ok();
    let foreign = sb.write(
        "foreign-head.json",
        other.run(&["ledger", "head"]).ok().stdout,
    );
    let run = sb.run(&["ledger", "verify", "--against", s(&foreign)]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(run.stderr.contains("not this one"), "{}", run.stderr);

    // The earlier head with another (true) root of this ledger.
    let mut json: Value = serde_json::from_str(&fs::read_to_string(&old).unwrap()).unwrap();
    let today: Value = serde_json::from_str(&sb.run(&["ledger", "head"]).ok().stdout).unwrap();
    assert_ne!(json["root"], today["root"]);
    json["root"] = today["root"].clone();
    let altered = sb.write("altered-head.json", json.to_string());
    let run = sb.run(&["ledger", "verify", "--against", s(&altered)]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(run.stderr.contains("invalid signature"), "{}", run.stderr);

    // Not a head at all: an error, but not a verdict of tampering.
    let junk = sb.write("junk.json", "{\"size\": 3}");
    let run = sb.run(&["ledger", "verify", "--against", s(&junk)]);
    assert!(run.code != 0 && run.code != 7, "{}", run.code);
    assert!(
        run.stderr.contains("is not a signed head"),
        "{}",
        run.stderr
    );
}

#[test]
fn query_filters_events() {
    let sb = busy_vault();
    let all = query(&sb, &["--limit", "100000"]);
    assert_eq!(seqs(&all), [0, 1, 2, 3, 4, 5, 6]);
    for e in &all {
        assert_eq!(e["auth"], "local_operator", "{e}");
        assert_eq!(e["client"], "cli", "{e}");
        assert_eq!(e["purpose"], "membership_admin", "{e}");
    }
    // One request id per command.
    let ids: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), all.len());

    let reads = query(&sb, &["--principal", "local:alice", "--action", "read"]);
    let summary: Vec<(Vec<String>, Vec<String>, &str)> = reads
        .iter()
        .map(|e| {
            (
                strings(&e["subjects"]),
                strings(&e["fields_released"]),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let v = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        [
            (v(&["M1"]), v(&["email"]), "allowed"),
            (v(&["M2"]), v(&["email", "branch"]), "allowed"),
            (v(&["NOPE"]), v(&[]), "denied"),
        ]
    );
    // Exactly what a scan of every event finds.
    let scan: Vec<&Value> = all
        .iter()
        .filter(|e| e["principal"] == "local:alice" && e["action"] == "read")
        .collect();
    assert_eq!(reads.iter().collect::<Vec<_>>(), scan);

    assert_eq!(
        seqs(&query(
            &sb,
            &["--principal", "local:bob", "--action", "read"]
        )),
        [3]
    );
    assert_eq!(seqs(&query(&sb, &["--principal", "local:bob"])), [3, 6]);
    assert_eq!(
        seqs(&query(
            &sb,
            &["--principal", "local:alice", "--outcome", "denied"]
        )),
        [5]
    );
    assert_eq!(seqs(&query(&sb, &["--subject", "M2"])), [1, 3, 4]);
    assert_eq!(seqs(&query(&sb, &["--action", "find"])), [6]);
    assert_eq!(
        seqs(&query(
            &sb,
            &["--purpose", "membership_admin", "--limit", "2"]
        )),
        [0, 1]
    );
    assert_eq!(
        seqs(&query(&sb, &["--after-seq", "4", "--action", "read"])),
        [5]
    );
    assert!(query(&sb, &["--principal", "local:mallory"]).is_empty());

    // A time range is what a scan by time finds.
    let t3 = all[3]["time"].as_str().unwrap();
    let from: Vec<u64> = seqs(&query(&sb, &["--from", t3]));
    let to: Vec<u64> = seqs(&query(&sb, &["--to", t3]));
    let by_time = |keep: &dyn Fn(&str) -> bool| {
        all.iter()
            .filter(|e| keep(e["time"].as_str().unwrap()))
            .map(|e| e["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(from, by_time(&|t| t >= t3));
    assert_eq!(to, by_time(&|t| t < t3));
    assert!(from.contains(&3) && !to.contains(&3));

    // Human-readable output, one line per event.
    let run = sb
        .run(&[
            "ledger",
            "query",
            "--principal",
            "local:alice",
            "--action",
            "read",
        ])
        .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(
        lines.iter().all(|l| l.contains("local:alice")),
        "{}",
        run.stdout
    );
    assert!(lines[2].contains("denied"), "{}", run.stdout);

    let run = sb.run(&["ledger", "query", "--outcome", "maybe"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("--outcome"), "{}", run.stderr);
}

#[test]
fn subject_history_has_inclusion_proofs_under_the_head() {
    let sb = busy_vault();
    let out = sb.run(&["ledger", "subject", "M2", "--json"]).ok().json();
    assert_eq!(out["subject"], "M2");
    let head = SignedHead::from_json(&out["head"].to_string()).unwrap();
    head.verify(&LedgerPublicKey::from_base64(&public_key(&sb)).unwrap())
        .unwrap();
    let (size, root) = (head.head().size(), *head.head().root());
    assert_eq!(size, 7);

    let events = out["events"].as_array().unwrap();
    assert_eq!(seqs(events), [1, 3, 4]);
    let scan: Vec<Value> = query(&sb, &["--limit", "100000"])
        .into_iter()
        .filter(|e| strings(&e["subjects"]).contains(&"M2".to_owned()))
        .collect();
    assert_eq!(seqs(events), seqs(&scan));
    for e in events {
        let proof: Vec<Hash> = e["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash_from_hex(h.as_str().unwrap()))
            .collect();
        assert!(!proof.is_empty());
        let mut bare = e.clone();
        bare.as_object_mut().unwrap().remove("inclusion_proof");
        let event = Event::from_json(&bare.to_string()).unwrap();
        assert!(
            verify_inclusion(&event.leaf_hash(), event.seq, size, &proof, &root),
            "event {} does not prove",
            event.seq
        );
        // The proof is for this event only.
        let mut forged = event.clone();
        forged.principal = "local:mallory".into();
        assert!(!verify_inclusion(
            &forged.leaf_hash(),
            event.seq,
            size,
            &proof,
            &root
        ));
    }

    let run = sb.run(&["ledger", "subject", "M2"]).ok();
    assert!(
        run.stdout
            .contains("3 events, each with an inclusion proof under the signed head of size 7"),
        "{}",
        run.stdout
    );
    let run = sb.run(&["ledger", "subject", "not an id!"]);
    assert_ne!(run.code, 0);
}

#[test]
fn an_export_verifies_with_only_the_public_key() {
    let sb = busy_vault();
    let export = sb.path("export");
    let run = sb.run(&["ledger", "export", "--out", s(&export)]).ok();
    assert!(run.stdout.contains("exported 7 events"), "{}", run.stdout);
    let events_file = export.join("events.jsonl");
    assert_eq!(fs::read_to_string(&events_file).unwrap().lines().count(), 7);
    assert!(export.join("heads.jsonl").is_file());
    // Exporting over an existing directory is refused.
    let again = sb.run(&["ledger", "export", "--out", s(&export)]);
    assert_ne!(again.code, 0);

    // The auditor has the export and the key from a trusted channel, and
    // no vault at all.
    let key = public_key(&sb);
    let other = Sandbox::new();
    other.init();
    let other_key = public_key(&other);
    fs::remove_dir_all(sb.vault()).unwrap();
    let auditor = tempfile::tempdir().unwrap();
    let verify = |key: &str| {
        run_without_vault(
            auditor.path(),
            &["ledger", "verify-export", s(&export), "--public-key", key],
        )
    };
    let run = verify(&key).ok();
    assert!(run.stdout.starts_with("ok: 7 events"), "{}", run.stdout);
    let report = run_without_vault(
        auditor.path(),
        &[
            "ledger",
            "verify-export",
            s(&export),
            "--public-key",
            &key,
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(report["ok"], true, "{report}");
    assert!(!auditor.path().join("custos-data").exists());

    // Any byte flipped in the events is caught.
    let original = fs::read(&events_file).unwrap();
    let step = (original.len() / 23).max(1);
    for pos in (0..original.len()).step_by(step) {
        let mut flipped = original.clone();
        flipped[pos] ^= 0x01;
        fs::write(&events_file, &flipped).unwrap();
        let run = verify(&key);
        assert_eq!(
            run.code, 7,
            "byte {pos} flipped: {}{}",
            run.stdout, run.stderr
        );
        assert!(run.stderr.contains("does not verify"), "{}", run.stderr);
    }
    fs::write(&events_file, &original).unwrap();
    verify(&key).ok();

    // Another vault's key does not verify it.
    let run = verify(&other_key);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(run.stderr.contains("key"), "{}", run.stderr);
    let run = verify("not a key");
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("--public-key"), "{}", run.stderr);
}
