//! The servers under load, in process on 127.0.0.1:0, each on its own
//! runtime: the real API server (audited reads: authenticate, purpose,
//! per-field policy decision, durable record, re-check, decrypt), and an
//! unaudited twin that serves the same read route through the same
//! middleware, token check, blocking pool and JSON rendering, but reads
//! through the bench's [`Baseline`]: no purpose, no policy, no ledger.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use custos_engine::{Caller, Vault, wire};
use custos_model::SubjectId;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::unaudited::Baseline;

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    runtime: Runtime,
    pub(crate) addr: SocketAddr,
    pub(crate) worker_threads: usize,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Starts `custos_server::run` on a new multi-threaded runtime with one
/// worker per core (tokio's default, as `custos serve` has).
pub(crate) fn start(vault: Arc<Vault>) -> anyhow::Result<Server> {
    start_with(move |listener, stop| {
        custos_server::run(listener, vault, async {
            let _ = stop.await;
        })
    })
}

/// Starts the unaudited twin of the read route, configured as
/// `custos_server::app` is.
pub(crate) fn start_unaudited(
    vault: Arc<Vault>,
    baseline: Arc<Baseline>,
) -> anyhow::Result<Server> {
    start_with(move |listener, stop| async move {
        axum::serve(
            listener,
            unaudited_app(Twin { vault, baseline })
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stop.await;
        })
        .await
    })
}

pub(crate) fn start_with<F, Fut>(serve: F) -> anyhow::Result<Server>
where
    F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let worker_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .thread_name("bench-server")
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = runtime.spawn(serve(listener, stop));
    Ok(Server {
        runtime,
        addr,
        worker_threads,
        shutdown: Some(shutdown),
        task,
    })
}

impl Server {
    /// Asks the server to stop and waits for it, 10 s at most.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = self.task;
        let outcome = self
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
        self.runtime.shutdown_timeout(Duration::from_secs(5));
        match outcome {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(anyhow::anyhow!("the server failed: {e}")),
            Ok(Err(e)) => Err(anyhow::anyhow!("the server task failed: {e}")),
            Err(_) => Err(anyhow::anyhow!("the server did not stop within 10 s")),
        }
    }
}

/// The unaudited server's state.
#[derive(Debug, Clone)]
struct Twin {
    vault: Arc<Vault>,
    baseline: Arc<Baseline>,
}

/// The read route behind the layers of `custos_server::app`, so that the
/// two servers differ only in what a read does.
fn unaudited_app(twin: Twin) -> Router {
    custos_server::with_service_layers(
        Router::new()
            .route("/v1/subjects/{id}", get(unaudited_read))
            .with_state(twin),
    )
}

#[derive(serde::Deserialize)]
struct ReadParams {
    fields: Option<String>,
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Authenticates the token as the real server does (`Vault::whoami`, which
/// records nothing when it succeeds), then reads without deciding or
/// recording anything; both on the blocking pool, as the real server runs
/// its engine calls.
async fn unaudited_read(
    State(twin): State<Twin>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<ReadParams>,
) -> Response {
    let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
    else {
        return failure(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let Ok(id) = SubjectId::parse(&id) else {
        return failure(StatusCode::BAD_REQUEST, "bad subject id");
    };
    let Some(fields) = params.fields else {
        return failure(
            StatusCode::BAD_REQUEST,
            "the unaudited route needs ?fields=",
        );
    };
    let vault = Arc::clone(&twin.vault);
    let baseline = Arc::clone(&twin.baseline);
    let read = tokio::task::spawn_blocking(move || {
        let caller = Caller::with_token(&token, "-", &client.to_string());
        if vault.whoami(&caller).is_err() {
            return Ok(None);
        }
        let names: Vec<&str> = fields.split(',').collect();
        baseline.read(&id, &names).map(Some)
    })
    .await;
    match read {
        Ok(Ok(Some(record))) => {
            Json::<Value>(wire::record(twin.vault.schema(), &record)).into_response()
        }
        Ok(Ok(None)) => failure(StatusCode::UNAUTHORIZED, "unauthenticated"),
        Ok(Err(e)) => failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
