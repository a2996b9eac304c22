//! Proleptic Gregorian calendar arithmetic on day numbers.
//!
//! Dates are drawn as day counts so that ranges ("after the 16th birthday",
//! "after joining") are plain integer comparisons and every generated date is
//! a real calendar date by construction. The conversions are Howard Hinnant's
//! `days_from_civil` / `civil_from_days`, exact for every date used here.

/// Days since 1970-01-01 of the given date. Day 0 of a month, or day 29 of a
/// non-leap February, roll over into the neighbouring month, which is what
/// adding years to a 29 February birthday should do.
pub(crate) const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = ((month + 9) % 12) as i64;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `(year, month, day)` of a day number from [`days_from_civil`].
pub(crate) const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}
