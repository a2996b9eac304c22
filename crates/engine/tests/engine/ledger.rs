//! The access ledger as the engine writes it: one event per decision on
//! every path, never a personal value, fail closed when the ledger cannot
//! take the event, tamper evidence against a lying store, subject histories
//! with inclusion proofs, and a signing key that outlives key rotation.

use std::collections::BTreeSet;
use std::time::Duration;

use custos_crypto::LedgerPublicKey;
use custos_engine::{
    Caller, CsvInput, EngineError, ErrorKind, Event, FieldSelection, NewMasterKey, Outcome,
    SignedHead, Vault,
};
use custos_ledger::Problem;
use custos_ledger::merkle::{Frontier, verify_inclusion};
use custos_model::SubjectId;

use crate::support::{
    BUSY, TestVault, contains, import_options, input, ledger_db, ledger_events, ledger_files, open,
    person, person_values, sid,
};

/// A caller with a purpose, request id and client address of its own, so
/// that the tests can see each of them copied into the event.
fn caller(t: &TestVault, request_id: &str) -> Caller {
    t.vault
        .local_operator_for(request_id, "192.0.2.7")
        .with_purpose(Some("membership_admin"))
}

fn set(values: &[(&str, &str)]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ids(found: &[SubjectId]) -> Vec<&str> {
    found.iter().map(SubjectId::as_str).collect()
}

/// Runs `op` and returns what it returned with the events it recorded.
fn recorded<T>(vault: &Vault, op: impl FnOnce() -> T) -> (T, Vec<Event>) {
    let before = ledger_events(vault).len() as u64;
    let out = op();
    let events = ledger_events(vault)
        .into_iter()
        .filter(|e| e.seq >= before)
        .collect();
    (out, events)
}

/// Checks every recorded field of one event except its reason.
#[track_caller]
fn check(
    e: &Event,
    who: &Caller,
    action: &str,
    subjects: &[&str],
    released: &[&str],
    outcome: Outcome,
) {
    assert_eq!(e.action, action, "{e:#?}");
    assert_eq!(e.subjects, subjects, "{e:#?}");
    assert_eq!(e.fields_released, released, "{e:#?}");
    assert!(e.fields_denied.is_empty(), "{e:#?}");
    assert_eq!(e.outcome, outcome, "{e:#?}");
    assert!(e.principal.starts_with("local:"), "{e:#?}");
    assert_eq!(e.auth, "local_operator", "{e:#?}");
    assert_eq!(Some(e.purpose.as_str()), who.declared_purpose(), "{e:#?}");
    assert_eq!(e.request_id, who.request_id(), "{e:#?}");
    assert_eq!(e.client, who.client(), "{e:#?}");
}

/// The one event recorded by a refused operation: denied, releasing
/// nothing, with a reason containing `reason_has`.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    t: &TestVault,
    who: &Caller,
    op: impl FnOnce() -> Result<T, EngineError>,
    kind: ErrorKind,
    action: &str,
    subjects: &[&str],
    reason_has: &str,
) -> Event {
    let (result, events) = recorded(&t.vault, op);
    let err = result.expect_err("the operation must be refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(events.len(), 1, "{action}: {events:#?}");
    let e = &events[0];
    check(e, who, action, subjects, &[], Outcome::Denied);
    assert!(
        e.reason.contains(reason_has),
        "{action}: reason `{}` should contain `{reason_has}`",
        e.reason
    );
    e.clone()
}

fn all_field_names(vault: &Vault) -> Vec<String> {
    vault
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}

fn scope_field_names(vault: &Vault) -> Vec<String> {
    vault
        .schema()
        .scope_fields()
        .map(|f| f.name().to_string())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn create_read_update_erase_record_one_event_each() {
    let t = TestVault::new();
    let who = caller(&t, "req-create");
    let (id, events) = recorded(&t.vault, || {
        t.vault.create_subject(&who, person("M1", "CARA")).unwrap()
    });
    assert_eq!(events.len(), 1, "{events:#?}");
    check(&events[0], &who, "create", &["M1"], &[], Outcome::Allowed);

    // A generated id is the one recorded.
    let (generated, events) = recorded(&t.vault, || {
        t.vault
            .create_subject(&who, input(None, &[("given_name", "Anon")]))
            .unwrap()
    });
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "create",
        &[generated.as_str()],
        &[],
        Outcome::Allowed,
    );

    // A selection releases exactly the fields selected (in schema order,
    // once each), and the event names exactly those.
    let who = caller(&t, "req-read");
    let selection = FieldSelection::Only(vec![
        "notes".into(),
        "email".into(),
        " branch ".into(),
        "email".into(),
    ]);
    let (record, events) = recorded(&t.vault, || {
        t.vault.read_subject(&who, &id, &selection).unwrap()
    });
    let returned: Vec<&str> = record.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(returned, ["email", "branch", "notes"]);
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "read",
        &["M1"],
        &returned,
        Outcome::Allowed,
    );

    // Every field.
    let (record, events) = recorded(&t.vault, || {
        t.vault
            .read_subject(&who, &id, &FieldSelection::All)
            .unwrap()
    });
    let all = all_field_names(&t.vault);
    assert_eq!(record.fields.len(), all.len());
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "read",
        &["M1"],
        &strs(&all),
        Outcome::Allowed,
    );

    // An update names the fields changed, not their values.
    let who = caller(&t, "req-update");
    let (_, events) = recorded(&t.vault, || {
        t.vault
            .update_subject(&who, &id, &set(&[("town", "Puddlecombe"), ("notes", "")]))
            .unwrap()
    });
    assert_eq!(events.len(), 1, "{events:#?}");
    check(&events[0], &who, "update", &["M1"], &[], Outcome::Allowed);
    assert!(events[0].reason.contains("town"), "{}", events[0].reason);
    assert!(!events[0].reason.contains("Puddlecombe"));
    assert_eq!(t.field(&id, "town").as_deref(), Some("Puddlecombe"));

    let who = caller(&t, "req-erase");
    let (_, events) = recorded(&t.vault, || t.vault.erase_subject(&who, &id).unwrap());
    assert_eq!(events.len(), 1, "{events:#?}");
    check(&events[0], &who, "erase", &["M1"], &[], Outcome::Allowed);
}

