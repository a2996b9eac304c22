//! Who may see what, over HTTP: 401 for "who are you?", 403 for "not
//! allowed", decisions field by field, purposes, strict mode, and every
//! refusal in the ledger.

use std::time::Duration;

use custos_engine::{Event, EventQuery, OffsetDateTime, Outcome};
use custos_model::PrincipalKind;
use serde_json::{Value, json};

use crate::support::{Response, TestServer};

/// Ana's constituency.
pub(crate) const HOME: &str = "E14000639";
/// Somewhere else.
const AWAY: &str = "E14000001";

/// A vault with a member in Ana's constituency (M1), one outside it (M2),
/// and Ana, a representative; returns her API token.
pub(crate) fn with_ana() -> (TestServer, String) {
    let server = TestServer::start();
    server.add_member(
        "M1",
        json!({ "given_name": "Mo", "email": "mo.home@example.org", "constituency": HOME, "donation_total": 20 }),
    );
    server.add_member(
        "M2",
        json!({ "given_name": "Di", "email": "di.away@example.org", "constituency": AWAY }),
    );
    let ana = server.add_principal(
        "ana",
        PrincipalKind::Representative,
        &[("constituency", HOME)],
    );
    (server, ana)
}

/// A GET with this token and these headers.
pub(crate) fn get_as(
    server: &TestServer,
    token: Option<&str>,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    server.request("GET", path, token, None, headers)
}

/// The ledger events recorded for this response's request, in order.
pub(crate) fn recorded(server: &TestServer, response: &Response) -> Vec<Event> {
    let id = response.header("x-request-id").unwrap();
    server
        .events(&EventQuery::default())
        .into_iter()
        .filter(|e| e.request_id == id)
        .collect()
}

/// The one event recorded for this response's request.
fn the_event(server: &TestServer, response: &Response) -> Event {
    let events = recorded(server, response);
    assert_eq!(events.len(), 1, "{events:?}");
    events.into_iter().next().unwrap()
}

fn assert_401(response: &Response, code: &str) {
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    let body = response.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["status"], 401);
    assert!(body.get("fields").is_none(), "{body}");
}

