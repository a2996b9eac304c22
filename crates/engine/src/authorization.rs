//! The second step of every operation: what the policies allow, field by
//! field, for this principal, purpose and subject.
//!
//! The decision itself is `custos-policy`'s; this module turns it into an
//! [`Authorized`] proof, which `open_fields` demands next to the ledger's
//! `Recorded`, or into a recorded refusal.

use std::sync::Arc;

use custos_model::{FieldName, SubjectId};
use custos_policy::{AccessRequest, Decision, DenyReason, SubjectFacts};
use time::OffsetDateTime;

use crate::error::{Denial, EngineError};
use crate::principal::{Actor, Caller};
use crate::recording::Action;
use crate::vault::Vault;

/// Proof that the policies allowed these fields of one subject.
///
/// INVARIANT: made only by `Vault::proof`, from a decision that allowed
/// every field in `indexes`.
#[derive(Debug)]
pub(crate) struct Authorized {
    indexes: Vec<usize>,
    denials: Vec<Denial>,
    permitted_by: Vec<String>,
}

impl Authorized {
    /// The schema indexes of the allowed fields, in schema order.
    pub(crate) fn indexes(&self) -> &[usize] {
        &self.indexes
    }

    /// What was denied, for a partial answer.
    pub(crate) fn denials(&self) -> &[Denial] {
        &self.denials
    }

    /// The policies that allowed the fields, for the ledger.
    pub(crate) fn reason(&self) -> String {
        let mut reason = format!("permitted by {}", self.permitted_by.join(", "));
        if !self.denials.is_empty() {
            reason.push_str("; ");
            reason.push_str(&crate::recording::denial_summary(&self.denials));
        }
        reason
    }
}

/// The policy action an engine action is decided as.
fn policy_action(action: Action) -> custos_policy::Action {
    use custos_policy::Action as P;
    match action {
        Action::Read => P::Read,
        Action::Create => P::Create,
        Action::Update => P::Update,
        Action::Erase => P::Erase,
        Action::Find => P::Find,
        Action::List => P::List,
        Action::Import => P::Import,
        Action::Export | Action::ExportManifest => P::Export,
        Action::Audit | Action::Incident => P::Audit,
        Action::Administer | Action::Login => P::Administer,
    }
}

