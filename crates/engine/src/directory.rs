//! The directory of principals and their credentials: adding, changing,
//! suspending, revoking and restoring principals, API tokens, passwords and
//! second factors. Only administrators may do any of it, and every change
//! is recorded in the ledger.

use custos_crypto::{ApiToken, PasswordHash, TotpSecret};
use custos_model::{Attributes, PrincipalKind, PrincipalName, PrincipalStatus};
use custos_store::{PrincipalRecord, TokenKind, TokenRecord};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::clock::{now_stamp, stamp};
use crate::error::{EngineError, Problem};
use crate::principal::{Actor, Caller};
use crate::recording::{Action, Entry};
use crate::vault::Vault;

/// A principal as the directory shows it.
#[derive(Debug, Clone)]
pub struct PrincipalView {
    /// The stored record.
    pub record: PrincipalRecord,
    /// Whether a password is set.
    pub password_set: bool,
    /// Whether a second factor is enrolled.
    pub totp_set: bool,
    /// Tokens and sessions not revoked or expired.
    pub live_tokens: usize,
}

/// A change to a principal; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct PrincipalChange {
    /// A new kind.
    pub kind: Option<PrincipalKind>,
    /// Attributes to set as `KEY=VALUE`; an empty value removes one.
    pub attributes: Vec<(String, String)>,
    /// A new `valid_from`; `Some(None)` removes it.
    pub valid_from: Option<Option<OffsetDateTime>>,
    /// A new `valid_until`; `Some(None)` removes it.
    pub valid_until: Option<Option<OffsetDateTime>>,
}

/// A new API token: the secret, shown once, and its record.
#[derive(Debug)]
pub struct NewToken {
    /// The secret.
    pub token: ApiToken,
    /// What is stored about it.
    pub record: TokenRecord,
}

/// A new second factor, shown once for the principal's authenticator app.
#[derive(Debug)]
pub struct TotpEnrollment {
    /// The secret in base32, to type in.
    pub secret: Zeroizing<String>,
    /// The `otpauth://` URI, to show as a QR code.
    pub uri: Zeroizing<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> EngineError {
    EngineError::invalid(Problem::field(field, message))
}

fn parse_name(raw: &str) -> Result<PrincipalName, EngineError> {
    PrincipalName::parse(raw.trim())
        .map_err(|e| EngineError::invalid(Problem::general(format!("the principal name {e}"))))
}

impl Vault {
    fn admin_record(&self, actor: &Actor, reason: String) -> Result<(), EngineError> {
        self.record(
            actor,
            Entry {
                reason,
                ..Entry::allowed(Action::Administer, Vec::new(), Vec::new())
            },
        )?;
        Ok(())
    }

    fn view(&self, record: PrincipalRecord) -> Result<PrincipalView, EngineError> {
        let login = self.store.login_state(&record.name)?;
        let now = now_stamp();
        let live_tokens = self
            .store
            .tokens(Some(&record.name))?
            .iter()
            .filter(|t| {
                t.revoked_at.is_none() && t.expires_at.as_deref().is_none_or(|e| e > now.as_str())
            })
            .count();
        Ok(PrincipalView {
            password_set: login.as_ref().is_some_and(|l| l.password_hash.is_some()),
            totp_set: login.as_ref().is_some_and(|l| l.totp_sealed.is_some()),
            live_tokens,
            record,
        })
    }

    fn existing_principal(&self, name: &PrincipalName) -> Result<PrincipalRecord, EngineError> {
        self.store
            .principal(name)?
            .ok_or_else(|| EngineError::Unknown(format!("no principal `{name}`")))
    }

    /// Adds a principal.
    pub fn add_principal(
        &self,
        caller: &Caller,
        name: &str,
        kind: PrincipalKind,
        attributes: &[(String, String)],
        valid_from: Option<OffsetDateTime>,
        valid_until: Option<OffsetDateTime>,
    ) -> Result<PrincipalView, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let name = parse_name(name)?;
        let attributes =
            Attributes::parse_pairs(attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|m| invalid("attr", m))?;
        check_window(valid_from, valid_until)?;
        let record = PrincipalRecord {
            name: name.clone(),
            kind,
            attributes,
            status: PrincipalStatus::Active,
            status_reason: String::new(),
            status_changed_at: None,
            valid_from: valid_from.map(stamp),
            valid_until: valid_until.map(stamp),
            created_at: now_stamp(),
        };
        self.store.insert_principal(&record)?;
        self.admin_record(&actor, format!("added principal `{name}` ({kind})"))?;
        self.view(record)
    }

    /// Every principal, by name.
    pub fn principals(&self, caller: &Caller) -> Result<Vec<PrincipalView>, EngineError> {
        self.admit_admin(caller, Action::Administer)?;
        self.store
            .principals()?
            .into_iter()
            .map(|r| self.view(r))
            .collect()
    }

    /// One principal.
    pub fn principal(&self, caller: &Caller, name: &str) -> Result<PrincipalView, EngineError> {
        self.admit_admin(caller, Action::Administer)?;
        let record = self.existing_principal(&parse_name(name)?)?;
        self.view(record)
    }

