//! Wrong keys and directories that are not (usable) vaults: each is refused
//! with an error the user can act on, and none modifies a file.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use custos_crypto::KeyError;
use custos_engine::{EngineError, ErrorKind, KeyAccess};
use custos_store::StoreError;

use crate::support::{BUSY, TestVault, open, snapshot, with_key_file, with_passphrase};

#[test]
fn another_vaults_key_file_is_the_wrong_key() {
    let a = TestVault::new();
    let b = TestVault::new();
    let dir = a.dir();
    a.add_person("A1", "ALPHA");
    let before = snapshot(&dir);
    let err = open(&dir, with_key_file(&b.dir().join("master.key")), BUSY)
        .expect_err("another vault's key");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert!(err.to_string().contains("wrong master key"), "{err}");
    assert_eq!(
        snapshot(&dir),
        before,
        "a refused open changed the vault directory"
    );

    // B's key file copied over A's: still the wrong key, and not mistaken
    // for an interrupted rotation.
    let a_key = fs::read(dir.join("master.key")).unwrap();
    drop(a.vault);
    fs::copy(b.dir().join("master.key"), dir.join("master.key")).unwrap();
    let err = open(&dir, KeyAccess::default(), BUSY).expect_err("copied key");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    // With its own key back, it opens.
    fs::write(dir.join("master.key"), a_key).unwrap();
    let vault = open(&dir, KeyAccess::default(), BUSY).expect("own key");
    assert_eq!(vault.info(&vault.local_operator()).unwrap().subjects, 1);
}

