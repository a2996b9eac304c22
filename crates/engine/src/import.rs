//! CSV import: every row is validated before anything is written, and the
//! whole file is then written in one transaction, so a file is imported
//! entirely or not at all.
//!
//! The file is read twice (validate, then seal and write) rather than held in
//! memory, so that a million-member import stays within a small, fixed amount
//! of memory. Sealing runs on all cores while one thread writes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};

use csv::ByteRecord;
use custos_crypto::Keyring;
use custos_model::SubjectId;
use custos_store::{BoxError, NewSubject};

use crate::access::generate_subject_id;
use crate::error::{EngineError, Problem};
use crate::export::restore;
use crate::principal::{Actor, Caller};
use crate::record::{ValidValues, field_index, parse_subject_id};
use crate::recording::Action;
use crate::vault::{UnlockedKeys, Vault};

/// The most problems reported for one file; the rest are counted.
pub(crate) const MAX_PROBLEMS: usize = 100;
/// Rows sealed and written per batch.
const BATCH: usize = 1024;
/// Ids checked against the store per query.
const EXISTING_CHUNK: usize = 500;

/// A CSV file's text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, or Windows-1252 if the file is not valid UTF-8 (as Excel saves
    /// "CSV" files on Windows).
    Auto,
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// Windows-1252.
    Windows1252,
}

impl Encoding {
    /// The name for messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Utf8 => "utf-8",
            Self::Windows1252 => "windows-1252",
        }
    }
}

/// Where the CSV comes from. It is read twice, so it must be re-readable.
#[derive(Debug, Clone, Copy)]
pub enum CsvInput<'a> {
    /// A file.
    File(&'a Path),
    /// Bytes in memory, such as an uploaded body.
    Bytes(&'a [u8]),
}

impl<'a> CsvInput<'a> {
    fn open(&self) -> Result<Box<dyn Read + Send + 'a>, EngineError> {
        match *self {
            Self::File(path) => File::open(path)
                .map(|f| Box::new(BufReader::with_capacity(1 << 16, f)) as Box<dyn Read + Send>)
                .map_err(|source| EngineError::Io {
                    what: format!("cannot read `{}`", path.display()),
                    source,
                }),
            Self::Bytes(bytes) => Ok(Box::new(bytes)),
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Validate only; write nothing.
    pub dry_run: bool,
    /// The file has no `id` column; generate ids.
    pub generate_ids: bool,
    /// The file's encoding.
    pub encoding: Encoding,
}

/// Progress, reported every few thousand rows.
#[derive(Debug, Clone, Copy)]
pub enum ImportProgress {
    /// Rows validated so far.
    Validated(u64),
    /// Rows written so far, of the total.
    Written {
        /// Rows sealed and written.
        done: u64,
        /// Rows to write.
        total: u64,
    },
}

/// The outcome of an import.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: u64,
    /// Subjects created (zero for a dry run).
    pub imported: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The encoding the file was read in.
    pub encoding: Encoding,
}

/// The mapping of columns to schema fields.
struct Columns {
    /// Per column, the schema index of its field.
    fields: Vec<usize>,
    id_column: Option<usize>,
}

/// Parsed rows on their way from the reader to the sealers.
type RawBatch = Result<Vec<(SubjectId, ValidValues)>, BoxError>;

/// One data row, parsed.
struct ParsedRow {
    id: Option<SubjectId>,
    values: ValidValues,
    problems: Vec<Problem>,
}

/// The row is not valid UTF-8 while the encoding is `Auto`.
struct NotUtf8;

/// Problems collected up to [`MAX_PROBLEMS`], the rest counted.
#[derive(Default)]
struct Problems {
    list: Vec<Problem>,
    more: u64,
}

impl Problems {
    fn push(&mut self, p: Problem) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        } else {
            self.more += 1;
        }
    }
}

fn decode(bytes: &[u8], encoding: Encoding) -> Option<Cow<'_, str>> {
    match encoding {
        Encoding::Windows1252 => Some(match std::str::from_utf8(bytes) {
            Ok(s) if s.is_ascii() => Cow::Borrowed(s),
            _ => Cow::Owned(bytes.iter().map(|&b| windows_1252(b)).collect()),
        }),
        Encoding::Auto | Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
    }
}

/// Windows-1252 to Unicode. Bytes 0x80–0x9F differ from Latin-1; the five
/// that Windows-1252 leaves undefined map to C1 controls, which text
/// validation then rejects.
fn windows_1252(b: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(u32::from(HIGH[usize::from(b - 0x80)])).unwrap_or('\u{FFFD}'),
        _ => char::from(b),
    }
}

