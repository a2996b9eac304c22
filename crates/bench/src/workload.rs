//! What the workloads ask for: for W2, random members, each read by their
//! constituency's representative, ten fields, for casework; for W3, random
//! members, each updated by a staff member of the membership team, two
//! fields, for membership administration.

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

/// The purpose W3's updates declare: the default policies let the
/// membership team update members for it (`membership-team` in
/// party.cedar).
pub(crate) const UPDATE_PURPOSE: &str = "membership_admin";

/// The two fields an update changes (PERFORMANCE.md, W3): both encrypted
/// lookup fields, so that each update seals two values and rewrites two
/// blind-index entries, the dearest kind of field to change.
pub(crate) const UPDATE_FIELDS: [&str; 2] = ["email", "phone"];

/// One update of W3: a member, the token of the staff member who updates
/// them, and the two new values, already in canonical form (lower-case
/// email, E.164 phone) so that a read afterwards returns them as they are.
#[derive(Debug, Clone)]
pub(crate) struct Update {
    pub(crate) id: SubjectId,
    pub(crate) token: Arc<str>,
    pub(crate) email: String,
    pub(crate) phone: String,
}

impl Update {
    /// The fields and values, as `Vault::update_subject` takes them.
    pub(crate) fn values(&self) -> Vec<(String, String)> {
        vec![
            (UPDATE_FIELDS[0].to_owned(), self.email.clone()),
            (UPDATE_FIELDS[1].to_owned(), self.phone.clone()),
        ]
    }

    /// The HTTP request path: `/v1/subjects/{id}?purpose=membership_admin`.
    pub(crate) fn path(&self) -> String {
        format!("/v1/subjects/{}?purpose={UPDATE_PURPOSE}", self.id.as_str())
    }

    /// The HTTP request body: `{"fields":{"email":…,"phone":…}}`.
    pub(crate) fn body(&self) -> Vec<u8> {
        serde_json::json!({
            "fields": { UPDATE_FIELDS[0]: self.email, UPDATE_FIELDS[1]: self.phone }
        })
        .to_string()
        .into_bytes()
    }
}

/// W3's updates: each of `members` (from [`random_members`]) with a staff
/// token taken at random from `tokens` and two new values drawn from
/// `seed`. Update `k` gets a distinct email, `w3.{k}.{random}@example.org`
/// (the reserved domain, as the generator's), and a random UK mobile
/// number, so a member picked twice still changes each time.
pub(crate) fn updates(
    members: &[(u64, SubjectId)],
    tokens: &[Arc<str>],
    seed: u64,
) -> anyhow::Result<Vec<Update>> {
    anyhow::ensure!(
        !tokens.is_empty(),
        "there are no staff tokens to update with"
    );
    let mut rng = SplitMix64::new(seed);
    members
        .iter()
        .enumerate()
        .map(|(k, (_, id))| {
            let token = usize::try_from(rng.below(tokens.len() as u64))
                .ok()
                .and_then(|i| tokens.get(i))
                .ok_or_else(|| anyhow::anyhow!("no staff token for update #{k}"))?;
            Ok(Update {
                id: id.clone(),
                token: Arc::clone(token),
                email: format!("w3.{k}.{:06}@example.org", rng.below(1_000_000)),
                phone: format!("+447{:09}", rng.below(1_000_000_000)),
            })
        })
        .collect()
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

    fn staff_tokens() -> Vec<Arc<str>> {
        (0..50).map(|s| format!("s{s}").into()).collect()
    }

    #[test]
    fn updates_are_deterministic_and_use_every_staff_token() {
        let generator = Generator::new(1);
        let picked = random_members(&generator, 2_000, 1_000, 5).unwrap();
        let tokens = staff_tokens();
        let a = updates(&picked, &tokens, 11).unwrap();
        let b = updates(&picked, &tokens, 11).unwrap();
        assert_eq!(a.len(), picked.len());
        for ((x, y), (_, id)) in a.iter().zip(&b).zip(&picked) {
            assert_eq!((&x.id, &x.token), (id, &y.token));
            assert_eq!((&x.email, &x.phone), (&y.email, &y.phone));
        }
        let used: std::collections::HashSet<&str> = a.iter().map(|u| &*u.token).collect();
        assert_eq!(used.len(), tokens.len());
        let other = updates(&picked, &tokens, 12).unwrap();
        assert_ne!(a[0].phone, other[0].phone);
        assert!(updates(&picked, &[], 11).is_err());
    }

    #[test]
    fn update_values_are_valid_canonical_and_distinct() {
        let generator = Generator::new(1);
        let picked = random_members(&generator, 100, 500, 5).unwrap();
        let made = updates(&picked, &staff_tokens(), 11).unwrap();
        let schema = custos_model::Schema::default_party();
        let mut emails = std::collections::HashSet::new();
        for u in &made {
            for (name, value) in u.values() {
                let parsed = schema.field(&name).unwrap().parse_value(&value).unwrap();
                // Canonical: a read afterwards returns exactly this text.
                assert_eq!(parsed.unwrap().as_str(), value);
            }
            assert!(emails.insert(u.email.clone()));
        }
    }

    #[test]
    fn an_update_request_names_the_member_purpose_and_two_fields() {
        let generator = Generator::new(1);
        let picked = random_members(&generator, 10, 1, 5).unwrap();
        let update = &updates(&picked, &staff_tokens(), 11).unwrap()[0];
        assert_eq!(
            update.path(),
            format!(
                "/v1/subjects/{}?purpose=membership_admin",
                update.id.as_str()
            )
        );
        let body: serde_json::Value = serde_json::from_slice(&update.body()).unwrap();
        let fields = body["fields"].as_object().unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields["email"], update.email.as_str());
        assert_eq!(fields["phone"], update.phone.as_str());
    }
}
