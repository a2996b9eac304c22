//! Subject operations over HTTP.

use serde_json::json;

use crate::support::{TestServer, ana};

#[test]
fn create_read_update_find_list_erase() {
    let server = TestServer::start();
    let created = server.send_json("POST", "/v1/subjects", &ana());
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json(), json!({ "id": "M100" }));

    let read = server.get("/v1/subjects/M100");
    assert_eq!(read.status, 200);
    let body = read.json();
    assert_eq!(body["id"], "M100");
    let fields = &body["fields"];
    assert_eq!(fields["email"], "anastasia.qv@example.org");
    assert_eq!(fields["phone"], "+447700900123");
    assert_eq!(fields["postcode"], "SW1A 1AA");
    assert_eq!(fields["consent_email"], true);
    assert_eq!(fields["donation_total"], "12.50");
    assert_eq!(fields["town"], serde_json::Value::Null);
    // Fields come in schema order.
    let order: Vec<&String> = fields.as_object().unwrap().keys().collect();
    assert_eq!(order[..3], ["id", "given_name", "family_name"]);
    // The admin's API token has no second factor, so special-category
    // fields are withheld, each with the rule that withheld it.
    let denied: Vec<(&str, &str)> = body["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["field"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        denied,
        [
            ("union_affiliation", "forbidden"),
            ("ethnicity", "forbidden"),
            ("disability", "forbidden")
        ]
    );
    assert_eq!(
        body["denied"][0]["rules"],
        json!(["special-category-needs-mfa"])
    );
    assert!(fields.get("ethnicity").is_none(), "{body}");

    let some = server
        .get("/v1/subjects/M100?fields=email,constituency")
        .json();
    assert_eq!(
        some,
        json!({ "id": "M100", "fields": { "email": "anastasia.qv@example.org", "constituency": "E14000639" }, "denied": [] })
    );

    let updated = server.send_json(
        "PATCH",
        "/v1/subjects/M100",
        &json!({ "fields": { "email": "new.address@example.org", "membership_status": "lapsed", "notes": null } }),
    );
    assert_eq!(updated.status, 200, "{}", updated.text());
    let after = server
        .get("/v1/subjects/M100?fields=email,membership_status,notes")
        .json();
    assert_eq!(after["fields"]["email"], "new.address@example.org");
    assert_eq!(after["fields"]["membership_status"], "lapsed");
    assert_eq!(after["fields"]["notes"], serde_json::Value::Null);

    let find = |field: &str, value: &str| {
        server
            .send_json(
                "POST",
                "/v1/subjects/find",
                &json!({ "field": field, "value": value }),
            )
            .json()["subjects"]
            .clone()
    };
    assert_eq!(find("email", "NEW.address@example.org"), json!(["M100"]));
    assert_eq!(find("email", "anastasia.qv@example.org"), json!([]));
    assert_eq!(find("phone", "+44 7700 900123"), json!(["M100"]));

    let lapsed = server
        .get("/v1/subjects?membership_status=lapsed&constituency=E14000639")
        .json();
    assert_eq!(lapsed["subjects"][0]["id"], "M100");
    assert_eq!(
        lapsed["subjects"][0]["scope"]["membership_status"],
        "lapsed"
    );
    assert_eq!(
        server.get("/v1/subjects?membership_status=member").json()["subjects"],
        json!([])
    );

    let erased = server.request(
        "DELETE",
        "/v1/subjects/M100",
        Some(&server.token),
        None,
        &[("x-purpose", "membership_admin")],
    );
    assert_eq!(erased.status, 200);
    assert_eq!(erased.json()["erased"], true);
    assert_eq!(server.get("/v1/subjects/M100").status, 404);
    assert_eq!(find("email", "new.address@example.org"), json!([]));
    let info = server.get("/v1/vault").json();
    assert_eq!(
        (info["subjects"].as_u64(), info["erased_subjects"].as_u64()),
        (Some(0), Some(1))
    );
}

#[test]
fn generated_ids_and_conflicts() {
    let server = TestServer::start();
    let created = server.send_json(
        "POST",
        "/v1/subjects",
        &json!({ "fields": { "given_name": "Bo" } }),
    );
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with('S'));
    let again = server.send_json(
        "POST",
        "/v1/subjects",
        &json!({ "id": id, "fields": { "given_name": "Cy" } }),
    );
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["error"]["code"], "conflict");
}

#[test]
fn paging_returns_every_subject_once() {
    let server = TestServer::start();
    for i in 0..25 {
        let body = json!({ "id": format!("P{i:03}"), "fields": { "constituency": "E14000001" } });
        assert_eq!(server.send_json("POST", "/v1/subjects", &body).status, 201);
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/subjects?constituency=E14000001&limit=10&after={a}"),
            None => "/v1/subjects?constituency=E14000001&limit=10".to_owned(),
        };
        let page = server.get(&path).json();
        for s in page["subjects"].as_array().unwrap() {
            seen.push(s["id"].as_str().unwrap().to_owned());
        }
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..25).map(|i| format!("P{i:03}")).collect::<Vec<_>>()
    );
}

#[test]
fn bad_requests_name_the_problem_but_never_the_value() {
    let server = TestServer::start();
    let secret = "Zebedee.Secret@@example.org";
    let invalid = server.send_json(
        "POST",
        "/v1/subjects",
        &json!({ "id": "M1", "fields": { "email": secret, "date_of_birth": "31/02/1980", "shoe_size": "9" } }),
    );
    assert_eq!(invalid.status, 400);
    let text = invalid.text();
    assert!(!text.contains("Zebedee"), "{text}");
    let problems = invalid.json()["error"]["problems"].clone();
    let messages: Vec<String> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("not an email address")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("expected YYYY-MM-DD")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("unknown field `shoe_size`")),
        "{messages:?}"
    );
    assert_eq!(
        server.get("/v1/subjects/M1").status,
        404,
        "nothing was created"
    );

    // A wrongly-typed body must not echo the value either.
    let typed = server.send_json("POST", "/v1/subjects", &json!({ "fields": secret }));
    assert_eq!(typed.status, 400);
    assert!(!typed.text().contains("Zebedee"), "{}", typed.text());
    let broken = server.request(
        "POST",
        "/v1/subjects",
        Some(&server.token),
        Some(br#"{"fields": {"email": "Zebedee@x.org""#),
        &[("x-purpose", "membership_admin")],
    );
    assert_eq!(broken.status, 400);
    assert!(!broken.text().contains("Zebedee"), "{}", broken.text());

    let not_scope = server.get("/v1/subjects?email=someone@example.org");
    assert_eq!(not_scope.status, 400);
    assert!(
        !not_scope.text().contains("someone@"),
        "{}",
        not_scope.text()
    );
    assert!(not_scope.text().contains("not a scope attribute"));
    assert_eq!(server.get("/v1/subjects/..%2Fetc").status, 400);
    assert_eq!(server.get("/v1/subjects/M1?fields=email,shoe").status, 400);
}
