//! `custos policy`: validation with lines and columns, test cases, applying
//! only what validates, passes and keeps administrators in, and the
//! partial answers that per-field decisions give.

use serde_json::Value;

use crate::support::{Sandbox, run_without_vault};

/// A rule to append to the default policies that withholds `ethnicity`
/// from reads and exports, whoever asks.
const NO_ETHNICITY: &str = r#"
@id("no-ethnicity")
@description("Nobody reads or exports ethnicity")
forbid (
  principal,
  action in [Custos::Action::"read", Custos::Action::"export"],
  resource
)
when { context.field.name == "ethnicity" };
"#;

/// A rule that forbids administering to everyone, the operator included.
const NOBODY_ADMINISTERS: &str = r#"
@id("nobody-administers")
forbid (principal, action == Custos::Action::"administer", resource);
"#;

fn s(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

fn default_policies(sb: &Sandbox) -> String {
    sb.run(&["policy", "show", "--default"]).ok().stdout
}

fn default_tests(sb: &Sandbox) -> String {
    sb.run(&["policy", "show", "--default", "--tests"])
        .ok()
        .stdout
}

fn version(sb: &Sandbox) -> u64 {
    sb.run(&["policy", "show", "--json"]).ok().json()["version"]
        .as_u64()
        .unwrap()
}

#[test]
fn validate_names_lines_and_columns_and_lists_rules() {
    let sb = Sandbox::new();
    // With no vault, the built-in party schema is used.
    let bad = sb.write(
        "bad.cedar",
        "@id(\"all\")\npermit (principal, action, resource)\nwhen { context.purpose == };\n",
    );
    let run = sb.run(&["policy", "validate", s(&bad)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not validate: line 3, column 27"),
        "{}",
        run.stderr
    );
    assert!(!sb.vault().exists(), "validating creates no vault");
    let unknown = sb.write(
        "unknown.cedar",
        "@id(\"shoes\")\npermit (principal, action, resource is Custos::Subject)\nwhen { resource.shoe_size == 9 };\n",
    );
    let run = sb.run(&["policy", "validate", s(&unknown)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("line 3, column "), "{}", run.stderr);
    assert!(run.stderr.contains("shoe_size"), "{}", run.stderr);

    let text = run_without_vault(sb.root.path(), &["policy", "show", "--default"])
        .ok()
        .stdout;
    assert!(text.contains("@id(\"admins-administer\")"), "{text}");
    let default = sb.write("party.cedar", &text);
    let run = sb.run(&["policy", "validate", s(&default)]).ok();
    assert!(run.stdout.contains("built-in schema"), "{}", run.stdout);
    let rule = |id: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} not listed:\n{}", run.stdout))
            .to_owned()
    };
    assert!(
        rule("admins-administer").contains("permit"),
        "{}",
        run.stdout
    );
    assert!(
        rule("admins-administer").contains("line 27"),
        "{}",
        run.stdout
    );
    assert!(rule("special-category-needs-mfa").contains("forbid"));
    assert!(rule("special-category-needs-mfa").contains("two-factor"));

    // And against a vault's own schema.
    sb.init();
    let run = sb.run(&["policy", "validate", s(&default)]).ok();
    assert!(run.stdout.contains("of this vault"), "{}", run.stdout);
    let run = sb.run(&["policy", "validate", s(&bad)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let missing = sb.run(&["policy", "validate", s(&sb.path("nope.cedar"))]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("cannot read"), "{}", missing.stderr);
}

#[test]
fn test_runs_cases_and_fails_on_a_wrong_expectation() {
    let sb = Sandbox::new();
    sb.init();
    let tests = default_tests(&sb);
    let good = sb.write("party.tests.toml", &tests);
    let run = sb.run(&["policy", "test", s(&good)]).ok();
    assert!(run.stdout.contains("PASS"), "{}", run.stdout);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    let report = sb.run(&["policy", "test", s(&good), "--json"]).ok().json();
    assert_eq!(report["passed"], true);
    let cases = report["cases"].as_array().unwrap().len();
    assert!(cases > 10, "{cases}");

    // The first case's expectation, not the comment that explains them.
    let first_case = tests.find("[[case]]").unwrap();
    let wrong = format!(
        "{}{}",
        &tests[..first_case],
        tests[first_case..].replacen("expect = \"allow\"", "expect = \"deny\"", 1)
    );
    assert_ne!(wrong, tests);
    let wrong = sb.write("wrong.tests.toml", wrong);
    let run = sb.run(&["policy", "test", s(&wrong)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let failing: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failing.len(), 1, "{}", run.stdout);
    assert!(failing[0].contains("(line "), "{}", failing[0]);
    assert!(
        run.stderr
            .contains(&format!("1 of {cases} test cases fail")),
        "{}",
        run.stderr
    );
    let run = sb.run(&["policy", "test", s(&wrong), "--json"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.json()["passed"], false);

    // Against a file rather than the policies in force.
    let stricter = sb.write(
        "stricter.cedar",
        format!("{}{NO_ETHNICITY}", default_policies(&sb)),
    );
    let run = sb.run(&["policy", "test", s(&good), "--policy", s(&stricter)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.contains("no-ethnicity"), "{}", run.stdout);
    let invalid = sb.write("cases.toml", "[[case]]\nname = 3\n");
    let run = sb.run(&["policy", "test", s(&invalid)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("invalid"), "{}", run.stderr);
}

#[test]
fn apply_refuses_a_lockout_and_applies_the_default_with_its_sibling_tests() {
    let sb = Sandbox::new();
    sb.init();
    assert_eq!(version(&sb), 1);
    let text = default_policies(&sb);
    let locked = sb.write("locked.cedar", format!("{text}{NOBODY_ADMINISTERS}"));
    let run = sb.run(&["policy", "apply", s(&locked)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: no test cases"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("out of administering the vault"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    assert_eq!(version(&sb), 1);

    let invalid = sb.write("invalid.cedar", "permit (principal, action, resource;\n");
    let run = sb.run(&["policy", "apply", s(&invalid)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("line 1, column "), "{}", run.stderr);
    assert_eq!(version(&sb), 1);

    // Tests that fail: given explicitly, or found next to the file.
    let tests = default_tests(&sb);
    let stricter = sb.write("stricter.cedar", format!("{text}{NO_ETHNICITY}"));
    let sibling = sb.write("stricter.tests.toml", &tests);
    let run = sb.run(&["policy", "apply", s(&stricter)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("test cases fail"), "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    std::fs::remove_file(&sibling).unwrap();
    let elsewhere = sb.write("elsewhere.toml", &tests);
    let run = sb.run(&["policy", "apply", s(&stricter), "--tests", s(&elsewhere)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(version(&sb), 1);

    let party = sb.write("party.cedar", &text);
    sb.write("party.tests.toml", &tests);
    let run = sb.run(&["policy", "apply", s(&party)]).ok();
    assert!(
        run.stdout.contains("applied policy set version 2"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let shown = sb.run(&["policy", "show", "--json"]).ok().json();
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["text"], text.as_str());
    assert_eq!(shown["tests"], tests.as_str());
    assert!(
        shown["applied_by"].as_str().unwrap().starts_with("local:"),
        "{shown}"
    );
    assert_eq!(sb.run(&["policy", "show"]).ok().stdout, text);
    assert_eq!(sb.run(&["policy", "show", "--tests"]).ok().stdout, tests);
    let applied = sb
        .run(&["policy", "apply", s(&party), "--json"])
        .ok()
        .json();
    assert_eq!(applied["version"], 3);
    assert_eq!(applied["rules"], 14);
    assert!(applied["cases"].as_u64().unwrap() > 10, "{applied}");
}

#[test]
fn denied_fields_are_listed_and_strict_reads_refuse() {
    let sb = Sandbox::new();
    sb.init();
    sb.run(&[
        "subject",
        "add",
        "--id",
        "M1",
        "given_name=Ana",
        "ethnicity=Irish",
        "constituency=E14000639",
    ])
    .ok();
    let stricter = sb.write(
        "stricter.cedar",
        format!("{}{NO_ETHNICITY}", default_policies(&sb)),
    );
    let run = sb.run(&["policy", "apply", s(&stricter)]).ok();
    assert!(
        run.stderr.contains("applying it untested"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("untested"), "{}", run.stdout);

    let fields = ["subject", "get", "M1", "--fields", "given_name,ethnicity"];
    let run = sb.run(&fields).ok();
    assert!(run.stdout.contains("Ana"), "{}", run.stdout);
    assert!(!run.stdout.contains("ethnicity"), "{}", run.stdout);
    assert!(!run.stdout.contains("Irish") && !run.stderr.contains("Irish"));
    assert!(
        run.stderr
            .contains("denied: ethnicity — forbidden by policy `no-ethnicity`"),
        "{}",
        run.stderr
    );
    let mut json_args = fields.to_vec();
    json_args.push("--json");
    let got = sb.run(&json_args).ok().json();
    assert_eq!(got["fields"], serde_json::json!({ "given_name": "Ana" }));
    let denied = got["denied"].as_array().unwrap();
    assert_eq!(denied.len(), 1, "{got}");
    assert_eq!(denied[0]["field"], "ethnicity");
    assert_eq!(denied[0]["code"], "forbidden");
    assert_eq!(denied[0]["rules"], serde_json::json!(["no-ethnicity"]));

    let mut strict = fields.to_vec();
    strict.push("--strict");
    let run = sb.run(&strict);
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("no-ethnicity"), "{}", run.stderr);
    let outcomes: Vec<String> = sb
        .run(&["ledger", "query", "--action", "read", "--json"])
        .ok()
        .json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["partial", "partial", "denied"]);

    // An export by filter leaves out the subjects it may not export whole.
    let out = sb.path("export.csv");
    let report = sb
        .run(&[
            "export",
            "--fields",
            "id,ethnicity",
            "--filter",
            "constituency=E14000639",
            "--out",
            s(&out),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(
        (&report["rows"], &report["excluded"]),
        (&Value::from(0), &Value::from(1))
    );
    let run = sb
        .run(&[
            "export",
            "--fields",
            "id,ethnicity",
            "--filter",
            "constituency=E14000639",
        ])
        .ok();
    assert_eq!(run.stdout, "id,ethnicity\n");
    assert!(run.stderr.contains("1 subjects"), "{}", run.stderr);
    assert!(run.stderr.contains("left out"), "{}", run.stderr);
    let full = sb.run(&["export", "--fields", "id,given_name"]).ok();
    assert!(!full.stderr.contains("left out"), "{}", full.stderr);
}
