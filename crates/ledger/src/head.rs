//! Signed tree heads: the size and root of the log at a moment, signed with
//! the vault's ledger key.
//!
//! A signed head is what leaves the vault: it is printed, emailed to the DPO
//! or put in an object-lock bucket. Anyone holding it and the public key can
//! later check that the log still contains, unchanged, every event it
//! covered. So the signed bytes are a fixed, versioned text that another
//! program can rebuild, and the JSON form names the offending key when it is
//! damaged.

use base64::Engine;
use custos_crypto::{LedgerPublicKey, LedgerSigningKey};
use custos_model::VaultId;
use serde::Serialize;
use serde_json::Value;

use crate::merkle::Hash;

/// The size and root of a vault's ledger at a moment.
///
/// INVARIANT: `time` has the form `YYYY-MM-DDTHH:MM:SS.mmmZ`, checked by
/// [`TreeHead::new`]; with the alphabet of [`VaultId`] this keeps the signed
/// text free of line breaks, so it has exactly one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    vault_id: VaultId,
    size: u64,
    root: Hash,
    time: String,
}

impl TreeHead {
    /// A head for the first `size` events, whose tree root is `root`.
    /// `time` is RFC 3339 in UTC with milliseconds, such as
    /// `2026-11-25T14:00:00.123Z`.
    pub fn new(vault_id: VaultId, size: u64, root: Hash, time: &str) -> Result<Self, HeadError> {
        if !is_timestamp(time) {
            return Err(HeadError::BadTime(time.to_owned()));
        }
        // INVARIANT: the time was checked above.
        Ok(Self {
            vault_id,
            size,
            root,
            time: time.to_owned(),
        })
    }

    /// The vault whose ledger this is.
    pub fn vault_id(&self) -> &VaultId {
        &self.vault_id
    }

    /// How many events the head covers: events `0..size`.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree root of those events.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// When the head was made.
    pub fn time(&self) -> &str {
        &self.time
    }

    /// The exact bytes that are signed:
    ///
    /// ```text
    /// custos-ledger-head/v1\n{vault_id}\n{size}\n{root in base64}\n{time}\n
    /// ```
    ///
    /// `size` is in decimal and the root in standard base64 with padding.
    pub fn message(&self) -> String {
        format!(
            "custos-ledger-head/v1\n{}\n{}\n{}\n{}\n",
            self.vault_id,
            self.size,
            b64(self.root.as_bytes()),
            self.time
        )
    }
}

/// A tree head with the ledger key's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    head: TreeHead,
    key_id: String,
    signature: [u8; 64],
}

/// Why a signed head cannot be read or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The text is not JSON.
    #[error("signed head is not valid JSON: {0}")]
    Json(String),
    /// The JSON is not an object.
    #[error(
        "signed head must be a JSON object with `vault_id`, `size`, `root`, `time`, `key_id` and `signature`"
    )]
    NotAnObject,
    /// A required key is absent.
    #[error("signed head has no `{0}`")]
    MissingKey(&'static str),
    /// A key that a head does not have.
    #[error("signed head has an unknown key `{0}`")]
    UnknownKey(String),
    /// A key has a value of the wrong shape.
    #[error("signed head `{key}` is not {expected}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The time is not in the one accepted form.
    #[error(
        "signed head `time` `{0}` is not RFC 3339 UTC with milliseconds (like `2026-11-25T14:00:00.123Z`)"
    )]
    BadTime(String),
    /// The head names a different signing key.
    #[error("signed head was signed by key `{head_key}`, not by this ledger's key `{expected}`")]
    KeyMismatch {
        /// The key id in the head.
        head_key: String,
        /// The key id of the key it was checked with.
        expected: String,
    },
    /// The signature does not verify.
    #[error("signed head has an invalid signature: it was altered or forged")]
    BadSignature,
}

const KEYS: [&str; 6] = ["vault_id", "size", "root", "time", "key_id", "signature"];

impl SignedHead {
    /// Signs a head.
    pub fn sign(head: TreeHead, key: &LedgerSigningKey) -> Self {
        let signature = key.sign(head.message().as_bytes());
        Self {
            head,
            key_id: key.public_key().key_id(),
            signature,
        }
    }

    /// The signed head.
    pub fn head(&self) -> &TreeHead {
        &self.head
    }

    /// The id of the key that signed it (see [`LedgerPublicKey::key_id`]).
    /// Not covered by the signature: a hint for finding the key, which the
    /// signature then proves.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The Ed25519 signature over [`TreeHead::message`].
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Checks the signature with the vault's public key. It does not check
    /// which vault the head is for; the verifier does.
    pub fn verify(&self, key: &LedgerPublicKey) -> Result<(), HeadError> {
        let expected = key.key_id();
        if self.key_id != expected {
            return Err(HeadError::KeyMismatch {
                head_key: self.key_id.clone(),
                expected,
            });
        }
        if key.verify(self.head.message().as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(HeadError::BadSignature)
        }
    }

