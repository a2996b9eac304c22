//! `custos processor` and `custos canary`: the processors that receive
//! exports, and tracing a canary record seen in the wild back to its export.

use custos_engine::{Caller, ExportRecord, NewProcessor, ProcessorRecord, Vault, wire};

use crate::args::{CanaryCommand, ProcessorCommand};
use crate::output;

/// A trace that matched nothing: exit code 3, like a lookup that finds
/// nothing.
#[derive(Debug, thiserror::Error)]
#[error("the value matches no canary record: it did not come from the canaries of any export")]
pub(crate) struct NoCanary;

pub(crate) fn run(vault: &Vault, who: &Caller, command: ProcessorCommand) -> anyhow::Result<()> {
    match command {
        ProcessorCommand::Add {
            name,
            contact,
            contract,
            purposes,
            output,
        } => {
            let record = vault.add_processor(
                who,
                &NewProcessor {
                    name,
                    contact,
                    contract_ref: contract,
                    purposes,
                },
            )?;
            if output.json {
                output::json(&wire::processor(&record));
            } else {
                println!("registered processor `{}`", record.name);
            }
        }
        ProcessorCommand::List(flag) => {
            let processors = vault.processors(who)?;
            if flag.json {
                output::json(&serde_json::json!({
                    "processors": processors.iter().map(wire::processor).collect::<Vec<_>>()
                }));
            } else {
                for p in &processors {
                    println!("{}", describe(p));
                }
                if processors.is_empty() {
                    eprintln!("no processors; register one with `custos processor add`");
                }
            }
        }
        ProcessorCommand::Show { name, output } => {
            let view = vault.processor(who, &name)?;
            if output.json {
                output::json(&wire::processor_view(&view));
            } else {
                println!("{}", describe(&view.record));
                println!("  contact   {}", view.record.contact);
                println!(
                    "  added     {} by {}",
                    view.record.created_at, view.record.created_by
                );
                let principals: Vec<&str> = view.principals.iter().map(|p| p.as_str()).collect();
                println!(
                    "  acts through principals: {}",
                    if principals.is_empty() {
                        "none".to_owned()
                    } else {
                        principals.join(", ")
                    }
                );
                if view.exports.is_empty() {
                    println!("  no exports");
                }
                for e in &view.exports {
                    println!("  {}", export_line(e));
                }
            }
        }
    }
    Ok(())
}

fn describe(p: &ProcessorRecord) -> String {
    let purposes: Vec<&str> = p.purposes.iter().map(|n| n.as_str()).collect();
    format!(
        "{:<20} contract {:<16} purposes {}",
        p.name,
        p.contract_ref,
        purposes.join(",")
    )
}

fn export_line(e: &ExportRecord) -> String {
    format!(
        "{}  {}  {:<8}  {} subjects, {} canaries, purpose {}, fields {}{}",
        e.id,
        e.export.started_at,
        e.status.as_str(),
        e.subjects,
        e.canaries,
        e.export.purpose,
        e.export
            .fields
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(","),
        e.sha256
            .as_deref()
            .map(|h| format!(", sha256 {h}"))
            .unwrap_or_default()
    )
}

pub(crate) fn canary(vault: &Vault, who: &Caller, command: CanaryCommand) -> anyhow::Result<()> {
    match command {
        CanaryCommand::Trace { value, output } => {
            let traces = vault.trace_canary(who, &value)?;
            if output.json {
                output::json(&wire::canary_traces(&traces));
            } else {
                for t in &traces {
                    println!(
                        "canary {} of export {}: sent to processor `{}` on {} for {} (matched {})",
                        t.n,
                        t.export.id,
                        t.export.export.processor,
                        t.export.export.started_at,
                        t.export.export.purpose,
                        t.matched.join(", ")
                    );
                    if t.matched.iter().all(|m| m == "postcode") {
                        eprintln!(
                            "note: only the postcode matched; real members may share a postcode, so this is weak evidence"
                        );
                    }
                }
            }
            if traces.is_empty() {
                return Err(NoCanary.into());
            }
        }
        CanaryCommand::List { export, output } => {
            let record = vault.export_record(who, &export)?;
            let canaries = vault.export_canaries(who, record.id)?;
            if output.json {
                output::json(&wire::canaries(&record.id.to_string(), &canaries));
            } else {
                println!("{}", export_line(&record));
                for c in &canaries {
                    println!("canary {}:", c.n);
                    for (name, value) in &c.values {
                        println!("  {:<18} {}", name.as_str(), value.as_str());
                    }
                }
            }
        }
    }
    Ok(())
}
