//! W2's policy decision on its own, single-threaded, outside any vault:
//! `custos_policy::Policies::default_for` the default party schema, 1,000
//! prepared principals (650 representatives, 200 volunteers, 50 staff and
//! 100 others) and 4,096 synthetic members with their scope attributes.
//!
//! The request is W2's: a representative reading ten fields of a member of
//! their constituency for casework. Decisions are field by field, so the
//! engine asks Cedar for one decision per field; "one policy decision", the
//! unit of the 20 µs target (and of the design sketch's "about 9 µs per
//! decision"), is one of those, and the whole request is reported too. It is
//! measured
//! uncached (`decide_uncached`, the cost on a cache miss) and cached
//! (`decide` after every request was decided once, the cost on a hit: the
//! cache key, a lock and a map lookup). Each decision is timed on its own;
//! the figures are medians and p99s over a fixed count.
//!
//! The same module times one read of the store's access generation, the
//! indexed read that authentication and the re-check at release each make
//! per request.

use std::hint::black_box;
use std::time::Instant;

use custos_engine::OffsetDateTime;
use custos_model::{
    Attributes, FieldName, FieldSpec, PrincipalKind, PrincipalName, Purpose, Schema, SubjectId,
};
use custos_policy::{AccessRequest, Action, Decision, Policies, PrincipalEntity, PrincipalFacts};
use custos_synth::{COLUMNS, Generator};

use crate::principals;
use crate::stats::{MEDIAN, P99, percentile};
use crate::unaudited::Baseline;
use crate::workload::{PURPOSE, READ_FIELDS, SplitMix64};

/// The target for one decision (PERFORMANCE.md, W2's component budget).
pub(crate) const TARGET_DECISION_US: f64 = 20.0;
/// Principals prepared.
pub(crate) const PRINCIPALS: usize = 1_000;
/// Members decided on.
pub(crate) const SUBJECTS: usize = 4_096;
/// Uncached decisions timed (after one untimed pass over 256 requests).
const UNCACHED: usize = 5_000;
/// Cached decisions timed.
const CACHED: usize = 200_000;
/// Access-generation reads timed (after 1,000 untimed).
const STORE_READS: usize = 20_000;
/// How W2's requests authenticate: API tokens, without a second factor.
const AUTH: &str = "api_token";

/// Latencies of one kind of operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) count: usize,
    pub(crate) median_ns: u64,
    pub(crate) p99_ns: u64,
}

impl Timing {
    fn of(mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        Self {
            count: samples.len(),
            median_ns: percentile(&samples, MEDIAN).unwrap_or(0),
            p99_ns: percentile(&samples, P99).unwrap_or(0),
        }
    }

    pub(crate) fn median_us(&self) -> f64 {
        self.median_ns as f64 / 1_000.0
    }

    pub(crate) fn p99_us(&self) -> f64 {
        self.p99_ns as f64 / 1_000.0
    }
}

/// The figures of this module.
#[derive(Debug, Clone)]
pub(crate) struct PolicyFigures {
    pub(crate) principals: usize,
    pub(crate) subjects: usize,
    pub(crate) fields: usize,
    pub(crate) rules: usize,
    /// A whole ten-field request, without the cache.
    pub(crate) uncached: Timing,
    /// The same requests from the cache.
    pub(crate) cached: Timing,
    /// Distinct requests the cache was warmed with.
    pub(crate) cached_requests: usize,
    /// One read of the store's access generation.
    pub(crate) generation_read: Option<Timing>,
}

impl PolicyFigures {
    /// Median per field of the uncached decision, in µs.
    pub(crate) fn uncached_per_field_us(&self) -> f64 {
        self.uncached.median_us() / self.fields.max(1) as f64
    }

    /// Whether one uncached decision (one field) meets the target.
    pub(crate) fn pass(&self) -> bool {
        self.uncached.count > 0 && self.uncached_per_field_us() <= TARGET_DECISION_US
    }
}

