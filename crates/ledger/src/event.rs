//! One ledger event, and the two forms it takes outside memory: the canonical
//! bytes that are hashed into the tree, and a JSON line for export.
//!
//! The canonical bytes are what the signed heads commit to, so they are
//! specified exactly (below), versioned, and parsed strictly: any other
//! program, such as an auditor's script, can recompute a leaf hash from an
//! exported event, and a change to any field, however small, changes the hash.
//!
//! An event never contains a personal field value: it names subjects by id
//! and fields by name only. The ledger can then be kept, exported and shown to
//! auditors without becoming a second copy of the data it protects.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::merkle::{self, Hash};

/// Whether an access went ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every field asked for was released.
    Allowed,
    /// Some fields were released and the others denied.
    Partial,
    /// Nothing was released: the policy said no.
    Denied,
    /// Nothing was released: the operation failed after it was authorised.
    Failed,
}

impl Outcome {
    /// The lower-case name used in the canonical encoding, JSON and queries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Partial => "partial",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    /// Parses the output of [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Self::Allowed),
            "partial" => Some(Self::Partial),
            "denied" => Some(Self::Denied),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decision about personal data: who asked, how they proved who they
/// are, what they did to which subjects and why, which fields were released
/// or denied, and how it ended.
///
/// It holds names and ids, never field values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's position in the log, which is also its leaf index in the
    /// tree: the first event is 0, and each next one is one more.
    pub seq: u64,
    /// When the event was recorded: RFC 3339 in UTC with milliseconds, such
    /// as `2026-11-25T14:00:00.123Z`.
    pub time: String,
    /// Who acted: a principal id.
    pub principal: String,
    /// How the principal authenticated, such as `local_operator`, or
    /// `api_token tk_0123456789ab` and `session+totp tk_…` with the public
    /// id of the token or session used.
    pub auth: String,
    /// What was done: `read`, `create`, `update`, `erase`, `find`, `list`,
    /// `import`, `export` and so on.
    pub action: String,
    /// The purpose the principal declared.
    pub purpose: String,
    /// The ids of the subjects touched.
    pub subjects: Vec<String>,
    /// The names of the fields released.
    pub fields_released: Vec<String>,
    /// The names of the fields asked for and denied.
    pub fields_denied: Vec<String>,
    /// How the decision ended.
    pub outcome: Outcome,
    /// Why, in words: the policy that decided, or the error.
    pub reason: String,
    /// The request id, to match the event with server logs.
    pub request_id: String,
    /// The client address, or the name of the internal job.
    pub client: String,
}

/// Why bytes or a JSON line are not a ledger event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The event was written by a newer Custos.
    #[error(
        "ledger event format version {found} is newer than this custos understands (version {}); upgrade custos",
        Event::FORMAT_VERSION
    )]
    UnsupportedVersion {
        /// The version found.
        found: u64,
    },
    /// The bytes end before the event does.
    #[error("ledger event data is damaged: it ends inside `{field}`")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// There are bytes after the last field.
    #[error("ledger event data is damaged: {extra} unexpected bytes follow the last field")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A text field is not UTF-8.
    #[error("ledger event data is damaged: `{field}` is not valid UTF-8")]
    NotText {
        /// The field.
        field: &'static str,
    },
    /// The outcome is not one of the four known ones.
    #[error(
        "ledger event has an unknown outcome `{0}` (expected allowed, partial, denied or failed)"
    )]
    UnknownOutcome(String),
    /// A JSON line does not have the shape of an event.
    #[error("ledger event is not valid JSON: {0}")]
    Json(String),
}

impl Event {
    /// The version of the canonical encoding and of the JSON form written by
    /// this code. Data of a later version is refused, not guessed at.
    pub const FORMAT_VERSION: u8 = 1;

