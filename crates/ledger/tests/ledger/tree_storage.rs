//! The hooks storage uses: the frontier a writer keeps, the subtree nodes it
//! reports, and a `HashSource` that serves stored nodes and falls back to
//! leaves below them.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use custos_ledger::merkle::{
    self, Frontier, Hash, HashSource, Node, NotStored, consistency_proof, inclusion_proof,
    subtree_from_children,
};

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(format!("event {i}").as_bytes()))
        .collect()
}

#[test]
fn frontier_root_equals_full_recomputation() {
    let all = leaves(300);
    let mut f = Frontier::new();
    assert_eq!(f.root(), merkle::empty_root());
    for (i, leaf) in all.iter().enumerate() {
        f.append(*leaf);
        let size = i as u64 + 1;
        assert_eq!(f.size(), size);
        assert_eq!(
            f.root(),
            merkle::root(&all[..], size).unwrap(),
            "size {size}"
        );
    }
}

#[test]
fn reported_nodes_are_exactly_the_completed_subtrees() {
    let n = 100u64;
    let all = leaves(n);
    let mut f = Frontier::new();
    let mut reported: Vec<Node> = Vec::new();
    for leaf in &all {
        f.append_reporting(*leaf, |node| reported.push(node));
    }
    // Every complete, aligned subtree inside 100 leaves, computed
    // independently from the leaves.
    let mut expected = BTreeSet::new();
    for level in 0..7u32 {
        let width = 1u64 << level;
        for index in 0..n / width {
            let start = (index * width) as usize;
            let sub = &all[start..start + width as usize];
            let hash = merkle::root(sub, width).unwrap();
            expected.insert((level, index, hash));
        }
    }
    let got: Vec<(u32, u64, Hash)> = reported
        .iter()
        .map(|n| (n.level, n.index, n.hash))
        .collect();
    let got_set: BTreeSet<_> = got.iter().copied().collect();
    assert_eq!(got.len(), got_set.len(), "a node was reported twice");
    assert_eq!(got_set, expected);
}

/// Storage that keeps leaves and the reported nodes of some levels only, and
/// counts how many leaves it is asked for.
struct NodeStore {
    leaves: Vec<Hash>,
    nodes: BTreeMap<(u32, u64), Hash>,
    leaf_reads: Cell<u64>,
}

impl NodeStore {
    fn build(n: u64, keep_levels: &[u32]) -> Self {
        let mut store = NodeStore {
            leaves: Vec::new(),
            nodes: BTreeMap::new(),
            leaf_reads: Cell::new(0),
        };
        let mut f = Frontier::new();
        for leaf in leaves(n) {
            store.leaves.push(leaf);
            f.append_reporting(leaf, |node| {
                if keep_levels.contains(&node.level) {
                    store.nodes.insert((node.level, node.index), node.hash);
                }
            });
        }
        store
    }
}

impl HashSource for NodeStore {
    type Error = NotStored;

    fn leaf_hash(&self, index: u64) -> Result<Hash, NotStored> {
        self.leaf_reads.set(self.leaf_reads.get() + 1);
        self.leaves[..].leaf_hash(index)
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, NotStored> {
        match self.nodes.get(&(level, index)) {
            Some(hash) => Ok(*hash),
            None => subtree_from_children(self, level, index),
        }
    }
}

#[test]
fn stored_subtrees_give_the_same_roots_and_proofs() {
    let all = leaves(70);
    for keep in [&[3][..], &[1, 4], &[2, 3, 5], &[6]] {
        let store = NodeStore::build(70, keep);
        for size in 1..=70 {
            assert_eq!(
                merkle::root(&store, size).unwrap(),
                merkle::root(&all[..], size).unwrap()
            );
            for i in 0..size {
                assert_eq!(
                    inclusion_proof(&store, i, size).unwrap(),
                    inclusion_proof(&all[..], i, size).unwrap()
                );
            }
            for old in 0..=size {
                assert_eq!(
                    consistency_proof(&store, old, size).unwrap(),
                    consistency_proof(&all[..], old, size).unwrap()
                );
            }
        }
    }
}

#[test]
fn stored_subtrees_spare_leaf_reads() {
    let store = NodeStore::build(70, &[3]);
    merkle::root(&store, 64).unwrap();
    assert_eq!(
        store.leaf_reads.get(),
        0,
        "64 leaves are 8 stored level-3 nodes"
    );
    // 70 = 64 + 4 + 2: the last 6 leaves are below any stored node.
    merkle::root(&store, 70).unwrap();
    assert_eq!(store.leaf_reads.get(), 6);

    let plain = NodeStore::build(70, &[]);
    merkle::root(&plain, 70).unwrap();
    assert_eq!(plain.leaf_reads.get(), 70);
}

#[test]
fn frontier_loads_from_stored_subtrees() {
    let all = leaves(200);
    let store = NodeStore::build(200, &[0, 1, 2, 3, 4, 5, 6, 7]);
    let mut incremental = Frontier::new();
    for (i, leaf) in all.iter().enumerate() {
        incremental.append(*leaf);
        let size = i as u64 + 1;
        store.leaf_reads.set(0);
        let loaded = Frontier::load(&store, size).unwrap();
        assert_eq!(loaded, incremental, "size {size}");
        // One read per peak at most, never a walk over old leaves.
        assert!(store.leaf_reads.get() <= 1);
    }
    // A loaded frontier carries on appending like the original.
    let mut loaded = Frontier::load(&store, 150).unwrap();
    for leaf in &all[150..] {
        loaded.append(*leaf);
    }
    assert_eq!(loaded.root(), merkle::root(&all[..], 200).unwrap());
    assert_eq!(Frontier::load(&store, 0).unwrap(), Frontier::new());
}

#[test]
fn a_source_missing_a_node_says_which() {
    let all = leaves(5);
    assert_eq!(
        Frontier::load(&all[..], 9).unwrap_err(),
        NotStored { level: 0, index: 5 }
    );
}
