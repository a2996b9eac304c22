//! The first step of every operation: who is asking, and for what purpose.
//! Also interactive login (password and TOTP) and its lockout.
//!
//! Tokens are looked up by the SHA-256 of the token (they carry 256 random
//! bits, so a fast hash suffices) and compared in constant time. A principal
//! is let in only while active and inside its `valid_from`..`valid_until`
//! window, and the same checks run again at the point of release, so a
//! revocation also stops requests already under way.

use std::sync::Arc;

use custos_crypto::{ApiToken, PasswordHash, TokenDigest, TotpCheck};
use custos_model::{PrincipalName, PrincipalStatus, SubjectId};
use custos_store::{PrincipalRecord, TokenKind, TokenRecord};
use time::{Duration, OffsetDateTime};

use crate::access_state::AccessState;
use crate::alerts::AlertKind;
use crate::clock::{now_stamp, parse_stamp, stamp};
use crate::error::{AuthFailure, EngineError};
use crate::principal::{
    Actor, AuthMethod, Caller, Credentials, NO_PURPOSE, Principal, SEVERAL_PURPOSES,
    UNKNOWN_PURPOSE,
};
use crate::recording::{Action, Entry, withheld_reason};
use crate::vault::Vault;

/// How long a login session lasts.
pub const SESSION_LIFETIME: Duration = Duration::hours(1);
/// Failed logins allowed before each further failure locks the principal
/// out for a while.
const FREE_FAILURES: u32 = 4;
/// The first lockout; each further failure doubles it.
const FIRST_LOCKOUT: Duration = Duration::seconds(30);
/// The longest lockout.
const MAX_LOCKOUT: Duration = Duration::hours(1);
/// Failures after which an alert is raised.
const ALERT_FAILURES: u32 = 10;

/// A new login session.
#[derive(Debug)]
pub struct Session {
    /// The session token, shown once.
    pub token: ApiToken,
    /// When it expires.
    pub expires_at: String,
    /// Who logged in.
    pub principal: PrincipalName,
}

/// How long a principal is locked out after `failures` consecutive failed
/// logins: nothing for the first few, then 30 s doubling to an hour.
pub(crate) fn lockout(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES + 1)?;
    let factor = 1i32 << over.min(16);
    Some((FIRST_LOCKOUT * factor).min(MAX_LOCKOUT))
}

/// Whether a principal may act at `now`.
pub(crate) fn standing(record: &PrincipalRecord, now: OffsetDateTime) -> Result<(), AuthFailure> {
    match record.status {
        PrincipalStatus::Revoked => return Err(AuthFailure::PrincipalRevoked),
        PrincipalStatus::Suspended => return Err(AuthFailure::PrincipalSuspended),
        PrincipalStatus::Active => {}
    }
    if let Some(from) = record.valid_from.as_deref().and_then(parse_stamp)
        && now < from
    {
        return Err(AuthFailure::PrincipalNotYetValid);
    }
    if let Some(until) = record.valid_until.as_deref().and_then(parse_stamp)
        && now >= until
    {
        return Err(AuthFailure::PrincipalExpired);
    }
    Ok(())
}

/// Whether a token may be used at `now`.
fn token_standing(token: &TokenRecord, now: OffsetDateTime) -> Result<(), AuthFailure> {
    if token.revoked_at.is_some() {
        return Err(AuthFailure::TokenRevoked);
    }
    if let Some(expires) = token.expires_at.as_deref().and_then(parse_stamp)
        && now >= expires
    {
        return Err(AuthFailure::TokenExpired);
    }
    Ok(())
}

/// A refused authentication: why, and whom the credentials named, if anyone.
pub(crate) type Refusal = (AuthFailure, Option<PrincipalName>);

impl Vault {
    /// Authenticates a caller against the current access state. The outer
    /// error is an infrastructure failure; the inner one a refusal.
    pub(crate) fn authenticate(
        &self,
        caller: &Caller,
    ) -> Result<(Arc<AccessState>, Result<Principal, Refusal>), EngineError> {
        let state = self.access()?;
        let outcome = match &caller.credentials {
            Credentials::None => Err((AuthFailure::Missing, None)),
            Credentials::LocalOperator => Ok(self.operator_principal()),
            Credentials::Token(token) => self.authenticate_token(&state, token)?,
        };
        Ok((state, outcome))
    }

    fn operator_principal(&self) -> Principal {
        Principal {
            entity: Arc::clone(&self.operator),
            method: AuthMethod::LocalOperator,
            // Holding the master key and the OS account that can read it is
            // already more than a password and a second factor.
            mfa: true,
            token_digest: None,
            token_id: None,
        }
    }

