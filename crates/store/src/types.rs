//! The records a store holds, as opaque bytes.

use custos_model::{FieldName, SubjectId};

/// A blind-index digest.
pub type Digest = [u8; 16];

/// A subject to insert.
#[derive(Debug, Clone)]
pub struct NewSubject {
    /// The subject id.
    pub id: SubjectId,
    /// The version of the subject's data key.
    pub key_version: u32,
    /// The data key, wrapped.
    pub wrapped_key: Vec<u8>,
    /// Scope attributes, in clear.
    pub scope: Vec<(FieldName, String)>,
    /// Sealed field values.
    pub sealed: Vec<(FieldName, Vec<u8>)>,
    /// Blind-index digests of lookup fields.
    pub lookups: Vec<(FieldName, Digest)>,
}

/// A subject as stored.
#[derive(Debug, Clone)]
pub struct StoredSubject {
    /// The version of the subject's data key.
    pub key_version: u32,
    /// The data key, wrapped.
    pub wrapped_key: Vec<u8>,
    /// Scope attributes, in clear.
    pub scope: Vec<(FieldName, String)>,
    /// Sealed field values.
    pub sealed: Vec<(FieldName, Vec<u8>)>,
}

/// A field-level change to a subject. Fields named in `clear` lose their
/// value, scope entry and index entry; the other lists set or replace entries
/// of the named fields and leave every other field as it was.
#[derive(Debug, Clone, Default)]
pub struct SubjectChange {
    /// The key version the sealed values were made with; the change is
    /// refused if the subject's key has changed since.
    pub key_version: u32,
    /// Fields to remove.
    pub clear: Vec<FieldName>,
    /// Scope attributes to set.
    pub scope: Vec<(FieldName, String)>,
    /// Sealed values to set.
    pub sealed: Vec<(FieldName, Vec<u8>)>,
    /// Blind-index digests to set.
    pub lookups: Vec<(FieldName, Digest)>,
}

/// A subject in a listing: its id and scope attributes.
#[derive(Debug, Clone)]
pub struct SubjectSummary {
    /// The subject id.
    pub id: SubjectId,
    /// Scope attributes, in clear.
    pub scope: Vec<(FieldName, String)>,
}

/// Which fields a subject holds a value for, without the values: what a
/// copy of the store gives away about them.
#[derive(Debug, Clone)]
pub struct HeldFields {
    /// The subject id.
    pub id: SubjectId,
    /// The scope attributes it has, which are in clear.
    pub clear: Vec<FieldName>,
    /// The fields it has sealed.
    pub sealed: Vec<FieldName>,
}

/// An equality filter on a scope attribute.
#[derive(Debug, Clone)]
pub struct ScopeFilter {
    /// The scope attribute.
    pub field: FieldName,
    /// The value it must equal.
    pub value: String,
}

/// What an erasure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erasure {
    /// Whether the write-ahead log, which may still hold the erased key, was
    /// emptied too. False when another process held it open.
    pub log_purged: bool,
}
