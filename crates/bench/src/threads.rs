//! The in-process timed loop shared by the read runs (`read.rs`) and the
//! ledger append runs (`ledger.rs`): scoped threads each doing one operation
//! at a time for a warm-up (not counted) then a measured window.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::machine;
use crate::stats::Run;

/// A bound on the operations of one thread, so that a loop always ends.
const MAX_OPS_PER_THREAD: u64 = 200_000_000;

/// The shape of one timed run on threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Threads<'a> {
    /// How many threads.
    pub(crate) count: usize,
    /// How long the threads run before the window, not counted.
    pub(crate) warmup: Duration,
    /// The measured window.
    pub(crate) duration: Duration,
    /// Thread `t` is named `{name}-{t}`.
    pub(crate) name: &'a str,
    /// One thread as errors name it, as in "a reader thread".
    pub(crate) what: &'a str,
    /// The stack size of each thread, or the default.
    pub(crate) stack_size: Option<usize>,
    /// How many latency samples each thread makes room for up front.
    pub(crate) samples_capacity: usize,
}

/// Runs `threads.count` threads for the warm-up then the window. Thread `t`
/// calls `make(t)` once for its operation, then calls that operation one
/// time after another until the window ends (or `MAX_OPS_PER_THREAD`).
///
/// Counted operations are those that started inside the window: their
/// latencies are the samples; errors are counted whenever they happen, with
/// the first one kept. The CPU time is taken from when thread 0 enters the
/// window until all threads have ended.
pub(crate) fn timed<F, O, T, E>(threads: &Threads<'_>, make: &F) -> anyhow::Result<Run>
where
    F: Fn(usize) -> O + Sync,
    O: FnMut() -> Result<T, E>,
    E: ToString,
{
    let start = Instant::now();
    let measure_from = start + threads.warmup;
    let end = measure_from + threads.duration;
    let cpu_before = std::sync::Mutex::new(None);
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.count)
            .map(|t| {
                let cpu_before = &cpu_before;
                let mut builder = std::thread::Builder::new().name(format!("{}-{t}", threads.name));
                if let Some(size) = threads.stack_size {
                    builder = builder.stack_size(size);
                }
                builder.spawn_scoped(scope, move || {
                    let mut op = make(t);
                    let mut samples = Vec::with_capacity(threads.samples_capacity);
                    let mut errors = 0u64;
                    let mut first_error = None;
                    let mut ops = 0u64;
                    let mut measuring = false;
                    while ops < MAX_OPS_PER_THREAD {
                        let t0 = Instant::now();
                        if t0 >= end {
                            break;
                        }
                        if !measuring && t0 >= measure_from {
                            measuring = true;
                            if t == 0
                                && let Ok(mut slot) = cpu_before.lock()
                            {
                                *slot = machine::cpu_time();
                            }
                        }
                        let result = op();
                        let nanos = t0.elapsed().as_nanos();
                        ops += 1;
                        match black_box(result) {
                            Ok(_) if measuring => {
                                samples.push(u64::try_from(nanos).unwrap_or(u64::MAX));
                            }
                            Ok(_) => {}
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                    (samples, errors, first_error)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| match w {
                Ok(handle) => handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("{} panicked", threads.what)),
                Err(e) => Err(anyhow::anyhow!("cannot start {}: {e}", threads.what)),
            })
            .collect::<Vec<_>>()
    });
    let cpu = machine::cpu_since(cpu_before.into_inner().unwrap_or(None));
    let mut samples = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for result in results {
        let (s, e, f) = result?;
        samples.extend(s);
        errors += e;
        first_error = first_error.or(f);
    }
    let mut run = Run::from_samples(samples, errors, first_error, threads.duration);
    run.cpu = cpu;
    Ok(run)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn shape(count: usize) -> Threads<'static> {
        Threads {
            count,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(50),
            name: "bench-test",
            what: "a test thread",
            stack_size: Some(256 * 1024),
            samples_capacity: 16,
        }
    }

    #[test]
    fn counts_samples_and_errors_from_every_thread() {
        let run = timed(&shape(3), &|t| {
            let mut i = 0u64;
            move || {
                i += 1;
                if t == 1 && i.is_multiple_of(2) {
                    Err(format!("thread {t} op {i}"))
                } else {
                    Ok(i)
                }
            }
        })
        .unwrap();
        assert!(run.ops > 0);
        assert!(run.errors > 0);
        assert_eq!(run.elapsed, Duration::from_millis(50));
        assert!(
            run.first_error
                .as_deref()
                .unwrap()
                .starts_with("thread 1 op ")
        );
    }

    #[test]
    fn a_panicking_thread_is_an_error() {
        let result = timed(&shape(2), &|t| {
            move || -> Result<(), String> {
                assert!(t != 1, "boom");
                Ok(())
            }
        });
        let message = result.unwrap_err().to_string();
        assert_eq!(message, "a test thread panicked");
    }
}
