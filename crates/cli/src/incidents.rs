//! `custos incident` and `custos organisation`: the breach register,
//! reports for the regulator, notices for the people affected, and the
//! organisation and DPO they name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use custos_engine::{
    BREACH_PURPOSE, Caller, EngineError, IncidentFollowUp, IncidentOpening, MailMerge, Notice,
    NoticeRun, NoticeSink, OrganisationChange, Vault, remaining_words, report_html,
    report_markdown, wire,
};

use crate::args::{IncidentCommand, OrganisationCommand, ReportFormat};
use crate::output;

/// The mail-merge file a notices directory holds beside the letters.
const MAIL_MERGE_FILE: &str = "mail-merge.csv";

pub(crate) fn run(vault: &Vault, who: &Caller, command: IncidentCommand) -> anyhow::Result<()> {
    match command {
        IncidentCommand::Open {
            title,
            aware_at,
            scopes,
            nature,
            keys_exposed,
            output,
        } => {
            let record = vault.open_incident(
                who,
                &IncidentOpening {
                    title,
                    nature: nature.unwrap_or_default(),
                    aware_at,
                    scopes,
                    keys_exposed,
                },
            )?;
            if output.json {
                output::json(&serde_json::json!({ "id": record.id.to_string() }));
            } else {
                println!("{}", record.id);
            }
            let (people, special) = record.incident.affected;
            eprintln!(
                "opened {}: {people} people affected, {special} with special-category data; see `custos incident report {}`",
                record.id, record.id
            );
        }
        IncidentCommand::List(flag) => {
            let incidents = vault.incidents(who)?;
            if flag.json {
                output::json(&wire::incidents(&incidents));
            } else {
                for i in &incidents {
                    println!(
                        "{}  {:<6}  aware {}  {} people ({} special)  {}",
                        i.id,
                        i.status.as_str(),
                        i.incident.aware_at,
                        i.incident.affected.0,
                        i.incident.affected.1,
                        i.incident.title
                    );
                }
                if incidents.is_empty() {
                    eprintln!("the breach register is empty");
                }
            }
        }
        IncidentCommand::Report { id, format, out } => {
            let report = vault.incident_report(who, &id)?;
            let text = match format {
                ReportFormat::Md => report_markdown(&report),
                ReportFormat::Html => report_html(&report),
                ReportFormat::Json => serde_json::to_string(&wire::incident_report(&report))
                    .context("cannot encode the report")?,
            };
            match out {
                Some(path) => {
                    let mut file = output::private_file(&path)?;
                    file.write_all(text.as_bytes())?;
                    if format != ReportFormat::Json || !text.ends_with('\n') {
                        file.write_all(b"\n")?;
                    }
                    eprintln!(
                        "wrote the report of {} to {}",
                        report.record.id,
                        path.display()
                    );
                }
                None => println!("{}", text.trim_end()),
            }
            if report.record.reported_at.is_none() {
                eprintln!(
                    "deadline to notify the supervisory authority: {} ({})",
                    report.deadline,
                    remaining_words(report.seconds_remaining)
                );
            }
        }
        IncidentCommand::Notices { id, out, output } => {
            notices(vault, &id, &out, output.json)?;
        }
        IncidentCommand::Update {
            id,
            note,
            nature,
            consequences,
            measures,
            reported_to_authority,
            subjects_notified,
            status,
            output,
        } => {
            let record = vault.update_incident(
                who,
                &id,
                &IncidentFollowUp {
                    note,
                    nature,
                    consequences,
                    measures,
                    reported_at: reported_to_authority,
                    subjects_notified_at: subjects_notified,
                    status,
                },
            )?;
            if output.json {
                output::json(&wire::incident(&record));
            } else {
                println!(
                    "recorded a follow-up of {} ({}, {} people affected)",
                    record.id,
                    record.status.as_str(),
                    record.incident.affected.0
                );
            }
        }
    }
    Ok(())
}

/// Writes each letter to `DIR/<membership number>.txt` and a row to
/// `DIR/mail-merge.csv`.
struct NoticeFiles {
    dir: PathBuf,
    merge: Option<MailMerge<std::fs::File>>,
    bar: Option<indicatif::ProgressBar>,
}

