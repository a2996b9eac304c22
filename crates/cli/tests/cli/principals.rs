//! `custos principal`, `custos token` and `custos alerts`: the directory of
//! who may act, their credentials, and what happens when a leaver tries.

use serde_json::Value;

use crate::support::{Sandbox, http_get};

/// A fresh vault with the representative `ana`.
fn with_ana() -> Sandbox {
    let sb = Sandbox::new();
    sb.init();
    let ana = sb
        .run(&[
            "principal",
            "add",
            "ana",
            "--kind",
            "representative",
            "--attr",
            "constituency=E14000639",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(ana["name"], "ana", "{ana}");
    assert_eq!(ana["kind"], "representative", "{ana}");
    assert_eq!(ana["status"], "active", "{ana}");
    assert_eq!(
        ana["attributes"],
        serde_json::json!({ "constituency": "E14000639" }),
        "{ana}"
    );
    assert_eq!(ana["live_tokens"], 0, "{ana}");
    sb
}

fn show(sb: &Sandbox, name: &str) -> Value {
    sb.run(&["principal", "show", name, "--json"]).ok().json()
}

fn names(list: &Value) -> Vec<String> {
    list["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn principals_tokens_and_status_changes_round_trip() {
    let sb = with_ana();
    let created = sb.run(&["token", "create", "ana", "--json"]).ok().json();
    let secret = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("custos_"), "{created}");
    assert!(id.starts_with("tk_"), "{created}");
    assert_eq!(created["principal"], "ana", "{created}");
    assert_eq!(created["expires_at"], Value::Null, "{created}");
    // Text mode: the token alone on stdout, the note on stderr.
    let text = sb.run(&["token", "create", "ana"]).ok();
    assert_eq!(text.stdout.trim().lines().count(), 1, "{}", text.stdout);
    assert!(text.stdout.starts_with("custos_"), "{}", text.stdout);
    assert!(text.stderr.contains("shown once"), "{}", text.stderr);

    let shown = show(&sb, "ana");
    assert_eq!(shown["live_tokens"], 2, "{shown}");
    let tokens = shown["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{shown}");
    assert!(tokens.iter().any(|t| t["id"] == id.as_str()), "{shown}");
    assert!(
        !shown.to_string().contains(&secret),
        "the secret is shown once only"
    );
    let listed = sb.run(&["principal", "list", "--json"]).ok().json();
    assert_eq!(names(&listed), ["admin", "ana"]);
    assert_eq!(listed["principals"][1]["kind"], "representative");
    let text = sb.run(&["principal", "list"]).ok().stdout;
    let line = text.lines().find(|l| l.starts_with("ana ")).unwrap();
    for part in ["representative", "active", "constituency=E14000639"] {
        assert!(line.contains(part), "{line}");
    }
    let text = sb.run(&["principal", "show", "ana"]).ok().stdout;
    assert!(text.contains(&id), "{text}");

    // Suspend, restore, revoke, restore, each with its reason.
    let suspended = sb
        .run(&[
            "principal",
            "suspend",
            "ana",
            "--reason",
            "on leave",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(suspended["status"], "suspended", "{suspended}");
    assert_eq!(suspended["status_reason"], "on leave", "{suspended}");
    assert!(suspended["status_changed_at"].is_string(), "{suspended}");
    assert_eq!(show(&sb, "ana")["status"], "suspended");
    let restored = sb
        .run(&["principal", "restore", "ana", "--json"])
        .ok()
        .json();
    assert_eq!(restored["status"], "active", "{restored}");
    assert_eq!(restored["status_reason"], "", "{restored}");
    assert_eq!(
        restored["live_tokens"], 2,
        "suspension keeps tokens: {restored}"
    );

    let revoked = sb
        .run(&["principal", "revoke", "ana", "--reason", "left the party"])
        .ok();
    assert!(
        revoked.stdout.contains("`ana` is now revoked"),
        "{}",
        revoked.stdout
    );
    let after = show(&sb, "ana");
    assert_eq!(after["status"], "revoked", "{after}");
    assert_eq!(after["status_reason"], "left the party", "{after}");
    assert_eq!(after["live_tokens"], 0, "{after}");
    let tokens = sb
        .run(&["token", "list", "--principal", "ana", "--json"])
        .ok()
        .json();
    let tokens = tokens["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(
        tokens.iter().all(|t| t["revoked_at"].is_string()),
        "revoking a principal revokes their tokens: {tokens:?}"
    );
    let refused = sb.run(&["token", "create", "ana"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("restore"), "{}", refused.stderr);

    sb.run(&[
        "principal",
        "restore",
        "ana",
        "--reason",
        "rejoined",
        "--json",
    ])
    .ok();
    let back = show(&sb, "ana");
    assert_eq!(
        (&back["status"], &back["status_reason"]),
        (&Value::from("active"), &Value::from("rejoined"))
    );
    assert_eq!(
        back["live_tokens"], 0,
        "restoring does not bring tokens back"
    );

    // A token that expires, listed, then revoked by id.
    let expiring = sb
        .run(&["token", "create", "ana", "--expires", "30d", "--json"])
        .ok()
        .json();
    assert!(expiring["expires_at"].is_string(), "{expiring}");
    let new_id = expiring["id"].as_str().unwrap();
    let all = sb.run(&["token", "list", "--json"]).ok().json();
    let all = all["tokens"].as_array().unwrap();
    assert!(
        all.iter().any(|t| t["principal"] == "admin"),
        "the admin's token from init is listed: {all:?}"
    );
    assert!(
        all.iter().all(|t| t.get("token").is_none()),
        "listings never hold secrets"
    );
    let live = all
        .iter()
        .find(|t| t["id"] == new_id)
        .unwrap_or_else(|| panic!("{new_id} not listed"));
    assert_eq!(live["revoked_at"], Value::Null);
    let run = sb.run(&["token", "revoke", new_id]).ok();
    assert!(run.stdout.contains(new_id), "{}", run.stdout);
    assert_eq!(show(&sb, "ana")["live_tokens"], 0);
    let unknown = sb.run(&["token", "revoke", "tk_000000000000"]);
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("tk_000000000000"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn administration_is_recorded_under_the_operator() {
    let sb = with_ana();
    sb.run_as("alice", &["token", "create", "ana"]).ok();
    let events = sb
        .run(&[
            "ledger",
            "query",
            "--principal",
            "local:alice",
            "--action",
            "administer",
            "--json",
        ])
        .ok()
        .json();
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let reason = events[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("created token") && reason.contains("`ana`"),
        "{reason}"
    );
    assert_eq!(events[0]["auth"], "local_operator");
    // Ana has not acted yet: nothing is recorded as by her.
    let hers = sb
        .run(&["ledger", "query", "--principal", "ana", "--json"])
        .ok()
        .json();
    assert_eq!(hers["events"], serde_json::json!([]));
}

#[test]
fn bad_input_names_the_option_and_changes_nothing() {
    let sb = with_ana();
    let before = sb.run(&["principal", "list", "--json"]).ok().json();

    let refused = |args: &[&str], code: i32, needles: &[&str]| {
        let run = sb.run(args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        for needle in needles {
            assert!(
                run.stderr.contains(needle),
                "{args:?}: `{needle}` missing from: {}",
                run.stderr
            );
        }
    };
    refused(
        &["principal", "add", "bo", "--kind", "mp"],
        2,
        &["--kind", "'mp'", "representative"],
    );
    refused(
        &[
            "principal",
            "add",
            "bo",
            "--kind",
            "staff",
            "--attr",
            "colour=red",
        ],
        2,
        &["--attr", "'colour=red'", "`colour`", "constituency"],
    );
    refused(
        &[
            "principal",
            "add",
            "bo",
            "--kind",
            "staff",
            "--attr",
            "team",
        ],
        2,
        &["--attr", "KEY=VALUE"],
    );
    refused(
        &[
            "principal",
            "add",
            "bo",
            "--kind",
            "staff",
            "--valid-until",
            "tomorrow",
        ],
        2,
        &["--valid-until", "`tomorrow`", "RFC 3339"],
    );
    refused(
        &[
            "principal",
            "add",
            "bo",
            "--kind",
            "staff",
            "--valid-from",
            "2027-03-01",
            "--valid-until",
            "2027-02-01",
        ],
        2,
        &["valid_until", "after valid_from"],
    );
    refused(
        &["principal", "add", "Bo Smith", "--kind", "staff"],
        2,
        &["principal name"],
    );
    refused(
        &["principal", "add", "ana", "--kind", "staff"],
        4,
        &["`ana`"],
    );
    refused(
        &["principal", "revoke", "nobody", "--reason", "left"],
        3,
        &["no principal `nobody`"],
    );
    refused(&["principal", "suspend", "ana"], 2, &["--reason"]);
    refused(&["principal", "revoke", "ana"], 2, &["--reason"]);
    refused(&["principal", "update", "ana"], 2, &["--kind", "--attr"]);
    refused(
        &[
            "principal",
            "update",
            "ana",
            "--valid-from",
            "7d",
            "--clear-valid-from",
        ],
        2,
        &["--clear-valid-from"],
    );
    refused(
        &["token", "create", "nobody"],
        3,
        &["no principal `nobody`"],
    );
    refused(
        &["token", "create", "ana", "--expires", "soon"],
        2,
        &["--expires"],
    );

    assert_eq!(sb.run(&["principal", "list", "--json"]).ok().json(), before);
    assert_eq!(
        show(&sb, "ana")["live_tokens"],
        0,
        "no token was made for ana"
    );
    assert_eq!(show(&sb, "ana")["status"], "active");
}

#[test]
fn update_changes_kind_attributes_and_window() {
    let sb = with_ana();
    let updated = sb
        .run(&[
            "principal",
            "update",
            "ana",
            "--kind",
            "staff",
            "--attr",
            "team=membership",
            "--attr",
            "constituency=",
            "--valid-from",
            "2020-01-01",
            "--valid-until",
            "2099-03-31",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(updated["kind"], "staff", "{updated}");
    assert_eq!(
        updated["attributes"],
        serde_json::json!({ "team": "membership" }),
        "an empty value removes an attribute: {updated}"
    );
    assert_eq!(
        updated["valid_from"], "2020-01-01T00:00:00.000Z",
        "{updated}"
    );
    assert_eq!(
        updated["valid_until"], "2099-04-01T00:00:00.000Z",
        "a bare date for valid-until runs through that day: {updated}"
    );
    let cleared = sb
        .run(&[
            "principal",
            "update",
            "ana",
            "--clear-valid-until",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(cleared["valid_until"], Value::Null, "{cleared}");
    assert_eq!(cleared["valid_from"], "2020-01-01T00:00:00.000Z");
    assert_eq!(show(&sb, "ana")["kind"], "staff");
}

#[test]
fn passwords_and_second_factors_are_never_arguments_and_shown_once() {
    let sb = with_ana();
    let password = "correct horse battery staple";
    let run = sb.run_env(
        &["principal", "set-password", "ana"],
        &[("CUSTOS_NEW_PASSWORD", password)],
    );
    let run = run.ok();
    assert!(!run.stderr.contains(password) && !run.stdout.contains(password));
    assert_eq!(show(&sb, "ana")["password_set"], true);

    // From stdin, as from a pipe.
    let sb2 = with_ana();
    let mut child = sb2
        .command(&["principal", "set-password", "ana"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(password));
    assert_eq!(show(&sb2, "ana")["password_set"], true);
    let empty = sb2
        .command(&["principal", "set-password", "ana"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_ne!(empty.status.code(), Some(0));
    let short = sb2.run_env(
        &["principal", "set-password", "ana"],
        &[("CUSTOS_NEW_PASSWORD", "short")],
    );
    assert_eq!(short.code, 2, "{}", short.stderr);

    let enrolled = sb.run(&["principal", "enroll-totp", "ana", "--json"]).ok();
    let json = enrolled.json();
    let secret = json["secret"].as_str().unwrap();
    assert!(secret.len() >= 16, "{json}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
        "base32: {secret}"
    );
    assert_eq!(json["principal"], "ana");
    let uri = json["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(secret), "{uri}");
    assert!(
        !enrolled.stderr.contains(secret),
        "the secret stays out of the log"
    );
    let shown = show(&sb, "ana");
    assert_eq!(shown["totp_set"], true, "{shown}");
    assert!(!shown.to_string().contains(secret));
    let text = sb.run(&["principal", "enroll-totp", "ana"]).ok();
    assert!(text.stdout.contains("otpauth://totp/"), "{}", text.stdout);
    assert!(text.stderr.contains("shown once"), "{}", text.stderr);
}

#[test]
fn a_revoked_principal_is_refused_recorded_and_alerted() {
    let sb = with_ana();
    sb.run(&[
        "subject",
        "add",
        "--id",
        "M1",
        "given_name=Philippa",
        "constituency=E14000639",
    ])
    .ok();
    let token = sb.run(&["token", "create", "ana"]).ok().stdout;
    let token = token.trim();
    assert_eq!(
        sb.run(&["alerts", "list", "--json"]).ok().json(),
        serde_json::json!({ "alerts": [] })
    );

    let server = sb.serve();
    let path = "/v1/subjects/M1?fields=given_name&purpose=casework";
    let response = http_get(&server.addr, path, token);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("Philippa"), "{response}");
    let hers = sb
        .run(&["ledger", "query", "--principal", "ana", "--json"])
        .ok()
        .json();
    let hers = hers["events"].as_array().unwrap().clone();
    assert_eq!(hers.len(), 1, "{hers:?}");
    assert_eq!(hers[0]["action"], "read");
    assert_eq!(hers[0]["purpose"], "casework");
    let auth = hers[0]["auth"].as_str().unwrap();
    assert!(
        auth.starts_with("api_token tk_"),
        "the token used is recorded: {auth}"
    );

    sb.run(&["principal", "revoke", "ana", "--reason", "left"])
        .ok();
    let refused = http_get(&server.addr, path, token);
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(!refused.contains("Philippa"), "{refused}");
    let log = server.stop();
    assert!(!log.contains("Philippa"), "{log}");

    let denied = sb
        .run(&[
            "ledger",
            "query",
            "--principal",
            "ana",
            "--outcome",
            "denied",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(denied["events"].as_array().unwrap().len(), 1, "{denied}");
    let alerts = sb.run(&["alerts", "list", "--json"]).ok().json();
    let alerts = alerts["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["principal"], "ana");
    assert_eq!(alerts[0]["kind"], "revoked_principal_attempt");
    let id = alerts[0]["id"].as_u64().unwrap().to_string();
    let filtered = |args: &[&str]| {
        let mut all = vec!["alerts", "list", "--json"];
        all.extend_from_slice(args);
        sb.run(&all).ok().json()["alerts"].as_array().unwrap().len()
    };
    assert_eq!(filtered(&["--principal", "ana"]), 1);
    assert_eq!(filtered(&["--principal", "bob"]), 0);
    assert_eq!(filtered(&["--kind", "revoked_principal_attempt"]), 1);
    assert_eq!(filtered(&["--kind", "login_lockout"]), 0);
    assert_eq!(filtered(&["--after-id", &id]), 0);
    assert_eq!(filtered(&["--limit", "1"]), 1);
    let text = sb.run(&["alerts", "list"]).ok().stdout;
    assert!(
        text.contains("ana") && text.contains("revoked_principal_attempt"),
        "{text}"
    );
}
