//! Principals: the people and services that ask the vault for data, their
//! kinds, attributes (their remit) and status.

use std::collections::BTreeMap;
use std::fmt;

use crate::ids::IdError;

/// A principal's name: how policies, the ledger and alerts refer to them.
///
/// INVARIANT: 1 to 64 characters of `a-z 0-9 . _ - @`, starting with a
/// letter or digit; or the local operator's `local:` name, which only
/// [`PrincipalName::local_operator`] makes, so that no stored principal can
/// pass for the operator.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrincipalName(String);

impl PrincipalName {
    /// The longest accepted name.
    pub const MAX_LEN: usize = 64;
    /// The prefix of the local operator's name.
    pub const LOCAL_PREFIX: &'static str = "local:";

    /// Parses the name of a stored principal.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(IdError::TooLong { max: Self::MAX_LEN });
        }
        let ok_first = s.as_bytes()[0].is_ascii_lowercase() || s.as_bytes()[0].is_ascii_digit();
        let ok_rest = s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'@')
        });
        if !ok_first || !ok_rest {
            return Err(IdError::BadCharacter {
                allowed: "lower-case letters, digits, `.`, `_`, `-` and `@`, starting with a letter or digit",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The local operator named after an OS user. Characters outside the
    /// alphabet of stored names become `_`.
    pub fn local_operator(os_user: &str) -> Self {
        let user: String = os_user
            .chars()
            .take(Self::MAX_LEN - Self::LOCAL_PREFIX.len())
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let user = if user.is_empty() {
            "unknown".to_owned()
        } else {
            user
        };
        Self(format!("{}{user}", Self::LOCAL_PREFIX))
    }

    /// Whether this is the local operator.
    pub fn is_local_operator(&self) -> bool {
        self.0.starts_with(Self::LOCAL_PREFIX)
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrincipalName({})", self.0)
    }
}

/// Defines a closed set of names as an enum with `as_str`, `parse` and `ALL`.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order documents list them.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The name used on the command line, in files and in policies.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// Parses a name, with an error that lists the accepted ones.
            pub fn parse(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        format!(
                            "is not a known {} (expected one of {})",
                            $what,
                            Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                        )
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum! {
    /// What sort of principal someone is.
    PrincipalKind, "principal kind" {
        /// An employee of the organisation.
        Staff => "staff",
        /// An elected representative, such as an MP or a councillor.
        Representative => "representative",
        /// A volunteer.
        Volunteer => "volunteer",
        /// A processor: a contractor or mailing house acting for the
        /// organisation.
        Processor => "processor",
        /// Another system: a CRM, a mailing tool, an identity provider.
        Service => "service",
    }
}

named_enum! {
    /// Whether a principal may act.
    PrincipalStatus, "principal status" {
        /// May act within their policies.
        Active => "active",
        /// Temporarily shut out; `restore` lets them back in.
        Suspended => "suspended",
        /// Shut out for good: a leaver. `restore` is still possible, and
        /// recorded, for mistakes.
        Revoked => "revoked",
    }
}

named_enum! {
    /// The attributes that describe a principal's place in the organisation,
    /// and so their remit. An attribute named after a scope field of the
    /// schema (constituency, branch) matches the subject's field.
    AttributeKey, "principal attribute" {
        /// Their role, such as `admin`, `caseworker` or `organiser`.
        Role => "role",
        /// The constituency they represent or work in.
        Constituency => "constituency",
        /// The branch they belong to.
        Branch => "branch",
        /// The organisation they belong to (for processors and services).
        Organisation => "organisation",
        /// Their team, such as `membership` or `finance`.
        Team => "team",
    }
}

/// The role that makes a principal an administrator.
pub const ADMIN_ROLE: &str = "admin";

/// A principal's attributes.
///
/// INVARIANT: every value is 1 to 128 characters with no control
/// characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(BTreeMap<AttributeKey, String>);

impl Attributes {
    /// The longest attribute value.
    pub const MAX_VALUE_LEN: usize = 128;

    /// Parses `KEY=VALUE` pairs; a key given twice is an error.
    pub fn parse_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut attrs = Self::default();
        for (key, value) in pairs {
            let key =
                AttributeKey::parse(key.trim()).map_err(|m| format!("`{}` {m}", key.trim()))?;
            if attrs.0.contains_key(&key) {
                return Err(format!("`{key}` is given twice"));
            }
            attrs.set(key, value)?;
        }
        Ok(attrs)
    }

    /// Sets one attribute; an empty value removes it.
    pub fn set(&mut self, key: AttributeKey, value: &str) -> Result<(), String> {
        let value = value.trim();
        if value.is_empty() {
            self.0.remove(&key);
            return Ok(());
        }
        if value.chars().count() > Self::MAX_VALUE_LEN {
            return Err(format!(
                "`{key}` is longer than {} characters",
                Self::MAX_VALUE_LEN
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("`{key}` contains a control character"));
        }
        self.0.insert(key, value.to_owned());
        Ok(())
    }

    /// One attribute's value.
    pub fn get(&self, key: AttributeKey) -> Option<&str> {
        self.0.get(&key).map(String::as_str)
    }

    /// Every attribute, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (AttributeKey, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Whether the principal has the admin role.
    pub fn is_admin(&self) -> bool {
        self.get(AttributeKey::Role) == Some(ADMIN_ROLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(PrincipalName::parse("ana").is_ok());
        assert!(PrincipalName::parse("ana.smith@party.example").is_ok());
        assert!(PrincipalName::parse("Ana").is_err());
        assert!(PrincipalName::parse("local:root").is_err());
        assert!(PrincipalName::parse("").is_err());
        assert!(PrincipalName::parse("-x").is_err());
        let op = PrincipalName::local_operator("Root User");
        assert_eq!(op.as_str(), "local:root_user");
        assert!(op.is_local_operator());
        assert!(!PrincipalName::parse("ana").unwrap().is_local_operator());
        assert_eq!(PrincipalName::local_operator("").as_str(), "local:unknown");
    }

    #[test]
    fn kinds_and_statuses_round_trip() {
        for k in PrincipalKind::ALL {
            assert_eq!(PrincipalKind::parse(k.as_str()), Ok(*k));
        }
        for s in PrincipalStatus::ALL {
            assert_eq!(PrincipalStatus::parse(s.as_str()), Ok(*s));
        }
        let err = PrincipalKind::parse("mp").unwrap_err();
        assert!(err.contains("representative"), "{err}");
    }

    #[test]
    fn attributes() {
        let attrs =
            Attributes::parse_pairs([("constituency", "E14000639"), ("role", "admin")]).unwrap();
        assert_eq!(attrs.get(AttributeKey::Constituency), Some("E14000639"));
        assert!(attrs.is_admin());
        assert!(
            Attributes::parse_pairs([("colour", "red")])
                .unwrap_err()
                .contains("`colour`")
        );
        assert!(Attributes::parse_pairs([("team", "a"), ("team", "b")]).is_err());
        assert!(Attributes::parse_pairs([("team", "a\nb")]).is_err());
        let mut attrs = attrs;
        attrs.set(AttributeKey::Role, "").unwrap();
        assert!(!attrs.is_admin());
    }
}
