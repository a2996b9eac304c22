//! Recording decisions in the ledger before anything is released.
//!
//! Every access path calls [`Vault::record`] (or [`Vault::record_each`] for
//! bulk jobs) after it has decided and before it touches plaintext; the
//! [`Recorded`] proof that comes back is what `open_fields` demands. If the
//! ledger cannot take the event, the access fails with nothing released.

use custos_ledger::{NewEvent, Outcome, Recorded};
use custos_model::SubjectId;

use crate::error::{EngineError, Problem};
use crate::principal::Actor;
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
    /// The manifest of an export to a processor, recorded once its file is
    /// complete: what went to whom, and the file's hash.
    ExportManifest,
    /// A login, a logout or a session check.
    Login,
    /// A change to principals, tokens, purposes or policies.
    Administer,
    /// A read of the ledger or the alerts.
    Audit,
    /// Opening or following up an incident in the breach register.
    Incident,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Erase => "erase",
            Self::Find => "find",
            Self::List => "list",
            Self::Import => "import",
            Self::Export => "export",
            Self::ExportManifest => "export_manifest",
            Self::Login => "login",
            Self::Administer => "administer",
            Self::Audit => "audit",
            Self::Incident => "incident",
        }
    }
}

/// One entry to record.
pub(crate) struct Entry<'a> {
    pub(crate) action: Action,
    pub(crate) subjects: Vec<&'a SubjectId>,
    pub(crate) released: Vec<String>,
    pub(crate) denied: Vec<String>,
    pub(crate) outcome: Outcome,
    pub(crate) reason: String,
}

impl<'a> Entry<'a> {
    /// An allowed entry.
    pub(crate) fn allowed(
        action: Action,
        subjects: Vec<&'a SubjectId>,
        released: Vec<String>,
    ) -> Self {
        Self {
            action,
            subjects,
            released,
            denied: Vec::new(),
            outcome: Outcome::Allowed,
            reason: String::new(),
        }
    }

    /// A denied entry.
    pub(crate) fn denied(action: Action, subjects: Vec<&'a SubjectId>) -> Self {
        Self {
            outcome: Outcome::Denied,
            ..Self::allowed(action, subjects, Vec::new())
        }
    }
}

impl Vault {
    fn event(&self, actor: &Actor, entry: Entry<'_>) -> NewEvent {
        NewEvent {
            principal: actor.name.clone(),
            auth: actor.recorded_auth(),
            action: entry.action.as_str().to_owned(),
            purpose: actor.purpose_label.clone(),
            subjects: entry
                .subjects
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            fields_released: entry.released,
            fields_denied: entry.denied,
            outcome: entry.outcome,
            reason: entry.reason,
            request_id: actor.request_id.clone(),
            client: actor.client.clone(),
        }
    }

    /// Records one entry durably. Only with the returned proof may the
    /// caller release data.
    pub(crate) fn record(&self, actor: &Actor, entry: Entry<'_>) -> Result<Recorded, EngineError> {
        self.recorder
            .record(self.event(actor, entry))
            .map_err(|e| EngineError::Unrecorded(e.to_string()))
    }

    /// Records one event per subject, all in one ledger transaction.
    pub(crate) fn record_each(
        &self,
        actor: &Actor,
        action: Action,
        subjects: &[SubjectId],
        released: &[String],
        reason: &str,
    ) -> Result<Vec<Recorded>, EngineError> {
        let events = subjects
            .iter()
            .map(|id| {
                let entry = Entry {
                    reason: reason.to_owned(),
                    ..Entry::allowed(action, vec![id], released.to_vec())
                };
                self.event(actor, entry)
            })
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
        actor: &Actor,
        action: Action,
        subjects: Vec<&SubjectId>,
        error: EngineError,
    ) -> EngineError {
        use crate::ErrorKind;
        let outcome = match error.kind() {
            ErrorKind::Invalid
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::Unauthenticated
            | ErrorKind::Forbidden
            | ErrorKind::TooManyAttempts => Outcome::Denied,
            _ => Outcome::Failed,
        };
        let denied = error
            .denials()
            .iter()
            .filter_map(|d| d.field.clone())
            .collect();
        let entry = Entry {
            action,
            subjects,
            released: Vec::new(),
            denied,
            outcome,
            reason: self.ledger_reason(&error),
        };
        match self.record(actor, entry) {
            Ok(_) => error,
            Err(unrecorded) => {
                tracing::error!(refused = %error, "could not record a refused access");
                unrecorded
            }
        }
    }

