//! One function per command. Each opens the vault, calls the engine as the
//! local operator declaring the `--purpose` given, and prints. This module
//! has the vault-wide commands and the dispatch; the others are by area:
//! `subjects`, `principals` (and tokens), `purposes`, `policy`, `alerts`
//! and `ledger`.

use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use custos_engine::{
    Caller, CsvInput, DEFAULT_PURPOSE, Encoding, ExportRequest, FieldSelection, INITIAL_ADMIN,
    ImportOptions, ImportProgress, InitKey, InitOptions, KeyAccess, NewMasterKey, NewProcessor,
    OpenOptions, OrganisationChange, ProcessorExport, Vault, wire,
};
use custos_model::{PrincipalKind, Schema, SubjectId};
use serde_json::json;
use zeroize::Zeroizing;

use crate::args::{
    Cli, Command, DemoArgs, EncodingArg, ExportArgs, ImportArgs, InitArgs, KeyProviderKind,
    SchemaCommand, ServeArgs,
};
use crate::output;

/// Where `custos demo` puts its vault unless --dir is given.
const DEMO_DIR: &str = "./custos-demo";
/// Marks a directory as a demo vault that `custos demo` may replace.
const DEMO_MARKER: &str = ".custos-demo";
/// The generator seed of the demo organisation.
const DEMO_SEED: u64 = 2019;
/// The demo organisation's mailing house.
const DEMO_PROCESSOR: &str = "mailhouse";

/// The global options: which vault, and the purpose the operator declares.
pub(crate) struct Context0 {
    dir: PathBuf,
    key_file: Option<PathBuf>,
    busy_timeout: Duration,
    purpose: String,
}

impl Context0 {
    pub(crate) fn open(&self) -> anyhow::Result<Vault> {
        Ok(Vault::open(OpenOptions {
            dir: self.dir.clone(),
            keys: KeyAccess {
                key_file: self.key_file.clone(),
                passphrase: env_secret("CUSTOS_PASSPHRASE"),
            },
            busy_timeout: self.busy_timeout,
        })?)
    }

    /// Opens the vault, or returns none if the directory holds no vault.
    pub(crate) fn open_if_vault(&self) -> anyhow::Result<Option<Vault>> {
        match self.open() {
            Ok(vault) => Ok(Some(vault)),
            Err(e) => match e.downcast_ref::<custos_engine::EngineError>() {
                Some(custos_engine::EngineError::NotAVault(_)) => Ok(None),
                _ => Err(e),
            },
        }
    }

    /// The local operator's request for this command: one request id for
    /// everything the command does, declaring `--purpose`.
    pub(crate) fn caller(&self, vault: &Vault) -> Caller {
        vault.local_operator().with_purpose(Some(&self.purpose))
    }

    /// Opens the vault, with the local operator's request.
    pub(crate) fn operator(&self) -> anyhow::Result<(Vault, Caller)> {
        let vault = self.open()?;
        let caller = self.caller(&vault);
        Ok((vault, caller))
    }
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name).ok().map(Zeroizing::new)
}

pub(crate) fn run(cli: Cli, dir_is_default: bool) -> anyhow::Result<()> {
    let ctx = Context0 {
        dir: cli.dir,
        key_file: cli.key_file,
        busy_timeout: Duration::from_millis(cli.busy_timeout_ms),
        purpose: cli.purpose,
    };
    match cli.command {
        Command::Init(args) => init(&ctx, args),
        Command::Serve(args) => serve(ctx.open()?, args),
        Command::Demo(args) => demo(&ctx, dir_is_default, args),
        Command::Subject(command) => {
            let (vault, who) = ctx.operator()?;
            crate::subjects::run(&vault, &who, command)
        }
        Command::Import(args) => {
            let (vault, who) = ctx.operator()?;
            import(&vault, &who, args)
        }
        Command::Export(args) => {
            let (vault, who) = ctx.operator()?;
            export(&vault, &who, args)
        }
        Command::RotateMasterKey(flag) => rotate(&mut ctx.open()?, flag.json),
        Command::Info(flag) => {
            let (vault, who) = ctx.operator()?;
            info(&vault, &who, flag.json)
        }
        Command::Schema(command) => schema(&ctx, command),
        Command::Bench(args) => custos_bench::run(&args),
        Command::Ledger(command) => match crate::ledger::run_without_vault(&command) {
            Some(result) => result,
            None => {
                let (vault, who) = ctx.operator()?;
                crate::ledger::run(&vault, &who, command)
            }
        },
        Command::Principal(command) => {
            let (vault, who) = ctx.operator()?;
            crate::principals::run(&vault, &who, command)
        }
        Command::Token(command) => {
            let (vault, who) = ctx.operator()?;
            crate::principals::token(&vault, &who, command)
        }
        Command::Purpose(command) => {
            let (vault, who) = ctx.operator()?;
            crate::purposes::run(&vault, &who, command)
        }
        Command::Policy(command) => crate::policy::run(&ctx, command),
        Command::Alerts(command) => {
            let (vault, who) = ctx.operator()?;
            crate::alerts::run(&vault, &who, command)
        }
        Command::Processor(command) => {
            let (vault, who) = ctx.operator()?;
            crate::processors::run(&vault, &who, command)
        }
        Command::Canary(command) => {
            let (vault, who) = ctx.operator()?;
            crate::processors::canary(&vault, &who, command)
        }
        Command::Incident(command) => {
            let (vault, who) = ctx.operator()?;
            crate::incidents::run(&vault, &who, command)
        }
        Command::Organisation(command) => {
            let (vault, who) = ctx.operator()?;
            crate::incidents::organisation(&vault, &who, command)
        }
    }
}