#[test]
fn exposed_or_missing_key_file_is_refused() {
    let t = TestVault::new();
    let key = t.dir().join("master.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let err = t.reopen().expect_err("world-readable key");
    assert!(
        matches!(err, EngineError::Key(KeyError::Exposed { .. })),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    t.reopen().expect("private key opens");

    let err = open(&t.dir(), with_key_file(&t.dir().join("nowhere.key")), BUSY)
        .expect_err("missing key file");
    assert!(
        matches!(err, EngineError::Key(KeyError::Io { .. })),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
}

#[test]
fn passphrase_vault_refuses_a_wrong_or_missing_passphrase() {
    let t = TestVault::passphrase("correct horse battery staple");
    let id = t.add_person("P1", "PAPA");
    drop(t.vault);
    let dir = t.tmp.path().join("vault");
    let before = snapshot(&dir);

    let err = open(&dir, with_passphrase("correct horse battery stapler"), BUSY)
        .expect_err("wrong passphrase");
    assert!(
        matches!(err, EngineError::Key(KeyError::WrongKey)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert!(!err.to_string().contains("horse"), "{err}");

    let err = open(&dir, KeyAccess::default(), BUSY).expect_err("no passphrase");
    assert!(
        matches!(err, EngineError::Key(KeyError::MissingPassphrase)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);

    // A key file is no substitute for the passphrase.
    let other = TestVault::new();
    let err =
        open(&dir, with_key_file(&other.dir().join("master.key")), BUSY).expect_err("key file");
    assert!(
        matches!(err, EngineError::Key(KeyError::MissingPassphrase)),
        "{err:?}"
    );

    assert_eq!(
        snapshot(&dir),
        before,
        "a refused open changed the vault directory"
    );
    let vault = open(&dir, with_passphrase("correct horse battery staple"), BUSY)
        .expect("right passphrase");
    assert_eq!(
        crate::support::field(&vault, &vault.local_operator(), &id, "given_name").as_deref(),
        Some("ZebedeePAPA")
    );
}

#[test]
fn a_directory_without_a_vault_is_not_a_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let err = open(tmp.path(), KeyAccess::default(), BUSY).expect_err("empty dir");
    assert!(
        matches!(&err, EngineError::NotAVault(p) if p == tmp.path()),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert!(
        fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "open created files"
    );

    let missing = tmp.path().join("missing");
    let err = open(&missing, KeyAccess::default(), BUSY).expect_err("missing dir");
    assert!(matches!(err, EngineError::NotAVault(_)), "{err:?}");
    assert!(!missing.exists(), "open created the directory");

    // A store without its vault.toml is not a vault either.
    let t = TestVault::new();
    drop(t.vault);
    let dir = t.tmp.path().join("vault");
    fs::remove_file(dir.join("vault.toml")).unwrap();
    let before = snapshot(&dir);
    let err = open(&dir, KeyAccess::default(), BUSY).expect_err("no vault.toml");
    assert!(matches!(err, EngineError::NotAVault(_)), "{err:?}");
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_newer_vault_format_is_too_new() {
    let t = TestVault::new();
    drop(t.vault);
    let dir = t.tmp.path().join("vault");
    let config = fs::read_to_string(dir.join("vault.toml")).unwrap();
    assert!(config.contains("format = 1"), "{config}");
    fs::write(
        dir.join("vault.toml"),
        config.replace("format = 1", "format = 99"),
    )
    .unwrap();
    let before = snapshot(&dir);
    let err = open(&dir, KeyAccess::default(), BUSY).expect_err("format 99");
    assert!(
        matches!(
            err,
            EngineError::TooNew {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert!(err.to_string().contains("upgrade"), "{err}");
    assert_eq!(
        snapshot(&dir),
        before,
        "a refused open changed the vault directory"
    );
}

#[test]
fn a_newer_store_format_is_too_new() {
    let t = TestVault::new();
    t.add_person("A1", "ALPHA");
    drop(t.vault);
    let dir = t.tmp.path().join("vault");
    {
        let conn = crate::support::db(&dir);
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = snapshot(&dir);
    let err = open(&dir, KeyAccess::default(), BUSY).expect_err("store format 99");
    assert!(
        matches!(
            err,
            EngineError::Store(StoreError::TooNew {
                found: 99,
                supported: 3
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert_eq!(
        snapshot(&dir),
        before,
        "a refused open changed the vault directory"
    );
    let user_version: i64 = crate::support::db(&dir)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, 99, "the refused open migrated the store");
}

#[test]
fn init_refuses_an_existing_vault_and_leaves_it_alone() {
    let t = TestVault::new();
    t.add_person("A1", "ALPHA");
    drop(t.vault);
    let dir = t.tmp.path().join("vault");
    let before = snapshot(&dir);
    let err = custos_engine::Vault::init(custos_engine::InitOptions {
        dir: dir.clone(),
        schema: None,
        key: custos_engine::InitKey::File { path: None },
        busy_timeout: BUSY,
    })
    .expect_err("second init");
    assert!(matches!(err, EngineError::AlreadyAVault(_)), "{err:?}");
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_store_from_another_vault_is_refused() {
    let a = TestVault::new();
    let b = TestVault::new();
    b.add_person("B1", "BRAVO");
    let dir = a.dir();
    drop(a.vault);
    drop(b.vault);
    fs::copy(
        b.tmp.path().join("vault/store.sqlite"),
        dir.join("store.sqlite"),
    )
    .unwrap();
    let before = snapshot(&dir);
    let err = open(&dir, KeyAccess::default(), BUSY).expect_err("foreign store");
    assert!(matches!(err, EngineError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("another vault"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_failed_init_leaves_nothing_behind_and_deletes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let init = |dir: &std::path::Path, key| {
        custos_engine::Vault::init(custos_engine::InitOptions {
            dir: dir.to_owned(),
            schema: None,
            key,
            busy_timeout: BUSY,
        })
    };

    // A passphrase too short to derive a key from.
    let dir = tmp.path().join("weak");
    let err = init(
        &dir,
        custos_engine::InitKey::Passphrase(zeroize::Zeroizing::new("short".to_owned())),
    )
    .expect_err("weak passphrase");
    assert!(
        matches!(err, EngineError::Key(KeyError::WeakPassphrase { .. })),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert_eq!(fs::read_dir(&dir).map(Iterator::count).unwrap_or(0), 0);

    // A key file that already exists is neither overwritten nor deleted.
    let existing = tmp.path().join("precious.key");
    fs::write(&existing, b"someone else's key\n").unwrap();
    let dir = tmp.path().join("clash");
    let err = init(
        &dir,
        custos_engine::InitKey::File {
            path: Some(existing.clone()),
        },
    )
    .expect_err("existing key file");
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert_eq!(fs::read(&existing).unwrap(), b"someone else's key\n");
    assert_eq!(fs::read_dir(&dir).map(Iterator::count).unwrap_or(0), 0);

    // An invalid schema file.
    let schema = tmp.path().join("schema.toml");
    fs::write(
        &schema,
        "[[field]]\nname = \"email\"\ntype = \"email\"\ncategory = \"contact\"\n",
    )
    .unwrap();
    let dir = tmp.path().join("badschema");
    let err = custos_engine::Vault::init(custos_engine::InitOptions {
        dir: dir.clone(),
        schema: Some(schema),
        key: custos_engine::InitKey::File { path: None },
        busy_timeout: BUSY,
    })
    .expect_err("schema without id");
    assert!(matches!(err, EngineError::Schema { .. }), "{err:?}");
    assert!(!dir.exists() || fs::read_dir(&dir).unwrap().count() == 0);

    // After all that, a vault can still be made in the same places.
    let vault = init(
        &tmp.path().join("weak"),
        custos_engine::InitKey::File { path: None },
    )
    .expect("init");
    assert_eq!(
        vault
            .vault
            .info(&vault.vault.local_operator())
            .unwrap()
            .subjects,
        0
    );
}
