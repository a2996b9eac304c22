//! A bounded cache of decisions. Cedar evaluates each field of a request
//! separately (about 7 µs each on this project's machines), so a ten-field
//! read would spend most of its time in policy evaluation; the same inputs
//! always give the same decision, so a decision is kept by its inputs (see
//! `Policies::cache_key`) and reused.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::decision::Decision;

/// How many decisions are kept; the cache is emptied when it is full, which
/// is simpler than eviction and costs one re-evaluation per entry.
const CAPACITY: usize = 16_384;

#[derive(Debug, Default)]
pub(crate) struct DecisionCache {
    // A read lock for lookups: nearly every request is a hit, and many
    // requests look up at once.
    entries: RwLock<HashMap<String, Arc<Decision>>>,
}

impl DecisionCache {
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Decision>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(key).cloned()
    }

    pub(crate) fn insert(&self, key: String, decision: Arc<Decision>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, decision);
    }
}
