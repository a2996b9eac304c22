//! The group-commit writer: the one place events become durable.
//!
//! Every access must be recorded before any data leaves, so recording sits on
//! the hot path of every request. One sync per event would cap a server at
//! the disk's sync rate; instead one writer thread takes the first waiting
//! request, drains every other waiting one, and appends them all in one
//! transaction with one sync. Each caller blocks until its own batch has
//! committed and then holds a [`Recorded`], the proof the engine demands
//! before it decrypts anything.
//!
//! The writer does not wait for the disk itself: it hands each committed
//! batch to a syncer thread and goes on to commit the next, while the syncer
//! makes every batch committed so far durable with one
//! [`LedgerStore::sync`] and only then answers their callers. A commit's CPU
//! work then overlaps the previous batch's sync, rather than the two taking
//! turns (on a shared disk a sync took 1.5 ms on average, most of the
//! writer's time, measured with a perf sched trace).
//!
//! Failure is closed: if the append fails, every caller in that batch gets an
//! error and no `Recorded`, so it must release nothing; the writer goes on
//! serving later requests. If a sync fails, every caller waiting on it gets
//! an error, and the recorder records nothing more: after a failed sync the
//! disk may have dropped what it was given, and a later sync that succeeds
//! would not say otherwise.
//!
//! Seq and time are both assigned inside the store's write transaction, from
//! the size and last time found there, so they agree with each other and stay
//! consistent when several recorders (processes, or servers) share one log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use custos_crypto::{LedgerPublicKey, LedgerSigningKey};
use custos_model::VaultId;

use crate::event::{Event, Outcome};
use crate::head::{SignedHead, TreeHead};
use crate::merkle::{Frontier, empty_root};
use crate::storage::{
    AppendBatch, AppendedEvent, BoxError, LedgerStore, LedgerStoreError, LogState, check_storable,
};

/// The most events the writer gathers into one transaction from separate
/// requests. One [`Recorder::record_batch`] larger than this is still
/// appended whole.
pub const MAX_BATCH_EVENTS: usize = 4096;

/// When the writer signs a tree head. It always signs one when it shuts
/// down, and when asked with [`Recorder::sign_head_now`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadPolicy {
    /// Sign once this many events have been recorded since the last head.
    /// Default 4096.
    pub every_events: u64,
    /// Sign once the oldest event not yet under a head is this old, so no
    /// event waits longer than this for a signed head. Default 250 ms.
    pub every: Duration,
}

impl Default for HeadPolicy {
    fn default() -> Self {
        Self {
            every_events: 4096,
            every: Duration::from_millis(250),
        }
    }
}

/// An event to record: every field of [`Event`] except `seq` and `time`,
/// which the recorder assigns when it appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Who acted: a principal id.
    pub principal: String,
    /// How the principal authenticated.
    pub auth: String,
    /// What was done.
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
    /// Why, in words.
    pub reason: String,
    /// The request id.
    pub request_id: String,
    /// The client address, or the name of the internal job.
    pub client: String,
}

impl NewEvent {
    fn into_event(self, seq: u64, time: String) -> Event {
        Event {
            seq,
            time,
            principal: self.principal,
            auth: self.auth,
            action: self.action,
            purpose: self.purpose,
            subjects: self.subjects,
            fields_released: self.fields_released,
            fields_denied: self.fields_denied,
            outcome: self.outcome,
            reason: self.reason,
            request_id: self.request_id,
            client: self.client,
        }
    }
}

/// Proof that an event is durably in the ledger.
///
/// INVARIANT: made only in this module, by the writer, after the transaction
/// holding the event committed, and handed to its caller only by the syncer,
/// after a sync that began after that commit. The fields are private and there is no
/// `Clone` or `Default`, so no other code can make one.
#[derive(Debug, PartialEq, Eq)]
pub struct Recorded {
    seq: u64,
    time: String,
}

