//! Shared fixtures: stores in temporary directories, a raw connection for
//! what the API cannot do (tampering, injected failures), and plausible
//! records.

use std::path::{Path, PathBuf};

use custos_model::{
    Attributes, PrincipalKind, PrincipalName, PrincipalStatus, Purpose, PurposeSpec,
};
use custos_store::{PrincipalRecord, SqliteOptions, SqliteStore, TokenKind, TokenRecord};

/// A store in a fresh temporary directory, kept alive by the returned dir.
pub(crate) struct TestStore {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: SqliteStore,
}

impl TestStore {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::create(&store_path(&dir), SqliteOptions::default()).unwrap();
        Self { dir, store }
    }

    pub(crate) fn path(&self) -> PathBuf {
        store_path(&self.dir)
    }

    /// Another store on the same file, as another process would open it.
    pub(crate) fn reopen(&self) -> SqliteStore {
        SqliteStore::open(&self.path(), SqliteOptions::default()).unwrap()
    }

    /// A plain connection to the file, beside the store's own.
    pub(crate) fn raw(&self) -> rusqlite::Connection {
        raw(&self.path())
    }
}

pub(crate) fn store_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store.sqlite")
}

pub(crate) fn raw(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn
}

pub(crate) fn name(s: &str) -> PrincipalName {
    PrincipalName::parse(s).unwrap()
}

/// A time in the format callers use, `n` minutes into a day.
pub(crate) fn at(n: u32) -> String {
    format!("2026-03-01T{:02}:{:02}:00.000Z", n / 60, n % 60)
}

pub(crate) fn principal(n: &str) -> PrincipalRecord {
    PrincipalRecord {
        name: name(n),
        kind: PrincipalKind::Staff,
        attributes: Attributes::parse_pairs([
            ("role", "caseworker"),
            ("constituency", "E14000639"),
            ("team", "membership = casework"),
        ])
        .unwrap(),
        status: PrincipalStatus::Active,
        status_reason: String::new(),
        status_changed_at: None,
        valid_from: Some(at(0)),
        valid_until: None,
        created_at: at(1),
    }
}

pub(crate) fn token(id: &str, owner: &str, seed: u8, kind: TokenKind) -> TokenRecord {
    TokenRecord {
        id: id.to_owned(),
        digest: [seed; 32],
        principal: name(owner),
        kind,
        mfa: kind == TokenKind::Session,
        created_at: at(u32::from(seed)),
        expires_at: match kind {
            TokenKind::Api => None,
            TokenKind::Session => Some(at(u32::from(seed) + 60)),
        },
        revoked_at: None,
    }
}

pub(crate) fn purpose(n: &str) -> Purpose {
    Purpose::from_spec(&PurposeSpec {
        name: n.to_owned(),
        description: format!("The {n} purpose, for tests"),
        lawful_basis: "legitimate_interests".to_owned(),
        special_condition: None,
        categories: vec!["contact".to_owned(), "identity".to_owned()],
        requires_consent: false,
        consent_fields: Vec::new(),
    })
    .unwrap()
}

/// Makes every update of the `access_generation` counter fail, to show that
/// a change and its increment commit or fail together.
pub(crate) fn break_generation(conn: &rusqlite::Connection) {
    conn.execute_batch(
        "CREATE TRIGGER break_generation BEFORE UPDATE ON counters
         WHEN NEW.name = 'access_generation'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
}
