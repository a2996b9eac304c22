//! The access path: every read, write, search and erasure of subject data.
//!
//! Each public method takes the [`Caller`] and goes through the same steps:
//! authenticate and check the purpose (`admit`), check the request against
//! the schema, decide field by field (`authorize_fields`), record the
//! decision in the ledger, check again that the principal still stands
//! (`recheck`), and only then touch keys and ciphertexts. Decryption happens
//! in exactly one place, [`Vault::open_fields`], which opens only the fields
//! the policies allowed and needs proof of both the decision and the
//! record.

use custos_crypto::{DataKey, Keyring, WrappedDataKey};
use custos_ledger::{Outcome, Recorded};
use custos_model::{FieldName, FieldValue, SubjectId};
use custos_store::{
    Erasure, NewSubject, ScopeFilter, StoredSubject, SubjectChange, SubjectSummary,
};

use crate::authorization::Authorized;
use crate::error::{DATA_KEY, EngineError, Problem};
use crate::principal::{Actor, Caller};
use crate::record::{
    SubjectInput, SubjectRecord, ValidValues, field_index, is_clear, parse_subject_id,
    validate_values,
};
use crate::recording::{Action, Entry, written_reason};
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

/// A subject's values as the store keeps them.
#[derive(Default)]
struct SealedParts {
    scope: Vec<(FieldName, String)>,
    sealed: Vec<(FieldName, Vec<u8>)>,
    lookups: Vec<(FieldName, [u8; 16])>,
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
    pub(crate) fn seal_new(
        &self,
        keyring: &Keyring,
        id: SubjectId,
        values: &ValidValues,
    ) -> NewSubject {
        let (key, wrapped) = keyring.new_data_key(&id, FIRST_KEY_VERSION);
        let parts = self.seal_values(keyring, &key, values);
        NewSubject {
            id,
            key_version: FIRST_KEY_VERSION,
            wrapped_key: wrapped.as_bytes().to_vec(),
            scope: parts.scope,
            sealed: parts.sealed,
            lookups: parts.lookups,
        }
    }

    /// Turns values into what the store keeps: scope attributes in clear,
    /// other fields sealed under the subject's key, and blind-index digests
    /// of lookup fields.
    fn seal_values(&self, keyring: &Keyring, key: &DataKey, values: &ValidValues) -> SealedParts {
        let mut parts = SealedParts::default();
        for (index, value) in values {
            let spec = &self.schema.fields()[*index];
            let name = spec.name().clone();
            if spec.is_lookup() {
                parts
                    .lookups
                    .push((name.clone(), keyring.blind_index(&name, value).0));
            }
            if spec.is_scope() {
                parts.scope.push((name, value.as_str().to_owned()));
            } else {
                let sealed = key.seal(&name, value);
                parts.sealed.push((name, sealed));
            }
        }
        parts
    }

    /// Creates a subject and returns its id. Every field given must be
    /// allowed: a subject is never created in part.
    pub fn create_subject(
        &self,
        caller: &Caller,
        input: SubjectInput,
    ) -> Result<SubjectId, EngineError> {
        let actor = self.admit(caller, Action::Create, &[])?;
        let id = match &input.id {
            Some(raw) if !raw.trim().is_empty() => parse_subject_id(raw).map_err(|p| {
                self.refuse(&actor, Action::Create, Vec::new(), EngineError::invalid(p))
            })?,
            _ => generate_subject_id(),
        };
        let values = validate_values(&self.schema, &input.values, true).map_err(|p| {
            self.refuse(
                &actor,
                Action::Create,
                vec![&id],
                EngineError::Invalid(p, 0),
            )
        })?;
        // The id is written too, so a create with no other field is still
        // decided on something.
        let mut indexes: Vec<usize> = values.iter().map(|(i, _)| *i).collect();
        indexes.extend(field_index(&self.schema, custos_model::ID_FIELD));
        indexes.sort_unstable();
        let scope = self.scope_of(&values);
        let authorized =
            self.authorize_fields(&actor, Action::Create, &id, &scope, &indexes, true)?;
        if !self.store.existing(std::slice::from_ref(&id))?.is_empty() {
            let exists = EngineError::Store(custos_store::StoreError::Exists(id.clone()));
            return Err(self.refuse(&actor, Action::Create, vec![&id], exists));
        }
        let recorded = self.record_authorized(&actor, Action::Create, &id, &authorized)?;
        self.recheck(&actor, Action::Create, vec![&id], recorded.seq())?;
        self.with_current_keys(|keys| {
            let subject = self.seal_new(&keys.keyring, id.clone(), &values);
            self.store
                .insert_subjects(&mut std::iter::once(Ok(vec![subject])), keys.epoch)?;
            Ok(())
        })
        .map_err(|e| self.refuse(&actor, Action::Create, vec![&id], e))?;
        Ok(id)
    }

