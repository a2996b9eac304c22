//! Custos domain types.
//!
//! Everything here is parsed, not validated: a [`SubjectId`], [`FieldName`] or
//! [`Schema`] that exists is valid, so the rest of the system never re-checks
//! them. This crate does no I/O, no async and no cryptography.

mod breach;
mod category;
mod ids;
mod principal;
mod purpose;
mod schema;
mod value;

pub use breach::{ExportId, IncidentId, ProcessorName};
pub use category::{DataCategory, SpecialCategory};
pub use ids::{FieldName, IdError, SubjectId, VaultId};
pub use principal::{
    ADMIN_ROLE, AttributeKey, Attributes, PrincipalKind, PrincipalName, PrincipalStatus,
};
pub use purpose::{
    DEFAULT_PURPOSES_TOML, LawfulBasis, Purpose, PurposeName, PurposeSpec, SpecialCondition,
};
pub use schema::{DEFAULT_SCHEMA_TOML, FieldSpec, FieldType, ID_FIELD, Schema, SchemaError};
pub use value::{FieldValue, ValueError};
