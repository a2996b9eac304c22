//! The member record and the rules that generate each of its values.
//!
//! The order of random draws in [`fill`] is part of the output contract:
//! drawing one more or one fewer number shifts every later value of that
//! member. Add new draws only at the end, or accept that existing seeds change.

use crate::Generator;
use crate::constituency::{Constituency, constituencies};
use crate::date::{civil_from_days, days_from_civil};
use crate::rng::Rng;
use crate::words;

/// The number of values in a member, the length of [`crate::COLUMNS`].
const FIELDS: usize = 23;
const ID: usize = 0;
const EMAIL: usize = 3;
const CONSTITUENCY: usize = 10;
const BRANCH: usize = 11;

/// The oldest date of birth: 95 years old on 2026-01-01.
const BORN_FROM: i64 = days_from_civil(1930, 6, 1);
/// The youngest date of birth: 16 on 2026-01-01, with a month to spare so
/// that even the youngest member can join, and leave, before the cut-off.
const BORN_UNTIL: i64 = days_from_civil(2009, 12, 1);
/// The earliest joining date.
const JOINED_FROM: i64 = days_from_civil(1990, 1, 1);
/// The last date anything happens.
const LAST_DAY: i64 = days_from_civil(2025, 12, 31);
/// Lapsed members stopped paying recently; older lapses have become former.
const LAPSED_FROM: i64 = days_from_civil(2023, 1, 1);

const DOMAINS: &[&str] = &["example.org", "example.net", "example.com"];

/// One synthetic member: 23 values aligned with [`crate::COLUMNS`], where an
/// empty string means the value is absent.
///
/// The values share one buffer, so a member costs a single allocation; this
/// keeps generating millions of members cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    // INVARIANT: `ends` is non-decreasing, `ends[FIELDS - 1] == buf.len()`,
    // and value `i` is `buf[ends[i - 1]..ends[i]]` (from 0 for the first).
    // Only ASCII is written, so every end is a character boundary.
    buf: String,
    ends: [u32; FIELDS],
}

impl Member {
    pub(crate) fn empty() -> Self {
        Self {
            buf: String::with_capacity(320),
            ends: [0; FIELDS],
        }
    }

    /// The values in [`crate::COLUMNS`] order; `""` means absent.
    pub fn values(&self) -> [&str; FIELDS] {
        let mut out = [""; FIELDS];
        let mut start = 0;
        for (slot, &end) in out.iter_mut().zip(&self.ends) {
            let end = end as usize;
            *slot = self.buf.get(start..end).unwrap_or("");
            start = end;
        }
        out
    }

    /// The membership number, e.g. `M00000001`; unique per index.
    pub fn id(&self) -> &str {
        self.value(ID)
    }

    /// The email address; unique per index.
    pub fn email(&self) -> &str {
        self.value(EMAIL)
    }

    /// The constituency code, e.g. `E14000530`.
    pub fn constituency(&self) -> &str {
        self.value(CONSTITUENCY)
    }

    /// The branch name, e.g. `Mid Leeds North`.
    pub fn branch(&self) -> &str {
        self.value(BRANCH)
    }

