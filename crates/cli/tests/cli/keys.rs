//! Key providers and master-key rotation.

use crate::support::{Sandbox, mode};

#[test]
fn key_file_is_private_and_rotation_keeps_data() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let key = sandbox.vault().join("master.key");
    assert_eq!(mode(&key), 0o600);
    sandbox
        .run(&["subject", "add", "--id", "M1", "email=ana@example.org"])
        .ok();
    let old_key = sandbox.path("old.key");
    std::fs::copy(&key, &old_key).unwrap();

    let rotated = sandbox.run(&["rotate-master-key", "--json"]).ok().json();
    assert_eq!(rotated["rewrapped"], 1);
    assert_ne!(
        std::fs::read(&key).unwrap(),
        std::fs::read(&old_key).unwrap()
    );
    assert_eq!(mode(&key), 0o600);
    let got = sandbox.run(&["subject", "get", "M1", "--json"]).ok().json();
    assert_eq!(got["fields"]["email"], "ana@example.org");
    let stale = sandbox.run(&[
        "--key-file",
        old_key.to_str().unwrap(),
        "subject",
        "get",
        "M1",
    ]);
    assert_eq!(
        stale.code, 6,
        "the old key must no longer open the vault: {}",
        stale.stderr
    );
}

#[test]
fn passphrase_vaults() {
    let sandbox = Sandbox::new();
    let pass = [("CUSTOS_PASSPHRASE", "correct horse battery staple")];
    let short = sandbox.run_env(
        &["init", "--key-provider", "passphrase"],
        &[("CUSTOS_PASSPHRASE", "short")],
    );
    assert_eq!(short.code, 6);
    assert!(short.stderr.contains("too short"), "{}", short.stderr);
    sandbox
        .run_env(&["init", "--key-provider", "passphrase"], &pass)
        .ok();
    assert!(!sandbox.vault().join("master.key").exists());
    sandbox
        .run_env(&["subject", "add", "--id", "M1", "given_name=Ana"], &pass)
        .ok();

    let missing = sandbox.run(&["subject", "get", "M1"]);
    assert_eq!(missing.code, 6);
    assert!(
        missing.stderr.contains("CUSTOS_PASSPHRASE"),
        "{}",
        missing.stderr
    );
    let wrong = sandbox.run_env(
        &["subject", "get", "M1"],
        &[("CUSTOS_PASSPHRASE", "incorrect horse battery")],
    );
    assert_eq!(wrong.code, 6);
    assert!(
        wrong.stderr.contains("wrong master key"),
        "{}",
        wrong.stderr
    );

    let new = ("CUSTOS_NEW_PASSPHRASE", "a brand new passphrase");
    sandbox
        .run_env(&["rotate-master-key"], &[pass[0], new])
        .ok();
    let old = sandbox.run_env(&["subject", "get", "M1"], &pass);
    assert_eq!(old.code, 6, "{}", old.stderr);
    let got = sandbox
        .run_env(
            &["subject", "get", "M1", "--json"],
            &[("CUSTOS_PASSPHRASE", new.1)],
        )
        .ok()
        .json();
    assert_eq!(got["fields"]["given_name"], "Ana");
}
