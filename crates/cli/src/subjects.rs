//! `custos subject`: create, read, update, find, list and erase subjects.

use custos_engine::{Caller, FieldSelection, SubjectInput, Vault, wire};
use custos_model::SubjectId;
use serde_json::json;

use crate::args::SubjectCommand;
use crate::commands::parse_id;
use crate::output;

pub(crate) fn run(vault: &Vault, who: &Caller, command: SubjectCommand) -> anyhow::Result<()> {
    match command {
        SubjectCommand::Add { id, values, output } => {
            let values = values
                .iter()
                .map(|v| output::pair(v))
                .collect::<Result<_, _>>()?;
            let id = vault.create_subject(who, SubjectInput { id, values })?;
            if output.json {
                output::json(&json!({ "id": id.as_str() }));
            } else {
                println!("{id}");
            }
        }
        SubjectCommand::Get {
            id,
            fields,
            strict,
            output,
        } => {
            let id = parse_id(&id)?;
            let selection = if fields.is_empty() {
                FieldSelection::All
            } else {
                FieldSelection::Only(fields)
            };
            let who = who.clone().strict(strict);
            let record = vault.read_subject(&who, &id, &selection)?;
            if output.json {
                output::json(&wire::record(vault.schema(), &record));
            } else {
                output::record(&record);
                output::denials(&record.denied);
            }
        }
        SubjectCommand::Update { id, values, output } => {
            let id = parse_id(&id)?;
            let values: Vec<(String, String)> = values
                .iter()
                .map(|v| output::pair(v))
                .collect::<Result<_, _>>()?;
            vault.update_subject(who, &id, &values)?;
            let updated: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
            if output.json {
                output::json(&json!({ "id": id.as_str(), "updated": updated }));
            } else {
                println!("updated {} of {id}", updated.join(", "));
            }
        }
        SubjectCommand::Find { query, output } => {
            let (field, value) = output::pair(&query)?;
            let ids = vault.find_subjects(who, &field, &value)?;
            if output.json {
                output::json(
                    &json!({ "subjects": ids.iter().map(SubjectId::as_str).collect::<Vec<_>>() }),
                );
            } else {
                ids.iter().for_each(|id| println!("{id}"));
            }
        }
        SubjectCommand::List {
            filter,
            limit,
            after,
            output,
        } => {
            let filters: Vec<(String, String)> = filter
                .iter()
                .map(|f| output::pair(f))
                .collect::<Result<_, _>>()?;
            let after = after.as_deref().map(parse_id).transpose()?;
            let page = vault.list_subjects(who, &filters, after.as_ref(), limit)?;
            if output.json {
                output::json(&wire::page(&page));
            } else {
                for s in &page.subjects {
                    let scope: Vec<String> =
                        s.scope.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    println!("{}\t{}", s.id, scope.join(" "));
                }
                if let Some(next) = &page.next_after {
                    eprintln!("more: --after {next}");
                }
            }
        }
        SubjectCommand::Erase { id, output } => {
            let id = parse_id(&id)?;
            let erasure = vault.erase_subject(who, &id)?;
            if output.json {
                output::json(&wire::erasure(id.as_str(), &erasure));
            } else {
                println!("erased {id}: its data key is destroyed");
                if !erasure.log_purged {
                    eprintln!(
                        "note: another process holds the store open, so its write-ahead log is emptied later"
                    );
                }
            }
        }
    }
    Ok(())
}
