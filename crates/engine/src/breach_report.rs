//! The incident report for people: the Art. 33(3) content (nature,
//! numbers, the DPO, consequences, measures), the 72-hour clock, the
//! timeline and the Art. 34 assessment, as Markdown or as a self-contained
//! HTML page. Both are rendered from one document, so they cannot say
//! different things. (The JSON form, for tools, is `wire::incident_report`.)
//!
//! A report to the regulator gives numbers and categories, not a list of
//! people: it groups the people affected by the set of fields they had
//! exposed. The full list is in the JSON report and the notices.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::incidents::{IncidentReport, remaining_words};

/// One block of the document.
enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    Table(Vec<String>, Vec<Vec<String>>),
}

/// The report as Markdown.
pub fn report_markdown(report: &IncidentReport) -> String {
    let mut out = String::new();
    for block in document(report) {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}\n", "#".repeat(usize::from(level)));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {item}");
                }
                out.push('\n');
            }
            Block::Table(header, rows) => {
                let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(
                    out,
                    "| {} |",
                    header
                        .iter()
                        .map(|h| cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                for row in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                out.push('\n');
            }
        }
    }
    out
}

/// The report as one HTML page, with no external resources.
pub fn report_html(report: &IncidentReport) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<title>{}</title>",
        escape(&format!(
            "Breach report {}: {}",
            report.record.id, report.record.incident.title
        ))
    );
    out.push_str(
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\
         table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #bbb;padding:.3rem .6rem;text-align:left;vertical-align:top}\
         th{background:#f2f2f2}h1{font-size:1.6rem}</style>\n</head>\n<body>\n",
    );
    for block in document(report) {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", escape(&text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape(&text));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", escape(&item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(header, rows) => {
                out.push_str("<table>\n<tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", escape(&h));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for c in row {
                        let _ = write!(out, "<td>{}</td>", escape(&c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn document(report: &IncidentReport) -> Vec<Block> {
    let record = &report.record;
    let incident = &record.incident;
    let exposure = &report.exposure;
    let org = &report.organisation;
    let mut doc = Vec::new();
    doc.push(Block::Heading(
        1,
        format!("Personal data breach {}: {}", record.id, incident.title),
    ));
    doc.push(Block::Para(format!(
        "Report generated at {} by Custos{}. The people and data concerned are computed from the vault's signed access ledger.",
        report.generated_at,
        if org.name.is_empty() {
            String::new()
        } else {
            format!(" for {}", org.name)
        }
    )));
    let clock = match &record.reported_at {
        Some(at) => format!("{} (reported at {at})", report.deadline),
        None => format!(
            "{} ({})",
            report.deadline,
            remaining_words(report.seconds_remaining)
        ),
    };
    doc.push(Block::Table(
        vec!["Incident".into(), record.id.to_string()],
        vec![
            vec!["Status".into(), record.status.as_str().into()],
            vec!["Became aware".into(), incident.aware_at.clone()],
            vec![
                "Opened".into(),
                format!("{} by {}", incident.opened_at, incident.opened_by),
            ],
            vec![
                "Deadline to notify the supervisory authority (Art. 33(1))".into(),
                clock,
            ],
            vec![
                "Supervisory authority notified".into(),
                record
                    .reported_at
                    .clone()
                    .unwrap_or_else(|| "not yet".into()),
            ],
            vec![
                "People affected notified".into(),
                record
                    .subjects_notified_at
                    .clone()
                    .unwrap_or_else(|| "not yet".into()),
            ],
        ],
    ));

    doc.push(Block::Heading(
        2,
        "1. Nature of the breach (Art. 33(3)(a))".into(),
    ));
    doc.push(Block::Para(incident.nature.clone()));
    doc.push(Block::Para("Scope of the incident:".into()));
    doc.push(Block::List(
        incident.scopes.iter().map(|s| format!("`{s}`")).collect(),
    ));
    let people = exposure.subjects.len();
    let erased = exposure.subjects.iter().filter(|s| s.erased).count();
    let special = exposure
        .subjects
        .iter()
        .filter(|s| s.special_category)
        .count();
    let records: usize = exposure.subjects.iter().map(|s| s.fields.len()).sum();
    doc.push(Block::Heading(3, "People and records concerned".into()));
    let mut facts = vec![
        format!(
            "{people} people affected{}.",
            if erased > 0 {
                format!(", of whom {erased} were erased since and are counted under pseudonyms")
            } else {
                String::new()
            }
        ),
        format!(
            "{records} personal data records exposed (one record is one field of one person), in {} ledger events.",
            exposure.events
        ),
        format!("{special} people had special-category data (Art. 9) exposed."),
    ];
    let encrypted = exposure
        .subjects
        .iter()
        .filter(|s| !s.encrypted_fields.is_empty())
        .count();
    if encrypted > 0 {
        facts.push(format!(
            "{encrypted} people had fields taken only in encrypted form{}.",
            if incident.keys_exposed {
                ""
            } else {
                ", unreadable without the master key"
            }
        ));
    }
    doc.push(Block::List(facts));
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &exposure.subjects {
        for c in s.categories.iter() {
            *by_category.entry(c.as_str()).or_default() += 1;
        }
    }
    if !by_category.is_empty() {
        doc.push(Block::Table(
            vec!["Data category".into(), "People".into()],
            by_category
                .iter()
                .map(|(c, n)| vec![(*c).to_owned(), n.to_string()])
                .collect(),
        ));
    }
    let mut by_fields: BTreeMap<String, usize> = BTreeMap::new();
    for set in exposure.field_sets() {
        let names: Vec<&str> = set.fields.iter().map(|f| f.as_str()).collect();
        *by_fields.entry(names.join(", ")).or_default() += set.people;
    }
    if !by_fields.is_empty() {
        let mut rows: Vec<(String, usize)> = by_fields.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        doc.push(Block::Table(
            vec!["Fields exposed".into(), "People".into()],
            rows.into_iter()
                .map(|(f, n)| vec![f, n.to_string()])
                .collect(),
        ));
    }

    doc.push(Block::Heading(
        2,
        "2. Data protection officer (Art. 33(3)(b))".into(),
    ));
    doc.push(Block::Para(org.dpo_contact().unwrap_or_else(|| {
        "Not configured: set it with `custos organisation set --dpo-name … --dpo-email …`.".into()
    })));

    doc.push(Block::Heading(
        2,
        "3. Likely consequences (Art. 33(3)(c))".into(),
    ));
    doc.push(Block::List(report.consequences.clone()));

    doc.push(Block::Heading(
        2,
        "4. Measures taken or proposed (Art. 33(3)(d))".into(),
    ));
    doc.push(Block::List(report.measures.clone()));

    doc.push(Block::Heading(
        2,
        "5. Telling the people affected (Art. 34)".into(),
    ));
    doc.push(Block::Para(if report.art34.notify_subjects {
        "Required: the breach is likely to result in a high risk to the people affected. Write their notices with `custos incident notices`.".into()
    } else {
        match report.art34.exception {
            Some(code) => format!("Not required: the exception of Art. 34(3)(a) applies (`{code}`)."),
            None => "Not required: the breach is unlikely to result in a high risk to the people affected.".into(),
        }
    }));
    doc.push(Block::List(report.art34.reasons.clone()));

    doc.push(Block::Heading(2, "Timeline".into()));
    doc.push(Block::Table(
        vec!["Time".into(), "What".into()],
        report
            .timeline
            .iter()
            .map(|(t, w)| vec![t.clone(), w.clone()])
            .collect(),
    ));
    if !report.updates.is_empty() {
        doc.push(Block::Heading(2, "Follow-ups (Art. 33(4))".into()));
        doc.push(Block::Table(
            vec!["#".into(), "Time".into(), "By".into(), "What".into()],
            report
                .updates
                .iter()
                .map(|u| {
                    vec![
                        u.n.to_string(),
                        u.time.clone(),
                        u.by.clone(),
                        u.summary.clone(),
                    ]
                })
                .collect(),
        ));
    }
    if !exposure.notes.is_empty() {
        doc.push(Block::Heading(2, "Notes".into()));
        doc.push(Block::List(exposure.notes.clone()));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