fn init(ctx: &Context0, args: InitArgs) -> anyhow::Result<()> {
    let key = match args.key_provider {
        KeyProviderKind::File => InitKey::File {
            path: ctx.key_file.clone(),
        },
        KeyProviderKind::Passphrase => InitKey::Passphrase(
            env_secret("CUSTOS_PASSPHRASE")
                .context("set `CUSTOS_PASSPHRASE` to the vault's passphrase")?,
        ),
    };
    let initialized = Vault::init(InitOptions {
        dir: ctx.dir.clone(),
        schema: args.schema,
        key,
        busy_timeout: ctx.busy_timeout,
    })?;
    let info = initialized.vault.info(&ctx.caller(&initialized.vault))?;
    if args.output.json {
        output::json(&json!({
            "id": info.vault_id,
            "dir": info.dir.display().to_string(),
            "key_provider": info.key_provider,
            "admin_principal": INITIAL_ADMIN,
            "admin_token": initialized.admin_token(),
        }));
    } else {
        println!("{}", info.vault_id);
        eprintln!("created vault {} in {}", info.vault_id, info.dir.display());
        eprintln!("master key: {}", info.key_provider);
        eprintln!(
            "API token of the administrator `{INITIAL_ADMIN}` (shown once; store it in a password manager):"
        );
        eprintln!("  {}", initialized.admin_token());
        if args.key_provider == KeyProviderKind::File && ctx.key_file.is_none() {
            eprintln!(
                "note: the master key is inside the vault directory; in production keep it on another disk \
                 (`--key-file` at init) so that a stolen copy of the store alone is unreadable"
            );
        }
    }
    Ok(())
}

fn serve(vault: Vault, args: ServeArgs) -> anyhow::Result<()> {
    custos_server::check_listen_addr(args.listen, args.insecure_non_loopback)
        .map_err(anyhow::Error::msg)?;
    serve_vault(Arc::new(vault), args.listen, None)
}

fn serve_vault(
    vault: Arc<Vault>,
    listen: std::net::SocketAddr,
    banner: Option<String>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "custos listening on http://{addr} (vault {})",
            vault.dir().display()
        );
        if let Some(banner) = banner {
            println!("{}", banner.replace("{addr}", &addr.to_string()));
        }
        custos_server::run(listener, vault, shutdown_signal()).await?;
        eprintln!("custos stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
}

