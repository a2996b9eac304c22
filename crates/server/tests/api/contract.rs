//! The OpenAPI document matches the router, and the service behaviour it
//! promises (request ids, limits, graceful shutdown) holds.

use serde_json::Value;

use crate::support::TestServer;

/// Path parameters filled in with values that name nothing.
fn concrete(path: &str) -> String {
    path.replace("{id}", "M404").replace("{name}", "nobody")
}

#[test]
fn every_documented_operation_is_routed() {
    let server = TestServer::start();
    let doc: Value = serde_json::from_str(custos_server::OPENAPI).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            if method == "parameters" {
                continue;
            }
            let body = match method.as_str() {
                "post" | "patch" => Some(b"{}".as_slice()),
                _ => None,
            };
            // Logging out would revoke the admin token the other requests use.
            let token = (path != "/v1/auth/logout").then_some(server.token.as_str());
            let response = server.request(
                &method.to_uppercase(),
                &concrete(path),
                token,
                body,
                &[("x-purpose", "membership_admin")],
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
            // Every error is the documented JSON error.
            if response.status >= 400 {
                let error = response.json();
                assert_eq!(
                    error["error"]["status"], response.status,
                    "{method} {path}: {error}"
                );
                assert!(error["error"]["code"].is_string(), "{method} {path}");
            }
            // And every status it answered with is documented.
            let status = response.status.to_string();
            assert!(
                operations[method]["responses"].get(&status).is_some(),
                "{method} {path} answered {status}, which it does not document"
            );
        }
    }
}

#[test]
fn the_access_control_routes_are_documented() {
    let doc: Value = serde_json::from_str(custos_server::OPENAPI).unwrap();
    let expected = [
        ("/v1/auth/login", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/whoami", "get"),
        ("/v1/purposes", "get"),
        ("/v1/purposes/{name}", "get"),
        ("/v1/record-of-processing", "get"),
        ("/v1/alerts", "get"),
        ("/v1/principals", "get"),
        ("/v1/principals", "post"),
        ("/v1/principals/{name}", "get"),
        ("/v1/principals/{name}", "patch"),
        ("/v1/principals/{name}/suspend", "post"),
        ("/v1/principals/{name}/revoke", "post"),
        ("/v1/principals/{name}/restore", "post"),
        ("/v1/principals/{name}/tokens", "post"),
        ("/v1/tokens", "get"),
        ("/v1/tokens/{id}", "delete"),
        ("/v1/policy", "get"),
        ("/v1/policy", "post"),
        ("/v1/policy/test", "post"),
        ("/v1/ledger/head", "get"),
        ("/v1/ledger/verify", "get"),
        ("/v1/ledger/events", "get"),
        ("/v1/ledger/subjects/{id}", "get"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Principal",
        "Token",
        "NewToken",
        "Session",
        "Purpose",
        "Alert",
        "Policy",
        "CaseReport",
        "RecordOfProcessing",
        "Denial",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is missing");
    }
    let error = &schemas["Error"]["properties"]["error"]["properties"];
    assert!(error["code"].is_object() && error["denied"].is_object());
}

#[test]
fn the_incident_routes_are_documented() {
    let doc: Value = serde_json::from_str(custos_server::OPENAPI).unwrap();
    for (path, method) in [
        ("/v1/processors", "get"),
        ("/v1/processors", "post"),
        ("/v1/processors/{name}", "get"),
        ("/v1/processors/{name}/exports", "post"),
        ("/v1/exports", "get"),
        ("/v1/exports/{id}", "get"),
        ("/v1/exports/{id}/canaries", "get"),
        ("/v1/canaries/trace", "post"),
        ("/v1/incidents", "get"),
        ("/v1/incidents", "post"),
        ("/v1/incidents/{id}/report", "get"),
        ("/v1/incidents/{id}/updates", "post"),
        ("/v1/incidents/{id}/notices", "get"),
        ("/v1/organisation", "get"),
        ("/v1/organisation", "patch"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let report = &doc["components"]["schemas"]["IncidentReport"];
    for key in ["incident", "deadline", "totals", "subjects"] {
        assert!(
            report["required"]
                .as_array()
                .unwrap()
                .contains(&Value::from(key)),
            "IncidentReport does not require `{key}`"
        );
    }
    let subject = &doc["components"]["schemas"]["SubjectExposure"]["properties"];
    for key in [
        "id",
        "fields",
        "categories",
        "special_category",
        "first_exposed",
        "last_exposed",
    ] {
        assert!(subject[key].is_object(), "SubjectExposure lacks `{key}`");
    }
}

#[test]
fn subject_endpoints_document_purpose_strict_and_refusals() {
    let doc: Value = serde_json::from_str(custos_server::OPENAPI).unwrap();
    let resolve = |p: &Value| -> Value {
        match p["$ref"].as_str() {
            Some(r) => {
                let name = r.trim_start_matches("#/components/parameters/");
                doc["components"]["parameters"][name].clone()
            }
            None => p.clone(),
        }
    };
    for (path, method) in [
        ("/v1/subjects", "get"),
        ("/v1/subjects", "post"),
        ("/v1/subjects/find", "post"),
        ("/v1/subjects/{id}", "get"),
        ("/v1/subjects/{id}", "patch"),
        ("/v1/subjects/{id}", "delete"),
        ("/v1/import", "post"),
        ("/v1/export", "post"),
    ] {
        let operation = &doc["paths"][path][method];
        let parameters: Vec<Value> = operation["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
            .iter()
            .map(resolve)
            .collect();
        let has = |name: &str, place: &str| {
            parameters
                .iter()
                .any(|p| p["name"] == name && p["in"] == place)
        };
        assert!(has("purpose", "query"), "{method} {path}: purpose");
        assert!(has("X-Purpose", "header"), "{method} {path}: X-Purpose");
        if path.starts_with("/v1/subjects") {
            assert!(has("strict", "query"), "{method} {path}: strict");
        }
        for status in ["400", "401", "403"] {
            assert!(
                operation["responses"].get(status).is_some(),
                "{method} {path}: {status}"
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
    assert_eq!(
        server
            .vault
            .info(&server.vault.local_operator())
            .unwrap()
            .subjects,
        0
    );
}

#[test]
fn shutdown_is_graceful() {
    let server = TestServer::start();
    assert_eq!(server.get("/v1/health").status, 200);
    let addr = server.addr;
    server.stop().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