#[test]
fn find_and_list_record_the_subjects_they_return() {
    let t = TestVault::new();
    t.add("M1", &[("email", "twin@example.org"), ("branch", "North")]);
    t.add("M2", &[("email", "Twin@Example.org"), ("branch", "North")]);
    t.add("M3", &[("email", "solo@example.org"), ("branch", "South")]);
    let who = caller(&t, "req-find");

    let (found, events) = recorded(&t.vault, || {
        t.vault
            .find_subjects(&who, "email", "TWIN@example.org")
            .unwrap()
    });
    let mut sorted = ids(&found);
    sorted.sort_unstable();
    assert_eq!(sorted, ["M1", "M2"]);
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "find",
        &ids(&found),
        &["id"],
        Outcome::Allowed,
    );
    assert!(!events[0].reason.contains("twin"), "{}", events[0].reason);

    // A search that finds nobody is still recorded, touching and releasing
    // nothing.
    let (found, events) = recorded(&t.vault, || {
        t.vault
            .find_subjects(&who, "email", "nobody@example.org")
            .unwrap()
    });
    assert!(found.is_empty());
    assert_eq!(events.len(), 1, "{events:#?}");
    check(&events[0], &who, "find", &[], &[], Outcome::Allowed);

    // A listing touches the subjects listed and releases their ids and the
    // scope fields.
    let who = caller(&t, "req-list");
    let scope = scope_field_names(&t.vault);
    let filters = set(&[("branch", "North")]);
    let (page, events) = recorded(&t.vault, || {
        t.vault.list_subjects(&who, &filters, None, 100).unwrap()
    });
    let listed: Vec<&str> = page.subjects.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(listed, ["M1", "M2"]);
    assert_eq!(events.len(), 1, "{events:#?}");
    let mut released = vec!["id"];
    released.extend(strs(&scope));
    check(
        &events[0],
        &who,
        "list",
        &listed,
        &released,
        Outcome::Allowed,
    );

    // Only the page returned, not every match.
    let (page, events) = recorded(&t.vault, || {
        t.vault.list_subjects(&who, &[], None, 1).unwrap()
    });
    assert_eq!(page.subjects.len(), 1);
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "list",
        &["M1"],
        &released,
        Outcome::Allowed,
    );
    let after = sid("M1");
    let (page, events) = recorded(&t.vault, || {
        t.vault.list_subjects(&who, &[], Some(&after), 100).unwrap()
    });
    assert_eq!(page.subjects.len(), 2);
    check(
        &events[0],
        &who,
        "list",
        &["M2", "M3"],
        &released,
        Outcome::Allowed,
    );
}

#[test]
fn export_records_each_page_of_subjects_as_one_event() {
    let t = TestVault::new();
    t.add_person("M1", "ALPHA");
    t.add("M2", &[("given_name", "Bo"), ("branch", "BranchALPHA")]);
    t.add("M3", &[("given_name", "Cy"), ("branch", "Other")]);
    let who = caller(&t, "req-export");

    let mut out = Vec::new();
    let selection = FieldSelection::Only(vec!["email".into(), "given_name".into()]);
    let filters = set(&[("branch", "BranchALPHA")]);
    let (report, events) = recorded(&t.vault, || {
        t.vault
            .export_csv(&who, &mut out, &selection, &filters, &[])
            .unwrap()
    });
    assert_eq!(report.rows, 2);
    assert_eq!(events.len(), 1, "one event per page: {events:#?}");
    check(
        &events[0],
        &who,
        "export",
        &["M1", "M2"],
        &["given_name", "email"],
        Outcome::Allowed,
    );

    // By id, in the order given, every field.
    let mut out = Vec::new();
    let (report, events) = recorded(&t.vault, || {
        t.vault
            .export_csv(
                &who,
                &mut out,
                &FieldSelection::All,
                &[],
                &[sid("M3"), sid("M1")],
            )
            .unwrap()
    });
    assert_eq!(report.rows, 2);
    let all = all_field_names(&t.vault);
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "export",
        &["M3", "M1"],
        &strs(&all),
        Outcome::Allowed,
    );

    // An unknown id refuses the export: its refusal is recorded, and no
    // other subject is recorded as exported or written out.
    let mut out = Vec::new();
    let (result, events) = recorded(&t.vault, || {
        t.vault
            .export_csv(
                &who,
                &mut out,
                &FieldSelection::All,
                &[],
                &[sid("M1"), sid("NOBODY")],
            )
            .map(|r| r.rows)
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "export",
        &["NOBODY"],
        &[],
        Outcome::Denied,
    );
    let written = String::from_utf8_lossy(&out);
    assert!(!written.contains("ZebedeeALPHA"), "{written}");
    assert!(!written.contains("M1"), "{written}");
}

