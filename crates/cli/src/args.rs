//! The command line, as clap sees it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
        /// Only events with this declared purpose.
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
