//! PERFORMANCE.md's standard principals, made after the import through the
//! engine as the local operator, as an administrator would with `custos
//! principal add` and `custos token create`: 650 representatives (one per
//! constituency), 50 staff of the membership team, 200 volunteers in
//! members' branches and 3 processors, next to the `admin` that `init`
//! made. Each gets an API token; W2 reads with the representatives', W3
//! updates with the staff's.
//!
//! The setup is timed as an informational figure. Every principal added
//! moves the vault's access generation, so the next call reloads every
//! principal: all principals are added first and the tokens created after,
//! so that the growth of that reload shows in the add times alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use custos_engine::Vault;
use custos_model::PrincipalKind;
use custos_synth::{COLUMNS, Generator, constituencies};

use crate::stats::{MEDIAN, percentile};

/// Staff, all of the membership team.
pub(crate) const STAFF: usize = 50;
/// Volunteers.
pub(crate) const VOLUNTEERS: usize = 200;
/// Processors.
pub(crate) const PROCESSORS: usize = 3;
/// How many add calls at each end of the setup are compared.
const ENDS: usize = 50;

/// One principal to make: name, kind and attributes.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) kind: PrincipalKind,
    pub(crate) attributes: Vec<(String, String)>,
}

fn spec(name: String, kind: PrincipalKind, attributes: &[(&str, &str)]) -> Spec {
    Spec {
        name,
        kind,
        attributes: attributes
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

/// The name of the representative of the constituency with this code.
pub(crate) fn representative_name(code: &str) -> String {
    format!("rep-{}", code.to_ascii_lowercase())
}

/// The standard principals other than `admin`: representatives first, in
/// constituency order (so representative `c` is at index `c`), then staff,
/// volunteers and processors. Volunteers take the branches of members
/// 0, 1, 2… (of `members`), which spreads them over the constituencies.
pub(crate) fn roster(generator: &Generator, members: u64) -> anyhow::Result<Vec<Spec>> {
    let branch_column = COLUMNS
        .iter()
        .position(|&c| c == "branch")
        .ok_or_else(|| anyhow::anyhow!("the generator has no `branch` column"))?;
    let mut out = Vec::with_capacity(constituencies().len() + STAFF + VOLUNTEERS + PROCESSORS);
    for seat in constituencies() {
        out.push(spec(
            representative_name(&seat.code),
            PrincipalKind::Representative,
            &[("constituency", &seat.code)],
        ));
    }
    for i in 1..=STAFF {
        out.push(spec(
            format!("staff-{i:03}"),
            PrincipalKind::Staff,
            &[("team", "membership")],
        ));
    }
    for i in 0..VOLUNTEERS {
        let member = generator.member(i as u64 % members.max(1));
        let branch = member.values()[branch_column];
        anyhow::ensure!(!branch.is_empty(), "member {i} has no branch");
        out.push(spec(
            format!("volunteer-{:03}", i + 1),
            PrincipalKind::Volunteer,
            &[("branch", branch)],
        ));
    }
    for i in 1..=PROCESSORS {
        out.push(spec(
            format!("processor-{i}"),
            PrincipalKind::Processor,
            &[("organisation", &format!("mailhouse-{i}"))],
        ));
    }
    Ok(out)
}

/// What the setup made, and how long it took.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// The representatives' tokens, by constituency index.
    pub(crate) representative_tokens: Vec<Arc<str>>,
    /// The staff's tokens, in roster order (`staff-001` first).
    pub(crate) staff_tokens: Vec<Arc<str>>,
    pub(crate) figures: SetupFigures,
}

/// The setup's timings.
#[derive(Debug, Clone)]
pub(crate) struct SetupFigures {
    /// Principals added (`admin` excluded).
    pub(crate) principals: usize,
    /// Representatives among them.
    pub(crate) representatives: usize,
    /// Tokens created, one per principal added.
    pub(crate) tokens: usize,
    /// The whole setup.
    pub(crate) wall: Duration,
    /// All the `add_principal` calls.
    pub(crate) add_wall: Duration,
    /// All the `create_token` calls.
    pub(crate) token_wall: Duration,
    /// Median `add_principal` of the first and last `ENDS` calls, in µs.
    pub(crate) add_first_median_us: f64,
    pub(crate) add_last_median_us: f64,
    /// Median `create_token`, in µs.
    pub(crate) token_median_us: f64,
}

impl SetupFigures {
    /// How many calls each end of the add comparison covers.
    pub(crate) fn ends(&self) -> usize {
        ENDS.min(self.principals)
    }
}

fn median_us(samples: &[u64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, MEDIAN).unwrap_or(0) as f64 / 1_000.0
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Adds the roster to `vault` and gives each principal a token.
pub(crate) fn create(vault: &Vault, generator: &Generator, members: u64) -> anyhow::Result<Setup> {
    let roster = roster(generator, members)?;
    let operator = vault.local_operator();
    let start = Instant::now();
    let mut add_ns = Vec::with_capacity(roster.len());
    for p in &roster {
        let t0 = Instant::now();
        vault
            .add_principal(&operator, &p.name, p.kind, &p.attributes, None, None)
            .map_err(|e| anyhow::anyhow!("cannot add principal `{}`: {e}", p.name))?;
        add_ns.push(nanos(t0.elapsed()));
    }
    let add_wall = start.elapsed();
    let mut token_ns = Vec::with_capacity(roster.len());
    let mut representative_tokens = Vec::with_capacity(constituencies().len());
    let mut staff_tokens = Vec::with_capacity(STAFF);
    for p in &roster {
        let t0 = Instant::now();
        let token = vault
            .create_token(&operator, &p.name, None)
            .map_err(|e| anyhow::anyhow!("cannot create a token for `{}`: {e}", p.name))?;
        token_ns.push(nanos(t0.elapsed()));
        match p.kind {
            PrincipalKind::Representative => {
                representative_tokens.push(Arc::from(token.token.expose()));
            }
            PrincipalKind::Staff => staff_tokens.push(Arc::from(token.token.expose())),
            _ => {}
        }
    }
    let wall = start.elapsed();
    anyhow::ensure!(
        representative_tokens.len() == constituencies().len(),
        "made {} representatives for {} constituencies",
        representative_tokens.len(),
        constituencies().len()
    );
    let ends = ENDS.min(add_ns.len());
    Ok(Setup {
        figures: SetupFigures {
            principals: roster.len(),
            representatives: representative_tokens.len(),
            tokens: token_ns.len(),
            wall,
            add_wall,
            token_wall: wall.saturating_sub(add_wall),
            add_first_median_us: median_us(&add_ns[..ends]),
            add_last_median_us: median_us(&add_ns[add_ns.len() - ends..]),
            token_median_us: median_us(&token_ns),
        },
        representative_tokens,
        staff_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roster_is_the_standard_set_with_valid_names_and_attributes() {
        let generator = Generator::new(1);
        let roster = roster(&generator, 1_000).unwrap();
        assert_eq!(roster.len(), 650 + STAFF + VOLUNTEERS + PROCESSORS);
        let count = |kind| roster.iter().filter(|p| p.kind == kind).count();
        assert_eq!(count(PrincipalKind::Representative), 650);
        assert_eq!(count(PrincipalKind::Staff), STAFF);
        assert_eq!(count(PrincipalKind::Volunteer), VOLUNTEERS);
        assert_eq!(count(PrincipalKind::Processor), PROCESSORS);
        for p in &roster {
            custos_model::PrincipalName::parse(&p.name).unwrap();
            custos_model::Attributes::parse_pairs(
                p.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .unwrap();
        }
        // Representative `c` represents constituency `c`.
        assert_eq!(
            roster[7].attributes,
            vec![("constituency".to_owned(), constituencies()[7].code.clone())]
        );
        let mut names: Vec<&str> = roster.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), roster.len());
    }

    #[test]
    fn volunteers_take_branches_that_members_have() {
        let generator = Generator::new(1);
        let roster = roster(&generator, 10).unwrap();
        let all: Vec<&String> = constituencies().iter().flat_map(|c| c.branches()).collect();
        for p in roster.iter().filter(|p| p.kind == PrincipalKind::Volunteer) {
            assert_eq!(p.attributes[0].0, "branch");
            assert!(all.contains(&&p.attributes[0].1));
        }
    }
}
