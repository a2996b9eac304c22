//! Shared helpers: vaults in temporary directories, subjects with known
//! distinctive values, and raw access to the store file.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use custos_engine::{
    Caller, CsvInput, Encoding, EngineError, FieldSelection, ImportOptions, ImportReport, InitKey,
    InitOptions, KeyAccess, OpenOptions, SubjectInput, Vault,
};
use custos_model::SubjectId;
use tempfile::TempDir;
use zeroize::Zeroizing;

/// The busy timeout of test vaults.
pub(crate) const BUSY: Duration = Duration::from_secs(2);

/// A vault in its own temporary directory, with the local operator.
#[derive(Debug)]
pub(crate) struct TestVault {
    /// Keeps the directory alive; the vault is `DIR/vault`.
    pub(crate) tmp: TempDir,
    pub(crate) vault: Vault,
    pub(crate) who: Caller,
}

impl TestVault {
    /// A new key-file vault.
    pub(crate) fn new() -> Self {
        Self::with(InitKey::File { path: None }, BUSY)
    }

    /// A new key-file vault whose writers wait `busy` for the lock.
    pub(crate) fn with_busy(busy: Duration) -> Self {
        Self::with(InitKey::File { path: None }, busy)
    }

    /// A new passphrase vault.
    pub(crate) fn passphrase(secret: &str) -> Self {
        Self::with(InitKey::Passphrase(Zeroizing::new(secret.to_owned())), BUSY)
    }

    fn with(key: InitKey, busy_timeout: Duration) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("vault");
        let init = Vault::init(InitOptions {
            dir,
            schema: None,
            key,
            busy_timeout,
        })
        .expect("init vault");
        let vault = init.vault;
        let who = vault.local_operator();
        Self { tmp, vault, who }
    }

    /// The vault directory.
    pub(crate) fn dir(&self) -> PathBuf {
        self.tmp.path().join("vault")
    }

    /// The store file.
    pub(crate) fn store_path(&self) -> PathBuf {
        self.dir().join("store.sqlite")
    }

    /// A second connection to the store, for tampering and inspection.
    pub(crate) fn db(&self) -> rusqlite::Connection {
        db(&self.dir())
    }

    /// Creates a subject with the values of [`person`].
    pub(crate) fn add_person(&self, id: &str, tag: &str) -> SubjectId {
        self.vault
            .create_subject(&self.who, person(id, tag))
            .expect("create subject")
    }

    /// Creates a subject with exactly these values.
    pub(crate) fn add(&self, id: &str, values: &[(&str, &str)]) -> SubjectId {
        self.vault
            .create_subject(&self.who, input(Some(id), values))
            .expect("create subject")
    }

    /// Reads one field, decrypted.
    pub(crate) fn field(&self, id: &SubjectId, name: &str) -> Option<String> {
        field(&self.vault, &self.who, id, name)
    }

    /// Imports CSV bytes with the given options.
    pub(crate) fn import(
        &self,
        csv: &[u8],
        options: ImportOptions,
    ) -> Result<ImportReport, EngineError> {
        self.vault
            .import_csv(&self.who, CsvInput::Bytes(csv), &options, &|_| {})
    }

    /// The number of subjects held.
    pub(crate) fn count(&self) -> u64 {
        self.vault
            .info(&self.vault.local_operator())
            .expect("info")
            .subjects
    }

    /// Reopens the vault from its directory with its key file.
    pub(crate) fn reopen(&self) -> Result<Vault, EngineError> {
        open(&self.dir(), KeyAccess::default(), BUSY)
    }
}

/// Opens a vault directory.
pub(crate) fn open(
    dir: &Path,
    keys: KeyAccess,
    busy_timeout: Duration,
) -> Result<Vault, EngineError> {
    Vault::open(OpenOptions {
        dir: dir.to_owned(),
        keys,
        busy_timeout,
    })
}

/// Key access with a passphrase.
pub(crate) fn with_passphrase(secret: &str) -> KeyAccess {
    KeyAccess {
        key_file: None,
        passphrase: Some(Zeroizing::new(secret.to_owned())),
    }
}

/// Key access with another key file.
pub(crate) fn with_key_file(path: &Path) -> KeyAccess {
    KeyAccess {
        key_file: Some(path.to_owned()),
        passphrase: None,
    }
}

/// A raw connection to `DIR/store.sqlite`.
pub(crate) fn db(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("store.sqlite")).expect("open store");
    conn.busy_timeout(BUSY).expect("busy timeout");
    conn
}

/// Default import options: auto encoding, ids from the file, for real.
pub(crate) fn import_options() -> ImportOptions {
    ImportOptions {
        dry_run: false,
        generate_ids: false,
        encoding: Encoding::Auto,
    }
}

/// A subject id.
pub(crate) fn sid(s: &str) -> SubjectId {
    SubjectId::parse(s).expect("valid subject id")
}

