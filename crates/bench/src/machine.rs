//! The machine: cores, CPU model, the work dir's fdatasync rate, and the
//! process's memory and CPU time from /proc.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Linux reports CPU time in /proc in units of USER_HZ, which is 100 on
/// every mainstream architecture.
const USER_HZ: f64 = 100.0;

/// What the report says about the machine.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) nproc: usize,
    pub(crate) cpu_model: String,
    pub(crate) memory_total_mb: Option<u64>,
    pub(crate) work_dir: String,
    pub(crate) fdatasync_per_s: f64,
    pub(crate) fdatasync_mean_us: f64,
    /// The 1-minute load average before the bench started: other work on
    /// these shared cores shows here.
    pub(crate) load_average_before: Option<f64>,
}

/// Probes the machine; the fdatasync loop runs for about `sync_for`.
pub(crate) fn probe(work_dir: &Path, sync_for: Duration) -> anyhow::Result<Machine> {
    let load_average_before = load_average();
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu_model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| cpu_model(&text))
        .unwrap_or_else(|| "unknown".to_owned());
    let memory_total_mb = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| status_kib(&text, "MemTotal"))
        .map(|kib| kib / 1024);
    let (syncs, elapsed) = fdatasync_rate(work_dir, sync_for)?;
    let secs = elapsed.as_secs_f64();
    Ok(Machine {
        nproc,
        cpu_model,
        memory_total_mb,
        work_dir: work_dir.display().to_string(),
        fdatasync_per_s: if secs > 0.0 { syncs as f64 / secs } else { 0.0 },
        fdatasync_mean_us: if syncs > 0 {
            secs * 1e6 / syncs as f64
        } else {
            0.0
        },
        load_average_before,
    })
}

/// The first `model name` in /proc/cpuinfo text.
pub(crate) fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// The 1-minute load average, from /proc/loadavg.
pub(crate) fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Rewrites one 4 KiB block and `fdatasync`s it in a loop for about
/// `duration` (at least 3 times), like pg_test_fsync's single-write test.
fn fdatasync_rate(dir: &Path, duration: Duration) -> anyhow::Result<(u64, Duration)> {
    let path = dir.join("fdatasync-probe");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", path.display()))?;
    let mut block = [0u8; 4096];
    file.write_all_at(&block, 0)?;
    file.sync_all()?;
    let start = Instant::now();
    let mut syncs = 0u64;
    while syncs < 3 || (start.elapsed() < duration && syncs < 1_000_000) {
        block[..8].copy_from_slice(&syncs.to_le_bytes());
        file.write_all_at(&block, 0)?;
        file.sync_data()?;
        syncs += 1;
    }
    let elapsed = start.elapsed();
    drop(file);
    let _ = fs::remove_file(&path);
    Ok((syncs, elapsed))
}

/// A `kB` value such as `VmHWM` from /proc/self/status (or /proc/meminfo).
pub(crate) fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (k, rest) = line.split_once(':')?;
        if k != key {
            return None;
        }
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// This process's `VmHWM` (peak resident set) or `VmRSS`, in KiB.
pub(crate) fn own_memory_kib(key: &str) -> Option<u64> {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| status_kib(&text, key))
}

/// Resets the peak RSS (`VmHWM`) to the current RSS.
pub(crate) fn reset_peak_rss() -> Result<(), String> {
    fs::write("/proc/self/clear_refs", "5")
        .map_err(|e| format!("cannot reset the peak RSS (/proc/self/clear_refs: {e})"))
}

/// User plus system CPU time of this process (all threads), from the text of
/// /proc/self/stat.
pub(crate) fn parse_cpu_time(stat: &str) -> Option<Duration> {
    // The command name, field 2, is in parentheses and may hold spaces or
    // parentheses; the fields after the last `)` start at field 3 (state).
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / USER_HZ))
}

/// This process's CPU time so far.
pub(crate) fn cpu_time() -> Option<Duration> {
    fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|text| parse_cpu_time(&text))
}

/// CPU time used since `before`, if both readings exist.
pub(crate) fn cpu_since(before: Option<Duration>) -> Option<Duration> {
    Some(cpu_time()?.saturating_sub(before?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpu_model() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nmodel\t: 85\n";
        assert_eq!(
            cpu_model(text).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn reads_status_values() {
        let text = "Name:\tcustos\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  1000 kB\n";
        assert_eq!(status_kib(text, "VmHWM"), Some(123_456));
        assert_eq!(status_kib(text, "VmRSS"), Some(1000));
        assert_eq!(status_kib(text, "VmSwap"), None);
    }

    #[test]
    fn parses_cpu_time_after_an_awkward_command_name() {
        // Fields 14 and 15 (utime, stime) are 250 and 50 ticks.
        let stat = "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_secs(3)));
        assert_eq!(parse_cpu_time("1234 (x) S 1 2"), None);
    }

    #[test]
    fn measures_fdatasync() {
        let dir = tempfile::tempdir().unwrap();
        let (syncs, elapsed) = fdatasync_rate(dir.path(), Duration::ZERO).unwrap();
        assert!(syncs >= 3);
        assert!(elapsed > Duration::ZERO);
        assert!(!dir.path().join("fdatasync-probe").exists());
    }
}
