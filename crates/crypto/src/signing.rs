//! Ed25519 keys that sign the access ledger's tree heads.
//!
//! The ledger signs its heads with a key of its own rather than anything
//! derived from the data master key, so that a published head can be checked
//! by an auditor who is given only the public half, and so that handing out
//! that public key reveals nothing about the keys that protect member data.
//! The secret half lives here, like every other key byte; it is stored sealed
//! under the vault's keyring (see [`Keyring::seal_signing_key`]).
//!
//! [`Keyring::seal_signing_key`]: crate::Keyring::seal_signing_key

use std::fmt;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::random_bytes;

/// The secret key that signs ledger tree heads.
///
/// The secret bytes are wiped on drop (ed25519-dalek's `zeroize` feature), the
/// `Debug` form shows only the public key id, and there is no `Serialize`: the
/// only way out of this crate is sealed under a keyring.
pub struct LedgerSigningKey(SigningKey);

impl LedgerSigningKey {
    /// A fresh random signing key.
    pub fn generate() -> Self {
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(random_bytes());
        Self(SigningKey::from_bytes(&secret))
    }

    pub(crate) fn from_secret(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Signs `message` (deterministic Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The public half, to publish next to the signed heads.
    pub fn public_key(&self) -> LedgerPublicKey {
        LedgerPublicKey(self.0.verifying_key())
    }
}

impl fmt::Debug for LedgerSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LedgerSigningKey(<redacted>, key_id {})",
            self.public_key().key_id()
        )
    }
}

/// Why bytes are not a usable ledger public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// The text is not base64 of exactly 32 bytes.
    #[error("ledger public key is not base64 of 32 bytes")]
    Malformed,
    /// The bytes are not a point on the curve.
    #[error("ledger public key is not a valid ed25519 public key")]
    NotAPoint,
    /// The key has small order, so a signature under it proves nothing.
    #[error("ledger public key is a weak (small-order) ed25519 key and cannot be trusted")]
    Weak,
}

/// The public key that checks ledger tree heads. It is not secret: it is
/// meant to be printed, emailed and given to auditors.
///
/// INVARIANT: a valid Ed25519 point that is not of small order, checked by
/// [`LedgerPublicKey::from_bytes`], so [`LedgerPublicKey::verify`] cannot be
/// fooled by a weak key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LedgerPublicKey(VerifyingKey);

