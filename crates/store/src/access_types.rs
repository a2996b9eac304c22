//! The records of access control: principals and their login state, API
//! tokens and sessions, policies and alerts.
//!
//! Times are strings that the caller formats as RFC 3339 UTC with
//! milliseconds, `YYYY-MM-DDTHH:MM:SS.mmmZ`. That form sorts as text in time
//! order, so the store compares times without parsing them, and a DPO reading
//! the file with `sqlite3` sees them as they are.

use std::fmt;

use custos_model::{Attributes, PrincipalKind, PrincipalName, PrincipalStatus};

/// A principal: who they are, their remit and whether they may act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    /// The name.
    pub name: PrincipalName,
    /// What sort of principal they are.
    pub kind: PrincipalKind,
    /// Their attributes.
    pub attributes: Attributes,
    /// Whether they may act.
    pub status: PrincipalStatus,
    /// Why the status was last changed, in words; empty if never.
    pub status_reason: String,
    /// When the status was last changed.
    pub status_changed_at: Option<String>,
    /// When they may start acting; none means already.
    pub valid_from: Option<String>,
    /// When they stop being able to act; none means never.
    pub valid_until: Option<String>,
    /// When the principal was created.
    pub created_at: String,
}

/// A principal's credentials and login bookkeeping.
///
/// Its `Debug` shows whether a password or second factor is set, never the
/// hash or the sealed secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LoginState {
    /// The password hash, as a PHC string.
    pub password_hash: Option<String>,
    /// The TOTP secret, sealed by the crypto crate; opaque to the store.
    pub totp_sealed: Option<Vec<u8>>,
    /// The last TOTP time step accepted, so that no code is accepted twice.
    pub totp_last_step: Option<u64>,
    /// Failed logins since the last success or password change.
    pub failed_logins: u32,
    /// Until when logins are refused after too many failures.
    pub locked_until: Option<String>,
}

impl fmt::Debug for LoginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<none>" };
        f.debug_struct("LoginState")
            .field("password_hash", &redacted(self.password_hash.is_some()))
            .field("totp_sealed", &redacted(self.totp_sealed.is_some()))
            .field("totp_last_step", &self.totp_last_step)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .finish()
    }
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A long-lived API token, for services and scripts.
    Api,
    /// A session made by an interactive login.
    Session,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: &'static [TokenKind] = &[Self::Api, Self::Session];

    /// The name stored and displayed: `api` or `session`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Session => "session",
        }
    }

    /// Parses a name, with an error that lists the accepted ones.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| "is not a known token kind (expected one of api, session)".to_owned())
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API token or session. The store holds only a digest of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's public id, as listings and revocations name it.
    pub id: String,
    /// The digest of the token's secret, by which a presented token is found.
    pub digest: [u8; 32],
    /// Whose token it is.
    pub principal: PrincipalName,
    /// What it is for.
    pub kind: TokenKind,
    /// Whether it was issued after a second factor.
    pub mfa: bool,
    /// When it was issued.
    pub created_at: String,
    /// When it expires; none means never.
    pub expires_at: Option<String>,
    /// When it was revoked; none means it has not been.
    pub revoked_at: Option<String>,
}

/// One version of the access policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// The version, from 1, one more than the previous.
    pub version: u64,
    /// The policy text.
    pub text: String,
    /// The policy's tests, which passed when it was applied.
    pub tests: String,
    /// When it was applied.
    pub applied_at: String,
    /// Who applied it.
    pub applied_by: String,
}

/// An alert to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// When it was raised.
    pub time: String,
    /// The principal it concerns.
    pub principal: String,
    /// What sort of alert it is.
    pub kind: String,
    /// What happened, in words; never a field value.
    pub details: String,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// Its id, increasing in the order alerts were recorded.
    pub id: u64,
    /// When it was raised.
    pub time: String,
    /// The principal it concerns.
    pub principal: String,
    /// What sort of alert it is.
    pub kind: String,
    /// What happened, in words.
    pub details: String,
}

/// Which alerts to list: every filter given must match. Alerts come oldest
/// first; a page continues after the last id of the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only alerts about this principal.
    pub principal: Option<String>,
    /// Only alerts of this kind.
    pub kind: Option<String>,
    /// Only alerts with a greater id.
    pub after_id: Option<u64>,
    /// At most this many; capped at [`AlertQuery::MAX_LIMIT`].
    pub limit: usize,
}

impl AlertQuery {
    /// The most alerts one query returns.
    pub const MAX_LIMIT: usize = 100_000;
}

impl Default for AlertQuery {
    fn default() -> Self {
        Self {
            principal: None,
            kind: None,
            after_id: None,
            limit: 1000,
        }
    }
}
