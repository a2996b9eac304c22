//! Who was exposed, and what of theirs: computed from the ledger (and, for
//! a stolen store, from what the store holds), never from what anyone
//! remembers.
//!
//! An event counts as exposure when it released something: its outcome is
//! `allowed` or `partial` and it names fields released. Each subject it
//! names then had exactly those fields leave the vault at its time. Denied
//! fields are not exposure, writes release nothing, and a release that was
//! withheld at the last moment (the principal was revoked while the
//! request was being recorded, see `authentication::recheck`) does not
//! count either: its "release withheld after event N" event cancels N.
//!
//! Each scope is read through the narrowest index it allows: a principal's
//! events through the principal index, a window through the seq range its
//! times map to, an export through its principal from the seq where it
//! started. Subjects erased since are still counted, under a pseudonym.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use custos_ledger::{Event, EventQuery, Outcome};
use custos_model::{DataCategory, FieldName, PrincipalName, Schema, SubjectId};
use custos_store::{ExportRecord, ExportStatus};
use time::Duration;

use crate::access::MAX_PAGE;
use crate::clock::{parse_stamp, stamp};
use crate::error::{EngineError, Problem};
use crate::incident_scope::{Scope, ScopeSource, Window};
use crate::processors::principals_of;
use crate::recording::{fields_written, withheld_target};
use crate::vault::Vault;

/// How long after a release its "withheld" event may follow: the re-check
/// runs as soon as the release is recorded, and its own event waits at
/// most the busy timeout (seconds) for the ledger, so two minutes is a
/// wide margin. Events this far past a window are read for them.
const WITHHELD_SLACK: Duration = Duration::minutes(2);

/// What one person had exposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectExposure {
    /// The membership number, or for someone erased since, a pseudonym
    /// (`P-…`).
    pub id: String,
    /// Whether they were erased since.
    pub erased: bool,
    /// The fields that left the vault readable, in schema order. (Shared
    /// between the people who had the same fields exposed.)
    pub fields: Arc<[FieldName]>,
    /// The fields taken only encrypted, under keys the attacker did not
    /// get (a stolen store without its master key).
    pub encrypted_fields: Arc<[FieldName]>,
    /// The data categories of `fields`.
    pub categories: Arc<[DataCategory]>,
    /// Whether any of `fields` is special-category data (Art. 9).
    pub special_category: bool,
    /// The first exposure.
    pub first_exposed: String,
    /// The last exposure.
    pub last_exposed: String,
}

/// Everyone an incident exposed.
#[derive(Debug, Clone, Default)]
pub struct Exposure {
    /// One entry per person, by id.
    pub subjects: Vec<SubjectExposure>,
    /// The ledger events that released something within scope.
    pub events: u64,
    /// Facts the report should state: exports that failed (and so released
    /// nothing), fields erased people held that cannot be known, and so on.
    pub notes: Vec<String>,
}

/// People who had the same fields exposed.
#[derive(Debug, Clone)]
pub struct FieldSetCount {
    /// The fields, in schema order.
    pub fields: Arc<[FieldName]>,
    /// Their data categories.
    pub categories: Arc<[DataCategory]>,
    /// How many people had exactly these fields exposed.
    pub people: usize,
}

impl Exposure {
    /// The distinct sets of fields exposed, with how many people had each,
    /// in order of first appearance.
    pub fn field_sets(&self) -> Vec<FieldSetCount> {
        // Equal sets share one allocation (see `finish_exposure`), so they
        // are grouped by address, without comparing names.
        let mut index: HashMap<*const FieldName, usize> = HashMap::new();
        let mut out: Vec<FieldSetCount> = Vec::new();
        for s in &self.subjects {
            let at = *index.entry(s.fields.as_ptr()).or_insert_with(|| {
                out.push(FieldSetCount {
                    fields: Arc::clone(&s.fields),
                    categories: Arc::clone(&s.categories),
                    people: 0,
                });
                out.len() - 1
            });
            out[at].people += 1;
        }
        out
    }
}

