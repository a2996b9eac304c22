//! The property that makes incident reports worth trusting (issue 5, item
//! 4): for random access histories and random scopes, the exposure the
//! vault reports equals a brute-force scan of every raw event in its
//! ledger.
//!
//! Histories are made with the real engine (principals with tokens reading
//! random fields of random members for random purposes, so that many reads
//! are partial or denied; listings and lookups; writes, which release
//! nothing; exports to processors; revoked tokens),
//! and with synthetic events appended to the ledger by a second recorder,
//! as another process would: reads of several members at once with any
//! outcome, and "release withheld" events cancelling earlier releases.
//!
//! The brute force below restates the rule from the ledger's own words,
//! not from the engine's indexes: an event exposes when its outcome is
//! `allowed` or `partial` and it names fields released, unless a later
//! denied event says "release withheld after event N" of it; a scope
//! matches on the event's principal, its `auth` column, the reason an
//! export writes on its events, and its time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use custos_crypto::LedgerSigningKey;
use custos_engine::{
    Caller, Event, ExportRequest, IncidentOpening, Outcome, ProcessorExport, SubjectExposure, Vault,
};
use custos_ledger::{HeadPolicy, NewEvent, Recorder};
use custos_model::{PrincipalKind, VaultId};
use custos_store::{SqliteLedger, SqliteOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support::{
    BUSY, TestVault, another_token, ledger_events, ledger_path, only, principal_with_token, sid,
    token_caller,
};

const SEAT_A: &str = "E14000639";
const SEAT_B: &str = "E14000555";

/// (id, constituency, branch, consented to contact).
const MEMBERS: [(&str, &str, &str, &str); 6] = [
    ("M0010", SEAT_A, "bethnal-green", "true"),
    ("M0020", SEAT_B, "poplar", "true"),
    ("M0030", SEAT_A, "bethnal-green", "false"),
    ("M0040", SEAT_A, "poplar", "true"),
    ("M0050", SEAT_B, "poplar", "false"),
    ("M0060", SEAT_B, "bethnal-green", "true"),
];

/// What reads ask for: every category, so that purposes and policies
/// deny some of it.
const READ_FIELDS: [&str; 10] = [
    "given_name",
    "family_name",
    "email",
    "phone",
    "postcode",
    "constituency",
    "ethnicity",
    "union_affiliation",
    "donation_total",
    "notes",
];

/// What exports ask for.
const EXPORT_FIELDS: [&str; 6] = [
    "id",
    "given_name",
    "email",
    "phone",
    "postcode",
    "donation_total",
];

const PURPOSES: [&str; 5] = [
    "casework",
    "membership_admin",
    "campaigning",
    "finance",
    "safeguarding",
];

/// The processors, and the purposes they serve.
const PROCESSORS: [(&str, &[&str]); 2] = [
    ("mailhouse", &["campaigning", "membership_admin"]),
    ("printshop", &["campaigning", "finance"]),
];

/// Principals and their attributes; `mo` has two tokens. `pat` works for
/// the mailing house; `printshop` is named like its processor.
/// A principal: name, kind and attributes.
type PrincipalSpec = (
    &'static str,
    PrincipalKind,
    &'static [(&'static str, &'static str)],
);

const PRINCIPALS: [PrincipalSpec; 6] = [
    (
        "ana",
        PrincipalKind::Representative,
        &[("constituency", SEAT_A)],
    ),
    (
        "vic",
        PrincipalKind::Volunteer,
        &[("branch", "bethnal-green")],
    ),
    ("mo", PrincipalKind::Staff, &[("team", "membership")]),
    ("fay", PrincipalKind::Staff, &[("team", "finance")]),
    (
        "pat",
        PrincipalKind::Staff,
        &[("team", "membership"), ("organisation", "mailhouse")],
    ),
    ("printshop", PrincipalKind::Processor, &[]),
];

/// A member's email address.
fn member_email(id: &str) -> String {
    format!("{}@example.org", id.to_lowercase())
}

/// The purpose caller `who` usually declares: the one their policies
/// allow.
fn usual_purpose(who: usize) -> &'static str {
    match PRINCIPALS.get(who).map(|p| p.0) {
        Some("ana") => "casework",
        Some("vic" | "printshop") => "campaigning",
        Some("fay") => "finance",
        _ => "membership_admin",
    }
}

