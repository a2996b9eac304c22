//! The unlocked key hierarchy of one vault.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use custos_model::{FieldName, FieldValue, SubjectId, VaultId};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::data_key::{DataKey, associated_data};
use crate::error::{CryptoError, KeyError};
use crate::master::MasterKey;
use crate::random_bytes;
use crate::signing::LedgerSigningKey;
use crate::totp::TotpSecret;

const NONCE_LEN: usize = 24;

/// The vault keys sealed under the master key, as stored in the vault.
/// Opening them is also how a wrong master key is detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedVaultKeys(Vec<u8>);

impl SealedVaultKeys {
    /// Wraps bytes read from storage.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A subject's data key, wrapped under the vault's key-wrapping key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey(Vec<u8>);

impl WrappedDataKey {
    /// Wraps bytes read from storage.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A keyed digest of a normalised value, for exact-match lookup without
/// decryption. Equal values of the same field in the same vault give equal
/// digests; nothing else can be learned without the index key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex(pub [u8; 16]);

/// The unlocked keys of one vault.
pub struct Keyring {
    vault_id: VaultId,
    wrapping: XChaCha20Poly1305,
    index_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("vault_id", &self.vault_id)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Creates the keys of a new vault, returning the keyring and the sealed
    /// form to store.
    pub fn create(master: &MasterKey, vault_id: &VaultId) -> (Self, SealedVaultKeys) {
        Self::assemble(master, vault_id, Zeroizing::new(random_bytes()))
    }

    fn assemble(
        master: &MasterKey,
        vault_id: &VaultId,
        index_key: Zeroizing<[u8; 32]>,
    ) -> (Self, SealedVaultKeys) {
        let keyring = Self {
            vault_id: vault_id.clone(),
            wrapping: wrapping_cipher(master, vault_id),
            index_key,
        };
        let sealed = seal_with(
            &keyring.wrapping,
            &vault_keys_ad(vault_id),
            keyring.index_key.as_slice(),
        );
        (keyring, SealedVaultKeys(sealed))
    }

    /// Unlocks an existing vault. A master key that does not belong to the
    /// vault gives [`KeyError::WrongKey`].
    pub fn open(
        master: &MasterKey,
        vault_id: &VaultId,
        sealed: &SealedVaultKeys,
    ) -> Result<Self, KeyError> {
        let wrapping = wrapping_cipher(master, vault_id);
        let plain = open_with(&wrapping, &vault_keys_ad(vault_id), &sealed.0)
            .map_err(|_| KeyError::WrongKey)?;
        let index_key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongKey)?;
        Ok(Self {
            vault_id: vault_id.clone(),
            wrapping,
            index_key: Zeroizing::new(index_key),
        })
    }

    /// The same vault keys under a new master key, for rotation.
    pub fn reseal(&self, new_master: &MasterKey) -> (Self, SealedVaultKeys) {
        Self::assemble(new_master, &self.vault_id, self.index_key.clone())
    }

    /// The vault these keys belong to.
    pub fn vault_id(&self) -> &VaultId {
        &self.vault_id
    }

    /// Makes a data key for a new subject, with its wrapped form.
    pub fn new_data_key(&self, subject: &SubjectId, version: u32) -> (DataKey, WrappedDataKey) {
        let key = Zeroizing::new(random_bytes::<32>());
        let wrapped = seal_with(
            &self.wrapping,
            &data_key_ad(&self.vault_id, subject, version),
            key.as_slice(),
        );
        (
            DataKey::new(&key, &self.vault_id, subject, version),
            WrappedDataKey(wrapped),
        )
    }

    /// Unwraps a subject's data key. Fails if the wrapped key was altered or
    /// belongs to another subject, version or vault.
    pub fn unwrap_data_key(
        &self,
        subject: &SubjectId,
        version: u32,
        wrapped: &WrappedDataKey,
    ) -> Result<DataKey, CryptoError> {
        let key = self.unwrap_raw(subject, version, wrapped)?;
        Ok(DataKey::new(&key, &self.vault_id, subject, version))
    }

    /// Re-wraps a subject's data key under another keyring of the same vault,
    /// without touching the data it protects.
    pub fn rewrap_data_key(
        &self,
        to: &Keyring,
        subject: &SubjectId,
        version: u32,
        wrapped: &WrappedDataKey,
    ) -> Result<WrappedDataKey, CryptoError> {
        let key = self.unwrap_raw(subject, version, wrapped)?;
        Ok(WrappedDataKey(seal_with(
            &to.wrapping,
            &data_key_ad(&to.vault_id, subject, version),
            key.as_slice(),
        )))
    }

