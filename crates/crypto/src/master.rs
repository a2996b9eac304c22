//! Master keys and the providers that supply them.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::KeyError;
use crate::random_bytes;

/// The root of a vault's key hierarchy.
///
/// Never leaves this crate except as an opaque handle; its bytes are wiped on
/// drop.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A fresh random master key.
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_bytes()))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Where a vault's master key comes from.
///
/// Later providers (HashiCorp Vault/OpenBao transit, cloud KMS) implement the
/// same trait, so nothing above this crate knows which one is in use.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// A short description for messages, such as "key file /etc/custos/master.key".
    fn describe(&self) -> String;
    /// Obtains the master key.
    fn master_key(&self) -> Result<MasterKey, KeyError>;
}

const KEY_FILE_PREFIX: &str = "custos-master-key-v1:";

/// A master key kept in a file with mode 0600.
///
/// In production keep this file off the disk that holds the store, so that a
/// stolen copy of the store alone is unintelligible.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// A provider that reads an existing key file.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a new key file holding `key`, readable only by its owner.
    /// Refuses to overwrite an existing file.
    pub fn create(path: impl Into<PathBuf>, key: &MasterKey) -> Result<Self, KeyError> {
        let path = path.into();
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        let text = Zeroizing::new(format!("{KEY_FILE_PREFIX}{}\n", hex(key.bytes())));
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self { path })
    }
}

impl KeyProvider for KeyFile {
    fn describe(&self) -> String {
        format!("key file `{}`", self.path.display())
    }

    fn master_key(&self) -> Result<MasterKey, KeyError> {
        let io = |source| KeyError::Io {
            path: self.path.clone(),
            source,
        };
        let mode = fs::metadata(&self.path).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed {
                path: self.path.clone(),
                mode: mode & 0o777,
            });
        }
        let text = Zeroizing::new(fs::read_to_string(&self.path).map_err(io)?);
        let malformed = || KeyError::Malformed {
            path: self.path.clone(),
        };
        let body = text
            .trim_end()
            .strip_prefix(KEY_FILE_PREFIX)
            .ok_or_else(malformed)?;
        let mut key = Zeroizing::new([0u8; 32]);
        if body.len() != 64 {
            return Err(malformed());
        }
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&body[2 * i..2 * i + 2], 16).map_err(|_| malformed())?;
        }
        Ok(MasterKey(key))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Argon2id parameters for deriving a master key from a passphrase. They are
/// not secret and are stored with the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParams {
    /// A random salt, unique to the vault.
    pub salt: [u8; 16],
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

impl KdfParams {
    /// Fresh parameters with a new salt and the OWASP-recommended costs for
    /// Argon2id (64 MiB, 3 passes).
    pub fn generate() -> Self {
        Self {
            salt: random_bytes(),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

/// A master key derived from a passphrase with Argon2id.
pub struct Passphrase {
    secret: Zeroizing<String>,
    params: KdfParams,
}

impl Passphrase {
    /// The shortest passphrase accepted when creating a vault.
    pub const MIN_LEN: usize = 12;

    /// A provider for an existing vault.
    pub fn new(secret: Zeroizing<String>, params: KdfParams) -> Self {
        Self { secret, params }
    }

    /// A provider for a new vault: checks the passphrase's length and makes
    /// fresh parameters.
    pub fn for_new_vault(secret: Zeroizing<String>) -> Result<Self, KeyError> {
        if secret.chars().count() < Self::MIN_LEN {
            return Err(KeyError::WeakPassphrase { min: Self::MIN_LEN });
        }
        Ok(Self::new(secret, KdfParams::generate()))
    }

    /// The parameters to store with the vault.
    pub fn params(&self) -> &KdfParams {
        &self.params
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passphrase")
            .field("secret", &"<redacted>")
            .field("params", &self.params)
            .finish()
    }
}

impl KeyProvider for Passphrase {
    fn describe(&self) -> String {
        "passphrase from `CUSTOS_PASSPHRASE`".to_owned()
    }

    fn master_key(&self) -> Result<MasterKey, KeyError> {
        let p = &self.params;
        let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
            .map_err(|e| KeyError::BadKdfParams(e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(self.secret.as_bytes(), &p.salt, key.as_mut())
            .map_err(|e| KeyError::BadKdfParams(e.to_string()))?;
        Ok(MasterKey(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let key = MasterKey::generate();
        let provider = KeyFile::create(&path, &key).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(provider.master_key().unwrap().bytes(), key.bytes());
        assert!(matches!(
            KeyFile::create(&path, &key),
            Err(KeyError::Io { .. })
        ));
    }

    #[test]
    fn key_file_rejects_exposure_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        KeyFile::create(&path, &MasterKey::generate()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            KeyFile::at(&path).master_key(),
            Err(KeyError::Exposed { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(
            KeyFile::at(&path).master_key(),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn passphrase_is_deterministic_per_salt() {
        let params = KdfParams {
            salt: [1; 16],
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        };
        let a = Passphrase::new(
            Zeroizing::new("correct horse battery".into()),
            params.clone(),
        );
        let b = Passphrase::new(
            Zeroizing::new("correct horse battery".into()),
            params.clone(),
        );
        let c = Passphrase::new(Zeroizing::new("wrong horse battery".into()), params);
        assert_eq!(
            a.master_key().unwrap().bytes(),
            b.master_key().unwrap().bytes()
        );
        assert_ne!(
            a.master_key().unwrap().bytes(),
            c.master_key().unwrap().bytes()
        );
        assert!(!format!("{a:?}").contains("horse"));
        assert!(Passphrase::for_new_vault(Zeroizing::new("short".into())).is_err());
    }
}