impl NoticeFiles {
    fn io(&self, what: &str, source: std::io::Error) -> EngineError {
        EngineError::Io {
            what: format!("cannot write {what} in `{}`", self.dir.display()),
            source,
        }
    }
}

impl NoticeSink for NoticeFiles {
    fn start(&mut self, run: &NoticeRun) -> Result<(), EngineError> {
        let file = output::private_file(&self.dir.join(MAIL_MERGE_FILE))
            .map_err(|e| self.io(MAIL_MERGE_FILE, std::io::Error::other(e.to_string())))?;
        self.merge = Some(MailMerge::new(file, run, &["notice_file"])?);
        if let Some(bar) = &self.bar {
            bar.set_length(run.total());
        }
        Ok(())
    }

    fn notice(&mut self, notice: &Notice<'_>) -> Result<(), EngineError> {
        let name = format!("{}.txt", notice.subject.as_str());
        let mut file = output::private_file(&self.dir.join(&name))
            .map_err(|e| self.io(&name, std::io::Error::other(e.to_string())))?;
        file.write_all(notice.text.as_bytes())
            .map_err(|e| self.io(&name, e))?;
        if let Some(merge) = &mut self.merge {
            merge.row(notice, &[&name])?;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        Ok(())
    }
}

fn notices(vault: &Vault, id: &str, out: &Path, json: bool) -> anyhow::Result<()> {
    // Letters need names and addresses: an access for breach notification,
    // whatever --purpose says.
    let who = vault.local_operator().with_purpose(Some(BREACH_PURPOSE));
    output::private_dir(out)?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "writing notices {bar:40} {pos}/{len}, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let mut sink = NoticeFiles {
        dir: out.to_owned(),
        merge: None,
        bar,
    };
    let result = vault.incident_notices(&who, id, &mut sink);
    if let Some(bar) = &sink.bar {
        bar.finish_and_clear();
    }
    if let Some(merge) = sink.merge.take() {
        merge.finish()?;
    }
    let summary = result?;
    if json {
        output::json(&wire::notice_summary(&summary));
    } else {
        println!(
            "wrote {} notices and {MAIL_MERGE_FILE} to {}",
            summary.written,
            out.display()
        );
    }
    if !summary.required {
        eprintln!(
            "note: Art. 34 does not require telling these people (see the report's assessment); the notices were written anyway"
        );
    }
    if summary.erased > 0 {
        eprintln!(
            "note: {} people affected were erased since; nothing is held to write to them",
            summary.erased
        );
    }
    if summary.not_permitted > 0 {
        eprintln!(
            "note: {} people were left out: the policies do not let you read their names and contact details for breach notification",
            summary.not_permitted
        );
    }
    if summary.unreachable > 0 {
        eprintln!(
            "note: {} people have neither a postal nor an email address; reach them another way",
            summary.unreachable
        );
    }
    Ok(())
}

pub(crate) fn organisation(
    vault: &Vault,
    who: &Caller,
    command: OrganisationCommand,
) -> anyhow::Result<()> {
    let (org, json) = match command {
        OrganisationCommand::Show(flag) => (vault.organisation(who)?, flag.json),
        OrganisationCommand::Set {
            name,
            dpo_name,
            dpo_email,
            dpo_phone,
            dpo_address,
            canary_email_domain,
            output,
        } => (
            vault.set_organisation(
                who,
                &OrganisationChange {
                    name,
                    dpo_name,
                    dpo_email,
                    dpo_phone,
                    dpo_address,
                    canary_email_domain,
                },
            )?,
            output.json,
        ),
    };
    if json {
        output::json(&wire::organisation(&org));
    } else {
        let shown = |v: &str| {
            if v.is_empty() {
                "(not set)".to_owned()
            } else {
                v.to_owned()
            }
        };
        println!("organisation         {}", shown(&org.name));
        println!("dpo name             {}", shown(&org.dpo_name));
        println!("dpo email            {}", shown(&org.dpo_email));
        println!("dpo phone            {}", shown(&org.dpo_phone));
        println!("dpo address          {}", shown(&org.dpo_address));
        println!("canary email domain  {}", shown(&org.canary_email_domain));
    }
    Ok(())
}
