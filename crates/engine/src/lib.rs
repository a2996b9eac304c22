//! The Custos engine: the one access path to personal data, and the jobs
//! built on it (import, export, erasure, key rotation), plus the directory
//! of principals, the purpose registry and the policy set that decide who
//! may do what.
//!
//! Architecture invariant: this is the only crate that combines keys (through
//! `custos-crypto`) with stored ciphertexts (through `custos-store`) and
//! policy decisions (through `custos-policy`). The HTTP server and the CLI
//! call the same [`Vault`] methods, so neither can offer an access that the
//! other lacks or that bypasses the path.
//!
//! The path of every access, in `access.rs`: authenticate the [`Caller`]
//! and check its purpose (`authentication.rs`), parse the request against
//! the schema, decide field by field (`authorization.rs`), record the
//! decision in the ledger (`recording.rs`), check again that the principal
//! still stands, and only then decrypt exactly the fields allowed.

mod access;
mod access_state;
mod alerts;
mod audit;
mod authentication;
mod authorization;
mod breach_report;
mod canaries;
mod clock;
mod directory;
mod error;
mod export;
mod exposure;
mod import;
mod incident_scope;
mod incidents;
mod notices;
mod organisation;
mod policy_admin;
mod principal;
mod processors;
mod purposes;
mod record;
mod recording;
mod rotation;
mod vault;
mod vault_dir;
pub mod wire;

pub use access::{FieldSelection, SubjectPage};
pub use audit::{ProvenEvent, SubjectHistory};
pub use authentication::{SESSION_LIFETIME, Session};
pub use breach_report::{report_html, report_markdown};
pub use canaries::{CanaryTrace, CanaryView, MAX_CANARIES};
pub use clock::{DayEdge, parse_time_input};
pub use custos_ledger::{Event, EventQuery, Outcome, Report, SignedHead};
pub use custos_policy::{
    CaseReport, CaseResult, DEFAULT_POLICIES, DEFAULT_POLICY_TESTS, Effect, Policies, PolicyError,
    PolicyProblem, Rule,
};
pub use custos_store::{
    AlertQuery, AlertRecord, Erasure, ExportRecord, ExportStatus, IncidentRecord, IncidentStatus,
    IncidentUpdate, PolicyRecord, ProcessorRecord, TokenRecord,
};
pub use directory::{NewToken, PrincipalChange, PrincipalView, TotpEnrollment};
pub use error::{AuthFailure, Denial, EngineError, ErrorKind, Problem};
pub use export::{ExportReport, ExportRequest, ProcessorExport, ProcessorExportReport};
pub use exposure::{Exposure, FieldSetCount, SubjectExposure};
pub use import::{CsvInput, Encoding, ImportOptions, ImportProgress, ImportReport};
pub use incident_scope::{Scope, ScopeSource, Window};
pub use incidents::{
    Art34Assessment, IncidentFollowUp, IncidentOpening, IncidentReport, remaining_words,
};
pub use notices::{BREACH_PURPOSE, MailMerge, Notice, NoticeRun, NoticeSink, NoticeSummary};
pub use organisation::{Organisation, OrganisationChange};
pub use policy_admin::AppliedPolicy;
pub use principal::{Caller, DEFAULT_PURPOSE, Principal};
pub use processors::{NewProcessor, ProcessorView};
pub use purposes::{ProcessingActivity, RecordOfProcessing, SECURITY_MEASURES, SUBJECT_CATEGORIES};
pub use record::{SubjectInput, SubjectRecord};
pub use rotation::{NewMasterKey, RotationReport};
pub use time::OffsetDateTime;
pub use vault::{
    INITIAL_ADMIN, InitKey, InitOptions, Initialized, KeyAccess, OpenOptions, Vault, VaultInfo,
};
