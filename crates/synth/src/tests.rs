//! Unit tests: every generated value is checked against the import rules by
//! small, independent checkers (they do not reuse the generator's helpers, so
//! a bug in `date.rs` cannot hide itself).

use std::collections::HashSet;

use super::*;
use crate::date::{civil_from_days, days_from_civil};
use crate::words;

const SEED: u64 = 42;

// ---------------------------------------------------------------- checkers

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

/// Parses a strict `YYYY-MM-DD` calendar date.
fn parse_date(s: &str) -> Option<(u32, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month).contains(&d).then_some((y, m, d))
}

fn check_postcode(postcode: &str) -> Result<(&str, &str), String> {
    let (outward, inward) = postcode
        .split_once(' ')
        .ok_or_else(|| format!("no space in {postcode:?}"))?;
    let shape: String = outward
        .chars()
        .map(|c| match c {
            'A'..='Z' => 'A',
            '0'..='9' => '9',
            _ => '?',
        })
        .collect();
    if !["A9", "A99", "AA9", "AA99", "AA9A"].contains(&shape.as_str()) {
        return Err(format!("outward {outward:?} has shape {shape}"));
    }
    let ib = inward.as_bytes();
    let inward_ok = ib.len() == 3
        && ib[0].is_ascii_digit()
        && words::INWARD_LETTERS.contains(&ib[1])
        && words::INWARD_LETTERS.contains(&ib[2]);
    if !inward_ok {
        return Err(format!("inward {inward:?}"));
    }
    Ok((outward, inward))
}

fn check_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '\'' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Checks every value of `m` (member `index`) against the import rules.
fn check_member(generator: &Generator, index: u64, m: &Member) -> Result<(), String> {
    let v = m.values();
    let col = |name: &str| v[COLUMNS.iter().position(|c| *c == name).unwrap()];
    let seat = &constituencies()[generator.constituency_of(index)];

    for (name, value) in COLUMNS.iter().zip(v) {
        if value.trim() != value {
            return Err(format!("{name} has surrounding whitespace: {value:?}"));
        }
        let max = if *name == "notes" { 4000 } else { 200 };
        if value.chars().count() > max {
            return Err(format!("{name} is too long"));
        }
        if value
            .chars()
            .any(|c| c.is_control() && !(*name == "notes" && c == '\n'))
        {
            return Err(format!("{name} has a control character: {value:?}"));
        }
    }

    let id = col("id");
    if !(id.len() >= 9 && id.starts_with('M') && id[1..].bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("bad id {id:?}"));
    }
    if m.id() != id || m.email() != col("email") || m.constituency() != col("constituency") {
        return Err("accessors disagree with values()".into());
    }
    for name in ["given_name", "family_name"] {
        if !check_name(col(name)) {
            return Err(format!("bad {name} {:?}", col(name)));
        }
    }

    let email = col("email");
    let (local, domain) = email
        .split_once('@')
        .ok_or_else(|| format!("no @ in {email:?}"))?;
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !local_ok || !["example.org", "example.net", "example.com"].contains(&domain) {
        return Err(format!("bad email {email:?}"));
    }

    let phone = col("phone");
    let pb = phone.as_bytes();
    let phone_ok = pb.len() == 12
        && phone.starts_with("07")
        && b"45789".contains(&pb[2])
        && pb[5] == b' '
        && pb
            .iter()
            .enumerate()
            .all(|(i, b)| i == 5 || b.is_ascii_digit());
    if !phone_ok {
        return Err(format!("bad phone {phone:?}"));
    }

    let line1 = col("address_line1");
    let (number, street) = line1
        .split_once(' ')
        .ok_or_else(|| format!("bad address {line1:?}"))?;
    let number_ok = number.parse::<u32>().is_ok_and(|n| (1..=300).contains(&n));
    let suffix_ok = street.rsplit_once(' ').is_some_and(|(name, suffix)| {
        words::STREET_NAMES.contains(&name) && words::STREET_SUFFIXES.contains(&suffix)
    });
    if !number_ok || !suffix_ok {
        return Err(format!("bad address {line1:?}"));
    }
    let line2 = col("address_line2");
    if !(line2.is_empty()
        || line2.starts_with("Flat ")
        || line2.starts_with("Apartment ")
        || line2.ends_with(" House"))
    {
        return Err(format!("bad address_line2 {line2:?}"));
    }
    let (outward, _) = check_postcode(col("postcode"))?;
    if !seat
        .districts()
        .iter()
        .any(|d| d.town == col("town") && d.outward == outward)
    {
        return Err(format!(
            "town {:?} and postcode {:?} are not a district of {}",
            col("town"),
            col("postcode"),
            seat.name
        ));
    }

    let dob = col("date_of_birth");
    let (by, bm, bd) = parse_date(dob).ok_or_else(|| format!("bad date_of_birth {dob:?}"))?;
    let age = 2026 - by - u32::from((bm, bd) > (1, 1));
    if !(16..=95).contains(&age) {
        return Err(format!("age {age} from {dob}"));
    }

    if col("constituency") != seat.code {
        return Err("constituency is not index % 650".into());
    }
    if !seat.branches().iter().any(|b| b == col("branch")) {
        return Err(format!("branch {:?} not of {}", col("branch"), seat.name));
    }

    let status = col("membership_status");
    let joined = col("joined_on");
    let left = col("left_on");
    parse_date(joined).ok_or_else(|| format!("bad joined_on {joined:?}"))?;
    let sixteenth = format!("{:04}-{bm:02}-{bd:02}", by + 16);
    if !(("1990-01-01"..="2025-12-31").contains(&joined) && joined > sixteenth.as_str()) {
        return Err(format!("joined_on {joined} (born {dob})"));
    }
    match status {
        "member" | "supporter" if left.is_empty() => {}
        "lapsed" | "former" => {
            parse_date(left).ok_or_else(|| format!("bad left_on {left:?}"))?;
            if !(left > joined && left <= "2025-12-31") {
                return Err(format!("left_on {left} joined_on {joined}"));
            }
        }
        _ => return Err(format!("status {status:?} with left_on {left:?}")),
    }

    for name in ["consent_email", "consent_phone", "consent_post"] {
        if !["true", "false"].contains(&col(name)) {
            return Err(format!("bad {name}"));
        }
    }
    let union = col("union_affiliation");
    if !(union.is_empty() || words::UNIONS.contains(&union)) {
        return Err(format!("bad union {union:?}"));
    }
    let ethnicity = col("ethnicity");
    if !(ethnicity.is_empty() || words::ETHNICITIES.iter().any(|(e, _)| *e == ethnicity)) {
        return Err(format!("bad ethnicity {ethnicity:?}"));
    }
    if !["", "yes", "no", "prefer_not_to_say"].contains(&col("disability")) {
        return Err("bad disability".into());
    }

    let money = col("donation_total");
    let money_ok = money.split_once('.').is_some_and(|(units, cents)| {
        !units.is_empty()
            && (units == "0" || !units.starts_with('0'))
            && cents.len() == 2
            && units
                .bytes()
                .chain(cents.bytes())
                .all(|b| b.is_ascii_digit())
            && units
                .parse::<u32>()
                .is_ok_and(|u| u < 2500 || money == "2500.00")
    });
    if !money_ok {
        return Err(format!("bad donation_total {money:?}"));
    }
    Ok(())
}