    /// The reason a refusal is recorded with. The ledger can never be
    /// erased, so it never copies text the caller typed where a name
    /// belongs (an unknown purpose, field or principal could be anything,
    /// even personal data); it keeps codes and the names the vault knows.
    fn ledger_reason(&self, error: &EngineError) -> String {
        match error {
            EngineError::Invalid(problems, _) => self.invalid_reason(problems),
            EngineError::Purpose { code, .. } => (*code).to_owned(),
            EngineError::Unauthenticated(failure) => failure.code().to_owned(),
            EngineError::Forbidden(denials) => denial_summary(denials),
            EngineError::Unknown(_) => "no such principal, token or purpose".to_owned(),
            EngineError::Store(custos_store::StoreError::ProcessorNotFound(_)) => {
                "no such processor".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// A short reason for an invalid request. Problems never hold values,
    /// but they may quote (in backticks, by convention) what the caller typed
    /// where a field name belongs, which could be a value typed in the wrong
    /// place. So it keeps only problems about fields the schema knows, or
    /// that quote nothing.
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

/// The words that begin the reason of a write: writes release nothing, so
/// the fields they wrote are named here rather than as released.
const FIELDS_WRITTEN: &str = "fields written: ";

/// The reason of a write of `fields`, followed by the policies that
/// allowed it.
pub(crate) fn written_reason(fields: &[String], permitted: &str) -> String {
    format!("{FIELDS_WRITTEN}{}; {permitted}", fields.join(", "))
}

/// The fields a write event wrote, from its reason.
pub(crate) fn fields_written(reason: &str) -> impl Iterator<Item = &str> {
    reason
        .strip_prefix(FIELDS_WRITTEN)
        .map(|rest| rest.split_once("; ").map_or(rest, |(fields, _)| fields))
        .into_iter()
        .flat_map(|fields| fields.split(", "))
        .map(str::trim)
        .filter(|f| !f.is_empty())
}

/// The words that mark a release withheld at the last moment: the event
/// that says so cancels the release recorded as event `seq`.
const WITHHELD: &str = "release withheld after event ";

/// The reason of an event that withholds the release recorded as `seq`.
pub(crate) fn withheld_reason(code: &str, seq: u64) -> String {
    format!("{code}: {WITHHELD}{seq}")
}

/// The release an event withholds, if it is such an event.
pub(crate) fn withheld_target(event: &custos_ledger::Event) -> Option<u64> {
    if event.outcome != Outcome::Denied {
        return None;
    }
    let (_, seq) = event.reason.split_once(WITHHELD)?;
    seq.parse().ok()
}

/// Denials in the ledger's words: field, code and the rules that decided.
pub(crate) fn denial_summary(denials: &[crate::error::Denial]) -> String {
    let parts: Vec<String> = denials
        .iter()
        .map(|d| {
            let rules = if d.rules.is_empty() {
                String::new()
            } else {
                format!(" ({})", d.rules.join(", "))
            };
            match &d.field {
                Some(field) => format!("{field}: {}{rules}", d.code),
                None => format!("{}{rules}", d.code),
            }
        })
        .collect();
    format!("denied {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use custos_ledger::{Event, Outcome};

    use super::*;

    #[test]
    fn reasons_read_back_what_they_say() {
        let fields = vec!["email".to_owned(), "phone".to_owned()];
        let reason = written_reason(&fields, "permitted by membership-team");
        assert_eq!(
            fields_written(&reason).collect::<Vec<_>>(),
            ["email", "phone"]
        );
        assert_eq!(fields_written("permitted by x").count(), 0);

        let mut event = Event {
            seq: 9,
            time: String::new(),
            principal: "ana".into(),
            auth: "api_token".into(),
            action: "read".into(),
            purpose: "casework".into(),
            subjects: vec!["M1".into()],
            fields_released: Vec::new(),
            fields_denied: Vec::new(),
            outcome: Outcome::Denied,
            reason: withheld_reason("principal_revoked", 7),
            request_id: String::new(),
            client: String::new(),
        };
        assert_eq!(withheld_target(&event), Some(7));
        event.outcome = Outcome::Allowed;
        assert_eq!(withheld_target(&event), None, "only refusals withhold");
    }
}
