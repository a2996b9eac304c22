//! The storage the ledger needs, as a trait the ledger owns.
//!
//! The ledger decides what must be kept and how appends stay consistent; a
//! database crate only decides how to keep it. So the trait lives here and
//! `custos-store` implements it (SQLite now, PostgreSQL later), and the
//! dependency points from the store to the ledger, never back.
//!
//! The one write, [`LedgerStore::append`], hands a builder the log's size and
//! a view of its tree *inside* the store's write transaction. Whoever appends
//! therefore assigns seqs from the size it sees under the lock, so several
//! writers (processes sharing an SQLite file, or servers sharing a PostgreSQL
//! database) can never assign the same seq or fork the tree.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::event::{Event, Outcome};
use crate::head::SignedHead;
use crate::merkle::{Hash, HashSource, Node};
use crate::verify::{Report, StoredEvent, Verifier};
use custos_crypto::LedgerPublicKey;
use custos_model::VaultId;

/// An error from outside the store that aborted an append.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a store hands the builder of an append, read inside the write
/// transaction.
pub struct LogState<'a> {
    /// The number of events in the log: the next event's seq.
    pub size: u64,
    /// The time of the last event, if there is one. Stores refuse events
    /// older than it, so that seq order and time order agree.
    pub last_time: Option<&'a str>,
    /// The stored tree, for [`crate::merkle::Frontier::load`].
    pub tree: &'a dyn HashSource<Error = LedgerStoreError>,
}

impl fmt::Debug for LogState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogState")
            .field("size", &self.size)
            .field("last_time", &self.last_time)
            .finish_non_exhaustive()
    }
}

/// An event to append, with its leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvent {
    /// The event. Its seq must be the log size plus its position in the
    /// batch.
    pub event: Event,
    /// `event.leaf_hash()`, computed once by the builder.
    pub leaf_hash: Hash,
}

/// Everything one append writes, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendBatch {
    /// The new events, in seq order.
    pub events: Vec<AppendedEvent>,
    /// The subtrees the new events complete, as reported by
    /// [`crate::merkle::Frontier::append_reporting`]. A store keeps whichever
    /// of these it needs to serve [`LedgerStore::tree_node`].
    pub nodes: Vec<Node>,
    /// A head signed over the log as it will be after this append.
    pub head: Option<SignedHead>,
}

/// One stored event, read back for verification or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEventRow {
    /// The row's seq.
    pub seq: u64,
    /// The event, or why the row is not a readable event (an unknown
    /// outcome, a leaf hash of the wrong length).
    pub event: Result<Event, String>,
    /// The leaf hash stored when the event was recorded.
    pub leaf_hash: Option<Hash>,
}

impl From<StoredEventRow> for StoredEvent {
    fn from(row: StoredEventRow) -> Self {
        match row.event {
            Ok(event) => {
                let stored = StoredEvent::new(event);
                match row.leaf_hash {
                    Some(hash) => stored.with_leaf_hash(hash),
                    None => stored,
                }
            }
            Err(reason) => StoredEvent::unreadable(reason),
        }
    }
}

/// Which events to list. Every filter that is set must match; results are in
/// seq order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Only this principal's events.
    pub principal: Option<String>,
    /// Only events that touched this subject.
    pub subject: Option<String>,
    /// Only events with this declared purpose.
    pub purpose: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this outcome.
    pub outcome: Option<Outcome>,
    /// Only events at or after this time. Times compare as text, which is
    /// time order since every event time is `YYYY-MM-DDTHH:MM:SS.mmmZ`; a
    /// prefix such as `2026-11` means the start of that month.
    pub time_from: Option<String>,
    /// Only events strictly before this time (compared like `time_from`, so
    /// `2026-12` ends at the last moment of November).
    pub time_to: Option<String>,
    /// Only events after this seq: the last seq of the previous page.
    pub after_seq: Option<u64>,
    /// At most this many events; stores cap it at [`EventQuery::MAX_LIMIT`].
    /// Default 1000.
    pub limit: usize,
}

impl EventQuery {
    /// The most events one query returns; page with `after_seq` for more.
    pub const MAX_LIMIT: usize = 100_000;
}

impl Default for EventQuery {
    fn default() -> Self {
        Self {
            principal: None,
            subject: None,
            purpose: None,
            action: None,
            outcome: None,
            time_from: None,
            time_to: None,
            after_seq: None,
            limit: 1000,
        }
    }
}

