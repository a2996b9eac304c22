//! Art. 34 notices: one plain-language letter per person an incident
//! affected, saying exactly which of their data was exposed, addressed to
//! them with their own contact details from the vault, plus a mail-merge
//! row for each.
//!
//! Reading names and contact details to write the letters is itself an
//! access to personal data, so it takes the one access path: the caller
//! declares the purpose `breach_notification`, each person is decided by
//! the policies, each page of letters is recorded in the ledger before it
//! is decrypted, and the principal is checked again before release.
//! People erased since the breach get no letter (nothing is held to
//! address one to), and are counted.

use std::io::Write;

use custos_model::{DataCategory, FieldName, FieldSpec, FieldValue, SubjectId};

use crate::access::MAX_PAGE;
use crate::error::{EngineError, Problem};
use crate::export::neutralise;
use crate::exposure::SubjectExposure;
use crate::incidents::{IncidentReport, consequences_of, parse_incident_id};
use crate::principal::Caller;
use crate::recording::{Action, Entry};
use crate::vault::Vault;

/// The purpose notices are written for.
pub const BREACH_PURPOSE: &str = "breach_notification";

/// One letter, with who it is for.
#[derive(Debug)]
pub struct Notice<'a> {
    /// The person's membership number.
    pub subject: &'a SubjectId,
    /// Their name and contact details, as the vault holds them.
    pub contact: &'a [(FieldName, Option<FieldValue>)],
    /// What was exposed.
    pub exposure: &'a SubjectExposure,
    /// The letter.
    pub text: String,
}

impl Notice<'_> {
    /// The person's value of a field, or "".
    pub fn value(&self, field: &str) -> &str {
        self.contact
            .iter()
            .find(|(name, _)| name.as_str() == field)
            .and_then(|(_, v)| v.as_ref())
            .map_or("", FieldValue::as_str)
    }

    /// The mail-merge row, in the order of [`NoticeRun::merge_header`].
    pub fn merge_row(&self) -> Vec<String> {
        let mut row = vec![self.subject.as_str().to_owned()];
        row.extend(
            self.contact
                .iter()
                .map(|(_, v)| v.as_ref().map_or("", FieldValue::as_str).to_owned()),
        );
        row.push(
            self.exposure
                .fields
                .iter()
                .map(FieldName::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        );
        row.push(self.exposure.special_category.to_string());
        row.push(self.exposure.first_exposed.clone());
        row.push(self.exposure.last_exposed.clone());
        row
    }
}

/// What writing the notices did.
#[derive(Debug, Clone)]
pub struct NoticeSummary {
    /// Letters written.
    pub written: u64,
    /// People affected but erased since, with nothing held to write to.
    pub erased: u64,
    /// People the policies did not let the caller read for this purpose.
    pub not_permitted: u64,
    /// Letters written for people with neither a postal nor an email
    /// address: they need another way to be reached.
    pub unreachable: u64,
    /// Whether Art. 34 requires the notices at all.
    pub required: bool,
}

/// A run of notices: the report they come from, and the fields read.
#[derive(Debug)]
pub struct NoticeRun {
    report: IncidentReport,
    columns: Vec<usize>,
    names: Vec<String>,
}

impl NoticeRun {
    /// The number of letters to write: people affected and still held.
    pub fn total(&self) -> u64 {
        self.report
            .exposure
            .subjects
            .iter()
            .filter(|s| !s.erased)
            .count() as u64
    }

    /// The mail-merge header: `id`, the name and contact fields,
    /// `exposed_fields`, `special_category`, `first_exposed`,
    /// `last_exposed`.
    pub fn merge_header(&self) -> Vec<String> {
        let mut header = vec!["id".to_owned()];
        header.extend(self.names.iter().cloned());
        header.extend(
            [
                "exposed_fields",
                "special_category",
                "first_exposed",
                "last_exposed",
            ]
            .map(str::to_owned),
        );
        header
    }
}

/// The fields a letter is addressed with: names and contact details.
fn addressing(spec: &FieldSpec) -> bool {
    spec.category() == DataCategory::Contact
        || matches!(spec.name().as_str(), "given_name" | "family_name")
}

