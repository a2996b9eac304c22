//! Incident response end to end: processors and exports to them with
//! canary records, the exposure of each kind of scope computed from the
//! ledger, the breach register refusing bad input, and the notices to the
//! people affected.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use custos_engine::{
    Caller, EngineError, ErrorKind, Event, ExportRequest, IncidentOpening, IncidentReport,
    NewProcessor, Notice, NoticeRun, NoticeSink, OrganisationChange, Outcome, ProcessorExport,
    ProcessorExportReport, Vault,
};
use custos_model::{PrincipalKind, PrincipalStatus};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;

use crate::support::{
    TestVault, another_token, ledger_events, only, principal_with_token, sid, token_caller,
};

const SEAT_A: &str = "E14000639";
const SEAT_B: &str = "E14000555";

/// A member of the test organisation. Membership numbers leave gaps, so
/// that canaries have room to sit between real rows.
struct Member {
    id: &'static str,
    given: &'static str,
    family: &'static str,
    email: &'static str,
    phone: &'static str,
    address: &'static str,
    town: &'static str,
    postcode: &'static str,
    seat: &'static str,
    branch: &'static str,
    /// Whether they agreed to calls and emails, which campaigning needs.
    consents: &'static str,
}

const MEMBERS: [Member; 6] = [
    Member {
        id: "M0010",
        given: "Nia",
        family: "Okafor",
        email: "nia.okafor@example.org",
        phone: "07700 900110",
        address: "1 Cable Street",
        town: "London",
        postcode: "E1 6AA",
        seat: SEAT_A,
        branch: "bethnal-green",
        consents: "true",
    },
    Member {
        id: "M0020",
        given: "Tom",
        family: "Baxter",
        email: "tom.baxter@example.org",
        phone: "07700 900120",
        address: "2 Chrisp Street",
        town: "London",
        postcode: "E14 6AQ",
        seat: SEAT_B,
        branch: "poplar",
        consents: "true",
    },
    Member {
        id: "M0030",
        given: "Ruth",
        family: "Adeyemi",
        email: "ruth.adeyemi@example.org",
        phone: "07700 900130",
        address: "3 Roman Road",
        town: "London",
        postcode: "E2 0QN",
        seat: SEAT_A,
        branch: "bethnal-green",
        consents: "false",
    },
    Member {
        id: "M0040",
        given: "Owen",
        family: "Price",
        email: "owen.price@example.org",
        phone: "07700 900140",
        address: "4 Globe Road",
        town: "London",
        postcode: "E1 4DU",
        seat: SEAT_A,
        branch: "bethnal-green",
        consents: "true",
    },
    Member {
        id: "M0050",
        given: "Lena",
        family: "Fischer",
        email: "lena.fischer@example.org",
        phone: "07700 900150",
        address: "5 Saltwell Street",
        town: "London",
        postcode: "E14 0DZ",
        seat: SEAT_B,
        branch: "poplar",
        consents: "false",
    },
    Member {
        id: "M0060",
        given: "Sam",
        family: "Carter",
        email: "sam.carter@example.org",
        phone: "07700 900160",
        address: "6 Market Square",
        town: "London",
        postcode: "E14 6BU",
        seat: SEAT_B,
        branch: "poplar",
        consents: "true",
    },
];

/// The fields every member holds, besides `id`.
const HELD: [&str; 15] = [
    "given_name",
    "family_name",
    "email",
    "phone",
    "address_line1",
    "town",
    "postcode",
    "constituency",
    "branch",
    "membership_status",
    "consent_email",
    "consent_phone",
    "ethnicity",
    "donation_total",
    "notes",
];

/// The scope attributes every member holds, in clear in the store.
const HELD_SCOPE: [&str; 5] = [
    "constituency",
    "branch",
    "membership_status",
    "consent_email",
    "consent_phone",
];

fn member(id: &str) -> &'static Member {
    MEMBERS.iter().find(|m| m.id == id).expect("a test member")
}

fn add_member(t: &TestVault, m: &Member) {
    t.add(
        m.id,
        &[
            ("given_name", m.given),
            ("family_name", m.family),
            ("email", m.email),
            ("phone", m.phone),
            ("address_line1", m.address),
            ("town", m.town),
            ("postcode", m.postcode),
            ("constituency", m.seat),
            ("branch", m.branch),
            ("membership_status", "member"),
            ("consent_email", m.consents),
            ("consent_phone", m.consents),
            ("ethnicity", "Welsh"),
            ("donation_total", "12.50"),
            ("notes", "Prefers letters"),
        ],
    );
}

/// The organisation: its members, principals with tokens, and two
/// processors. `mailhouse` serves campaigning and membership
/// administration, and Pat works for it; `printshop` serves campaigning.
struct Org {
    t: TestVault,
    /// A representative for `SEAT_A`.
    ana: String,
    /// The membership team, with two tokens.
    mo: String,
    mo_id: String,
    mo2: String,
    mo2_id: String,
    /// The finance team.
    fay: String,
    /// Membership team, but of the mailing house.
    pat: String,
}

impl Org {
    fn new() -> Self {
        let t = TestVault::new();
        for m in &MEMBERS {
            add_member(&t, m);
        }
        let v = &t.vault;
        let (ana, _) = principal_with_token(
            v,
            "ana",
            PrincipalKind::Representative,
            &[("constituency", SEAT_A)],
        );
        let (mo, mo_id) =
            principal_with_token(v, "mo", PrincipalKind::Staff, &[("team", "membership")]);
        let (mo2, mo2_id) = another_token(v, "mo");
        let (fay, _) = principal_with_token(v, "fay", PrincipalKind::Staff, &[("team", "finance")]);
        let (pat, _) = principal_with_token(
            v,
            "pat",
            PrincipalKind::Staff,
            &[("team", "membership"), ("organisation", "mailhouse")],
        );
        add_processor(v, "mailhouse", &["campaigning", "membership_admin"]).unwrap();
        add_processor(v, "printshop", &["campaigning"]).unwrap();
        Self {
            t,
            ana,
            mo,
            mo_id,
            mo2,
            mo2_id,
            fay,
            pat,
        }
    }

    fn vault(&self) -> &Vault {
        &self.t.vault
    }

    fn op(&self) -> Caller {
        self.vault().local_operator()
    }

    /// Exports these fields to a processor as the local operator, for a
    /// purpose, with filters; returns the file and the report.
    fn export(
        &self,
        processor: &str,
        purpose: &str,
        fields: &[&str],
        filters: &[(&str, &str)],
        canaries: Option<u32>,
    ) -> Result<(Vec<u8>, ProcessorExportReport), EngineError> {
        let mut out = Vec::new();
        let report = self.vault().export_to_processor(
            &self.op().with_purpose(Some(purpose)),
            &mut out,
            &ProcessorExport {
                processor: processor.to_owned(),
                request: ExportRequest {
                    selection: only(fields),
                    filters: filters
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    ids: Vec::new(),
                },
                file_name: Some(format!("{processor}.csv")),
                canaries,
            },
        )?;
        Ok((out, report))
    }

    /// Opens an incident with these scopes and returns its report.
    fn incident(&self, scopes: &[&str]) -> IncidentReport {
        let id = open(self.vault(), scopes, false).unwrap();
        self.vault().incident_report(&self.op(), &id).unwrap()
    }
}

