//! Printing results: text for people, one JSON document for scripts.

use custos_engine::SubjectRecord;
use serde_json::Value;

/// Prints one JSON document on stdout.
pub(crate) fn json(value: &Value) {
    println!("{value}");
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
