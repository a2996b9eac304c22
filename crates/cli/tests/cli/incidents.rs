//! Scenario 3 from the command line, on the demo organisation: an export to
//! the mailing house seeded with canaries, the mailing house breached, an
//! incident opened, its report and notices; and bad input refused with
//! nothing changed.

use serde_json::Value;

use crate::support::{Sandbox, mode};

fn now() -> String {
    let run = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(run.stdout).unwrap().trim().to_owned()
}

fn csv_ids(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

#[test]
fn a_breached_mailing_house_gives_a_report_and_notices() {
    let sb = Sandbox::new();
    sb.run(&["demo", "--members", "400", "--no-serve"]).ok();
    let out = sb.path("mailhouse.csv");
    let export = sb
        .run(&[
            "--purpose",
            "campaigning",
            "export",
            "--processor",
            "mailhouse",
            "--fields",
            "id,given_name,family_name,email,postcode",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(export["id"], "EX-0001");
    assert_eq!(mode(&out), 0o600);
    let rows = export["rows"].as_u64().unwrap();
    let canaries = export["canaries"].as_u64().unwrap();
    assert_eq!(canaries, 3, "{export}");
    assert!(
        export["excluded"].as_u64().unwrap() > 0,
        "no consent, no export"
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    let ids = csv_ids(&csv);
    assert_eq!(ids.len() as u64, rows + canaries);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "canaries sit at their place in id order");

    // The canaries are in the file, and trace back to the export.
    let listed = sb.run(&["canary", "list", "EX-0001", "--json"]).ok().json();
    let canary_ids: Vec<&str> = listed["canaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["fields"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(canary_ids.len(), 3);
    for id in &canary_ids {
        assert!(ids.iter().any(|i| i == id), "canary {id} is in the file");
        let traced = sb.run(&["canary", "trace", id, "--json"]).ok().json();
        assert_eq!(traced["matches"][0]["export"], "EX-0001", "{traced}");
        assert_eq!(traced["matches"][0]["processor"], "mailhouse");
        // A canary is nobody in the vault.
        let read = sb.run(&["subject", "get", id]);
        assert_ne!(read.code, 0, "{}", read.stdout);
    }
    let real = sb.run(&["canary", "trace", "M00000001"]);
    assert_eq!(real.code, 3, "{}", real.stderr);

    // The mailing house is breached.
    let opened = sb
        .run(&[
            "incident",
            "open",
            "--title",
            "Mailing house ransomware",
            "--aware-at",
            &now(),
            "--scope",
            "processor:mailhouse",
            "--json",
        ])
        .ok();
    assert_eq!(opened.json(), serde_json::json!({ "id": "INC-0001" }));
    assert!(opened.stderr.contains(&format!("{rows} people affected")));

    let report: Value = serde_json::from_str(
        &sb.run(&["incident", "report", "INC-0001", "--format", "json"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(report["incident"]["id"], "INC-0001");
    assert_eq!(report["totals"]["subjects"], rows);
    let subjects = report["subjects"].as_array().unwrap();
    let exposed: Vec<&str> = subjects.iter().map(|s| s["id"].as_str().unwrap()).collect();
    let real_ids: Vec<&String> = ids
        .iter()
        .filter(|i| !canary_ids.contains(&i.as_str()))
        .collect();
    assert_eq!(exposed, real_ids, "exactly the members exported, no canary");
    assert_eq!(
        subjects[0]["fields"],
        serde_json::json!(["id", "given_name", "family_name", "email", "postcode"])
    );
    let md = sb.run(&["incident", "report", "INC-0001"]).ok();
    assert!(
        md.stdout.contains("Dana Reyes"),
        "the DPO's contact: {}",
        md.stdout
    );
    assert!(md.stdout.contains("Art. 34"), "{}", md.stdout);
    assert!(md.stderr.contains("h"), "time remaining: {}", md.stderr);
    let html = sb.path("report.html");
    sb.run(&[
        "incident",
        "report",
        "INC-0001",
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ])
    .ok();
    assert!(std::fs::read_to_string(&html).unwrap().contains("<table>"));
    let odd = sb.run(&["incident", "report", "INC-0001", "--format", "pdf"]);
    assert_eq!(odd.code, 2, "{}", odd.stderr);

    let dir = sb.path("notices");
    let notices = sb
        .run(&[
            "incident",
            "notices",
            "INC-0001",
            "--out",
            dir.to_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(notices["written"], rows);
    assert_eq!(mode(&dir), 0o700);
    let first = real_ids[0];
    let letter = std::fs::read_to_string(dir.join(format!("{first}.txt"))).unwrap();
    let member = sb.run(&["subject", "get", first, "--json"]).ok().json();
    let name = format!(
        "Dear {} {}",
        member["fields"]["given_name"].as_str().unwrap(),
        member["fields"]["family_name"].as_str().unwrap()
    );
    assert!(letter.contains(&name), "{letter}");
    assert!(letter.contains(member["fields"]["address_line1"].as_str().unwrap()));
    assert!(letter.contains("your email address"), "{letter}");
    assert!(
        !letter.contains("your phone number"),
        "phones were not exported: {letter}"
    );
    assert!(letter.contains("dpo@party.example"), "{letter}");
    let merge = std::fs::read_to_string(dir.join("mail-merge.csv")).unwrap();
    assert_eq!(merge.lines().count() as u64, rows + 1);
    for id in &canary_ids {
        assert!(
            !dir.join(format!("{id}.txt")).exists(),
            "no notice for a canary"
        );
    }

    sb.run(&[
        "incident",
        "update",
        "INC-0001",
        "--reported-to-authority",
        &now(),
        "--note",
        "Reported to the ICO",
    ])
    .ok();
    let register = sb.run(&["incident", "list", "--json"]).ok().json();
    let incident = &register["incidents"][0];
    assert!(incident["reported_at"].is_string(), "{incident}");
    assert_eq!(incident["affected_subjects"], rows);
}

#[test]
fn bad_incident_input_is_refused_and_changes_nothing() {
    let sb = Sandbox::new();
    sb.init();
    let now = now();
    for (args, says) in [
        (vec!["--scope", "processor:nobody"], "no processor"),
        (vec!["--scope", "principal:nobody"], "no principal"),
        (vec!["--scope", "token:tk_000000000000"], "no token"),
        (vec!["--scope", "export:EX-0042"], "no export"),
        (
            vec!["--scope", "window:2026-12-02..2026-12-01"],
            "ends before it starts",
        ),
        (vec!["--scope", "window:2026-12-01.."], "both ends"),
        (
            vec!["--scope", "principal:admin", "--keys-exposed"],
            "store",
        ),
    ] {
        let mut full = vec!["incident", "open", "--title", "x", "--aware-at", &now];
        full.extend(args.iter());
        let run = sb.run(&full);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let future = sb.run(&[
        "incident",
        "open",
        "--title",
        "x",
        "--aware-at",
        "2999-01-01T00:00:00Z",
        "--scope",
        "store",
    ]);
    assert_eq!(future.code, 2);
    assert!(future.stderr.contains("in the future"), "{}", future.stderr);
    let register = sb.run(&["incident", "list", "--json"]).ok().json();
    assert_eq!(register["incidents"], serde_json::json!([]));
    let missing = sb.run(&["incident", "report", "INC-0009"]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let unknown = sb.run(&[
        "--purpose",
        "campaigning",
        "export",
        "--processor",
        "nobody",
        "--out",
        sb.path("x.csv").to_str().unwrap(),
    ]);
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    assert!(
        !sb.path("x.csv").exists(),
        "a refused export leaves no file"
    );
}

#[test]
fn a_stolen_store_without_its_key_needs_no_notices() {
    let sb = Sandbox::new();
    sb.run(&["demo", "--members", "50", "--no-serve"]).ok();
    // Aware-at has whole seconds: be aware after the members were made.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    sb.run(&[
        "incident",
        "open",
        "--title",
        "Laptop with a copy of the store stolen",
        "--aware-at",
        &now(),
        "--scope",
        "store",
    ])
    .ok();
    let report: Value = serde_json::from_str(
        &sb.run(&["incident", "report", "INC-0001", "--format", "json"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(report["totals"]["subjects"], 50);
    assert_eq!(report["art34"]["notify_subjects"], false);
    assert_eq!(report["art34"]["exception"], "art_34_3_a");
    let first = &report["subjects"][0];
    assert!(
        !first["fields"]
            .as_array()
            .unwrap()
            .contains(&Value::from("email")),
        "{first}"
    );
    assert!(
        first["encrypted_fields"]
            .as_array()
            .unwrap()
            .contains(&Value::from("email")),
        "{first}"
    );
}