    /// The canonical encoding, version 1, that the leaf hash is computed
    /// over. Every field is present, in this fixed order:
    ///
    /// ```text
    /// version          1 byte, 0x01
    /// seq              u64
    /// time             text
    /// principal        text
    /// auth             text
    /// action           text
    /// purpose          text
    /// subjects         list
    /// fields_released  list
    /// fields_denied    list
    /// outcome          text: allowed | partial | denied | failed
    /// reason           text
    /// request_id       text
    /// client           text
    ///
    /// u64   8 bytes, big-endian
    /// text  u64 byte length, then that many bytes of UTF-8
    /// list  u64 item count, then that many texts
    /// ```
    ///
    /// Length prefixes make the encoding injective: `["ab", "c"]` and
    /// `["a", "bc"]` encode differently. They are 64 bits wide so that no
    /// text, however long, needs a limit or a special case.
    pub fn leaf_data(&self) -> Vec<u8> {
        let texts = [
            &self.time,
            &self.principal,
            &self.auth,
            &self.action,
            &self.purpose,
            &self.reason,
            &self.request_id,
            &self.client,
        ];
        let lists = [&self.subjects, &self.fields_released, &self.fields_denied];
        let capacity = 1
            + 8
            + 8 * 9
            + texts.iter().map(|t| t.len()).sum::<usize>()
            + lists
                .iter()
                .map(|l| 8 + l.iter().map(|t| 8 + t.len()).sum::<usize>())
                .sum::<usize>()
            + self.outcome.as_str().len();
        let mut out = Vec::with_capacity(capacity);
        out.push(Self::FORMAT_VERSION);
        out.extend_from_slice(&self.seq.to_be_bytes());
        put_text(&mut out, &self.time);
        put_text(&mut out, &self.principal);
        put_text(&mut out, &self.auth);
        put_text(&mut out, &self.action);
        put_text(&mut out, &self.purpose);
        put_list(&mut out, &self.subjects);
        put_list(&mut out, &self.fields_released);
        put_list(&mut out, &self.fields_denied);
        put_text(&mut out, self.outcome.as_str());
        put_text(&mut out, &self.reason);
        put_text(&mut out, &self.request_id);
        put_text(&mut out, &self.client);
        out
    }

    /// Parses the canonical encoding. Strict: the version must be one this
    /// code writes, every length must fit, the outcome must be known, and
    /// nothing may follow the last field. So `from_leaf_data(b)` succeeds
    /// only when `b` is exactly `leaf_data()` of the result.
    pub fn from_leaf_data(data: &[u8]) -> Result<Self, EventError> {
        let mut r = Reader { data, pos: 0 };
        let version = r.byte("version")?;
        if version != Self::FORMAT_VERSION {
            return Err(EventError::UnsupportedVersion {
                found: u64::from(version),
            });
        }
        let seq = r.u64("seq")?;
        let time = r.text("time")?;
        let principal = r.text("principal")?;
        let auth = r.text("auth")?;
        let action = r.text("action")?;
        let purpose = r.text("purpose")?;
        let subjects = r.list("subjects")?;
        let fields_released = r.list("fields_released")?;
        let fields_denied = r.list("fields_denied")?;
        let outcome = r.text("outcome")?;
        let outcome = Outcome::parse(&outcome).ok_or(EventError::UnknownOutcome(outcome))?;
        let reason = r.text("reason")?;
        let request_id = r.text("request_id")?;
        let client = r.text("client")?;
        let extra = data.len() - r.pos;
        if extra != 0 {
            return Err(EventError::TrailingBytes { extra });
        }
        Ok(Self {
            seq,
            time,
            principal,
            auth,
            action,
            purpose,
            subjects,
            fields_released,
            fields_denied,
            outcome,
            reason,
            request_id,
            client,
        })
    }