    /// Changes a principal's kind, attributes or validity window.
    pub fn update_principal(
        &self,
        caller: &Caller,
        name: &str,
        change: &PrincipalChange,
    ) -> Result<PrincipalView, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let mut record = self.existing_principal(&parse_name(name)?)?;
        if let Some(kind) = change.kind {
            record.kind = kind;
        }
        for (key, value) in &change.attributes {
            let parsed = custos_model::AttributeKey::parse(key.trim())
                .map_err(|m| invalid("attr", format!("`{}` {m}", key.trim())))?;
            record
                .attributes
                .set(parsed, value)
                .map_err(|m| invalid("attr", m))?;
        }
        if let Some(from) = change.valid_from {
            record.valid_from = from.map(stamp);
        }
        if let Some(until) = change.valid_until {
            record.valid_until = until.map(stamp);
        }
        check_window(
            record
                .valid_from
                .as_deref()
                .and_then(crate::clock::parse_stamp),
            record
                .valid_until
                .as_deref()
                .and_then(crate::clock::parse_stamp),
        )?;
        self.store.update_principal(&record)?;
        self.admin_record(&actor, format!("updated principal `{}`", record.name))?;
        self.view(record)
    }

    /// Suspends, revokes or restores a principal. Revoking also revokes
    /// every token and session of theirs, in the same transaction, and
    /// takes effect at once in every process sharing the store.
    pub fn set_principal_status(
        &self,
        caller: &Caller,
        name: &str,
        status: PrincipalStatus,
        reason: &str,
    ) -> Result<PrincipalView, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let mut record = self.existing_principal(&parse_name(name)?)?;
        let reason = reason.trim();
        if reason.chars().count() > 500 || reason.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid("reason", "must be at most 500 characters of text"));
        }
        let verb = match status {
            PrincipalStatus::Active => "restored",
            PrincipalStatus::Suspended => "suspended",
            PrincipalStatus::Revoked => "revoked",
        };
        record.status = status;
        record.status_reason = reason.to_owned();
        record.status_changed_at = Some(now_stamp());
        self.store.update_principal(&record)?;
        // The reason is the administrator's free text, kept with the
        // principal; the ledger, which is never erased, gets only the fact.
        self.admin_record(&actor, format!("{verb} principal `{}`", record.name))?;
        self.view(record)
    }

    /// Creates an API token for a principal; the secret is shown once.
    pub fn create_token(
        &self,
        caller: &Caller,
        name: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<NewToken, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let record = self.existing_principal(&parse_name(name)?)?;
        if record.status != PrincipalStatus::Active {
            return Err(invalid(
                "principal",
                format!(
                    "`{}` is {}; restore them before giving them a token",
                    record.name, record.status
                ),
            ));
        }
        if expires_at.is_some_and(|e| e <= OffsetDateTime::now_utc()) {
            return Err(invalid("expires", "is in the past"));
        }
        let token = ApiToken::generate();
        let digest = token.digest();
        let stored = TokenRecord {
            id: digest.public_id(),
            digest: *digest.as_bytes(),
            principal: record.name.clone(),
            kind: TokenKind::Api,
            mfa: false,
            created_at: now_stamp(),
            expires_at: expires_at.map(stamp),
            revoked_at: None,
        };
        self.store.insert_token(&stored)?;
        self.admin_record(
            &actor,
            format!("created token {} for `{}`", stored.id, record.name),
        )?;
        Ok(NewToken {
            token,
            record: stored,
        })
    }

    /// Tokens and sessions, newest first, of one principal or all.
    pub fn tokens(
        &self,
        caller: &Caller,
        name: Option<&str>,
    ) -> Result<Vec<TokenRecord>, EngineError> {
        self.admit_admin(caller, Action::Administer)?;
        let name = name.map(parse_name).transpose()?;
        Ok(self.store.tokens(name.as_ref())?)
    }

    /// Revokes one token or session by its id.
    pub fn revoke_token(&self, caller: &Caller, id: &str) -> Result<TokenRecord, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let id = id.trim();
        let token = self.store.token(id)?.ok_or_else(|| {
            EngineError::Unknown(format!(
                "no token `{id}` (ids look like tk_0123456789ab; see `custos token list`)"
            ))
        })?;
        self.store.revoke_token(id, &now_stamp())?;
        self.admin_record(
            &actor,
            format!("revoked token {id} of `{}`", token.principal),
        )?;
        Ok(self.store.token(id)?.unwrap_or(token))
    }

    /// Sets a principal's login password (Argon2id).
    pub fn set_password(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
    ) -> Result<(), EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let record = self.existing_principal(&parse_name(name)?)?;
        let hash =
            PasswordHash::create(password).map_err(|e| invalid("password", e.to_string()))?;
        self.store.set_password(&record.name, hash.as_str())?;
        self.admin_record(&actor, format!("set the password of `{}`", record.name))
    }

    /// Enrolls a new second factor (TOTP) for a principal, replacing any
    /// earlier one. The secret is shown once.
    pub fn enroll_totp(&self, caller: &Caller, name: &str) -> Result<TotpEnrollment, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let record = self.existing_principal(&parse_name(name)?)?;
        let secret = TotpSecret::generate();
        let sealed = self
            .keys()
            .keyring
            .seal_totp_secret(record.name.as_str(), &secret);
        self.store.set_totp(&record.name, Some(&sealed))?;
        self.admin_record(
            &actor,
            format!("enrolled a second factor for `{}`", record.name),
        )?;
        Ok(TotpEnrollment {
            uri: secret.otpauth_uri("Custos", record.name.as_str()),
            secret: secret.to_base32(),
        })
    }
}

fn check_window(
    from: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
) -> Result<(), EngineError> {
    match (from, until) {
        (Some(f), Some(u)) if u <= f => Err(invalid("valid_until", "must be after valid_from")),
        _ => Ok(()),
    }
}
