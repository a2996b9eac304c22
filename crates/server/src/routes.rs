//! The `/v1` routes. Each handler parses, calls one engine method on a
//! blocking thread (the engine does synchronous I/O and crypto), and renders.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custos_engine::{
    CsvInput, Encoding, EngineError, EventQuery, FieldSelection, ImportOptions, Outcome,
    SubjectInput, Vault, wire,
};
use custos_model::SubjectId;
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, MAX_IMPORT_BODY, MAX_JSON_BODY, OPENAPI};

/// The default page size of `GET /v1/subjects`.
const DEFAULT_PAGE: usize = 100;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/vault", get(vault_info))
        .route("/v1/schema", get(schema))
        .route("/v1/subjects", get(list_subjects).post(create_subject))
        .route("/v1/subjects/find", post(find_subjects))
        .route(
            "/v1/subjects/{id}",
            get(read_subject)
                .patch(update_subject)
                .delete(erase_subject),
        )
        .route("/v1/export", post(export))
        .route("/v1/ledger/head", get(ledger_head))
        .route("/v1/ledger/verify", get(ledger_verify))
        .route("/v1/ledger/events", get(ledger_events))
        .route("/v1/ledger/subjects/{id}", get(ledger_subject))
        .route(
            "/v1/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
}

/// Runs engine work on the blocking pool.
async fn blocking<T: Send + 'static>(
    vault: &Arc<Vault>,
    f: impl FnOnce(&Vault) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    let vault = Arc::clone(vault);
    tokio::task::spawn_blocking(move || f(&vault))
        .await
        .map_err(|e| ApiError::Internal(format!("worker failed: {e}")))?
        .map_err(ApiError::from)
}

/// Parses a JSON object body. Parsing into a generic value first keeps
/// personal values out of error messages: only syntax positions are reported.
fn json_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

fn subject_id(raw: &str) -> Result<SubjectId, ApiError> {
    SubjectId::parse(raw).map_err(|e| ApiError::bad_request(format!("the subject id {e}")))
}