#[test]
fn import_records_one_event_per_subject_and_a_dry_run_none() {
    let t = TestVault::new();
    let who = caller(&t, "req-import");
    let mut csv = String::from("id,given_name,email\n");
    let rows = 1500; // more than one sealing batch of 1024
    for i in 0..rows {
        csv.push_str(&format!("I{i},Ivy{i},ivy{i}@example.org\n"));
    }
    let import = |dry_run: bool| {
        let mut options = import_options();
        options.dry_run = dry_run;
        t.vault
            .import_csv(&who, CsvInput::Bytes(csv.as_bytes()), &options, &|_| {})
            .unwrap()
    };

    let (report, events) = recorded(&t.vault, || import(true));
    assert_eq!((report.rows, report.imported), (rows, 0));
    assert!(events.is_empty(), "a dry run records nothing: {events:#?}");

    let (report, events) = recorded(&t.vault, || import(false));
    assert_eq!(report.imported, rows);
    assert_eq!(events.len() as u64, rows, "one event per imported subject");
    let mut seen = BTreeSet::new();
    for e in &events {
        assert_eq!(e.subjects.len(), 1, "{e:#?}");
        let id = e.subjects[0].clone();
        check(e, &who, "import", &[id.as_str()], &[], Outcome::Allowed);
        seen.insert(id);
    }
    let expected: BTreeSet<String> = (0..rows).map(|i| format!("I{i}")).collect();
    assert_eq!(seen, expected);
}

#[test]
fn refusals_are_recorded_as_denied_and_release_nothing() {
    let t = TestVault::new();
    let id = t.add_person("M1", "DELTA");
    let who = caller(&t, "req-refused");
    let nobody = sid("NOBODY");

    refused(
        &t,
        &who,
        || t.vault.read_subject(&who, &nobody, &FieldSelection::All),
        ErrorKind::NotFound,
        "read",
        &["NOBODY"],
        "no subject `NOBODY`",
    );
    refused(
        &t,
        &who,
        || {
            t.vault.read_subject(
                &who,
                &id,
                &FieldSelection::Only(vec!["email".into(), "shoe_size".into()]),
            )
        },
        ErrorKind::Invalid,
        "read",
        &["M1"],
        "invalid request", // unknown names are not copied into the ledger
    );
    let e = refused(
        &t,
        &who,
        || {
            t.vault.create_subject(
                &who,
                input(Some("M2"), &[("email", "Wibblesnout at nowhere")]),
            )
        },
        ErrorKind::Invalid,
        "create",
        &["M2"],
        "email",
    );
    assert!(!e.reason.contains("Wibblesnout"), "{}", e.reason);
    let e = refused(
        &t,
        &who,
        || {
            t.vault
                .update_subject(&who, &id, &set(&[("date_of_birth", "Grumbleday-99")]))
        },
        ErrorKind::Invalid,
        "update",
        &["M1"],
        "date_of_birth",
    );
    assert!(!e.reason.contains("Grumbleday"), "{}", e.reason);
    refused(
        &t,
        &who,
        || t.vault.update_subject(&who, &id, &[]),
        ErrorKind::Invalid,
        "update",
        &["M1"],
        "no fields",
    );
    refused(
        &t,
        &who,
        || {
            t.vault
                .update_subject(&who, &nobody, &set(&[("town", "X")]))
        },
        ErrorKind::NotFound,
        "update",
        &["NOBODY"],
        "NOBODY",
    );
    refused(
        &t,
        &who,
        || t.vault.erase_subject(&who, &nobody),
        ErrorKind::NotFound,
        "erase",
        &["NOBODY"],
        "NOBODY",
    );
    refused(
        &t,
        &who,
        || t.vault.find_subjects(&who, "given_name", "ZebedeeDELTA"),
        ErrorKind::Invalid,
        "find",
        &[],
        "not a lookup field",
    );
    let e = refused(
        &t,
        &who,
        || t.vault.find_subjects(&who, "email", "Snorkelwhistle"),
        ErrorKind::Invalid,
        "find",
        &[],
        "email",
    );
    assert!(!e.reason.contains("Snorkelwhistle"), "{}", e.reason);
    refused(
        &t,
        &who,
        || {
            t.vault
                .list_subjects(&who, &set(&[("email", "zeb@example.org")]), None, 10)
        },
        ErrorKind::Invalid,
        "list",
        &[],
        "not a scope attribute",
    );

    // Nothing was changed by any of them.
    assert_eq!(t.count(), 1);
    assert_eq!(
        t.field(&id, "email").as_deref(),
        Some("zeb.delta@example.org")
    );
}