    /// The event's leaf hash in the tree: `SHA-256(0x00 || leaf_data())`.
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.leaf_data())
    }

    /// The event as one line of JSON (no newline), for JSON Lines exports:
    ///
    /// ```json
    /// {"v":1,"seq":0,"time":"2026-11-25T14:00:00.123Z","principal":"…","auth":"api_token",
    ///  "action":"read","purpose":"…","subjects":["M1"],"fields_released":["email"],
    ///  "fields_denied":[],"outcome":"allowed","reason":"…","request_id":"…","client":"…"}
    /// ```
    ///
    /// It carries the same fields as the canonical encoding, so an auditor can
    /// rebuild the leaf hash from it.
    pub fn to_json(&self) -> String {
        let line = EventLineOut {
            v: Self::FORMAT_VERSION,
            seq: self.seq,
            time: &self.time,
            principal: &self.principal,
            auth: &self.auth,
            action: &self.action,
            purpose: &self.purpose,
            subjects: &self.subjects,
            fields_released: &self.fields_released,
            fields_denied: &self.fields_denied,
            outcome: self.outcome.as_str(),
            reason: &self.reason,
            request_id: &self.request_id,
            client: &self.client,
        };
        match serde_json::to_string(&line) {
            Ok(json) => json,
            // Strings, integers and lists of strings always serialise.
            Err(_) => unreachable!("an event always serialises to JSON"),
        }
    }

    /// Parses the output of [`Event::to_json`]. Every key is required and no
    /// other key is allowed, so a line from a newer format is refused.
    pub fn from_json(line: &str) -> Result<Self, EventError> {
        let parsed: EventLineIn = match serde_json::from_str(line) {
            Ok(parsed) => parsed,
            Err(err) => {
                // A newer line may fail on its new keys; say it is newer
                // rather than name a key this code has never heard of.
                if let Ok(VersionProbe { v }) = serde_json::from_str(line)
                    && v != u64::from(Self::FORMAT_VERSION)
                {
                    return Err(EventError::UnsupportedVersion { found: v });
                }
                return Err(EventError::Json(err.to_string()));
            }
        };
        if parsed.v != u64::from(Self::FORMAT_VERSION) {
            return Err(EventError::UnsupportedVersion { found: parsed.v });
        }
        let outcome =
            Outcome::parse(&parsed.outcome).ok_or(EventError::UnknownOutcome(parsed.outcome))?;
        Ok(Self {
            seq: parsed.seq,
            time: parsed.time,
            principal: parsed.principal,
            auth: parsed.auth,
            action: parsed.action,
            purpose: parsed.purpose,
            subjects: parsed.subjects,
            fields_released: parsed.fields_released,
            fields_denied: parsed.fields_denied,
            outcome,
            reason: parsed.reason,
            request_id: parsed.request_id,
            client: parsed.client,
        })
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u64).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn put_list(out: &mut Vec<u8>, items: &[String]) {
    out.extend_from_slice(&(items.len() as u64).to_be_bytes());
    for item in items {
        put_text(out, item);
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: u64, field: &'static str) -> Result<&[u8], EventError> {
        let remaining = self.data.len() - self.pos;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= remaining)
            .ok_or(EventError::Truncated { field })?;
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, EventError> {
        Ok(self.take(1, field)?[0])
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, EventError> {
        let bytes: [u8; 8] = self
            .take(8, field)?
            .try_into()
            .map_err(|_| EventError::Truncated { field })?;
        Ok(u64::from_be_bytes(bytes))
    }

    fn text(&mut self, field: &'static str) -> Result<String, EventError> {
        let len = self.u64(field)?;
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| EventError::NotText { field })
    }

    fn list(&mut self, field: &'static str) -> Result<Vec<String>, EventError> {
        let count = self.u64(field)?;
        // No capacity from the untrusted count: each item needs at least 8
        // more bytes, so a lying count fails at the first missing item.
        let mut items = Vec::new();
        for _ in 0..count {
            items.push(self.text(field)?);
        }
        Ok(items)
    }
}

/// The JSON line as written. Field order is key order in the output.
#[derive(Serialize)]
struct EventLineOut<'a> {
    v: u8,
    seq: u64,
    time: &'a str,
    principal: &'a str,
    auth: &'a str,
    action: &'a str,
    purpose: &'a str,
    subjects: &'a [String],
    fields_released: &'a [String],
    fields_denied: &'a [String],
    outcome: &'static str,
    reason: &'a str,
    request_id: &'a str,
    client: &'a str,
}

/// The JSON line as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventLineIn {
    v: u64,
    seq: u64,
    time: String,
    principal: String,
    auth: String,
    action: String,
    purpose: String,
    subjects: Vec<String>,
    fields_released: Vec<String>,
    fields_denied: Vec<String>,
    outcome: String,
    reason: String,
    request_id: String,
    client: String,
}

