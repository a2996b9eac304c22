//! The purpose registry, the policy history and alerts.

use custos_model::Purpose;
use custos_store::{AccessStore, AlertQuery, NewAlert, PolicyRecord, StoreError};

use crate::support::{TestStore, at, purpose};

#[test]
fn the_default_purposes_round_trip_in_name_order() {
    let t = TestStore::new();
    let defaults = Purpose::defaults();
    assert!(defaults.iter().any(|p| p.requires_consent()));
    assert!(defaults.iter().any(|p| p.special_condition().is_some()));
    t.store.insert_purposes(&defaults, &at(0)).unwrap();
    let mut expected = defaults;
    expected.sort_by(|a, b| a.name().cmp(b.name()));
    assert_eq!(t.store.purposes().unwrap(), expected);
}

#[test]
fn purpose_columns_are_typed_and_readable() {
    let t = TestStore::new();
    let campaigning = Purpose::defaults()
        .into_iter()
        .find(|p| p.name().as_str() == "campaigning")
        .unwrap();
    t.store.insert_purpose(&campaigning, &at(7)).unwrap();
    let row: (String, Option<String>, String, i64, String, String) = t
        .raw()
        .query_row(
            "SELECT lawful_basis, special_condition, categories, requires_consent, consent_fields, created_at FROM purposes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(row.0, "consent");
    assert_eq!(row.1, None);
    assert_eq!(row.2, campaigning.to_spec().categories.join(","));
    assert_eq!(row.3, 1);
    assert_eq!(row.4, "consent_email,consent_phone,consent_post");
    assert_eq!(row.5, at(7));
}

#[test]
fn a_duplicate_purpose_is_refused_and_a_batch_is_all_or_nothing() {
    let t = TestStore::new();
    t.store
        .insert_purpose(&purpose("casework"), &at(0))
        .unwrap();
    let err = t
        .store
        .insert_purpose(&purpose("casework"), &at(1))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::PurposeExists(n) if n.as_str() == "casework"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "purpose `casework` already exists");

    let err = t
        .store
        .insert_purposes(&[purpose("alpha"), purpose("casework")], &at(2))
        .unwrap_err();
    assert!(matches!(err, StoreError::PurposeExists(_)), "{err:?}");
    let names: Vec<String> = t
        .store
        .purposes()
        .unwrap()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(names, ["casework"], "part of a refused batch was stored");
}

#[test]
fn a_purpose_row_that_no_longer_parses_is_corrupt_and_named() {
    let t = TestStore::new();
    t.store
        .insert_purposes(&[purpose("alpha"), purpose("casework")], &at(0))
        .unwrap();
    t.raw()
        .execute(
            "UPDATE purposes SET categories = 'contact,special:health' WHERE name = 'casework'",
            [],
        )
        .unwrap();
    let err = t.store.purposes().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("purpose `casework`"), "{message}");
    assert!(message.contains("Art. 9"), "{message}");
}

#[test]
fn an_empty_list_column_is_an_empty_list() {
    let t = TestStore::new();
    let p = purpose("casework");
    assert!(p.consent_fields().is_empty());
    t.store.insert_purpose(&p, &at(0)).unwrap();
    assert_eq!(t.store.purposes().unwrap()[0].consent_fields(), &[]);
}

#[test]
fn policies_are_versioned_from_one() {
    let t = TestStore::new();
    assert_eq!(t.store.current_policy().unwrap(), None);
    assert_eq!(t.store.policy_history().unwrap(), vec![]);
    assert_eq!(
        t.store
            .insert_policy("permit(a);", "t1", &at(1), "local:root")
            .unwrap(),
        1
    );
    assert_eq!(
        t.store
            .insert_policy("permit(b);", "t2", &at(2), "ana")
            .unwrap(),
        2
    );
    let second = PolicyRecord {
        version: 2,
        text: "permit(b);".to_owned(),
        tests: "t2".to_owned(),
        applied_at: at(2),
        applied_by: "ana".to_owned(),
    };
    let first = PolicyRecord {
        version: 1,
        text: "permit(a);".to_owned(),
        tests: "t1".to_owned(),
        applied_at: at(1),
        applied_by: "local:root".to_owned(),
    };
    assert_eq!(t.store.current_policy().unwrap(), Some(second.clone()));
    assert_eq!(t.store.policy_history().unwrap(), vec![second, first]);
    // Another process continues the numbering.
    assert_eq!(
        t.reopen()
            .insert_policy("permit(c);", "", &at(3), "bob")
            .unwrap(),
        3
    );
    assert_eq!(t.store.current_policy().unwrap().unwrap().version, 3);
}

