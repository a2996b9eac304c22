//! The Cedar schema that policies are validated against, generated from the
//! vault's schema so that a policy naming a subject attribute the vault does
//! not have, or misspelling one, fails validation instead of silently never
//! applying.

use std::fmt::Write as _;

use custos_model::{AttributeKey, FieldType, Schema};

/// The Cedar namespace of every Custos entity and action.
pub(crate) const NAMESPACE: &str = "Custos";

/// The Cedar type of a scope attribute's values.
pub(crate) fn attribute_type(field_type: &FieldType) -> &'static str {
    match field_type {
        FieldType::Bool => "Bool",
        FieldType::Integer => "Long",
        FieldType::Date => "__cedar::datetime",
        _ => "String",
    }
}

/// The context every request carries, for subject and data actions.
const DATA_CONTEXT: &str = r#""purpose": String, "mfa": Bool, "auth": String, "now": __cedar::datetime, "fields": Set<String>"#;

/// The Cedar schema text for a vault with this schema.
pub(crate) fn cedar_schema_text(schema: &Schema) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "namespace {NAMESPACE} {{");
    out.push_str("  entity Kind;\n  entity Role;\n  entity Team;\n");
    out.push_str("  entity Principal in [Kind, Role, Team] = {\n    \"name\": String,\n    \"kind\": String,\n");
    for key in AttributeKey::ALL {
        let _ = writeln!(out, "    \"{}\"?: String,", key.as_str());
    }
    out.push_str("  };\n  entity Subject = {\n");
    for field in schema.scope_fields() {
        let _ = writeln!(
            out,
            "    \"{}\"?: {},",
            field.name(),
            attribute_type(field.field_type())
        );
    }
    out.push_str("  };\n  entity Vault;\n");
    out.push_str("  type Field = { \"name\": String, \"category\": String, \"special\": Bool };\n");
    let _ = writeln!(
        out,
        "  action \"read\", \"create\", \"update\", \"export\" appliesTo {{\n    principal: [Principal], resource: [Subject],\n    context: {{ {DATA_CONTEXT}, \"field\": Field }}\n  }};"
    );
    let _ = writeln!(
        out,
        "  action \"list\", \"find\", \"erase\" appliesTo {{\n    principal: [Principal], resource: [Subject],\n    context: {{ {DATA_CONTEXT} }}\n  }};"
    );
    let _ = writeln!(
        out,
        "  action \"import\" appliesTo {{\n    principal: [Principal], resource: [Vault],\n    context: {{ {DATA_CONTEXT} }}\n  }};"
    );
    out.push_str(
        "  action \"administer\", \"audit\" appliesTo {\n    principal: [Principal], resource: [Vault],\n    context: { \"mfa\": Bool, \"auth\": String, \"now\": __cedar::datetime }\n  };\n",
    );
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_schema_parses_and_lists_scope_attributes() {
        let text = cedar_schema_text(&Schema::default_party());
        assert!(text.contains("\"constituency\"?: String"), "{text}");
        assert!(text.contains("\"consent_phone\"?: Bool"), "{text}");
        assert!(text.contains("\"joined_on\"?: __cedar::datetime"), "{text}");
        assert!(
            !text.contains("\"email\""),
            "sealed fields are not attributes: {text}"
        );
        cedar_policy::Schema::from_cedarschema_str(&text)
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    }
}
