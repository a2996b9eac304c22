//! Alerts: events that someone should look at now, such as a leaver trying
//! to get in. They are kept in the store with the time, the principal (by
//! name), a kind and details, and listed by `custos alerts list` and
//! `GET /v1/alerts`. Later detection work adds kinds and delivery.

use custos_store::{AlertQuery, AlertRecord, NewAlert};

use crate::clock::now_stamp;
use crate::error::EngineError;
use crate::principal::Caller;
use crate::recording::Action;
use crate::vault::Vault;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlertKind {
    /// A revoked principal tried to act.
    RevokedPrincipalAttempt,
    /// A suspended principal tried to act.
    SuspendedPrincipalAttempt,
    /// A principal whose access ended (`valid_until`) tried to act.
    ExpiredPrincipalAttempt,
    /// Many failed logins in a row.
    LoginLockout,
    /// A login presented a TOTP code that was already used.
    TotpReplay,
}

impl AlertKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::RevokedPrincipalAttempt => "revoked_principal_attempt",
            Self::SuspendedPrincipalAttempt => "suspended_principal_attempt",
            Self::ExpiredPrincipalAttempt => "expired_principal_attempt",
            Self::LoginLockout => "login_lockout",
            Self::TotpReplay => "totp_replay",
        }
    }
}

impl Vault {
    /// Raises an alert. An alert that cannot be stored is logged: the
    /// refusal it accompanies stands, and is in the ledger.
    pub(crate) fn raise_alert(&self, principal: &str, kind: AlertKind, details: &str) {
        let alert = NewAlert {
            time: now_stamp(),
            principal: principal.to_owned(),
            kind: kind.as_str().to_owned(),
            details: details.to_owned(),
        };
        tracing::warn!(principal, kind = kind.as_str(), details, "alert");
        if let Err(e) = self.store.insert_alert(&alert) {
            tracing::error!(error = %e, "could not store an alert");
        }
    }

    /// Alerts matching the query, oldest first; for auditors.
    pub fn alerts(
        &self,
        caller: &Caller,
        query: &AlertQuery,
    ) -> Result<Vec<AlertRecord>, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        Ok(self.store.alerts(query)?)
    }
}