    fn unwrap_raw(
        &self,
        subject: &SubjectId,
        version: u32,
        wrapped: &WrappedDataKey,
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let plain = open_with(
            &self.wrapping,
            &data_key_ad(&self.vault_id, subject, version),
            &wrapped.0,
        )?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Tampered)?;
        Ok(Zeroizing::new(key))
    }

    /// Seals the ledger signing key for storage in the vault. Like the vault
    /// keys it is bound to this vault, so a sealed key copied from another
    /// vault does not open.
    pub fn seal_signing_key(&self, key: &LedgerSigningKey) -> Vec<u8> {
        seal_with(
            &self.wrapping,
            &signing_key_ad(&self.vault_id),
            key.secret(),
        )
    }

    /// Opens a ledger signing key sealed by [`Keyring::seal_signing_key`].
    /// Fails if it was altered or sealed for another vault.
    pub fn open_signing_key(&self, sealed: &[u8]) -> Result<LedgerSigningKey, CryptoError> {
        let plain = open_with(&self.wrapping, &signing_key_ad(&self.vault_id), sealed)?;
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
            plain
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::Tampered)?,
        );
        Ok(LedgerSigningKey::from_secret(&secret))
    }

    /// Seals a principal's TOTP secret for storage.
    ///
    /// The key is derived from the vault's random index key, not from the
    /// master key, so a master-key rotation (which keeps the vault keys and
    /// only re-seals them) leaves sealed TOTP secrets valid. The sealed
    /// secret is bound to the vault and the principal: copied to another
    /// principal or vault, it does not open.
    pub fn seal_totp_secret(&self, principal: &str, secret: &TotpSecret) -> Vec<u8> {
        seal_with(
            &self.totp_cipher(),
            &totp_secret_ad(&self.vault_id, principal),
            secret.as_bytes(),
        )
    }

    /// Opens a TOTP secret sealed by [`Keyring::seal_totp_secret`] for the
    /// same principal. Fails if it was altered, or sealed for another
    /// principal or vault.
    pub fn open_totp_secret(
        &self,
        principal: &str,
        sealed: &[u8],
    ) -> Result<TotpSecret, CryptoError> {
        let plain = open_with(
            &self.totp_cipher(),
            &totp_secret_ad(&self.vault_id, principal),
            sealed,
        )?;
        TotpSecret::from_bytes(&plain).map_err(|_| CryptoError::Tampered)
    }

    fn totp_cipher(&self) -> XChaCha20Poly1305 {
        let hk = Hkdf::<Sha256>::new(
            Some(self.vault_id.as_str().as_bytes()),
            self.index_key.as_slice(),
        );
        let mut key = Zeroizing::new([0u8; 32]);
        if hk
            .expand(b"custos/v1/totp-secret-key", key.as_mut())
            .is_err()
        {
            unreachable!("32 bytes is a valid HKDF-SHA256 output length");
        }
        XChaCha20Poly1305::new(key.as_ref().into())
    }

    /// The blind index of a normalised value of a lookup field.
    pub fn blind_index(&self, field: &FieldName, value: &FieldValue) -> BlindIndex {
        // A key per field, so equal values in different fields do not match.
        let mut per_field = hmac_sha256(self.index_key.as_slice());
        per_field.update(b"custos/v1/blind-index\0");
        per_field.update(field.as_str().as_bytes());
        let field_key: Zeroizing<[u8; 32]> =
            Zeroizing::new(per_field.finalize().into_bytes().into());
        let mut mac = hmac_sha256(field_key.as_slice());
        mac.update(value.as_str().as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        BlindIndex(out)
    }
}

