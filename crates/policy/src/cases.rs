//! Policy test cases: a file of requests with their expected outcome, so
//! that a DPO can prove what a policy set does before applying it.
//!
//! The format (TOML):
//!
//! ```toml
//! [principals.ana]                      # principals the cases use
//! kind = "representative"
//! attrs = { constituency = "E14000639" }
//!
//! [subjects.M1]                         # members, by their scope attributes
//! constituency = "E14000639"
//! consent_phone = true
//!
//! [[case]]
//! name = "a representative reads contact details in her constituency"
//! principal = "ana"
//! action = "read"
//! subject = "M1"
//! fields = ["email", "phone"]
//! purpose = "casework"
//! mfa = false                           # default false
//! expect = "allow"                      # every field allowed; or "deny"
//! # or field by field, with an optional reason code for the denials:
//! # allow = ["email"]
//! # deny = ["donation_total"]
//! # reason = "not_permitted"
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use custos_model::{Attributes, FieldSpec, PrincipalKind, PrincipalName, Purpose, SubjectId};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toml::Spanned;

use crate::action::{Action, ActionScope};
use crate::decision::AccessRequest;
use crate::entities::{PrincipalEntity, PrincipalFacts, SubjectFacts};
use crate::policies::Policies;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    principals: BTreeMap<String, Spanned<RawPrincipal>>,
    #[serde(default)]
    subjects: BTreeMap<String, Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    case: Vec<Spanned<RawCase>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    kind: String,
    #[serde(default)]
    attrs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    principal: String,
    action: String,
    subject: Option<String>,
    #[serde(default)]
    fields: Vec<String>,
    purpose: Option<String>,
    #[serde(default)]
    mfa: bool,
    auth: Option<String>,
    time: Option<String>,
    expect: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    reason: Option<String>,
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expectation {
    /// Everything allowed.
    Allow,
    /// Everything denied.
    Deny,
    /// These fields allowed, those denied.
    Fields {
        allow: Vec<String>,
        deny: Vec<String>,
    },
}

/// One parsed case.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    line: usize,
    principal: PrincipalName,
    action: Action,
    subject: Option<(SubjectId, Vec<(custos_model::FieldName, String)>)>,
    fields: Vec<String>,
    purpose: Option<String>,
    mfa: bool,
    auth: String,
    time: Option<OffsetDateTime>,
    expect: Expectation,
    reason: Option<String>,
}

/// A parsed file of cases.
#[derive(Debug, Clone)]
pub struct CaseFile {
    principals: BTreeMap<PrincipalName, PrincipalFacts>,
    cases: Vec<Case>,
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// The line the case starts on.
    pub line: usize,
    /// Whether the policy did what the case expects.
    pub passed: bool,
    /// What happened, field by field.
    pub detail: String,
}

/// The outcome of a file of cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseReport {
    /// One result per case, in file order.
    pub results: Vec<CaseResult>,
}

impl CaseReport {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// The cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.results.iter().filter(|r| !r.passed)
    }
}

fn line_of(src: &str, span: &Range<usize>) -> usize {
    src.get(..span.start)
        .map_or(1, |s| s.matches('\n').count() + 1)
}

