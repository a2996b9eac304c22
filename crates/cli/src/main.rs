//! The `custos` command-line tool: clap on top of the engine.
//!
//! Architecture invariant: like the server, this crate holds no business
//! rules; every command calls the same engine methods as the API, as the
//! local operator principal. Exit codes are mapped in one place, [`exit_code`].

mod alerts;
mod args;
mod commands;
mod incidents;
mod ledger;
mod output;
mod policy;
mod principals;
mod processors;
mod purposes;
mod subjects;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use custos_engine::{EngineError, ErrorKind};

use crate::args::Cli;

/// glibc's allocator spends much of a busy server's time consolidating and
/// splitting chunks when one thread allocates what another frees (request
/// handlers, the ledger's writer and syncer threads); mimalloc's per-thread
/// heaps do not (measured with `custos bench`: see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Invalid input that the CLI finds itself rather than the engine, such as
/// a missing password; exit code 2 like the engine's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InvalidInput(pub(crate) String);

/// Exit codes, documented in the README:
///
/// - 0: success;
/// - 1: anything else (an internal error, a file that cannot be written);
/// - 2: invalid input: a bad option or value (clap's usage errors too), an
///   unknown or missing purpose, an invalid policy file, policy test cases
///   that fail, or a policy set refused by `policy apply`;
/// - 3: no such subject, principal, token, purpose, processor, export or
///   incident, or a canary trace that matches nothing;
/// - 4: a conflict: the subject, principal, token or purpose already exists,
///   or changed meanwhile;
/// - 5: busy or unavailable (the ledger cannot take the event, another
///   process holds the lock), or too many failed logins: try again later;
/// - 6: setup: not a vault, a wrong or missing master key, a bad schema, or
///   credentials refused;
/// - 7: integrity: stored data or the ledger failed verification;
/// - 8: forbidden: the policies do not allow it (for this purpose).
fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ledger::LedgerTampered>().is_some() {
        return 7;
    }
    if error.downcast_ref::<processors::NoCanary>().is_some() {
        return 3;
    }
    if error.downcast_ref::<policy::CasesFailed>().is_some()
        || error.downcast_ref::<InvalidInput>().is_some()
    {
        return 2;
    }
    match error.downcast_ref::<EngineError>().map(EngineError::kind) {
        Some(ErrorKind::Invalid) => 2,
        Some(ErrorKind::NotFound) => 3,
        Some(ErrorKind::Conflict) => 4,
        Some(ErrorKind::Unavailable | ErrorKind::TooManyAttempts) => 5,
        Some(ErrorKind::Setup | ErrorKind::Unauthenticated) => 6,
        Some(ErrorKind::Integrity) => 7,
        Some(ErrorKind::Forbidden) => 8,
        Some(ErrorKind::Internal) | None => 1,
    }
}

/// The error and its causes, each said once: library errors already
/// include their source in their own message.
fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = match cause.downcast_ref::<EngineError>() {
            Some(EngineError::Forbidden(denials)) => output::forbidden(denials),
            _ => cause.to_string(),
        };
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let dir_is_default =
        matches.value_source("dir") == Some(clap::parser::ValueSource::DefaultValue);
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    args::drop_inherited_filters(&mut cli, &matches);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match commands::run(cli, dir_is_default) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::from(exit_code(&error))
        }
    }
}
