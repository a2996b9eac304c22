//! Custos side by side with the PostgreSQL peer stack and the unprotected
//! floor: W2 (audited read) and W3 (audited update) at the same
//! concurrencies, driven by the same load generator, with the ratios
//! PERFORMANCE.md asks for and the charts of throughput and p99 against
//! concurrency.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::load::LoadRun;
use crate::plot::{Chart, Series};
use crate::report::{ratio, ratio_text, round2, thousands};

/// The concurrencies every system is loaded at.
pub(crate) const CONNECTIONS: [usize; 4] = [1, 8, 32, 64];
/// Where the HTTP targets and the floor goal are judged.
pub(crate) const JUDGED_AT: usize = 64;
/// PERFORMANCE.md: Custos does at least 5× the peer's audited reads.
pub(crate) const GOAL_READS_VS_PEER: f64 = 5.0;
/// PERFORMANCE.md: security costs at most a fifth of the floor.
pub(crate) const GOAL_VS_FLOOR: f64 = 0.8;

/// One workload's runs, by system and concurrency; a system that was not
/// measured has no points.
#[derive(Debug, Clone, Default)]
pub(crate) struct Curves {
    pub(crate) custos: Vec<(usize, LoadRun)>,
    pub(crate) peer: Vec<(usize, LoadRun)>,
    pub(crate) floor: Vec<(usize, LoadRun)>,
}

/// Which workload a set of curves is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Read,
    Update,
}

impl Workload {
    fn key(self) -> &'static str {
        match self {
            Self::Read => "w2",
            Self::Update => "w3",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Read => "W2 audited read (10 fields)",
            Self::Update => "W3 audited update (2 fields)",
        }
    }
}

/// W2 and W3 for the three systems.
#[derive(Debug, Clone, Default)]
pub(crate) struct Comparison {
    pub(crate) read: Curves,
    pub(crate) update: Curves,
}

/// The run of `points` at `n` connections, if measured.
pub(crate) fn at(points: &[(usize, LoadRun)], n: usize) -> Option<&LoadRun> {
    points.iter().find(|(c, _)| *c == n).map(|(_, run)| run)
}

