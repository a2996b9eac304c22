//! Purposes: why a principal asks for data. Every access declares exactly
//! one, and the registry of purposes is the basis of the Art. 30 record of
//! processing.

use std::fmt;

use serde::Deserialize;

use crate::category::DataCategory;
use crate::ids::{FieldName, IdError};
use crate::principal::named_enum;

/// The default registry of purposes for a party or union.
pub const DEFAULT_PURPOSES_TOML: &str = include_str!("../purposes/party.toml");

/// A purpose's name, as requests declare it.
///
/// INVARIANT: 1 to 64 characters of `a-z 0-9 _`, starting with a letter.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PurposeName(String);

impl PurposeName {
    /// The longest accepted name.
    pub const MAX_LEN: usize = 64;

    /// Parses a purpose name.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        FieldName::parse(s).map(|f| Self(f.as_str().to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PurposeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PurposeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PurposeName({})", self.0)
    }
}

named_enum! {
    /// The lawful basis of a purpose under Art. 6(1).
    LawfulBasis, "lawful basis" {
        /// Art. 6(1)(a): the subject's consent.
        Consent => "consent",
        /// Art. 6(1)(b): a contract with the subject, such as membership.
        Contract => "contract",
        /// Art. 6(1)(c): a legal obligation of the organisation.
        LegalObligation => "legal_obligation",
        /// Art. 6(1)(d): someone's vital interests.
        VitalInterests => "vital_interests",
        /// Art. 6(1)(e): a task in the public interest.
        PublicTask => "public_task",
        /// Art. 6(1)(f): the organisation's legitimate interests.
        LegitimateInterests => "legitimate_interests",
    }
}

impl LawfulBasis {
    /// The article that provides this basis.
    pub fn article(self) -> &'static str {
        match self {
            Self::Consent => "Art. 6(1)(a)",
            Self::Contract => "Art. 6(1)(b)",
            Self::LegalObligation => "Art. 6(1)(c)",
            Self::VitalInterests => "Art. 6(1)(d)",
            Self::PublicTask => "Art. 6(1)(e)",
            Self::LegitimateInterests => "Art. 6(1)(f)",
        }
    }
}

named_enum! {
    /// The condition under Art. 9(2) that permits processing special-category
    /// data for a purpose.
    SpecialCondition, "Art. 9 condition" {
        /// Art. 9(2)(a): explicit consent.
        ExplicitConsent => "explicit_consent",
        /// Art. 9(2)(b): employment and social security law.
        Employment => "employment",
        /// Art. 9(2)(c): vital interests of someone unable to consent.
        VitalInterests => "vital_interests",
        /// Art. 9(2)(d): a not-for-profit body with a political,
        /// philosophical, religious or trade-union aim, about its members.
        NotForProfit => "not_for_profit",
        /// Art. 9(2)(e): made public by the subject.
        MadePublic => "made_public",
        /// Art. 9(2)(f): legal claims.
        LegalClaims => "legal_claims",
        /// Art. 9(2)(g): substantial public interest.
        SubstantialPublicInterest => "substantial_public_interest",
        /// Art. 9(2)(h): health or social care.
        HealthCare => "health_care",
        /// Art. 9(2)(i): public health.
        PublicHealth => "public_health",
        /// Art. 9(2)(j): archiving, research or statistics.
        Archiving => "archiving",
    }
}

impl SpecialCondition {
    /// The article that provides this condition.
    pub fn article(self) -> &'static str {
        match self {
            Self::ExplicitConsent => "Art. 9(2)(a)",
            Self::Employment => "Art. 9(2)(b)",
            Self::VitalInterests => "Art. 9(2)(c)",
            Self::NotForProfit => "Art. 9(2)(d)",
            Self::MadePublic => "Art. 9(2)(e)",
            Self::LegalClaims => "Art. 9(2)(f)",
            Self::SubstantialPublicInterest => "Art. 9(2)(g)",
            Self::HealthCare => "Art. 9(2)(h)",
            Self::PublicHealth => "Art. 9(2)(i)",
            Self::Archiving => "Art. 9(2)(j)",
        }
    }
}

