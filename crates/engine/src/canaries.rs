//! Canary records: synthetic people mixed into each export to a processor,
//! unique to that export, so that a record seen in the wild (a spam run, a
//! leak site, a phone call) names the export, recipient and date it came
//! from.
//!
//! A canary must pass for a member of its export, so it is built from the
//! export's own rows, never from a template of its own:
//! - its scope attributes (constituency, branch, status and dates, consent
//!   flags) and its town come from a real row of the export (its
//!   *template*, drawn at random from the rows written before it), so it
//!   matches the export's filters and the purpose's consent rule;
//! - its special-category and financial values come from another real row
//!   drawn the same way, so it is no near-copy of any one member;
//! - who it is (names, address, date of birth) comes from the synthetic
//!   generator; its email, phone and postcode are made up in the forms the
//!   export uses, checked against the vault's blind indexes so that no real
//!   member shares them; no identity, contact or free-text value is ever
//!   copied from a real member;
//! - its membership number fills a gap in the vault's numbering just past
//!   a real row's (in a vault numbered without gaps, that is just past the
//!   newest members'), and it is written at its place in id order.
//!
//! Canaries exist only in the export file and, sealed, in the store: they
//! are not subjects, so no read, listing, count, ledger event, exposure
//! report or notice ever contains one. The store holds their values sealed
//! and the values they can be traced by as keyed digests, so even a thief
//! holding both the store and a stolen export cannot pick them out.

use custos_crypto::{Keyring, WrappedDataKey};
use custos_model::{
    DataCategory, ExportId, FieldName, FieldSpec, FieldType, FieldValue, SubjectId,
};
use custos_store::{CanaryMatch, CanaryRecord, ExportRecord};
use rand::Rng;

use crate::error::{EngineError, Problem};
use crate::principal::Caller;
use crate::recording::Action;
use crate::vault::Vault;

/// The most canaries one export may carry.
pub const MAX_CANARIES: u32 = 20;

/// How many canaries an export of `rows` subjects carries by default: one
/// in a small export, where more would be a noticeable share, up to five
/// in a large one.
pub(crate) fn default_canaries(rows: usize) -> u32 {
    match rows {
        0 => 0,
        1..=99 => 1,
        100..=9_999 => 3,
        _ => 5,
    }
}

/// How far past a real membership number a canary's may be, at first. A
/// vault numbered without gaps has free numbers only past its newest
/// members, and each export takes some of them, so the reach doubles as
/// attempts fail.
const ID_GAP_SEARCH: u64 = 60;

/// Synthetic fields that come from the generator, by schema field name.
const GENERATED: [&str; 5] = [
    "given_name",
    "family_name",
    "address_line1",
    "address_line2",
    "date_of_birth",
];

/// Fields a canary copies from its template even though they are contact
/// data: shared by thousands, they identify nobody, and they must agree
/// with the postcode's district.
const SHARED_LOCALITY: [&str; 1] = ["town"];

/// The letters of a postcode's inward code.
const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// A canary to be written: where, and under which membership number.
#[derive(Debug, Clone)]
struct Planned {
    /// Written after the exported id at this index (whether that row was
    /// written or left out).
    after_index: usize,
    /// Its membership number, when the export carries the id column.
    id: Option<SubjectId>,
}

/// A canary written into an export, before sealing.
struct Made {
    values: Vec<(FieldName, FieldValue)>,
    traces: Vec<(&'static str, String)>,
}

/// A row of an export: the values of its columns, in order.
pub(crate) type Row = Vec<Option<FieldValue>>;

/// Mixes canaries into an export as it is written.
pub(crate) struct CanaryMixer<'v> {
    vault: &'v Vault,
    columns: Vec<usize>,
    domain: String,
    planned: Vec<Planned>,
    next: usize,
    /// A uniform sample of the rows written so far, from which each
    /// canary's template and sample rows are drawn.
    seen: Vec<Row>,
    /// How many rows were written so far.
    written_rows: usize,
    made: Vec<Made>,
}

/// How many written rows a mixer keeps to draw templates from.
const RESERVOIR: usize = 64;

