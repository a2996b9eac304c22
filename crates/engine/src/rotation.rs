//! Master-key rotation: every data key is re-wrapped under a new master key
//! in one transaction; no field is re-encrypted.
//!
//! The order makes a crash at any point recoverable: the new key (file or
//! passphrase parameters) is written beside the old one first, then the
//! re-wrapped keys commit, then the new key replaces the old. A vault whose
//! rotation stopped after the commit opens with the pending key and finishes
//! the rotation (see `vault.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use custos_crypto::{KeyFile, KeyProvider, MasterKey, Passphrase, WrappedDataKey};
use zeroize::Zeroizing;

use crate::error::EngineError;
use crate::vault::{META_LEDGER_SIGNING_KEY, META_VAULT_KEYS, UnlockedKeys, Vault};
use crate::vault_dir::{CONFIG_FILE, KeyConfig, PENDING_CONFIG_FILE, VaultConfig};
use custos_store::KEY_EPOCH;

/// The new master key.
#[derive(Debug)]
pub enum NewMasterKey {
    /// A new random key in the vault's key file.
    File,
    /// A key derived from a new passphrase.
    Passphrase(Zeroizing<String>),
}

/// The outcome of a rotation.
#[derive(Debug, Clone)]
pub struct RotationReport {
    /// Data keys re-wrapped.
    pub rewrapped: u64,
    /// Where the master key now comes from.
    pub key_provider: String,
}

/// Where a rotation puts the new key file before it commits.
pub(crate) fn pending_key_file(current: &Path) -> PathBuf {
    let mut name = current.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

enum Pending {
    KeyFile { current: PathBuf, pending: PathBuf },
    Config(VaultConfig),
}

impl Vault {
    /// Rotates the master key.
    pub fn rotate_master_key(&mut self, new: NewMasterKey) -> Result<RotationReport, EngineError> {
        let lock_path = self.dir.path("rotation.lock");
        let lock = fs::File::create(&lock_path).map_err(|source| EngineError::Io {
            what: format!("cannot create `{}`", lock_path.display()),
            source,
        })?;
        if lock.try_lock().is_err() {
            return Err(EngineError::Config(
                "another key rotation is running on this vault".to_owned(),
            ));
        }
        let (master, provider, pending): (MasterKey, Box<dyn KeyProvider>, Pending) = match (
            &self.config.key,
            new,
        ) {
            (KeyConfig::File { path }, NewMasterKey::File) => {
                let current = self.key_file_in_use(path);
                let pending = pending_key_file(&current);
                // We hold the rotation lock, so a leftover is from a rotation
                // that never committed.
                let _ = fs::remove_file(&pending);
                let master = MasterKey::generate();
                KeyFile::create(&pending, &master)?;
                (
                    master,
                    Box::new(KeyFile::at(&current)),
                    Pending::KeyFile { current, pending },
                )
            }
            (KeyConfig::Passphrase { .. }, NewMasterKey::Passphrase(secret)) => {
                let provider = Passphrase::for_new_vault(secret)?;
                let master = provider.master_key()?;
                let config = VaultConfig {
                    key: KeyConfig::from_kdf(provider.params()),
                    ..self.config.clone()
                };
                self.dir.write_config(PENDING_CONFIG_FILE, &config)?;
                (master, Box::new(provider), Pending::Config(config))
            }
            (KeyConfig::File { .. }, NewMasterKey::Passphrase(_)) => {
                return Err(EngineError::Config(
                    "this vault's master key is a key file; rotate it without a new passphrase"
                        .to_owned(),
                ));
            }
            (KeyConfig::Passphrase { .. }, NewMasterKey::File) => {
                return Err(EngineError::Config(
                    "this vault's master key comes from a passphrase: set `CUSTOS_NEW_PASSPHRASE` to the new one".to_owned(),
                ));
            }
        };

        let old = self.keys();
        let (new_ring, new_sealed) = old.keyring.reseal(&master);
        let old_ring = &old.keyring;
        let new_epoch = (old.epoch + 1).to_be_bytes();
        // The ledger's signing key is sealed under the master key too.
        let sealed_signing_key = self.store.meta(META_LEDGER_SIGNING_KEY)?.ok_or_else(|| {
            EngineError::Config("the store holds no ledger signing key".to_owned())
        })?;
        let signing_key = old_ring
            .open_signing_key(&sealed_signing_key)
            .map_err(|_| {
                EngineError::Config(
                    "the ledger signing key does not open with this vault's keys".to_owned(),
                )
            })?;
        let resealed_signing_key = new_ring.seal_signing_key(&signing_key);
        let committed = self.store.rewrap_keys(
            &mut |id, version, wrapped| {
                old_ring
                    .rewrap_data_key(
                        &new_ring,
                        id,
                        version,
                        &WrappedDataKey::from_bytes(wrapped.to_vec()),
                    )
                    .map(|w| w.as_bytes().to_vec())
                    .map_err(|e| format!("subject `{id}`: {e}").into())
            },
            &[
                (META_VAULT_KEYS, new_sealed.as_bytes()),
                (KEY_EPOCH, &new_epoch),
                (META_LEDGER_SIGNING_KEY, &resealed_signing_key),
            ],
        );
        let rewrapped = match committed {
            Ok(n) => n,
            Err(e) => {
                match &pending {
                    Pending::KeyFile { pending, .. } => drop(fs::remove_file(pending)),
                    Pending::Config(_) => drop(fs::remove_file(self.dir.path(PENDING_CONFIG_FILE))),
                }
                return Err(e.into());
            }
        };
        // The new keys are in force from the commit on, whatever happens to
        // the files below: this process must never wrap with the old key again.
        self.set_keys(UnlockedKeys {
            keyring: new_ring,
            epoch: old.epoch + 1,
        });
        self.key_provider = provider;
        match pending {
            Pending::KeyFile { current, pending } => {
                fs::rename(&pending, &current).map_err(|source| EngineError::Io {
                    what: format!("rotation committed, but cannot rename `{}`; the vault finishes it when next opened", pending.display()),
                    source,
                })?;
                if let Some(parent) = current.parent() {
                    let _ = crate::vault_dir::sync_dir(parent);
                }
            }
            Pending::Config(config) => {
                self.dir.promote(PENDING_CONFIG_FILE, CONFIG_FILE)?;
                self.config = config;
            }
        }
        tracing::info!(rewrapped, "rotated the master key");
        Ok(RotationReport {
            rewrapped,
            key_provider: self.key_provider.describe(),
        })
    }
}
