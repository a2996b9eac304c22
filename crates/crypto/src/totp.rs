//! Time-based one-time passwords (RFC 6238) for two-factor login.
//!
//! The parameters are the ones every authenticator app supports: HMAC-SHA-1,
//! 6 digits, 30-second steps counted from the Unix epoch.
//!
//! HOTP (RFC 4226) is implemented here on the workspace's `hmac` 0.12 and
//! `sha1` 0.10 rather than taken from `totp-rs`. The algorithm is a dozen
//! lines; `sha1` shares `digest` and `cpufeatures` with `sha2`, so it adds a
//! single small crate, whereas `totp-rs` would add `base32` and
//! `constant_time_eq` on top (the crate already has `subtle`), keep its
//! secret in a buffer that is wiped only with an extra feature, and still
//! leave replay protection to us.

use std::fmt;
use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random_bytes;

/// The length of a TOTP step, in seconds.
pub const TOTP_STEP_SECONDS: u64 = 30;

/// The number of digits of a code.
const DIGITS: usize = 6;
/// The length of a generated secret: 160 bits, the HMAC-SHA-1 output size
/// that RFC 4226 recommends.
const GENERATED_LEN: usize = 20;
/// The shortest secret accepted (RFC 4226 requires at least 128 bits).
const MIN_LEN: usize = 16;
/// The longest secret accepted. HMAC-SHA-1 hashes longer keys down to 20
/// bytes anyway, so more only means a longer string to type.
const MAX_LEN: usize = 64;

/// The base32 alphabet of RFC 4648.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The TOTP step that `unix_seconds` falls in.
pub fn totp_step(unix_seconds: u64) -> u64 {
    unix_seconds / TOTP_STEP_SECONDS
}

/// Why bytes or text are not a usable TOTP secret. No message contains the
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The secret is shorter than 128 bits.
    #[error("a totp secret needs at least {min} bytes")]
    TooShort {
        /// The minimum length in bytes.
        min: usize,
    },
    /// The secret is implausibly long.
    #[error("a totp secret can have at most {max} bytes")]
    TooLong {
        /// The maximum length in bytes.
        max: usize,
    },
    /// The text is not RFC 4648 base32.
    #[error("totp secret is not valid base32")]
    NotBase32,
}

/// The outcome of [`TotpSecret::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// The code is right and has not been used. Store `step` as the last
    /// used step, so the same code cannot log in again.
    Valid {
        /// The step the code belongs to.
        step: u64,
    },
    /// The code is right but belongs to a step at or before the last one
    /// used: it was used already, or it is older than one that was.
    Replayed,
    /// The code is wrong, malformed, or outside the drift window.
    Wrong,
}

