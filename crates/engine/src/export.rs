//! CSV exports of chosen fields of chosen subjects: plain exports, and
//! exports to a registered processor, which also record a manifest in the
//! ledger (export id, recipient, the events naming its subjects and
//! fields, the file's SHA-256) and carry canary records.
//!
//! Both go through one writer: subjects are taken a page at a time, each
//! decided as a whole (every field asked for must be allowed), the page's
//! release recorded as one ledger event, the principal checked again, and
//! only then are its rows decrypted and written.
//!
//! Cells that a spreadsheet would run as a formula are neutralised with a
//! leading apostrophe (CSV injection).

use std::io::Write;

use custos_crypto::HashingWriter;
use custos_model::{ExportId, FieldName, SubjectId};
use custos_store::{ExportCompletion, ExportRecord, ExportStatus, NewExport};

use crate::access::{FieldSelection, MAX_PAGE};
use crate::canaries::{CanaryMixer, MAX_CANARIES, Row, default_canaries};
use crate::clock::now_stamp;
use crate::error::{EngineError, Problem};
use crate::principal::{Actor, Caller};
use crate::recording::{Action, Entry};
use crate::vault::Vault;

/// The outcome of an export.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// Subjects written.
    pub rows: u64,
    /// Subjects matching the filters but left out because the policies do
    /// not allow every field asked for (a purpose that needs consent leaves
    /// out those who have not given it).
    pub excluded: u64,
    /// The columns written, in order.
    pub fields: Vec<String>,
}

/// What to export, and how to choose the subjects.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    /// The fields, as columns.
    pub selection: FieldSelection,
    /// `field=value` filters on scope attributes.
    pub filters: Vec<(String, String)>,
    /// Chosen subjects, instead of filters.
    pub ids: Vec<SubjectId>,
}

/// An export to a processor.
#[derive(Debug, Clone, Default)]
pub struct ProcessorExport {
    /// The registered processor receiving it.
    pub processor: String,
    /// What to export.
    pub request: ExportRequest,
    /// The file's name, for the manifest.
    pub file_name: Option<String>,
    /// How many canaries to mix in; by default one to five, by size.
    pub canaries: Option<u32>,
}

/// The outcome of an export to a processor.
#[derive(Debug, Clone)]
pub struct ProcessorExportReport {
    /// The export's id.
    pub id: ExportId,
    /// Subjects written, and left out.
    pub report: ExportReport,
    /// Canary records mixed in.
    pub canaries: u64,
    /// The SHA-256 of what was written, in hex.
    pub sha256: String,
    /// The manifest event's seq in the ledger.
    pub manifest_seq: u64,
}

/// Prefixes a cell that a spreadsheet would interpret as a formula.
pub(crate) fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Undoes [`neutralise`] on import, so that an export can be imported again.
pub(crate) fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if neutralise(rest).len() != rest.len() => rest,
        _ => cell,
    }
}

/// An export checked and resolved: its columns and every subject it may
/// write, in id order.
struct ExportPlan {
    columns: Vec<usize>,
    fields: Vec<String>,
    ids: Vec<SubjectId>,
    /// Whether the subjects were chosen by id (each must be allowed) or
    /// matched by filters (those not allowed are left out).
    chosen: bool,
    filters: Vec<String>,
}

fn write_error(e: csv::Error) -> EngineError {
    EngineError::Io {
        what: "cannot write the export".to_owned(),
        source: e.into(),
    }
}

fn write_row<W: Write>(writer: &mut csv::Writer<W>, row: &Row) -> Result<(), EngineError> {
    let cells: Vec<_> = row
        .iter()
        .map(|v| neutralise(v.as_ref().map_or("", |v| v.as_str())))
        .collect();
    writer
        .write_record(cells.iter().map(|c| c.as_bytes()))
        .map_err(write_error)
}

impl Vault {
    /// Writes the selected fields to `out` as CSV with a header row: of the
    /// subjects in `ids` if it is not empty, else of every subject matching
    /// the scope filters (within the principal's remit). Every field must be
    /// allowed for a subject to be written: a subject chosen by id that is
    /// not allowed fails the export; one matched by filters is left out and
    /// counted in [`ExportReport::excluded`].
    pub fn export_csv(
        &self,
        caller: &Caller,
        out: &mut dyn Write,
        selection: &FieldSelection,
        filters: &[(String, String)],
        ids: &[SubjectId],
    ) -> Result<ExportReport, EngineError> {
        let actor = self.admit(caller, Action::Export, &[])?;
        let request = ExportRequest {
            selection: selection.clone(),
            filters: filters.to_vec(),
            ids: ids.to_vec(),
        };
        let plan = self.plan_export(&actor, &request)?;
        let mut writer = csv::Writer::from_writer(out);
        let report = self.write_export(&actor, &plan, &mut writer, "", None)?;
        writer.flush().map_err(|source| EngineError::Io {
            what: "cannot write the export".to_owned(),
            source,
        })?;
        Ok(report)
    }

