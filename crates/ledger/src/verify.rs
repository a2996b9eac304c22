//! Checking a ledger with nothing but the vault's public key.
//!
//! The verifier assumes the store may lie. It recomputes every leaf hash and
//! every root from the events themselves, accepts a signed head only if its
//! signature holds and it is for this vault, and stops at the first problem
//! with a message that names the event (or, when the tree was rebuilt to hide
//! an edit, the narrowest range of events that must contain it). It needs no
//! secret, so an auditor can run it on an export.
//!
//! What it cannot see: a store that drops signed heads along with the events
//! they cover leaves nothing to compare against. That is why heads are
//! published outside the vault, and checked with [`verify_against`] or passed
//! back in with the stored ones.

use std::fmt;

use custos_crypto::LedgerPublicKey;
use custos_model::VaultId;

use crate::event::Event;
use crate::head::{HeadError, SignedHead};
use crate::merkle::{self, Frontier, Hash};

/// One event as read from storage or an export, in stored order.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    event: Result<Event, String>,
    leaf_hash: Option<Hash>,
}

impl StoredEvent {
    /// An event that was read and parsed.
    pub fn new(event: Event) -> Self {
        Self {
            event: Ok(event),
            leaf_hash: None,
        }
    }

    /// Adds the leaf hash that storage kept for this event when it was
    /// recorded. If the event no longer matches it, the verifier names this
    /// event exactly instead of only a range.
    pub fn with_leaf_hash(mut self, stored: Hash) -> Self {
        self.leaf_hash = Some(stored);
        self
    }

    /// A stored event that could not be parsed, with the reason.
    pub fn unreadable(reason: impl fmt::Display) -> Self {
        Self {
            event: Err(reason.to_string()),
            leaf_hash: None,
        }
    }
}

impl From<Event> for StoredEvent {
    fn from(event: Event) -> Self {
        Self::new(event)
    }
}

/// The first thing found wrong with a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An event is not the one that should come next: one was deleted,
    /// inserted without renumbering, duplicated, or moved.
    UnexpectedSeq {
        /// The seq that should come next.
        expected: u64,
        /// The seq found instead.
        found: u64,
    },
    /// A stored event could not be parsed.
    Unreadable {
        /// The seq it should have had, by its position.
        seq: u64,
        /// Why it could not be parsed.
        reason: String,
    },
    /// An event no longer matches the leaf hash stored when it was recorded.
    Altered {
        /// The event.
        seq: u64,
    },
    /// A signed head is for another vault.
    HeadFromAnotherVault {
        /// The head's size.
        size: u64,
        /// The vault the head names.
        vault_id: String,
    },
    /// A signed head's signature does not hold under this vault's key.
    BadHeadSignature {
        /// The head's size.
        size: u64,
        /// What is wrong with it.
        reason: HeadError,
    },
    /// Two validly signed heads of the same size disagree.
    ConflictingHeads {
        /// Their size.
        size: u64,
    },
    /// The events no longer hash to the root of a signed head: something in
    /// `since..size` changed, and the tree was rebuilt to match.
    RootMismatch {
        /// The head's size.
        size: u64,
        /// The size of the last head that still matched (0 if none), so the
        /// change is in events `since..size`.
        since: u64,
    },
    /// A signed head covers more events than the log has.
    Truncated {
        /// The head's size.
        head_size: u64,
        /// How many events the log has.
        log_size: u64,
    },
    /// A head is smaller than one already accepted.
    OlderHead {
        /// The head's size.
        size: u64,
        /// The size of the head already seen.
        seen: u64,
    },
    /// The log is not an extension of a head published earlier.
    NotExtension {
        /// The published head's size.
        previous_size: u64,
        /// The current head's size.
        size: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedSeq { expected, found } if found > expected => write!(
                f,
                "event {expected} is missing: the next stored event is {found} (deleted, or events reordered)"
            ),
            Self::UnexpectedSeq { expected, found } => write!(
                f,
                "expected event {expected} but found event {found} again (duplicated, or events reordered)"
            ),
            Self::Unreadable { seq, reason } => write!(f, "event {seq} cannot be read: {reason}"),
            Self::Altered { seq } => write!(
                f,
                "event {seq} was altered: it no longer matches the leaf hash stored when it was recorded"
            ),
            Self::HeadFromAnotherVault { size, vault_id } => write!(
                f,
                "the signed head at size {size} is for vault `{vault_id}`, not this one"
            ),
            Self::BadHeadSignature { size, reason } => {
                write!(
                    f,
                    "the signed head at size {size} cannot be trusted: {reason}"
                )
            }
            Self::ConflictingHeads { size } => write!(
                f,
                "two validly signed heads at size {size} have different roots: the ledger was forked"
            ),
            Self::RootMismatch { size, since } => {
                let last = size.saturating_sub(1);
                if *since == last {
                    write!(f, "event {last} does not match")?;
                } else {
                    write!(f, "events {since} to {last} do not match")?;
                }
                write!(
                    f,
                    " the signed head at size {size}: an event there was altered, inserted or deleted and the tree rebuilt"
                )?;
                if *since > 0 {
                    write!(f, " (the head at size {since} still matches)")?;
                }
                Ok(())
            }
            Self::Truncated {
                head_size,
                log_size,
            } => write!(
                f,
                "the ledger has {log_size} events but a signed head covers {head_size}: events {log_size} to {} were deleted",
                head_size.saturating_sub(1)
            ),
            Self::OlderHead { size, seen } => write!(
                f,
                "the head at size {size} is older than the head already seen at size {seen}: the ledger was rolled back"
            ),
            Self::NotExtension {
                previous_size,
                size,
            } => write!(
                f,
                "the ledger at size {size} does not extend the head published at size {previous_size}: events before {previous_size} were altered, inserted or deleted"
            ),
        }
    }
}