/// Who acts for each processor, as the test set them up.
fn staff_of(processor: &str) -> &'static [&'static str] {
    match processor {
        "mailhouse" => &["pat"],
        "printshop" => &["printshop"],
        _ => &[],
    }
}

/// One step of a history.
#[derive(Debug, Clone)]
enum Op {
    /// A read through the engine by caller `who` (a token, or the local
    /// operator), for their usual purpose or (given) another.
    Read {
        who: usize,
        subject: usize,
        fields: u16,
        purpose: Option<usize>,
    },
    /// A listing through the engine.
    List { who: usize, purpose: usize },
    /// An export to a processor, by the local operator or by `mo`.
    Export {
        processor: usize,
        by_operator: bool,
        purpose: usize,
        fields: u8,
        seat: Option<bool>,
    },
    /// A lookup by email through the engine, which releases ids.
    Find { who: usize, subject: usize },
    /// A write through the engine, which releases nothing.
    Update { who: usize, subject: usize },
    /// A token revoked.
    Revoke { token: usize },
    /// Time passes, so that windows can fall between events.
    Pause,
    /// A synthetic event naming several members, with any outcome.
    Synthetic {
        who: usize,
        subjects: u8,
        fields: u16,
        outcome: usize,
    },
    /// A synthetic "release withheld" event cancelling an earlier
    /// release that is not part of an export.
    Withhold { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (
            0..8usize,
            0..7usize,
            any::<u16>(),
            proptest::option::weighted(0.3, 0..PURPOSES.len())
        )
            .prop_map(
            |(who, subject, fields, purpose)| Op::Read { who, subject, fields, purpose }
        ),
        1 => (0..8usize, 0..PURPOSES.len()).prop_map(|(who, purpose)| Op::List { who, purpose }),
        1 => (0..2usize, any::<bool>(), 0..3usize, any::<u8>(), any::<Option<bool>>()).prop_map(
            |(processor, by_operator, purpose, fields, seat)| Op::Export {
                processor,
                by_operator,
                purpose,
                fields,
                seat,
            }
        ),
        1 => (0..8usize, 0..7usize).prop_map(|(who, subject)| Op::Find { who, subject }),
        1 => (0..8usize, 0..7usize).prop_map(|(who, subject)| Op::Update { who, subject }),
        1 => (0..7usize).prop_map(|token| Op::Revoke { token }),
        2 => Just(Op::Pause),
        3 => (0..8usize, any::<u8>(), any::<u16>(), 0..4usize).prop_map(
            |(who, subjects, fields, outcome)| Op::Synthetic { who, subjects, fields, outcome }
        ),
        2 => any::<usize>().prop_map(|pick| Op::Withhold { pick }),
    ]
}

/// A scope to check, with indexes resolved once the history exists.
#[derive(Debug, Clone)]
enum ScopeSpec {
    /// A principal (or the local operator), with an optional window.
    Principal {
        who: usize,
        window: Option<(Option<usize>, Option<usize>)>,
    },
    Token {
        token: usize,
        window: Option<(Option<usize>, Option<usize>)>,
    },
    Processor {
        processor: usize,
        window: Option<(Option<usize>, Option<usize>)>,
    },
    Export {
        pick: usize,
    },
    Window {
        from: usize,
        to: usize,
    },
}

fn window() -> impl Strategy<Value = Option<(Option<usize>, Option<usize>)>> {
    proptest::option::of((any::<Option<usize>>(), any::<Option<usize>>()))
}

fn scope() -> impl Strategy<Value = ScopeSpec> {
    prop_oneof![
        (0..PRINCIPALS.len() + 1, window())
            .prop_map(|(who, window)| ScopeSpec::Principal { who, window }),
        (0..7usize, window()).prop_map(|(token, window)| ScopeSpec::Token { token, window }),
        (0..2usize, window())
            .prop_map(|(processor, window)| ScopeSpec::Processor { processor, window }),
        any::<usize>().prop_map(|pick| ScopeSpec::Export { pick }),
        (any::<usize>(), any::<usize>()).prop_map(|(from, to)| ScopeSpec::Window { from, to }),
    ]
}

