//! The command line, as clap sees it, with the parsers of option values
//! that clap checks before any command runs (so a bad value is refused
//! naming its option, and nothing is opened or changed).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgGroup, ArgMatches, Args, Parser, Subcommand, ValueEnum};
use custos_engine::{DEFAULT_PURPOSE, DayEdge, OffsetDateTime, parse_time_input};
use custos_model::{AttributeKey, PrincipalKind};

/// Custos: a personal-data vault for member organisations.
#[derive(Debug, Parser)]
#[command(name = "custos", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    /// The vault directory.
    #[arg(
        long,
        env = "CUSTOS_DIR",
        default_value = "./custos-data",
        global = true
    )]
    pub(crate) dir: PathBuf,

    /// The master key file, if not the one named in the vault's vault.toml.
    #[arg(long, env = "CUSTOS_KEY_FILE", global = true)]
    pub(crate) key_file: Option<PathBuf>,

    /// How long to wait for another process's write lock, in milliseconds.
    #[arg(long, default_value_t = 5000, global = true)]
    pub(crate) busy_timeout_ms: u64,

    /// The purpose the local operator declares for each access (see
    /// `custos purpose list`); recorded with every event.
    #[arg(
        long,
        env = "CUSTOS_PURPOSE",
        default_value = DEFAULT_PURPOSE,
        global = true,
        value_name = "PURPOSE"
    )]
    pub(crate) purpose: String,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a vault: store, master key, schema copy and vault id.
    Init(InitArgs),
    /// Serve the JSON API.
    Serve(ServeArgs),
    /// Create a demo vault with synthetic members and serve it.
    Demo(DemoArgs),
    /// Create, read, update, find, list and erase subjects.
    #[command(subcommand)]
    Subject(SubjectCommand),
    /// Import subjects from a CSV file.
    Import(ImportArgs),
    /// Export chosen fields of chosen subjects to CSV.
    Export(ExportArgs),
    /// Re-wrap every data key under a new master key.
    RotateMasterKey(JsonFlag),
    /// Show the vault's id, schema, key provider and counts.
    Info(JsonFlag),
    /// Check or show a schema.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// The access ledger: signed heads, verification, queries, exports.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// People and services who may act: add, change, suspend, revoke, restore.
    #[command(subcommand)]
    Principal(PrincipalCommand),
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The registry of purposes, and the Art. 30 record of processing.
    #[command(subcommand)]
    Purpose(PurposeCommand),
    /// The access policies: validate, test, apply, show.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Alerts that someone should look at, such as a leaver trying to get in.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Processors (contractors, mailing houses) that receive exports.
    #[command(subcommand)]
    Processor(ProcessorCommand),
    /// Canary records: trace a value seen in the wild to the export it came from.
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// Personal-data breaches: open, follow up, report (Art. 33), notify (Art. 34).
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// The organisation and its data protection officer, for reports and notices.
    #[command(subcommand)]
    Organisation(OrganisationCommand),
    /// Measure throughput and latency against the targets in PERFORMANCE.md.
    Bench(custos_bench::BenchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JsonFlag {
    /// Print JSON on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyProviderKind {
    /// A random key in a file (mode 0600).
    File,
    /// A key derived from `CUSTOS_PASSPHRASE` with Argon2id.
    Passphrase,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// A schema file (TOML); the built-in party schema by default.
    #[arg(long)]
    pub(crate) schema: Option<PathBuf>,
    /// Where the master key comes from. With `file`, --key-file chooses where
    /// the key is created (default DIR/master.key).
    #[arg(long, value_enum, default_value_t = KeyProviderKind::File)]
    pub(crate) key_provider: KeyProviderKind,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Allow a non-loopback address although the API has no TLS of its own.
    #[arg(long)]
    pub(crate) insecure_non_loopback: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many synthetic members to create.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) members: u64,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Create the demo vault and exit without serving.
    #[arg(long)]
    pub(crate) no_serve: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SubjectCommand {
    /// Create a subject from FIELD=VALUE pairs; prints its id.
    Add {
        /// The subject id (membership number); generated if absent.
        #[arg(long)]
        id: Option<String>,
        /// Values as FIELD=VALUE.
        values: Vec<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Show a subject's fields.
    Get {
        /// The subject id.
        id: String,
        /// Comma-separated fields to show (default: all).
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
        /// Refuse the whole read if any field asked for is denied, instead
        /// of showing the allowed fields and listing the denied ones.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Change fields given as FIELD=VALUE; an empty VALUE clears the field.
    Update {
        /// The subject id.
        id: String,
        /// Values as FIELD=VALUE.
        #[arg(required = true)]
        values: Vec<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Find subjects by exact match on a lookup field, as FIELD=VALUE.
    Find {
        /// The lookup, e.g. email=ana@example.org.
        query: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// List subjects, filtered on scope attributes.
    List {
        /// A filter FIELD=VALUE on a scope attribute; repeatable.
        #[arg(long)]
        filter: Vec<String>,
        /// The page size (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this subject id.
        #[arg(long)]
        after: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Erase a subject by destroying its data key (irreversible).
    Erase {
        /// The subject id.
        id: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum EncodingArg {
    /// UTF-8, falling back to Windows-1252 if the file is not valid UTF-8.
    Auto,
    /// UTF-8, with or without a byte-order mark.
    #[value(name = "utf-8")]
    Utf8,
    /// Windows-1252, as Excel saves "CSV" on Windows.
    #[value(name = "windows-1252")]
    Windows1252,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The CSV file; its header names schema fields and `id`.
    pub(crate) file: PathBuf,
    /// Validate every row and report, without writing anything.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// The file has no `id` column: generate subject ids.
    #[arg(long)]
    pub(crate) generate_ids: bool,
    /// The file's text encoding.
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    pub(crate) encoding: EncodingArg,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Comma-separated fields to export (default: all).
    #[arg(long, value_delimiter = ',')]
    pub(crate) fields: Vec<String>,
    /// A filter FIELD=VALUE on a scope attribute; repeatable.
    #[arg(long)]
    pub(crate) filter: Vec<String>,
    /// Export these subjects (comma-separated ids) instead of filtering.
    #[arg(long, value_delimiter = ',', conflicts_with = "filter")]
    pub(crate) ids: Vec<String>,
    /// The output file (default: stdout). Created with mode 0600.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Export to this registered processor, for a purpose it serves: the
    /// export is registered, its manifest recorded in the ledger, and
    /// canary records mixed in. Needs --out.
    #[arg(long, value_name = "NAME", requires = "out")]
    pub(crate) processor: Option<String>,
    /// How many canary records to mix into an export to a processor
    /// (default: 1 to 5, by size; at most 20).
    #[arg(long, value_name = "N", requires = "processor")]
    pub(crate) canaries: Option<u32>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchemaCommand {
    /// Check a schema file and report the first problem with its line.
    Check {
        /// The schema file.
        file: PathBuf,
    },
    /// Show the vault's schema.
    Show(JsonFlag),
}

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Sign and print the current tree head as JSON, for publication to a
    /// witness (an email to the DPO, an object-lock bucket, a printout).
    Head,
    /// Recompute every event, root and signature; name the first problem
    /// and exit with code 7 if there is one.
    Verify {
        /// Also prove that the ledger extends this earlier published head.
        #[arg(long, value_name = "HEAD.json")]
        against: Option<PathBuf>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// List events matching every filter given, oldest first.
    Query {
        /// Only this principal's events.
        #[arg(long)]
        principal: Option<String>,
        /// Only events that touched this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Only events with this declared purpose. (Here `--purpose` is a
        /// filter: reading the ledger is an audit, which declares none.)
        #[arg(long)]
        purpose: Option<String>,
        /// Only this action (read, create, update, erase, find, list, import, export).
        #[arg(long)]
        action: Option<String>,
        /// Only this outcome (allowed, partial, denied, failed).
        #[arg(long)]
        outcome: Option<String>,
        /// Only events at or after this time (RFC 3339, or a prefix such as 2026-11).
        #[arg(long)]
        from: Option<String>,
        /// Only events before this time (RFC 3339, or a prefix).
        #[arg(long)]
        to: Option<String>,
        /// Only events after this seq (the last seq of the previous page).
        #[arg(long)]
        after_seq: Option<u64>,
        /// At most this many events.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Every access to one subject, each with an inclusion proof under a
    /// freshly signed head.
    Subject {
        /// The subject id.
        id: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Write the ledger for an auditor: events.jsonl, heads.jsonl and
    /// ledger.pub in a new directory.
    Export {
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an exported ledger with only the public key; needs no vault.
    VerifyExport {
        /// The export directory.
        dir: PathBuf,
        /// The ledger public key (base64), from a trusted channel rather
        /// than from the export itself.
        #[arg(long)]
        public_key: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

/// Undoes what clap does to `ledger query --purpose`: it shares its id with
/// the global `--purpose`, so clap copies the operator's purpose (default
/// or from `CUSTOS_PURPOSE`) into it. There it is a filter, which applies
/// only when given on the command line.
pub(crate) fn drop_inherited_filters(cli: &mut Cli, matches: &ArgMatches) {
    let given = matches
        .subcommand_matches("ledger")
        .and_then(|m| m.subcommand_matches("query"))
        .and_then(|m| m.value_source("purpose"))
        == Some(ValueSource::CommandLine);
    if let Command::Ledger(LedgerCommand::Query { purpose, .. }) = &mut cli.command
        && !given
    {
        *purpose = None;
    }
}

/// Parses `--kind`.
fn principal_kind(raw: &str) -> Result<PrincipalKind, String> {
    PrincipalKind::parse(raw.trim())
}

/// Parses `--attr KEY=VALUE`; the key must be a principal attribute. The
/// value is checked by the engine.
fn attribute(raw: &str) -> Result<(String, String), String> {
    let (key, value) = raw
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE, such as constituency=E14000639".to_owned())?;
    let key = AttributeKey::parse(key.trim()).map_err(|m| format!("`{}` {m}", key.trim()))?;
    Ok((key.as_str().to_owned(), value.to_owned()))
}

/// Parses a time that starts something: a bare date is the start of that day.
fn start_time(raw: &str) -> Result<OffsetDateTime, String> {
    parse_time_input(raw, DayEdge::Start)
}

/// Parses a time that ends something: a bare date is the end of that day.
fn end_time(raw: &str) -> Result<OffsetDateTime, String> {
    parse_time_input(raw, DayEdge::End)
}

#[derive(Debug, Subcommand)]
pub(crate) enum PrincipalCommand {
    /// Add a principal, active at once unless --valid-from is later.
    Add {
        /// The name: lower-case letters, digits, `.`, `_`, `-` and `@`.
        name: String,
        /// staff, representative, volunteer, processor or service.
        #[arg(long, value_parser = principal_kind)]
        kind: PrincipalKind,
        /// An attribute as KEY=VALUE (role, constituency, branch,
        /// organisation, team); repeatable.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = attribute)]
        attrs: Vec<(String, String)>,
        /// When they may start acting: RFC 3339, a date (its start, UTC),
        /// or a span from now such as 7d.
        #[arg(long, value_name = "TIME", value_parser = start_time)]
        valid_from: Option<OffsetDateTime>,
        /// When their access ends: RFC 3339, a date (through its end, UTC),
        /// or a span from now such as 90d.
        #[arg(long, value_name = "TIME", value_parser = end_time)]
        valid_until: Option<OffsetDateTime>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// List every principal: name, kind, status and attributes.
    List(JsonFlag),
    /// Show a principal and their tokens.
    Show {
        /// The principal's name.
        name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Change a principal's kind, attributes or validity window.
    #[command(group(
        ArgGroup::new("change")
            .required(true)
            .multiple(true)
            .args(["kind", "attrs", "valid_from", "clear_valid_from", "valid_until", "clear_valid_until"])
    ))]
    Update {
        /// The principal's name.
        name: String,
        /// A new kind.
        #[arg(long, value_parser = principal_kind)]
        kind: Option<PrincipalKind>,
        /// An attribute to set as KEY=VALUE; an empty VALUE removes it;
        /// repeatable.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = attribute)]
        attrs: Vec<(String, String)>,
        /// A new start of their access.
        #[arg(long, value_name = "TIME", value_parser = start_time, conflicts_with = "clear_valid_from")]
        valid_from: Option<OffsetDateTime>,
        /// Remove the start of their access.
        #[arg(long)]
        clear_valid_from: bool,
        /// A new end of their access.
        #[arg(long, value_name = "TIME", value_parser = end_time, conflicts_with = "clear_valid_until")]
        valid_until: Option<OffsetDateTime>,
        /// Remove the end of their access.
        #[arg(long)]
        clear_valid_until: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Suspend a principal: they may not act until restored.
    Suspend(StatusArgs<true>),
    /// Revoke a principal (a leaver) and every token and session of theirs.
    Revoke(StatusArgs<true>),
    /// Make a suspended or revoked principal active again.
    Restore(StatusArgs<false>),
    /// Set a principal's login password, read from `CUSTOS_NEW_PASSWORD` or
    /// else from the first line of standard input.
    SetPassword {
        /// The principal's name.
        name: String,
    },
    /// Enroll a new second factor (TOTP) for a principal, replacing any
    /// earlier one; its secret is shown once.
    EnrollTotp {
        /// The principal's name.
        name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

/// A status change; `REASON` says whether `--reason` is required.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs<const REASON: bool> {
    /// The principal's name.
    pub(crate) name: String,
    /// Why, in words; kept with the principal (not in the ledger).
    #[arg(long, required = REASON)]
    pub(crate) reason: Option<String>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create an API token for a principal and print it, once.
    Create {
        /// The principal's name.
        name: String,
        /// When it expires: RFC 3339, a date (through its end, UTC), or a
        /// span from now such as 90d; never by default.
        #[arg(long, value_name = "TIME", value_parser = end_time)]
        expires: Option<OffsetDateTime>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// List tokens and sessions, newest first (never their secrets).
    List {
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Revoke a token or session by its id (as `token list` shows it).
    Revoke {
        /// The token id, such as tk_0123456789ab.
        id: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RecordFormat {
    /// A Markdown document, for people.
    Md,
    /// JSON, for scripts.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PurposeCommand {
    /// List the registered purposes.
    List(JsonFlag),
    /// Show one purpose.
    Show {
        /// The purpose's name.
        name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Register a purpose.
    Add {
        /// The name: lower-case letters, digits and `_`.
        name: String,
        /// What the purpose is, in a sentence.
        #[arg(long)]
        description: String,
        /// The Art. 6(1) basis: consent, contract, legal_obligation,
        /// vital_interests, public_task or legitimate_interests.
        #[arg(long, value_name = "BASIS")]
        lawful_basis: String,
        /// The Art. 9(2) condition, needed for special-category data, such
        /// as not_for_profit or explicit_consent.
        #[arg(long, value_name = "CONDITION")]
        special_condition: Option<String>,
        /// Comma-separated data categories it may use, such as
        /// identity,contact.
        #[arg(long, value_delimiter = ',', required = true)]
        categories: Vec<String>,
        /// The member must have consented (any one of --consent-fields).
        #[arg(long, requires = "consent_fields")]
        requires_consent: bool,
        /// Comma-separated boolean scope fields that count as consent.
        #[arg(long, value_delimiter = ',')]
        consent_fields: Vec<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Print the Art. 30 record of processing built from the registry.
    Export {
        /// Markdown for people, or JSON.
        #[arg(long, value_enum, default_value_t = RecordFormat::Md)]
        format: RecordFormat,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Parse and validate a policy file against the vault's schema (or the
    /// built-in party schema if there is no vault) and list its rules.
    Validate {
        /// The policy file (Cedar).
        file: PathBuf,
    },
    /// Run a file of test cases against a policy file, or the policies in
    /// force; exits 2 if any case fails.
    Test {
        /// The test cases (TOML).
        cases: PathBuf,
        /// The policy file to test instead of the policies in force.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Apply a policy file, refused if it does not validate, fails its
    /// tests or would lock every administrator out.
    Apply {
        /// The policy file (Cedar).
        file: PathBuf,
        /// The test cases that must pass (default: FILE's sibling
        /// `<stem>.tests.toml`, if there is one).
        #[arg(long, value_name = "CASES.toml")]
        tests: Option<PathBuf>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Print the policies in force, or their tests.
    Show {
        /// Print the test cases instead of the policies.
        #[arg(long)]
        tests: bool,
        /// Print the built-in default policies (or their tests), to start
        /// from; needs no vault.
        #[arg(long, conflicts_with = "json")]
        default: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertsCommand {
    /// List alerts, oldest first.
    List {
        /// Only alerts about this principal.
        #[arg(long)]
        principal: Option<String>,
        /// Only alerts of this kind, such as revoked_principal_attempt.
        #[arg(long)]
        kind: Option<String>,
        /// Only alerts after this id (the last id of the previous page).
        #[arg(long, value_name = "N")]
        after_id: Option<u64>,
        /// At most this many.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        limit: usize,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProcessorCommand {
    /// Register a processor.
    Add {
        /// The name, like a principal's: lower-case letters, digits, `.`,
        /// `_`, `-` and `@`. Its staff's principals carry
        /// `organisation=NAME`.
        name: String,
        /// How to reach them about a breach: a person, an email, a phone.
        #[arg(long)]
        contact: String,
        /// The reference of the Art. 28 processing contract.
        #[arg(long, value_name = "REF")]
        contract: String,
        /// Comma-separated purposes they process data for.
        #[arg(long, value_delimiter = ',', required = true)]
        purposes: Vec<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// List the processors.
    List(JsonFlag),
    /// Show a processor, its exports and the principals who act for it.
    Show {
        /// The processor's name.
        name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CanaryCommand {
    /// Name the export, recipient and date a value came from: a membership
    /// number, email address, phone number, postcode or full name seen
    /// where it should not be. Exits 3 if it is no canary's.
    Trace {
        /// The value seen.
        value: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Show the canary records of one export, to watch for them (a mailbox
    /// for their email, a phone for their number).
    List {
        /// The export id, such as EX-0001.
        export: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// Markdown, for people and for pasting into the regulator's form.
    Md,
    /// JSON, the stable interface for other tools.
    Json,
    /// A self-contained HTML page.
    Html,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IncidentCommand {
    /// Open an incident: prints its id (or `{"id": …}` with --json), and
    /// how many people it affects on stderr.
    Open {
        /// A short title.
        #[arg(long)]
        title: String,
        /// When the organisation became aware, RFC 3339 (such as
        /// 2026-12-06T09:30:00Z); the 72-hour clock starts then. Not in
        /// the future.
        #[arg(long, value_name = "TIME")]
        aware_at: String,
        /// What was exposed; repeatable: principal:NAME, token:ID,
        /// processor:NAME, export:ID, window:FROM..TO or store, each
        /// optionally with `,window:FROM..TO`.
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// What happened, in words (default: drawn from the scopes).
        #[arg(long)]
        nature: Option<String>,
        /// The master key was taken with the store (for a `store` scope).
        #[arg(long)]
        keys_exposed: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// The breach register (Art. 33(5)): every incident, oldest first.
    List(JsonFlag),
    /// The report: Art. 33(3) content, timeline, 72-hour clock, Art. 34
    /// assessment and everyone exposed.
    Report {
        /// The incident id, such as INC-0001.
        id: String,
        /// md for people, json for tools, html for a page.
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Write to this file (mode 0600) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write one notice per person affected into a new directory, with a
    /// mail-merge CSV; declares the purpose breach_notification.
    Notices {
        /// The incident id.
        id: String,
        /// The directory to create (mode 0700; files 0600).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Follow an incident up (Art. 33(4)): each change is kept in its
    /// timeline.
    #[command(group(
        ArgGroup::new("change")
            .required(true)
            .multiple(true)
            .args(["note", "nature", "consequences", "measures", "reported_to_authority", "subjects_notified", "status"])
    ))]
    Update {
        /// The incident id.
        id: String,
        /// What was learned, for the timeline.
        #[arg(long)]
        note: Option<String>,
        /// A new description of what happened.
        #[arg(long)]
        nature: Option<String>,
        /// The likely consequences, as you assess them.
        #[arg(long)]
        consequences: Option<String>,
        /// The measures taken or proposed.
        #[arg(long)]
        measures: Option<String>,
        /// When the supervisory authority was notified (RFC 3339).
        #[arg(long, value_name = "TIME")]
        reported_to_authority: Option<String>,
        /// When the people affected were notified (RFC 3339).
        #[arg(long, value_name = "TIME")]
        subjects_notified: Option<String>,
        /// open or closed.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OrganisationCommand {
    /// Show the organisation and its DPO.
    Show(JsonFlag),
    /// Set the organisation's name or its DPO's contact; an empty value
    /// removes one.
    #[command(group(
        ArgGroup::new("change")
            .required(true)
            .multiple(true)
            .args(["name", "dpo_name", "dpo_email", "dpo_phone", "dpo_address", "canary_email_domain"])
    ))]
    Set {
        /// The organisation's name, as members know it.
        #[arg(long)]
        name: Option<String>,
        /// The data protection officer's name.
        #[arg(long)]
        dpo_name: Option<String>,
        /// Their email address.
        #[arg(long)]
        dpo_email: Option<String>,
        /// Their phone number.
        #[arg(long)]
        dpo_phone: Option<String>,
        /// Their postal address, on one line.
        #[arg(long)]
        dpo_address: Option<String>,
        /// A domain the organisation controls, for canary email addresses.
        #[arg(long)]
        canary_email_domain: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
}