fn add_processor(
    vault: &Vault,
    name: &str,
    purposes: &[&str],
) -> Result<custos_engine::ProcessorRecord, EngineError> {
    vault.add_processor(
        &vault.local_operator(),
        &NewProcessor {
            name: name.to_owned(),
            contact: format!("breaches@{name}.example"),
            contract_ref: format!("DPA-{name}-2026"),
            purposes: purposes.iter().map(|&p| p.to_owned()).collect(),
        },
    )
}

/// Now, as RFC 3339.
fn now() -> String {
    custos_engine::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap()
}

/// Opens an incident that the organisation became aware of just now, and
/// returns its id.
fn open(vault: &Vault, scopes: &[&str], keys_exposed: bool) -> Result<String, EngineError> {
    opening(vault, scopes, keys_exposed, &now())
}

fn opening(
    vault: &Vault,
    scopes: &[&str],
    keys_exposed: bool,
    aware_at: &str,
) -> Result<String, EngineError> {
    vault
        .open_incident(
            &vault.local_operator(),
            &IncidentOpening {
                title: "Test incident".to_owned(),
                nature: String::new(),
                aware_at: aware_at.to_owned(),
                scopes: scopes.iter().map(|&s| s.to_owned()).collect(),
                keys_exposed,
            },
        )
        .map(|r| r.id.to_string())
}

/// Reads fields of a subject and returns those released.
fn read(
    vault: &Vault,
    caller: &Caller,
    id: &str,
    fields: &[&str],
) -> Result<Vec<String>, EngineError> {
    Ok(vault
        .read_subject(caller, &sid(id), &only(fields))?
        .fields
        .iter()
        .map(|(f, _)| f.to_string())
        .collect())
}

/// One person's exposure as the report gives it: fields, first and last.
type Exposed = BTreeMap<String, (Vec<String>, String, String)>;

fn exposed(report: &IncidentReport) -> Exposed {
    report
        .exposure
        .subjects
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                (
                    s.fields.iter().map(ToString::to_string).collect(),
                    s.first_exposed.clone(),
                    s.last_exposed.clone(),
                ),
            )
        })
        .collect()
}