fn alert(n: u32, principal: &str, kind: &str) -> NewAlert {
    NewAlert {
        time: at(n),
        principal: principal.to_owned(),
        kind: kind.to_owned(),
        details: format!("alert {n}"),
    }
}

#[test]
fn alerts_filter_and_page_oldest_first() {
    let t = TestStore::new();
    let specs = [
        ("ana", "bulk_read"),
        ("bob", "bulk_read"),
        ("ana", "login_failures"),
        ("ana", "bulk_read"),
        ("cy", "login_failures"),
    ];
    let ids: Vec<u64> = specs
        .iter()
        .zip(1..)
        .map(|((p, k), n)| t.store.insert_alert(&alert(n, p, k)).unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let all = t.store.alerts(&AlertQuery::default()).unwrap();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), ids);
    assert_eq!(
        (
            all[2].time.as_str(),
            all[2].principal.as_str(),
            all[2].kind.as_str(),
            all[2].details.as_str()
        ),
        (at(3).as_str(), "ana", "login_failures", "alert 3")
    );

    let query = |principal: Option<&str>, kind: Option<&str>, after_id: Option<u64>, limit| {
        t.store
            .alerts(&AlertQuery {
                principal: principal.map(str::to_owned),
                kind: kind.map(str::to_owned),
                after_id,
                limit,
            })
            .unwrap()
            .iter()
            .map(|a| a.details.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        query(Some("ana"), None, None, 10),
        ["alert 1", "alert 3", "alert 4"]
    );
    assert_eq!(
        query(None, Some("login_failures"), None, 10),
        ["alert 3", "alert 5"]
    );
    assert_eq!(
        query(Some("ana"), Some("bulk_read"), None, 10),
        ["alert 1", "alert 4"]
    );
    assert_eq!(query(None, None, Some(ids[1]), 2), ["alert 3", "alert 4"]);
    assert_eq!(query(Some("ana"), None, Some(ids[2]), 10), ["alert 4"]);
    assert_eq!(query(None, None, None, 0), Vec::<String>::new());
    assert_eq!(query(None, None, None, usize::MAX).len(), 5);
    assert_eq!(query(Some("dee"), None, None, 10), Vec::<String>::new());
    assert_eq!(AlertQuery::default().limit, 1000);
}

#[test]
fn alert_ids_are_never_reused() {
    let t = TestStore::new();
    let first = t.store.insert_alert(&alert(1, "ana", "x")).unwrap();
    let second = t.store.insert_alert(&alert(2, "ana", "x")).unwrap();
    t.raw().execute("DELETE FROM alerts", []).unwrap();
    let third = t.store.insert_alert(&alert(3, "ana", "x")).unwrap();
    assert!(third > second && second > first, "{first} {second} {third}");
}

#[test]
fn more_alerts_than_the_cap_are_cut_at_the_cap() {
    let t = TestStore::new();
    let conn = t.raw();
    // Filled directly: a hundred thousand API calls would be one commit each.
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100005)
         INSERT INTO alerts (time, principal, kind, details) SELECT '2026', 'ana', 'k', 'd' FROM n;",
    )
    .unwrap();
    let q = AlertQuery {
        limit: usize::MAX,
        ..AlertQuery::default()
    };
    assert_eq!(t.store.alerts(&q).unwrap().len(), AlertQuery::MAX_LIMIT);
    assert_eq!(AlertQuery::MAX_LIMIT, 100_000);
}
