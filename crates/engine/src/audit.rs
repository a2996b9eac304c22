//! Reading the ledger back: signed heads, full verification, queries, and a
//! subject's access history with inclusion proofs.
//!
//! These read the ledger, not personal data, so they release nothing and
//! are not themselves recorded; they are for auditors, principals the
//! policies allow to `audit` (administrators and the DPO by default), and a
//! refused attempt is recorded like any other.

use custos_ledger::merkle::{self, Hash};
use custos_ledger::{Event, EventQuery, Problem, Report, SignedHead, verify_against, verify_store};
use custos_model::SubjectId;

use crate::error::EngineError;
use crate::principal::Caller;
use crate::recording::Action;
use crate::vault::Vault;

/// One event of a subject's history, with its proof of inclusion under
/// [`SubjectHistory::head`].
#[derive(Debug)]
pub struct ProvenEvent {
    /// The event.
    pub event: Event,
    /// The inclusion proof of the event's leaf under the head.
    pub proof: Vec<Hash>,
}

/// Every access to one subject, provable against one signed head.
#[derive(Debug)]
pub struct SubjectHistory {
    /// The head the proofs lead to.
    pub head: SignedHead,
    /// The events, oldest first.
    pub events: Vec<ProvenEvent>,
}

fn proof_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Config(format!("ledger: cannot build a proof: {e}"))
}

impl Vault {
    /// Signs and stores a head over the whole ledger as it is now.
    pub fn ledger_head(&self, caller: &Caller) -> Result<SignedHead, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        self.sign_head()
    }

    fn sign_head(&self) -> Result<SignedHead, EngineError> {
        self.recorder
            .sign_head_now()
            .map_err(|e| EngineError::Unrecorded(e.to_string()))
    }

    /// Every signed head stored, by size.
    pub fn ledger_heads(&self, caller: &Caller) -> Result<Vec<SignedHead>, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        Ok(self.ledger.heads()?)
    }

    /// The ledger's public key, base64, for auditors and witnesses.
    pub fn ledger_public_key(&self) -> String {
        self.recorder.public_key().to_base64()
    }

    /// Recomputes every leaf, root and signature of the stored ledger and
    /// reports the first problem. With `previous`, also proves that the
    /// ledger extends that earlier published head.
    pub fn ledger_verify(
        &self,
        caller: &Caller,
        previous: Option<&SignedHead>,
    ) -> Result<Report, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        let key = self.recorder.public_key();
        let mut report = verify_store(&*self.ledger, &self.vault_id, &key)?;
        if let (Some(previous), None) = (previous, &report.problem) {
            report.problem = self.check_extends(previous).err();
        }
        Ok(report)
    }

    fn check_extends(&self, previous: &SignedHead) -> Result<(), Problem> {
        let current = self.sign_head().map_err(|e| Problem::Unreadable {
            seq: previous.head().size(),
            reason: e.to_string(),
        })?;
        let (old, new) = (previous.head().size(), current.head().size());
        let proof = if old <= new {
            merkle::consistency_proof(&*self.ledger, old, new).map_err(|e| Problem::Unreadable {
                seq: old,
                reason: e.to_string(),
            })?
        } else {
            Vec::new()
        };
        verify_against(
            previous,
            &current,
            &proof,
            &self.vault_id,
            &self.recorder.public_key(),
        )
    }

    /// Events matching a query, in seq order.
    pub fn ledger_query(
        &self,
        caller: &Caller,
        query: &EventQuery,
    ) -> Result<Vec<Event>, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        Ok(self.ledger.query(query)?)
    }

    /// Every access to one subject, each with an inclusion proof under a
    /// freshly signed head: the "who has seen my data" part of a
    /// subject-access reply.
    pub fn ledger_subject(
        &self,
        caller: &Caller,
        id: &SubjectId,
    ) -> Result<SubjectHistory, EngineError> {
        self.admit_admin(caller, Action::Audit)?;
        let head = self.sign_head()?;
        let size = head.head().size();
        let mut events = Vec::new();
        let mut query = EventQuery {
            subject: Some(id.as_str().to_owned()),
            limit: EventQuery::MAX_LIMIT,
            ..EventQuery::default()
        };
        loop {
            let page = self.ledger.query(&query)?;
            let done = page.len() < EventQuery::MAX_LIMIT;
            query.after_seq = page.last().map(|e| e.seq);
            for event in page.into_iter().filter(|e| e.seq < size) {
                let proof =
                    merkle::inclusion_proof(&*self.ledger, event.seq, size).map_err(proof_error)?;
                events.push(ProvenEvent { event, proof });
            }
            if done {
                break;
            }
        }
        Ok(SubjectHistory { head, events })
    }
}
