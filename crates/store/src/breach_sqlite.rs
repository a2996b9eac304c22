//! [`BreachStore`] for [`SqliteStore`]: incident response in
//! `store.sqlite`, since format 3.
//!
//! # Tables
//!
//! Like the rest of the store, names and times are plain text, readable
//! with `sqlite3`.
//!
//! `processors`: one row per processor: `name`, `contact`, `contract_ref`
//! (the Art. 28 contract), `purposes` (comma-separated purpose names),
//! `created_at` and `created_by`.
//!
//! `exports`: one row per export to a processor. `id` is the number of
//! `EX-0001`; `processor`, `purpose`, `principal` (who exported) and
//! `request_id` (what its ledger events carry); `fields` and `filters`
//! (comma- and newline-separated); `file_name`; `started_at` and
//! `first_seq` (the ledger's size when it started, so its events are at or
//! after it); `status` (`writing`, `complete`, `failed`); `completed_at`;
//! `manifest_seq` (its manifest event); `subjects` and `canaries` (rows
//! written); `sha256` (of the file, hex).
//!
//! `canaries`: `(export_id, n)`, one row per canary record mixed into an
//! export: `wrapped_key` and `sealed` (its values, sealed like a subject's
//! fields). Nothing about a canary is in clear.
//!
//! `canary_traces`: `(kind, digest, export_id, n)`: keyed digests of the
//! values a canary can be traced by (`id`, `email`, `phone`, `postcode`,
//! `name`), for `custos canary trace`.
//!
//! `incidents`: the breach register (Art. 33(5)). `id` is the number of
//! `INC-0001`; `title`, `nature`, `aware_at` (the 72-hour clock starts),
//! `opened_at`, `opened_by`, `scopes` (one per line), `keys_exposed`,
//! `status` (`open`, `closed`), `consequences`, `measures`, `reported_at`,
//! `subjects_notified_at`, `closed_at`, and `affected_subjects` and
//! `special_subjects` as last computed.
//!
//! `incident_updates`: `(incident_id, n)`: its follow-ups (Art. 33(4)),
//! with `time`, `by` and `summary`.

use custos_model::{ExportId, FieldName, IncidentId, ProcessorName, PurposeName};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::access_sqlite::{is_constraint, signed, split_list, unsigned};
use crate::breach::BreachStore;
use crate::breach_types::{
    CanaryMatch, CanaryRecord, ExportCompletion, ExportRecord, ExportStatus, IncidentChange,
    IncidentRecord, IncidentStatus, IncidentUpdate, NewExport, NewIncident, ProcessorRecord,
};
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::sqlite::{SqliteStore, db};
use crate::types::Digest;

const SELECT_PROCESSOR: &str =
    "SELECT name, contact, contract_ref, purposes, created_at, created_by FROM processors";

const SELECT_EXPORT: &str = "SELECT id, processor, purpose, principal, request_id, fields, filters, \
     file_name, started_at, first_seq, status, completed_at, manifest_seq, subjects, canaries, sha256 \
     FROM exports";

const SELECT_INCIDENT: &str = "SELECT id, title, nature, aware_at, opened_at, opened_by, scopes, \
     keys_exposed, status, consequences, measures, reported_at, subjects_notified_at, closed_at, \
     affected_subjects, special_subjects FROM incidents";

fn processor_row(r: &Row<'_>) -> rusqlite::Result<[String; 6]> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ])
}

