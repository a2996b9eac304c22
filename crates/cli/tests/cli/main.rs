//! The `custos` binary, run as a user would run it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

mod demo;
mod durability;
mod errors;
mod incidents;
mod keys;
mod leavers;
mod ledger;
mod policy;
mod principals;
mod purposes;
mod serve;
mod subjects;
