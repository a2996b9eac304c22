//! `custos alerts`: what someone should look at now, such as a revoked
//! principal trying to get in.

use custos_engine::{AlertQuery, Caller, Vault, wire};

use crate::args::AlertsCommand;
use crate::output;

pub(crate) fn run(vault: &Vault, who: &Caller, command: AlertsCommand) -> anyhow::Result<()> {
    match command {
        AlertsCommand::List {
            principal,
            kind,
            after_id,
            limit,
            output,
        } => {
            let query = AlertQuery {
                principal,
                kind,
                after_id,
                limit,
            };
            let alerts = vault.alerts(who, &query)?;
            if output.json {
                output::json(&wire::alerts(&alerts));
            } else {
                for a in &alerts {
                    println!(
                        "{:>6}  {}  {:<24} {:<28} {}",
                        a.id, a.time, a.principal, a.kind, a.details
                    );
                }
                if alerts.is_empty() {
                    eprintln!("no alerts");
                }
            }
        }
    }
    Ok(())
}