    fn authenticate_token(
        &self,
        state: &AccessState,
        token: &str,
    ) -> Result<Result<Principal, Refusal>, EngineError> {
        if !token.starts_with(ApiToken::PREFIX) || token.len() > 200 {
            return Ok(Err((AuthFailure::MalformedToken, None)));
        }
        let presented = TokenDigest::of(token);
        let Some(record) = self.token_record(state, presented.as_bytes())? else {
            return Ok(Err((AuthFailure::UnknownToken, None)));
        };
        let stored = TokenDigest::from_bytes(&record.digest);
        if !stored.is_some_and(|d| d.matches(&presented)) {
            return Ok(Err((AuthFailure::UnknownToken, None)));
        }
        let Some(loaded) = state.principals.get(&record.principal) else {
            return Ok(Err((AuthFailure::UnknownToken, None)));
        };
        let now = OffsetDateTime::now_utc();
        // The principal's standing comes first: a leaver's tokens are
        // revoked with them, and the reason to record is that they left.
        if let Err(failure) =
            standing(&loaded.record, now).and_then(|()| token_standing(&record, now))
        {
            return Ok(Err((failure, Some(record.principal.clone()))));
        }
        Ok(Ok(Principal {
            entity: Arc::clone(&loaded.entity),
            method: match record.kind {
                TokenKind::Api => AuthMethod::ApiToken,
                TokenKind::Session => AuthMethod::Session,
            },
            mfa: record.mfa,
            token_digest: Some(record.digest),
            token_id: Some(record.id.clone()),
        }))
    }

    /// Step one of every operation on personal data: authenticate, then
    /// check the declared purpose against the registry. Every refusal is
    /// recorded; a revoked or suspended principal's attempt raises an alert.
    pub(crate) fn admit(
        &self,
        caller: &Caller,
        action: Action,
        subjects: &[&SubjectId],
    ) -> Result<Actor, EngineError> {
        let mut actor = self.admit_principal(caller, action, subjects)?;
        let state = actor.state()?;
        actor.purpose_label = purpose_label(&state, caller);
        let refusal = match caller.declared_purpose() {
            None if caller.declares_several_purposes() => EngineError::Purpose {
                code: "purpose_ambiguous",
                message: "declare exactly one purpose: the request names different ones (for example the `purpose` query parameter and the `X-Purpose` header)".to_owned(),
            },
            None => EngineError::Purpose {
                code: "purpose_required",
                message: format!(
                    "declare one purpose for this request (one of {})",
                    purpose_names(&state)
                ),
            },
            Some(name) => match state.purpose(name) {
                Some(purpose) => {
                    actor.purpose = Some(Arc::clone(purpose));
                    return Ok(actor);
                }
                None => EngineError::Purpose {
                    code: "unknown_purpose",
                    message: format!(
                        "`{name}` is not a registered purpose (expected one of {})",
                        purpose_names(&state)
                    ),
                },
            },
        };
        Err(self.refuse(&actor, action, subjects.to_vec(), refusal))
    }

    /// Authenticates without a purpose, recording a refusal.
    pub(crate) fn admit_principal(
        &self,
        caller: &Caller,
        action: Action,
        subjects: &[&SubjectId],
    ) -> Result<Actor, EngineError> {
        match self.authenticate(caller)? {
            (state, Ok(principal)) => Ok(Actor::authenticated(caller, principal, state)),
            (state, Err((failure, name))) => {
                let mut actor = Actor::unauthenticated(caller, name.as_ref());
                actor.purpose_label = purpose_label(&state, caller);
                self.alert_on_refusal(&failure, name.as_ref(), action, "an attempt to act");
                Err(self.refuse(
                    &actor,
                    action,
                    subjects.to_vec(),
                    EngineError::Unauthenticated(failure),
                ))
            }
        }
    }

    /// Raises an alert when a principal who is shut out tries anyway.
    fn alert_on_refusal(
        &self,
        failure: &AuthFailure,
        name: Option<&PrincipalName>,
        action: Action,
        what: &str,
    ) {
        let kind = match failure {
            AuthFailure::PrincipalRevoked => AlertKind::RevokedPrincipalAttempt,
            AuthFailure::PrincipalSuspended => AlertKind::SuspendedPrincipalAttempt,
            AuthFailure::PrincipalExpired => AlertKind::ExpiredPrincipalAttempt,
            _ => return,
        };
        let who = name.map_or("(unknown)", PrincipalName::as_str);
        self.raise_alert(
            who,
            kind,
            &format!(
                "{what} (`{}`) was refused: {}",
                action.as_str(),
                failure.code()
            ),
        );
    }