/// Why a ledger store operation failed. Messages never contain field values
/// (events hold none).
#[derive(Debug, thiserror::Error)]
pub enum LedgerStoreError {
    /// Another writer held the ledger's write lock past the busy timeout.
    #[error("the ledger is busy: another process held its write lock for more than {} ms; try again, or raise `--busy-timeout-ms`", .waited.as_millis())]
    Busy {
        /// How long this process waited.
        waited: Duration,
    },
    /// The disk is full.
    #[error("the disk holding the ledger is full; nothing was recorded")]
    Full,
    /// The ledger file cannot be written.
    #[error("the ledger file is read-only; nothing was recorded")]
    ReadOnly,
    /// Reading or writing the file failed.
    #[error("the ledger file could not be read or written ({0}); nothing was recorded")]
    Io(String),
    /// There is no ledger at this path.
    #[error("no ledger at `{0}`")]
    Missing(PathBuf),
    /// A ledger was to be created where a file already exists.
    #[error("`{0}` already exists; refusing to create a ledger over it")]
    Exists(PathBuf),
    /// The ledger was written by a newer Custos.
    #[error(
        "the ledger has format {found}, newer than this custos supports ({supported}); upgrade custos"
    )]
    TooNew {
        /// The ledger's format.
        found: i64,
        /// The newest format this build reads.
        supported: i64,
    },
    /// The ledger belongs to another vault.
    #[error("the ledger belongs to vault `{found}`, not to this vault `{expected}`")]
    OtherVault {
        /// This vault's id.
        expected: String,
        /// The id the ledger holds.
        found: String,
    },
    /// The file is not a ledger, or its contents are damaged.
    #[error("the ledger is damaged: {0}")]
    Corrupt(String),
    /// The store refused what it was asked to write, and wrote nothing.
    #[error("the ledger refused the write: {0}")]
    Invalid(String),
    /// The append's builder failed, so nothing was written.
    #[error("{0}")]
    Aborted(BoxError),
    /// Any other database error.
    #[error("ledger database error: {0}")]
    Database(String),
}

/// The persistent state of a ledger: events, the completed subtrees of its
/// tree, and signed heads.
///
/// Seqs are leaf indices: the first event is 0 and there are no gaps.
///
/// API boundary: the contract a PostgreSQL implementation will also fulfil.
/// Each method is a whole operation; the only write that assigns seqs is
/// [`LedgerStore::append`].
pub trait LedgerStore: Send + Sync + fmt::Debug {
    /// Appends in one durable transaction that excludes every other writer
    /// (on SQLite, `BEGIN IMMEDIATE`, so several processes serialize).
    ///
    /// Inside it the store reads the log's size and last time and calls
    /// `build` exactly once with them and a view of the stored tree. It then
    /// writes everything `build` returns and commits, and returns the new
    /// size. The append is durable only once a later [`LedgerStore::sync`]
    /// has returned: nobody may rely on it before. If `build` fails, or the batch is refused (a
    /// seq that is not next, a time older than the last event's, an event
    /// that fails [`check_storable`], a head that is not for the new size or
    /// this vault), nothing is written.
    fn append(
        &self,
        build: &mut dyn FnMut(LogState<'_>) -> Result<AppendBatch, BoxError>,
    ) -> Result<u64, LedgerStoreError>;

    /// Makes every append that has returned so far durable (on SQLite, one
    /// `fdatasync` of the WAL). Separate from the append so that the
    /// recorder can commit the next batch while this one syncs. After an
    /// error, nothing appended since the last successful sync may be
    /// counted on, now or after a later sync that succeeds.
    fn sync(&self) -> Result<(), LedgerStoreError>;

    /// The number of events.
    fn size(&self) -> Result<u64, LedgerStoreError>;

    /// Up to `limit` stored events from `from_seq` on, in seq order, with
    /// their stored leaf hashes: the input of [`crate::verify_log`] and of
    /// exports. A row that cannot be read as an event is returned as such,
    /// so the verifier can name it.
    fn events(&self, from_seq: u64, limit: usize) -> Result<Vec<StoredEventRow>, LedgerStoreError>;

    /// One event.
    fn event(&self, seq: u64) -> Result<Option<Event>, LedgerStoreError>;

    /// The events matching every filter of `query`, in seq order.
    fn query(&self, query: &EventQuery) -> Result<Vec<Event>, LedgerStoreError>;

    /// Every stored signed head, smallest first.
    fn heads(&self) -> Result<Vec<SignedHead>, LedgerStoreError>;

    /// The stored signed head of the largest size.
    fn latest_head(&self) -> Result<Option<SignedHead>, LedgerStoreError>;

    /// Stores a signed head over the first `head.size()` events. Refused if
    /// it is for another vault, larger than the log, or its root is not the
    /// stored tree's root at that size. A head of a size already stored
    /// leaves the stored one in place.
    ///
    /// The signature is not checked here: the store holds no key.
    fn add_head(&self, head: &SignedHead) -> Result<(), LedgerStoreError>;

    /// The stored leaf hash of event `seq`.
    fn tree_leaf(&self, seq: u64) -> Result<Hash, LedgerStoreError>;

    /// The root of the complete subtree of `2^level` leaves starting at leaf
    /// `index << level`, which must lie wholly inside the log.
    fn tree_node(&self, level: u32, index: u64) -> Result<Hash, LedgerStoreError>;
}

/// A store serves proofs directly: `merkle::inclusion_proof(&*store, seq,
/// size)` and `merkle::consistency_proof(&*store, old, new)`.
impl HashSource for dyn LedgerStore + '_ {
    type Error = LedgerStoreError;

