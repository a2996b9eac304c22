//! Latency statistics over per-operation samples, in nanoseconds.

use std::time::Duration;

/// Percentiles are given in hundredths of a percent, so that they are exact
/// integers: `MEDIAN` is 50 %, `P99` is 99 %.
pub(crate) const MEDIAN: u32 = 5_000;
/// The 99th percentile.
pub(crate) const P99: u32 = 9_900;

/// The nearest-rank percentile of `sorted` (ascending): the smallest sample
/// such that at least `p` hundredths of a percent of the samples are at or
/// below it. `None` for no samples or `p` above 100 %.
pub(crate) fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() || p > 10_000 {
        return None;
    }
    let n = sorted.len() as u128;
    // rank = ceil(n * p / 10000), at least 1.
    let rank = (n * u128::from(p)).div_ceil(10_000).max(1);
    let index = usize::try_from(rank - 1).ok()?;
    sorted.get(index).copied()
}

/// `n` things done in `d`, per second; 0 for no time at all.
pub(crate) fn per_s(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// The outcome of one timed throughput run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// Operations completed successfully inside the measured window.
    pub(crate) ops: u64,
    /// Operations that failed (errors, timeouts or a status other than 200).
    pub(crate) errors: u64,
    /// The first error seen, for the report.
    pub(crate) first_error: Option<String>,
    /// The measured window.
    pub(crate) elapsed: Duration,
    /// Median latency, in nanoseconds.
    pub(crate) median_ns: u64,
    /// 99th-percentile latency, in nanoseconds.
    pub(crate) p99_ns: u64,
    /// Largest latency, in nanoseconds.
    pub(crate) max_ns: u64,
    /// Process CPU time used during the run (all threads), if known.
    pub(crate) cpu: Option<Duration>,
}

impl Run {
    /// Summarises successful-operation latencies measured over `elapsed`.
    pub(crate) fn from_samples(
        mut samples: Vec<u64>,
        errors: u64,
        first_error: Option<String>,
        elapsed: Duration,
    ) -> Self {
        samples.sort_unstable();
        Self {
            ops: samples.len() as u64,
            errors,
            first_error,
            elapsed,
            median_ns: percentile(&samples, MEDIAN).unwrap_or(0),
            p99_ns: percentile(&samples, P99).unwrap_or(0),
            max_ns: samples.last().copied().unwrap_or(0),
            cpu: None,
        }
    }

    /// Successful operations per second.
    pub(crate) fn throughput(&self) -> f64 {
        per_s(self.ops, self.elapsed)
    }

    /// Average number of cores the process kept busy during the run.
    pub(crate) fn cores_busy(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        self.cpu
            .filter(|_| secs > 0.0)
            .map(|cpu| cpu.as_secs_f64() / secs)
    }

    /// Median latency in microseconds.
    pub(crate) fn median_us(&self) -> f64 {
        self.median_ns as f64 / 1_000.0
    }

    /// 99th-percentile latency in microseconds.
    pub(crate) fn p99_us(&self) -> f64 {
        self.p99_ns as f64 / 1_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[], MEDIAN), None);
        assert_eq!(percentile(&[1, 2, 3], 10_001), None);
    }

    #[test]
    fn percentile_of_one_sample_is_that_sample() {
        for p in [0, 1, MEDIAN, P99, 10_000] {
            assert_eq!(percentile(&[42], p), Some(42));
        }
    }

    #[test]
    fn nearest_rank_on_one_to_a_hundred() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, MEDIAN), Some(50));
        assert_eq!(percentile(&samples, P99), Some(99));
        assert_eq!(percentile(&samples, 10_000), Some(100));
        assert_eq!(percentile(&samples, 0), Some(1));
        assert_eq!(percentile(&samples, 1), Some(1));
        assert_eq!(percentile(&samples, 9_901), Some(100));
    }

    #[test]
    fn median_of_an_odd_count_is_the_middle() {
        assert_eq!(percentile(&[10, 20, 30, 40, 50], MEDIAN), Some(30));
        assert_eq!(percentile(&[10, 20, 30, 40], MEDIAN), Some(20));
    }

    #[test]
    fn p99_of_a_thousand_ignores_the_ten_slowest() {
        let mut samples = vec![1_000u64; 990];
        samples.extend(std::iter::repeat_n(1_000_000, 10));
        assert_eq!(percentile(&samples, P99), Some(1_000));
        samples.push(1_000_000);
        assert_eq!(percentile(&samples, P99), Some(1_000_000));
    }

    #[test]
    fn run_sorts_its_samples_and_computes_throughput() {
        let run = Run::from_samples(vec![300, 100, 200], 1, None, Duration::from_millis(1_500));
        assert_eq!(run.ops, 3);
        assert_eq!(run.median_ns, 200);
        assert_eq!(run.p99_ns, 300);
        assert_eq!(run.max_ns, 300);
        assert!((run.throughput() - 2.0).abs() < 1e-9);
        assert!((run.median_us() - 0.2).abs() < 1e-9);
    }
}
