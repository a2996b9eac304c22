//! The HTTP API, tested over real HTTP on loopback against a real vault.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

mod access_control;
mod admin;
mod auth;
mod contract;
mod incidents;
mod ledger;
mod login;
mod revocation;
mod subjects;
mod transfer;
