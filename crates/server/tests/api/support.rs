//! A server on 127.0.0.1:0 over a fresh vault, and a minimal HTTP/1.1 client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use custos_engine::{Event, EventQuery, InitKey, InitOptions, KeyAccess, OpenOptions, Vault};
use custos_model::PrincipalKind;
use serde_json::Value;

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    /// The token from init: the `admin` principal, an administrator.
    pub(crate) token: String,
    pub(crate) vault: Arc<Vault>,
    /// The temporary directory, held by the server that made it.
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

/// How long writers wait for another connection's lock in tests.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The purpose the admin helpers declare.
pub(crate) const ADMIN_PURPOSE: &str = "membership_admin";

impl TestServer {
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let initialized = Vault::init(InitOptions {
            dir: dir.path().join("vault"),
            schema: None,
            key: InitKey::File { path: None },
            busy_timeout: BUSY_TIMEOUT,
        })
        .unwrap();
        let token = initialized.admin_token().to_owned();
        Self::serve(Arc::new(initialized.vault), token, Some(dir))
    }

    /// A second server over the same vault directory, with a vault of its
    /// own: another process, as far as the store can tell.
    pub(crate) fn second(&self) -> Self {
        let vault = Vault::open(OpenOptions {
            dir: self.vault.dir().to_owned(),
            keys: KeyAccess::default(),
            busy_timeout: BUSY_TIMEOUT,
        })
        .unwrap();
        Self::serve(Arc::new(vault), self.token.clone(), None)
    }

    fn serve(vault: Arc<Vault>, token: String, dir: Option<tempfile::TempDir>) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let served = Arc::clone(&vault);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).unwrap();
                custos_server::run(listener, served, async {
                    let _ = rx.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self {
            addr,
            token,
            vault,
            _dir: dir,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Adds a principal through the engine, as the local operator, and
    /// returns a new API token of theirs.
    pub(crate) fn add_principal(
        &self,
        name: &str,
        kind: PrincipalKind,
        attributes: &[(&str, &str)],
    ) -> String {
        let operator = self.vault.local_operator();
        let attributes: Vec<(String, String)> = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.vault
            .add_principal(&operator, name, kind, &attributes, None, None)
            .unwrap();
        self.vault
            .create_token(&operator, name, None)
            .unwrap()
            .token
            .expose()
            .to_owned()
    }

    /// Creates a member with these fields, as the admin.
    pub(crate) fn add_member(&self, id: &str, fields: Value) {
        let created = self.send_json(
            "POST",
            "/v1/subjects",
            &serde_json::json!({ "id": id, "fields": fields }),
        );
        assert_eq!(created.status, 201, "{}", created.text());
    }

    /// Ledger events, read through the engine as the local operator.
    pub(crate) fn events(&self, query: &EventQuery) -> Vec<Event> {
        self.vault
            .ledger_query(&self.vault.local_operator(), query)
            .unwrap()
    }

    /// A GET as the admin, declaring `membership_admin`.
    pub(crate) fn get(&self, path: &str) -> Response {
        self.request(
            "GET",
            path,
            Some(&self.token),
            None,
            &[("x-purpose", ADMIN_PURPOSE)],
        )
    }

    /// A JSON request as the admin, declaring `membership_admin`.
    pub(crate) fn send_json(&self, method: &str, path: &str, body: &Value) -> Response {
        self.send_json_as(&self.token, method, path, body)
    }

    /// A JSON request with this token, declaring `membership_admin`.
    pub(crate) fn send_json_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Response {
        self.request(
            method,
            path,
            Some(token),
            Some(body.to_string().as_bytes()),
            &[
                ("content-type", "application/json"),
                ("x-purpose", ADMIN_PURPOSE),
            ],
        )
    }

    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Response {
        request(self.addr, method, path, token, body, headers)
    }

    /// Stops the server gracefully and waits for it.
    pub(crate) fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection (`Connection: close`), so the response
/// ends at EOF.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    // A server may refuse a large body before reading it all.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16)
            .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 2 + size + 2..];
    }
}

/// A member with distinctive values, as a create body.
pub(crate) fn ana() -> Value {
    serde_json::json!({
        "id": "M100",
        "fields": {
            "given_name": "Anastasia",
            "family_name": "Quixote-Vance",
            "email": "Anastasia.QV@Example.org",
            "phone": "07700 900123",
            "postcode": "sw1a1aa",
            "constituency": "E14000639",
            "membership_status": "member",
            "consent_email": true,
            "donation_total": 12.5,
            "notes": "=HYPERLINK(\"http://evil.example\")"
        }
    })
}
