//! The real API server, in process on 127.0.0.1:0, on its own runtime.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use custos_engine::Vault;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    let worker_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .thread_name("bench-server")
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = runtime.spawn(custos_server::run(listener, vault, async {
        let _ = stop.await;
    }));
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
