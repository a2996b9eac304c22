//! Which principals and actions a rule can apply to, read from its scope
//! (`principal in …`, `action == …`), so that each request is evaluated
//! against only the rules that could apply to it.
//!
//! Cedar evaluates every policy of the set it is given; most rules name one
//! kind, role or team and one or two actions, so a representative's read
//! needs two of the default set's fourteen. Leaving out a rule whose scope
//! cannot match changes no decision: a rule applies only if its scope
//! matches. Anything this module does not understand is kept.

use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid};
use serde_json::Value;

use crate::action::Action;
use crate::entities::PrincipalEntity;

/// A rule's principal and action constraints. `None` means any.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleScope {
    /// The principal must be this entity or in it.
    principal_in: Option<EntityUid>,
    /// The principal must be of this type.
    principal_is: Option<String>,
    /// The action must be one of these.
    actions: Option<Vec<String>>,
}

fn uid(value: &Value) -> Option<EntityUid> {
    let entity = value.get("__entity").unwrap_or(value);
    let type_name = EntityTypeName::from_str(entity.get("type")?.as_str()?).ok()?;
    Some(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(entity.get("id")?.as_str()?),
    ))
}

impl RuleScope {
    /// The scope of one policy in Cedar's JSON policy format.
    pub(crate) fn from_json(policy: &Value) -> Self {
        let mut scope = Self::default();
        if let Some(principal) = policy.get("principal") {
            match principal.get("op").and_then(Value::as_str) {
                Some("==" | "in") => scope.principal_in = principal.get("entity").and_then(uid),
                Some("is") => {
                    scope.principal_is = principal
                        .get("entity_type")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    scope.principal_in = principal
                        .get("in")
                        .and_then(|i| i.get("entity"))
                        .and_then(uid);
                }
                _ => {}
            }
        }
        if let Some(action) = policy.get("action") {
            let ids = |list: &[Value]| -> Option<Vec<String>> {
                list.iter()
                    .map(|e| {
                        e.get("__entity")
                            .unwrap_or(e)
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            };
            scope.actions = match action.get("op").and_then(Value::as_str) {
                Some("==") => action
                    .get("entity")
                    .and_then(|e| ids(std::slice::from_ref(e))),
                Some("in") => match (action.get("entities"), action.get("entity")) {
                    (Some(Value::Array(list)), _) => ids(list),
                    (_, Some(e)) => ids(std::slice::from_ref(e)),
                    _ => None,
                },
                _ => None,
            };
        }
        scope
    }

    /// Whether the rule could apply to this principal doing this action.
    pub(crate) fn admits(&self, principal: &PrincipalEntity, action: Action) -> bool {
        if let Some(actions) = &self.actions
            && !actions.iter().any(|a| a == action.as_str())
        {
            return false;
        }
        if let Some(type_name) = &self.principal_is
            && type_name != "Custos::Principal"
        {
            return false;
        }
        match &self.principal_in {
            Some(uid) => principal.is_in(uid),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_model::{Attributes, PrincipalKind, PrincipalName};

    fn scope(src: &str) -> RuleScope {
        let policy = cedar_policy::Policy::from_str(src).unwrap();
        RuleScope::from_json(&policy.to_json().unwrap())
    }

    fn rep() -> PrincipalEntity {
        PrincipalEntity::new(crate::PrincipalFacts {
            name: PrincipalName::parse("ana").unwrap(),
            kind: PrincipalKind::Representative,
            attributes: Attributes::parse_pairs([("team", "casework")]).unwrap(),
        })
    }

    #[test]
    fn scopes_admit_exactly_their_principals_and_actions() {
        let ana = rep();
        let s = scope(
            r#"permit (principal in Custos::Kind::"representative", action in [Custos::Action::"read", Custos::Action::"list"], resource);"#,
        );
        assert!(s.admits(&ana, Action::Read));
        assert!(s.admits(&ana, Action::List));
        assert!(!s.admits(&ana, Action::Erase));
        let s = scope(r#"permit (principal in Custos::Kind::"staff", action, resource);"#);
        assert!(!s.admits(&ana, Action::Read));
        let s = scope(
            r#"permit (principal == Custos::Principal::"ana", action == Custos::Action::"read", resource);"#,
        );
        assert!(s.admits(&ana, Action::Read));
        assert!(!s.admits(&ana, Action::Update));
        let s = scope(
            r#"permit (principal is Custos::Principal in Custos::Team::"casework", action, resource);"#,
        );
        assert!(s.admits(&ana, Action::Audit));
        let s = scope(r#"forbid (principal, action, resource);"#);
        assert!(s.admits(&ana, Action::Administer));
    }
}
