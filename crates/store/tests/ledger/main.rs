//! The SQLite ledger and the group-commit recorder over real files in
//! temporary directories: appends and reads, seqs under concurrent writers
//! (two ledgers and two recorders on one file, as two processes would be),
//! verification and proofs served from the store, group commit, failing
//! closed, bad files, queries against a brute-force scan, and the storage
//! cost per event.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

mod append_rate;
mod files;
mod indexes;
mod queries;
mod recorder;
mod size;
mod storage;