/// A subject input from literal values.
pub(crate) fn input(id: Option<&str>, values: &[(&str, &str)]) -> SubjectInput {
    SubjectInput {
        id: id.map(str::to_owned),
        values: values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Raw values (as a user types them) and the normalised forms the vault
/// stores, for one person whose values all contain `tag`, so that they are
/// distinctive enough to search for in raw bytes.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// (field, raw input, normalised stored form) for every sealed field.
    pub(crate) sealed: Vec<(&'static str, String, String)>,
    /// (field, value) for the scope attributes, stored in clear.
    pub(crate) scope: Vec<(&'static str, String)>,
}

/// A person's distinctive values. `tag` is a short upper-case word of
/// letters; the phone number is derived from `index`.
pub(crate) fn person_values(tag: &str, index: u32) -> Person {
    let lower = tag.to_lowercase();
    let national = format!("07700 9{index:05}");
    let e164 = format!("+4477009{index:05}");
    let sealed = vec![
        (
            "given_name",
            format!("Zebedee{tag}"),
            format!("Zebedee{tag}"),
        ),
        (
            "family_name",
            format!("Quarrington{tag}"),
            format!("Quarrington{tag}"),
        ),
        (
            "email",
            format!("Zeb.{tag}@Example.ORG"),
            format!("zeb.{lower}@example.org"),
        ),
        ("phone", national, e164),
        (
            "address_line1",
            format!("17 Wobblethorpe{tag} Lane"),
            format!("17 Wobblethorpe{tag} Lane"),
        ),
        ("town", format!("Kettlesby{tag}"), format!("Kettlesby{tag}")),
        ("postcode", "ze1 9qx".to_owned(), "ZE1 9QX".to_owned()),
        (
            "date_of_birth",
            "1931-07-23".to_owned(),
            "1931-07-23".to_owned(),
        ),
        (
            "union_affiliation",
            format!("Guild of Lamplighters {tag}"),
            format!("Guild of Lamplighters {tag}"),
        ),
        (
            "ethnicity",
            format!("Cornish-Breton {tag}"),
            format!("Cornish-Breton {tag}"),
        ),
        (
            "disability",
            "Prefer_Not_To_Say".to_owned(),
            "prefer_not_to_say".to_owned(),
        ),
        (
            "donation_total",
            "£9,876.5".to_owned(),
            "9876.50".to_owned(),
        ),
        (
            "notes",
            format!("Allergic to marzipan {tag}; \"call\" after 6pm,\nnever on Sundays"),
            format!("Allergic to marzipan {tag}; \"call\" after 6pm,\nnever on Sundays"),
        ),
    ];
    let scope = vec![
        ("constituency", format!("E1400{index:04}")),
        ("branch", format!("Branch{tag}")),
        ("membership_status", "member".to_owned()),
        ("joined_on", "2011-03-14".to_owned()),
    ];
    Person { sealed, scope }
}

/// A subject input for [`person_values`] with tag `tag` and index 0.
pub(crate) fn person(id: &str, tag: &str) -> SubjectInput {
    let p = person_values(tag, 0);
    let mut values: Vec<(String, String)> = p
        .sealed
        .iter()
        .map(|(k, raw, _)| ((*k).to_owned(), raw.clone()))
        .collect();
    values.extend(p.scope.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    SubjectInput {
        id: Some(id.to_owned()),
        values,
    }
}

/// Reads one field of a subject.
pub(crate) fn field(vault: &Vault, who: &Caller, id: &SubjectId, name: &str) -> Option<String> {
    let record = vault
        .read_subject(who, id, &FieldSelection::Only(vec![name.to_owned()]))
        .expect("read subject");
    assert_eq!(record.fields.len(), 1);
    record.fields[0].1.as_ref().map(|v| v.as_str().to_owned())
}

/// Every field of a subject, by name, decrypted.
pub(crate) fn all_fields(
    vault: &Vault,
    who: &Caller,
    id: &SubjectId,
) -> BTreeMap<String, Option<String>> {
    vault
        .read_subject(who, id, &FieldSelection::All)
        .expect("read subject")
        .fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.map(|v| v.as_str().to_owned())))
        .collect()
}

/// The bytes of `DIR/store.sqlite` and of its `-wal` and `-shm` files, by
/// file name; absent files are left out.
pub(crate) fn store_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"]
        .into_iter()
        .filter_map(|name| fs::read(dir.join(name)).ok().map(|b| (name.to_owned(), b)))
        .collect()
}

/// The names of the store files that contain `needle`.
pub(crate) fn files_containing(files: &[(String, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    assert!(!needle.is_empty(), "searching for nothing finds everything");
    files
        .iter()
        .filter(|(_, bytes)| contains(bytes, needle))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Whether `haystack` contains `needle`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// What [`snapshot`] records of one file: its length, a hash of its bytes
/// and its modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileState {
    pub(crate) len: u64,
    pub(crate) hash: u64,
    pub(crate) modified: SystemTime,
}

/// Every file in a directory, with a digest of its bytes and its
/// modification time, to show that an operation left the directory as it was.
///
/// Of `store.sqlite-shm` only its presence counts: it is SQLite's shared-memory
/// index, whose reader marks change on every read while a vault is open; it
/// holds no data.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, FileState> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            let entry = entry.expect("dir entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with("-shm") {
                let state = FileState {
                    len: 0,
                    hash: 0,
                    modified: SystemTime::UNIX_EPOCH,
                };
                return (name, state);
            }
            let meta = entry.metadata().expect("metadata");
            let bytes = if meta.is_file() {
                fs::read(entry.path()).expect("read file")
            } else {
                Vec::new()
            };
            // FNV-1a: enough to tell whether bytes changed.
            let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            let state = FileState {
                len: meta.len(),
                hash,
                modified: meta.modified().expect("mtime"),
            };
            (name, state)
        })
        .collect()
}

