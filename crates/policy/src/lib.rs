//! Custos authorization: who may do what with which fields, for which
//! purpose, written as Cedar policies.
//!
//! Principals, subjects and the vault become Cedar entities
//! ([`PrincipalEntity`], [`SubjectFacts`]); the context holds the purpose,
//! the fields asked for, the field being decided, whether a second factor was
//! used, and the time. [`Policies::decide`] returns a [`Decision`] with one
//! verdict per field (or one for actions without fields), each allowed or
//! denied with a reason. On top of the policies, two rules from the purpose
//! registry always hold: a request gets only fields of the categories its
//! purpose covers, and a purpose that needs consent gets nothing of a member
//! who has not given it.
//!
//! Architecture invariant: deciding is total. It returns a decision, never
//! an error; a policy that fails to evaluate is skipped (and reported in
//! [`Decision::errors`]); anything not permitted is denied. This crate does
//! no I/O and holds no personal field values, only scope attributes.

mod action;
mod analysis;
mod cache;
mod cases;
mod cedar_schema;
mod decision;
mod diagnostics;
mod entities;
mod policies;
mod scope;

pub use action::{Action, ActionScope};
pub use cases::{CaseFile, CaseReport, CaseResult};
pub use decision::{AccessRequest, Decision, DenyReason, RuleRef, Verdict};
pub use diagnostics::{PolicyError, PolicyProblem};
pub use entities::{PrincipalEntity, PrincipalFacts, SubjectFacts};
pub use policies::{
    BASELINE_POLICIES, DEFAULT_POLICIES, DEFAULT_POLICY_TESTS, Effect, Policies, Rule,
};

#[cfg(test)]
mod tests;
