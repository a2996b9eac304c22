//! The breach register (Art. 33(5)): opening an incident, following it up
//! in phases (Art. 33(4)), and the report of what it exposed, with the
//! 72-hour clock and the Art. 34 assessment.
//!
//! Incidents are the DPO's: each operation is decided as `audit` (the DPO
//! and administrators by default), and opening or following one up is
//! recorded in the ledger. The exposure itself is computed from the ledger
//! each time it is asked for (`exposure.rs`), so a report is as true as the
//! ledger it is read from.

use custos_model::{DataCategory, FieldName, IncidentId, PrincipalName, PrincipalStatus};
use custos_store::{
    IncidentChange, IncidentRecord, IncidentStatus, IncidentUpdate, NewIncident, StoreError,
};
use time::OffsetDateTime;

use crate::clock::{parse_stamp, stamp};
use crate::error::{EngineError, Problem};
use crate::exposure::{Exposure, deadline};
use crate::incident_scope::{Scope, ScopeSource, parse_instant};
use crate::organisation::Organisation;
use crate::principal::{Actor, Caller};
use crate::recording::{Action, Entry};
use crate::vault::Vault;

/// An incident to open, as typed.
#[derive(Debug, Clone, Default)]
pub struct IncidentOpening {
    /// A short title.
    pub title: String,
    /// What happened, in words; drawn from the scopes if empty.
    pub nature: String,
    /// When the organisation became aware: RFC 3339 (or a date).
    pub aware_at: String,
    /// What was exposed, as scopes (`principal:ana`, `processor:mailhouse`, …).
    pub scopes: Vec<String>,
    /// Whether the master key was taken with the store (for `store`).
    pub keys_exposed: bool,
}

/// A follow-up, as typed: each value given replaces the old one.
#[derive(Debug, Clone, Default)]
pub struct IncidentFollowUp {
    /// What was learned, in words; kept in the timeline.
    pub note: Option<String>,
    /// A new description of what happened.
    pub nature: Option<String>,
    /// The likely consequences, as the DPO assesses them.
    pub consequences: Option<String>,
    /// The measures taken or proposed.
    pub measures: Option<String>,
    /// When the supervisory authority was notified.
    pub reported_at: Option<String>,
    /// When the people affected were notified.
    pub subjects_notified_at: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
}

/// The Art. 34 assessment: must the people affected be told?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Art34Assessment {
    /// Whether the breach is likely to result in a high risk to them, so
    /// that they must be told without undue delay.
    pub notify_subjects: bool,
    /// The exception that applies, such as `art_34_3_a` (the data was
    /// unintelligible to whoever took it).
    pub exception: Option<&'static str>,
    /// Why, in sentences.
    pub reasons: Vec<String>,
}

/// Everything a report on an incident says.
#[derive(Debug, Clone)]
pub struct IncidentReport {
    /// The incident, as in the register.
    pub record: IncidentRecord,
    /// Its follow-ups, oldest first.
    pub updates: Vec<IncidentUpdate>,
    /// Who was exposed, and what.
    pub exposure: Exposure,
    /// The controller and its DPO.
    pub organisation: Organisation,
    /// When the report was made.
    pub generated_at: String,
    /// `aware_at` plus 72 hours (Art. 33(1)).
    pub deadline: String,
    /// Seconds left until the deadline (negative once past it).
    pub seconds_remaining: i64,
    /// The Art. 34 assessment.
    pub art34: Art34Assessment,
    /// The likely consequences: what the data exposed allows, then the
    /// DPO's own assessment.
    pub consequences: Vec<String>,
    /// The measures taken or proposed: what the vault knows (revocations,
    /// encryption), then the DPO's own.
    pub measures: Vec<String>,
    /// What happened when, oldest first.
    pub timeline: Vec<(String, String)>,
}

/// The longest title.
const MAX_TITLE: usize = 200;
/// The longest free text (nature, notes, consequences, measures).
const MAX_TEXT: usize = 20_000;

fn text(key: &str, raw: &str, max: usize, one_line: bool) -> Result<String, Problem> {
    let value = raw.trim();
    if value.chars().count() > max {
        return Err(Problem::field(
            key,
            format!("is longer than {max} characters"),
        ));
    }
    let control = |c: char| c.is_control() && (one_line || !matches!(c, '\n' | '\t'));
    if value.chars().any(control) {
        return Err(Problem::field(key, "contains a control character"));
    }
    Ok(value.to_owned())
}