impl Recorded {
    /// The event's seq (its leaf index).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The time the recorder gave the event.
    pub fn time(&self) -> &str {
        &self.time
    }
}

/// Why an event was not recorded. When this is returned, the event is not in
/// the ledger, and the caller must release nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    /// The store failed: disk full, an I/O error, or the ledger locked by
    /// another process past the busy timeout.
    #[error("the access ledger could not record the event: {0}")]
    Storage(Arc<LedgerStoreError>),
    /// The event cannot be stored as given.
    #[error("the access ledger cannot record the event: {0}")]
    Invalid(String),
    /// The recorder has shut down (or its writer failed to start).
    #[error(
        "the access ledger recorder has stopped; nothing can be recorded until custos restarts"
    )]
    Stopped,
}

/// Counts of what the writer has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Transactions committed (each one sync).
    pub transactions: u64,
    /// Events recorded.
    pub events: u64,
    /// Heads signed and stored.
    pub heads: u64,
    /// Transactions that failed, answering their waiters with an error.
    pub failures: u64,
}

#[derive(Debug, Default)]
struct Counters {
    transactions: AtomicU64,
    events: AtomicU64,
    heads: AtomicU64,
    failures: AtomicU64,
}

type Reply<T> = mpsc::SyncSender<Result<T, RecordError>>;

/// Where the writer leaves each batch's outcome for its waiters.
///
/// One broadcast wakes every waiter of a commit at once. Answering them one
/// by one over channels let each woken reader preempt the writer on a
/// two-core machine, so a commit of 60 events spent milliseconds just
/// replying while the next batch waited (measured with `custos bench`).
#[derive(Debug, Default)]
struct Outcomes {
    state: Mutex<OutcomeState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct OutcomeState {
    by_ticket: HashMap<u64, Result<Vec<Recorded>, RecordError>>,
    /// Set when the writer thread has ended, so that no waiter waits forever.
    writer_gone: bool,
}

impl Outcomes {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutcomeState> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn publish(&self, outcomes: Vec<(u64, Result<Vec<Recorded>, RecordError>)>) {
        self.lock().by_ticket.extend(outcomes);
        self.ready.notify_all();
    }

    fn writer_gone(&self) {
        self.lock().writer_gone = true;
        self.ready.notify_all();
    }