// ------------------------------------------------------------------- tests

#[test]
fn columns_match_the_default_schema_order() {
    assert_eq!(COLUMNS.len(), 23);
    assert_eq!(COLUMNS[0], "id");
    assert_eq!(COLUMNS[3], "email");
    assert_eq!(COLUMNS[10], "constituency");
    assert_eq!(COLUMNS[22], "notes");
    assert_eq!(COLUMNS.iter().collect::<HashSet<_>>().len(), 23);
}

#[test]
fn every_value_follows_the_import_rules() {
    for seed in [0, SEED, u64::MAX] {
        let generator = Generator::new(seed);
        for index in (0..30_000).chain([650 * 1_000_003, 9_999_999, u64::MAX - 1]) {
            let m = generator.member(index);
            if let Err(e) = check_member(&generator, index, &m) {
                panic!("seed {seed} member {index}: {e}\n{:?}", m.values());
            }
        }
    }
}

#[test]
fn the_checker_rejects_broken_members() {
    // Guards against a checker that accepts anything.
    let generator = Generator::new(SEED);
    let good = generator.member(7);
    assert_eq!(check_member(&generator, 7, &good), Ok(()));
    assert!(
        check_member(&generator, 8, &good).is_err(),
        "wrong constituency"
    );
    assert!(parse_date("2023-02-29").is_none());
    assert!(parse_date("2024-02-29").is_some());
    assert!(parse_date("2024-13-01").is_none());
    assert!(check_postcode("SW1A 1AA").is_ok());
    assert!(check_postcode("M1 1AE").is_ok());
    assert!(
        check_postcode("M1 1AC").is_err(),
        "C is not an inward letter"
    );
    assert!(check_postcode("1M 1AA").is_err());
}