/// The 1,000 principals: the standard roster's 650 representatives (at
/// their constituency index), 50 staff and 200 volunteers, then 100
/// others (3 processors and 97 services).
fn entities(generator: &Generator, members: u64) -> anyhow::Result<Vec<PrincipalEntity>> {
    let mut specs: Vec<principals::Spec> = principals::roster(generator, members)?
        .into_iter()
        .filter(|p| p.kind != PrincipalKind::Processor)
        .collect();
    let others = PRINCIPALS.saturating_sub(specs.len());
    for i in 0..others {
        let (kind, name) = if i < principals::PROCESSORS {
            (PrincipalKind::Processor, format!("processor-{}", i + 1))
        } else {
            (PrincipalKind::Service, format!("service-{:03}", i + 1))
        };
        specs.push(principals::Spec {
            name,
            kind,
            attributes: vec![("organisation".to_owned(), format!("org-{}", i % 7))],
        });
    }
    specs
        .iter()
        .map(|p| {
            let facts = PrincipalFacts {
                name: PrincipalName::parse(&p.name)
                    .map_err(|e| anyhow::anyhow!("principal name `{}` {e}", p.name))?,
                kind: p.kind,
                attributes: Attributes::parse_pairs(
                    p.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                )
                .map_err(|e| anyhow::anyhow!("attributes of `{}`: {e}", p.name))?,
            };
            // Version 1 for all, as if loaded at access generation 1.
            Ok(PrincipalEntity::new(facts))
        })
        .collect()
}

/// A member as the policies see it: their id and canonical scope values.
struct Subject {
    id: SubjectId,
    scope: Vec<(FieldName, String)>,
    /// The representative that reads them: their constituency's index.
    representative: usize,
}

fn subjects(
    generator: &Generator,
    schema: &Schema,
    members: u64,
    seed: u64,
) -> anyhow::Result<Vec<Subject>> {
    let mut rng = SplitMix64::new(seed);
    (0..SUBJECTS)
        .map(|_| {
            let index = rng.below(members.max(1));
            let member = generator.member(index);
            let values = member.values();
            let mut scope = Vec::new();
            for spec in schema.scope_fields() {
                let Some(column) = COLUMNS.iter().position(|&c| c == spec.name().as_str()) else {
                    continue;
                };
                let parsed = spec.parse_value(values[column]).map_err(|e| {
                    anyhow::anyhow!("member {index}'s `{}` does not parse: {e}", spec.name())
                })?;
                if let Some(value) = parsed {
                    scope.push((spec.name().clone(), value.as_str().to_owned()));
                }
            }
            Ok(Subject {
                id: SubjectId::parse(member.id())
                    .map_err(|e| anyhow::anyhow!("member id `{}` {e}", member.id()))?,
                scope,
                representative: generator.constituency_of(index),
            })
        })
        .collect()
}

