//! Engine errors, and the kinds that the CLI and the API map to exit codes
//! and HTTP statuses in one place each.

use std::path::PathBuf;

use custos_crypto::{CryptoError, KeyError};
use custos_ledger::LedgerStoreError;
use custos_model::{SchemaError, SubjectId};
use custos_store::StoreError;

/// One problem with a request or a file, located by row and column when it
/// comes from a file. Never contains a personal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The 1-based row (the header is row 1), for files.
    pub row: Option<u64>,
    /// The 1-based column, for files.
    pub column: Option<usize>,
    /// The field concerned.
    pub field: Option<String>,
    /// What is wrong and what is expected instead.
    pub message: String,
}

impl Problem {
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        Self {
            row: None,
            column: None,
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    pub(crate) fn general(message: impl Into<String>) -> Self {
        Self {
            row: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = "";
        if let Some(row) = self.row {
            write!(f, "row {row}")?;
            sep = ", ";
        }
        if let Some(column) = self.column {
            write!(f, "{sep}column {column}")?;
            sep = " ";
        }
        match (&self.field, self.column) {
            (Some(field), Some(_)) => write!(f, " (`{field}`): ")?,
            (Some(field), None) => write!(f, "{sep}`{field}` ")?,
            (None, _) if !sep.is_empty() => f.write_str(": ")?,
            (None, _) => {}
        }
        f.write_str(&self.message)
    }
}

/// How an integrity error names a subject's data key rather than a field.
pub(crate) const DATA_KEY: &str = "(data key)";

/// What kind of failure an error is, for exit codes and HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request or file is invalid (HTTP 400).
    Invalid,
    /// The credentials are missing, wrong or revoked (HTTP 401).
    Unauthenticated,
    /// The subject does not exist (HTTP 404).
    NotFound,
    /// The subject already exists or changed meanwhile (HTTP 409).
    Conflict,
    /// The vault is busy or cannot take writes now (HTTP 503).
    Unavailable,
    /// The vault directory or its keys are wrong (CLI only).
    Setup,
    /// Stored data failed an integrity check.
    Integrity,
    /// Anything else (HTTP 500).
    Internal,
}

/// Why an engine operation failed. Messages name rows, fields and options,
/// never personal values.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The directory holds no vault.
    #[error("`{0}` is not a custos vault (no vault.toml); create one with `custos init --dir {0}`")]
    NotAVault(PathBuf),
    /// The directory already holds a vault.
    #[error("`{0}` already holds a custos vault; choose another --dir")]
    AlreadyAVault(PathBuf),
    /// The vault was made by a newer version.
    #[error(
        "the vault at `{dir}` has format {found}, newer than this custos supports ({supported}); upgrade custos"
    )]
    TooNew {
        /// The vault directory.
        dir: PathBuf,
        /// Its format.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// The vault's configuration is unreadable or inconsistent.
    #[error("{0}")]
    Config(String),
    /// A schema file is invalid.
    #[error("schema `{path}`: {source}")]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong.
        source: SchemaError,
    },
    /// The master key could not be obtained or is wrong.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No valid credentials.
    #[error("missing or invalid credentials")]
    Unauthenticated,
    /// No such subject.
    #[error("no subject `{0}`")]
    NotFound(SubjectId),
    /// The request is invalid.
    #[error("{}", render_problems(.0, *.1))]
    Invalid(Vec<Problem>, u64),
    /// Stored data failed authentication.
    #[error("integrity failure: subject `{subject}` field `{field}`: {source}")]
    Integrity {
        /// The subject.
        subject: SubjectId,
        /// The field, or `(data key)`.
        field: String,
        /// The crypto error.
        source: CryptoError,
    },
    /// The ledger could not take the event, so nothing was released.
    #[error("cannot record the access in the ledger, so nothing was released or changed: {0}")]
    Unrecorded(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger's storage failed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerStoreError),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn render_problems(problems: &[Problem], more: u64) -> String {
    let mut out = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    if more > 0 {
        out.push_str(&format!("\n… and {more} more problems"));
    }
    out
}

impl EngineError {
    /// An invalid request with one problem.
    pub(crate) fn invalid(problem: Problem) -> Self {
        Self::Invalid(vec![problem], 0)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(..) => ErrorKind::Invalid,
            Self::Unauthenticated => ErrorKind::Unauthenticated,
            Self::NotFound(_) | Self::Store(StoreError::NotFound(_)) => ErrorKind::NotFound,
            Self::Store(StoreError::Exists(_) | StoreError::Changed(_)) => ErrorKind::Conflict,
            Self::Unrecorded(_)
            | Self::Store(StoreError::Busy { .. } | StoreError::Full | StoreError::KeysRotated) => {
                ErrorKind::Unavailable
            }
            Self::NotAVault(_)
            | Self::AlreadyAVault(_)
            | Self::TooNew { .. }
            | Self::Config(_)
            | Self::Schema { .. }
            | Self::Key(_)
            | Self::Store(StoreError::Missing(_) | StoreError::TooNew { .. }) => ErrorKind::Setup,
            Self::Integrity { .. } | Self::Store(StoreError::Corrupt(_)) => ErrorKind::Integrity,
            Self::Ledger(e) => match e {
                LedgerStoreError::Busy { .. } | LedgerStoreError::Full => ErrorKind::Unavailable,
                LedgerStoreError::TooNew { .. }
                | LedgerStoreError::OtherVault { .. }
                | LedgerStoreError::Missing(_)
                | LedgerStoreError::Exists(_) => ErrorKind::Setup,
                LedgerStoreError::Corrupt(_) => ErrorKind::Integrity,
                _ => ErrorKind::Internal,
            },
            Self::Store(_) | Self::Io { .. } => ErrorKind::Internal,
        }
    }

    /// Whether another process's master-key rotation could explain this
    /// error, so that re-reading the vault keys is worth a try.
    pub(crate) fn may_be_stale_keys(&self) -> bool {
        match self {
            Self::Store(StoreError::KeysRotated) => true,
            Self::Integrity { field, .. } => field == DATA_KEY,
            _ => false,
        }
    }

    /// The problems of an invalid request, if that is what this is.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid(problems, _) => problems,
            _ => &[],
        }
    }
}