    fn value(&self, column: usize) -> &str {
        let start = match column.checked_sub(1) {
            Some(prev) => self.ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(column).copied().unwrap_or(start);
        self.buf.get(start as usize..end as usize).unwrap_or("")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Member,
    Lapsed,
    Former,
    Supporter,
}

/// Overwrites `member` with the member at `index`, reusing its buffer.
pub(crate) fn fill(generator: &Generator, index: u64, member: &mut Member) {
    member.buf.clear();
    let mut rng = Rng::for_member(generator.seed, index);
    let table = constituencies();
    // INVARIANT: `constituency_of` is below the table's length.
    let seat = &table[generator.constituency_of(index)];
    let mut w = Writer { member, field: 0 };

    // id
    w.str("M");
    w.padded(index.wrapping_add(1), 8);
    w.end();

    // given_name, family_name
    let given = rng.pick_skewed(words::GIVEN_NAMES);
    let family = rng.pick_skewed(words::FAMILY_NAMES);
    w.str(given);
    w.end();
    w.str(family);
    w.end();

    // email: the index makes it unique; names contain no digits, so the
    // trailing digits are exactly the index and cannot collide.
    match rng.below(4) {
        0 | 1 => {
            w.email_part(given);
            w.str(".");
            w.email_part(family);
            w.str(".");
        }
        2 => {
            w.email_part(given.get(..1).unwrap_or(given));
            w.email_part(family);
        }
        _ => {
            w.email_part(given);
            w.str("_");
            w.email_part(family);
        }
    }
    w.num(index.wrapping_add(1));
    w.str("@");
    w.str(rng.pick(DOMAINS));
    w.end();

    // phone: "07" + 9 digits; see `Generator::phone_number`.
    let phone = generator.phone_number(index);
    let mobile_digit = match phone / 100_000_000 {
        0 => '4',
        1 => '5',
        2 => '7',
        3 => '8',
        _ => '9',
    };
    let rest = phone % 100_000_000;
    w.str("07");
    w.char(mobile_digit);
    w.padded(rest / 1_000_000, 2);
    w.str(" ");
    w.padded(rest % 1_000_000, 6);
    w.end();

    // address_line1
    w.num(1 + rng.below(300).min(rng.below(300)));
    w.str(" ");
    w.str(rng.pick(words::STREET_NAMES));
    w.str(" ");
    w.str(rng.pick_skewed(words::STREET_SUFFIXES));
    w.end();

    // address_line2
    if rng.chance(200) {
        match rng.below(20) {
            0..=13 => {
                w.str("Flat ");
                w.num(1 + rng.below(40));
            }
            14..=17 => {
                w.str("Apartment ");
                w.num(1 + rng.below(120));
            }
            _ => {
                w.str(rng.pick(words::STREET_NAMES));
                w.str(" House");
            }
        }
    }
    w.end();

    // town and postcode: one of the seat's districts, so the two agree, then
    // the inward code: digit + two letters.
    let districts = seat.districts();
    let district = &districts[rng.below(districts.len() as u64) as usize];
    w.str(district.town);
    w.end();
    w.str(&district.outward);
    w.str(" ");
    w.num(rng.below(10));
    for _ in 0..2 {
        let letters = words::INWARD_LETTERS;
        w.char(char::from(
            letters[rng.below(letters.len() as u64) as usize],
        ));
    }
    w.end();

    // date_of_birth: triangular around the middle of the range (about 55
    // years old), as party memberships skew older.
    let span = (BORN_UNTIL - BORN_FROM) as u64 + 1;
    let born = BORN_FROM + ((rng.below(span) + rng.below(span)) / 2) as i64;
    w.date(born);
    w.end();

    // constituency, branch
    w.str(&seat.code);
    w.end();
    w.str(pick_branch(&mut rng, seat));
    w.end();

    // membership_status
    let status = match rng.below(100) {
        0..=69 => Status::Member,
        70..=81 => Status::Lapsed,
        82..=91 => Status::Former,
        _ => Status::Supporter,
    };
    w.str(match status {
        Status::Member => "member",
        Status::Lapsed => "lapsed",
        Status::Former => "former",
        Status::Supporter => "supporter",
    });
    w.end();

    // joined_on: after the 16th birthday, skewed towards recent years (the
    // maximum of two draws), and early enough to leave afterwards.
    let leaves = matches!(status, Status::Lapsed | Status::Former);
    let (year, month, day) = civil_from_days(born);
    let sixteenth = days_from_civil(year + 16, month, day);
    let join_lo = JOINED_FROM.max(sixteenth + 1);
    let join_hi = if leaves { LAST_DAY - 1 } else { LAST_DAY };
    let join_span = (join_hi - join_lo).max(0) as u64 + 1;
    let joined = join_lo + rng.below(join_span).max(rng.below(join_span)) as i64;
    w.date(joined);
    w.end();

    // left_on
    match status {
        Status::Lapsed => w.date(rng.between(LAPSED_FROM.max(joined + 1), LAST_DAY)),
        Status::Former => w.date(rng.between(joined + 1, LAST_DAY)),
        Status::Member | Status::Supporter => {}
    }
    w.end();

    // consent_email, consent_phone, consent_post
    for per_mille in [600, 400, 500] {
        w.str(if rng.chance(per_mille) {
            "true"
        } else {
            "false"
        });
        w.end();
    }

    // union_affiliation
    if rng.chance(150) {
        w.str(rng.pick_skewed(words::UNIONS));
    }
    w.end();

    // ethnicity
    if rng.chance(600) {
        w.str(rng.pick_weighted(words::ETHNICITIES));
    }
    w.end();

    // disability
    if rng.chance(700) {
        w.str(rng.pick_weighted(words::DISABILITY));
    }
    w.end();

    // donation_total: a third give nothing; the rest follow the product of
    // four uniform draws, so most gifts are small and a few reach £2,500.
    if rng.chance(350) {
        w.str("0.00");
    } else {
        let product = (0..4).fold(1, |acc, _| acc * rng.below(2500));
        let pounds = 1 + product / 2500u64.pow(3);
        let pence = if rng.chance(300) { rng.below(100) } else { 0 };
        w.num(pounds);
        w.str(".");
        w.padded(pence, 2);
    }
    w.end();

    // notes
    if rng.chance(100) {
        note(&mut w, &mut rng, district.town, table);
    }
    w.end();

    debug_assert_eq!(w.field, FIELDS, "every column is written exactly once");
}

fn pick_branch<'a>(rng: &mut Rng, seat: &'a Constituency) -> &'a str {
    let branches = seat.branches();
    branches
        .get(rng.below(branches.len() as u64) as usize)
        .map_or("", String::as_str)
}