impl Keyring {
    /// A stable pseudonym for a subject id, such as `P-3f9a0c5e1b7d2a46`:
    /// reports about people who were erased name them by it, so that a DPO
    /// can tell them apart and match them across reports without the
    /// report holding the membership number of someone who asked to be
    /// forgotten. Keyed, so that it cannot be reversed by trying ids.
    pub fn pseudonym(&self, subject: &SubjectId) -> String {
        let mut mac = hmac_sha256(self.index_key.as_slice());
        mac.update(b"custos/v1/pseudonym\0");
        mac.update(subject.as_str().as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = String::with_capacity(18);
        out.push_str("P-");
        for byte in &full[..8] {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length.
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    }
}

fn wrapping_cipher(master: &MasterKey, vault_id: &VaultId) -> XChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(Some(vault_id.as_str().as_bytes()), master.bytes());
    let mut kek = Zeroizing::new([0u8; 32]);
    if hk.expand(b"custos/v1/key-wrapping", kek.as_mut()).is_err() {
        unreachable!("32 bytes is a valid HKDF-SHA256 output length");
    }
    XChaCha20Poly1305::new(kek.as_ref().into())
}

fn vault_keys_ad(vault: &VaultId) -> Vec<u8> {
    associated_data(b"custos/v1/vault-keys", &[vault.as_str().as_bytes()])
}

fn signing_key_ad(vault: &VaultId) -> Vec<u8> {
    associated_data(
        b"custos/v1/ledger-signing-key",
        &[vault.as_str().as_bytes()],
    )
}

fn totp_secret_ad(vault: &VaultId, principal: &str) -> Vec<u8> {
    associated_data(
        b"custos/v1/totp-secret",
        &[vault.as_str().as_bytes(), principal.as_bytes()],
    )
}

fn data_key_ad(vault: &VaultId, subject: &SubjectId, version: u32) -> Vec<u8> {
    associated_data(
        b"custos/v1/data-key",
        &[
            vault.as_str().as_bytes(),
            subject.as_str().as_bytes(),
            &version.to_be_bytes(),
        ],
    )
}

/// Seals with a fresh random nonce; the output is `nonce || ciphertext || tag`.
pub(crate) fn seal_with(cipher: &XChaCha20Poly1305, ad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random_bytes();
    let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + 16);
    out.extend_from_slice(&nonce);
    match cipher.encrypt(
        XNonce::from_slice(&nonce),
        Payload {
            msg: plain,
            aad: ad,
        },
    ) {
        Ok(ct) => out.extend_from_slice(&ct),
        // XChaCha20-Poly1305 fails only on messages of 256 GiB or more.
        Err(_) => unreachable!("encryption of a bounded message cannot fail"),
    }
    out
}

