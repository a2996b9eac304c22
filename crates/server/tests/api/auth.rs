//! Authentication: every data route needs a valid token.

use crate::support::TestServer;

#[test]
fn data_routes_need_a_valid_token() {
    let server = TestServer::start();
    for path in ["/v1/vault", "/v1/subjects", "/v1/subjects/M1", "/v1/schema"] {
        let none = server.request("GET", path, None, None, &[]);
        assert_eq!(none.status, 401, "{path}");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        assert_eq!(none.json()["error"]["code"], "unauthenticated");
        let wrong = server.request("GET", path, Some("custos_not-the-token"), None, &[]);
        assert_eq!(wrong.status, 401, "{path}");
        // A token that differs in one character is refused too.
        let mut near = server.token.clone();
        let last = near.pop().unwrap();
        near.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(
            server.request("GET", path, Some(&near), None, &[]).status,
            401
        );
    }
    assert_eq!(server.get("/v1/vault").status, 200);
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
