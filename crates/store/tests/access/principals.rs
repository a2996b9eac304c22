//! Principals: round trips, duplicates, missing ones, and revocation that
//! takes every token with it in one transaction.

use custos_model::{AttributeKey, Attributes, PrincipalKind, PrincipalStatus};
use custos_store::{AccessStore, StoreError, TokenKind};

use crate::support::{TestStore, at, name, principal, token};

#[test]
fn principals_round_trip_in_name_order() {
    let t = TestStore::new();
    let mut bob = principal("bob");
    bob.kind = PrincipalKind::Service;
    bob.attributes = Attributes::default();
    bob.status = PrincipalStatus::Suspended;
    bob.status_reason = "on leave".to_owned();
    bob.status_changed_at = Some(at(5));
    bob.valid_from = None;
    bob.valid_until = Some(at(900));
    let ana = principal("ana");
    t.store.insert_principal(&bob).unwrap();
    t.store.insert_principal(&ana).unwrap();

    assert_eq!(t.store.principal(&name("ana")).unwrap(), Some(ana.clone()));
    assert_eq!(t.store.principal(&name("bob")).unwrap(), Some(bob.clone()));
    assert_eq!(t.store.principal(&name("cy")).unwrap(), None);
    assert_eq!(t.store.principals().unwrap(), vec![ana, bob]);
}

#[test]
fn attributes_are_readable_text() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    let text: String = t
        .raw()
        .query_row(
            "SELECT attributes FROM principals WHERE name = 'ana'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        text,
        "role=caseworker\nconstituency=E14000639\nteam=membership = casework"
    );
    let back = t.store.principal(&name("ana")).unwrap().unwrap();
    assert_eq!(
        back.attributes.get(AttributeKey::Team),
        Some("membership = casework")
    );
}

#[test]
fn a_duplicate_principal_is_refused_and_keeps_the_first() {
    let t = TestStore::new();
    let first = principal("ana");
    t.store.insert_principal(&first).unwrap();
    let mut second = principal("ana");
    second.kind = PrincipalKind::Volunteer;
    let err = t.store.insert_principal(&second).unwrap_err();
    assert!(
        matches!(&err, StoreError::PrincipalExists(n) if n.as_str() == "ana"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "principal `ana` already exists");
    assert_eq!(t.store.principal(&name("ana")).unwrap(), Some(first));
}

#[test]
fn updating_replaces_the_record_but_not_its_creation_or_login_state() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store
        .set_password(&name("ana"), "$argon2id$v=19$x")
        .unwrap();
    t.store.set_totp(&name("ana"), Some(b"sealed")).unwrap();
    assert!(t.store.record_login_success(&name("ana"), 7).unwrap());
    t.store
        .record_login_failure(&name("ana"), &|_| None)
        .unwrap();
    let login = t.store.login_state(&name("ana")).unwrap();

    let mut changed = principal("ana");
    changed.kind = PrincipalKind::Representative;
    changed.attributes = Attributes::parse_pairs([("role", "admin")]).unwrap();
    changed.status = PrincipalStatus::Suspended;
    changed.status_reason = "investigation".to_owned();
    changed.status_changed_at = Some(at(30));
    changed.valid_from = None;
    changed.valid_until = Some(at(600));
    changed.created_at = at(999);
    t.store.update_principal(&changed).unwrap();

    let stored = t.store.principal(&name("ana")).unwrap().unwrap();
    assert_eq!(stored.created_at, at(1), "created_at was replaced");
    changed.created_at = at(1);
    assert_eq!(stored, changed);
    assert_eq!(t.store.login_state(&name("ana")).unwrap(), login);
}

