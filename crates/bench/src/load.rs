//! The load generator: tokio tasks on their own runtime, each holding one
//! session with the system under load (a keep-alive HTTP/1.1 connection,
//! or a PostgreSQL session) and running one operation at a time, in a
//! closed loop. Every system is driven by the same loop, [`drive`]. Each
//! HTTP request has its own method, path, bearer token and body (W2: a
//! member's path, with the token of their representative; W3: a PATCH by a
//! staff member), prepared before the run.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{self, HeadError};
use crate::machine;
use crate::stats::Run;
use crate::workload::{Read, Update, read_path};

/// The HTTP target at 64 connections.
pub(crate) const TARGET_PER_S: f64 = 10_000.0;
/// The p99 target at 64 connections, in milliseconds.
pub(crate) const TARGET_P99_MS: f64 = 15.0;
/// The connection count the target applies to.
pub(crate) const TARGET_CONNECTIONS: usize = 64;
/// How long one operation may take before it counts as an error.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// A bound on the operations of one session, so that a loop always ends.
const MAX_OPERATIONS_PER_SESSION: usize = 50_000_000;

/// One request of a run: its method, path, bearer token and JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) token: Arc<str>,
    pub(crate) body: Option<Arc<[u8]>>,
}

impl Request {
    /// The GET of one W2 read.
    pub(crate) fn of(read: &Read) -> Self {
        Self {
            method: "GET",
            path: read_path(read.id.as_str()),
            token: Arc::clone(&read.token),
            body: None,
        }
    }

    /// The PATCH of one W3 update.
    pub(crate) fn of_update(update: &Update) -> Self {
        Self {
            method: "PATCH",
            path: update.path(),
            token: Arc::clone(&update.token),
            body: Some(update.body().into()),
        }
    }

    fn write(&self, out: &mut Vec<u8>, host: &str) {
        http::write_request(
            out,
            self.method,
            &self.path,
            host,
            &self.token,
            self.body.as_deref(),
        );
    }
}

/// One HTTP load run.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) addr: SocketAddr,
    /// The requests, which each connection cycles through from its own
    /// offset.
    pub(crate) requests: Arc<[Request]>,
    pub(crate) drive: Drive,
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
    let stream = tokio::time::timeout(OPERATION_TIMEOUT, TcpStream::connect(addr))
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
        one.write(&mut request, &addr.to_string());
        let mut buf = Vec::new();
        let (status, len) =
            tokio::time::timeout(OPERATION_TIMEOUT, exchange(&mut stream, &request, &mut buf))
                .await
                .map_err(|_| anyhow::anyhow!("the request timed out"))??;
        Ok((status, buf[buf.len() - len..].to_vec()))
    })
}

/// Why one operation of a session failed.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The system answered with a refusal; the session is still usable.
    Refused(String),
    /// The session is in an unknown state; a new one is connected.
    Broken(String),
}

/// One client connection to a system under load: an HTTP keep-alive
/// connection, or a PostgreSQL session. Every system is driven by the same
/// loop ([`drive`]), so the load generator is identical across them.
pub(crate) trait Session: Send + 'static {
    /// Performs this session's `n`-th operation; returns the size of the
    /// response's body in bytes.
    fn call(&mut self, n: usize) -> impl Future<Output = Result<usize, Failure>> + Send;
}

/// How a run is driven.
#[derive(Debug, Clone)]
pub(crate) struct Drive {
    pub(crate) connections: usize,
    pub(crate) client_threads: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
}

/// Runs `drive.connections` sessions, each one operation at a time, for
/// the warm-up and then the measured duration; operations that start in
/// the measured window are counted. `connect(c)` opens session `c`, again
/// after it broke.
pub(crate) fn drive<S, C, F>(drive: &Drive, connect: C) -> anyhow::Result<LoadRun>
where
    S: Session,
    C: Fn(usize) -> F + Send + Sync + 'static,
    F: Future<Output = anyhow::Result<S>> + Send + 'static,
{
    anyhow::ensure!(drive.connections > 0, "no connections to drive");
    let rt = runtime(drive.client_threads)?;
    let connect = Arc::new(connect);
    rt.block_on(async {
        let mut sessions = Vec::with_capacity(drive.connections);
        for c in 0..drive.connections {
            sessions.push(connect(c).await?);
        }
        let start = Instant::now();
        let measure_from = start + drive.warmup;
        let end = measure_from + drive.duration;
        let mut tasks = Vec::with_capacity(drive.connections);
        for (c, session) in sessions.into_iter().enumerate() {
            let connect = Arc::clone(&connect);
            tasks.push(tokio::spawn(async move {
                keep_calling(session, move || connect(c), measure_from, end).await
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
        let mut run = Run::from_samples(all.samples, all.errors, all.first_error, drive.duration);
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

async fn keep_calling<S, R, F>(
    mut session: S,
    reconnect: R,
    measure_from: Instant,
    end: Instant,
) -> Tally
where
    S: Session,
    R: Fn() -> F,
    F: Future<Output = anyhow::Result<S>>,
{
    let mut tally = Tally {
        samples: Vec::with_capacity(1 << 16),
        ..Tally::default()
    };
    for n in 0..MAX_OPERATIONS_PER_SESSION {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        let outcome = tokio::time::timeout(OPERATION_TIMEOUT, session.call(n)).await;
        let nanos = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let broken = match outcome {
            Ok(Ok(body)) => {
                if t0 >= measure_from {
                    tally.samples.push(nanos);
                    tally.body_bytes += body as u64;
                }
                continue;
            }
            Ok(Err(Failure::Refused(message))) => {
                tally.error(|| message);
                continue;
            }
            Ok(Err(Failure::Broken(message))) => message,
            Err(_) => format!("no response within {} s", OPERATION_TIMEOUT.as_secs()),
        };
        tally.error(|| broken);
        match reconnect().await {
            Ok(s) => session = s,
            Err(e) => {
                tally.error(|| e.to_string());
                break;
            }
        }
    }
    tally
}

/// Runs `load.drive.connections` HTTP connections through [`drive`].
pub(crate) fn run(load: &Load) -> anyhow::Result<LoadRun> {
    anyhow::ensure!(!load.requests.is_empty(), "nothing to request");
    let addr = load.addr;
    let host: Arc<str> = addr.to_string().into();
    let requests = Arc::clone(&load.requests);
    let connections = load.drive.connections;
    drive(&load.drive, move |c| {
        let requests = Arc::clone(&requests);
        let host = Arc::clone(&host);
        async move {
            Ok(HttpSession {
                stream: connect(addr).await?,
                first: c * requests.len() / connections,
                requests,
                host,
                request: Vec::with_capacity(512),
                buf: Vec::with_capacity(8192),
            })
        }
    })
}

/// One keep-alive connection, cycling through the requests from its own
/// offset.
struct HttpSession {
    stream: TcpStream,
    requests: Arc<[Request]>,
    first: usize,
    host: Arc<str>,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Session for HttpSession {
    async fn call(&mut self, n: usize) -> Result<usize, Failure> {
        let one = &self.requests[(self.first + n) % self.requests.len()];
        self.request.clear();
        one.write(&mut self.request, &self.host);
        match exchange(&mut self.stream, &self.request, &mut self.buf).await {
            Ok((200, body)) => Ok(body),
            Ok((status, _)) => Err(Failure::Refused(format!("status {status}"))),
            Err(e) => Err(Failure::Broken(e.to_string())),
        }
    }
}