/// A set of schema fields, by index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct FieldSet(Vec<u64>);

impl FieldSet {
    fn insert(&mut self, index: usize) {
        let word = index / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (index % 64);
    }

    fn union(&mut self, other: &FieldSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    fn contains(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }
}

#[derive(Debug, Clone, Default)]
struct Acc {
    fields: FieldSet,
    encrypted: FieldSet,
    // Shared by every subject of one event, so that gathering a
    // 500,000-subject export allocates no time per subject.
    first: Arc<str>,
    last: Arc<str>,
}

impl Acc {
    fn merge(&mut self, other: &Acc) {
        self.fields.union(&other.fields);
        self.encrypted.union(&other.encrypted);
        if self.first.is_empty() || other.first < self.first {
            self.first = Arc::clone(&other.first);
        }
        if other.last > self.last {
            self.last = Arc::clone(&other.last);
        }
    }
}

/// Exposure being gathered: per subject id, the fields and times.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    by_subject: HashMap<String, Acc>,
    events: HashSet<u64>,
}

impl Gathered {
    fn add(&mut self, id: &str, acc: &Acc) {
        match self.by_subject.get_mut(id) {
            Some(known) => known.merge(acc),
            None => {
                self.by_subject.insert(id.to_owned(), acc.clone());
            }
        }
    }

    fn merge(&mut self, other: Gathered) {
        if self.by_subject.is_empty() {
            self.by_subject = other.by_subject;
        } else {
            for (id, acc) in other.by_subject {
                match self.by_subject.entry(id) {
                    Entry::Occupied(mut known) => known.get_mut().merge(&acc),
                    Entry::Vacant(slot) => {
                        slot.insert(acc);
                    }
                }
            }
        }
        self.events.extend(other.events);
    }
}

/// Whether an event released anything: the rule every scope shares, and
/// that the brute-force check in the tests restates.
pub(crate) fn releases(event: &Event) -> bool {
    matches!(event.outcome, Outcome::Allowed | Outcome::Partial)
        && !event.fields_released.is_empty()
}

/// A window's ends in the ledger's time format, which compares as text.
struct Bounds {
    from: Option<String>,
    to: Option<String>,
}

impl Bounds {
    fn contains(&self, time: &str) -> bool {
        self.from.as_deref().is_none_or(|f| time >= f)
            && self.to.as_deref().is_none_or(|t| time < t)
    }
}

/// Which candidate events of a scope to count.
type Filter<'a> = dyn Fn(&Event) -> bool + 'a;

struct Reader<'v> {
    vault: &'v Vault,
    field_index: HashMap<&'v str, usize>,
}