/// A time that must not be in the future, such as when someone became
/// aware or notified.
fn past_time(key: &str, raw: &str, now: OffsetDateTime) -> Result<String, Problem> {
    let t = parse_instant(raw.trim(), false).map_err(|m| Problem::field(key, m))?;
    if t > now {
        return Err(Problem::field(
            key,
            format!(
                "`{}` is in the future; give the time it happened (now is {})",
                raw.trim(),
                stamp(now)
            ),
        ));
    }
    Ok(stamp(t))
}

/// Parses an incident id as typed.
pub(crate) fn parse_incident_id(raw: &str) -> Result<IncidentId, EngineError> {
    IncidentId::parse(raw)
        .map_err(|e| EngineError::invalid(Problem::field("incident", e.to_string())))
}

impl Vault {
    /// Opens an incident, computes what it exposed, and returns it as
    /// registered.
    pub fn open_incident(
        &self,
        caller: &Caller,
        opening: &IncidentOpening,
    ) -> Result<IncidentRecord, EngineError> {
        let actor = self.admit_admin(caller, Action::Incident)?;
        let refuse = |e| self.refuse(&actor, Action::Incident, Vec::new(), e);
        let now = OffsetDateTime::now_utc();
        let mut problems = Vec::new();
        let title = text("title", &opening.title, MAX_TITLE, true)
            .map_err(|p| problems.push(p))
            .unwrap_or_default();
        if title.is_empty() && problems.is_empty() {
            problems.push(Problem::field("title", "is required"));
        }
        let nature = text("nature", &opening.nature, MAX_TEXT, false)
            .map_err(|p| problems.push(p))
            .unwrap_or_default();
        let aware_at = if opening.aware_at.trim().is_empty() {
            problems.push(Problem::field(
                "aware_at",
                "is required: when the organisation became aware, such as 2026-12-06T09:30:00Z",
            ));
            String::new()
        } else {
            past_time("aware_at", &opening.aware_at, now)
                .map_err(|p| problems.push(p))
                .unwrap_or_default()
        };
        let mut scopes = Vec::new();
        for raw in &opening.scopes {
            match Scope::parse(raw) {
                Ok(scope) => scopes.push(scope),
                Err(m) => problems.push(Problem::field("scope", m)),
            }
        }
        if opening.scopes.is_empty() {
            problems.push(Problem::field(
                "scope",
                "is required: what was exposed, such as processor:mailhouse or principal:ana",
            ));
        }
        if opening.keys_exposed && !scopes.iter().any(|s| s.source == ScopeSource::Store) {
            problems.push(Problem::field(
                "keys_exposed",
                "applies only to a `store` scope (the store file was taken)",
            ));
        }
        if !problems.is_empty() {
            return Err(refuse(EngineError::Invalid(problems, 0)));
        }
        self.check_scopes(&scopes).map_err(refuse)?;
        let exposure = self.exposure(&scopes, opening.keys_exposed, &aware_at)?;
        let nature = if nature.is_empty() {
            describe_scopes(&scopes, opening.keys_exposed)
        } else {
            nature
        };
        let id = self.store.insert_incident(&NewIncident {
            title,
            nature,
            aware_at,
            opened_at: stamp(now),
            opened_by: actor.name.clone(),
            scopes: scopes.iter().map(ToString::to_string).collect(),
            keys_exposed: opening.keys_exposed,
            affected: affected(&exposure),
        })?;
        self.record(
            &actor,
            Entry {
                reason: format!(
                    "opened incident {id}: {} people affected, {} with special-category data",
                    affected(&exposure).0,
                    affected(&exposure).1
                ),
                ..Entry::allowed(Action::Incident, Vec::new(), Vec::new())
            },
        )?;
        self.registered_incident(id)
    }

    /// The breach register: every incident, oldest first.
    pub fn incidents(&self, caller: &Caller) -> Result<Vec<IncidentRecord>, EngineError> {
        self.admit_admin(caller, Action::Incident)?;
        Ok(self.store.incidents()?)
    }

