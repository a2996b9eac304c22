//! The ledger over HTTP: what a request records, and reading it back.

use serde_json::json;

use crate::support::{TestServer, ana};

#[test]
fn a_read_is_recorded_with_its_request_purpose_and_client() {
    let server = TestServer::start();
    assert_eq!(server.send_json("POST", "/v1/subjects", &ana()).status, 201);
    let read = server.request(
        "GET",
        "/v1/subjects/M100?fields=email,phone",
        Some(&server.token),
        None,
        &[("x-purpose", "membership_admin")],
    );
    assert_eq!(read.status, 200);
    let request_id = read.header("x-request-id").unwrap().to_owned();

    let events = server
        .get("/v1/ledger/events?subject=M100&action=read")
        .json();
    let events = events["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["request_id"], request_id.as_str());
    assert_eq!(event["purpose"], "membership_admin");
    assert_eq!(event["principal"], "admin");
    assert!(
        event["auth"].as_str().unwrap().starts_with("api_token tk_"),
        "{event}"
    );
    assert_eq!(event["outcome"], "allowed");
    assert_eq!(event["fields_released"], json!(["email", "phone"]));
    assert!(
        event["client"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{event}"
    );
    // The event names fields, never values.
    assert!(!event.to_string().contains("example.org"), "{event}");

    let missing = server.get("/v1/subjects/M404");
    assert_eq!(missing.status, 404);
    let denied = server.get("/v1/ledger/events?subject=M404").json();
    assert_eq!(denied["events"][0]["outcome"], "denied");
}

#[test]
fn head_verify_and_subject_history() {
    let server = TestServer::start();
    assert_eq!(server.send_json("POST", "/v1/subjects", &ana()).status, 201);
    assert_eq!(server.get("/v1/subjects/M100").status, 200);
    let head = server.get("/v1/ledger/head").json();
    assert!(head["size"].as_u64().unwrap() >= 2, "{head}");
    assert!(head["signature"].as_str().unwrap().len() > 80);
    let report = server.get("/v1/ledger/verify").json();
    assert_eq!(report["ok"], true, "{report}");
    let history = server.get("/v1/ledger/subjects/M100").json();
    assert_eq!(history["subject"], "M100");
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "create and read: {history}");
    assert!(events.iter().all(|e| e["inclusion_proof"].is_array()));
    assert_eq!(server.get("/v1/ledger/events?outcome=sideways").status, 400);
}
