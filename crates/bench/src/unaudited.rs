//! The unaudited baseline: the read path of `Vault::read_subject` without the
//! ledger, built in the bench from public parts, to measure what recording
//! costs.
//!
//! The engine has no unaudited read (decryption demands a `Recorded`
//! proof, by design), so the bench assembles one from what any holder of the
//! vault directory and its master key can use: a second
//! `custos_store::SqliteStore` on the vault's `store.sqlite`, and the vault
//! keys unsealed from it with `custos_crypto::Keyring::open` and the master
//! key file. A read then does what the engine does after recording: resolve
//! the requested fields against the schema, fetch the subject, unwrap its
//! data key, open each sealed field and take scope fields in clear. It
//! checks no principal and records nothing; authentication is added by the
//! unaudited HTTP server, as in the real one.

use std::path::Path;

use custos_crypto::{KeyFile, KeyProvider as _, Keyring, SealedVaultKeys, WrappedDataKey};
use custos_engine::{SubjectRecord, Vault};
use custos_model::{FieldName, FieldValue, Schema, SubjectId, VaultId};
use custos_store::{AccessStore as _, SqliteOptions, SqliteStore, Store as _};

/// The vault-directory layout the baseline relies on (`vault_dir.rs` and
/// `vault.rs` of the engine): the store file, the default key file, and the
/// metadata key of the sealed vault keys. The bench always makes its vault
/// with the default key file.
const STORE_FILE: &str = "store.sqlite";
const KEY_FILE: &str = "master.key";
const META_VAULT_KEYS: &str = "vault_keys";

/// Reads subjects without recording them.
#[derive(Debug)]
pub(crate) struct Baseline {
    store: SqliteStore,
    keyring: Keyring,
    schema: Schema,
}

impl Baseline {
    /// Opens the baseline on `vault`'s directory.
    pub(crate) fn open(vault: &Vault) -> anyhow::Result<Self> {
        let dir: &Path = vault.dir();
        let store = SqliteStore::open(&dir.join(STORE_FILE), SqliteOptions::default())?;
        let vault_id = VaultId::parse(&vault.info(&vault.local_operator())?.vault_id)
            .map_err(|e| anyhow::anyhow!("the vault id {e}"))?;
        let sealed = store.meta(META_VAULT_KEYS)?.ok_or_else(|| {
            anyhow::anyhow!("the store has no `{META_VAULT_KEYS}`; the vault layout changed")
        })?;
        let master = KeyFile::at(dir.join(KEY_FILE)).master_key()?;
        let keyring = Keyring::open(&master, &vault_id, &SealedVaultKeys::from_bytes(sealed))?;
        Ok(Self {
            store,
            keyring,
            schema: vault.schema().clone(),
        })
    }

    /// The store's access generation: the one indexed read that
    /// authentication and the re-check at release each make, for the
    /// policy module to time on its own.
    pub(crate) fn access_generation(&self) -> anyhow::Result<u64> {
        Ok(self.store.access_generation()?)
    }

    /// The fields named in `fields` of subject `id`, in schema order, as
    /// `Vault::read_subject` returns them, with nothing recorded.
    pub(crate) fn read(&self, id: &SubjectId, fields: &[&str]) -> anyhow::Result<SubjectRecord> {
        let specs = self.schema.fields();
        let mut indexes = Vec::with_capacity(fields.len());
        for name in fields {
            let index = specs
                .iter()
                .position(|f| f.name().as_str() == name.trim())
                .ok_or_else(|| anyhow::anyhow!("no field `{name}` in the schema"))?;
            indexes.push(index);
        }
        indexes.sort_unstable();
        indexes.dedup();
        let stored = self
            .store
            .subject(id)?
            .ok_or_else(|| anyhow::anyhow!("no subject `{}`", id.as_str()))?;
        let needs_key = indexes
            .iter()
            .any(|&i| !(specs[i].is_scope() || specs[i].is_id()));
        let key = if needs_key {
            let wrapped = WrappedDataKey::from_bytes(stored.wrapped_key.clone());
            Some(
                self.keyring
                    .unwrap_data_key(id, stored.key_version, &wrapped)?,
            )
        } else {
            None
        };
        let mut out: Vec<(FieldName, Option<FieldValue>)> = Vec::with_capacity(indexes.len());
        for index in indexes {
            let spec = &specs[index];
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
                    (Some((_, sealed)), Some(key)) => Some(key.open(name, sealed)?),
                    _ => None,
                }
            };
            out.push((name.clone(), value));
        }
        Ok(SubjectRecord {
            id: id.clone(),
            fields: out,
            denied: Vec::new(),
        })
    }
}

/// Checks that the baseline returns exactly what an audited read returns.
pub(crate) fn check(
    baseline: &Baseline,
    id: &SubjectId,
    audited: &SubjectRecord,
) -> anyhow::Result<()> {
    let record = baseline.read(id, &crate::workload::READ_FIELDS)?;
    let same = record.fields.len() == audited.fields.len()
        && record
            .fields
            .iter()
            .zip(&audited.fields)
            .all(|((a, x), (b, y))| {
                a == b && x.as_ref().map(FieldValue::as_str) == y.as_ref().map(FieldValue::as_str)
            });
    anyhow::ensure!(
        same,
        "the unaudited baseline does not return what Vault::read_subject returns for `{}`",
        id.as_str()
    );
    Ok(())
}