    fn wait(&self, ticket: u64) -> Result<Vec<Recorded>, RecordError> {
        let mut state = self.lock();
        loop {
            if let Some(outcome) = state.by_ticket.remove(&ticket) {
                return outcome;
            }
            if state.writer_gone {
                return Err(RecordError::Stopped);
            }
            state = match self.ready.wait(state) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }
}

/// Tells waiters the writer is gone when its thread ends, even by panic.
struct WriterGone(Arc<Outcomes>);

impl Drop for WriterGone {
    fn drop(&mut self) {
        self.0.writer_gone();
    }
}

enum Request {
    Record { events: Vec<NewEvent>, ticket: u64 },
    SignHead { reply: Reply<SignedHead> },
}

impl Request {
    fn events(&self) -> usize {
        match self {
            Self::Record { events, .. } => events.len(),
            Self::SignHead { .. } => 0,
        }
    }
}

/// The ledger's group-commit writer. Share it (it is `Sync`); dropping it
/// records everything already sent, signs a final head and stops the
/// writer.
pub struct Recorder {
    sender: Option<mpsc::Sender<Request>>,
    outcomes: Arc<Outcomes>,
    next_ticket: AtomicU64,
    writer: Option<JoinHandle<Result<(), RecordError>>>,
    counters: Arc<Counters>,
    public_key: LedgerPublicKey,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("running", &self.sender.is_some())
            .field("public_key", &self.public_key)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Recorder {
    /// Starts the writer thread over `store`, signing heads for `vault_id`
    /// with `signer` as `policy` says.
    ///
    /// If the thread cannot be started, the recorder answers every request
    /// with [`RecordError::Stopped`].
    pub fn start(
        store: Arc<dyn LedgerStore>,
        signer: LedgerSigningKey,
        vault_id: VaultId,
        policy: HeadPolicy,
    ) -> Recorder {
        let (sender, receiver) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let outcomes = Arc::new(Outcomes::default());
        let public_key = signer.public_key();
        let writer = Writer {
            store,
            syncer: None,
            signer,
            vault_id,
            policy,
            frontier: None,
            unsigned: 0,
            oldest_unsigned: None,
            counters: Arc::clone(&counters),
            outcomes: Arc::clone(&outcomes),
        };
        let gone = WriterGone(Arc::clone(&outcomes));
        let spawned = std::thread::Builder::new()
            .name("custos-ledger".to_owned())
            .spawn(move || {
                let _gone = gone;
                writer.run(&receiver)
            });
        if spawned.is_err() {
            outcomes.writer_gone();
        }
        // If the thread did not start, the receiver went down with the
        // closure, so every send fails and every caller hears `Stopped`.
        Recorder {
            sender: Some(sender),
            outcomes,
            next_ticket: AtomicU64::new(0),
            writer: spawned.ok(),
            counters,
            public_key,
        }
    }

    /// Records one event, blocking until the transaction holding it has
    /// committed.
    pub fn record(&self, event: NewEvent) -> Result<Recorded, RecordError> {
        self.record_batch(vec![event])?
            .pop()
            .ok_or(RecordError::Stopped)
    }

    /// Records several events in one transaction, in order, with
    /// consecutive seqs: all of them or, on error, none.
    pub fn record_batch(&self, events: Vec<NewEvent>) -> Result<Vec<Recorded>, RecordError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Checked here, so one bad event fails its own caller rather than
        // every caller sharing its transaction.
        for e in &events {
            check_storable(&e.subjects, &e.fields_released, &e.fields_denied)
                .map_err(RecordError::Invalid)?;
        }
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        self.send(Request::Record { events, ticket })?;
        self.outcomes.wait(ticket)
    }

    /// Signs a head over the whole log as it is now (after any events
    /// already waiting), stores it unless a head of that size is already
    /// stored, and returns it.
    pub fn sign_head_now(&self) -> Result<SignedHead, RecordError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Request::SignHead { reply })?;
        answer.recv().map_err(|_| RecordError::Stopped)?
    }

    /// The public half of the signing key, to check heads with.
    pub fn public_key(&self) -> LedgerPublicKey {
        self.public_key
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> RecorderStats {
        RecorderStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            events: self.counters.events.load(Ordering::Relaxed),
            heads: self.counters.heads.load(Ordering::Relaxed),
            failures: self.counters.failures.load(Ordering::Relaxed),
        }
    }

    /// Stops the writer after it has recorded everything already sent and
    /// signed a final head; returns the error if that head failed.
    pub fn shutdown(mut self) -> Result<(), RecordError> {
        self.stop()
    }

    fn send(&self, request: Request) -> Result<(), RecordError> {
        self.sender
            .as_ref()
            .ok_or(RecordError::Stopped)?
            .send(request)
            .map_err(|_| RecordError::Stopped)
    }

