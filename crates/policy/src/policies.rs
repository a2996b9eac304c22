//! A compiled, validated policy set.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use cedar_policy::{Policy, PolicyId, PolicySet, RestrictedExpression, ValidationMode, Validator};
use custos_model::{AttributeKey, Schema};

use crate::action::Action;
use crate::analysis::Reads;
use crate::cache::DecisionCache;
use crate::cedar_schema::cedar_schema_text;
use crate::diagnostics::{
    PolicyError, PolicyProblem, from_diagnostic, line_column, statement_starts,
};
use crate::entities::PrincipalEntity;
use crate::scope::RuleScope;

/// The default policies for a party or union.
pub const DEFAULT_POLICIES: &str = include_str!("../policies/party.cedar");
/// The policies for a vault whose schema the defaults do not fit.
pub const BASELINE_POLICIES: &str = include_str!("../policies/baseline.cedar");
/// The test cases that prove what the default policies do.
pub const DEFAULT_POLICY_TESTS: &str = include_str!("../policies/party.tests.toml");

/// Whether a rule allows or forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A `permit` rule.
    Permit,
    /// A `forbid` rule: it overrides every permit.
    Forbid,
}

/// One policy of the set, as a DPO refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its `@id` annotation.
    pub id: String,
    /// Permit or forbid.
    pub effect: Effect,
    /// Its `@description` annotation, if any.
    pub description: Option<String>,
    /// The line it starts on.
    pub line: usize,
}

/// A policy set checked against the vault's schema, ready to decide.
///
/// INVARIANT: every policy has a unique `@id`, the set validates in Cedar's
/// strict mode against the schema generated from `schema`, and `reads`
/// covers every input any policy can depend on.
#[derive(Debug)]
pub struct Policies {
    text: String,
    pub(crate) set: PolicySet,
    pub(crate) schema: Schema,
    rules: Vec<Rule>,
    by_id: HashMap<String, usize>,
    pub(crate) reads: Reads,
    pub(crate) cache: DecisionCache,
    /// Every rule with its scope, to pick the ones a request could meet.
    candidates: Vec<(Policy, RuleScope)>,
    /// The rule subsets built so far, by the indexes of their rules.
    subsets: Mutex<HashMap<Vec<usize>, Arc<PolicySet>>>,
    /// Each field's `context.field` record, built once.
    pub(crate) field_records: HashMap<custos_model::FieldName, RestrictedExpression>,
}

/// The characters an `@id` may use.
fn valid_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Problems for attributes a policy reads that no entity has. Cedar's
/// validator only says that such a policy "is impossible" (an attribute
/// tested with `has` that cannot exist makes the condition false), so this
/// names the attribute and where it is.
fn unknown_attributes(
    text: &str,
    span: std::ops::Range<usize>,
    id: &str,
    reads: &Reads,
    schema: &Schema,
) -> Vec<PolicyProblem> {
    let subject: Vec<&str> = schema.scope_fields().map(|f| f.name().as_str()).collect();
    let principal: Vec<&str> = ["name", "kind"]
        .into_iter()
        .chain(AttributeKey::ALL.iter().map(|k| k.as_str()))
        .collect();
    let checks = [
        (
            "resource",
            &reads.resource_attrs,
            &subject,
            "the schema's scope attributes",
        ),
        (
            "principal",
            &reads.principal_attrs,
            &principal,
            "principal attributes",
        ),
    ];
    let mut problems = Vec::new();
    for (var, used, known, what) in checks {
        for attr in used.iter().filter(|a| !known.contains(&a.as_str())) {
            let offset = text
                .get(span.clone())
                .and_then(|body| body.find(attr.as_str()))
                .map_or(span.start, |at| span.start + at);
            let (line, column) = line_column(text, offset);
            problems.push(PolicyProblem {
                line: Some(line),
                column: Some(column),
                message: format!(
                    "policy `{id}` reads `{var}.{attr}`, which does not exist; {what} are {}",
                    known.join(", ")
                ),
            });
        }
    }
    problems
}

