//! W4 (issue 5): an incident's exposure and its notices, through the
//! engine, on the vault the other workloads used, as the local operator.
//!
//! In order:
//! 1. W4a, a principal scope: N synthetic reads are appended to the vault's
//!    own ledger (`ledger.sqlite` in the vault directory) in batches of
//!    4096, each batch at the time it is appended (straight through
//!    `custos_ledger::LedgerStore::append`, as a second writer would, with
//!    no head signed, so the vault's next head covers them and the ledger
//!    still verifies). They are shaped like the last audited HTTP read and
//!    name the vault's real principals and members; one principal
//!    (`staff-007`) is given every k-th of them, so that the middle 80% of
//!    their time holds just under 10,000. An incident scoped
//!    `principal:staff-007,window:FROM..TO` over that middle is opened,
//!    then its report (`Vault::incident_report`, which computes the
//!    exposure from the ledger) is timed several times.
//! 2. W4b, a processor scope: processor `mailhouse-1` is registered (the
//!    standard principal `processor-1` acts for it, so its reads count
//!    too), N members spread over the vault are exported to it (timed, for
//!    information), and the report of an incident scoped
//!    `processor:mailhouse-1` is timed several times.
//! 3. Notices: M other members are exported to `mailhouse-2`, an incident
//!    is opened on that export, and `Vault::incident_notices` writes one
//!    letter file per person and the mail-merge CSV to a new directory, as
//!    `custos incident notices` does (timed as a whole).

use std::fs::{self, File};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use custos_engine::{
    BREACH_PURPOSE, EngineError, ExportRequest, FieldSelection, IncidentOpening, MailMerge,
    NewProcessor, Notice, NoticeRun, NoticeSink, OffsetDateTime, ProcessorExport, Vault,
};
use custos_ledger::merkle::Frontier;
use custos_ledger::{
    AppendBatch, AppendedEvent, BoxError, Event, LedgerStore, LogState, format_time,
};
use custos_model::{SubjectId, VaultId};
use custos_store::{SqliteLedger, SqliteOptions};
use custos_synth::Generator;

use crate::ledger::{Template, median};
use crate::principals;
use crate::stats::per_s;
use crate::workload::SplitMix64;

/// W4a, PERFORMANCE.md: a principal scope on the 10M-event ledger, median.
pub(crate) const TARGET_PRINCIPAL_MS: f64 = 100.0;
/// W4a, PERFORMANCE.md's stretch.
pub(crate) const STRETCH_PRINCIPAL_MS: f64 = 20.0;
/// W4a, issue 5.
pub(crate) const ISSUE_PRINCIPAL_MS: f64 = 1_000.0;
/// The most events W4a's scope may match.
pub(crate) const PRINCIPAL_MAX_MATCHES: u64 = 10_000;
/// W4b: a processor that received this many subjects …
pub(crate) const PROCESSOR_TARGET_SUBJECTS: u64 = 500_000;
/// … in this many seconds (median), scaled linearly to N.
pub(crate) const TARGET_PROCESSOR_S: f64 = 5.0;
/// W4b's stretch, scaled the same way.
pub(crate) const STRETCH_PROCESSOR_S: f64 = 1.0;
/// Issue 5: notices for this many people …
pub(crate) const NOTICES_TARGET_PEOPLE: u64 = 100_000;
/// … in this many seconds, scaled linearly to M.
pub(crate) const TARGET_NOTICES_S: f64 = 30.0;
/// Events per append while populating W4a's ledger (fewer below 81,920
/// events, so that the window's ends fall in different batches).
pub(crate) const POPULATE_BATCH: u64 = 4096;
/// Timed reports of each scope, after the opening (which computes it too).
const REPORT_RUNS: usize = 5;
/// The principal W4a's scope names.
const QUERIED: &str = "staff-007";
/// The processors: W4b's, and the one the notices' export goes to.
const PROCESSOR: &str = "mailhouse-1";
const NOTICES_PROCESSOR: &str = "mailhouse-2";
/// The purpose both exports are made for, which the processors serve.
const EXPORT_PURPOSE: &str = "membership_admin";
/// What a mailing house receives.
pub(crate) const EXPORT_FIELDS: [&str; 7] = [
    "given_name",
    "family_name",
    "email",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
];
/// The mail-merge file beside the letters, as the CLI names it.
const MAIL_MERGE_FILE: &str = "mail-merge.csv";

