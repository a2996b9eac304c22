//! CSV import: encodings, quoting, validation with located problems, and
//! all-or-nothing writes.

use custos_engine::{CsvInput, Encoding, EngineError, ErrorKind, ImportOptions};

use crate::support::{TestVault, all_fields, import_options, locations, sid, store_files};

fn options(f: impl FnOnce(&mut ImportOptions)) -> ImportOptions {
    let mut o = import_options();
    f(&mut o);
    o
}

fn loc(
    row: u64,
    column: Option<usize>,
    field: Option<&str>,
) -> (Option<u64>, Option<usize>, Option<String>) {
    (Some(row), column, field.map(str::to_owned))
}

#[test]
fn utf8_byte_order_mark_is_ignored() {
    let t = TestVault::new();
    let csv = "\u{feff}id,given_name,email\r\nM1,Ana,Ana@Example.org\r\n";
    let report = t.import(csv.as_bytes(), import_options()).unwrap();
    assert_eq!((report.rows, report.imported), (1, 1));
    assert_eq!(report.encoding, Encoding::Utf8);
    assert_eq!(t.field(&sid("M1"), "given_name").as_deref(), Some("Ana"));
    assert_eq!(
        t.field(&sid("M1"), "email").as_deref(),
        Some("ana@example.org")
    );

    // With the encoding given explicitly, too.
    let csv = "\u{feff}id,given_name\r\nM2,Bo\r\n";
    let report = t
        .import(csv.as_bytes(), options(|o| o.encoding = Encoding::Utf8))
        .unwrap();
    assert_eq!(report.imported, 1);
    assert_eq!(t.field(&sid("M2"), "given_name").as_deref(), Some("Bo"));
}

#[test]
fn quoted_fields_keep_commas_quotes_and_newlines() {
    let t = TestVault::new();
    let csv = concat!(
        "id,address_line1,notes,given_name\n",
        "Q1,\"1, The Street\",\"She said \"\"hello, world\"\"\r\nthen left\",\"Ana\"\n",
        "Q2,\"\",\"multi\nline\nnote\",Bo\n",
    );
    let report = t.import(csv.as_bytes(), import_options()).unwrap();
    assert_eq!((report.rows, report.imported), (2, 2));
    let q1 = all_fields(&t.vault, &t.who, &sid("Q1"));
    assert_eq!(q1["address_line1"].as_deref(), Some("1, The Street"));
    assert_eq!(
        q1["notes"].as_deref(),
        Some("She said \"hello, world\"\r\nthen left")
    );
    assert_eq!(q1["given_name"].as_deref(), Some("Ana"));
    let q2 = all_fields(&t.vault, &t.who, &sid("Q2"));
    assert_eq!(
        q2["address_line1"], None,
        "an empty quoted cell is no value"
    );
    assert_eq!(q2["notes"].as_deref(), Some("multi\nline\nnote"));
    assert_eq!(q2["given_name"].as_deref(), Some("Bo"));

    // A problem after a multi-line record names the record, not the line.
    let csv = "id,notes,email\nR1,\"a\nb\nc\",r1@example.org\nR2,x,not-an-email\n";
    let err = t
        .import(csv.as_bytes(), import_options())
        .expect_err("bad email");
    assert_eq!(locations(&err), [loc(3, Some(3), Some("email"))], "{err}");
}

/// `Renée,Café,£12.50,Paid £5 in cash` in Windows-1252.
const WINDOWS_1252: &[u8] =
    b"id,given_name,town,donation_total,notes\r\nW1,Ren\xe9e,Caf\xe9,\xa312.50,Paid \xa35 in cash \x93thanks\x94\r\n";