/// Opens the output of [`seal_with`].
pub(crate) fn open_with(
    cipher: &XChaCha20Poly1305,
    ad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Tampered);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: ad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> VaultId {
        VaultId::from_random([3; 16])
    }

    fn subject(s: &str) -> SubjectId {
        SubjectId::parse(s).unwrap()
    }

    #[test]
    fn wrong_master_key_is_detected() {
        let (_, sealed) = Keyring::create(&MasterKey::generate(), &vault());
        let err = Keyring::open(&MasterKey::generate(), &vault(), &sealed).unwrap_err();
        assert!(matches!(err, KeyError::WrongKey));
    }

    #[test]
    fn sealed_vault_keys_are_bound_to_the_vault() {
        let master = MasterKey::generate();
        let (_, sealed) = Keyring::create(&master, &vault());
        let other = VaultId::from_random([4; 16]);
        assert!(Keyring::open(&master, &other, &sealed).is_err());
    }

    #[test]
    fn wrapped_keys_are_bound_to_subject_and_version() {
        let (ring, _) = Keyring::create(&MasterKey::generate(), &vault());
        let (_, wrapped) = ring.new_data_key(&subject("M1"), 1);
        assert!(ring.unwrap_data_key(&subject("M1"), 1, &wrapped).is_ok());
        assert_eq!(
            ring.unwrap_data_key(&subject("M2"), 1, &wrapped)
                .unwrap_err(),
            CryptoError::Tampered
        );
        assert!(ring.unwrap_data_key(&subject("M1"), 2, &wrapped).is_err());
    }

    #[test]
    fn reseal_and_rewrap_keep_data_readable() {
        let master = MasterKey::generate();
        let (ring, _) = Keyring::create(&master, &vault());
        let m1 = subject("M1");
        let email = FieldName::parse("email").unwrap();
        let (dek, wrapped) = ring.new_data_key(&m1, 1);
        let sealed = dek.seal(
            &email,
            &FieldValue::from_canonical("ana@example.org".into()),
        );
        let value = FieldValue::from_canonical("x@example.org".into());
        let index_before = ring.blind_index(&email, &value);

        let new_master = MasterKey::generate();
        let (new_ring, new_sealed) = ring.reseal(&new_master);
        let rewrapped = ring.rewrap_data_key(&new_ring, &m1, 1, &wrapped).unwrap();
        assert!(new_ring.unwrap_data_key(&m1, 1, &wrapped).is_err());
        let dek = new_ring.unwrap_data_key(&m1, 1, &rewrapped).unwrap();
        assert_eq!(
            dek.open(&email, &sealed).unwrap().as_str(),
            "ana@example.org"
        );
        assert_eq!(new_ring.blind_index(&email, &value), index_before);
        assert!(Keyring::open(&master, &vault(), &new_sealed).is_err());
        assert!(Keyring::open(&new_master, &vault(), &new_sealed).is_ok());
    }

    #[test]
    fn totp_secrets_are_bound_to_principal_and_vault() {
        let (ring, _) = Keyring::create(&MasterKey::generate(), &vault());
        let secret = TotpSecret::generate();
        let sealed = ring.seal_totp_secret("ana", &secret);
        assert_ne!(sealed, ring.seal_totp_secret("ana", &secret));
        let opened = ring.open_totp_secret("ana", &sealed).unwrap();
        assert_eq!(opened.as_bytes(), secret.as_bytes());

        assert_eq!(
            ring.open_totp_secret("bob", &sealed).unwrap_err(),
            CryptoError::Tampered
        );
        assert!(ring.open_totp_secret("an", &sealed).is_err());
        let (other, _) = Keyring::create(&MasterKey::generate(), &VaultId::from_random([4; 16]));
        assert!(other.open_totp_secret("ana", &sealed).is_err());
        // Another vault of the same id but with its own index key.
        let (twin, _) = Keyring::create(&MasterKey::generate(), &vault());
        assert!(twin.open_totp_secret("ana", &sealed).is_err());

        for i in [0, 24, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert_eq!(
                ring.open_totp_secret("ana", &tampered).unwrap_err(),
                CryptoError::Tampered
            );
        }
        assert!(ring.open_totp_secret("ana", &sealed[..20]).is_err());
        assert!(ring.open_totp_secret("ana", &[]).is_err());
    }

    #[test]
    fn totp_secrets_survive_master_key_rotation() {
        let master = MasterKey::generate();
        let (ring, _) = Keyring::create(&master, &vault());
        let secret = TotpSecret::generate();
        let sealed = ring.seal_totp_secret("ana", &secret);

        let new_master = MasterKey::generate();
        let (_, new_sealed) = ring.reseal(&new_master);
        let reopened = Keyring::open(&new_master, &vault(), &new_sealed).unwrap();
        let opened = reopened.open_totp_secret("ana", &sealed).unwrap();
        assert_eq!(opened.as_bytes(), secret.as_bytes());
        assert_eq!(opened.code_at(1_700_000_000), secret.code_at(1_700_000_000));
    }

    #[test]
    fn blind_indexes_are_per_field_and_keyed() {
        let (a, _) = Keyring::create(&MasterKey::generate(), &vault());
        let (b, _) = Keyring::create(&MasterKey::generate(), &vault());
        let v = FieldValue::from_canonical("SW1A 1AA".into());
        let postcode = FieldName::parse("postcode").unwrap();
        let other = FieldName::parse("other").unwrap();
        assert_eq!(a.blind_index(&postcode, &v), a.blind_index(&postcode, &v));
        assert_ne!(a.blind_index(&postcode, &v), a.blind_index(&other, &v));
        assert_ne!(a.blind_index(&postcode, &v), b.blind_index(&postcode, &v));
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_survive_rotation() {
        let master = MasterKey::generate();
        let (a, _) = Keyring::create(&master, &vault());
        let (b, _) = Keyring::create(&MasterKey::generate(), &vault());
        let p = a.pseudonym(&subject("M00000042"));
        assert_eq!(p.len(), 18);
        assert!(p.starts_with("P-"), "{p}");
        assert!(!p.contains("M00000042"), "{p}");
        assert_eq!(p, a.pseudonym(&subject("M00000042")));
        assert_ne!(p, a.pseudonym(&subject("M00000043")));
        assert_ne!(p, b.pseudonym(&subject("M00000042")));
        let (rotated, _) = a.reseal(&MasterKey::generate());
        assert_eq!(rotated.pseudonym(&subject("M00000042")), p);
    }
}