fn demo(ctx: &Context0, dir_is_default: bool, args: DemoArgs) -> anyhow::Result<()> {
    custos_server::check_listen_addr(args.listen, false).map_err(anyhow::Error::msg)?;
    let dir = if dir_is_default {
        PathBuf::from(DEMO_DIR)
    } else {
        ctx.dir.clone()
    };
    prepare_demo_dir(&dir)?;
    let initialized = Vault::init(InitOptions {
        dir: dir.clone(),
        schema: None,
        key: InitKey::File { path: None },
        busy_timeout: ctx.busy_timeout,
    })?;
    fs::write(
        dir.join(DEMO_MARKER),
        "made by `custos demo`; it replaces this directory on each run\n",
    )
    .context("cannot mark the demo directory")?;
    let token = initialized.admin_token().to_owned();
    let vault = initialized.vault;

    let started = std::time::Instant::now();
    let generator = custos_synth::Generator::new(DEMO_SEED);
    let mut csv = Vec::new();
    generator
        .write_csv(&mut csv, args.members)
        .context("cannot generate demo members")?;
    // Seeding is membership administration, whatever --purpose says.
    let operator = vault.local_operator().with_purpose(Some(DEFAULT_PURPOSE));
    let report = vault.import_csv(
        &operator,
        CsvInput::Bytes(&csv),
        &ImportOptions {
            dry_run: false,
            generate_ids: false,
            encoding: Encoding::Utf8,
        },
        &|_| {},
    )?;
    eprintln!(
        "seeded {} synthetic members in {:.1} s",
        report.imported,
        started.elapsed().as_secs_f64()
    );
    let first = generator.member(0);
    let elsewhere = (1..args.members.max(1))
        .map(|i| generator.member(i))
        .find(|m| m.constituency() != first.constituency())
        .unwrap_or_else(|| generator.member(0));
    let ana = demo_principal(
        &vault,
        &operator,
        "ana",
        PrincipalKind::Representative,
        &[("constituency", first.constituency())],
    )?;
    demo_principal(
        &vault,
        &operator,
        "vic",
        PrincipalKind::Volunteer,
        &[("branch", first.branch())],
    )?;
    demo_principal(
        &vault,
        &operator,
        "fay",
        PrincipalKind::Staff,
        &[("team", "finance")],
    )?;
    vault.set_organisation(
        &operator,
        &OrganisationChange {
            name: Some("The Demo Party".to_owned()),
            dpo_name: Some("Dana Reyes".to_owned()),
            dpo_email: Some("dpo@party.example".to_owned()),
            dpo_phone: Some("020 7946 0000".to_owned()),
            dpo_address: Some("1 Example Street, London SW1A 1AA".to_owned()),
            canary_email_domain: None,
        },
    )?;
    vault.add_processor(
        &operator,
        &NewProcessor {
            name: DEMO_PROCESSOR.to_owned(),
            contact: "Jo Bloggs, security@mailhouse.example, 0113 496 0000".to_owned(),
            contract_ref: "DPA-2026-017".to_owned(),
            purposes: vec!["campaigning".to_owned(), "membership_admin".to_owned()],
        },
    )?;
    let banner = format!(
        "\nCustos demo vault: {dir} ({n} members)\n\
         Admin token: {token}\n\
         Ana, representative for {constituency}: {ana}\n\
         (vic, a volunteer in branch {branch}, and fay, in finance, are there too:\n\
          custos --dir {dir} token create vic)\n\n\
         Try:\n  \
         export TOKEN={token} ANA={ana}\n  \
         # Ana reads a member of her constituency for casework: contact details yes, donations no\n  \
         curl -s 'http://{{addr}}/v1/subjects/{id}?fields=given_name,email,phone,donation_total&purpose=casework' -H \"Authorization: Bearer $ANA\"\n  \
         # ... a member elsewhere is 403, exactly like a membership number that does not exist\n  \
         curl -s 'http://{{addr}}/v1/subjects/{other}?fields=email&purpose=casework' -H \"Authorization: Bearer $ANA\"\n  \
         # ... and her listing holds only her constituency\n  \
         curl -s 'http://{{addr}}/v1/subjects?limit=5&purpose=casework' -H \"Authorization: Bearer $ANA\"\n  \
         # Ana resigns: revoke her, and she is shut out at once (401 principal_revoked, recorded, alerted)\n  \
         curl -s -X POST http://{{addr}}/v1/principals/ana/revoke -H \"Authorization: Bearer $TOKEN\" -d '{{\"reason\":\"resigned\"}}'\n  \
         curl -s 'http://{{addr}}/v1/subjects/{id}?fields=email&purpose=casework' -H \"Authorization: Bearer $ANA\"\n  \
         curl -s http://{{addr}}/v1/alerts -H \"Authorization: Bearer $TOKEN\"\n  \
         custos --dir {dir} ledger query --principal ana\n  \
         custos --dir {dir} subject get {id}\n  \
         curl -s http://{{addr}}/v1/subjects/find -H \"Authorization: Bearer $TOKEN\" -H 'X-Purpose: membership_admin' -d '{{\"field\":\"email\",\"value\":\"{email}\"}}'\n\n\
         A processor is breached (the mailing house `{processor}` is registered):\n  \
         # export consenting members to it, seeded with canary records, with a manifest in the ledger\n  \
         custos --dir {dir} --purpose campaigning export --processor {processor} --fields id,given_name,family_name,email,postcode --out {processor}.csv\n  \
         # it is breached: open an incident, get the Art. 33 report and one Art. 34 notice per person\n  \
         custos --dir {dir} incident open --title 'Mailing house breached' --aware-at $(date -u +%Y-%m-%dT%H:%M:%SZ) --scope processor:{processor}\n  \
         custos --dir {dir} incident report INC-0001\n  \
         custos --dir {dir} incident notices INC-0001 --out notices\n  \
         # a record seen in the wild names the export it came from\n  \
         custos --dir {dir} canary list EX-0001\n  \
         curl -s http://{{addr}}/v1/incidents/INC-0001/report -H \"Authorization: Bearer $TOKEN\"\n\n\
         API description: http://{{addr}}/v1/openapi.json — stop with Ctrl-C.",
        dir = dir.display(),
        n = report.imported,
        id = first.id(),
        other = elsewhere.id(),
        constituency = first.constituency(),
        branch = first.branch(),
        email = first.email(),
        processor = DEMO_PROCESSOR,
    );
    if args.no_serve {
        println!("{}", banner.replace("{addr}", &args.listen.to_string()));
        return Ok(());
    }
    serve_vault(Arc::new(vault), args.listen, Some(banner))
}

