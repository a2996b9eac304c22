//! Several writers on one vault: a held lock is reported as busy after the
//! busy timeout, and concurrent writers neither fail nor corrupt the store.

use std::time::{Duration, Instant};

use custos_engine::{ErrorKind, KeyAccess};

use crate::support::{BUSY, TestVault, field, input, open, sid};

#[test]
fn a_held_write_lock_makes_writes_unavailable_until_released() {
    let t = TestVault::with_busy(Duration::from_millis(200));
    t.add("BEFORE", &[("given_name", "Ana")]);
    let other = t.db();

    for release in ["COMMIT", "ROLLBACK"] {
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = Instant::now();
        let err = t
            .vault
            .create_subject(&t.who, input(Some("BLOCKED"), &[("given_name", "Bo")]))
            .expect_err("the write lock is held");
        let waited = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        let message = err.to_string();
        assert!(message.contains("busy"), "{message}");
        assert!(
            message.contains("200 ms"),
            "should name the timeout: {message}"
        );
        assert!(
            message.contains("busy-timeout"),
            "should say how to raise it: {message}"
        );
        assert!(
            waited >= Duration::from_millis(150),
            "gave up after {waited:?}"
        );
        assert!(waited < Duration::from_secs(2), "waited {waited:?}");
        // Reads are not blocked by a writer.
        assert_eq!(
            t.field(&sid("BEFORE"), "given_name").as_deref(),
            Some("Ana")
        );

        other.execute_batch(release).unwrap();
        let id = t
            .vault
            .create_subject(&t.who, input(Some("BLOCKED"), &[("given_name", "Bo")]))
            .expect("the lock is released");
        assert_eq!(t.field(&id, "given_name").as_deref(), Some("Bo"));
        t.vault.erase_subject(&t.who, &id).unwrap();
    }
    assert_eq!(t.count(), 1);
}

#[test]
fn two_vault_instances_write_concurrently_without_loss() {
    let t = TestVault::new();
    let second = open(&t.dir(), KeyAccess::default(), BUSY).expect("second instance");
    let vaults = [&t.vault, &second];
    // Four threads on each instance, 50 subjects each.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|thread| {
                let vault = vaults[thread % 2];
                scope.spawn(move || {
                    let who = vault.local_operator();
                    let mut failures = Vec::new();
                    for i in 0..50 {
                        let id = format!("T{thread}-{i:02}");
                        let name = format!("Name{thread}x{i}");
                        let email = format!("t{thread}.{i}@example.org");
                        let branch = format!("B{thread}");
                        let values = [
                            ("given_name", name.as_str()),
                            ("email", &email),
                            ("branch", &branch),
                        ];
                        if let Err(e) = vault.create_subject(&who, input(Some(&id), &values)) {
                            failures.push(format!("{id}: {e}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer thread"))
            .collect()
    });
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(t.count(), 400);
    assert_eq!(second.info(&second.local_operator()).unwrap().subjects, 400);

    // Every subject reads back through the other instance than wrote it.
    let who = t.who.clone();
    for thread in 0..8 {
        let reader = vaults[(thread + 1) % 2];
        for i in 0..50 {
            let id = sid(&format!("T{thread}-{i:02}"));
            assert_eq!(
                field(reader, &who, &id, "given_name"),
                Some(format!("Name{thread}x{i}"))
            );
            assert_eq!(
                reader
                    .find_subjects(&who, "email", &format!("t{thread}.{i}@example.org"))
                    .unwrap(),
                [id]
            );
        }
        let page = reader
            .list_subjects(
                &who,
                &[("branch".to_owned(), format!("B{thread}"))],
                None,
                1000,
            )
            .unwrap();
        assert_eq!(page.subjects.len(), 50);
    }
    let check: String = t
        .db()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
