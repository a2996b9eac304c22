//! Credentials and login bookkeeping: passwords, second factors, failure
//! counts and locks, and the TOTP compare-and-set that spends a code once.

use std::sync::{Arc, Barrier};
use std::thread;

use custos_store::{AccessStore, LoginState, StoreError};

use crate::support::{TestStore, at, name, principal};

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

fn fresh() -> LoginState {
    LoginState {
        password_hash: None,
        totp_sealed: None,
        totp_last_step: None,
        failed_logins: 0,
        locked_until: None,
    }
}

#[test]
fn a_new_principal_has_no_credentials() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    assert_eq!(t.store.login_state(&name("ana")).unwrap(), Some(fresh()));
    assert_eq!(t.store.login_state(&name("bob")).unwrap(), None);
}

#[test]
fn credentials_round_trip_and_reset_what_they_should() {
    let t = TestStore::new();
    let ana = name("ana");
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store.set_totp(&ana, Some(&[0, 1, 2, 255])).unwrap();
    assert!(t.store.record_login_success(&ana, 100).unwrap());
    let lock = |n: u32| (n >= 2).then(|| at(n));
    assert_eq!(t.store.record_login_failure(&ana, &lock).unwrap(), 1);
    assert_eq!(t.store.record_login_failure(&ana, &lock).unwrap(), 2);
    assert_eq!(
        t.store.login_state(&ana).unwrap(),
        Some(LoginState {
            totp_sealed: Some(vec![0, 1, 2, 255]),
            totp_last_step: Some(100),
            failed_logins: 2,
            locked_until: Some(at(2)),
            ..fresh()
        })
    );

    // A new password clears failures and the lock, and keeps the factor.
    t.store.set_password(&ana, PHC).unwrap();
    let state = t.store.login_state(&ana).unwrap().unwrap();
    assert_eq!(
        state,
        LoginState {
            password_hash: Some(PHC.to_owned()),
            totp_sealed: Some(vec![0, 1, 2, 255]),
            totp_last_step: Some(100),
            ..fresh()
        }
    );

    // A new secret forgets the old one's last step.
    t.store.set_totp(&ana, Some(b"another")).unwrap();
    let state = t.store.login_state(&ana).unwrap().unwrap();
    assert_eq!(state.totp_sealed.as_deref(), Some(&b"another"[..]));
    assert_eq!(state.totp_last_step, None);
    t.store.set_totp(&ana, None).unwrap();
    assert_eq!(
        t.store.login_state(&ana).unwrap().unwrap().totp_sealed,
        None
    );
}

#[test]
fn the_lock_follows_the_callback_for_each_new_count() {
    let t = TestStore::new();
    let ana = name("ana");
    t.store.insert_principal(&principal("ana")).unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let lock = |n: u32| {
        seen.lock().unwrap().push(n);
        (n == 3).then(|| at(60))
    };
    for expected in 1..=4 {
        assert_eq!(t.store.record_login_failure(&ana, &lock).unwrap(), expected);
        let locked = t.store.login_state(&ana).unwrap().unwrap().locked_until;
        assert_eq!(locked, (expected == 3).then(|| at(60)), "after {expected}");
    }
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3, 4]);
}

#[test]
fn a_totp_step_is_accepted_once_and_only_going_forward() {
    let t = TestStore::new();
    let ana = name("ana");
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store
        .record_login_failure(&ana, &|_| Some(at(5)))
        .unwrap();
    assert!(t.store.record_login_success(&ana, 10).unwrap());
    let state = t.store.login_state(&ana).unwrap().unwrap();
    assert_eq!((state.failed_logins, state.locked_until), (0, None));

    t.store
        .record_login_failure(&ana, &|_| Some(at(5)))
        .unwrap();
    assert!(
        !t.store.record_login_success(&ana, 10).unwrap(),
        "a code replayed"
    );
    assert!(
        !t.store.record_login_success(&ana, 9).unwrap(),
        "an older code"
    );
    let state = t.store.login_state(&ana).unwrap().unwrap();
    assert_eq!(
        (
            state.totp_last_step,
            state.failed_logins,
            state.locked_until
        ),
        (Some(10), 1, Some(at(5))),
        "a refused login changed the state"
    );
    assert!(t.store.record_login_success(&ana, 11).unwrap());
    assert_eq!(
        t.store.login_state(&ana).unwrap().unwrap().totp_last_step,
        Some(11)
    );
}

#[test]
fn two_logins_racing_with_one_code_succeed_once() {
    let t = TestStore::new();
    t.store.insert_principal(&principal("ana")).unwrap();
    // Two stores on one file: two processes, each with its own writer.
    let stores = [Arc::new(t.reopen()), Arc::new(t.reopen())];
    const ROUNDS: u64 = 40;
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = stores
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                (1..=ROUNDS)
                    .map(|step| {
                        barrier.wait();
                        store.record_login_success(&name("ana"), step).unwrap()
                    })
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let results: Vec<Vec<bool>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for step in 0..usize::try_from(ROUNDS).unwrap() {
        let winners = results.iter().filter(|r| r[step]).count();
        assert_eq!(winners, 1, "step {}: {winners} logins won", step + 1);
    }
    assert_eq!(
        t.store
            .login_state(&name("ana"))
            .unwrap()
            .unwrap()
            .totp_last_step,
        Some(ROUNDS)
    );
}

#[test]
fn bookkeeping_for_a_missing_principal_is_not_found() {
    let t = TestStore::new();
    let bob = name("bob");
    let not_found = |r: Result<(), StoreError>| {
        assert!(
            matches!(&r, Err(StoreError::PrincipalNotFound(n)) if n.as_str() == "bob"),
            "{r:?}"
        );
    };
    not_found(t.store.set_password(&bob, PHC));
    not_found(t.store.set_totp(&bob, Some(b"x")));
    not_found(t.store.record_login_failure(&bob, &|_| None).map(drop));
    not_found(t.store.record_login_success(&bob, 1).map(drop));
}

#[test]
fn login_state_debug_shows_no_secret() {
    let state = LoginState {
        password_hash: Some(PHC.to_owned()),
        totp_sealed: Some(b"SEALEDSECRET".to_vec()),
        totp_last_step: Some(3),
        failed_logins: 2,
        locked_until: None,
    };
    let shown = format!("{state:?}");
    assert!(!shown.contains("argon2"), "{shown}");
    assert!(!shown.contains("83, 69, 65"), "{shown}");
    assert!(!shown.contains("SEALED"), "{shown}");
    assert!(
        shown.contains("<redacted>") && shown.contains("failed_logins: 2"),
        "{shown}"
    );
    let none = format!("{:?}", fresh());
    assert!(!none.contains("<redacted>"), "{none}");
}

#[test]
fn a_bad_login_row_is_corrupt_without_the_secret() {
    let t = TestStore::new();
    let ana = name("ana");
    t.store.insert_principal(&principal("ana")).unwrap();
    t.store.set_password(&ana, PHC).unwrap();
    t.raw()
        .execute("UPDATE principals SET failed_logins = -1", [])
        .unwrap();
    let err = t.store.login_state(&ana).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("`ana`") && message.contains("failed_logins"),
        "{message}"
    );
    assert!(!message.contains("argon2"), "{message}");
    assert!(matches!(
        t.store.record_login_failure(&ana, &|_| None),
        Err(StoreError::Corrupt(_))
    ));
}