    /// Checks again, at the point of release, that the principal may still
    /// act: another process may have revoked them, or their token, while
    /// this request was being decided and recorded. A refusal is recorded
    /// (the release is withheld) and raises an alert.
    pub(crate) fn recheck(
        &self,
        actor: &Actor,
        action: Action,
        subjects: Vec<&SubjectId>,
        recorded_seq: u64,
    ) -> Result<(), EngineError> {
        let Some(principal) = &actor.principal else {
            return Ok(());
        };
        let failure = match self.still_standing(principal)? {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        self.alert_on_refusal(&failure, Some(principal.name()), action, "a release");
        let entry = Entry {
            reason: withheld_reason(failure.code(), recorded_seq),
            ..Entry::denied(action, subjects)
        };
        self.record(actor, entry)?;
        Err(EngineError::Unauthenticated(failure))
    }

    fn still_standing(
        &self,
        principal: &Principal,
    ) -> Result<Result<(), AuthFailure>, EngineError> {
        if principal.method == AuthMethod::LocalOperator {
            return Ok(Ok(()));
        }
        let state = self.access()?;
        let now = OffsetDateTime::now_utc();
        let Some(loaded) = state.principals.get(principal.name()) else {
            return Ok(Err(AuthFailure::PrincipalRevoked));
        };
        if let Err(failure) = standing(&loaded.record, now) {
            return Ok(Err(failure));
        }
        if let Some(digest) = &principal.token_digest {
            match self.token_record(&state, digest)? {
                Some(token) => {
                    if let Err(failure) = token_standing(&token, now) {
                        return Ok(Err(failure));
                    }
                }
                None => return Ok(Err(AuthFailure::TokenRevoked)),
            }
        }
        Ok(Ok(()))
    }

    /// Logs in with a password and a TOTP code, and returns a session
    /// token. Failures are recorded and counted: after a few, each further
    /// failure locks the principal out for longer, and many raise an alert.
    pub fn login(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
        code: &str,
    ) -> Result<Session, EngineError> {
        let state = self.access()?;
        let loaded = PrincipalName::parse(name.trim())
            .ok()
            .and_then(|n| state.principals.get(&n));
        let Some(loaded) = loaded else {
            // As long as a wrong password, so that names cannot be probed.
            PasswordHash::verify_nothing(password);
            return Err(self.refuse_login(
                caller,
                None,
                AuthFailure::WrongLogin,
                "no such principal",
            ));
        };
        let name = &loaded.record.name;
        let now = OffsetDateTime::now_utc();
        let login = self.store.login_state(name)?.unwrap_or_default();
        if let Some(until) = login.locked_until.as_deref()
            && parse_stamp(until).is_some_and(|u| now < u)
        {
            PasswordHash::verify_nothing(password);
            let actor = Actor::unauthenticated(caller, Some(name));
            let locked = EngineError::LoginLocked {
                until: until.to_owned(),
            };
            return Err(self.refuse(&actor, Action::Login, Vec::new(), locked));
        }
        if let Err(failure) = standing(&loaded.record, now) {
            PasswordHash::verify_nothing(password);
            self.alert_on_refusal(&failure, Some(name), Action::Login, "a login");
            return Err(self.refuse_login(caller, Some(name), failure, ""));
        }
        let (Some(hash), Some(sealed)) =
            (login.password_hash.as_deref(), login.totp_sealed.as_deref())
        else {
            PasswordHash::verify_nothing(password);
            return Err(self.refuse_login(
                caller,
                Some(name),
                AuthFailure::WrongLogin,
                "login_not_set_up",
            ));
        };
        let password_ok = PasswordHash::parse(hash).is_ok_and(|h| h.verify(password));
        let secret = self
            .keys()
            .keyring
            .open_totp_secret(name.as_str(), sealed)
            .map_err(|_| {
                EngineError::Config(format!(
                    "the second factor of principal `{name}` does not open with this vault's keys"
                ))
            })?;
        let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let check = secret.check(code, unix, login.totp_last_step);
        let step = match (password_ok, check) {
            (true, TotpCheck::Valid { step }) => step,
            (true, TotpCheck::Replayed) => {
                self.count_failure(name)?;
                self.raise_alert(
                    name.as_str(),
                    AlertKind::TotpReplay,
                    "a login presented a TOTP code that was already used",
                );
                return Err(self.refuse_login(caller, Some(name), AuthFailure::TotpReplayed, ""));
            }
            (false, _) | (true, TotpCheck::Wrong) => {
                self.count_failure(name)?;
                return Err(self.refuse_login(caller, Some(name), AuthFailure::WrongLogin, ""));
            }
        };
        if !self.store.record_login_success(name, step)? {
            // Another login used this code first.
            return Err(self.refuse_login(
                caller,
                Some(name),
                AuthFailure::TotpReplayed,
                "lost a race for the code",
            ));
        }
        let token = ApiToken::generate();
        let digest = token.digest();
        let expires_at = stamp(now + SESSION_LIFETIME);
        self.store.insert_token(&TokenRecord {
            id: digest.public_id(),
            digest: *digest.as_bytes(),
            principal: name.clone(),
            kind: TokenKind::Session,
            mfa: true,
            created_at: now_stamp(),
            expires_at: Some(expires_at.clone()),
            revoked_at: None,
        })?;
        let mut actor = Actor::unauthenticated(caller, Some(name));
        actor.auth = AuthMethod::Session.as_str();
        self.record(
            &actor,
            Entry {
                reason: format!("session {} until {expires_at}", digest.public_id()),
                ..Entry::allowed(Action::Login, Vec::new(), Vec::new())
            },
        )?;
        Ok(Session {
            token,
            expires_at,
            principal: name.clone(),
        })
    }

    fn count_failure(&self, name: &PrincipalName) -> Result<(), EngineError> {
        let now = OffsetDateTime::now_utc();
        let failures = self
            .store
            .record_login_failure(name, &|n| lockout(n).map(|d| stamp(now + d)))?;
        if failures == ALERT_FAILURES {
            self.raise_alert(
                name.as_str(),
                AlertKind::LoginLockout,
                &format!("{failures} failed logins in a row; logins are refused for up to an hour at a time"),
            );
        }
        Ok(())
    }

    fn refuse_login(
        &self,
        caller: &Caller,
        name: Option<&PrincipalName>,
        failure: AuthFailure,
        detail: &str,
    ) -> EngineError {
        let actor = Actor::unauthenticated(caller, name);
        let entry = Entry {
            reason: if detail.is_empty() {
                failure.code().to_owned()
            } else {
                format!("{}: {detail}", failure.code())
            },
            ..Entry::denied(Action::Login, Vec::new())
        };
        match self.record(&actor, entry) {
            Ok(_) => EngineError::Unauthenticated(failure),
            Err(unrecorded) => unrecorded,
        }
    }

    /// Ends the session (or revokes the API token) the caller presents.
    pub fn logout(&self, caller: &Caller) -> Result<(), EngineError> {
        let actor = self.admit_principal(caller, Action::Login, &[])?;
        let Some(principal) = &actor.principal else {
            return Ok(());
        };
        if let Some(digest) = principal.token_digest {
            let id = TokenDigest::from_bytes(&digest)
                .map(|d| d.public_id())
                .unwrap_or_default();
            self.store.revoke_token(&id, &now_stamp())?;
            self.record(
                &actor,
                Entry {
                    reason: format!("logged out: token {id} revoked"),
                    ..Entry::allowed(Action::Login, Vec::new(), Vec::new())
                },
            )?;
        }
        Ok(())
    }

    /// Who the caller is, for `GET /v1/auth/whoami`.
    pub fn whoami(&self, caller: &Caller) -> Result<Principal, EngineError> {
        let actor = self.admit_principal(caller, Action::Login, &[])?;
        actor
            .principal
            .ok_or(EngineError::Unauthenticated(AuthFailure::Missing))
    }
}

/// How the ledger names the purpose a request declared: the registered
/// name, or a placeholder for none, several or an unregistered one. The
/// ledger never copies an unregistered name, which could be anything.
fn purpose_label(state: &AccessState, caller: &Caller) -> String {
    match caller.declared_purpose() {
        Some(name) => state
            .purpose(name)
            .map_or_else(|| UNKNOWN_PURPOSE.to_owned(), |p| p.name().to_string()),
        None if caller.declares_several_purposes() => SEVERAL_PURPOSES.to_owned(),
        None => NO_PURPOSE.to_owned(),
    }
}

fn purpose_names(state: &AccessState) -> String {
    state
        .purposes
        .keys()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_start_after_four_failures_and_double_to_an_hour() {
        assert_eq!(lockout(1), None);
        assert_eq!(lockout(4), None);
        assert_eq!(lockout(5), Some(Duration::seconds(30)));
        assert_eq!(lockout(6), Some(Duration::seconds(60)));
        assert_eq!(lockout(9), Some(Duration::seconds(480)));
        assert_eq!(lockout(20), Some(Duration::hours(1)));
        assert_eq!(lockout(u32::MAX), Some(Duration::hours(1)));
    }
}