/// A history, then incidents of one or two scopes each.
fn case() -> impl Strategy<Value = (Vec<Op>, Vec<Vec<ScopeSpec>>)> {
    (
        proptest::collection::vec(op(), 4..28),
        proptest::collection::vec(proptest::collection::vec(scope(), 1..3), 1..5),
    )
}

/// The vault a history is played on.
struct World {
    t: TestVault,
    /// (principal, secret, public id) of each token.
    tokens: Vec<(String, String, String)>,
    /// The exports made, by id, with their processor.
    exports: Vec<(String, String)>,
    /// A second writer to the ledger, as another process would be. It
    /// signs its heads with a key of its own, so the ledger no longer
    /// verifies; exposure never reads the heads.
    recorder: Recorder,
    /// The seq of the history's first event: windows fall in the history.
    history_from: u64,
}

impl World {
    fn new() -> Self {
        let t = TestVault::new();
        for (id, seat, branch, consents) in MEMBERS {
            t.add(
                id,
                &[
                    ("given_name", "Nia"),
                    ("family_name", "Okafor"),
                    ("email", &member_email(id)),
                    ("phone", "07700 900123"),
                    ("postcode", "E1 6AA"),
                    ("constituency", seat),
                    ("branch", branch),
                    ("membership_status", "member"),
                    ("consent_email", consents),
                    ("consent_phone", consents),
                    ("ethnicity", "Welsh"),
                    ("union_affiliation", "Unite"),
                    ("donation_total", "12.50"),
                    ("notes", "Prefers letters"),
                ],
            );
        }
        let v = &t.vault;
        let mut tokens = Vec::new();
        for (name, kind, attrs) in PRINCIPALS {
            let (secret, id) = principal_with_token(v, name, kind, attrs);
            tokens.push((name.to_owned(), secret, id));
            if name == "mo" {
                let (secret, id) = another_token(v, name);
                tokens.push((name.to_owned(), secret, id));
            }
        }
        for (name, purposes) in PROCESSORS {
            v.add_processor(
                &t.who,
                &custos_engine::NewProcessor {
                    name: name.to_owned(),
                    contact: format!("breaches@{name}.example"),
                    contract_ref: format!("DPA-{name}"),
                    purposes: purposes.iter().map(|&p| p.to_owned()).collect(),
                },
            )
            .unwrap();
        }
        let vault_id = VaultId::parse(&v.info(&t.who).unwrap().vault_id).unwrap();
        let ledger = SqliteLedger::open(
            &ledger_path(&t.dir()),
            &vault_id,
            SqliteOptions { busy_timeout: BUSY },
        )
        .unwrap();
        let recorder = Recorder::start(
            Arc::new(ledger),
            LedgerSigningKey::generate(),
            vault_id,
            HeadPolicy::default(),
        );
        let history_from = ledger_events(v).last().map_or(0, |e| e.seq + 1);
        Self {
            t,
            tokens,
            exports: Vec::new(),
            recorder,
            history_from,
        }
    }

    fn vault(&self) -> &Vault {
        &self.t.vault
    }

    /// Caller `who`: a token, or (past the tokens) the local operator.
    fn caller(&self, who: usize, purpose: &str) -> Caller {
        match self.tokens.get(who) {
            Some((_, secret, _)) => token_caller(secret, purpose),
            None => self.vault().local_operator().with_purpose(Some(purpose)),
        }
    }

    /// Who caller `who` is recorded as: principal and `auth`.
    fn recorded_as(&self, who: usize) -> (String, String) {
        match self.tokens.get(who) {
            Some((name, _, id)) => (name.clone(), format!("api_token {id}")),
            None => (
                self.vault().local_operator_name().to_string(),
                "local_operator".to_owned(),
            ),
        }
    }

