//! The 650 synthetic Westminster constituencies.
//!
//! Codes follow the ONS pattern and count per nation (533 English `E14…`,
//! 40 Welsh `W07…`, 59 Scottish `S14…`, 18 Northern Irish `N06…`), but the
//! names are built from town lists and are not the real seats: the data must
//! look plausible, not be mistaken for a real party's.
//!
//! Each town carries its real postcode area (Leeds is `LS`, Cardiff `CF`), so
//! addresses look right to a UK reader, but the district numbers are simply
//! handed out in order.
//!
//! The table does not depend on the generator's seed, so a constituency index
//! means the same seat for every seed.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::rng::{Rng, mix};
use crate::words;

/// One constituency, with its branches and postcode districts.
///
/// Values come only from [`constituencies`], so the private lists are always
/// filled in.
#[derive(Debug)]
pub struct Constituency {
    /// The ONS-style code, e.g. `E14000530`; this is what members carry.
    pub code: String,
    /// A plausible name, e.g. `Mid Leeds` or `Bath and Hereford`.
    pub name: String,
    // INVARIANT: 2 to 4 entries, each "<name> <compass point>"; unique across
    // all constituencies because no constituency name ends in a compass point.
    branches: Vec<String>,
    // INVARIANT: exactly 3 entries (from the town list), whose outward
    // codes are valid and unique across all constituencies, so a postcode
    // identifies its seat; each lies in its town's real postcode area.
    districts: Vec<District>,
}

/// A town of a constituency and one of its postcode districts.
#[derive(Debug)]
pub(crate) struct District {
    pub(crate) town: &'static str,
    /// The outward code, e.g. `LS3`.
    pub(crate) outward: String,
}

impl Constituency {
    /// The branch names, 2 to 4 of them, e.g. `Mid Leeds North`.
    pub fn branches(&self) -> &[String] {
        &self.branches
    }

    pub(crate) fn districts(&self) -> &[District] {
        &self.districts
    }
}

/// All 650 constituencies: England, then Wales, Scotland and Northern Ireland,
/// each in code order. Built once, on first use.
pub fn constituencies() -> &'static [Constituency] {
    static TABLE: OnceLock<Vec<Constituency>> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// The suffixes of branch names. Constituency names never end in one, which
/// keeps branch names unique across the whole table.
const COMPASS: [&str; 5] = ["North", "South", "East", "West", "Central"];

struct Nation {
    /// Code prefix, e.g. `E14`.
    prefix: &'static str,
    /// The number part of the first code.
    first: usize,
    count: usize,
    /// Towns and their postcode areas.
    places: &'static [(&'static str, &'static str)],
}

const NATIONS: [Nation; 4] = [
    Nation {
        prefix: "E14",
        first: 530,
        count: 533,
        places: words::ENGLISH_PLACES,
    },
    Nation {
        prefix: "W07",
        first: 41,
        count: 40,
        places: words::WELSH_PLACES,
    },
    Nation {
        prefix: "S14",
        first: 1,
        count: 59,
        places: words::SCOTTISH_PLACES,
    },
    Nation {
        prefix: "N06",
        first: 1,
        count: 18,
        places: words::NORTHERN_IRISH_PLACES,
    },
];

fn build() -> Vec<Constituency> {
    let mut out = Vec::with_capacity(NATIONS.iter().map(|n| n.count).sum());
    // How many districts of each postcode area are already taken. Areas are
    // shared across nations (CH covers Chester and Flint), so this is global.
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let mut next_district = |(town, area): (&'static str, &'static str)| {
        let k = taken.entry(area).or_insert(0);
        let outward = district(area, *k);
        *k += 1;
        District { town, outward }
    };
    for nation in &NATIONS {
        let places = nation.places.len();
        for j in 0..nation.count {
            let code = format!("{}{:06}", nation.prefix, nation.first + j);
            // The first pass over the towns uses the bare name and later
            // passes use distinct forms, so every name is unique.
            let base = nation.places[j % places];
            let other = nation.places[(j + places / 2) % places];
            let (name, towns) = match j / places {
                0 => (base.0.to_owned(), [base, base, base]),
                1 => (format!("{} and {}", base.0, other.0), [base, base, other]),
                2 => (format!("Mid {}", base.0), [base, base, base]),
                _ => (format!("{} Vale", base.0), [base, base, base]),
            };
            let districts = towns.into_iter().map(&mut next_district).collect();

            let mut rng = Rng::new(mix(out.len() as u64));
            let branch_count = 2 + rng.below(3) as usize;
            let first_point = rng.below(COMPASS.len() as u64) as usize;
            let branches = (0..branch_count)
                .map(|k| format!("{name} {}", COMPASS[(first_point + k) % COMPASS.len()]))
                .collect();

            out.push(Constituency {
                code,
                name,
                branches,
                districts,
            });
        }
    }
    out
}

/// The `k`-th (from 0) postcode district of an area, e.g. `LS3` or `EC1M`.
///
/// The central London areas use the `AA9A` form, as the real EC and WC
/// districts do; everything else is area letters plus a number.
fn district(area: &str, k: usize) -> String {
    const SUB: [char; 4] = ['A', 'M', 'N', 'R'];
    match area {
        "EC" | "WC" => format!("{area}{}{}", 1 + k / SUB.len(), SUB[k % SUB.len()]),
        _ => format!("{area}{}", k + 1),
    }
}
