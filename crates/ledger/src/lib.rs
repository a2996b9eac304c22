//! The access ledger's pure core: events, the Merkle tree over them, signed
//! tree heads, and a verifier that needs only the vault's public key.
//!
//! Custos records every decision about personal data before any data leaves,
//! and must later be able to prove to a member or a regulator that the record
//! is complete and unaltered. This crate holds the parts of that proof that
//! need no database, threads or secrets, so that the same code runs in the
//! engine, in `custos ledger verify`, and in an auditor's hands:
//!
//! - [`Event`] and its canonical, versioned encoding ([`Event::leaf_data`]);
//! - [`merkle`]: RFC 6962 / RFC 9162 tree hashing, inclusion and consistency
//!   proofs and their verifiers, and the [`merkle::Frontier`] a writer keeps;
//! - [`TreeHead`] and [`SignedHead`], signed with the ledger key that
//!   `custos-crypto` holds;
//! - [`verify_log`], [`Verifier`] and [`verify_against`], which assume the
//!   store lies and name the first event that does not check out.
//!
//! Architecture invariant: events hold subject ids and field names, never
//! field values, and this crate holds no key bytes (it signs through
//! `custos_crypto::LedgerSigningKey`).

mod event;
mod head;
pub mod merkle;
mod recorder;
mod storage;
mod verify;

pub use event::{Event, EventError, Outcome};
pub use head::{HeadError, SignedHead, TreeHead};
pub use merkle::Hash;
pub use recorder::{
    HeadPolicy, MAX_BATCH_EVENTS, NewEvent, RecordError, Recorded, Recorder, RecorderStats,
    format_time,
};
pub use storage::{
    AppendBatch, AppendedEvent, BoxError, EventQuery, HeadRow, LedgerStore, LedgerStoreError,
    LogState, StoredEventRow, check_storable, verify_store,
};
pub use verify::{Problem, Report, StoredEvent, Verifier, verify_against, verify_log};