    fn stop(&mut self) -> Result<(), RecordError> {
        // Closing the channel lets the writer drain what is queued, then
        // leave its loop.
        self.sender = None;
        match self.writer.take() {
            Some(handle) => handle.join().map_err(|_| RecordError::Stopped)?,
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // A failed final head loses no event: each was durable before it
        // was acknowledged, and the next head covers it.
        let _ = self.stop();
    }
}

/// The writer thread's state.
struct Writer {
    store: Arc<dyn LedgerStore>,
    /// Where committed batches wait for their sync; started with the writer.
    syncer: Option<Syncer>,
    signer: LedgerSigningKey,
    vault_id: VaultId,
    policy: HeadPolicy,
    /// The tree's frontier after the last append, reused while no other
    /// writer has appended since.
    frontier: Option<Frontier>,
    /// Events this writer appended since it last signed a head.
    unsigned: u64,
    /// When the oldest of those was appended.
    oldest_unsigned: Option<Instant>,
    counters: Arc<Counters>,
    outcomes: Arc<Outcomes>,
}

/// A committed batch, to be answered once it is durable.
struct Synced {
    /// Each waiting request's ticket and the proofs for its events.
    recorded: Vec<(u64, Vec<Recorded>)>,
    /// Callers of `sign_head_now`, and the head the batch stored.
    heads: Vec<(Reply<SignedHead>, Option<SignedHead>)>,
}

/// The syncer thread, which makes committed batches durable and answers
/// their callers.
struct Syncer {
    sender: mpsc::Sender<Synced>,
    handle: JoinHandle<()>,
    /// Set once a sync has failed; nothing is recorded after that.
    failed: Arc<AtomicBool>,
}

impl Syncer {
    fn start(store: Arc<dyn LedgerStore>, outcomes: Arc<Outcomes>) -> std::io::Result<Syncer> {
        let (sender, receiver) = mpsc::channel::<Synced>();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&failed);
        let handle = std::thread::Builder::new()
            .name("custos-ledger-sync".to_owned())
            .spawn(move || {
                while let Ok(first) = receiver.recv() {
                    // Everything committed before this sync begins is
                    // covered by it.
                    let mut batches = vec![first];
                    batches.extend(receiver.try_iter());
                    let synced = if flag.load(Ordering::SeqCst) {
                        Err(RecordError::Stopped)
                    } else {
                        store.sync().map_err(|e| RecordError::Storage(Arc::new(e)))
                    };
                    if synced.is_err() {
                        flag.store(true, Ordering::SeqCst);
                    }
                    answer(&outcomes, batches, synced);
                }
            })?;
        Ok(Syncer {
            sender,
            handle,
            failed,
        })
    }
}

/// Answers the callers of `batches`: with their proofs if the sync
/// succeeded, else with its error.
fn answer(outcomes: &Outcomes, batches: Vec<Synced>, synced: Result<(), RecordError>) {
    let mut answers = Vec::new();
    for batch in batches {
        for (ticket, recorded) in batch.recorded {
            answers.push((ticket, synced.clone().map(|()| recorded)));
        }
        for (reply, head) in batch.heads {
            let head = synced
                .clone()
                .and_then(|()| head.ok_or(RecordError::Stopped));
            let _ = reply.send(head);
        }
    }
    outcomes.publish(answers);
}

/// The result of one committed transaction.
struct Committed {
    recorded: Vec<Recorded>,
    head: Option<SignedHead>,
}