/// The highest throughput over all concurrencies.
fn peak(points: &[(usize, LoadRun)]) -> Option<(usize, f64)> {
    points
        .iter()
        .map(|(n, r)| (*n, r.run.throughput()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn throughput_at(points: &[(usize, LoadRun)], n: usize) -> Option<f64> {
    at(points, n).map(|r| r.run.throughput())
}

/// One ratio of the comparison: a stable key, a label, the value and the
/// goal it is judged against, if any.
#[derive(Debug, Clone)]
pub(crate) struct Ratio {
    pub(crate) key: String,
    pub(crate) label: String,
    pub(crate) value: Option<f64>,
    pub(crate) goal: Option<f64>,
}

impl Ratio {
    /// Whether the goal is met; `None` without a goal or a value.
    pub(crate) fn pass(&self) -> Option<bool> {
        Some(self.value? >= self.goal?)
    }
}

impl Curves {
    fn of(&self, system: System) -> &[(usize, LoadRun)] {
        match system {
            System::Custos => &self.custos,
            System::Peer => &self.peer,
            System::Floor => &self.floor,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum System {
    Custos,
    Peer,
    Floor,
}

impl System {
    const ALL: [Self; 3] = [Self::Custos, Self::Peer, Self::Floor];

    fn name(self) -> &'static str {
        match self {
            Self::Custos => "Custos",
            Self::Peer => "PostgreSQL peer",
            Self::Floor => "floor",
        }
    }
}

impl Comparison {
    fn curves(&self, workload: Workload) -> &Curves {
        match workload {
            Workload::Read => &self.read,
            Workload::Update => &self.update,
        }
    }

    /// The ratios, W2 then W3: Custos over the peer at its peak and at
    /// each concurrency, and Custos over the floor at each concurrency.
    pub(crate) fn ratios(&self) -> Vec<Ratio> {
        let mut out = Vec::new();
        for workload in [Workload::Read, Workload::Update] {
            let curves = self.curves(workload);
            let key = workload.key();
            let (custos_peak, peer_peak) = (peak(&curves.custos), peak(&curves.peer));
            out.push(Ratio {
                key: format!("{key}_custos_peak_vs_peer_peak"),
                label: format!(
                    "{key}: Custos's peak / the peer's peak ({} at {} vs {} at {} connections)",
                    peak_text(custos_peak),
                    custos_peak.map_or(0, |p| p.0),
                    peak_text(peer_peak),
                    peer_peak.map_or(0, |p| p.0),
                ),
                value: match (custos_peak, peer_peak) {
                    (Some(c), Some(p)) => ratio(c.1, p.1),
                    _ => None,
                },
                goal: (workload == Workload::Read).then_some(GOAL_READS_VS_PEER),
            });
            for n in CONNECTIONS {
                let custos = throughput_at(&curves.custos, n);
                for (other, name, goal) in [
                    (&curves.peer, "peer", None),
                    (
                        &curves.floor,
                        "floor",
                        (workload == Workload::Read && n == JUDGED_AT).then_some(GOAL_VS_FLOOR),
                    ),
                ] {
                    let value = match (custos, throughput_at(other, n)) {
                        (Some(c), Some(o)) => ratio(c, o),
                        _ => None,
                    };
                    out.push(Ratio {
                        key: format!("{key}_custos_vs_{name}_{n}"),
                        label: format!("{key}: Custos / {name} at {n} connections"),
                        value,
                        goal,
                    });
                }
            }
        }
        out
    }

    /// A Markdown table of one workload: throughput and p99 of each system
    /// at each concurrency, and Custos's ratios.
    pub(crate) fn markdown(&self, workload: Workload) -> String {
        let curves = self.curves(workload);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| connections | Custos /s | Custos p99 | peer /s | peer p99 | floor /s | floor p99 | Custos / peer | Custos / floor |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for n in CONNECTIONS {
            let cell = |points: &[(usize, LoadRun)]| match at(points, n) {
                Some(r) => (
                    thousands(r.run.throughput()),
                    format!("{:.1} ms", r.run.p99_us() / 1_000.0),
                ),
                None => ("-".to_owned(), "-".to_owned()),
            };
            let (c, cp) = cell(&curves.custos);
            let (p, pp) = cell(&curves.peer);
            let (f, fp) = cell(&curves.floor);
            let versus = |other: &[(usize, LoadRun)]| {
                ratio_text(
                    match (throughput_at(&curves.custos, n), throughput_at(other, n)) {
                        (Some(a), Some(b)) => ratio(a, b),
                        _ => None,
                    },
                )
            };
            let _ = writeln!(
                out,
                "| {n} | {c} | {cp} | {p} | {pp} | {f} | {fp} | {} | {} |",
                versus(&curves.peer),
                versus(&curves.floor)
            );
        }
        out
    }

    /// The charts: throughput and p99 against concurrency, for W2 and W3,
    /// each with the file-name suffix it is written under.
    pub(crate) fn charts(&self) -> Vec<(String, Chart)> {
        let mut out = Vec::new();
        for workload in [Workload::Read, Workload::Update] {
            let curves = self.curves(workload);
            let series = |value: fn(&LoadRun) -> f64| -> Vec<Series> {
                System::ALL
                    .iter()
                    .filter(|s| !curves.of(**s).is_empty())
                    .map(|s| Series {
                        name: s.name().to_owned(),
                        points: curves
                            .of(*s)
                            .iter()
                            .map(|(n, r)| (*n as f64, value(r)))
                            .collect(),
                    })
                    .collect()
            };
            out.push((
                format!("{}-throughput", workload.key()),
                Chart {
                    title: format!("{}: throughput", workload.title()),
                    x_label: "connections".to_owned(),
                    y_label: "operations per second".to_owned(),
                    series: series(|r| r.run.throughput()),
                    log_x: true,
                    log_y: false,
                },
            ));
            out.push((
                format!("{}-p99", workload.key()),
                Chart {
                    title: format!("{}: p99 latency", workload.title()),
                    x_label: "connections".to_owned(),
                    y_label: "p99 latency (ms)".to_owned(),
                    series: series(|r| r.run.p99_us() / 1_000.0),
                    log_x: true,
                    log_y: true,
                },
            ));
        }
        out
    }

    /// Every run with a label, for the report's list of errors.
    pub(crate) fn labelled_runs(&self) -> impl Iterator<Item = (String, &crate::stats::Run)> {
        [Workload::Read, Workload::Update]
            .into_iter()
            .flat_map(move |workload| {
                System::ALL.into_iter().flat_map(move |system| {
                    self.curves(workload).of(system).iter().map(move |(n, r)| {
                        (
                            format!("{} {} HTTP, {n} connections", workload.key(), system.name()),
                            &r.run,
                        )
                    })
                })
            })
    }

    /// The JSON form: each system's runs by workload, and the ratios.
    pub(crate) fn json(&self) -> Value {
        let runs = |points: &[(usize, LoadRun)]| -> Vec<Value> {
            points
                .iter()
                .map(|(n, r)| {
                    json!({
                        "connections": n,
                        "throughput_per_s": r.run.throughput().round(),
                        "median_us": round2(r.run.median_us()),
                        "p99_us": round2(r.run.p99_us()),
                        "ops": r.run.ops,
                        "errors": r.run.errors,
                        "first_error": r.run.first_error,
                        "mean_body_bytes": r.mean_body_bytes.round(),
                    })
                })
                .collect()
        };
        let workload = |c: &Curves| {
            json!({
                "custos": runs(&c.custos),
                "peer": runs(&c.peer),
                "floor": runs(&c.floor),
            })
        };
        let ratios: serde_json::Map<String, Value> = self
            .ratios()
            .into_iter()
            .map(|r| {
                (
                    r.key.clone(),
                    json!({ "value": r.value.map(round2), "goal": r.goal, "pass": r.pass() }),
                )
            })
            .collect();
        json!({
            "w2_read": workload(&self.read),
            "w3_update": workload(&self.update),
            "ratios": ratios,
        })
    }
}

fn peak_text(p: Option<(usize, f64)>) -> String {
    p.map_or_else(|| "n/a".to_owned(), |(_, t)| format!("{}/s", thousands(t)))
}