/// What W4 is asked to do; a size of 0 skips that part.
#[derive(Debug)]
pub(crate) struct Options<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) exposure_events: u64,
    pub(crate) processor_subjects: u64,
    pub(crate) notice_people: u64,
    pub(crate) members: u64,
    pub(crate) seed: u64,
    pub(crate) template: Template,
}

/// Where W4 keeps its exports and notices under the work dir.
pub(crate) fn dir(work_dir: &Path) -> PathBuf {
    work_dir.join("incident")
}

/// An incident opened, then its report timed.
#[derive(Debug, Clone)]
pub(crate) struct Timed {
    pub(crate) scope: String,
    /// People affected, and ledger events that released something in scope.
    pub(crate) subjects: u64,
    pub(crate) events: u64,
    pub(crate) open_ms: f64,
    pub(crate) report_ms: Vec<f64>,
}

impl Timed {
    pub(crate) fn median_ms(&self) -> f64 {
        median(&self.report_ms)
    }
}

/// W4a.
#[derive(Debug, Clone)]
pub(crate) struct PrincipalFigures {
    /// Events appended, and the vault's ledger size after.
    pub(crate) appended: u64,
    pub(crate) batch: u64,
    pub(crate) ledger_size: u64,
    pub(crate) populate_wall: Duration,
    pub(crate) incident: Timed,
}

impl PrincipalFigures {
    pub(crate) fn populate_per_s(&self) -> f64 {
        per_s(self.appended, self.populate_wall)
    }

    pub(crate) fn pass(&self, target_ms: f64) -> bool {
        self.incident.median_ms() <= target_ms && self.incident.events <= PRINCIPAL_MAX_MATCHES
    }
}

/// An export to a processor.
#[derive(Debug, Clone)]
pub(crate) struct ExportFigures {
    pub(crate) id: String,
    pub(crate) rows: u64,
    pub(crate) canaries: u64,
    pub(crate) bytes: u64,
    pub(crate) wall: Duration,
}

impl ExportFigures {
    pub(crate) fn rows_per_s(&self) -> f64 {
        per_s(self.rows, self.wall)
    }
}

/// W4b.
#[derive(Debug, Clone)]
pub(crate) struct ProcessorFigures {
    pub(crate) export: ExportFigures,
    pub(crate) incident: Timed,
}

impl ProcessorFigures {
    /// The target scaled linearly from 500k subjects to the export's.
    pub(crate) fn target_s(&self, per_500k: f64) -> f64 {
        per_500k * self.export.rows as f64 / PROCESSOR_TARGET_SUBJECTS as f64
    }

    pub(crate) fn pass(&self, per_500k: f64) -> bool {
        self.incident.median_ms() <= self.target_s(per_500k) * 1e3
    }
}

/// The notices.
#[derive(Debug, Clone)]
pub(crate) struct NoticeFigures {
    pub(crate) export: ExportFigures,
    pub(crate) incident: String,
    pub(crate) written: u64,
    pub(crate) not_permitted: u64,
    pub(crate) erased: u64,
    pub(crate) unreachable: u64,
    /// The letters and the mail-merge file.
    pub(crate) bytes: u64,
    pub(crate) wall: Duration,
}

impl NoticeFigures {
    pub(crate) fn per_s(&self) -> f64 {
        per_s(self.written, self.wall)
    }

    /// The target scaled linearly from 100k people to those written.
    pub(crate) fn target_s(&self) -> f64 {
        TARGET_NOTICES_S * self.written as f64 / NOTICES_TARGET_PEOPLE as f64
    }

