//! The incident-response routes: processors and the exports made to them,
//! canary traces, the breach register, reports, notices, and the
//! organisation and DPO they name. Like every handler, each parses, calls
//! one engine method on the blocking pool, and renders.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custos_engine::{
    BREACH_PURPOSE, EngineError, IncidentFollowUp, IncidentOpening, MailMerge, NewProcessor,
    Notice, NoticeRun, NoticeSink, OrganisationChange, ProcessorExport, report_html,
    report_markdown, wire,
};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::{
    Params, blocking, export_request, json_object, optional_string, required_string, string_list,
};

/// The response headers that name an export to a processor and its hash.
const EXPORT_ID_HEADER: HeaderName = HeaderName::from_static("x-custos-export-id");
const EXPORT_SHA256_HEADER: HeaderName = HeaderName::from_static("x-custos-export-sha256");

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/processors", get(list_processors).post(add_processor))
        .route("/v1/processors/{name}", get(show_processor))
        .route("/v1/processors/{name}/exports", post(export_to_processor))
        .route("/v1/exports", get(list_exports))
        .route("/v1/exports/{id}", get(show_export))
        .route("/v1/exports/{id}/canaries", get(export_canaries))
        .route("/v1/canaries/trace", post(trace_canary))
        .route("/v1/incidents", get(list_incidents).post(open_incident))
        .route("/v1/incidents/{id}/report", get(incident_report))
        .route("/v1/incidents/{id}/updates", post(update_incident))
        .route("/v1/incidents/{id}/notices", get(incident_notices))
        .route(
            "/v1/organisation",
            get(show_organisation).patch(set_organisation),
        )
}

// Processors and exports.

async fn list_processors(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let processors = blocking(&state.vault, move |v| v.processors(&who)).await?;
    Ok(Json(
        json!({ "processors": processors.iter().map(wire::processor).collect::<Vec<_>>() }),
    ))
}

async fn add_processor(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = json_object(&body)?;
    let new = NewProcessor {
        name: required_string(&body, "name")?,
        contact: required_string(&body, "contact")?,
        contract_ref: required_string(&body, "contract_ref")?,
        purposes: string_list(body.get("purposes"), "purposes")?.unwrap_or_default(),
    };
    let record = blocking(&state.vault, move |v| v.add_processor(&who, &new)).await?;
    Ok((StatusCode::CREATED, Json(wire::processor(&record))))
}

async fn show_processor(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = blocking(&state.vault, move |v| v.processor(&who, &name)).await?;
    Ok(Json(wire::processor_view(&view)))
}

/// Exports to a processor: the CSV is the response body, and its export
/// id and SHA-256 are in the `X-Custos-Export-Id` and
/// `X-Custos-Export-Sha256` headers.
async fn export_to_processor(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_object(&body)?;
    let canaries = match body.get("canaries") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| ApiError::bad_request("`canaries` must be a whole number"))?,
        ),
    };
    let export = ProcessorExport {
        processor: name,
        request: export_request(&body)?,
        file_name: optional_string(&body, "file_name")?,
        canaries,
    };
    let (csv, report) = blocking(&state.vault, move |v| {
        let mut out = Vec::new();
        v.export_to_processor(&who, &mut out, &export)
            .map(|report| (out, report))
    })
    .await?;
    let header_value = |s: String| {
        HeaderValue::from_str(&s).map_err(|_| ApiError::Internal("bad header".to_owned()))
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (EXPORT_ID_HEADER, header_value(report.id.to_string())?),
            (EXPORT_SHA256_HEADER, header_value(report.sha256)?),
        ],
        csv,
    )
        .into_response())
}

#[derive(serde::Deserialize)]
struct ExportParams {
    processor: Option<String>,
}

async fn list_exports(
    State(state): State<AppState>,
    Caller(who): Caller,
    Params(params): Params<ExportParams>,
) -> Result<Json<Value>, ApiError> {
    let exports = blocking(&state.vault, move |v| {
        v.exports(&who, params.processor.as_deref())
    })
    .await?;
    Ok(Json(
        json!({ "exports": exports.iter().map(wire::export_record).collect::<Vec<_>>() }),
    ))
}

async fn show_export(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = blocking(&state.vault, move |v| v.export_record(&who, &id)).await?;
    Ok(Json(wire::export_record(&record)))
}

async fn export_canaries(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (id, canaries) = blocking(&state.vault, move |v| {
        let record = v.export_record(&who, &id)?;
        v.export_canaries(&who, record.id)
            .map(|c| (record.id.to_string(), c))
    })
    .await?;
    Ok(Json(wire::canaries(&id, &canaries)))
}

async fn trace_canary(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let value = required_string(&json_object(&body)?, "value")?;
    let traces = blocking(&state.vault, move |v| v.trace_canary(&who, &value)).await?;
    Ok(Json(wire::canary_traces(&traces)))
}

// Incidents.

