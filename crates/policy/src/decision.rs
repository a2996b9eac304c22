//! Deciding one request, field by field. Deciding is total: it returns a
//! [`Decision`], never an error, and anything not explicitly permitted is
//! denied.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use cedar_policy::{Authorizer, Context, Entities, Request, RestrictedExpression};
use custos_model::{DataCategory, FieldName, FieldSpec, Purpose, PurposeName};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::action::{Action, ActionScope};
use crate::entities::{PrincipalEntity, SubjectFacts, TYPES, uid, vault_uid};
use crate::policies::{Effect, Policies};

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// Who asks.
    pub principal: &'a PrincipalEntity,
    /// What they ask to do.
    pub action: Action,
    /// The subject, for subject and field actions.
    pub subject: Option<SubjectFacts<'a>>,
    /// The fields asked for, for field actions.
    pub fields: &'a [&'a FieldSpec],
    /// The declared purpose; none only for vault administration.
    pub purpose: Option<&'a Purpose>,
    /// Whether the principal authenticated with a second factor.
    pub mfa: bool,
    /// How the principal authenticated: `api_token`, `session` or
    /// `local_operator`.
    pub auth: &'a str,
    /// The time of the request.
    pub now: OffsetDateTime,
}

/// A policy that took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The policy's `@id`.
    pub id: String,
    /// Its `@description`.
    pub description: Option<String>,
}

/// Why something was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// The request declared no purpose.
    NoPurpose,
    /// The field's category is not one the purpose may use.
    PurposeCategory {
        /// The purpose.
        purpose: PurposeName,
        /// The field's category.
        category: DataCategory,
    },
    /// The purpose needs the subject's consent, and they have not given it.
    NoConsent {
        /// The purpose.
        purpose: PurposeName,
    },
    /// A `forbid` policy applies.
    Forbidden {
        /// The forbidding policies.
        rules: Vec<RuleRef>,
    },
    /// No `permit` policy applies.
    NotPermitted,
}

impl DenyReason {
    /// A stable code, for APIs and the ledger.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoPurpose => "purpose_required",
            Self::PurposeCategory { .. } => "purpose_category",
            Self::NoConsent { .. } => "no_consent",
            Self::Forbidden { .. } => "forbidden",
            Self::NotPermitted => "not_permitted",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPurpose => f.write_str("the request declares no purpose"),
            Self::PurposeCategory { purpose, category } => {
                write!(f, "purpose `{purpose}` does not cover `{category}` data")
            }
            Self::NoConsent { purpose } => {
                write!(
                    f,
                    "purpose `{purpose}` needs the member's consent, which they have not given"
                )
            }
            Self::Forbidden { rules } => {
                let names: Vec<String> = rules
                    .iter()
                    .map(|r| match &r.description {
                        Some(d) => format!("`{}` ({d})", r.id),
                        None => format!("`{}`", r.id),
                    })
                    .collect();
                write!(f, "forbidden by policy {}", names.join(", "))
            }
            Self::NotPermitted => f.write_str("no policy permits it"),
        }
    }
}

/// The verdict on one field, or on the whole request for actions without
/// fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The field; none for subject and vault actions.
    pub field: Option<FieldName>,
    /// The permitting policies, or why it is denied.
    pub outcome: Result<Vec<String>, DenyReason>,
}

/// The decision on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    verdicts: Vec<Verdict>,
    errors: Vec<String>,
}

impl Decision {
    /// Every verdict, one per field (in the order asked) or one in all.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    /// The fields allowed.
    pub fn allowed_fields(&self) -> impl Iterator<Item = &FieldName> {
        self.verdicts
            .iter()
            .filter(|v| v.outcome.is_ok())
            .filter_map(|v| v.field.as_ref())
    }

    /// What was denied, and why.
    pub fn denials(&self) -> impl Iterator<Item = (Option<&FieldName>, &DenyReason)> {
        self.verdicts
            .iter()
            .filter_map(|v| v.outcome.as_ref().err().map(|r| (v.field.as_ref(), r)))
    }

    /// Whether nothing was denied.
    pub fn is_permitted(&self) -> bool {
        !self.verdicts.is_empty() && self.verdicts.iter().all(|v| v.outcome.is_ok())
    }