fn nanos(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A W2 decision must allow every field; anything else is a broken setup
/// (or changed default policies), not a figure.
fn check(decision: &Decision, subject: &Subject) -> anyhow::Result<()> {
    if decision.is_permitted() && decision.verdicts().len() == READ_FIELDS.len() {
        return Ok(());
    }
    let denied: Vec<String> = decision
        .denials()
        .map(|(field, reason)| {
            format!(
                "{} ({reason})",
                field.map_or("(request)", FieldName::as_str)
            )
        })
        .collect();
    anyhow::bail!(
        "the default policies do not allow a representative W2's ten fields of `{}` in their constituency: denied {}",
        subject.id.as_str(),
        denied.join(", ")
    )
}

/// Runs the decision benchmarks, and the access-generation read on
/// `baseline`'s store if given.
pub(crate) fn run(
    generator: &Generator,
    members: u64,
    seed: u64,
    baseline: Option<&Baseline>,
) -> anyhow::Result<PolicyFigures> {
    let schema = Schema::default_party();
    let policies = Policies::default_for(&schema)
        .map_err(|e| anyhow::anyhow!("the default policies do not compile: {e}"))?;
    let casework = Purpose::defaults()
        .into_iter()
        .find(|p| p.name().as_str() == PURPOSE)
        .ok_or_else(|| anyhow::anyhow!("the default purposes have no `{PURPOSE}`"))?;
    let fields: Vec<&FieldSpec> = READ_FIELDS
        .iter()
        .map(|&name| {
            schema
                .field(name)
                .ok_or_else(|| anyhow::anyhow!("the default schema has no `{name}`"))
        })
        .collect::<anyhow::Result<_>>()?;
    let entities = entities(generator, members)?;
    let subjects = subjects(generator, &schema, members, seed ^ 0x706f_6c69_6379)?;
    let mut requests: Vec<AccessRequest<'_>> = Vec::with_capacity(subjects.len());
    for s in &subjects {
        let principal = entities
            .get(s.representative)
            .ok_or_else(|| anyhow::anyhow!("no representative #{}", s.representative))?;
        requests.push(AccessRequest {
            principal,
            action: Action::Read,
            subject: Some(custos_policy::SubjectFacts {
                id: &s.id,
                scope: &s.scope,
            }),
            fields: &fields,
            purpose: Some(&casework),
            mfa: false,
            auth: AUTH,
            // Set again per request below, as the engine reads the clock
            // per request.
            now: OffsetDateTime::now_utc(),
        });
    }

    // Untimed: checks the decisions and warms the allocator and caches.
    for (r, s) in requests.iter().zip(&subjects).take(256) {
        check(&policies.decide_uncached(r), s)?;
    }
    let mut samples = Vec::with_capacity(UNCACHED);
    for i in 0..UNCACHED {
        let k = i % requests.len();
        let mut one = requests[k];
        let t0 = Instant::now();
        one.now = OffsetDateTime::now_utc();
        let decision = policies.decide_uncached(&one);
        samples.push(nanos(t0));
        if !decision.is_permitted() {
            check(&decision, &subjects[k])?;
        }
        black_box(decision);
    }
    let uncached = Timing::of(samples);

    // Warms the cache with every request once, then times hits.
    for (r, s) in requests.iter().zip(&subjects) {
        check(&policies.decide(r), s)?;
    }
    let mut samples = Vec::with_capacity(CACHED);
    for i in 0..CACHED {
        let mut one = requests[i % requests.len()];
        let t0 = Instant::now();
        one.now = OffsetDateTime::now_utc();
        let decision = policies.decide(&one);
        samples.push(nanos(t0));
        black_box(decision);
    }
    let cached = Timing::of(samples);

    let generation_read = match baseline {
        Some(baseline) => {
            for _ in 0..1_000 {
                black_box(baseline.access_generation()?);
            }
            let mut samples = Vec::with_capacity(STORE_READS);
            for _ in 0..STORE_READS {
                let t0 = Instant::now();
                black_box(baseline.access_generation()?);
                samples.push(nanos(t0));
            }
            Some(Timing::of(samples))
        }
        None => None,
    };

    Ok(PolicyFigures {
        principals: entities.len(),
        subjects: subjects.len(),
        fields: fields.len(),
        rules: policies.rules().len(),
        uncached,
        cached,
        cached_requests: requests.len(),
        generation_read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_a_thousand_principals_of_the_right_kinds() {
        let generator = Generator::new(1);
        let entities = entities(&generator, 1_000).unwrap();
        assert_eq!(entities.len(), PRINCIPALS);
        let count = |kind| entities.iter().filter(|e| e.facts().kind == kind).count();
        assert_eq!(count(PrincipalKind::Representative), 650);
        assert_eq!(count(PrincipalKind::Volunteer), 200);
        assert_eq!(count(PrincipalKind::Staff), 50);
        assert_eq!(
            count(PrincipalKind::Processor) + count(PrincipalKind::Service),
            100
        );
    }

    #[test]
    fn subjects_carry_their_scope_and_their_representative() {
        let generator = Generator::new(1);
        let schema = Schema::default_party();
        let subjects = subjects(&generator, &schema, 1_000, 5).unwrap();
        assert_eq!(subjects.len(), SUBJECTS);
        let table = custos_synth::constituencies();
        for s in subjects.iter().take(50) {
            let constituency = s
                .scope
                .iter()
                .find(|(k, _)| k.as_str() == "constituency")
                .map(|(_, v)| v.as_str());
            assert_eq!(constituency, Some(table[s.representative].code.as_str()));
        }
    }
}
