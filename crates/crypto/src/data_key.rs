//! A subject's data key, and sealing of that subject's field values.

use std::fmt;

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::KeyInit;
use custos_model::{FieldName, FieldValue, SubjectId, VaultId};

use crate::error::CryptoError;
use crate::keyring::{open_with, seal_with};

/// Builds associated data from a domain label and length-prefixed parts, so
/// that no two different contexts encode to the same bytes.
pub(crate) fn associated_data(domain: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut ad =
        Vec::with_capacity(domain.len() + 1 + parts.iter().map(|p| p.len() + 2).sum::<usize>());
    ad.extend_from_slice(domain);
    ad.push(0);
    for part in parts {
        let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
        ad.extend_from_slice(&len.to_be_bytes());
        ad.extend_from_slice(part);
    }
    ad
}

/// The context every field ciphertext of one subject is bound to.
#[derive(Debug, Clone)]
pub struct FieldContext {
    vault: VaultId,
    subject: SubjectId,
    version: u32,
}

/// A subject's unwrapped data key, bound to that subject: it seals and opens
/// values only in the subject's own context.
pub struct DataKey {
    cipher: XChaCha20Poly1305,
    context: FieldContext,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    pub(crate) fn new(key: &[u8; 32], vault: &VaultId, subject: &SubjectId, version: u32) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
            context: FieldContext {
                vault: vault.clone(),
                subject: subject.clone(),
                version,
            },
        }
    }

    fn field_ad(&self, field: &FieldName) -> Vec<u8> {
        let c = &self.context;
        associated_data(
            b"custos/v1/field",
            &[
                c.vault.as_str().as_bytes(),
                c.subject.as_str().as_bytes(),
                &c.version.to_be_bytes(),
                field.as_str().as_bytes(),
            ],
        )
    }

    /// Encrypts one field value, binding it to vault, subject, key version and
    /// field name.
    pub fn seal(&self, field: &FieldName, value: &FieldValue) -> Vec<u8> {
        seal_with(
            &self.cipher,
            &self.field_ad(field),
            value.as_str().as_bytes(),
        )
    }

    /// Decrypts one field value. A ciphertext moved from another field,
    /// subject, key version or vault fails with [`CryptoError::Tampered`].
    pub fn open(&self, field: &FieldName, sealed: &[u8]) -> Result<FieldValue, CryptoError> {
        let plain = open_with(&self.cipher, &self.field_ad(field), sealed)?;
        let text = std::str::from_utf8(&plain).map_err(|_| CryptoError::NotText)?;
        Ok(FieldValue::from_canonical(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Keyring, MasterKey};
    use custos_model::{FieldName, FieldValue, SubjectId, VaultId};

    use super::*;

    #[test]
    fn ciphertexts_do_not_move_between_fields_subjects_or_vaults() {
        let vault = VaultId::from_random([1; 16]);
        let (ring, _) = Keyring::create(&MasterKey::generate(), &vault);
        let m1 = SubjectId::parse("M1").unwrap();
        let m2 = SubjectId::parse("M2").unwrap();
        let email = FieldName::parse("email").unwrap();
        let phone = FieldName::parse("phone").unwrap();
        let (dek1, wrapped1) = ring.new_data_key(&m1, 1);
        let sealed = dek1.seal(
            &email,
            &FieldValue::from_canonical("ana@example.org".into()),
        );

        assert_eq!(
            dek1.open(&email, &sealed).unwrap().as_str(),
            "ana@example.org"
        );
        assert_eq!(
            dek1.open(&phone, &sealed).unwrap_err(),
            CryptoError::Tampered
        );

        // Even with the same key bytes, another subject's context refuses it.
        let raw = ring.unwrap_data_key(&m1, 1, &wrapped1).unwrap();
        let moved = DataKey {
            cipher: raw.cipher.clone(),
            context: FieldContext {
                subject: m2,
                ..raw.context.clone()
            },
        };
        assert_eq!(
            moved.open(&email, &sealed).unwrap_err(),
            CryptoError::Tampered
        );

        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            dek1.open(&email, &flipped).unwrap_err(),
            CryptoError::Tampered
        );
        assert_eq!(
            dek1.open(&email, &sealed[..10]).unwrap_err(),
            CryptoError::Tampered
        );
    }

    #[test]
    fn associated_data_is_unambiguous() {
        assert_ne!(
            associated_data(b"d", &[b"ab", b"c"]),
            associated_data(b"d", &[b"a", b"bc"])
        );
    }
}