#[test]
fn windows_1252_is_detected_and_decoded() {
    let t = TestVault::new();
    let report = t.import(WINDOWS_1252, import_options()).unwrap();
    assert_eq!(report.encoding, Encoding::Windows1252);
    assert_eq!(report.imported, 1);
    let w1 = all_fields(&t.vault, &t.who, &sid("W1"));
    assert_eq!(w1["given_name"].as_deref(), Some("Renée"));
    assert_eq!(w1["town"].as_deref(), Some("Café"));
    assert_eq!(w1["donation_total"].as_deref(), Some("12.50"));
    assert_eq!(
        w1["notes"].as_deref(),
        Some("Paid £5 in cash \u{201c}thanks\u{201d}")
    );

    // Told explicitly, the same file reads the same.
    let t2 = TestVault::new();
    let report = t2
        .import(
            WINDOWS_1252,
            options(|o| o.encoding = Encoding::Windows1252),
        )
        .unwrap();
    assert_eq!(report.encoding, Encoding::Windows1252);
    assert_eq!(t2.field(&sid("W1"), "given_name").as_deref(), Some("Renée"));
}

#[test]
fn windows_1252_is_rejected_as_utf8() {
    let t = TestVault::new();
    let err = t
        .import(WINDOWS_1252, options(|o| o.encoding = Encoding::Utf8))
        .expect_err("not UTF-8");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(
        locations(&err),
        [
            loc(2, Some(2), Some("given_name")),
            loc(2, Some(3), Some("town")),
            loc(2, Some(4), Some("donation_total")),
            loc(2, Some(5), Some("notes")),
        ],
        "{err}"
    );
    assert!(err.problems()[0].message.contains("UTF-8"), "{err}");
    assert!(err.problems()[0].message.contains("windows-1252"), "{err}");
    assert_eq!(t.count(), 0);
}

/// A file with one problem of each kind, each on its own row.
fn bad_file(long: &str) -> String {
    [
        "id,given_name,email,postcode,date_of_birth,membership_status".to_owned(),
        "M100,Ana,ana@example.org,SW1A 1AA,1980-01-31,member".to_owned(), // 2: fine
        "M101,Bo,bo@example.org,SW1A 1AA,1990-02-30,member".to_owned(),   // 3: no such date
        "M102,Cy,not-an-email,SW1A 1AA,1980-01-31,member".to_owned(),     // 4: email
        "M103,Di,di@example.org,XYZ,1980-01-31,member".to_owned(),        // 5: postcode
        "M104,Ed,ed@example.org,SW1A 1AA,1980-01-31,emperor".to_owned(),  // 6: enum
        format!("M105,{long},fy@example.org,SW1A 1AA,1980-01-31,member"), // 7: too long
        "M106,Gu,gu@example.org,SW1A 1AA".to_owned(),                     // 8: columns
        "M100,Hal,hal@example.org,SW1A 1AA,1980-01-31,member".to_owned(), // 9: duplicate id
        "EXISTS1,Io,io@example.org,SW1A 1AA,1980-01-31,member".to_owned(), // 10: in the vault
        ",Jo,jo@example.org,SW1A 1AA,1980-01-31,member".to_owned(),       // 11: no id
        "M107,Kay,kay@example.org,SW1A 1AA,1980-01-31,lapsed".to_owned(), // 12: fine
        "M101,Lu,lu@,SW1A 1AA,1980-01-31,member".to_owned(), // 13: duplicate id and email
    ]
    .join("\n")
        + "\n"
}

