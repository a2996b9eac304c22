//! Ciphertext swap and tamper attacks on the store file: each must be
//! detected as an integrity failure, never silently yield another value, and
//! never echo a personal value in the error.

use custos_engine::{EngineError, ErrorKind, FieldSelection};
use custos_model::SubjectId;
use rusqlite::params;

use crate::support::{TestVault, decode_map, encode_map, person_values, raw_row, sid};

/// Asserts that reading `id` (all fields) fails with an integrity error whose
/// message names no personal value of the persons tagged `tags`.
fn assert_integrity_failure(t: &TestVault, id: &SubjectId, tags: &[&str]) -> EngineError {
    let err = t
        .vault
        .read_subject(&t.who, id, &FieldSelection::All)
        .expect_err("a tampered subject must not be readable");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert_no_personal_value(&err.to_string(), tags);
    assert_no_personal_value(&format!("{err:?}"), tags);
    err
}

fn assert_no_personal_value(message: &str, tags: &[&str]) {
    for tag in tags {
        let p = person_values(tag, 0);
        for (field, raw, stored) in &p.sealed {
            assert!(
                !message.contains(raw.as_str()),
                "{field} value leaked into `{message}`"
            );
            assert!(
                !message.contains(stored.as_str()),
                "{field} value leaked into `{message}`"
            );
        }
        assert!(!message.contains(tag), "tag {tag} leaked into `{message}`");
    }
}

#[test]
fn sealed_blob_copied_onto_another_subject_is_detected() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let b = t.add_person("B1", "BRAVO");
    let conn = t.db();
    let (_, sealed_a, _) = raw_row(&conn, "A1");
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'B1'",
        params![sealed_a],
    )
    .unwrap();

    let err = assert_integrity_failure(&t, &b, &["ALPHA", "BRAVO"]);
    assert!(
        matches!(err, EngineError::Integrity { ref subject, .. } if *subject == b),
        "{err}"
    );
    // Each sealed field fails on its own, too: not one of A's values is
    // released under B's name.
    for (field, _, _) in person_values("ALPHA", 0).sealed {
        let err = t
            .vault
            .read_subject(&t.who, &b, &FieldSelection::Only(vec![field.to_owned()]))
            .expect_err(field);
        assert_eq!(err.kind(), ErrorKind::Integrity, "{field}: {err}");
    }
    // A itself is untouched.
    assert_eq!(t.field(&a, "given_name").as_deref(), Some("ZebedeeALPHA"));
}

#[test]
fn field_values_swapped_inside_one_blob_are_detected() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let conn = t.db();
    let (_, sealed, _) = raw_row(&conn, "A1");
    let mut entries = decode_map(&sealed);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let email = names
        .iter()
        .position(|n| *n == "email")
        .expect("email entry");
    let notes = names
        .iter()
        .position(|n| *n == "notes")
        .expect("notes entry");
    // Swap the values, keep the names: email's ciphertext now sits under notes.
    let (e, n) = (entries[email].1.clone(), entries[notes].1.clone());
    entries[email].1 = n;
    entries[notes].1 = e;
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![encode_map(&entries)],
    )
    .unwrap();

    assert_integrity_failure(&t, &a, &["ALPHA"]);
    for field in ["email", "notes"] {
        let err = t
            .vault
            .read_subject(&t.who, &a, &FieldSelection::Only(vec![field.to_owned()]))
            .expect_err(field);
        assert!(
            matches!(&err, EngineError::Integrity { field: f, .. } if f == field),
            "{field}: {err}"
        );
    }
    // An untouched field of the same subject still opens.
    assert_eq!(t.field(&a, "given_name").as_deref(), Some("ZebedeeALPHA"));
}

#[test]
fn renamed_field_entry_is_detected() {
    // The email ciphertext moved to an empty field (address_line2) by
    // renaming its entry.
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let conn = t.db();
    let (_, sealed, _) = raw_row(&conn, "A1");
    let mut entries = decode_map(&sealed);
    for (name, _) in &mut entries {
        if name == "email" {
            "address_line2".clone_into(name);
        }
    }
    entries.sort();
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![encode_map(&entries)],
    )
    .unwrap();
    let err = t
        .vault
        .read_subject(
            &t.who,
            &a,
            &FieldSelection::Only(vec!["address_line2".to_owned()]),
        )
        .expect_err("moved ciphertext");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
}