/// A TOTP shared secret: the HMAC key that the vault and the user's
/// authenticator app both hold.
///
/// It zeroizes on drop, its `Debug` is redacted, and it is neither `Clone`
/// nor `Serialize`: it leaves this crate only as base32 or an `otpauth://`
/// URI to show once, or sealed under a keyring.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A fresh random 160-bit secret.
    pub fn generate() -> Self {
        let bytes = Zeroizing::new(random_bytes::<GENERATED_LEN>());
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// A secret from raw bytes (16 to 64 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        check_len(bytes.len())?;
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// A secret from the base32 text an authenticator app shows or accepts
    /// (RFC 4648, without padding). Letters may be in either case and spaces
    /// are ignored; trailing `=` padding is tolerated.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let symbols = text.trim_end_matches(['=', ' ']);
        // Sized up front so that no reallocation leaves a copy behind.
        let mut out = Zeroizing::new(Vec::with_capacity(symbols.len() * 5 / 8 + 1));
        let mut buffer: u16 = 0;
        let mut bits: u32 = 0;
        let mut count: usize = 0;
        for byte in symbols.bytes().filter(|b| *b != b' ') {
            let value = match byte.to_ascii_uppercase() {
                c @ b'A'..=b'Z' => c - b'A',
                c @ b'2'..=b'7' => c - b'2' + 26,
                _ => return Err(TotpError::NotBase32),
            };
            buffer = (buffer << 5) | u16::from(value);
            bits += 5;
            count += 1;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
                buffer &= (1 << bits) - 1;
            }
        }
        // A final group of 1, 3 or 6 symbols cannot come from whole bytes.
        if matches!(count % 8, 1 | 3 | 6) {
            return Err(TotpError::NotBase32);
        }
        check_len(out.len())?;
        Ok(Self(out))
    }

    /// The secret in base32 without padding, to show for manual entry.
    pub fn to_base32(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(base32_len(self.0.len())));
        let mut buffer: u16 = 0;
        let mut bits: u32 = 0;
        for &byte in self.0.iter() {
            buffer = (buffer << 8) | u16::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[usize::from((buffer >> bits) & 0x1f)]));
            }
            buffer &= (1 << bits) - 1;
        }
        if bits > 0 {
            out.push(char::from(
                BASE32[usize::from((buffer << (5 - bits)) & 0x1f)],
            ));
        }
        out
    }

    /// The `otpauth://` URI that authenticator apps read from a QR code.
    /// `issuer` names the service and `account` the user; both are
    /// percent-encoded.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let secret = self.to_base32();
        // Sized up front so that no reallocation leaves a copy of the secret
        // behind: percent-encoding at most triples a string.
        let capacity = 80 + secret.len() + 3 * (2 * issuer.len() + account.len());
        let mut uri = Zeroizing::new(String::with_capacity(capacity));
        uri.push_str("otpauth://totp/");
        percent_encode(&mut uri, issuer);
        uri.push(':');
        percent_encode(&mut uri, account);
        uri.push_str("?secret=");
        uri.push_str(&secret);
        uri.push_str("&issuer=");
        percent_encode(&mut uri, issuer);
        // Writing to a String cannot fail.
        let _ = write!(
            uri,
            "&algorithm=SHA1&digits={DIGITS}&period={TOTP_STEP_SECONDS}"
        );
        uri
    }

    /// The code for the step that `unix_seconds` falls in: what an
    /// authenticator app shows at that time.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        let code = hotp::<DIGITS>(&self.0, totp_step(unix_seconds));
        code.iter().map(|&d| char::from(d)).collect()
    }

    /// Checks a code presented at `unix_seconds`.
    ///
    /// The codes of the previous, current and next steps are accepted, to
    /// allow for clock drift between the server and the phone. Spaces in the
    /// code are ignored (apps show `123 456`); anything but exactly six
    /// digits is [`TotpCheck::Wrong`]. A right code whose step is at or
    /// before `last_used_step` is [`TotpCheck::Replayed`], so a code that
    /// was used, or one older than a code that was, never logs in again.
    pub fn check(&self, code: &str, unix_seconds: u64, last_used_step: Option<u64>) -> TotpCheck {
        let mut presented = Zeroizing::new([0u8; DIGITS]);
        let mut len = 0;
        for byte in code.bytes().filter(|b| *b != b' ') {
            if !byte.is_ascii_digit() || len == DIGITS {
                return TotpCheck::Wrong;
            }
            presented[len] = byte;
            len += 1;
        }
        if len != DIGITS {
            return TotpCheck::Wrong;
        }

        let now = totp_step(unix_seconds);
        let candidates = [now.checked_sub(1), Some(now), now.checked_add(1)];
        // Every candidate is computed and compared, with no early exit, so
        // the time taken does not depend on which one matched.
        let matches = candidates.map(|step| {
            step.filter(|&s| bool::from(hotp::<DIGITS>(&self.0, s).ct_eq(&*presented)))
        });

        let fresh = |s: &u64| last_used_step.is_none_or(|last| *s > last);
        // If the code happens to match more than one step, take the earliest
        // one not yet used, so that later codes stay usable.
        if let Some(step) = matches.iter().flatten().copied().find(fresh) {
            TotpCheck::Valid { step }
        } else if matches.iter().any(Option::is_some) {
            TotpCheck::Replayed
        } else {
            TotpCheck::Wrong
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

fn check_len(len: usize) -> Result<(), TotpError> {
    if len < MIN_LEN {
        Err(TotpError::TooShort { min: MIN_LEN })
    } else if len > MAX_LEN {
        Err(TotpError::TooLong { max: MAX_LEN })
    } else {
        Ok(())
    }
}

fn base32_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

/// HOTP (RFC 4226): HMAC-SHA-1 of the counter, dynamic truncation to 31
/// bits, then the last `D` decimal digits, as ASCII. `D` is at most 10, the
/// number of digits of a 31-bit value.
fn hotp<const D: usize>(key: &[u8], counter: u64) -> Zeroizing<[u8; D]> {
    let mut mac = match <Hmac<Sha1> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA1 takes keys of any length"),
    };
    mac.update(&counter.to_be_bytes());
    let digest = Zeroizing::new(<[u8; 20]>::from(mac.finalize().into_bytes()));
    // The low nibble of the last byte picks where the 31 bits are taken from.
    let offset = usize::from(digest[19] & 0x0f);
    let mut value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    let mut code = Zeroizing::new([b'0'; D]);
    for slot in code.iter_mut().rev() {
        // The remainder is a single digit, so the cast cannot truncate.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    code
}

/// Appends `text` percent-encoded: RFC 3986's unreserved characters as they
/// are, every other byte of the UTF-8 as `%XX`.
fn percent_encode(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    fn code8(secret: &TotpSecret, t: u64) -> String {
        hotp::<8>(secret.as_bytes(), totp_step(t))
            .iter()
            .map(|&d| char::from(d))
            .collect()
    }

    #[test]
    fn rfc_6238_sha1_vectors() {
        let secret = rfc_secret();
        for (t, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code8(&secret, t), expected, "T = {t}");
            // Six digits are the last six of the eight.
            assert_eq!(secret.code_at(t), expected[2..], "T = {t}");
        }
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            let got = hotp::<6>(b"12345678901234567890", counter as u64);
            assert_eq!(&got[..], code.as_bytes(), "counter {counter}");
        }
    }

    #[test]
    fn base32_round_trip() {
        // RFC 4648 test vector: "12345678901234567890" in base32.
        let secret = rfc_secret();
        assert_eq!(
            secret.to_base32().as_str(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let lower = TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap();
        assert_eq!(lower.as_bytes(), b"12345678901234567890");

        for len in [16, 17, 18, 19, 20, 21, 32, 64] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let secret = TotpSecret::from_bytes(&bytes).unwrap();
            let text = secret.to_base32();
            assert_eq!(text.len(), base32_len(len));
            assert_eq!(TotpSecret::from_base32(&text).unwrap().as_bytes(), bytes);
        }

        let generated = TotpSecret::generate();
        assert_eq!(generated.as_bytes().len(), 20);
        assert_eq!(generated.to_base32().len(), 32);
        let again = TotpSecret::from_base32(&generated.to_base32()).unwrap();
        assert_eq!(again.as_bytes(), generated.as_bytes());
        assert_ne!(TotpSecret::generate().as_bytes(), generated.as_bytes());
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert_eq!(
            TotpSecret::from_bytes(&[0; 15]).unwrap_err(),
            TotpError::TooShort { min: 16 }
        );
        assert_eq!(
            TotpSecret::from_bytes(&[0; 65]).unwrap_err(),
            TotpError::TooLong { max: 64 }
        );
        // Too short once decoded.
        assert!(TotpSecret::from_base32("GEZDGNBV").is_err());
        // Not in the alphabet (0, 1, 8, 9 and punctuation are not base32).
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ0").unwrap_err(),
            TotpError::NotBase32
        );
        assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQ-GEZDGNBVGY3TQOJQ").is_err());
        // 33 symbols: the last one cannot stand alone.
        assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA").is_err());
    }

    #[test]
    fn otpauth_uri_is_encoded() {
        let uri = rfc_secret().otpauth_uri("Custos Vault", "ana@example.org");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Custos%20Vault:ana%40example.org\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Custos%20Vault\
             &algorithm=SHA1&digits=6&period=30"
        );
        let uri = rfc_secret().otpauth_uri("a:b&c", "é");
        assert!(uri.starts_with("otpauth://totp/a%3Ab%26c:%C3%A9?"));
    }

    #[test]
    fn drift_window() {
        // A fixed key, so that the test is deterministic.
        let secret = rfc_secret();
        let t = 1_700_000_000;
        let now = totp_step(t);
        assert_eq!(
            secret.check(&secret.code_at(t), t, None),
            TotpCheck::Valid { step: now }
        );
        assert_eq!(
            secret.check(&secret.code_at(t - 30), t, None),
            TotpCheck::Valid { step: now - 1 }
        );
        assert_eq!(
            secret.check(&secret.code_at(t + 30), t, None),
            TotpCheck::Valid { step: now + 1 }
        );
        // Two steps away is outside the window.
        for far in [t - 60, t + 60, t - 3600] {
            assert_eq!(
                secret.check(&secret.code_at(far), t, None),
                TotpCheck::Wrong
            );
        }
        // At the epoch there is no previous step, and nothing breaks.
        assert_eq!(
            secret.check(&secret.code_at(0), 0, None),
            TotpCheck::Valid { step: 0 }
        );
    }

    #[test]
    fn replays_are_refused() {
        let secret = rfc_secret();
        let t = 1_700_000_000;
        let now = totp_step(t);
        let code = secret.code_at(t);
        assert_eq!(
            secret.check(&code, t, Some(now - 1)),
            TotpCheck::Valid { step: now }
        );
        // The same code again, in the same step or the next.
        assert_eq!(secret.check(&code, t, Some(now)), TotpCheck::Replayed);
        assert_eq!(secret.check(&code, t + 30, Some(now)), TotpCheck::Replayed);
        // An older code after a newer one was used.
        let previous = secret.code_at(t - 30);
        assert_eq!(secret.check(&previous, t, Some(now)), TotpCheck::Replayed);
        // The next step's code is still fine.
        assert_eq!(
            secret.check(&secret.code_at(t + 30), t, Some(now)),
            TotpCheck::Valid { step: now + 1 }
        );
    }

    #[test]
    fn malformed_codes_are_wrong() {
        let secret = rfc_secret();
        let t = 1_111_111_109;
        let code = secret.code_at(t);
        assert_eq!(code, "081804");
        assert_eq!(
            secret.check("081 804", t, None),
            TotpCheck::Valid { step: totp_step(t) }
        );
        assert_eq!(
            secret.check(" 08 18 04 ", t, None),
            TotpCheck::Valid { step: totp_step(t) }
        );
        for bad in [
            "",
            "      ",
            "81804",
            "0818040",
            "07081804",
            "08180a",
            "08-1804",
            "٠٨١٨٠٤",
            "+81804",
            "081804\n",
        ] {
            assert_eq!(secret.check(bad, t, None), TotpCheck::Wrong, "{bad:?}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let secret = rfc_secret();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "TotpSecret(<redacted>)");
        assert!(!shown.contains("GEZD"));
    }
}