impl<'v> Reader<'v> {
    fn new(vault: &'v Vault) -> Self {
        let field_index = vault
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name().as_str(), i))
            .collect();
        Self { vault, field_index }
    }

    /// Gathers the releases among the events `query` finds: those inside
    /// `window` that pass `filter`, less any withheld afterwards. Events up
    /// to the slack past the window are read too, for withheld events;
    /// reading stops after `last_seq`, if given.
    fn gather(
        &self,
        mut query: EventQuery,
        window: Option<&Window>,
        last_seq: Option<u64>,
        filter: &Filter<'_>,
    ) -> Result<Gathered, EngineError> {
        let window = window.copied().unwrap_or(Window {
            from: None,
            to: None,
        });
        query.time_from = window.start_stamp();
        query.time_to = window.to.map(|t| stamp(t + WITHHELD_SLACK));
        let bounds = Bounds {
            from: window.start_stamp(),
            to: window.end_stamp(),
        };
        query.limit = EventQuery::MAX_LIMIT;
        let mut withheld: HashSet<u64> = HashSet::new();
        let mut excluded: HashSet<u64> = HashSet::new();
        loop {
            let gathered =
                self.pass(&query, &bounds, last_seq, filter, &excluded, &mut withheld)?;
            // A withheld release among those counted: count again without
            // it. Rare (a revocation racing a request), so one pass is the
            // rule.
            let cancelled: Vec<u64> = withheld
                .iter()
                .copied()
                .filter(|seq| gathered.events.contains(seq))
                .collect();
            if cancelled.is_empty() {
                return Ok(gathered);
            }
            excluded.extend(cancelled);
        }
    }

    fn pass(
        &self,
        query: &EventQuery,
        window: &Bounds,
        last_seq: Option<u64>,
        filter: &Filter<'_>,
        excluded: &HashSet<u64>,
        withheld: &mut HashSet<u64>,
    ) -> Result<Gathered, EngineError> {
        let mut gathered = Gathered::default();
        let mut query = query.clone();
        loop {
            let page = self.vault.ledger.query(&query)?;
            let done = page.len() < query.limit;
            query.after_seq = page.last().map(|e| e.seq).or(query.after_seq);
            for event in &page {
                if last_seq.is_some_and(|last| event.seq > last) {
                    return Ok(gathered);
                }
                if let Some(target) = withheld_target(event) {
                    withheld.insert(target);
                    continue;
                }
                if !releases(event)
                    || excluded.contains(&event.seq)
                    || !window.contains(&event.time)
                    || !filter(event)
                {
                    continue;
                }
                let time: Arc<str> = Arc::from(event.time.as_str());
                let mut acc = Acc {
                    first: Arc::clone(&time),
                    last: time,
                    ..Acc::default()
                };
                for field in &event.fields_released {
                    if let Some(&i) = self.field_index.get(field.as_str()) {
                        acc.fields.insert(i);
                    }
                }
                for subject in &event.subjects {
                    gathered.add(subject, &acc);
                }
                gathered.events.insert(event.seq);
            }
            if done {
                return Ok(gathered);
            }
        }
    }

    fn principal(
        &self,
        name: &str,
        window: Option<&Window>,
        filter: &Filter<'_>,
    ) -> Result<Gathered, EngineError> {
        let query = EventQuery {
            principal: Some(name.to_owned()),
            ..EventQuery::default()
        };
        self.gather(query, window, None, filter)
    }

    fn export(
        &self,
        export: &ExportRecord,
        window: Option<&Window>,
    ) -> Result<Gathered, EngineError> {
        let query = EventQuery {
            principal: Some(export.export.principal.clone()),
            after_seq: export.export.first_seq.checked_sub(1),
            ..EventQuery::default()
        };
        let request_id = export.export.request_id.as_str();
        let filter = |e: &Event| e.action == "export" && e.request_id == request_id;
        self.gather(query, window, export.manifest_seq, &filter)
    }
}

impl Vault {
    /// Computes the exposure of an incident's scopes, as of now. With
    /// `keys_exposed`, a stolen store counts as readable.
    pub(crate) fn exposure(
        &self,
        scopes: &[Scope],
        keys_exposed: bool,
        aware_at: &str,
    ) -> Result<Exposure, EngineError> {
        let reader = Reader::new(self);
        let mut all = Gathered::default();
        let mut notes = Vec::new();
        let everything = |_: &Event| true;
        for scope in scopes {
            let window = scope.window.as_ref();
            let gathered = match &scope.source {
                ScopeSource::Principal(name) => reader.principal(name, window, &everything)?,
                ScopeSource::Token(id) => {
                    let token = self
                        .store
                        .token(id)?
                        .ok_or_else(|| EngineError::Unknown(format!("no token `{id}`")))?;
                    let suffix = format!(" {id}");
                    let by_token = |e: &Event| e.auth.ends_with(&suffix);
                    reader.principal(token.principal.as_str(), window, &by_token)?
                }
                ScopeSource::Processor(name) => {
                    let mut gathered = Gathered::default();
                    for export in self.store.exports(Some(name))? {
                        gathered.merge(self.export_exposure(&reader, &export, window, &mut notes)?);
                    }
                    for principal in principals_of(&*self.access()?, name) {
                        gathered.merge(reader.principal(
                            principal.as_str(),
                            window,
                            &everything,
                        )?);
                    }
                    gathered
                }
                ScopeSource::Export(id) => {
                    let export = self
                        .store
                        .export(*id)?
                        .ok_or(custos_store::StoreError::ExportNotFound(*id))?;
                    self.export_exposure(&reader, &export, None, &mut notes)?
                }
                ScopeSource::Everything => {
                    reader.gather(EventQuery::default(), window, None, &everything)?
                }
                ScopeSource::Store => {
                    self.store_exposure(window, keys_exposed, aware_at, &mut notes)?
                }
            };
            all.merge(gathered);
        }
        let events = all.events.len() as u64;
        let subjects = self.finish_exposure(all)?;
        Ok(Exposure {
            subjects,
            events,
            notes,
        })
    }