fn string_list(value: Option<&Value>, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::bad_request(format!("`{key}` must be a list of field names"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{key}` must be a list of field names"
        ))),
    }
}

fn fields_object(body: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    match body.get("fields") {
        Some(Value::Object(fields)) => wire::raw_fields(fields)
            .map_err(|problems| ApiError::Engine(EngineError::Invalid(problems, 0))),
        None => Ok(Vec::new()),
        Some(_) => Err(ApiError::bad_request(
            "`fields` must be an object of field names to values",
        )),
    }
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn vault_info(
    State(state): State<AppState>,
    Caller(_who): Caller,
) -> Result<Json<Value>, ApiError> {
    let info = blocking(&state.vault, |v| v.info()).await?;
    Ok(Json(wire::info(&info)))
}

async fn schema(State(state): State<AppState>, Caller(_who): Caller) -> Json<Value> {
    Json(wire::schema(state.vault.schema()))
}

async fn list_subjects(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut limit = DEFAULT_PAGE;
    let mut after = None;
    let mut filters = Vec::new();
    for (key, value) in params {
        match key.as_str() {
            "limit" => {
                limit = value.parse().map_err(|_| {
                    ApiError::bad_request("`limit` must be a positive whole number")
                })?;
            }
            "after" => after = Some(subject_id(&value)?),
            _ => filters.push((key, value)),
        }
    }
    let page = blocking(&state.vault, move |v| {
        v.list_subjects(&who, &filters, after.as_ref(), limit)
    })
    .await?;
    Ok(Json(wire::page(&page)))
}

async fn create_subject(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = json_object(&body)?;
    let id = match body.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("`id` must be a string")),
    };
    let values = fields_object(&body)?;
    let id = blocking(&state.vault, move |v| {
        v.create_subject(&who, SubjectInput { id, values })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id.as_str() }))))
}

#[derive(serde::Deserialize)]
struct ReadParams {
    fields: Option<String>,
}

async fn read_subject(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<Json<Value>, ApiError> {
    let id = subject_id(&id)?;
    let selection = match params.fields {
        Some(list) => FieldSelection::Only(list.split(',').map(str::to_owned).collect()),
        None => FieldSelection::All,
    };
    let vault = Arc::clone(&state.vault);
    let record = blocking(&state.vault, move |v| v.read_subject(&who, &id, &selection)).await?;
    Ok(Json(wire::record(vault.schema(), &record)))
}

async fn update_subject(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = subject_id(&id)?;
    let values = fields_object(&json_object(&body)?)?;
    let updated: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
    let id = blocking(&state.vault, move |v| {
        v.update_subject(&who, &id, &values).map(|()| id)
    })
    .await?;
    Ok(Json(json!({ "id": id.as_str(), "updated": updated })))
}

async fn erase_subject(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = subject_id(&id)?;
    let (id, erasure) = blocking(&state.vault, move |v| {
        v.erase_subject(&who, &id).map(|e| (id, e))
    })
    .await?;
    Ok(Json(wire::erasure(id.as_str(), &erasure)))
}

async fn find_subjects(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body)?;
    let field = body
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("`field` must name a lookup field"))?
        .to_owned();
    let value = body
        .get("value")
        .map(wire::raw_value)
        .transpose()
        .map_err(|m| ApiError::bad_request(format!("`value` {m}")))?
        .ok_or_else(|| ApiError::bad_request("`value` is required"))?;
    let ids = blocking(&state.vault, move |v| v.find_subjects(&who, &field, &value)).await?;
    Ok(Json(
        json!({ "subjects": ids.iter().map(SubjectId::as_str).collect::<Vec<_>>() }),
    ))
}

async fn export(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_object(&body)?;
    let selection = match string_list(body.get("fields"), "fields")? {
        Some(fields) => FieldSelection::Only(fields),
        None => FieldSelection::All,
    };
    let filters = match body.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => {
            wire::raw_fields(map).map_err(|p| ApiError::Engine(EngineError::Invalid(p, 0)))?
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "`filters` must be an object of scope attributes to values",
            ));
        }
    };
    let ids = string_list(body.get("ids"), "ids")?
        .unwrap_or_default()
        .iter()
        .map(|id| subject_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let csv = blocking(&state.vault, move |v| {
        let mut out = Vec::new();
        v.export_csv(&who, &mut out, &selection, &filters, &ids)
            .map(|_| out)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

#[derive(serde::Deserialize)]
struct ImportParams {
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    generate_ids: bool,
    encoding: Option<String>,
}

async fn import(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(params): Query<ImportParams>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let encoding = match params.encoding.as_deref() {
        None | Some("auto") => Encoding::Auto,
        Some("utf-8") => Encoding::Utf8,
        Some("windows-1252") => Encoding::Windows1252,
        Some(_) => {
            return Err(ApiError::bad_request(
                "`encoding` must be auto, utf-8 or windows-1252",
            ));
        }
    };
    let options = ImportOptions {
        dry_run: params.dry_run,
        generate_ids: params.generate_ids,
        encoding,
    };
    let report = blocking(&state.vault, move |v| {
        v.import_csv(&who, CsvInput::Bytes(&body), &options, &|_| {})
    })
    .await?;
    Ok(Json(wire::import_report(&report)))
}

// The ledger routes are open to every authenticated principal for now: the
// admin token is the only one. Issue 4 restricts them to a ledger-read role.

async fn ledger_head(
    State(state): State<AppState>,
    Caller(_who): Caller,
) -> Result<Json<Value>, ApiError> {
    let head = blocking(&state.vault, |v| v.ledger_head()).await?;
    Ok(Json(wire::head(&head)))
}

async fn ledger_verify(
    State(state): State<AppState>,
    Caller(_who): Caller,
) -> Result<Json<Value>, ApiError> {
    let report = blocking(&state.vault, |v| v.ledger_verify(None)).await?;
    Ok(Json(wire::verify_report(&report)))
}

#[derive(serde::Deserialize)]
struct EventParams {
    principal: Option<String>,
    subject: Option<String>,
    purpose: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after_seq: Option<u64>,
    limit: Option<usize>,
}

async fn ledger_events(
    State(state): State<AppState>,
    Caller(_who): Caller,
    Query(params): Query<EventParams>,
) -> Result<Json<Value>, ApiError> {
    let outcome = params
        .outcome
        .as_deref()
        .map(|o| {
            Outcome::parse(o).ok_or_else(|| {
                ApiError::bad_request("`outcome` must be allowed, partial, denied or failed")
            })
        })
        .transpose()?;
    let query = EventQuery {
        principal: params.principal,
        subject: params.subject,
        purpose: params.purpose,
        action: params.action,
        outcome,
        time_from: params.from,
        time_to: params.to,
        after_seq: params.after_seq,
        limit: params.limit.unwrap_or(EventQuery::default().limit),
    };
    let events = blocking(&state.vault, move |v| v.ledger_query(&query)).await?;
    Ok(Json(wire::events(&events)))
}

async fn ledger_subject(
    State(state): State<AppState>,
    Caller(_who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = subject_id(&id)?;
    let (id, history) = blocking(&state.vault, move |v| {
        v.ledger_subject(&id).map(|h| (id, h))
    })
    .await?;
    Ok(Json(wire::subject_history(id.as_str(), &history)))
}
