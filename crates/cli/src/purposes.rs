//! `custos purpose`: the registry of purposes that every access declares
//! one of, and the Art. 30 record of processing built from it.

use std::fmt::Write as _;

use custos_engine::{
    Caller, RecordOfProcessing, SECURITY_MEASURES, SUBJECT_CATEGORIES, Vault, wire,
};
use custos_model::{Purpose, PurposeSpec};
use serde_json::json;

use crate::args::{PurposeCommand, RecordFormat};
use crate::output;

pub(crate) fn run(vault: &Vault, who: &Caller, command: PurposeCommand) -> anyhow::Result<()> {
    match command {
        PurposeCommand::List(flag) => {
            let purposes = vault.purposes(who)?;
            if flag.json {
                output::json(&json!({
                    "purposes": purposes.iter().map(|p| wire::purpose(p)).collect::<Vec<_>>()
                }));
            } else {
                for p in &purposes {
                    println!(
                        "{:<20} {:<21} {}",
                        p.name().as_str(),
                        p.lawful_basis().as_str(),
                        categories(p)
                    );
                }
            }
        }
        PurposeCommand::Show { name, output } => {
            let purpose = vault.purpose(who, &name)?;
            if output.json {
                output::json(&wire::purpose(&purpose));
            } else {
                show(&purpose);
            }
        }
        PurposeCommand::Add {
            name,
            description,
            lawful_basis,
            special_condition,
            categories,
            requires_consent,
            consent_fields,
            output,
        } => {
            let spec = PurposeSpec {
                name,
                description,
                lawful_basis,
                special_condition,
                categories,
                requires_consent,
                consent_fields,
            };
            let purpose = vault.add_purpose(who, &spec)?;
            if output.json {
                output::json(&wire::purpose(&purpose));
            } else {
                println!("registered purpose `{}`", purpose.name());
            }
        }
        PurposeCommand::Export { format } => {
            let record = vault.record_of_processing(who)?;
            match format {
                RecordFormat::Json => output::json(&wire::record_of_processing(&record)),
                RecordFormat::Md => print!("{}", markdown(&record)),
            }
        }
    }
    Ok(())
}

fn categories(p: &Purpose) -> String {
    p.categories()
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn basis(p: &Purpose) -> String {
    format!(
        "{} ({})",
        p.lawful_basis().as_str(),
        p.lawful_basis().article()
    )
}

fn condition(p: &Purpose) -> String {
    match p.special_condition() {
        Some(c) => format!("{} ({})", c.as_str(), c.article()),
        None => "none: no special-category data".to_owned(),
    }
}

fn consent(p: &Purpose) -> String {
    let fields: Vec<&str> = p.consent_fields().iter().map(|f| f.as_str()).collect();
    if p.requires_consent() {
        format!("required: any one of {}", fields.join(", "))
    } else {
        "not required".to_owned()
    }
}

fn show(p: &Purpose) {
    println!("name               {}", p.name());
    println!("description        {}", p.description());
    println!("lawful basis       {}", basis(p));
    println!("Art. 9 condition   {}", condition(p));
    println!("categories         {}", categories(p));
    println!("consent            {}", consent(p));
}

/// The record of processing as a Markdown document, for the DPO to file or
/// to extend with what the vault cannot know (controller, retention).
fn markdown(record: &RecordOfProcessing) -> String {
    let mut md = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        md,
        "# Record of processing activities (Art. 30 GDPR)\n\n\
         Vault `{}`, generated {} by `custos purpose export` from the registry of purposes.\n",
        record.vault_id, record.generated_at
    );
    let _ = writeln!(
        md,
        "## Categories of data subjects\n\n{SUBJECT_CATEGORIES}\n"
    );
    let _ = writeln!(md, "## Purposes of processing\n");
    for activity in &record.activities {
        let p = &activity.purpose;
        let _ = writeln!(md, "### {}\n\n{}\n", p.name(), p.description());
        let _ = writeln!(md, "- **Lawful basis:** {}", basis(p));
        let _ = writeln!(md, "- **Art. 9 condition:** {}", condition(p));
        let _ = writeln!(md, "- **Consent:** {}", consent(p));
        let _ = writeln!(md, "- **Categories of personal data:**");
        for (category, fields) in &activity.fields {
            let fields = if fields.is_empty() {
                "no fields in this vault's schema".to_owned()
            } else {
                fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(md, "  - {category}: {fields}");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Recipients\n");
    if record.recipients.is_empty() {
        let _ = writeln!(md, "None registered (no principals of kind `processor`).\n");
    } else {
        for r in &record.recipients {
            let _ = writeln!(md, "- {r}");
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "## Technical and organisational security measures (Art. 32)\n"
    );
    for m in SECURITY_MEASURES {
        let _ = writeln!(md, "- {m}");
    }
    md
}