#[test]
fn updating_a_missing_principal_is_not_found() {
    let t = TestStore::new();
    let err = t.store.update_principal(&principal("ana")).unwrap_err();
    assert!(
        matches!(&err, StoreError::PrincipalNotFound(n) if n.as_str() == "ana"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no principal `ana`");
    assert_eq!(t.store.principals().unwrap(), vec![]);
}

#[test]
fn revoking_a_principal_revokes_every_live_token_it_has() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store.insert_principal(&principal("bob")).unwrap();
    t.store
        .insert_token(&token("ana-api", "ana", 1, TokenKind::Api))
        .unwrap();
    t.store
        .insert_token(&token("ana-session", "ana", 2, TokenKind::Session))
        .unwrap();
    t.store
        .insert_token(&token("ana-old", "ana", 3, TokenKind::Api))
        .unwrap();
    assert!(t.store.revoke_token("ana-old", &at(10)).unwrap());
    t.store
        .insert_token(&token("bob-api", "bob", 4, TokenKind::Api))
        .unwrap();

    // Suspension leaves the tokens alone: a suspended principal comes back.
    let mut ana = principal("ana");
    ana.status = PrincipalStatus::Suspended;
    ana.status_changed_at = Some(at(15));
    t.store.update_principal(&ana).unwrap();
    assert_eq!(t.store.token("ana-api").unwrap().unwrap().revoked_at, None);

    ana.status = PrincipalStatus::Revoked;
    ana.status_reason = "left".to_owned();
    ana.status_changed_at = Some(at(20));
    t.store.update_principal(&ana).unwrap();

    let revoked_at = |id: &str| t.store.token(id).unwrap().unwrap().revoked_at;
    assert_eq!(revoked_at("ana-api"), Some(at(20)));
    assert_eq!(revoked_at("ana-session"), Some(at(20)));
    assert_eq!(
        revoked_at("ana-old"),
        Some(at(10)),
        "an earlier revocation moved"
    );
    assert_eq!(
        revoked_at("bob-api"),
        None,
        "another principal's token died"
    );
}

#[test]
fn revoking_without_a_status_time_uses_the_database_clock() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store
        .insert_token(&token("ana-api", "ana", 1, TokenKind::Api))
        .unwrap();
    let mut ana = principal("ana");
    ana.status = PrincipalStatus::Revoked;
    ana.status_changed_at = None;
    t.store.update_principal(&ana).unwrap();
    let when = t
        .store
        .token("ana-api")
        .unwrap()
        .unwrap()
        .revoked_at
        .unwrap();
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`, as callers write times.
    let b = when.as_bytes();
    assert_eq!(when.len(), 24, "{when}");
    assert_eq!(
        (b[4], b[10], b[19], b[23]),
        (b'-', b'T', b'.', b'Z'),
        "{when}"
    );
    assert!(when.as_str() > "2025", "{when}");
}

#[test]
fn a_revocation_that_fails_leaves_principal_and_tokens_as_they_were() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store
        .insert_token(&token("ana-api", "ana", 1, TokenKind::Api))
        .unwrap();
    let generation = t.store.access_generation().unwrap();
    t.raw()
        .execute_batch(
            "CREATE TRIGGER break_revocation BEFORE UPDATE OF revoked_at ON tokens
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();

    let mut ana = principal("ana");
    ana.status = PrincipalStatus::Revoked;
    ana.status_changed_at = Some(at(20));
    let err = t.store.update_principal(&ana).unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");

    let stored = t.store.principal(&name("ana")).unwrap().unwrap();
    assert_eq!(
        stored.status,
        PrincipalStatus::Active,
        "half a revocation committed"
    );
    assert_eq!(t.store.token("ana-api").unwrap().unwrap().revoked_at, None);
    assert_eq!(t.store.access_generation().unwrap(), generation);
}

#[test]
fn a_principal_row_that_does_not_parse_is_corrupt_and_named() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store.insert_principal(&principal("bob")).unwrap();
    let conn = t.raw();
    conn.execute(
        "UPDATE principals SET kind = 'alien' WHERE name = 'ana'",
        [],
    )
    .unwrap();
    let err = t.store.principal(&name("ana")).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("`ana`") && message.contains("`alien`"),
        "{message}"
    );
    assert!(matches!(t.store.principals(), Err(StoreError::Corrupt(_))));
    assert!(t.store.principal(&name("bob")).unwrap().is_some());

    conn.execute(
        "UPDATE principals SET kind = 'staff', attributes = 'colour=red' WHERE name = 'ana'",
        [],
    )
    .unwrap();
    let message = t.store.principal(&name("ana")).unwrap_err().to_string();
    assert!(
        message.contains("`ana`") && message.contains("`colour`"),
        "{message}"
    );

    conn.execute(
        "UPDATE principals SET attributes = '', name = 'Not A Name' WHERE name = 'ana'",
        [],
    )
    .unwrap();
    let message = t.store.principals().unwrap_err().to_string();
    assert!(message.contains("`Not A Name`"), "{message}");
}
