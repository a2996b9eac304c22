//! Login passwords, stored as Argon2id hashes in PHC string form.
//!
//! The costs are OWASP's recommendation for Argon2id (19 MiB, 2 passes, one
//! lane). They are written into each PHC string, so hashes made with older
//! costs keep verifying after the costs are raised.

use std::fmt;

use argon2::password_hash::{self, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::random_bytes;

/// The shortest password accepted for a new hash, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in characters. Argon2 would take more,
/// but nobody types more, and the bound keeps hashing a huge request body off
/// the table.
pub const MAX_PASSWORD_CHARS: usize = 1024;

const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// A hash of the password "custos dummy password" with the costs above and
/// the salt "custos-dummy-salt". [`PasswordHash::verify_nothing`] verifies against it, so that
/// it does the same work as a real verification. A test checks that it
/// matches the current costs.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$Y3VzdG9zLWR1bW15LXNhbHQ$/P1oxN1lw5ZJYF78QXpzgwc2OP+FPMDYxMXES0aMsBE";

/// Why a password cannot be hashed, or a stored hash cannot be used. No
/// message ever contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("a password needs at least {min} characters")]
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// The password is longer than [`MAX_PASSWORD_CHARS`].
    #[error("a password can have at most {max} characters")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// A stored hash is not an Argon2id PHC string.
    #[error("stored password hash is not an argon2id phc string")]
    Malformed,
    /// Argon2 refused to hash (it does only on out-of-range parameters).
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// An Argon2id password hash, as a PHC string
/// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
///
/// It is not a key, but it is still sensitive (it allows an offline guessing
/// attack), so it zeroizes on drop, its `Debug` is redacted, and it is not
/// `Serialize`: the only way out is [`PasswordHash::as_str`], to store it.
pub struct PasswordHash(Zeroizing<String>);

impl PasswordHash {
    /// Hashes a new password with a fresh random salt. Rejects passwords
    /// shorter than [`MIN_PASSWORD_CHARS`] or longer than
    /// [`MAX_PASSWORD_CHARS`].
    pub fn create(password: &str) -> Result<Self, PasswordError> {
        if too_long(password) {
            return Err(PasswordError::TooLong {
                max: MAX_PASSWORD_CHARS,
            });
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort {
                min: MIN_PASSWORD_CHARS,
            });
        }
        let salt = SaltString::encode_b64(&random_bytes::<16>())
            .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let phc = hasher()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| PasswordError::Hashing(e.to_string()))?
            .to_string();
        Ok(Self(Zeroizing::new(phc)))
    }

    /// Reads a stored hash. It must be an Argon2id PHC string with a salt and
    /// a hash; anything else (another algorithm, Argon2i or Argon2d, a
    /// truncated string) is [`PasswordError::Malformed`].
    pub fn parse(phc: &str) -> Result<Self, PasswordError> {
        let parsed = password_hash::PasswordHash::new(phc).map_err(|_| PasswordError::Malformed)?;
        if parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.salt.is_none()
            || parsed.hash.is_none()
            // The version and costs must be ones argon2 can run, or every
            // verification would fail silently.
            || parsed.version.is_some_and(|v| Version::try_from(v).is_err())
            || Params::try_from(&parsed).is_err()
        {
            return Err(PasswordError::Malformed);
        }
        Ok(Self(Zeroizing::new(phc.to_owned())))
    }

    /// The PHC string, to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `password` is the one this hash was made from. The final
    /// comparison is constant-time (argon2's own verification).
    pub fn verify(&self, password: &str) -> bool {
        verify_phc(&self.0, password)
    }

    /// Does the work of [`PasswordHash::verify`] against a fixed dummy hash,
    /// and discards the result.
    ///
    /// Call it when there is no hash to check (an unknown principal, or one
    /// without a password), so that such a login takes as long as a wrong
    /// password and its timing does not tell which principals exist.
    pub fn verify_nothing(password: &str) {
        std::hint::black_box(verify_phc(DUMMY_PHC, password));
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

fn verify_phc(phc: &str, password: &str) -> bool {
    // An over-long password can never have been hashed by `create`; refusing
    // it before Argon2 runs keeps huge inputs cheap. `verify_nothing` takes
    // the same path, so this reveals nothing about the principal.
    if too_long(password) {
        return false;
    }
    let Ok(parsed) = password_hash::PasswordHash::new(phc) else {
        return false;
    };
    // The costs, salt and version come from the PHC string itself.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

fn too_long(password: &str) -> bool {
    // A char takes at most 4 bytes, so a short byte length settles it without
    // walking the whole of a large input.
    password.len() > MAX_PASSWORD_CHARS
        && (password.len() > 4 * MAX_PASSWORD_CHARS
            || password.chars().count() > MAX_PASSWORD_CHARS)
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RIGHT: &str = "correct horse battery staple";

    #[test]
    fn create_and_verify() {
        let hash = PasswordHash::create(RIGHT).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hash.verify(RIGHT));
        assert!(!hash.verify("correct horse battery stapler"));
        assert!(!hash.verify(""));
        // Fresh salt every time.
        assert_ne!(PasswordHash::create(RIGHT).unwrap().as_str(), hash.as_str());
    }

    #[test]
    fn parse_round_trip() {
        let hash = PasswordHash::create(RIGHT).unwrap();
        let parsed = PasswordHash::parse(hash.as_str()).unwrap();
        assert_eq!(parsed.as_str(), hash.as_str());
        assert!(parsed.verify(RIGHT));
        assert!(!parsed.verify("wrong password here"));
    }

    #[test]
    fn length_limits() {
        let err = PasswordHash::create("short").unwrap_err();
        assert_eq!(err, PasswordError::TooShort { min: 12 });
        assert_eq!(err.to_string(), "a password needs at least 12 characters");
        // Characters, not bytes: 11 two-byte characters are still too short.
        assert!(PasswordHash::create(&"é".repeat(11)).is_err());
        assert!(PasswordHash::create(&"é".repeat(12)).is_ok());

        let long = "x".repeat(MAX_PASSWORD_CHARS + 1);
        assert_eq!(
            PasswordHash::create(&long).unwrap_err(),
            PasswordError::TooLong { max: 1024 }
        );
        let hash = PasswordHash::create(RIGHT).unwrap();
        assert!(!hash.verify(&long));
        PasswordHash::verify_nothing(&long);
    }

    #[test]
    fn parse_rejects_other_algorithms_and_garbage() {
        // The same hash relabelled as Argon2i, and a bcrypt-style string.
        let argon2i = DUMMY_PHC.replace("$argon2id$", "$argon2i$");
        assert_eq!(
            PasswordHash::parse(&argon2i).unwrap_err(),
            PasswordError::Malformed
        );
        let pbkdf2 = "$pbkdf2-sha256$i=100000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(PasswordHash::parse(pbkdf2).is_err());
        assert!(PasswordHash::parse("$2b$12$abcdefghijklmnopqrstuv").is_err());
        assert!(PasswordHash::parse("").is_err());
        // No hash part.
        assert!(
            PasswordHash::parse("$argon2id$v=19$m=19456,t=2,p=1$Y3VzdG9zLWR1bW15LXNhbHQ").is_err()
        );
    }

    #[test]
    fn dummy_hash_costs_as_much_as_a_real_one() {
        let dummy = PasswordHash::parse(DUMMY_PHC).unwrap();
        assert!(dummy.verify("custos dummy password"));
        let real = PasswordHash::create(RIGHT).unwrap();
        let prefix = |s: &str| s.rsplitn(3, '$').nth(2).map(str::to_owned);
        assert_eq!(prefix(DUMMY_PHC), prefix(real.as_str()));
        PasswordHash::verify_nothing(RIGHT);
    }

    #[test]
    fn debug_and_errors_reveal_nothing() {
        let hash = PasswordHash::create(RIGHT).unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
        let err = PasswordHash::create("secret").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