    /// Exports to a registered processor, for a purpose it serves: like
    /// [`Vault::export_csv`], with canary records mixed in, the export
    /// registered, and its manifest recorded in the ledger once the file is
    /// complete. If anything fails, the export is marked failed and the
    /// caller should delete what was written.
    pub fn export_to_processor(
        &self,
        caller: &Caller,
        out: &mut dyn Write,
        export: &ProcessorExport,
    ) -> Result<ProcessorExportReport, EngineError> {
        let actor = self.admit(caller, Action::Export, &[])?;
        let refuse = |e| self.refuse(&actor, Action::Export, Vec::new(), e);
        let processor = self
            .registered_processor(&export.processor)
            .map_err(refuse)?;
        let purpose = actor.purpose_label.clone();
        if !processor.purposes.iter().any(|p| p.as_str() == purpose) {
            let serves: Vec<&str> = processor.purposes.iter().map(|p| p.as_str()).collect();
            return Err(refuse(EngineError::invalid(Problem::field(
                "purpose",
                format!(
                    "processor `{}` does not process data for `{purpose}` (its contract covers {})",
                    processor.name,
                    serves.join(", ")
                ),
            ))));
        }
        if export.canaries.is_some_and(|n| n > MAX_CANARIES) {
            return Err(refuse(EngineError::invalid(Problem::field(
                "canaries",
                format!("must be at most {MAX_CANARIES}"),
            ))));
        }
        let plan = self.plan_export(&actor, &export.request)?;
        let fields = plan
            .fields
            .iter()
            .map(|f| FieldName::parse(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Config(format!("a schema field name {e}")))?;
        let first_seq = self.ledger.size()?;
        let id = self.store.insert_export(&NewExport {
            processor: processor.name.clone(),
            purpose: purpose.clone(),
            principal: actor.name.clone(),
            request_id: actor.request_id.clone(),
            fields,
            filters: plan.filters.clone(),
            file_name: export.file_name.clone(),
            started_at: now_stamp(),
            first_seq,
        })?;
        let reason = format!("export {id} to processor {}", processor.name);
        let written = (|| {
            let count = export
                .canaries
                .unwrap_or_else(|| default_canaries(plan.ids.len()));
            let domain = self.current_organisation()?.canary_email_domain;
            let mut mixer = CanaryMixer::plan(self, &plan.columns, &plan.ids, count, &domain)?;
            let mut writer = csv::Writer::from_writer(HashingWriter::new(&mut *out));
            let report =
                self.write_export(&actor, &plan, &mut writer, &reason, Some(&mut mixer))?;
            let hashing = writer
                .into_inner()
                .map_err(|e| write_error(e.into_error().into()))?;
            let (sha256, _) = hashing.finish().map_err(|source| EngineError::Io {
                what: "cannot write the export".to_owned(),
                source,
            })?;
            Ok::<_, EngineError>((report, mixer, sha256))
        })();
        let (report, mixer, sha256) = match written {
            Ok(done) => done,
            Err(e) => {
                self.fail_export(id, 0);
                return Err(e);
            }
        };
        let canaries = mixer.written() as u64;
        let manifest = self.record(
            &actor,
            Entry {
                reason: format!(
                    "manifest of {reason} (contract {}) for {purpose}: {} subjects in its events from seq {first_seq}, fields {}, file sha256 {sha256}",
                    processor.contract_ref,
                    report.rows,
                    plan.fields.join(","),
                ),
                ..Entry::allowed(Action::ExportManifest, Vec::new(), Vec::new())
            },
        );
        let manifest = match manifest {
            Ok(recorded) => recorded,
            Err(e) => {
                self.fail_export(id, report.rows);
                return Err(e);
            }
        };
        let sealed = mixer.seal(&self.keys().keyring, id);
        self.store.finish_export(
            id,
            &ExportCompletion {
                status: ExportStatus::Complete,
                completed_at: now_stamp(),
                manifest_seq: Some(manifest.seq()),
                subjects: report.rows,
                sha256: Some(sha256.clone()),
                canaries: sealed,
            },
        )?;
        Ok(ProcessorExportReport {
            id,
            report,
            canaries,
            sha256,
            manifest_seq: manifest.seq(),
        })
    }

    /// Marks an export failed, logging rather than failing if the store
    /// cannot take it: the error that ended the export matters more.
    fn fail_export(&self, id: ExportId, subjects: u64) {
        let done = ExportCompletion {
            status: ExportStatus::Failed,
            completed_at: now_stamp(),
            manifest_seq: None,
            subjects,
            sha256: None,
            canaries: Vec::new(),
        };
        if let Err(e) = self.store.finish_export(id, &done) {
            tracing::error!(export = %id, error = %e, "could not mark the export as failed");
        }
    }

    /// The exports made to processors, or one processor's, oldest first:
    /// administrators and the DPO (`audit`).
    pub fn exports(
        &self,
        caller: &Caller,
        processor: Option<&str>,
    ) -> Result<Vec<ExportRecord>, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        match processor {
            Some(name) => {
                let record = self.registered_processor(name)?;
                Ok(self.store.exports(Some(&record.name))?)
            }
            None => Ok(self.store.exports(None)?),
        }
    }