impl LedgerPublicKey {
    /// Parses the 32 bytes of a compressed Ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, PublicKeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| PublicKeyError::NotAPoint)?;
        if key.is_weak() {
            return Err(PublicKeyError::Weak);
        }
        // INVARIANT: checked above.
        Ok(Self(key))
    }

    /// The 32 bytes of the key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The key in standard base64 (with padding), the form shown to people.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.as_bytes())
    }

    /// Parses the output of [`LedgerPublicKey::to_base64`]. Surrounding
    /// whitespace is ignored, since keys are often pasted from email.
    pub fn from_base64(text: &str) -> Result<Self, PublicKeyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| PublicKeyError::Malformed)?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| PublicKeyError::Malformed)?;
        Self::from_bytes(&bytes)
    }

    /// Checks an Ed25519 signature with strict verification (canonical
    /// encodings only, no small-order components), so that one key and
    /// message have exactly one accepted signature encoding.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }

    /// A short name for the key in messages and head files: the first 8
    /// bytes of the SHA-256 of the key, in lower-case hex. It identifies, it
    /// does not authenticate; only [`LedgerPublicKey::verify`] does that.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for LedgerPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LedgerPublicKey({})", self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use custos_model::VaultId;

    use super::*;
    use crate::{CryptoError, Keyring, MasterKey};

    #[test]
    fn signatures_verify_under_their_own_key_only() {
        let key = LedgerSigningKey::generate();
        let other = LedgerSigningKey::generate();
        let sig = key.sign(b"head 1");
        assert!(key.public_key().verify(b"head 1", &sig));
        assert!(!other.public_key().verify(b"head 1", &sig));
        assert!(!key.public_key().verify(b"head 2", &sig));
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert!(!key.public_key().verify(b"head 1", &flipped));
    }

    fn hex32(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    #[test]
    fn rfc_8032_test_vector_1() {
        let key = LedgerSigningKey::from_secret(&hex32(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ));
        assert_eq!(
            key.public_key().as_bytes(),
            &hex32("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let sig = key.sign(b"");
        assert_eq!(
            sig[..32],
            hex32("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155")
        );
        assert_eq!(
            sig[32..],
            hex32("5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        );
        assert!(key.public_key().verify(b"", &sig));
    }

    #[test]
    fn non_canonical_signatures_are_refused() {
        // S + L (the group order) is the same scalar mod L; lax verifiers
        // accept it, strict verification must not.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let key = LedgerSigningKey::generate();
        let sig = key.sign(b"m");
        let mut malleated = sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
            malleated[32 + i] = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        assert_ne!(malleated, sig);
        assert!(key.public_key().verify(b"m", &sig));
        assert!(!key.public_key().verify(b"m", &malleated));
    }

    #[test]
    fn public_keys_round_trip_through_base64() {
        let public = LedgerSigningKey::generate().public_key();
        let text = public.to_base64();
        assert_eq!(LedgerPublicKey::from_base64(&text), Ok(public));
        assert_eq!(
            LedgerPublicKey::from_base64(&format!(" {text}\n")),
            Ok(public)
        );
        assert_eq!(LedgerPublicKey::from_bytes(public.as_bytes()), Ok(public));
        assert_eq!(
            LedgerPublicKey::from_base64("AAAA"),
            Err(PublicKeyError::Malformed)
        );
        assert_eq!(
            LedgerPublicKey::from_base64("not base64!"),
            Err(PublicKeyError::Malformed)
        );
    }

    #[test]
    fn weak_and_invalid_public_keys_are_refused() {
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            LedgerPublicKey::from_bytes(&identity),
            Err(PublicKeyError::Weak)
        );
        // y = 2 is not the y-coordinate of any curve point.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            LedgerPublicKey::from_bytes(&off_curve),
            Err(PublicKeyError::NotAPoint)
        );
    }

    #[test]
    fn key_ids_are_short_stable_and_distinct() {
        let a = LedgerSigningKey::generate();
        let b = LedgerSigningKey::generate();
        let id = a.public_key().key_id();
        assert_eq!(id.len(), 16);
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(id, a.public_key().key_id());
        assert_ne!(id, b.public_key().key_id());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = LedgerSigningKey::generate();
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        let secret_hex: String = key.secret().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&secret_hex));
        assert!(!shown.contains(&format!("{:?}", key.secret())));
    }

    #[test]
    fn sealed_signing_keys_round_trip_under_their_keyring() {
        let vault = VaultId::from_random([7; 16]);
        let (ring, _) = Keyring::create(&MasterKey::generate(), &vault);
        let key = LedgerSigningKey::generate();
        let sealed = ring.seal_signing_key(&key);
        assert!(!sealed.windows(32).any(|w| w == key.secret()));
        let opened = ring.open_signing_key(&sealed).unwrap();
        assert_eq!(opened.public_key(), key.public_key());
        let sig = opened.sign(b"m");
        assert!(key.public_key().verify(b"m", &sig));

        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert_eq!(
            ring.open_signing_key(&flipped).unwrap_err(),
            CryptoError::Tampered
        );
    }

    #[test]
    fn sealed_signing_keys_do_not_open_in_another_vault() {
        let master = MasterKey::generate();
        let (ring, _) = Keyring::create(&master, &VaultId::from_random([7; 16]));
        let (other, _) = Keyring::create(&master, &VaultId::from_random([8; 16]));
        let sealed = ring.seal_signing_key(&LedgerSigningKey::generate());
        assert_eq!(
            other.open_signing_key(&sealed).unwrap_err(),
            CryptoError::Tampered
        );
        // Same vault, another master key: also refused.
        let (rekeyed, _) = Keyring::create(&MasterKey::generate(), &VaultId::from_random([7; 16]));
        assert!(rekeyed.open_signing_key(&sealed).is_err());
    }

    #[test]
    fn a_sealed_signing_key_is_not_a_wrapped_data_key() {
        // The distinct associated-data label keeps the two kinds of sealed
        // 32-byte keys from being swapped for one another.
        let vault = VaultId::from_random([7; 16]);
        let (ring, _) = Keyring::create(&MasterKey::generate(), &vault);
        let subject = custos_model::SubjectId::parse("M1").unwrap();
        let (_, wrapped) = ring.new_data_key(&subject, 1);
        assert!(ring.open_signing_key(wrapped.as_bytes()).is_err());
        let sealed = ring.seal_signing_key(&LedgerSigningKey::generate());
        let as_dek = crate::WrappedDataKey::from_bytes(sealed);
        assert!(ring.unwrap_data_key(&subject, 1, &as_dek).is_err());
    }
}
