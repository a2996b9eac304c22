//! Field values and the rules that normalise them, one rule per field type.
//!
//! Values are normalised on the way in (an email is lower-cased, a phone number
//! becomes E.164, a postcode gets its canonical spacing) so that blind-index
//! lookups match however a value was typed. Error messages describe what was
//! expected and never repeat the value, because values are personal data.

use std::fmt;

use time::Date;
use time::macros::format_description;
use zeroize::Zeroize;

use crate::schema::FieldType;

/// A personal field value in its canonical form.
///
/// Its `Debug` is redacted and its memory is wiped on drop, so a value cannot
/// reach a log through a stray `{:?}` and does not linger in freed memory.
#[derive(Clone, PartialEq, Eq)]
pub struct FieldValue(String);

impl FieldValue {
    /// Wraps a value that is already canonical, such as one just decrypted.
    pub fn from_canonical(s: String) -> Self {
        Self(s)
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for FieldValue {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FieldValue(<redacted>)")
    }
}

/// Why a value does not fit its field. Never contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A required field is missing or empty.
    #[error("is required")]
    Required,
    /// Longer than the field allows.
    #[error("is longer than {max} characters")]
    TooLong {
        /// The field's `max_length`.
        max: usize,
    },
    /// Contains control characters that the field does not allow.
    #[error("contains control characters")]
    ControlCharacters,
    /// Not a value of the field's type.
    #[error("is not {what} (expected {expected})")]
    WrongType {
        /// What the value should be, e.g. "a date".
        what: &'static str,
        /// The expected form, e.g. "YYYY-MM-DD".
        expected: &'static str,
    },
    /// Not one of an enum's values.
    #[error("is not one of the allowed values ({allowed})")]
    NotAllowed {
        /// The allowed values, comma-separated.
        allowed: String,
    },
}

impl FieldType {
    /// Normalises a non-empty, trimmed raw value to this type's canonical form.
    pub(crate) fn normalize(&self, raw: &str) -> Result<String, ValueError> {
        match self {
            Self::Text => normalize_text(raw),
            Self::Email => normalize_email(raw),
            Self::Phone => normalize_phone(raw),
            Self::Postcode => normalize_postcode(raw),
            Self::Date => normalize_date(raw),
            Self::Bool => normalize_bool(raw),
            Self::Integer => normalize_integer(raw),
            Self::Money => normalize_money(raw),
            Self::Enum(values) => normalize_enum(raw, values),
        }
    }
}

fn normalize_text(raw: &str) -> Result<String, ValueError> {
    // Newlines and tabs are ordinary in notes and addresses; other control
    // characters are never meant and can corrupt terminals and exports.
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValueError::ControlCharacters);
    }
    Ok(raw.to_owned())
}

fn normalize_email(raw: &str) -> Result<String, ValueError> {
    const WRONG: ValueError = ValueError::WrongType {
        what: "an email address",
        expected: "name@domain.example",
    };
    let (local, domain) = raw.rsplit_once('@').ok_or(WRONG)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | ',' | ';'));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !local_ok || !domain_ok {
        return Err(WRONG);
    }
    Ok(raw.to_lowercase())
}

fn normalize_phone(raw: &str) -> Result<String, ValueError> {
    const WRONG: ValueError = ValueError::WrongType {
        what: "a phone number",
        expected: "a UK number such as 07700 900123, or +country code and 8 to 15 digits",
    };
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for (i, c) in raw.chars().enumerate() {
        match c {
            '+' if i == 0 => plus = true,
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(WRONG),
        }
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        // A national UK number: 0 + 9 or 10 digits.
        if !(9..=10).contains(&rest.len()) {
            return Err(WRONG);
        }
        format!("44{rest}")
    } else {
        return Err(WRONG);
    };
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(WRONG);
    }
    Ok(format!("+{international}"))
}

fn normalize_postcode(raw: &str) -> Result<String, ValueError> {
    const WRONG: ValueError = ValueError::WrongType {
        what: "a UK postcode",
        expected: "a form such as SW1A 1AA or M1 1AE",
    };
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
        return Err(WRONG);
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    let inward_ok = {
        let b = inward.as_bytes();
        b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphabetic()
    };
    let outward_ok = {
        let b = outward.as_bytes();
        b[0].is_ascii_alphabetic()
            && b.iter().all(u8::is_ascii_alphanumeric)
            && b.iter().any(u8::is_ascii_digit)
    };
    if !inward_ok || !outward_ok {
        return Err(WRONG);
    }
    Ok(format!("{outward} {inward}"))
}

/// Parses a `YYYY-MM-DD` date; shared by every rule that compares dates.
pub(crate) fn parse_date(raw: &str) -> Option<Date> {
    Date::parse(raw, format_description!("[year]-[month]-[day]")).ok()
}

fn normalize_date(raw: &str) -> Result<String, ValueError> {
    match parse_date(raw) {
        Some(_) if raw.len() == 10 => Ok(raw.to_owned()),
        _ => Err(ValueError::WrongType {
            what: "a date",
            expected: "YYYY-MM-DD",
        }),
    }
}