    /// Follows an incident up: records what changed in its timeline, and
    /// refreshes the number of people affected.
    pub fn update_incident(
        &self,
        caller: &Caller,
        id: &str,
        follow_up: &IncidentFollowUp,
    ) -> Result<IncidentRecord, EngineError> {
        let actor = self.admit_admin(caller, Action::Incident)?;
        let refuse = |e| self.refuse(&actor, Action::Incident, Vec::new(), e);
        let id = parse_incident_id(id).map_err(refuse)?;
        let record = self.registered_incident(id).map_err(refuse)?;
        let now = OffsetDateTime::now_utc();
        let mut problems = Vec::new();
        let mut said = Vec::new();
        let mut optional_text = |key: &str, raw: &Option<String>, what: &str| {
            raw.as_ref()
                .and_then(|r| match text(key, r, MAX_TEXT, false) {
                    Ok(v) => {
                        said.push(what.to_owned());
                        Some(v)
                    }
                    Err(p) => {
                        problems.push(p);
                        None
                    }
                })
        };
        let note = optional_text("note", &follow_up.note, "");
        let mut change = IncidentChange {
            nature: optional_text(
                "nature",
                &follow_up.nature,
                "the description of what happened",
            ),
            consequences: optional_text(
                "consequences",
                &follow_up.consequences,
                "the likely consequences",
            ),
            measures: optional_text("measures", &follow_up.measures, "the measures taken"),
            ..IncidentChange::default()
        };
        said.retain(|s| !s.is_empty());
        let mut time = |key: &str, raw: &Option<String>| {
            raw.as_ref()
                .and_then(|r| past_time(key, r, now).map_err(|p| problems.push(p)).ok())
        };
        change.reported_at = time("reported_at", &follow_up.reported_at);
        change.subjects_notified_at = time("subjects_notified_at", &follow_up.subjects_notified_at);
        if let Some(raw) = &follow_up.status {
            match IncidentStatus::parse(raw.trim()) {
                Ok(status) => change.status = Some((status, stamp(now))),
                Err(m) => problems.push(Problem::field("status", m)),
            }
        }
        let nothing = note.as_deref().is_none_or(str::is_empty)
            && change.nature.is_none()
            && change.consequences.is_none()
            && change.measures.is_none()
            && change.reported_at.is_none()
            && change.subjects_notified_at.is_none()
            && change.status.is_none();
        if problems.is_empty() && nothing {
            problems.push(Problem::general(
                "nothing to record: give a note, the nature, consequences or measures, when the authority or the people affected were notified, or a status",
            ));
        }
        if !problems.is_empty() {
            return Err(refuse(EngineError::Invalid(problems, 0)));
        }
        let scopes = parse_stored_scopes(&record)?;
        let exposure = self.exposure(
            &scopes,
            record.incident.keys_exposed,
            &record.incident.aware_at,
        )?;
        change.affected = Some(affected(&exposure));
        let mut summary: Vec<String> = Vec::new();
        if let Some(note) = note.filter(|n| !n.is_empty()) {
            summary.push(note);
        }
        if !said.is_empty() {
            summary.push(format!("Updated {}.", said.join(", ")));
        }
        if let Some(at) = &change.reported_at {
            summary.push(format!("The supervisory authority was notified at {at}."));
        }
        if let Some(at) = &change.subjects_notified_at {
            summary.push(format!("The people affected were notified at {at}."));
        }
        if let Some((status, _)) = &change.status {
            summary.push(format!("Status set to {}.", status.as_str()));
        }
        let (people, special) = affected(&exposure);
        summary.push(format!(
            "{people} people affected, {special} with special-category data."
        ));
        let summary = summary.join(" ");
        self.store
            .update_incident(id, &change, &stamp(now), &actor.name, &summary)?;
        self.record(
            &actor,
            Entry {
                reason: format!("followed up incident {id}"),
                ..Entry::allowed(Action::Incident, Vec::new(), Vec::new())
            },
        )?;
        self.registered_incident(id)
    }

