//! Access control end to end: principals with tokens, purposes, the default
//! policies field by field, listings confined to a remit, leavers shut out
//! (also mid-request and from another process), logins with a second
//! factor, and policy changes that must not lock administrators out. Every
//! refusal must be in the ledger.

use std::time::Duration;

use custos_crypto::TotpSecret;
use custos_engine::{
    AlertQuery, Caller, EngineError, ErrorKind, EventQuery, FieldSelection, Outcome,
    PrincipalChange, Vault,
};
use custos_model::{PrincipalKind, PrincipalStatus, SubjectId};

use crate::support::{BUSY, TestVault, input, open, sid};

const ANA_SEAT: &str = "E14000639";
const OTHER_SEAT: &str = "E14000555";
const BRANCH: &str = "bethnal-green";

/// A vault with members in and out of Ana's constituency and Vic's branch,
/// and tokens for a representative, a volunteer, a finance officer, the
/// membership team and a processor.
struct Org {
    t: TestVault,
    ana: String,
    vic: String,
    fay: String,
    mo: String,
    pat: String,
}

fn token(vault: &Vault, name: &str, kind: PrincipalKind, attrs: &[(&str, &str)]) -> String {
    let op = vault.local_operator();
    let attrs: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vault
        .add_principal(&op, name, kind, &attrs, None, None)
        .unwrap();
    vault
        .create_token(&op, name, None)
        .unwrap()
        .token
        .expose()
        .to_owned()
}

impl Org {
    fn new() -> Self {
        let t = TestVault::new();
        let member = |id: &str, seat: &str, branch: &str, phone_ok: &str| {
            t.add(
                id,
                &[
                    ("given_name", "Nia"),
                    ("family_name", "Okafor"),
                    ("email", &format!("{}@example.org", id.to_lowercase())),
                    ("phone", "07700 900123"),
                    ("donation_total", "12.50"),
                    ("ethnicity", "Welsh"),
                    ("constituency", seat),
                    ("branch", branch),
                    ("consent_phone", phone_ok),
                ],
            );
        };
        member("M1", ANA_SEAT, BRANCH, "true");
        member("M2", OTHER_SEAT, "poplar", "true");
        member("M3", ANA_SEAT, BRANCH, "false");
        let ana = token(
            &t.vault,
            "ana",
            PrincipalKind::Representative,
            &[("constituency", ANA_SEAT)],
        );
        let vic = token(
            &t.vault,
            "vic",
            PrincipalKind::Volunteer,
            &[("branch", BRANCH)],
        );
        let fay = token(
            &t.vault,
            "fay",
            PrincipalKind::Staff,
            &[("team", "finance")],
        );
        let mo = token(
            &t.vault,
            "mo",
            PrincipalKind::Staff,
            &[("team", "membership")],
        );
        let pat = token(
            &t.vault,
            "pat",
            PrincipalKind::Processor,
            &[("organisation", "mailhouse")],
        );
        Self {
            t,
            ana,
            vic,
            fay,
            mo,
            pat,
        }
    }

    fn vault(&self) -> &Vault {
        &self.t.vault
    }
}

fn as_(token: &str, purpose: &str) -> Caller {
    Caller::with_token(token, "req", "192.0.2.1").with_purpose(Some(purpose))
}

fn fields(names: &[&str]) -> FieldSelection {
    FieldSelection::Only(names.iter().map(|&n| n.to_owned()).collect())
}

/// Reads and returns (allowed fields, denied field:code).
fn read(
    vault: &Vault,
    caller: &Caller,
    id: &str,
    names: &[&str],
) -> Result<(Vec<String>, Vec<String>), EngineError> {
    let record = vault.read_subject(caller, &sid(id), &fields(names))?;
    Ok((
        record.fields.iter().map(|(f, _)| f.to_string()).collect(),
        record
            .denied
            .iter()
            .map(|d| format!("{}:{}", d.field.clone().unwrap_or_default(), d.code))
            .collect(),
    ))
}

fn events_of(vault: &Vault, principal: &str) -> Vec<custos_engine::Event> {
    vault
        .ledger_query(
            &vault.local_operator(),
            &EventQuery {
                principal: Some(principal.to_owned()),
                limit: 10_000,
                ..EventQuery::default()
            },
        )
        .unwrap()
}

