//! The access generation: which changes move it, which do not, and that a
//! change and its increment commit together.

use custos_model::PrincipalStatus;
use custos_store::{AccessStore, AlertQuery, NewAlert, SqliteStore, TokenKind};

use crate::support::{TestStore, at, break_generation, name, principal, purpose, token};

/// A named operation on a store, for a table of them.
type Step<'a> = (&'static str, Box<dyn FnOnce(&SqliteStore) + 'a>);

/// Runs `f` and returns how much it moved the generation.
fn moved(store: &SqliteStore, f: impl FnOnce(&SqliteStore)) -> u64 {
    let before = store.access_generation().unwrap();
    f(store);
    store.access_generation().unwrap() - before
}

#[test]
fn a_new_store_starts_at_zero() {
    let t = TestStore::new();
    assert_eq!(t.store.access_generation().unwrap(), 0);
}

#[test]
fn each_change_to_who_may_do_what_moves_it_once() {
    let t = TestStore::new();
    let s = &t.store;
    let changes: Vec<Step<'_>> = vec![
        (
            "insert_principal",
            Box::new(|s| s.insert_principal(&principal("ana")).unwrap()),
        ),
        (
            "update_principal",
            Box::new(|s| {
                let mut ana = principal("ana");
                ana.status = PrincipalStatus::Suspended;
                s.update_principal(&ana).unwrap();
            }),
        ),
        (
            "revoke_token",
            Box::new(|s| {
                s.insert_token(&token("tok-1", "ana", 1, TokenKind::Api))
                    .unwrap();
                assert!(s.revoke_token("tok-1", &at(5)).unwrap());
            }),
        ),
        (
            "update_principal to revoked",
            Box::new(|s| {
                s.insert_token(&token("tok-2", "ana", 2, TokenKind::Api))
                    .unwrap();
                s.insert_token(&token("tok-3", "ana", 3, TokenKind::Session))
                    .unwrap();
                let mut ana = principal("ana");
                ana.status = PrincipalStatus::Revoked;
                s.update_principal(&ana).unwrap();
            }),
        ),
        (
            "insert_purpose",
            Box::new(|s| s.insert_purpose(&purpose("casework"), &at(0)).unwrap()),
        ),
        (
            "insert_purposes",
            Box::new(|s| {
                s.insert_purposes(&[purpose("alpha"), purpose("beta")], &at(0))
                    .unwrap();
            }),
        ),
        (
            "insert_policy",
            Box::new(|s| {
                s.insert_policy("permit(a);", "", &at(0), "ana").unwrap();
            }),
        ),
    ];
    for (what, change) in changes {
        assert_eq!(moved(s, change), 1, "{what}");
    }
}

#[test]
fn reads_issuing_and_bookkeeping_leave_it_alone() {
    let t = TestStore::new();
    let s = &t.store;
    s.insert_principal(&principal("ana")).unwrap();
    s.insert_policy("permit(a);", "", &at(0), "ana").unwrap();
    s.insert_token(&token("revoked", "ana", 9, TokenKind::Api))
        .unwrap();
    assert!(s.revoke_token("revoked", &at(1)).unwrap());
    let ana = name("ana");
    let unchanged: Vec<Step<'_>> = vec![
        (
            "insert_token",
            Box::new(|s| {
                s.insert_token(&token("tok-1", "ana", 1, TokenKind::Session))
                    .unwrap();
                s.insert_token(&token("tok-2", "ana", 2, TokenKind::Api))
                    .unwrap();
            }),
        ),
        (
            "reads",
            Box::new(|s| {
                s.principal(&ana).unwrap();
                s.principals().unwrap();
                s.login_state(&ana).unwrap();
                s.token("tok-1").unwrap();
                s.token_by_digest(&[1; 32]).unwrap();
                s.tokens(None).unwrap();
                s.purposes().unwrap();
                s.current_policy().unwrap();
                s.policy_history().unwrap();
                s.alerts(&AlertQuery::default()).unwrap();
            }),
        ),
        (
            "login bookkeeping",
            Box::new(|s| {
                s.set_password(&ana, "$argon2id$x").unwrap();
                s.set_totp(&ana, Some(b"sealed")).unwrap();
                s.record_login_failure(&ana, &|_| Some(at(9))).unwrap();
                assert!(s.record_login_success(&ana, 1).unwrap());
                assert!(!s.record_login_success(&ana, 1).unwrap());
            }),
        ),
        (
            "revoking what is already revoked or absent",
            Box::new(|s| {
                assert!(!s.revoke_token("revoked", &at(2)).unwrap());
                assert!(!s.revoke_token("tok-9", &at(2)).unwrap());
            }),
        ),
        (
            "expiry and alerts",
            Box::new(|s| {
                assert_eq!(s.delete_expired_sessions(&at(1000)).unwrap(), 1);
                s.insert_alert(&NewAlert {
                    time: at(3),
                    principal: "ana".to_owned(),
                    kind: "login_failures".to_owned(),
                    details: "3 failures".to_owned(),
                })
                .unwrap();
            }),
        ),
    ];
    for (what, f) in unchanged {
        assert_eq!(moved(s, f), 0, "{what}");
    }
}

#[test]
fn a_change_whose_increment_fails_is_not_stored() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store
        .insert_token(&token("tok-1", "ana", 1, TokenKind::Api))
        .unwrap();
    break_generation(&t.raw());
    let failed = |r: Result<(), custos_store::StoreError>, what: &str| {
        let err = r.expect_err(what);
        assert!(
            err.to_string().contains("injected failure"),
            "{what}: {err}"
        );
    };

    failed(
        t.store.insert_principal(&principal("bob")),
        "insert_principal",
    );
    assert_eq!(t.store.principal(&name("bob")).unwrap(), None);

    let mut ana = principal("ana");
    ana.status = PrincipalStatus::Suspended;
    failed(t.store.update_principal(&ana), "update_principal");
    assert_eq!(
        t.store.principal(&name("ana")).unwrap().unwrap().status,
        PrincipalStatus::Active
    );

    failed(
        t.store.revoke_token("tok-1", &at(5)).map(drop),
        "revoke_token",
    );
    assert_eq!(t.store.token("tok-1").unwrap().unwrap().revoked_at, None);

    failed(
        t.store.insert_purpose(&purpose("casework"), &at(0)),
        "insert_purpose",
    );
    assert_eq!(t.store.purposes().unwrap(), vec![]);

    failed(
        t.store
            .insert_policy("permit(a);", "", &at(0), "ana")
            .map(drop),
        "insert_policy",
    );
    assert_eq!(t.store.current_policy().unwrap(), None);
    assert_eq!(t.store.access_generation().unwrap(), 1);
}
