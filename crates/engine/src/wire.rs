//! The JSON shapes of the API and of the CLI's `--json` output.
//!
//! API boundary: these shapes are a contract with scripts and integrations.
//! They are built here by hand from domain types, so that a change to the
//! domain cannot silently change them.

use custos_model::{FieldType, Schema};
use serde_json::{Map, Value, json};

use crate::access::SubjectPage;
use crate::audit::SubjectHistory;
use crate::error::Problem;
use crate::export::ExportReport;
use crate::import::ImportReport;
use crate::record::SubjectRecord;
use crate::rotation::RotationReport;
use crate::vault::VaultInfo;
use custos_ledger::{Event, Report, SignedHead};
use custos_store::{Erasure, SubjectSummary};

/// A subject: `{"id": …, "fields": {name: value-or-null}}`. Booleans and
/// integers are JSON booleans and numbers; everything else is a string
/// (money too, so that no amount passes through a float).
pub fn record(schema: &Schema, record: &SubjectRecord) -> Value {
    let mut fields = Map::new();
    for (name, value) in &record.fields {
        let typed = match (value, schema.field(name.as_str()).map(|f| f.field_type())) {
            (None, _) => Value::Null,
            (Some(v), Some(FieldType::Bool)) => Value::Bool(v.as_str() == "true"),
            (Some(v), Some(FieldType::Integer)) => v
                .as_str()
                .parse::<i64>()
                .map_or_else(|_| Value::String(v.as_str().to_owned()), Value::from),
            (Some(v), _) => Value::String(v.as_str().to_owned()),
        };
        fields.insert(name.to_string(), typed);
    }
    json!({ "id": record.id.as_str(), "fields": fields })
}

/// Turns a JSON input value into the raw text the schema parses. `null`
/// means "no value".
pub fn raw_value(value: &Value) -> Result<String, &'static str> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) | Value::Object(_) => Err("must be a string, number, boolean or null"),
    }
}

/// Reads a `{"field": value, …}` object into raw values, collecting problems.
pub fn raw_fields(fields: &Map<String, Value>) -> Result<Vec<(String, String)>, Vec<Problem>> {
    let mut out = Vec::with_capacity(fields.len());
    let mut problems = Vec::new();
    for (name, value) in fields {
        match raw_value(value) {
            Ok(raw) => out.push((name.clone(), raw)),
            Err(m) => problems.push(Problem::field(name, m)),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn summary(s: &SubjectSummary) -> Value {
    let scope: Map<String, Value> = s
        .scope
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    json!({ "id": s.id.as_str(), "scope": scope })
}

/// A page of a listing: `{"subjects": [{"id", "scope"}], "next_after": id|null}`.
pub fn page(page: &SubjectPage) -> Value {
    json!({
        "subjects": page.subjects.iter().map(summary).collect::<Vec<_>>(),
        "next_after": page.next_after.as_ref().map(|id| id.as_str()),
    })
}

/// Problems: `[{"row", "column", "field", "message"}]`, absent keys null.
pub fn problems(problems: &[Problem]) -> Value {
    Value::Array(
        problems
            .iter()
            .map(|p| json!({ "row": p.row, "column": p.column, "field": p.field, "message": p.message }))
            .collect(),
    )
}

/// An import's outcome.
pub fn import_report(report: &ImportReport) -> Value {
    json!({
        "rows": report.rows,
        "imported": report.imported,
        "dry_run": report.dry_run,
        "encoding": report.encoding.name(),
    })
}

/// An export's outcome.
pub fn export_report(report: &ExportReport) -> Value {
    json!({ "rows": report.rows, "fields": report.fields })
}

/// An erasure's outcome.
pub fn erasure(id: &str, erasure: &Erasure) -> Value {
    json!({ "id": id, "erased": true, "log_purged": erasure.log_purged })
}

/// Facts about the vault.
pub fn info(info: &VaultInfo) -> Value {
    json!({
        "vault_id": info.vault_id,
        "dir": info.dir.display().to_string(),
        "schema": info.schema,
        "key_provider": info.key_provider,
        "subjects": info.subjects,
        "erased_subjects": info.erased,
    })
}

/// A rotation's outcome.
pub fn rotation(report: &RotationReport) -> Value {
    json!({ "rewrapped": report.rewrapped, "key_provider": report.key_provider })
}

/// The schema, as the API describes it.
pub fn schema(schema: &Schema) -> Value {
    let fields: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut v = json!({
                "name": f.name().as_str(),
                "type": f.field_type().name(),
                "category": f.category().as_str(),
                "lookup": f.is_lookup(),
                "scope": f.is_scope(),
                "required": f.is_required(),
                "max_length": f.max_length(),
            });
            if let FieldType::Enum(values) = f.field_type() {
                v["values"] = json!(values);
            }
            if let Some(d) = f.description() {
                v["description"] = json!(d);
            }
            v
        })
        .collect();
    json!({ "name": schema.name(), "fields": fields })
}

/// A ledger event, in the ledger's own JSON line format (`"v": 1`, …).
pub fn event(event: &Event) -> Value {
    serde_json::from_str(&event.to_json()).unwrap_or(Value::Null)
}

/// A signed tree head: `{"vault_id", "size", "root", "time", "key_id", "signature"}`.
pub fn head(head: &SignedHead) -> Value {
    serde_json::from_str(&head.to_json()).unwrap_or(Value::Null)
}

/// Events: `{"events": [event…]}`.
pub fn events(events: &[Event]) -> Value {
    json!({ "events": events.iter().map(event).collect::<Vec<_>>() })
}

/// A subject's access history: `{"subject", "head", "events": [event +
/// "inclusion_proof": [hex…]]}`.
pub fn subject_history(subject: &str, history: &SubjectHistory) -> Value {
    let events: Vec<Value> = history
        .events
        .iter()
        .map(|proven| {
            let mut v = event(&proven.event);
            v["inclusion_proof"] = json!(
                proven
                    .proof
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
            v
        })
        .collect();
    json!({ "subject": subject, "head": head(&history.head), "events": events })
}

/// A verification report: `{"ok", "events_checked", "heads_checked", "root", "problem"}`.
pub fn verify_report(report: &Report) -> Value {
    json!({
        "ok": report.problem.is_none(),
        "events_checked": report.events_checked,
        "heads_checked": report.heads_checked,
        "root": report.root.to_string(),
        "problem": report.problem.as_ref().map(ToString::to_string),
    })
}
