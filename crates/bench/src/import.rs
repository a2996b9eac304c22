//! W1: generate the members' CSV (not timed), then import it into a new vault.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use custos_engine::{
    CsvInput, Encoding, ImportOptions, ImportProgress, InitKey, InitOptions, Initialized, Vault,
};
use custos_synth::Generator;

use crate::machine;

/// W1's target for 1M members.
pub(crate) const TARGET_SECONDS_PER_MILLION: f64 = 30.0;
/// W1's peak RSS target.
pub(crate) const TARGET_PEAK_RSS_MB: f64 = 512.0;

/// W1's figures.
#[derive(Debug, Clone)]
pub(crate) struct ImportFigures {
    pub(crate) members: u64,
    pub(crate) csv_seconds: f64,
    pub(crate) csv_bytes: u64,
    pub(crate) wall: Duration,
    /// Time from the start to the end of pass one (validation), and of pass
    /// two's last batch handed to the store; the rest is the commit.
    pub(crate) validated_after: Option<Duration>,
    pub(crate) written_after: Option<Duration>,
    pub(crate) cpu: Option<Duration>,
    pub(crate) rss_before_mb: Option<f64>,
    pub(crate) peak_rss_mb: Option<f64>,
    /// Why the peak could not be reset, if it could not: the peak then
    /// includes everything before the import.
    pub(crate) rss_reset_error: Option<String>,
    pub(crate) store_bytes: u64,
}

impl ImportFigures {
    pub(crate) fn rows_per_s(&self) -> f64 {
        crate::stats::per_s(self.members, self.wall)
    }

    /// The time target, scaled linearly from 30 s per million.
    pub(crate) fn target_seconds(&self) -> f64 {
        TARGET_SECONDS_PER_MILLION * self.members as f64 / 1e6
    }

    pub(crate) fn pass_time(&self) -> bool {
        self.wall.as_secs_f64() <= self.target_seconds()
    }

    pub(crate) fn pass_rss(&self) -> Option<bool> {
        self.peak_rss_mb.map(|mb| mb <= TARGET_PEAK_RSS_MB)
    }

    pub(crate) fn pass(&self) -> bool {
        self.pass_time() && self.pass_rss() == Some(true)
    }
}

#[derive(Debug, Default)]
struct Phases {
    validated: Option<Instant>,
    written: Option<Instant>,
}

/// Where the members' CSV is written, for the vault's import and then the
/// floor's and the peer's.
pub(crate) fn csv_path(dir: &Path) -> PathBuf {
    dir.join("members.csv")
}

/// Writes the CSV, creates a vault in `dir/vault` and imports the CSV into it.
pub(crate) fn run(
    dir: &Path,
    members: u64,
    seed: u64,
    log: &dyn Fn(&str),
) -> anyhow::Result<(ImportFigures, Initialized)> {
    let csv_path = csv_path(dir);
    log(&format!(
        "generating {members} members into {} …",
        csv_path.display()
    ));
    let start = Instant::now();
    let file = File::create(&csv_path)
        .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", csv_path.display()))?;
    Generator::new(seed).write_csv(file, members)?;
    let csv_seconds = start.elapsed().as_secs_f64();
    let csv_bytes = std::fs::metadata(&csv_path)?.len();

    let vault_dir = dir.join("vault");
    let init = Vault::init(InitOptions {
        dir: vault_dir.clone(),
        schema: None,
        key: InitKey::File { path: None },
        busy_timeout: Duration::from_secs(5),
    })?;
    let vault = &init.vault;

    let rss_reset_error = machine::reset_peak_rss().err();
    let rss_before_mb = machine::own_memory_kib("VmRSS").map(kib_to_mb);
    log(&format!("importing {members} members …"));
    let phases = Mutex::new(Phases::default());
    let progress = |p: ImportProgress| {
        if let Ok(mut phases) = phases.lock() {
            match p {
                ImportProgress::Validated(_) => phases.validated = Some(Instant::now()),
                ImportProgress::Written { .. } => phases.written = Some(Instant::now()),
            }
        }
    };
    let options = ImportOptions {
        dry_run: false,
        generate_ids: false,
        encoding: Encoding::Auto,
    };
    let cpu_before = machine::cpu_time();
    let start = Instant::now();
    let report = vault.import_csv(
        &vault.local_operator(),
        CsvInput::File(&csv_path),
        &options,
        &progress,
    )?;
    let wall = start.elapsed();
    let cpu = machine::cpu_since(cpu_before);
    let peak_rss_mb = machine::own_memory_kib("VmHWM").map(kib_to_mb);
    anyhow::ensure!(
        report.imported == members,
        "the import wrote {} subjects, expected {members}",
        report.imported
    );
    let phases = phases.into_inner().unwrap_or_default();
    let store_bytes = dir_size(&vault_dir);
    Ok((
        ImportFigures {
            members,
            csv_seconds,
            csv_bytes,
            wall,
            validated_after: phases.validated.map(|t| t.saturating_duration_since(start)),
            written_after: phases.written.map(|t| t.saturating_duration_since(start)),
            cpu,
            rss_before_mb,
            peak_rss_mb,
            rss_reset_error,
            store_bytes,
        },
        init,
    ))
}

fn kib_to_mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Bytes of the files directly in `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