impl Policies {
    /// Parses and validates a policy set. Every problem is reported with its
    /// line and column; nothing partial is ever returned.
    pub fn compile(text: &str, schema: &Schema) -> Result<Self, PolicyError> {
        let parsed = PolicySet::from_str(text).map_err(|errors| PolicyError {
            problems: errors.iter().map(|e| from_diagnostic(text, e)).collect(),
        })?;
        if parsed.templates().next().is_some() {
            return Err(PolicyError::one(
                None,
                "templates (policies with `?principal` or `?resource` slots) are not supported; write each policy in full",
            ));
        }
        let starts = statement_starts(text);
        let line_of = |index: usize| {
            starts
                .get(index)
                .map_or(1, |&offset| line_column(text, offset).0)
        };
        // Cedar names parsed policies `policy0`, `policy1`… in file order.
        let mut numbered: Vec<(usize, cedar_policy::Policy)> = parsed
            .policies()
            .map(|p| {
                let n = p
                    .id()
                    .to_string()
                    .strip_prefix("policy")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(usize::MAX);
                (n, p.clone())
            })
            .collect();
        numbered.sort_by_key(|(n, _)| *n);

        let mut problems = Vec::new();
        let mut set = PolicySet::new();
        let mut rules = Vec::with_capacity(numbered.len());
        let mut by_id = HashMap::new();
        let mut reads = Reads::default();
        let mut candidates = Vec::with_capacity(numbered.len());
        for (index, policy) in &numbered {
            let line = line_of(*index);
            let Some(id) = policy.annotation("id").map(str::to_owned) else {
                problems.push(PolicyProblem {
                    line: Some(line),
                    column: None,
                    message: "this policy has no `@id(\"…\")` annotation; give every policy an id so that decisions and the ledger can name it".to_owned(),
                });
                continue;
            };
            if !valid_rule_id(&id) {
                problems.push(PolicyProblem {
                    line: Some(line),
                    column: None,
                    message: format!("the id `{id}` may contain only lower-case letters, digits, `-` and `_` (at most 64)"),
                });
                continue;
            }
            if let Some(&first) = by_id.get(&id) {
                let first_line = rules.get(first).map_or(0, |r: &Rule| r.line);
                problems.push(PolicyProblem {
                    line: Some(line),
                    column: None,
                    message: format!(
                        "the id `{id}` is already used by the policy on line {first_line}"
                    ),
                });
                continue;
            }
            let renamed = policy.new_id(PolicyId::new(&id));
            match renamed.to_json() {
                Ok(json) => {
                    let mut own = Reads::default();
                    own.add_policy(&json);
                    let span = starts.get(*index).copied().unwrap_or(0)
                        ..starts.get(index + 1).copied().unwrap_or(text.len());
                    problems.extend(unknown_attributes(text, span, &id, &own, schema));
                    reads.merge(own);
                    candidates.push((renamed.clone(), RuleScope::from_json(&json)));
                }
                Err(e) => {
                    problems.push(PolicyProblem {
                        line: Some(line),
                        column: None,
                        message: format!("cannot analyse policy `{id}`: {e}"),
                    });
                    continue;
                }
            }
            let effect = match renamed.effect() {
                cedar_policy::Effect::Permit => Effect::Permit,
                cedar_policy::Effect::Forbid => Effect::Forbid,
            };
            if let Err(e) = set.add(renamed) {
                problems.push(PolicyProblem {
                    line: Some(line),
                    column: None,
                    message: e.to_string(),
                });
                continue;
            }
            by_id.insert(id.clone(), rules.len());
            rules.push(Rule {
                id,
                effect,
                description: policy.annotation("description").map(str::to_owned),
                line,
            });
        }
        if !problems.is_empty() {
            return Err(PolicyError { problems });
        }

        let schema_text = cedar_schema_text(schema);
        let (cedar_schema, _warnings) = cedar_policy::Schema::from_cedarschema_str(&schema_text)
            .map_err(|e| {
                PolicyError::one(
                    None,
                    format!("the vault schema cannot be expressed in Cedar: {e}"),
                )
            })?;
        let result = Validator::new(cedar_schema).validate(&set, ValidationMode::Strict);
        // Warnings count as errors: the main one says that a policy can
        // never apply, which is how a misspelt attribute behind `has` shows
        // up, and a rule that silently never applies is a mistake.
        let problems: Vec<PolicyProblem> = result
            .validation_errors()
            .map(|e| from_diagnostic(text, e))
            .chain(
                result
                    .validation_warnings()
                    .map(|w| from_diagnostic(text, w)),
            )
            .collect();
        if !problems.is_empty() {
            return Err(PolicyError { problems });
        }
        let field_records = schema
            .fields()
            .iter()
            .filter_map(|f| {
                RestrictedExpression::new_record([
                    (
                        "name".to_owned(),
                        RestrictedExpression::new_string(f.name().to_string()),
                    ),
                    (
                        "category".to_owned(),
                        RestrictedExpression::new_string(f.category().as_str().to_owned()),
                    ),
                    (
                        "special".to_owned(),
                        RestrictedExpression::new_bool(f.category().is_special()),
                    ),
                ])
                .ok()
                .map(|record| (f.name().clone(), record))
            })
            .collect();
        Ok(Self {
            text: text.to_owned(),
            set,
            schema: schema.clone(),
            rules,
            by_id,
            reads,
            cache: DecisionCache::default(),
            candidates,
            subsets: Mutex::new(HashMap::new()),
            field_records,
        })
    }

