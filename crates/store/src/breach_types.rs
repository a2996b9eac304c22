//! The records of incident response: processors, exports to them with
//! their canary records, and incidents with their follow-ups.
//!
//! Times are strings the caller formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`, like
//! the rest of the store. Canary records arrive sealed and their traceable
//! values as keyed digests: the store never holds a canary's values in
//! clear, so a thief holding both the store and a stolen export cannot tell
//! which rows are canaries.

use custos_model::{ExportId, FieldName, IncidentId, ProcessorName, PurposeName};

use crate::types::Digest;

/// A processor: a contractor or mailing house that receives exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorRecord {
    /// The processor's name.
    pub name: ProcessorName,
    /// How to reach them about a breach: a person, an email, a phone.
    pub contact: String,
    /// The reference of the Art. 28 processing contract.
    pub contract_ref: String,
    /// The purposes they process data for; exports to them declare one.
    pub purposes: Vec<PurposeName>,
    /// When it was registered.
    pub created_at: String,
    /// Who registered it.
    pub created_by: String,
}

/// How far an export got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    /// Rows are being written; an export left in this state was cut short,
    /// and what it wrote may have left.
    Writing,
    /// The file is complete and its manifest is in the ledger.
    Complete,
    /// It failed and its file was removed.
    Failed,
}

impl ExportStatus {
    /// The stored name: `writing`, `complete` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Writing => "writing",
            Self::Complete => "complete",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Writing, Self::Complete, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// An export about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExport {
    /// The processor receiving it.
    pub processor: ProcessorName,
    /// The purpose declared.
    pub purpose: String,
    /// Who exported.
    pub principal: String,
    /// The request id its ledger events carry.
    pub request_id: String,
    /// The fields exported, in column order.
    pub fields: Vec<FieldName>,
    /// The filters, as given, such as `constituency=E14000639`.
    pub filters: Vec<String>,
    /// The file's name, without its directory, if written to a file.
    pub file_name: Option<String>,
    /// When it started.
    pub started_at: String,
    /// The ledger's size when it started: every event of the export has
    /// this seq or a later one.
    pub first_seq: u64,
}

/// An export, as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    /// Its id.
    pub id: ExportId,
    /// What was asked for.
    pub export: NewExport,
    /// How far it got.
    pub status: ExportStatus,
    /// When it finished, or failed.
    pub completed_at: Option<String>,
    /// The seq of its manifest event in the ledger.
    pub manifest_seq: Option<u64>,
    /// The subjects written (canaries not counted).
    pub subjects: u64,
    /// The canary records mixed in.
    pub canaries: u64,
    /// The SHA-256 of the file, in hex.
    pub sha256: Option<String>,
}

/// One canary record, sealed: a synthetic person mixed into one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryRecord {
    /// Its position among the export's canaries, from 1.
    pub n: u32,
    /// Its data key, wrapped.
    pub wrapped_key: Vec<u8>,
    /// Its values, each sealed like a subject's field.
    pub sealed: Vec<(FieldName, Vec<u8>)>,
    /// Keyed digests of the values it can be traced by, with their kind
    /// (`id`, `email`, `phone`, `postcode`, `name`).
    pub traces: Vec<(String, Digest)>,
}

/// How an export ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCompletion {
    /// Complete or failed.
    pub status: ExportStatus,
    /// When.
    pub completed_at: String,
    /// The manifest event's seq, for a complete export.
    pub manifest_seq: Option<u64>,
    /// The subjects written.
    pub subjects: u64,
    /// The file's SHA-256, in hex, for a complete export.
    pub sha256: Option<String>,
    /// The canaries mixed in.
    pub canaries: Vec<CanaryRecord>,
}

/// A canary found by a trace: the export it was made for, and which of its
/// canaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryMatch {
    /// The kind of value that matched.
    pub kind: String,
    /// The export.
    pub export_id: ExportId,
    /// The canary's position in it.
    pub n: u32,
}

/// Whether an incident is still being handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    /// Being handled.
    Open,
    /// Handled; kept in the register.
    Closed,
}

impl IncidentStatus {
    /// The stored name: `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    /// Parses `open` or `closed`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            _ => Err(format!(
                "`{s}` is not an incident status (expected open or closed)"
            )),
        }
    }
}

/// An incident being opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    /// A short title.
    pub title: String,
    /// What happened, in words.
    pub nature: String,
    /// When the organisation became aware of it: the 72-hour clock starts.
    pub aware_at: String,
    /// When it was opened in Custos.
    pub opened_at: String,
    /// Who opened it.
    pub opened_by: String,
    /// What was exposed, each scope in its text form.
    pub scopes: Vec<String>,
    /// Whether the master key was taken too (for a `store` scope).
    pub keys_exposed: bool,
    /// The people affected when it was opened, and those of them with
    /// special-category data exposed.
    pub affected: (u64, u64),
}

/// An incident in the breach register (Art. 33(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    /// Its id.
    pub id: IncidentId,
    /// As opened, with `affected` as last refreshed.
    pub incident: NewIncident,
    /// Open or closed.
    pub status: IncidentStatus,
    /// Likely consequences, as the DPO assessed them.
    pub consequences: String,
    /// Measures taken or proposed, as the DPO described them.
    pub measures: String,
    /// When the supervisory authority was notified.
    pub reported_at: Option<String>,
    /// When the people affected were notified.
    pub subjects_notified_at: Option<String>,
    /// When it was closed.
    pub closed_at: Option<String>,
}

/// A follow-up to an incident (Art. 33(4)): what changes. Absent values are
/// left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentChange {
    /// A new description of what happened.
    pub nature: Option<String>,
    /// New likely consequences.
    pub consequences: Option<String>,
    /// New measures.
    pub measures: Option<String>,
    /// When the authority was notified.
    pub reported_at: Option<String>,
    /// When the people affected were notified.
    pub subjects_notified_at: Option<String>,
    /// A new status, with the time it changed.
    pub status: Option<(IncidentStatus, String)>,
    /// The people affected, refreshed.
    pub affected: Option<(u64, u64)>,
}

/// One entry of an incident's timeline of follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentUpdate {
    /// Its position, from 1.
    pub n: u32,
    /// When.
    pub time: String,
    /// Who.
    pub by: String,
    /// What changed or was learned, in words.
    pub summary: String,
}
