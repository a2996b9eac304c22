//! The `custos` command-line tool: clap on top of the engine.
//!
//! Architecture invariant: like the server, this crate holds no business
//! rules; every command calls the same engine methods as the API, as the
//! local operator principal. Exit codes are mapped in one place, [`exit_code`].

mod args;
mod commands;
mod ledger;
mod output;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use custos_engine::{EngineError, ErrorKind};

use crate::args::Cli;

/// Exit codes, documented in the README.
fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ledger::LedgerTampered>().is_some() {
        return 7;
    }
    match error.downcast_ref::<EngineError>().map(EngineError::kind) {
        Some(ErrorKind::Invalid) => 2,
        Some(ErrorKind::NotFound) => 3,
        Some(ErrorKind::Conflict) => 4,
        Some(ErrorKind::Unavailable) => 5,
        Some(ErrorKind::Setup | ErrorKind::Unauthenticated) => 6,
        Some(ErrorKind::Integrity) => 7,
        Some(ErrorKind::Internal) | None => 1,
    }
}

/// The error and its causes, each said once: library errors already
/// include their source in their own message.
fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
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
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
