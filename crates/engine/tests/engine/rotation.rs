//! Master-key rotation: data stays readable, the old key stops working, and
//! an interrupted rotation is finished when the vault is next opened.

use std::fs;

use custos_crypto::KeyError;
use custos_engine::{EngineError, ErrorKind, KeyAccess, NewMasterKey};
use zeroize::Zeroizing;

use crate::support::{BUSY, TestVault, field, open, snapshot, with_key_file, with_passphrase};

const OLD_PASS: &str = "correct horse battery staple";
const NEW_PASS: &str = "tremendous purple elephant";

#[test]
fn key_file_rotation_keeps_data_and_retires_the_old_key() {
    let mut t = TestVault::new();
    let dir = t.dir();
    let ids: Vec<_> = ["R1", "R2", "R3"]
        .iter()
        .zip(["ROMEO", "SIERRA", "TANGO"])
        .map(|(id, tag)| t.add_person(id, tag))
        .collect();
    let old_key = t.tmp.path().join("old.key");
    fs::copy(dir.join("master.key"), &old_key).unwrap();
    let old_wrapped: Vec<u8> = t
        .db()
        .query_row(
            "SELECT wrapped_key FROM subjects WHERE id = 'R1'",
            [],
            |r| r.get(0),
        )
        .unwrap();

    let report = t.vault.rotate_master_key(NewMasterKey::File).unwrap();
    assert_eq!(report.rewrapped, 3);
    assert_ne!(
        fs::read(dir.join("master.key")).unwrap(),
        fs::read(&old_key).unwrap()
    );
    assert!(
        !dir.join("master.key.new").exists(),
        "pending key left behind"
    );
    let new_wrapped: Vec<u8> = t
        .db()
        .query_row(
            "SELECT wrapped_key FROM subjects WHERE id = 'R1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_ne!(old_wrapped, new_wrapped, "the data key was not re-wrapped");

    // The open vault still reads, writes and finds.
    assert_eq!(
        t.field(&ids[0], "given_name").as_deref(),
        Some("ZebedeeROMEO")
    );
    let r4 = t.add_person("R4", "UNIFORM");
    assert_eq!(
        t.vault
            .find_subjects(&t.who, "email", "zeb.sierra@example.org")
            .unwrap(),
        [ids[1].clone()]
    );

    // Reopened with the new key.
    let TestVault { tmp, vault, who } = t;
    drop(vault);
    let vault = open(&dir, KeyAccess::default(), BUSY).expect("reopen with the new key");
    for (id, tag) in ids
        .iter()
        .chain([&r4])
        .zip(["ROMEO", "SIERRA", "TANGO", "UNIFORM"])
    {
        assert_eq!(
            field(&vault, &who, id, "family_name"),
            Some(format!("Quarrington{tag}"))
        );
    }
    // The blind index survived: its key is carried over, not regenerated.
    assert_eq!(
        vault
            .find_subjects(&who, "phone", "07700 900000")
            .unwrap()
            .len(),
        4
    );
    drop(vault);

    // The old key, kept aside, no longer opens the vault, and trying it
    // changes nothing.
    let before = snapshot(&dir);
    let err = open(&dir, with_key_file(&old_key), BUSY).expect_err("old key");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    assert_eq!(snapshot(&dir), before);
    drop(tmp);
}

#[test]
fn passphrase_rotation_retires_the_old_passphrase() {
    let mut t = TestVault::passphrase(OLD_PASS);
    let dir = t.dir();
    let id = t.add_person("P1", "PAPA");

    // The wrong kind of new key is refused, and leaves nothing behind.
    let before = snapshot(&dir);
    let err = t
        .vault
        .rotate_master_key(NewMasterKey::File)
        .expect_err("key file for a passphrase vault");
    assert!(matches!(err, EngineError::Config(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Setup);
    let after = snapshot(&dir);
    let names = |s: &std::collections::BTreeMap<String, _>| {
        s.keys()
            .filter(|n| *n != "rotation.lock")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&after), names(&before));
    assert_eq!(after["vault.toml"], before["vault.toml"]);

    let report = t
        .vault
        .rotate_master_key(NewMasterKey::Passphrase(Zeroizing::new(
            NEW_PASS.to_owned(),
        )))
        .unwrap();
    assert_eq!(report.rewrapped, 1);
    assert!(!dir.join("vault.toml.pending").exists());
    assert_eq!(t.field(&id, "given_name").as_deref(), Some("ZebedeePAPA"));
    let TestVault { tmp, vault, who } = t;
    drop(vault);

    let err = open(&dir, with_passphrase(OLD_PASS), BUSY).expect_err("old passphrase");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    let vault = open(&dir, with_passphrase(NEW_PASS), BUSY).expect("new passphrase");
    assert_eq!(
        field(&vault, &who, &id, "email").as_deref(),
        Some("zeb.papa@example.org")
    );
    drop(tmp);
}

#[test]
fn key_file_vault_refuses_a_passphrase_rotation() {
    let mut t = TestVault::new();
    let dir = t.dir();
    t.add_person("A1", "ALPHA");
    let key = fs::read(dir.join("master.key")).unwrap();
    let err = t
        .vault
        .rotate_master_key(NewMasterKey::Passphrase(Zeroizing::new(
            NEW_PASS.to_owned(),
        )))
        .expect_err("passphrase for a key-file vault");
    assert!(matches!(err, EngineError::Config(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert_eq!(fs::read(dir.join("master.key")).unwrap(), key);
    assert!(!dir.join("master.key.new").exists());
    assert!(!dir.join("vault.toml.pending").exists());
    assert!(t.reopen().is_ok());
}

#[test]
fn an_interrupted_key_file_rotation_is_finished_on_open() {
    let mut t = TestVault::new();
    let dir = t.dir();
    let a = t.add_person("A1", "ALPHA");
    let b = t.add_person("B1", "BRAVO");
    let old_key = t.tmp.path().join("old.key");
    fs::copy(dir.join("master.key"), &old_key).unwrap();
    t.vault.rotate_master_key(NewMasterKey::File).unwrap();
    let TestVault { tmp, vault, who } = t;
    drop(vault);

    // As if the process died after the commit, before renaming the new key
    // into place: the new key is still pending beside the old one.
    let new_key = fs::read(dir.join("master.key")).unwrap();
    fs::rename(dir.join("master.key"), dir.join("master.key.new")).unwrap();
    fs::copy(&old_key, dir.join("master.key")).unwrap();

    let vault = open(&dir, KeyAccess::default(), BUSY).expect("open finishes the rotation");
    assert_eq!(
        field(&vault, &who, &a, "given_name").as_deref(),
        Some("ZebedeeALPHA")
    );
    assert_eq!(
        field(&vault, &who, &b, "notes").map(|n| n.contains("BRAVO")),
        Some(true)
    );
    assert_eq!(
        fs::read(dir.join("master.key")).unwrap(),
        new_key,
        "the new key was not promoted"
    );
    assert!(!dir.join("master.key.new").exists());
    drop(vault);

    // Finished for good: it opens again with just the promoted key, and the
    // old key does not.
    let vault = open(&dir, KeyAccess::default(), BUSY).expect("second open");
    assert_eq!(vault.info(&vault.local_operator()).unwrap().subjects, 2);
    drop(vault);
    let err = open(&dir, with_key_file(&old_key), BUSY).expect_err("old key");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    drop(tmp);
}

#[test]
fn a_rotation_that_never_committed_leaves_the_old_key_in_charge() {
    // A pending key file from a rotation that died before its commit does
    // not open the vault and is not promoted.
    let t = TestVault::new();
    let dir = t.dir();
    let a = t.add_person("A1", "ALPHA");
    let stray = TestVault::new();
    fs::copy(stray.dir().join("master.key"), dir.join("master.key.new")).unwrap();
    let key = fs::read(dir.join("master.key")).unwrap();
    let vault = t.reopen().expect("the current key still opens");
    assert_eq!(
        field(&vault, &t.who, &a, "given_name").as_deref(),
        Some("ZebedeeALPHA")
    );
    assert_eq!(fs::read(dir.join("master.key")).unwrap(), key);

    // With the current key replaced by a wrong one, the stray pending key
    // must not be promoted either.
    drop(vault);
    let TestVault { tmp, vault, .. } = t;
    drop(vault);
    fs::copy(stray.dir().join("master.key"), dir.join("master.key")).unwrap();
    let err = open(&dir, KeyAccess::default(), BUSY).expect_err("wrong key and wrong pending key");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    assert!(
        dir.join("master.key.new").exists(),
        "a pending key that does not fit was consumed"
    );
    drop(tmp);
}

#[test]
fn an_interrupted_passphrase_rotation_is_finished_on_open() {
    let mut t = TestVault::passphrase(OLD_PASS);
    let dir = t.dir();
    let a = t.add_person("A1", "ALPHA");
    let old_config = fs::read(dir.join("vault.toml")).unwrap();
    t.vault
        .rotate_master_key(NewMasterKey::Passphrase(Zeroizing::new(
            NEW_PASS.to_owned(),
        )))
        .unwrap();
    let TestVault { tmp, vault, who } = t;
    drop(vault);

    // As if the process died after the commit, before promoting the new
    // configuration (with the new KDF salt) over the old one.
    let new_config = fs::read(dir.join("vault.toml")).unwrap();
    assert_ne!(new_config, old_config);
    fs::rename(dir.join("vault.toml"), dir.join("vault.toml.pending")).unwrap();
    fs::write(dir.join("vault.toml"), &old_config).unwrap();

    // The old passphrase does not open it, and does not consume the pending
    // configuration.
    let err = open(&dir, with_passphrase(OLD_PASS), BUSY).expect_err("old passphrase");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    assert!(dir.join("vault.toml.pending").exists());

    let vault =
        open(&dir, with_passphrase(NEW_PASS), BUSY).expect("new passphrase finishes the rotation");
    assert_eq!(
        field(&vault, &who, &a, "given_name").as_deref(),
        Some("ZebedeeALPHA")
    );
    assert_eq!(fs::read(dir.join("vault.toml")).unwrap(), new_config);
    assert!(!dir.join("vault.toml.pending").exists());
    drop(tmp);
}

#[test]
fn a_rotation_that_commits_but_cannot_promote_its_key_leaves_the_open_vault_usable() {
    let mut t = TestVault::new();
    let dir = t.dir();
    let a = t.add_person("A1", "ALPHA");
    // The key is already in memory; make the rename onto master.key fail by
    // putting a non-empty directory in its place.
    fs::remove_file(dir.join("master.key")).unwrap();
    fs::create_dir(dir.join("master.key")).unwrap();
    fs::write(dir.join("master.key").join("keep"), b"x").unwrap();
    let err = t
        .vault
        .rotate_master_key(NewMasterKey::File)
        .expect_err("rename fails");
    assert!(err.to_string().contains("rotation committed"), "{err}");
    assert!(
        dir.join("master.key.new").exists(),
        "the committed key must be kept"
    );

    // A subject created by this instance after the failed promotion.
    let b = t.add_person("B1", "BRAVO");

    // Once the obstacle is gone, opening finishes the rotation, and both
    // subjects must be readable: B's data key must not have been wrapped
    // under the retired master key.
    fs::remove_dir_all(dir.join("master.key")).unwrap();
    fs::copy(
        TestVault::new().dir().join("master.key"),
        dir.join("master.key"),
    )
    .unwrap();
    let vault = open(&dir, KeyAccess::default(), BUSY).expect("open finishes the rotation");
    assert_eq!(
        field(&vault, &t.who, &a, "given_name").as_deref(),
        Some("ZebedeeALPHA")
    );
    let read_b = vault.read_subject(&t.who, &b, &custos_engine::FieldSelection::All);
    assert!(
        read_b.is_ok(),
        "a subject created after the failed promotion is lost: {:?}",
        read_b.err()
    );

    // And the instance that ran the rotation keeps working with the keys
    // that the store now holds.
    let read = t
        .vault
        .read_subject(&t.who, &a, &custos_engine::FieldSelection::All);
    assert!(
        read.is_ok(),
        "after a committed rotation the open vault cannot read: {:?}",
        read.err()
    );
}

#[test]
fn a_rotation_does_not_strand_writes_of_another_open_instance() {
    // Another process, such as `custos serve`, has the vault open while an
    // operator rotates the key with the CLI.
    let mut t = TestVault::new();
    let dir = t.dir();
    let server = open(&dir, KeyAccess::default(), BUSY).unwrap();
    let a = t.add_person("A1", "ALPHA");
    t.vault.rotate_master_key(NewMasterKey::File).unwrap();

    // The other instance writes after the rotation: it must either succeed
    // durably or fail, never store a subject that cannot be read back.
    let who = server.local_operator();
    let created = server.create_subject(&who, crate::support::person("B1", "BRAVO"));
    let updated = server.update_subject(&who, &a, &[("town".to_owned(), "Elsewhere".to_owned())]);
    drop(server);
    let TestVault { tmp, vault, who } = t;
    drop(vault);
    let vault = open(&dir, KeyAccess::default(), BUSY).unwrap();
    if let Ok(b) = created {
        let read = vault.read_subject(&who, &b, &custos_engine::FieldSelection::All);
        assert!(
            read.is_ok(),
            "a subject written by the other instance is lost: {:?}",
            read.err()
        );
    }
    if updated.is_ok() {
        assert_eq!(
            field(&vault, &who, &a, "town").as_deref(),
            Some("Elsewhere")
        );
    }
    drop(tmp);
}
