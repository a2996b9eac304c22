//! The JSON shapes of the API and of the CLI's `--json` output.
//!
//! API boundary: these shapes are a contract with scripts and integrations.
//! They are built here by hand from domain types, so that a change to the
//! domain cannot silently change them.

use custos_model::{FieldType, Purpose, Schema};
use custos_policy::CaseReport;
use custos_store::{
    AlertRecord, ExportRecord, IncidentRecord, PolicyRecord, ProcessorRecord, TokenRecord,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::access::SubjectPage;
use crate::audit::SubjectHistory;
use crate::authentication::Session;
use crate::canaries::{CanaryTrace, CanaryView};
use crate::directory::{PrincipalView, TotpEnrollment};
use crate::error::{Denial, Problem};
use crate::export::{ExportReport, ProcessorExportReport};
use crate::exposure::SubjectExposure;
use crate::import::ImportReport;
use crate::incidents::IncidentReport;
use crate::notices::{Notice, NoticeSummary};
use crate::organisation::Organisation;
use crate::policy_admin::AppliedPolicy;
use crate::principal::Principal;
use crate::processors::ProcessorView;
use crate::purposes::{RecordOfProcessing, SECURITY_MEASURES, SUBJECT_CATEGORIES};
use crate::record::SubjectRecord;
use crate::rotation::RotationReport;
use crate::vault::VaultInfo;
use custos_ledger::{Event, Report, SignedHead};
use custos_store::{Erasure, SubjectSummary};

/// A subject: `{"id": …, "fields": {name: value-or-null}, "denied":
/// [{"field", "code", "reason"}]}`. Booleans and integers are JSON booleans
/// and numbers; everything else is a string (money too, so that no amount
/// passes through a float). `denied` lists the fields asked for that the
/// policies withheld; it is empty when everything was allowed.
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
    json!({ "id": record.id.as_str(), "fields": fields, "denied": denials(&record.denied) })
}

/// Denials: `[{"field", "code", "reason", "rules"}]`; `field` is null when
/// the whole request was denied.
pub fn denials(denials: &[Denial]) -> Value {
    Value::Array(
        denials
            .iter()
            .map(|d| json!({ "field": d.field, "code": d.code, "reason": d.reason, "rules": d.rules }))
            .collect(),
    )
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
    json!({ "rows": report.rows, "excluded": report.excluded, "fields": report.fields })
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

/// A principal: `{"name", "kind", "attributes", "status", "status_reason",
/// "status_changed_at", "valid_from", "valid_until", "created_at",
/// "password_set", "totp_set", "live_tokens"}`.
pub fn principal(view: &PrincipalView) -> Value {
    let r = &view.record;
    let attributes: Map<String, Value> = r
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.to_owned())))
        .collect();
    json!({
        "name": r.name.as_str(),
        "kind": r.kind.as_str(),
        "attributes": attributes,
        "status": r.status.as_str(),
        "status_reason": r.status_reason,
        "status_changed_at": r.status_changed_at,
        "valid_from": r.valid_from,
        "valid_until": r.valid_until,
        "created_at": r.created_at,
        "password_set": view.password_set,
        "totp_set": view.totp_set,
        "live_tokens": view.live_tokens,
    })
}

/// Who a caller is: `{"name", "kind", "attributes", "auth", "mfa"}`.
pub fn whoami(principal: &Principal) -> Value {
    let attributes: Map<String, Value> = principal
        .attributes()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.to_owned())))
        .collect();
    json!({
        "name": principal.name().as_str(),
        "kind": principal.kind().as_str(),
        "attributes": attributes,
        "auth": principal.auth(),
        "mfa": principal.used_mfa(),
    })
}

/// A token's record, never its secret: `{"id", "principal", "kind", "mfa",
/// "created_at", "expires_at", "revoked_at"}`.
pub fn token(record: &TokenRecord) -> Value {
    json!({
        "id": record.id,
        "principal": record.principal.as_str(),
        "kind": record.kind.as_str(),
        "mfa": record.mfa,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
    })
}

/// A new token with its secret, shown once: the token's record plus
/// `"token"`.
pub fn new_token(secret: &str, record: &TokenRecord) -> Value {
    let mut v = token(record);
    v["token"] = Value::String(secret.to_owned());
    v
}

/// A new session: `{"token", "expires_at", "principal"}`.
pub fn session(session: &Session) -> Value {
    json!({
        "token": session.token.expose(),
        "expires_at": session.expires_at,
        "principal": session.principal.as_str(),
    })
}

/// A new second factor, shown once: `{"principal", "secret", "otpauth_uri"}`.
pub fn totp_enrollment(principal: &str, enrollment: &TotpEnrollment) -> Value {
    json!({
        "principal": principal,
        "secret": enrollment.secret.as_str(),
        "otpauth_uri": enrollment.uri.as_str(),
    })
}