/// Reads CSV records one at a time, numbering rows as a spreadsheet does
/// (the header is row 1).
struct CsvRows<R> {
    reader: csv::Reader<R>,
    record: ByteRecord,
    row: u64,
}

impl<R: Read> CsvRows<R> {
    fn new(input: R) -> Self {
        Self {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(input),
            record: ByteRecord::new(),
            row: 0,
        }
    }

    /// Reads the next record into `self.record`; false at the end.
    fn advance(&mut self) -> Result<bool, Problem> {
        self.row += 1;
        self.reader
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_problem(self.row, &e))
    }
}

fn csv_problem(row: u64, e: &csv::Error) -> Problem {
    let message = match e.kind() {
        csv::ErrorKind::Io(io) => format!("cannot read the file: {io}"),
        _ => "is not well-formed CSV (check its quoting)".to_owned(),
    };
    Problem {
        row: Some(row),
        column: None,
        field: None,
        message,
    }
}

impl Vault {
    /// Imports subjects from CSV. Importing is decided once, for the vault
    /// as a whole (`import`), and recorded once per subject.
    pub fn import_csv(
        &self,
        caller: &Caller,
        input: CsvInput<'_>,
        options: &ImportOptions,
        progress: &(dyn Fn(ImportProgress) + Sync),
    ) -> Result<ImportReport, EngineError> {
        let who = &self.admit(caller, Action::Import, &[])?;
        self.authorize_vault(who, Action::Import)?;
        let validated = match self.validate_csv(input, options, options.encoding, progress) {
            // Not UTF-8 while the encoding is auto: read it as Excel wrote it.
            Ok(None) => self
                .validate_csv(input, options, Encoding::Windows1252, progress)
                .and_then(|v| {
                    v.ok_or_else(|| {
                        EngineError::invalid(Problem::general("cannot decode the file"))
                    })
                }),
            other => other.and_then(|v| {
                v.ok_or_else(|| EngineError::invalid(Problem::general("cannot decode the file")))
            }),
        };
        let (rows, encoding, columns) =
            validated.map_err(|e| self.refuse(who, Action::Import, Vec::new(), e))?;
        let mut report = ImportReport {
            rows,
            imported: 0,
            dry_run: options.dry_run,
            encoding,
        };
        if options.dry_run || rows == 0 {
            return Ok(report);
        }
        report.imported = self
            .with_current_keys(|keys| {
                self.write_csv_rows(who, input, &columns, encoding, rows, keys, progress)
            })
            .map_err(|e| self.refuse(who, Action::Import, Vec::new(), e))?;
        Ok(report)
    }

    fn header(
        &self,
        record: &ByteRecord,
        options: &ImportOptions,
        encoding: Encoding,
    ) -> Result<Columns, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut fields = Vec::with_capacity(record.len());
        let known = || {
            self.schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (i, cell) in record.iter().enumerate() {
            let column = i + 1;
            let at = |message: String| Problem {
                row: Some(1),
                column: Some(column),
                field: None,
                message,
            };
            // Header cells are not echoed: a file without a header row would
            // have personal data here.
            let Some(name) = decode(cell, encoding) else {
                problems.push(at("the header is not valid text".to_owned()));
                continue;
            };
            let name = name
                .trim_start_matches('\u{feff}')
                .trim()
                .to_ascii_lowercase();
            match field_index(&self.schema, &name) {
                Some(index) if fields.contains(&index) => {
                    problems.push(at(format!("duplicate column `{name}`")));
                }
                Some(index) => fields.push(index),
                None => {
                    problems.push(at(format!(
                        "unknown column name (expected one of the schema's fields: {})",
                        known()
                    )));
                    fields.push(usize::MAX);
                }
            }
        }
        if fields.iter().all(|&f| f == usize::MAX) {
            return Err(vec![Problem {
                row: Some(1),
                column: None,
                field: None,
                message: format!(
                    "the first row is not a header: none of its cells names a field ({})",
                    known()
                ),
            }]);
        }
        let id_column = fields
            .iter()
            .position(|&f| self.schema.fields().get(f).is_some_and(|s| s.is_id()));
        match (id_column, options.generate_ids) {
            (None, false) => problems.push(Problem {
                row: Some(1),
                column: None,
                field: None,
                message:
                    "there is no `id` column (add the membership numbers, or pass --generate-ids)"
                        .to_owned(),
            }),
            (Some(c), true) => problems.push(Problem {
                row: Some(1),
                column: Some(c + 1),
                field: None,
                message: "the file has an `id` column, so --generate-ids does not apply".to_owned(),
            }),
            _ => {}
        }
        for spec in self.schema.fields() {
            let present = fields.iter().any(|&f| {
                self.schema
                    .fields()
                    .get(f)
                    .is_some_and(|s| s.name() == spec.name())
            });
            if spec.is_required() && !spec.is_id() && !present {
                problems.push(Problem {
                    row: Some(1),
                    column: None,
                    field: None,
                    message: format!("missing required column `{}`", spec.name()),
                });
            }
        }
        if problems.is_empty() {
            Ok(Columns { fields, id_column })
        } else {
            Err(problems)
        }
    }