#[test]
fn the_default_policies_field_by_field_through_real_tokens() {
    let org = Org::new();
    let v = org.vault();
    // (who, purpose, member, fields asked, allowed, denied field:code)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        (
            &org.ana,
            "casework",
            "M1",
            &["given_name", "email", "phone"],
            &["given_name", "email", "phone"],
            &[],
        ),
        (
            &org.ana,
            "casework",
            "M1",
            &["email", "donation_total", "ethnicity"],
            &["email"],
            &[
                "ethnicity:purpose_category",
                "donation_total:purpose_category",
            ],
        ),
        (
            &org.vic,
            "campaigning",
            "M1",
            &["given_name", "phone", "email"],
            &["given_name", "phone"],
            &["email:not_permitted"],
        ),
        (
            &org.fay,
            "finance",
            "M2",
            &["family_name", "donation_total", "email"],
            &["family_name", "donation_total"],
            &["email:not_permitted"],
        ),
        (
            &org.mo,
            "membership_admin",
            "M2",
            &["email", "donation_total", "ethnicity"],
            &["email", "donation_total"],
            &["ethnicity:forbidden"],
        ),
    ];
    for (who, purpose, id, asked, allowed, denied) in cases {
        let (got, refused) = read(v, &as_(who, purpose), id, asked)
            .unwrap_or_else(|e| panic!("{purpose} read of {id}: {e}"));
        assert_eq!(got, *allowed, "{purpose} read of {id}");
        assert_eq!(refused, *denied, "{purpose} read of {id}");
    }
    // Wholly denied: outside her constituency, another purpose, no consent,
    // a processor.
    let refused: &[(&str, &str, &str)] = &[
        (&org.ana, "casework", "M2"),
        (&org.ana, "campaigning", "M1"),
        (&org.vic, "campaigning", "M3"),
        (&org.pat, "membership_admin", "M1"),
    ];
    for (who, purpose, id) in refused {
        let err = read(v, &as_(who, purpose), id, &["email", "phone"]).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Forbidden,
            "{purpose} read of {id}: {err}"
        );
    }
}