#[test]
fn wrapped_key_copied_onto_another_subject_is_detected() {
    let t = TestVault::new();
    t.add_person("A1", "ALPHA");
    let b = t.add_person("B1", "BRAVO");
    let conn = t.db();
    let (key_a, sealed_a, _) = raw_row(&conn, "A1");

    // The key alone.
    conn.execute(
        "UPDATE subjects SET wrapped_key = ?1 WHERE id = 'B1'",
        params![key_a],
    )
    .unwrap();
    let err = assert_integrity_failure(&t, &b, &["ALPHA", "BRAVO"]);
    assert!(
        matches!(&err, EngineError::Integrity { field, .. } if field == "(data key)"),
        "{err}"
    );

    // The key and the ciphertexts together: the whole of A under B's id.
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'B1'",
        params![sealed_a],
    )
    .unwrap();
    assert_integrity_failure(&t, &b, &["ALPHA", "BRAVO"]);

    // An update cannot launder the stolen key either.
    let err = t
        .vault
        .update_subject(&t.who, &b, &[("town".to_owned(), "Elsewhere".to_owned())])
        .expect_err("update with a foreign key");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
}

#[test]
fn changed_key_version_is_detected() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    t.db()
        .execute("UPDATE subjects SET key_version = 2 WHERE id = 'A1'", [])
        .unwrap();
    assert_integrity_failure(&t, &a, &["ALPHA"]);
}

#[test]
fn flipped_byte_in_a_sealed_value_is_detected() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let conn = t.db();
    let (_, sealed, _) = raw_row(&conn, "A1");
    let original = decode_map(&sealed);
    let email = original
        .iter()
        .position(|(n, _)| n == "email")
        .expect("email");
    // Nonce, ciphertext body and tag: a flip anywhere is caught.
    let len = original[email].1.len();
    for at in [0, 23, 24, len / 2, len - 1] {
        let mut entries = original.clone();
        entries[email].1[at] ^= 0x01;
        conn.execute(
            "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
            params![encode_map(&entries)],
        )
        .unwrap();
        let err = assert_integrity_failure(&t, &a, &["ALPHA"]);
        assert!(
            matches!(&err, EngineError::Integrity { field, .. } if field == "email"),
            "byte {at}: {err}"
        );
    }
    // A truncated ciphertext too.
    let mut entries = original.clone();
    entries[email].1.truncate(10);
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![encode_map(&entries)],
    )
    .unwrap();
    assert_integrity_failure(&t, &a, &["ALPHA"]);

    // Restoring the original bytes makes it readable again: the failures above
    // came from the flips, not from the rewriting.
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![sealed],
    )
    .unwrap();
    assert_eq!(
        t.field(&a, "email").as_deref(),
        Some("zeb.alpha@example.org")
    );
}

#[test]
fn flipped_byte_in_a_wrapped_key_is_detected() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let conn = t.db();
    let (mut key, _, _) = raw_row(&conn, "A1");
    let last = key.len() - 1;
    key[last] ^= 0x80;
    conn.execute(
        "UPDATE subjects SET wrapped_key = ?1 WHERE id = 'A1'",
        params![key],
    )
    .unwrap();
    assert_integrity_failure(&t, &a, &["ALPHA"]);
}

#[test]
fn malformed_field_map_is_reported_as_corrupt() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let conn = t.db();
    let (_, sealed, _) = raw_row(&conn, "A1");
    // Cut inside an entry: the map no longer parses.
    let cut = sealed[..sealed.len() - 3].to_vec();
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![cut],
    )
    .unwrap();
    assert_integrity_failure(&t, &a, &["ALPHA"]);
    // An unknown format version.
    let mut versioned = sealed.clone();
    versioned[0] = 9;
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![versioned],
    )
    .unwrap();
    assert_integrity_failure(&t, &a, &["ALPHA"]);
}

