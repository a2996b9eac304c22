//! The schema: which fields a subject has, and what each may hold.
//!
//! A schema is written in TOML (see `schemas/party.toml`, the default) and
//! parsed into a [`Schema`], which is valid by construction. Errors name the
//! line and the field so that a DPO editing the file can find the mistake.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::category::DataCategory;
use crate::ids::FieldName;
use crate::value::{FieldValue, ValueError};

/// The default schema for a party or union, with stable field names.
pub const DEFAULT_SCHEMA_TOML: &str = include_str!("../schemas/party.toml");

/// The name of the field that holds the subject id.
pub const ID_FIELD: &str = "id";

/// The longest value any field may declare, in characters.
const MAX_LENGTH_CAP: usize = 65_536;

/// The type of a field's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// An email address, lower-cased.
    Email,
    /// A phone number, stored in E.164 form.
    Phone,
    /// A UK postcode, upper-cased with one space.
    Postcode,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// `true` or `false`.
    Bool,
    /// A signed 64-bit integer.
    Integer,
    /// An amount with two decimals, such as `12.50`.
    Money,
    /// One of a fixed list of values.
    Enum(Vec<String>),
}

impl FieldType {
    const NAMES: &'static str = "text, email, phone, postcode, date, bool, integer, money, enum";

    fn parse(name: &str, values: Option<Vec<String>>) -> Result<Self, String> {
        let simple = match name {
            "text" => Self::Text,
            "email" => Self::Email,
            "phone" => Self::Phone,
            "postcode" => Self::Postcode,
            "date" => Self::Date,
            "bool" => Self::Bool,
            "integer" => Self::Integer,
            "money" => Self::Money,
            "enum" => {
                let values = values.unwrap_or_default();
                if values.is_empty() {
                    return Err("an enum needs a non-empty `values` list".to_owned());
                }
                if let Some(bad) = values
                    .iter()
                    .find(|v| v.trim().is_empty() || v.trim() != *v)
                {
                    return Err(format!(
                        "enum value `{bad}` is empty or has surrounding spaces"
                    ));
                }
                return Ok(Self::Enum(values));
            }
            other => {
                return Err(format!(
                    "unknown type `{other}` (expected one of {})",
                    Self::NAMES
                ));
            }
        };
        if values.is_some() {
            return Err("`values` is only allowed on enum fields".to_owned());
        }
        Ok(simple)
    }

    /// The name used in schema files.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Postcode => "postcode",
            Self::Date => "date",
            Self::Bool => "bool",
            Self::Integer => "integer",
            Self::Money => "money",
            Self::Enum(_) => "enum",
        }
    }

    fn default_max_length(&self, category: DataCategory) -> usize {
        match self {
            Self::Email => 254,
            Self::Phone | Self::Postcode | Self::Date | Self::Bool => 32,
            Self::Integer | Self::Money => 24,
            Self::Enum(values) => values.iter().map(|v| v.chars().count()).max().unwrap_or(0),
            Self::Text if category == DataCategory::FreeText => 4000,
            Self::Text => 200,
        }
    }
}

/// One field of a subject.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    name: FieldName,
    field_type: FieldType,
    category: DataCategory,
    lookup: bool,
    scope: bool,
    required: bool,
    max_length: usize,
    description: Option<String>,
}

impl FieldSpec {
    /// The field's name.
    pub fn name(&self) -> &FieldName {
        &self.name
    }
    /// The field's type.
    pub fn field_type(&self) -> &FieldType {
        &self.field_type
    }
    /// The field's data category.
    pub fn category(&self) -> DataCategory {
        self.category
    }
    /// Whether the field has a blind index for exact-match lookup.
    pub fn is_lookup(&self) -> bool {
        self.lookup
    }
    /// Whether the field is a scope attribute, stored unencrypted.
    pub fn is_scope(&self) -> bool {
        self.scope
    }
    /// Whether every subject must have a value.
    pub fn is_required(&self) -> bool {
        self.required
    }
    /// Whether this field is the subject id.
    pub fn is_id(&self) -> bool {
        self.name.as_str() == ID_FIELD
    }
    /// The longest accepted value, in characters.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
    /// A human description, if the schema gives one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Parses a raw value for this field. Surrounding whitespace is ignored and
    /// an empty value means "absent", which is an error for a required field.
    pub fn parse_value(&self, raw: &str) -> Result<Option<FieldValue>, ValueError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return if self.required {
                Err(ValueError::Required)
            } else {
                Ok(None)
            };
        }
        if raw.chars().count() > self.max_length {
            return Err(ValueError::TooLong {
                max: self.max_length,
            });
        }
        let canonical = self.field_type.normalize(raw)?;
        Ok(Some(FieldValue::from_canonical(canonical)))
    }
}

