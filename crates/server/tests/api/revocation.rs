//! Revoking a leaver: at once, for every token, for requests already under
//! way, and on every server sharing the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use custos_engine::{EventQuery, Outcome};
use custos_model::PrincipalStatus;
use serde_json::json;

use crate::access_control::{get_as, recorded, with_ana};
use crate::support::{self, Response, TestServer};

const READ: &str = "/v1/subjects/M1?fields=email&purpose=casework";

fn assert_revoked(response: &Response) {
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    assert_eq!(response.json()["error"]["code"], "principal_revoked");
    assert!(!response.text().contains("mo.home"), "{}", response.text());
}

fn revoke_over_http(server: &TestServer, name: &str) -> Response {
    server.send_json(
        "POST",
        &format!("/v1/principals/{name}/revoke"),
        &json!({ "reason": "left the party" }),
    )
}

#[test]
fn a_revoked_principal_is_refused_recorded_and_alerted() {
    let (server, ana) = with_ana();
    // A second token of hers: revocation covers every one.
    let other = server
        .vault
        .create_token(&server.vault.local_operator(), "ana", None)
        .unwrap();
    assert_eq!(get_as(&server, Some(&ana), READ, &[]).status, 200);

    let revoked = revoke_over_http(&server, "ana");
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    let body = revoked.json();
    assert_eq!(body["status"], "revoked");
    assert_eq!(body["status_reason"], "left the party");
    assert_eq!(body["live_tokens"], 0);

    let refused = get_as(&server, Some(&ana), READ, &[]);
    assert_revoked(&refused);
    assert_revoked(&get_as(&server, Some(other.token.expose()), READ, &[]));
    assert_revoked(&get_as(&server, Some(&ana), "/v1/auth/whoami", &[]));

    let events = recorded(&server, &refused);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].principal, "ana");
    assert_eq!(events[0].outcome, Outcome::Denied);
    assert_eq!(events[0].reason, "principal_revoked");

    let alerts = server.get("/v1/alerts?kind=revoked_principal_attempt&principal=ana");
    assert_eq!(alerts.status, 200, "{}", alerts.text());
    let alerts = alerts.json()["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    assert!(alerts.iter().all(|a| a["principal"] == "ana"));
    assert!(
        alerts[0]["details"]
            .as_str()
            .unwrap()
            .contains("principal_revoked")
    );
    let after = alerts[0]["id"].as_u64().unwrap();
    let later = server
        .get(&format!("/v1/alerts?after_id={after}&limit=1"))
        .json();
    assert_eq!(later["alerts"].as_array().unwrap().len(), 1);
    assert!(later["alerts"][0]["id"].as_u64().unwrap() > after);

    // The revocation itself is in the ledger, as the admin's.
    let admin = server.events(&EventQuery {
        principal: Some("admin".into()),
        action: Some("administer".into()),
        ..EventQuery::default()
    });
    assert!(
        admin.iter().any(|e| e.reason == "revoked principal `ana`"),
        "{admin:?}"
    );
    // Nothing the administrator typed as the reason went into the ledger.
    assert!(
        !format!("{admin:?}").contains("left the party"),
        "{admin:?}"
    );

    // Restoring lets her in again, but her old tokens stay revoked.
    let restored = server.send_json("POST", "/v1/principals/ana/restore", &json!({}));
    assert_eq!(restored.status, 200, "{}", restored.text());
    assert_eq!(restored.json()["status"], "active");
    let old = get_as(&server, Some(&ana), READ, &[]);
    assert_eq!(old.status, 401);
    assert_eq!(old.json()["error"]["code"], "token_revoked");
}

#[test]
fn a_request_in_flight_is_stopped_at_the_point_of_release() {
    let (server, ana) = with_ana();
    // Hold the ledger's write lock, so that Ana's read, once authenticated
    // and decided, waits to be recorded.
    let ledger = rusqlite::Connection::open(server.vault.dir().join("ledger.sqlite")).unwrap();
    ledger.execute_batch("BEGIN IMMEDIATE").unwrap();

    let addr = server.addr;
    let read =
        std::thread::spawn(move || support::request(addr, "GET", READ, Some(&ana), None, &[]));
    std::thread::sleep(Duration::from_millis(300));

    // Revoke her meanwhile. The revocation commits to the store, another
    // file; its own ledger event waits behind the lock too.
    let vault = Arc::clone(&server.vault);
    let revoke = std::thread::spawn(move || {
        vault.set_principal_status(
            &vault.local_operator(),
            "ana",
            PrincipalStatus::Revoked,
            "left",
        )
    });
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let ana = server
            .vault
            .principal(&server.vault.local_operator(), "ana")
            .unwrap();
        if ana.record.status == PrincipalStatus::Revoked {
            break;
        }
        assert!(Instant::now() < deadline, "the revocation did not commit");
        std::thread::sleep(Duration::from_millis(10));
    }
    ledger.execute_batch("COMMIT").unwrap();

    let response = read.join().unwrap();
    assert_revoked(&response);
    assert!(response.json().get("fields").is_none());
    revoke.join().unwrap().unwrap();

    // Her read was decided and recorded, then withheld at release.
    let events = recorded(&server, &response);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].outcome, Outcome::Allowed, "{events:?}");
    assert_eq!(events[0].fields_released, ["email"]);
    assert_eq!(events[1].outcome, Outcome::Denied, "{events:?}");
    assert!(events[1].fields_released.is_empty());
    assert!(
        events[1].reason.starts_with("principal_revoked")
            && events[1].reason.contains("release withheld"),
        "{events:?}"
    );
    assert!(
        events[1]
            .reason
            .contains(&format!("after event {}", events[0].seq)),
        "{events:?}"
    );
    let alerts = server
        .get("/v1/alerts?kind=revoked_principal_attempt")
        .json();
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 1, "{alerts}");
}

#[test]
fn revocation_reaches_every_server_sharing_the_store() {
    let (one, ana) = with_ana();
    let two = one.second();
    assert_eq!(get_as(&one, Some(&ana), READ, &[]).status, 200);
    assert_eq!(get_as(&two, Some(&ana), READ, &[]).status, 200);

    let revoked = revoke_over_http(&one, "ana");
    assert_eq!(revoked.status, 200, "{}", revoked.text());

    let on_two = get_as(&two, Some(&ana), READ, &[]);
    assert_revoked(&on_two);
    assert_revoked(&get_as(&one, Some(&ana), READ, &[]));
    // Both servers record into the one ledger, and either lists the alerts.
    let events = recorded(&one, &on_two);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].reason, "principal_revoked");
    let alerts = two.get("/v1/alerts?principal=ana").json();
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 2, "{alerts}");
}
