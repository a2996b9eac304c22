//! API tokens: random secrets shown once and stored only as digests.

use std::fmt;
use std::fmt::Write as _;

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random_bytes;

/// A freshly minted API token. Its prefix makes leaked tokens easy to find
/// with secret scanners; the rest is 256 random bits.
pub struct ApiToken(Zeroizing<String>);

impl ApiToken {
    /// The prefix every Custos token starts with.
    pub const PREFIX: &'static str = "custos_";

    /// Mints a new token.
    pub fn generate() -> Self {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        Self(Zeroizing::new(format!("{}{body}", Self::PREFIX)))
    }

    /// The secret, to show to its owner exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest to store.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// The SHA-256 digest of a token. Tokens carry 256 bits of entropy, so a fast
/// hash is enough: there is nothing to brute-force.
#[derive(Clone, Copy)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of a presented token.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads a digest from its stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The token's public handle: `tk_` and the first 6 bytes of the digest
    /// in lower-case hex. It names one token in listings, revocations and
    /// incident scopes. Being a prefix of the SHA-256 of 256 random bits, it
    /// reveals nothing about the token; 48 bits keep collisions among one
    /// vault's tokens negligible.
    pub fn public_id(&self) -> String {
        let mut id = String::with_capacity(3 + 12);
        id.push_str("tk_");
        for byte in &self.0[..6] {
            // Writing to a String cannot fail.
            let _ = write!(id, "{byte:02x}");
        }
        id
    }

    /// Compares two digests in constant time.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_verifiable() {
        let a = ApiToken::generate();
        let b = ApiToken::generate();
        assert!(a.expose().starts_with("custos_"));
        assert_eq!(a.expose().len(), "custos_".len() + 43);
        assert_ne!(a.expose(), b.expose());
        assert!(a.digest().matches(&TokenDigest::of(a.expose())));
        assert!(!a.digest().matches(&b.digest()));
        assert!(!format!("{a:?}").contains(&a.expose()[7..]));
    }

    #[test]
    fn public_id_is_a_short_hex_prefix_of_the_digest() {
        let digest = TokenDigest::from_bytes(&[
            0x01, 0xab, 0xcd, 0xef, 0x10, 0xfe, 0x99, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ])
        .unwrap();
        assert_eq!(digest.public_id(), "tk_01abcdef10fe");

        let token = ApiToken::generate();
        let id = token.digest().public_id();
        assert_eq!(id.len(), 3 + 12);
        assert!(id.starts_with("tk_"));
        assert!(
            id[3..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(id, TokenDigest::of(token.expose()).public_id());
        assert_ne!(id, ApiToken::generate().digest().public_id());
        assert!(!token.expose().contains(&id[3..]));
    }
}
