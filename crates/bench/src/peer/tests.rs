//! The peer against a real throwaway cluster with a few hundred members.
//! Each test prints "skipped: …" and returns when PostgreSQL 15, pgcrypto
//! or pgaudit is not installed (CI installs them); any other failure to
//! start fails the test.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use custos_synth::Generator;

use super::*;
use crate::load::{Failure, Session};
use crate::workload;

const MEMBERS: u64 = 300;
const SEED: u64 = 11;

/// A running cluster with the members' CSV written but not imported.
/// `cluster` is declared first so that it stops before `dir` is removed.
struct Fixture {
    cluster: PeerCluster,
    csv: PathBuf,
    plan: PeerPlan,
    _dir: tempfile::TempDir,
}

fn fixture() -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let generator = Generator::new(SEED);
    let csv = dir.path().join("members.csv");
    generator
        .write_csv(File::create(&csv).unwrap(), MEMBERS)
        .unwrap();
    let cluster = match PeerCluster::start(&dir.path().join("peer"), MEMBERS, &|_| {}) {
        Ok(cluster) => cluster,
        Err(e) if e.downcast_ref::<Unavailable>().is_some() => {
            println!("{e}");
            return None;
        }
        Err(e) => panic!("the peer did not start: {e:#}"),
    };
    let picked = workload::random_members(&generator, MEMBERS, 50, SEED).unwrap();
    let updates = workload::updates(&picked, &[Arc::from("unused")], SEED).unwrap();
    let plan = PeerPlan::new(&generator, MEMBERS, &updates, SEED).unwrap();
    Some(Fixture {
        cluster,
        csv,
        plan,
        _dir: dir,
    })
}

fn short() -> Drive {
    Drive {
        connections: 2,
        client_threads: 1,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(300),
    }
}

/// Opens a session as the plan's first representative and reads `ids`
/// one after the other; the outcome of each read.
fn read_as_first_representative(f: &Fixture, ids: &[&str]) -> Vec<Result<usize, Failure>> {
    let representative = &f.plan.representatives[0];
    let config = f.cluster.server.config(&representative.role);
    let setup = f.cluster.key.set_statement();
    let ids: Arc<[String]> = ids.iter().map(|id| (*id).to_owned()).collect();
    block_on(async move {
        let mut session =
            ReadSession::open(&config, &setup, &schema::read_member(), Arc::clone(&ids), 0).await?;
        let mut out = Vec::new();
        for n in 0..ids.len() {
            out.push(session.call(n).await);
        }
        Ok(out)
    })
    .unwrap()
}

#[test]
fn peer_imports_reads_and_updates_under_row_level_security() {
    let Some(f) = fixture() else { return };
    let facts = f.cluster.facts().unwrap();
    let setting = |name: &str| {
        facts
            .settings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(setting("shared_preload_libraries"), Some("pgaudit"));
    assert_eq!(setting("pgaudit.log"), Some("read, write"));
    assert_eq!(setting("synchronous_commit"), Some("on"));
    assert_eq!(
        setting("pgaudit.log_parameter (members_owner)"),
        Some("off")
    );
    assert_eq!(facts.extensions.len(), 2, "{:?}", facts.extensions);
    assert!(
        facts.version.starts_with("PostgreSQL 15"),
        "{}",
        facts.version
    );

    let import = f.cluster.import(&f.csv).unwrap();
    assert_eq!(import.rows, MEMBERS);
    assert!(import.rows_per_s() > 0.0);
    assert_eq!(import.json()["rows"], MEMBERS);

    // The decrypted fields are the generator's; another constituency's
    // member is refused by row-level security.
    let probe = &f.plan.probe;
    let outcomes = read_as_first_representative(&f, &[&probe.id, &probe.foreign_id]);
    let wanted: usize = probe.fields.iter().flatten().map(String::len).sum();
    assert!(
        matches!(outcomes[0], Ok(bytes) if bytes == wanted),
        "{:?}",
        outcomes[0]
    );
    assert!(matches!(&outcomes[1], Err(Failure::Refused(m)) if m.contains("row-level security")));

    let reads = f.cluster.reads(&f.plan, &short()).unwrap();
    assert_eq!(reads.run.errors, 0, "{:?}", reads.run.first_error);
    assert!(reads.run.ops > 0 && reads.mean_body_bytes > 50.0);

    let updates = f.cluster.updates(&f.plan, &short()).unwrap();
    assert_eq!(updates.run.errors, 0, "{:?}", updates.run.first_error);
    assert!(updates.run.ops > 0);

    f.cluster.load_unprotected(&f.csv).unwrap();
    let plain = f.cluster.unprotected_reads(&f.plan, &short()).unwrap();
    assert_eq!(plain.run.errors, 0, "{:?}", plain.run.first_error);
    assert!(plain.run.ops > 0 && plain.mean_body_bytes > 50.0);
}

#[test]
fn peer_audit_log_loads_and_names_each_member_read_even_when_hidden() {
    let Some(f) = fixture() else { return };
    f.cluster.import(&f.csv).unwrap();
    let own = &f.plan.representatives[0].ids;
    let mut ids: Vec<&str> = own.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(4);
    ids.push(&f.plan.probe.foreign_id);
    let outcomes = read_as_first_representative(&f, &ids);
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), ids.len() - 1);

    let exposure = f.cluster.exposure(&f.plan).unwrap();
    assert!(exposure.log_files >= 1 && exposure.log_bytes > 0);
    assert!(exposure.log_rows > 0 && exposure.load_rows_per_s() > 0.0);
    assert_eq!(exposure.principal, f.plan.representatives[0].role);
    // One audit line per read, and each read's member parsed from it: the
    // read that row-level security hid is named like the others.
    assert_eq!(exposure.statements.rows, ids.len() as u64);
    assert_eq!(exposure.members_named.rows, ids.len() as u64);
    let json = exposure.json();
    assert_eq!(json["capabilities"].as_array().map(Vec::len), Some(9));
    assert_eq!(json["queries"][1]["rows"], ids.len());
}
