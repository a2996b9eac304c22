//! Scenario 3 over HTTP: a processor receives an export seeded with
//! canaries, is breached, and the DPO opens an incident, reads its report
//! and gets the notices; and every refusal on the way.

use custos_model::PrincipalKind;
use serde_json::{Value, json};

use crate::support::{Response, TestServer};

/// Members: three in one constituency who agreed to email, one who did
/// not.
fn members(server: &TestServer) {
    for (id, given, email, consent) in [
        ("M1", "Ada", "ada@example.org", true),
        ("M2", "Bo", "bo@example.org", true),
        ("M3", "Cy", "cy@example.org", true),
        ("M4", "Di", "di@example.org", false),
    ] {
        server.add_member(
            id,
            json!({
                "given_name": given,
                "family_name": "Lovelace",
                "email": email,
                "address_line1": "1 High Street",
                "town": "Leeds",
                "postcode": "LS1 4AP",
                "constituency": "E14000639",
                "membership_status": "member",
                "consent_email": consent,
                "donation_total": "5.00",
            }),
        );
    }
}

fn campaigning(server: &TestServer, method: &str, path: &str, body: &Value) -> Response {
    server.request(
        method,
        path,
        Some(&server.token),
        Some(body.to_string().as_bytes()),
        &[
            ("content-type", "application/json"),
            ("x-purpose", "campaigning"),
        ],
    )
}

#[test]
fn a_breached_processor_gives_a_report_and_notices_over_http() {
    let server = TestServer::start();
    members(&server);
    let org = server.send_json(
        "PATCH",
        "/v1/organisation",
        &json!({ "name": "Demo Party", "dpo": { "name": "Dana Reyes", "email": "dpo@party.example" } }),
    );
    assert_eq!(org.status, 200, "{}", org.text());
    assert_eq!(org.json()["dpo"]["email"], "dpo@party.example");

    let added = server.send_json(
        "POST",
        "/v1/processors",
        &json!({ "name": "mailhouse", "contact": "jo@mailhouse.example", "contract_ref": "C-17", "purposes": ["campaigning"] }),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let again = server.send_json(
        "POST",
        "/v1/processors",
        &json!({ "name": "mailhouse", "contact": "x", "contract_ref": "y", "purposes": ["campaigning"] }),
    );
    assert_eq!(again.status, 409, "{}", again.text());

    // An export for a purpose the processor does not serve is refused.
    let wrong = server.send_json(
        "POST",
        "/v1/processors/mailhouse/exports",
        &json!({ "fields": ["email"] }),
    );
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    assert!(wrong.text().contains("campaigning"), "{}", wrong.text());

    let export = campaigning(
        &server,
        "POST",
        "/v1/processors/mailhouse/exports",
        &json!({ "fields": ["id", "given_name", "family_name", "email", "postcode"], "canaries": 2 }),
    );
    assert_eq!(export.status, 200, "{}", export.text());
    let export_id = export.header("x-custos-export-id").unwrap().to_owned();
    let csv = export.text();
    // Three consenting members and two canaries; Di did not agree.
    assert_eq!(csv.lines().count(), 1 + 3 + 2, "{csv}");
    assert!(!csv.contains("di@example.org"));
    let manifest = server.get(&format!("/v1/exports/{export_id}")).json();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["subjects"], 3);
    assert_eq!(
        manifest["sha256"].as_str(),
        export.header("x-custos-export-sha256")
    );

    // A canary found in the wild names the export.
    let canaries = server
        .get(&format!("/v1/exports/{export_id}/canaries"))
        .json();
    let email = canaries["canaries"][0]["fields"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(csv.contains(&email), "the canary is in the file");
    let traced = server.send_json("POST", "/v1/canaries/trace", &json!({ "value": email }));
    assert_eq!(traced.status, 200, "{}", traced.text());
    let matches = traced.json()["matches"].clone();
    assert_eq!(matches[0]["export"], export_id.as_str(), "{matches}");
    assert_eq!(matches[0]["processor"], "mailhouse");
    let real = server.send_json(
        "POST",
        "/v1/canaries/trace",
        &json!({ "value": "ada@example.org" }),
    );
    assert_eq!(real.json()["matches"], json!([]));

    // The processor is breached.
    let aware_at = custos_ledger::format_time(time::OffsetDateTime::now_utc());
    let opened = server.send_json(
        "POST",
        "/v1/incidents",
        &json!({ "title": "Mailhouse breached", "aware_at": aware_at, "scopes": ["processor:mailhouse"] }),
    );
    assert_eq!(opened.status, 201, "{}", opened.text());
    let incident = opened.json();
    let id = incident["id"].as_str().unwrap().to_owned();
    assert_eq!(incident["affected_subjects"], 3);

    let report = server.get(&format!("/v1/incidents/{id}/report"));
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    assert_eq!(report["incident"]["id"], id.as_str());
    assert_eq!(report["incident"]["title"], "Mailhouse breached");
    assert_eq!(report["totals"]["subjects"], 3);
    assert_eq!(report["totals"]["records"], 3 * 5);
    let subjects = report["subjects"].as_array().unwrap();
    let ids: Vec<&str> = subjects.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["M1", "M2", "M3"], "canaries are never in a report");
    assert_eq!(
        subjects[0]["fields"],
        json!(["id", "given_name", "family_name", "email", "postcode"])
    );
    assert_eq!(subjects[0]["special_category"], false);
    assert_eq!(report["art34"]["notify_subjects"], true);
    assert!(report["deadline"].as_str().unwrap() > aware_at.as_str());

    let md = server.get(&format!("/v1/incidents/{id}/report?format=md"));
    assert_eq!(md.status, 200);
    assert!(md.text().contains("Art. 33(3)"), "{}", md.text());
    let html = server.get(&format!("/v1/incidents/{id}/report?format=html"));
    assert!(html.text().starts_with("<!DOCTYPE html>"));
    let odd = server.get(&format!("/v1/incidents/{id}/report?format=pdf"));
    assert_eq!(odd.status, 400);
    assert!(odd.text().contains("`format`"), "{}", odd.text());

    // Notices declare breach_notification themselves.
    let notices = server.request(
        "GET",
        &format!("/v1/incidents/{id}/notices"),
        Some(&server.token),
        None,
        &[],
    );
    assert_eq!(notices.status, 200, "{}", notices.text());
    let notices = notices.json();
    assert_eq!(notices["summary"]["written"], 3);
    let first = &notices["notices"][0];
    assert_eq!(first["contact"]["given_name"], "Ada");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("Dear Ada Lovelace")
    );
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("dpo@party.example")
    );
    let csv = server.request(
        "GET",
        &format!("/v1/incidents/{id}/notices?format=csv"),
        Some(&server.token),
        None,
        &[],
    );
    assert_eq!(csv.text().lines().count(), 4, "{}", csv.text());
    let events = server.events(&custos_engine::EventQuery {
        purpose: Some("breach_notification".into()),
        ..custos_engine::EventQuery::default()
    });
    assert!(
        events
            .iter()
            .any(|e| e.subjects.len() == 3 && e.action == "read"),
        "reading contact details for the notices is recorded: {events:?}"
    );

    let update = server.send_json(
        "POST",
        &format!("/v1/incidents/{id}/updates"),
        &json!({ "note": "The processor confirmed the breach.", "reported_at": aware_at }),
    );
    assert_eq!(update.status, 200, "{}", update.text());
    assert_eq!(update.json()["reported_at"], aware_at.as_str());
    let register = server.get("/v1/incidents").json();
    assert_eq!(register["incidents"].as_array().unwrap().len(), 1);
}

