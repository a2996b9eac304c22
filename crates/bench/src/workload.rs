//! What the read workloads ask for: random members and ten fields.

use custos_model::SubjectId;
use custos_synth::Generator;

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

/// `count` ids of random members `i < members`, generated up front so that
/// generating them is not timed.
pub(crate) fn random_ids(
    generator: &Generator,
    members: u64,
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<SubjectId>> {
    anyhow::ensure!(members > 0, "there are no members to read");
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            let member = generator.member(rng.below(members));
            SubjectId::parse(member.id()).map_err(|e| {
                anyhow::anyhow!("the generator made an invalid id `{}`: {e}", member.id())
            })
        })
        .collect()
}

/// The request path of a read: `/v1/subjects/{id}?fields=…`.
pub(crate) fn read_path(id: &str) -> String {
    format!("/v1/subjects/{id}?fields={}", READ_FIELDS.join(","))
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
    fn ids_are_those_of_members_below_the_count() {
        let generator = Generator::new(1);
        let ids = random_ids(&generator, 5, 50, 9).unwrap();
        let all: Vec<String> = (0..5)
            .map(|i| generator.member(i).id().to_owned())
            .collect();
        assert_eq!(ids.len(), 50);
        assert!(ids.iter().all(|id| all.iter().any(|a| a == id.as_str())));
        assert!(random_ids(&generator, 0, 1, 9).is_err());
    }

    #[test]
    fn the_read_path_names_ten_fields() {
        let path = read_path("M1");
        assert!(path.starts_with("/v1/subjects/M1?fields=given_name,"));
        assert_eq!(path.matches(',').count(), 9);
    }
}
