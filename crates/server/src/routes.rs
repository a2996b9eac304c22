//! The `/v1` routes. Each handler parses, calls one engine method on a
//! blocking thread (the engine does synchronous I/O and crypto, and login
//! runs Argon2id), and renders. Every decision, authentication included, is
//! the engine's.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custos_engine::{
    AlertQuery, CsvInput, DayEdge, Encoding, EngineError, EventQuery, ExportRequest,
    FieldSelection, ImportOptions, OffsetDateTime, Outcome, PrincipalChange, SubjectInput, Vault,
    wire,
};
use custos_model::{PrincipalKind, PrincipalStatus, SubjectId};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::auth::{Caller, LedgerCaller, PURPOSE_PARAM, STRICT_PARAM};
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
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/whoami", get(whoami))
        .route("/v1/subjects", get(list_subjects).post(create_subject))
        .route("/v1/subjects/find", post(find_subjects))
        .route(
            "/v1/subjects/{id}",
            get(read_subject)
                .patch(update_subject)
                .delete(erase_subject),
        )
        .route("/v1/export", post(export))
        .route(
            "/v1/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .route("/v1/purposes", get(list_purposes))
        .route("/v1/purposes/{name}", get(show_purpose))
        .route("/v1/record-of-processing", get(record_of_processing))
        .route("/v1/principals", get(list_principals).post(add_principal))
        .route(
            "/v1/principals/{name}",
            get(show_principal).patch(update_principal),
        )
        .route("/v1/principals/{name}/suspend", post(suspend_principal))
        .route("/v1/principals/{name}/revoke", post(revoke_principal))
        .route("/v1/principals/{name}/restore", post(restore_principal))
        .route("/v1/principals/{name}/tokens", post(create_token))
        .route("/v1/tokens", get(list_tokens))
        .route("/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/v1/policy", get(show_policy).post(apply_policy))
        .route("/v1/policy/test", post(test_policy))
        .route("/v1/alerts", get(list_alerts))
        .route("/v1/ledger/head", get(ledger_head))
        .route("/v1/ledger/verify", get(ledger_verify))
        .route("/v1/ledger/events", get(ledger_events))
        .route("/v1/ledger/subjects/{id}", get(ledger_subject))
        .merge(crate::incident_routes::router())
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
}

/// Runs engine work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    vault: &Arc<Vault>,
    f: impl FnOnce(&Vault) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    let vault = Arc::clone(vault);
    tokio::task::spawn_blocking(move || f(&vault))
        .await
        .map_err(|e| ApiError::Internal(format!("worker failed: {e}")))?
        .map_err(ApiError::from)
}

/// Query parameters, refused with a JSON 400 like every other error. The
/// message names the parameter, never quotes its value.
pub(crate) struct Params<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Parses a JSON object body. Parsing into a generic value first keeps
/// personal values out of error messages: only syntax positions are reported.
pub(crate) fn json_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
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

/// A JSON object body that may also be left out.
pub(crate) fn optional_json_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Map::new())
    } else {
        json_object(body)
    }
}

/// An optional string member; `null` counts as absent.
pub(crate) fn optional_string(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be a string"))),
    }
}

/// A required string member.
pub(crate) fn required_string(body: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    optional_string(body, key)?
        .ok_or_else(|| ApiError::bad_request(format!("`{key}` is required, as a string")))
}

