//! Access-control state in `store.sqlite` over real files in temporary
//! directories: round trips of every record, duplicate and missing errors,
//! revoking a principal with its tokens in one transaction, the access
//! generation, the TOTP compare-and-set under a race between two stores on
//! one file (as two processes would be), the upgrade of a format-1 store,
//! and rows that no longer parse.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

mod format;
mod generation;
mod login;
mod principals;
mod registry;
mod tokens;