    pub(crate) fn pass(&self) -> bool {
        self.written > 0 && self.wall.as_secs_f64() <= self.target_s()
    }
}

/// Everything W4 measured; `None` where skipped.
#[derive(Debug, Clone, Default)]
pub(crate) struct IncidentFigures {
    pub(crate) principal: Option<PrincipalFigures>,
    pub(crate) processor: Option<ProcessorFigures>,
    pub(crate) notices: Option<NoticeFigures>,
}

fn millis(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

/// The synthetic generator's id of member `index` (`Member::id`), without
/// generating the member.
fn member_id(index: u64) -> String {
    format!("M{:08}", index + 1)
}

/// Runs W4's parts that are not skipped.
pub(crate) fn run(
    vault: &Vault,
    generator: &Generator,
    options: &Options<'_>,
    log: &dyn Fn(&str),
) -> anyhow::Result<IncidentFigures> {
    let mut figures = IncidentFigures::default();
    if options.exposure_events == 0 && options.processor_subjects == 0 && options.notice_people == 0
    {
        return Ok(figures);
    }
    fs::create_dir_all(options.dir)?;
    if options.exposure_events > 0 {
        figures.principal = Some(principal_scope(vault, generator, options, log)?);
    }
    if options.processor_subjects > 0 {
        log(&format!(
            "W4b: exporting {} members to processor {PROCESSOR} …",
            options.processor_subjects
        ));
        let export = export(vault, options, PROCESSOR, 0, options.processor_subjects)?;
        log(&format!(
            "  {} rows and {} canaries in {:.2} s",
            export.rows,
            export.canaries,
            export.wall.as_secs_f64()
        ));
        let incident = timed_incident(vault, &format!("processor:{PROCESSOR}"), log)?;
        figures.processor = Some(ProcessorFigures { export, incident });
    }
    if options.notice_people > 0 {
        figures.notices = Some(notices(vault, options, log)?);
    }
    Ok(figures)
}

/// W4a: appends the synthetic reads, then opens and reports the incident.
fn principal_scope(
    vault: &Vault,
    generator: &Generator,
    options: &Options<'_>,
    log: &dyn Fn(&str),
) -> anyhow::Result<PrincipalFigures> {
    let n = options.exposure_events;
    let operator = vault.local_operator();
    let info = vault.info(&operator)?;
    let vault_id = VaultId::parse(&info.vault_id)
        .map_err(|e| anyhow::anyhow!("the vault id `{}` {e}", info.vault_id))?;
    let store = SqliteLedger::open(
        &vault.dir().join("ledger.sqlite"),
        &vault_id,
        SqliteOptions::default(),
    )?;
    let mut names: Vec<String> = principals::roster(generator, options.members)?
        .into_iter()
        .map(|p| p.name)
        .filter(|name| name != QUERIED)
        .collect();
    names.push("admin".to_owned());
    let others = names.len() as u64;
    let mut rng = SplitMix64::new(options.seed ^ 0x7734_6578_706f);
    let every = (n * 8 / 10).div_ceil(9_500).max(1);
    let batch = (n / 20).clamp(1, POPULATE_BATCH);
    let base = store.size()?;
    log(&format!(
        "W4a: appending {n} reads to the vault's ledger in batches of {batch} …"
    ));
    let start = Instant::now();
    let mut frontier: Option<Frontier> = None;
    let mut time = String::new();
    let mut done = 0u64;
    while done < n {
        let count = (n - done).min(batch);
        let events: Vec<Event> = (done..done + count)
            .map(|i| {
                let who = if i % every == 0 {
                    QUERIED.to_owned()
                } else {
                    names[rng.below(others) as usize].clone()
                };
                let subject = member_id(rng.below(options.members));
                let new = options.template.event_for(who, subject, &mut rng);
                Event {
                    seq: 0,
                    time: String::new(),
                    principal: new.principal,
                    auth: new.auth,
                    action: new.action,
                    purpose: new.purpose,
                    subjects: new.subjects,
                    fields_released: new.fields_released,
                    fields_denied: new.fields_denied,
                    outcome: new.outcome,
                    reason: new.reason,
                    request_id: new.request_id,
                    client: new.client,
                }
            })
            .collect();
        // Each batch a millisecond of its own, at least.
        while time >= format_time(OffsetDateTime::now_utc()) {
            std::thread::sleep(Duration::from_millis(1));
        }
        (frontier, time) = append(&store, events, frontier.take()).map(|(f, t)| (Some(f), t))?;
        done += count;
        if done % (n / 4).max(1) < count && done < n {
            log(&format!(
                "  {done} events, {:.0}/s so far",
                per_s(done, start.elapsed())
            ));
        }
    }
    let populate_wall = start.elapsed();
    let ledger_size = store.size()?;
    log(&format!(
        "  {n} events in {:.2} s ({:.0}/s); the ledger holds {ledger_size}",
        populate_wall.as_secs_f64(),
        per_s(n, populate_wall)
    ));
    let time_of = |seq: u64| -> anyhow::Result<String> {
        Ok(store
            .event(seq)?
            .ok_or_else(|| anyhow::anyhow!("event {seq} is missing"))?
            .time)
    };
    let scope = format!(
        "principal:{QUERIED},window:{}..{}",
        time_of(base + n / 10)?,
        time_of(base + n - n / 10)?
    );
    drop(store);
    Ok(PrincipalFigures {
        appended: n,
        batch,
        ledger_size,
        populate_wall,
        incident: timed_incident(vault, &scope, log)?,
    })
}

/// Appends `events` in one transaction after whatever the ledger holds,
/// with the time now (or the last event's, if later), their tree nodes and
/// no head; returns the tree's frontier after them, and their time.
fn append(
    store: &SqliteLedger,
    events: Vec<Event>,
    cached: Option<Frontier>,
) -> anyhow::Result<(Frontier, String)> {
    let mut pending = Some(events);
    let mut after: Option<(Frontier, String)> = None;
    store.append(&mut |state: LogState<'_>| {
        let mut events = pending.take().ok_or("the store asked for a batch twice")?;
        let mut frontier = match &cached {
            Some(f) if f.size() == state.size => f.clone(),
            _ => Frontier::load(state.tree, state.size)?,
        };
        let now = format_time(OffsetDateTime::now_utc());
        let time = match state.last_time {
            Some(last) if last > now.as_str() => last.to_owned(),
            _ => now,
        };
        let mut batch = AppendBatch::default();
        for (seq, mut event) in (state.size..).zip(events.drain(..)) {
            event.seq = seq;
            event.time.clone_from(&time);
            let leaf_hash = event.leaf_hash();
            frontier.append_reporting(leaf_hash, |node| {
                if node.level > 0 {
                    batch.nodes.push(node);
                }
            });
            batch.events.push(AppendedEvent { event, leaf_hash });
        }
        after = Some((frontier, time));
        Ok::<_, BoxError>(batch)
    })?;
    after.ok_or_else(|| anyhow::anyhow!("the ledger committed without building the batch"))
}