#[test]
fn creating_an_existing_subject_ends_in_a_refusal_in_the_ledger() {
    let t = TestVault::new();
    t.add_person("M1", "ECHO");
    let who = caller(&t, "req-duplicate");
    let (result, events) = recorded(&t.vault, || {
        t.vault.create_subject(&who, person("M1", "FOXTROT"))
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Conflict);
    // The create is recorded before it is tried; when the write then fails,
    // the ledger must not end with the create looking successful.
    let last = events.last().expect("the attempt is recorded");
    assert_eq!(last.action, "create");
    assert_eq!(last.subjects, ["M1"]);
    assert_ne!(last.outcome, Outcome::Allowed, "{events:#?}");
    assert!(events.iter().all(|e| e.fields_released.is_empty()));
    assert!(events.iter().all(|e| e.request_id == "req-duplicate"));
    assert_eq!(
        t.field(&sid("M1"), "given_name").as_deref(),
        Some("ZebedeeECHO")
    );
}

#[test]
fn export_refusals_are_recorded() {
    let t = TestVault::new();
    t.add_person("M1", "GOLF");
    let who = caller(&t, "req-export-refused");
    let mut out = Vec::new();
    refused(
        &t,
        &who,
        || {
            t.vault.export_csv(
                &who,
                &mut out,
                &FieldSelection::Only(vec!["shoe_size".into()]),
                &[],
                &[],
            )
        },
        ErrorKind::Invalid,
        "export",
        &[],
        "invalid request",
    );
    let mut out = Vec::new();
    refused(
        &t,
        &who,
        || {
            t.vault.export_csv(
                &who,
                &mut out,
                &FieldSelection::All,
                &set(&[("email", "zeb@example.org")]),
                &[],
            )
        },
        ErrorKind::Invalid,
        "export",
        &[],
        "not a scope attribute",
    );
}

#[test]
fn a_create_with_an_invalid_id_is_recorded() {
    let t = TestVault::new();
    let who = caller(&t, "req-bad-id");
    refused(
        &t,
        &who,
        || {
            t.vault
                .create_subject(&who, input(Some("not an id!"), &[("given_name", "Ana")]))
        },
        ErrorKind::Invalid,
        "create",
        &[],
        "",
    );
}

#[test]
fn import_refusals_are_recorded() {
    let t = TestVault::new();
    let who = caller(&t, "req-import-refused");
    let csv = "id,email\nI1,Flibbertigibbet at nowhere\n";
    let e = refused(
        &t,
        &who,
        || {
            t.vault.import_csv(
                &who,
                CsvInput::Bytes(csv.as_bytes()),
                &import_options(),
                &|_| {},
            )
        },
        ErrorKind::Invalid,
        "import",
        &[],
        "email",
    );
    assert!(!e.reason.contains("Flibbertigibbet"), "{}", e.reason);
}

#[test]
fn no_event_ever_contains_a_personal_value() {
    let t = TestVault::new();
    let who = t.who.clone();
    let tags = ["HOTELQ", "INDIAQ", "JULIETQ"];
    let mut values: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let id = format!("M{}", i + 1);
        t.add_person(&id, tag);
        let p = person_values(tag, 0);
        for (_, raw, stored) in p.sealed {
            values.push(raw);
            values.push(stored);
        }
        // Scope attributes are personal too, though kept in clear in the
        // store; "member" is left out, as it is in `membership_status`.
        values.extend(
            p.scope
                .into_iter()
                .map(|(_, v)| v)
                .filter(|v| v != "member"),
        );
    }
    let m1 = sid("M1");
    let m2 = sid("M2");
    // Reads, updates, searches and listings, allowed and refused, each
    // with its own distinctive value.
    t.vault
        .read_subject(&who, &m1, &FieldSelection::All)
        .unwrap();
    t.vault
        .update_subject(
            &who,
            &m2,
            &set(&[
                ("town", "Thistlewaite"),
                ("notes", "Wants Gobbledygook post"),
            ]),
        )
        .unwrap();
    values.extend(["Thistlewaite".into(), "Wants Gobbledygook post".into()]);
    t.vault
        .update_subject(&who, &m2, &set(&[("joined_on", "Snickersnee")]))
        .unwrap_err();
    t.vault
        .find_subjects(&who, "email", "Zeb.INDIAQ@example.org")
        .unwrap();
    t.vault
        .find_subjects(&who, "phone", "07700 900000")
        .unwrap();
    t.vault
        .find_subjects(&who, "email", "Quibblefrump at nowhere")
        .unwrap_err();
    t.vault
        .find_subjects(&who, "town", "KettlesbyHOTELQ")
        .unwrap_err();
    t.vault
        .list_subjects(&who, &set(&[("branch", "BranchJULIETQ")]), None, 10)
        .unwrap();
    t.vault
        .list_subjects(
            &who,
            &set(&[("membership_status", "Brouhahaist")]),
            None,
            10,
        )
        .unwrap_err();
    t.vault
        .create_subject(
            &who,
            input(
                Some("M9"),
                &[("date_of_birth", "Fandangle"), ("given_name", "Xerxessa")],
            ),
        )
        .unwrap_err();
    values.extend([
        "Snickersnee".into(),
        "Quibblefrump".into(),
        "Brouhahaist".into(),
        "Fandangle".into(),
        "Xerxessa".into(),
    ]);
    let mut out = Vec::new();
    t.vault
        .export_csv(&who, &mut out, &FieldSelection::All, &[], &[m1.clone(), m2])
        .unwrap();
    let csv = "id,given_name,email,notes\nM7,Ottoline,otto.pemberly@example.org,Hates Kerfuffles\n";
    t.import(csv.as_bytes(), import_options()).unwrap();
    values.extend([
        "Ottoline".into(),
        "otto.pemberly@example.org".into(),
        "Hates Kerfuffles".into(),
    ]);
    t.vault.erase_subject(&who, &sid("M3")).unwrap();
    t.vault.ledger_head(&t.vault.local_operator()).unwrap();

    let events = ledger_events(&t.vault);
    assert!(events.len() >= 15, "{}", events.len());
    let files = ledger_files(&t.dir());
    assert!(files.iter().any(|(name, _)| name == "ledger.sqlite"));
    // The scan can fail: the ledger does hold the ids and field names.
    assert!(files.iter().any(|(_, b)| contains(b, b"date_of_birth")));
    assert!(events.iter().any(|e| e.to_json().contains("M1")));
    for value in &values {
        assert!(value.len() >= 6, "too short to be distinctive: {value}");
        for (name, bytes) in &files {
            assert!(
                !contains(bytes, value.as_bytes()),
                "{name} contains the personal value {value:?}"
            );
        }
        for e in &events {
            assert!(
                !e.to_json().contains(value.as_str()),
                "event {} contains the personal value {value:?}: {}",
                e.seq,
                e.to_json()
            );
        }
    }
}

