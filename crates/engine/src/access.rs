//! The access path: every read, write, search and erasure of subject data.
//!
//! Each public method takes the authenticated [`Principal`], checks the
//! request against the schema, and only then touches keys and ciphertexts.
//! Decryption happens in exactly one place, [`Vault::open_fields`], which
//! opens only the fields requested.

use custos_crypto::DataKey;
use custos_model::{FieldName, FieldValue, SubjectId};
use custos_store::{Erasure, NewSubject, ScopeFilter, SubjectChange, SubjectSummary};

use crate::error::{EngineError, Problem};
use crate::principal::Principal;
use crate::record::{
    SubjectInput, SubjectRecord, ValidValues, field_index, is_clear, parse_subject_id,
    validate_values,
};
use crate::vault::Vault;

/// The key version of a subject's first data key.
const FIRST_KEY_VERSION: u32 = 1;
/// The largest page a listing returns.
pub(crate) const MAX_PAGE: usize = 1000;

/// Which fields a read asks for.
#[derive(Debug, Clone, Default)]
pub enum FieldSelection {
    /// Every field of the schema.
    #[default]
    All,
    /// These fields, by name.
    Only(Vec<String>),
}

/// A page of a listing.
#[derive(Debug)]
pub struct SubjectPage {
    /// The subjects on this page, with their scope attributes.
    pub subjects: Vec<SubjectSummary>,
    /// The id to pass as `after` for the next page; none on the last page.
    pub next_after: Option<SubjectId>,
}

impl Vault {
    /// Resolves a field selection to schema indexes, in schema order.
    pub(crate) fn select(&self, selection: &FieldSelection) -> Result<Vec<usize>, EngineError> {
        match selection {
            FieldSelection::All => Ok((0..self.schema.fields().len()).collect()),
            FieldSelection::Only(names) => {
                let mut problems = Vec::new();
                let mut indexes = Vec::with_capacity(names.len());
                for name in names {
                    match field_index(&self.schema, name.trim()) {
                        Some(i) => indexes.push(i),
                        None => problems.push(Problem::general(
                            self.schema
                                .require_field(name.trim())
                                .err()
                                .unwrap_or_default(),
                        )),
                    }
                }
                if !problems.is_empty() {
                    return Err(EngineError::Invalid(problems, 0));
                }
                indexes.sort_unstable();
                indexes.dedup();
                Ok(indexes)
            }
        }
    }

    /// Seals validated values into a new subject under a fresh data key.
    pub(crate) fn seal_new(&self, id: SubjectId, values: &ValidValues) -> NewSubject {
        let (key, wrapped) = self.keyring.new_data_key(&id, FIRST_KEY_VERSION);
        let mut subject = NewSubject {
            id,
            key_version: FIRST_KEY_VERSION,
            wrapped_key: wrapped.as_bytes().to_vec(),
            scope: Vec::new(),
            sealed: Vec::new(),
            lookups: Vec::new(),
        };
        for (index, value) in values {
            self.seal_value(
                &key,
                *index,
                value,
                &mut subject.scope,
                &mut subject.sealed,
                &mut subject.lookups,
            );
        }
        subject
    }

    fn seal_value(
        &self,
        key: &DataKey,
        index: usize,
        value: &FieldValue,
        scope: &mut Vec<(FieldName, String)>,
        sealed: &mut Vec<(FieldName, Vec<u8>)>,
        lookups: &mut Vec<(FieldName, [u8; 16])>,
    ) {
        let spec = &self.schema.fields()[index];
        let name = spec.name().clone();
        if spec.is_lookup() {
            lookups.push((name.clone(), self.keyring.blind_index(&name, value).0));
        }
        if spec.is_scope() {
            scope.push((name, value.as_str().to_owned()));
        } else {
            sealed.push((name.clone(), key.seal(&name, value)));
        }
    }

    /// Creates a subject and returns its id.
    pub fn create_subject(
        &self,
        who: &Principal,
        input: SubjectInput,
    ) -> Result<SubjectId, EngineError> {
        let id = match &input.id {
            Some(raw) if !raw.trim().is_empty() => {
                parse_subject_id(raw).map_err(EngineError::invalid)?
            }
            _ => generate_subject_id(),
        };
        let values = validate_values(&self.schema, &input.values, true)
            .map_err(|p| EngineError::Invalid(p, 0))?;
        let subject = self.seal_new(id.clone(), &values);
        self.store
            .insert_subjects(&mut std::iter::once(Ok(vec![subject])))?;
        tracing::info!(principal = who.name(), action = "create", subject = %id);
        Ok(id)
    }