/// A purpose as a file or a command spells it, before parsing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeSpec {
    /// The name.
    pub name: String,
    /// What the purpose is, in a sentence.
    pub description: String,
    /// The Art. 6 basis.
    pub lawful_basis: String,
    /// The Art. 9 condition, needed if any category is special.
    pub special_condition: Option<String>,
    /// The data categories it may use.
    pub categories: Vec<String>,
    /// Whether the subject must have consented.
    #[serde(default)]
    pub requires_consent: bool,
    /// The consent flags that count as consent; any one set is enough.
    #[serde(default)]
    pub consent_fields: Vec<String>,
}

/// A purpose in the registry.
///
/// INVARIANT: special categories appear in `categories` only with a
/// `special_condition`; a purpose that requires consent names at least one
/// consent field; the description is 1 to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    name: PurposeName,
    description: String,
    lawful_basis: LawfulBasis,
    special_condition: Option<SpecialCondition>,
    categories: Vec<DataCategory>,
    requires_consent: bool,
    consent_fields: Vec<FieldName>,
}

impl Purpose {
    /// The longest description.
    pub const MAX_DESCRIPTION: usize = 500;

    /// Parses a purpose. The message names the key at fault.
    pub fn from_spec(spec: &PurposeSpec) -> Result<Self, String> {
        let name = PurposeName::parse(spec.name.trim()).map_err(|e| format!("`name` {e}"))?;
        let description = spec.description.trim().to_owned();
        if description.is_empty() || description.chars().count() > Self::MAX_DESCRIPTION {
            return Err(format!(
                "`description` must be 1 to {} characters",
                Self::MAX_DESCRIPTION
            ));
        }
        let lawful_basis = LawfulBasis::parse(spec.lawful_basis.trim())
            .map_err(|m| format!("`lawful_basis` `{}` {m}", spec.lawful_basis.trim()))?;
        let special_condition = spec
            .special_condition
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                SpecialCondition::parse(s).map_err(|m| format!("`special_condition` `{s}` {m}"))
            })
            .transpose()?;
        let mut categories = Vec::with_capacity(spec.categories.len());
        for raw in &spec.categories {
            let category = DataCategory::parse(raw.trim()).ok_or_else(|| {
                format!(
                    "`categories`: unknown category `{}` (expected one of {})",
                    raw.trim(),
                    DataCategory::ALL.map(DataCategory::as_str).join(", ")
                )
            })?;
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
        if categories.is_empty() {
            return Err("`categories` must name at least one data category".to_owned());
        }
        if let Some(special) = categories.iter().find(|c| c.is_special())
            && special_condition.is_none()
        {
            return Err(format!(
                "`categories` includes `{special}`, which needs an Art. 9 condition in `special_condition`"
            ));
        }
        categories.sort();
        let consent_fields = spec
            .consent_fields
            .iter()
            .map(|f| {
                FieldName::parse(f.trim())
                    .map_err(|e| format!("`consent_fields`: `{}` {e}", f.trim()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if spec.requires_consent && consent_fields.is_empty() {
            return Err(
                "`requires_consent` needs `consent_fields`: the consent flags that count"
                    .to_owned(),
            );
        }
        Ok(Self {
            name,
            description,
            lawful_basis,
            special_condition,
            categories,
            requires_consent: spec.requires_consent,
            consent_fields,
        })
    }

    /// Parses a registry file: `[[purpose]]` tables. Errors name the line.
    pub fn parse_registry(src: &str) -> Result<Vec<Self>, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Registry {
            #[serde(default)]
            purpose: Vec<toml::Spanned<PurposeSpec>>,
        }
        let line_of = |offset: usize| src[..offset.min(src.len())].matches('\n').count() + 1;
        let registry: Registry = toml::from_str(src).map_err(|e| {
            let line = e.span().map(|s| line_of(s.start));
            let message = e.message().trim_end_matches('.').to_owned();
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })?;
        let mut purposes: Vec<Self> = Vec::with_capacity(registry.purpose.len());
        for spanned in registry.purpose {
            let line = line_of(spanned.span().start);
            let purpose = Self::from_spec(spanned.get_ref())
                .map_err(|m| format!("line {line}: purpose `{}`: {m}", spanned.get_ref().name))?;
            if purposes.iter().any(|p| p.name == purpose.name) {
                return Err(format!(
                    "line {line}: purpose `{}` is defined twice",
                    purpose.name
                ));
            }
            purposes.push(purpose);
        }
        Ok(purposes)
    }

    /// The built-in registry.
    pub fn defaults() -> Vec<Self> {
        match Self::parse_registry(DEFAULT_PURPOSES_TOML) {
            Ok(purposes) => purposes,
            // A constant, checked by a unit test.
            Err(e) => unreachable!("the built-in purposes are invalid: {e}"),
        }
    }

    /// The name.
    pub fn name(&self) -> &PurposeName {
        &self.name
    }

    /// What the purpose is.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The Art. 6 basis.
    pub fn lawful_basis(&self) -> LawfulBasis {
        self.lawful_basis
    }

    /// The Art. 9 condition, if the purpose may use special categories.
    pub fn special_condition(&self) -> Option<SpecialCondition> {
        self.special_condition
    }

    /// The data categories the purpose may use, sorted.
    pub fn categories(&self) -> &[DataCategory] {
        &self.categories
    }

    /// Whether the purpose may use data of this category.
    pub fn covers(&self, category: DataCategory) -> bool {
        self.categories.contains(&category)
    }

    /// Whether the subject must have consented.
    pub fn requires_consent(&self) -> bool {
        self.requires_consent
    }

    /// The consent flags that count as consent.
    pub fn consent_fields(&self) -> &[FieldName] {
        &self.consent_fields
    }

    /// The purpose as a spec again, for storage and display.
    pub fn to_spec(&self) -> PurposeSpec {
        PurposeSpec {
            name: self.name.as_str().to_owned(),
            description: self.description.clone(),
            lawful_basis: self.lawful_basis.as_str().to_owned(),
            special_condition: self.special_condition.map(|c| c.as_str().to_owned()),
            categories: self
                .categories
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            requires_consent: self.requires_consent,
            consent_fields: self
                .consent_fields
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PurposeSpec {
        PurposeSpec {
            name: "casework".to_owned(),
            description: "Helping members with their cases".to_owned(),
            lawful_basis: "legitimate_interests".to_owned(),
            special_condition: None,
            categories: vec!["contact".to_owned(), "identity".to_owned()],
            requires_consent: false,
            consent_fields: Vec::new(),
        }
    }

    #[test]
    fn the_default_registry_parses_and_round_trips() {
        let purposes = Purpose::defaults();
        let names: Vec<&str> = purposes.iter().map(|p| p.name().as_str()).collect();
        for expected in [
            "membership_admin",
            "casework",
            "campaigning",
            "finance",
            "safeguarding",
            "legal",
            "subject_access",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let campaigning = purposes
            .iter()
            .find(|p| p.name().as_str() == "campaigning")
            .unwrap();
        assert!(campaigning.requires_consent());
        for p in &purposes {
            assert_eq!(&Purpose::from_spec(&p.to_spec()).unwrap(), p);
        }
    }

    #[test]
    fn specs_are_checked() {
        assert!(Purpose::from_spec(&spec()).is_ok());
        let bad = |f: fn(&mut PurposeSpec), needle: &str| {
            let mut s = spec();
            f(&mut s);
            let err = Purpose::from_spec(&s).unwrap_err();
            assert!(err.contains(needle), "{err} lacks {needle}");
        };
        bad(|s| s.name = "Case Work".to_owned(), "`name`");
        bad(|s| s.lawful_basis = "vibes".to_owned(), "`lawful_basis`");
        bad(
            |s| s.categories = vec!["special:health".to_owned()],
            "Art. 9",
        );
        bad(
            |s| s.categories = vec!["nonsense".to_owned()],
            "unknown category",
        );
        bad(|s| s.categories.clear(), "at least one");
        bad(|s| s.requires_consent = true, "consent_fields");
        bad(|s| s.description.clear(), "`description`");
    }

    #[test]
    fn registry_errors_name_the_line() {
        let src = "[[purpose]]\nname = \"a\"\ndescription = \"x\"\nlawful_basis = \"contract\"\ncategories = [\"contact\"]\n\n[[purpose]]\nname = \"a\"\ndescription = \"y\"\nlawful_basis = \"contract\"\ncategories = [\"contact\"]\n";
        let err = Purpose::parse_registry(src).unwrap_err();
        assert!(err.starts_with("line 7:"), "{err}");
        assert!(err.contains("twice"), "{err}");
    }
}