impl Writer {
    fn run(mut self, requests: &mpsc::Receiver<Request>) -> Result<(), RecordError> {
        // Without a syncer nothing can be made durable: every request is
        // answered with `Stopped` once this returns.
        self.syncer = Some(
            Syncer::start(Arc::clone(&self.store), Arc::clone(&self.outcomes))
                .map_err(|_| RecordError::Stopped)?,
        );
        loop {
            let first = match self.oldest_unsigned {
                Some(oldest) => {
                    let wait = self.policy.every.saturating_sub(oldest.elapsed());
                    match requests.recv_timeout(wait) {
                        Ok(request) => request,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            // Nothing waits on a timed head; if it fails the
                            // next batch or timeout tries again.
                            self.serve(Vec::new(), true);
                            if self.oldest_unsigned.is_some() {
                                self.oldest_unsigned = Some(Instant::now());
                            }
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match requests.recv() {
                    Ok(request) => request,
                    Err(mpsc::RecvError) => break,
                },
            };
            let mut count = first.events();
            let mut batch = vec![first];
            while count < MAX_BATCH_EVENTS {
                match requests.try_recv() {
                    Ok(request) => {
                        count += request.events();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.serve(batch, false);
        }
        self.finish()
    }

    /// Waits for every batch already handed to the syncer, then signs and
    /// durably stores a final head, unless a sync has failed.
    fn finish(mut self) -> Result<(), RecordError> {
        let failed = match self.syncer.take() {
            Some(Syncer {
                sender,
                handle,
                failed,
            }) => {
                drop(sender);
                let _ = handle.join();
                failed.load(Ordering::SeqCst)
            }
            None => true,
        };
        if failed {
            return Err(RecordError::Stopped);
        }
        let storage = |e| RecordError::Storage(Arc::new(e));
        self.commit(Vec::new(), true).map_err(storage)?;
        self.store.sync().map_err(storage)
    }

    /// Appends every event of `batch` in one transaction and hands it to
    /// the syncer, which answers each request once it is durable; answers
    /// at once if the append fails, or a sync failed before.
    fn serve(&mut self, batch: Vec<Request>, force_head: bool) {
        let mut events = Vec::new();
        let force_head = force_head
            || batch
                .iter()
                .any(|request| matches!(request, Request::SignHead { .. }));
        let mut tickets = Vec::with_capacity(batch.len());
        let mut head_replies = Vec::new();
        for request in batch {
            match request {
                Request::Record {
                    events: mut mine,
                    ticket,
                } => {
                    tickets.push((ticket, mine.len()));
                    events.append(&mut mine);
                }
                Request::SignHead { reply } => head_replies.push(reply),
            }
        }
        let outcomes = Arc::clone(&self.outcomes);
        let failed =
            |tickets: Vec<(u64, usize)>, replies: Vec<Reply<SignedHead>>, e: RecordError| {
                let answers = tickets
                    .into_iter()
                    .map(|(ticket, _)| (ticket, Err(e.clone())))
                    .collect();
                outcomes.publish(answers);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            };
        let Some(syncer) = self
            .syncer
            .as_ref()
            .filter(|s| !s.failed.load(Ordering::SeqCst))
        else {
            return failed(tickets, head_replies, RecordError::Stopped);
        };
        let sender = syncer.sender.clone();
        // A caller that gave up waiting no longer needs its answer; its
        // events are recorded all the same.
        match self.commit(events, force_head) {
            Ok(Committed { recorded, head }) => {
                let mut recorded = recorded.into_iter();
                let batch = Synced {
                    recorded: tickets
                        .iter()
                        .map(|&(ticket, n)| (ticket, recorded.by_ref().take(n).collect()))
                        .collect(),
                    heads: head_replies
                        .into_iter()
                        .map(|reply| (reply, head.clone()))
                        .collect(),
                };
                if let Err(mpsc::SendError(batch)) = sender.send(batch) {
                    // The syncer is gone (it panicked): nothing is durable.
                    let replies = batch.heads.into_iter().map(|(reply, _)| reply).collect();
                    failed(tickets, replies, RecordError::Stopped);
                }
            }
            Err(e) => failed(tickets, head_replies, RecordError::Storage(Arc::new(e))),
        }
    }

    /// One transaction: the events, and a head if the policy (or
    /// `force_head`) says so.
    fn commit(
        &mut self,
        events: Vec<NewEvent>,
        force_head: bool,
    ) -> Result<Committed, LedgerStoreError> {
        let n = events.len() as u64;
        let sign = force_head
            || (n > 0 && self.unsigned + n >= self.policy.every_events)
            || self
                .oldest_unsigned
                .is_some_and(|t| t.elapsed() >= self.policy.every);
        let mut pending = Some(events);
        let mut done: Option<(Frontier, Committed)> = None;
        let (cached, signer, vault_id) = (&self.frontier, &self.signer, &self.vault_id);
        let result = self.store.append(&mut |state: LogState<'_>| {
            let events = pending
                .take()
                .ok_or("the ledger store asked for the same batch twice")?;
            let mut frontier = match cached {
                Some(f) if f.size() == state.size => f.clone(),
                _ => Frontier::load(state.tree, state.size)?,
            };
            let time = event_time(vault_id, state.last_time);
            let mut batch = AppendBatch::default();
            let mut recorded = Vec::with_capacity(events.len());
            for (seq, new) in (state.size..).zip(events) {
                let event = new.into_event(seq, time.clone());
                let leaf_hash = event.leaf_hash();
                frontier.append_reporting(leaf_hash, |node| {
                    if node.level > 0 {
                        batch.nodes.push(node);
                    }
                });
                // INVARIANT: a `Recorded` leaves this function only after
                // the append that holds its event has committed.
                recorded.push(Recorded {
                    seq,
                    time: time.clone(),
                });
                batch.events.push(AppendedEvent { event, leaf_hash });
            }
            let head = if sign {
                let head = TreeHead::new(vault_id.clone(), frontier.size(), frontier.root(), &time)
                    .map_err(|e| Box::new(e) as BoxError)?;
                Some(SignedHead::sign(head, signer))
            } else {
                None
            };
            batch.head = head.clone();
            done = Some((frontier, Committed { recorded, head }));
            Ok(batch)
        });
        match (result, done) {
            (Ok(_), Some((frontier, committed))) => {
                self.frontier = Some(frontier);
                let c = &self.counters;
                c.transactions.fetch_add(1, Ordering::Relaxed);
                c.events.fetch_add(n, Ordering::Relaxed);
                if committed.head.is_some() {
                    c.heads.fetch_add(1, Ordering::Relaxed);
                    self.unsigned = 0;
                    self.oldest_unsigned = None;
                } else if n > 0 {
                    self.unsigned += n;
                    self.oldest_unsigned.get_or_insert_with(Instant::now);
                }
                Ok(committed)
            }
            (Ok(_), None) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                Err(LedgerStoreError::Invalid(
                    "the ledger store committed without building the batch".to_owned(),
                ))
            }
            (Err(e), _) => {
                // The transaction rolled back, so what this writer knows of
                // the tree may be stale; reload it next time.
                self.frontier = None;
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

/// Now, as `YYYY-MM-DDTHH:MM:SS.mmmZ`, but never before the last event's
/// time: if this clock is behind another writer's, or went back, events keep
/// their seq order in time too.
fn event_time(vault_id: &VaultId, last: Option<&str>) -> String {
    let now = now_utc();
    match last {
        // A stored time is reused only if it has the one accepted form, so
        // a damaged row cannot stop heads from being signed.
        Some(last)
            if last > now.as_str()
                && TreeHead::new(vault_id.clone(), 0, empty_root(), last).is_ok() =>
        {
            last.to_owned()
        }
        _ => now,
    }
}

fn now_utc() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// A time in the ledger's one accepted form, `YYYY-MM-DDTHH:MM:SS.mmmZ` in
/// UTC, which sorts as text in time order. Other records that are compared
/// with event times (the store's principals, tokens and alerts) use it too.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn times_have_the_one_accepted_form_and_never_go_back() {
        let vault = VaultId::from_random([1; 16]);
        let now = now_utc();
        assert!(
            TreeHead::new(vault.clone(), 0, empty_root(), &now).is_ok(),
            "{now}"
        );
        assert_eq!(
            event_time(&vault, Some("2999-01-01T00:00:00.000Z")),
            "2999-01-01T00:00:00.000Z"
        );
        let t = event_time(&vault, Some("2000-01-01T00:00:00.000Z"));
        assert!(t.as_str() > "2020", "{t}");
        // A damaged last time is not copied forward.
        let t = event_time(&vault, Some("9999 not a time"));
        assert!(TreeHead::new(vault, 0, empty_root(), &t).is_ok(), "{t}");
    }
}