/// The mail-merge CSV of a run of notices: one row per letter, with the
/// columns of [`NoticeRun::merge_header`] and any the caller adds (such as
/// the letter's file name). Cells a spreadsheet would run as formulas are
/// neutralised, as in exports.
#[derive(Debug)]
pub struct MailMerge<W: Write> {
    writer: csv::Writer<W>,
}

fn merge_error(e: csv::Error) -> EngineError {
    EngineError::Io {
        what: "cannot write the mail-merge file".to_owned(),
        source: e.into(),
    }
}

impl<W: Write> MailMerge<W> {
    /// Starts the file with its header.
    pub fn new(out: W, run: &NoticeRun, extra: &[&str]) -> Result<Self, EngineError> {
        let mut writer = csv::Writer::from_writer(out);
        let mut header = run.merge_header();
        header.extend(extra.iter().map(|e| (*e).to_owned()));
        writer.write_record(&header).map_err(merge_error)?;
        Ok(Self { writer })
    }

    /// Adds a letter's row.
    pub fn row(&mut self, notice: &Notice<'_>, extra: &[&str]) -> Result<(), EngineError> {
        let mut row = notice.merge_row();
        row.extend(extra.iter().map(|e| (*e).to_owned()));
        self.writer
            .write_record(row.iter().map(|c| neutralise(c).into_owned()))
            .map_err(merge_error)
    }

    /// Flushes and returns the writer.
    pub fn finish(self) -> Result<W, EngineError> {
        self.writer
            .into_inner()
            .map_err(|e| merge_error(e.into_error().into()))
    }
}

/// Where notices go: files and a mail-merge CSV for the CLI, a response
/// for the API.
pub trait NoticeSink {
    /// Called once, before the first letter, with the run: its report,
    /// the number of letters and the mail-merge header.
    fn start(&mut self, run: &NoticeRun) -> Result<(), EngineError>;

    /// Called for each letter, after its page was recorded.
    fn notice(&mut self, notice: &Notice<'_>) -> Result<(), EngineError>;
}

impl Vault {
    /// Writes the notices of an incident, one per person affected and
    /// still held, a page at a time: each page is decided, recorded and
    /// checked again before its names and contact details are decrypted
    /// and handed to `sink`. The caller must declare the purpose
    /// `breach_notification`, and be allowed to see the incident.
    pub fn incident_notices(
        &self,
        caller: &Caller,
        id: &str,
        sink: &mut dyn NoticeSink,
    ) -> Result<NoticeSummary, EngineError> {
        let actor = self.admit(caller, Action::Read, &[])?;
        if actor.purpose_label != BREACH_PURPOSE {
            return Err(self.refuse(
                &actor,
                Action::Read,
                Vec::new(),
                EngineError::invalid(Problem::field(
                    "purpose",
                    format!("notices are written for the purpose `{BREACH_PURPOSE}`; declare it"),
                )),
            ));
        }
        self.authorize_vault(&actor, Action::Incident)?;
        let id =
            parse_incident_id(id).map_err(|e| self.refuse(&actor, Action::Read, Vec::new(), e))?;
        let report = self.report_for(&actor, id)?;
        let columns: Vec<usize> = (0..self.schema.fields().len())
            .filter(|&i| addressing(&self.schema.fields()[i]))
            .collect();
        let run = NoticeRun {
            names: self.field_names(&columns),
            report,
            columns,
        };
        sink.start(&run)?;
        let report = &run.report;
        let held: Vec<&SubjectExposure> = report
            .exposure
            .subjects
            .iter()
            .filter(|s| !s.erased)
            .collect();
        let mut summary = NoticeSummary {
            written: 0,
            erased: report.exposure.subjects.len() as u64 - held.len() as u64,
            not_permitted: 0,
            unreachable: 0,
            required: report.art34.notify_subjects,
        };
        let reason = format!("breach notices for incident {}", report.record.id);
        for page in held.chunks(MAX_PAGE) {
            let mut allowed = Vec::with_capacity(page.len());
            for exposure in page {
                let Ok(id) = SubjectId::parse(&exposure.id) else {
                    continue;
                };
                let Some(stored) = self.store.subject(&id)? else {
                    // Erased since the report was computed.
                    summary.erased += 1;
                    continue;
                };
                match self.authorize_whole(
                    &actor,
                    Action::Read,
                    &id,
                    &stored.scope,
                    &run.columns,
                )? {
                    Some(authorized) => allowed.push((id, stored, authorized, *exposure)),
                    None => summary.not_permitted += 1,
                }
            }
            if allowed.is_empty() {
                continue;
            }
            let subjects: Vec<&SubjectId> = allowed.iter().map(|(id, ..)| id).collect();
            let recorded = self.record(
                &actor,
                Entry {
                    reason: reason.clone(),
                    ..Entry::allowed(Action::Read, subjects.clone(), run.names.clone())
                },
            )?;
            self.recheck(&actor, Action::Read, subjects, recorded.seq())?;
            for (id, stored, authorized, exposure) in &allowed {
                let record = self.open_fields(&recorded, authorized, id, stored)?;
                let mut notice = Notice {
                    subject: id,
                    contact: &record.fields,
                    exposure,
                    text: String::new(),
                };
                notice.text = self.letter(report, &notice);
                let reachable = ["email", "address_line1", "postcode"]
                    .iter()
                    .any(|f| !notice.value(f).is_empty());
                if !reachable {
                    summary.unreachable += 1;
                }
                sink.notice(&notice)?;
                summary.written += 1;
            }
        }
        Ok(summary)
    }

