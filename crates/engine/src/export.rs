//! CSV export of chosen fields of chosen subjects.
//!
//! Cells that a spreadsheet would run as a formula are neutralised with a
//! leading apostrophe (CSV injection).

use std::io::Write;

use custos_model::SubjectId;

use crate::access::{FieldSelection, MAX_PAGE};
use crate::error::{EngineError, Problem};
use crate::principal::Caller;
use crate::recording::Action;
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
        let refuse = |e| self.refuse(&actor, Action::Export, Vec::new(), e);
        let indexes = self.select(selection).map_err(refuse)?;
        let mut filters = self.scope_filters(filters).map_err(refuse)?;
        if !ids.is_empty() && !filters.is_empty() {
            return Err(refuse(EngineError::invalid(Problem::general(
                "choose subjects either by id or by filters, not both",
            ))));
        }
        filters.extend(self.remit_filters(&actor));
        let fields: Vec<String> = indexes
            .iter()
            .map(|&i| self.schema.fields()[i].name().to_string())
            .collect();
        let io = |e: csv::Error| EngineError::Io {
            what: "cannot write the export".to_owned(),
            source: e.into(),
        };
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(&fields).map_err(io)?;
        let mut rows = 0u64;
        let mut excluded = 0u64;
        // One page at a time: its events are recorded together, then its
        // rows are decrypted and written.
        let mut write_page = |ids: &[SubjectId], chosen: bool| -> Result<(), EngineError> {
            let mut page = Vec::with_capacity(ids.len());
            for id in ids {
                if chosen {
                    let (stored, authorized) =
                        self.authorize_stored(&actor, Action::Export, id, &indexes, true)?;
                    page.push((id.clone(), stored, authorized));
                    continue;
                }
                let Some(stored) = self.store.subject(id)? else {
                    continue;
                };
                match self.authorize_whole(&actor, Action::Export, id, &stored.scope, &indexes)? {
                    Some(authorized) => page.push((id.clone(), stored, authorized)),
                    None => excluded += 1,
                }
            }
            let page_ids: Vec<SubjectId> = page.iter().map(|(id, _, _)| id.clone()).collect();
            let recorded = self.record_each(&actor, Action::Export, &page_ids, &fields, "")?;
            if let Some(first) = recorded.first() {
                self.recheck(
                    &actor,
                    Action::Export,
                    page_ids.iter().collect(),
                    first.seq(),
                )?;
            }
            for ((id, stored, authorized), recorded) in page.iter().zip(&recorded) {
                let record = self.open_fields(recorded, authorized, id, stored)?;
                let cells: Vec<_> = record
                    .fields
                    .iter()
                    .map(|(_, v)| neutralise(v.as_ref().map_or("", |v| v.as_str())))
                    .collect();
                writer
                    .write_record(cells.iter().map(|c| c.as_bytes()))
                    .map_err(io)?;
                rows += 1;
            }
            Ok(())
        };
        if ids.is_empty() {
            let mut after: Option<SubjectId> = None;
            loop {
                let page = self.store.list(&filters, after.as_ref(), MAX_PAGE)?;
                let page_ids: Vec<SubjectId> = page.into_iter().map(|s| s.id).collect();
                write_page(&page_ids, false)?;
                if page_ids.len() < MAX_PAGE {
                    break;
                }
                after = page_ids.last().cloned();
            }
        } else {
            ids.chunks(MAX_PAGE)
                .try_for_each(|chunk| write_page(chunk, true))?;
        }
        writer.flush().map_err(|source| EngineError::Io {
            what: "cannot write the export".to_owned(),
            source,
        })?;
        Ok(ExportReport {
            rows,
            excluded,
            fields,
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
        assert_eq!(neutralise("Ana"), "Ana");
        assert_eq!(neutralise(""), "");
    }
}