/// Adds one of the demo organisation's principals and returns its token.
fn demo_principal(
    vault: &Vault,
    operator: &custos_engine::Caller,
    name: &str,
    kind: PrincipalKind,
    attrs: &[(&str, &str)],
) -> anyhow::Result<String> {
    let attrs: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vault.add_principal(operator, name, kind, &attrs, None, None)?;
    Ok(vault
        .create_token(operator, name, None)?
        .token
        .expose()
        .to_owned())
}

/// Empties a previous demo directory; refuses to touch anything else.
fn prepare_demo_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if dir.join(DEMO_MARKER).exists() {
        fs::remove_dir_all(dir)
            .with_context(|| format!("cannot clear the old demo vault in `{}`", dir.display()))?;
        return Ok(());
    }
    if fs::read_dir(dir)?.next().is_some() {
        bail!(
            "`{}` exists and is not a demo vault; choose another --dir for the demo",
            dir.display()
        );
    }
    Ok(())
}

/// Parses a subject id given on the command line.
pub(crate) fn parse_id(raw: &str) -> anyhow::Result<SubjectId> {
    SubjectId::parse(raw).map_err(|e| anyhow::anyhow!("the subject id {e}"))
}

fn import(vault: &Vault, who: &Caller, args: ImportArgs) -> anyhow::Result<()> {
    let options = ImportOptions {
        dry_run: args.dry_run,
        generate_ids: args.generate_ids,
        encoding: match args.encoding {
            EncodingArg::Auto => Encoding::Auto,
            EncodingArg::Utf8 => Encoding::Utf8,
            EncodingArg::Windows1252 => Encoding::Windows1252,
        },
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let progress = |p: ImportProgress| {
        let Some(bar) = &bar else { return };
        match p {
            ImportProgress::Validated(n) => bar.set_message(format!("validating: {n} rows")),
            ImportProgress::Written { done, total } => {
                if bar.length() != Some(total) {
                    bar.set_length(total);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "sealing and writing {bar:40} {pos}/{len} rows, {per_sec}, eta {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                }
                bar.set_position(done);
            }
        }
    };
    let result = vault.import_csv(who, CsvInput::File(&args.file), &options, &progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result?;
    if args.output.json {
        output::json(&wire::import_report(&report));
    } else if report.dry_run {
        println!(
            "{} rows are valid ({}); nothing was written (dry run)",
            report.rows,
            report.encoding.name()
        );
    } else {
        println!(
            "imported {} subjects from {} rows ({})",
            report.imported,
            report.rows,
            report.encoding.name()
        );
    }
    Ok(())
}

fn export(vault: &Vault, who: &Caller, args: ExportArgs) -> anyhow::Result<()> {
    let selection = if args.fields.is_empty() {
        FieldSelection::All
    } else {
        FieldSelection::Only(args.fields)
    };
    let filters: Vec<(String, String)> = args
        .filter
        .iter()
        .map(|f| output::pair(f))
        .collect::<Result<_, _>>()?;
    let ids: Vec<SubjectId> = args
        .ids
        .iter()
        .map(|id| parse_id(id))
        .collect::<Result<_, _>>()?;
    let request = ExportRequest {
        selection,
        filters,
        ids,
    };
    if let (Some(processor), Some(path)) = (&args.processor, &args.out) {
        let export = ProcessorExport {
            processor: processor.clone(),
            request,
            file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            canaries: args.canaries,
        };
        let report = write_file(path, |out| vault.export_to_processor(who, out, &export))?;
        if args.output.json {
            output::json(&wire::processor_export(&report));
        } else {
            println!(
                "{}: exported {} subjects to processor `{processor}` in {} (sha256 {})",
                report.id,
                report.report.rows,
                path.display(),
                report.sha256
            );
        }
        excluded_note(who, report.report.excluded, args.output.json);
        return Ok(());
    }
    let report = match &args.out {
        Some(path) => write_file(path, |out| {
            vault.export_csv(who, out, &request.selection, &request.filters, &request.ids)
        })?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let report = vault.export_csv(
                who,
                &mut lock,
                &request.selection,
                &request.filters,
                &request.ids,
            )?;
            lock.flush()?;
            report
        }
    };
    match (&args.out, args.output.json) {
        (Some(_), true) => output::json(&wire::export_report(&report)),
        (Some(path), false) => println!("exported {} subjects to {}", report.rows, path.display()),
        (None, _) => eprintln!("exported {} subjects", report.rows),
    }
    excluded_note(who, report.excluded, args.out.is_some() && args.output.json);
    Ok(())
}

/// Writes a new private file with `write`, removing it if `write` fails:
/// a half-written export must not be left behind.
fn write_file<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, custos_engine::EngineError>,
) -> anyhow::Result<T> {
    let mut out = std::io::BufWriter::new(output::private_file(path)?);
    let result = write(&mut out).map_err(anyhow::Error::from).and_then(|t| {
        out.flush()?;
        Ok(t)
    });
    if result.is_err() {
        drop(out);
        let _ = fs::remove_file(path);
    }
    result
}

fn excluded_note(who: &Caller, excluded: u64, quiet: bool) {
    if excluded > 0 && !quiet {
        eprintln!(
            "note: {excluded} subjects were left out: the policies do not allow every field asked for (purpose `{}`)",
            who.declared_purpose().unwrap_or_default()
        );
    }
}

fn rotate(vault: &mut Vault, json: bool) -> anyhow::Result<()> {
    let new = match env_secret("CUSTOS_NEW_PASSPHRASE") {
        Some(p) => NewMasterKey::Passphrase(p),
        None => NewMasterKey::File,
    };
    let report = vault.rotate_master_key(new)?;
    if json {
        output::json(&wire::rotation(&report));
    } else {
        println!(
            "re-wrapped {} data keys under a new master key ({})",
            report.rewrapped, report.key_provider
        );
    }
    Ok(())
}

fn info(vault: &Vault, who: &Caller, json: bool) -> anyhow::Result<()> {
    let info = vault.info(who)?;
    if json {
        output::json(&wire::info(&info));
    } else {
        println!("vault     {}", info.vault_id);
        println!("dir       {}", info.dir.display());
        println!("schema    {}", info.schema);
        println!("key       {}", info.key_provider);
        println!("subjects  {}", info.subjects);
        println!("erased    {}", info.erased);
    }
    Ok(())
}

fn schema(ctx: &Context0, command: SchemaCommand) -> anyhow::Result<()> {
    match command {
        SchemaCommand::Check { file } => {
            let text = fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let schema =
                Schema::parse(&text).map_err(|source| custos_engine::EngineError::Schema {
                    path: file.clone(),
                    source,
                })?;
            println!(
                "{}: schema `{}` with {} fields is valid",
                file.display(),
                schema.name(),
                schema.fields().len()
            );
        }
        SchemaCommand::Show(flag) => {
            let vault = ctx.open()?;
            let shown = wire::schema(vault.schema());
            if flag.json {
                output::json(&shown);
            } else {
                for f in vault.schema().fields() {
                    let mut flags = Vec::new();
                    if f.is_lookup() {
                        flags.push("lookup");
                    }
                    if f.is_scope() {
                        flags.push("scope");
                    }
                    if f.is_required() {
                        flags.push("required");
                    }
                    println!(
                        "{:20} {:9} {:26} {}",
                        f.name(),
                        f.field_type().name(),
                        f.category().as_str(),
                        flags.join(",")
                    );
                }
            }
        }
    }
    Ok(())
}
