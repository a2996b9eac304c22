//! Store errors.

use std::path::PathBuf;
use std::time::Duration;

use custos_model::{ExportId, IncidentId, PrincipalName, ProcessorName, PurposeName, SubjectId};

/// An error from outside the store that aborted a store operation.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed. Messages never contain field values or
/// secrets (password hashes, sealed second factors, token digests).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process held the write lock for longer than the busy timeout.
    #[error("the vault is busy: another process held its write lock for more than {} ms; try again, or raise `--busy-timeout-ms`", .waited.as_millis())]
    Busy {
        /// How long this process waited.
        waited: Duration,
    },
    /// A subject with this id already exists.
    #[error("subject `{0}` already exists")]
    Exists(SubjectId),
    /// No subject with this id.
    #[error("no subject `{0}`")]
    NotFound(SubjectId),
    /// The subject's key changed during the operation.
    #[error("subject `{0}` changed during the update; try again")]
    Changed(SubjectId),
    /// A principal with this name already exists.
    #[error("principal `{0}` already exists")]
    PrincipalExists(PrincipalName),
    /// No principal with this name.
    #[error("no principal `{0}`")]
    PrincipalNotFound(PrincipalName),
    /// A token with this id, or with the same digest, already exists.
    #[error("token `{0}` already exists, or another token has the same digest")]
    TokenExists(String),
    /// A purpose with this name already exists.
    #[error("purpose `{0}` already exists")]
    PurposeExists(PurposeName),
    /// A processor with this name is already registered.
    #[error("processor `{0}` is already registered")]
    ProcessorExists(ProcessorName),
    /// No processor with this name is registered.
    #[error("no processor `{0}` is registered (see `custos processor list`)")]
    ProcessorNotFound(ProcessorName),
    /// No export with this id.
    #[error("no export `{0}` (see `custos processor show NAME` for a processor's exports)")]
    ExportNotFound(ExportId),
    /// No incident with this id.
    #[error("no incident `{0}` (see `custos incident list`)")]
    IncidentNotFound(IncidentId),
    /// Another process rotated the master key since the caller read it.
    #[error("the master key was rotated by another process during this operation")]
    KeysRotated,
    /// The disk is full.
    #[error("the disk holding the vault is full; nothing was written")]
    Full,
    /// There is no store at this path.
    #[error("no store at `{0}`")]
    Missing(PathBuf),
    /// The store was made by a newer version of Custos.
    #[error(
        "the store has format {found}, newer than this custos supports ({supported}); upgrade custos"
    )]
    TooNew {
        /// The store's format.
        found: i64,
        /// The newest format this build reads.
        supported: i64,
    },
    /// The store's contents are not what Custos writes.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// An operation was aborted by its caller.
    #[error("{0}")]
    Aborted(BoxError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
}
