//! The one error type of the API and its JSON rendering.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custos_engine::{EngineError, ErrorKind, Problem, wire};
use serde_json::json;

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, problems): (StatusCode, &str, String, &[Problem]) = match &self
        {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "invalid", m.clone(), &[]),
            Self::Engine(e) => match e.kind() {
                ErrorKind::Invalid => (
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "the request is invalid".to_owned(),
                    e.problems(),
                ),
                ErrorKind::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    e.to_string(),
                    &[],
                ),
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found", e.to_string(), &[]),
                ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict", e.to_string(), &[]),
                ErrorKind::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    e.to_string(),
                    &[],
                ),
                ErrorKind::Setup | ErrorKind::Integrity | ErrorKind::Internal => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    String::new(),
                    &[],
                ),
            },
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                String::new(),
                &[],
            ),
        };
        let message = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            let detail = match &self {
                Self::Engine(e) => e.to_string(),
                Self::Internal(m) | Self::BadRequest(m) => m.clone(),
            };
            tracing::error!(error = %detail, "request failed");
            "internal error; the server log has the detail under this request's x-request-id"
                .to_owned()
        } else {
            message
        };
        let mut body =
            json!({ "error": { "status": status.as_u16(), "code": code, "message": message } });
        if !problems.is_empty() {
            body["error"]["problems"] = wire::problems(problems);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
