//! The engine's integration tests: real vaults in temporary directories,
//! driven through the public API, with the store file inspected and tampered
//! with directly through SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

mod access_control;
mod concurrency;
mod encryption;
mod erase;
mod exposure_property;
mod import;
mod incidents;
mod keys;
mod ledger;
mod plaintext;
mod rotation;
mod subjects;
