//! The HTTP load generator: tokio tasks on their own runtime, each holding one
//! keep-alive HTTP/1.1 connection and sending one request at a time. Each
//! request has its own path and bearer token (W2: a member's path, with the
//! token of their representative), prepared before the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{self, HeadError};
use crate::machine;
use crate::stats::Run;
use crate::workload::{Read, read_path};

/// The HTTP target at 64 connections.
pub(crate) const TARGET_PER_S: f64 = 10_000.0;
/// The p99 target at 64 connections, in milliseconds.
pub(crate) const TARGET_P99_MS: f64 = 15.0;
/// The connection count the target applies to.
pub(crate) const TARGET_CONNECTIONS: usize = 64;
/// How long one request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A bound on the requests of one connection, so that a loop always ends.
const MAX_REQUESTS_PER_CONNECTION: usize = 50_000_000;

/// One request of a run: its path and the bearer token it presents.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) token: Arc<str>,
}

impl Request {
    /// The GET of one W2 read.
    pub(crate) fn of(read: &Read) -> Self {
        Self {
            path: read_path(read.id.as_str()),
            token: Arc::clone(&read.token),
        }
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) addr: SocketAddr,
    /// The requests, which each connection cycles through from its own
    /// offset.
    pub(crate) requests: Arc<[Request]>,
    pub(crate) connections: usize,
    pub(crate) client_threads: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
}

/// The outcome of one load run.
#[derive(Debug, Clone)]
pub(crate) struct LoadRun {
    pub(crate) run: Run,
    pub(crate) mean_body_bytes: f64,
}

#[derive(Debug, Default)]
struct Tally {
    samples: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    body_bytes: u64,
}

impl Tally {
    fn error(&mut self, message: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }
}

/// A client runtime separate from the server's.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bench-client")
            .enable_all()
            .build()
    }
}

/// One request and response on `stream`; returns the status and body size.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> anyhow::Result<(u16, usize)> {
    stream.write_all(request).await?;
    buf.clear();
    let head = loop {
        if let Some(head) = http::parse_head(buf)? {
            break head;
        }
        read_more(stream, buf).await?;
    };
    let total = head.head_len + head.content_length;
    while buf.len() < total {
        read_more(stream, buf).await?;
    }
    anyhow::ensure!(buf.len() == total, "the server sent more than one response");
    Ok((head.status, head.content_length))
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8192);
    }
    if buf.len() > http::MAX_HEAD * 64 {
        return Err(HeadError::TooLarge.into());
    }
    let n = stream.read_buf(buf).await?;
    anyhow::ensure!(n > 0, "the server closed the connection");
    Ok(())
}

async fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {addr} timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends one request and returns the status and body, to check the setup.
pub(crate) fn fetch(addr: SocketAddr, one: &Request) -> anyhow::Result<(u16, Vec<u8>)> {
    runtime(1)?.block_on(async {
        let mut stream = connect(addr).await?;
        let mut request = Vec::new();
        http::write_get(&mut request, &one.path, &addr.to_string(), &one.token);
        let mut buf = Vec::new();
        let (status, len) =
            tokio::time::timeout(REQUEST_TIMEOUT, exchange(&mut stream, &request, &mut buf))
                .await
                .map_err(|_| anyhow::anyhow!("the request timed out"))??;
        Ok((status, buf[buf.len() - len..].to_vec()))
    })
}

/// Runs `load.connections` connections for the warm-up and then the measured
/// duration; requests that start in the measured window are counted.
pub(crate) fn run(load: &Load) -> anyhow::Result<LoadRun> {
    anyhow::ensure!(
        !load.requests.is_empty() && load.connections > 0,
        "nothing to request"
    );
    let rt = runtime(load.client_threads)?;
    rt.block_on(async {
        let mut streams = Vec::with_capacity(load.connections);
        for _ in 0..load.connections {
            streams.push(connect(load.addr).await?);
        }
        let start = Instant::now();
        let measure_from = start + load.warmup;
        let end = measure_from + load.duration;
        let host: Arc<str> = load.addr.to_string().into();
        let mut tasks = Vec::with_capacity(load.connections);
        for (c, stream) in streams.into_iter().enumerate() {
            let requests = Arc::clone(&load.requests);
            let host = Arc::clone(&host);
            let addr = load.addr;
            let first = c * requests.len() / load.connections;
            tasks.push(tokio::spawn(async move {
                connection(stream, addr, &host, &requests, first, measure_from, end).await
            }));
        }
        // The CPU time is read when the measured window opens.
        tokio::time::sleep_until(measure_from.into()).await;
        let cpu_before = machine::cpu_time();
        let mut all = Tally::default();
        for task in tasks {
            let tally = task
                .await
                .map_err(|e| anyhow::anyhow!("a connection task failed: {e}"))?;
            all.samples.extend(tally.samples);
            all.errors += tally.errors;
            all.first_error = all.first_error.or(tally.first_error);
            all.body_bytes += tally.body_bytes;
        }
        let cpu = machine::cpu_since(cpu_before);
        let count = all.samples.len();
        let mut run = Run::from_samples(all.samples, all.errors, all.first_error, load.duration);
        run.cpu = cpu;
        Ok(LoadRun {
            run,
            mean_body_bytes: if count > 0 {
                all.body_bytes as f64 / count as f64
            } else {
                0.0
            },
        })
    })
}

async fn connection(
    mut stream: TcpStream,
    addr: SocketAddr,
    host: &str,
    requests: &[Request],
    first: usize,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally {
        samples: Vec::with_capacity(1 << 16),
        ..Tally::default()
    };
    let mut request = Vec::with_capacity(512);
    let mut buf = Vec::with_capacity(8192);
    for next in (first..).take(MAX_REQUESTS_PER_CONNECTION) {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        let counted = t0 >= measure_from;
        request.clear();
        let one = &requests[next % requests.len()];
        http::write_get(&mut request, &one.path, host, &one.token);
        let outcome =
            tokio::time::timeout(REQUEST_TIMEOUT, exchange(&mut stream, &request, &mut buf)).await;
        let nanos = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let failed = match outcome {
            Ok(Ok((200, body))) => {
                if counted {
                    tally.samples.push(nanos);
                    tally.body_bytes += body as u64;
                }
                continue;
            }
            Ok(Ok((status, _))) => {
                tally.error(|| format!("status {status}"));
                // The connection is still in a known state.
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no response within {} s", REQUEST_TIMEOUT.as_secs()),
        };
        tally.error(|| failed);
        // The connection is in an unknown state: start a new one.
        match connect(addr).await {
            Ok(s) => stream = s,
            Err(e) => {
                tally.error(|| e.to_string());
                break;
            }
        }
    }
    tally
}
