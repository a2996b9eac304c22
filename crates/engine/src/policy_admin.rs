//! Managing the policy set: validating a file, running its test cases, and
//! applying it, which refuses a set that does not validate, fails its tests
//! or would lock every administrator out.

use std::sync::Arc;

use custos_model::{PrincipalName, PrincipalStatus};
use custos_policy::{
    AccessRequest, Action as PolicyAction, CaseFile, CaseReport, Policies, PrincipalEntity,
};
use custos_store::PolicyRecord;
use time::OffsetDateTime;

use crate::access_state::{AccessState, facts};
use crate::authentication::standing;
use crate::clock::now_stamp;
use crate::error::EngineError;
use crate::principal::Caller;
use crate::recording::{Action, Entry};
use crate::vault::Vault;

/// What `apply` did.
#[derive(Debug, Clone)]
pub struct AppliedPolicy {
    /// The new version.
    pub version: u64,
    /// How many rules the set has.
    pub rules: usize,
    /// How many test cases ran and passed.
    pub cases: usize,
}

impl Vault {
    /// Parses and validates a policy file against this vault's schema.
    pub fn validate_policy(&self, text: &str) -> Result<Policies, EngineError> {
        Ok(Policies::compile(text, &self.schema)?)
    }

    /// Runs a file of test cases against a policy set (the current one if
    /// `text` is none). Principals the file does not define are looked up
    /// in the vault.
    pub fn test_policy(
        &self,
        caller: &Caller,
        cases: &str,
        text: Option<&str>,
    ) -> Result<CaseReport, EngineError> {
        let state = self.admit_admin(caller, Action::Administer)?.state()?;
        let policies = match text {
            Some(text) => Arc::new(self.validate_policy(text)?),
            None => Arc::clone(&state.policies),
        };
        run_cases(&state, &policies, cases)
    }

    /// Applies a policy set: it must validate, its test cases (if given)
    /// must pass, and the local operator and at least one active stored
    /// administrator must still be able to administer the vault.
    pub fn apply_policy(
        &self,
        caller: &Caller,
        text: &str,
        cases: Option<&str>,
    ) -> Result<AppliedPolicy, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let state = actor.state()?;
        let refuse = |e| self.refuse(&actor, Action::Administer, Vec::new(), e);
        let policies = self.validate_policy(text).map_err(refuse)?;
        let report = match cases {
            Some(cases) => Some(run_cases(&state, &policies, cases).map_err(refuse)?),
            None => None,
        };
        if let Some(report) = &report
            && !report.passed()
        {
            let failures: Vec<String> = report
                .failures()
                .map(|f| format!("line {}: case `{}`: {}", f.line, f.name, f.detail))
                .collect();
            return Err(refuse(EngineError::PolicyRefused(format!(
                "{} of {} test cases fail, so nothing was applied:\n{}",
                failures.len(),
                report.results.len(),
                failures.join("\n")
            ))));
        }
        self.check_admins_keep_access(&state, &policies)
            .map_err(refuse)?;
        let version =
            self.store
                .insert_policy(text, cases.unwrap_or(""), &now_stamp(), &actor.name)?;
        self.record(
            &actor,
            Entry {
                reason: format!(
                    "applied policy set version {version} ({} rules)",
                    policies.rules().len()
                ),
                ..Entry::allowed(Action::Administer, Vec::new(), Vec::new())
            },
        )?;
        Ok(AppliedPolicy {
            version,
            rules: policies.rules().len(),
            cases: report.map_or(0, |r| r.results.len()),
        })
    }

    /// The policy set in force, with its tests and history.
    pub fn current_policy(&self, caller: &Caller) -> Result<PolicyRecord, EngineError> {
        self.admit_admin(caller, Action::Administer)?;
        self.store
            .current_policy()?
            .ok_or_else(|| EngineError::Config("the store holds no policy set".to_owned()))
    }

    /// Refuses a set under which the local operator, or every active stored
    /// administrator, could no longer administer the vault: then nobody
    /// could apply a corrected set.
    fn check_admins_keep_access(
        &self,
        state: &AccessState,
        policies: &Policies,
    ) -> Result<(), EngineError> {
        let may_administer = |entity: &PrincipalEntity, mfa: bool, auth: &str| {
            policies
                .decide(&AccessRequest {
                    principal: entity,
                    action: PolicyAction::Administer,
                    subject: None,
                    fields: &[],
                    purpose: None,
                    mfa,
                    auth,
                    now: OffsetDateTime::now_utc(),
                })
                .is_permitted()
        };
        if !may_administer(&self.operator, true, "local_operator") {
            return Err(EngineError::PolicyRefused(format!(
                "this policy set would lock the local operator (`{}`) out of administering the vault, so nothing was applied; keep a permit of `administer` for `principal in Custos::Role::\"admin\"`",
                self.operator.name()
            )));
        }
        let now = OffsetDateTime::now_utc();
        let admins: Vec<&PrincipalName> = state
            .principals
            .values()
            .filter(|p| {
                p.record.attributes.is_admin() && p.record.status == PrincipalStatus::Active
            })
            .filter(|p| standing(&p.record, now).is_ok())
            .map(|p| &p.record.name)
            .collect();
        if admins.is_empty() {
            return Ok(());
        }
        let keeps = admins.iter().any(|name| {
            state.principals.get(*name).is_some_and(|p| {
                let entity = PrincipalEntity::new(facts(&p.record));
                may_administer(&entity, false, "api_token")
                    || may_administer(&entity, true, "session+totp")
            })
        });
        if keeps {
            Ok(())
        } else {
            let names: Vec<String> = admins.iter().map(|n| format!("`{n}`")).collect();
            Err(EngineError::PolicyRefused(format!(
                "this policy set would lock every administrator ({}) out of administering the vault, so nothing was applied",
                names.join(", ")
            )))
        }
    }
}

fn run_cases(
    state: &AccessState,
    policies: &Policies,
    cases: &str,
) -> Result<CaseReport, EngineError> {
    let file = CaseFile::parse(cases, policies)
        .map_err(|m| EngineError::PolicyRefused(format!("the test cases are invalid: {m}")))?;
    let purposes: Vec<_> = state.purposes.values().map(|p| (**p).clone()).collect();
    Ok(file.run(policies, &purposes, &|name| {
        state.principals.get(name).map(|p| facts(&p.record))
    }))
}