#[test]
fn a_locked_ledger_fails_every_access_closed() {
    let t = TestVault::with_busy(Duration::from_millis(150));
    let id = t.add_person("M1", "KILO");
    t.add("M2", &[("given_name", "Lima"), ("branch", "BranchKILO")]);
    let before = ledger_events(&t.vault).len() as u64;

    let blocker = ledger_db(&t.dir());
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let who = caller(&t, "req-locked");
    #[track_caller]
    fn unavailable<T: std::fmt::Debug>(result: Result<T, EngineError>) -> EngineError {
        let err = result.expect_err("must fail closed while the ledger is locked");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(matches!(err, EngineError::Unrecorded(_)), "{err:?}");
        assert!(!err.to_string().contains("KILO"), "{err}");
        err
    }
    unavailable(t.vault.read_subject(&who, &id, &FieldSelection::All));
    unavailable(
        t.vault
            .read_subject(&who, &id, &FieldSelection::Only(vec!["branch".into()])),
    );
    unavailable(t.vault.create_subject(&who, person("M3", "MIKE")));
    unavailable(
        t.vault
            .update_subject(&who, &id, &set(&[("town", "Nowhereton")])),
    );
    unavailable(t.vault.erase_subject(&who, &id));
    unavailable(t.vault.find_subjects(&who, "email", "zeb.kilo@example.org"));
    unavailable(t.vault.list_subjects(&who, &[], None, 10));
    let mut out = Vec::new();
    unavailable(
        t.vault
            .export_csv(&who, &mut out, &FieldSelection::All, &[], &[]),
    );
    let written = String::from_utf8_lossy(&out);
    assert!(
        !written.contains("KILO") && !written.contains("M1"),
        "{written}"
    );
    unavailable(t.import(b"id,given_name\nM4,November\n", import_options()));

    blocker.execute_batch("ROLLBACK").unwrap();
    // Nothing was changed, and nothing that failed is in the ledger.
    assert_eq!(t.count(), 2);
    assert!(
        ledger_events(&t.vault).iter().all(|e| e.seq < before),
        "failed accesses were recorded"
    );
    // The same read now works, and is recorded.
    let (record, events) = recorded(&t.vault, || {
        t.vault
            .read_subject(&who, &id, &FieldSelection::Only(vec!["town".into()]))
            .unwrap()
    });
    assert_eq!(
        record.fields[0].1.as_ref().map(|v| v.as_str()),
        Some("KettlesbyKILO")
    );
    assert_eq!(events.len(), 1, "{events:#?}");
    check(
        &events[0],
        &who,
        "read",
        &["M1"],
        &["town"],
        Outcome::Allowed,
    );
    assert!(
        t.vault
            .ledger_verify(&t.vault.local_operator(), None)
            .unwrap()
            .is_ok()
    );
}