    fn play(&mut self, op: &Op) {
        let v = &self.t.vault;
        match *op {
            Op::Read {
                who,
                subject,
                fields,
                purpose,
            } => {
                let id = MEMBERS.get(subject).map_or("M0999", |m| m.0);
                let fields = pick(&READ_FIELDS, u64::from(fields));
                let purpose = purpose.map_or_else(|| usual_purpose(who), |p| PURPOSES[p]);
                let _ = v.read_subject(&self.caller(who, purpose), &sid(id), &only(&fields));
            }
            Op::List { who, purpose } => {
                let _ = v.list_subjects(&self.caller(who, PURPOSES[purpose]), &[], None, 100);
            }
            Op::Export {
                processor,
                by_operator,
                purpose,
                fields,
                seat,
            } => {
                // Mostly a purpose the processor serves; sometimes not.
                let (name, serves) = PROCESSORS[processor];
                let purpose = serves.get(purpose).copied().unwrap_or("finance");
                let who = if by_operator { self.tokens.len() } else { 2 };
                let filters = seat
                    .map(|a| {
                        (
                            "constituency".to_owned(),
                            (if a { SEAT_A } else { SEAT_B }).to_owned(),
                        )
                    })
                    .into_iter()
                    .collect();
                let mut out = Vec::new();
                let done = v.export_to_processor(
                    &self.caller(who, purpose),
                    &mut out,
                    &ProcessorExport {
                        processor: name.to_owned(),
                        request: ExportRequest {
                            selection: only(&pick(&EXPORT_FIELDS, u64::from(fields))),
                            filters,
                            ids: Vec::new(),
                        },
                        file_name: None,
                        canaries: None,
                    },
                );
                if let Ok(report) = done {
                    self.exports.push((report.id.to_string(), name.to_owned()));
                }
            }
            Op::Find { who, subject } => {
                let email = MEMBERS
                    .get(subject)
                    .map_or_else(|| "nobody@example.org".to_owned(), |m| member_email(m.0));
                let _ = v.find_subjects(&self.caller(who, usual_purpose(who)), "email", &email);
            }
            Op::Update { who, subject } => {
                let id = MEMBERS.get(subject).map_or("M0999", |m| m.0);
                let _ = v.update_subject(
                    &self.caller(who, usual_purpose(who)),
                    &sid(id),
                    &[("notes".to_owned(), "Moved house".to_owned())],
                );
            }
            Op::Revoke { token } => {
                let _ = v.revoke_token(&self.t.who, &self.tokens[token].2);
            }
            Op::Pause => std::thread::sleep(Duration::from_millis(3)),
            Op::Synthetic {
                who,
                subjects,
                fields,
                outcome,
            } => {
                let (principal, auth) = self.recorded_as(who);
                let subjects: Vec<String> = MEMBERS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| subjects & (1 << i) != 0)
                    .map(|(_, m)| m.0.to_owned())
                    .collect();
                // Any set of fields, even none.
                let fields: Vec<String> = READ_FIELDS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| fields & (1 << i) != 0)
                    .map(|(_, f)| (*f).to_owned())
                    .collect();
                let outcome = [
                    Outcome::Allowed,
                    Outcome::Partial,
                    Outcome::Denied,
                    Outcome::Failed,
                ][outcome];
                self.recorder
                    .record(NewEvent {
                        principal,
                        auth,
                        action: "read".to_owned(),
                        purpose: "membership_admin".to_owned(),
                        subjects,
                        fields_released: fields,
                        fields_denied: Vec::new(),
                        outcome,
                        reason: "synthetic".to_owned(),
                        request_id: "synthetic".to_owned(),
                        client: "proptest".to_owned(),
                    })
                    .unwrap();
            }
            Op::Withhold { pick } => {
                let events = ledger_events(v);
                let cancelled = withheld(&events);
                let candidates: Vec<&Event> = events
                    .iter()
                    .filter(|e| releases(e) && e.action != "export" && !cancelled.contains(&e.seq))
                    .collect();
                if candidates.is_empty() {
                    return;
                }
                let target = candidates[pick % candidates.len()];
                self.recorder
                    .record(NewEvent {
                        principal: target.principal.clone(),
                        auth: target.auth.clone(),
                        action: target.action.clone(),
                        purpose: target.purpose.clone(),
                        subjects: target.subjects.clone(),
                        fields_released: Vec::new(),
                        fields_denied: Vec::new(),
                        outcome: Outcome::Denied,
                        reason: format!(
                            "principal_revoked: release withheld after event {}",
                            target.seq
                        ),
                        request_id: target.request_id.clone(),
                        client: target.client.clone(),
                    })
                    .unwrap();
            }
        }
    }
}

/// The items whose bits are set in `mask`, or the first if none is.
fn pick<'a>(items: &[&'a str], mask: u64) -> Vec<&'a str> {
    let picked: Vec<&str> = items
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, f)| *f)
        .collect();
    if picked.is_empty() {
        vec![items[0]]
    } else {
        picked
    }
}

