//! Principals, subjects and the vault as Cedar entities.
//!
//! A principal's entity is built once, when the principal is loaded, and
//! reused for every request; only the subject's entity is built per request,
//! and only with the attributes that some policy reads, which keeps it small
//! and lets decisions be cached by exactly the inputs that can change them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::LazyLock;

use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use custos_model::{
    AttributeKey, Attributes, FieldType, PrincipalKind, PrincipalName, Schema, SubjectId,
};

use crate::cedar_schema::NAMESPACE;

/// The Cedar entity types of Custos.
pub(crate) struct Types {
    pub(crate) principal: EntityTypeName,
    pub(crate) subject: EntityTypeName,
    pub(crate) vault: EntityTypeName,
    pub(crate) kind: EntityTypeName,
    pub(crate) role: EntityTypeName,
    pub(crate) team: EntityTypeName,
    pub(crate) action: EntityTypeName,
}

fn type_name(name: &str) -> EntityTypeName {
    match EntityTypeName::from_str(&format!("{NAMESPACE}::{name}")) {
        Ok(t) => t,
        Err(_) => unreachable!("`{NAMESPACE}::{name}` is a valid Cedar type name"),
    }
}

pub(crate) static TYPES: LazyLock<Types> = LazyLock::new(|| Types {
    principal: type_name("Principal"),
    subject: type_name("Subject"),
    vault: type_name("Vault"),
    kind: type_name("Kind"),
    role: type_name("Role"),
    team: type_name("Team"),
    action: type_name("Action"),
});

pub(crate) fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
}

/// The one vault entity, the resource of vault-wide actions.
pub(crate) fn vault_uid() -> EntityUid {
    uid(&TYPES.vault, "vault")
}

/// What policies know about a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalFacts {
    /// The name.
    pub name: PrincipalName,
    /// The kind.
    pub kind: PrincipalKind,
    /// The attributes: role, constituency, branch, organisation, team.
    pub attributes: Attributes,
}

/// A principal as a prepared Cedar entity.
///
/// It is a member of `Custos::Kind::"<kind>"` and, when it has those
/// attributes, of `Custos::Role::"<role>"` and `Custos::Team::"<team>"`, so
/// policies can write `principal in Custos::Kind::"representative"`.
#[derive(Debug, Clone)]
pub struct PrincipalEntity {
    facts: PrincipalFacts,
    uid: EntityUid,
    /// The uids of the groups it is in: its kind, role and team.
    groups: Vec<EntityUid>,
    entity: Entity,
    /// Everything the entity is made of, for cache keys: decisions depend on
    /// a principal only through its entity, so two principals (or two
    /// states of one) with the same fingerprint decide alike.
    fingerprint: String,
}

impl PrincipalEntity {
    /// Prepares a principal's entity.
    pub fn new(facts: PrincipalFacts) -> Self {
        let uid = uid(&TYPES.principal, facts.name.as_str());
        let mut attrs = HashMap::new();
        attrs.insert(
            "name".to_owned(),
            RestrictedExpression::new_string(facts.name.as_str().to_owned()),
        );
        attrs.insert(
            "kind".to_owned(),
            RestrictedExpression::new_string(facts.kind.as_str().to_owned()),
        );
        for (key, value) in facts.attributes.iter() {
            attrs.insert(
                key.as_str().to_owned(),
                RestrictedExpression::new_string(value.to_owned()),
            );
        }
        let mut parents = HashSet::new();
        parents.insert(self::uid(&TYPES.kind, facts.kind.as_str()));
        if let Some(role) = facts.attributes.get(AttributeKey::Role) {
            parents.insert(self::uid(&TYPES.role, role));
        }
        if let Some(team) = facts.attributes.get(AttributeKey::Team) {
            parents.insert(self::uid(&TYPES.team, team));
        }
        let groups: Vec<EntityUid> = parents.iter().cloned().collect();
        // Strings never fail to evaluate; if Cedar ever refused them, an
        // entity with no attributes and no groups can only be denied.
        let entity = Entity::new(uid.clone(), attrs, parents)
            .unwrap_or_else(|_| Entity::new_no_attrs(uid.clone(), HashSet::new()));
        let mut fingerprint = format!("{}\u{1e}{}", facts.name, facts.kind);
        for (key, value) in facts.attributes.iter() {
            fingerprint.push('\u{1e}');
            fingerprint.push_str(key.as_str());
            fingerprint.push('=');
            fingerprint.push_str(value);
        }
        Self {
            facts,
            uid,
            groups,
            entity,
            fingerprint,
        }
    }

    /// The facts the entity was built from.
    pub fn facts(&self) -> &PrincipalFacts {
        &self.facts
    }

    /// The principal's name.
    pub fn name(&self) -> &PrincipalName {
        &self.facts.name
    }

    /// Everything the entity is made of, as one string.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether the principal is `uid` or in it.
    pub(crate) fn is_in(&self, uid: &EntityUid) -> bool {
        &self.uid == uid || self.groups.contains(uid)
    }

    pub(crate) fn uid(&self) -> &EntityUid {
        &self.uid
    }

    pub(crate) fn entity(&self) -> &Entity {
        &self.entity
    }
}

/// What policies know about a subject: its id and scope attributes, in
/// clear. An unknown subject has no attributes, so it is decided exactly like
/// a subject outside the principal's remit and its absence is not revealed.
#[derive(Debug, Clone, Copy)]
pub struct SubjectFacts<'a> {
    /// The subject id.
    pub id: &'a SubjectId,
    /// Scope attributes as stored: canonical text by field name.
    pub scope: &'a [(custos_model::FieldName, String)],
}

impl SubjectFacts<'_> {
    /// The value of one scope attribute.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.scope
            .iter()
            .find(|(k, _)| k.as_str() == field)
            .map(|(_, v)| v.as_str())
    }

    /// The subject's entity with only the attributes in `wanted`.
    pub(crate) fn entity(&self, schema: &Schema, wanted: &BTreeSet<String>) -> Entity {
        let uid = uid(&TYPES.subject, self.id.as_str());
        let mut attrs = HashMap::new();
        for name in wanted {
            let (Some(spec), Some(value)) = (schema.field(name), self.get(name)) else {
                continue;
            };
            let expr = match spec.field_type() {
                FieldType::Bool => RestrictedExpression::new_bool(value == "true"),
                FieldType::Integer => match value.parse::<i64>() {
                    Ok(n) => RestrictedExpression::new_long(n),
                    Err(_) => continue,
                },
                FieldType::Date => RestrictedExpression::new_datetime(value),
                _ => RestrictedExpression::new_string(value.to_owned()),
            };
            attrs.insert(name.clone(), expr);
        }
        Entity::new(uid.clone(), attrs, HashSet::new())
            .unwrap_or_else(|_| Entity::new_no_attrs(uid, HashSet::new()))
    }
}