impl CaseFile {
    /// Parses a file of cases against the schema the policies use. Errors
    /// name the line.
    pub fn parse(src: &str, policies: &Policies) -> Result<Self, String> {
        let schema = policies.schema();
        let raw: RawFile = toml::from_str(src).map_err(|e| {
            let message = e.message().trim_end_matches('.').to_owned();
            match e.span() {
                Some(span) => format!("line {}: {message}", line_of(src, &span)),
                None => message,
            }
        })?;
        let mut principals = BTreeMap::new();
        for (name, spanned) in &raw.principals {
            let line = line_of(src, &spanned.span());
            let at = |m: String| format!("line {line}: principal `{name}`: {m}");
            let parsed = PrincipalName::parse(name).map_err(|e| at(format!("the name {e}")))?;
            let p = spanned.get_ref();
            let kind = PrincipalKind::parse(&p.kind)
                .map_err(|m| at(format!("`kind` `{}` {m}", p.kind)))?;
            let attributes =
                Attributes::parse_pairs(p.attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .map_err(at)?;
            principals.insert(
                parsed.clone(),
                PrincipalFacts {
                    name: parsed,
                    kind,
                    attributes,
                },
            );
        }
        let mut subjects = BTreeMap::new();
        for (id, spanned) in &raw.subjects {
            let line = line_of(src, &spanned.span());
            let at = |m: String| format!("line {line}: subject `{id}`: {m}");
            let parsed = SubjectId::parse(id).map_err(|e| at(format!("the id {e}")))?;
            let mut scope = Vec::new();
            for (field, value) in spanned.get_ref() {
                let spec = schema
                    .field(field)
                    .filter(|f| f.is_scope())
                    .ok_or_else(|| {
                        at(format!("`{field}` is not a scope attribute of the schema"))
                    })?;
                let raw_value = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Integer(n) => n.to_string(),
                    toml::Value::Datetime(d) => d.to_string(),
                    _ => {
                        return Err(at(format!(
                            "`{field}` must be a string, boolean, integer or date"
                        )));
                    }
                };
                let value = spec
                    .parse_value(&raw_value)
                    .map_err(|e| at(format!("`{field}` {e}")))?;
                if let Some(value) = value {
                    scope.push((spec.name().clone(), value.as_str().to_owned()));
                }
            }
            subjects.insert(id.clone(), (parsed, scope));
        }
        let mut cases = Vec::with_capacity(raw.case.len());
        for spanned in raw.case {
            let line = line_of(src, &spanned.span());
            let c = spanned.into_inner();
            let at = |m: String| format!("line {line}: case `{}`: {m}", c.name);
            let principal =
                PrincipalName::parse(&c.principal).map_err(|e| at(format!("`principal` {e}")))?;
            let action = Action::parse(&c.action).map_err(at)?;
            let subject = match (&c.subject, action.scope()) {
                (Some(id), ActionScope::Field | ActionScope::Subject) => {
                    Some(subjects.get(id).cloned().ok_or_else(|| {
                        at(format!("`subject` `{id}` is not defined under [subjects]"))
                    })?)
                }
                (None, ActionScope::Field | ActionScope::Subject) => {
                    return Err(at(format!("`{action}` needs a `subject`")));
                }
                (Some(_), _) => {
                    return Err(at(format!(
                        "`{action}` applies to the vault; remove `subject`"
                    )));
                }
                (None, _) => None,
            };
            let expect = match (c.expect.as_deref(), c.allow.is_empty() && c.deny.is_empty()) {
                (Some("allow"), true) => Expectation::Allow,
                (Some("deny"), true) => Expectation::Deny,
                (None, false) => Expectation::Fields {
                    allow: c.allow.clone(),
                    deny: c.deny.clone(),
                },
                (Some(other), true) => {
                    return Err(at(format!("`expect` `{other}` must be `allow` or `deny`")));
                }
                (Some(_), false) => {
                    return Err(at(
                        "give either `expect` or `allow`/`deny`, not both".to_owned()
                    ));
                }
                (None, true) => return Err(at("give `expect` or `allow`/`deny`".to_owned())),
            };
            let mut fields = c.fields.clone();
            if let Expectation::Fields { allow, deny } = &expect {
                for f in allow.iter().chain(deny) {
                    if !fields.contains(f) {
                        fields.push(f.clone());
                    }
                }
            }
            if action.scope() == ActionScope::Field && fields.is_empty() {
                return Err(at(format!("`{action}` needs `fields`")));
            }
            for f in &fields {
                if schema.field(f).is_none() {
                    return Err(at(format!("`{f}` is not a field of the schema")));
                }
            }
            let time = c
                .time
                .as_deref()
                .map(|t| {
                    OffsetDateTime::parse(t, &Rfc3339)
                        .map_err(|_| at(format!("`time` `{t}` is not an RFC 3339 time")))
                })
                .transpose()?;
            cases.push(Case {
                name: c.name.clone(),
                line,
                principal,
                action,
                subject,
                fields,
                purpose: c.purpose.clone(),
                mfa: c.mfa,
                auth: c.auth.clone().unwrap_or_else(|| "api_token".to_owned()),
                time,
                expect,
                reason: c.reason.clone(),
            });
        }
        Ok(Self { principals, cases })
    }

    /// How many cases the file holds.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether the file holds no cases.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Runs every case. Principals not defined in the file are looked up with
    /// `known` (the vault's principals); an unknown principal or purpose
    /// fails its case.
    pub fn run(
        &self,
        policies: &Policies,
        purposes: &[Purpose],
        known: &dyn Fn(&PrincipalName) -> Option<PrincipalFacts>,
    ) -> CaseReport {
        let results = self
            .cases
            .iter()
            .map(|case| {
                let (passed, detail) = self.run_case(case, policies, purposes, known);
                CaseResult {
                    name: case.name.clone(),
                    line: case.line,
                    passed,
                    detail,
                }
            })
            .collect();
        CaseReport { results }
    }

