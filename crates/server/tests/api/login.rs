//! Interactive login: a password and a TOTP code give a short-lived session
//! with a second factor; a used code is refused, and repeated failures lock
//! the principal out.

use std::time::{SystemTime, UNIX_EPOCH};

use custos_crypto::TotpSecret;
use custos_engine::Outcome;
use custos_model::PrincipalKind;
use serde_json::json;

use crate::access_control::recorded;
use crate::support::{Response, TestServer, ana};

const PASSWORD: &str = "correct horse battery staple";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn login(server: &TestServer, principal: &str, password: &str, totp: &str) -> Response {
    server.request(
        "POST",
        "/v1/auth/login",
        None,
        Some(
            json!({ "principal": principal, "password": password, "totp": totp })
                .to_string()
                .as_bytes(),
        ),
        &[("content-type", "application/json")],
    )
}

/// Bo, of the membership team, with a password and a second factor.
fn with_bo() -> (TestServer, TotpSecret) {
    let server = TestServer::start();
    let operator = server.vault.local_operator();
    server
        .vault
        .add_principal(
            &operator,
            "bo",
            PrincipalKind::Staff,
            &[("team".into(), "membership".into())],
            None,
            None,
        )
        .unwrap();
    server
        .vault
        .set_password(&operator, "bo", PASSWORD)
        .unwrap();
    let enrolled = server.vault.enroll_totp(&operator, "bo").unwrap();
    let secret = TotpSecret::from_base32(&enrolled.secret).unwrap();
    (server, secret)
}

#[test]
fn a_session_has_a_second_factor_and_a_code_works_once() {
    let (server, secret) = with_bo();
    assert_eq!(server.send_json("POST", "/v1/subjects", &ana()).status, 201);
    let code = secret.code_at(now());

    let session = login(&server, "bo", PASSWORD, &code);
    assert_eq!(session.status, 200, "{}", session.text());
    let body = session.json();
    assert_eq!(body["principal"], "bo");
    assert!(body["expires_at"].is_string());
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("custos_"));
    assert!(!format!("{:?}", recorded(&server, &session)).contains(PASSWORD));

    let me = server.request("GET", "/v1/auth/whoami", Some(&token), None, &[]);
    assert_eq!(me.status, 200, "{}", me.text());
    let me = me.json();
    assert_eq!(me["name"], "bo");
    assert_eq!(me["auth"], "session+totp");
    assert_eq!(me["mfa"], true);

    // With the second factor, special-category data may be read; the
    // admin's API token, without one, may not.
    let path = "/v1/subjects/M100?fields=ethnicity&purpose=membership_admin";
    let with_mfa = server.request("GET", path, Some(&token), None, &[]);
    assert_eq!(with_mfa.status, 200, "{}", with_mfa.text());
    assert_eq!(with_mfa.json()["denied"], json!([]));
    let without = server.request("GET", path, Some(&server.token), None, &[]);
    assert_eq!(without.status, 403, "{}", without.text());
    assert_eq!(
        without.json()["error"]["denied"][0]["rules"],
        json!(["special-category-needs-mfa"])
    );

    // The same code again is refused, even with the right password.
    let replayed = login(&server, "bo", PASSWORD, &code);
    assert_eq!(replayed.status, 401, "{}", replayed.text());
    assert_eq!(replayed.json()["error"]["code"], "totp_replayed");
    assert_eq!(replayed.header("www-authenticate"), Some("Bearer"));
    let alerts = server.get("/v1/alerts?kind=totp_replay").json();
    assert_eq!(alerts["alerts"][0]["principal"], "bo", "{alerts}");

    // Logging out ends the session.
    let out = server.request("POST", "/v1/auth/logout", Some(&token), None, &[]);
    assert_eq!(out.status, 200, "{}", out.text());
    assert_eq!(out.json()["logged_out"], true);
    let after = server.request("GET", "/v1/auth/whoami", Some(&token), None, &[]);
    assert_eq!(after.status, 401);
    assert_eq!(after.json()["error"]["code"], "token_revoked");
}

#[test]
fn wrong_logins_are_refused_alike_then_locked_out() {
    let (server, secret) = with_bo();
    let wrong = login(&server, "bo", "not the password", &secret.code_at(now()));
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    assert_eq!(wrong.json()["error"]["code"], "login_failed");
    // An unknown principal gets the very same answer.
    let nobody = login(&server, "nobody", "not the password", "123456");
    assert_eq!(nobody.status, 401);
    assert_eq!(nobody.json()["error"], wrong.json()["error"]);
    let events = recorded(&server, &wrong);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Denied);
    assert_eq!(events[0].action, "login");
    assert!(!format!("{events:?}").contains("not the password"));

    // A few more failures, then each attempt is locked out for a while,
    // even with the right password and code.
    let mut attempts = 1;
    let locked = loop {
        let response = login(&server, "bo", "still wrong", "000000");
        attempts += 1;
        if response.status == 429 {
            break response;
        }
        assert_eq!(response.status, 401, "{}", response.text());
        assert!(attempts < 10, "no lockout after {attempts} failures");
    };
    assert_eq!(locked.json()["error"]["code"], "login_locked");
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let right = login(&server, "bo", PASSWORD, &secret.code_at(now()));
    assert_eq!(right.status, 429, "{}", right.text());
    let events = recorded(&server, &right);
    assert_eq!(events[0].outcome, Outcome::Denied);

    // A login body must be complete, and nothing of it is echoed.
    let partial = server.request(
        "POST",
        "/v1/auth/login",
        None,
        Some(br#"{"principal": "bo", "password": "hunter2-secret"}"#),
        &[],
    );
    assert_eq!(partial.status, 400);
    assert!(!partial.text().contains("hunter2"), "{}", partial.text());
}
