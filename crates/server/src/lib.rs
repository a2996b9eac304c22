//! The Custos HTTP API: axum routes over the engine.
//!
//! Architecture invariant: no business rules live here. A handler parses the
//! request into the engine's `Caller` (bearer token, purpose, strict mode,
//! request id, client) and arguments, calls one engine method on the
//! blocking pool, which authenticates, checks the purpose, decides field by
//! field, records and releases, and renders its result. Every decision is
//! the engine's, so the CLI and the API cannot drift apart.
//!
//! API boundary: the routes under `/v1` and the JSON shapes of
//! `custos_engine::wire`, described by `openapi.json`.

mod auth;
mod error;
mod incident_routes;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use custos_engine::Vault;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// The OpenAPI document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The largest JSON request body.
pub const MAX_JSON_BODY: usize = 1 << 20;
/// The largest CSV upload to `/v1/import`.
pub const MAX_IMPORT_BODY: usize = 256 << 20;
/// How long one request may take before it is answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Shared state of the server.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) vault: Arc<Vault>,
}

/// The API router.
pub fn app(vault: Arc<Vault>) -> Router {
    with_service_layers(routes::router().with_state(AppState { vault }))
}

/// The layers every Custos route runs behind: timeout, request tracing and
/// request ids. Public so that the benchmark's unaudited baseline server
/// differs from this one only in what a read does.
pub fn with_service_layers(router: Router) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                // Method, path and request id only: query strings and bodies
                // may carry personal data.
                let id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Refuses to listen beyond loopback unless the caller says so explicitly:
/// the API has no TLS of its own, so a token would cross the network in clear.
pub fn check_listen_addr(addr: SocketAddr, insecure_non_loopback: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || insecure_non_loopback {
        Ok(())
    } else {
        Err(format!(
            "`{addr}` is not a loopback address; the API has no TLS, so put it behind a TLS proxy on \
             this host, or pass --insecure-non-loopback to listen there anyway"
        ))
    }
}

/// Serves the API until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn run(
    listener: TcpListener,
    vault: Arc<Vault>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(vault).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
