//! Custos key material and everything that touches it.
//!
//! Architecture invariant: this is the only crate that imports cipher, MAC or
//! KDF crates or holds key bytes. Every key type zeroizes on drop, has a
//! redacted `Debug`, and is never `Serialize`. Other crates see ciphertexts,
//! wrapped keys and digests, never keys.
//!
//! The hierarchy:
//! - the **master key** comes from a [`KeyProvider`] (a key file, a passphrase,
//!   later a KMS) and is used only to derive the key-wrapping key;
//! - the **vault keys** (the blind-index key) are random, sealed under the
//!   wrapping key and stored in the vault, so rotating the master key only
//!   re-seals them;
//! - each subject has its own **data key** (DEK), wrapped under the wrapping
//!   key; destroying the wrapped DEK erases the subject's data everywhere;
//! - each principal's **TOTP secret** is sealed under a key derived from the
//!   index key, so master-key rotation leaves it alone.
//!
//! Login passwords are not keys: they are stored as Argon2id hashes
//! ([`PasswordHash`]).

mod content_hash;
mod data_key;
mod error;
mod keyring;
mod master;
mod password;
mod signing;
mod token;
mod totp;

pub use content_hash::HashingWriter;
pub use data_key::{DataKey, FieldContext};
pub use error::{CryptoError, KeyError};
pub use keyring::{BlindIndex, Keyring, SealedVaultKeys, WrappedDataKey};
pub use master::{KdfParams, KeyFile, KeyProvider, MasterKey, Passphrase};
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PasswordError, PasswordHash};
pub use signing::{LedgerPublicKey, LedgerSigningKey, PublicKeyError};
pub use token::{ApiToken, TokenDigest};
pub use totp::{TOTP_STEP_SECONDS, TotpCheck, TotpError, TotpSecret, totp_step};

/// Fills a buffer with cryptographically secure random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut out = [0u8; N];
    rand::thread_rng().fill_bytes(&mut out);
    out
}