    fn run_case(
        &self,
        case: &Case,
        policies: &Policies,
        purposes: &[Purpose],
        known: &dyn Fn(&PrincipalName) -> Option<PrincipalFacts>,
    ) -> (bool, String) {
        let Some(facts) = self
            .principals
            .get(&case.principal)
            .cloned()
            .or_else(|| known(&case.principal))
        else {
            return (
                false,
                format!(
                    "principal `{}` is neither in the file nor in the vault",
                    case.principal
                ),
            );
        };
        let purpose = match &case.purpose {
            Some(name) => match purposes.iter().find(|p| p.name().as_str() == name) {
                Some(p) => Some(p),
                None => return (false, format!("purpose `{name}` is not in the registry")),
            },
            None => None,
        };
        let specs: Vec<&FieldSpec> = case
            .fields
            .iter()
            .filter_map(|f| policies.schema().field(f))
            .collect();
        let principal = PrincipalEntity::new(facts);
        let subject = case
            .subject
            .as_ref()
            .map(|(id, scope)| SubjectFacts { id, scope });
        let request = AccessRequest {
            principal: &principal,
            action: case.action,
            subject,
            fields: &specs,
            purpose,
            mfa: case.mfa,
            auth: &case.auth,
            now: case.time.unwrap_or_else(OffsetDateTime::now_utc),
        };
        let decision = policies.evaluate(&request);
        let mut problems = Vec::new();
        let mut outcomes = Vec::new();
        for verdict in decision.verdicts() {
            let label = verdict
                .field
                .as_ref()
                .map_or_else(|| case.action.to_string(), ToString::to_string);
            let expected_allow = match &case.expect {
                Expectation::Allow => true,
                Expectation::Deny => false,
                Expectation::Fields { allow, .. } => verdict
                    .field
                    .as_ref()
                    .is_some_and(|f| allow.iter().any(|a| a == f.as_str())),
            };
            match &verdict.outcome {
                Ok(by) => {
                    outcomes.push(format!("{label}: allowed by {}", by.join(", ")));
                    if !expected_allow {
                        problems.push(format!(
                            "expected `{label}` to be denied, but it was allowed by {}",
                            by.join(", ")
                        ));
                    }
                }
                Err(reason) => {
                    outcomes.push(format!("{label}: denied ({reason})"));
                    if expected_allow {
                        problems.push(format!(
                            "expected `{label}` to be allowed, but it was denied: {reason}"
                        ));
                    } else if let Some(code) = &case.reason
                        && code != reason.code()
                    {
                        problems.push(format!(
                            "expected `{label}` to be denied with reason `{code}`, but the reason was `{}`: {reason}",
                            reason.code()
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            (true, outcomes.join("; "))
        } else {
            (false, problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::DEFAULT_POLICY_TESTS;
    use custos_model::Schema;

    fn default_policies() -> Policies {
        Policies::default_for(&Schema::default_party()).unwrap()
    }

    #[test]
    fn the_default_policy_tests_pass() {
        let policies = default_policies();
        let file = CaseFile::parse(DEFAULT_POLICY_TESTS, &policies).unwrap();
        assert!(file.len() >= 20, "the matrix should be thorough");
        let report = file.run(&policies, &Purpose::defaults(), &|_| None);
        let failures: Vec<String> = report
            .failures()
            .map(|f| format!("line {} `{}`: {}", f.line, f.name, f.detail))
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_wrong_expectation_fails_and_says_why() {
        let policies = default_policies();
        let src = r#"
[principals.ana]
kind = "representative"
attrs = { constituency = "E1" }

[subjects.M1]
constituency = "E2"

[[case]]
name = "wrongly expects a read outside her constituency"
principal = "ana"
action = "read"
subject = "M1"
fields = ["email"]
purpose = "casework"
expect = "allow"
"#;
        let file = CaseFile::parse(src, &policies).unwrap();
        let report = file.run(&policies, &Purpose::defaults(), &|_| None);
        assert!(!report.passed());
        let failure = report.failures().next().unwrap();
        assert_eq!(failure.line, 9);
        assert!(
            failure.detail.contains("no policy permits it"),
            "{}",
            failure.detail
        );
    }

    #[test]
    fn bad_files_name_the_line() {
        let policies = default_policies();
        let err = CaseFile::parse(
            "[[case]]\nname = \"x\"\nprincipal = \"a\"\naction = \"fly\"\nexpect = \"allow\"\n",
            &policies,
        )
        .unwrap_err();
        assert!(err.starts_with("line 1:") && err.contains("`fly`"), "{err}");
        let err =
            CaseFile::parse("[subjects.M1]\nemail = \"a@b.example\"\n", &policies).unwrap_err();
        assert!(err.contains("not a scope attribute"), "{err}");
        let err = CaseFile::parse("[[case]]\nname = \"x\"\nprincipal = \"a\"\naction = \"read\"\nsubject = \"M9\"\nfields = [\"email\"]\nexpect = \"allow\"\n", &policies).unwrap_err();
        assert!(err.contains("`M9`"), "{err}");
    }
}
