//! No personal value outside the scope attributes reaches the store files in
//! clear, whichever path wrote it.

use crate::support::{
    Person, TestVault, files_containing, import_options, person_values, sid, store_files,
};

/// The byte strings that must never appear in the store: every sealed
/// value's normalised form, and its raw form where that differs.
fn forbidden(p: &Person) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (field, raw, stored) in &p.sealed {
        out.push(((*field).to_owned(), stored.clone()));
        if raw != stored {
            out.push(((*field).to_owned(), raw.clone()));
        }
    }
    // The digits of the phone number without prefix, and the local part of
    // the email, in case either is stored in some other spelling.
    let phone = &p
        .sealed
        .iter()
        .find(|(f, _, _)| *f == "phone")
        .expect("phone")
        .2;
    out.push((
        "phone".to_owned(),
        phone.trim_start_matches("+44").to_owned(),
    ));
    let email = &p
        .sealed
        .iter()
        .find(|(f, _, _)| *f == "email")
        .expect("email")
        .2;
    out.push((
        "email".to_owned(),
        email.split('@').next().expect("local part").to_owned(),
    ));
    out
}

fn assert_no_plaintext(dir: &std::path::Path, people: &[&Person], when: &str) {
    let files = store_files(dir);
    assert!(
        files
            .iter()
            .any(|(n, b)| n == "store.sqlite" && !b.is_empty()),
        "{when}: no store"
    );
    for p in people {
        for (field, value) in forbidden(p) {
            let found = files_containing(&files, value.as_bytes());
            assert!(
                found.is_empty(),
                "{when}: `{field}` value stored in clear in {found:?}"
            );
        }
        // The scan can find things: scope attributes are stored in clear by design.
        for (field, value) in &p.scope {
            let found = files_containing(&files, value.as_bytes());
            assert!(
                !found.is_empty(),
                "{when}: scope attribute `{field}` not found; is the scan blind?"
            );
        }
    }
}

#[test]
fn personal_values_are_never_stored_in_clear() {
    let t = TestVault::new();
    // Through create_subject.
    let created = person_values("CREATED", 1);
    let mut values: Vec<(String, String)> = created
        .sealed
        .iter()
        .map(|(k, raw, _)| ((*k).to_owned(), raw.clone()))
        .collect();
    values.extend(
        created
            .scope
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone())),
    );
    let c = t
        .vault
        .create_subject(
            &t.who,
            custos_engine::SubjectInput {
                id: Some("C1".to_owned()),
                values,
            },
        )
        .unwrap();

    // Through update_subject: a subject created with dull values, then
    // updated to distinctive ones.
    let updated = person_values("UPDATED", 2);
    let u = t.add("U1", &[("given_name", "Placeholder")]);
    let mut values: Vec<(String, String)> = updated
        .sealed
        .iter()
        .map(|(k, raw, _)| ((*k).to_owned(), raw.clone()))
        .collect();
    values.extend(
        updated
            .scope
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone())),
    );
    t.vault.update_subject(&t.who, &u, &values).unwrap();

    // Through import_csv.
    let imported = person_values("IMPORTED", 3);
    let mut header = vec!["id".to_owned()];
    let mut row = vec!["I1".to_owned()];
    for (k, raw, _) in &imported.sealed {
        header.push((*k).to_owned());
        row.push(format!("\"{}\"", raw.replace('"', "\"\"")));
    }
    for (k, v) in &imported.scope {
        header.push((*k).to_owned());
        row.push(v.clone());
    }
    let csv = format!("{}\r\n{}\r\n", header.join(","), row.join(","));
    let report = t.import(csv.as_bytes(), import_options()).unwrap();
    assert_eq!(report.imported, 1);

    // Every value reads back in its normalised form, so the forbidden
    // strings are the ones the vault really holds.
    for (id, p) in [(&c, &created), (&u, &updated), (&sid("I1"), &imported)] {
        for (field, _, stored) in &p.sealed {
            assert_eq!(
                t.field(id, field).as_deref(),
                Some(stored.as_str()),
                "{id} {field}"
            );
        }
    }

    let people = [&created, &updated, &imported];
    // While the vault is open the WAL holds the recent pages.
    assert_no_plaintext(&t.dir(), &people, "open");
    let wal = store_files(&t.dir());
    assert!(
        wal.iter()
            .any(|(n, b)| n == "store.sqlite-wal" && !b.is_empty()),
        "expected a WAL while open"
    );

    let dir = t.dir();
    let TestVault { tmp, vault, .. } = t;
    drop(vault);
    assert_no_plaintext(&dir, &people, "closed");
    drop(tmp);
}