#[test]
fn a_refusal_that_cannot_be_recorded_fails_as_unavailable() {
    let t = TestVault::with_busy(Duration::from_millis(150));
    t.add_person("M1", "OSCAR");
    let blocker = ledger_db(&t.dir());
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = t
        .vault
        .read_subject(&t.who, &sid("NOBODY"), &FieldSelection::All)
        .unwrap_err();
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

/// A vault with a created subject and eight reads of it, and a signed head
/// at every size, so that a rebuilt tree is caught at the exact event.
fn ledger_with_heads() -> (TestVault, u64) {
    let t = TestVault::new();
    let id = t.add_person("M1", "PAPA");
    t.vault.ledger_head(&t.vault.local_operator()).unwrap();
    for _ in 0..8 {
        t.field(&id, "email");
        t.vault.ledger_head(&t.vault.local_operator()).unwrap();
    }
    let n = ledger_events(&t.vault).len() as u64;
    assert_eq!(n, 9);
    (t, n)
}

fn problem(vault: &Vault) -> Problem {
    vault
        .ledger_verify(&vault.local_operator(), None)
        .unwrap()
        .problem
        .expect("verify must report the tampering")
}

#[test]
fn verify_passes_on_an_honest_ledger() {
    let empty = TestVault::new();
    let report = empty
        .vault
        .ledger_verify(&empty.vault.local_operator(), None)
        .unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.events_checked, 0);

    let (t, n) = ledger_with_heads();
    let head = t.vault.ledger_head(&t.vault.local_operator()).unwrap();
    let report = t
        .vault
        .ledger_verify(&t.vault.local_operator(), None)
        .unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.events_checked, n);
    assert!(report.heads_checked >= n, "{report:?}");
    assert_eq!(report.root, *head.head().root());
    // A reopened vault (a new recorder) agrees.
    let reopened = t.reopen().unwrap();
    assert!(
        reopened
            .ledger_verify(&reopened.local_operator(), None)
            .unwrap()
            .is_ok()
    );
}

#[test]
fn verify_names_an_edited_event() {
    let (t, _) = ledger_with_heads();
    ledger_db(&t.dir())
        .execute(
            "UPDATE ledger_events SET principal = 'local:mallory' WHERE seq = 4",
            [],
        )
        .unwrap();
    let p = problem(&t.vault);
    assert_eq!(p, Problem::Altered { seq: 4 });
    assert!(p.to_string().contains("event 4 "), "{p}");
}

#[test]
fn verify_names_an_edit_whose_leaf_hash_was_rebuilt() {
    let (t, _) = ledger_with_heads();
    // The liar also rewrites the stored leaf hash to match the edit; the
    // signed head at size 6 no longer matches.
    let mut e = ledger_events(&t.vault)[5].clone();
    e.fields_released = vec!["given_name".into()];
    let db = ledger_db(&t.dir());
    db.execute(
        "UPDATE ledger_events SET fields_released = 'given_name', leaf_hash = ?1 WHERE seq = 5",
        [e.leaf_hash().as_bytes().to_vec()],
    )
    .unwrap();
    let p = problem(&t.vault);
    assert_eq!(p, Problem::RootMismatch { size: 6, since: 5 });
    assert!(p.to_string().contains("event 5 does not match"), "{p}");
}

#[test]
fn verify_names_a_deleted_event() {
    let (t, n) = ledger_with_heads();
    let db = ledger_db(&t.dir());
    db.execute("DELETE FROM ledger_events WHERE seq = 3", [])
        .unwrap();
    let p = problem(&t.vault);
    assert_eq!(
        p,
        Problem::UnexpectedSeq {
            expected: 3,
            found: 4
        }
    );
    assert!(p.to_string().contains("event 3 is missing"), "{p}");

    // Dropping the newest event is a truncation below a signed head.
    let (t, _) = ledger_with_heads();
    ledger_db(&t.dir())
        .execute("DELETE FROM ledger_events WHERE seq = ?1", [n - 1])
        .unwrap();
    assert_eq!(
        problem(&t.vault),
        Problem::Truncated {
            head_size: n,
            log_size: n - 1
        }
    );
}

/// Every column of `ledger_events` but `seq`.
const CONTENT: [&str; 13] = [
    "time",
    "principal",
    "auth",
    "action",
    "purpose",
    "subjects",
    "fields_released",
    "fields_denied",
    "outcome",
    "reason",
    "request_id",
    "client",
    "leaf_hash",
];

#[test]
fn verify_names_swapped_events() {
    let (t, _) = ledger_with_heads();
    let db = ledger_db(&t.dir());
    // Swap every column but seq (leaf hashes too) of events 2 and 6, through
    // a parking seq.
    let columns = CONTENT.join(", ");
    let assign = CONTENT
        .iter()
        .map(|c| format!("{c} = (SELECT {c} FROM ledger_events WHERE seq = ?2)"))
        .collect::<Vec<_>>()
        .join(", ");
    db.execute_batch(&format!(
        "BEGIN; INSERT INTO ledger_events (seq, {columns}) SELECT 1000, {columns} FROM ledger_events WHERE seq = 2;"
    ))
    .unwrap();
    db.execute(
        &format!("UPDATE ledger_events SET {assign} WHERE seq = ?1"),
        [2, 6],
    )
    .unwrap();
    db.execute(
        &format!("UPDATE ledger_events SET {assign} WHERE seq = ?1"),
        [6, 1000],
    )
    .unwrap();
    db.execute_batch("DELETE FROM ledger_events WHERE seq = 1000; COMMIT;")
        .unwrap();
    let events = ledger_events(&t.vault);
    assert_eq!(events.len(), 9);
    let p = problem(&t.vault);
    assert_eq!(p, Problem::Altered { seq: 2 });
    assert!(p.to_string().contains("event 2 "), "{p}");
}