    /// The report of an incident: the Art. 33(3) content, the timeline,
    /// the 72-hour clock, the Art. 34 assessment, and everyone exposed.
    pub fn incident_report(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<IncidentReport, EngineError> {
        let actor = self.admit_admin(caller, Action::Incident)?;
        let id = parse_incident_id(id)
            .map_err(|e| self.refuse(&actor, Action::Incident, Vec::new(), e))?;
        self.report_for(&actor, id)
    }

    pub(crate) fn report_for(
        &self,
        actor: &Actor,
        id: IncidentId,
    ) -> Result<IncidentReport, EngineError> {
        let record = self
            .registered_incident(id)
            .map_err(|e| self.refuse(actor, Action::Incident, Vec::new(), e))?;
        let scopes = parse_stored_scopes(&record)?;
        let exposure = self.exposure(
            &scopes,
            record.incident.keys_exposed,
            &record.incident.aware_at,
        )?;
        let updates = self.store.incident_updates(id)?;
        let organisation = self.current_organisation()?;
        let now = OffsetDateTime::now_utc();
        let deadline = deadline(&record.incident.aware_at).unwrap_or_default();
        let seconds_remaining = parse_stamp(&deadline).map_or(0, |d| (d - now).whole_seconds());
        let art34 = assess_art34(&scopes, record.incident.keys_exposed, &exposure);
        let consequences = self.consequences(&record, &exposure);
        let measures = self.measures(&record, &scopes)?;
        let timeline = timeline(&record, &updates, &exposure, &deadline);
        Ok(IncidentReport {
            record,
            updates,
            exposure,
            organisation,
            generated_at: stamp(now),
            deadline,
            seconds_remaining,
            art34,
            consequences,
            measures,
            timeline,
        })
    }

    fn registered_incident(&self, id: IncidentId) -> Result<IncidentRecord, EngineError> {
        Ok(self
            .store
            .incident(id)?
            .ok_or(StoreError::IncidentNotFound(id))?)
    }

    /// What the data exposed allows, for everyone affected, then the DPO's
    /// assessment.
    fn consequences(&self, record: &IncidentRecord, exposure: &Exposure) -> Vec<String> {
        let mut fields: Vec<FieldName> = Vec::new();
        let mut categories: Vec<DataCategory> = Vec::new();
        for set in exposure.field_sets() {
            fields.extend(set.fields.iter().cloned());
            categories.extend(set.categories.iter().copied());
        }
        fields.sort();
        fields.dedup();
        categories.sort();
        categories.dedup();
        let encrypted = exposure
            .subjects
            .iter()
            .any(|s| !s.encrypted_fields.is_empty());
        consequences_of(record, &fields, &categories, encrypted)
    }

    /// What the vault knows was done (revocations, encryption), then the
    /// DPO's own measures.
    fn measures(
        &self,
        record: &IncidentRecord,
        scopes: &[Scope],
    ) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        let principal = |name: &str, out: &mut Vec<String>| -> Result<(), EngineError> {
            let Ok(parsed) = PrincipalName::parse(name) else {
                return Ok(());
            };
            if let Some(p) = self.store.principal(&parsed)? {
                out.push(match p.status {
                    PrincipalStatus::Revoked => format!(
                        "Principal `{name}` was revoked{}, with every token and session of theirs.",
                        p.status_changed_at.map(|t| format!(" at {t}")).unwrap_or_default()
                    ),
                    PrincipalStatus::Suspended => format!(
                        "Principal `{name}` was suspended{}.",
                        p.status_changed_at.map(|t| format!(" at {t}")).unwrap_or_default()
                    ),
                    PrincipalStatus::Active => format!(
                        "Principal `{name}` can still act: revoke them with `custos principal revoke {name}` if they are the source of the breach."
                    ),
                });
            }
            Ok(())
        };
        for scope in scopes {
            match &scope.source {
                ScopeSource::Principal(name) => principal(name, &mut out)?,
                ScopeSource::Token(id) => {
                    if let Some(t) = self.store.token(id)? {
                        out.push(match &t.revoked_at {
                            Some(at) => format!("Token `{id}` was revoked at {at}."),
                            None => format!("Token `{id}` is still live: revoke it with `custos token revoke {id}`."),
                        });
                    }
                }
                ScopeSource::Processor(name) => {
                    out.push(format!(
                        "Every export to processor `{name}` was recorded with its subjects, fields and file hash, and carried canary records that identify it if it is seen elsewhere."
                    ));
                    for p in crate::processors::principals_of(&*self.access()?, name) {
                        principal(p.as_str(), &mut out)?;
                    }
                }
                ScopeSource::Export(id) => out.push(format!(
                    "Export {id} was recorded with its subjects, fields and file hash, and carried canary records that identify it if it is seen elsewhere."
                )),
                ScopeSource::Everything => {}
                ScopeSource::Store => out.push(if record.incident.keys_exposed {
                    "The master key was taken with the store: rotate it at once (`custos rotate-master-key`) and erase what is no longer needed.".to_owned()
                } else {
                    "Every member's fields are encrypted under a key of their own, wrapped by a master key held outside the store; the master key was not taken.".to_owned()
                }),
            }
        }
        out.push("Every access is recorded in a signed, tamper-evident ledger, from which this report was computed.".to_owned());
        if !record.measures.is_empty() {
            out.push(format!("Measures the DPO reports: {}", record.measures));
        }
        Ok(out)
    }
}