/// A parsed, valid schema.
///
/// INVARIANT: field names are unique; there is exactly one `id` field, of type
/// text; special-category and free-text fields are never scope attributes,
/// because scope attributes are stored in clear.
#[derive(Debug, Clone)]
pub struct Schema {
    name: String,
    fields: Vec<FieldSpec>,
    by_name: HashMap<FieldName, usize>,
}

/// Why a schema file is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SchemaError {
    /// The 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// The field concerned, when known.
    pub field: Option<String>,
    /// What is wrong and what is expected instead.
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    name: Option<String>,
    #[serde(default)]
    field: Vec<Spanned<RawField>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Spanned<String>,
    #[serde(rename = "type")]
    field_type: Spanned<String>,
    category: Spanned<String>,
    #[serde(default)]
    lookup: bool,
    #[serde(default)]
    scope: bool,
    #[serde(default)]
    required: bool,
    max_length: Option<Spanned<i64>>,
    values: Option<Vec<String>>,
    description: Option<String>,
}

impl Schema {
    /// The default schema for a party or union.
    pub fn default_party() -> Self {
        match Self::parse(DEFAULT_SCHEMA_TOML) {
            Ok(schema) => schema,
            // The default schema is a constant checked by a unit test.
            Err(e) => unreachable!("the built-in schema is invalid: {e}"),
        }
    }

    /// Parses a schema from TOML text.
    pub fn parse(src: &str) -> Result<Self, SchemaError> {
        let line_of =
            |span: Range<usize>| Some(src[..span.start.min(src.len())].matches('\n').count() + 1);
        let raw: RawSchema = toml::from_str(src).map_err(|e| SchemaError {
            line: e.span().and_then(line_of),
            field: None,
            message: e.message().trim_end_matches('.').to_owned(),
        })?;
        let name = raw.name.unwrap_or_else(|| "custom".to_owned());

        let mut fields = Vec::with_capacity(raw.field.len());
        let mut by_name = HashMap::new();
        for spanned in raw.field {
            let table_span = spanned.span();
            let raw_field = spanned.into_inner();
            let field_name = raw_field.name.get_ref().clone();
            // Errors point at the offending key where there is one, else at
            // the field's table.
            let err_at = |span: Range<usize>, message: String| SchemaError {
                line: line_of(span),
                field: Some(field_name.clone()),
                message,
            };
            let err = |message: String| err_at(table_span.clone(), message);
            let name = FieldName::parse(&field_name)
                .map_err(|e| err_at(raw_field.name.span(), format!("the name {e}")))?;
            let category = DataCategory::parse(raw_field.category.get_ref()).ok_or_else(|| {
                err_at(
                    raw_field.category.span(),
                    format!(
                        "unknown category `{}` (expected one of {})",
                        raw_field.category.get_ref(),
                        DataCategory::ALL.map(DataCategory::as_str).join(", ")
                    ),
                )
            })?;
            let field_type = FieldType::parse(raw_field.field_type.get_ref(), raw_field.values)
                .map_err(|m| err_at(raw_field.field_type.span(), m))?;
            let max_length = match raw_field.max_length {
                None => field_type.default_max_length(category),
                Some(n) => match usize::try_from(*n.get_ref()) {
                    Ok(n) if (1..=MAX_LENGTH_CAP).contains(&n) => n,
                    _ => {
                        return Err(err_at(
                            n.span(),
                            format!("`max_length` must be between 1 and {MAX_LENGTH_CAP}"),
                        ));
                    }
                },
            };
            if raw_field.scope && category.is_special() {
                return Err(err(
                    "a special-category field cannot be a scope attribute, because scope \
                     attributes are stored unencrypted"
                        .to_owned(),
                ));
            }
            if raw_field.scope && category == DataCategory::FreeText {
                return Err(err(
                    "a free_text field cannot be a scope attribute, because scope attributes \
                     are stored unencrypted"
                        .to_owned(),
                ));
            }
            let is_id = name.as_str() == ID_FIELD;
            if is_id && (field_type != FieldType::Text || raw_field.lookup || raw_field.scope) {
                return Err(err(
                    "the `id` field holds the subject id: it must be of type text, and neither \
                     lookup nor scope"
                        .to_owned(),
                ));
            }
            if by_name.contains_key(&name) {
                return Err(err("is declared twice".to_owned()));
            }
            by_name.insert(name.clone(), fields.len());
            fields.push(FieldSpec {
                name,
                field_type,
                category,
                lookup: raw_field.lookup,
                scope: raw_field.scope,
                required: raw_field.required || is_id,
                max_length,
                description: raw_field.description,
            });
        }
        if !by_name.contains_key(ID_FIELD) {
            return Err(SchemaError {
                line: None,
                field: None,
                message: "the schema has no `id` field (add one of type text: it holds the \
                          subject id)"
                    .to_owned(),
            });
        }
        Ok(Self {
            name,
            fields,
            by_name,
        })
    }