#[test]
fn a_missing_member_is_refused_like_one_outside_the_remit() {
    let org = Org::new();
    let v = org.vault();
    let outside = read(v, &as_(&org.ana, "casework"), "M2", &["email"]).unwrap_err();
    let missing = read(v, &as_(&org.ana, "casework"), "M404", &["email"]).unwrap_err();
    assert_eq!(outside.kind(), ErrorKind::Forbidden);
    assert_eq!(missing.kind(), ErrorKind::Forbidden);
    assert_eq!(outside.to_string(), missing.to_string());
    // Someone allowed to know learns that it does not exist.
    let err = read(v, &as_(&org.mo, "membership_admin"), "M404", &["email"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn strict_mode_refuses_a_partial_answer() {
    let org = Org::new();
    let strict = as_(&org.ana, "casework").strict(true);
    let err = read(org.vault(), &strict, "M1", &["email", "donation_total"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(err.to_string().contains("donation_total"), "{err}");
    let events = events_of(org.vault(), "ana");
    let last = events.last().unwrap();
    assert_eq!(last.outcome, Outcome::Denied);
    assert!(last.fields_released.is_empty());
}

#[test]
fn partial_reads_record_what_was_released_and_denied() {
    let org = Org::new();
    read(
        org.vault(),
        &as_(&org.ana, "casework"),
        "M1",
        &["email", "donation_total"],
    )
    .unwrap();
    let event = events_of(org.vault(), "ana").pop().unwrap();
    assert_eq!(event.outcome, Outcome::Partial);
    assert_eq!(event.fields_released, ["email"]);
    assert_eq!(event.fields_denied, ["donation_total"]);
    assert_eq!(event.purpose, "casework");
    assert!(
        event.reason.contains("representatives-read-contacts"),
        "{}",
        event.reason
    );
}

#[test]
fn listings_are_confined_to_the_remit_in_the_query() {
    let org = Org::new();
    let v = org.vault();
    let ids = |caller: &Caller, filters: &[(String, String)]| -> Vec<String> {
        v.list_subjects(caller, filters, None, 100)
            .unwrap()
            .subjects
            .iter()
            .map(|s| s.id.to_string())
            .collect()
    };
    assert_eq!(ids(&as_(&org.ana, "casework"), &[]), ["M1", "M3"]);
    // Asking for another constituency finds nothing rather than an error
    // that would confirm who is there.
    let elsewhere = [("constituency".to_owned(), OTHER_SEAT.to_owned())];
    assert!(ids(&as_(&org.ana, "casework"), &elsewhere).is_empty());
    // Volunteers see only members of their branch who agreed to calls.
    assert_eq!(ids(&as_(&org.vic, "campaigning"), &[]), ["M1"]);
    assert_eq!(
        ids(&as_(&org.mo, "membership_admin"), &[]),
        ["M1", "M2", "M3"]
    );
    // The scope attributes shown are those the purpose covers.
    let page = v
        .list_subjects(&as_(&org.fay, "finance"), &[], None, 100)
        .unwrap();
    let shown: Vec<&str> = page.subjects[0]
        .scope
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert!(
        shown.contains(&"constituency") && !shown.contains(&"consent_phone"),
        "{shown:?}"
    );
    // Finds too return only what the policies allow.
    let found = v
        .find_subjects(&as_(&org.ana, "casework"), "email", "m2@example.org")
        .unwrap();
    assert!(found.is_empty());
    let found = v
        .find_subjects(&as_(&org.ana, "casework"), "email", "m1@example.org")
        .unwrap();
    assert_eq!(found, [sid("M1")]);
}

#[test]
fn purposes_are_required_and_checked_and_refusals_recorded_without_the_text() {
    let org = Org::new();
    let v = org.vault();
    let none = Caller::with_token(&org.ana, "req", "192.0.2.1");
    let err = read(v, &none, "M1", &["email"]).unwrap_err();
    assert_eq!(err.code(), Some("purpose_required"));
    let err = read(
        v,
        &as_(&org.ana, "ana.secret@example.org"),
        "M1",
        &["email"],
    )
    .unwrap_err();
    assert_eq!(err.code(), Some("unknown_purpose"));
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let two =
        Caller::with_token(&org.ana, "req", "192.0.2.1").with_purposes(["casework", "finance"]);
    let err = read(v, &two, "M1", &["email"]).unwrap_err();
    assert_eq!(err.code(), Some("purpose_ambiguous"));
    // The same purpose twice is one purpose.
    let same =
        Caller::with_token(&org.ana, "req", "192.0.2.1").with_purposes(["casework", " casework"]);
    read(v, &same, "M1", &["email"]).unwrap();
    let events = events_of(v, "ana");
    let denied: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.outcome == Outcome::Denied)
        .map(|e| (e.purpose.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        denied,
        [
            ("(none)", "purpose_required"),
            ("(unknown)", "unknown_purpose"),
            ("(several)", "purpose_ambiguous")
        ]
    );
    let raw = std::fs::read(org.t.dir().join("ledger.sqlite")).unwrap();
    assert!(
        !raw.windows(11).any(|w| w == b"ana.secret@"),
        "the ledger must never copy what was typed as a purpose"
    );
}

#[test]
fn bad_tokens_are_refused_and_recorded() {
    let org = Org::new();
    let v = org.vault();
    for (token, code) in [
        ("", "unauthenticated"),
        ("Basic abc", "malformed_token"),
        ("custos_not-a-real-token", "invalid_token"),
    ] {
        let caller = if token.is_empty() {
            Caller::anonymous("req", "192.0.2.9")
        } else {
            Caller::with_token(token, "req", "192.0.2.9")
        }
        .with_purpose(Some("casework"));
        let err = read(v, &caller, "M1", &["email"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{token}");
        assert_eq!(err.code(), Some(code), "{token}");
    }
    let unknown = events_of(v, "(unknown)");
    assert_eq!(unknown.len(), 3, "{unknown:#?}");
    assert!(
        unknown
            .iter()
            .all(|e| e.outcome == Outcome::Denied && e.subjects == ["M1"])
    );

    // An expired token.
    let op = v.local_operator();
    let soon = custos_engine::OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
    let short = v.create_token(&op, "ana", Some(soon)).unwrap();
    read(v, &as_(short.token.expose(), "casework"), "M1", &["email"]).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let err = read(v, &as_(short.token.expose(), "casework"), "M1", &["email"]).unwrap_err();
    assert_eq!(err.code(), Some("token_expired"));

    // A revoked token, while the principal's other token still works.
    let spare = v.create_token(&op, "ana", None).unwrap();
    v.revoke_token(&op, &spare.record.id).unwrap();
    let err = read(v, &as_(spare.token.expose(), "casework"), "M1", &["email"]).unwrap_err();
    assert_eq!(err.code(), Some("token_revoked"));
    read(v, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap();
}

#[test]
fn a_revoked_principal_is_shut_out_recorded_and_alerted() {
    let org = Org::new();
    let v = org.vault();
    let op = v.local_operator();
    read(v, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap();
    v.set_principal_status(
        &op,
        "ana",
        PrincipalStatus::Revoked,
        "resigned to form a new group",
    )
    .unwrap();
    for attempt in 0..3 {
        let err = read(v, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap_err();
        assert_eq!(err.code(), Some("principal_revoked"), "attempt {attempt}");
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    }
    let err = v
        .list_subjects(&as_(&org.ana, "casework"), &[], None, 10)
        .unwrap_err();
    assert_eq!(err.code(), Some("principal_revoked"));
    let refused: Vec<_> = events_of(v, "ana")
        .into_iter()
        .filter(|e| e.reason == "principal_revoked")
        .collect();
    assert_eq!(refused.len(), 4);
    assert!(
        refused
            .iter()
            .all(|e| e.fields_released.is_empty() && e.outcome == Outcome::Denied)
    );
    let alerts = v.alerts(&op, &AlertQuery::default()).unwrap();
    let ana: Vec<_> = alerts.iter().filter(|a| a.principal == "ana").collect();
    assert_eq!(ana.len(), 4);
    assert!(ana.iter().all(|a| a.kind == "revoked_principal_attempt"));
    // Every token of hers was revoked with her.
    let tokens = v.tokens(&op, Some("ana")).unwrap();
    assert!(tokens.iter().all(|t| t.revoked_at.is_some()));
    // A token cannot be made for a leaver.
    assert_eq!(
        v.create_token(&op, "ana", None).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    // Restoring, for a mistake, lets her in again only with a new token.
    v.set_principal_status(&op, "ana", PrincipalStatus::Active, "revoked in error")
        .unwrap();
    let err = read(v, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap_err();
    assert_eq!(err.code(), Some("token_revoked"));
}

#[test]
fn revocation_in_another_process_takes_effect_at_once() {
    let org = Org::new();
    let second = open(&org.t.dir(), Default::default(), BUSY).unwrap();
    read(&second, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap();
    org.vault()
        .set_principal_status(
            &org.vault().local_operator(),
            "ana",
            PrincipalStatus::Suspended,
            "investigation",
        )
        .unwrap();
    let err = read(&second, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap_err();
    assert_eq!(err.code(), Some("principal_suspended"));
}

#[test]
fn revocation_during_a_request_withholds_the_release() {
    let org = Org::new();
    // Hold the ledger's write lock, so that Ana's read is authenticated
    // and decided, then waits to be recorded.
    let ledger = rusqlite::Connection::open(org.t.dir().join("ledger.sqlite")).unwrap();
    ledger.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::thread::scope(|s| {
        let reader = s.spawn(|| read(org.vault(), &as_(&org.ana, "casework"), "M1", &["email"]));
        std::thread::sleep(Duration::from_millis(300));
        // The revocation commits to the store; its own ledger event waits
        // behind the lock too, so it runs beside the read.
        let revoker = s.spawn(|| {
            org.vault()
                .set_principal_status(
                    &org.vault().local_operator(),
                    "ana",
                    PrincipalStatus::Revoked,
                    "left",
                )
                .unwrap()
        });
        std::thread::sleep(Duration::from_millis(300));
        ledger.execute_batch("COMMIT").unwrap();
        let err = reader.join().unwrap().unwrap_err();
        assert_eq!(err.code(), Some("principal_revoked"), "{err}");
        revoker.join().unwrap();
    });
    let events = events_of(org.vault(), "ana");
    let reads: Vec<_> = events.iter().filter(|e| e.action == "read").collect();
    assert_eq!(reads.len(), 2, "{reads:#?}");
    assert_eq!(reads[0].outcome, Outcome::Allowed);
    assert_eq!(reads[1].outcome, Outcome::Denied);
    assert!(
        reads[1]
            .reason
            .starts_with("principal_revoked: release withheld after event"),
        "{}",
        reads[1].reason
    );
}

#[test]
fn valid_until_ends_access_by_itself() {
    let org = Org::new();
    let v = org.vault();
    let op = v.local_operator();
    let soon = custos_engine::OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
    v.update_principal(
        &op,
        "vic",
        &PrincipalChange {
            valid_until: Some(Some(soon)),
            ..Default::default()
        },
    )
    .unwrap();
    read(v, &as_(&org.vic, "campaigning"), "M1", &["phone"]).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let err = read(v, &as_(&org.vic, "campaigning"), "M1", &["phone"]).unwrap_err();
    assert_eq!(err.code(), Some("principal_expired"));
}

#[test]
fn login_needs_the_password_and_a_fresh_code_and_backs_off() {
    let org = Org::new();
    let v = org.vault();
    let op = v.local_operator();
    let anon = || Caller::anonymous("req", "192.0.2.5");
    assert_eq!(
        v.login(&anon(), "mo", "whatever", "123456")
            .unwrap_err()
            .code(),
        Some("login_failed"),
        "no password set yet"
    );
    v.set_password(&op, "mo", "correct horse battery staple")
        .unwrap();
    let enrolled = v.enroll_totp(&op, "mo").unwrap();
    let secret = TotpSecret::from_base32(&enrolled.secret).unwrap();
    let now = || u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let code = secret.code_at(now());
    let session = v
        .login(&anon(), "mo", "correct horse battery staple", &code)
        .unwrap();
    let who = v
        .whoami(&Caller::with_token(session.token.expose(), "req", "x"))
        .unwrap();
    assert!(who.used_mfa());
    assert_eq!(who.auth(), "session+totp");
    // With the second factor, special-category data opens to the team.
    let caller = as_(session.token.expose(), "membership_admin");
    let (got, _) = read(v, &caller, "M1", &["ethnicity"]).unwrap();
    assert_eq!(got, ["ethnicity"]);
    // The same code again is refused.
    let err = v
        .login(&anon(), "mo", "correct horse battery staple", &code)
        .unwrap_err();
    assert_eq!(err.code(), Some("totp_replayed"));
    // Wrong passwords lock the principal out for a while: the replay was
    // one failure, four more make five.
    for _ in 0..4 {
        let err = v
            .login(&anon(), "mo", "wrong password!", &secret.code_at(now()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    }
    let err = v
        .login(
            &anon(),
            "mo",
            "correct horse battery staple",
            &secret.code_at(now() + 30),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooManyAttempts, "{err}");
    let logins: Vec<_> = events_of(v, "mo")
        .into_iter()
        .filter(|e| e.action == "login")
        .collect();
    assert_eq!(
        logins
            .iter()
            .filter(|e| e.outcome == Outcome::Denied)
            .count(),
        7,
        "{logins:#?}"
    );
    assert_eq!(
        logins
            .iter()
            .filter(|e| e.outcome == Outcome::Allowed)
            .count(),
        1
    );
    let alerts = v.alerts(&op, &AlertQuery::default()).unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "totp_replay" && a.principal == "mo")
    );
    // Logging out ends the session.
    v.logout(&Caller::with_token(session.token.expose(), "req", "x"))
        .unwrap();
    assert_eq!(
        read(v, &caller, "M1", &["email"]).unwrap_err().code(),
        Some("token_revoked")
    );
}

#[test]
fn policy_changes_are_validated_tested_and_keep_an_administrator() {
    let org = Org::new();
    let v = org.vault();
    let op = v.local_operator();
    let before = v.current_policy(&op).unwrap().version;
    // Invalid: nothing applied, and the problem has a line.
    let err = v
        .apply_policy(
            &op,
            "@id(\"x\")\npermit (principal, action, resource) when { nonsense };",
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    // Locks every administrator out.
    let err = v
        .apply_policy(
            &op,
            "@id(\"reps\") permit (principal in Custos::Kind::\"representative\", action == Custos::Action::\"read\", resource);",
            None,
        )
        .unwrap_err();
    assert_eq!(err.code(), Some("policy_refused"));
    assert!(err.to_string().contains("lock"), "{err}");
    // Fails its tests.
    let cases = "[[case]]\nname = \"admins administer\"\nprincipal = \"admin\"\naction = \"administer\"\nexpect = \"deny\"\n";
    let err = v
        .apply_policy(&op, custos_engine::DEFAULT_POLICIES, Some(cases))
        .unwrap_err();
    assert!(err.to_string().contains("admins administer"), "{err}");
    assert_eq!(v.current_policy(&op).unwrap().version, before);
    // A working change takes effect at once, in another process too.
    let second = open(&org.t.dir(), Default::default(), BUSY).unwrap();
    read(&second, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap();
    let without_reps = format!(
        "{}\n@id(\"casework-suspended\")\nforbid (principal, action, resource is Custos::Subject) when {{ context.purpose == \"casework\" }};\n",
        custos_engine::DEFAULT_POLICIES
    );
    let applied = v.apply_policy(&op, &without_reps, None).unwrap();
    assert_eq!(applied.version, before + 1);
    let err = read(&second, &as_(&org.ana, "casework"), "M1", &["email"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    // Only administrators manage the vault.
    let err = v
        .apply_policy(
            &as_(&org.mo, "membership_admin"),
            custos_engine::DEFAULT_POLICIES,
            None,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let err = v.principals(&as_(&org.ana, "casework")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
}

#[test]
fn writes_are_all_or_nothing() {
    let org = Org::new();
    let v = org.vault();
    // The membership team may not write special-category data without a
    // second factor: the whole update is refused and nothing changes.
    let caller = as_(&org.mo, "membership_admin");
    let err = v
        .update_subject(
            &caller,
            &sid("M1"),
            &[
                ("email".into(), "new@example.org".into()),
                ("ethnicity".into(), "Scottish".into()),
            ],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(
        org.t.field(&sid("M1"), "email").as_deref(),
        Some("m1@example.org")
    );
    v.update_subject(
        &caller,
        &sid("M1"),
        &[("email".into(), "new@example.org".into())],
    )
    .unwrap();
    assert_eq!(
        org.t.field(&sid("M1"), "email").as_deref(),
        Some("new@example.org")
    );
    let err = v
        .create_subject(
            &caller,
            input(Some("M9"), &[("given_name", "Al"), ("ethnicity", "Irish")]),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        v.read_subject(
            &v.local_operator(),
            &SubjectId::parse("M9").unwrap(),
            &FieldSelection::All
        )
        .is_err()
    );
}

#[test]
fn a_vault_from_before_principals_gets_its_admin_purposes_and_policies() {
    let t = TestVault::new();
    t.add("M1", &[("given_name", "Nia")]);
    // What a format-1 vault held: the admin token's digest in `meta`, and
    // no principals, tokens, purposes or policies.
    let token = custos_crypto::ApiToken::generate();
    {
        let db = t.db();
        db.execute_batch(
            "DELETE FROM tokens; DELETE FROM principals; DELETE FROM policies; DELETE FROM purposes;",
        )
        .unwrap();
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('admin_token_sha256', ?1)",
            [token.digest().as_bytes().as_slice()],
        )
        .unwrap();
    }
    let vault = t.reopen().unwrap();
    let admin =
        Caller::with_token(token.expose(), "req", "x").with_purpose(Some("membership_admin"));
    let (got, _) = read(&vault, &admin, "M1", &["given_name"]).unwrap();
    assert_eq!(got, ["given_name"]);
    let op = vault.local_operator();
    assert_eq!(
        vault
            .principal(&op, "admin")
            .unwrap()
            .record
            .attributes
            .get(custos_model::AttributeKey::Role),
        Some("admin")
    );
    assert_eq!(vault.purposes(&op).unwrap().len(), 8);
    assert_eq!(
        vault.current_policy(&op).unwrap().text,
        custos_engine::DEFAULT_POLICIES
    );
}