#[test]
fn verify_names_a_duplicated_event() {
    let (t, _) = ledger_with_heads();
    let db = ledger_db(&t.dir());
    // Event 4 is copied in after itself and the rest renumbered, as if it
    // had been recorded twice.
    let columns = CONTENT.join(", ");
    db.execute_batch(&format!(
        "BEGIN;
         UPDATE ledger_events SET seq = -(seq + 1) WHERE seq >= 5;
         UPDATE ledger_events SET seq = -seq WHERE seq < 0;
         INSERT INTO ledger_events (seq, {columns}) SELECT 5, {columns} FROM ledger_events WHERE seq = 4;
         COMMIT;"
    ))
    .unwrap();
    assert_eq!(ledger_events(&t.vault).len(), 10);
    assert_eq!(problem(&t.vault), Problem::Altered { seq: 5 });
}

#[test]
fn verify_refuses_a_forged_stored_head() {
    let (t, _) = ledger_with_heads();
    let db = ledger_db(&t.dir());
    // The head at size 7 is given the root of the head at size 8.
    db.execute(
        "UPDATE ledger_heads SET root = (SELECT root FROM ledger_heads WHERE size = 8) WHERE size = 7",
        [],
    )
    .unwrap();
    let p = problem(&t.vault);
    assert!(
        matches!(p, Problem::BadHeadSignature { size: 7, .. }),
        "{p:?}"
    );
}

#[test]
fn verify_against_a_published_head() {
    let t = TestVault::new();
    let id = t.add_person("M1", "QUEBEC");
    let published = t.vault.ledger_head(&t.vault.local_operator()).unwrap();
    assert_eq!(published.head().size(), 1);
    for _ in 0..5 {
        t.field(&id, "email");
    }
    let report = t
        .vault
        .ledger_verify(&t.vault.local_operator(), Some(&published))
        .unwrap();
    assert_eq!(report.problem, None);
    // The head of today, too.
    let today = t.vault.ledger_head(&t.vault.local_operator()).unwrap();
    assert!(
        t.vault
            .ledger_verify(&t.vault.local_operator(), Some(&today))
            .unwrap()
            .is_ok()
    );

    // A head of another vault.
    let other = TestVault::new();
    other.add_person("M1", "QUEBEC");
    let foreign = other
        .vault
        .ledger_head(&other.vault.local_operator())
        .unwrap();
    let report = t
        .vault
        .ledger_verify(&t.vault.local_operator(), Some(&foreign))
        .unwrap();
    assert!(
        matches!(report.problem, Some(Problem::HeadFromAnotherVault { .. })),
        "{report:?}"
    );

    // The published head with its root altered (to another true root of
    // this ledger).
    let mut json: serde_json::Value = serde_json::from_str(&published.to_json()).unwrap();
    let other_root: serde_json::Value = serde_json::from_str(&today.to_json()).unwrap();
    json["root"] = other_root["root"].clone();
    let altered = SignedHead::from_json(&json.to_string()).unwrap();
    assert_ne!(altered.head().root(), published.head().root());
    let report = t
        .vault
        .ledger_verify(&t.vault.local_operator(), Some(&altered))
        .unwrap();
    assert!(
        matches!(report.problem, Some(Problem::BadHeadSignature { .. })),
        "{report:?}"
    );
}

#[test]
fn a_truncated_then_regrown_ledger_fails_against_a_published_head() {
    let (t, n) = ledger_with_heads();
    let published = t.vault.ledger_head(&t.vault.local_operator()).unwrap();
    assert_eq!(published.head().size(), n);
    let TestVault { tmp, vault, .. } = t;
    drop(vault);
    let dir = tmp.path().join("vault");
    // A careful liar: events from 4 on go, with every head and tree node
    // that covered them.
    ledger_db(&dir)
        .execute_batch(
            "DELETE FROM ledger_events WHERE seq >= 4;
             DELETE FROM ledger_event_subjects WHERE seq >= 4;
             DELETE FROM ledger_heads WHERE size > 4;
             DELETE FROM ledger_nodes WHERE (idx + 1) * (1 << level) > 4;",
        )
        .unwrap();
    let vault = open(&dir, Default::default(), BUSY).unwrap();
    let report = vault
        .ledger_verify(&vault.local_operator(), Some(&published))
        .unwrap();
    assert!(
        matches!(report.problem, Some(Problem::OlderHead { seen, .. }) if seen == n),
        "{report:?}"
    );

    // Regrown past the published size with other events.
    let who = vault.local_operator();
    for _ in 0..8 {
        vault
            .read_subject(&who, &sid("M1"), &FieldSelection::All)
            .unwrap();
    }
    assert!(ledger_events(&vault).len() as u64 > n);
    let report = vault
        .ledger_verify(&vault.local_operator(), Some(&published))
        .unwrap();
    assert!(
        matches!(report.problem, Some(Problem::NotExtension { previous_size, .. }) if previous_size == n),
        "{report:?}"
    );
}