    /// Parses one data row. The id is returned even when other cells have
    /// problems, so that duplicate ids are still detected.
    fn parse_row(
        &self,
        columns: &Columns,
        record: &ByteRecord,
        row: u64,
        encoding: Encoding,
    ) -> Result<ParsedRow, NotUtf8> {
        let mut parsed = ParsedRow {
            id: None,
            values: Vec::with_capacity(record.len()),
            problems: Vec::new(),
        };
        if record.len() != columns.fields.len() {
            parsed.problems.push(Problem {
                row: Some(row),
                column: None,
                field: None,
                message: format!(
                    "has {} columns, expected {} as in the header",
                    record.len(),
                    columns.fields.len()
                ),
            });
            return Ok(parsed);
        }
        for (i, cell) in record.iter().enumerate() {
            let spec = &self.schema.fields()[columns.fields[i]];
            let at = |message: String| Problem {
                row: Some(row),
                column: Some(i + 1),
                field: Some(spec.name().to_string()),
                message,
            };
            let Some(text) = decode(cell, encoding) else {
                if encoding == Encoding::Auto {
                    return Err(NotUtf8);
                }
                parsed.problems.push(at(
                    "is not valid UTF-8 (if Excel saved the file, pass --encoding windows-1252)"
                        .to_owned(),
                ));
                continue;
            };
            if Some(i) == columns.id_column {
                match parse_subject_id(&text) {
                    Ok(id) => parsed.id = Some(id),
                    Err(p) => parsed.problems.push(at(p.message)),
                }
                continue;
            }
            match spec.parse_value(restore(&text)) {
                Ok(Some(value)) => parsed.values.push((columns.fields[i], value)),
                Ok(None) => {}
                Err(e) => parsed.problems.push(at(e.to_string())),
            }
        }
        Ok(parsed)
    }

    /// Pass one. Returns `None` if the file must be re-read as Windows-1252.
    fn validate_csv(
        &self,
        input: CsvInput<'_>,
        options: &ImportOptions,
        encoding: Encoding,
        progress: &(dyn Fn(ImportProgress) + Sync),
    ) -> Result<Option<(u64, Encoding, Columns)>, EngineError> {
        let mut rows = CsvRows::new(input.open()?);
        let mut problems = Problems::default();
        if !rows.advance().map_err(EngineError::invalid)? {
            return Err(EngineError::invalid(Problem::general(
                "the file is empty (expected a header row)",
            )));
        }
        let header_encoding = if encoding == Encoding::Auto {
            Encoding::Utf8
        } else {
            encoding
        };
        let columns = match self.header(&rows.record, options, header_encoding) {
            Ok(columns) => columns,
            Err(_)
                if encoding == Encoding::Auto
                    && rows.record.iter().any(|c| std::str::from_utf8(c).is_err()) =>
            {
                return Ok(None);
            }
            Err(list) => return Err(EngineError::Invalid(list, 0)),
        };
        let mut ids: HashMap<SubjectId, u64> = HashMap::new();
        loop {
            match rows.advance() {
                Ok(true) => {}
                Ok(false) => break,
                Err(problem) => {
                    problems.push(problem);
                    break;
                }
            }
            let row = rows.row;
            let Ok(parsed) = self.parse_row(&columns, &rows.record, row, encoding) else {
                return Ok(None);
            };
            parsed.problems.into_iter().for_each(|p| problems.push(p));
            if let Some(first) = parsed.id.and_then(|id| ids.insert(id, row)) {
                problems.push(Problem {
                    row: Some(row),
                    column: columns.id_column.map(|c| c + 1),
                    field: Some("id".to_owned()),
                    message: format!("duplicates the id in row {first}"),
                });
            }
            if row.is_multiple_of(10_000) {
                progress(ImportProgress::Validated(row - 1));
            }
        }
        let data_rows = rows.row - 2;
        progress(ImportProgress::Validated(data_rows));
        self.check_new_ids(&ids, columns.id_column, &mut problems)?;
        if !problems.list.is_empty() {
            problems.list.sort_by_key(|p| (p.row, p.column));
            return Err(EngineError::Invalid(problems.list, problems.more));
        }
        let encoding = if encoding == Encoding::Auto {
            Encoding::Utf8
        } else {
            encoding
        };
        Ok(Some((data_rows, encoding, columns)))
    }

