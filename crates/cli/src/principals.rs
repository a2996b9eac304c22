//! `custos principal` and `custos token`: the directory of people and
//! services who may act, and their credentials. Secrets (tokens, TOTP
//! seeds) are printed once, on stdout, and never appear in errors or logs.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use custos_engine::{Caller, PrincipalChange, PrincipalView, TokenRecord, Vault, wire};
use custos_model::PrincipalStatus;
use serde_json::json;
use zeroize::Zeroizing;

use crate::InvalidInput;
use crate::args::{PrincipalCommand, StatusArgs, TokenCommand};
use crate::output;

/// Where `principal set-password` reads the password from, if set.
const PASSWORD_ENV: &str = "CUSTOS_NEW_PASSWORD";

pub(crate) fn run(vault: &Vault, who: &Caller, command: PrincipalCommand) -> anyhow::Result<()> {
    match command {
        PrincipalCommand::Add {
            name,
            kind,
            attrs,
            valid_from,
            valid_until,
            output,
        } => {
            let view = vault.add_principal(who, &name, kind, &attrs, valid_from, valid_until)?;
            if output.json {
                output::json(&wire::principal(&view));
            } else {
                println!("added {}", line(&view));
            }
        }
        PrincipalCommand::List(flag) => {
            let views = vault.principals(who)?;
            if flag.json {
                output::json(&json!({
                    "principals": views.iter().map(wire::principal).collect::<Vec<_>>()
                }));
            } else {
                views.iter().for_each(|v| println!("{}", line(v)));
            }
        }
        PrincipalCommand::Show { name, output } => {
            let view = vault.principal(who, &name)?;
            let tokens = vault.tokens(who, Some(&name))?;
            if output.json {
                let mut shown = wire::principal(&view);
                shown["tokens"] = json!(tokens.iter().map(wire::token).collect::<Vec<_>>());
                output::json(&shown);
            } else {
                show(&view, &tokens);
            }
        }
        PrincipalCommand::Update {
            name,
            kind,
            attrs,
            valid_from,
            clear_valid_from,
            valid_until,
            clear_valid_until,
            output,
        } => {
            let change = PrincipalChange {
                kind,
                attributes: attrs,
                valid_from: if clear_valid_from {
                    Some(None)
                } else {
                    valid_from.map(Some)
                },
                valid_until: if clear_valid_until {
                    Some(None)
                } else {
                    valid_until.map(Some)
                },
            };
            let view = vault.update_principal(who, &name, &change)?;
            if output.json {
                output::json(&wire::principal(&view));
            } else {
                println!("updated {}", line(&view));
            }
        }
        PrincipalCommand::Suspend(args) => status(vault, who, args, PrincipalStatus::Suspended)?,
        PrincipalCommand::Revoke(args) => status(vault, who, args, PrincipalStatus::Revoked)?,
        PrincipalCommand::Restore(args) => status(vault, who, args, PrincipalStatus::Active)?,
        PrincipalCommand::SetPassword { name } => {
            let password = read_password(&name)?;
            vault.set_password(who, &name, &password)?;
            println!("set the password of `{name}`");
        }
        PrincipalCommand::EnrollTotp { name, output } => {
            let enrollment = vault.enroll_totp(who, &name)?;
            if output.json {
                output::json(&wire::totp_enrollment(&name, &enrollment));
            } else {
                println!("secret  {}", enrollment.secret.as_str());
                println!("uri     {}", enrollment.uri.as_str());
                eprintln!(
                    "shown once: add it to `{name}`'s authenticator app (type the secret, or make a QR code of the uri); any earlier second factor no longer works"
                );
            }
        }
    }
    Ok(())
}

fn status<const REASON: bool>(
    vault: &Vault,
    who: &Caller,
    args: StatusArgs<REASON>,
    status: PrincipalStatus,
) -> anyhow::Result<()> {
    let reason = args.reason.unwrap_or_default();
    let view = vault.set_principal_status(who, &args.name, status, &reason)?;
    if args.output.json {
        output::json(&wire::principal(&view));
    } else {
        println!("`{}` is now {}", view.record.name, view.record.status);
        if status == PrincipalStatus::Revoked {
            eprintln!("every token and session of theirs is revoked too");
        }
    }
    Ok(())
}

