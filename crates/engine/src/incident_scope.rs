//! What an incident covers: its scopes, as DPOs type them.
//!
//! A scope is one source of exposure, optionally narrowed to a time window,
//! written as comma-separated parts:
//!
//! ```text
//! principal:NAME[,window:FROM..TO]   everything released to that principal
//! token:ID[,window:FROM..TO]         everything released to requests with that token
//! processor:NAME[,window:FROM..TO]   every export to it, and everything its principals read
//! export:ID                          one export to a processor
//! window:FROM..TO                    everything the vault released in the window
//! store[,window:FROM..TO]            the store file itself was taken (in the window)
//! ```
//!
//! FROM and TO are RFC 3339 times or dates (a date starts at 00:00 UTC as
//! FROM, and ends at the next midnight as TO); the window holds times at or
//! after FROM and before TO. With a principal, token or processor, either
//! end may be left open (`window:2026-11-01..`); a window on its own must
//! be closed, or it would be the whole ledger.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use custos_model::{ExportId, ProcessorName};

use crate::clock::stamp;

/// Where an incident's exposure comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeSource {
    /// Everything released to this principal.
    Principal(String),
    /// Everything released to requests that presented this token.
    Token(String),
    /// Every export to this processor, and everything its principals read.
    Processor(ProcessorName),
    /// One export to a processor.
    Export(ExportId),
    /// Everything the vault released, within the scope's window.
    Everything,
    /// The store file itself.
    Store,
}

/// A time window: at or after `from`, before `to`; an absent end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The start, if any.
    pub from: Option<OffsetDateTime>,
    /// The end, if any.
    pub to: Option<OffsetDateTime>,
}

impl Window {
    /// The start in the ledger's time format.
    pub(crate) fn start_stamp(&self) -> Option<String> {
        self.from.map(stamp)
    }

    /// The end in the ledger's time format.
    pub(crate) fn end_stamp(&self) -> Option<String> {
        self.to.map(stamp)
    }
}

/// One scope of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Where the exposure comes from.
    pub source: ScopeSource,
    /// When, if narrowed.
    pub window: Option<Window>,
}

const SYNTAX: &str = "expected principal:NAME, token:ID, processor:NAME, export:ID, window:FROM..TO or store, \
     optionally with `,window:FROM..TO`";