/// A purpose: `{"name", "description", "lawful_basis", "lawful_basis_article",
/// "special_condition", "special_condition_article", "categories",
/// "requires_consent", "consent_fields"}`.
pub fn purpose(p: &Purpose) -> Value {
    json!({
        "name": p.name().as_str(),
        "description": p.description(),
        "lawful_basis": p.lawful_basis().as_str(),
        "lawful_basis_article": p.lawful_basis().article(),
        "special_condition": p.special_condition().map(|c| c.as_str()),
        "special_condition_article": p.special_condition().map(|c| c.article()),
        "categories": p.categories().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "requires_consent": p.requires_consent(),
        "consent_fields": p.consent_fields().iter().map(|f| f.as_str()).collect::<Vec<_>>(),
    })
}

/// The Art. 30 record of processing: `{"vault_id", "generated_at",
/// "subject_categories", "security_measures", "recipients", "activities":
/// [purpose + "fields": {category: [field…]}]}`.
pub fn record_of_processing(record: &RecordOfProcessing) -> Value {
    let activities: Vec<Value> = record
        .activities
        .iter()
        .map(|a| {
            let mut v = purpose(&a.purpose);
            let fields: Map<String, Value> = a
                .fields
                .iter()
                .map(|(c, names)| (c.as_str().to_owned(), json!(names)))
                .collect();
            v["fields"] = Value::Object(fields);
            v
        })
        .collect();
    json!({
        "vault_id": record.vault_id,
        "generated_at": record.generated_at,
        "subject_categories": SUBJECT_CATEGORIES,
        "security_measures": SECURITY_MEASURES,
        "recipients": record.recipients,
        "activities": activities,
    })
}

/// An alert: `{"id", "time", "principal", "kind", "details"}`.
pub fn alert(alert: &AlertRecord) -> Value {
    json!({
        "id": alert.id,
        "time": alert.time,
        "principal": alert.principal,
        "kind": alert.kind,
        "details": alert.details,
    })
}

/// Alerts: `{"alerts": [alert…]}`.
pub fn alerts(alerts: &[AlertRecord]) -> Value {
    json!({ "alerts": alerts.iter().map(alert).collect::<Vec<_>>() })
}

/// The policy set in force: `{"version", "applied_at", "applied_by", "text",
/// "tests"}`.
pub fn policy(record: &PolicyRecord) -> Value {
    json!({
        "version": record.version,
        "applied_at": record.applied_at,
        "applied_by": record.applied_by,
        "text": record.text,
        "tests": record.tests,
    })
}

/// What `policy apply` did: `{"version", "rules", "cases"}`.
pub fn applied_policy(applied: &AppliedPolicy) -> Value {
    json!({ "version": applied.version, "rules": applied.rules, "cases": applied.cases })
}

/// Test results: `{"passed", "cases": [{"name", "line", "passed", "detail"}]}`.
pub fn case_report(report: &CaseReport) -> Value {
    json!({
        "passed": report.passed(),
        "cases": report
            .results
            .iter()
            .map(|r| json!({ "name": r.name, "line": r.line, "passed": r.passed, "detail": r.detail }))
            .collect::<Vec<_>>(),
    })
}

/// A processor: `{"name", "contact", "contract_ref", "purposes",
/// "created_at", "created_by"}`.
pub fn processor(p: &ProcessorRecord) -> Value {
    json!({
        "name": p.name.as_str(),
        "contact": p.contact,
        "contract_ref": p.contract_ref,
        "purposes": p.purposes.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        "created_at": p.created_at,
        "created_by": p.created_by,
    })
}

/// A processor with what it received: the processor's keys plus
/// `"exports": [export…]` and `"principals": [name…]`.
pub fn processor_view(view: &ProcessorView) -> Value {
    let mut v = processor(&view.record);
    v["exports"] = Value::Array(view.exports.iter().map(export_record).collect());
    v["principals"] = json!(
        view.principals
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
    );
    v
}

/// An export to a processor, as registered: `{"id", "processor",
/// "purpose", "principal", "request_id", "fields", "filters", "file_name",
/// "started_at", "first_seq", "status", "completed_at", "manifest_seq",
/// "subjects", "canaries", "sha256"}`.
pub fn export_record(e: &ExportRecord) -> Value {
    json!({
        "id": e.id.to_string(),
        "processor": e.export.processor.as_str(),
        "purpose": e.export.purpose,
        "principal": e.export.principal,
        "request_id": e.export.request_id,
        "fields": e.export.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "filters": e.export.filters,
        "file_name": e.export.file_name,
        "started_at": e.export.started_at,
        "first_seq": e.export.first_seq,
        "status": e.status.as_str(),
        "completed_at": e.completed_at,
        "manifest_seq": e.manifest_seq,
        "subjects": e.subjects,
        "canaries": e.canaries,
        "sha256": e.sha256,
    })
}

