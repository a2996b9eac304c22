//! Authentication as an extractor: a handler that takes [`Caller`] cannot run
//! for an unauthenticated request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use custos_engine::{Caller as EngineCaller, DEFAULT_PURPOSE, EngineError};

use crate::AppState;
use crate::error::ApiError;

/// The header in which a request declares its purpose.
pub(crate) const PURPOSE_HEADER: &str = "x-custos-purpose";

/// The authenticated principal of a request, with what the ledger records
/// about the request: its purpose, id and client address.
#[derive(Debug)]
pub(crate) struct Caller(pub(crate) EngineCaller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Engine(EngineError::Unauthenticated))?;
        let principal = state.vault.authenticate(token.trim())?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let purpose = header(PURPOSE_HEADER).unwrap_or(DEFAULT_PURPOSE);
        let request_id = header(crate::REQUEST_ID.as_str()).unwrap_or("-");
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "-".to_owned(), |c| c.0.to_string());
        Ok(Self(EngineCaller::new(
            principal, purpose, request_id, &client,
        )))
    }
}