/// Just the fields of each person.
fn exposed_fields(report: &IncidentReport) -> BTreeMap<String, Vec<String>> {
    exposed(report)
        .into_iter()
        .map(|(id, (fields, _, _))| (id, fields))
        .collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

/// Whether an event released something.
fn releases(e: &Event) -> bool {
    matches!(e.outcome, Outcome::Allowed | Outcome::Partial) && !e.fields_released.is_empty()
}

/// The events that released something to `principal`, oldest first.
fn releases_to(vault: &Vault, principal: &str) -> Vec<Event> {
    ledger_events(vault)
        .into_iter()
        .filter(|e| e.principal == principal && releases(e))
        .collect()
}

/// Waits long enough for the ledger's clock (milliseconds) to move on.
fn tick() {
    std::thread::sleep(Duration::from_millis(5));
}

/// Parses an export file: its header and its rows.
fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// A UK phone number as the vault stores it: `07700 900110` is
/// `+447700900110`.
fn canonical_phone(national: &str) -> String {
    format!("+44{}", national.replace(' ', "").trim_start_matches('0'))
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The canaries of an export, as (n, field → value).
fn canaries_of(
    vault: &Vault,
    report: &ProcessorExportReport,
) -> Vec<(u32, BTreeMap<String, String>)> {
    vault
        .export_canaries(&vault.local_operator(), report.id)
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.n,
                c.values
                    .iter()
                    .map(|(f, v)| (f.to_string(), v.as_str().to_owned()))
                    .collect(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------
// Processors and exports to them
// ---------------------------------------------------------------------

#[test]
fn processors_serve_registered_purposes_under_unique_names() {
    let t = TestVault::new();
    let v = &t.vault;
    let err = add_processor(v, "mailhouse", &["campaigning", "astrology"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("`astrology`"), "{err}");
    assert!(!err.to_string().contains("`campaigning`"), "{err}");
    assert!(v.processors(&t.who).unwrap().is_empty());

    let err = add_processor(v, "mailhouse", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(v.processors(&t.who).unwrap().is_empty());

    let made = add_processor(v, "mailhouse", &["campaigning", "finance", "campaigning"]).unwrap();
    let purposes: Vec<&str> = made.purposes.iter().map(|p| p.as_str()).collect();
    assert_eq!(purposes, ["campaigning", "finance"]);

    let err = v
        .add_processor(
            &t.who,
            &NewProcessor {
                name: "mailhouse".to_owned(),
                contact: "someone.else@example.org".to_owned(),
                contract_ref: "OTHER".to_owned(),
                purposes: vec!["finance".to_owned()],
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let all = v.processors(&t.who).unwrap();
    assert_eq!(all, vec![made.clone()], "the first registration stands");
    let view = v.processor(&t.who, "mailhouse").unwrap();
    assert_eq!(view.record, made);
    assert!(view.exports.is_empty());

    let err = v.processor(&t.who, "nobody").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[test]
fn an_export_to_a_processor_is_its_header_real_rows_and_canaries_in_id_order() {
    let org = Org::new();
    let v = org.vault();
    // In schema order, which is the order of the columns.
    let fields = [
        "id",
        "given_name",
        "family_name",
        "email",
        "phone",
        "town",
        "postcode",
    ];
    let (bytes, report) = org
        .export("mailhouse", "membership_admin", &fields, &[], Some(3))
        .unwrap();
    assert_eq!(report.report.rows, 6);
    assert_eq!(report.report.excluded, 0);
    assert_eq!(report.canaries, 3);

    let (header, rows) = parse_csv(&bytes);
    assert_eq!(header, strings(&fields));
    assert_eq!(rows.len(), 6 + 3);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "rows and canaries are in id order, each once");

    // Every real member is there with their own values; every other row
    // is a canary, with a membership number of the same form that no
    // member has.
    let mut real = 0;
    for row in &rows {
        match MEMBERS.iter().find(|m| m.id == row[0]) {
            Some(m) => {
                real += 1;
                assert_eq!(row[1..4], [m.given, m.family, m.email], "{row:?}");
                // A leading `+` is neutralised against spreadsheet formulas.
                assert_eq!(row[4], format!("'{}", canonical_phone(m.phone)));
                assert_eq!(row[5..], [m.town, m.postcode]);
            }
            None => {
                assert_eq!(row[0].len(), 5, "{row:?}");
                assert!(row[0].starts_with('M'), "{row:?}");
                assert!(row.iter().all(|cell| !cell.is_empty()), "{row:?}");
                assert!(
                    row[4].starts_with("'+447"),
                    "written like the others: {row:?}"
                );
                assert!(
                    MEMBERS
                        .iter()
                        .all(|m| m.email != row[3]
                            && format!("'{}", canonical_phone(m.phone)) != row[4]),
                    "a canary has contact details of its own: {row:?}"
                );
            }
        }
    }
    assert_eq!(real, 6);

    // The canaries the vault keeps are exactly those in the file.
    let canaries = canaries_of(v, &report);
    let canary_ids: BTreeSet<String> = canaries.iter().map(|(_, c)| c["id"].clone()).collect();
    let file_canaries: BTreeSet<String> = ids
        .iter()
        .filter(|id| MEMBERS.iter().all(|m| m.id != **id))
        .map(|id| (*id).to_owned())
        .collect();
    assert_eq!(canary_ids, file_canaries);
    assert_eq!(
        canaries.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

#[test]
fn the_manifest_records_the_hash_of_the_bytes_written() {
    let org = Org::new();
    let v = org.vault();
    let (bytes, report) = org
        .export(
            "mailhouse",
            "campaigning",
            &["id", "given_name", "phone"],
            &[],
            None,
        )
        .unwrap();
    let sha = hex_sha256(&bytes);
    assert_eq!(report.sha256, sha);
    let record = v.export_record(&org.op(), &report.id.to_string()).unwrap();
    assert_eq!(record.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(record.manifest_seq, Some(report.manifest_seq));
    assert_eq!(record.subjects, report.report.rows);
    assert_eq!(record.export.processor.as_str(), "mailhouse");
    assert_eq!(record.export.purpose, "campaigning");

    let events = ledger_events(v);
    let manifest = events
        .iter()
        .find(|e| e.seq == report.manifest_seq)
        .expect("the manifest event");
    assert_eq!(manifest.action, "export_manifest");
    assert_eq!(manifest.outcome, Outcome::Allowed);
    assert!(manifest.subjects.is_empty() && manifest.fields_released.is_empty());
    assert!(
        manifest.reason.contains(&format!("file sha256 {sha}")),
        "{}",
        manifest.reason
    );
    assert!(manifest.reason.contains(&report.id.to_string()));
    assert!(manifest.reason.contains("mailhouse"));

    // Campaigning needs consent: the export event names exactly the
    // members who agreed to calls, and the fields.
    let exported: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == "export" && e.seq < report.manifest_seq)
        .collect();
    assert_eq!(exported.len(), 1, "{exported:#?}");
    let agreed: Vec<&str> = MEMBERS
        .iter()
        .filter(|m| m.consents == "true")
        .map(|m| m.id)
        .collect();
    assert_eq!(exported[0].subjects, strings(&agreed));
    assert_eq!(
        exported[0].fields_released,
        strings(&["id", "given_name", "phone"])
    );
    assert_eq!(report.report.rows, agreed.len() as u64);
    assert_eq!(report.report.excluded, 6 - agreed.len() as u64);
}

#[test]
fn canaries_never_appear_in_reads_listings_counts_the_ledger_reports_or_notices() {
    let org = Org::new();
    let v = org.vault();
    let fields = [
        "id",
        "given_name",
        "family_name",
        "email",
        "phone",
        "postcode",
    ];
    let (bytes, report) = org
        .export("mailhouse", "membership_admin", &fields, &[], Some(4))
        .unwrap();
    let canaries = canaries_of(v, &report);
    assert_eq!(canaries.len(), 4);
    let text = String::from_utf8(bytes).unwrap();
    for (_, c) in &canaries {
        assert!(text.contains(&c["email"]), "the canary is in the file");
    }

    // Counts and listings.
    assert_eq!(org.t.count(), 6);
    let listed: Vec<String> = v
        .list_subjects(&org.op(), &[], None, 100)
        .unwrap()
        .subjects
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    assert_eq!(listed, MEMBERS.map(|m| m.id.to_owned()));

    // Reports and notices of the export.
    let incident = open(v, &[&format!("export:{}", report.id)], false).unwrap();
    let exposure = v.incident_report(&org.op(), &incident).unwrap();
    let people: Vec<String> = exposure
        .exposure
        .subjects
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(people, MEMBERS.map(|m| m.id.to_owned()));
    let mut sink = Collect::default();
    let summary = v
        .incident_notices(
            &org.op().with_purpose(Some("breach_notification")),
            &incident,
            &mut sink,
        )
        .unwrap();
    assert_eq!(summary.written, 6);
    let addressed: Vec<&str> = sink.letters.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(addressed, MEMBERS.map(|m| m.id));

    // No event of the ledger names a canary or holds one of its values.
    for e in ledger_events(v) {
        let all = format!(
            "{} {:?} {:?} {}",
            e.principal, e.subjects, e.fields_released, e.reason
        );
        for (_, c) in &canaries {
            let name = format!("{} {}", c["given_name"], c["family_name"]);
            for value in [&c["id"], &c["email"], &c["phone"], &name] {
                assert!(
                    !all.contains(value.as_str()),
                    "event {} holds `{value}`: {all}",
                    e.seq
                );
            }
        }
    }

    // Reads and lookups find nothing.
    for (_, c) in &canaries {
        let err = read(v, &org.op(), &c["id"], &["email"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(
            v.find_subjects(&org.op(), "email", &c["email"])
                .unwrap()
                .is_empty()
        );
        assert!(
            v.find_subjects(&org.op(), "phone", &c["phone"])
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(org.t.count(), 6);
}

#[test]
fn each_export_carries_canaries_of_its_own_that_trace_back_to_it() {
    let org = Org::new();
    let v = org.vault();
    let fields = [
        "id",
        "given_name",
        "family_name",
        "email",
        "phone",
        "postcode",
    ];
    let (_, first) = org
        .export("mailhouse", "membership_admin", &fields, &[], Some(3))
        .unwrap();
    let (_, second) = org
        .export("mailhouse", "membership_admin", &fields, &[], Some(3))
        .unwrap();
    assert_ne!(first.id, second.id);
    let a = canaries_of(v, &first);
    let b = canaries_of(v, &second);
    assert_eq!((a.len(), b.len()), (3, 3));
    for key in ["id", "email", "phone"] {
        let ours: BTreeSet<&String> = a.iter().map(|(_, c)| &c[key]).collect();
        let theirs: BTreeSet<&String> = b.iter().map(|(_, c)| &c[key]).collect();
        assert_eq!(ours.len(), 3, "{key}s differ within an export");
        assert!(ours.is_disjoint(&theirs), "{key}: {ours:?} and {theirs:?}");
    }

    for (export, canaries) in [(&first, &a), (&second, &b)] {
        for (n, c) in canaries {
            // Each value as it might be seen in the wild: the id, the
            // email in capitals, the phone number as dialled nationally,
            // and the full name with stray spaces.
            let national = format!("0{}", c["phone"].trim_start_matches("+44"));
            let name = format!(
                "  {}   {} ",
                c["given_name"].to_uppercase(),
                c["family_name"]
            );
            for (seen, kind) in [
                (c["id"].clone(), "id"),
                (c["email"].to_uppercase(), "email"),
                (national, "phone"),
                (name, "name"),
            ] {
                let traces = v.trace_canary(&org.op(), &seen).unwrap();
                let hit = traces
                    .iter()
                    .find(|t| t.export.id == export.id && t.n == *n);
                assert!(
                    hit.is_some(),
                    "`{seen}` does not trace to its export: {traces:#?}"
                );
                let hit = hit.unwrap();
                assert!(
                    hit.matched.iter().any(|m| m == kind),
                    "{seen}: {:?}",
                    hit.matched
                );
                assert_eq!(hit.export.export.processor.as_str(), "mailhouse");
                assert_eq!(hit.export.sha256.as_deref(), Some(export.sha256.as_str()));
                if kind != "name" {
                    // Names are drawn from a finite list and may repeat;
                    // the rest are unique to one canary.
                    assert_eq!(traces.len(), 1, "{seen}: {traces:#?}");
                }
            }
        }
    }

    // A member's values trace to nothing.
    let m = member("M0030");
    for seen in [
        m.id.to_owned(),
        m.email.to_owned(),
        m.phone.to_owned(),
        format!("{} {}", m.given, m.family),
        "nobody.at.all@example.org".to_owned(),
    ] {
        assert!(
            v.trace_canary(&org.op(), &seen).unwrap().is_empty(),
            "{seen}"
        );
    }
    let err = v.trace_canary(&org.op(), "  ").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
}

#[test]
fn an_export_for_a_purpose_the_processor_does_not_serve_is_refused_and_recorded() {
    let org = Org::new();
    let v = org.vault();
    let before = ledger_events(v).len();
    let err = org
        .export("printshop", "membership_admin", &["id", "email"], &[], None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("`printshop`") && message.contains("`membership_admin`"),
        "{message}"
    );
    assert!(
        message.contains("campaigning"),
        "it says what the contract covers: {message}"
    );
    assert!(v.exports(&org.op(), None).unwrap().is_empty());

    let events = ledger_events(v);
    assert_eq!(events.len(), before + 1, "{:#?}", &events[before..]);
    let refused = &events[before];
    assert_eq!(refused.action, "export");
    assert_eq!(refused.outcome, Outcome::Denied);
    assert_eq!(refused.purpose, "membership_admin");
    assert!(refused.fields_released.is_empty());

    // An unknown processor is refused the same way.
    let err = org
        .export("nobody", "campaigning", &["id"], &[], None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(v.exports(&org.op(), None).unwrap().is_empty());
    let last = ledger_events(v).pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.outcome),
        ("export", Outcome::Denied)
    );
}

// ---------------------------------------------------------------------
// Exposure, scope by scope
// ---------------------------------------------------------------------

#[test]
fn a_principal_scope_counts_what_was_released_to_them_in_their_window() {
    let org = Org::new();
    let v = org.vault();
    let ana = token_caller(&org.ana, "casework");
    // Names and email of M0010; her ethnicity and donations are outside
    // casework, so they are denied.
    let got = read(
        v,
        &ana,
        "M0010",
        &[
            "given_name",
            "family_name",
            "email",
            "ethnicity",
            "donation_total",
        ],
    )
    .unwrap();
    assert_eq!(got, strings(&["given_name", "family_name", "email"]));
    // M0020 is outside her constituency: nothing released.
    assert_eq!(
        read(v, &ana, "M0020", &["email"]).unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    assert_eq!(
        read(v, &ana, "M0030", &["phone"]).unwrap(),
        strings(&["phone"])
    );
    tick();
    // Later, M0010's phone; notes are not hers to read.
    assert_eq!(
        read(v, &ana, "M0010", &["phone", "notes"]).unwrap(),
        strings(&["phone"])
    );

    let times: Vec<String> = releases_to(v, "ana").into_iter().map(|e| e.time).collect();
    assert_eq!(times.len(), 3);
    let (t1, t2, t3) = (&times[0], &times[1], &times[2]);
    assert!(t3 > t2);

    let all = org.incident(&["principal:ana"]);
    assert_eq!(
        exposed(&all),
        BTreeMap::from([
            (
                "M0010".to_owned(),
                (
                    strings(&["given_name", "family_name", "email", "phone"]),
                    t1.clone(),
                    t3.clone()
                )
            ),
            (
                "M0030".to_owned(),
                (strings(&["phone"]), t2.clone(), t2.clone())
            ),
        ])
    );
    let m0010 = &all.exposure.subjects[0];
    assert!(!m0010.special_category);
    assert_eq!(
        m0010
            .categories
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["identity", "contact"]
    );
    assert!(!m0010.erased && m0010.encrypted_fields.is_empty());
    assert_eq!(all.exposure.events, 3);

    // From the third read on (an open end).
    let later = org.incident(&[&format!("principal:ana,window:{t3}..")]);
    assert_eq!(
        exposed(&later),
        BTreeMap::from([(
            "M0010".to_owned(),
            (strings(&["phone"]), t3.clone(), t3.clone())
        )])
    );
    // Up to the third read, which the end excludes.
    let earlier = org.incident(&[&format!("principal:ana,window:..{t3}")]);
    assert_eq!(
        exposed_fields(&earlier),
        BTreeMap::from([
            (
                "M0010".to_owned(),
                strings(&["given_name", "family_name", "email"])
            ),
            ("M0030".to_owned(), strings(&["phone"])),
        ])
    );
    // Someone who read nothing exposed nothing.
    let nothing = org.incident(&["principal:fay"]);
    assert!(nothing.exposure.subjects.is_empty());
    assert!(!nothing.art34.notify_subjects);
}

#[test]
fn a_token_scope_counts_only_the_events_of_that_token() {
    let org = Org::new();
    let v = org.vault();
    let one = token_caller(&org.mo, "membership_admin");
    let two = token_caller(&org.mo2, "membership_admin");
    assert_eq!(
        read(v, &one, "M0010", &["email"]).unwrap(),
        strings(&["email"])
    );
    // Without a second factor, special-category data is denied.
    assert_eq!(
        read(v, &two, "M0020", &["phone", "ethnicity"]).unwrap(),
        strings(&["phone"])
    );
    let released = releases_to(v, "mo");
    let auths: Vec<&str> = released.iter().map(|e| e.auth.as_str()).collect();
    assert_eq!(
        auths,
        [
            format!("api_token {}", org.mo_id),
            format!("api_token {}", org.mo2_id)
        ]
    );
    assert_eq!(released[1].outcome, Outcome::Partial);
    assert_eq!(released[1].fields_denied, strings(&["ethnicity"]));

    let first = org.incident(&[&format!("token:{}", org.mo_id)]);
    assert_eq!(
        exposed(&first),
        BTreeMap::from([(
            "M0010".to_owned(),
            (
                strings(&["email"]),
                released[0].time.clone(),
                released[0].time.clone()
            )
        )])
    );
    let second = org.incident(&[&format!("token:{}", org.mo2_id)]);
    assert_eq!(
        exposed_fields(&second),
        BTreeMap::from([("M0020".to_owned(), strings(&["phone"]))])
    );
    assert!(
        !second.exposure.subjects[0].special_category,
        "denied fields are not exposure"
    );
    let both = org.incident(&["principal:mo"]);
    assert_eq!(both.exposure.subjects.len(), 2);
}

#[test]
fn a_processor_scope_counts_its_exports_and_what_its_people_read() {
    let org = Org::new();
    let v = org.vault();
    let (_, to_mailhouse) = org
        .export(
            "mailhouse",
            "membership_admin",
            &["id", "given_name", "email"],
            &[("constituency", SEAT_A)],
            None,
        )
        .unwrap();
    let (_, to_printshop) = org
        .export(
            "printshop",
            "campaigning",
            &["id", "given_name", "phone"],
            &[],
            None,
        )
        .unwrap();
    let pat = token_caller(&org.pat, "membership_admin");
    assert_eq!(
        read(
            v,
            &pat,
            "M0060",
            &["notes", "donation_total", "union_affiliation"]
        )
        .unwrap(),
        strings(&["donation_total", "notes"])
    );
    // Mo is not the mailing house's.
    let mo = token_caller(&org.mo, "membership_admin");
    read(v, &mo, "M0050", &["email"]).unwrap();
    assert_eq!(
        v.processor(&org.op(), "mailhouse").unwrap().principals,
        vec![custos_model::PrincipalName::parse("pat").unwrap()]
    );

    let seat_a: Vec<&str> = MEMBERS
        .iter()
        .filter(|m| m.seat == SEAT_A)
        .map(|m| m.id)
        .collect();
    let mut expected: BTreeMap<String, Vec<String>> = seat_a
        .iter()
        .map(|id| ((*id).to_owned(), strings(&["id", "given_name", "email"])))
        .collect();
    expected.insert("M0060".to_owned(), strings(&["donation_total", "notes"]));
    let report = org.incident(&["processor:mailhouse"]);
    assert_eq!(exposed_fields(&report), expected);

    let agreed: BTreeMap<String, Vec<String>> = MEMBERS
        .iter()
        .filter(|m| m.consents == "true")
        .map(|m| (m.id.to_owned(), strings(&["id", "given_name", "phone"])))
        .collect();
    let report = org.incident(&["processor:printshop"]);
    assert_eq!(exposed_fields(&report), agreed);
    let report = org.incident(&[&format!("export:{}", to_printshop.id)]);
    assert_eq!(exposed_fields(&report), agreed);
    let report = org.incident(&[&format!("export:{}", to_mailhouse.id)]);
    assert_eq!(
        exposed_fields(&report).keys().collect::<Vec<_>>(),
        seat_a.iter().collect::<Vec<_>>()
    );

    // Two scopes: the union, each person once.
    let report = org.incident(&[&format!("export:{}", to_mailhouse.id), "principal:mo"]);
    let mut union: BTreeMap<String, Vec<String>> = seat_a
        .iter()
        .map(|id| ((*id).to_owned(), strings(&["id", "given_name", "email"])))
        .collect();
    union.insert("M0050".to_owned(), strings(&["email"]));
    assert_eq!(exposed_fields(&report), union);
}

#[test]
fn two_exports_to_one_processor_are_told_apart() {
    let org = Org::new();
    let (_, first) = org
        .export(
            "mailhouse",
            "membership_admin",
            &["id", "email"],
            &[("constituency", SEAT_B)],
            None,
        )
        .unwrap();
    tick();
    let (_, second) = org
        .export(
            "mailhouse",
            "membership_admin",
            &["id", "given_name", "postcode"],
            &[("constituency", SEAT_A)],
            None,
        )
        .unwrap();
    let seat = |seat: &str, fields: &[&str]| -> BTreeMap<String, Vec<String>> {
        MEMBERS
            .iter()
            .filter(|m| m.seat == seat)
            .map(|m| (m.id.to_owned(), strings(fields)))
            .collect()
    };
    let one = org.incident(&[&format!("export:{}", first.id)]);
    assert_eq!(exposed_fields(&one), seat(SEAT_B, &["id", "email"]));
    let two = org.incident(&[&format!("export:{}", second.id)]);
    assert_eq!(
        exposed_fields(&two),
        seat(SEAT_A, &["id", "given_name", "postcode"])
    );
    let export_time = |report: &IncidentReport| report.exposure.subjects[0].first_exposed.clone();
    assert!(export_time(&one) < export_time(&two));
    let both = org.incident(&["processor:mailhouse"]);
    assert_eq!(both.exposure.subjects.len(), 6);
}

#[test]
fn a_window_scope_counts_everything_released_within_it() {
    let org = Org::new();
    let v = org.vault();
    read(v, &token_caller(&org.ana, "casework"), "M0010", &["email"]).unwrap();
    tick();
    read(
        v,
        &token_caller(&org.mo, "membership_admin"),
        "M0020",
        &["phone"],
    )
    .unwrap();
    read(
        v,
        &token_caller(&org.fay, "finance"),
        "M0030",
        &["given_name", "donation_total", "email"],
    )
    .unwrap();
    tick();
    read(v, &token_caller(&org.ana, "casework"), "M0040", &["email"]).unwrap();
    let events: Vec<Event> = ledger_events(v)
        .into_iter()
        .filter(|e| e.action == "read")
        .collect();
    assert_eq!(events.len(), 4);
    let (from, to) = (&events[1].time, &events[3].time);
    assert!(events[0].time < *from && events[2].time < *to);

    let report = org.incident(&[&format!("window:{from}..{to}")]);
    assert_eq!(
        exposed(&report),
        BTreeMap::from([
            (
                "M0020".to_owned(),
                (strings(&["phone"]), from.clone(), from.clone())
            ),
            (
                "M0030".to_owned(),
                (
                    strings(&["given_name", "donation_total"]),
                    events[2].time.clone(),
                    events[2].time.clone()
                )
            ),
        ])
    );
    let financial = &report.exposure.subjects[1];
    assert_eq!(
        financial
            .categories
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["identity", "financial"]
    );
}

#[test]
fn a_stolen_store_without_its_key_exposes_only_ids_and_scope_attributes() {
    let org = Org::new();
    let v = org.vault();
    tick();
    let aware = now();
    tick();
    // Someone who joined after the copy was taken was not in it.
    add_member(
        &org.t,
        &Member {
            id: "M0070",
            given: "Ivy",
            family: "Late",
            email: "ivy.late@example.org",
            phone: "07700 900170",
            address: "7 Late Lane",
            town: "London",
            postcode: "E1 7AA",
            seat: SEAT_A,
            branch: "bethnal-green",
            consents: "true",
        },
    );
    let schema_order = |names: &[&str]| -> Vec<String> {
        v.schema()
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .filter(|f| names.contains(&f.as_str()))
            .collect()
    };
    let mut clear = vec!["id"];
    clear.extend(HELD_SCOPE);
    let sealed: Vec<&str> = HELD
        .iter()
        .copied()
        .filter(|f| !HELD_SCOPE.contains(f))
        .collect();
    let mut all = vec!["id"];
    all.extend(HELD);

    let id = opening(v, &["store"], false, &aware).unwrap();
    let report = v.incident_report(&org.op(), &id).unwrap();
    let stamp = &report.record.incident.aware_at;
    assert_eq!(report.exposure.subjects.len(), 6, "M0070 joined after");
    for s in &report.exposure.subjects {
        assert!(MEMBERS.iter().any(|m| m.id == s.id), "{}", s.id);
        let fields: Vec<String> = s.fields.iter().map(ToString::to_string).collect();
        assert_eq!(fields, schema_order(&clear), "{}", s.id);
        let encrypted: Vec<String> = s.encrypted_fields.iter().map(ToString::to_string).collect();
        assert_eq!(encrypted, schema_order(&sealed), "{}", s.id);
        assert!(!s.special_category);
        assert_eq!((&s.first_exposed, &s.last_exposed), (stamp, stamp));
    }
    assert!(!report.art34.notify_subjects);
    assert_eq!(report.art34.exception, Some("art_34_3_a"));

    let id = opening(v, &["store"], true, &aware).unwrap();
    let report = v.incident_report(&org.op(), &id).unwrap();
    assert_eq!(report.exposure.subjects.len(), 6);
    for s in &report.exposure.subjects {
        let fields: Vec<String> = s.fields.iter().map(ToString::to_string).collect();
        assert_eq!(fields, schema_order(&all), "{}", s.id);
        assert!(s.encrypted_fields.is_empty());
        assert!(s.special_category);
    }
    assert!(report.art34.notify_subjects);
    assert_eq!(report.art34.exception, None);
}

#[test]
fn a_subject_erased_after_exposure_is_counted_under_a_pseudonym_and_not_written_to() {
    let org = Org::new();
    let v = org.vault();
    let ana = token_caller(&org.ana, "casework");
    read(v, &ana, "M0010", &["email"]).unwrap();
    read(v, &ana, "M0030", &["phone", "postcode"]).unwrap();
    let times: Vec<String> = releases_to(v, "ana").into_iter().map(|e| e.time).collect();
    v.erase_subject(&org.op(), &sid("M0030")).unwrap();

    let id = open(v, &["principal:ana"], false).unwrap();
    let report = v.incident_report(&org.op(), &id).unwrap();
    let subjects = &report.exposure.subjects;
    assert_eq!(subjects.len(), 2, "{subjects:#?}");
    assert_eq!(
        (subjects[0].id.as_str(), subjects[0].erased),
        ("M0010", false)
    );
    let gone = &subjects[1];
    assert!(gone.erased);
    assert!(gone.id.starts_with("P-"), "{}", gone.id);
    assert!(!gone.id.contains("M0030"));
    assert_eq!(
        gone.fields
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["phone", "postcode"]
    );
    assert_eq!(
        (&gone.first_exposed, &gone.last_exposed),
        (&times[1], &times[1])
    );
    // The pseudonym is stable from one report to the next.
    let again = v.incident_report(&org.op(), &id).unwrap();
    assert_eq!(again.exposure.subjects[1].id, gone.id);
    assert_eq!(report.record.incident.affected, (2, 0));

    let mut sink = Collect::default();
    let summary = v
        .incident_notices(
            &org.op().with_purpose(Some("breach_notification")),
            &id,
            &mut sink,
        )
        .unwrap();
    assert_eq!((summary.written, summary.erased), (1, 1));
    assert_eq!(sink.total, Some(1));
    assert_eq!(
        sink.letters
            .iter()
            .map(|l| l.id.as_str())
            .collect::<Vec<_>>(),
        ["M0010"]
    );
}

#[test]
fn a_release_withheld_at_the_last_moment_is_not_exposure() {
    let org = Org::new();
    let v = org.vault();
    let ana = token_caller(&org.ana, "casework");
    read(v, &ana, "M0030", &["phone"]).unwrap();
    // Hold the ledger's write lock, so that Ana's read is decided and
    // waits to be recorded while she is revoked.
    let ledger = rusqlite::Connection::open(org.t.dir().join("ledger.sqlite")).unwrap();
    ledger.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::thread::scope(|s| {
        let reader = s.spawn(|| read(v, &ana, "M0010", &["email", "given_name"]));
        std::thread::sleep(Duration::from_millis(300));
        let revoker = s.spawn(|| {
            v.set_principal_status(&org.op(), "ana", PrincipalStatus::Revoked, "left")
                .unwrap()
        });
        std::thread::sleep(Duration::from_millis(300));
        ledger.execute_batch("COMMIT").unwrap();
        let err = reader.join().unwrap().unwrap_err();
        assert_eq!(err.code(), Some("principal_revoked"), "{err}");
        revoker.join().unwrap();
    });
    // The ledger holds the release of M0010, and the event withholding it.
    let released = releases_to(v, "ana");
    assert_eq!(released.len(), 2, "{released:#?}");
    assert_eq!(released[1].subjects, strings(&["M0010"]));
    let withheld = ledger_events(v)
        .into_iter()
        .filter(|e| e.reason.contains("release withheld after event"))
        .collect::<Vec<_>>();
    assert_eq!(withheld.len(), 1);
    assert!(
        withheld[0]
            .reason
            .ends_with(&format!("event {}", released[1].seq))
    );

    let expected = BTreeMap::from([("M0030".to_owned(), strings(&["phone"]))]);
    let by_principal = org.incident(&["principal:ana"]);
    assert_eq!(exposed_fields(&by_principal), expected);
    assert_eq!(by_principal.exposure.events, 1);
    let first = &released[0].time;
    let window = org.incident(&[&format!("window:{first}..{}", now())]);
    assert_eq!(exposed_fields(&window), expected);
    // The report says she was revoked.
    assert!(
        by_principal
            .measures
            .iter()
            .any(|m| m.starts_with("Principal `ana` was revoked")),
        "{:#?}",
        by_principal.measures
    );
}

// ---------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------

#[test]
fn bad_scopes_and_times_are_refused_with_clear_errors_and_change_nothing() {
    let org = Org::new();
    let v = org.vault();
    let future = (custos_engine::OffsetDateTime::now_utc() + time::Duration::hours(2))
        .format(&Rfc3339)
        .unwrap();
    let cases: Vec<(Vec<&str>, bool, String, &str)> = vec![
        (
            vec!["principal:nobody"],
            false,
            now(),
            "`principal:nobody`: no principal",
        ),
        (
            vec!["processor:nobody"],
            false,
            now(),
            "`processor:nobody`: no processor",
        ),
        (
            vec!["export:EX-0042"],
            false,
            now(),
            "`export:EX-0042`: no export",
        ),
        (
            vec!["token:tk_000000000000"],
            false,
            now(),
            "no token with that id",
        ),
        (
            vec!["principal:ana,window:2026-11-02..2026-11-01"],
            false,
            now(),
            "ends before it starts",
        ),
        (
            vec!["window:2026-11-01.."],
            false,
            now(),
            "must have both ends",
        ),
        (
            vec!["window:..2026-11-01"],
            false,
            now(),
            "must have both ends",
        ),
        (
            vec!["principal:ana"],
            false,
            future.clone(),
            "is in the future",
        ),
        (
            vec!["principal:ana"],
            false,
            "last tuesday".to_owned(),
            "is not a time",
        ),
        (vec!["principal:ana"], true, now(), "keys_exposed"),
        (vec![], false, now(), "scope"),
        (
            vec!["principal:ana", "processor:nobody"],
            false,
            now(),
            "no processor",
        ),
    ];
    let attempts = cases.len();
    let before = ledger_events(v).len();
    for (scopes, keys_exposed, aware_at, says) in cases {
        let err = opening(v, &scopes, keys_exposed, &aware_at).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{scopes:?}: {err}");
        assert!(err.to_string().contains(says), "{scopes:?}: {err}");
        assert!(v.incidents(&org.op()).unwrap().is_empty(), "{scopes:?}");
    }
    // Each refusal is recorded, and nothing else happened.
    let events = ledger_events(v);
    let after = &events[before..];
    assert_eq!(after.len(), attempts, "{after:#?}");
    assert!(
        after
            .iter()
            .all(|e| e.action == "incident" && e.outcome == Outcome::Denied),
        "{after:#?}"
    );

    // Unknown or malformed incidents.
    let err = v.incident_report(&org.op(), "INC-0042").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = v.incident_report(&org.op(), "42").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    let err = v
        .update_incident(
            &org.op(),
            "INC-0042",
            &custos_engine::IncidentFollowUp {
                note: Some("more".to_owned()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    // A follow-up that says nothing, or says it in the future, changes
    // nothing either.
    let id = open(v, &["principal:ana"], false).unwrap();
    for bad in [
        custos_engine::IncidentFollowUp::default(),
        custos_engine::IncidentFollowUp {
            reported_at: Some(future.clone()),
            ..Default::default()
        },
        custos_engine::IncidentFollowUp {
            status: Some("resolved".to_owned()),
            ..Default::default()
        },
    ] {
        let err = v.update_incident(&org.op(), &id, &bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    }
    let register = v.incidents(&org.op()).unwrap();
    assert_eq!(register.len(), 1);
    assert_eq!(register[0].reported_at, None);
    assert!(
        v.incident_report(&org.op(), &id)
            .unwrap()
            .updates
            .is_empty()
    );

    // Only those who may audit see the register.
    let err = v
        .incidents(&token_caller(&org.ana, "casework"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
}

#[test]
fn follow_ups_are_kept_in_the_timeline() {
    let org = Org::new();
    let v = org.vault();
    read(v, &token_caller(&org.ana, "casework"), "M0010", &["email"]).unwrap();
    let id = open(v, &["principal:ana"], false).unwrap();
    let record = v
        .update_incident(
            &org.op(),
            &id,
            &custos_engine::IncidentFollowUp {
                note: Some("Ana's laptop was stolen on the train.".to_owned()),
                reported_at: Some(now()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(record.reported_at.is_some());
    let report = v.incident_report(&org.op(), &id).unwrap();
    assert_eq!(report.updates.len(), 1);
    assert!(
        report.updates[0].summary.contains("laptop was stolen"),
        "{:?}",
        report.updates[0]
    );
    assert!(
        report
            .timeline
            .iter()
            .any(|(_, what)| what == "supervisory authority notified"),
        "{:#?}",
        report.timeline
    );
    let closed = v
        .update_incident(
            &org.op(),
            &id,
            &custos_engine::IncidentFollowUp {
                status: Some("closed".to_owned()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(closed.status, custos_engine::IncidentStatus::Closed);
    assert!(closed.closed_at.is_some());
}

// ---------------------------------------------------------------------
// Notices
// ---------------------------------------------------------------------

/// One letter as a sink saw it.
#[derive(Debug)]
struct Letter {
    id: String,
    given: String,
    family: String,
    email: String,
    fields: Vec<String>,
    text: String,
}

/// A sink that keeps every letter.
#[derive(Debug, Default)]
struct Collect {
    total: Option<u64>,
    header: Vec<String>,
    letters: Vec<Letter>,
}

impl NoticeSink for Collect {
    fn start(&mut self, run: &NoticeRun) -> Result<(), EngineError> {
        self.total = Some(run.total());
        self.header = run.merge_header();
        Ok(())
    }

    fn notice(&mut self, notice: &Notice<'_>) -> Result<(), EngineError> {
        self.letters.push(Letter {
            id: notice.subject.to_string(),
            given: notice.value("given_name").to_owned(),
            family: notice.value("family_name").to_owned(),
            email: notice.value("email").to_owned(),
            fields: notice
                .exposure
                .fields
                .iter()
                .map(ToString::to_string)
                .collect(),
            text: notice.text.clone(),
        });
        Ok(())
    }
}

/// The bullet points of a letter's list of what was exposed.
fn listed_exposure(text: &str) -> Vec<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.ends_with("this information about you was exposed:"));
    assert!(
        lines.next().is_some(),
        "no list of what was exposed in:\n{text}"
    );
    lines
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l.trim_start_matches("  - ").to_owned())
        .collect()
}

#[test]
fn notices_tell_each_person_exactly_what_of_theirs_was_exposed() {
    let org = Org::new();
    let v = org.vault();
    v.set_organisation(
        &org.op(),
        &OrganisationChange {
            name: Some("Demo Party".to_owned()),
            dpo_email: Some("dpo@party.example".to_owned()),
            ..Default::default()
        },
    )
    .unwrap();
    let ana = token_caller(&org.ana, "casework");
    read(
        v,
        &ana,
        "M0010",
        &["given_name", "family_name", "email", "ethnicity"],
    )
    .unwrap();
    read(v, &ana, "M0030", &["phone"]).unwrap();
    read(
        v,
        &token_caller(&org.pat, "membership_admin"),
        "M0060",
        &["donation_total", "ethnicity"],
    )
    .unwrap();
    let id = open(v, &["principal:ana", "processor:mailhouse"], false).unwrap();

    // Refused: the wrong purpose, or someone who may not see incidents.
    let mut sink = Collect::default();
    let err = v.incident_notices(&org.op(), &id, &mut sink).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("`breach_notification`"), "{err}");
    let err = v
        .incident_notices(
            &token_caller(&org.ana, "breach_notification"),
            &id,
            &mut sink,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    assert!(sink.total.is_none() && sink.letters.is_empty());

    let before = ledger_events(v).len();
    let summary = v
        .incident_notices(
            &org.op().with_purpose(Some("breach_notification")),
            &id,
            &mut sink,
        )
        .unwrap();
    assert_eq!(summary.written, 3);
    assert_eq!(
        (summary.erased, summary.not_permitted, summary.unreachable),
        (0, 0, 0)
    );
    assert!(summary.required);
    assert_eq!(sink.total, Some(3));
    assert_eq!(sink.header.first().map(String::as_str), Some("id"));

    let words = |id: &str| -> Vec<&str> {
        match id {
            "M0010" => vec!["your name", "your email address"],
            "M0030" => vec!["your phone number"],
            "M0060" => vec!["the total of your donations"],
            _ => vec![],
        }
    };
    let ids: Vec<&str> = sink.letters.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["M0010", "M0030", "M0060"]);
    for letter in &sink.letters {
        let m = member(&letter.id);
        assert_eq!(
            (letter.given.as_str(), letter.family.as_str()),
            (m.given, m.family)
        );
        assert_eq!(letter.email, m.email);
        let text = &letter.text;
        assert!(text.starts_with("Demo Party\n"), "{text}");
        assert!(
            text.contains(&format!("Dear {} {},", m.given, m.family)),
            "{text}"
        );
        for line in [m.address, m.postcode, &format!("By email: {}", m.email)] {
            assert!(text.lines().any(|l| l == line), "`{line}` missing:\n{text}");
        }
        assert!(text.contains(&format!("{id} / {}", m.id)), "{text}");
        assert!(text.contains("dpo@party.example"), "{text}");
        assert_eq!(listed_exposure(text), words(m.id), "{text}");
        for other in MEMBERS.iter().filter(|o| o.id != m.id) {
            assert!(
                !text.contains(other.family),
                "{} in {}'s letter",
                other.family,
                m.id
            );
            assert!(!text.contains(other.email));
        }
    }
    assert_eq!(
        sink.letters[0].fields,
        strings(&["given_name", "family_name", "email"])
    );

    // Reading names and addresses for the letters is recorded, for this
    // purpose, before anything was decrypted.
    let events = ledger_events(v);
    let reads: Vec<&Event> = events[before..]
        .iter()
        .filter(|e| e.purpose == "breach_notification")
        .collect();
    assert_eq!(reads.len(), 1, "{reads:#?}");
    let e = reads[0];
    assert_eq!((e.action.as_str(), e.outcome), ("read", Outcome::Allowed));
    assert_eq!(e.subjects, strings(&["M0010", "M0030", "M0060"]));
    assert_eq!(
        e.fields_released,
        strings(&[
            "given_name",
            "family_name",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "town",
            "postcode"
        ])
    );
    assert!(e.reason.contains(&id), "{}", e.reason);
    let refusals = events[..before]
        .iter()
        .rev()
        .take(2)
        .filter(|e| e.outcome == Outcome::Denied)
        .count();
    assert_eq!(refusals, 2, "both refusals are recorded");
}

#[test]
fn an_incident_that_exposed_nobody_needs_no_notices() {
    let org = Org::new();
    let v = org.vault();
    let id = open(v, &["principal:fay"], false).unwrap();
    let mut sink = Collect::default();
    let summary = v
        .incident_notices(
            &org.op().with_purpose(Some("breach_notification")),
            &id,
            &mut sink,
        )
        .unwrap();
    assert_eq!(summary.written, 0);
    assert!(!summary.required);
    assert!(sink.letters.is_empty());
    assert!(
        ledger_events(v)
            .iter()
            .all(|e| e.purpose != "breach_notification" || e.fields_released.is_empty())
    );
}

/// Regression: a stolen store's exposure was read from what the store holds
/// now, so a field cleared after the copy was taken was left out.
#[test]
fn a_stolen_store_counts_fields_cleared_after_the_copy_was_taken() {
    let org = Org::new();
    let v = org.vault();
    tick();
    let aware = now();
    tick();
    // After the copy was taken, M0010's notes and phone are cleared, and
    // M0020 gets a date of birth it did not have.
    v.update_subject(
        &org.op(),
        &sid("M0010"),
        &[
            ("notes".to_owned(), String::new()),
            ("phone".to_owned(), String::new()),
        ],
    )
    .unwrap();
    v.update_subject(
        &org.op(),
        &sid("M0020"),
        &[("date_of_birth".to_owned(), "1970-01-01".to_owned())],
    )
    .unwrap();
    assert_eq!(org.t.field(&sid("M0010"), "notes"), None);

    let id = opening(v, &["store"], true, &aware).unwrap();
    let report = v.incident_report(&org.op(), &id).unwrap();
    let fields = exposed_fields(&report);
    let mut all = vec!["id".to_owned()];
    all.extend(strings(&HELD));
    let in_schema_order = |names: &[String]| -> Vec<String> {
        v.schema()
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .filter(|f| names.contains(f))
            .collect()
    };
    assert_eq!(fields["M0010"], in_schema_order(&all), "the copy held them");
    assert_eq!(fields["M0030"], in_schema_order(&all));
    // Whether M0020 had a date of birth then cannot be known: it counts.
    all.push("date_of_birth".to_owned());
    assert_eq!(fields["M0020"], in_schema_order(&all));

    // Without the key, they were taken encrypted.
    let id = opening(v, &["store"], false, &aware).unwrap();
    let report = v.incident_report(&org.op(), &id).unwrap();
    let m0010 = &report.exposure.subjects[0];
    assert_eq!(m0010.id, "M0010");
    let encrypted: Vec<String> = m0010
        .encrypted_fields
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        encrypted.contains(&"phone".to_owned()) && encrypted.contains(&"notes".to_owned()),
        "{encrypted:?}"
    );
}

/// Regression: canary emails were checked only against members', so two
/// canaries with the same (common) name could get the same address, in one
/// export or in two, and a trace of it named both.
#[test]
fn canary_emails_never_repeat_across_exports() {
    let org = Org::new();
    let v = org.vault();
    // Enough rows for twenty canaries an export; without the id column,
    // canaries need no gaps in the numbering.
    for n in 100..130 {
        org.t.add(
            &format!("M{n:04}"),
            &[
                ("given_name", "Al"),
                ("family_name", "Bo"),
                ("email", &format!("al.bo.x{n}y@example.org")),
            ],
        );
    }
    let mut emails: BTreeMap<String, String> = BTreeMap::new();
    let mut phones = BTreeSet::new();
    let mut made = 0;
    for _ in 0..40 {
        let (_, report) = org
            .export(
                "mailhouse",
                "membership_admin",
                &["given_name", "family_name", "email", "phone"],
                &[],
                Some(20),
            )
            .unwrap();
        for (n, c) in canaries_of(v, &report) {
            made += 1;
            let at = format!("{}/{n}", report.id);
            let before = emails.insert(c["email"].clone(), at.clone());
            assert!(
                before.is_none(),
                "{} is the canary of both {before:?} and {at}",
                c["email"]
            );
            assert!(phones.insert(c["phone"].clone()), "{}", c["phone"]);
        }
    }
    assert_eq!(made, 40 * 20);
    for email in emails.keys().take(20) {
        assert_eq!(
            v.trace_canary(&org.op(), email).unwrap().len(),
            1,
            "{email}"
        );
    }
}

#[test]
fn the_dpo_opens_incidents_reports_on_them_and_writes_the_notices() {
    let org = Org::new();
    let v = org.vault();
    let (dee, _) = principal_with_token(v, "dee", PrincipalKind::Staff, &[("role", "dpo")]);
    read(v, &token_caller(&org.ana, "casework"), "M0010", &["email"]).unwrap();
    let dpo = token_caller(&dee, "breach_notification");
    let opened = v
        .open_incident(
            &dpo,
            &IncidentOpening {
                title: "Ana's laptop".to_owned(),
                aware_at: now(),
                scopes: vec!["principal:ana".to_owned()],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(opened.incident.opened_by, "dee");
    let id = opened.id.to_string();
    let report = v.incident_report(&dpo, &id).unwrap();
    assert_eq!(
        exposed_fields(&report),
        BTreeMap::from([("M0010".to_owned(), strings(&["email"]))])
    );
    assert_eq!(v.incidents(&dpo).unwrap().len(), 1);
    let mut sink = Collect::default();
    let summary = v.incident_notices(&dpo, &id, &mut sink).unwrap();
    assert_eq!(summary.written, 1);
    assert_eq!(sink.letters[0].email, member("M0010").email);
    // But the DPO reads nobody's data for any other purpose.
    let err = read(
        v,
        &token_caller(&dee, "membership_admin"),
        "M0010",
        &["email"],
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
}

#[test]
fn an_export_that_fails_is_registered_as_failed_and_exposes_nobody() {
    let org = Org::new();
    let v = org.vault();
    // M0030 has not agreed to campaigning, and was chosen by id.
    let mut out = Vec::new();
    let err = v
        .export_to_processor(
            &org.op().with_purpose(Some("campaigning")),
            &mut out,
            &ProcessorExport {
                processor: "printshop".to_owned(),
                request: ExportRequest {
                    selection: only(&["id", "email"]),
                    filters: Vec::new(),
                    ids: vec![sid("M0010"), sid("M0030")],
                },
                file_name: None,
                canaries: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    let exports = v.exports(&org.op(), Some("printshop")).unwrap();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].status, custos_engine::ExportStatus::Failed);
    assert_eq!((exports[0].subjects, exports[0].canaries), (0, 0));
    assert!(exports[0].sha256.is_none() && exports[0].manifest_seq.is_none());
    assert!(
        ledger_events(v)
            .iter()
            .all(|e| !(e.action == "export" && releases(e))),
        "nothing was released"
    );

    let report = org.incident(&[&format!("export:{}", exports[0].id)]);
    assert!(report.exposure.subjects.is_empty());
    assert!(
        report.exposure.notes.iter().any(|n| n.contains("failed")),
        "{:?}",
        report.exposure.notes
    );
}

#[test]
fn canaries_do_not_run_short_in_a_vault_numbered_without_gaps() {
    let org = Org::new();
    // Members numbered one after another: the only free numbers are past
    // the newest member, and each export takes some of them.
    for n in 100..130 {
        org.t.add(
            &format!("M{n:04}"),
            &[("given_name", "Al"), ("family_name", "Bo")],
        );
    }
    let mut ids = BTreeSet::new();
    for _ in 0..30 {
        let (_, report) = org
            .export(
                "mailhouse",
                "membership_admin",
                &["id", "given_name", "family_name"],
                &[],
                Some(5),
            )
            .unwrap();
        assert_eq!(report.canaries, 5, "{}", report.id);
        for (_, c) in canaries_of(org.vault(), &report) {
            assert!(ids.insert(c["id"].clone()), "{} twice", c["id"]);
        }
    }
}