/// The denials of a decision, for callers and the ledger.
pub(crate) fn denials_of(decision: &Decision) -> Vec<Denial> {
    decision
        .denials()
        .map(|(field, reason)| Denial {
            field: field.map(ToString::to_string),
            code: reason.code(),
            reason: reason.to_string(),
            rules: match reason {
                DenyReason::Forbidden { rules } => rules.iter().map(|r| r.id.clone()).collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// Decides an action for an authenticated actor, against the access state
/// it was admitted under.
fn decide_for(
    actor: &Actor,
    action: Action,
    subject: Option<SubjectFacts<'_>>,
    fields: &[&custos_model::FieldSpec],
) -> Result<Arc<Decision>, EngineError> {
    let state = actor.state()?;
    let principal = actor.principal.as_ref().ok_or_else(|| {
        EngineError::Config("an unauthenticated actor reached authorization".to_owned())
    })?;
    let decision = state.policies.decide(&AccessRequest {
        principal: &principal.entity,
        action: policy_action(action),
        subject,
        fields,
        purpose: actor.purpose.as_deref(),
        mfa: principal.mfa,
        auth: principal.auth(),
        now: OffsetDateTime::now_utc(),
    });
    for error in decision.errors() {
        tracing::warn!(%error, "a policy failed to evaluate and was skipped");
    }
    Ok(decision)
}

impl Vault {
    /// Decides an action on one subject; `indexes` are the fields asked
    /// for (empty for subject actions).
    pub(crate) fn decide(
        &self,
        actor: &Actor,
        action: Action,
        id: &SubjectId,
        scope: &[(FieldName, String)],
        indexes: &[usize],
    ) -> Result<Arc<Decision>, EngineError> {
        let fields: Vec<_> = indexes.iter().map(|&i| &self.schema.fields()[i]).collect();
        decide_for(actor, action, Some(SubjectFacts { id, scope }), &fields)
    }

    /// Decides field access and returns the proof for the allowed fields.
    /// If nothing is allowed, or anything is denied and either the caller is
    /// strict or the operation is `all_or_nothing` (writes), the refusal is
    /// recorded and returned instead.
    pub(crate) fn authorize_fields(
        &self,
        actor: &Actor,
        action: Action,
        id: &SubjectId,
        scope: &[(FieldName, String)],
        indexes: &[usize],
        all_or_nothing: bool,
    ) -> Result<Authorized, EngineError> {
        let decision = self.decide(actor, action, id, scope, indexes)?;
        let denials = denials_of(&decision);
        if decision.is_denied() || ((actor.strict || all_or_nothing) && !denials.is_empty()) {
            return Err(self.refuse(actor, action, vec![id], EngineError::Forbidden(denials)));
        }
        Ok(self.proof(&decision, indexes, denials))
    }

    /// Decides field access for a bulk job: the proof if every field is
    /// allowed, none otherwise, and nothing recorded (the job records what
    /// it releases, and what it leaves out is not a request of anyone's).
    pub(crate) fn authorize_whole(
        &self,
        actor: &Actor,
        action: Action,
        id: &SubjectId,
        scope: &[(FieldName, String)],
        indexes: &[usize],
    ) -> Result<Option<Authorized>, EngineError> {
        let decision = self.decide(actor, action, id, scope, indexes)?;
        Ok(decision
            .is_permitted()
            .then(|| self.proof(&decision, indexes, Vec::new())))
    }

    // INVARIANT: the only constructor of `Authorized`; it keeps exactly the
    // fields the decision allowed.
    fn proof(&self, decision: &Decision, indexes: &[usize], denials: Vec<Denial>) -> Authorized {
        let allowed: Vec<&FieldName> = decision.allowed_fields().collect();
        let indexes = indexes
            .iter()
            .copied()
            .filter(|&i| allowed.contains(&self.schema.fields()[i].name()))
            .collect();
        Authorized {
            indexes,
            denials,
            permitted_by: decision
                .permitted_by()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Whether a subject action (list, find, erase) is allowed, without
    /// recording: listings record what they release as one event.
    pub(crate) fn permits_subject(
        &self,
        actor: &Actor,
        action: Action,
        id: &SubjectId,
        scope: &[(FieldName, String)],
    ) -> Result<Result<(), Vec<Denial>>, EngineError> {
        let decision = self.decide(actor, action, id, scope, &[])?;
        Ok(if decision.is_permitted() {
            Ok(())
        } else {
            Err(denials_of(&decision))
        })
    }

    /// Decides a subject action and records a refusal.
    pub(crate) fn authorize_subject(
        &self,
        actor: &Actor,
        action: Action,
        id: &SubjectId,
        scope: &[(FieldName, String)],
    ) -> Result<(), EngineError> {
        match self.permits_subject(actor, action, id, scope)? {
            Ok(()) => Ok(()),
            Err(denials) => {
                Err(self.refuse(actor, action, vec![id], EngineError::Forbidden(denials)))
            }
        }
    }

    /// Decides an action on the vault as a whole (import, administration,
    /// audit) and records a refusal.
    pub(crate) fn authorize_vault(&self, actor: &Actor, action: Action) -> Result<(), EngineError> {
        let decision = decide_for(actor, action, None, &[])?;
        if decision.is_permitted() {
            Ok(())
        } else {
            let denials = denials_of(&decision);
            Err(self.refuse(actor, action, Vec::new(), EngineError::Forbidden(denials)))
        }
    }

    /// Authenticates a caller and checks they may administer (or audit) the
    /// vault: manage principals, tokens, purposes and policies, or read the
    /// ledger and alerts.
    pub(crate) fn admit_admin(
        &self,
        caller: &Caller,
        action: Action,
    ) -> Result<Actor, EngineError> {
        let actor = self.admit_principal(caller, action, &[])?;
        self.authorize_vault(&actor, action)?;
        Ok(actor)
    }
}