    /// Reads the selected fields of one subject.
    pub fn read_subject(
        &self,
        who: &Principal,
        id: &SubjectId,
        selection: &FieldSelection,
    ) -> Result<SubjectRecord, EngineError> {
        let indexes = self.select(selection)?;
        let record = self.open_fields(id, &indexes)?;
        tracing::info!(principal = who.name(), action = "read", subject = %id, fields = indexes.len());
        Ok(record)
    }

    /// Decrypts the fields at `indexes` of one subject. The only place that
    /// turns ciphertexts into values.
    pub(crate) fn open_fields(
        &self,
        id: &SubjectId,
        indexes: &[usize],
    ) -> Result<SubjectRecord, EngineError> {
        let stored = self
            .store
            .subject(id)?
            .ok_or_else(|| EngineError::NotFound(id.clone()))?;
        let needs_key = indexes.iter().any(|&i| !is_clear(&self.schema.fields()[i]));
        let key = if needs_key {
            let wrapped = custos_crypto::WrappedDataKey::from_bytes(stored.wrapped_key);
            Some(
                self.keyring
                    .unwrap_data_key(id, stored.key_version, &wrapped)
                    .map_err(|source| EngineError::Integrity {
                        subject: id.clone(),
                        field: "(data key)".to_owned(),
                        source,
                    })?,
            )
        } else {
            None
        };
        let mut fields = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let spec = &self.schema.fields()[index];
            let name = spec.name();
            let value = if spec.is_id() {
                Some(FieldValue::from_canonical(id.as_str().to_owned()))
            } else if spec.is_scope() {
                stored
                    .scope
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| FieldValue::from_canonical(v.clone()))
            } else {
                match (stored.sealed.iter().find(|(k, _)| k == name), &key) {
                    (Some((_, sealed)), Some(key)) => Some(key.open(name, sealed).map_err(
                        |source| EngineError::Integrity {
                            subject: id.clone(),
                            field: name.to_string(),
                            source,
                        },
                    )?),
                    _ => None,
                }
            };
            fields.push((name.clone(), value));
        }
        Ok(SubjectRecord {
            id: id.clone(),
            fields,
        })
    }

    /// Changes some fields of a subject. An empty value clears a field.
    pub fn update_subject(
        &self,
        who: &Principal,
        id: &SubjectId,
        values: &[(String, String)],
    ) -> Result<(), EngineError> {
        if values.is_empty() {
            return Err(EngineError::invalid(Problem::general(
                "no fields to update",
            )));
        }
        let valid =
            validate_values(&self.schema, values, false).map_err(|p| EngineError::Invalid(p, 0))?;
        let stored = self
            .store
            .subject(id)?
            .ok_or_else(|| EngineError::NotFound(id.clone()))?;
        let wrapped = custos_crypto::WrappedDataKey::from_bytes(stored.wrapped_key);
        let key = self
            .keyring
            .unwrap_data_key(id, stored.key_version, &wrapped)
            .map_err(|source| EngineError::Integrity {
                subject: id.clone(),
                field: "(data key)".to_owned(),
                source,
            })?;
        let mut change = SubjectChange {
            key_version: stored.key_version,
            ..SubjectChange::default()
        };
        for (name, _) in values {
            if !valid
                .iter()
                .any(|(i, _)| self.schema.fields()[*i].name().as_str() == name)
            {
                // Validated above, so the name is a known field given empty.
                if let Some(spec) = self.schema.field(name) {
                    change.clear.push(spec.name().clone());
                }
            }
        }
        for (index, value) in &valid {
            self.seal_value(
                &key,
                *index,
                value,
                &mut change.scope,
                &mut change.sealed,
                &mut change.lookups,
            );
        }
        self.store.update_subject(id, &change)?;
        tracing::info!(principal = who.name(), action = "update", subject = %id, fields = values.len());
        Ok(())
    }

    /// Finds subjects by exact match on a lookup field, through its blind
    /// index; nothing is decrypted.
    pub fn find_subjects(
        &self,
        who: &Principal,
        field: &str,
        raw: &str,
    ) -> Result<Vec<SubjectId>, EngineError> {
        let spec = self
            .schema
            .require_field(field)
            .map_err(|m| EngineError::invalid(Problem::general(m)))?;
        if !spec.is_lookup() {
            let lookups: Vec<&str> = self
                .schema
                .fields()
                .iter()
                .filter(|f| f.is_lookup())
                .map(|f| f.name().as_str())
                .collect();
            return Err(EngineError::invalid(Problem::field(
                field,
                format!(
                    "is not a lookup field (lookup fields: {})",
                    lookups.join(", ")
                ),
            )));
        }
        let value = spec
            .parse_value(raw)
            .map_err(|e| EngineError::invalid(Problem::field(field, e.to_string())))?
            .ok_or_else(|| {
                EngineError::invalid(Problem::field(field, "needs a value to search for"))
            })?;
        let digest = self.keyring.blind_index(spec.name(), &value);
        let found = self.store.find(spec.name().as_str(), &digest.0)?;
        tracing::info!(
            principal = who.name(),
            action = "find",
            field,
            matches = found.len()
        );
        Ok(found)
    }

    /// Lists subjects whose scope attributes equal the filters, by id.
    pub fn list_subjects(
        &self,
        who: &Principal,
        filters: &[(String, String)],
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<SubjectPage, EngineError> {
        let filters = self.scope_filters(filters)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let subjects = self.store.list(&filters, after, limit)?;
        let next_after = (subjects.len() == limit)
            .then(|| subjects.last().map(|s| s.id.clone()))
            .flatten();
        tracing::info!(
            principal = who.name(),
            action = "list",
            count = subjects.len()
        );
        Ok(SubjectPage {
            subjects,
            next_after,
        })
    }

    /// Parses `field=value` filters, which apply to scope attributes only.
    pub(crate) fn scope_filters(
        &self,
        raw: &[(String, String)],
    ) -> Result<Vec<ScopeFilter>, EngineError> {
        let mut problems = Vec::new();
        let mut filters = Vec::with_capacity(raw.len());
        for (field, value) in raw {
            let spec = match self.schema.require_field(field.trim()) {
                Ok(spec) => spec,
                Err(m) => {
                    problems.push(Problem::general(m));
                    continue;
                }
            };
            if !spec.is_scope() {
                let scope: Vec<&str> = self
                    .schema
                    .scope_fields()
                    .map(|f| f.name().as_str())
                    .collect();
                problems.push(Problem::field(
                    field,
                    format!(
                        "is not a scope attribute; filters apply to {}",
                        scope.join(", ")
                    ),
                ));
                continue;
            }
            match spec.parse_value(value) {
                Ok(Some(v)) => filters.push(ScopeFilter {
                    field: spec.name().clone(),
                    value: v.as_str().to_owned(),
                }),
                Ok(None) => problems.push(Problem::field(field, "needs a value to filter on")),
                Err(e) => problems.push(Problem::field(field, e.to_string())),
            }
        }
        if problems.is_empty() {
            Ok(filters)
        } else {
            Err(EngineError::Invalid(problems, 0))
        }
    }

    /// Erases a subject: its data key is destroyed and its ciphertexts and
    /// index entries deleted, so any copy left elsewhere is unreadable.
    pub fn erase_subject(&self, who: &Principal, id: &SubjectId) -> Result<Erasure, EngineError> {
        let erasure = self.store.erase_subject(id)?;
        tracing::info!(principal = who.name(), action = "erase", subject = %id, log_purged = erasure.log_purged);
        Ok(erasure)
    }
}

/// A random subject id for subjects without a membership number: `S` and
/// 12 base32 characters (60 bits).
pub(crate) fn generate_subject_id() -> SubjectId {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes: [u8; 8] = custos_crypto::random_bytes();
    let mut bits = u64::from_le_bytes(bytes);
    let mut id = String::from("S");
    for _ in 0..12 {
        id.push(char::from(ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    match SubjectId::parse(&id) {
        Ok(id) => id,
        Err(_) => unreachable!("generated ids use only letters and digits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = generate_subject_id();
        let b = generate_subject_id();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 13);
    }
}