    /// One export to a processor.
    pub fn export_record(&self, caller: &Caller, id: &str) -> Result<ExportRecord, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        let id = ExportId::parse(id)
            .map_err(|e| EngineError::invalid(Problem::field("export", e.to_string())))?;
        Ok(self
            .store
            .export(id)?
            .ok_or(custos_store::StoreError::ExportNotFound(id))?)
    }

    /// Checks an export request and lists every subject it may write.
    fn plan_export(
        &self,
        actor: &Actor,
        request: &ExportRequest,
    ) -> Result<ExportPlan, EngineError> {
        let refuse = |e| self.refuse(actor, Action::Export, Vec::new(), e);
        let columns = self.select(&request.selection).map_err(refuse)?;
        let mut filters = self.scope_filters(&request.filters).map_err(refuse)?;
        if !request.ids.is_empty() && !filters.is_empty() {
            return Err(refuse(EngineError::invalid(Problem::general(
                "choose subjects either by id or by filters, not both",
            ))));
        }
        let described = filters
            .iter()
            .map(|f| format!("{}={}", f.field, f.value))
            .collect();
        let fields = self.field_names(&columns);
        if !request.ids.is_empty() {
            // In the order given, each once.
            let mut seen = std::collections::HashSet::new();
            let ids: Vec<SubjectId> = request
                .ids
                .iter()
                .filter(|id| seen.insert(*id))
                .cloned()
                .collect();
            return Ok(ExportPlan {
                columns,
                fields,
                ids,
                chosen: true,
                filters: described,
            });
        }
        filters.extend(self.remit_filters(actor));
        let mut ids = Vec::new();
        loop {
            let page = self.store.list(&filters, ids.last(), MAX_PAGE)?;
            let full = page.len() == MAX_PAGE;
            ids.extend(page.into_iter().map(|s| s.id));
            if !full {
                break;
            }
        }
        Ok(ExportPlan {
            columns,
            fields,
            ids,
            chosen: false,
            filters: described,
        })
    }

    /// Writes an export a page at a time: decides each subject, records
    /// the page's release as one event, checks the principal again, then
    /// decrypts and writes its rows, with canaries mixed in.
    fn write_export<W: Write>(
        &self,
        actor: &Actor,
        plan: &ExportPlan,
        writer: &mut csv::Writer<W>,
        reason: &str,
        mut mixer: Option<&mut CanaryMixer<'_>>,
    ) -> Result<ExportReport, EngineError> {
        writer.write_record(&plan.fields).map_err(write_error)?;
        let mut rows = 0u64;
        let mut excluded = 0u64;
        for (page_number, page) in plan.ids.chunks(MAX_PAGE).enumerate() {
            let offset = page_number * MAX_PAGE;
            let mut allowed = Vec::with_capacity(page.len());
            for (i, id) in page.iter().enumerate() {
                if plan.chosen {
                    let (stored, authorized) =
                        self.authorize_stored(actor, Action::Export, id, &plan.columns, true)?;
                    allowed.push((offset + i, id, stored, authorized));
                    continue;
                }
                let Some(stored) = self.store.subject(id)? else {
                    continue;
                };
                match self.authorize_whole(
                    actor,
                    Action::Export,
                    id,
                    &stored.scope,
                    &plan.columns,
                )? {
                    Some(authorized) => allowed.push((offset + i, id, stored, authorized)),
                    None => excluded += 1,
                }
            }
            let subjects: Vec<&SubjectId> = allowed.iter().map(|(_, id, _, _)| *id).collect();
            let recorded = if subjects.is_empty() {
                None
            } else {
                let recorded = self.record(
                    actor,
                    Entry {
                        reason: reason.to_owned(),
                        ..Entry::allowed(Action::Export, subjects.clone(), plan.fields.clone())
                    },
                )?;
                self.recheck(actor, Action::Export, subjects, recorded.seq())?;
                Some(recorded)
            };
            let mut next = allowed.iter().peekable();
            for (i, _) in page.iter().enumerate() {
                let index = offset + i;
                let mut written = None;
                if let (Some(recorded), Some((_, id, stored, authorized))) =
                    (&recorded, next.next_if(|(at, ..)| *at == index))
                {
                    let record = self.open_fields(recorded, authorized, id, stored)?;
                    let row: Row = record.fields.into_iter().map(|(_, v)| v).collect();
                    write_row(writer, &row)?;
                    rows += 1;
                    written = Some(row);
                }
                if let Some(mixer) = mixer.as_deref_mut() {
                    mixer.after(index, written.as_ref(), &mut |canary| {
                        write_row(writer, canary)
                    })?;
                }
            }
        }
        Ok(ExportReport {
            rows,
            excluded,
            fields: plan.fields.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn restore_undoes_neutralise_only() {
        for cell in ["=1+2", "+447700900123", "-3.00", "@x", "Ana", "'quoted", ""] {
            assert_eq!(super::restore(&neutralise(cell)), cell);
        }
        assert_eq!(super::restore("'Ana"), "'Ana");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+44"), "'+44");
        assert_eq!(neutralise("-3.00"), "'-3.00");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise(""), "");
    }
}