impl<'v> CanaryMixer<'v> {
    /// Plans `count` canaries for an export of `exported` ids (in the order
    /// they are written) with these columns.
    pub(crate) fn plan(
        vault: &'v Vault,
        columns: &[usize],
        exported: &[SubjectId],
        count: u32,
        domain: &str,
    ) -> Result<Self, EngineError> {
        let carries_id = columns.iter().any(|&i| vault.schema.fields()[i].is_id());
        let sorted = exported.windows(2).all(|w| w[0] < w[1]);
        let mut rng = rand::thread_rng();
        let mut planned: Vec<Planned> = Vec::new();
        let wanted = usize::try_from(count).unwrap_or(0).min(exported.len());
        let mut attempts = 0;
        while planned.len() < wanted && attempts < wanted * 40 {
            attempts += 1;
            let base = rng.gen_range(0..exported.len());
            if !carries_id {
                if !planned.iter().any(|p| p.after_index == base) {
                    planned.push(Planned {
                        after_index: base,
                        id: None,
                    });
                }
                continue;
            }
            let reach = ID_GAP_SEARCH << (attempts / (wanted * 5).max(1)).min(12);
            let Some(id) = near_id(&exported[base], reach, &mut rng) else {
                continue;
            };
            // Its place in id order (or, in an export of chosen subjects
            // in the order given, after its neighbour); first place has no
            // row before it to borrow from.
            let place = if sorted {
                exported.partition_point(|e| e < &id)
            } else {
                base + 1
            };
            if place == 0
                || exported.get(place) == Some(&id)
                || planned.iter().any(|p| p.id.as_ref() == Some(&id))
                || vault.id_in_use(&id)?
            {
                continue;
            }
            planned.push(Planned {
                after_index: place - 1,
                id: Some(id),
            });
        }
        planned.sort_by(|a, b| (a.after_index, &a.id).cmp(&(b.after_index, &b.id)));
        Ok(Self {
            vault,
            columns: columns.to_vec(),
            domain: domain.to_owned(),
            planned,
            next: 0,
            seen: Vec::with_capacity(RESERVOIR),
            written_rows: 0,
            made: Vec::new(),
        })
    }

    /// Called after the exported id at `index` was handled: `row` is what
    /// was written for it, if anything. Writes the canaries planned there
    /// through `emit`.
    pub(crate) fn after(
        &mut self,
        index: usize,
        row: Option<&Row>,
        emit: &mut dyn FnMut(&Row) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let mut rng = rand::thread_rng();
        if let Some(row) = row {
            // Reservoir sampling: every row written so far is equally
            // likely to be kept.
            self.written_rows += 1;
            if self.seen.len() < RESERVOIR {
                self.seen.push(row.clone());
            } else {
                let slot = rng.gen_range(0..self.written_rows);
                if let Some(kept) = self.seen.get_mut(slot) {
                    *kept = row.clone();
                }
            }
        }
        while let Some(planned) = self.planned.get(self.next) {
            if planned.after_index > index {
                break;
            }
            let planned = planned.clone();
            self.next += 1;
            // A canary planned before any row was written has nothing to
            // pass for, and would be out of order later: it is dropped.
            if self.seen.is_empty() {
                continue;
            }
            let template = &self.seen[rng.gen_range(0..self.seen.len())];
            let sample = &self.seen[rng.gen_range(0..self.seen.len())];
            let (row, made) = self.make(template, sample, planned.id.as_ref())?;
            emit(&row)?;
            self.made.push(made);
        }
        Ok(())
    }

    /// How many canaries were written.
    pub(crate) fn written(&self) -> usize {
        self.made.len()
    }

    /// Seals the canaries written, for the store.
    pub(crate) fn seal(self, keyring: &Keyring, export: ExportId) -> Vec<CanaryRecord> {
        self.made
            .into_iter()
            .zip(1u32..)
            .map(|(made, n)| {
                let (key, wrapped) = keyring.new_data_key(&canary_key_id(export, n), 1);
                CanaryRecord {
                    n,
                    wrapped_key: wrapped.as_bytes().to_vec(),
                    sealed: made
                        .values
                        .iter()
                        .map(|(name, value)| (name.clone(), key.seal(name, value)))
                        .collect(),
                    traces: made
                        .traces
                        .iter()
                        .map(|(kind, text)| ((*kind).to_owned(), trace_digest(keyring, kind, text)))
                        .collect(),
                }
            })
            .collect()
    }

