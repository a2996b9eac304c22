//! The one error type of the API and its JSON rendering: the one place
//! where engine error kinds become HTTP statuses.
//!
//! Every error body is `{"error": {"status", "code", "message"}}`, with
//! `problems` for an invalid request and `denied` for a refusal by the
//! policies. 401 answers "who are you?" (with `WWW-Authenticate: Bearer`
//! and the engine's specific code, such as `principal_revoked`), 403 "not
//! allowed" (code `forbidden`, and which rule denied each field). Whether a
//! subject exists is never said to someone not allowed to know: the engine
//! decides before it looks, and nothing here adds to what it says.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custos_engine::{DayEdge, EngineError, ErrorKind, OffsetDateTime, Problem, wire};
use serde_json::{Value, json};

/// An API error. 4xx responses carry a specific, safe message; 5xx responses
/// say only "internal error" and the detail goes to the server log, tagged
/// with the request id that the response carries in `x-request-id`.
#[derive(Debug)]
pub enum ApiError {
    /// The engine refused or failed.
    Engine(EngineError),
    /// The request itself is malformed.
    BadRequest(String),
    /// A blocking task failed.
    Internal(String),
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
}

/// What a response says, before it becomes JSON.
struct Rendered {
    status: StatusCode,
    code: &'static str,
    message: String,
    problems: Option<Value>,
    denied: Option<Value>,
}

impl Rendered {
    fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        Self {
            status,
            code,
            message,
            problems: None,
            denied: None,
        }
    }
}

fn render_engine(e: &EngineError) -> Rendered {
    match e.kind() {
        ErrorKind::Invalid => match e {
            EngineError::Invalid(..) => Rendered {
                problems: Some(wire::problems(e.problems())),
                ..Rendered::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "the request is invalid".to_owned(),
                )
            },
            EngineError::Policy(policy) => {
                let problems: Vec<Problem> = policy
                    .problems
                    .iter()
                    .map(|p| Problem {
                        row: p.line.and_then(|l| u64::try_from(l).ok()),
                        column: p.column,
                        field: None,
                        message: p.message.clone(),
                    })
                    .collect();
                Rendered {
                    problems: Some(wire::problems(&problems)),
                    ..Rendered::new(
                        StatusCode::BAD_REQUEST,
                        e.code().unwrap_or("invalid_policy"),
                        "the policy set does not validate".to_owned(),
                    )
                }
            }
            _ => Rendered::new(
                StatusCode::BAD_REQUEST,
                e.code().unwrap_or("invalid"),
                e.to_string(),
            ),
        },
        ErrorKind::Unauthenticated => Rendered::new(
            StatusCode::UNAUTHORIZED,
            e.code().unwrap_or("unauthenticated"),
            e.to_string(),
        ),
        ErrorKind::Forbidden => Rendered {
            denied: Some(wire::denials(e.denials())),
            ..Rendered::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
        },
        ErrorKind::TooManyAttempts => {
            Rendered::new(StatusCode::TOO_MANY_REQUESTS, "login_locked", e.to_string())
        }
        ErrorKind::NotFound => Rendered::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        ErrorKind::Conflict => Rendered::new(StatusCode::CONFLICT, "conflict", e.to_string()),
        ErrorKind::Unavailable => Rendered::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
        ErrorKind::Setup | ErrorKind::Integrity | ErrorKind::Internal => {
            Rendered::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", String::new())
        }
    }
}

/// Seconds until a lockout ends, for `Retry-After`.
fn retry_after(e: &EngineError) -> Option<HeaderValue> {
    let EngineError::LoginLocked { until } = e else {
        return None;
    };
    let until = custos_engine::parse_time_input(until, DayEdge::Start).ok()?;
    let seconds = (until - OffsetDateTime::now_utc()).whole_seconds().max(1);
    HeaderValue::from_str(&seconds.to_string()).ok()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut rendered = match &self {
            Self::BadRequest(m) => Rendered::new(StatusCode::BAD_REQUEST, "invalid", m.clone()),
            Self::Engine(e) => render_engine(e),
            Self::Internal(_) => {
                Rendered::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", String::new())
            }
        };
        if rendered.status == StatusCode::INTERNAL_SERVER_ERROR {
            // Engine messages name rows, fields and files, never values, so
            // the detail may go to the log; the client learns only where to
            // look.
            let detail = match &self {
                Self::Engine(e) => e.to_string(),
                Self::Internal(m) | Self::BadRequest(m) => m.clone(),
            };
            tracing::error!(error = %detail, "request failed");
            rendered.message =
                "internal error; the server log has the detail under this request's x-request-id"
                    .to_owned();
        }
        let status = rendered.status;
        let mut body = json!({
            "error": { "status": status.as_u16(), "code": rendered.code, "message": rendered.message }
        });
        if let Some(problems) = rendered.problems {
            body["error"]["problems"] = problems;
        }
        if let Some(denied) = rendered.denied {
            body["error"]["denied"] = denied;
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::Engine(e) = &self
            && let Some(after) = retry_after(e)
        {
            response.headers_mut().insert(header::RETRY_AFTER, after);
        }
        response
    }
}