fn parse_processor(
    [
        name,
        contact,
        contract_ref,
        purposes,
        created_at,
        created_by,
    ]: [String; 6],
) -> Result<ProcessorRecord, StoreError> {
    let name = ProcessorName::parse(&name)
        .map_err(|e| StoreError::Corrupt(format!("processor name `{name}` {e}")))?;
    let purposes = split_list(&purposes)
        .iter()
        .map(|p| {
            PurposeName::parse(p)
                .map_err(|e| StoreError::Corrupt(format!("processor `{name}`: purpose `{p}` {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(ProcessorRecord {
        name,
        contact,
        contract_ref,
        purposes,
        created_at,
        created_by,
    })
}

/// An `exports` row as read, before parsing.
struct ExportRow {
    id: i64,
    processor: String,
    purpose: String,
    principal: String,
    request_id: String,
    fields: String,
    filters: String,
    file_name: Option<String>,
    started_at: String,
    first_seq: i64,
    status: String,
    completed_at: Option<String>,
    manifest_seq: Option<i64>,
    subjects: i64,
    canaries: i64,
    sha256: Option<String>,
}

fn export_row(r: &Row<'_>) -> rusqlite::Result<ExportRow> {
    Ok(ExportRow {
        id: r.get(0)?,
        processor: r.get(1)?,
        purpose: r.get(2)?,
        principal: r.get(3)?,
        request_id: r.get(4)?,
        fields: r.get(5)?,
        filters: r.get(6)?,
        file_name: r.get(7)?,
        started_at: r.get(8)?,
        first_seq: r.get(9)?,
        status: r.get(10)?,
        completed_at: r.get(11)?,
        manifest_seq: r.get(12)?,
        subjects: r.get(13)?,
        canaries: r.get(14)?,
        sha256: r.get(15)?,
    })
}

impl ExportRow {
    fn parse(self) -> Result<ExportRecord, StoreError> {
        let id = ExportId::from_number(unsigned(self.id, || "an export id".to_owned())?);
        let corrupt = |m: String| StoreError::Corrupt(format!("export `{id}`: {m}"));
        let processor = ProcessorName::parse(&self.processor)
            .map_err(|e| corrupt(format!("processor `{}` {e}", self.processor)))?;
        let fields = split_list(&self.fields)
            .iter()
            .map(|f| FieldName::parse(f).map_err(|e| corrupt(format!("field `{f}` {e}"))))
            .collect::<Result<_, _>>()?;
        let status = ExportStatus::parse(&self.status)
            .ok_or_else(|| corrupt(format!("unknown status `{}`", self.status)))?;
        Ok(ExportRecord {
            id,
            export: NewExport {
                processor,
                purpose: self.purpose,
                principal: self.principal,
                request_id: self.request_id,
                fields,
                filters: self.filters.lines().map(str::to_owned).collect(),
                file_name: self.file_name,
                started_at: self.started_at,
                first_seq: unsigned(self.first_seq, || format!("export `{id}` first seq"))?,
            },
            status,
            completed_at: self.completed_at,
            manifest_seq: self
                .manifest_seq
                .map(|s| unsigned(s, || format!("export `{id}` manifest seq")))
                .transpose()?,
            subjects: unsigned(self.subjects, || format!("export `{id}` subjects"))?,
            canaries: unsigned(self.canaries, || format!("export `{id}` canaries"))?,
            sha256: self.sha256,
        })
    }
}

/// An `incidents` row as read, before parsing.
struct IncidentRow {
    id: i64,
    title: String,
    nature: String,
    aware_at: String,
    opened_at: String,
    opened_by: String,
    scopes: String,
    keys_exposed: bool,
    status: String,
    consequences: String,
    measures: String,
    reported_at: Option<String>,
    subjects_notified_at: Option<String>,
    closed_at: Option<String>,
    affected: i64,
    special: i64,
}

fn incident_row(r: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        title: r.get(1)?,
        nature: r.get(2)?,
        aware_at: r.get(3)?,
        opened_at: r.get(4)?,
        opened_by: r.get(5)?,
        scopes: r.get(6)?,
        keys_exposed: r.get(7)?,
        status: r.get(8)?,
        consequences: r.get(9)?,
        measures: r.get(10)?,
        reported_at: r.get(11)?,
        subjects_notified_at: r.get(12)?,
        closed_at: r.get(13)?,
        affected: r.get(14)?,
        special: r.get(15)?,
    })
}

impl IncidentRow {
    fn parse(self) -> Result<IncidentRecord, StoreError> {
        let id = IncidentId::from_number(unsigned(self.id, || "an incident id".to_owned())?);
        let status = IncidentStatus::parse(&self.status)
            .map_err(|m| StoreError::Corrupt(format!("incident `{id}`: {m}")))?;
        Ok(IncidentRecord {
            id,
            incident: NewIncident {
                title: self.title,
                nature: self.nature,
                aware_at: self.aware_at,
                opened_at: self.opened_at,
                opened_by: self.opened_by,
                scopes: self.scopes.lines().map(str::to_owned).collect(),
                keys_exposed: self.keys_exposed,
                affected: (
                    unsigned(self.affected, || format!("incident `{id}` affected"))?,
                    unsigned(self.special, || format!("incident `{id}` special"))?,
                ),
            },
            status,
            consequences: self.consequences,
            measures: self.measures,
            reported_at: self.reported_at,
            subjects_notified_at: self.subjects_notified_at,
            closed_at: self.closed_at,
        })
    }
}

fn export_in(conn: &Connection, id: ExportId) -> Result<Option<ExportRecord>, StoreError> {
    conn.prepare_cached(&format!("{SELECT_EXPORT} WHERE id = ?1"))
        .map_err(db)?
        .query_row([signed(id.number(), "export id")?], export_row)
        .optional()
        .map_err(db)?
        .map(ExportRow::parse)
        .transpose()
}

fn incident_in(conn: &Connection, id: IncidentId) -> Result<Option<IncidentRecord>, StoreError> {
    conn.prepare_cached(&format!("{SELECT_INCIDENT} WHERE id = ?1"))
        .map_err(db)?
        .query_row([signed(id.number(), "incident id")?], incident_row)
        .optional()
        .map_err(db)?
        .map(IncidentRow::parse)
        .transpose()
}

fn next_id(tx: &Transaction<'_>, table: &str) -> Result<u64, StoreError> {
    let highest: Option<i64> = tx
        .query_row(&format!("SELECT max(id) FROM {table}"), [], |r| r.get(0))
        .map_err(db)?;
    Ok(highest.map_or(Ok(0), |h| unsigned(h, || format!("{table} id")))? + 1)
}

fn insert_canaries(
    tx: &Transaction<'_>,
    id: ExportId,
    canaries: &[CanaryRecord],
) -> Result<(), StoreError> {
    let export = signed(id.number(), "export id")?;
    let mut row = tx
        .prepare_cached(
            "INSERT INTO canaries (export_id, n, wrapped_key, sealed) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(db)?;
    let mut trace = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO canary_traces (kind, digest, export_id, n) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(db)?;
    for c in canaries {
        row.execute(params![export, c.n, c.wrapped_key, encode(&c.sealed)])
            .map_err(db)?;
        for (kind, digest) in &c.traces {
            trace
                .execute(params![kind, digest.as_slice(), export, c.n])
                .map_err(db)?;
        }
    }
    Ok(())
}

impl BreachStore for SqliteStore {
    fn insert_processor(&self, p: &ProcessorRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            let purposes: Vec<&str> = p.purposes.iter().map(PurposeName::as_str).collect();
            tx.prepare_cached(
                "INSERT INTO processors (name, contact, contract_ref, purposes, created_at, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db)?
            .execute(params![
                p.name.as_str(),
                p.contact,
                p.contract_ref,
                purposes.join(","),
                p.created_at,
                p.created_by
            ])
            .map_err(|e| {
                if is_constraint(&e) {
                    StoreError::ProcessorExists(p.name.clone())
                } else {
                    db(e)
                }
            })?;
            Ok(())
        })
    }

    fn processor(&self, name: &ProcessorName) -> Result<Option<ProcessorRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("{SELECT_PROCESSOR} WHERE name = ?1"))
                .map_err(db)?
                .query_row([name.as_str()], processor_row)
                .optional()
                .map_err(db)?
                .map(parse_processor)
                .transpose()
        })
    }

    fn processors(&self) -> Result<Vec<ProcessorRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("{SELECT_PROCESSOR} ORDER BY name"))
                .map_err(db)?
                .query_map([], processor_row)
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?
                .into_iter()
                .map(parse_processor)
                .collect()
        })
    }

    fn insert_export(&self, e: &NewExport) -> Result<ExportId, StoreError> {
        self.write(|tx| {
            let known = tx
                .prepare_cached("SELECT 1 FROM processors WHERE name = ?1")
                .map_err(db)?
                .query_row([e.processor.as_str()], |_| Ok(()))
                .optional()
                .map_err(db)?;
            if known.is_none() {
                return Err(StoreError::ProcessorNotFound(e.processor.clone()));
            }
            let id = next_id(tx, "exports")?;
            let fields: Vec<&str> = e.fields.iter().map(FieldName::as_str).collect();
            tx.prepare_cached(
                "INSERT INTO exports (id, processor, purpose, principal, request_id, fields, filters, \
                 file_name, started_at, first_seq, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'writing')",
            )
            .map_err(db)?
            .execute(params![
                signed(id, "export id")?,
                e.processor.as_str(),
                e.purpose,
                e.principal,
                e.request_id,
                fields.join(","),
                e.filters.join("\n"),
                e.file_name,
                e.started_at,
                signed(e.first_seq, "first seq")?,
            ])
            .map_err(db)?;
            Ok(ExportId::from_number(id))
        })
    }

    fn finish_export(&self, id: ExportId, done: &ExportCompletion) -> Result<(), StoreError> {
        self.write(|tx| {
            let current = export_in(tx, id)?.ok_or(StoreError::ExportNotFound(id))?;
            if current.status != ExportStatus::Writing {
                return Err(StoreError::Corrupt(format!(
                    "export `{id}` already ended ({})",
                    current.status.as_str()
                )));
            }
            tx.prepare_cached(
                "UPDATE exports SET status = ?2, completed_at = ?3, manifest_seq = ?4, subjects = ?5, \
                 canaries = ?6, sha256 = ?7 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![
                signed(id.number(), "export id")?,
                done.status.as_str(),
                done.completed_at,
                done.manifest_seq
                    .map(|s| signed(s, "manifest seq"))
                    .transpose()?,
                signed(done.subjects, "subjects")?,
                signed(done.canaries.len() as u64, "canaries")?,
                done.sha256,
            ])
            .map_err(db)?;
            insert_canaries(tx, id, &done.canaries)
        })
    }

    fn export(&self, id: ExportId) -> Result<Option<ExportRecord>, StoreError> {
        self.read(|conn| export_in(conn, id))
    }

    fn exports(&self, processor: Option<&ProcessorName>) -> Result<Vec<ExportRecord>, StoreError> {
        self.read(|conn| {
            let rows = match processor {
                Some(p) => conn
                    .prepare_cached(&format!("{SELECT_EXPORT} WHERE processor = ?1 ORDER BY id"))
                    .map_err(db)?
                    .query_map([p.as_str()], export_row)
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>(),
                None => conn
                    .prepare_cached(&format!("{SELECT_EXPORT} ORDER BY id"))
                    .map_err(db)?
                    .query_map([], export_row)
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>(),
            };
            rows.map_err(db)?
                .into_iter()
                .map(ExportRow::parse)
                .collect()
        })
    }

    fn canaries(&self, id: ExportId) -> Result<Vec<CanaryRecord>, StoreError> {
        self.read(|conn| {
            let export = signed(id.number(), "export id")?;
            let rows = conn
                .prepare_cached(
                    "SELECT n, wrapped_key, sealed FROM canaries WHERE export_id = ?1 ORDER BY n",
                )
                .map_err(db)?
                .query_map([export], |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            let mut traces = conn
                .prepare_cached(
                    "SELECT kind, digest FROM canary_traces WHERE export_id = ?1 AND n = ?2 ORDER BY kind",
                )
                .map_err(db)?;
            rows.into_iter()
                .map(|(n, wrapped_key, sealed)| {
                    let found = traces
                        .query_map(params![export, n], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                        })
                        .map_err(db)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(db)?;
                    let traces = found
                        .into_iter()
                        .map(|(kind, digest)| {
                            Digest::try_from(digest.as_slice())
                                .map(|d| (kind, d))
                                .map_err(|_| {
                                    StoreError::Corrupt(format!(
                                        "export `{id}` canary {n}: a trace digest is not 16 bytes"
                                    ))
                                })
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(CanaryRecord {
                        n,
                        wrapped_key,
                        sealed: decode(&sealed)?,
                        traces,
                    })
                })
                .collect()
        })
    }

    fn find_canaries(&self, kind: &str, digest: &Digest) -> Result<Vec<CanaryMatch>, StoreError> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT export_id, n FROM canary_traces WHERE kind = ?1 AND digest = ?2 ORDER BY export_id, n",
                )
                .map_err(db)?
                .query_map(params![kind, digest.as_slice()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?))
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.into_iter()
                .map(|(export, n)| {
                    Ok(CanaryMatch {
                        kind: kind.to_owned(),
                        export_id: ExportId::from_number(unsigned(export, || {
                            "a canary's export id".to_owned()
                        })?),
                        n,
                    })
                })
                .collect()
        })
    }

    fn insert_incident(&self, i: &NewIncident) -> Result<IncidentId, StoreError> {
        self.write(|tx| {
            let id = next_id(tx, "incidents")?;
            tx.prepare_cached(
                "INSERT INTO incidents (id, title, nature, aware_at, opened_at, opened_by, scopes, \
                 keys_exposed, status, affected_subjects, special_subjects) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?10)",
            )
            .map_err(db)?
            .execute(params![
                signed(id, "incident id")?,
                i.title,
                i.nature,
                i.aware_at,
                i.opened_at,
                i.opened_by,
                i.scopes.join("\n"),
                i.keys_exposed,
                signed(i.affected.0, "affected subjects")?,
                signed(i.affected.1, "special subjects")?,
            ])
            .map_err(db)?;
            Ok(IncidentId::from_number(id))
        })
    }

    fn incident(&self, id: IncidentId) -> Result<Option<IncidentRecord>, StoreError> {
        self.read(|conn| incident_in(conn, id))
    }

    fn incidents(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("{SELECT_INCIDENT} ORDER BY id"))
                .map_err(db)?
                .query_map([], incident_row)
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?
                .into_iter()
                .map(IncidentRow::parse)
                .collect()
        })
    }

    fn update_incident(
        &self,
        id: IncidentId,
        change: &IncidentChange,
        time: &str,
        by: &str,
        summary: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let number = signed(id.number(), "incident id")?;
            if incident_in(tx, id)?.is_none() {
                return Err(StoreError::IncidentNotFound(id));
            }
            let (status, closed_at) = match &change.status {
                Some((IncidentStatus::Closed, at)) => (Some("closed"), Some(Some(at.as_str()))),
                Some((IncidentStatus::Open, _)) => (Some("open"), Some(None)),
                None => (None, None),
            };
            let affected = change
                .affected
                .map(|(a, s)| Ok::<_, StoreError>((signed(a, "affected")?, signed(s, "special")?)))
                .transpose()?;
            tx.prepare_cached(
                "UPDATE incidents SET \
                 nature = coalesce(?2, nature), \
                 consequences = coalesce(?3, consequences), \
                 measures = coalesce(?4, measures), \
                 reported_at = coalesce(?5, reported_at), \
                 subjects_notified_at = coalesce(?6, subjects_notified_at), \
                 status = coalesce(?7, status), \
                 closed_at = CASE WHEN ?8 THEN ?9 ELSE closed_at END, \
                 affected_subjects = coalesce(?10, affected_subjects), \
                 special_subjects = coalesce(?11, special_subjects) \
                 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![
                number,
                change.nature,
                change.consequences,
                change.measures,
                change.reported_at,
                change.subjects_notified_at,
                status,
                closed_at.is_some(),
                closed_at.flatten(),
                affected.map(|a| a.0),
                affected.map(|a| a.1),
            ])
            .map_err(db)?;
            let n: i64 = tx
                .prepare_cached(
                    "SELECT coalesce(max(n), 0) + 1 FROM incident_updates WHERE incident_id = ?1",
                )
                .map_err(db)?
                .query_row([number], |r| r.get(0))
                .map_err(db)?;
            tx.prepare_cached(
                "INSERT INTO incident_updates (incident_id, n, time, by, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db)?
            .execute(params![number, n, time, by, summary])
            .map_err(db)?;
            Ok(())
        })
    }

    fn incident_updates(&self, id: IncidentId) -> Result<Vec<IncidentUpdate>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT n, time, by, summary FROM incident_updates WHERE incident_id = ?1 ORDER BY n",
            )
            .map_err(db)?
            .query_map([signed(id.number(), "incident id")?], |r| {
                Ok(IncidentUpdate {
                    n: r.get(0)?,
                    time: r.get(1)?,
                    by: r.get(2)?,
                    summary: r.get(3)?,
                })
            })
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)
        })
    }
}