    fn leaf_hash(&self, index: u64) -> Result<Hash, LedgerStoreError> {
        self.tree_leaf(index)
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, LedgerStoreError> {
        self.tree_node(level, index)
    }
}

/// Checks that an event survives the flat columns auditors read it from:
/// subject ids separated by single spaces and field names by commas. So no
/// subject id may be empty or contain a space, and no field name may be
/// empty or contain a comma. Subject ids and field names that went through
/// `custos_model` parsing always pass.
pub fn check_storable(
    subjects: &[String],
    fields_released: &[String],
    fields_denied: &[String],
) -> Result<(), String> {
    if let Some(bad) = subjects.iter().find(|s| s.is_empty() || s.contains(' ')) {
        return Err(format!(
            "subject id `{bad}` is empty or contains a space, so it cannot be recorded"
        ));
    }
    if let Some(bad) = fields_released
        .iter()
        .chain(fields_denied)
        .find(|f| f.is_empty() || f.contains(','))
    {
        return Err(format!(
            "field name `{bad}` is empty or contains a comma, so it cannot be recorded"
        ));
    }
    Ok(())
}

/// A signed head as stores keep it: one column per field, the vault id
/// being the store's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadRow {
    /// The number of events the head covers.
    pub size: u64,
    /// When it was signed.
    pub time: String,
    /// The tree root.
    pub root: Hash,
    /// The id of the signing key.
    pub key_id: String,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

impl HeadRow {
    /// The columns of a signed head.
    pub fn from_signed(head: &SignedHead) -> Self {
        Self {
            size: head.head().size(),
            time: head.head().time().to_owned(),
            root: *head.head().root(),
            key_id: head.key_id().to_owned(),
            signature: *head.signature(),
        }
    }

    /// Rebuilds the signed head of `vault_id`. The signature is not checked
    /// (see [`SignedHead::verify`]); malformed columns are refused with the
    /// same checks as a published head.
    pub fn into_signed(
        self,
        vault_id: &custos_model::VaultId,
    ) -> Result<SignedHead, crate::HeadError> {
        use base64::Engine as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        // Through the published form, so that a stored head passes exactly
        // the checks a head pasted by an auditor does.
        let json = serde_json::json!({
            "vault_id": vault_id.as_str(),
            "size": self.size,
            "root": b64(self.root.as_bytes()),
            "time": self.time,
            "key_id": self.key_id,
            "signature": b64(&self.signature),
        });
        SignedHead::from_json(&json.to_string())
    }
}

/// Events read per page by [`verify_store`].
const VERIFY_PAGE: usize = 10_000;

/// Verifies every event and signed head that `store` holds, like
/// [`crate::verify_log`], with only the public key, reading the events in
/// pages.
///
/// Reading pages on a second thread was tried and measured slower: the
/// rows are freed on another thread than the one that allocated them.
pub fn verify_store(
    store: &dyn LedgerStore,
    vault_id: &VaultId,
    key: &LedgerPublicKey,
) -> Result<Report, LedgerStoreError> {
    let mut verifier = Verifier::new(vault_id, key, store.heads()?);
    let mut from = 0u64;
    loop {
        let page = store.events(from, VERIFY_PAGE)?;
        let Some(last) = page.last().map(|row| row.seq) else {
            break;
        };
        for row in page {
            if !verifier.push(StoredEvent::from(row)) {
                return Ok(verifier.finish());
            }
        }
        from = last + 1;
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use custos_crypto::LedgerSigningKey;
    use custos_model::VaultId;

    use super::*;
    use crate::TreeHead;
    use crate::merkle::leaf_hash;

    #[test]
    fn head_rows_round_trip() {
        let vault = VaultId::from_random([3; 16]);
        let key = LedgerSigningKey::generate();
        let head = TreeHead::new(
            vault.clone(),
            17,
            leaf_hash(b"x"),
            "2026-11-25T14:00:00.123Z",
        )
        .unwrap();
        let signed = SignedHead::sign(head, &key);
        let row = HeadRow::from_signed(&signed);
        assert_eq!(row.clone().into_signed(&vault).unwrap(), signed);
        let mut bad = row;
        bad.time = "yesterday".into();
        assert!(bad.into_signed(&vault).is_err());
    }

    #[test]
    fn lists_must_survive_their_separators() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(check_storable(&s(&["M1", "M2"]), &s(&["email"]), &s(&[])).is_ok());
        assert!(check_storable(&s(&["M 1"]), &[], &[]).is_err());
        assert!(check_storable(&s(&[""]), &[], &[]).is_err());
        assert!(check_storable(&[], &s(&["a,b"]), &[]).is_err());
        assert!(check_storable(&[], &[], &s(&[""])).is_err());
    }
}
