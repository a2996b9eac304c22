//! Recording decisions in the ledger before anything is released.
//!
//! Every access path calls [`Vault::record`] (or [`Vault::record_each`] for
//! bulk jobs) after it has decided and before it touches plaintext; the
//! [`Recorded`] proof that comes back is what `open_fields` demands. If the
//! ledger cannot take the event, the access fails with nothing released.

use custos_ledger::{NewEvent, Outcome, Recorded};
use custos_model::SubjectId;

use crate::error::{EngineError, Problem};
use crate::principal::Caller;
use crate::vault::Vault;

/// What a principal did, as the ledger names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Read,
    Create,
    Update,
    Erase,
    Find,
    List,
    Import,
    Export,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Erase => "erase",
            Self::Find => "find",
            Self::List => "list",
            Self::Import => "import",
            Self::Export => "export",
        }
    }
}

/// One decision to record.
pub(crate) struct Decision<'a> {
    pub(crate) action: Action,
    pub(crate) subjects: Vec<&'a SubjectId>,
    pub(crate) released: Vec<String>,
    pub(crate) outcome: Outcome,
    pub(crate) reason: String,
}

impl<'a> Decision<'a> {
    /// An allowed decision.
    pub(crate) fn allowed(
        action: Action,
        subjects: Vec<&'a SubjectId>,
        released: Vec<String>,
    ) -> Self {
        Self {
            action,
            subjects,
            released,
            outcome: Outcome::Allowed,
            reason: String::new(),
        }
    }
}

impl Vault {
    fn event(&self, who: &Caller, decision: Decision<'_>) -> NewEvent {
        NewEvent {
            principal: who.principal().name().to_owned(),
            auth: who.principal().method().as_str().to_owned(),
            action: decision.action.as_str().to_owned(),
            purpose: who.purpose().to_owned(),
            subjects: decision
                .subjects
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            fields_released: decision.released,
            fields_denied: Vec::new(),
            outcome: decision.outcome,
            reason: decision.reason,
            request_id: who.request_id().to_owned(),
            client: who.client().to_owned(),
        }
    }

    /// Records one decision durably. Only with the returned proof may the
    /// caller release data.
    pub(crate) fn record(
        &self,
        who: &Caller,
        decision: Decision<'_>,
    ) -> Result<Recorded, EngineError> {
        self.recorder
            .record(self.event(who, decision))
            .map_err(|e| EngineError::Unrecorded(e.to_string()))
    }

    /// Records one event per subject, all in one ledger transaction.
    pub(crate) fn record_each(
        &self,
        who: &Caller,
        action: Action,
        subjects: &[SubjectId],
        released: &[String],
    ) -> Result<Vec<Recorded>, EngineError> {
        let events = subjects
            .iter()
            .map(|id| self.event(who, Decision::allowed(action, vec![id], released.to_vec())))
            .collect();
        self.recorder
            .record_batch(events)
            .map_err(|e| EngineError::Unrecorded(e.to_string()))
    }

    /// Records a refused or failed attempt, then hands back the error. If the
    /// attempt cannot be recorded, the caller gets that failure instead (503),
    /// so that a prober cannot tell an absent subject from a present one
    /// while the ledger is down, unrecorded.
    pub(crate) fn refuse(
        &self,
        who: &Caller,
        action: Action,
        subjects: Vec<&SubjectId>,
        error: EngineError,
    ) -> EngineError {
        let outcome = match error.kind() {
            crate::ErrorKind::Invalid | crate::ErrorKind::NotFound | crate::ErrorKind::Conflict => {
                Outcome::Denied
            }
            _ => Outcome::Failed,
        };
        let reason = match &error {
            EngineError::Invalid(problems, _) => self.invalid_reason(problems),
            other => other.to_string(),
        };
        let decision = Decision {
            action,
            subjects,
            released: Vec::new(),
            outcome,
            reason,
        };
        match self.record(who, decision) {
            Ok(_) => error,
            Err(unrecorded) => {
                tracing::error!(refused = %error, "could not record a refused access");
                unrecorded
            }
        }
    }

    /// A short reason for an invalid request. Problems never hold values,
    /// but they may quote (in backticks, by convention) what the caller typed
    /// where a field name belongs, which could be a value typed in the wrong
    /// place, and the ledger can never be erased. So it keeps only problems
    /// about fields the schema knows, or that quote nothing.
    fn invalid_reason(&self, problems: &[Problem]) -> String {
        let known = problems.iter().find(|p| match p.field.as_deref() {
            Some(field) => self.schema.field(field).is_some(),
            None => !p.message.contains('`'),
        });
        match known {
            Some(problem) => format!("invalid request: {problem}"),
            None => format!("invalid request ({} problems)", problems.len()),
        }
    }
}
