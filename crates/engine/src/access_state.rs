//! Who may do what right now: principals, purposes and the policy set, as
//! loaded from the store, reloaded whenever the store's access generation
//! moves.
//!
//! Every change that affects access (a principal added, changed, suspended
//! or revoked; a token revoked; a purpose or policy added) increments the
//! generation in the same transaction. Each request reads the generation
//! (one indexed read), so a revocation made by another process sharing the
//! store takes effect on the very next request here, and again at the point
//! of release for requests already under way.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use custos_model::{PrincipalName, Purpose, PurposeName};
use custos_policy::{Policies, PrincipalEntity, PrincipalFacts};
use custos_store::{PrincipalRecord, TokenRecord};

use crate::error::EngineError;
use crate::vault::Vault;

/// A principal as loaded: its record and its prepared policy entity.
#[derive(Debug)]
pub(crate) struct LoadedPrincipal {
    pub(crate) record: PrincipalRecord,
    pub(crate) entity: Arc<PrincipalEntity>,
}

/// The access state at one generation.
#[derive(Debug)]
pub(crate) struct AccessState {
    pub(crate) generation: u64,
    pub(crate) principals: BTreeMap<PrincipalName, LoadedPrincipal>,
    pub(crate) purposes: BTreeMap<PurposeName, Arc<Purpose>>,
    pub(crate) policies: Arc<Policies>,
    pub(crate) policy_version: u64,
    /// Tokens looked up at this generation, by digest. Only tokens that
    /// exist are kept, so a token created later is found in the store.
    tokens: RwLock<HashMap<[u8; 32], Arc<TokenRecord>>>,
}

impl AccessState {
    /// A state that matches no generation, so the first use loads the real
    /// one.
    pub(crate) fn empty(policies: Arc<Policies>) -> Self {
        Self {
            generation: u64::MAX,
            principals: BTreeMap::new(),
            purposes: BTreeMap::new(),
            policies,
            policy_version: 0,
            tokens: RwLock::new(HashMap::new()),
        }
    }

    /// A purpose by name.
    pub(crate) fn purpose(&self, name: &str) -> Option<&Arc<Purpose>> {
        PurposeName::parse(name)
            .ok()
            .and_then(|n| self.purposes.get(&n))
    }
}

/// A principal's facts for policies.
pub(crate) fn facts(record: &PrincipalRecord) -> PrincipalFacts {
    PrincipalFacts {
        name: record.name.clone(),
        kind: record.kind,
        attributes: record.attributes.clone(),
    }
}

impl Vault {
    /// The current access state, reloaded if the store's generation moved.
    pub(crate) fn access(&self) -> Result<Arc<AccessState>, EngineError> {
        let generation = self.store.access_generation()?;
        let current = self.access_snapshot();
        if current.generation == generation {
            return Ok(current);
        }
        // One reload at a time; whoever waited finds it done.
        let _reloading = self.access_reload.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.access_snapshot();
        if current.generation == generation {
            return Ok(current);
        }
        let fresh = Arc::new(self.load_access(generation, Some(&current))?);
        let mut slot = self.access.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::clone(&fresh);
        Ok(fresh)
    }

    pub(crate) fn access_snapshot(&self) -> Arc<AccessState> {
        let slot = self.access.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&slot)
    }

    /// Loads the access state. The generation is read before the data, so
    /// the data is at least as new as the generation it is filed under.
    pub(crate) fn load_access(
        &self,
        generation: u64,
        previous: Option<&AccessState>,
    ) -> Result<AccessState, EngineError> {
        // An unchanged principal keeps its prepared entity: a change to one
        // principal should not rebuild every other's.
        let principals = self
            .store
            .principals()?
            .into_iter()
            .map(|record| {
                let entity = previous
                    .and_then(|p| p.principals.get(&record.name))
                    .filter(|old| facts(&old.record) == facts(&record))
                    .map_or_else(
                        || Arc::new(PrincipalEntity::new(facts(&record))),
                        |old| Arc::clone(&old.entity),
                    );
                (record.name.clone(), LoadedPrincipal { record, entity })
            })
            .collect();
        let purposes = self
            .store
            .purposes()?
            .into_iter()
            .map(|p| (p.name().clone(), Arc::new(p)))
            .collect();
        let stored = self.store.current_policy()?.ok_or_else(|| {
            EngineError::Config("the store holds no policy set; the vault is incomplete".to_owned())
        })?;
        // Keep the compiled set, and its decision cache, if it is unchanged.
        let policies = match previous {
            Some(p) if p.policy_version == stored.version => Arc::clone(&p.policies),
            _ => Arc::new(Policies::compile(&stored.text, &self.schema).map_err(|e| {
                EngineError::Config(format!(
                    "the stored policy set (version {}) no longer validates against the schema: {e}",
                    stored.version
                ))
            })?),
        };
        Ok(AccessState {
            generation,
            principals,
            purposes,
            policies,
            policy_version: stored.version,
            tokens: RwLock::new(HashMap::new()),
        })
    }

    /// A token by digest, from this generation's cache or the store.
    pub(crate) fn token_record(
        &self,
        state: &AccessState,
        digest: &[u8; 32],
    ) -> Result<Option<Arc<TokenRecord>>, EngineError> {
        if let Some(hit) = state
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
        {
            return Ok(Some(Arc::clone(hit)));
        }
        let Some(found) = self.store.token_by_digest(digest)? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        state
            .tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*digest, Arc::clone(&found));
        Ok(Some(found))
    }
}
