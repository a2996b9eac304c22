//! The storage interface of access control: principals, their credentials
//! and login bookkeeping, tokens and sessions, the purpose registry, the
//! policy history and alerts.
//!
//! Like [`Store`](crate::Store), every method is one whole operation in one
//! transaction. Several server processes may share one store, so nothing
//! here may be cached by a caller without checking
//! [`AccessStore::access_generation`] first.

use custos_model::{PrincipalName, Purpose};

use crate::access_types::{
    AlertQuery, AlertRecord, LoginState, NewAlert, PolicyRecord, PrincipalRecord, TokenRecord,
};
use crate::error::StoreError;

/// The persistent state of access control.
pub trait AccessStore: Send + Sync {
    /// A counter that every change to who may do what increments, in the
    /// same transaction as the change: inserting or updating a principal,
    /// revoking a token, inserting a purpose or a policy. Issuing a token and
    /// login bookkeeping (passwords, second factors, failures, successes)
    /// leave it alone.
    ///
    /// Processes sharing the store read it on every request, and drop what
    /// they cached when it has moved, so it is one cheap indexed read.
    fn access_generation(&self) -> Result<u64, StoreError>;

    /// Adds a principal, with no credentials yet.
    /// [`StoreError::PrincipalExists`] if the name is taken.
    fn insert_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError>;

    /// Replaces a principal's kind, attributes, status, status reason and
    /// time, and validity; keeps `created_at` and the login state.
    /// [`StoreError::PrincipalNotFound`] if there is no such principal.
    ///
    /// When the new status is revoked, every token of the principal not yet
    /// revoked is revoked in the same transaction, at `status_changed_at`
    /// (or the database's clock if that is none), so that no token or
    /// session outlives its principal.
    fn update_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError>;

    /// One principal.
    fn principal(&self, name: &PrincipalName) -> Result<Option<PrincipalRecord>, StoreError>;

    /// Every principal, by name.
    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError>;

    /// A principal's credentials and login bookkeeping.
    fn login_state(&self, name: &PrincipalName) -> Result<Option<LoginState>, StoreError>;

    /// Sets a principal's password hash (a PHC string), and clears their
    /// failed logins and lock.
    fn set_password(&self, name: &PrincipalName, phc: &str) -> Result<(), StoreError>;

    /// Sets or removes a principal's sealed TOTP secret, and forgets the last
    /// step accepted, which belonged to the old secret.
    fn set_totp(&self, name: &PrincipalName, sealed: Option<&[u8]>) -> Result<(), StoreError>;

    /// Counts a failed login: increments the failures and sets the lock to
    /// `locked_until_for(new_count)`, atomically. Returns the new count.
    fn record_login_failure(
        &self,
        name: &PrincipalName,
        locked_until_for: &dyn Fn(u32) -> Option<String>,
    ) -> Result<u32, StoreError>;

    /// Counts a successful login whose TOTP code was for `totp_step`: if no
    /// step, or an earlier one, was accepted before, records this step,
    /// clears the failures and the lock, and returns true. Otherwise changes
    /// nothing and returns false: the code was already used.
    ///
    /// The check and the update are one write transaction, so of two
    /// concurrent logins with the same code, in any processes, exactly one
    /// succeeds.
    fn record_login_success(
        &self,
        name: &PrincipalName,
        totp_step: u64,
    ) -> Result<bool, StoreError>;

    /// Stores a new token. [`StoreError::PrincipalNotFound`] if its principal
    /// does not exist, [`StoreError::TokenExists`] if its id or digest is
    /// taken.
    fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError>;

    /// The token with this digest, revoked and expired ones included: the
    /// caller decides, so that it can say why a token is refused.
    fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;

    /// The token with this id.
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Every token, or a principal's, newest first.
    fn tokens(&self, principal: Option<&PrincipalName>) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes a token at `at`. True if it was not yet revoked (expired or
    /// not) and now is; false if it was already revoked or does not exist.
    fn revoke_token(&self, id: &str, at: &str) -> Result<bool, StoreError>;

    /// Deletes the sessions that expired before `now`. API tokens, even
    /// expired ones, are kept for the record. Returns the number deleted.
    fn delete_expired_sessions(&self, now: &str) -> Result<u64, StoreError>;

    /// The purpose registry, by name.
    fn purposes(&self) -> Result<Vec<Purpose>, StoreError>;

    /// Adds a purpose. [`StoreError::PurposeExists`] if the name is taken.
    fn insert_purpose(&self, p: &Purpose, created_at: &str) -> Result<(), StoreError>;

    /// Adds several purposes in one transaction: all of them, or, if any
    /// name is taken, none.
    fn insert_purposes(&self, ps: &[Purpose], created_at: &str) -> Result<(), StoreError>;

    /// The policy in force: the highest version.
    fn current_policy(&self) -> Result<Option<PolicyRecord>, StoreError>;

    /// Every policy version, newest first.
    fn policy_history(&self) -> Result<Vec<PolicyRecord>, StoreError>;

    /// Stores a new policy version and returns it: 1 for the first, then one
    /// more than the highest.
    fn insert_policy(
        &self,
        text: &str,
        tests: &str,
        applied_at: &str,
        applied_by: &str,
    ) -> Result<u64, StoreError>;

    /// Records an alert and returns its id.
    fn insert_alert(&self, a: &NewAlert) -> Result<u64, StoreError>;

    /// The alerts matching a query, oldest first.
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>, StoreError>;
}
