//! Data categories, as a record of processing and a breach report name them.

use std::fmt;

/// The Art. 9 special categories that member organisations commonly hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecialCategory {
    /// Political opinions (Art. 9(1)).
    PoliticalOpinion,
    /// Trade-union membership (Art. 9(1)).
    TradeUnion,
    /// Racial or ethnic origin (Art. 9(1)).
    Ethnicity,
    /// Data concerning health (Art. 9(1)).
    Health,
    /// Religious or philosophical beliefs (Art. 9(1)).
    Religion,
}

/// The category of data a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataCategory {
    /// Names, dates of birth, identifiers.
    Identity,
    /// Email, phone, postal address.
    Contact,
    /// Donations, payments.
    Financial,
    /// Constituency, branch, roles in the organisation.
    Organisational,
    /// Membership status and its dates.
    Lifecycle,
    /// Consent flags.
    Consent,
    /// Unstructured notes, which may hold anything.
    FreeText,
    /// An Art. 9 special category.
    Special(SpecialCategory),
}

impl DataCategory {
    /// Every category, in the order documents list them.
    pub const ALL: [DataCategory; 12] = [
        Self::Identity,
        Self::Contact,
        Self::Financial,
        Self::Organisational,
        Self::Lifecycle,
        Self::Consent,
        Self::FreeText,
        Self::Special(SpecialCategory::PoliticalOpinion),
        Self::Special(SpecialCategory::TradeUnion),
        Self::Special(SpecialCategory::Ethnicity),
        Self::Special(SpecialCategory::Health),
        Self::Special(SpecialCategory::Religion),
    ];

    /// The name used in schema files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Contact => "contact",
            Self::Financial => "financial",
            Self::Organisational => "organisational",
            Self::Lifecycle => "lifecycle",
            Self::Consent => "consent",
            Self::FreeText => "free_text",
            Self::Special(SpecialCategory::PoliticalOpinion) => "special:political_opinion",
            Self::Special(SpecialCategory::TradeUnion) => "special:trade_union",
            Self::Special(SpecialCategory::Ethnicity) => "special:ethnicity",
            Self::Special(SpecialCategory::Health) => "special:health",
            Self::Special(SpecialCategory::Religion) => "special:religion",
        }
    }

    /// Parses a category name as written in a schema file.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether this is an Art. 9 special category.
    pub fn is_special(self) -> bool {
        matches!(self, Self::Special(_))
    }
}

impl fmt::Display for DataCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in DataCategory::ALL {
            assert_eq!(DataCategory::parse(c.as_str()), Some(c));
        }
        assert_eq!(DataCategory::parse("special:unknown"), None);
        assert!(DataCategory::parse("special:health").unwrap().is_special());
        assert!(!DataCategory::Contact.is_special());
    }
}
