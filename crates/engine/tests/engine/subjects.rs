//! Creating, reading, updating, finding and listing subjects.

use std::collections::BTreeSet;

use custos_engine::{EngineError, ErrorKind, FieldSelection};
use custos_model::SubjectId;

use crate::support::{TestVault, all_fields, import_options, input, sid};

fn set(values: &[(&str, &str)]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ids(found: &[SubjectId]) -> Vec<&str> {
    found.iter().map(SubjectId::as_str).collect()
}

#[test]
fn create_normalises_and_reads_back_every_field() {
    let t = TestVault::new();
    let id = t.add_person("M1", "MIKE");
    let stored = all_fields(&t.vault, &t.who, &id);
    let p = crate::support::person_values("MIKE", 0);
    for (field, _, normalised) in &p.sealed {
        assert_eq!(
            stored[*field].as_deref(),
            Some(normalised.as_str()),
            "{field}"
        );
    }
    for (field, value) in &p.scope {
        assert_eq!(stored[*field].as_deref(), Some(value.as_str()), "{field}");
    }
    assert_eq!(stored["id"].as_deref(), Some("M1"));
    assert_eq!(stored["address_line2"], None);
    assert_eq!(stored["left_on"], None);
    assert_eq!(stored.len(), t.vault.schema().fields().len());

    // A selection returns exactly the fields asked for, in schema order.
    let record = t
        .vault
        .read_subject(
            &t.who,
            &id,
            &FieldSelection::Only(vec!["notes".into(), " email ".into(), "branch".into()]),
        )
        .unwrap();
    let names: Vec<&str> = record.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["email", "branch", "notes"]);

    // The same id twice is a conflict; an unknown id is not found.
    let err = t
        .vault
        .create_subject(&t.who, crate::support::person("M1", "MIKE"))
        .expect_err("duplicate");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = t
        .vault
        .read_subject(&t.who, &sid("NOBODY"), &FieldSelection::All)
        .expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // Without an id, one is generated.
    let generated = t
        .vault
        .create_subject(&t.who, input(None, &[("given_name", "Anon")]))
        .unwrap();
    assert!(generated.as_str().starts_with('S'), "{generated}");
    assert_eq!(t.field(&generated, "given_name").as_deref(), Some("Anon"));
}

#[test]
fn invalid_values_are_all_reported_without_echoing_them() {
    let t = TestVault::new();
    let err = t
        .vault
        .create_subject(
            &t.who,
            input(
                Some("M1"),
                &[
                    ("email", "secret-not-an-email"),
                    ("phone", "12345secret"),
                    ("membership_status", "secretary"),
                    ("id", "M2"),
                    ("email", "x@example.org"),
                ],
            ),
        )
        .expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let fields: Vec<Option<&str>> = err.problems().iter().map(|p| p.field.as_deref()).collect();
    assert_eq!(
        fields,
        [
            Some("email"),
            Some("phone"),
            Some("membership_status"),
            Some("id"),
            Some("email")
        ],
        "{err}"
    );
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(err.problems()[4].message.contains("twice"), "{err}");
    assert_eq!(t.count(), 0);

    let err = t
        .vault
        .create_subject(&t.who, input(Some("bad id!"), &[("given_name", "Ana")]))
        .expect_err("bad id");
    assert_eq!(err.problems()[0].field.as_deref(), Some("id"), "{err}");
}