    fn export_exposure(
        &self,
        reader: &Reader<'_>,
        export: &ExportRecord,
        window: Option<&Window>,
        notes: &mut Vec<String>,
    ) -> Result<Gathered, EngineError> {
        match export.status {
            ExportStatus::Failed => {
                notes.push(format!(
                    "export {} failed and its file was removed, so it released nothing",
                    export.id
                ));
                Ok(Gathered::default())
            }
            ExportStatus::Writing => {
                notes.push(format!(
                    "export {} was cut short; what it recorded before stopping is counted",
                    export.id
                ));
                reader.export(export, window)
            }
            ExportStatus::Complete => reader.export(export, window),
        }
    }

    /// A copy of the store, taken at a time in `window` (or when the
    /// organisation became aware): everyone held then, with every field
    /// they held, readable only if the master key went too. Subject ids
    /// and scope attributes are in clear in the store.
    fn store_exposure(
        &self,
        window: Option<&Window>,
        keys_exposed: bool,
        aware_at: &str,
        notes: &mut Vec<String>,
    ) -> Result<Gathered, EngineError> {
        let from = window
            .and_then(Window::start_stamp)
            .unwrap_or_else(|| aware_at.to_owned());
        let to = window
            .and_then(Window::end_stamp)
            .unwrap_or_else(|| aware_at.to_owned());
        // Subjects made after the copy was taken were not in it.
        let mut created_after: HashSet<String> = HashSet::new();
        for action in ["create", "import"] {
            self.each_event(
                EventQuery {
                    action: Some(action.to_owned()),
                    outcome: Some(Outcome::Allowed),
                    time_from: Some(to.clone()),
                    ..EventQuery::default()
                },
                &mut |e| created_after.extend(e.subjects.iter().cloned()),
            )?;
        }
        let schema = &self.schema;
        let mut gathered = Gathered::default();
        let index = |name: &FieldName| schema.fields().iter().position(|f| f.name() == name);
        let held_acc = |clear: &[usize], sealed: &[usize]| {
            let mut acc = Acc {
                first: Arc::from(from.as_str()),
                last: Arc::from(to.as_str()),
                ..Acc::default()
            };
            for &i in clear {
                acc.fields.insert(i);
            }
            for &i in sealed {
                if keys_exposed {
                    acc.fields.insert(i);
                } else {
                    acc.encrypted.insert(i);
                }
            }
            acc
        };
        let id_field: Vec<usize> = schema
            .fields()
            .iter()
            .position(|f| f.is_id())
            .into_iter()
            .collect();
        let mut after: Option<SubjectId> = None;
        loop {
            let page = self.store.held_fields(after.as_ref(), MAX_PAGE)?;
            for held in &page {
                if created_after.contains(held.id.as_str()) {
                    continue;
                }
                let clear: Vec<usize> = id_field
                    .iter()
                    .copied()
                    .chain(held.clear.iter().filter_map(&index))
                    .collect();
                let sealed: Vec<usize> = held.sealed.iter().filter_map(&index).collect();
                gathered.add(held.id.as_str(), &held_acc(&clear, &sealed));
            }
            if page.len() < MAX_PAGE {
                break;
            }
            after = page.last().map(|h| h.id.clone());
        }
        // Fields written since the copy may have held other values then, or
        // been cleared since: what the store holds now understates the
        // copy, so every field an update wrote since is counted too.
        let mut written_since: Vec<(String, Vec<usize>)> = Vec::new();
        self.each_event(
            EventQuery {
                action: Some("update".to_owned()),
                outcome: Some(Outcome::Allowed),
                time_from: Some(from.clone()),
                ..EventQuery::default()
            },
            &mut |e| {
                let written: Vec<usize> = fields_written(&e.reason)
                    .filter_map(|f| schema.fields().iter().position(|s| s.name().as_str() == f))
                    .collect();
                for id in &e.subjects {
                    written_since.push((id.clone(), written.clone()));
                }
            },
        )?;
        for (id, written) in written_since {
            if !gathered.by_subject.contains_key(&id) {
                continue;
            }
            let (clear, sealed): (Vec<usize>, Vec<usize>) = written
                .into_iter()
                .partition(|&i| schema.fields()[i].is_id() || schema.fields()[i].is_scope());
            gathered.add(&id, &held_acc(&clear, &sealed));
        }
        // People erased after the copy was taken were in it; which fields
        // they held can no longer be known, so every field is counted.
        let mut erased_since = Vec::new();
        self.each_event(
            EventQuery {
                action: Some("erase".to_owned()),
                outcome: Some(Outcome::Allowed),
                time_from: Some(from.clone()),
                ..EventQuery::default()
            },
            &mut |e| erased_since.extend(e.subjects.iter().cloned()),
        )?;
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let clear: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| schema.fields()[i].is_id() || schema.fields()[i].is_scope())
            .collect();
        let sealed: Vec<usize> = all.iter().copied().filter(|i| !clear.contains(i)).collect();
        let mut counted = 0;
        for id in erased_since {
            if created_after.contains(&id) || gathered.by_subject.contains_key(&id) {
                continue;
            }
            gathered.add(&id, &held_acc(&clear, &sealed));
            counted += 1;
        }
        if counted > 0 {
            notes.push(format!(
                "{counted} people erased since the copy was taken are counted with every field the schema holds, since which fields they held can no longer be known"
            ));
        }
        Ok(gathered)
    }

    /// Calls `f` for every event a query finds, a page at a time.
    fn each_event(
        &self,
        mut query: EventQuery,
        f: &mut dyn FnMut(&Event),
    ) -> Result<(), EngineError> {
        query.limit = EventQuery::MAX_LIMIT;
        loop {
            let page = self.ledger.query(&query)?;
            page.iter().for_each(&mut *f);
            if page.len() < query.limit {
                return Ok(());
            }
            query.after_seq = page.last().map(|e| e.seq);
        }
    }

    /// Turns gathered exposure into one entry per person, naming those
    /// erased since by pseudonym.
    fn finish_exposure(&self, gathered: Gathered) -> Result<Vec<SubjectExposure>, EngineError> {
        let mut ids: Vec<(String, Acc)> = gathered.by_subject.into_iter().collect();
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        let mut held: HashSet<SubjectId> = HashSet::new();
        let parsed: Vec<Option<SubjectId>> = ids
            .iter()
            .map(|(id, _)| SubjectId::parse(id).ok())
            .collect();
        let valid: Vec<SubjectId> = parsed.iter().flatten().cloned().collect();
        for chunk in valid.chunks(MAX_PAGE) {
            held.extend(self.store.existing(chunk)?);
        }
        let keys = self.keys();
        let mut shapes: HashMap<(FieldSet, FieldSet), Shape> = HashMap::new();
        let mut out: Vec<SubjectExposure> = ids
            .into_iter()
            .zip(parsed)
            .map(|((id, acc), parsed)| {
                let erased = parsed.as_ref().is_none_or(|p| !held.contains(p));
                let shown = match (&parsed, erased) {
                    (Some(p), true) => keys.keyring.pseudonym(p),
                    _ => id,
                };
                let shape = shapes
                    .entry((acc.fields.clone(), acc.encrypted.clone()))
                    .or_insert_with(|| shape_of(&self.schema, &acc))
                    .clone();
                SubjectExposure {
                    id: shown,
                    erased,
                    fields: shape.fields,
                    encrypted_fields: shape.encrypted,
                    categories: shape.categories,
                    special_category: shape.special,
                    first_exposed: acc.first.to_string(),
                    last_exposed: acc.last.to_string(),
                }
            })
            .collect();
        out.sort_by(|a, b| (a.erased, &a.id).cmp(&(b.erased, &b.id)));
        Ok(out)
    }

    /// Checks that every scope names something the vault knows: a
    /// principal in the directory or the ledger, a token, a registered
    /// processor, an export. Errors name the scope.
    pub(crate) fn check_scopes(&self, scopes: &[Scope]) -> Result<(), EngineError> {
        let mut problems = Vec::new();
        let state = self.access()?;
        for scope in scopes {
            let known = match &scope.source {
                ScopeSource::Principal(name) => {
                    let in_directory =
                        PrincipalName::parse(name).is_ok_and(|p| state.principals.contains_key(&p));
                    in_directory || self.has_events_by(name)?
                }
                ScopeSource::Token(id) => self.store.token(id)?.is_some(),
                ScopeSource::Processor(name) => self.store.processor(name)?.is_some(),
                ScopeSource::Export(id) => self.store.export(*id)?.is_some(),
                ScopeSource::Everything | ScopeSource::Store => true,
            };
            if !known {
                let what = match &scope.source {
                    ScopeSource::Principal(_) => {
                        "no principal of that name in the directory or the ledger"
                    }
                    ScopeSource::Token(_) => "no token with that id (see `custos token list`)",
                    ScopeSource::Processor(_) => {
                        "no processor of that name (see `custos processor list`)"
                    }
                    _ => "no export with that id (see `custos processor show NAME`)",
                };
                problems.push(Problem::field("scope", format!("`{scope}`: {what}")));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Invalid(problems, 0))
        }
    }

    fn has_events_by(&self, name: &str) -> Result<bool, EngineError> {
        Ok(!self
            .ledger
            .query(&EventQuery {
                principal: Some(name.to_owned()),
                limit: 1,
                ..EventQuery::default()
            })?
            .is_empty())
    }
}

