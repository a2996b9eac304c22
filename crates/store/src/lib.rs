//! The storage interface, and its embedded SQLite implementation.
//!
//! A vault's `store.sqlite` holds the subjects and, since store format 2,
//! the state of access control ([`AccessStore`]): principals with their
//! credentials and login bookkeeping, API tokens and sessions (by digest),
//! the purpose registry, every version of the access policy, and alerts;
//! and, since format 3, incident response ([`BreachStore`]): processors,
//! the exports made to them with their sealed canary records, and the
//! breach register. `ledger.sqlite` holds the access ledger ([`SqliteLedger`]).
//!
//! Architecture invariant: a store sees only ciphertexts, wrapped keys, blind
//! index digests and scope attributes, never a plaintext field value or a key.
//! Credentials arrive already protected: password hashes, sealed TOTP secrets
//! and token digests. It does not depend on the crypto crate: everything it
//! holds is opaque bytes.
//!
//! API boundary: [`Store`] and [`AccessStore`] are the contract a PostgreSQL
//! implementation will also fulfil, so their methods are whole operations,
//! each atomic, rather than a SQL connection leaked to callers.

mod access;
mod access_sqlite;
mod access_types;
mod breach;
mod breach_sqlite;
mod breach_types;
mod codec;
mod error;
mod ledger_sqlite;
mod sqlite;
mod types;

pub use access::AccessStore;
pub use access_types::{
    AlertQuery, AlertRecord, LoginState, NewAlert, PolicyRecord, PrincipalRecord, TokenKind,
    TokenRecord,
};
pub use breach::BreachStore;
pub use breach_types::{
    CanaryMatch, CanaryRecord, ExportCompletion, ExportRecord, ExportStatus, IncidentChange,
    IncidentRecord, IncidentStatus, IncidentUpdate, NewExport, NewIncident, ProcessorRecord,
};
pub use error::{BoxError, StoreError};

/// Re-wraps one subject's data key: gets the subject id, key version and
/// wrapped key, and returns the new wrapped key.
pub type RewrapFn<'a> = dyn FnMut(&SubjectId, u32, &[u8]) -> Result<Vec<u8>, BoxError> + 'a;
pub use ledger_sqlite::SqliteLedger;
pub use sqlite::{SqliteOptions, SqliteStore};
pub use types::{
    Digest, Erasure, HeldFields, NewSubject, ScopeFilter, StoredSubject, SubjectChange,
    SubjectSummary,
};

use custos_model::SubjectId;

/// The metadata key of the master-key epoch: a big-endian `u64`, absent
/// meaning 0, that every master-key rotation increments in its transaction.
pub const KEY_EPOCH: &str = "key_epoch";

/// The persistent state of a vault: its subjects, and through the
/// [`AccessStore`] and [`BreachStore`] supertraits its access control and
/// incident response, so that one `Arc<dyn Store>` serves all three.
pub trait Store: AccessStore + BreachStore + Send + Sync + std::fmt::Debug {
    /// Reads a vault metadata value.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Writes vault metadata values in one transaction.
    fn set_meta(&self, entries: &[(&str, &[u8])]) -> Result<(), StoreError>;

    /// Inserts new subjects from a stream of batches, all in one transaction:
    /// either every subject is stored or, if a batch is an error or an id
    /// already exists, none is. Returns the number inserted.
    ///
    /// `key_epoch` is the [`KEY_EPOCH`] the subjects' data keys were wrapped
    /// under; if another process has rotated the master key since, nothing
    /// is written and the error is [`StoreError::KeysRotated`].
    fn insert_subjects(
        &self,
        batches: &mut dyn Iterator<Item = Result<Vec<NewSubject>, BoxError>>,
        key_epoch: u64,
    ) -> Result<u64, StoreError>;

    /// Which of these ids already exist.
    fn existing(&self, ids: &[SubjectId]) -> Result<Vec<SubjectId>, StoreError>;

    /// Reads one subject.
    fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, StoreError>;

    /// Applies a field-level change to one subject, atomically.
    fn update_subject(&self, id: &SubjectId, change: &SubjectChange) -> Result<(), StoreError>;

    /// Deletes a subject, its wrapped key and every index entry, and counts
    /// the erasure without recording who it was.
    fn erase_subject(&self, id: &SubjectId) -> Result<Erasure, StoreError>;

    /// The subjects whose lookup field has this blind-index digest.
    fn find(&self, field: &str, digest: &Digest) -> Result<Vec<SubjectId>, StoreError>;

    /// A page of subjects matching every filter, ordered by id, starting after
    /// `after`.
    fn list(
        &self,
        filters: &[ScopeFilter],
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectSummary>, StoreError>;

    /// A page of subjects, ordered by id, starting after `after`: which
    /// fields each holds, clear and sealed, without reading a value.
    fn held_fields(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<HeldFields>, StoreError>;

    /// The number of subjects held, and the number ever erased.
    fn counts(&self) -> Result<(u64, u64), StoreError>;

    /// Replaces every wrapped key, and the given metadata, in one transaction.
    /// Returns the number of keys rewrapped.
    fn rewrap_keys(
        &self,
        rewrap: &mut RewrapFn<'_>,
        meta: &[(&str, &[u8])],
    ) -> Result<u64, StoreError>;
}
