//! The request as the engine needs it: an extractor that builds the
//! engine's [`custos_engine::Caller`] from the bearer token, the declared
//! purpose, strict mode, the request id and the client address.
//!
//! It authenticates nothing: the engine does that as the first step of
//! every operation, so that a refusal (a missing, malformed, unknown,
//! expired or revoked token) is decided and recorded in one place. A
//! request without an `Authorization` header becomes an anonymous caller,
//! which the engine refuses, and records, like any other.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Query};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use custos_engine::Caller as EngineCaller;

use crate::AppState;
use crate::error::ApiError;

/// The header in which a request may declare its purpose, instead of the
/// `purpose` query parameter.
pub(crate) const PURPOSE_HEADER: HeaderName = HeaderName::from_static("x-purpose");
/// The query parameter that declares the purpose.
pub(crate) const PURPOSE_PARAM: &str = "purpose";
/// The query parameter that asks for strict mode.
pub(crate) const STRICT_PARAM: &str = "strict";

/// A request as the engine takes it: credentials not yet checked, the
/// declared purpose, strict mode, request id and client.
#[derive(Debug)]
pub(crate) struct Caller(pub(crate) EngineCaller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let params = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::bad_request("the query string is malformed"))?
            .0;
        let purposes = declared_purposes(&params, &parts.headers)?;
        let strict = strict_mode(&params)?;
        Ok(Self(
            unchecked(parts).with_purposes(purposes).strict(strict),
        ))
    }
}

/// A request to the ledger routes, which take no purpose: there `purpose`
/// is a filter on the events, not a declaration.
#[derive(Debug)]
pub(crate) struct LedgerCaller(pub(crate) EngineCaller);

impl FromRequestParts<AppState> for LedgerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(unchecked(parts)))
    }
}

/// The credentials, request id and client of a request.
fn unchecked(parts: &Parts) -> EngineCaller {
    let request_id = parts
        .headers
        .get(&crate::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_owned(), |c| c.0.to_string());
    match parts.headers.get(AUTHORIZATION) {
        None => EngineCaller::anonymous(request_id, &client),
        Some(value) => EngineCaller::with_token(bearer(value), request_id, &client),
    }
}

/// The token of an `Authorization: Bearer …` header. Any other scheme, or
/// a value that is not text, is handed on as it is, so that the engine
/// refuses it as malformed rather than as missing.
fn bearer(value: &HeaderValue) -> &str {
    let Ok(text) = value.to_str() else {
        return "";
    };
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => text,
    }
}

/// Every purpose the request declares, as the `purpose` query parameter
/// and the `X-Purpose` header. The engine accepts exactly one (the same one
/// twice is one) and refuses, and records, none or two different ones.
fn declared_purposes<'a>(
    params: &'a [(String, String)],
    headers: &'a HeaderMap,
) -> Result<Vec<&'a str>, ApiError> {
    let from_query = params
        .iter()
        .filter(|(k, _)| k == PURPOSE_PARAM)
        .map(|(_, v)| Ok(v.as_str()));
    let from_header = headers.get_all(&PURPOSE_HEADER).iter().map(|v| {
        v.to_str()
            .map_err(|_| ApiError::bad_request("the `X-Purpose` header must be plain text"))
    });
    from_query.chain(from_header).collect()
}

/// Whether `strict=true` was given.
fn strict_mode(params: &[(String, String)]) -> Result<bool, ApiError> {
    let mut strict = false;
    for (_, value) in params.iter().filter(|(k, _)| k == STRICT_PARAM) {
        strict = match value.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(ApiError::bad_request("`strict` must be true or false")),
        };
    }
    Ok(strict)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn bearer_tokens_are_taken_from_the_header() {
        let token = |v: &'static str| bearer(&HeaderValue::from_static(v)).to_owned();
        assert_eq!(token("Bearer custos_abc"), "custos_abc");
        assert_eq!(token("bearer  custos_abc "), "custos_abc");
        assert_eq!(token("Basic dXNlcjpwYXNz"), "Basic dXNlcjpwYXNz");
    }

    #[test]
    fn purposes_come_from_the_query_and_the_header() {
        let mut headers = HeaderMap::new();
        assert!(
            declared_purposes(&params(&[]), &headers)
                .unwrap()
                .is_empty()
        );
        let query = params(&[("purpose", "casework")]);
        assert_eq!(declared_purposes(&query, &headers).unwrap(), ["casework"]);
        headers.insert(PURPOSE_HEADER, HeaderValue::from_static("finance"));
        assert_eq!(
            declared_purposes(&query, &headers).unwrap(),
            ["casework", "finance"]
        );
        assert_eq!(
            declared_purposes(&params(&[]), &headers).unwrap(),
            ["finance"]
        );
    }

    #[test]
    fn strict_is_true_or_false() {
        assert!(!strict_mode(&params(&[])).unwrap());
        assert!(strict_mode(&params(&[("strict", "true")])).unwrap());
        assert!(!strict_mode(&params(&[("strict", "false")])).unwrap());
        assert!(strict_mode(&params(&[("strict", "yes")])).is_err());
    }
}