    /// The scope attributes among validated values, as the store keeps them.
    fn scope_of(&self, values: &ValidValues) -> Vec<(FieldName, String)> {
        values
            .iter()
            .map(|(i, v)| (&self.schema.fields()[*i], v))
            .filter(|(spec, _)| spec.is_scope())
            .map(|(spec, v)| (spec.name().clone(), v.as_str().to_owned()))
            .collect()
    }

    /// Records an authorized access: the fields allowed, those denied, and
    /// the policies that decided.
    pub(crate) fn record_authorized(
        &self,
        actor: &Actor,
        action: Action,
        id: &SubjectId,
        authorized: &Authorized,
    ) -> Result<Recorded, EngineError> {
        let names = self.field_names(authorized.indexes());
        // Writes release nothing: what they touched goes in the reason, so
        // that `fields_released` means exactly what left the vault.
        let (released, reason) = match action {
            Action::Create | Action::Update => {
                (Vec::new(), written_reason(&names, &authorized.reason()))
            }
            _ => (names, authorized.reason()),
        };
        self.record(
            actor,
            Entry {
                denied: authorized
                    .denials()
                    .iter()
                    .filter_map(|d| d.field.clone())
                    .collect(),
                outcome: if authorized.denials().is_empty() {
                    Outcome::Allowed
                } else {
                    Outcome::Partial
                },
                reason,
                ..Entry::allowed(action, vec![id], released)
            },
        )
    }

    /// Reads the selected fields of one subject: those the policies allow,
    /// with the others listed as denied (or, for a strict caller, nothing
    /// unless all are allowed).
    pub fn read_subject(
        &self,
        caller: &Caller,
        id: &SubjectId,
        selection: &FieldSelection,
    ) -> Result<SubjectRecord, EngineError> {
        let actor = self.admit(caller, Action::Read, &[id])?;
        let indexes = self
            .select(selection)
            .map_err(|e| self.refuse(&actor, Action::Read, vec![id], e))?;
        let (stored, authorized) =
            self.authorize_stored(&actor, Action::Read, id, &indexes, false)?;
        let recorded = self.record_authorized(&actor, Action::Read, id, &authorized)?;
        self.recheck(&actor, Action::Read, vec![id], recorded.seq())?;
        self.open_fields(&recorded, &authorized, id, &stored)
    }

    /// Reads a subject's row and decides on it. The decision comes first,
    /// on the stored scope or on none if there is no such subject, so that
    /// someone not allowed to know whether a subject exists is refused
    /// alike either way; only someone the policies allow learns that it
    /// does not exist.
    pub(crate) fn authorize_stored(
        &self,
        actor: &Actor,
        action: Action,
        id: &SubjectId,
        indexes: &[usize],
        all_or_nothing: bool,
    ) -> Result<(StoredSubject, Authorized), EngineError> {
        let stored = self.store.subject(id)?;
        let scope = stored.as_ref().map_or(&[][..], |s| s.scope.as_slice());
        let authorized =
            self.authorize_fields(actor, action, id, scope, indexes, all_or_nothing)?;
        match stored {
            Some(stored) => Ok((stored, authorized)),
            None => Err(self.refuse(actor, action, vec![id], EngineError::NotFound(id.clone()))),
        }
    }

    /// The names of the fields at `indexes`.
    pub(crate) fn field_names(&self, indexes: &[usize]) -> Vec<String> {
        indexes
            .iter()
            .map(|&i| self.schema.fields()[i].name().to_string())
            .collect()
    }

    /// Unwraps a stored subject's data key.
    fn data_key(
        keyring: &Keyring,
        id: &SubjectId,
        stored: &StoredSubject,
    ) -> Result<DataKey, EngineError> {
        let wrapped = WrappedDataKey::from_bytes(stored.wrapped_key.clone());
        keyring
            .unwrap_data_key(id, stored.key_version, &wrapped)
            .map_err(|source| EngineError::Integrity {
                subject: id.clone(),
                field: DATA_KEY.to_owned(),
                source,
            })
    }

    /// Decrypts the allowed fields of one subject. The only place that
    /// turns ciphertexts into values, and it demands proof that the
    /// policies allowed exactly these fields and that the access is already
    /// in the ledger.
    pub(crate) fn open_fields(
        &self,
        recorded: &Recorded,
        authorized: &Authorized,
        id: &SubjectId,
        stored: &StoredSubject,
    ) -> Result<SubjectRecord, EngineError> {
        tracing::debug!(seq = recorded.seq(), subject = %id, "releasing recorded access");
        let indexes = authorized.indexes();
        let mut record = self
            .with_current_keys(|keys| self.open_fields_with(&keys.keyring, id, stored, indexes))?;
        record.denied = authorized.denials().to_vec();
        Ok(record)
    }

