//! Printing results: text for people, one JSON document for scripts.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Context;
use custos_engine::{Denial, SubjectRecord};

/// Prints one JSON document on stdout.
pub(crate) fn json(value: &impl serde::Serialize) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        // Values built from strings, numbers and maps always serialise.
        Err(e) => eprintln!("error: cannot encode JSON output: {e}"),
    }
}

/// Creates a file for personal data: new (never over an existing file)
/// and readable by the owner only.
pub(crate) fn private_file(path: &Path) -> anyhow::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create `{}` (it must not exist yet)", path.display()))
}

/// Creates a directory for personal data: new, and readable by the owner
/// only.
pub(crate) fn private_dir(path: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create `{}` (it must not exist yet)", path.display()))
}

/// Prints a subject's fields as aligned `field: value` lines.
pub(crate) fn record(record: &SubjectRecord) {
    let width = record
        .fields
        .iter()
        .map(|(name, _)| name.as_str().len())
        .max()
        .unwrap_or(0);
    for (name, value) in &record.fields {
        let shown = value.as_ref().map_or("", |v| v.as_str());
        // Multi-line notes stay readable under their field name.
        let shown = shown.replace('\n', &format!("\n{:width$}  ", ""));
        println!("{:width$}  {shown}", name.as_str());
    }
}

/// Lists the fields a partial answer withheld, on stderr so that stdout
/// stays the record itself.
pub(crate) fn denials(denials: &[Denial]) {
    for d in denials {
        eprintln!(
            "denied: {} — {}",
            d.field.as_deref().unwrap_or("(the whole request)"),
            d.reason
        );
    }
}

/// A refusal by the policies, with the fields grouped by reason: reading a
/// whole record for the wrong purpose denies every field, mostly alike.
pub(crate) fn forbidden(denials: &[Denial]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for d in denials {
        let field = d.field.as_deref();
        match groups.iter_mut().find(|(reason, _)| *reason == d.reason) {
            Some((_, fields)) => fields.extend(field),
            None => groups.push((&d.reason, field.into_iter().collect())),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(reason, fields)| {
            if fields.is_empty() {
                (*reason).to_owned()
            } else {
                let names: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
                format!("{}: {reason}", names.join(", "))
            }
        })
        .collect();
    format!("not allowed: {}", parts.join("; "))
}

/// A stored time, or `-` for none.
pub(crate) fn time_or_dash(time: Option<&str>) -> &str {
    time.unwrap_or("-")
}

/// Splits `FIELD=VALUE`.
pub(crate) fn pair(raw: &str) -> anyhow::Result<(String, String)> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`{}` is not FIELD=VALUE",
                raw.split('=').next().unwrap_or_default()
            )
        })
}