#[test]
fn members_are_a_pure_function_of_seed_and_index() {
    let a = Generator::new(SEED);
    let b = Generator::new(SEED);
    let forward: Vec<Member> = (0..2_000).map(|i| a.member(i)).collect();
    let backward: Vec<Member> = (0..2_000).rev().map(|i| b.member(i)).collect();
    assert!(forward.iter().eq(backward.iter().rev()));

    let other = Generator::new(SEED + 1);
    let mut same_email = 0;
    for (i, m) in forward.iter().enumerate() {
        let o = other.member(i as u64);
        assert_ne!(m, &o, "member {i} is the same under two seeds");
        assert_eq!(m.id(), o.id(), "ids depend only on the index");
        same_email += usize::from(m.email() == o.email());
        assert_ne!(m.values()[4], o.values()[4], "phones depend on the seed");
    }
    assert!(
        same_email < 20,
        "{same_email} emails did not change with the seed"
    );
}

/// Pins the output so that an accidental change to the generator (a word
/// list, the draw order, the PRNG) is noticed; a deliberate one updates this.
#[test]
fn golden_members() {
    let g = Generator::new(SEED);
    assert_eq!(g.member(0).values(), GOLDEN_0);
    assert_eq!(g.member(123_456).values(), GOLDEN_123456);
}

const GOLDEN_0: [&str; 23] = [
    "M00000001",
    "Catriona",
    "Begum",
    "cbegum1@example.net",
    "07424 552119",
    "116 Ferry Mews",
    "",
    "Barnsley",
    "S3 6PQ",
    "1984-09-17",
    "E14000530",
    "Barnsley West",
    "lapsed",
    "2019-05-01",
    "2023-07-02",
    "true",
    "true",
    "true",
    "",
    "",
    "",
    "113.00",
    "",
];
const GOLDEN_123456: [&str; 23] = [
    "M00123457",
    "Chloe",
    "Morrison",
    "chloe_morrison123457@example.com",
    "07966 026231",
    "41 Hillside Road",
    "",
    "Wick",
    "KW2 5NQ",
    "1949-07-30",
    "S14000034",
    "Wick West",
    "member",
    "2009-01-01",
    "",
    "false",
    "true",
    "false",
    "",
    "White British",
    "no",
    "2.00",
    "",
];

#[test]
fn ids_emails_and_phones_are_unique() {
    let generator = Generator::new(SEED);
    let n = 100_000;
    let mut ids = HashSet::new();
    let mut emails = HashSet::new();
    let mut phones = HashSet::new();
    for index in 0..n {
        let m = generator.member(index);
        let v = m.values();
        assert!(ids.insert(v[0].to_owned()), "duplicate id {}", v[0]);
        assert!(emails.insert(v[3].to_owned()), "duplicate email {}", v[3]);
        assert!(phones.insert(v[4].to_owned()), "duplicate phone {}", v[4]);
    }
    assert_eq!(ids.len(), n as usize);
}

#[test]
fn phone_slots_are_a_bijection() {
    // Uniqueness up to 500M rests on the multiplier being coprime with the
    // modulus; check it for many seeds, including the adjustment path.
    let mut adjusted = false;
    for seed in 0..10_000 {
        let g = Generator::new(seed);
        let coprime = !g.phone_mul.is_multiple_of(2) && !g.phone_mul.is_multiple_of(5);
        assert!(coprime, "seed {seed}");
        assert!(g.phone_mul < PHONE_SPACE && g.phone_add < PHONE_SPACE);
        let unadjusted = (mix(seed ^ 0x7068_6f6e_655f_6d75) % PHONE_SPACE) | 1;
        adjusted |= unadjusted.is_multiple_of(5);
    }
    assert!(adjusted, "no seed exercised the coprime adjustment");
    // Distinct indices far apart still get distinct slots.
    let g = Generator::new(SEED);
    let slots: HashSet<u64> = (0..10_000)
        .map(|i| g.phone_number(i * 49_999 + 7))
        .collect();
    assert_eq!(slots.len(), 10_000);
}