    fn open_fields_with(
        &self,
        keyring: &Keyring,
        id: &SubjectId,
        stored: &StoredSubject,
        indexes: &[usize],
    ) -> Result<SubjectRecord, EngineError> {
        let needs_key = indexes.iter().any(|&i| !is_clear(&self.schema.fields()[i]));
        let key = if needs_key {
            Some(Self::data_key(keyring, id, stored)?)
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
            denied: Vec::new(),
        })
    }

    /// Changes some fields of a subject. An empty value clears a field.
    /// Every field changed must be allowed, on the subject as it is and, if
    /// a scope attribute changes, as it would be: nobody moves a member
    /// into or out of a remit they could not otherwise touch.
    pub fn update_subject(
        &self,
        caller: &Caller,
        id: &SubjectId,
        values: &[(String, String)],
    ) -> Result<(), EngineError> {
        let actor = self.admit(caller, Action::Update, &[id])?;
        let refuse = |e| self.refuse(&actor, Action::Update, vec![id], e);
        if values.is_empty() {
            return Err(refuse(EngineError::invalid(Problem::general(
                "no fields to update",
            ))));
        }
        let valid = validate_values(&self.schema, values, false)
            .map_err(|p| refuse(EngineError::Invalid(p, 0)))?;
        // Fields given empty are cleared; validation dropped their values.
        let clear: Vec<FieldName> = values
            .iter()
            .filter_map(|(name, _)| self.schema.field(name))
            .filter(|spec| {
                !valid
                    .iter()
                    .any(|(i, _)| self.schema.fields()[*i].name() == spec.name())
            })
            .map(|spec| spec.name().clone())
            .collect();
        let mut indexes: Vec<usize> = values
            .iter()
            .filter_map(|(name, _)| field_index(&self.schema, name))
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        let (stored, authorized) =
            self.authorize_stored(&actor, Action::Update, id, &indexes, true)?;
        let new_scope = self.scope_of(&valid);
        if !new_scope.is_empty()
            || clear
                .iter()
                .any(|f| self.schema.field(f.as_str()).is_some_and(|s| s.is_scope()))
        {
            let mut after: Vec<(FieldName, String)> = stored
                .scope
                .iter()
                .filter(|(k, _)| !clear.contains(k) && !new_scope.iter().any(|(n, _)| n == k))
                .cloned()
                .collect();
            after.extend(new_scope);
            self.authorize_fields(&actor, Action::Update, id, &after, &indexes, true)?;
        }
        let recorded = self.record_authorized(&actor, Action::Update, id, &authorized)?;
        self.recheck(&actor, Action::Update, vec![id], recorded.seq())?;
        // The store refuses the change if the subject's key changed since
        // this read, so the row read above is safe to seal against.
        self.with_current_keys(|keys| {
            let key = Self::data_key(&keys.keyring, id, &stored)?;
            let parts = self.seal_values(&keys.keyring, &key, &valid);
            let change = SubjectChange {
                key_version: stored.key_version,
                clear: clear.clone(),
                scope: parts.scope,
                sealed: parts.sealed,
                lookups: parts.lookups,
            };
            self.store.update_subject(id, &change)?;
            Ok(())
        })
        .map_err(refuse)
    }

    /// Finds subjects by exact match on a lookup field, through its blind
    /// index; nothing is decrypted. Only the subjects the policies let the
    /// caller find are returned.
    pub fn find_subjects(
        &self,
        caller: &Caller,
        field: &str,
        raw: &str,
    ) -> Result<Vec<SubjectId>, EngineError> {
        let actor = self.admit(caller, Action::Find, &[])?;
        let found = self
            .lookup(field, raw)
            .map_err(|e| self.refuse(&actor, Action::Find, Vec::new(), e))?;
        let mut allowed = Vec::with_capacity(found.len());
        for id in found {
            let scope = self
                .store
                .subject(&id)?
                .map(|s| s.scope)
                .unwrap_or_default();
            if self
                .permits_subject(&actor, Action::Find, &id, &scope)?
                .is_ok()
            {
                allowed.push(id);
            }
        }
        let recorded = self.record(
            &actor,
            Entry {
                reason: format!("lookup on `{field}`"),
                ..Entry::allowed(
                    Action::Find,
                    allowed.iter().collect(),
                    self.id_released(!allowed.is_empty()),
                )
            },
        )?;
        self.recheck(
            &actor,
            Action::Find,
            allowed.iter().collect(),
            recorded.seq(),
        )?;
        Ok(allowed)
    }

    fn lookup(&self, field: &str, raw: &str) -> Result<Vec<SubjectId>, EngineError> {
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
        let digest = self.keys().keyring.blind_index(spec.name(), &value);
        Ok(self.store.find(spec.name().as_str(), &digest.0)?)
    }

    /// Lists subjects whose scope attributes equal the filters, by id, with
    /// the scope attributes the purpose covers.
    ///
    /// The principal's remit is pushed into the query: an attribute of
    /// theirs named after a scope field (a representative's
    /// `constituency`, a volunteer's `branch`) is a filter on it, so a
    /// listing never even reads members outside it, and neither counts nor
    /// timings reveal them. Each subject on the page is then decided by the
    /// policies (`list`), and only those allowed are returned.
    pub fn list_subjects(
        &self,
        caller: &Caller,
        filters: &[(String, String)],
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<SubjectPage, EngineError> {
        let actor = self.admit(caller, Action::List, &[])?;
        let mut filters = self
            .scope_filters(filters)
            .map_err(|e| self.refuse(&actor, Action::List, Vec::new(), e))?;
        filters.extend(self.remit_filters(&actor));
        let limit = limit.clamp(1, MAX_PAGE);
        let scanned = self.store.list(&filters, after, limit)?;
        let next_after = (scanned.len() == limit)
            .then(|| scanned.last().map(|s| s.id.clone()))
            .flatten();
        let covered: Vec<FieldName> = self
            .schema
            .scope_fields()
            .filter(|f| {
                actor
                    .purpose
                    .as_ref()
                    .is_some_and(|p| p.covers(f.category()))
            })
            .map(|f| f.name().clone())
            .collect();
        let mut subjects = Vec::with_capacity(scanned.len());
        for mut summary in scanned {
            if self
                .permits_subject(&actor, Action::List, &summary.id, &summary.scope)?
                .is_ok()
            {
                summary.scope.retain(|(k, _)| covered.contains(k));
                subjects.push(summary);
            }
        }
        let ids: Vec<&SubjectId> = subjects.iter().map(|s| &s.id).collect();
        let recorded = self.record(
            &actor,
            Entry::allowed(
                Action::List,
                ids.clone(),
                self.id_released(!ids.is_empty())
                    .into_iter()
                    .chain(covered.iter().map(ToString::to_string))
                    .collect(),
            ),
        )?;
        self.recheck(&actor, Action::List, ids, recorded.seq())?;
        Ok(SubjectPage {
            subjects,
            next_after,
        })
    }

    /// What a listing or a lookup releases besides scope attributes: the
    /// membership numbers themselves, which the caller did not know (if it
    /// `found` anyone).
    fn id_released(&self, found: bool) -> Vec<String> {
        field_index(&self.schema, custos_model::ID_FIELD)
            .filter(|_| found)
            .map(|i| self.schema.fields()[i].name().to_string())
            .into_iter()
            .collect()
    }

    /// Filters for the principal's remit: each of their attributes named
    /// after a scope field.
    pub(crate) fn remit_filters(&self, actor: &Actor) -> Vec<ScopeFilter> {
        let Some(principal) = &actor.principal else {
            return Vec::new();
        };
        principal
            .attributes()
            .iter()
            .filter_map(|(key, value)| {
                let spec = self.schema.field(key.as_str()).filter(|f| f.is_scope())?;
                let value = spec.parse_value(value).ok().flatten()?;
                Some(ScopeFilter {
                    field: spec.name().clone(),
                    value: value.as_str().to_owned(),
                })
            })
            .collect()
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
    pub fn erase_subject(&self, caller: &Caller, id: &SubjectId) -> Result<Erasure, EngineError> {
        let actor = self.admit(caller, Action::Erase, &[id])?;
        let stored = self.store.subject(id)?;
        let scope = stored.as_ref().map_or(&[][..], |s| s.scope.as_slice());
        self.authorize_subject(&actor, Action::Erase, id, scope)?;
        if stored.is_none() {
            return Err(self.refuse(
                &actor,
                Action::Erase,
                vec![id],
                EngineError::NotFound(id.clone()),
            ));
        }
        let recorded = self.record(&actor, Entry::allowed(Action::Erase, vec![id], Vec::new()))?;
        self.recheck(&actor, Action::Erase, vec![id], recorded.seq())?;
        self.store
            .erase_subject(id)
            .map_err(|e| self.refuse(&actor, Action::Erase, vec![id], e.into()))
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