/// Opens an incident with one scope, aware now, then times its report.
fn timed_incident(vault: &Vault, scope: &str, log: &dyn Fn(&str)) -> anyhow::Result<Timed> {
    let operator = vault.local_operator();
    log(&format!("W4: opening an incident scoped {scope} …"));
    let t0 = Instant::now();
    let record = vault.open_incident(
        &operator,
        &IncidentOpening {
            title: format!("bench: {scope}"),
            aware_at: format_time(OffsetDateTime::now_utc()),
            scopes: vec![scope.to_owned()],
            ..IncidentOpening::default()
        },
    )?;
    let open_ms = millis(t0);
    let id = record.id.to_string();
    let mut report_ms = Vec::with_capacity(REPORT_RUNS);
    let mut found = None;
    for _ in 0..REPORT_RUNS {
        let t0 = Instant::now();
        let report = vault.incident_report(&operator, &id)?;
        report_ms.push(millis(t0));
        let exposure = &report.exposure;
        found = Some((exposure.subjects.len() as u64, exposure.events));
    }
    let (subjects, events) = found.unwrap_or_default();
    anyhow::ensure!(subjects > 0, "incident {id} ({scope}) exposed nobody");
    let timed = Timed {
        scope: scope.to_owned(),
        subjects,
        events,
        open_ms,
        report_ms,
    };
    log(&format!(
        "  {id}: {subjects} people in {events} events; opened in {open_ms:.1} ms, report median {:.1} ms",
        timed.median_ms()
    ));
    Ok(timed)
}