#[derive(Deserialize)]
struct VersionProbe {
    v: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            seq: 42,
            time: "2026-11-25T14:00:00.123Z".into(),
            principal: "caseworker-7".into(),
            auth: "api_token".into(),
            action: "read".into(),
            purpose: "renewal reminder".into(),
            subjects: vec!["M1001".into(), "M1002".into()],
            fields_released: vec!["email".into()],
            fields_denied: vec!["date_of_birth".into()],
            outcome: Outcome::Partial,
            reason: "policy `caseworkers` denies special categories".into(),
            request_id: "req-9f2".into(),
            client: "192.0.2.10".into(),
        }
    }

    /// Each way of changing one field of the sample, so every field is shown
    /// to be covered by the encoding.
    fn one_field_changes() -> Vec<(&'static str, Event)> {
        let base = sample();
        let mut out = Vec::new();
        let mut change = |name, f: fn(&mut Event)| {
            let mut e = base.clone();
            f(&mut e);
            out.push((name, e));
        };
        change("seq", |e| e.seq += 1);
        change("time", |e| e.time.push('0'));
        change("principal", |e| e.principal.push('x'));
        change("auth", |e| e.auth = "local_operator".into());
        change("action", |e| e.action = "update".into());
        change("purpose", |e| e.purpose.push('.'));
        change("subjects", |e| e.subjects.push("M1003".into()));
        change("subjects order", |e| e.subjects.reverse());
        change("fields_released", |e| e.fields_released.clear());
        change("fields_denied", |e| e.fields_denied.push("email".into()));
        change("outcome", |e| e.outcome = Outcome::Allowed);
        change("reason", |e| e.reason.clear());
        change("request_id", |e| e.request_id.push('1'));
        change("client", |e| e.client = "192.0.2.11".into());
        change("released moved to denied", |e| {
            let f = e.fields_released.remove(0);
            e.fields_denied.insert(0, f);
        });
        out
    }

    #[test]
    fn leaf_data_round_trips() {
        let e = sample();
        assert_eq!(Event::from_leaf_data(&e.leaf_data()), Ok(e.clone()));
        for (name, changed) in one_field_changes() {
            assert_eq!(
                Event::from_leaf_data(&changed.leaf_data()).as_ref(),
                Ok(&changed),
                "{name}"
            );
        }
        let empty = Event {
            seq: 0,
            time: String::new(),
            principal: String::new(),
            auth: String::new(),
            action: String::new(),
            purpose: String::new(),
            subjects: vec![],
            fields_released: vec![],
            fields_denied: vec![],
            outcome: Outcome::Failed,
            reason: String::new(),
            request_id: String::new(),
            client: String::new(),
        };
        assert_eq!(Event::from_leaf_data(&empty.leaf_data()), Ok(empty));
    }

    #[test]
    fn every_field_changes_the_leaf_hash() {
        let base = sample().leaf_hash();
        let mut seen = vec![base];
        for (name, changed) in one_field_changes() {
            let h = changed.leaf_hash();
            assert!(
                !seen.contains(&h),
                "changing {name} did not change the hash"
            );
            seen.push(h);
        }
    }

    #[test]
    fn boundaries_between_items_and_fields_are_encoded() {
        let mut a = sample();
        let mut b = sample();
        a.subjects = vec!["ab".into(), "c".into()];
        b.subjects = vec!["a".into(), "bc".into()];
        assert_ne!(a.leaf_data(), b.leaf_data());
        // Moving text across a field boundary.
        let (mut a, mut b) = (sample(), sample());
        a.principal = "ab".into();
        a.auth = "c".into();
        b.principal = "a".into();
        b.auth = "bc".into();
        assert_ne!(a.leaf_data(), b.leaf_data());
        // An item moved from one list to the next.
        let (mut a, mut b) = (sample(), sample());
        a.subjects = vec!["x".into()];
        a.fields_released = vec![];
        b.subjects = vec![];
        b.fields_released = vec!["x".into()];
        assert_ne!(a.leaf_data(), b.leaf_data());
        // An empty list versus a list of one empty text.
        let (mut a, mut b) = (sample(), sample());
        a.fields_denied = vec![];
        b.fields_denied = vec![String::new()];
        assert_ne!(a.leaf_data(), b.leaf_data());
    }

    #[test]
    fn leaf_data_layout_is_pinned() {
        // Changing the layout changes every leaf hash ever signed: this test
        // is meant to fail if that happens by accident.
        let e = Event {
            seq: 1,
            time: "t".into(),
            principal: "p".into(),
            auth: "a".into(),
            action: "read".into(),
            purpose: "u".into(),
            subjects: vec!["M1".into()],
            fields_released: vec![],
            fields_denied: vec!["f".into()],
            outcome: Outcome::Denied,
            reason: "r".into(),
            request_id: "i".into(),
            client: "c".into(),
        };
        let mut expected = vec![1u8];
        expected.extend_from_slice(&1u64.to_be_bytes());
        for text in ["t", "p", "a", "read", "u"] {
            expected.extend_from_slice(&(text.len() as u64).to_be_bytes());
            expected.extend_from_slice(text.as_bytes());
        }
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(&2u64.to_be_bytes());
        expected.extend_from_slice(b"M1");
        expected.extend_from_slice(&0u64.to_be_bytes());
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(b"f");
        for text in ["denied", "r", "i", "c"] {
            expected.extend_from_slice(&(text.len() as u64).to_be_bytes());
            expected.extend_from_slice(text.as_bytes());
        }
        assert_eq!(e.leaf_data(), expected);
        assert_eq!(
            e.leaf_hash(),
            merkle::leaf_hash(&expected),
            "leaf hash is SHA-256(0x00 || leaf data)"
        );
    }

    #[test]
    fn damaged_leaf_data_is_refused() {
        let data = sample().leaf_data();
        // Every strict prefix is truncated.
        for len in 0..data.len() {
            assert!(
                matches!(
                    Event::from_leaf_data(&data[..len]),
                    Err(EventError::Truncated { .. })
                ),
                "prefix of {len} bytes"
            );
        }
        let mut longer = data.clone();
        longer.push(0);
        assert_eq!(
            Event::from_leaf_data(&longer),
            Err(EventError::TrailingBytes { extra: 1 })
        );
        let mut newer = data.clone();
        newer[0] = 2;
        assert_eq!(
            Event::from_leaf_data(&newer),
            Err(EventError::UnsupportedVersion { found: 2 })
        );
        assert!(
            Event::from_leaf_data(&newer)
                .unwrap_err()
                .to_string()
                .contains("upgrade custos")
        );
        // A huge length must fail cleanly, not allocate or overflow.
        let mut huge = data.clone();
        huge[9..17].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            Event::from_leaf_data(&huge),
            Err(EventError::Truncated { field: "time" })
        );
        // Invalid UTF-8 in a text field.
        let mut bad_text = data.clone();
        bad_text[17] = 0xff;
        assert_eq!(
            Event::from_leaf_data(&bad_text),
            Err(EventError::NotText { field: "time" })
        );
        // Every single-byte flip either fails to parse or parses to a
        // different event, never silently to the same one.
        for i in 0..data.len() {
            let mut flipped = data.clone();
            flipped[i] ^= 0x20;
            if let Ok(e) = Event::from_leaf_data(&flipped) {
                assert_ne!(e, sample(), "flip at byte {i}");
            }
        }
    }

    #[test]
    fn unknown_outcomes_are_refused() {
        let data = sample().leaf_data();
        let text = data.windows(7).position(|w| w == b"partial").unwrap();
        let mut odd = data.clone();
        odd[text..text + 7].copy_from_slice(b"partia_");
        assert_eq!(
            Event::from_leaf_data(&odd),
            Err(EventError::UnknownOutcome("partia_".into()))
        );
    }

    #[test]
    fn json_round_trips_and_is_one_line() {
        let e = sample();
        let line = e.to_json();
        assert!(!line.contains('\n'));
        assert!(line.starts_with(r#"{"v":1,"seq":42,"time":"2026-11-25T14:00:00.123Z","#));
        assert!(line.contains(r#""outcome":"partial""#));
        assert_eq!(Event::from_json(&line), Ok(e));
        for (name, changed) in one_field_changes() {
            assert_eq!(
                Event::from_json(&changed.to_json()).as_ref(),
                Ok(&changed),
                "{name}"
            );
        }
    }

    #[test]
    fn bad_json_lines_are_refused_with_the_reason() {
        let line = sample().to_json();
        let missing = line.replace(
            r#""reason":"policy `caseworkers` denies special categories","#,
            "",
        );
        let err = Event::from_json(&missing).unwrap_err();
        assert!(err.to_string().contains("missing field `reason`"), "{err}");

        let extra = line.replacen('{', r#"{"value":"ana@example.org","#, 1);
        let err = Event::from_json(&extra).unwrap_err();
        assert!(err.to_string().contains("unknown field `value`"), "{err}");

        let newer =
            line.replacen(r#""v":1"#, r#""v":2"#, 1)
                .replacen('{', r#"{"new_key":true,"#, 1);
        assert_eq!(
            Event::from_json(&newer),
            Err(EventError::UnsupportedVersion { found: 2 })
        );
        let newer_same_keys = line.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            Event::from_json(&newer_same_keys),
            Err(EventError::UnsupportedVersion { found: 2 })
        );

        let odd = line.replace(r#""outcome":"partial""#, r#""outcome":"maybe""#);
        assert_eq!(
            Event::from_json(&odd),
            Err(EventError::UnknownOutcome("maybe".into()))
        );
        assert!(matches!(
            Event::from_json("not json"),
            Err(EventError::Json(_))
        ));
    }

    #[test]
    fn outcome_names() {
        for o in [
            Outcome::Allowed,
            Outcome::Partial,
            Outcome::Denied,
            Outcome::Failed,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert_eq!(o.to_string(), o.as_str());
        }
        assert_eq!(Outcome::parse("Allowed"), None);
    }
}