// ---------------------------------------------------------------------
// The brute force
// ---------------------------------------------------------------------

/// Whether an event released something.
fn releases(e: &Event) -> bool {
    matches!(e.outcome, Outcome::Allowed | Outcome::Partial) && !e.fields_released.is_empty()
}

/// The seqs of releases that a later event withheld.
fn withheld(events: &[Event]) -> BTreeSet<u64> {
    const MARK: &str = "release withheld after event ";
    events
        .iter()
        .filter(|e| e.outcome == Outcome::Denied)
        .filter_map(|e| {
            let at = e.reason.find(MARK)?;
            let seq: u64 = e.reason[at + MARK.len()..].parse().ok()?;
            (seq < e.seq).then_some(seq)
        })
        .collect()
}

/// Where a scope's exposure comes from, in the ledger's terms.
#[derive(Debug, Clone)]
enum Source {
    Principal(String),
    Token(String),
    Processor(String),
    Export(String),
    Everything,
}

/// A scope as the brute force sees it: a source and a window.
#[derive(Debug, Clone)]
struct Brute {
    source: Source,
    from: Option<String>,
    to: Option<String>,
}

impl Brute {
    fn matches(&self, e: &Event) -> bool {
        let in_window = self.from.as_ref().is_none_or(|f| e.time >= *f)
            && self.to.as_ref().is_none_or(|t| e.time < *t);
        let export_to = |processor: &str| {
            e.action == "export"
                && e.reason.starts_with("export EX-")
                && e.reason.ends_with(&format!(" to processor {processor}"))
        };
        in_window
            && match &self.source {
                Source::Principal(name) => e.principal == *name,
                Source::Token(id) => e.auth == format!("api_token {id}"),
                Source::Processor(name) => {
                    export_to(name) || staff_of(name).contains(&e.principal.as_str())
                }
                Source::Export(id) => {
                    e.action == "export" && e.reason.starts_with(&format!("export {id} to "))
                }
                Source::Everything => true,
            }
    }

    /// The scope as a DPO types it.
    fn text(&self) -> String {
        let source = match &self.source {
            Source::Principal(name) => format!("principal:{name}"),
            Source::Token(id) => format!("token:{id}"),
            Source::Processor(name) => format!("processor:{name}"),
            Source::Export(id) => format!("export:{id}"),
            Source::Everything => String::new(),
        };
        if self.from.is_none() && self.to.is_none() {
            return source;
        }
        let window = format!(
            "window:{}..{}",
            self.from.clone().unwrap_or_default(),
            self.to.clone().unwrap_or_default()
        );
        if source.is_empty() {
            window
        } else {
            format!("{source},{window}")
        }
    }
}

/// One person's exposure: fields in schema order, first and last time.
type PerSubject = BTreeMap<String, (Vec<String>, String, String)>;

/// The brute force: every event, every scope.
fn brute_force(vault: &Vault, events: &[Event], scopes: &[Brute]) -> (PerSubject, u64) {
    let cancelled = withheld(events);
    let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut times: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut counted = 0;
    for e in events {
        if !releases(e) || cancelled.contains(&e.seq) || !scopes.iter().any(|s| s.matches(e)) {
            continue;
        }
        counted += 1;
        for subject in &e.subjects {
            fields
                .entry(subject.clone())
                .or_default()
                .extend(e.fields_released.iter().cloned());
            let (first, last) = times
                .entry(subject.clone())
                .or_insert_with(|| (e.time.clone(), e.time.clone()));
            if e.time < *first {
                first.clone_from(&e.time);
            }
            if e.time > *last {
                last.clone_from(&e.time);
            }
        }
    }
    let order: Vec<String> = vault
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let per_subject = fields
        .into_iter()
        .map(|(id, set)| {
            let in_order = order.iter().filter(|f| set.contains(*f)).cloned().collect();
            let (first, last) = times.remove(&id).unwrap_or_default();
            (id, (in_order, first, last))
        })
        .collect();
    (per_subject, counted)
}

