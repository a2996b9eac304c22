//! Errors of key handling and of sealing and opening data.

use std::path::PathBuf;

/// A master key could not be obtained, or does not fit the vault.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("cannot access key file `{path}`: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file exists but does not hold a Custos master key.
    #[error(
        "key file `{path}` is not a custos master key (expected a line `custos-master-key-v1:` followed by 64 hex digits)"
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The key file can be read by other users.
    #[error("key file `{path}` is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A passphrase is needed but none was given.
    #[error("this vault is protected by a passphrase: set `CUSTOS_PASSPHRASE`")]
    MissingPassphrase,
    /// A passphrase is too short to be worth deriving a key from.
    #[error("the passphrase is too short (use at least {min} characters)")]
    WeakPassphrase {
        /// The minimum length.
        min: usize,
    },
    /// The key derivation parameters are out of range.
    #[error("invalid key derivation parameters: {0}")]
    BadKdfParams(String),
    /// The key does not open this vault.
    #[error("wrong master key: the key file or passphrase does not open this vault")]
    WrongKey,
}

/// Sealing or opening data failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A ciphertext failed authentication: it was altered, or moved to another
    /// subject, field, key version or vault.
    #[error(
        "ciphertext failed authentication (altered, or moved from another subject, field or vault)"
    )]
    Tampered,
    /// A decrypted value is not valid UTF-8.
    #[error("decrypted value is not valid text")]
    NotText,
}
