//! `custos serve` as a process, sharing its vault with CLI commands.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use crate::support::Sandbox;

fn get(addr: &str, path: &str, token: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn server_and_cli_share_a_vault_and_shutdown_is_clean() {
    let sandbox = Sandbox::new();
    let token = sandbox.init();
    let mut server = sandbox
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .env("CUSTOS_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server exited early").unwrap();
        if let Some(rest) = line.strip_prefix("custos listening on http://") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading the log so the server never blocks on a full pipe.
    let log =
        std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));

    // A CLI process writes while the server is running.
    sandbox
        .run(&["subject", "add", "--id", "M1", "given_name=Wilhelmina"])
        .ok();
    let response = get(
        &addr,
        "/v1/subjects/M1?fields=given_name&purpose=membership_admin",
        &token,
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("\"given_name\":\"Wilhelmina\""),
        "{response}"
    );
    let refused = get(&addr, "/v1/subjects/M1", "custos_wrong");
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");

    let pid = server.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let log = log.join().unwrap();
    assert!(log.contains("custos stopped"), "{log}");
    assert!(!log.contains("Wilhelmina"), "{log}");
}

#[test]
fn serve_refuses_a_public_address_without_the_flag() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let run = sandbox.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("--insecure-non-loopback"),
        "{}",
        run.stderr
    );
}
