//! Decisions, the cache and the rules that hold whatever the policies say.

use custos_model::{
    Attributes, FieldName, FieldSpec, PrincipalKind, PrincipalName, Purpose, Schema, SubjectId,
};
use time::OffsetDateTime;

use crate::{
    AccessRequest, Action, DenyReason, Policies, PrincipalEntity, PrincipalFacts, SubjectFacts,
};

fn principal(name: &str, kind: PrincipalKind, attrs: &[(&str, &str)]) -> PrincipalEntity {
    PrincipalEntity::new(PrincipalFacts {
        name: PrincipalName::parse(name).unwrap(),
        kind,
        attributes: Attributes::parse_pairs(attrs.iter().copied()).unwrap(),
    })
}

fn purpose(name: &str) -> Purpose {
    Purpose::defaults()
        .into_iter()
        .find(|p| p.name().as_str() == name)
        .unwrap()
}

fn scope(pairs: &[(&str, &str)]) -> Vec<(FieldName, String)> {
    pairs
        .iter()
        .map(|(k, v)| (FieldName::parse(k).unwrap(), (*v).to_owned()))
        .collect()
}

struct Fixture {
    schema: Schema,
    policies: Policies,
}

impl Fixture {
    fn new(text: &str) -> Self {
        let schema = Schema::default_party();
        let policies = Policies::compile(text, &schema).unwrap();
        Self { schema, policies }
    }

    fn fields(&self, names: &[&str]) -> Vec<&FieldSpec> {
        names
            .iter()
            .map(|n| self.schema.field(n).unwrap())
            .collect()
    }
}

#[test]
fn decisions_are_field_by_field_with_reasons() {
    let f = Fixture::new(crate::DEFAULT_POLICIES);
    let ana = principal(
        "ana",
        PrincipalKind::Representative,
        &[("constituency", "E1")],
    );
    let id = SubjectId::parse("M1").unwrap();
    let attrs = scope(&[("constituency", "E1")]);
    let fields = f.fields(&["email", "donation_total", "ethnicity", "notes"]);
    let casework = purpose("casework");
    let decision = f.policies.decide(&AccessRequest {
        principal: &ana,
        action: Action::Read,
        subject: Some(SubjectFacts {
            id: &id,
            scope: &attrs,
        }),
        fields: &fields,
        purpose: Some(&casework),
        mfa: false,
        auth: "api_token",
        now: OffsetDateTime::now_utc(),
    });
    let allowed: Vec<&str> = decision.allowed_fields().map(FieldName::as_str).collect();
    assert_eq!(allowed, ["email"]);
    let codes: Vec<(&str, &str)> = decision
        .denials()
        .map(|(f, r)| (f.map_or("", FieldName::as_str), r.code()))
        .collect();
    assert_eq!(
        codes,
        [
            ("donation_total", "purpose_category"),
            ("ethnicity", "purpose_category"),
            ("notes", "not_permitted"),
        ]
    );
    assert!(!decision.is_permitted());
    assert!(!decision.is_denied());
    assert!(
        decision
            .permitted_by()
            .contains("representatives-read-contacts")
    );
}