#[test]
fn update_moves_the_lookup_index() {
    let t = TestVault::new();
    let a = t.add(
        "A1",
        &[
            ("given_name", "Ana"),
            ("email", "Ana@Example.org"),
            ("phone", "07700 900123"),
            ("postcode", "sw1a1aa"),
        ],
    );
    let b = t.add(
        "B1",
        &[("email", "bo@example.org"), ("phone", "+44 7700 900999")],
    );

    // Any spelling of the value finds its normalised form.
    for spelling in [
        "07700 900123",
        "+447700900123",
        "0044 7700-900123",
        "(07700) 900.123",
    ] {
        assert_eq!(
            ids(&t.vault.find_subjects(&t.who, "phone", spelling).unwrap()),
            ["A1"],
            "{spelling}"
        );
    }
    for spelling in ["ana@example.org", "ANA@EXAMPLE.ORG", "  Ana@Example.org "] {
        assert_eq!(
            ids(&t.vault.find_subjects(&t.who, "email", spelling).unwrap()),
            ["A1"],
            "{spelling}"
        );
    }
    assert_eq!(
        ids(&t
            .vault
            .find_subjects(&t.who, "postcode", "SW1A 1AA")
            .unwrap()),
        ["A1"]
    );
    assert_eq!(t.field(&a, "phone").as_deref(), Some("+447700900123"));

    t.vault
        .update_subject(
            &t.who,
            &a,
            &set(&[("email", "Ana.New@Example.org"), ("phone", "07700 900456")]),
        )
        .unwrap();
    assert!(
        t.vault
            .find_subjects(&t.who, "email", "ana@example.org")
            .unwrap()
            .is_empty()
    );
    assert!(
        t.vault
            .find_subjects(&t.who, "phone", "07700 900123")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&t
            .vault
            .find_subjects(&t.who, "email", "ana.new@example.org")
            .unwrap()),
        ["A1"]
    );
    assert_eq!(
        ids(&t
            .vault
            .find_subjects(&t.who, "phone", "+44 7700 900456")
            .unwrap()),
        ["A1"]
    );
    // Untouched fields and their index entries stay.
    assert_eq!(
        ids(&t
            .vault
            .find_subjects(&t.who, "postcode", "sw1a 1aa")
            .unwrap()),
        ["A1"]
    );
    assert_eq!(t.field(&a, "given_name").as_deref(), Some("Ana"));
    assert_eq!(t.field(&a, "email").as_deref(), Some("ana.new@example.org"));

    // Two subjects with the same value are both found.
    t.vault
        .update_subject(&t.who, &b, &set(&[("postcode", "SW1A1AA")]))
        .unwrap();
    assert_eq!(
        ids(&t
            .vault
            .find_subjects(&t.who, "postcode", "SW1A 1AA")
            .unwrap()),
        ["A1", "B1"]
    );
    assert_eq!(
        ids(&t
            .vault
            .find_subjects(&t.who, "phone", "07700900999")
            .unwrap()),
        ["B1"]
    );
}

