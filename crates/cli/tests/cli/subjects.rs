//! Subject commands, import and export, and what stays out of the logs.

use crate::support::{Sandbox, mode};

const MEMBERS: &str = "\u{feff}id,given_name,family_name,email,phone,postcode,constituency,membership_status,notes\r\n\
    M1,Philippa,Featherstonehaugh,philippa.f@example.org,07700 900111,LS1 4AP,E14000639,member,\"Rang re: parking, twice\"\r\n\
    M2,Jonty,Abernethy-Clarke,jonty.ac@example.net,07700 900222,LS2 7HZ,E14000639,lapsed,=cmd|'/c calc'!A1\r\n\
    M3,Oluwaseun,Marchbanks,seun.m@example.com,07700 900333,CF10 1EP,W07000041,member,\r\n";

#[test]
fn add_get_update_find_list_erase() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let added = sandbox
        .run(&[
            "subject",
            "add",
            "--json",
            "given_name=Ana",
            "email=Ana@Example.org",
            "constituency=E14000001",
        ])
        .ok()
        .json();
    let id = added["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with('S'), "{id}");
    let plain = sandbox
        .run(&["subject", "add", "--id", "M9", "given_name=Bo"])
        .ok();
    assert_eq!(plain.stdout.trim(), "M9");

    let got = sandbox
        .run(&[
            "subject",
            "get",
            &id,
            "--json",
            "--fields",
            "email,given_name",
        ])
        .ok()
        .json();
    assert_eq!(got["fields"]["email"], "ana@example.org");
    let text = sandbox.run(&["subject", "get", &id]).ok().stdout;
    assert!(
        text.lines()
            .any(|l| l.starts_with("email") && l.ends_with("ana@example.org")),
        "{text}"
    );

    sandbox
        .run(&[
            "subject",
            "update",
            &id,
            "email=new@example.org",
            "membership_status=former",
        ])
        .ok();
    let found = sandbox
        .run(&["subject", "find", "email=NEW@example.org", "--json"])
        .ok()
        .json();
    assert_eq!(found["subjects"][0], id.as_str());
    let listed = sandbox
        .run(&[
            "subject",
            "list",
            "--filter",
            "membership_status=former",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(listed["subjects"].as_array().unwrap().len(), 1);

    let erased = sandbox
        .run(&["subject", "erase", &id, "--json"])
        .ok()
        .json();
    assert_eq!(erased["erased"], true);
    let gone = sandbox.run(&["subject", "get", &id]);
    assert_eq!(gone.code, 3, "{}", gone.stderr);
    assert!(gone.stderr.contains(&format!("no subject `{id}`")));
    let info = sandbox.run(&["info", "--json"]).ok().json();
    assert_eq!(
        (info["subjects"].as_u64(), info["erased_subjects"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn import_export_round_trip_with_formula_neutralisation() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let file = sandbox.write("members.csv", MEMBERS);
    let dry = sandbox
        .run(&["import", file.to_str().unwrap(), "--dry-run", "--json"])
        .ok()
        .json();
    assert_eq!(dry["rows"], 3);
    assert_eq!(sandbox.subjects(), 0);
    let done = sandbox.run(&["import", file.to_str().unwrap()]).ok();
    assert!(
        done.stdout.contains("imported 3 subjects"),
        "{}",
        done.stdout
    );

    let out = sandbox.path("export.csv");
    let report = sandbox
        .run(&[
            "export",
            "--fields",
            "id,family_name,phone,notes",
            "--filter",
            "constituency=E14000639",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(report["rows"], 2);
    assert_eq!(mode(&out), 0o600);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "id,family_name,phone,notes\n\
         M1,Featherstonehaugh,'+447700900111,\"Rang re: parking, twice\"\n\
         M2,Abernethy-Clarke,'+447700900222,'=cmd|'/c calc'!A1\n"
    );
    let chosen = sandbox
        .run(&["export", "--ids", "M3,M1", "--fields", "id,town"])
        .ok();
    assert_eq!(chosen.stdout, "id,town\nM3,\nM1,\n");
    let both = sandbox.run(&[
        "export",
        "--ids",
        "M3",
        "--filter",
        "constituency=E14000639",
    ]);
    assert_eq!(both.code, 2, "ids and filters together are ambiguous");
    let again = sandbox.run(&["export", "--out", out.to_str().unwrap()]);
    assert_ne!(
        again.code, 0,
        "an existing export file is never overwritten"
    );
}

#[test]
fn a_bad_file_is_rejected_whole_with_numbered_errors() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let bad = "id,given_name,email,date_of_birth,membership_status\n\
               M1,Ana,ana@example.org,1980-01-01,member\n\
               M2,Bo,not-an-email,1980-01-01,member\n\
               M3,Cy,cy@example.org,1980-13-01,member\n\
               ,Di,di@example.org,1980-01-01,member\n\
               M5,Ed,ed@example.org,1980-01-01,chairman\n\
               M1,Fi,fi@example.org,1980-01-01,member\n\
               M7,Gus\n";
    let file = sandbox.write("bad.csv", bad);
    let run = sandbox.run(&["import", file.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for expected in [
        "row 3, column 3 (`email`): is not an email address",
        "row 4, column 4 (`date_of_birth`): is not a date (expected YYYY-MM-DD)",
        "row 5, column 1 (`id`): is empty",
        "row 6, column 5 (`membership_status`): is not one of the allowed values (member, lapsed, former, supporter)",
        "row 7, column 1 (`id`): duplicates the id in row 2",
        "row 8: has 2 columns, expected 5 as in the header",
    ] {
        assert!(
            run.stderr.contains(expected),
            "missing `{expected}` in:\n{}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains("not-an-email") && !run.stderr.contains("chairman"),
        "{}",
        run.stderr
    );
    assert_eq!(
        sandbox.subjects(),
        0,
        "nothing may be imported from a bad file"
    );

    let unknown = sandbox.write("unknown.csv", "id,given_name,shoe_size\nM1,Ana,9\n");
    let run = sandbox.run(&["import", unknown.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("row 1, column 3: unknown column name"),
        "{}",
        run.stderr
    );
    let no_header = sandbox.write("no-header.csv", "M1,Philippa,philippa@example.org\n");
    let run = sandbox.run(&["import", no_header.to_str().unwrap()]);
    assert!(
        run.stderr.contains("the first row is not a header"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Philippa"), "{}", run.stderr);
}

#[test]
fn windows_1252_files_from_excel_are_decoded() {
    let sandbox = Sandbox::new();
    sandbox.init();
    // "Zoë" and "£" as Excel writes them on Windows.
    let mut bytes = b"id,given_name,notes\r\nM1,Zo".to_vec();
    bytes.push(0xEB);
    bytes.extend_from_slice(b",Gave \xA35\r\n");
    let file = sandbox.write("excel.csv", &bytes);
    let strict = sandbox.run(&["import", file.to_str().unwrap(), "--encoding", "utf-8"]);
    assert_eq!(strict.code, 2);
    assert!(
        strict
            .stderr
            .contains("row 2, column 2 (`given_name`): is not valid UTF-8"),
        "{}",
        strict.stderr
    );
    let auto = sandbox
        .run(&["import", file.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(auto["encoding"], "windows-1252");
    let got = sandbox.run(&["subject", "get", "M1", "--json"]).ok().json();
    assert_eq!(got["fields"]["given_name"], "Zoë");
    assert_eq!(got["fields"]["notes"], "Gave £5");
}

#[test]
fn logs_never_hold_personal_values() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let file = sandbox.write("members.csv", MEMBERS);
    let mut stderr = String::new();
    for args in [
        vec!["import", file.to_str().unwrap()],
        vec!["subject", "get", "M1"],
        vec!["subject", "update", "M1", "email=philippa.new@example.org"],
        vec!["subject", "find", "email=philippa.new@example.org"],
        vec!["subject", "list", "--filter", "constituency=E14000639"],
        vec!["subject", "update", "M1", "email=Philippa Broken"],
        vec!["export", "--fields", "email"],
        vec!["subject", "erase", "M2"],
    ] {
        let run = sandbox.run(&args);
        stderr.push_str(&run.stderr);
    }
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG") || stderr.contains("INFO"),
        "logging must be on for this test: {stderr}"
    );
    for value in [
        "Philippa",
        "Featherstonehaugh",
        "philippa",
        "900111",
        "Abernethy",
        "parking",
    ] {
        assert!(
            !stderr.contains(value),
            "`{value}` leaked into the log:\n{stderr}"
        );
    }
}