#[test]
fn forbids_name_their_rule() {
    let f = Fixture::new(crate::DEFAULT_POLICIES);
    let mo = principal("mo", PrincipalKind::Staff, &[("team", "membership")]);
    let id = SubjectId::parse("M1").unwrap();
    let attrs = scope(&[]);
    let fields = f.fields(&["ethnicity"]);
    let admin = purpose("membership_admin");
    let decision = f.policies.decide(&AccessRequest {
        principal: &mo,
        action: Action::Read,
        subject: Some(SubjectFacts {
            id: &id,
            scope: &attrs,
        }),
        fields: &fields,
        purpose: Some(&admin),
        mfa: false,
        auth: "api_token",
        now: OffsetDateTime::now_utc(),
    });
    let (_, reason) = decision.denials().next().unwrap();
    match reason {
        DenyReason::Forbidden { rules } => assert_eq!(rules[0].id, "special-category-needs-mfa"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(reason.to_string().contains("two-factor"), "{reason}");
}

#[test]
fn the_cache_never_confuses_subjects_principals_or_versions() {
    let f = Fixture::new(crate::DEFAULT_POLICIES);
    let casework = purpose("casework");
    let fields = f.fields(&["email"]);
    let id = SubjectId::parse("M1").unwrap();
    let inside = scope(&[("constituency", "E1"), ("joined_on", "2020-01-01")]);
    let outside = scope(&[("constituency", "E2"), ("joined_on", "2020-01-01")]);
    let decide = |p: &PrincipalEntity, attrs: &[(FieldName, String)]| {
        f.policies
            .decide(&AccessRequest {
                principal: p,
                action: Action::Read,
                subject: Some(SubjectFacts {
                    id: &id,
                    scope: attrs,
                }),
                fields: &fields,
                purpose: Some(&casework),
                mfa: false,
                auth: "api_token",
                now: OffsetDateTime::now_utc(),
            })
            .is_permitted()
    };
    let ana = principal(
        "ana",
        PrincipalKind::Representative,
        &[("constituency", "E1")],
    );
    assert!(decide(&ana, &inside));
    assert!(!decide(&ana, &outside), "same id, other constituency");
    assert!(decide(&ana, &inside), "cached");
    // The same name, moved to another constituency.
    let moved = principal(
        "ana",
        PrincipalKind::Representative,
        &[("constituency", "E2")],
    );
    assert!(!decide(&moved, &inside));
    assert!(decide(&moved, &outside));
}

#[test]
fn policies_on_the_clock_are_evaluated_every_time() {
    let f = Fixture::new(
        r#"@id("until-2000") permit (principal, action, resource) when { context.now < datetime("2000-01-01") };"#,
    );
    assert!(f.policies.reads.clock);
    let root = principal("root", PrincipalKind::Staff, &[("role", "admin")]);
    let request = |now| AccessRequest {
        principal: &root,
        action: Action::Administer,
        subject: None,
        fields: &[],
        purpose: None,
        mfa: false,
        auth: "api_token",
        now,
    };
    assert!(
        !f.policies
            .decide(&request(OffsetDateTime::now_utc()))
            .is_permitted()
    );
    assert!(
        f.policies
            .decide(&request(OffsetDateTime::UNIX_EPOCH))
            .is_permitted()
    );
}

#[test]
fn a_forbid_whose_condition_fails_leaves_the_permit_standing() {
    // The forbid tests an optional attribute the principal lacks: it does
    // not apply, and evaluating it is not an error.
    let f = Fixture::new(
        r#"@id("everyone") permit (principal, action == Custos::Action::"administer", resource);
           @id("never") forbid (principal, action == Custos::Action::"administer", resource) when { principal has team && principal.team == "nobody" };"#,
    );
    let root = principal("root", PrincipalKind::Staff, &[]);
    let decision = f.policies.decide(&AccessRequest {
        principal: &root,
        action: Action::Administer,
        subject: None,
        fields: &[],
        purpose: None,
        mfa: false,
        auth: "api_token",
        now: OffsetDateTime::now_utc(),
    });
    assert!(decision.is_permitted());
    assert!(decision.errors().is_empty());
}

#[test]
fn consent_is_checked_before_policies() {
    let f = Fixture::new(r#"@id("all") permit (principal, action, resource);"#);
    let vic = principal("vic", PrincipalKind::Volunteer, &[]);
    let id = SubjectId::parse("M1").unwrap();
    let fields = f.fields(&["phone"]);
    let campaigning = purpose("campaigning");
    let decide = |attrs: &[(FieldName, String)]| {
        f.policies.decide(&AccessRequest {
            principal: &vic,
            action: Action::Read,
            subject: Some(SubjectFacts {
                id: &id,
                scope: attrs,
            }),
            fields: &fields,
            purpose: Some(&campaigning),
            mfa: false,
            auth: "api_token",
            now: OffsetDateTime::now_utc(),
        })
    };
    let refused = decide(&scope(&[("consent_phone", "false")]));
    assert_eq!(refused.denials().next().unwrap().1.code(), "no_consent");
    assert!(decide(&scope(&[("consent_post", "true")])).is_permitted());
}