    /// The schema's name, e.g. `party`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All fields, in declaration order.
    pub fn fields(&self) -> &[FieldSpec] {
        &self.fields
    }

    /// Looks up a field by name.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }

    /// Looks up a field by name, with an error that lists the known fields.
    pub fn require_field(&self, name: &str) -> Result<&FieldSpec, String> {
        self.field(name).ok_or_else(|| {
            format!(
                "unknown field `{name}` (known fields: {})",
                self.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// The scope attributes, in declaration order.
    pub fn scope_fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter().filter(|f| f.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_has_the_contract_field_names() {
        let schema = Schema::default_party();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "given_name",
                "family_name",
                "email",
                "phone",
                "address_line1",
                "address_line2",
                "town",
                "postcode",
                "date_of_birth",
                "constituency",
                "branch",
                "membership_status",
                "joined_on",
                "left_on",
                "consent_email",
                "consent_phone",
                "consent_post",
                "union_affiliation",
                "ethnicity",
                "disability",
                "donation_total",
                "notes"
            ]
        );
        let lookups: Vec<&str> = schema
            .fields()
            .iter()
            .filter(|f| f.is_lookup())
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(lookups, ["email", "phone", "postcode"]);
        let scopes: Vec<&str> = schema.scope_fields().map(|f| f.name().as_str()).collect();
        assert_eq!(
            scopes,
            [
                "constituency",
                "branch",
                "membership_status",
                "joined_on",
                "left_on",
                "consent_email",
                "consent_phone",
                "consent_post"
            ]
        );
        assert_eq!(
            schema
                .field("union_affiliation")
                .unwrap()
                .category()
                .as_str(),
            "special:trade_union"
        );
    }

    fn error_of(src: &str) -> String {
        Schema::parse(src).unwrap_err().to_string()
    }

    const ID: &str = "[[field]]\nname = \"id\"\ntype = \"text\"\ncategory = \"identity\"\n";

    #[test]
    fn errors_name_the_line_and_the_field() {
        let src = format!(
            "{ID}\n[[field]]\nname = \"email\"\ntype = \"emial\"\ncategory = \"contact\"\n"
        );
        assert_eq!(
            error_of(&src),
            "line 8: field `email`: unknown type `emial` (expected one of text, email, phone, \
             postcode, date, bool, integer, money, enum)"
        );
        let src = format!(
            "{ID}\n[[field]]\nname = \"eth\"\ntype = \"text\"\ncategory = \"special:ethnicity\"\nscope = true\n"
        );
        assert!(error_of(&src).starts_with("line 6: field `eth`: a special-category field"));
        let src =
            format!("{ID}\n[[field]]\nname = \"id\"\ntype = \"text\"\ncategory = \"identity\"\n");
        assert_eq!(error_of(&src), "line 6: field `id`: is declared twice");
        let src =
            format!("{ID}\n[[field]]\nname = \"s\"\ntype = \"enum\"\ncategory = \"lifecycle\"\n");
        assert_eq!(
            error_of(&src),
            "line 8: field `s`: an enum needs a non-empty `values` list"
        );
        let src =
            format!("{ID}\n[[field]]\nname = \"x\"\ntype = \"text\"\ncategory = \"secret\"\n");
        assert!(error_of(&src).starts_with("line 9: field `x`: unknown category `secret`"));
    }

    #[test]
    fn syntax_and_unknown_keys_are_reported_with_lines() {
        let src = format!(
            "{ID}\n[[field]]\nname = \"x\"\ntype = \"text\"\ncategory = \"contact\"\nlookpu = true\n"
        );
        let err = Schema::parse(&src).unwrap_err();
        assert_eq!(err.line, Some(10), "{err}");
        assert!(err.message.contains("lookpu"), "{err}");
        let err = Schema::parse("name = \"x\"\n[[field]\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
    }

    #[test]
    fn a_schema_needs_an_id_field() {
        let src = "[[field]]\nname = \"email\"\ntype = \"email\"\ncategory = \"contact\"\n";
        assert!(error_of(src).contains("no `id` field"));
    }

    #[test]
    fn parse_value_applies_required_trim_and_length() {
        let schema = Schema::default_party();
        let id = schema.field("id").unwrap();
        assert_eq!(id.parse_value("  "), Err(ValueError::Required));
        let name = schema.field("given_name").unwrap();
        assert_eq!(name.parse_value("  Ana ").unwrap().unwrap().as_str(), "Ana");
        assert_eq!(name.parse_value("").unwrap(), None);
        assert_eq!(
            name.parse_value(&"x".repeat(201)),
            Err(ValueError::TooLong { max: 200 })
        );
    }
}
