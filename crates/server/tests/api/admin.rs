//! Administration over HTTP: principals, tokens, purposes, the record of
//! processing and policies; for administrators only.

use serde_json::{Value, json};

use crate::access_control::{get_as, with_ana};
use crate::support::TestServer;

fn principal_names(body: &Value) -> Vec<String> {
    body["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn principals_and_tokens() {
    let server = TestServer::start();
    let added = server.send_json(
        "POST",
        "/v1/principals",
        &json!({
            "name": "cy",
            "kind": "volunteer",
            "attributes": { "branch": "north" },
            "valid_from": "2020-01-01T00:00:00Z",
            "valid_until": "2099-12-31"
        }),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let cy = added.json();
    assert_eq!(cy["kind"], "volunteer");
    assert_eq!(cy["status"], "active");
    assert_eq!(cy["attributes"], json!({ "branch": "north" }));
    assert!(
        cy["valid_until"]
            .as_str()
            .unwrap()
            .starts_with("2100-01-01T00:00:00"),
        "a date as valid_until lets them act through that day: {cy}"
    );
    let again = server.send_json(
        "POST",
        "/v1/principals",
        &json!({ "name": "cy", "kind": "volunteer" }),
    );
    assert_eq!(again.status, 409, "{}", again.text());
    let bad = server.send_json(
        "POST",
        "/v1/principals",
        &json!({ "name": "dee", "kind": "wizard" }),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("representative"), "{}", bad.text());
    let bad_time = server.send_json(
        "POST",
        "/v1/principals",
        &json!({ "name": "dee", "kind": "staff", "valid_until": "soonish" }),
    );
    assert_eq!(bad_time.status, 400);
    assert!(
        bad_time.text().contains("valid_until"),
        "{}",
        bad_time.text()
    );

    assert_eq!(
        principal_names(&server.get("/v1/principals").json()),
        ["admin", "cy"]
    );
    assert_eq!(server.get("/v1/principals/cy").json()["name"], "cy");
    assert_eq!(server.get("/v1/principals/nobody").status, 404);

    let changed = server.send_json(
        "PATCH",
        "/v1/principals/cy",
        &json!({ "attributes": { "branch": "south" }, "valid_until": null }),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    let cy = changed.json();
    assert_eq!(cy["attributes"]["branch"], "south");
    assert_eq!(cy["valid_until"], Value::Null);
    assert!(cy["valid_from"].is_string(), "left alone: {cy}");

    let issued = server.send_json(
        "POST",
        "/v1/principals/cy/tokens",
        &json!({ "expires": "30d" }),
    );
    assert_eq!(issued.status, 201, "{}", issued.text());
    let issued = issued.json();
    let secret = issued["token"].as_str().unwrap().to_owned();
    let id = issued["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("custos_") && id.starts_with("tk_"));
    assert_eq!(issued["principal"], "cy");
    assert!(issued["expires_at"].is_string());

    let me = server.request("GET", "/v1/auth/whoami", Some(&secret), None, &[]);
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["name"], "cy");
    assert_eq!(me.json()["auth"], "api_token");

    let listed = server.get("/v1/tokens?principal=cy").json();
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{listed}");
    assert_eq!(tokens[0]["id"], id.as_str());
    assert!(tokens[0].get("token").is_none(), "never the secret");
    assert!(!listed.to_string().contains(&secret));
    assert!(
        server.get("/v1/tokens").json()["tokens"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );

    let suspended = server.send_json(
        "POST",
        "/v1/principals/cy/suspend",
        &json!({ "reason": "on leave" }),
    );
    assert_eq!(suspended.json()["status"], "suspended");
    let refused = server.request("GET", "/v1/auth/whoami", Some(&secret), None, &[]);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"]["code"], "principal_suspended");
    // A restore needs no body.
    let restored = server.request(
        "POST",
        "/v1/principals/cy/restore",
        Some(&server.token),
        None,
        &[],
    );
    assert_eq!(restored.status, 200, "{}", restored.text());
    assert_eq!(
        server
            .request("GET", "/v1/auth/whoami", Some(&secret), None, &[])
            .status,
        200,
        "suspension leaves tokens alone"
    );

    let revoked = server.request(
        "DELETE",
        &format!("/v1/tokens/{id}"),
        Some(&server.token),
        None,
        &[],
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert!(revoked.json()["revoked_at"].is_string());
    let gone = server.request("GET", "/v1/auth/whoami", Some(&secret), None, &[]);
    assert_eq!(gone.json()["error"]["code"], "token_revoked");
    assert_eq!(
        server
            .request(
                "DELETE",
                "/v1/tokens/tk_000000000000",
                Some(&server.token),
                None,
                &[]
            )
            .status,
        404
    );
}

#[test]
fn purposes_and_the_record_of_processing() {
    let (server, ana) = with_ana();
    // Anyone authenticated may list the purposes: every request names one.
    let purposes = get_as(&server, Some(&ana), "/v1/purposes", &[]);
    assert_eq!(purposes.status, 200, "{}", purposes.text());
    let purposes = purposes.json();
    let names: Vec<&str> = purposes["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"casework") && names.contains(&"membership_admin"));
    let casework = get_as(&server, Some(&ana), "/v1/purposes/casework", &[]).json();
    assert_eq!(casework["lawful_basis"], "legitimate_interests");
    assert!(
        casework["categories"]
            .as_array()
            .unwrap()
            .contains(&json!("contact"))
    );
    assert_eq!(server.get("/v1/purposes/gossip").status, 404);

    let record = server.get("/v1/record-of-processing");
    assert_eq!(record.status, 200, "{}", record.text());
    let record = record.json();
    assert!(!record["activities"].as_array().unwrap().is_empty());
    assert!(!record["security_measures"].as_array().unwrap().is_empty());
    let casework = record["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "casework")
        .unwrap();
    assert!(
        casework["fields"]["contact"]
            .as_array()
            .unwrap()
            .contains(&json!("email"))
    );
}

#[test]
fn policies_are_shown_tested_and_applied_with_checks() {
    let server = TestServer::start();
    let current = server.get("/v1/policy");
    assert_eq!(current.status, 200, "{}", current.text());
    let current = current.json();
    assert_eq!(current["version"], 1);
    let text = current["text"].as_str().unwrap().to_owned();
    let tests = current["tests"].as_str().unwrap().to_owned();
    assert!(text.contains("permit"));

    let report = server.send_json("POST", "/v1/policy/test", &json!({ "cases": tests }));
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    assert_eq!(report["passed"], true, "{report}");
    assert!(!report["cases"].as_array().unwrap().is_empty());

    let invalid = server.send_json(
        "POST",
        "/v1/policy",
        &json!({ "text": "@id(\"broken\")\npermit (principal, action, resource) when { context.nope };" }),
    );
    assert_eq!(invalid.status, 400, "{}", invalid.text());
    assert_eq!(invalid.json()["error"]["code"], "invalid_policy");
    let problems = invalid.json()["error"]["problems"].clone();
    assert!(!problems.as_array().unwrap().is_empty(), "{problems}");
    assert_eq!(problems[0]["row"], 2, "{problems}");
    assert!(invalid.text().contains("nope"), "{}", invalid.text());

    let lockout = server.send_json(
        "POST",
        "/v1/policy",
        &json!({ "text": "@id(\"nobody\")\nforbid (principal, action, resource);" }),
    );
    assert_eq!(lockout.status, 400, "{}", lockout.text());
    assert_eq!(lockout.json()["error"]["code"], "policy_refused");

    let applied = server.send_json(
        "POST",
        "/v1/policy",
        &json!({ "text": text, "tests": tests }),
    );
    assert_eq!(applied.status, 200, "{}", applied.text());
    assert_eq!(applied.json()["version"], 2);
    assert!(applied.json()["cases"].as_u64().unwrap() > 0);
    assert_eq!(server.get("/v1/policy").json()["version"], 2);
}

#[test]
fn administration_is_for_administrators() {
    let (server, ana) = with_ana();
    let body = br#"{"name": "eve", "kind": "staff", "reason": "x", "text": "x", "cases": "x"}"#;
    for (method, path) in [
        ("GET", "/v1/principals"),
        ("POST", "/v1/principals"),
        ("GET", "/v1/principals/admin"),
        ("PATCH", "/v1/principals/admin"),
        ("POST", "/v1/principals/admin/revoke"),
        ("POST", "/v1/principals/ana/tokens"),
        ("GET", "/v1/tokens"),
        ("DELETE", "/v1/tokens/tk_000000000000"),
        ("GET", "/v1/policy"),
        ("POST", "/v1/policy"),
        ("POST", "/v1/policy/test"),
        ("GET", "/v1/alerts"),
        ("GET", "/v1/record-of-processing"),
        ("GET", "/v1/ledger/head"),
        ("GET", "/v1/ledger/verify"),
        ("GET", "/v1/ledger/events"),
        ("GET", "/v1/ledger/subjects/M1"),
    ] {
        let response = server.request(
            method,
            path,
            Some(&ana),
            (method != "GET" && method != "DELETE").then_some(body.as_slice()),
            &[],
        );
        assert_eq!(response.status, 403, "{method} {path}: {}", response.text());
        let error = response.json()["error"].clone();
        assert_eq!(error["code"], "forbidden", "{method} {path}");
        assert_eq!(error["denied"][0]["field"], Value::Null, "{method} {path}");
        assert_eq!(
            error["denied"][0]["code"], "not_permitted",
            "{method} {path}"
        );
    }
    // Nothing was changed.
    let admin = server.get("/v1/principals/admin").json();
    assert_eq!(admin["status"], "active");
    assert_eq!(
        principal_names(&server.get("/v1/principals").json()),
        ["admin", "ana"]
    );
    // What any principal may do, she may.
    assert_eq!(
        get_as(&server, Some(&ana), "/v1/auth/whoami", &[]).status,
        200
    );
    assert_eq!(get_as(&server, Some(&ana), "/v1/vault", &[]).status, 200);
}
