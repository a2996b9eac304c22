//! The processor registry: the contractors and mailing houses that receive
//! exports, with their contact, their Art. 28 contract and the purposes
//! they serve.
//!
//! A processor's own staff, if they have API access, are principals whose
//! `organisation` attribute names the processor (or a principal named like
//! it): an incident scoped to the processor covers what they read as well
//! as every export it received.

use custos_model::{PrincipalName, ProcessorName, PurposeName};
use custos_store::{ExportRecord, ProcessorRecord};

use crate::access_state::AccessState;
use crate::clock::now_stamp;
use crate::error::{EngineError, Problem};
use crate::principal::Caller;
use crate::recording::{Action, Entry};
use crate::vault::Vault;

/// A processor to register.
#[derive(Debug, Clone, Default)]
pub struct NewProcessor {
    /// Its name, like a principal's: `mailhouse`.
    pub name: String,
    /// How to reach them about a breach.
    pub contact: String,
    /// The reference of the processing contract.
    pub contract_ref: String,
    /// The purposes they process data for.
    pub purposes: Vec<String>,
}

/// A processor with what it received and who acts for it.
#[derive(Debug, Clone)]
pub struct ProcessorView {
    /// The registration.
    pub record: ProcessorRecord,
    /// Every export made to it, oldest first.
    pub exports: Vec<ExportRecord>,
    /// The principals who act for it.
    pub principals: Vec<PrincipalName>,
}

/// The longest contact or contract reference.
const MAX_TEXT: usize = 300;

fn text(key: &str, value: &str, problems: &mut Vec<Problem>) -> String {
    let value = value.trim();
    if value.is_empty() {
        problems.push(Problem::field(key, "is required"));
    } else if value.chars().count() > MAX_TEXT {
        problems.push(Problem::field(
            key,
            format!("is longer than {MAX_TEXT} characters"),
        ));
    } else if value.chars().any(char::is_control) {
        problems.push(Problem::field(key, "contains a control character"));
    }
    value.to_owned()
}

/// The principals who act for a processor: those whose `organisation`
/// attribute names it, and one named like it.
pub(crate) fn principals_of(state: &AccessState, processor: &ProcessorName) -> Vec<PrincipalName> {
    state
        .principals
        .values()
        .filter(|p| {
            p.record.name.as_str() == processor.as_str()
                || p.record
                    .attributes
                    .get(custos_model::AttributeKey::Organisation)
                    == Some(processor.as_str())
        })
        .map(|p| p.record.name.clone())
        .collect()
}

impl Vault {
    /// Registers a processor; administrators only. Its purposes must be
    /// registered.
    pub fn add_processor(
        &self,
        caller: &Caller,
        new: &NewProcessor,
    ) -> Result<ProcessorRecord, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let state = actor.state()?;
        let mut problems = Vec::new();
        let name = ProcessorName::parse(new.name.trim())
            .map_err(|e| problems.push(Problem::field("name", e.to_string())))
            .ok();
        let contact = text("contact", &new.contact, &mut problems);
        let contract_ref = text("contract", &new.contract_ref, &mut problems);
        let mut purposes: Vec<PurposeName> = Vec::new();
        if new.purposes.is_empty() {
            problems.push(Problem::field(
                "purposes",
                "is required: name the purposes the processor serves, such as campaigning",
            ));
        }
        for raw in &new.purposes {
            match state.purpose(raw.trim()) {
                Some(p) if !purposes.contains(p.name()) => purposes.push(p.name().clone()),
                Some(_) => {}
                None => problems.push(Problem::field(
                    "purposes",
                    format!(
                        "`{}` is not a registered purpose (see `custos purpose list`)",
                        raw.trim()
                    ),
                )),
            }
        }
        let name = match (name, problems.is_empty()) {
            (Some(name), true) => name,
            _ => {
                return Err(self.refuse(
                    &actor,
                    Action::Administer,
                    Vec::new(),
                    EngineError::Invalid(problems, 0),
                ));
            }
        };
        let record = ProcessorRecord {
            name,
            contact,
            contract_ref,
            purposes,
            created_at: now_stamp(),
            created_by: actor.name.clone(),
        };
        self.store
            .insert_processor(&record)
            .map_err(|e| self.refuse(&actor, Action::Administer, Vec::new(), e.into()))?;
        self.record(
            &actor,
            Entry {
                reason: format!("registered processor `{}`", record.name),
                ..Entry::allowed(Action::Administer, Vec::new(), Vec::new())
            },
        )?;
        Ok(record)
    }

    /// Every processor, by name: administrators and the DPO (`audit`).
    pub fn processors(&self, caller: &Caller) -> Result<Vec<ProcessorRecord>, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        Ok(self.store.processors()?)
    }

    /// One processor, with its exports and the principals who act for it.
    pub fn processor(&self, caller: &Caller, name: &str) -> Result<ProcessorView, EngineError> {
        let actor = self.admit_admin(caller, Action::Audit)?;
        let record = self.registered_processor(name)?;
        Ok(ProcessorView {
            exports: self.store.exports(Some(&record.name))?,
            principals: principals_of(&*actor.state()?, &record.name),
            record,
        })
    }

    /// A registered processor, or an error that names it.
    pub(crate) fn registered_processor(&self, name: &str) -> Result<ProcessorRecord, EngineError> {
        let parsed = ProcessorName::parse(name.trim()).map_err(|e| {
            EngineError::invalid(Problem::field(
                "processor",
                format!("`{}` {e}", name.trim()),
            ))
        })?;
        self.store
            .processor(&parsed)?
            .ok_or_else(|| custos_store::StoreError::ProcessorNotFound(parsed).into())
    }
}
