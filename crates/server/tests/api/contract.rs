//! The OpenAPI document matches the router, and the service behaviour it
//! promises (request ids, limits, graceful shutdown) holds.

use serde_json::Value;

use crate::support::TestServer;

#[test]
fn every_documented_operation_is_routed() {
    let server = TestServer::start();
    let doc: Value = serde_json::from_str(custos_server::OPENAPI).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 9);
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "M404");
            let body = match method.as_str() {
                "post" | "patch" => Some(b"{}".as_slice()),
                _ => None,
            };
            let response = server.request(
                &method.to_uppercase(),
                &concrete,
                Some(&server.token),
                body,
                &[],
            );
            assert_ne!(
                response.status, 405,
                "{method} {path} is documented but not routed"
            );
            // An unrouted path gets axum's empty 404; ours carry a JSON body.
            assert!(
                !(response.status == 404 && response.body.is_empty()),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

#[test]
fn unknown_routes_are_not_documented_ones() {
    let server = TestServer::start();
    let response = server.get("/v1/nothing-here");
    assert_eq!(response.status, 404);
    assert!(response.body.is_empty());
}

#[test]
fn every_response_has_a_request_id() {
    let server = TestServer::start();
    let a = server.get("/v1/vault");
    let b = server.request("GET", "/v1/vault", None, None, &[]);
    let (a, b) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert!(!a.is_empty());
    assert_ne!(a, b);
    let given = server.request(
        "GET",
        "/v1/health",
        None,
        None,
        &[("x-request-id", "trace-42")],
    );
    assert_eq!(given.header("x-request-id"), Some("trace-42"));
}

#[test]
fn oversized_bodies_are_refused() {
    let server = TestServer::start();
    let big = vec![b' '; custos_server::MAX_JSON_BODY + 1];
    let response = server.request(
        "POST",
        "/v1/subjects",
        Some(&server.token),
        Some(&big),
        &[("content-type", "application/json")],
    );
    assert_eq!(response.status, 413);
    assert_eq!(server.vault.info().unwrap().subjects, 0);
}

#[test]
fn shutdown_is_graceful() {
    let server = TestServer::start();
    assert_eq!(server.get("/v1/health").status, 200);
    let addr = server.addr;
    server.stop().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