/// What exposing these fields allows, in sentences, then the DPO's
/// assessment: for a report (everyone's fields) or one letter (one
/// person's).
pub(crate) fn consequences_of(
    record: &IncidentRecord,
    fields: &[FieldName],
    categories: &[DataCategory],
    encrypted: bool,
) -> Vec<String> {
    let has = |c: DataCategory| categories.contains(&c);
    let names = fields
        .iter()
        .any(|f| matches!(f.as_str(), "given_name" | "family_name"));
    let mut out = Vec::new();
    if names {
        out.push("People can be identified as members (or former members) of the organisation, which may reveal their political opinions or trade-union membership.".to_owned());
    }
    if has(DataCategory::Contact) {
        out.push("Phishing, scams, spam or unwanted calls and letters using the contact details exposed, possibly pretending to come from the organisation.".to_owned());
    }
    if has(DataCategory::Identity) && !names {
        out.push(
            "Identity details may be combined with other data to impersonate people.".to_owned(),
        );
    }
    if has(DataCategory::Financial) {
        out.push(
            "Targeted fraud using what is known of people's donations or payments.".to_owned(),
        );
    }
    let special: Vec<&str> = categories
        .iter()
        .filter(|c| c.is_special())
        .map(|c| c.as_str())
        .collect();
    if !special.is_empty() {
        out.push(format!(
            "Discrimination, harassment or distress from the disclosure of special-category data ({}).",
            special.join(", ")
        ));
    }
    if has(DataCategory::FreeText) {
        out.push(
            "Notes kept about people may reveal anything they told the organisation.".to_owned(),
        );
    }
    if encrypted && !record.incident.keys_exposed {
        out.push("The encrypted fields taken cannot be read without the master key, which was not taken.".to_owned());
    }
    if out.is_empty() {
        out.push("No personal data was released within the scope of this incident.".to_owned());
    }
    if !record.consequences.is_empty() {
        out.push(format!("The DPO's assessment: {}", record.consequences));
    }
    out
}

/// The people affected, and those with special-category data exposed.
fn affected(exposure: &Exposure) -> (u64, u64) {
    (
        exposure.subjects.len() as u64,
        exposure
            .subjects
            .iter()
            .filter(|s| s.special_category)
            .count() as u64,
    )
}

pub(crate) fn parse_stored_scopes(record: &IncidentRecord) -> Result<Vec<Scope>, EngineError> {
    record
        .incident
        .scopes
        .iter()
        .map(|s| {
            Scope::parse(s).map_err(|m| {
                EngineError::Store(StoreError::Corrupt(format!(
                    "incident `{}`: a stored scope does not parse: {m}",
                    record.id
                )))
            })
        })
        .collect()
}

/// A description of what happened, drawn from the scopes, when the DPO
/// gave none.
fn describe_scopes(scopes: &[Scope], keys_exposed: bool) -> String {
    let parts: Vec<String> = scopes
        .iter()
        .map(|s| {
            let when = s
                .window
                .map(|w| {
                    format!(
                        " between {} and {}",
                        w.start_stamp().unwrap_or_else(|| "the start".into()),
                        w.end_stamp().unwrap_or_else(|| "now".into())
                    )
                })
                .unwrap_or_default();
            match &s.source {
                ScopeSource::Principal(name) => {
                    format!("personal data released to principal {name}{when} may have been misused")
                }
                ScopeSource::Token(id) => format!("API token {id} was compromised, exposing what it was used to read{when}"),
                ScopeSource::Processor(name) => format!(
                    "processor {name} was breached, exposing the data exported to it and what its staff read{when}"
                ),
                ScopeSource::Export(id) => format!("the file of export {id} was exposed"),
                ScopeSource::Everything => format!("personal data released by the vault{when} was exposed"),
                ScopeSource::Store => format!(
                    "a copy of the vault's store was taken{when}{}",
                    if keys_exposed { ", with its master key" } else { ", without its master key" }
                ),
            }
        })
        .collect();
    let mut text = parts.join("; ");
    if let Some(first) = text.get(..1) {
        text = format!("{}{}.", first.to_uppercase(), &text[1..]);
    }
    text
}