    /// Whether nothing was allowed.
    pub fn is_denied(&self) -> bool {
        self.verdicts.iter().all(|v| v.outcome.is_err())
    }

    /// The policies that permitted something, each once.
    pub fn permitted_by(&self) -> BTreeSet<&str> {
        self.verdicts
            .iter()
            .filter_map(|v| v.outcome.as_ref().ok())
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// Policies that failed to evaluate (and so were skipped), for
    /// diagnostics.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

impl Policies {
    /// Decides a request, from the cache when the same inputs were decided
    /// before.
    pub fn decide(&self, request: &AccessRequest<'_>) -> Arc<Decision> {
        let Some(key) = self.cache_key(request) else {
            return Arc::new(self.evaluate(request));
        };
        if let Some(hit) = self.cache.get(&key) {
            return hit;
        }
        let decision = Arc::new(self.evaluate(request));
        self.cache.insert(key, Arc::clone(&decision));
        decision
    }

    /// For benchmarks and tests: decides without the cache.
    pub fn decide_uncached(&self, request: &AccessRequest<'_>) -> Decision {
        self.evaluate(request)
    }

    /// The cache key of a request: every input a decision can depend on, or
    /// none if the policies read the clock.
    fn cache_key(&self, request: &AccessRequest<'_>) -> Option<String> {
        if self.reads.clock {
            return None;
        }
        const SEP: char = '\u{1f}';
        let mut key = String::with_capacity(128);
        for part in [
            request.principal.fingerprint(),
            request.action.as_str(),
            request.purpose.map_or("", |p| p.name().as_str()),
            if request.mfa { "mfa" } else { "-" },
            request.auth,
        ] {
            key.push_str(part);
            key.push(SEP);
        }
        for field in request.fields {
            key.push_str(field.name().as_str());
            key.push(',');
        }
        key.push(SEP);
        if let Some(subject) = &request.subject {
            if self.reads.subject_identity {
                key.push_str(subject.id.as_str());
            }
            key.push(SEP);
            let consent = request.purpose.map_or(&[][..], |p| p.consent_fields());
            for attr in self
                .reads
                .resource_attrs
                .iter()
                .map(String::as_str)
                .chain(consent.iter().map(FieldName::as_str))
            {
                key.push_str(attr);
                key.push('=');
                key.push_str(subject.get(attr).unwrap_or("\u{0}"));
                key.push(SEP);
            }
        }
        Some(key)
    }

    /// Decides a request without the cache.
    pub(crate) fn evaluate(&self, request: &AccessRequest<'_>) -> Decision {
        let mut errors = Vec::new();
        let scope = request.action.scope();
        let purpose = request.purpose;
        if scope != ActionScope::Vault && purpose.is_none() {
            return Decision {
                verdicts: vec![Verdict {
                    field: None,
                    outcome: Err(DenyReason::NoPurpose),
                }],
                errors,
            };
        }
        let consent_missing = match (purpose, &request.subject) {
            (Some(p), Some(subject)) if p.requires_consent() => !p
                .consent_fields()
                .iter()
                .any(|f| subject.get(f.as_str()) == Some("true")),
            _ => false,
        };
        let entities = self.entities(request);
        let base = self.base_context(request);
        let set = self.applicable(request.principal, request.action);
        let verdicts = if scope == ActionScope::Field {
            request
                .fields
                .iter()
                .map(|field| {
                    let outcome = match purpose {
                        Some(p) if !p.covers(field.category()) => {
                            Err(DenyReason::PurposeCategory {
                                purpose: p.name().clone(),
                                category: field.category(),
                            })
                        }
                        Some(p) if consent_missing => Err(DenyReason::NoConsent {
                            purpose: p.name().clone(),
                        }),
                        _ => {
                            let mut context = base.clone();
                            if let Some(record) = self.field_records.get(field.name())
                                && self.reads_context("field")
                            {
                                context.push(("field".to_owned(), record.clone()));
                            }
                            self.cedar(request, &set, context, &entities, &mut errors)
                        }
                    };
                    Verdict {
                        field: Some(field.name().clone()),
                        outcome,
                    }
                })
                .collect()
        } else {
            let outcome = match purpose {
                Some(p) if consent_missing => Err(DenyReason::NoConsent {
                    purpose: p.name().clone(),
                }),
                _ => self.cedar(request, &set, base, &entities, &mut errors),
            };
            vec![Verdict {
                field: None,
                outcome,
            }]
        };
        Decision { verdicts, errors }
    }

    fn entities(&self, request: &AccessRequest<'_>) -> Entities {
        let mut list = vec![request.principal.entity().clone()];
        if let Some(subject) = &request.subject {
            list.push(subject.entity(&self.schema, &self.reads.resource_attrs));
        }
        // Two entities with distinct ids and no parents in common: nothing
        // can fail, but if Cedar refused them an empty store only denies.
        Entities::from_entities(list, None).unwrap_or_else(|_| Entities::empty())
    }

    /// Whether some policy reads this context attribute. Requests are not
    /// checked against the schema at run time, so an attribute that no
    /// policy reads can be left out: it cannot change a decision.
    fn reads_context(&self, attr: &str) -> bool {
        self.reads.context_whole || self.reads.context_attrs.contains(attr)
    }

    fn base_context(&self, request: &AccessRequest<'_>) -> Vec<(String, RestrictedExpression)> {
        let mut context = Vec::with_capacity(5);
        if self.reads_context("mfa") {
            context.push((
                "mfa".to_owned(),
                RestrictedExpression::new_bool(request.mfa),
            ));
        }
        if self.reads_context("auth") {
            context.push((
                "auth".to_owned(),
                RestrictedExpression::new_string(request.auth.to_owned()),
            ));
        }
        if self.reads_context("now") {
            let now = request
                .now
                .to_offset(time::UtcOffset::UTC)
                .replace_nanosecond(0)
                .unwrap_or(request.now)
                .format(&Rfc3339)
                .unwrap_or_default();
            context.push(("now".to_owned(), RestrictedExpression::new_datetime(now)));
        }
        if request.action.scope() != ActionScope::Vault {
            if self.reads_context("purpose") {
                context.push((
                    "purpose".to_owned(),
                    RestrictedExpression::new_string(
                        request.purpose.map_or("", |p| p.name().as_str()).to_owned(),
                    ),
                ));
            }
            if self.reads_context("fields") {
                context.push((
                    "fields".to_owned(),
                    RestrictedExpression::new_set(
                        request
                            .fields
                            .iter()
                            .map(|f| RestrictedExpression::new_string(f.name().to_string())),
                    ),
                ));
            }
        }
        context
    }

    fn cedar(
        &self,
        request: &AccessRequest<'_>,
        set: &cedar_policy::PolicySet,
        context: Vec<(String, RestrictedExpression)>,
        entities: &Entities,
        errors: &mut Vec<String>,
    ) -> Result<Vec<String>, DenyReason> {
        let resource = match &request.subject {
            Some(subject) => uid(&TYPES.subject, subject.id.as_str()),
            None => vault_uid(),
        };
        let action = uid(&TYPES.action, request.action.as_str());
        let Ok(context) = Context::from_pairs(context) else {
            errors.push("the request context could not be built".to_owned());
            return Err(DenyReason::NotPermitted);
        };
        let Ok(cedar_request) = Request::new(
            request.principal.uid().clone(),
            action,
            resource,
            context,
            None,
        ) else {
            errors.push("the request could not be built".to_owned());
            return Err(DenyReason::NotPermitted);
        };
        let response = Authorizer::new().is_authorized(&cedar_request, set, entities);
        for error in response.diagnostics().errors() {
            errors.push(error.to_string());
        }
        let reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        match response.decision() {
            cedar_policy::Decision::Allow => Ok(reasons),
            cedar_policy::Decision::Deny => {
                let rules: Vec<_> = reasons
                    .iter()
                    .filter_map(|id| self.rule(id))
                    .filter(|r| r.effect == Effect::Forbid)
                    .map(|r| crate::decision::RuleRef {
                        id: r.id.clone(),
                        description: r.description.clone(),
                    })
                    .collect();
                if rules.is_empty() {
                    Err(DenyReason::NotPermitted)
                } else {
                    Err(DenyReason::Forbidden { rules })
                }
            }
        }
    }
}