#[test]
fn a_subject_copied_between_vaults_is_unreadable() {
    let a = TestVault::new();
    let b = TestVault::new();
    let in_a = a.add_person("M1", "ALPHA");
    let in_b = b.add_person("M1", "BRAVO");
    assert_eq!(in_a, in_b);
    let (key_a, sealed_a, _) = raw_row(&a.db(), "M1");
    let conn_b = b.db();

    // Only a value: A's email ciphertext put into B's subject of the same id.
    let (_, sealed_b, _) = raw_row(&conn_b, "M1");
    let email_a = decode_map(&sealed_a)
        .into_iter()
        .find(|(n, _)| n == "email")
        .expect("email")
        .1;
    let mut entries = decode_map(&sealed_b);
    for (name, value) in &mut entries {
        if name == "email" {
            value.clone_from(&email_a);
        }
    }
    conn_b
        .execute(
            "UPDATE subjects SET sealed = ?1 WHERE id = 'M1'",
            params![encode_map(&entries)],
        )
        .unwrap();
    let err = b
        .vault
        .read_subject(
            &b.who,
            &in_b,
            &FieldSelection::Only(vec!["email".to_owned()]),
        )
        .expect_err("value from another vault");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert_no_personal_value(&err.to_string(), &["ALPHA", "BRAVO"]);

    // The whole row: A's wrapped key and ciphertexts under the same id in B.
    conn_b
        .execute(
            "UPDATE subjects SET wrapped_key = ?1, sealed = ?2 WHERE id = 'M1'",
            params![key_a, sealed_a],
        )
        .unwrap();
    assert_integrity_failure(&b, &in_b, &["ALPHA", "BRAVO"]);

    // A new row holding A's subject, inserted into B's store as it was in A.
    let (scope, lookups): (Vec<u8>, Vec<u8>) = a
        .db()
        .query_row(
            "SELECT scope, lookups FROM subjects WHERE id = 'M1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    conn_b
        .execute(
            "INSERT INTO subjects (id, key_version, wrapped_key, scope, sealed, lookups) VALUES ('X9', 1, ?1, ?2, ?3, ?4)",
            params![key_a, scope, sealed_a, lookups],
        )
        .unwrap();
    assert_integrity_failure(&b, &sid("X9"), &["ALPHA", "BRAVO"]);
    // The original is still fine in A.
    assert_eq!(
        a.field(&in_a, "email").as_deref(),
        Some("zeb.alpha@example.org")
    );
}

#[test]
#[ignore = "design gap: an older ciphertext of the same field is accepted after an update (rollback is not detected)"]
fn an_old_value_restored_after_an_update_is_detected() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let conn = t.db();
    let (_, before, _) = raw_row(&conn, "A1");
    t.vault
        .update_subject(
            &t.who,
            &a,
            &[("email".to_owned(), "new.address@example.org".to_owned())],
        )
        .unwrap();
    // Put the pre-update blob back: same subject, field, key and version.
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![before],
    )
    .unwrap();
    let read = t
        .vault
        .read_subject(&t.who, &a, &FieldSelection::Only(vec!["email".to_owned()]));
    assert!(
        read.is_err(),
        "a rolled-back value was released as current: {:?}",
        read.map(|r| r.fields[0].1.as_ref().map(|v| v.as_str().to_owned()))
    );
}

#[test]
#[ignore = "design gap: deleting a field's entry from the sealed blob is not detected (reads as no value)"]
fn a_deleted_field_entry_is_detected() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let conn = t.db();
    let (_, sealed, _) = raw_row(&conn, "A1");
    let entries: Vec<_> = decode_map(&sealed)
        .into_iter()
        .filter(|(n, _)| n != "notes")
        .collect();
    conn.execute(
        "UPDATE subjects SET sealed = ?1 WHERE id = 'A1'",
        params![encode_map(&entries)],
    )
    .unwrap();
    let read = t
        .vault
        .read_subject(&t.who, &a, &FieldSelection::Only(vec!["notes".to_owned()]));
    assert!(
        read.is_err(),
        "a removed ciphertext reads as an absent value"
    );
}
