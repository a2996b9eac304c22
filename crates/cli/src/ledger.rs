//! `custos ledger`: heads, verification, queries, exports.

use std::fs;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, bail};
use custos_crypto::LedgerPublicKey;
use custos_engine::{Caller, EventQuery, Outcome, Report, SignedHead, Vault, wire};
use custos_ledger::{Event, StoredEvent, verify_log};
use custos_model::{SubjectId, VaultId};

use crate::args::LedgerCommand;
use crate::output;

const EVENTS_FILE: &str = "events.jsonl";
const HEADS_FILE: &str = "heads.jsonl";
const PUBLIC_KEY_FILE: &str = "ledger.pub";
/// Events written per page while exporting.
const EXPORT_PAGE: usize = 10_000;

/// A ledger that failed verification; the CLI exits with code 7.
#[derive(Debug, thiserror::Error)]
#[error("the ledger does not verify: {0}")]
pub(crate) struct LedgerTampered(pub(crate) String);

/// Commands that need no vault.
pub(crate) fn run_without_vault(command: &LedgerCommand) -> Option<anyhow::Result<()>> {
    match command {
        LedgerCommand::VerifyExport {
            dir,
            public_key,
            output,
        } => Some(verify_export(dir, public_key, output.json)),
        _ => None,
    }
}

pub(crate) fn run(vault: &Vault, who: &Caller, command: LedgerCommand) -> anyhow::Result<()> {
    match command {
        LedgerCommand::Head => {
            println!("{}", vault.ledger_head(who)?.to_json());
        }
        LedgerCommand::Verify { against, output } => {
            let previous = against
                .map(|path| {
                    let text = fs::read_to_string(&path)
                        .with_context(|| format!("cannot read `{}`", path.display()))?;
                    SignedHead::from_json(text.trim()).map_err(|e| {
                        anyhow::anyhow!("`{}` is not a signed head: {e}", path.display())
                    })
                })
                .transpose()?;
            report(&vault.ledger_verify(who, previous.as_ref())?, output.json)?;
        }
        LedgerCommand::Query {
            principal,
            subject,
            purpose,
            action,
            outcome,
            from,
            to,
            after_seq,
            limit,
            output,
        } => {
            let outcome = outcome
                .map(|o| {
                    Outcome::parse(&o).ok_or_else(|| {
                        anyhow::anyhow!("`--outcome` must be allowed, partial, denied or failed")
                    })
                })
                .transpose()?;
            let query = EventQuery {
                principal,
                subject,
                purpose,
                action,
                outcome,
                time_from: from,
                time_to: to,
                after_seq,
                limit,
            };
            let events = vault.ledger_query(who, &query)?;
            if output.json {
                output::json(&wire::events(&events));
            } else {
                events.iter().for_each(print_event);
            }
        }
        LedgerCommand::Subject { id, output } => {
            let id = SubjectId::parse(&id).map_err(|e| anyhow::anyhow!("the subject id {e}"))?;
            let history = vault.ledger_subject(who, &id)?;
            if output.json {
                output::json(&wire::subject_history(id.as_str(), &history));
            } else {
                for p in &history.events {
                    print_event(&p.event);
                }
                println!(
                    "{} events, each with an inclusion proof under the signed head of size {} (--json shows them)",
                    history.events.len(),
                    history.head.head().size()
                );
            }
        }
        LedgerCommand::Export { out } => export(vault, who, &out)?,
        LedgerCommand::VerifyExport {
            dir,
            public_key,
            output,
        } => {
            verify_export(&dir, &public_key, output.json)?;
        }
    }
    Ok(())
}

fn print_event(e: &Event) {
    println!(
        "{:>8}  {}  {:<16} {:<7} {:<16} {:<8} subjects={} released={}{}",
        e.seq,
        e.time,
        e.principal,
        e.action,
        e.purpose,
        e.outcome.as_str(),
        e.subjects.join(","),
        e.fields_released.join(","),
        if e.reason.is_empty() {
            String::new()
        } else {
            format!(" reason=\"{}\"", e.reason)
        }
    );
}

fn report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(&wire::verify_report(report));
    } else if report.problem.is_none() {
        println!(
            "ok: {} events and {} signed heads verify",
            report.events_checked, report.heads_checked
        );
    }
    match &report.problem {
        Some(problem) => Err(LedgerTampered(problem.to_string()).into()),
        None => Ok(()),
    }
}

fn export(vault: &Vault, who: &Caller, out: &Path) -> anyhow::Result<()> {
    fs::create_dir(out)
        .with_context(|| format!("cannot create `{}` (it must not exist yet)", out.display()))?;
    // A fresh head first, so that every exported event is under a signature.
    vault.ledger_head(who)?;
    let mut events = BufWriter::new(fs::File::create(out.join(EVENTS_FILE))?);
    let mut count = 0u64;
    let mut query = EventQuery {
        limit: EXPORT_PAGE,
        ..EventQuery::default()
    };
    loop {
        let page = vault.ledger_query(who, &query)?;
        for event in &page {
            writeln!(events, "{}", event.to_json())?;
        }
        count += page.len() as u64;
        if page.len() < EXPORT_PAGE {
            break;
        }
        query.after_seq = page.last().map(|e| e.seq);
    }
    events.flush()?;
    let mut heads = BufWriter::new(fs::File::create(out.join(HEADS_FILE))?);
    for head in vault.ledger_heads(who)? {
        writeln!(heads, "{}", head.to_json())?;
    }
    heads.flush()?;
    fs::write(
        out.join(PUBLIC_KEY_FILE),
        format!("{}\n", vault.ledger_public_key()),
    )?;
    println!("exported {count} events to {}", out.display());
    Ok(())
}

fn verify_export(dir: &Path, public_key: &str, json: bool) -> anyhow::Result<()> {
    let key = LedgerPublicKey::from_base64(public_key.trim())
        .map_err(|e| anyhow::anyhow!("`--public-key` is not a ledger public key: {e}"))?;
    let read_lines = |name: &str| -> anyhow::Result<Vec<String>> {
        let path = dir.join(name);
        let file =
            fs::File::open(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        Ok(std::io::BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()?)
    };
    let heads = read_lines(HEADS_FILE)?
        .iter()
        .enumerate()
        .map(|(i, line)| {
            SignedHead::from_json(line)
                .map_err(|e| anyhow::anyhow!("{HEADS_FILE} line {}: {e}", i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let Some(vault_id) = heads.first().map(|h| h.head().vault_id().clone()) else {
        bail!("{HEADS_FILE} holds no signed head, so nothing can be verified");
    };
    let events = read_lines(EVENTS_FILE)?
        .into_iter()
        .enumerate()
        .map(|(i, line)| match Event::from_json(&line) {
            Ok(event) => StoredEvent::new(event),
            Err(e) => StoredEvent::unreadable(format!("{EVENTS_FILE} line {}: {e}", i + 1)),
        });
    let result: Report = verify_log(events, heads, &VaultId::clone(&vault_id), &key);
    report(&result, json)
}
