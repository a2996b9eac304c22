//! Scenario 1 with real processes: a representative resigns. Two `custos
//! serve` processes share one vault; `custos principal revoke` in a third
//! process shuts her out of both at once, every later attempt is refused
//! with `principal_revoked`, recorded and alerted, and the DPO can list the
//! attempts and show that nothing was returned.

use crate::support::{Sandbox, http_get};

#[test]
fn revoking_a_representative_shuts_her_out_of_every_server_at_once() {
    let sandbox = Sandbox::new();
    sandbox.init();
    sandbox
        .run(&[
            "subject",
            "add",
            "--id",
            "M1",
            "given_name=Nia",
            "email=nia@example.org",
            "constituency=E14000639",
        ])
        .ok();
    sandbox
        .run(&[
            "principal",
            "add",
            "ana",
            "--kind",
            "representative",
            "--attr",
            "constituency=E14000639",
        ])
        .ok();
    let token = sandbox
        .run(&["token", "create", "ana", "--json"])
        .ok()
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = sandbox.serve();
    let second = sandbox.serve();
    let path = "/v1/subjects/M1?fields=given_name,email&purpose=casework";
    for server in [&first, &second] {
        let response = http_get(&server.addr, path, &token);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("nia@example.org"), "{response}");
    }

    sandbox
        .run(&[
            "principal",
            "revoke",
            "ana",
            "--reason",
            "resigned to form a new group",
        ])
        .ok();

    for server in [&first, &second] {
        for _ in 0..2 {
            let response = http_get(&server.addr, path, &token);
            assert!(response.starts_with("HTTP/1.1 401"), "{response}");
            assert!(
                response.contains("\"code\":\"principal_revoked\""),
                "{response}"
            );
            assert!(!response.contains("nia@example.org"), "{response}");
        }
    }

    // The DPO's evidence: four refused attempts, nothing released.
    let events = sandbox
        .run(&["ledger", "query", "--principal", "ana", "--json"])
        .ok()
        .json();
    let events = events["events"].as_array().unwrap();
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e["reason"] == "principal_revoked")
        .collect();
    assert_eq!(refused.len(), 4, "{events:#?}");
    assert!(
        refused.iter().all(|e| e["outcome"] == "denied"
            && e["fields_released"].as_array().is_some_and(Vec::is_empty))
    );
    let alerts = sandbox.run(&["alerts", "list", "--json"]).ok().json();
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a["principal"] == "ana" && a["kind"] == "revoked_principal_attempt")
            .count(),
        4,
        "{alerts:#?}"
    );
    let shown = sandbox
        .run(&["principal", "show", "ana", "--json"])
        .ok()
        .json();
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["status_reason"], "resigned to form a new group");
    first.stop();
    second.stop();
}