/// Exports `count` members spread over the vault, the `offset`-th of every
/// stride, to `processor` (registered first) as a file in W4's directory.
fn export(
    vault: &Vault,
    options: &Options<'_>,
    processor: &str,
    offset: u64,
    count: u64,
) -> anyhow::Result<ExportFigures> {
    let operator = vault.local_operator();
    vault.add_processor(
        &operator,
        &NewProcessor {
            name: processor.to_owned(),
            contact: format!("dpo@{processor}.example"),
            contract_ref: format!("{processor}/bench"),
            purposes: vec![EXPORT_PURPOSE.to_owned()],
        },
    )?;
    let stride = (options.members / count.max(1)).max(1);
    let ids = (0..count)
        .map(|k| {
            let index = (k * stride + offset % stride) % options.members.max(1);
            SubjectId::parse(&member_id(index))
                .map_err(|e| anyhow::anyhow!("member id {index}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let file_name = format!("export-{processor}.csv");
    let path = options.dir.join(&file_name);
    let mut out = std::io::BufWriter::new(File::create_new(&path)?);
    let caller = vault.local_operator().with_purpose(Some(EXPORT_PURPOSE));
    let t0 = Instant::now();
    let report = vault.export_to_processor(
        &caller,
        &mut out,
        &ProcessorExport {
            processor: processor.to_owned(),
            request: ExportRequest {
                selection: FieldSelection::Only(
                    EXPORT_FIELDS.iter().map(|&f| f.to_owned()).collect(),
                ),
                filters: Vec::new(),
                ids,
            },
            file_name: Some(file_name),
            canaries: None,
        },
    )?;
    out.flush()?;
    let wall = t0.elapsed();
    Ok(ExportFigures {
        id: report.id.to_string(),
        rows: report.report.rows,
        canaries: report.canaries,
        bytes: fs::metadata(&path).map_or(0, |m| m.len()),
        wall,
    })
}

/// Exports the notices' people, opens an incident on that export, and
/// writes its notices.
fn notices(
    vault: &Vault,
    options: &Options<'_>,
    log: &dyn Fn(&str),
) -> anyhow::Result<NoticeFigures> {
    let people = options.notice_people;
    log(&format!(
        "W4 notices: exporting {people} members to processor {NOTICES_PROCESSOR} …"
    ));
    // Other members than W4b's where the vault has room: the next of
    // every stride.
    let export = export(vault, options, NOTICES_PROCESSOR, 1, people)?;
    let operator = vault.local_operator();
    let record = vault.open_incident(
        &operator,
        &IncidentOpening {
            title: format!("bench: notices for export {}", export.id),
            aware_at: format_time(OffsetDateTime::now_utc()),
            scopes: vec![format!("export:{}", export.id)],
            ..IncidentOpening::default()
        },
    )?;
    let incident = record.id.to_string();
    let out = options.dir.join("notices");
    fs::DirBuilder::new().mode(0o700).create(&out)?;
    log(&format!(
        "W4 notices: writing the notices of {incident} to {} …",
        out.display()
    ));
    let caller = vault.local_operator().with_purpose(Some(BREACH_PURPOSE));
    let mut sink = NoticeFiles {
        dir: out.clone(),
        merge: None,
        bytes: 0,
    };
    let t0 = Instant::now();
    let result = vault.incident_notices(&caller, &incident, &mut sink);
    let merge = sink.merge.take().map(MailMerge::finish).transpose();
    let wall = t0.elapsed();
    let summary = result?;
    merge?;
    let bytes = sink.bytes + fs::metadata(out.join(MAIL_MERGE_FILE)).map_or(0, |m| m.len());
    anyhow::ensure!(summary.written > 0, "incident {incident} wrote no notices");
    log(&format!(
        "  {} notices in {:.2} s ({:.0}/s)",
        summary.written,
        wall.as_secs_f64(),
        per_s(summary.written, wall)
    ));
    Ok(NoticeFigures {
        export,
        incident,
        written: summary.written,
        not_permitted: summary.not_permitted,
        erased: summary.erased,
        unreachable: summary.unreachable,
        bytes,
        wall,
    })
}

/// Writes each letter to `DIR/<membership number>.txt` and a row to
/// `DIR/mail-merge.csv`, new files readable by the owner only, as `custos
/// incident notices` does.
#[derive(Debug)]
struct NoticeFiles {
    dir: PathBuf,
    merge: Option<MailMerge<File>>,
    bytes: u64,
}

impl NoticeFiles {
    fn create(&self, name: &str) -> Result<File, EngineError> {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.dir.join(name))
            .map_err(|source| EngineError::Io {
                what: format!("cannot create {name} in `{}`", self.dir.display()),
                source,
            })
    }
}

impl NoticeSink for NoticeFiles {
    fn start(&mut self, run: &NoticeRun) -> Result<(), EngineError> {
        let file = self.create(MAIL_MERGE_FILE)?;
        self.merge = Some(MailMerge::new(file, run, &["notice_file"])?);
        Ok(())
    }

    fn notice(&mut self, notice: &Notice<'_>) -> Result<(), EngineError> {
        let name = format!("{}.txt", notice.subject.as_str());
        self.create(&name)?
            .write_all(notice.text.as_bytes())
            .map_err(|source| EngineError::Io {
                what: format!("cannot write {name} in `{}`", self.dir.display()),
                source,
            })?;
        self.bytes += notice.text.len() as u64;
        if let Some(merge) = &mut self.merge {
            merge.row(notice, &[&name])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn member_ids_are_the_generators() {
        let generator = Generator::new(1);
        for index in [0, 1, 649, 19_999, 1_234_567] {
            assert_eq!(member_id(index), generator.member(index).id());
        }
    }

    #[test]
    fn a_small_incident_runs_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let members = 2_000;
        let (_, init) = crate::import::run(dir.path(), members, 1, &|_| {}).unwrap();
        let options = Options {
            dir: &super::dir(dir.path()),
            exposure_events: 5_000,
            processor_subjects: 500,
            notice_people: 100,
            members,
            seed: 1,
            template: Template::synthetic(),
        };
        let generator = Generator::new(1);
        let figures = run(&init.vault, &generator, &options, &|_| {}).unwrap();
        let principal = figures.principal.unwrap();
        assert_eq!(principal.appended, 5_000);
        assert!(principal.incident.events > 0);
        assert!(principal.incident.events <= PRINCIPAL_MAX_MATCHES);
        assert_eq!(principal.incident.report_ms.len(), REPORT_RUNS);
        let processor = figures.processor.unwrap();
        assert_eq!(processor.export.rows, 500);
        assert!(processor.incident.subjects >= 500);
        let notices = figures.notices.unwrap();
        assert_eq!(notices.written, 100);
        assert_eq!(notices.not_permitted, 0);
        let letters = fs::read_dir(options.dir.join("notices")).unwrap().count();
        assert_eq!(letters, 100 + 1);
        // The appended events keep the vault's ledger whole.
        let report = init
            .vault
            .ledger_verify(&init.vault.local_operator(), None)
            .unwrap();
        assert!(report.problem.is_none(), "{:?}", report.problem);
    }
}