/// The vault's own report, in the same terms.
fn reported(vault: &Vault, subjects: &[SubjectExposure]) -> Result<PerSubject, TestCaseError> {
    let mut out = PerSubject::new();
    for s in subjects {
        prop_assert!(!s.erased, "nobody was erased: {s:?}");
        prop_assert!(s.encrypted_fields.is_empty(), "{s:?}");
        let mut categories: Vec<_> = s
            .fields
            .iter()
            .map(|f| vault.schema().field(f.as_str()).unwrap().category())
            .collect();
        categories.sort();
        categories.dedup();
        prop_assert_eq!(&s.categories[..], &categories[..]);
        prop_assert_eq!(
            s.special_category,
            categories.iter().any(|c| c.is_special())
        );
        out.insert(
            s.id.clone(),
            (
                s.fields.iter().map(ToString::to_string).collect(),
                s.first_exposed.clone(),
                s.last_exposed.clone(),
            ),
        );
    }
    Ok(out)
}

/// Resolves a scope against the history: names, ids and event times.
fn resolve(world: &World, times: &[String], spec: &ScopeSpec) -> Option<Brute> {
    let at = |i: Option<usize>| i.map(|i| times[i % times.len()].clone());
    let windowed = |source: Source, window: &Option<(Option<usize>, Option<usize>)>| {
        let (from, to) = window.map_or((None, None), |(f, t)| (at(f), at(t)));
        match (&from, &to) {
            // An empty or inverted window would be refused.
            (Some(f), Some(t)) if f >= t => None,
            _ => Some(Brute { source, from, to }),
        }
    };
    match spec {
        ScopeSpec::Principal { who, window } => {
            let name = PRINCIPALS.get(*who).map_or_else(
                || world.vault().local_operator_name().to_string(),
                |p| p.0.to_owned(),
            );
            windowed(Source::Principal(name), window)
        }
        ScopeSpec::Token { token, window } => {
            windowed(Source::Token(world.tokens[*token].2.clone()), window)
        }
        ScopeSpec::Processor { processor, window } => windowed(
            Source::Processor(PROCESSORS[*processor].0.to_owned()),
            window,
        ),
        ScopeSpec::Export { pick } => {
            let (id, _) = world.exports.get(pick % world.exports.len().max(1))?;
            Some(Brute {
                source: Source::Export(id.clone()),
                from: None,
                to: None,
            })
        }
        ScopeSpec::Window { from, to } => {
            windowed(Source::Everything, &Some((Some(*from), Some(*to))))
        }
    }
}

fn check(ops: &[Op], incidents: &[Vec<ScopeSpec>]) -> Result<(), TestCaseError> {
    let mut world = World::new();
    for op in ops {
        world.play(op);
    }
    let v = world.vault();
    let events = ledger_events(v);
    // Window ends are the times of events of the history, and one from
    // before it.
    let times: Vec<String> = events
        .iter()
        .filter(|e| e.seq + 1 >= world.history_from)
        .map(|e| e.time.clone())
        .collect();
    for specs in incidents {
        let scopes: Vec<Brute> = specs
            .iter()
            .filter_map(|s| resolve(&world, &times, s))
            .collect();
        if scopes.is_empty() {
            continue;
        }
        let texts: Vec<String> = scopes.iter().map(Brute::text).collect();
        let opened = v
            .open_incident(
                &world.t.who,
                &IncidentOpening {
                    title: "Property".to_owned(),
                    nature: String::new(),
                    aware_at: custos_engine::OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap(),
                    scopes: texts.clone(),
                    keys_exposed: false,
                },
            )
            .map_err(|e| TestCaseError::fail(format!("{texts:?}: {e}")))?;
        let report = v
            .incident_report(&world.t.who, &opened.id.to_string())
            .map_err(|e| TestCaseError::fail(format!("{texts:?}: {e}")))?;
        // Opening and reporting release nothing, so the events read before
        // are all there is to scan.
        let (expected, counted) = brute_force(v, &ledger_events(v), &scopes);
        let got = reported(v, &report.exposure.subjects)?;
        prop_assert_eq!(&got, &expected, "scopes {:?}", texts);
        prop_assert_eq!(report.exposure.events, counted, "scopes {:?}", texts);
        prop_assert_eq!(
            opened.incident.affected.0,
            expected.len() as u64,
            "scopes {:?}",
            texts
        );
    }
    Ok(())
}

#[test]
fn exposure_equals_a_brute_force_scan_of_the_ledger() {
    let config = Config {
        cases: 40,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&case(), |(ops, incidents)| check(&ops, &incidents))
        .unwrap();
}
