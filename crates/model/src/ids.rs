//! Identifier newtypes.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier is empty.
    #[error("is empty")]
    Empty,
    /// The identifier is longer than allowed.
    #[error("is longer than {max} characters")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// The identifier contains a character outside its alphabet.
    #[error("may contain only {allowed}")]
    BadCharacter {
        /// The allowed alphabet, for the message.
        allowed: &'static str,
    },
}

/// A subject's id: the organisation's membership number, or a generated one.
///
/// INVARIANT: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, starting with a
/// letter or digit. Ids appear in URLs, ledger events and file names, so the
/// alphabet is kept narrow.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectId(String);

impl SubjectId {
    /// The longest accepted id.
    pub const MAX_LEN: usize = 64;

    /// Parses a subject id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(IdError::TooLong { max: Self::MAX_LEN });
        }
        let ok_first = s.as_bytes()[0].is_ascii_alphanumeric();
        let ok_rest = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok_first || !ok_rest {
            return Err(IdError::BadCharacter {
                allowed: "letters, digits, `.`, `_` and `-`, starting with a letter or digit",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SubjectId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectId({})", self.0)
    }
}

/// The name of a field in the schema.
///
/// INVARIANT: 1 to 64 characters of `a-z 0-9 _`, starting with a letter.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldName(String);

impl FieldName {
    /// The longest accepted field name.
    pub const MAX_LEN: usize = 64;

    /// Parses a field name.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(IdError::TooLong { max: Self::MAX_LEN });
        }
        let ok_first = s.as_bytes()[0].is_ascii_lowercase();
        let ok_rest = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok_first || !ok_rest {
            return Err(IdError::BadCharacter {
                allowed: "lower-case letters, digits and `_`, starting with a letter",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FieldName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldName({})", self.0)
    }
}

impl std::borrow::Borrow<str> for FieldName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A vault's identity, bound into every ciphertext so that data copied
/// between vaults fails to decrypt.
///
/// INVARIANT: `v_` followed by 26 lower-case base32 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VaultId(String);

impl VaultId {
    const PREFIX: &'static str = "v_";
    const BODY_LEN: usize = 26;

    /// Makes a vault id from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut bits: u128 = u128::from_be_bytes(bytes);
        let mut body = String::with_capacity(Self::BODY_LEN);
        for _ in 0..Self::BODY_LEN {
            body.push(char::from(ALPHABET[(bits & 31) as usize]));
            bits >>= 5;
        }
        Self(format!("{}{body}", Self::PREFIX))
    }

    /// Parses a vault id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let body = s.strip_prefix(Self::PREFIX).ok_or(IdError::BadCharacter {
            allowed: "`v_` followed by 26 base32 characters",
        })?;
        if body.len() != Self::BODY_LEN
            || !body
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        {
            return Err(IdError::BadCharacter {
                allowed: "`v_` followed by 26 base32 characters",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VaultId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for VaultId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids() {
        assert!(SubjectId::parse("M00000001").is_ok());
        assert!(SubjectId::parse("a.b_c-d").is_ok());
        assert_eq!(SubjectId::parse(""), Err(IdError::Empty));
        assert!(SubjectId::parse("-lead").is_err());
        assert!(SubjectId::parse("has space").is_err());
        assert!(SubjectId::parse("../etc").is_err());
        assert!(SubjectId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn field_names() {
        assert!(FieldName::parse("date_of_birth").is_ok());
        assert!(FieldName::parse("Email").is_err());
        assert!(FieldName::parse("1st").is_err());
        assert!(FieldName::parse("a-b").is_err());
    }

    #[test]
    fn vault_ids_round_trip() {
        let id = VaultId::from_random([7; 16]);
        assert_eq!(VaultId::parse(id.as_str()).unwrap(), id);
        assert!(VaultId::parse("v_short").is_err());
        assert!(VaultId::parse("x_aaaaaaaaaaaaaaaaaaaaaaaaaa").is_err());
    }
}