    /// One letter, in plain language.
    fn letter(&self, report: &IncidentReport, notice: &Notice<'_>) -> String {
        let org = &report.organisation;
        let org_name = if org.name.is_empty() {
            "The organisation that holds your membership record".to_owned()
        } else {
            org.name.clone()
        };
        let name = [notice.value("given_name"), notice.value("family_name")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let mut out = String::new();
        let mut line = |s: &str| {
            out.push_str(s);
            out.push('\n');
        };
        line(&org_name);
        line(&human_date(&report.generated_at));
        line("");
        if !name.is_empty() {
            line(&name);
        }
        for field in ["address_line1", "address_line2", "town", "postcode"] {
            if !notice.value(field).is_empty() {
                line(notice.value(field));
            }
        }
        if !notice.value("email").is_empty() {
            line(&format!("By email: {}", notice.value("email")));
        }
        line("");
        line(&format!(
            "Reference: {} / {}",
            report.record.id,
            notice.subject.as_str()
        ));
        line("");
        line(&format!(
            "Dear {},",
            if name.is_empty() { "member" } else { &name }
        ));
        line("");
        line(
            "We are writing to tell you about a breach of personal data that affects you, what it means for you, and what you can do.",
        );
        line("");
        line("What happened");
        line(&report.record.incident.nature);
        line("");
        line("Which of your information was exposed");
        let first = human_date(&notice.exposure.first_exposed);
        let last = human_date(&notice.exposure.last_exposed);
        if first == last {
            line(&format!(
                "On {first}, this information about you was exposed:"
            ));
        } else {
            line(&format!(
                "Between {first} and {last}, this information about you was exposed:"
            ));
        }
        for words in self.exposed_words(&notice.exposure.fields) {
            line(&format!("  - {words}"));
        }
        if notice.exposure.special_category {
            line(
                "Some of it is special-category information, which the law protects more strongly because its disclosure can cause particular harm.",
            );
        }
        line("Nothing else about you was affected by this breach.");
        line("");
        line("What this could mean for you");
        let consequences = consequences_of(
            &report.record,
            &notice.exposure.fields,
            &notice.exposure.categories,
            !notice.exposure.encrypted_fields.is_empty(),
        );
        for c in &consequences {
            line(&format!("  - {c}"));
        }
        line("");
        line("What we are doing");
        for m in &report.measures {
            line(&format!("  - {m}"));
        }
        line("");
        line("What you can do");
        let exposed = |f: &str| notice.exposure.fields.iter().any(|x| x.as_str() == f);
        line(
            "  - Be wary of emails, calls, texts or letters that mention your membership or claim to come from us, especially if they ask for money, passwords or bank details. We will never ask for your password or bank details.",
        );
        if exposed("email") {
            line(
                "  - Do not open links or attachments in unexpected emails; check the sender carefully.",
            );
        }
        if exposed("phone") {
            line(
                "  - If someone calls you about your membership, hang up and call us back on a number you trust.",
            );
        }
        if notice
            .exposure
            .categories
            .contains(&DataCategory::Financial)
        {
            line("  - Check your bank statements for payments you do not recognise.");
        }
        line(
            "  - You can ask us for a copy of all the information we hold about you, and for a record of who has accessed it.",
        );
        line(
            "  - You have the right to complain to the data protection supervisory authority (in the UK, the Information Commissioner's Office: ico.org.uk, 0303 123 1113).",
        );
        line("");
        line("Who to contact");
        match org.dpo_contact() {
            Some(contact) => line(&format!(
                "Our data protection officer: {contact}. Please quote the reference above."
            )),
            None => line("Our data protection officer, quoting the reference above."),
        }
        line("");
        line("Yours sincerely,");
        line("");
        if !org.dpo_name.is_empty() {
            line(&org.dpo_name);
        }
        line(&format!("Data Protection Officer, {org_name}"));
        out
    }

    /// The exposed fields in words, once each: "your name", "your email
    /// address".
    pub(crate) fn exposed_words(&self, fields: &[FieldName]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for field in fields {
            let words = match self.schema.field(field.as_str()) {
                Some(spec) => field_words(spec),
                None => format!("your {}", field.as_str().replace('_', " ")),
            };
            if !out.contains(&words) {
                out.push(words);
            }
        }
        out
    }
}

/// A field in the words of a letter.
fn field_words(spec: &FieldSpec) -> String {
    let known = match spec.name().as_str() {
        "id" => Some("your membership number"),
        "given_name" | "family_name" => Some("your name"),
        "email" => Some("your email address"),
        "phone" => Some("your phone number"),
        "address_line1" | "address_line2" => Some("your street address"),
        "town" => Some("your town"),
        "postcode" => Some("your postcode"),
        "date_of_birth" => Some("your date of birth"),
        "constituency" => Some("your constituency"),
        "branch" => Some("your local branch"),
        "membership_status" | "joined_on" | "left_on" => {
            Some("your membership status and when you joined or left")
        }
        "consent_email" | "consent_phone" | "consent_post" => {
            Some("how you agreed to be contacted")
        }
        "union_affiliation" => Some("your trade union"),
        "ethnicity" => Some("your ethnic origin"),
        "disability" => Some("whether you have a disability"),
        "donation_total" => Some("the total of your donations"),
        "notes" => Some("notes we keep about you"),
        _ => None,
    };
    match known {
        Some(words) => words.to_owned(),
        None => match spec.description() {
            Some(d) => format!("your {} ({})", spec.name().as_str().replace('_', " "), d),
            None => format!("your {}", spec.name().as_str().replace('_', " ")),
        },
    }
}

/// A stored time as a date people read: `6 December 2026`.
pub(crate) fn human_date(stamp: &str) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    crate::clock::parse_stamp(stamp)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| stamp.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_model::Schema;

    #[test]
    fn dates_read_naturally() {
        assert_eq!(human_date("2026-12-06T09:30:00.000Z"), "6 December 2026");
        assert_eq!(human_date("not a time"), "not a time");
    }

    #[test]
    fn every_default_field_has_plain_words() {
        let schema = Schema::default_party();
        for spec in schema.fields() {
            let words = field_words(spec);
            assert!(
                words.starts_with("your ")
                    || words.starts_with("the ")
                    || words.starts_with("how ")
                    || words.starts_with("whether ")
                    || words.starts_with("notes "),
                "{words}"
            );
            assert!(!words.contains('_'), "{}: {words}", spec.name());
        }
    }
}
