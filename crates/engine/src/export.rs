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
    /// the scope filters.
    pub fn export_csv(
        &self,
        who: &Caller,
        out: &mut dyn Write,
        selection: &FieldSelection,
        filters: &[(String, String)],
        ids: &[SubjectId],
    ) -> Result<ExportReport, EngineError> {
        let refuse = |e| self.refuse(who, Action::Export, Vec::new(), e);
        let indexes = self.select(selection).map_err(refuse)?;
        let filters = self.scope_filters(filters).map_err(refuse)?;
        if !ids.is_empty() && !filters.is_empty() {
            return Err(refuse(EngineError::invalid(Problem::general(
                "choose subjects either by id or by filters, not both",
            ))));
        }
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
        // One page at a time: its events are recorded together, then its
        // rows are decrypted and written.
        let mut write_page = |ids: &[SubjectId]| -> Result<(), EngineError> {
            let stored = ids
                .iter()
                .map(|id| self.stored(who, Action::Export, id))
                .collect::<Result<Vec<_>, _>>()?;
            let recorded = self.record_each(who, Action::Export, ids, &fields)?;
            for ((id, stored), recorded) in ids.iter().zip(&stored).zip(&recorded) {
                let record = self.open_fields(recorded, id, stored, &indexes)?;
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
                write_page(&page_ids)?;
                if page_ids.len() < MAX_PAGE {
                    break;
                }
                after = page_ids.last().cloned();
            }
        } else {
            ids.chunks(MAX_PAGE).try_for_each(&mut write_page)?;
        }
        writer.flush().map_err(|source| EngineError::Io {
            what: "cannot write the export".to_owned(),
            source,
        })?;
        Ok(ExportReport { rows, fields })
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