/// What one set of fields exposed looks like, made once per distinct set:
/// most people in an incident share a handful of them.
#[derive(Clone)]
struct Shape {
    fields: Arc<[FieldName]>,
    encrypted: Arc<[FieldName]>,
    categories: Arc<[DataCategory]>,
    special: bool,
}

fn shape_of(schema: &Schema, acc: &Acc) -> Shape {
    let pick = |set: &FieldSet| -> Vec<FieldName> {
        schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| set.contains(*i))
            .map(|(_, f)| f.name().clone())
            .collect()
    };
    let fields = pick(&acc.fields);
    let mut encrypted = pick(&acc.encrypted);
    encrypted.retain(|f| !fields.contains(f));
    let mut categories: Vec<DataCategory> = fields
        .iter()
        .filter_map(|f| schema.field(f.as_str()).map(|s| s.category()))
        .collect();
    categories.sort();
    categories.dedup();
    Shape {
        special: categories.iter().any(|c| c.is_special()),
        fields: fields.into(),
        encrypted: encrypted.into(),
        categories: categories.into(),
    }
}

/// The deadline of Art. 33(1): 72 hours after becoming aware.
pub(crate) fn deadline(aware_at: &str) -> Option<String> {
    parse_stamp(aware_at).map(|t| stamp(t + Duration::hours(72)))
}