/// What an export to a processor did: `{"id", "rows", "excluded",
/// "fields", "canaries", "sha256", "manifest_seq"}`.
pub fn processor_export(report: &ProcessorExportReport) -> Value {
    json!({
        "id": report.id.to_string(),
        "rows": report.report.rows,
        "excluded": report.report.excluded,
        "fields": report.report.fields,
        "canaries": report.canaries,
        "sha256": report.sha256,
        "manifest_seq": report.manifest_seq,
    })
}

/// Where a traced value came from: `{"matches": [{"export", "processor",
/// "exported_at", "purpose", "canary", "matched": [kind…]}]}`; empty when
/// it is no canary's.
pub fn canary_traces(traces: &[CanaryTrace]) -> Value {
    let matches: Vec<Value> = traces
        .iter()
        .map(|t| {
            json!({
                "export": t.export.id.to_string(),
                "processor": t.export.export.processor.as_str(),
                "exported_at": t.export.export.started_at,
                "purpose": t.export.export.purpose,
                "canary": t.n,
                "matched": t.matched,
            })
        })
        .collect();
    json!({ "matches": matches })
}

/// An export's canaries: `{"export", "canaries": [{"n", "fields": {name:
/// value}}]}`. They are synthetic people, not members.
pub fn canaries(export: &str, views: &[CanaryView]) -> Value {
    let canaries: Vec<Value> = views
        .iter()
        .map(|c| {
            let fields: Map<String, Value> = c
                .values
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.as_str().to_owned())))
                .collect();
            json!({ "n": c.n, "fields": fields })
        })
        .collect();
    json!({ "export": export, "canaries": canaries })
}

/// The organisation and its DPO: `{"name", "dpo": {"name", "email",
/// "phone", "address"}, "canary_email_domain"}`; unset values are "".
pub fn organisation(org: &Organisation) -> Value {
    json!({
        "name": org.name,
        "dpo": {
            "name": org.dpo_name,
            "email": org.dpo_email,
            "phone": org.dpo_phone,
            "address": org.dpo_address,
        },
        "canary_email_domain": org.canary_email_domain,
    })
}

/// An incident in the breach register: `{"id", "title", "nature",
/// "aware_at", "deadline", "opened_at", "opened_by", "status", "scopes",
/// "keys_exposed", "consequences", "measures", "reported_at",
/// "subjects_notified_at", "closed_at", "affected_subjects",
/// "special_category_subjects"}`. The counts are as of its last update.
pub fn incident(r: &IncidentRecord) -> Value {
    let i = &r.incident;
    json!({
        "id": r.id.to_string(),
        "title": i.title,
        "nature": i.nature,
        "aware_at": i.aware_at,
        "deadline": crate::exposure::deadline(&i.aware_at),
        "opened_at": i.opened_at,
        "opened_by": i.opened_by,
        "status": r.status.as_str(),
        "scopes": i.scopes,
        "keys_exposed": i.keys_exposed,
        "consequences": r.consequences,
        "measures": r.measures,
        "reported_at": r.reported_at,
        "subjects_notified_at": r.subjects_notified_at,
        "closed_at": r.closed_at,
        "affected_subjects": i.affected.0,
        "special_category_subjects": i.affected.1,
    })
}

/// The breach register: `{"incidents": [incident…]}`.
pub fn incidents(list: &[IncidentRecord]) -> Value {
    json!({ "incidents": list.iter().map(incident).collect::<Vec<_>>() })
}

/// One person's exposure: `{"id", "fields", "categories",
/// "special_category", "first_exposed", "last_exposed", "erased",
/// "encrypted_fields"}`. For someone erased since, `id` is a pseudonym.
#[derive(Serialize)]
struct SubjectExposureJson<'a> {
    id: &'a str,
    fields: Vec<&'a str>,
    categories: Vec<&'static str>,
    special_category: bool,
    first_exposed: &'a str,
    last_exposed: &'a str,
    erased: bool,
    encrypted_fields: Vec<&'a str>,
}

impl<'a> From<&'a SubjectExposure> for SubjectExposureJson<'a> {
    fn from(s: &'a SubjectExposure) -> Self {
        Self {
            id: &s.id,
            fields: s.fields.iter().map(|f| f.as_str()).collect(),
            categories: s.categories.iter().map(|c| c.as_str()).collect(),
            special_category: s.special_category,
            first_exposed: &s.first_exposed,
            last_exposed: &s.last_exposed,
            erased: s.erased,
            encrypted_fields: s.encrypted_fields.iter().map(|f| f.as_str()).collect(),
        }
    }
}