fn normalize_bool(raw: &str) -> Result<String, ValueError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok("true".to_owned()),
        "false" | "no" | "n" | "0" => Ok("false".to_owned()),
        _ => Err(ValueError::WrongType {
            what: "a yes/no value",
            expected: "true or false",
        }),
    }
}

fn normalize_integer(raw: &str) -> Result<String, ValueError> {
    raw.parse::<i64>()
        .map(|n| n.to_string())
        .map_err(|_| ValueError::WrongType {
            what: "a whole number",
            expected: "digits with an optional sign",
        })
}

fn normalize_money(raw: &str) -> Result<String, ValueError> {
    const WRONG: ValueError = ValueError::WrongType {
        what: "an amount of money",
        expected: "a number with at most 2 decimals, such as 12.50",
    };
    let unsigned = raw.strip_prefix('-');
    let negative = unsigned.is_some();
    let body = unsigned.unwrap_or(raw);
    let body = body.strip_prefix('£').unwrap_or(body).replace(',', "");
    let (units, cents) = match body.split_once('.') {
        Some((u, c)) => (u, c),
        None => (body.as_str(), ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || units.len() > 15 || !digits(units) || cents.len() > 2 || !digits(cents) {
        return Err(WRONG);
    }
    let units: u64 = units.parse().map_err(|_| WRONG)?;
    let cents = format!("{cents:0<2}");
    let sign = if negative && (units != 0 || cents != "00") {
        "-"
    } else {
        ""
    };
    Ok(format!("{sign}{units}.{cents}"))
}

fn normalize_enum(raw: &str, values: &[String]) -> Result<String, ValueError> {
    values
        .iter()
        .find(|v| v.eq_ignore_ascii_case(raw))
        .cloned()
        .ok_or_else(|| ValueError::NotAllowed {
            allowed: values.join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: FieldType, raw: &str) -> String {
        t.normalize(raw).unwrap()
    }

    #[test]
    fn emails() {
        assert_eq!(
            ok(FieldType::Email, "Ana.Smith@Example.ORG"),
            "ana.smith@example.org"
        );
        for bad in ["no-at", "a@b", "a b@c.org", "@c.org", "a@.org", "a@-x.org"] {
            assert!(FieldType::Email.normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(ok(FieldType::Phone, "07700 900123"), "+447700900123");
        assert_eq!(ok(FieldType::Phone, "0044 7700-900123"), "+447700900123");
        assert_eq!(ok(FieldType::Phone, "+33 1 23 45 67 89"), "+33123456789");
        for bad in [
            "12345",
            "0770090012345",
            "phone",
            "07700 9001x3",
            "+0123456789",
        ] {
            assert!(FieldType::Phone.normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn postcodes() {
        assert_eq!(ok(FieldType::Postcode, "sw1a1aa"), "SW1A 1AA");
        assert_eq!(ok(FieldType::Postcode, "M1  1AE"), "M1 1AE");
        assert_eq!(ok(FieldType::Postcode, "B33 8TH"), "B33 8TH");
        for bad in ["SW1A", "12345", "ABC DEF", "SW1A 1A1", "É1 1AA"] {
            assert!(FieldType::Postcode.normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(ok(FieldType::Date, "2024-02-29"), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "01/02/2024",
            "2024-1-1",
            "+02024-01-01",
        ] {
            assert!(FieldType::Date.normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bools_integers_money() {
        assert_eq!(ok(FieldType::Bool, "Yes"), "true");
        assert_eq!(ok(FieldType::Bool, "0"), "false");
        assert!(FieldType::Bool.normalize("maybe").is_err());
        assert_eq!(ok(FieldType::Integer, "-42"), "-42");
        assert!(FieldType::Integer.normalize("4.2").is_err());
        assert_eq!(ok(FieldType::Money, "12"), "12.00");
        assert_eq!(ok(FieldType::Money, "£1,250.5"), "1250.50");
        assert_eq!(ok(FieldType::Money, "-3.25"), "-3.25");
        assert_eq!(ok(FieldType::Money, "-0"), "0.00");
        for bad in ["1.234", "abc", "", ".5", "1e3"] {
            assert!(FieldType::Money.normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_are_case_insensitive_and_canonical() {
        let t = FieldType::Enum(vec!["member".into(), "former".into()]);
        assert_eq!(ok(t.clone(), "Member"), "member");
        let err = t.normalize("nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "is not one of the allowed values (member, former)"
        );
    }

    #[test]
    fn errors_never_repeat_the_value() {
        let secret = "ana.secret@@example.org";
        let msg = FieldType::Email.normalize(secret).unwrap_err().to_string();
        assert!(!msg.contains("ana.secret"), "{msg}");
    }

    #[test]
    fn text_rejects_control_characters_but_keeps_newlines() {
        assert_eq!(
            ok(FieldType::Text, "line one\nline two"),
            "line one\nline two"
        );
        assert_eq!(
            FieldType::Text.normalize("bell\u{7}"),
            Err(ValueError::ControlCharacters)
        );
    }

    #[test]
    fn debug_is_redacted() {
        let v = FieldValue::from_canonical("Ana".into());
        assert_eq!(format!("{v:?}"), "FieldValue(<redacted>)");
    }
}
