//! `custos policy`: validate, test, apply and show the Cedar policies that
//! decide who may do what. Nothing is applied unless it validates, its test
//! cases pass and administrators keep access; the engine checks all three.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use custos_engine::{
    CaseReport, DEFAULT_POLICIES, DEFAULT_POLICY_TESTS, Effect, Policies, Rule, wire,
};
use custos_model::Schema;

use crate::args::PolicyCommand;
use crate::commands::Context0;
use crate::output;

/// Test cases that failed; the CLI exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} test cases fail")]
pub(crate) struct CasesFailed {
    failed: usize,
    total: usize,
}

pub(crate) fn run(ctx: &Context0, command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Validate { file } => validate(ctx, &file),
        PolicyCommand::Test {
            cases,
            policy,
            output,
        } => {
            let cases_text = read(&cases)?;
            let policy_text = policy.as_deref().map(read).transpose()?;
            let (vault, who) = ctx.operator()?;
            let report = vault
                .test_policy(&who, &cases_text, policy_text.as_deref())
                .with_context(|| match &policy {
                    Some(p) => format!("cannot test `{}`", p.display()),
                    None => "cannot test the policies in force".to_owned(),
                })?;
            if output.json {
                output::json(&wire::case_report(&report));
            } else {
                print_cases(&report);
            }
            let failed = report.failures().count();
            if failed > 0 {
                return Err(CasesFailed {
                    failed,
                    total: report.results.len(),
                }
                .into());
            }
            Ok(())
        }
        PolicyCommand::Apply {
            file,
            tests,
            output,
        } => {
            let text = read(&file)?;
            let tests = tests.or_else(|| Some(sibling_tests(&file)).filter(|p| p.is_file()));
            let cases = tests.as_deref().map(read).transpose()?;
            if cases.is_none() {
                eprintln!(
                    "warning: no test cases for `{}` (give --tests, or put them in `{}`); applying it untested",
                    file.display(),
                    sibling_tests(&file).display()
                );
            }
            let (vault, who) = ctx.operator()?;
            let applied = vault
                .apply_policy(&who, &text, cases.as_deref())
                .with_context(|| format!("`{}` was not applied", file.display()))?;
            if output.json {
                output::json(&wire::applied_policy(&applied));
            } else {
                let tested = if cases.is_some() {
                    format!("{} test cases pass", applied.cases)
                } else {
                    "untested".to_owned()
                };
                println!(
                    "applied policy set version {} ({} rules; {tested})",
                    applied.version, applied.rules
                );
            }
            Ok(())
        }
        PolicyCommand::Show {
            tests,
            default,
            output,
        } => {
            if default {
                print!(
                    "{}",
                    if tests {
                        DEFAULT_POLICY_TESTS
                    } else {
                        DEFAULT_POLICIES
                    }
                );
                return Ok(());
            }
            let (vault, who) = ctx.operator()?;
            let record = vault.current_policy(&who)?;
            if output.json {
                output::json(&wire::policy(&record));
            } else if tests {
                if record.tests.is_empty() {
                    eprintln!("policy set version {} has no test cases", record.version);
                }
                print!("{}", record.tests);
            } else {
                print!("{}", record.text);
                eprintln!(
                    "policy set version {}, applied {} by `{}`",
                    record.version, record.applied_at, record.applied_by
                );
            }
            Ok(())
        }
    }
}

/// Validates against the vault's schema, or the built-in party schema when
/// `--dir` holds no vault, so a DPO can check a file before there is one.
fn validate(ctx: &Context0, file: &Path) -> anyhow::Result<()> {
    let text = read(file)?;
    let invalid = || format!("`{}` does not validate", file.display());
    let (policies, against) = match ctx.open_if_vault()? {
        Some(vault) => (
            vault.validate_policy(&text).with_context(invalid)?,
            format!("the schema `{}` of this vault", vault.schema().name()),
        ),
        None => {
            let schema = Schema::default_party();
            let policies = Policies::compile(&text, &schema)
                .map_err(custos_engine::EngineError::from)
                .with_context(invalid)?;
            (
                policies,
                format!("the built-in schema `{}` (no vault here)", schema.name()),
            )
        }
    };
    println!(
        "`{}` is valid against {}: {} rules",
        file.display(),
        against,
        policies.rules().len()
    );
    policies
        .rules()
        .iter()
        .for_each(|r| println!("{}", rule_line(r)));
    Ok(())
}

fn rule_line(rule: &Rule) -> String {
    format!(
        "  {:<36} {:<6} line {:<5} {}",
        rule.id,
        match rule.effect {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        },
        rule.line,
        rule.description.as_deref().unwrap_or("")
    )
}

fn print_cases(report: &CaseReport) {
    for r in &report.results {
        if r.passed {
            println!("PASS  {}", r.name);
        } else {
            println!("FAIL  {} (line {}): {}", r.name, r.line, r.detail);
        }
    }
    let failed = report.failures().count();
    println!(
        "{} of {} cases pass",
        report.results.len() - failed,
        report.results.len()
    );
}

/// `party.cedar` → `party.tests.toml`, in the same directory.
fn sibling_tests(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!("{stem}.tests.toml"))
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}
