//! `custos purpose` and `--purpose`: the registry, the record of
//! processing, and what the local operator may do for which purpose.

use serde_json::Value;

use crate::support::Sandbox;

const DEFAULTS: [&str; 8] = [
    "breach_notification",
    "campaigning",
    "casework",
    "finance",
    "legal",
    "membership_admin",
    "safeguarding",
    "subject_access",
];

fn purpose_names(sb: &Sandbox) -> Vec<String> {
    let list = sb.run(&["purpose", "list", "--json"]).ok().json();
    list["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_registry_lists_adds_and_shows_purposes() {
    let sb = Sandbox::new();
    sb.init();
    assert_eq!(purpose_names(&sb), DEFAULTS);
    let list = sb.run(&["purpose", "list", "--json"]).ok().json();
    let admin = &list["purposes"][5];
    assert_eq!(admin["lawful_basis"], "contract", "{admin}");
    assert_eq!(admin["lawful_basis_article"], "Art. 6(1)(b)", "{admin}");
    assert_eq!(admin["special_condition"], "not_for_profit", "{admin}");
    let text = sb.run(&["purpose", "list"]).ok().stdout;
    assert_eq!(text.lines().count(), 8, "{text}");

    let added = sb
        .run(&[
            "purpose",
            "add",
            "newsletter",
            "--description",
            "Sending the members' newsletter",
            "--lawful-basis",
            "consent",
            "--categories",
            "identity,contact",
            "--requires-consent",
            "--consent-fields",
            "consent_email",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(added["name"], "newsletter", "{added}");
    assert_eq!(
        added["categories"],
        serde_json::json!(["identity", "contact"])
    );
    assert_eq!(added["requires_consent"], true);
    assert_eq!(
        added["consent_fields"],
        serde_json::json!(["consent_email"])
    );
    let shown = sb
        .run(&["purpose", "show", "newsletter", "--json"])
        .ok()
        .json();
    assert_eq!(shown, added);
    let text = sb.run(&["purpose", "show", "newsletter"]).ok().stdout;
    assert!(text.contains("Art. 6(1)(a)"), "{text}");
    assert!(text.contains("consent_email"), "{text}");
    assert!(purpose_names(&sb).contains(&"newsletter".to_owned()));

    let refused = |args: &[&str], code: i32, needles: &[&str]| {
        let mut all = vec![
            "purpose",
            "add",
            "welfare",
            "--description",
            "Looking after members",
        ];
        all.extend_from_slice(args);
        let run = sb.run(&all);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        for needle in needles {
            assert!(
                run.stderr.contains(needle),
                "{args:?}: `{needle}` missing from {}",
                run.stderr
            );
        }
    };
    refused(
        &[
            "--lawful-basis",
            "legitimate_interests",
            "--categories",
            "identity,special:health",
        ],
        2,
        &["special:health", "special_condition", "Art. 9"],
    );
    refused(
        &["--lawful-basis", "vibes", "--categories", "identity"],
        2,
        &["lawful_basis", "`vibes`"],
    );
    refused(
        &[
            "--lawful-basis",
            "consent",
            "--categories",
            "identity,gossip",
        ],
        2,
        &["`gossip`"],
    );
    refused(
        &[
            "--lawful-basis",
            "consent",
            "--categories",
            "identity",
            "--requires-consent",
        ],
        2,
        &["--consent-fields"],
    );
    refused(
        &[
            "--lawful-basis",
            "consent",
            "--categories",
            "identity",
            "--requires-consent",
            "--consent-fields",
            "email",
        ],
        2,
        &["`email`", "boolean scope field"],
    );
    refused(&["--lawful-basis", "consent"], 2, &["--categories"]);
    let duplicate = sb.run(&[
        "purpose",
        "add",
        "casework",
        "--description",
        "Again",
        "--lawful-basis",
        "consent",
        "--categories",
        "identity",
    ]);
    assert_eq!(duplicate.code, 4, "{}", duplicate.stderr);
    assert!(!purpose_names(&sb).contains(&"welfare".to_owned()));
    assert_eq!(purpose_names(&sb).len(), 9);

    let missing = sb.run(&["purpose", "show", "welfare"]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.contains("`welfare`"), "{}", missing.stderr);
}

#[test]
fn the_record_of_processing_covers_every_purpose() {
    let sb = Sandbox::new();
    sb.init();
    sb.run(&[
        "principal",
        "add",
        "mailhouse",
        "--kind",
        "processor",
        "--attr",
        "organisation=Mailhouse Ltd",
    ])
    .ok();
    let md = sb.run(&["purpose", "export", "--format", "md"]).ok().stdout;
    assert!(md.starts_with("# Record of processing"), "{md}");
    for name in DEFAULTS {
        assert!(
            md.contains(&format!("### {name}\n")),
            "{name} missing:\n{md}"
        );
    }
    for needle in [
        "Art. 6(1)(b)",
        "Art. 6(1)(f)",
        "Art. 9(2)(d)",
        "members, former members and supporters",
        "`email`",
        "mailhouse (Mailhouse Ltd)",
        "crypto-shredding",
        "required: any one of consent_email, consent_phone, consent_post",
    ] {
        assert!(md.contains(needle), "`{needle}` missing:\n{md}");
    }
    // Markdown is the default; only the generation time differs.
    let undated = |md: &str| {
        md.lines()
            .filter(|l| !l.starts_with("Vault `"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let default = sb.run(&["purpose", "export"]).ok().stdout;
    assert_eq!(undated(&default), undated(&md));

    let json = sb
        .run(&["purpose", "export", "--format", "json"])
        .ok()
        .json();
    let activities = json["activities"].as_array().unwrap();
    assert_eq!(activities.len(), 8);
    let casework = activities.iter().find(|a| a["name"] == "casework").unwrap();
    assert_eq!(casework["lawful_basis_article"], "Art. 6(1)(f)");
    assert!(
        casework["fields"]["contact"]
            .as_array()
            .unwrap()
            .contains(&Value::from("email")),
        "{casework}"
    );
    assert_eq!(
        json["recipients"],
        serde_json::json!(["mailhouse (Mailhouse Ltd)"])
    );
    let info = sb.run(&["info", "--json"]).ok().json();
    assert_eq!(json["vault_id"], info["vault_id"]);
}

#[test]
fn the_operator_acts_only_for_purposes_the_policies_allow() {
    let sb = Sandbox::new();
    sb.init();
    sb.run(&["subject", "add", "--id", "M1", "given_name=Ana"])
        .ok();
    let got = sb.run(&["subject", "get", "M1", "--json"]).ok().json();
    assert_eq!(got["fields"]["given_name"], "Ana");
    assert_eq!(got["denied"], serde_json::json!([]));
    let explicit = sb
        .run(&[
            "subject",
            "get",
            "M1",
            "--purpose",
            "membership_admin",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(explicit["fields"]["given_name"], "Ana");

    // The operator is an admin, and the defaults let admins act on members
    // only for membership administration.
    let casework = sb.run(&["subject", "get", "M1", "--purpose", "casework"]);
    assert_eq!(casework.code, 8, "{}", casework.stderr);
    assert!(
        casework.stderr.contains("not allowed"),
        "{}",
        casework.stderr
    );
    assert!(casework.stdout.is_empty(), "{}", casework.stdout);
    assert!(!casework.stderr.contains("Ana"), "{}", casework.stderr);
    let by_env = sb.run_env(
        &["subject", "get", "M1", "--fields", "given_name"],
        &[("CUSTOS_PURPOSE", "finance")],
    );
    assert_eq!(by_env.code, 8, "{}", by_env.stderr);
    let before = sb.subjects();
    let write = sb.run(&[
        "--purpose",
        "casework",
        "subject",
        "add",
        "--id",
        "M2",
        "given_name=Bo",
    ]);
    assert_eq!(write.code, 8, "{}", write.stderr);
    assert_eq!(sb.subjects(), before);

    let nonsense = sb.run(&["subject", "get", "M1", "--purpose", "nonsense"]);
    assert_eq!(nonsense.code, 2, "{}", nonsense.stderr);
    assert!(
        nonsense.stderr.contains("`nonsense`"),
        "{}",
        nonsense.stderr
    );
    assert!(
        nonsense.stderr.contains("membership_admin"),
        "the error lists the purposes: {}",
        nonsense.stderr
    );
    let none = sb.run(&["subject", "get", "M1", "--purpose", ""]);
    assert_eq!(none.code, 2, "{}", none.stderr);

    // Each refusal is recorded, under the purpose declared (or a label for
    // one that is not registered, never the text typed).
    let events = sb
        .run(&["ledger", "query", "--outcome", "denied", "--json"])
        .ok()
        .json();
    let purposes: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(
        purposes,
        ["casework", "finance", "casework", "(unknown)", "(none)"]
    );
    // On `ledger query`, `--purpose` is a filter, and only when given there:
    // neither the operator's default nor `CUSTOS_PURPOSE` narrows it.
    let count = |run: crate::support::Run| run.ok().json()["events"].as_array().unwrap().len();
    let all = count(sb.run(&["ledger", "query", "--json"]));
    assert_eq!(all, 8, "three allowed and five refused");
    let by_env = sb.run_env(
        &["ledger", "query", "--json"],
        &[("CUSTOS_PURPOSE", "membership_admin")],
    );
    assert_eq!(count(by_env), all);
    let filtered = sb.run(&["ledger", "query", "--purpose", "casework", "--json"]);
    assert_eq!(count(filtered), 2);
}