    /// The head as one line of JSON, for publication and export:
    ///
    /// ```json
    /// {"vault_id":"v_…","size":1200,"root":"<base64>","time":"2026-11-25T14:00:00.123Z",
    ///  "key_id":"<16 hex digits>","signature":"<base64>"}
    /// ```
    pub fn to_json(&self) -> String {
        let json = HeadJson {
            vault_id: self.head.vault_id.as_str(),
            size: self.head.size,
            root: b64(self.head.root.as_bytes()),
            time: &self.head.time,
            key_id: &self.key_id,
            signature: b64(&self.signature),
        };
        match serde_json::to_string(&json) {
            Ok(text) => text,
            // Strings and an integer always serialise.
            Err(_) => unreachable!("a signed head always serialises to JSON"),
        }
    }

    /// Parses the output of [`SignedHead::to_json`] (whitespace is free, so
    /// a pretty-printed copy reads too). Parsing does not check the
    /// signature: call [`SignedHead::verify`].
    pub fn from_json(text: &str) -> Result<Self, HeadError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| HeadError::Json(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(HeadError::NotAnObject);
        };
        if let Some(unknown) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(HeadError::UnknownKey(unknown.clone()));
        }
        let field = |key: &'static str| map.get(key).ok_or(HeadError::MissingKey(key));
        let text_field = |key: &'static str, expected: &'static str| {
            field(key)?
                .as_str()
                .ok_or(HeadError::BadValue { key, expected })
        };

        const VAULT: &str = "a vault id (`v_` followed by 26 base32 characters)";
        let vault_id =
            VaultId::parse(text_field("vault_id", VAULT)?).map_err(|_| HeadError::BadValue {
                key: "vault_id",
                expected: VAULT,
            })?;
        let size = field("size")?.as_u64().ok_or(HeadError::BadValue {
            key: "size",
            expected: "a whole number of events",
        })?;
        const ROOT: &str = "base64 of 32 bytes";
        let root = unb64(text_field("root", ROOT)?)
            .and_then(|b| Hash::from_slice(&b))
            .ok_or(HeadError::BadValue {
                key: "root",
                expected: ROOT,
            })?;
        let time = text_field("time", "a time")?;
        const KEY_ID: &str = "16 lower-case hex digits";
        let key_id = text_field("key_id", KEY_ID)?;
        if key_id.len() != 16
            || !key_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(HeadError::BadValue {
                key: "key_id",
                expected: KEY_ID,
            });
        }
        const SIG: &str = "base64 of a 64-byte signature";
        let signature: [u8; 64] = unb64(text_field("signature", SIG)?)
            .and_then(|b| b.try_into().ok())
            .ok_or(HeadError::BadValue {
                key: "signature",
                expected: SIG,
            })?;
        Ok(Self {
            head: TreeHead::new(vault_id, size, root, time)?,
            key_id: key_id.to_owned(),
            signature,
        })
    }
}

#[derive(Serialize)]
struct HeadJson<'a> {
    vault_id: &'a str,
    size: u64,
    root: String,
    time: &'a str,
    key_id: &'a str,
    signature: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Whether `s` is `YYYY-MM-DDTHH:MM:SS.mmmZ` with plausible ranges. Heads