/// Art. 34: high risk, and so notices, unless nothing readable that
/// matters left, or what left was unintelligible (Art. 34(3)(a)).
fn assess_art34(scopes: &[Scope], keys_exposed: bool, exposure: &Exposure) -> Art34Assessment {
    let high_risk = |c: &DataCategory| {
        matches!(
            c,
            DataCategory::Contact
                | DataCategory::Financial
                | DataCategory::FreeText
                | DataCategory::Special(_)
        )
    };
    let identifying = exposure.subjects.iter().any(|s| {
        s.categories.iter().any(high_risk)
            || s.fields
                .iter()
                .any(|f| matches!(f.as_str(), "given_name" | "family_name" | "date_of_birth"))
    });
    let special = exposure
        .subjects
        .iter()
        .filter(|s| s.special_category)
        .count();
    let stolen_store = scopes.iter().any(|s| s.source == ScopeSource::Store);
    let mut reasons = Vec::new();
    if exposure.subjects.is_empty() {
        reasons.push("No personal data was released within the scope of this incident, so no one needs to be told.".to_owned());
        return Art34Assessment {
            notify_subjects: false,
            exception: None,
            reasons,
        };
    }
    if identifying {
        reasons.push(
            "Names, contact details, financial, free-text or special-category data left the vault readable: this is likely to result in a high risk to the people affected, who must be told without undue delay (Art. 34(1)).".to_owned(),
        );
        if special > 0 {
            reasons.push(format!(
                "{special} of them had special-category data (Art. 9) exposed."
            ));
        }
        return Art34Assessment {
            notify_subjects: true,
            exception: None,
            reasons,
        };
    }
    if stolen_store && !keys_exposed {
        reasons.push("The data taken was encrypted under per-person keys wrapped by a master key that was not taken, so it is unintelligible to whoever holds it (Art. 34(3)(a)). Only membership numbers and scope attributes were in clear, which identify no one without the encrypted names and contact details.".to_owned());
        return Art34Assessment {
            notify_subjects: false,
            exception: Some("art_34_3_a"),
            reasons,
        };
    }
    reasons.push("Only membership numbers and organisational attributes (such as constituency or membership status) left the vault; without names or contact details they are unlikely to result in a high risk. Record the reasoning, and notify if other facts change it.".to_owned());
    Art34Assessment {
        notify_subjects: false,
        exception: None,
        reasons,
    }
}

fn timeline(
    record: &IncidentRecord,
    updates: &[IncidentUpdate],
    exposure: &Exposure,
    deadline: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(first) = exposure.subjects.iter().map(|s| &s.first_exposed).min() {
        out.push((first.clone(), "first exposure within scope".to_owned()));
    }
    if let Some(last) = exposure.subjects.iter().map(|s| &s.last_exposed).max() {
        out.push((last.clone(), "last exposure within scope".to_owned()));
    }
    out.push((
        record.incident.aware_at.clone(),
        "the organisation became aware; the 72-hour clock starts".to_owned(),
    ));
    out.push((
        record.incident.opened_at.clone(),
        format!("incident opened by {}", record.incident.opened_by),
    ));
    for u in updates {
        out.push((
            u.time.clone(),
            format!("follow-up {} by {}: {}", u.n, u.by, u.summary),
        ));
    }
    if let Some(at) = &record.reported_at {
        out.push((at.clone(), "supervisory authority notified".to_owned()));
    }
    if let Some(at) = &record.subjects_notified_at {
        out.push((at.clone(), "people affected notified".to_owned()));
    }
    if let Some(at) = &record.closed_at {
        out.push((at.clone(), "incident closed".to_owned()));
    }
    out.push((
        deadline.to_owned(),
        "deadline to notify the supervisory authority (Art. 33(1))".to_owned(),
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The time left until a deadline, in words: `41 h 12 min left` or
/// `overdue by 3 h 5 min`.
pub fn remaining_words(seconds: i64) -> String {
    let minutes = seconds.unsigned_abs() / 60;
    let words = if minutes >= 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    };
    if seconds >= 0 {
        format!("{words} left")
    } else {
        format!("overdue by {words}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time_reads_naturally() {
        assert_eq!(remaining_words(41 * 3600 + 12 * 60 + 5), "41 h 12 min left");
        assert_eq!(remaining_words(59), "0 min left");
        assert_eq!(
            remaining_words(-(3 * 3600 + 5 * 60)),
            "overdue by 3 h 5 min"
        );
    }

    #[test]
    fn a_description_is_drawn_from_the_scopes() {
        let scopes = vec![
            Scope::parse("processor:mailhouse").unwrap(),
            Scope::parse("store").unwrap(),
        ];
        let text = describe_scopes(&scopes, false);
        assert!(
            text.starts_with("Processor mailhouse was breached"),
            "{text}"
        );
        assert!(text.ends_with("without its master key."), "{text}");
    }
}