impl Scope {
    /// Parses a scope as typed. Errors say which part is wrong and what is
    /// expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let mut source: Option<ScopeSource> = None;
        let mut window: Option<Window> = None;
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(format!("scope `{text}` has an empty part ({SYNTAX})"));
            }
            let (kind, value) = part.split_once(':').unwrap_or((part, ""));
            let value = value.trim();
            let parsed = match kind.trim() {
                "window" => {
                    if window.is_some() {
                        return Err(format!("scope `{text}` has two windows; give one"));
                    }
                    window = Some(parse_window(value)?);
                    continue;
                }
                "store" if value.is_empty() => ScopeSource::Store,
                "principal" if !value.is_empty() => ScopeSource::Principal(value.to_owned()),
                "token" if !value.is_empty() => ScopeSource::Token(value.to_owned()),
                "processor" => ScopeSource::Processor(
                    ProcessorName::parse(value)
                        .map_err(|e| format!("scope `{text}`: the processor name {e}"))?,
                ),
                "export" => ScopeSource::Export(
                    ExportId::parse(value)
                        .map_err(|e| format!("scope `{text}`: the export id {e}"))?,
                ),
                _ => return Err(format!("scope part `{part}` is not understood ({SYNTAX})")),
            };
            if source.is_some() {
                return Err(format!(
                    "scope `{text}` names two sources; give each its own --scope"
                ));
            }
            source = Some(parsed);
        }
        let source = match (source, &window) {
            (Some(source), _) => source,
            (None, Some(w)) if w.from.is_some() && w.to.is_some() => ScopeSource::Everything,
            (None, Some(_)) => {
                return Err(format!(
                    "scope `{text}`: a window on its own must have both ends (window:FROM..TO), or it would be the whole ledger"
                ));
            }
            (None, None) => return Err(format!("scope `{text}` is empty ({SYNTAX})")),
        };
        if matches!(source, ScopeSource::Export(_)) && window.is_some() {
            return Err(format!(
                "scope `{text}`: an export happened once; it takes no window"
            ));
        }
        Ok(Self { source, window })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            ScopeSource::Principal(name) => write!(f, "principal:{name}")?,
            ScopeSource::Token(id) => write!(f, "token:{id}")?,
            ScopeSource::Processor(name) => write!(f, "processor:{name}")?,
            ScopeSource::Export(id) => write!(f, "export:{id}")?,
            ScopeSource::Store => f.write_str("store")?,
            ScopeSource::Everything => {}
        }
        if let Some(w) = &self.window {
            if self.source != ScopeSource::Everything {
                f.write_str(",")?;
            }
            write!(
                f,
                "window:{}..{}",
                w.start_stamp().unwrap_or_default(),
                w.end_stamp().unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

fn parse_window(value: &str) -> Result<Window, String> {
    let (from, to) = value.split_once("..").ok_or_else(|| {
        format!("window `{value}` is not FROM..TO (such as 2026-11-01..2026-11-08)")
    })?;
    let end = |raw: &str, edge_is_end: bool| -> Result<Option<OffsetDateTime>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        parse_instant(raw, edge_is_end).map(Some)
    };
    let window = Window {
        from: end(from, false)?,
        to: end(to, true)?,
    };
    if let (Some(f), Some(t)) = (window.from, window.to)
        && f >= t
    {
        return Err(format!(
            "window `{value}` ends before it starts (expected FROM earlier than TO)"
        ));
    }
    Ok(window)
}

/// Parses an RFC 3339 time, or a date: its start, or (for the end of a
/// window) the start of the next day, so that a window of one date holds
/// that whole day.
pub(crate) fn parse_instant(raw: &str, end_of_day: bool) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(t.to_offset(UtcOffset::UTC));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = Date::parse(raw, &format) {
        let day = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
        return Ok(if end_of_day {
            day + time::Duration::days(1)
        } else {
            day
        });
    }
    Err(format!(
        "`{raw}` is not a time (expected RFC 3339 such as 2026-11-01T09:30:00Z, or a date such as 2026-11-01)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_text() {
        for text in [
            "principal:ana",
            "principal:ana,window:2026-11-01T00:00:00.000Z..2026-11-02T00:00:00.000Z",
            "token:tk_0123456789ab",
            "processor:mailhouse,window:2026-11-01T00:00:00.000Z..",
            "export:EX-0003",
            "window:2026-11-01T00:00:00.000Z..2026-11-02T00:00:00.000Z",
            "store",
            "store,window:2026-11-01T00:00:00.000Z..2026-11-02T00:00:00.000Z",
        ] {
            let scope = Scope::parse(text).unwrap();
            assert_eq!(scope.to_string(), text);
            assert_eq!(Scope::parse(&scope.to_string()).unwrap(), scope);
        }
    }

    #[test]
    fn windows_take_dates_and_times() {
        let s = Scope::parse("window:2026-11-01..2026-11-01").unwrap();
        assert_eq!(
            s.to_string(),
            "window:2026-11-01T00:00:00.000Z..2026-11-02T00:00:00.000Z"
        );
        let w = s.window.unwrap();
        assert_eq!(w.start_stamp().as_deref(), Some("2026-11-01T00:00:00.000Z"));
        assert_eq!(w.end_stamp().as_deref(), Some("2026-11-02T00:00:00.000Z"));
        let s = Scope::parse(" window:..2026-11-01T10:00:00+01:00, principal:ana ").unwrap();
        assert_eq!(s.source, ScopeSource::Principal("ana".into()));
        assert_eq!(
            s.window.unwrap().end_stamp().as_deref(),
            Some("2026-11-01T09:00:00.000Z")
        );
    }

    #[test]
    fn bad_scopes_say_what_is_expected() {
        for (text, says) in [
            ("", "empty"),
            ("person:ana", "not understood"),
            ("principal:", "not understood"),
            ("window:2026-11-02..2026-11-01", "ends before it starts"),
            ("window:2026-11-01..", "both ends"),
            ("window:..", "both ends"),
            ("window:2026-11-01", "FROM..TO"),
            ("window:yesterday..today", "RFC 3339"),
            ("principal:ana,token:tk_1", "two sources"),
            (
                "principal:ana,window:..2026-11-01,window:..2026-11-02",
                "two windows",
            ),
            ("export:EX-1,window:2026-11-01..2026-11-02", "no window"),
            ("export:7", "EX-0001"),
            ("processor:Mail House", "processor name"),
            ("principal:ana,", "empty part"),
        ] {
            let err = Scope::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