/// The JSON incident report: a stable interface, documented in the
/// README. Everything but `subjects` is built as a value; `subjects`,
/// which may hold hundreds of thousands of people, is written as it is
/// serialised.
#[derive(Debug)]
pub struct IncidentReportJson<'a> {
    head: Map<String, Value>,
    subjects: &'a [SubjectExposure],
}

impl Serialize for IncidentReportJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Subjects<'a>(&'a [SubjectExposure]);
        impl Serialize for Subjects<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for s in self.0 {
                    seq.serialize_element(&SubjectExposureJson::from(s))?;
                }
                seq.end()
            }
        }
        let mut map = serializer.serialize_map(Some(self.head.len() + 1))?;
        for (k, v) in &self.head {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry("subjects", &Subjects(self.subjects))?;
        map.end()
    }
}

/// The incident report: `{"incident": incident, "generated_at",
/// "deadline", "time_remaining": {"seconds", "text"}, "organisation",
/// "totals": {"subjects", "records", "erased_subjects",
/// "special_category_subjects", "categories": {category: people},
/// "special_categories": {category: people}}, "art34": {"notify_subjects",
/// "exception", "reasons"}, "consequences", "measures", "timeline":
/// [{"time", "event"}], "updates": [{"n", "time", "by", "summary"}],
/// "notes", "subjects": [subject exposure…]}`.
pub fn incident_report(report: &IncidentReport) -> IncidentReportJson<'_> {
    let subjects = &report.exposure.subjects;
    let mut categories: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for s in subjects {
        for c in s.categories.iter() {
            *categories.entry(c.as_str()).or_default() += 1;
        }
    }
    let special: Map<String, Value> = categories
        .iter()
        .filter(|(c, _)| c.starts_with("special:"))
        .map(|(c, n)| ((*c).to_owned(), Value::from(*n)))
        .collect();
    let categories: Map<String, Value> = categories
        .iter()
        .map(|(c, n)| ((*c).to_owned(), Value::from(*n)))
        .collect();
    let totals = json!({
        "subjects": subjects.len(),
        "records": subjects.iter().map(|s| s.fields.len()).sum::<usize>(),
        "erased_subjects": subjects.iter().filter(|s| s.erased).count(),
        "special_category_subjects": subjects.iter().filter(|s| s.special_category).count(),
        "categories": categories,
        "special_categories": special,
    });
    let mut incident = incident(&report.record);
    if let Some(map) = incident.as_object_mut() {
        map.insert("affected_subjects".into(), Value::from(subjects.len()));
        map.insert(
            "special_category_subjects".into(),
            Value::from(subjects.iter().filter(|s| s.special_category).count()),
        );
    }
    let head = json!({
        "incident": incident,
        "generated_at": report.generated_at,
        "deadline": report.deadline,
        "time_remaining": {
            "seconds": report.seconds_remaining,
            "text": crate::incidents::remaining_words(report.seconds_remaining),
        },
        "organisation": organisation(&report.organisation),
        "totals": totals,
        "art34": {
            "notify_subjects": report.art34.notify_subjects,
            "exception": report.art34.exception,
            "reasons": report.art34.reasons,
        },
        "consequences": report.consequences,
        "measures": report.measures,
        "timeline": report.timeline.iter().map(|(t, e)| json!({ "time": t, "event": e })).collect::<Vec<_>>(),
        "updates": report.updates.iter().map(|u| json!({ "n": u.n, "time": u.time, "by": u.by, "summary": u.summary })).collect::<Vec<_>>(),
        "notes": report.exposure.notes,
        "events": report.exposure.events,
    });
    IncidentReportJson {
        head: match head {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        subjects,
    }
}

/// One notice: `{"id", "contact": {field: value}, "exposed_fields",
/// "special_category", "text"}`.
pub fn notice(n: &Notice<'_>) -> Value {
    let contact: Map<String, Value> = n
        .contact
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.as_ref()
                    .map_or(Value::Null, |v| Value::String(v.as_str().to_owned())),
            )
        })
        .collect();
    json!({
        "id": n.subject.as_str(),
        "contact": contact,
        "exposed_fields": n.exposure.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "special_category": n.exposure.special_category,
        "text": n.text,
    })
}

/// What writing notices did: `{"written", "erased", "not_permitted",
/// "unreachable", "required"}`.
pub fn notice_summary(s: &NoticeSummary) -> Value {
    json!({
        "written": s.written,
        "erased": s.erased,
        "not_permitted": s.not_permitted,
        "unreachable": s.unreachable,
        "required": s.required,
    })
}