#[test]
fn clearing_a_field_with_an_empty_value_removes_it_and_its_index() {
    let t = TestVault::new();
    let a = t.add(
        "A1",
        &[
            ("given_name", "Ana"),
            ("email", "ana@example.org"),
            ("notes", "A note"),
            ("branch", "North"),
        ],
    );
    t.vault
        .update_subject(
            &t.who,
            &a,
            &set(&[("email", ""), ("notes", "   "), ("branch", "")]),
        )
        .unwrap();
    let stored = all_fields(&t.vault, &t.who, &a);
    assert_eq!(stored["email"], None);
    assert_eq!(stored["notes"], None);
    assert_eq!(stored["branch"], None);
    assert_eq!(stored["given_name"].as_deref(), Some("Ana"));
    assert!(
        t.vault
            .find_subjects(&t.who, "email", "ana@example.org")
            .unwrap()
            .is_empty()
    );
    let north = t
        .vault
        .list_subjects(&t.who, &set(&[("branch", "North")]), None, 10)
        .unwrap();
    assert!(
        north.subjects.is_empty(),
        "a cleared scope attribute still filters"
    );
    let listed = t.vault.list_subjects(&t.who, &[], None, 10).unwrap();
    assert_eq!(listed.subjects.len(), 1);
    assert!(
        listed.subjects[0].scope.is_empty(),
        "{:?}",
        listed.subjects[0].scope
    );

    // Setting it again works.
    t.vault
        .update_subject(&t.who, &a, &set(&[("email", "ana@example.org")]))
        .unwrap();
    assert_eq!(
        ids(&t
            .vault
            .find_subjects(&t.who, "email", "ana@example.org")
            .unwrap()),
        ["A1"]
    );

    let err = t
        .vault
        .update_subject(&t.who, &a, &[])
        .expect_err("nothing to update");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[test]
fn unknown_field_names_are_listed() {
    let t = TestVault::new();
    let a = t.add("A1", &[("given_name", "Ana")]);
    let err = t
        .vault
        .update_subject(
            &t.who,
            &a,
            &set(&[
                ("favourite_colour", "teal"),
                ("given_name", "Anna"),
                ("shoe_size", "5"),
            ]),
        )
        .expect_err("unknown fields");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.problems().len(), 2, "{err}");
    assert!(
        err.problems()[0]
            .message
            .contains("unknown field `favourite_colour`"),
        "{err}"
    );
    assert!(
        err.problems()[1]
            .message
            .contains("unknown field `shoe_size`"),
        "{err}"
    );
    assert!(
        err.problems()[0].message.contains("given_name"),
        "should list the known fields: {err}"
    );
    assert!(!err.to_string().contains("teal"), "{err}");
    assert_eq!(
        t.field(&a, "given_name").as_deref(),
        Some("Ana"),
        "a refused update changed a field"
    );

    let err = t
        .vault
        .read_subject(
            &t.who,
            &a,
            &FieldSelection::Only(vec!["given_name".into(), "nope".into(), "nada".into()]),
        )
        .expect_err("unknown selection");
    let messages = err.to_string();
    assert!(
        messages.contains("`nope`") && messages.contains("`nada`"),
        "{messages}"
    );

    let err = t
        .vault
        .create_subject(&t.who, input(Some("B1"), &[("favourite_colour", "teal")]))
        .expect_err("unknown on create");
    assert!(err.to_string().contains("`favourite_colour`"), "{err}");

    let err = t
        .vault
        .find_subjects(&t.who, "favourite_colour", "teal")
        .expect_err("unknown on find");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[test]
fn filters_apply_to_scope_attributes_only() {
    let t = TestVault::new();
    t.add(
        "A1",
        &[
            ("email", "ana@example.org"),
            ("membership_status", "member"),
        ],
    );
    for (field, value) in [
        ("email", "ana@example.org"),
        ("given_name", "Ana"),
        ("ethnicity", "Zulu-Xhosa"),
    ] {
        let err = t
            .vault
            .list_subjects(&t.who, &set(&[(field, value)]), None, 10)
            .expect_err("non-scope filter");
        assert_eq!(err.kind(), ErrorKind::Invalid, "{field}");
        let message = err.to_string();
        assert!(message.contains("not a scope attribute"), "{message}");
        assert!(
            message.contains("membership_status"),
            "should list the scope attributes: {message}"
        );
        assert!(!message.contains(value), "{message}");
    }
    let err = t
        .vault
        .list_subjects(&t.who, &set(&[("membership_status", "emperor")]), None, 10)
        .expect_err("invalid filter value");
    assert_eq!(err.kind(), ErrorKind::Invalid);

    // Searching is for lookup fields only.
    let err = t
        .vault
        .find_subjects(&t.who, "given_name", "Ana")
        .expect_err("not a lookup");
    assert!(err.to_string().contains("not a lookup field"), "{err}");
    assert!(err.to_string().contains("email, phone, postcode"), "{err}");
}

#[test]
fn scope_filters_follow_updates() {
    let t = TestVault::new();
    let a = t.add(
        "A1",
        &[
            ("membership_status", "member"),
            ("constituency", "E14000639"),
            ("branch", "North"),
        ],
    );
    t.add(
        "B1",
        &[
            ("membership_status", "member"),
            ("constituency", "E14000639"),
            ("branch", "South"),
        ],
    );
    t.add(
        "C1",
        &[
            ("membership_status", "lapsed"),
            ("constituency", "E14000001"),
        ],
    );

    let list = |filters: &[(&str, &str)]| -> Vec<String> {
        t.vault
            .list_subjects(&t.who, &set(filters), None, 100)
            .unwrap()
            .subjects
            .into_iter()
            .map(|s| s.id.to_string())
            .collect()
    };
    assert_eq!(list(&[("membership_status", "member")]), ["A1", "B1"]);
    assert_eq!(
        list(&[("membership_status", "Member"), ("branch", "North")]),
        ["A1"]
    );
    assert_eq!(
        list(&[
            ("constituency", "E14000639"),
            ("membership_status", "lapsed")
        ]),
        Vec::<String>::new()
    );

    t.vault
        .update_subject(
            &t.who,
            &a,
            &set(&[("membership_status", "lapsed"), ("left_on", "2024-05-01")]),
        )
        .unwrap();
    assert_eq!(list(&[("membership_status", "member")]), ["B1"]);
    assert_eq!(list(&[("membership_status", "lapsed")]), ["A1", "C1"]);
    assert_eq!(
        list(&[
            ("constituency", "E14000639"),
            ("membership_status", "lapsed")
        ]),
        ["A1"]
    );
    assert_eq!(list(&[("left_on", "2024-05-01")]), ["A1"]);
    // Three filters at once.
    assert_eq!(
        list(&[
            ("constituency", "E14000639"),
            ("branch", "South"),
            ("membership_status", "member")
        ]),
        ["B1"]
    );
    assert_eq!(
        list(&[
            ("constituency", "E14000639"),
            ("branch", "South"),
            ("membership_status", "lapsed")
        ]),
        Vec::<String>::new()
    );
    // The listing carries the new scope.
    let page = t
        .vault
        .list_subjects(&t.who, &set(&[("branch", "North")]), None, 10)
        .unwrap();
    let scope: Vec<(String, String)> = page.subjects[0]
        .scope
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert!(
        scope.contains(&("membership_status".to_owned(), "lapsed".to_owned())),
        "{scope:?}"
    );
    assert!(!scope.iter().any(|(_, v)| v == "member"), "{scope:?}");
}

#[test]
fn paging_returns_every_subject_exactly_once() {
    let t = TestVault::new();
    let mut csv = String::from("id,branch,membership_status\n");
    for i in 0..250 {
        // Ids that sort differently as text and as numbers.
        let branch = if i % 3 == 0 { "Third" } else { "Other" };
        csv.push_str(&format!("P{i},{branch},member\n"));
    }
    assert_eq!(
        t.import(csv.as_bytes(), import_options()).unwrap().imported,
        250
    );
    let expected: BTreeSet<String> = (0..250).map(|i| format!("P{i}")).collect();

    let walk = |filters: &[(String, String)], limit: usize| -> (Vec<String>, Vec<usize>) {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut after: Option<SubjectId> = None;
        loop {
            let page = t
                .vault
                .list_subjects(&t.who, filters, after.as_ref(), limit)
                .unwrap();
            sizes.push(page.subjects.len());
            seen.extend(page.subjects.iter().map(|s| s.id.to_string()));
            match page.next_after {
                Some(next) => {
                    assert_eq!(Some(&next), page.subjects.last().map(|s| &s.id));
                    after = Some(next);
                }
                None => break,
            }
            assert!(sizes.len() < 100, "paging does not end");
        }
        (seen, sizes)
    };

    let (seen, sizes) = walk(&[], 100);
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(seen.len(), 250, "a subject was listed twice");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages are in id order");

    let (third, _) = walk(&set(&[("branch", "Third")]), 30);
    let expected_third: BTreeSet<String> = (0..250)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("P{i}"))
        .collect();
    assert_eq!(third.len(), expected_third.len());
    assert_eq!(third.into_iter().collect::<BTreeSet<_>>(), expected_third);

    // Limits are clamped to 1..=1000.
    let page = t.vault.list_subjects(&t.who, &[], None, 0).unwrap();
    assert_eq!(page.subjects.len(), 1);
    let page = t.vault.list_subjects(&t.who, &[], None, 1_000_000).unwrap();
    assert_eq!(page.subjects.len(), 250);
    assert!(page.next_after.is_none());
}

#[test]
fn scope_only_reads_need_no_data_key_but_sealed_reads_do() {
    // Scope attributes are in clear by design, so they stay readable even if
    // the data key is destroyed; sealed fields do not.
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    t.db()
        .execute(
            "UPDATE subjects SET wrapped_key = x'00' WHERE id = 'A1'",
            [],
        )
        .unwrap();
    let record = t
        .vault
        .read_subject(
            &t.who,
            &a,
            &FieldSelection::Only(vec!["branch".into(), "id".into()]),
        )
        .unwrap();
    assert_eq!(
        record.fields[1].1.as_ref().map(|v| v.as_str()),
        Some("BranchALPHA")
    );
    let err = t
        .vault
        .read_subject(
            &t.who,
            &a,
            &FieldSelection::Only(vec!["branch".into(), "town".into()]),
        )
        .expect_err("sealed field without a key");
    assert!(matches!(err, EngineError::Integrity { .. }), "{err:?}");
}
