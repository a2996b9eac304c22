//! The registry of purposes, and the Art. 30 record of processing built from
//! it.

use std::sync::Arc;

use custos_model::{DataCategory, FieldType, Purpose, PurposeSpec};

use crate::clock::now_stamp;
use crate::error::{EngineError, Problem};
use crate::principal::Caller;
use crate::recording::{Action, Entry};
use crate::vault::Vault;

/// One purpose in the record of processing, with the schema's fields in
/// each of its data categories.
#[derive(Debug, Clone)]
pub struct ProcessingActivity {
    /// The purpose.
    pub purpose: Arc<Purpose>,
    /// For each category it covers, the fields of that category.
    pub fields: Vec<(DataCategory, Vec<String>)>,
}

/// The Art. 30(1) record of processing, as far as the vault knows it.
#[derive(Debug, Clone)]
pub struct RecordOfProcessing {
    /// The vault id.
    pub vault_id: String,
    /// When it was produced.
    pub generated_at: String,
    /// One activity per purpose.
    pub activities: Vec<ProcessingActivity>,
    /// Who receives data: the registered processors, and processor
    /// principals not registered as processors.
    pub recipients: Vec<String>,
}

/// The categories of data subject a member organisation's vault holds.
pub const SUBJECT_CATEGORIES: &str = "members, former members and supporters";

/// The technical and organisational measures Custos itself provides
/// (Art. 30(1)(g), Art. 32).
pub const SECURITY_MEASURES: &[&str] = &[
    "each member's fields encrypted (XChaCha20-Poly1305) under a key of their own, wrapped by a master key held outside the store",
    "access only by authenticated principals, for a declared purpose, field by field under Cedar policies; deny by default",
    "two-factor authentication required for special-category data",
    "every access recorded before release in a signed, tamper-evident Merkle ledger",
    "leavers' access revoked at once across every server",
    "erasure by destroying the member's key (crypto-shredding)",
];

impl Vault {
    /// Every registered purpose, by name. Any authenticated principal may
    /// list them: they must name one in every request.
    pub fn purposes(&self, caller: &Caller) -> Result<Vec<Arc<Purpose>>, EngineError> {
        let actor = self.admit_principal(caller, Action::Audit, &[])?;
        Ok(actor.state()?.purposes.values().cloned().collect())
    }

    /// One purpose.
    pub fn purpose(&self, caller: &Caller, name: &str) -> Result<Arc<Purpose>, EngineError> {
        let actor = self.admit_principal(caller, Action::Audit, &[])?;
        actor
            .state()?
            .purpose(name.trim())
            .cloned()
            .ok_or_else(|| EngineError::Unknown(format!("no purpose `{}`", name.trim())))
    }

    /// Registers a purpose. Its consent fields must be boolean scope
    /// attributes of the schema, so that consent is checked without
    /// decrypting anything.
    pub fn add_purpose(
        &self,
        caller: &Caller,
        spec: &PurposeSpec,
    ) -> Result<Arc<Purpose>, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let purpose =
            Purpose::from_spec(spec).map_err(|m| EngineError::invalid(Problem::general(m)))?;
        self.check_consent_fields(&purpose)?;
        self.store.insert_purpose(&purpose, &now_stamp())?;
        self.record(
            &actor,
            Entry {
                reason: format!("registered purpose `{}`", purpose.name()),
                ..Entry::allowed(Action::Administer, Vec::new(), Vec::new())
            },
        )?;
        Ok(Arc::new(purpose))
    }

    pub(crate) fn check_consent_fields(&self, purpose: &Purpose) -> Result<(), EngineError> {
        for field in purpose.consent_fields() {
            let ok = self
                .schema
                .field(field.as_str())
                .is_some_and(|f| f.is_scope() && *f.field_type() == FieldType::Bool);
            if !ok {
                return Err(EngineError::invalid(Problem::field(
                    "consent_fields",
                    format!("`{field}` is not a boolean scope field of the schema"),
                )));
            }
        }
        Ok(())
    }

    /// The default purposes that fit this vault's schema: a consent field
    /// the schema lacks is dropped, and a purpose left needing consent with
    /// no field to give it is dropped too, since nothing could satisfy it.
    pub(crate) fn default_purposes(&self) -> Vec<Purpose> {
        Purpose::defaults()
            .into_iter()
            .filter_map(|p| {
                if self.check_consent_fields(&p).is_ok() {
                    return Some(p);
                }
                let mut spec = p.to_spec();
                spec.consent_fields.retain(|f| {
                    self.schema
                        .field(f)
                        .is_some_and(|s| s.is_scope() && *s.field_type() == FieldType::Bool)
                });
                Purpose::from_spec(&spec).ok()
            })
            .collect()
    }

    /// The Art. 30 record of processing: every purpose with its basis,
    /// categories and fields, the recipients and the security measures.
    pub fn record_of_processing(&self, caller: &Caller) -> Result<RecordOfProcessing, EngineError> {
        let state = self.admit_admin(caller, Action::Audit)?.state()?;
        let activities = state
            .purposes
            .values()
            .map(|purpose| ProcessingActivity {
                fields: purpose
                    .categories()
                    .iter()
                    .map(|c| {
                        let names = self
                            .schema
                            .fields()
                            .iter()
                            .filter(|f| f.category() == *c)
                            .map(|f| f.name().to_string())
                            .collect();
                        (*c, names)
                    })
                    .collect(),
                purpose: Arc::clone(purpose),
            })
            .collect();
        // Registered processors, then processor principals not (yet)
        // registered as such.
        let registered = self.store.processors()?;
        let mut recipients: Vec<String> = registered
            .iter()
            .map(|p| {
                let purposes: Vec<&str> = p.purposes.iter().map(|n| n.as_str()).collect();
                format!(
                    "{} (processor under contract {}, for {})",
                    p.name,
                    p.contract_ref,
                    purposes.join(", ")
                )
            })
            .collect();
        recipients.extend(
            state
                .principals
                .values()
                .filter(|p| p.record.kind == custos_model::PrincipalKind::Processor)
                .filter(|p| {
                    let org = p
                        .record
                        .attributes
                        .get(custos_model::AttributeKey::Organisation);
                    !registered.iter().any(|r| {
                        org == Some(r.name.as_str()) || p.record.name.as_str() == r.name.as_str()
                    })
                })
                .map(|p| {
                    match p
                        .record
                        .attributes
                        .get(custos_model::AttributeKey::Organisation)
                    {
                        Some(org) => format!("{} ({org})", p.record.name),
                        None => p.record.name.to_string(),
                    }
                }),
        );
        Ok(RecordOfProcessing {
            vault_id: self.vault_id.as_str().to_owned(),
            generated_at: now_stamp(),
            activities,
            recipients,
        })
    }
}
