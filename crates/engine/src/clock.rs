//! Times as the store keeps them, and as people type them.
//!
//! Stored times are UTC with milliseconds, `YYYY-MM-DDTHH:MM:SS.mmmZ`, the
//! form the ledger uses, which sorts as text in time order.

use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A time in the stored form.
pub(crate) fn stamp(t: OffsetDateTime) -> String {
    custos_ledger::format_time(t)
}

/// Now, in the stored form.
pub(crate) fn now_stamp() -> String {
    stamp(OffsetDateTime::now_utc())
}

/// Parses a stored time.
pub(crate) fn parse_stamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Which end of a day a bare date means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEdge {
    /// 00:00 UTC of that day, for a start.
    Start,
    /// 00:00 UTC of the next day, for an end: `valid_until = 2027-03-31`
    /// lets the principal act through the 31st.
    End,
}

/// Parses a time a person typed: RFC 3339 (`2027-03-31T17:00:00Z`), a date
/// (`2027-03-31`, taken as `edge` of that day in UTC), or a span from now
/// (`90d`, `12h`, `30m`). Errors say what is expected.
pub fn parse_time_input(raw: &str, edge: DayEdge) -> Result<OffsetDateTime, String> {
    let raw = raw.trim();
    let expected = "expected an RFC 3339 time such as 2027-03-31T17:00:00Z, a date such as 2027-03-31, or a span such as 90d, 12h or 30m";
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(t.to_offset(UtcOffset::UTC));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = Date::parse(raw, &date_format) {
        let day = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
        return Ok(match edge {
            DayEdge::Start => day,
            DayEdge::End => day + Duration::days(1),
        });
    }
    let (digits, unit) = raw.split_at(raw.len().saturating_sub(1));
    let amount: i64 = digits
        .parse()
        .ok()
        .filter(|n| *n > 0 && *n <= 100_000)
        .ok_or_else(|| format!("`{raw}` is not a time ({expected})"))?;
    let span = match unit {
        "d" => Duration::days(amount),
        "h" => Duration::hours(amount),
        "m" => Duration::minutes(amount),
        _ => return Err(format!("`{raw}` is not a time ({expected})")),
    };
    Ok(OffsetDateTime::now_utc() + span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_sort() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let s = stamp(t);
        assert_eq!(s, "2027-01-15T08:00:00.000Z");
        assert_eq!(parse_stamp(&s), Some(t));
        assert!(stamp(t) < stamp(t + Duration::milliseconds(1)));
    }

    #[test]
    fn people_type_times_dates_and_spans() {
        let end = parse_time_input("2027-03-31", DayEdge::End).unwrap();
        assert_eq!(stamp(end), "2027-04-01T00:00:00.000Z");
        let start = parse_time_input("2027-03-31", DayEdge::Start).unwrap();
        assert_eq!(stamp(start), "2027-03-31T00:00:00.000Z");
        let exact = parse_time_input("2027-03-31T17:00:00+01:00", DayEdge::End).unwrap();
        assert_eq!(stamp(exact), "2027-03-31T16:00:00.000Z");
        let soon = parse_time_input("12h", DayEdge::End).unwrap();
        assert!(soon > OffsetDateTime::now_utc() + Duration::hours(11));
        for bad in ["tomorrow", "0d", "5y", "", "-3d"] {
            let err = parse_time_input(bad, DayEdge::End).unwrap_err();
            assert!(err.contains("expected"), "{bad}: {err}");
        }
    }
}
