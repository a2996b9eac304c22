//! What the read workloads ask for: random members, each read by their
//! constituency's representative, ten fields, for casework.

use std::sync::Arc;

use custos_model::SubjectId;
use custos_synth::Generator;

/// The purpose W2's reads declare.
pub(crate) const PURPOSE: &str = "casework";

/// The ten fields a read asks for (PERFORMANCE.md, W2).
pub(crate) const READ_FIELDS: [&str; 10] = [
    "given_name",
    "family_name",
    "email",
    "phone",
    "address_line1",
    "town",
    "postcode",
    "constituency",
    "membership_status",
    "consent_email",
];

/// SplitMix64: a small deterministic PRNG, enough to pick members.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (Lemire's multiply-shift; the bias is below
    /// 2^-40 for the sizes used here). `bound` must be positive.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// One read of W2: a member, and the token of the representative of their
/// constituency, who reads them.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) id: SubjectId,
    pub(crate) token: Arc<str>,
}

/// `count` random members `i < members`, each with their index, generated
/// up front so that generating them is not timed.
pub(crate) fn random_members(
    generator: &Generator,
    members: u64,
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<(u64, SubjectId)>> {
    anyhow::ensure!(members > 0, "there are no members to read");
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            let index = rng.below(members);
            let member = generator.member(index);
            SubjectId::parse(member.id())
                .map(|id| (index, id))
                .map_err(|e| {
                    anyhow::anyhow!("the generator made an invalid id `{}`: {e}", member.id())
                })
        })
        .collect()
}

/// W2's reads: each random member with their representative's token, from
/// `tokens` by constituency index (`Generator::constituency_of`).
pub(crate) fn reads(
    generator: &Generator,
    members: &[(u64, SubjectId)],
    tokens: &[Arc<str>],
) -> anyhow::Result<Vec<Read>> {
    members
        .iter()
        .map(|(index, id)| {
            let constituency = generator.constituency_of(*index);
            let token = tokens.get(constituency).ok_or_else(|| {
                anyhow::anyhow!("no representative for constituency #{constituency}")
            })?;
            Ok(Read {
                id: id.clone(),
                token: Arc::clone(token),
            })
        })
        .collect()
}

/// The scope attributes the default policies read when they decide a
/// representative's casework read: the decision cache keys by these (and
/// the principal, who follows from the constituency), so one read per
/// distinct combination makes every decision W2's reads need.
const DECIDING_COLUMNS: [&str; 3] = ["constituency", "branch", "consent_phone"];

/// One read per distinct decision among `reads` (made from `members` by
/// [`reads`]), to warm the decision cache before the timed runs.
pub(crate) fn one_per_decision(
    generator: &Generator,
    members: &[(u64, SubjectId)],
    reads: &[Read],
) -> anyhow::Result<Vec<Read>> {
    let columns: Vec<usize> = DECIDING_COLUMNS
        .iter()
        .map(|name| {
            custos_synth::COLUMNS
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| anyhow::anyhow!("the generator has no `{name}` column"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for ((index, _), read) in members.iter().zip(reads) {
        let member = generator.member(*index);
        let values = member.values();
        let key: Vec<String> = columns.iter().map(|&c| values[c].to_owned()).collect();
        if seen.insert(key) {
            out.push(read.clone());
        }
    }
    Ok(out)
}

/// The request path of a read: `/v1/subjects/{id}?fields=…&purpose=casework`.
pub(crate) fn read_path(id: &str) -> String {
    format!(
        "/v1/subjects/{id}?fields={}&purpose={PURPOSE}",
        READ_FIELDS.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prng_is_deterministic_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..1000 {
            let x = a.below(650);
            assert_eq!(x, b.below(650));
            assert!(x < 650);
        }
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }

    #[test]
    fn the_prng_covers_small_ranges() {
        let mut rng = SplitMix64::new(3);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[rng.below(10) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn members_are_those_below_the_count() {
        let generator = Generator::new(1);
        let picked = random_members(&generator, 5, 50, 9).unwrap();
        assert_eq!(picked.len(), 50);
        for (index, id) in &picked {
            assert!(*index < 5);
            assert_eq!(generator.member(*index).id(), id.as_str());
        }
        assert!(random_members(&generator, 0, 1, 9).is_err());
    }

    #[test]
    fn each_read_carries_the_token_of_the_members_constituency() {
        let generator = Generator::new(1);
        let tokens: Vec<Arc<str>> = (0..650).map(|c| format!("t{c}").into()).collect();
        let picked = random_members(&generator, 2_000, 100, 3).unwrap();
        let made = reads(&generator, &picked, &tokens).unwrap();
        for ((index, _), read) in picked.iter().zip(&made) {
            let c = generator.constituency_of(*index);
            assert_eq!(&*read.token, format!("t{c}"));
        }
        assert!(reads(&generator, &picked, &tokens[..1]).is_err());
    }

    #[test]
    fn one_read_per_decision_keeps_distinct_scopes_only() {
        let generator = Generator::new(1);
        let tokens: Vec<Arc<str>> = (0..650).map(|c| format!("t{c}").into()).collect();
        let picked = random_members(&generator, 20_000, 5_000, 3).unwrap();
        let made = reads(&generator, &picked, &tokens).unwrap();
        let warm = one_per_decision(&generator, &picked, &made).unwrap();
        assert!(!warm.is_empty() && warm.len() < made.len());
        let again = one_per_decision(&generator, &picked[..1], &made[..1]).unwrap();
        assert_eq!(again.len(), 1);
    }

    #[test]
    fn the_read_path_names_ten_fields_and_the_purpose() {
        let path = read_path("M1");
        assert!(path.starts_with("/v1/subjects/M1?fields=given_name,"));
        assert!(path.ends_with("&purpose=casework"));
        assert_eq!(path.matches(',').count(), 9);
    }
}
