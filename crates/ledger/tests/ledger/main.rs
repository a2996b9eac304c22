//! The ledger's integration tests, through the public API only: the tree
//! checked against an independent implementation (ct-merkle), the storage
//! hooks of the tree, and the verifier against a store that lies.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

mod crosscheck;
mod lying_store;
mod tree_storage;
