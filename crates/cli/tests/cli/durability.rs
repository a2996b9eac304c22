//! Acknowledged accesses survive `kill -9`: under a read load, the server is
//! killed with SIGKILL, and every request whose 200 response reached the
//! client in full must then have its event in the ledger, which verifies.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Sandbox;

/// Client threads sending reads at once.
const CLIENTS: usize = 4;
/// Subjects seeded and read in turn.
const SUBJECTS: usize = 6;
/// No client sends for longer than this, killed server or not.
const LOAD: Duration = Duration::from_secs(3);
/// Nor more requests than this.
const MAX_REQUESTS: usize = 5_000;
/// When the server is killed, counted from the start of the load.
const KILL_AFTER: Duration = Duration::from_millis(1_000);

/// The request id of a response, if it is a 200 that arrived whole: the
/// status line, the headers, and exactly `content-length` bytes of body.
fn acknowledged(raw: &[u8]) -> Option<String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    if !lines.next()?.starts_with("HTTP/1.1 200 ") {
        return None;
    }
    let (mut id, mut length) = (None, None);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "x-request-id" => id = Some(value.trim().to_owned()),
            "content-length" => length = value.trim().parse::<usize>().ok(),
            _ => {}
        }
    }
    let body = &raw[end + 4..];
    (body.len() == length? && body.windows(7).any(|w| w == b"\"email\"")).then_some(id?)
}

/// One GET on a new connection. `Err` if the server cannot be reached;
/// `Ok(None)` if the response is not an acknowledgement.
fn get(addr: &str, path: &str, token: &str) -> std::io::Result<Option<String>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    // A connection reset by the kill leaves a partial response, which is
    // then not an acknowledgement.
    let _ = stream.read_to_end(&mut raw);
    Ok(acknowledged(&raw))
}

#[test]
fn every_acknowledged_read_survives_sigkill() {
    let sandbox = Sandbox::new();
    let token = sandbox.init();
    for i in 0..SUBJECTS {
        sandbox
            .run(&[
                "subject",
                "add",
                "--id",
                &format!("D{i}"),
                &format!("email=d{i}@example.org"),
            ])
            .ok();
    }
    let mut server = sandbox.serve();
    let addr = server.addr.clone();

    let killed = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicUsize::new(CLIENTS));
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, token) = (addr.clone(), token.clone());
            let (killed, acks, running) =
                (Arc::clone(&killed), Arc::clone(&acks), Arc::clone(&running));
            std::thread::spawn(move || {
                // (request id, subject) of every acknowledged read.
                let mut acked = Vec::new();
                let mut unreachable_before_kill = 0;
                for n in 0..MAX_REQUESTS {
                    if start.elapsed() > LOAD {
                        break;
                    }
                    let subject = format!("D{}", (c + n) % SUBJECTS);
                    let path =
                        format!("/v1/subjects/{subject}?fields=email&purpose=membership_admin");
                    match get(&addr, &path, &token) {
                        Ok(Some(id)) => {
                            acked.push((id, subject));
                            acks.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(None) => {}
                        Err(_) if killed.load(Ordering::SeqCst) => break,
                        Err(_) => unreachable_before_kill += 1,
                    }
                }
                running.fetch_sub(1, Ordering::SeqCst);
                (acked, unreachable_before_kill)
            })
        })
        .collect();

    // Mid-load: after a while, and once some reads were acknowledged.
    while start.elapsed() < KILL_AFTER || acks.load(Ordering::Relaxed) < 20 {
        assert!(start.elapsed() < LOAD, "too few reads were acknowledged");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        running.load(Ordering::SeqCst),
        CLIENTS,
        "the load ended before the kill"
    );
    killed.store(true, Ordering::SeqCst);
    let status = server.signal("-9");
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let log = server.log();

    let mut acked = BTreeMap::new();
    for client in clients {
        let (mine, unreachable) = client.join().unwrap();
        assert_eq!(unreachable, 0, "the server was unreachable before the kill");
        acked.extend(mine);
    }
    assert!(acked.len() >= 20, "{}", acked.len());

    // After the crash: the log verifies, and holds every acknowledged read.
    let run = sandbox.run(&["ledger", "verify"]);
    assert_eq!(
        run.code, 0,
        "{}{}\nserver log:\n{log}",
        run.stdout, run.stderr
    );
    let events = sandbox
        .run(&["ledger", "query", "--json", "--limit", "100000"])
        .ok()
        .json();
    let by_request: BTreeMap<&str, &Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["request_id"].as_str().unwrap(), e))
        .collect();
    let missing: Vec<&String> = acked
        .keys()
        .filter(|id| !by_request.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged reads are not in the ledger, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
    for (id, subject) in &acked {
        let e = by_request[id.as_str()];
        assert_eq!(e["action"], "read", "{e}");
        assert_eq!(e["subjects"], serde_json::json!([subject]), "{e}");
        assert_eq!(e["fields_released"], serde_json::json!(["email"]), "{e}");
        assert_eq!(e["outcome"], "allowed", "{e}");
        assert_eq!(e["principal"], "admin", "{e}");
        assert!(
            e["auth"].as_str().unwrap().starts_with("api_token tk_"),
            "{e}"
        );
        assert!(
            e["client"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{e}"
        );
    }
}
