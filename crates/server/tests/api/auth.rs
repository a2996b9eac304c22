//! Authentication: every data route needs a valid token.

use crate::support::TestServer;

#[test]
fn data_routes_need_a_valid_token() {
    let server = TestServer::start();
    for path in [
        "/v1/vault",
        "/v1/schema",
        "/v1/subjects?purpose=membership_admin",
        "/v1/subjects/M1?purpose=membership_admin",
        "/v1/auth/whoami",
        "/v1/purposes",
        "/v1/principals",
        "/v1/tokens",
        "/v1/policy",
        "/v1/alerts",
        "/v1/record-of-processing",
        "/v1/ledger/events",
    ] {
        let none = server.request("GET", path, None, None, &[]);
        assert_eq!(none.status, 401, "{path}");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        assert_eq!(none.json()["error"]["code"], "unauthenticated", "{path}");
        let wrong = server.request("GET", path, Some("custos_not-the-token"), None, &[]);
        assert_eq!(wrong.status, 401, "{path}");
        assert_eq!(wrong.json()["error"]["code"], "invalid_token", "{path}");
        // A token that differs in one character is refused too.
        let mut near = server.token.clone();
        let last = near.pop().unwrap();
        near.push(if last == 'A' { 'B' } else { 'A' });
        let near = server.request("GET", path, Some(&near), None, &[]);
        assert_eq!(near.status, 401, "{path}");
        assert_eq!(near.json()["error"]["code"], "invalid_token", "{path}");
        // Another scheme is not a bearer token.
        let basic = server.request(
            "GET",
            path,
            None,
            None,
            &[("authorization", "Basic YWRtaW46YWRtaW4=")],
        );
        assert_eq!(basic.status, 401, "{path}");
        assert_eq!(basic.json()["error"]["code"], "malformed_token", "{path}");
    }
    assert_eq!(server.get("/v1/vault").status, 200);
    assert_eq!(server.get("/v1/schema").status, 200);
    let me = server.get("/v1/auth/whoami").json();
    assert_eq!(me["name"], "admin");
    assert_eq!(me["auth"], "api_token");
    assert_eq!(me["mfa"], false);
    assert_eq!(me["attributes"]["role"], "admin");
}

#[test]
fn bearer_is_case_insensitive() {
    let server = TestServer::start();
    let lower = format!("bearer {}", server.token);
    let response = server.request("GET", "/v1/vault", None, None, &[("authorization", &lower)]);
    assert_eq!(response.status, 200, "{}", response.text());
}

#[test]
fn health_and_openapi_are_public() {
    let server = TestServer::start();
    let health = server.request("GET", "/v1/health", None, None, &[]);
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let doc = server.request("GET", "/v1/openapi.json", None, None, &[]);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["openapi"], "3.1.0");
}

#[test]
fn non_loopback_listening_needs_an_explicit_flag() {
    let public: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let loopback: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let err = custos_server::check_listen_addr(public, false).unwrap_err();
    assert!(err.contains("--insecure-non-loopback"), "{err}");
    assert!(custos_server::check_listen_addr(public, true).is_ok());
    assert!(custos_server::check_listen_addr(loopback, false).is_ok());
    assert!(custos_server::check_listen_addr("[::1]:8080".parse().unwrap(), false).is_ok());
}