    fn check_new_ids(
        &self,
        ids: &HashMap<SubjectId, u64>,
        id_column: Option<usize>,
        problems: &mut Problems,
    ) -> Result<(), EngineError> {
        let all: Vec<SubjectId> = ids.keys().cloned().collect();
        for chunk in all.chunks(EXISTING_CHUNK) {
            for existing in self.store.existing(chunk)? {
                problems.push(Problem {
                    row: ids.get(&existing).copied(),
                    column: id_column.map(|c| c + 1),
                    field: Some("id".to_owned()),
                    message: format!("subject `{existing}` already exists in the vault"),
                });
            }
        }
        Ok(())
    }

    /// Pass two: parse again, seal on every core, write in one transaction.
    #[allow(
        clippy::too_many_arguments,
        reason = "one pass of one import, split out of import_csv"
    )]
    fn write_csv_rows(
        &self,
        who: &Actor,
        input: CsvInput<'_>,
        columns: &Columns,
        encoding: Encoding,
        total: u64,
        keys: &UnlockedKeys,
        progress: &(dyn Fn(ImportProgress) + Sync),
    ) -> Result<u64, EngineError> {
        let reader_input = input.open()?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (raw_tx, raw_rx) = sync_channel::<RawBatch>(workers * 2);
        // Shared by the sealers, so that the receiver closes when the last one
        // stops and a blocked reader then stops too.
        let raw_rx = Arc::new(Mutex::new(raw_rx));
        let (sealed_tx, sealed_rx) = sync_channel::<Result<Vec<NewSubject>, BoxError>>(workers * 2);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let mut rows = CsvRows::new(reader_input);
                let mut batch = Vec::with_capacity(BATCH);
                // The header, validated in pass one.
                let _ = rows.advance();
                loop {
                    match rows.advance() {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(problem) => {
                            let _ = raw_tx.send(Err(Box::new(EngineError::invalid(problem))));
                            return;
                        }
                    }
                    let row = rows.row;
                    match self.parse_row(columns, &rows.record, row, encoding) {
                        Ok(parsed) if parsed.problems.is_empty() => {
                            batch.push((
                                parsed.id.unwrap_or_else(generate_subject_id),
                                parsed.values,
                            ));
                        }
                        // Validated already, so the file changed under us.
                        _ => {
                            let _ = raw_tx.send(Err(Box::new(EngineError::invalid(Problem {
                                row: Some(row),
                                column: None,
                                field: None,
                                message:
                                    "changed while it was being imported; nothing was imported"
                                        .to_owned(),
                            }))));
                            return;
                        }
                    }
                    if batch.len() == BATCH && raw_tx.send(Ok(std::mem::take(&mut batch))).is_err()
                    {
                        return;
                    }
                }
                if !batch.is_empty() {
                    let _ = raw_tx.send(Ok(batch));
                }
            });
            for _ in 0..workers {
                let sealed_tx = sealed_tx.clone();
                let raw_rx = Arc::clone(&raw_rx);
                scope.spawn(move || seal_batches(self, &keys.keyring, &raw_rx, &sealed_tx));
            }
            drop(raw_rx);
            drop(sealed_tx);
            let mut written = 0u64;
            // Each batch's events are in the ledger before the batch is
            // handed to the store: one event per subject.
            let mut batches = sealed_rx.iter().map(|batch| {
                let batch = batch?;
                let ids: Vec<SubjectId> = batch.iter().map(|s| s.id.clone()).collect();
                self.record_each(who, Action::Import, &ids, &[], "")
                    .map_err(|e| Box::new(e) as BoxError)?;
                written += batch.len() as u64;
                progress(ImportProgress::Written {
                    done: written,
                    total,
                });
                Ok(batch)
            });
            let inserted = self.store.insert_subjects(&mut batches, keys.epoch);
            drop(batches);
            // Let the other threads see their channels close before joining.
            drop(sealed_rx);
            inserted.map_err(|e| match e {
                custos_store::StoreError::Aborted(inner) => match inner.downcast::<EngineError>() {
                    Ok(engine) => *engine,
                    Err(other) => EngineError::Store(custos_store::StoreError::Aborted(other)),
                },
                other => EngineError::Store(other),
            })
        })
    }
}

fn seal_batches(
    vault: &Vault,
    keyring: &Keyring,
    raw: &Mutex<Receiver<RawBatch>>,
    sealed: &std::sync::mpsc::SyncSender<Result<Vec<NewSubject>, BoxError>>,
) {
    loop {
        let next = match raw.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(batch) = next else { return };
        let out = batch.map(|rows| {
            rows.into_iter()
                .map(|(id, values)| vault.seal_new(keyring, id, &values))
                .collect()
        });
        if sealed.send(out).is_err() {
            return;
        }
    }
}