impl std::error::Error for Problem {}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Events read, in order from event 0, whose seq (and kept leaf hash,
    /// if given) checked out. When a head's root does not match, this
    /// includes the events up to that head, one of which is wrong.
    pub events_checked: u64,
    /// Signed heads whose signature, vault and root all checked out.
    pub heads_checked: u64,
    /// The root of the tree of those `events_checked` events.
    pub root: Hash,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

impl Report {
    /// Whether nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// A streaming verifier: feed it the events in stored order with
/// [`Verifier::push`], then call [`Verifier::finish`]. Memory stays
/// `O(log n)` plus the heads, so it suits a log of any length.
#[derive(Debug)]
pub struct Verifier {
    vault_id: VaultId,
    key: LedgerPublicKey,
    /// Sorted by size; `heads[next_head..]` are not checked yet.
    heads: Vec<SignedHead>,
    next_head: usize,
    frontier: Frontier,
    /// The size of the last head that matched the recomputed root.
    last_match: u64,
    heads_checked: u64,
    problem: Option<Problem>,
}

impl Verifier {
    /// A verifier for `vault_id`'s ledger, with the stored (or exported, or
    /// published) signed heads, in any order.
    pub fn new(vault_id: &VaultId, key: &LedgerPublicKey, mut heads: Vec<SignedHead>) -> Self {
        heads.sort_by_key(|h| h.head().size());
        let mut verifier = Self {
            vault_id: vault_id.clone(),
            key: *key,
            heads,
            next_head: 0,
            frontier: Frontier::new(),
            last_match: 0,
            heads_checked: 0,
            problem: None,
        };
        // Heads of the empty log are checked before any event arrives.
        verifier.check_heads_at_current_size();
        verifier
    }

    /// Checks the next event. Returns `false` once a problem has been found;
    /// later events are then ignored, so the caller may stop reading.
    pub fn push(&mut self, stored: StoredEvent) -> bool {
        if self.problem.is_some() {
            return false;
        }
        let expected = self.frontier.size();
        let event = match stored.event {
            Ok(event) => event,
            Err(reason) => {
                return self.fail(Problem::Unreadable {
                    seq: expected,
                    reason,
                });
            }
        };
        if event.seq != expected {
            return self.fail(Problem::UnexpectedSeq {
                expected,
                found: event.seq,
            });
        }
        let leaf = event.leaf_hash();
        if stored.leaf_hash.is_some_and(|kept| kept != leaf) {
            return self.fail(Problem::Altered { seq: event.seq });
        }
        self.frontier.append(leaf);
        self.check_heads_at_current_size();
        self.problem.is_none()
    }

    /// Ends the log: any head still unchecked covers events that are not
    /// there.
    pub fn finish(mut self) -> Report {
        if self.problem.is_none()
            && let Some(head) = self.heads.get(self.next_head)
        {
            let problem = self.trust(head).err().unwrap_or(Problem::Truncated {
                head_size: head.head().size(),
                log_size: self.frontier.size(),
            });
            self.problem = Some(problem);
        }
        Report {
            events_checked: self.frontier.size(),
            heads_checked: self.heads_checked,
            root: self.frontier.root(),
            problem: self.problem,
        }
    }

    fn fail(&mut self, problem: Problem) -> bool {
        self.problem = Some(problem);
        false
    }

    /// Checks every head whose size is the number of events seen so far.
    fn check_heads_at_current_size(&mut self) {
        let size = self.frontier.size();
        let start = self.next_head;
        let mut end = start;
        while self.heads.get(end).is_some_and(|h| h.head().size() == size) {
            end += 1;
        }
        if start == end {
            return;
        }
        self.next_head = end;
        let at_size = &self.heads[start..end];
        if let Some(problem) = at_size.iter().find_map(|h| self.trust(h).err()) {
            self.problem = Some(problem);
            return;
        }
        let first_root = at_size[0].head().root();
        if at_size.iter().any(|h| h.head().root() != first_root) {
            self.problem = Some(Problem::ConflictingHeads { size });
            return;
        }
        if *first_root != self.frontier.root() {
            self.problem = Some(Problem::RootMismatch {
                size,
                since: self.last_match,
            });
            return;
        }
        self.last_match = size;
        self.heads_checked += at_size.len() as u64;
    }

    fn trust(&self, head: &SignedHead) -> Result<(), Problem> {
        trust(head, &self.vault_id, &self.key)
    }
}

/// Checks that a head is for this vault and signed by its key.
fn trust(head: &SignedHead, vault_id: &VaultId, key: &LedgerPublicKey) -> Result<(), Problem> {
    let size = head.head().size();
    if head.head().vault_id() != vault_id {
        return Err(Problem::HeadFromAnotherVault {
            size,
            vault_id: head.head().vault_id().to_string(),
        });
    }
    head.verify(key)
        .map_err(|reason| Problem::BadHeadSignature { size, reason })
}

/// Verifies a whole log: the events in stored order and the signed heads
/// (stored ones, and any published ones to hold the log to), for `vault_id`,
/// with only its public key.
pub fn verify_log(
    events: impl IntoIterator<Item = StoredEvent>,
    heads: Vec<SignedHead>,
    vault_id: &VaultId,
    key: &LedgerPublicKey,
) -> Report {
    let mut verifier = Verifier::new(vault_id, key, heads);
    for event in events {
        if !verifier.push(event) {
            break;
        }
    }
    verifier.finish()
}

/// Proves that the ledger, as described by its `current` signed head,
/// extends a head published earlier, using a consistency proof from the
/// ledger's tree ([`merkle::consistency_proof`] from `previous` size to
/// `current` size).
///
/// Both heads must be this vault's and validly signed. A `current` head
/// smaller than `previous` is refused as a rollback, and one of the same size
/// must have the same root. This needs no events, only the two heads and the
/// proof, so a witness can run it on its own.
pub fn verify_against(
    previous: &SignedHead,
    current: &SignedHead,
    proof: &[Hash],
    vault_id: &VaultId,
    key: &LedgerPublicKey,
) -> Result<(), Problem> {
    trust(previous, vault_id, key)?;
    trust(current, vault_id, key)?;
    let (old, new) = (previous.head(), current.head());
    if new.size() < old.size() {
        return Err(Problem::OlderHead {
            size: new.size(),
            seen: old.size(),
        });
    }
    if new.size() == old.size() && new.root() != old.root() {
        return Err(Problem::ConflictingHeads { size: new.size() });
    }
    if !merkle::verify_consistency(old.size(), new.size(), old.root(), new.root(), proof) {
        return Err(Problem::NotExtension {
            previous_size: old.size(),
            size: new.size(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_events() {
        let cases: [(Problem, &str); 9] = [
            (
                Problem::UnexpectedSeq {
                    expected: 13,
                    found: 14,
                },
                "event 13 is missing: the next stored event is 14 (deleted, or events reordered)",
            ),
            (
                Problem::UnexpectedSeq {
                    expected: 14,
                    found: 13,
                },
                "expected event 14 but found event 13 again (duplicated, or events reordered)",
            ),
            (
                Problem::Altered { seq: 13 },
                "event 13 was altered: it no longer matches the leaf hash stored when it was recorded",
            ),
            (
                Problem::RootMismatch {
                    size: 20,
                    since: 10,
                },
                "events 10 to 19 do not match the signed head at size 20: an event there was altered, inserted or deleted and the tree rebuilt (the head at size 10 still matches)",
            ),
            (
                Problem::RootMismatch { size: 8, since: 0 },
                "events 0 to 7 do not match the signed head at size 8: an event there was altered, inserted or deleted and the tree rebuilt",
            ),
            (
                Problem::RootMismatch {
                    size: 11,
                    since: 10,
                },
                "event 10 does not match the signed head at size 11: an event there was altered, inserted or deleted and the tree rebuilt (the head at size 10 still matches)",
            ),
            (
                Problem::Truncated {
                    head_size: 30,
                    log_size: 25,
                },
                "the ledger has 25 events but a signed head covers 30: events 25 to 29 were deleted",
            ),
            (
                Problem::OlderHead { size: 5, seen: 9 },
                "the head at size 5 is older than the head already seen at size 9: the ledger was rolled back",
            ),
            (
                Problem::NotExtension {
                    previous_size: 30,
                    size: 40,
                },
                "the ledger at size 40 does not extend the head published at size 30: events before 30 were altered, inserted or deleted",
            ),
        ];
        for (problem, message) in cases {
            assert_eq!(problem.to_string(), message);
        }
    }
}
