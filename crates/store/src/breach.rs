//! The storage interface of incident response: the processor registry,
//! the register of exports to processors with their sealed canary records,
//! and the breach register.
//!
//! Like [`Store`](crate::Store), every method is one whole operation in one
//! transaction. The ledger, not this store, is the record of what left the
//! vault: an export's row here says where to look in the ledger (its
//! request id and first seq) and what the file was (its hash), so exposure
//! is computed from events that nobody can quietly rewrite.

use custos_model::{ExportId, IncidentId, ProcessorName};

use crate::breach_types::{
    CanaryMatch, CanaryRecord, ExportCompletion, ExportRecord, IncidentChange, IncidentRecord,
    IncidentUpdate, NewExport, NewIncident, ProcessorRecord,
};
use crate::error::StoreError;
use crate::types::Digest;

/// The persistent state of incident response.
pub trait BreachStore: Send + Sync {
    /// Registers a processor. [`StoreError::ProcessorExists`] if the name
    /// is taken.
    fn insert_processor(&self, p: &ProcessorRecord) -> Result<(), StoreError>;

    /// One processor.
    fn processor(&self, name: &ProcessorName) -> Result<Option<ProcessorRecord>, StoreError>;

    /// Every processor, by name.
    fn processors(&self) -> Result<Vec<ProcessorRecord>, StoreError>;

    /// Registers an export that is about to write its first row, with the
    /// status `writing`, and returns its id: one more than the highest.
    /// [`StoreError::ProcessorNotFound`] if the processor is not registered.
    fn insert_export(&self, e: &NewExport) -> Result<ExportId, StoreError>;

    /// Records how an export ended, and stores its canaries, in one
    /// transaction. [`StoreError::ExportNotFound`] if there is no such
    /// export; an export that already ended is refused as corrupt.
    fn finish_export(&self, id: ExportId, done: &ExportCompletion) -> Result<(), StoreError>;

    /// One export.
    fn export(&self, id: ExportId) -> Result<Option<ExportRecord>, StoreError>;

    /// Every export, or a processor's, oldest first.
    fn exports(&self, processor: Option<&ProcessorName>) -> Result<Vec<ExportRecord>, StoreError>;

    /// An export's canaries, in order.
    fn canaries(&self, id: ExportId) -> Result<Vec<CanaryRecord>, StoreError>;

    /// The canaries with a traceable value of this kind and digest.
    fn find_canaries(&self, kind: &str, digest: &Digest) -> Result<Vec<CanaryMatch>, StoreError>;

    /// Opens an incident and returns its id: one more than the highest.
    fn insert_incident(&self, i: &NewIncident) -> Result<IncidentId, StoreError>;

    /// One incident.
    fn incident(&self, id: IncidentId) -> Result<Option<IncidentRecord>, StoreError>;

    /// The breach register: every incident, oldest first.
    fn incidents(&self) -> Result<Vec<IncidentRecord>, StoreError>;

    /// Applies a follow-up and appends it to the incident's timeline, in
    /// one transaction. [`StoreError::IncidentNotFound`] if there is no
    /// such incident.
    fn update_incident(
        &self,
        id: IncidentId,
        change: &IncidentChange,
        time: &str,
        by: &str,
        summary: &str,
    ) -> Result<(), StoreError>;

    /// An incident's follow-ups, oldest first.
    fn incident_updates(&self, id: IncidentId) -> Result<Vec<IncidentUpdate>, StoreError>;
}
