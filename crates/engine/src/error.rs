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
    /// The policies do not allow it (HTTP 403).
    Forbidden,
    /// Too many failed logins; try later (HTTP 429).
    TooManyAttempts,
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
    #[error("{0}")]
    Unauthenticated(AuthFailure),
    /// The policies allow nothing of what was asked (or, in strict mode,
    /// not all of it).
    #[error("{}", render_denials(.0))]
    Forbidden(Vec<Denial>),
    /// A login was refused because of earlier failures.
    #[error("too many failed logins for this principal; try again after {until}")]
    LoginLocked {
        /// When logins are accepted again.
        until: String,
    },
    /// The purpose is missing or not in the registry.
    #[error("{message}")]
    Purpose {
        /// `purpose_required` or `unknown_purpose`.
        code: &'static str,
        /// What is wrong, and what to do.
        message: String,
    },
    /// A policy file does not parse or validate.
    #[error("{0}")]
    Policy(#[from] custos_policy::PolicyError),
    /// A policy set was refused: its tests fail, or it would lock every
    /// administrator out.
    #[error("{0}")]
    PolicyRefused(String),
    /// No such principal, token or purpose.
    #[error("{0}")]
    Unknown(String),
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

/// One thing denied, for the caller: the field (none when the whole
/// request was), a stable code, and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The field denied, or none for the whole request.
    pub field: Option<String>,
    /// `not_permitted`, `forbidden`, `purpose_category`, `no_consent` or
    /// `purpose_required`.
    pub code: &'static str,
    /// Which rule denied it, in words.
    pub reason: String,
    /// The ids of the policies that forbade it, if any did.
    pub rules: Vec<String>,
}

fn render_denials(denials: &[Denial]) -> String {
    let parts: Vec<String> = denials
        .iter()
        .map(|d| match &d.field {
            Some(field) => format!("`{field}`: {}", d.reason),
            None => d.reason.clone(),
        })
        .collect();
    format!("not allowed: {}", parts.join("; "))
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials were presented.
    Missing,
    /// The token is not in the form Custos issues.
    MalformedToken,
    /// No such token.
    UnknownToken,
    /// The token has expired.
    TokenExpired,
    /// The token was revoked.
    TokenRevoked,
    /// The principal was revoked: a leaver.
    PrincipalRevoked,
    /// The principal is suspended.
    PrincipalSuspended,
    /// The principal's `valid_from` is in the future.
    PrincipalNotYetValid,
    /// The principal's `valid_until` has passed.
    PrincipalExpired,
    /// The principal, password or code is wrong (which one is not said).
    WrongLogin,
    /// The TOTP code was already used.
    TotpReplayed,
    /// The principal has no password or second factor to log in with.
    NoLogin,
}

impl AuthFailure {
    /// A stable code, for APIs and the ledger.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "unauthenticated",
            Self::MalformedToken => "malformed_token",
            Self::UnknownToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::PrincipalRevoked => "principal_revoked",
            Self::PrincipalSuspended => "principal_suspended",
            Self::PrincipalNotYetValid => "principal_not_yet_valid",
            Self::PrincipalExpired => "principal_expired",
            Self::WrongLogin => "login_failed",
            Self::TotpReplayed => "totp_replayed",
            Self::NoLogin => "login_not_set_up",
        }
    }
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "missing credentials: send `Authorization: Bearer <token>`",
            Self::MalformedToken => "the token is malformed: Custos tokens start with `custos_`",
            Self::UnknownToken => "the token is not valid",
            Self::TokenExpired => "the token has expired; ask for a new one",
            Self::TokenRevoked => "the token was revoked",
            Self::PrincipalRevoked => "principal_revoked: this principal's access was revoked",
            Self::PrincipalSuspended => "principal_suspended: this principal is suspended",
            Self::PrincipalNotYetValid => "this principal may not act yet (valid_from is in the future)",
            Self::PrincipalExpired => "principal_expired: this principal's access ended (valid_until has passed)",
            Self::WrongLogin => "the principal, password or code is wrong",
            Self::TotpReplayed => "this code was already used; wait for the next one",
            Self::NoLogin => "this principal has no password and second factor to log in with; an administrator sets them with `custos principal set-password` and `custos principal enroll-totp`",
        })
    }
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
            Self::Unauthenticated(_) => ErrorKind::Unauthenticated,
            Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::LoginLocked { .. } => ErrorKind::TooManyAttempts,
            Self::Purpose { .. } | Self::Policy(_) | Self::PolicyRefused(_) => ErrorKind::Invalid,
            Self::Unknown(_)
            | Self::Store(
                StoreError::PrincipalNotFound(_)
                | StoreError::ProcessorNotFound(_)
                | StoreError::ExportNotFound(_)
                | StoreError::IncidentNotFound(_),
            ) => ErrorKind::NotFound,
            Self::Store(
                StoreError::PrincipalExists(_)
                | StoreError::PurposeExists(_)
                | StoreError::TokenExists(_)
                | StoreError::ProcessorExists(_),
            ) => ErrorKind::Conflict,
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

    /// A stable code for the API's error body, where the kind alone is too
    /// coarse.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Unauthenticated(failure) => Some(failure.code()),
            Self::Purpose { code, .. } => Some(code),
            Self::Policy(_) => Some("invalid_policy"),
            Self::PolicyRefused(_) => Some("policy_refused"),
            _ => None,
        }
    }

    /// What was denied, if the policies refused.
    pub fn denials(&self) -> &[Denial] {
        match self {
            Self::Forbidden(denials) => denials,
            _ => &[],
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
