//! `custos demo`: a seeded vault, replaced on each run, never clobbering
//! anything else.

use crate::support::Sandbox;

#[test]
fn demo_seeds_and_replaces_only_its_own_directory() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["demo", "--members", "300", "--no-serve"])
        .ok();
    assert!(
        run.stdout.contains("Admin token: custos_"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("/v1/subjects/M00000001"),
        "{}",
        run.stdout
    );
    assert_eq!(sandbox.subjects(), 300);
    let got = sandbox
        .run(&["subject", "get", "M00000001", "--json"])
        .ok()
        .json();
    assert!(got["fields"]["email"].as_str().unwrap().contains('@'));

    let again = sandbox.run(&["demo", "--members", "10", "--no-serve"]).ok();
    assert!(again.stdout.contains("(10 members)"), "{}", again.stdout);
    assert_eq!(sandbox.subjects(), 10);

    let real = Sandbox::new();
    real.init();
    let refused = real.run(&["demo", "--members", "10", "--no-serve"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("is not a demo vault"),
        "{}",
        refused.stderr
    );
}
