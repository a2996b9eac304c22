//! Subject values on their way in (raw, by field name) and out (decrypted,
//! in schema order).

use custos_model::{FieldName, FieldSpec, FieldValue, Schema, SubjectId};

use crate::error::Problem;

/// A subject as a caller supplies it: raw text values by field name. An empty
/// value means "no value".
#[derive(Debug, Default, Clone)]
pub struct SubjectInput {
    /// The subject id; generated when absent.
    pub id: Option<String>,
    /// Raw values by field name.
    pub values: Vec<(String, String)>,
}

/// The released fields of one subject, in schema order. A requested field
/// with no value is present with `None`; a requested field the policies
/// denied is absent from `fields` and listed in `denied`.
#[derive(Debug)]
pub struct SubjectRecord {
    /// The subject id.
    pub id: SubjectId,
    /// The fields released.
    pub fields: Vec<(FieldName, Option<FieldValue>)>,
    /// The fields asked for and denied, with the rule that denied each.
    pub denied: Vec<crate::error::Denial>,
}

/// Validated values by field index in the schema.
pub(crate) type ValidValues = Vec<(usize, FieldValue)>;

/// Parses raw values against the schema, collecting every problem. `id`
/// may not appear among the values: it is given separately.
pub(crate) fn validate_values(
    schema: &Schema,
    values: &[(String, String)],
    require_all: bool,
) -> Result<ValidValues, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut valid = Vec::with_capacity(values.len());
    let mut seen: Vec<usize> = Vec::with_capacity(values.len());
    for (name, raw) in values {
        let Some(index) = field_index(schema, name) else {
            problems.push(Problem::general(
                schema.require_field(name).err().unwrap_or_default(),
            ));
            continue;
        };
        let spec = &schema.fields()[index];
        if spec.is_id() {
            problems.push(Problem::field(
                name,
                "is the subject id; give it as `id`, not as a field",
            ));
            continue;
        }
        if seen.contains(&index) {
            problems.push(Problem::field(name, "is given twice"));
            continue;
        }
        seen.push(index);
        match spec.parse_value(raw) {
            Ok(Some(value)) => valid.push((index, value)),
            Ok(None) => {}
            Err(e) => problems.push(Problem::field(name, e.to_string())),
        }
    }
    if require_all {
        for (index, spec) in schema.fields().iter().enumerate() {
            if spec.is_required() && !spec.is_id() && !seen.contains(&index) {
                problems.push(Problem::field(spec.name().as_str(), "is required"));
            }
        }
    }
    if problems.is_empty() {
        Ok(valid)
    } else {
        Err(problems)
    }
}

pub(crate) fn field_index(schema: &Schema, name: &str) -> Option<usize> {
    schema
        .fields()
        .iter()
        .position(|f| f.name().as_str() == name)
}

/// Parses a subject id, as a problem naming the `id` field if invalid.
pub(crate) fn parse_subject_id(raw: &str) -> Result<SubjectId, Problem> {
    SubjectId::parse(raw.trim()).map_err(|e| Problem::field("id", e.to_string()))
}

/// Whether a field is held in clear as a scope attribute rather than sealed.
pub(crate) fn is_clear(spec: &FieldSpec) -> bool {
    spec.is_scope() || spec.is_id()
}