/// A short casework note. Some contain commas, double quotes or a newline, so
/// that exports and imports exercise CSV quoting on realistic data.
fn note(w: &mut Writer<'_>, rng: &mut Rng, town: &str, table: &[Constituency]) {
    match rng.below(10) {
        0 => w.str("Prefers contact by email, not by phone."),
        1 => {
            w.str("Helped at the ");
            w.str(town);
            w.str(" count; happy to do so again.");
        }
        2 => {
            w.str("Said \"");
            w.str(rng.pick(words::QUOTES));
            w.str("\" when canvassed.");
        }
        3 => {
            w.str("Moved from ");
            let from = &table[rng.below(table.len() as u64) as usize];
            w.str(from.districts()[0].town);
            w.str(", check branch.");
        }
        4 => {
            w.str("Needs an interpreter for calls (");
            w.str(rng.pick(words::LANGUAGES));
            w.str(").");
        }
        5 => w.str("Do not call before 10am.\nLeave a message instead."),
        6 => {
            w.str("Asked about standing for the council in ");
            w.str(town);
            w.str(".");
        }
        7 => w.str("Large print for postal mailings, please."),
        8 => {
            w.str("Met at the ");
            w.str(rng.pick(words::MONTHS));
            w.str(" branch meeting, keen on housing, transport and \"fair pay\".");
        }
        _ => w.str("Works shifts; best reached at weekends.\nPartner is also a member."),
    }
}

/// Appends values to a member's buffer and records where each one ends.
struct Writer<'a> {
    member: &'a mut Member,
    field: usize,
}

impl Writer<'_> {
    fn str(&mut self, s: &str) {
        self.member.buf.push_str(s);
    }

    fn char(&mut self, c: char) {
        self.member.buf.push(c);
    }

    fn num(&mut self, n: u64) {
        self.padded(n, 1);
    }

    /// Decimal digits, zero-padded to `width`; avoids `format!`, which is
    /// several times slower on this hot path.
    fn padded(&mut self, mut n: u64, width: usize) {
        let mut digits = [0u8; 20];
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for _ in len..width {
            self.member.buf.push('0');
        }
        for &d in digits[..len].iter().rev() {
            self.member.buf.push(char::from(d));
        }
    }

    /// A date as `YYYY-MM-DD`; every generated year has four digits.
    fn date(&mut self, days: i64) {
        let (year, month, day) = civil_from_days(days);
        self.padded(year as u64, 4);
        self.str("-");
        self.padded(u64::from(month), 2);
        self.str("-");
        self.padded(u64::from(day), 2);
    }

    /// A name as an email local-part fragment: lower-case letters and digits,
    /// hyphens kept, apostrophes and anything else dropped.
    fn email_part(&mut self, name: &str) {
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' {
                self.member.buf.push(char::from(b.to_ascii_lowercase()));
            }
        }
    }

    /// Closes the current value.
    fn end(&mut self) {
        if let Some(end) = self.member.ends.get_mut(self.field) {
            *end = self.member.buf.len() as u32;
        }
        self.field += 1;
    }
}