fn denied_fields(denied: &Value) -> Vec<(String, String)> {
    denied
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap_or("(request)").to_owned(),
                d["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn who_are_you_is_401_and_recorded() {
    let (server, _ana) = with_ana();
    let path = "/v1/subjects/M1?fields=email&purpose=casework";

    let none = get_as(&server, None, path, &[]);
    assert_401(&none, "unauthenticated");
    let malformed = get_as(&server, Some("let-me-in"), path, &[]);
    assert_401(&malformed, "malformed_token");
    let unknown = get_as(
        &server,
        Some("custos_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        path,
        &[],
    );
    assert_401(&unknown, "invalid_token");

    let operator = server.vault.local_operator();
    let soon = OffsetDateTime::now_utc() + Duration::from_secs(1);
    let expiring = server
        .vault
        .create_token(&operator, "ana", Some(soon))
        .unwrap();
    assert_eq!(
        get_as(&server, Some(expiring.token.expose()), path, &[]).status,
        200
    );
    std::thread::sleep(Duration::from_millis(1200));
    let expired = get_as(&server, Some(expiring.token.expose()), path, &[]);
    assert_401(&expired, "token_expired");

    // Each refusal is in the ledger, with its reason; a token that names
    // nobody is recorded as `(unknown)`, an expired one under its owner.
    for (response, principal, reason) in [
        (&none, "(unknown)", "unauthenticated"),
        (&malformed, "(unknown)", "malformed_token"),
        (&unknown, "(unknown)", "invalid_token"),
        (&expired, "ana", "token_expired"),
    ] {
        let event = the_event(&server, response);
        assert_eq!(event.outcome, Outcome::Denied, "{event:?}");
        assert_eq!(event.principal, principal, "{event:?}");
        assert_eq!(event.reason, reason, "{event:?}");
        assert_eq!(event.action, "read");
        assert_eq!(event.subjects, ["M1"]);
        assert!(event.fields_released.is_empty());
    }
    let denied = server.events(&EventQuery {
        principal: Some("ana".into()),
        outcome: Some(Outcome::Denied),
        ..EventQuery::default()
    });
    assert!(
        denied.iter().any(|e| e.reason == "token_expired"),
        "{denied:?}"
    );
}

#[test]
fn a_representative_gets_the_fields_her_purpose_and_remit_allow() {
    let (server, ana) = with_ana();
    let ana = Some(ana.as_str());
    let path = "/v1/subjects/M1?fields=email,donation_total";

    // By query parameter and by header alike.
    let by_query = get_as(&server, ana, &format!("{path}&purpose=casework"), &[]);
    let by_header = get_as(&server, ana, path, &[("x-purpose", "casework")]);
    let both = get_as(
        &server,
        ana,
        &format!("{path}&purpose=casework"),
        &[("x-purpose", "casework")],
    );
    for response in [&by_query, &by_header, &both] {
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        assert_eq!(body["fields"], json!({ "email": "mo.home@example.org" }));
        assert_eq!(
            denied_fields(&body["denied"]),
            [("donation_total".to_owned(), "purpose_category".to_owned())]
        );
        assert!(
            body["denied"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("casework"),
            "{body}"
        );
        let event = the_event(&server, response);
        assert_eq!(event.outcome, Outcome::Partial);
        assert_eq!(event.purpose, "casework");
        assert_eq!(event.fields_released, ["email"]);
        assert_eq!(event.fields_denied, ["donation_total"]);
    }

    // Strict mode: all or nothing.
    let strict = get_as(
        &server,
        ana,
        &format!("{path}&purpose=casework&strict=true"),
        &[],
    );
    assert_eq!(strict.status, 403, "{}", strict.text());
    let body = strict.json();
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(body.get("fields").is_none());
    assert!(!strict.text().contains("mo.home"), "{}", strict.text());
    assert!(
        denied_fields(&body["error"]["denied"])
            .contains(&("donation_total".to_owned(), "purpose_category".to_owned())),
        "{body}"
    );
    let event = the_event(&server, &strict);
    assert_eq!(event.outcome, Outcome::Denied);
    assert!(event.fields_released.is_empty());
    assert!(
        event.reason.contains("donation_total: purpose_category"),
        "{event:?}"
    );
}

#[test]
fn outside_her_remit_and_nonexistent_look_the_same() {
    let (server, ana) = with_ana();
    let ana = Some(ana.as_str());
    let outside = get_as(
        &server,
        ana,
        "/v1/subjects/M2?fields=email,donation_total&purpose=casework",
        &[],
    );
    let missing = get_as(
        &server,
        ana,
        "/v1/subjects/M404?fields=email,donation_total&purpose=casework",
        &[],
    );
    for response in [&outside, &missing] {
        assert_eq!(response.status, 403, "{}", response.text());
        let body = response.json();
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(
            denied_fields(&body["error"]["denied"])
                .contains(&("email".to_owned(), "not_permitted".to_owned())),
            "{body}"
        );
    }
    // The same body, word for word: nothing says whether M404 exists.
    assert_eq!(outside.json(), missing.json());
    assert!(!outside.text().contains("di.away"), "{}", outside.text());
    // Both refusals are recorded, each against the subject asked for.
    for (response, subject) in [(&outside, "M2"), (&missing, "M404")] {
        let event = the_event(&server, response);
        assert_eq!(event.outcome, Outcome::Denied);
        assert_eq!(event.principal, "ana");
        assert_eq!(event.subjects, [subject]);
        assert!(event.reason.contains("email: not_permitted"), "{event:?}");
    }
    // A listing shows only her constituency.
    let listed = get_as(&server, ana, "/v1/subjects?purpose=casework", &[]);
    assert_eq!(listed.status, 200, "{}", listed.text());
    let body = listed.json();
    let ids: Vec<&str> = body["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["M1"]);
}

#[test]
fn one_registered_purpose_is_required() {
    let (server, ana) = with_ana();
    let ana = Some(ana.as_str());
    let path = "/v1/subjects/M1?fields=email";

    let missing = get_as(&server, ana, path, &[]);
    assert_eq!(missing.status, 400, "{}", missing.text());
    assert_eq!(missing.json()["error"]["code"], "purpose_required");
    assert!(
        missing.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("casework"),
        "the message lists the purposes: {}",
        missing.text()
    );

    let unknown = get_as(&server, ana, &format!("{path}&purpose=gossip"), &[]);
    assert_eq!(unknown.status, 400, "{}", unknown.text());
    assert_eq!(unknown.json()["error"]["code"], "unknown_purpose");

    let differing = get_as(
        &server,
        ana,
        &format!("{path}&purpose=casework"),
        &[("x-purpose", "finance")],
    );
    assert_eq!(differing.status, 400, "{}", differing.text());
    assert_eq!(differing.json()["error"]["code"], "purpose_ambiguous");
    assert!(
        differing.text().contains("declare exactly one purpose"),
        "{}",
        differing.text()
    );
    let bad_strict = get_as(
        &server,
        ana,
        &format!("{path}&purpose=casework&strict=maybe"),
        &[],
    );
    assert_eq!(bad_strict.status, 400);

    // The engine's refusals are in the ledger, under ana, with their
    // reasons; the typed text of an unknown purpose is not.
    for (response, reason, purpose) in [
        (&missing, "purpose_required", "(none)"),
        (&unknown, "unknown_purpose", "(unknown)"),
    ] {
        let event = the_event(&server, response);
        assert_eq!(event.principal, "ana");
        assert_eq!(event.outcome, Outcome::Denied);
        assert_eq!(event.reason, reason);
        assert_eq!(event.purpose, purpose);
        assert!(!format!("{event:?}").contains("gossip"));
    }
    let denied = server.events(&EventQuery {
        principal: Some("ana".into()),
        outcome: Some(Outcome::Denied),
        ..EventQuery::default()
    });
    let reasons: Vec<&str> = denied.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons.contains(&"purpose_required"), "{reasons:?}");
    assert!(reasons.contains(&"unknown_purpose"), "{reasons:?}");
}
