//! Tokens and sessions: lookups by digest and id, listings, revocation,
//! expiry, and a second store on the same file seeing a revocation.

use custos_model::PrincipalStatus;
use custos_store::{AccessStore, StoreError, TokenKind};

use crate::support::{TestStore, at, name, principal, token};

fn with_principals(names: &[&str]) -> TestStore {
    let t = TestStore::new();
    for n in names {
        t.store.insert_principal(&principal(n)).unwrap();
    }
    t
}

#[test]
fn tokens_round_trip_by_digest_and_id() {
    let t = with_principals(&["ana"]);
    let api = token("tok-1", "ana", 1, TokenKind::Api);
    let mut session = token("tok-2", "ana", 2, TokenKind::Session);
    session.revoked_at = Some(at(9));
    t.store.insert_token(&api).unwrap();
    t.store.insert_token(&session).unwrap();

    assert_eq!(
        t.store.token_by_digest(&[1; 32]).unwrap(),
        Some(api.clone())
    );
    assert_eq!(
        t.store.token_by_digest(&[2; 32]).unwrap(),
        Some(session.clone())
    );
    assert_eq!(t.store.token_by_digest(&[3; 32]).unwrap(), None);
    assert_eq!(t.store.token("tok-1").unwrap(), Some(api));
    assert_eq!(t.store.token("tok-2").unwrap(), Some(session));
    assert_eq!(t.store.token("tok-3").unwrap(), None);
}