fn bool_member(body: &Map<String, Value>, key: &str) -> Result<bool, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{key}` must be true or false"
        ))),
    }
}

async fn list_incidents(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let incidents = blocking(&state.vault, move |v| v.incidents(&who)).await?;
    Ok(Json(wire::incidents(&incidents)))
}

async fn open_incident(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = json_object(&body)?;
    let opening = IncidentOpening {
        title: required_string(&body, "title")?,
        nature: optional_string(&body, "nature")?.unwrap_or_default(),
        aware_at: required_string(&body, "aware_at")?,
        scopes: string_list(body.get("scopes"), "scopes")?.unwrap_or_default(),
        keys_exposed: bool_member(&body, "keys_exposed")?,
    };
    let record = blocking(&state.vault, move |v| v.open_incident(&who, &opening)).await?;
    Ok((StatusCode::CREATED, Json(wire::incident(&record))))
}

async fn update_incident(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body)?;
    let follow_up = IncidentFollowUp {
        note: optional_string(&body, "note")?,
        nature: optional_string(&body, "nature")?,
        consequences: optional_string(&body, "consequences")?,
        measures: optional_string(&body, "measures")?,
        reported_at: optional_string(&body, "reported_at")?,
        subjects_notified_at: optional_string(&body, "subjects_notified_at")?,
        status: optional_string(&body, "status")?,
    };
    let record = blocking(&state.vault, move |v| {
        v.update_incident(&who, &id, &follow_up)
    })
    .await?;
    Ok(Json(wire::incident(&record)))
}

#[derive(serde::Deserialize)]
struct FormatParams {
    format: Option<String>,
}

/// The report, as JSON (the default), Markdown (`format=md`) or HTML
/// (`format=html`).
async fn incident_report(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Params(params): Params<FormatParams>,
) -> Result<Response, ApiError> {
    let format = params.format.unwrap_or_else(|| "json".to_owned());
    if !matches!(format.as_str(), "json" | "md" | "html") {
        return Err(ApiError::bad_request("`format` must be json, md or html"));
    }
    let (body, content_type) = blocking(&state.vault, move |v| {
        let report = v.incident_report(&who, &id)?;
        Ok(match format.as_str() {
            "md" => (report_markdown(&report), "text/markdown; charset=utf-8"),
            "html" => (report_html(&report), "text/html; charset=utf-8"),
            _ => (
                serde_json::to_string(&wire::incident_report(&report))
                    .map_err(|e| EngineError::Config(format!("cannot encode the report: {e}")))?,
                "application/json",
            ),
        })
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// Collects notices for a response: their JSON, or the mail-merge CSV.
struct NoticeResponse {
    want_csv: bool,
    csv: Option<MailMerge<Vec<u8>>>,
    notices: Vec<Value>,
}

impl NoticeSink for NoticeResponse {
    fn start(&mut self, run: &NoticeRun) -> Result<(), EngineError> {
        if self.want_csv {
            self.csv = Some(MailMerge::new(Vec::new(), run, &[])?);
        }
        Ok(())
    }

    fn notice(&mut self, notice: &Notice<'_>) -> Result<(), EngineError> {
        match &mut self.csv {
            Some(csv) => csv.row(notice, &[]),
            None => {
                self.notices.push(wire::notice(notice));
                Ok(())
            }
        }
    }
}

/// The notices of an incident: `{"notices": [notice…], "summary"}`, or
/// with `format=csv` the mail-merge CSV. Declares the purpose
/// `breach_notification` unless the request declares one.
async fn incident_notices(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Params(params): Params<FormatParams>,
) -> Result<Response, ApiError> {
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::bad_request("`format` must be json or csv")),
    };
    let who = who.or_purpose(BREACH_PURPOSE);
    let (summary, sink) = blocking(&state.vault, move |v| {
        let mut sink = NoticeResponse {
            want_csv: csv,
            csv: None,
            notices: Vec::new(),
        };
        v.incident_notices(&who, &id, &mut sink)
            .map(|summary| (summary, sink))
    })
    .await?;
    match sink.csv {
        Some(csv) => {
            let bytes = csv.finish().map_err(ApiError::from)?;
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response())
        }
        None => Ok(Json(json!({
            "notices": sink.notices,
            "summary": wire::notice_summary(&summary),
        }))
        .into_response()),
    }
}

// The organisation.

async fn show_organisation(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let org = blocking(&state.vault, move |v| v.organisation(&who)).await?;
    Ok(Json(wire::organisation(&org)))
}

async fn set_organisation(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body)?;
    let dpo = match body.get("dpo") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "`dpo` must be an object with `name`, `email`, `phone` or `address`",
            ));
        }
    };
    let change = OrganisationChange {
        name: optional_string(&body, "name")?,
        dpo_name: optional_string(&dpo, "name")?,
        dpo_email: optional_string(&dpo, "email")?,
        dpo_phone: optional_string(&dpo, "phone")?,
        dpo_address: optional_string(&dpo, "address")?,
        canary_email_domain: optional_string(&body, "canary_email_domain")?,
    };
    let org = blocking(&state.vault, move |v| v.set_organisation(&who, &change)).await?;
    Ok(Json(wire::organisation(&org)))
}
