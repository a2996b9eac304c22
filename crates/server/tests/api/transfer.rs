//! CSV import and export over HTTP.

use serde_json::json;

use crate::support::TestServer;

const GOOD: &str = "id,given_name,email,constituency,notes\n\
                    M1,Ana,ana@example.org,E14000001,\"likes, commas\"\n\
                    M2,Bo,bo@example.org,E14000002,@SUM(A1)\n";

fn post_csv(server: &TestServer, query: &str, csv: &str) -> crate::support::Response {
    server.request(
        "POST",
        &format!("/v1/import{query}"),
        Some(&server.token),
        Some(csv.as_bytes()),
        &[
            ("content-type", "text/csv"),
            ("x-purpose", "membership_admin"),
        ],
    )
}

#[test]
fn import_then_export() {
    let server = TestServer::start();
    let dry = post_csv(&server, "?dry_run=true", GOOD);
    assert_eq!(dry.status, 200, "{}", dry.text());
    assert_eq!(
        dry.json(),
        json!({ "rows": 2, "imported": 0, "dry_run": true, "encoding": "utf-8" })
    );
    assert_eq!(
        server
            .vault
            .info(&server.vault.local_operator())
            .unwrap()
            .subjects,
        0
    );

    let done = post_csv(&server, "", GOOD);
    assert_eq!(done.json()["imported"], 2);
    assert_eq!(
        server.get("/v1/subjects/M1?fields=notes").json()["fields"]["notes"],
        "likes, commas"
    );

    let export = server.send_json(
        "POST",
        "/v1/export",
        &json!({ "fields": ["id", "email", "notes"], "filters": { "constituency": "E14000002" } }),
    );
    assert_eq!(export.status, 200);
    assert!(
        export
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        export.text(),
        "id,email,notes\nM2,bo@example.org,'@SUM(A1)\n"
    );
}

#[test]
fn a_bad_file_imports_nothing_and_says_where() {
    let server = TestServer::start();
    let bad = "id,given_name,date_of_birth,postcode\n\
               M1,Ana,1980-02-30,SW1A 1AA\n\
               M2,Bo,1990-01-01,NOT A POSTCODE\n\
               M1,Cy,1970-01-01,M1 1AE\n";
    let response = post_csv(&server, "", bad);
    assert_eq!(response.status, 400);
    let problems = response.json()["error"]["problems"].clone();
    let located: Vec<(u64, u64, String)> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["row"].as_u64().unwrap(),
                p["column"].as_u64().unwrap(),
                p["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        located,
        [
            (2, 3, "date_of_birth".to_owned()),
            (3, 4, "postcode".to_owned()),
            (4, 1, "id".to_owned())
        ]
    );
    assert!(!response.text().contains("NOT A POSTCODE"));
    assert_eq!(
        server
            .vault
            .info(&server.vault.local_operator())
            .unwrap()
            .subjects,
        0
    );
}
