//! Authentication as an extractor: a handler that takes [`Caller`] cannot run
//! for an unauthenticated request.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use custos_engine::{EngineError, Principal};

use crate::AppState;
use crate::error::ApiError;

/// The authenticated principal of a request.
#[derive(Debug)]
pub(crate) struct Caller(pub(crate) Principal);

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
        Ok(Self(state.vault.authenticate(token.trim())?))
    }
}