    fn make(
        &self,
        template: &Row,
        sample: &Row,
        id: Option<&SubjectId>,
    ) -> Result<(Row, Made), EngineError> {
        let schema = &self.vault.schema;
        let mut rng = rand::thread_rng();
        let person = custos_synth::Generator::new(rng.r#gen()).member(rng.gen_range(0..1 << 40));
        let generated = |name: &str| {
            custos_synth::COLUMNS
                .iter()
                .position(|c| *c == name)
                .and_then(|i| person.values().get(i).map(|v| (*v).to_owned()))
        };
        let id_column = self
            .columns
            .iter()
            .position(|&i| schema.fields()[i].is_id());
        let mut row: Row = Vec::with_capacity(self.columns.len());
        for (column, &index) in self.columns.iter().enumerate() {
            let spec = &schema.fields()[index];
            let name = spec.name().as_str();
            let from = |r: &Row| r.get(column).cloned().flatten();
            let value = if spec.is_id() {
                id.map(|id| FieldValue::from_canonical(id.as_str().to_owned()))
            } else if GENERATED.contains(&name) {
                generated(name).and_then(|raw| spec.parse_value(&raw).ok().flatten())
            } else {
                match spec.field_type() {
                    FieldType::Email => {
                        let given = generated("given_name").unwrap_or_default();
                        let family = generated("family_name").unwrap_or_default();
                        let real = from(template);
                        let real_id = id_column.and_then(|c| template.get(c).cloned().flatten());
                        self.unique(spec, || {
                            email(
                                &given,
                                &family,
                                real.as_ref().map(FieldValue::as_str),
                                (real_id.as_ref().map(FieldValue::as_str), id),
                                &self.domain,
                            )
                        })?
                    }
                    FieldType::Phone => self.unique(spec, uk_mobile)?,
                    FieldType::Postcode => from(template).and_then(|real| {
                        let outward = real.as_str().split(' ').next().unwrap_or_default();
                        spec.parse_value(&format!("{outward} {}", inward_code()))
                            .ok()
                            .flatten()
                    }),
                    _ => match spec.category() {
                        DataCategory::Special(_) | DataCategory::Financial => from(sample),
                        DataCategory::FreeText => None,
                        DataCategory::Identity | DataCategory::Contact
                            if !SHARED_LOCALITY.contains(&name) =>
                        {
                            None
                        }
                        _ => from(template),
                    },
                }
            };
            row.push(value);
        }
        let made = self.describe(&row);
        Ok((row, made))
    }

    /// A value for a lookup-able field that no real member has, and no
    /// other canary (of this export or an earlier one) either, so that a
    /// trace of it names one export.
    fn unique(
        &self,
        spec: &FieldSpec,
        make: impl Fn() -> String,
    ) -> Result<Option<FieldValue>, EngineError> {
        let kind = trace_kind(spec).unwrap_or_default();
        for _ in 0..20 {
            let Ok(Some(value)) = spec.parse_value(&make()) else {
                continue;
            };
            let text = value.as_str();
            let digest = trace_digest(&self.vault.keys().keyring, kind, text);
            if self
                .made
                .iter()
                .any(|m| m.traces.iter().any(|(k, t)| *k == kind && t == text))
                || !self.vault.store.find_canaries(kind, &digest)?.is_empty()
            {
                continue;
            }
            if !spec.is_lookup() {
                return Ok(Some(value));
            }
            let digest = self.vault.keys().keyring.blind_index(spec.name(), &value);
            if self
                .vault
                .store
                .find(spec.name().as_str(), &digest.0)?
                .is_empty()
            {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// The values to seal and the traces to index.
    fn describe(&self, row: &Row) -> Made {
        let schema = &self.vault.schema;
        let mut values = Vec::new();
        let mut traces = Vec::new();
        let mut given = None;
        let mut family = None;
        for (value, &index) in row.iter().zip(&self.columns) {
            let Some(value) = value else { continue };
            let spec = &schema.fields()[index];
            values.push((spec.name().clone(), value.clone()));
            if let Some(kind) = trace_kind(spec) {
                traces.push((kind, value.as_str().to_owned()));
            }
            match spec.name().as_str() {
                "given_name" => given = Some(value.as_str().to_owned()),
                "family_name" => family = Some(value.as_str().to_owned()),
                _ => {}
            }
        }
        if let (Some(given), Some(family)) = (given, family) {
            traces.push(("name", normalise_name(&format!("{given} {family}"))));
        }
        Made { values, traces }
    }
}

/// The kind of value a canary is traced by, for a field holding it: `id`,
/// `email`, `phone` or `postcode` (the full name, `name`, is traced from
/// two fields together).
fn trace_kind(spec: &FieldSpec) -> Option<&'static str> {
    if spec.is_id() {
        return Some("id");
    }
    match spec.field_type() {
        FieldType::Email => Some("email"),
        FieldType::Phone => Some("phone"),
        FieldType::Postcode => Some("postcode"),
        _ => None,
    }
}

/// The id a canary's data key is bound to: never a subject's.
fn canary_key_id(export: ExportId, n: u32) -> SubjectId {
    match SubjectId::parse(&format!("canary.{export}.{n}")) {
        Ok(id) => id,
        Err(_) => unreachable!("export ids and numbers make valid subject ids"),
    }
}

fn trace_digest(keyring: &Keyring, kind: &str, text: &str) -> [u8; 16] {
    // A field name of its own per kind, so a canary's digests never equal
    // a member's blind-index entries.
    let field = match FieldName::parse(&format!("canary_{kind}")) {
        Ok(field) => field,
        Err(_) => unreachable!("trace kinds make valid field names"),
    };
    keyring
        .blind_index(&field, &FieldValue::from_canonical(text.to_owned()))
        .0
}

/// Names compare lower-cased with single spaces.
fn normalise_name(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A membership number at most `reach` past `base`, in its own form: the same
/// prefix and number of digits, or none if `base` does not end in digits
/// or the number would need another digit.
fn near_id(base: &SubjectId, reach: u64, rng: &mut impl Rng) -> Option<SubjectId> {
    let text = base.as_str();
    let digits = text.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 18 {
        return None;
    }
    let (prefix, number) = text.split_at(text.len() - digits);
    let number = number.parse::<u64>().ok()?;
    // Only as far as the same number of digits allows: `M7` has room up to
    // `M9`, not `M67`.
    let largest = 10u64.pow(u32::try_from(digits).ok()?) - 1;
    let room = largest.checked_sub(number).filter(|r| *r > 0)?;
    let next = number + rng.gen_range(1..=reach.clamp(1, room));
    SubjectId::parse(&format!("{prefix}{next:0digits$}")).ok()
}

/// An email address for the canary's names in the form of the template's
/// own: the same separators, digits where it has digits (its membership
/// number's where the template's repeat the template's membership
/// number), at the organisation's canary domain or else the template's.
fn email(
    given: &str,
    family: &str,
    template: Option<&str>,
    ids: (Option<&str>, Option<&SubjectId>),
    domain: &str,
) -> String {
    let mut rng = rand::thread_rng();
    let part = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_lowercase()
    };
    let (given, family) = (part(given), part(family));
    let (local, template_domain) = template
        .and_then(|t| t.rsplit_once('@'))
        .unwrap_or(("", "example.org"));
    let domain = if domain.is_empty() {
        template_domain
    } else {
        domain
    };
    let digits: &str = {
        let n = local.bytes().rev().take_while(u8::is_ascii_digit).count();
        &local[local.len() - n..]
    };
    let stem = &local[..local.len() - digits.len()];
    let before_digits = stem
        .chars()
        .last()
        .filter(|c| matches!(c, '.' | '_' | '-'))
        .map(String::from)
        .unwrap_or_default();
    let names = if stem.contains('.') {
        format!("{given}.{family}")
    } else if stem.contains('_') {
        format!("{given}_{family}")
    } else {
        format!("{}{family}", given.chars().next().unwrap_or('m'))
    };
    let trailing = |id: &str| {
        let n = id.bytes().rev().take_while(u8::is_ascii_digit).count();
        id[id.len() - n..].trim_start_matches('0').to_owned()
    };
    let number = match ids {
        (Some(template_id), Some(canary_id))
            if !digits.is_empty() && trailing(template_id) == digits.trim_start_matches('0') =>
        {
            trailing(canary_id.as_str())
        }
        _ if !digits.is_empty() => {
            let width = u32::try_from(digits.len()).unwrap_or(1).min(9);
            let low = if width == 1 { 0 } else { 10u64.pow(width - 1) };
            rng.gen_range(low..10u64.pow(width)).to_string()
        }
        _ if rng.gen_bool(0.5) => rng.gen_range(10..100).to_string(),
        _ => String::new(),
    };
    let sep = if number.is_empty() {
        ""
    } else {
        before_digits.as_str()
    };
    format!("{names}{sep}{number}@{domain}")
}

/// A UK mobile number, as members type them.
fn uk_mobile() -> String {
    let mut rng = rand::thread_rng();
    let second = ['4', '5', '7', '8', '9'][rng.gen_range(0..5)];
    format!(
        "07{second}{:02} {:06}",
        rng.gen_range(0..100),
        rng.gen_range(0..1_000_000)
    )
}

/// A postcode's inward code: a digit and two letters.
fn inward_code() -> String {
    let mut rng = rand::thread_rng();
    let letter = |rng: &mut rand::rngs::ThreadRng| {
        char::from(INWARD_LETTERS[rng.gen_range(0..INWARD_LETTERS.len())])
    };
    format!(
        "{}{}{}",
        rng.gen_range(0..10),
        letter(&mut rng),
        letter(&mut rng)
    )
}

/// A canary, decrypted, for the DPO: its values, to seed monitoring (a
/// mailbox for its email, a phone for its number).
#[derive(Debug)]
pub struct CanaryView {
    /// The export it was made for.
    pub export_id: ExportId,
    /// Its position among the export's canaries.
    pub n: u32,
    /// Its values, by field.
    pub values: Vec<(FieldName, FieldValue)>,
}

/// Where a value seen in the wild came from.
#[derive(Debug)]
pub struct CanaryTrace {
    /// The kinds of value that matched: `id`, `email`, `phone`,
    /// `postcode` or `name`.
    pub matched: Vec<String>,
    /// The export.
    pub export: ExportRecord,
    /// Which of its canaries.
    pub n: u32,
}

impl Vault {
    /// Whether an id is taken: by a subject, or by a canary already made.
    fn id_in_use(&self, id: &SubjectId) -> Result<bool, EngineError> {
        if !self.store.existing(std::slice::from_ref(id))?.is_empty() {
            return Ok(true);
        }
        let digest = trace_digest(&self.keys().keyring, "id", id.as_str());
        Ok(!self.store.find_canaries("id", &digest)?.is_empty())
    }

    /// Names the exports whose canaries have this value: a membership
    /// number, email address, phone number, postcode or full name seen
    /// where it should not be. Administrators and the DPO (`audit`).
    pub fn trace_canary(
        &self,
        caller: &Caller,
        raw: &str,
    ) -> Result<Vec<CanaryTrace>, EngineError> {
        let actor = self.admit_admin(caller, Action::Audit)?;
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(self.refuse(
                &actor,
                Action::Audit,
                Vec::new(),
                EngineError::invalid(Problem::general(
                    "give a value to trace: a membership number, email address, phone number, postcode or full name",
                )),
            ));
        }
        let keyring = &self.keys().keyring;
        let mut found: Vec<CanaryMatch> = Vec::new();
        for (kind, text) in self.trace_candidates(raw) {
            found.extend(
                self.store
                    .find_canaries(kind, &trace_digest(keyring, kind, &text))?,
            );
        }
        let mut traces: Vec<CanaryTrace> = Vec::new();
        found.sort_by_key(|m| (m.export_id, m.n));
        for m in found {
            if let Some(t) = traces
                .iter_mut()
                .find(|t| t.export.id == m.export_id && t.n == m.n)
            {
                t.matched.push(m.kind);
                continue;
            }
            let export = self
                .store
                .export(m.export_id)?
                .ok_or(custos_store::StoreError::ExportNotFound(m.export_id))?;
            traces.push(CanaryTrace {
                matched: vec![m.kind],
                export,
                n: m.n,
            });
        }
        Ok(traces)
    }

    /// Every reading of a raw value that a canary could be traced by.
    fn trace_candidates(&self, raw: &str) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        for spec in self.schema.fields() {
            let Some(kind) = trace_kind(spec) else {
                continue;
            };
            if out.iter().any(|(k, _)| *k == kind) {
                continue;
            }
            let canonical = if spec.is_id() {
                SubjectId::parse(raw).ok().map(|id| id.as_str().to_owned())
            } else {
                spec.parse_value(raw)
                    .ok()
                    .flatten()
                    .map(|v| v.as_str().to_owned())
            };
            out.extend(canonical.map(|c| (kind, c)));
        }
        if raw.contains(char::is_whitespace) {
            out.push(("name", normalise_name(raw)));
        }
        out
    }

    /// The canaries of one export, decrypted: administrators and the DPO
    /// (`audit`). They are synthetic, so reading them releases nothing.
    pub fn export_canaries(
        &self,
        caller: &Caller,
        id: ExportId,
    ) -> Result<Vec<CanaryView>, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        if self.store.export(id)?.is_none() {
            return Err(custos_store::StoreError::ExportNotFound(id).into());
        }
        let keyring = &self.keys().keyring;
        self.store
            .canaries(id)?
            .into_iter()
            .map(|c| {
                let key = keyring
                    .unwrap_data_key(
                        &canary_key_id(id, c.n),
                        1,
                        &WrappedDataKey::from_bytes(c.wrapped_key),
                    )
                    .map_err(|source| EngineError::Integrity {
                        subject: canary_key_id(id, c.n),
                        field: crate::error::DATA_KEY.to_owned(),
                        source,
                    })?;
                let values = c
                    .sealed
                    .iter()
                    .map(|(name, sealed)| {
                        key.open(name, sealed)
                            .map(|v| (name.clone(), v))
                            .map_err(|source| EngineError::Integrity {
                                subject: canary_key_id(id, c.n),
                                field: name.to_string(),
                                source,
                            })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(CanaryView {
                    export_id: id,
                    n: c.n,
                    values,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use custos_model::Schema;

    use super::*;

    #[test]
    fn near_ids_keep_the_form_of_the_id() {
        let mut rng = rand::thread_rng();
        let base = SubjectId::parse("M00001234").unwrap();
        for _ in 0..100 {
            let id = near_id(&base, ID_GAP_SEARCH, &mut rng).unwrap();
            assert_eq!(id.as_str().len(), 9);
            assert!(id.as_str().starts_with("M0000"));
            assert!(id > base && id.as_str() <= "M00001294", "{id}");
        }
        // 99 has no room for a larger number of two digits; 7 has room
        // for 8 and 9 only, however far the reach.
        assert!(near_id(&SubjectId::parse("M99").unwrap(), 60, &mut rng).is_none());
        for _ in 0..50 {
            let id = near_id(&SubjectId::parse("M7").unwrap(), 60, &mut rng).unwrap();
            assert!(["M8", "M9"].contains(&id.as_str()), "{id}");
        }
        assert!(near_id(&SubjectId::parse("SABCDEF").unwrap(), 9, &mut rng).is_none());
    }

    #[test]
    fn made_up_values_are_in_the_forms_members_use() {
        let schema = Schema::default_party();
        let phone = schema.field("phone").unwrap();
        let postcode = schema.field("postcode").unwrap();
        let email_field = schema.field("email").unwrap();
        for _ in 0..50 {
            assert!(phone.parse_value(&uk_mobile()).unwrap().is_some());
            let code = format!("LS1 {}", inward_code());
            assert!(postcode.parse_value(&code).unwrap().is_some(), "{code}");
            let address = email(
                "Ana-Maria",
                "O'Neil",
                Some("sam.jones.412@party.example"),
                (
                    Some("M00000412"),
                    Some(&SubjectId::parse("M00000431").unwrap()),
                ),
                "",
            );
            assert_eq!(address, "ana-maria.oneil.431@party.example");
            assert!(
                email_field.parse_value(&address).unwrap().is_some(),
                "{address}"
            );
            let address = email("Ana", "Lee", Some("sjones_77@x.example"), (None, None), "");
            assert!(address.starts_with("ana_lee_"), "{address}");
            assert_eq!(address.len(), "ana_lee_00@x.example".len(), "{address}");
            assert!(address.ends_with("@x.example"), "{address}");
        }
        let own = email("Ana", "Lee", None, (None, None), "canaries.party.example");
        assert!(own.ends_with("@canaries.party.example"), "{own}");
    }

    #[test]
    fn names_are_normalised_for_tracing() {
        assert_eq!(normalise_name("  Ana   SMITH "), "ana smith");
    }

    #[test]
    fn default_counts_grow_with_the_export() {
        assert_eq!(default_canaries(0), 0);
        assert_eq!(default_canaries(10), 1);
        assert_eq!(default_canaries(500), 3);
        assert_eq!(default_canaries(500_000), 5);
    }
}
