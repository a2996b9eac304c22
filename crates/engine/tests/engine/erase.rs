//! Erasure: the subject is gone from every access path, and its key and
//! ciphertexts are gone from the store files.

use custos_engine::{ErrorKind, FieldSelection};

use crate::support::{TestVault, decode_map, files_containing, raw_row, store_files};

#[test]
fn an_erased_subject_is_gone_everywhere() {
    let t = TestVault::new();
    let a = t.add_person("A1", "ALPHA");
    let b = t.add_person("B1", "BRAVO");
    // An update first, so that an older version of A's row existed too.
    let conn = t.db();
    let (_, sealed_before_update, _) = raw_row(&conn, "A1");
    t.vault
        .update_subject(
            &t.who,
            &a,
            &[(
                "notes".to_owned(),
                "Second thoughts about marzipan".to_owned(),
            )],
        )
        .unwrap();
    let (wrapped_key, sealed, lookups) = raw_row(&conn, "A1");
    drop(conn);
    let info = t.vault.info(&t.vault.local_operator()).unwrap();
    assert_eq!((info.subjects, info.erased), (2, 0));

    // Before erasure, the bytes are found: the scan works.
    let files = store_files(&t.dir());
    assert!(
        !files_containing(&files, &wrapped_key).is_empty(),
        "scan cannot find the key"
    );

    let erasure = t.vault.erase_subject(&t.who, &a).unwrap();
    assert!(erasure.log_purged, "nothing else holds the store open");

    let err = t
        .vault
        .read_subject(&t.who, &a, &FieldSelection::All)
        .expect_err("erased");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        t.vault
            .find_subjects(&t.who, "email", "zeb.alpha@example.org")
            .unwrap()
            .is_empty()
    );
    // Both subjects shared the postcode; only B is found by it now.
    assert_eq!(
        t.vault
            .find_subjects(&t.who, "postcode", "ZE1 9QX")
            .unwrap(),
        std::slice::from_ref(&b)
    );
    let listed = t.vault.list_subjects(&t.who, &[], None, 100).unwrap();
    assert_eq!(
        listed
            .subjects
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&b)
    );
    let filtered = t
        .vault
        .list_subjects(
            &t.who,
            &[("branch".to_owned(), "BranchALPHA".to_owned())],
            None,
            100,
        )
        .unwrap();
    assert!(
        filtered.subjects.is_empty(),
        "the scope index still lists the erased subject"
    );
    let info = t.vault.info(&t.vault.local_operator()).unwrap();
    assert_eq!((info.subjects, info.erased), (1, 1));

    // Erasing again, updating or erasing an unknown subject: not found.
    let err = t.vault.erase_subject(&t.who, &a).expect_err("erase twice");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = t
        .vault
        .update_subject(&t.who, &a, &[("town".to_owned(), "Anywhere".to_owned())])
        .expect_err("update erased");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        t.vault.info(&t.vault.local_operator()).unwrap().erased,
        1,
        "a failed erasure was counted"
    );

    // B is intact.
    assert_eq!(t.field(&b, "given_name").as_deref(), Some("ZebedeeBRAVO"));

    // No byte string of A's key, ciphertexts or digests is left in the files.
    let files = store_files(&t.dir());
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        ("wrapped_key".to_owned(), wrapped_key),
        ("sealed".to_owned(), sealed.clone()),
        (
            "sealed (before update)".to_owned(),
            sealed_before_update.clone(),
        ),
        ("lookups".to_owned(), lookups.clone()),
    ];
    for (name, value) in decode_map(&sealed)
        .into_iter()
        .chain(decode_map(&sealed_before_update))
    {
        needles.push((format!("sealed {name}"), value));
    }
    // A and B share their phone number and postcode, so those digests stay
    // (B's); A's email digest is A's alone.
    let (_, _, lookups_b) = raw_row(&t.db(), "B1");
    let shared: Vec<(String, Vec<u8>)> = decode_map(&lookups_b);
    for (name, digest) in decode_map(&lookups) {
        if shared.contains(&(name.clone(), digest.clone())) {
            assert!(name == "phone" || name == "postcode", "{name}");
        } else {
            needles.push((format!("digest {name}"), digest));
        }
    }
    assert!(needles.iter().any(|(n, _)| n == "digest email"));
    for (what, bytes) in &needles {
        let found = files_containing(&files, bytes);
        assert!(
            found.is_empty(),
            "{what} of the erased subject remains in {found:?}"
        );
    }

    // And after closing.
    let dir = t.dir();
    drop(t.vault);
    let files = store_files(&dir);
    for (what, bytes) in &needles {
        let found = files_containing(&files, bytes);
        assert!(
            found.is_empty(),
            "{what} of the erased subject remains in {found:?} after closing"
        );
    }
}

#[test]
fn erasure_reports_an_unpurged_log_while_another_reader_holds_it() {
    let t = TestVault::with_busy(std::time::Duration::from_millis(200));
    let a = t.add_person("A1", "ALPHA");
    // A reader in an open transaction pins the WAL.
    let conn = t.db();
    conn.execute_batch("BEGIN").unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM subjects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let erasure = t.vault.erase_subject(&t.who, &a).unwrap();
    assert!(
        !erasure.log_purged,
        "the log cannot have been emptied under an open reader"
    );
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(t.vault.info(&t.vault.local_operator()).unwrap().erased, 1);
}
