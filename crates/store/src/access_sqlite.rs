//! [`AccessStore`] for [`SqliteStore`]: access control in the same file as
//! the subjects, `store.sqlite`, since format 2.
//!
//! Every method runs in one transaction through the helpers of `sqlite.rs`,
//! writes in `BEGIN IMMEDIATE`, so that processes sharing the file take
//! turns and a read-then-write (the TOTP step, the failure count, the next
//! policy version) cannot interleave with another process's. The hot reads,
//! [`AccessStore::access_generation`] and [`AccessStore::token_by_digest`],
//! are one primary-key or unique-index probe each, with a cached statement
//! on a pooled reader.
//!
//! # Tables
//!
//! The layout is meant to be read by a DPO with `sqlite3`: names and times
//! are plain text, and times are `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, which
//! sorts in time order.
//!
//! `principals`: one row per principal.
//!
//! | column | meaning |
//! |---|---|
//! | `name` | primary key: the principal's name, as policies, the ledger and alerts use it |
//! | `kind` | `staff`, `representative`, `volunteer`, `processor` or `service` |
//! | `attributes` | one `key=value` line per attribute, keys in order, such as `constituency=E14000639` and `role=caseworker` |
//! | `status` | `active`, `suspended` or `revoked` |
//! | `status_reason` | why the status was last changed, or empty |
//! | `status_changed_at` | when it was last changed, or NULL |
//! | `valid_from`, `valid_until` | when the principal may start and must stop acting, or NULL |
//! | `created_at` | when the principal was created |
//! | `password_hash` | the Argon2 PHC string, or NULL |
//! | `totp_sealed` | the TOTP secret, sealed under a vault key, or NULL |
//! | `totp_last_step` | the last TOTP time step accepted, or NULL |
//! | `failed_logins` | failed logins since the last success or password change |
//! | `locked_until` | until when logins are refused, or NULL |
//!
//! `tokens`: API tokens and sessions, with an index `tokens_by_principal`.
//! `id` is the public id; `digest` (32 bytes, unique) a digest of the
//! secret, never the secret; `principal` whose it is (a principal's name);
//! `kind` `api` or `session`; `mfa` 1 if issued after a second factor;
//! `created_at`, `expires_at` (NULL: never) and `revoked_at` (NULL: live).
//!
//! `purposes`: the registry, one row per purpose: `name`, `description`,
//! `lawful_basis` (such as `legitimate_interests`), `special_condition`
//! (the Art. 9 condition, or NULL), `categories` and `consent_fields` as
//! comma-separated names, `requires_consent` 0 or 1, and `created_at`.
//!
//! `policies`: every policy ever applied: `version` from 1, `text`, `tests`,
//! `applied_at` and `applied_by`. The highest version is in force.
//!
//! `alerts`: `id` (increasing, never reused), `time`, `principal`, `kind`
//! and `details`, with an index `alerts_by_principal`.
//!
//! `counters`: the row `access_generation`, see
//! [`AccessStore::access_generation`].

use custos_model::{
    Attributes, PrincipalKind, PrincipalName, PrincipalStatus, Purpose, PurposeSpec,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, ToSql, Transaction, params};

use crate::access::AccessStore;
use crate::access_types::{
    AlertQuery, AlertRecord, LoginState, NewAlert, PolicyRecord, PrincipalRecord, TokenKind,
    TokenRecord,
};
use crate::error::StoreError;
use crate::sqlite::{SqliteStore, db};

/// The `counters` row of [`AccessStore::access_generation`].
const GENERATION: &str = "access_generation";

/// A `SELECT` of every principal column but the login state, followed by
/// the rest of the statement.
macro_rules! select_principal {
    ($rest:literal) => {
        concat!(
            "SELECT name, kind, attributes, status, status_reason, status_changed_at, valid_from, valid_until, created_at FROM principals ",
            $rest
        )
    };
}