#[test]
fn incidents_refuse_bad_input_and_change_nothing() {
    let server = TestServer::start();
    let now = custos_ledger::format_time(time::OffsetDateTime::now_utc());
    for (body, says) in [
        (
            json!({ "title": "x", "aware_at": now, "scopes": ["processor:nobody"] }),
            "no processor",
        ),
        (
            json!({ "title": "x", "aware_at": now, "scopes": ["principal:nobody"] }),
            "no principal",
        ),
        (
            json!({ "title": "x", "aware_at": now, "scopes": ["export:EX-0009"] }),
            "no export",
        ),
        (
            json!({ "title": "x", "aware_at": now, "scopes": ["window:2026-12-02..2026-12-01"] }),
            "ends before it starts",
        ),
        (
            json!({ "title": "x", "aware_at": now, "scopes": ["window:2026-12-01.."] }),
            "both ends",
        ),
        (
            json!({ "title": "x", "aware_at": "2999-01-01T00:00:00Z", "scopes": ["store"] }),
            "in the future",
        ),
        (
            json!({ "title": "x", "aware_at": now, "scopes": [] }),
            "scope",
        ),
    ] {
        let refused = server.send_json("POST", "/v1/incidents", &body);
        assert_eq!(refused.status, 400, "{body}: {}", refused.text());
        assert!(refused.text().contains(says), "{body}: {}", refused.text());
    }
    assert_eq!(server.get("/v1/incidents").json()["incidents"], json!([]));
    assert_eq!(server.get("/v1/incidents/INC-0042/report").status, 404);
    assert_eq!(server.get("/v1/incidents/7/report").status, 400);
}

#[test]
fn only_auditors_see_incidents() {
    let server = TestServer::start();
    let ana = server.add_principal(
        "ana",
        PrincipalKind::Representative,
        &[("constituency", "E14000639")],
    );
    for path in ["/v1/incidents", "/v1/processors", "/v1/exports"] {
        let refused = server.request("GET", path, Some(&ana), None, &[]);
        assert_eq!(refused.status, 403, "{path}: {}", refused.text());
    }
    let notices = server.request(
        "GET",
        "/v1/incidents/INC-0001/notices",
        Some(&ana),
        None,
        &[],
    );
    assert_eq!(notices.status, 403, "{}", notices.text());
}
