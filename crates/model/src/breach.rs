//! The names of what incident response works with: processors (the
//! contractors and mailing houses that receive exports), exports to them,
//! and incidents.

use std::fmt;

use crate::ids::IdError;
use crate::principal::PrincipalName;

/// A processor's name, such as `mailhouse`: a contractor or mailing house
/// that receives exports for the organisation.
///
/// INVARIANT: the alphabet of a stored principal's name (1 to 64 characters
/// of `a-z 0-9 . _ - @`, starting with a letter or digit), so that a
/// processor and the principals of its staff (whose `organisation`
/// attribute names it) are spelled alike.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessorName(String);

impl ProcessorName {
    /// Parses a processor's name.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        PrincipalName::parse(s).map(|p| Self(p.as_str().to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcessorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProcessorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProcessorName({})", self.0)
    }
}

/// Defines a numbered id written `PREFIX-0001`: the number is assigned by
/// the store, and the text form is what people type and read aloud.
macro_rules! numbered_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u64);

        impl $name {
            /// The prefix of the text form.
            pub const PREFIX: &'static str = $prefix;

            /// The id with this number (from 1).
            pub fn from_number(n: u64) -> Self {
                Self(n)
            }

            /// The number.
            pub fn number(self) -> u64 {
                self.0
            }

            /// Parses `PREFIX-N`, in either case, with any number of digits.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let bad = IdError::BadCharacter {
                    allowed: concat!("`", $prefix, "-` followed by digits, such as ", $prefix, "-0001"),
                };
                let s = s.trim();
                let digits = s
                    .get(..Self::PREFIX.len() + 1)
                    .filter(|p| p.eq_ignore_ascii_case(concat!($prefix, "-")))
                    .and_then(|_| s.get(Self::PREFIX.len() + 1..))
                    .ok_or(bad.clone())?;
                if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad);
                }
                digits.parse().map(Self).map_err(|_| bad)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}-{:04}", Self::PREFIX, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
    };
}

numbered_id! {
    /// An export to a processor, such as `EX-0007`.
    ExportId, "EX"
}

numbered_id! {
    /// A personal-data breach in the breach register, such as `INC-0003`.
    IncidentId, "INC"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processor_names_follow_principal_names() {
        assert!(ProcessorName::parse("mailhouse").is_ok());
        assert!(ProcessorName::parse("print.co-uk").is_ok());
        assert!(ProcessorName::parse("Mail House").is_err());
        assert!(ProcessorName::parse("").is_err());
        assert!(ProcessorName::parse("local:root").is_err());
    }

    #[test]
    fn numbered_ids_round_trip() {
        let id = ExportId::parse("EX-0007").unwrap();
        assert_eq!(id.number(), 7);
        assert_eq!(id.to_string(), "EX-0007");
        assert_eq!(ExportId::parse("ex-7").unwrap(), id);
        assert_eq!(IncidentId::from_number(12_345).to_string(), "INC-12345");
        assert_eq!(IncidentId::parse(" INC-3 ").unwrap().number(), 3);
        for bad in [
            "",
            "EX-",
            "EX7",
            "INC-0001",
            "EX-1a",
            "EX--1",
            "EX-99999999999999999999",
        ] {
            assert!(ExportId::parse(bad).is_err(), "{bad}");
        }
        let err = IncidentId::parse("7").unwrap_err().to_string();
        assert!(err.contains("INC-0001"), "{err}");
    }
}