#[test]
fn rates_are_roughly_as_documented() {
    let generator = Generator::new(SEED);
    let n = 100_000u64;
    let mut counts = std::collections::HashMap::<(&str, String), u64>::new();
    for index in 0..n {
        let m = generator.member(index);
        let v = m.values();
        for (col, value) in COLUMNS.iter().zip(v) {
            let key = match *col {
                "membership_status" | "consent_email" | "consent_phone" | "consent_post"
                | "disability" => value.to_owned(),
                "donation_total" if value == "0.00" => "zero".to_owned(),
                _ if value.is_empty() => "absent".to_owned(),
                _ => continue,
            };
            *counts.entry((col, key)).or_default() += 1;
        }
    }
    let pct = |col: &'static str, key: &str| {
        100.0 * *counts.get(&(col, key.to_owned())).unwrap_or(&0) as f64 / n as f64
    };
    let near = |col: &'static str, key: &str, want: f64| {
        let got = pct(col, key);
        assert!(
            (got - want).abs() < 1.0,
            "{col} {key}: {got:.2}% not ~{want}%"
        );
    };
    near("membership_status", "member", 70.0);
    near("membership_status", "lapsed", 12.0);
    near("membership_status", "former", 10.0);
    near("membership_status", "supporter", 8.0);
    near("left_on", "absent", 78.0);
    near("consent_email", "true", 60.0);
    near("consent_phone", "true", 40.0);
    near("consent_post", "true", 50.0);
    near("address_line2", "absent", 80.0);
    near("union_affiliation", "absent", 85.0);
    near("ethnicity", "absent", 40.0);
    near("disability", "", 30.0);
    near("donation_total", "zero", 35.0);
    near("notes", "absent", 90.0);
}

#[test]
fn constituencies_follow_the_ons_pattern() {
    let table = constituencies();
    assert_eq!(table.len(), 650);
    assert_eq!(table.len() as u64, CONSTITUENCY_COUNT);
    let expected = [
        ("E14", 530, 533),
        ("W07", 41, 40),
        ("S14", 1, 59),
        ("N06", 1, 18),
    ];
    let mut i = 0;
    for (prefix, first, count) in expected {
        for k in 0..count {
            assert_eq!(table[i].code, format!("{prefix}{:06}", first + k));
            i += 1;
        }
    }
    assert_eq!(table[0].code, "E14000530");
    assert_eq!(table[532].code, "E14001062");
    assert_eq!(table[649].code, "N06000018");

    let names: HashSet<&str> = table.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 650, "constituency names are unique");
    let mut branches = HashSet::new();
    let mut outwards = HashSet::new();
    for c in table {
        assert!((2..=4).contains(&c.branches().len()), "{}", c.name);
        for b in c.branches() {
            assert!(b.starts_with(&c.name), "{b} of {}", c.name);
            assert!(branches.insert(b.as_str()), "branch {b} repeats");
            assert!(!names.contains(b.as_str()), "branch {b} is a constituency");
        }
        assert_eq!(c.districts().len(), 3);
        for d in c.districts() {
            let o = &d.outward;
            check_postcode(&format!("{o} 1AA")).unwrap();
            assert!(outwards.insert(o.as_str()), "outward {o} repeats");
            assert!(c.name.contains(d.town), "{} in {}", d.town, c.name);
        }
    }
    let branch_counts: HashSet<usize> = table.iter().map(|c| c.branches().len()).collect();
    assert_eq!(branch_counts.len(), 3, "2, 3 and 4 branches all occur");
}

#[test]
fn members_of_a_constituency_can_be_enumerated() {
    let g = Generator::new(SEED);
    for c in [0, 1, 532, 533, 649] {
        for k in [0, 1, 1_000, 15_000] {
            let index = g.member_index(c, k).unwrap();
            assert_eq!(g.constituency_of(index), c);
            assert_eq!(g.member(index).constituency(), constituencies()[c].code);
        }
    }
    assert_eq!(g.member_index(3, 2), Some(1303));
    assert_eq!(g.member_index(650, 0), None);
    assert_eq!(g.member_index(0, u64::MAX), None);
    // Every constituency is used, evenly.
    let used: HashSet<usize> = (0..650).map(|i| g.constituency_of(i)).collect();
    assert_eq!(used.len(), 650);
}

