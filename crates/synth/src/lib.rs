//! Deterministic synthetic party members for demos, tests and benchmarks.
//!
//! A [`Generator`] turns `(seed, index)` into a [`Member`]: 23 values laid out
//! as [`COLUMNS`], the default Custos party schema. Every member is a pure
//! function of the seed and its index, so members can be generated in any
//! order, in parallel, or one at a time (a benchmark can re-create member
//! 734,112 without generating the 734,111 before it).
//!
//! # What is guaranteed
//!
//! * **Validity.** Every value passes the vault's strict import rules: dates
//!   are real `YYYY-MM-DD` dates in range, postcodes are well formed, phone
//!   numbers are UK mobiles, emails use only the reserved `example.*`
//!   domains, enums use the schema's values, money has two decimals.
//! * **Uniqueness.** `id` and `email` are unique for every index; `phone` is
//!   unique for indices below 500 million.
//! * **Constituency by index.** Member `i` belongs to constituency
//!   `i % 650` (an index into [`constituencies`]). The members of
//!   constituency `c` are therefore `c, c + 650, c + 1300, …`; use
//!   [`Generator::constituency_of`] and [`Generator::member_index`] rather
//!   than repeating the arithmetic.
//! * **Stability.** The crate has no dependencies and its own PRNG, so the
//!   output changes only when this crate's code or word lists change. A golden
//!   test pins a few members; a deliberate change must update it.
//!
//! The data is plausible, not real: names come from built-in lists, and the
//! constituency codes follow the ONS pattern without being the real seats.

mod constituency;
mod date;
mod member;
mod rng;
mod words;

#[cfg(test)]
mod tests;

use std::io::{self, BufWriter, Write};

pub use constituency::{Constituency, constituencies};
pub use member::Member;

use rng::mix;

/// The column names, in the order of [`Member::values`] and of the CSV header.
pub const COLUMNS: [&str; 23] = [
    "id",
    "given_name",
    "family_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "date_of_birth",
    "constituency",
    "branch",
    "membership_status",
    "joined_on",
    "left_on",
    "consent_email",
    "consent_phone",
    "consent_post",
    "union_affiliation",
    "ethnicity",
    "disability",
    "donation_total",
    "notes",
];

/// The number of distinct phone numbers: five mobile prefixes (074, 075, 077,
/// 078, 079) times 10^8.
const PHONE_SPACE: u64 = 500_000_000;

/// A seeded source of synthetic members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generator {
    seed: u64,
    // INVARIANT: `phone_mul` is coprime with PHONE_SPACE (odd and not a
    // multiple of 5) and both are below PHONE_SPACE, so the phone mapping is
    // a bijection on 0..PHONE_SPACE.
    phone_mul: u64,
    phone_add: u64,
}

impl Generator {
    /// A generator for `seed`. Equal seeds give identical members.
    pub fn new(seed: u64) -> Self {
        let mut phone_mul = (mix(seed ^ 0x7068_6f6e_655f_6d75) % PHONE_SPACE) | 1;
        if phone_mul.is_multiple_of(5) {
            // Adding 2 keeps it odd and makes it not a multiple of 5; PHONE_SPACE
            // is a multiple of 10, so the reduction preserves both.
            phone_mul = (phone_mul + 2) % PHONE_SPACE;
        }
        Self {
            seed,
            phone_mul,
            phone_add: mix(seed ^ 0x7068_6f6e_655f_6164) % PHONE_SPACE,
        }
    }

    /// The member at `index`; a pure function of the seed and the index.
    pub fn member(&self, index: u64) -> Member {
        let mut member = Member::empty();
        member::fill(self, index, &mut member);
        member
    }

    /// The index into [`constituencies`] of member `index`'s constituency,
    /// without generating the member: `index % 650`.
    pub fn constituency_of(&self, index: u64) -> usize {
        (index % CONSTITUENCY_COUNT) as usize
    }

    /// The index of the `k`-th member (from 0) of constituency `constituency`,
    /// so that `constituency_of(member_index(c, k)) == c`. `None` when
    /// `constituency` is not below 650 or the index would overflow.
    pub fn member_index(&self, constituency: usize, k: u64) -> Option<u64> {
        let c = u64::try_from(constituency).ok()?;
        if c >= CONSTITUENCY_COUNT {
            return None;
        }
        k.checked_mul(CONSTITUENCY_COUNT)?.checked_add(c)
    }

    /// Writes a header line and then members `0..count` as RFC 4180 CSV:
    /// CRLF line ends; a field containing a comma, a double quote, CR or LF is
    /// quoted, with embedded quotes doubled.
    ///
    /// Output is buffered here, so `out` may be an unbuffered file or socket.
    pub fn write_csv<W: Write>(&self, out: W, count: u64) -> io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        // Each record is assembled in `line` and written with one call, which
        // is much faster than a `write_all` per field through the BufWriter.
        let mut line = Vec::with_capacity(512);
        encode_record(&mut line, &COLUMNS);
        out.write_all(&line)?;
        let mut member = Member::empty();
        for index in 0..count {
            member::fill(self, index, &mut member);
            line.clear();
            encode_record(&mut line, &member.values());
            out.write_all(&line)?;
        }
        out.flush()
    }

    /// A phone number slot in `0..PHONE_SPACE`, distinct for distinct indices
    /// below PHONE_SPACE: an affine map with a multiplier coprime to the
    /// modulus is a bijection, and the seed picks which one.
    fn phone_number(&self, index: u64) -> u64 {
        let slot = (u128::from(index) * u128::from(self.phone_mul) + u128::from(self.phone_add))
            % u128::from(PHONE_SPACE);
        slot as u64
    }
}

/// The length of [`constituencies`], as the index arithmetic needs it.
const CONSTITUENCY_COUNT: u64 = 650;

/// Appends one CSV record, CRLF included, to `line`.
fn encode_record(line: &mut Vec<u8>, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        if !field
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        {
            line.extend_from_slice(field.as_bytes());
            continue;
        }
        line.push(b'"');
        for (j, part) in field.split('"').enumerate() {
            if j > 0 {
                line.extend_from_slice(b"\"\"");
            }
            line.extend_from_slice(part.as_bytes());
        }
        line.push(b'"');
    }
    line.extend_from_slice(b"\r\n");
}