    /// The rules that could apply to this principal doing this action, as a
    /// set of their own: the same decisions as the whole set, with less to
    /// evaluate.
    pub(crate) fn applicable(&self, principal: &PrincipalEntity, action: Action) -> Arc<PolicySet> {
        let indexes: Vec<usize> = self
            .candidates
            .iter()
            .enumerate()
            .filter(|(_, (_, scope))| scope.admits(principal, action))
            .map(|(i, _)| i)
            .collect();
        let mut subsets = self.subsets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = subsets.get(&indexes) {
            return Arc::clone(set);
        }
        let set = PolicySet::from_policies(
            indexes
                .iter()
                .filter_map(|&i| self.candidates.get(i))
                .map(|(p, _)| p.clone()),
        )
        // Policies that formed one valid set still form one; if Cedar
        // ever disagreed, the whole set gives the same decisions.
        .unwrap_or_else(|_| self.set.clone());
        let set = Arc::new(set);
        // Subsets depend only on which groups a principal is in, so there
        // are few; the bound is a guard, not an expectation.
        if subsets.len() >= 4096 {
            subsets.clear();
        }
        subsets.insert(indexes, Arc::clone(&set));
        set
    }

    /// The default policies for `schema`: the party defaults if they fit
    /// it, else the baseline, which needs no particular scope attribute.
    pub fn default_for(schema: &Schema) -> Result<Self, PolicyError> {
        Self::compile(DEFAULT_POLICIES, schema)
            .or_else(|_| Self::compile(BASELINE_POLICIES, schema))
    }

    /// The policy text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// One rule by its id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.by_id.get(id).and_then(|&i| self.rules.get(i))
    }

    /// The vault schema the set was validated against.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(src: &str) -> Result<Policies, PolicyError> {
        Policies::compile(src, &Schema::default_party())
    }

    #[test]
    fn the_default_policies_compile() {
        let policies = Policies::default_for(&Schema::default_party()).unwrap();
        assert!(policies.rules().len() >= 6);
        assert!(policies.rule("special-category-needs-mfa").is_some());
        assert!(policies.reads.resource_attrs.contains("constituency"));
        assert!(!policies.reads.subject_identity);
        assert!(!policies.reads.clock);
    }

    #[test]
    fn a_schema_without_the_party_attributes_gets_the_baseline() {
        let schema = Schema::parse(
            "[[field]]\nname = \"id\"\ntype = \"text\"\ncategory = \"identity\"\n\n[[field]]\nname = \"email\"\ntype = \"email\"\ncategory = \"contact\"\n",
        )
        .unwrap();
        assert!(Policies::compile(DEFAULT_POLICIES, &schema).is_err());
        let policies = Policies::default_for(&schema).unwrap();
        assert_eq!(policies.text(), BASELINE_POLICIES);
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = compile("@id(\"a\")\npermit (principal, action, resource)\nwhen { resource.constituency == };\n").unwrap_err();
        let first = &err.problems[0];
        assert_eq!(first.line, Some(3), "{err}");
        assert!(first.column.is_some(), "{err}");
    }

    #[test]
    fn schema_errors_name_line_and_column() {
        let err = compile(
            "@id(\"typo\")\npermit (principal, action == Custos::Action::\"read\", resource is Custos::Subject)\nwhen { resource has constituncy && resource.constituncy == \"x\" };\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("constituncy"), "{text}");
        assert_eq!(err.problems[0].line, Some(3), "{text}");
    }

    #[test]
    fn ids_are_required_valid_and_unique() {
        let err = compile("permit (principal, action, resource);").unwrap_err();
        assert!(err.to_string().contains("@id"), "{err}");
        let err = compile("@id(\"Bad Id\") permit (principal, action, resource);").unwrap_err();
        assert!(err.to_string().contains("may contain only"), "{err}");
        let err = compile("@id(\"a\") permit (principal, action, resource);\n@id(\"a\") forbid (principal, action, resource);").unwrap_err();
        assert_eq!(err.problems[0].line, Some(2), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn templates_are_refused() {
        let err =
            compile("@id(\"t\") permit (principal == ?principal, action, resource);").unwrap_err();
        assert!(err.to_string().contains("templates"), "{err}");
    }
}