/// are made by Custos, so one exact form is enough, and it keeps the signed
/// text unambiguous.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 24 {
        return false;
    }
    let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
    let shaped = b.iter().zip(shape).all(|(&c, &p)| match p {
        b'd' => c.is_ascii_digit(),
        _ => c == p,
    });
    if !shaped {
        return false;
    }
    let num = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
    };
    (1..=12).contains(&num(5, 7))
        && (1..=31).contains(&num(8, 10))
        && num(11, 13) < 24
        && num(14, 16) < 60
        && num(17, 19) < 61
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn vault() -> VaultId {
        VaultId::from_random([5; 16])
    }

    fn head(size: u64) -> TreeHead {
        TreeHead::new(
            vault(),
            size,
            leaf_hash(&size.to_be_bytes()),
            "2026-11-25T14:00:00.123Z",
        )
        .unwrap()
    }

    #[test]
    fn the_signed_message_is_pinned() {
        let h = TreeHead::new(
            VaultId::parse("v_aaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
            12,
            Hash::from_bytes([0; 32]),
            "2026-11-25T14:00:00.123Z",
        )
        .unwrap();
        assert_eq!(
            h.message(),
            "custos-ledger-head/v1\nv_aaaaaaaaaaaaaaaaaaaaaaaaaa\n12\n\
             AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n2026-11-25T14:00:00.123Z\n"
        );
    }

    #[test]
    fn heads_verify_with_their_key_only() {
        let key = LedgerSigningKey::generate();
        let signed = SignedHead::sign(head(3), &key);
        assert_eq!(signed.verify(&key.public_key()), Ok(()));
        let other = LedgerSigningKey::generate();
        assert!(matches!(
            signed.verify(&other.public_key()),
            Err(HeadError::KeyMismatch { .. })
        ));
        // Same key id but an altered head: the signature catches it.
        let mut altered = signed.clone();
        altered.head.size = 4;
        assert_eq!(
            altered.verify(&key.public_key()),
            Err(HeadError::BadSignature)
        );
        let mut altered = signed.clone();
        altered.head.time = "2026-11-25T14:00:00.124Z".into();
        assert_eq!(
            altered.verify(&key.public_key()),
            Err(HeadError::BadSignature)
        );
        let mut altered = signed;
        altered.signature[0] ^= 1;
        assert_eq!(
            altered.verify(&key.public_key()),
            Err(HeadError::BadSignature)
        );
    }

    #[test]
    fn json_round_trips_with_keys_in_order() {
        let key = LedgerSigningKey::generate();
        let signed = SignedHead::sign(head(1200), &key);
        let json = signed.to_json();
        let keys: Vec<usize> = KEYS
            .iter()
            .map(|k| json.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(json.contains(r#""size":1200"#));
        let back = SignedHead::from_json(&json).unwrap();
        assert_eq!(back, signed);
        assert_eq!(back.verify(&key.public_key()), Ok(()));
        // Pretty-printed copies (as pasted from an email) read the same.
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&json).unwrap()).unwrap();
        assert_eq!(SignedHead::from_json(&pretty).unwrap(), signed);
    }

    #[test]
    fn bad_json_names_the_bad_key() {
        let key = LedgerSigningKey::generate();
        let json = SignedHead::sign(head(7), &key).to_json();
        let obj: Value = serde_json::from_str(&json).unwrap();
        let with = |key: &str, value: Value| {
            let mut o = obj.clone();
            o[key] = value;
            SignedHead::from_json(&o.to_string()).unwrap_err()
        };
        let without = |key: &str| {
            let mut o = obj.clone();
            o.as_object_mut().unwrap().remove(key);
            SignedHead::from_json(&o.to_string()).unwrap_err()
        };
        for k in KEYS {
            assert_eq!(without(k), HeadError::MissingKey(k));
        }
        let cases = [
            ("vault_id", Value::from("v_nope"), "vault_id"),
            ("vault_id", Value::from(3), "vault_id"),
            ("size", Value::from(-1), "size"),
            ("size", Value::from("7"), "size"),
            ("size", Value::from(7.5), "size"),
            ("root", Value::from("AAAA"), "root"),
            ("root", Value::from("not base64"), "root"),
            ("key_id", Value::from("ABCDEF0123456789"), "key_id"),
            ("key_id", Value::from("abc"), "key_id"),
            ("signature", Value::from("AAAA"), "signature"),
        ];
        for (k, v, named) in cases {
            let err = with(k, v.clone());
            assert!(
                matches!(err, HeadError::BadValue { key, .. } if key == named),
                "{k} = {v}: {err}"
            );
            assert!(err.to_string().contains(&format!("`{named}`")), "{err}");
        }
        assert_eq!(
            with("time", Value::from("2026-11-25 14:00:00")),
            HeadError::BadTime("2026-11-25 14:00:00".into())
        );
        assert_eq!(
            with("extra", Value::from(1)),
            HeadError::UnknownKey("extra".into())
        );
        assert_eq!(
            SignedHead::from_json("[1]").unwrap_err(),
            HeadError::NotAnObject
        );
        assert!(matches!(
            SignedHead::from_json("{").unwrap_err(),
            HeadError::Json(_)
        ));
    }

    #[test]
    fn only_one_time_form_is_accepted() {
        assert!(is_timestamp("2026-11-25T14:00:00.123Z"));
        assert!(is_timestamp("2026-12-31T23:59:60.999Z"));
        for bad in [
            "2026-11-25T14:00:00Z",
            "2026-11-25T14:00:00.123+00:00",
            "2026-11-25T14:00:00.1234Z",
            "2026-13-25T14:00:00.123Z",
            "2026-11-00T14:00:00.123Z",
            "2026-11-25T24:00:00.123Z",
            "2026-11-25T14:00:00.123Z\n",
            "2026-11-25\n14:00:00.123Z",
            "",
        ] {
            assert!(!is_timestamp(bad), "{bad:?}");
            assert!(TreeHead::new(vault(), 0, Hash::from_bytes([0; 32]), bad).is_err());
        }
    }
}