/// One line about a principal: name, kind, status and attributes.
fn line(view: &PrincipalView) -> String {
    let r = &view.record;
    format!(
        "{:<24} {:<14} {:<9} {}",
        r.name.as_str(),
        r.kind.as_str(),
        r.status.as_str(),
        attributes(view)
    )
}

fn attributes(view: &PrincipalView) -> String {
    view.record
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn show(view: &PrincipalView, tokens: &[TokenRecord]) {
    let r = &view.record;
    let set = |yes: bool| if yes { "set" } else { "not set" };
    println!("name           {}", r.name);
    println!("kind           {}", r.kind);
    println!("status         {}", r.status);
    if let Some(changed) = &r.status_changed_at {
        println!("status changed {changed}");
    }
    if !r.status_reason.is_empty() {
        println!("reason         {}", r.status_reason);
    }
    println!("attributes     {}", attributes(view));
    println!(
        "valid from     {}",
        output::time_or_dash(r.valid_from.as_deref())
    );
    println!(
        "valid until    {}",
        output::time_or_dash(r.valid_until.as_deref())
    );
    println!("created        {}", r.created_at);
    println!("password       {}", set(view.password_set));
    println!("second factor  {}", set(view.totp_set));
    println!("live tokens    {}", view.live_tokens);
    for t in tokens {
        println!("  {}", token_line(t));
    }
}

/// One line about a token: id, principal, kind, expiry and revocation.
fn token_line(t: &TokenRecord) -> String {
    format!(
        "{:<16} {:<24} {:<8} created {}  expires {}  {}",
        t.id,
        t.principal.as_str(),
        t.kind.as_str(),
        t.created_at,
        t.expires_at.as_deref().unwrap_or("never"),
        match &t.revoked_at {
            Some(at) => format!("revoked {at}"),
            None => "not revoked".to_owned(),
        }
    )
}

/// The new password: from the environment, else the first line of stdin.
/// Never a command-line argument, which other users can see in `ps`.
fn read_password(name: &str) -> anyhow::Result<Zeroizing<String>> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(Zeroizing::new(password));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!(
            "new password for `{name}` (one line; it is shown as you type, so prefer `{PASSWORD_ENV}` or a pipe):"
        );
    }
    let mut line = Zeroizing::new(String::new());
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if password.is_empty() {
        return Err(InvalidInput(format!(
            "no password given: set `{PASSWORD_ENV}` or write it as the first line of standard input"
        ))
        .into());
    }
    Ok(password)
}

pub(crate) fn token(vault: &Vault, who: &Caller, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            expires,
            output,
        } => {
            let new = vault.create_token(who, &name, expires)?;
            if output.json {
                output::json(&wire::new_token(new.token.expose(), &new.record));
            } else {
                println!("{}", new.token.expose());
                eprintln!(
                    "token {} for `{}`, expires {} (shown once: store it in a password manager or the service's secret store)",
                    new.record.id,
                    new.record.principal,
                    new.record.expires_at.as_deref().unwrap_or("never")
                );
            }
        }
        TokenCommand::List { principal, output } => {
            let tokens = vault.tokens(who, principal.as_deref())?;
            if output.json {
                output::json(&json!({
                    "tokens": tokens.iter().map(wire::token).collect::<Vec<_>>()
                }));
            } else {
                tokens.iter().for_each(|t| println!("{}", token_line(t)));
            }
        }
        TokenCommand::Revoke { id, output } => {
            let record = vault.revoke_token(who, &id)?;
            if output.json {
                output::json(&wire::token(&record));
            } else {
                println!("revoked token {} of `{}`", record.id, record.principal);
            }
        }
    }
    Ok(())
}