/// A time member, as RFC 3339, a date or a span from now: absent (`None`),
/// `null` (`Some(None)`, to remove it) or a time.
fn time_member(
    body: &Map<String, Value>,
    key: &str,
    edge: DayEdge,
) -> Result<Option<Option<OffsetDateTime>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(raw)) => custos_engine::parse_time_input(raw, edge)
            .map(|t| Some(Some(t)))
            .map_err(|m| ApiError::bad_request(format!("`{key}`: {m}"))),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{key}` must be a time as a string, or null"
        ))),
    }
}

/// `{"key": "value", …}` attributes; `null` or `""` removes one.
fn attributes_member(body: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let malformed = || {
        ApiError::bad_request(
            "`attributes` must be an object of attribute names to strings (or null to remove one)",
        )
    };
    match body.get("attributes") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Null => Ok((k.clone(), String::new())),
                _ => Err(malformed()),
            })
            .collect(),
        Some(_) => Err(malformed()),
    }
}

fn kind_member(body: &Map<String, Value>) -> Result<Option<PrincipalKind>, ApiError> {
    optional_string(body, "kind")?
        .map(|k| {
            PrincipalKind::parse(k.trim()).map_err(|m| ApiError::bad_request(format!("`kind` {m}")))
        })
        .transpose()
}

pub(crate) fn subject_id(raw: &str) -> Result<SubjectId, ApiError> {
    SubjectId::parse(raw).map_err(|e| ApiError::bad_request(format!("the subject id {e}")))
}

pub(crate) fn string_list(
    value: Option<&Value>,
    key: &str,
) -> Result<Option<Vec<String>>, ApiError> {
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
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let info = blocking(&state.vault, move |v| v.info(&who)).await?;
    Ok(Json(wire::info(&info)))
}

async fn schema(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let schema = blocking(&state.vault, move |v| v.schema_for(&who).map(wire::schema)).await?;
    Ok(Json(schema))
}

// Sessions.

async fn login(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut body = json_object(&body)?;
    let principal = required_string(&body, "principal")?;
    // Taken out of the body rather than copied, and wiped when dropped.
    let password = match body.remove("password") {
        Some(Value::String(p)) => Zeroizing::new(p),
        _ => return Err(ApiError::bad_request("`password` is required, as a string")),
    };
    let code = required_string(&body, "totp")?;
    let session = blocking(&state.vault, move |v| {
        v.login(&who, &principal, &password, &code)
    })
    .await?;
    Ok(Json(wire::session(&session)))
}

async fn logout(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    blocking(&state.vault, move |v| v.logout(&who)).await?;
    Ok(Json(json!({ "logged_out": true })))
}

async fn whoami(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let principal = blocking(&state.vault, move |v| v.whoami(&who)).await?;
    Ok(Json(wire::whoami(&principal)))
}

// Subjects.

async fn list_subjects(
    State(state): State<AppState>,
    Caller(who): Caller,
    Params(params): Params<Vec<(String, String)>>,
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
            PURPOSE_PARAM | STRICT_PARAM => {}
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
    Params(params): Params<ReadParams>,
) -> Result<Json<Value>, ApiError> {
    let id = subject_id(&id)?;
    let selection = match params.fields {
        Some(list) => FieldSelection::Only(list.split(',').map(str::to_owned).collect()),
        None => FieldSelection::All,
    };
    let body = blocking(&state.vault, move |v| {
        v.read_subject(&who, &id, &selection)
            .map(|record| wire::record(v.schema(), &record))
    })
    .await?;
    Ok(Json(body))
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

/// What to export, from a JSON body: `fields` (a list; all by default),
/// `filters` (an object of scope attributes to values) or `ids` (a list).
pub(crate) fn export_request(body: &Map<String, Value>) -> Result<ExportRequest, ApiError> {
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
    Ok(ExportRequest {
        selection,
        filters,
        ids,
    })
}

async fn export(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = export_request(&json_object(&body)?)?;
    let csv = blocking(&state.vault, move |v| {
        let mut out = Vec::new();
        v.export_csv(
            &who,
            &mut out,
            &request.selection,
            &request.filters,
            &request.ids,
        )
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
    Params(params): Params<ImportParams>,
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

// Purposes and the record of processing.

async fn list_purposes(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let purposes = blocking(&state.vault, move |v| v.purposes(&who)).await?;
    let purposes: Vec<Value> = purposes.iter().map(|p| wire::purpose(p)).collect();
    Ok(Json(json!({ "purposes": purposes })))
}

async fn show_purpose(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let purpose = blocking(&state.vault, move |v| v.purpose(&who, &name)).await?;
    Ok(Json(wire::purpose(&purpose)))
}

async fn record_of_processing(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let record = blocking(&state.vault, move |v| v.record_of_processing(&who)).await?;
    Ok(Json(wire::record_of_processing(&record)))
}

// Principals and tokens.

async fn list_principals(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let principals = blocking(&state.vault, move |v| v.principals(&who)).await?;
    let principals: Vec<Value> = principals.iter().map(wire::principal).collect();
    Ok(Json(json!({ "principals": principals })))
}

async fn show_principal(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = blocking(&state.vault, move |v| v.principal(&who, &name)).await?;
    Ok(Json(wire::principal(&view)))
}

async fn add_principal(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = json_object(&body)?;
    let name = required_string(&body, "name")?;
    let kind = kind_member(&body)?
        .ok_or_else(|| ApiError::bad_request("`kind` is required, as a string"))?;
    let attributes = attributes_member(&body)?;
    let valid_from = time_member(&body, "valid_from", DayEdge::Start)?.flatten();
    let valid_until = time_member(&body, "valid_until", DayEdge::End)?.flatten();
    let view = blocking(&state.vault, move |v| {
        v.add_principal(&who, &name, kind, &attributes, valid_from, valid_until)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(wire::principal(&view))))
}

async fn update_principal(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body)?;
    let change = PrincipalChange {
        kind: kind_member(&body)?,
        attributes: attributes_member(&body)?,
        valid_from: time_member(&body, "valid_from", DayEdge::Start)?,
        valid_until: time_member(&body, "valid_until", DayEdge::End)?,
    };
    let view = blocking(&state.vault, move |v| {
        v.update_principal(&who, &name, &change)
    })
    .await?;
    Ok(Json(wire::principal(&view)))
}

async fn set_status(
    state: AppState,
    who: custos_engine::Caller,
    name: String,
    status: PrincipalStatus,
    body: &Bytes,
) -> Result<Json<Value>, ApiError> {
    let reason = optional_string(&optional_json_object(body)?, "reason")?.unwrap_or_default();
    let view = blocking(&state.vault, move |v| {
        v.set_principal_status(&who, &name, status, &reason)
    })
    .await?;
    Ok(Json(wire::principal(&view)))
}

async fn suspend_principal(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set_status(state, who, name, PrincipalStatus::Suspended, &body).await
}

async fn revoke_principal(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set_status(state, who, name, PrincipalStatus::Revoked, &body).await
}

async fn restore_principal(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set_status(state, who, name, PrincipalStatus::Active, &body).await
}

async fn create_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = optional_json_object(&body)?;
    let expires = time_member(&body, "expires", DayEdge::End)?.flatten();
    let new = blocking(&state.vault, move |v| v.create_token(&who, &name, expires)).await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::new_token(new.token.expose(), &new.record)),
    ))
}

#[derive(serde::Deserialize)]
struct TokenParams {
    principal: Option<String>,
}

async fn list_tokens(
    State(state): State<AppState>,
    Caller(who): Caller,
    Params(params): Params<TokenParams>,
) -> Result<Json<Value>, ApiError> {
    let tokens = blocking(&state.vault, move |v| {
        v.tokens(&who, params.principal.as_deref())
    })
    .await?;
    let tokens: Vec<Value> = tokens.iter().map(wire::token).collect();
    Ok(Json(json!({ "tokens": tokens })))
}

async fn revoke_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = blocking(&state.vault, move |v| v.revoke_token(&who, &id)).await?;
    Ok(Json(wire::token(&record)))
}

// Policies.

async fn show_policy(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    let record = blocking(&state.vault, move |v| v.current_policy(&who)).await?;
    Ok(Json(wire::policy(&record)))
}

async fn apply_policy(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body)?;
    let text = required_string(&body, "text")?;
    let tests = optional_string(&body, "tests")?;
    let applied = blocking(&state.vault, move |v| {
        v.apply_policy(&who, &text, tests.as_deref())
    })
    .await?;
    Ok(Json(wire::applied_policy(&applied)))
}

async fn test_policy(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body)?;
    let cases = required_string(&body, "cases")?;
    let text = optional_string(&body, "text")?;
    let report = blocking(&state.vault, move |v| {
        v.test_policy(&who, &cases, text.as_deref())
    })
    .await?;
    Ok(Json(wire::case_report(&report)))
}

// Alerts and the ledger. They read no personal data; the engine lets
// auditors (administrators and the DPO by default) read them.

#[derive(serde::Deserialize)]
struct AlertParams {
    principal: Option<String>,
    kind: Option<String>,
    after_id: Option<u64>,
    limit: Option<usize>,
}

async fn list_alerts(
    State(state): State<AppState>,
    Caller(who): Caller,
    Params(params): Params<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    let query = AlertQuery {
        principal: params.principal,
        kind: params.kind,
        after_id: params.after_id,
        limit: params.limit.unwrap_or(AlertQuery::default().limit),
    };
    let alerts = blocking(&state.vault, move |v| v.alerts(&who, &query)).await?;
    Ok(Json(wire::alerts(&alerts)))
}

async fn ledger_head(
    State(state): State<AppState>,
    LedgerCaller(who): LedgerCaller,
) -> Result<Json<Value>, ApiError> {
    let head = blocking(&state.vault, move |v| v.ledger_head(&who)).await?;
    Ok(Json(wire::head(&head)))
}

async fn ledger_verify(
    State(state): State<AppState>,
    LedgerCaller(who): LedgerCaller,
) -> Result<Json<Value>, ApiError> {
    let report = blocking(&state.vault, move |v| v.ledger_verify(&who, None)).await?;
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
    LedgerCaller(who): LedgerCaller,
    Params(params): Params<EventParams>,
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
    let events = blocking(&state.vault, move |v| v.ledger_query(&who, &query)).await?;
    Ok(Json(wire::events(&events)))
}

async fn ledger_subject(
    State(state): State<AppState>,
    LedgerCaller(who): LedgerCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = subject_id(&id)?;
    let (id, history) = blocking(&state.vault, move |v| {
        v.ledger_subject(&who, &id).map(|h| (id, h))
    })
    .await?;
    Ok(Json(wire::subject_history(id.as_str(), &history)))
}
