//! The layout of a vault directory and its configuration file.
//!
//! ```text
//! DIR/vault.toml     format, vault id, where the master key comes from,
//!                    and the organisation and its DPO
//! DIR/schema.toml    the schema the vault was created with
//! DIR/store.sqlite   the embedded store (plus -wal and -shm while open)
//! DIR/master.key     the master key, unless kept elsewhere or a passphrase
//! ```
//!
//! `vault.toml` is written last at init, and replaced atomically, so a
//! directory holding it is a complete vault.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use custos_crypto::KdfParams;
use custos_model::VaultId;
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// The vault directory format this build writes and reads.
pub(crate) const FORMAT: u32 = 1;

pub(crate) const CONFIG_FILE: &str = "vault.toml";
/// A configuration written before a key rotation commits, promoted after.
pub(crate) const PENDING_CONFIG_FILE: &str = "vault.toml.pending";
pub(crate) const SCHEMA_FILE: &str = "schema.toml";
pub(crate) const STORE_FILE: &str = "store.sqlite";
pub(crate) const DEFAULT_KEY_FILE: &str = "master.key";

/// The vault's configuration: the on-disk form of `vault.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VaultConfig {
    pub(crate) format: u32,
    pub(crate) vault_id: String,
    pub(crate) created_at: String,
    pub(crate) key: KeyConfig,
    /// Who the vault belongs to, for breach reports and notices; absent
    /// until set with `custos organisation set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) organisation: Option<OrganisationConfig>,
}

/// The `[organisation]` table of `vault.toml`: the controller's name and
/// its data protection officer's contact, which Art. 33(3)(b) reports and
/// Art. 34 notices must give. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrganisationConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) dpo_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) dpo_email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) dpo_phone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) dpo_address: String,
    /// The domain of canary email addresses; one the organisation controls,
    /// so that mail sent to a canary reaches it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) canary_email_domain: String,
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum KeyConfig {
    /// A key file; a relative path is relative to the vault directory.
    File { path: PathBuf },
    /// A passphrase through Argon2id with these parameters.
    Passphrase {
        salt: String,
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
}

impl KeyConfig {
    pub(crate) fn from_kdf(params: &KdfParams) -> Self {
        Self::Passphrase {
            salt: params.salt.iter().map(|b| format!("{b:02x}")).collect(),
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
        }
    }

    pub(crate) fn kdf(&self) -> Result<Option<KdfParams>, EngineError> {
        let Self::Passphrase {
            salt,
            memory_kib,
            iterations,
            parallelism,
        } = self
        else {
            return Ok(None);
        };
        let bad =
            || EngineError::Config(format!("{CONFIG_FILE}: `key.salt` must be 32 hex digits"));
        if salt.len() != 32 {
            return Err(bad());
        }
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(salt.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(Some(KdfParams {
            salt: bytes,
            memory_kib: *memory_kib,
            iterations: *iterations,
            parallelism: *parallelism,
        }))
    }
}

/// Paths inside one vault directory.
#[derive(Debug, Clone)]
pub(crate) struct VaultDir {
    root: PathBuf,
}

impl VaultDir {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Resolves a key-file path from the configuration.
    pub(crate) fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.root.join(path)
        }
    }

    pub(crate) fn read_config(&self, name: &str) -> Result<Option<VaultConfig>, EngineError> {
        let path = self.path(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(EngineError::Io {
                    what: format!("cannot read `{}`", path.display()),
                    source,
                });
            }
        };
        // Check the format before the rest, so a newer vault is reported as
        // such rather than as an unknown key.
        #[derive(Deserialize)]
        struct FormatOnly {
            format: Option<u32>,
        }
        let invalid = |e: toml::de::Error| {
            EngineError::Config(format!("`{}` is invalid: {}", path.display(), e.message()))
        };
        let format = toml::from_str::<FormatOnly>(&text).map_err(invalid)?.format;
        match format {
            Some(found) if found > FORMAT => {
                return Err(EngineError::TooNew {
                    dir: self.root.clone(),
                    found,
                    supported: FORMAT,
                });
            }
            Some(_) => {}
            None => {
                return Err(EngineError::Config(format!(
                    "`{}` has no `format`; it was not written by custos",
                    path.display()
                )));
            }
        }
        let config: VaultConfig = toml::from_str(&text).map_err(invalid)?;
        VaultId::parse(&config.vault_id)
            .map_err(|e| EngineError::Config(format!("`{}`: `vault_id` {e}", path.display())))?;
        Ok(Some(config))
    }

    /// Writes a configuration file atomically: to a temporary file, synced,
    /// then renamed over the old one.
    pub(crate) fn write_config(&self, name: &str, config: &VaultConfig) -> Result<(), EngineError> {
        let text = toml::to_string(config)
            .map_err(|e| EngineError::Config(format!("cannot encode vault configuration: {e}")))?;
        let text =
            format!("# Custos vault configuration. Written by custos; edit with care.\n{text}");
        self.write_atomically(name, text.as_bytes())
    }

    pub(crate) fn write_atomically(&self, name: &str, bytes: &[u8]) -> Result<(), EngineError> {
        let path = self.path(name);
        let tmp = self.path(&format!("{name}.tmp"));
        let io = |source| EngineError::Io {
            what: format!("cannot write `{}`", path.display()),
            source,
        };
        let mut file = fs::File::create(&tmp).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, &path).map_err(io)?;
        sync_dir(&self.root).map_err(io)
    }

    pub(crate) fn promote(&self, from: &str, to: &str) -> Result<(), EngineError> {
        let io = |source| EngineError::Io {
            what: format!(
                "cannot rename `{from}` to `{to}` in `{}`",
                self.root.display()
            ),
            source,
        };
        fs::rename(self.path(from), self.path(to)).map_err(io)?;
        sync_dir(&self.root).map_err(io)
    }
}

/// Makes a rename durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