/// A `SELECT` of every token column, followed by the rest of the statement.
macro_rules! select_token {
    ($rest:literal) => {
        concat!(
            "SELECT id, digest, principal, kind, mfa, created_at, expires_at, revoked_at FROM tokens ",
            $rest
        )
    };
}

/// A `SELECT` of every policy column, followed by the rest of the statement.
macro_rules! select_policy {
    ($rest:literal) => {
        concat!(
            "SELECT version, text, tests, applied_at, applied_by FROM policies ",
            $rest
        )
    };
}

pub(crate) fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn bump_generation(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached("UPDATE counters SET value = value + 1 WHERE name = ?1")
        .map_err(db)?
        .execute([GENERATION])
        .map_err(db)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(missing_generation())
    }
}

fn missing_generation() -> StoreError {
    StoreError::Corrupt(format!("the `{GENERATION}` counter is missing"))
}

/// Converts a stored integer that must not be negative.
pub(crate) fn unsigned<T: TryFrom<i64>>(
    value: i64,
    what: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Corrupt(format!("{} is out of range", what())))
}

/// Converts an integer for storage; SQLite's integers are signed 64-bit.
pub(crate) fn signed(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Database(format!("`{what}` {value} is too large to store")))
}

/// Attributes as `key=value` lines: readable with `sqlite3`, and
/// unambiguous because keys contain no `=` and values no line break.
fn encode_attributes(attributes: &Attributes) -> String {
    attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn decode_attributes(name: &str, text: &str) -> Result<Attributes, StoreError> {
    let corrupt = |m: &str| StoreError::Corrupt(format!("principal `{name}`: attributes: {m}"));
    let pairs = text
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split_once('=')
                .ok_or_else(|| corrupt("a line has no `=`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Attributes::parse_pairs(pairs).map_err(|m| corrupt(&m))
}

fn parse_principal_name(
    raw: &str,
    row: impl FnOnce() -> String,
) -> Result<PrincipalName, StoreError> {
    PrincipalName::parse(raw)
        .map_err(|e| StoreError::Corrupt(format!("{}: principal name `{raw}` {e}", row())))
}

/// A `principals` row as read, before parsing.
struct PrincipalRow {
    name: String,
    kind: String,
    attributes: String,
    status: String,
    status_reason: String,
    status_changed_at: Option<String>,
    valid_from: Option<String>,
    valid_until: Option<String>,
    created_at: String,
}

fn principal_row(r: &Row<'_>) -> rusqlite::Result<PrincipalRow> {
    Ok(PrincipalRow {
        name: r.get(0)?,
        kind: r.get(1)?,
        attributes: r.get(2)?,
        status: r.get(3)?,
        status_reason: r.get(4)?,
        status_changed_at: r.get(5)?,
        valid_from: r.get(6)?,
        valid_until: r.get(7)?,
        created_at: r.get(8)?,
    })
}

impl PrincipalRow {
    fn parse(self) -> Result<PrincipalRecord, StoreError> {
        let name = parse_principal_name(&self.name, || "a principal".to_owned())?;
        let corrupt = |column: &str, value: &str, m: String| {
            StoreError::Corrupt(format!("principal `{name}`: {column} `{value}` {m}"))
        };
        let kind = PrincipalKind::parse(&self.kind).map_err(|m| corrupt("kind", &self.kind, m))?;
        let status =
            PrincipalStatus::parse(&self.status).map_err(|m| corrupt("status", &self.status, m))?;
        Ok(PrincipalRecord {
            attributes: decode_attributes(name.as_str(), &self.attributes)?,
            name,
            kind,
            status,
            status_reason: self.status_reason,
            status_changed_at: self.status_changed_at,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            created_at: self.created_at,
        })
    }
}

/// A `tokens` row as read, before parsing.
struct TokenRow {
    id: String,
    digest: Vec<u8>,
    principal: String,
    kind: String,
    mfa: bool,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        digest: r.get(1)?,
        principal: r.get(2)?,
        kind: r.get(3)?,
        mfa: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

impl TokenRow {
    fn parse(self) -> Result<TokenRecord, StoreError> {
        let id = self.id;
        // The digest is not shown: it is what finds the token.
        let digest = <[u8; 32]>::try_from(self.digest.as_slice()).map_err(|_| {
            StoreError::Corrupt(format!("token `{id}`: the digest is not 32 bytes"))
        })?;
        let principal = parse_principal_name(&self.principal, || format!("token `{id}`"))?;
        let kind = TokenKind::parse(&self.kind)
            .map_err(|m| StoreError::Corrupt(format!("token `{id}`: kind `{}` {m}", self.kind)))?;
        Ok(TokenRecord {
            id,
            digest,
            principal,
            kind,
            mfa: self.mfa,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}

fn policy_row(r: &Row<'_>) -> rusqlite::Result<(i64, PolicyRecord)> {
    Ok((
        r.get(0)?,
        PolicyRecord {
            version: 0,
            text: r.get(1)?,
            tests: r.get(2)?,
            applied_at: r.get(3)?,
            applied_by: r.get(4)?,
        },
    ))
}

fn parse_policy((version, mut record): (i64, PolicyRecord)) -> Result<PolicyRecord, StoreError> {
    record.version = unsigned(version, || format!("policy version {version}"))?;
    Ok(record)
}

fn principal_exists(conn: &Connection, name: &PrincipalName) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM principals WHERE name = ?1")
        .map_err(db)?
        .query_row([name.as_str()], |_| Ok(()))
        .optional()
        .map_err(db)
        .map(|found| found.is_some())
}

/// Fails with [`StoreError::PrincipalNotFound`] unless an update touched a
/// row.
fn touched(changed: usize, name: &PrincipalName) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::PrincipalNotFound(name.clone()))
    } else {
        Ok(())
    }
}

/// A comma-separated list, as the `purposes` table holds lists; the names
/// in them contain no commas.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn insert_purposes_in(
    tx: &Transaction<'_>,
    ps: &[Purpose],
    created_at: &str,
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO purposes (name, description, lawful_basis, special_condition, categories, requires_consent, consent_fields, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(db)?;
    for p in ps {
        let spec = p.to_spec();
        let inserted = stmt.execute(params![
            spec.name,
            spec.description,
            spec.lawful_basis,
            spec.special_condition,
            spec.categories.join(","),
            spec.requires_consent,
            spec.consent_fields.join(","),
            created_at,
        ]);
        match inserted {
            Ok(_) => {}
            Err(e) if is_constraint(&e) => return Err(StoreError::PurposeExists(p.name().clone())),
            Err(e) => return Err(db(e)),
        }
    }
    bump_generation(tx)
}

impl AccessStore for SqliteStore {
    fn access_generation(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let value: i64 = conn
                .prepare_cached("SELECT value FROM counters WHERE name = ?1")
                .map_err(db)?
                .query_row([GENERATION], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or_else(missing_generation)?;
            unsigned(value, || format!("the `{GENERATION}` counter"))
        })
    }

    fn insert_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO principals (name, kind, attributes, status, status_reason, status_changed_at, valid_from, valid_until, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(db)?
                .execute(params![
                    p.name.as_str(),
                    p.kind.as_str(),
                    encode_attributes(&p.attributes),
                    p.status.as_str(),
                    p.status_reason,
                    p.status_changed_at,
                    p.valid_from,
                    p.valid_until,
                    p.created_at,
                ]);
            match inserted {
                Ok(_) => bump_generation(tx),
                Err(e) if is_constraint(&e) => Err(StoreError::PrincipalExists(p.name.clone())),
                Err(e) => Err(db(e)),
            }
        })
    }

    fn update_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE principals SET kind = ?2, attributes = ?3, status = ?4, status_reason = ?5,
                         status_changed_at = ?6, valid_from = ?7, valid_until = ?8
                     WHERE name = ?1",
                )
                .map_err(db)?
                .execute(params![
                    p.name.as_str(),
                    p.kind.as_str(),
                    encode_attributes(&p.attributes),
                    p.status.as_str(),
                    p.status_reason,
                    p.status_changed_at,
                    p.valid_from,
                    p.valid_until,
                ])
                .map_err(db)?;
            touched(changed, &p.name)?;
            if p.status == PrincipalStatus::Revoked {
                // In this transaction, so that no process ever sees a revoked
                // principal with a live token or session. Without a status
                // time, SQLite's clock gives one in the callers' format
                // (`%f` is seconds with milliseconds).
                tx.prepare_cached(
                    "UPDATE tokens SET revoked_at = COALESCE(?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                     WHERE principal = ?1 AND revoked_at IS NULL",
                )
                    .map_err(db)?
                    .execute(params![p.name.as_str(), p.status_changed_at])
                    .map_err(db)?;
            }
            bump_generation(tx)
        })
    }

    fn principal(&self, name: &PrincipalName) -> Result<Option<PrincipalRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(select_principal!("WHERE name = ?1"))
                .map_err(db)?
                .query_row([name.as_str()], principal_row)
                .optional()
                .map_err(db)?
                .map(PrincipalRow::parse)
                .transpose()
        })
    }

    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(select_principal!("ORDER BY name"))
                .map_err(db)?
                .query_map([], principal_row)
                .map_err(db)?
                .map(|row| row.map_err(db).and_then(PrincipalRow::parse))
                .collect()
        })
    }

    fn login_state(&self, name: &PrincipalName) -> Result<Option<LoginState>, StoreError> {
        self.read(|conn| {
            let row = conn
                .prepare_cached(
                    "SELECT password_hash, totp_sealed, totp_last_step, failed_logins, locked_until
                     FROM principals WHERE name = ?1",
                )
                .map_err(db)?
                .query_row([name.as_str()], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .optional()
                .map_err(db)?;
            let Some((password_hash, totp_sealed, last_step, failed, locked_until)) = row else {
                return Ok(None);
            };
            // The messages name the principal and the column, never a secret.
            let totp_last_step = last_step
                .map(|step| unsigned(step, || format!("principal `{name}`: `totp_last_step`")))
                .transpose()?;
            let failed_logins =
                unsigned(failed, || format!("principal `{name}`: `failed_logins`"))?;
            Ok(Some(LoginState {
                password_hash,
                totp_sealed,
                totp_last_step,
                failed_logins,
                locked_until,
            }))
        })
    }

    fn set_password(&self, name: &PrincipalName, phc: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE principals SET password_hash = ?2, failed_logins = 0, locked_until = NULL WHERE name = ?1",
                )
                .map_err(db)?
                .execute(params![name.as_str(), phc])
                .map_err(db)?;
            touched(changed, name)
        })
    }

    fn set_totp(&self, name: &PrincipalName, sealed: Option<&[u8]>) -> Result<(), StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE principals SET totp_sealed = ?2, totp_last_step = NULL WHERE name = ?1",
                )
                .map_err(db)?
                .execute(params![name.as_str(), sealed])
                .map_err(db)?;
            touched(changed, name)
        })
    }

    fn record_login_failure(
        &self,
        name: &PrincipalName,
        locked_until_for: &dyn Fn(u32) -> Option<String>,
    ) -> Result<u32, StoreError> {
        self.write(|tx| {
            let failed: i64 = tx
                .prepare_cached("SELECT failed_logins FROM principals WHERE name = ?1")
                .map_err(db)?
                .query_row([name.as_str()], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or_else(|| StoreError::PrincipalNotFound(name.clone()))?;
            let count = unsigned::<u32>(failed, || format!("principal `{name}`: `failed_logins`"))?
                .saturating_add(1);
            tx.prepare_cached(
                "UPDATE principals SET failed_logins = ?2, locked_until = ?3 WHERE name = ?1",
            )
            .map_err(db)?
            .execute(params![name.as_str(), count, locked_until_for(count)])
            .map_err(db)?;
            Ok(count)
        })
    }

    fn record_login_success(
        &self,
        name: &PrincipalName,
        totp_step: u64,
    ) -> Result<bool, StoreError> {
        let step = signed(totp_step, "totp_step")?;
        self.write(|tx| {
            // The compare and the set are one statement under the write lock,
            // so a code can be spent once even by concurrent processes.
            let changed = tx
                .prepare_cached(
                    "UPDATE principals SET totp_last_step = ?2, failed_logins = 0, locked_until = NULL
                     WHERE name = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                )
                .map_err(db)?
                .execute(params![name.as_str(), step])
                .map_err(db)?;
            if changed == 1 {
                return Ok(true);
            }
            if principal_exists(tx, name)? {
                Ok(false)
            } else {
                Err(StoreError::PrincipalNotFound(name.clone()))
            }
        })
    }

    fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            // Checked first so that the error names the principal; the
            // foreign key would only say that some constraint failed.
            if !principal_exists(tx, &t.principal)? {
                return Err(StoreError::PrincipalNotFound(t.principal.clone()));
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO tokens (id, digest, principal, kind, mfa, created_at, expires_at, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(db)?
                .execute(params![
                    t.id,
                    t.digest.as_slice(),
                    t.principal.as_str(),
                    t.kind.as_str(),
                    t.mfa,
                    t.created_at,
                    t.expires_at,
                    t.revoked_at,
                ]);
            match inserted {
                Ok(_) => Ok(()),
                Err(e) if is_constraint(&e) => Err(StoreError::TokenExists(t.id.clone())),
                Err(e) => Err(db(e)),
            }
        })
    }

    fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(select_token!("WHERE digest = ?1"))
                .map_err(db)?
                .query_row([digest.as_slice()], token_row)
                .optional()
                .map_err(db)?
                .map(TokenRow::parse)
                .transpose()
        })
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(select_token!("WHERE id = ?1"))
                .map_err(db)?
                .query_row([id], token_row)
                .optional()
                .map_err(db)?
                .map(TokenRow::parse)
                .transpose()
        })
    }

    fn tokens(&self, principal: Option<&PrincipalName>) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(|conn| {
            let rows = match principal {
                Some(name) => conn
                    .prepare_cached(select_token!(
                        "WHERE principal = ?1 ORDER BY created_at DESC, id DESC"
                    ))
                    .map_err(db)?
                    .query_map([name.as_str()], token_row)
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>(),
                None => conn
                    .prepare_cached(select_token!("ORDER BY created_at DESC, id DESC"))
                    .map_err(db)?
                    .query_map([], token_row)
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>(),
            }
            .map_err(db)?;
            rows.into_iter().map(TokenRow::parse).collect()
        })
    }

    fn revoke_token(&self, id: &str, at: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                )
                .map_err(db)?
                .execute(params![id, at])
                .map_err(db)?;
            if changed == 0 {
                return Ok(false);
            }
            bump_generation(tx)?;
            Ok(true)
        })
    }

    fn delete_expired_sessions(&self, now: &str) -> Result<u64, StoreError> {
        self.write(|tx| {
            let deleted = tx
                .prepare_cached(
                    "DELETE FROM tokens WHERE kind = 'session' AND expires_at IS NOT NULL AND expires_at < ?1",
                )
                .map_err(db)?
                .execute([now])
                .map_err(db)?;
            Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
        })
    }

    fn purposes(&self) -> Result<Vec<Purpose>, StoreError> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT name, description, lawful_basis, special_condition, categories, requires_consent, consent_fields
                     FROM purposes ORDER BY name",
                )
                .map_err(db)?
                .query_map([], |r| {
                    Ok(PurposeSpec {
                        name: r.get(0)?,
                        description: r.get(1)?,
                        lawful_basis: r.get(2)?,
                        special_condition: r.get(3)?,
                        categories: split_list(&r.get::<_, String>(4)?),
                        requires_consent: r.get(5)?,
                        consent_fields: split_list(&r.get::<_, String>(6)?),
                    })
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.iter()
                .map(|spec| {
                    Purpose::from_spec(spec).map_err(|m| {
                        StoreError::Corrupt(format!("purpose `{}`: {m}", spec.name))
                    })
                })
                .collect()
        })
    }

    fn insert_purpose(&self, p: &Purpose, created_at: &str) -> Result<(), StoreError> {
        self.write(|tx| insert_purposes_in(tx, std::slice::from_ref(p), created_at))
    }

    fn insert_purposes(&self, ps: &[Purpose], created_at: &str) -> Result<(), StoreError> {
        self.write(|tx| insert_purposes_in(tx, ps, created_at))
    }

    fn current_policy(&self) -> Result<Option<PolicyRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(select_policy!("ORDER BY version DESC LIMIT 1"))
                .map_err(db)?
                .query_row([], policy_row)
                .optional()
                .map_err(db)?
                .map(parse_policy)
                .transpose()
        })
    }

    fn policy_history(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(select_policy!("ORDER BY version DESC"))
                .map_err(db)?
                .query_map([], policy_row)
                .map_err(db)?
                .map(|row| row.map_err(db).and_then(parse_policy))
                .collect()
        })
    }

    fn insert_policy(
        &self,
        text: &str,
        tests: &str,
        applied_at: &str,
        applied_by: &str,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            // Under the write lock, so two processes never take one version.
            let version: i64 = tx
                .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM policies")
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .map_err(db)?;
            tx.prepare_cached(
                "INSERT INTO policies (version, text, tests, applied_at, applied_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db)?
            .execute(params![version, text, tests, applied_at, applied_by])
            .map_err(db)?;
            bump_generation(tx)?;
            unsigned(version, || format!("policy version {version}"))
        })
    }

    fn insert_alert(&self, a: &NewAlert) -> Result<u64, StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO alerts (time, principal, kind, details) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db)?
            .execute(params![a.time, a.principal, a.kind, a.details])
            .map_err(db)?;
            let id = tx.last_insert_rowid();
            unsigned(id, || format!("alert id {id}"))
        })
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>, StoreError> {
        // Only the filters given are in the statement, rather than
        // `(?2 IS NULL OR principal = ?2)`, which would keep SQLite from
        // using the principal index.
        let after = q
            .after_id
            .map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX));
        let limit = i64::try_from(q.limit.min(AlertQuery::MAX_LIMIT)).unwrap_or(0);
        let mut sql =
            String::from("SELECT id, time, principal, kind, details FROM alerts WHERE id > ?");
        let mut args: Vec<&dyn ToSql> = vec![&after];
        if let Some(principal) = &q.principal {
            sql.push_str(" AND principal = ?");
            args.push(principal);
        }
        if let Some(kind) = &q.kind {
            sql.push_str(" AND kind = ?");
            args.push(kind);
        }
        sql.push_str(" ORDER BY id LIMIT ?");
        args.push(&limit);
        self.read(|conn| {
            let rows = conn
                .prepare_cached(&sql)
                .map_err(db)?
                .query_map(args.as_slice(), |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        AlertRecord {
                            id: 0,
                            time: r.get(1)?,
                            principal: r.get(2)?,
                            kind: r.get(3)?,
                            details: r.get(4)?,
                        },
                    ))
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.into_iter()
                .map(|(id, mut alert)| {
                    alert.id = unsigned(id, || format!("alert id {id}"))?;
                    Ok(alert)
                })
                .collect()
        })
    }
}