#[test]
fn every_problem_is_located_and_nothing_is_imported() {
    let t = TestVault::new();
    t.add("EXISTS1", &[("given_name", "Already")]);
    let long = "Wilhelmina".repeat(21);
    let err = t
        .import(bad_file(&long).as_bytes(), import_options())
        .expect_err("bad file");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let EngineError::Invalid(_, more) = &err else {
        unreachable!("kind Invalid")
    };
    assert_eq!(*more, 0);
    assert_eq!(
        locations(&err),
        [
            loc(3, Some(5), Some("date_of_birth")),
            loc(4, Some(3), Some("email")),
            loc(5, Some(4), Some("postcode")),
            loc(6, Some(6), Some("membership_status")),
            loc(7, Some(2), Some("given_name")),
            loc(8, None, None),
            loc(9, Some(1), Some("id")),
            loc(10, Some(1), Some("id")),
            loc(11, Some(1), Some("id")),
            loc(13, Some(1), Some("id")),
            loc(13, Some(3), Some("email")),
        ],
        "{err}"
    );
    let messages: Vec<&str> = err.problems().iter().map(|p| p.message.as_str()).collect();
    assert!(messages[0].contains("YYYY-MM-DD"), "{messages:?}");
    assert!(
        messages[3].contains("member, lapsed, former, supporter"),
        "{messages:?}"
    );
    assert!(messages[4].contains("200"), "{messages:?}");
    assert!(
        messages[5].contains("has 4 columns, expected 6"),
        "{messages:?}"
    );
    assert!(messages[6].contains("row 2"), "{messages:?}");
    assert!(messages[7].contains("already exists"), "{messages:?}");
    assert!(messages[9].contains("row 3"), "{messages:?}");
    // No value from the file is echoed back.
    let text = err.to_string();
    for value in [
        "not-an-email",
        "XYZ",
        "emperor",
        "1990-02-30",
        "Wilhelmina",
        "Gu",
        "Hal",
    ] {
        assert!(!text.contains(value), "`{value}` echoed in:\n{text}");
    }
    assert!(
        text.starts_with("row 3, column 5 (`date_of_birth`): "),
        "{text}"
    );
    // Nothing was imported, not even the valid rows.
    assert_eq!(t.count(), 1);
    assert!(
        t.vault
            .find_subjects(&t.who, "email", "ana@example.org")
            .unwrap()
            .is_empty()
    );
    assert!(
        t.vault
            .find_subjects(&t.who, "email", "kay@example.org")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn header_problems_are_reported_on_row_one() {
    let t = TestVault::new();
    let err = t
        .import(
            b"id,given_name,favourite_colour\nM1,Ana,teal\n",
            import_options(),
        )
        .expect_err("unknown column");
    assert_eq!(locations(&err), [loc(1, Some(3), None)], "{err}");
    let message = &err.problems()[0].message;
    assert!(message.contains("unknown column"), "{message}");
    assert!(
        message.contains("given_name"),
        "should list the known fields: {message}"
    );
    assert!(
        !message.contains("favourite_colour"),
        "header cells are not echoed: {message}"
    );

    let err = t
        .import(b"given_name,email\nAna,ana@example.org\n", import_options())
        .expect_err("no id column");
    assert_eq!(locations(&err), [loc(1, None, None)], "{err}");
    assert!(
        err.problems()[0].message.contains("no `id` column"),
        "{err}"
    );
    assert!(err.problems()[0].message.contains("generate-ids"), "{err}");

    let err = t
        .import(
            b"id,email,EMAIL\nM1,a@example.org,b@example.org\n",
            import_options(),
        )
        .expect_err("duplicate column");
    assert_eq!(locations(&err), [loc(1, Some(3), None)], "{err}");

    // A file whose first row is data, not a header.
    let err = t
        .import(b"M1,Ana,ana@example.org\n", import_options())
        .expect_err("no header");
    assert_eq!(locations(&err), [loc(1, None, None)], "{err}");
    assert!(!err.to_string().contains("ana@example.org"), "{err}");

    let err = t.import(b"", import_options()).expect_err("empty file");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(t.count(), 0);
}

#[test]
fn generate_ids_gives_each_row_a_new_id() {
    let t = TestVault::new();
    let csv = b"given_name,email\nAna,ana@example.org\nBo,bo@example.org\n";
    let report = t.import(csv, options(|o| o.generate_ids = true)).unwrap();
    assert_eq!((report.rows, report.imported), (2, 2));
    let ana = t
        .vault
        .find_subjects(&t.who, "email", "ana@example.org")
        .unwrap();
    let bo = t
        .vault
        .find_subjects(&t.who, "email", "bo@example.org")
        .unwrap();
    assert_eq!((ana.len(), bo.len()), (1, 1));
    assert_ne!(ana[0], bo[0]);
    for id in [&ana[0], &bo[0]] {
        assert!(
            id.as_str().starts_with('S') && id.as_str().len() == 13,
            "{id}"
        );
    }
    assert_eq!(t.field(&ana[0], "given_name").as_deref(), Some("Ana"));
    assert_eq!(t.field(&bo[0], "given_name").as_deref(), Some("Bo"));

    // With an id column, generating ids is refused.
    let err = t
        .import(
            b"id,given_name\nM1,Cy\n",
            options(|o| o.generate_ids = true),
        )
        .expect_err("id column and generate_ids");
    assert_eq!(locations(&err), [loc(1, Some(1), None)], "{err}");
    assert_eq!(t.count(), 2);
}

#[test]
fn dry_run_validates_and_writes_nothing() {
    let t = TestVault::new();
    t.add_person("A1", "ALPHA");
    let store = t.store_path();
    let before = store_files(&t.dir())
        .into_iter()
        .filter(|(n, _)| n != "store.sqlite-shm")
        .collect::<Vec<_>>();
    let modified = std::fs::metadata(&store).unwrap().modified().unwrap();

    let csv = b"id,given_name,email\nD1,Dee,dee@example.org\nD2,Di,di@example.org\n";
    let report = t.import(csv, options(|o| o.dry_run = true)).unwrap();
    assert_eq!((report.rows, report.imported, report.dry_run), (2, 0, true));
    assert_eq!(t.count(), 1);
    assert!(
        t.vault
            .find_subjects(&t.who, "email", "dee@example.org")
            .unwrap()
            .is_empty()
    );
    let after = store_files(&t.dir())
        .into_iter()
        .filter(|(n, _)| n != "store.sqlite-shm")
        .collect::<Vec<_>>();
    assert!(before == after, "a dry run changed the store");
    assert_eq!(
        std::fs::metadata(&store).unwrap().modified().unwrap(),
        modified
    );

    // A dry run still reports the problems.
    let err = t
        .import(b"id,email\nD1,nope\n", options(|o| o.dry_run = true))
        .expect_err("invalid dry run");
    assert_eq!(locations(&err), [loc(2, Some(2), Some("email"))]);

    // The same file for real is imported.
    assert_eq!(t.import(csv, import_options()).unwrap().imported, 2);
    assert_eq!(t.count(), 3);
}

#[test]
fn problems_beyond_one_hundred_are_counted() {
    let t = TestVault::new();
    let mut csv = String::from("id,email\n");
    for i in 0..150 {
        csv.push_str(&format!("P{i},bad-email-{i}\n"));
    }
    let err = t
        .import(csv.as_bytes(), import_options())
        .expect_err("150 problems");
    let EngineError::Invalid(problems, more) = &err else {
        unreachable!("{err}")
    };
    assert_eq!(problems.len(), 100);
    assert_eq!(*more, 50);
    // The first hundred, in order.
    let rows: Vec<u64> = problems.iter().map(|p| p.row.expect("row")).collect();
    assert_eq!(rows, (2..102).collect::<Vec<u64>>());
    assert!(err.to_string().ends_with("… and 50 more problems"), "{err}");
    assert_eq!(t.count(), 0);
}

#[test]
fn an_import_from_a_file_path_works() {
    let t = TestVault::new();
    let path = t.tmp.path().join("members.csv");
    std::fs::write(&path, "id,given_name\nF1,Fay\n").unwrap();
    let report = t
        .vault
        .import_csv(&t.who, CsvInput::File(&path), &import_options(), &|_| {})
        .unwrap();
    assert_eq!(report.imported, 1);
    assert_eq!(t.field(&sid("F1"), "given_name").as_deref(), Some("Fay"));

    let err = t
        .vault
        .import_csv(
            &t.who,
            CsvInput::File(&t.tmp.path().join("absent.csv")),
            &import_options(),
            &|_| {},
        )
        .expect_err("missing file");
    assert_eq!(err.kind(), ErrorKind::Internal);
}

/// The value the vault should hold for a synthetic raw value: phones in
/// E.164, emails lower-cased, everything else as generated (the generator
/// writes canonical postcodes, dates, enums and amounts); empty is absent.
fn expected_synth(column: &str, raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    Some(match column {
        "phone" => {
            let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
            let national = digits.strip_prefix('0').expect("national number");
            format!("+44{national}")
        }
        "email" => raw.to_lowercase(),
        _ => raw.to_owned(),
    })
}

#[test]
fn five_thousand_synthetic_members_import_exactly() {
    let t = TestVault::new();
    let generator = custos_synth::Generator::new(1);
    let mut csv = Vec::new();
    generator.write_csv(&mut csv, 5_000).unwrap();
    let report = t.import(&csv, import_options()).unwrap();
    assert_eq!((report.rows, report.imported), (5_000, 5_000));
    assert_eq!(report.encoding, Encoding::Utf8);
    assert_eq!(t.count(), 5_000);

    // Fixed samples, plus the first members that have the rarer values.
    let first_with = |column: &str| {
        let c = custos_synth::COLUMNS
            .iter()
            .position(|n| *n == column)
            .expect("column");
        (0..5_000)
            .find(|&i| !generator.member(i).values()[c].is_empty())
            .expect("some member has it")
    };
    let mut sample = vec![0, 1, 2, 777, 2_500, 4_998, 4_999];
    sample.extend(["notes", "address_line2", "left_on", "union_affiliation"].map(first_with));
    let mut checked_phone = false;
    let mut checked_notes = false;
    for index in sample {
        let member = generator.member(index);
        let id = sid(member.id());
        let stored = all_fields(&t.vault, &t.who, &id);
        for (column, raw) in custos_synth::COLUMNS.iter().zip(member.values()) {
            let expected = expected_synth(column, raw);
            assert_eq!(stored[*column], expected, "member {index} `{column}`");
            checked_phone |=
                *column == "phone" && expected.as_deref().is_some_and(|p| p.starts_with("+447"));
            checked_notes |= *column == "notes" && expected.is_some();
        }
        assert_eq!(
            t.vault
                .find_subjects(&t.who, "email", member.email())
                .unwrap(),
            std::slice::from_ref(&id),
            "member {index} by email"
        );
        assert_eq!(
            stored["postcode"]
                .as_deref()
                .map(|p| p.matches(' ').count()),
            Some(1)
        );
    }
    assert!(checked_phone && checked_notes);

    // Importing the same file again collides on every id and adds nothing.
    let err = t.import(&csv, import_options()).expect_err("second import");
    let EngineError::Invalid(problems, more) = &err else {
        unreachable!("{err}")
    };
    assert_eq!(problems.len() as u64 + more, 5_000);
    assert_eq!(t.count(), 5_000);
}

#[test]
fn a_header_only_file_imports_nothing() {
    let t = TestVault::new();
    let report = t.import(b"id,given_name\r\n", import_options()).unwrap();
    assert_eq!((report.rows, report.imported), (0, 0));
    assert_eq!(t.count(), 0);
}

#[test]
fn an_export_can_be_imported_into_another_vault() {
    let from = TestVault::new();
    from.add_person("A1", "ALPHA");
    from.add("B1", &[("donation_total", "-3.50"), ("given_name", "=Bo")]);
    let mut csv = Vec::new();
    from.vault
        .export_csv(
            &from.who,
            &mut csv,
            &custos_engine::FieldSelection::All,
            &[],
            &[],
        )
        .unwrap();
    let to = TestVault::new();
    let imported = to.import(&csv, import_options());
    assert!(
        imported.is_ok(),
        "{}",
        imported.err().map(|e| e.to_string()).unwrap_or_default()
    );
    assert_eq!(
        all_fields(&to.vault, &to.who, &sid("A1")),
        all_fields(&from.vault, &from.who, &sid("A1"))
    );
}
