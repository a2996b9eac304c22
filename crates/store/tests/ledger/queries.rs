//! Queries return exactly the events a brute-force scan of the log selects,
//! for every filter alone and in combination, with paging.

use custos_ledger::{Event, EventQuery, LedgerStore, Outcome};

use crate::support::{self, append_events};

const N: u64 = 400;

/// Times advance by one second every third event, so several events share a
/// time and ranges have ties at their edges.
fn time(seq: u64) -> String {
    let s = seq / 3;
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.000Z",
        25 + s / 86_400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

fn event(seq: u64) -> Event {
    let outcomes = [
        Outcome::Allowed,
        Outcome::Partial,
        Outcome::Denied,
        Outcome::Failed,
    ];
    let actions = ["read", "find", "update", "export", "erase"];
    let mut subjects = vec![format!("M{}", seq % 7), format!("M{}", 100 + seq % 11)];
    if seq.is_multiple_of(13) {
        // The same subject twice in one event is still one access.
        subjects.push(format!("M{}", seq % 7));
    }
    Event {
        seq,
        time: time(seq),
        principal: format!("p{}", seq % 3),
        auth: "api_token".into(),
        action: actions[(seq % 5) as usize].into(),
        purpose: ["renewal", "audit"][(seq % 2) as usize].into(),
        subjects,
        fields_released: vec!["email".into()],
        fields_denied: vec![],
        outcome: outcomes[(seq % 4) as usize],
        reason: String::new(),
        request_id: format!("r{seq}"),
        client: "192.0.2.1".into(),
    }
}

fn matches(q: &EventQuery, e: &Event) -> bool {
    q.principal.as_ref().is_none_or(|p| &e.principal == p)
        && q.subject.as_ref().is_none_or(|s| e.subjects.contains(s))
        && q.purpose.as_ref().is_none_or(|p| &e.purpose == p)
        && q.action.as_ref().is_none_or(|a| &e.action == a)
        && q.outcome.is_none_or(|o| e.outcome == o)
        && q.time_from
            .as_ref()
            .is_none_or(|t| e.time.as_str() >= t.as_str())
        && q.time_to
            .as_ref()
            .is_none_or(|t| e.time.as_str() < t.as_str())
        && q.after_seq.is_none_or(|a| e.seq > a)
}

fn brute_force(all: &[Event], q: &EventQuery) -> Vec<u64> {
    all.iter()
        .filter(|e| matches(q, e))
        .map(|e| e.seq)
        .take(q.limit)
        .collect()
}

fn seqs(store: &dyn LedgerStore, q: &EventQuery) -> Vec<u64> {
    store.query(q).unwrap().iter().map(|e| e.seq).collect()
}

/// An append with no events, which brings the index tables up to date (as
/// the recorder's quiet-time heads do).
fn index_now(store: &dyn LedgerStore) {
    append_events(store, Vec::new());
}

#[test]
fn queries_select_exactly_what_a_scan_selects() {
    // The index tables cover none of the events, all of them, or the
    // first `indexed`: a query reads the indexed part and scans the rest.
    for indexed in [0, N, 200] {
        let dir = tempfile::tempdir().unwrap();
        let store = support::create(&support::ledger_path(&dir));
        let all: Vec<Event> = (0..N).map(event).collect();
        let (first, rest) = all.split_at(indexed as usize);
        for chunk in first.chunks(97) {
            append_events(&*store, chunk.to_vec());
        }
        index_now(&*store);
        for chunk in rest.chunks(97) {
            append_events(&*store, chunk.to_vec());
        }
        check_queries(&*store, &all);
    }
}

/// Every filter alone and in combination, hand-checked cases, and paging.
fn check_queries(store: &dyn LedgerStore, all: &[Event]) {
    let q = EventQuery::default;
    let some = |s: &str| Some(s.to_owned());
    let mut queries = vec![
        q(),
        EventQuery {
            principal: some("p1"),
            ..q()
        },
        EventQuery {
            principal: some("nobody"),
            ..q()
        },
        EventQuery {
            subject: some("M3"),
            ..q()
        },
        EventQuery {
            subject: some("M105"),
            ..q()
        },
        EventQuery {
            purpose: some("audit"),
            ..q()
        },
        EventQuery {
            action: some("erase"),
            ..q()
        },
        EventQuery {
            outcome: Some(Outcome::Denied),
            ..q()
        },
        EventQuery {
            subject: some("M0"),
            principal: some("p2"),
            ..q()
        },
        EventQuery {
            subject: some("M4"),
            outcome: Some(Outcome::Failed),
            purpose: some("renewal"),
            ..q()
        },
        EventQuery {
            principal: some("p0"),
            action: some("read"),
            ..q()
        },
        EventQuery {
            principal: some("p1"),
            limit: 7,
            ..q()
        },
        EventQuery {
            subject: some("M2"),
            after_seq: Some(200),
            limit: 5,
            ..q()
        },
        EventQuery { limit: 0, ..q() },
        EventQuery {
            after_seq: Some(N - 1),
            ..q()
        },
        // Prefixes: from the start of a minute, to the start of the next.
        EventQuery {
            time_from: some("2026-11-25T00:01"),
            time_to: some("2026-11-25T00:02"),
            ..q()
        },
        EventQuery {
            time_from: some("2026-11"),
            ..q()
        },
        EventQuery {
            time_to: some("2026"),
            ..q()
        },
        EventQuery {
            time_from: some("2027"),
            ..q()
        },
    ];
    // Ranges whose edges fall on, between and beside stored times.
    for (a, b) in [
        (0u64, 1u64),
        (0, 3),
        (2, 4),
        (5, 50),
        (31, 32),
        (100, 399),
        (399, 400),
    ] {
        let from = time(a);
        let to = if b >= N { "9999".to_owned() } else { time(b) };
        queries.push(EventQuery {
            time_from: Some(from.clone()),
            time_to: Some(to.clone()),
            ..q()
        });
        queries.push(EventQuery {
            principal: some("p2"),
            time_from: Some(from.clone()),
            time_to: Some(to.clone()),
            ..q()
        });
        queries.push(EventQuery {
            subject: some("M1"),
            time_from: Some(from),
            time_to: Some(to),
            ..q()
        });
    }
    for query in &queries {
        let expected = brute_force(all, query);
        assert_eq!(seqs(store, query), expected, "{query:?}");
    }
    // Not vacuous: these select something, and full events come back.
    let hits: usize = queries
        .iter()
        .map(|query| brute_force(all, query).len())
        .sum();
    assert!(hits > 1000, "{hits}");
    let found = store
        .query(&EventQuery {
            subject: some("M3"),
            ..q()
        })
        .unwrap();
    assert_eq!(found[0], all[3]);

    // Hand-checked: p1 from event 10's time to event 20's time. Events 9 to
    // 11 share a time, and so do 18 to 20, so 18 to 20 are all out.
    let hand = EventQuery {
        principal: some("p1"),
        time_from: Some(time(10)),
        time_to: Some(time(20)),
        ..q()
    };
    assert_eq!(seqs(store, &hand), vec![10, 13, 16]);
    let hand = EventQuery {
        subject: some("M5"),
        time_to: Some(time(30)),
        ..q()
    };
    assert_eq!(seqs(store, &hand), vec![5, 12, 19, 26]);

    // Paging with `after_seq` visits every match once.
    let page = |after| EventQuery {
        principal: some("p0"),
        after_seq: after,
        limit: 9,
        ..q()
    };
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let got = seqs(store, &page(after));
        if got.is_empty() {
            break;
        }
        after = got.last().copied();
        paged.extend(got);
    }
    assert_eq!(
        paged,
        brute_force(
            all,
            &EventQuery {
                principal: some("p0"),
                limit: usize::MAX,
                ..q()
            }
        )
    );
}