/// The (row, column, field) of each problem of an invalid-request error.
pub(crate) fn locations(err: &EngineError) -> Vec<(Option<u64>, Option<usize>, Option<String>)> {
    err.problems()
        .iter()
        .map(|p| (p.row, p.column, p.field.clone()))
        .collect()
}

/// The subject's row as stored: (wrapped_key, sealed, lookups).
pub(crate) fn raw_row(conn: &rusqlite::Connection, id: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    conn.query_row(
        "SELECT wrapped_key, sealed, lookups FROM subjects WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .expect("subject row")
}

/// Decodes a field map: version byte 1, then per entry
/// `[u8 name_len][name][u32 LE len][value]`. Written independently of the
/// store's codec, so that the tests pin the format.
pub(crate) fn decode_map(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    assert_eq!(bytes.first(), Some(&1), "field map version");
    let mut out = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        let name_len = usize::from(bytes[i]);
        i += 1;
        let name = String::from_utf8(bytes[i..i + name_len].to_vec()).expect("field name");
        i += name_len;
        let len = u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes")) as usize;
        i += 4;
        out.push((name, bytes[i..i + len].to_vec()));
        i += len;
    }
    assert_eq!(i, bytes.len(), "field map length");
    out
}

/// Encodes a field map in the store's format.
pub(crate) fn encode_map(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![1u8];
    for (name, value) in entries {
        out.push(u8::try_from(name.len()).expect("short name"));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(
            &u32::try_from(value.len())
                .expect("short value")
                .to_le_bytes(),
        );
        out.extend_from_slice(value);
    }
    out
}

/// The ledger file of a vault directory.
pub(crate) fn ledger_path(dir: &Path) -> PathBuf {
    dir.join("ledger.sqlite")
}

/// A raw connection to `DIR/ledger.sqlite`, for tampering and inspection.
pub(crate) fn ledger_db(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(ledger_path(dir)).expect("open ledger");
    conn.busy_timeout(BUSY).expect("busy timeout");
    conn
}

/// The bytes of `DIR/ledger.sqlite` and of its `-wal` and `-shm` files, by
/// file name; absent files are left out.
pub(crate) fn ledger_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"]
        .into_iter()
        .filter_map(|name| fs::read(dir.join(name)).ok().map(|b| (name.to_owned(), b)))
        .collect()
}

/// Every event in the ledger, oldest first, read through the engine.
pub(crate) fn ledger_events(vault: &Vault) -> Vec<custos_engine::Event> {
    let mut all = Vec::new();
    let mut query = custos_engine::EventQuery {
        limit: custos_engine::EventQuery::MAX_LIMIT,
        ..custos_engine::EventQuery::default()
    };
    loop {
        let page = vault
            .ledger_query(&vault.local_operator(), &query)
            .expect("query the ledger");
        let done = page.len() < custos_engine::EventQuery::MAX_LIMIT;
        query.after_seq = page.last().map(|e| e.seq);
        all.extend(page);
        if done {
            return all;
        }
    }
}

/// Adds a principal with these attributes and gives it an API token:
/// returns the token's secret and its public id (`tk_…`).
pub(crate) fn principal_with_token(
    vault: &Vault,
    name: &str,
    kind: custos_model::PrincipalKind,
    attrs: &[(&str, &str)],
) -> (String, String) {
    let attrs: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vault
        .add_principal(&vault.local_operator(), name, kind, &attrs, None, None)
        .expect("add principal");
    another_token(vault, name)
}

/// Another API token for an existing principal: its secret and public id.
pub(crate) fn another_token(vault: &Vault, name: &str) -> (String, String) {
    let token = vault
        .create_token(&vault.local_operator(), name, None)
        .expect("create token");
    (token.token.expose().to_owned(), token.record.id)
}

/// A request that presents `token` and declares `purpose`.
pub(crate) fn token_caller(token: &str, purpose: &str) -> Caller {
    Caller::with_token(token, "req", "192.0.2.1").with_purpose(Some(purpose))
}

/// A field selection of these names.
pub(crate) fn only(names: &[&str]) -> FieldSelection {
    FieldSelection::Only(names.iter().map(|&n| n.to_owned()).collect())
}