#[test]
fn token_kinds_have_stable_names() {
    for kind in [TokenKind::Api, TokenKind::Session] {
        assert_eq!(TokenKind::parse(kind.as_str()), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    assert_eq!(TokenKind::Api.as_str(), "api");
    assert_eq!(TokenKind::Session.as_str(), "session");
    assert!(TokenKind::parse("bearer").unwrap_err().contains("session"));
}

#[test]
fn listings_are_newest_first_and_filter_by_principal() {
    let t = with_principals(&["ana", "bob"]);
    for (id, owner, seed) in [("a1", "ana", 1), ("b1", "bob", 2), ("a2", "ana", 3)] {
        t.store
            .insert_token(&token(id, owner, seed, TokenKind::Api))
            .unwrap();
    }
    let ids = |tokens: Vec<custos_store::TokenRecord>| {
        tokens.into_iter().map(|t| t.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(t.store.tokens(None).unwrap()), ["a2", "b1", "a1"]);
    assert_eq!(
        ids(t.store.tokens(Some(&name("ana"))).unwrap()),
        ["a2", "a1"]
    );
    assert_eq!(
        ids(t.store.tokens(Some(&name("cy"))).unwrap()),
        Vec::<String>::new()
    );
}

#[test]
fn a_token_needs_an_existing_principal_and_a_fresh_id_and_digest() {
    let t = with_principals(&["ana"]);
    let err = t
        .store
        .insert_token(&token("tok-1", "bob", 1, TokenKind::Api))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::PrincipalNotFound(n) if n.as_str() == "bob"),
        "{err:?}"
    );

    t.store
        .insert_token(&token("tok-1", "ana", 1, TokenKind::Api))
        .unwrap();
    let same_id = t
        .store
        .insert_token(&token("tok-1", "ana", 2, TokenKind::Api))
        .unwrap_err();
    assert!(
        matches!(&same_id, StoreError::TokenExists(id) if id == "tok-1"),
        "{same_id:?}"
    );
    let same_digest = t
        .store
        .insert_token(&token("tok-2", "ana", 1, TokenKind::Api))
        .unwrap_err();
    assert!(
        matches!(&same_digest, StoreError::TokenExists(id) if id == "tok-2"),
        "{same_digest:?}"
    );
    assert_eq!(t.store.tokens(None).unwrap().len(), 1);
}

#[test]
fn revoking_a_token_is_true_once() {
    let t = with_principals(&["ana"]);
    t.store
        .insert_token(&token("tok-1", "ana", 1, TokenKind::Api))
        .unwrap();
    assert!(t.store.revoke_token("tok-1", &at(10)).unwrap());
    assert!(!t.store.revoke_token("tok-1", &at(20)).unwrap());
    assert!(!t.store.revoke_token("tok-9", &at(20)).unwrap());
    let stored = t.store.token_by_digest(&[1; 32]).unwrap().unwrap();
    assert_eq!(
        stored.revoked_at,
        Some(at(10)),
        "a second revocation moved the time"
    );
}

#[test]
fn only_expired_sessions_are_deleted() {
    let t = with_principals(&["ana"]);
    // Sessions from `token` expire an hour after they are made.
    let early = token("s-early", "ana", 1, TokenKind::Session);
    let late = token("s-late", "ana", 50, TokenKind::Session);
    let mut expired_api = token("api-expired", "ana", 2, TokenKind::Api);
    expired_api.expires_at = Some(at(3));
    let mut endless = token("s-endless", "ana", 3, TokenKind::Session);
    endless.expires_at = None;
    for tok in [&early, &late, &expired_api, &endless] {
        t.store.insert_token(tok).unwrap();
    }
    assert_eq!(
        t.store.delete_expired_sessions(&at(61)).unwrap(),
        0,
        "at the expiry"
    );
    assert_eq!(t.store.delete_expired_sessions(&at(62)).unwrap(), 1);
    assert_eq!(t.store.token("s-early").unwrap(), None);
    assert!(t.store.token("s-late").unwrap().is_some());
    assert!(
        t.store.token("api-expired").unwrap().is_some(),
        "an API token was deleted"
    );
    assert!(t.store.token("s-endless").unwrap().is_some());
    assert_eq!(t.store.delete_expired_sessions(&at(1000)).unwrap(), 1);
    assert_eq!(t.store.tokens(None).unwrap().len(), 2);
}

#[test]
fn another_store_on_the_file_sees_revocations_at_once() {
    let t = with_principals(&["ana"]);
    t.store
        .insert_token(&token("tok-1", "ana", 1, TokenKind::Api))
        .unwrap();
    t.store
        .insert_token(&token("tok-2", "ana", 2, TokenKind::Session))
        .unwrap();
    let other = t.reopen();
    // Warm the other store's pooled reader, so that a stale snapshot on it
    // would show.
    let before = other.access_generation().unwrap();
    assert_eq!(
        other.token_by_digest(&[1; 32]).unwrap().unwrap().revoked_at,
        None
    );

    assert!(t.store.revoke_token("tok-1", &at(10)).unwrap());
    let after = other.access_generation().unwrap();
    assert!(after > before, "the generation stayed at {before}");
    assert_eq!(
        other.token_by_digest(&[1; 32]).unwrap().unwrap().revoked_at,
        Some(at(10))
    );

    let mut ana = principal("ana");
    ana.status = PrincipalStatus::Revoked;
    ana.status_changed_at = Some(at(20));
    t.store.update_principal(&ana).unwrap();
    assert!(other.access_generation().unwrap() > after);
    assert_eq!(
        other.token_by_digest(&[2; 32]).unwrap().unwrap().revoked_at,
        Some(at(20))
    );
    assert_eq!(
        other.principal(&name("ana")).unwrap().unwrap().status,
        PrincipalStatus::Revoked
    );
}

#[test]
fn a_token_row_that_does_not_parse_is_corrupt_and_named_without_its_digest() {
    let t = with_principals(&["ana"]);
    t.store
        .insert_token(&token("tok-1", "ana", 0xab, TokenKind::Api))
        .unwrap();
    let conn = t.raw();
    // The schema checks the digest's length; take the check away as a
    // damaged or hand-edited file would.
    conn.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE tokens SET digest = x'abab';")
        .unwrap();
    let err = t.store.token("tok-1").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("`tok-1`") && message.contains("digest"),
        "{message}"
    );
    assert!(!message.to_lowercase().contains("abab"), "{message}");
    assert!(matches!(t.store.tokens(None), Err(StoreError::Corrupt(_))));
}