#[test]
fn subject_history_lists_every_access_with_inclusion_proofs() {
    let t = TestVault::new();
    let m1 = t.add("M1", &[("email", "shared@example.org"), ("branch", "West")]);
    let m2 = t.add("M2", &[("email", "shared@example.org"), ("branch", "West")]);
    let m3 = t.add("M3", &[("email", "own@example.org"), ("branch", "East")]);
    let who = t.who.clone();
    t.field(&m1, "email");
    t.field(&m2, "email");
    t.vault
        .update_subject(&who, &m1, &set(&[("town", "Wendle")]))
        .unwrap();
    t.vault
        .find_subjects(&who, "email", "shared@example.org")
        .unwrap();
    t.vault.list_subjects(&who, &[], None, 100).unwrap();
    t.vault
        .export_csv(
            &who,
            &mut Vec::<u8>::new(),
            &FieldSelection::All,
            &[],
            &[m2.clone(), m1.clone()],
        )
        .unwrap();
    t.vault
        .read_subject(&who, &m1, &FieldSelection::Only(vec!["shoe_size".into()]))
        .unwrap_err();
    t.field(&m3, "email");
    t.vault.erase_subject(&who, &m3).unwrap();

    let key = LedgerPublicKey::from_base64(&t.vault.ledger_public_key()).unwrap();
    let pub_file = std::fs::read_to_string(t.dir().join("ledger.pub")).unwrap();
    assert_eq!(pub_file.trim(), t.vault.ledger_public_key());

    let history = t
        .vault
        .ledger_subject(&t.vault.local_operator(), &m1)
        .unwrap();
    let all = ledger_events(&t.vault);
    let head = history.head.head();
    assert_eq!(head.size(), all.len() as u64);
    history.head.verify(&key).unwrap();
    // The head's root is the root of the events as queried.
    let mut frontier = Frontier::new();
    all.iter().for_each(|e| frontier.append(e.leaf_hash()));
    assert_eq!(frontier.root(), *head.root());

    // Exactly the events that touched M1: a brute-force scan agrees.
    let expected: Vec<&Event> = all
        .iter()
        .filter(|e| e.subjects.iter().any(|s| s == "M1"))
        .collect();
    let actions: Vec<&str> = expected.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["create", "read", "update", "find", "list", "export", "read"]
    );
    let got: Vec<&Event> = history.events.iter().map(|p| &p.event).collect();
    assert_eq!(got, expected);
    for proven in &history.events {
        let e = &proven.event;
        assert!(
            verify_inclusion(
                &e.leaf_hash(),
                e.seq,
                head.size(),
                &proven.proof,
                head.root()
            ),
            "event {} does not prove",
            e.seq
        );
        // A proof is for its event at its place only.
        let mut forged = e.clone();
        forged.principal = "local:mallory".into();
        assert!(!verify_inclusion(
            &forged.leaf_hash(),
            e.seq,
            head.size(),
            &proven.proof,
            head.root()
        ));
        assert!(!verify_inclusion(
            &e.leaf_hash(),
            (e.seq + 1) % head.size(),
            head.size(),
            &proven.proof,
            head.root()
        ));
    }

    // The erased subject's history includes its erasure; a stranger's is
    // empty.
    let m3_actions: Vec<String> = t
        .vault
        .ledger_subject(&t.vault.local_operator(), &m3)
        .unwrap()
        .events
        .into_iter()
        .map(|p| p.event.action)
        .collect();
    assert_eq!(m3_actions, ["create", "list", "read", "erase"]);
    assert!(
        t.vault
            .ledger_subject(&t.vault.local_operator(), &sid("M9"))
            .unwrap()
            .events
            .is_empty()
    );
}

#[test]
fn the_signing_key_survives_master_key_rotation() {
    let mut t = TestVault::new();
    let id = t.add_person("M1", "ROMEO");
    t.field(&id, "email");
    let key = t.vault.ledger_public_key();
    let before = t.vault.ledger_head(&t.vault.local_operator()).unwrap();

    t.vault.rotate_master_key(NewMasterKey::File).unwrap();
    assert_eq!(t.vault.ledger_public_key(), key);
    assert!(
        t.vault
            .ledger_verify(&t.vault.local_operator(), None)
            .unwrap()
            .is_ok()
    );
    assert!(
        t.vault
            .ledger_verify(&t.vault.local_operator(), Some(&before))
            .unwrap()
            .is_ok()
    );
    let (_, events) = recorded(&t.vault, || t.field(&id, "given_name"));
    assert_eq!(events.len(), 1);
    check(
        &events[0],
        &t.who,
        "read",
        &["M1"],
        &["given_name"],
        Outcome::Allowed,
    );

    // Reopened with the new master key: same signing key, and new heads
    // verify under the public key published before the rotation.
    let reopened = t.reopen().unwrap();
    assert_eq!(reopened.ledger_public_key(), key);
    let who = reopened.local_operator();
    let (_, events) = recorded(&reopened, || {
        reopened
            .read_subject(&who, &id, &FieldSelection::Only(vec!["town".into()]))
            .unwrap()
    });
    assert_eq!(events.len(), 1);
    check(
        &events[0],
        &who,
        "read",
        &["M1"],
        &["town"],
        Outcome::Allowed,
    );
    let after = reopened.ledger_head(&reopened.local_operator()).unwrap();
    after
        .verify(&LedgerPublicKey::from_base64(&key).unwrap())
        .unwrap();
    let report = reopened
        .ledger_verify(&reopened.local_operator(), Some(&before))
        .unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.events_checked, after.head().size());
}