#[test]
fn word_lists_are_large_distinct_and_plain() {
    let given: HashSet<&str> = words::GIVEN_NAMES.iter().copied().collect();
    assert_eq!(
        given.len(),
        words::GIVEN_NAMES.len(),
        "duplicate given name"
    );
    assert!(given.len() >= 150, "{} given names", given.len());
    let family: HashSet<&str> = words::FAMILY_NAMES.iter().copied().collect();
    assert_eq!(
        family.len(),
        words::FAMILY_NAMES.len(),
        "duplicate family name"
    );
    assert!(family.len() >= 250, "{} family names", family.len());
    for name in given.iter().chain(&family) {
        assert!(check_name(name), "{name:?}");
    }
    let street_names: HashSet<&str> = words::STREET_NAMES.iter().copied().collect();
    assert_eq!(street_names.len(), words::STREET_NAMES.len());
    let places = [
        words::ENGLISH_PLACES,
        words::WELSH_PLACES,
        words::SCOTTISH_PLACES,
        words::NORTHERN_IRISH_PLACES,
    ];
    let towns: HashSet<&str> = places.iter().flat_map(|l| l.iter().map(|p| p.0)).collect();
    assert_eq!(towns.len(), places.iter().map(|l| l.len()).sum::<usize>());
    for &(town, area) in places.iter().copied().flatten() {
        let area_ok = (1..=2).contains(&area.len()) && area.bytes().all(|b| b.is_ascii_uppercase());
        assert!(area_ok, "{town}: {area}");
        // Constituency names must not end in a branch suffix.
        assert!(
            !["North", "South", "East", "West", "Central"]
                .iter()
                .any(|c| town.ends_with(c))
        );
    }
    for weights in [words::ETHNICITIES, words::DISABILITY] {
        assert_eq!(weights.iter().map(|(_, w)| w).sum::<u64>(), 1000);
    }
}

#[test]
fn calendar_conversion_matches_a_day_by_day_walk() {
    let (mut y, mut m, mut d) = (1900u32, 1u32, 1u32);
    let start = days_from_civil(1900, 1, 1);
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    for days in start..days_from_civil(2100, 12, 31) {
        assert_eq!(civil_from_days(days), (i64::from(y), m, d));
        assert_eq!(days_from_civil(i64::from(y), m, d), days);
        let text = format!("{y:04}-{m:02}-{d:02}");
        assert!(parse_date(&text).is_some(), "{text}");
        // Step to the next day with the test's own calendar.
        let next = format!("{y:04}-{m:02}-{:02}", d + 1);
        if parse_date(&next).is_some() {
            d += 1;
        } else if m < 12 {
            (m, d) = (m + 1, 1);
        } else {
            (y, m, d) = (y + 1, 1, 1);
        }
    }
}

// -------------------------------------------------------------------- CSV

/// A strict RFC 4180 parser: CRLF record ends, quotes only around whole
/// fields, `""` inside quotes.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    loop {
        // At the start of a field.
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quote".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\r' {
                    break;
                }
                if c == '"' || c == '\n' {
                    return Err(format!("bare {c:?} in unquoted field"));
                }
                field.push(c);
                chars.next();
            }
        }
        record.push(std::mem::take(&mut field));
        match chars.next() {
            Some(',') => {}
            Some('\r') if chars.next() == Some('\n') => {
                records.push(std::mem::take(&mut record));
                if chars.peek().is_none() {
                    return Ok(records);
                }
            }
            other => return Err(format!("unexpected {other:?} after a field")),
        }
    }
}

#[test]
fn csv_round_trips_through_a_strict_parser() {
    let generator = Generator::new(SEED);
    let n = 5_000;
    let mut out = Vec::new();
    generator.write_csv(&mut out, n).unwrap();
    let text = String::from_utf8(out).unwrap();
    let records = parse_csv(&text).unwrap();
    assert_eq!(records.len(), n as usize + 1);
    assert_eq!(records[0], COLUMNS);
    for (index, record) in records[1..].iter().enumerate() {
        let member = generator.member(index as u64);
        assert_eq!(record, &member.values(), "record {index}");
    }
    // The sample must actually exercise quoting, or this test proves little.
    let notes = records[1..].iter().map(|r| r[22].as_str());
    assert!(notes.clone().any(|n| n.contains('"')));
    assert!(notes.clone().any(|n| n.contains('\n')));
    assert!(notes.clone().any(|n| n.contains(',')));
    assert!(records[1..].iter().any(|r| r[19].contains(',')));
}

#[test]
fn csv_quotes_only_when_needed() {
    let mut out = Vec::new();
    encode_record(
        &mut out,
        &[
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            "",
            "O'Brien",
        ],
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",,O'Brien\r\n"
    );
    let mut empty = Vec::new();
    Generator::new(SEED).write_csv(&mut empty, 0).unwrap();
    assert_eq!(empty, format!("{}\r\n", COLUMNS.join(",")).into_bytes());
}
