//! The tree, checked against ct-merkle, an independent RFC 6962
//! implementation, for every size up to 70 and every index or old size: the
//! roots and proofs must be byte-identical, each side's verifier must accept
//! the other's proofs, and tampered proofs, roots, leaves, indices and sizes
//! must be refused.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use custos_ledger::merkle::{
    self, Hash, consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use sha2_011::Sha256;

const MAX: u64 = 70;

fn data(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

/// Our leaf hashes, and ct-merkle's root after each of `0..=MAX` pushes.
fn fixture() -> (Vec<Hash>, Vec<RootHash<Sha256>>) {
    let mut tree = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    let mut roots = vec![tree.root()];
    let mut leaves = Vec::new();
    for i in 0..MAX {
        tree.push(data(i));
        roots.push(tree.root());
        leaves.push(merkle::leaf_hash(&data(i)));
    }
    (leaves, roots)
}

fn bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| *h.as_bytes()).collect()
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect()
}

fn root_of(ct: &RootHash<Sha256>) -> Hash {
    Hash::from_slice(ct.as_bytes()).unwrap()
}

/// A tree of exactly `size` leaves, for ct-merkle's provers, which prove
/// against the whole tree.
fn ct_tree(size: u64) -> MemoryBackedTree<Sha256, Vec<u8>> {
    let mut tree = MemoryBackedTree::new();
    for i in 0..size {
        tree.push(data(i));
    }
    tree
}

fn flip(h: &Hash) -> Hash {
    let mut b = *h.as_bytes();
    b[31] ^= 1;
    Hash::from_bytes(b)
}

#[test]
fn roots_match_ct_merkle_for_every_size() {
    let (leaves, roots) = fixture();
    for size in 0..=MAX {
        assert_eq!(
            merkle::root(&leaves[..], size).unwrap(),
            root_of(&roots[size as usize]),
            "size {size}"
        );
    }
    assert_eq!(root_of(&roots[0]), merkle::empty_root());
}

#[test]
fn inclusion_proofs_match_ct_merkle_and_verify_both_ways() {
    let (leaves, roots) = fixture();
    for size in 1..=MAX {
        let tree = ct_tree(size);
        let ct_root = &roots[size as usize];
        let root = root_of(ct_root);
        for index in 0..size {
            let ours = inclusion_proof(&leaves[..], index, size).unwrap();
            let theirs = tree.prove_inclusion(index as usize);
            assert_eq!(bytes(&ours), theirs.as_bytes(), "size {size} index {index}");

            let leaf = &leaves[index as usize];
            // Our verifier on their proof, their verifier on ours.
            assert!(verify_inclusion(
                leaf,
                index,
                size,
                &hashes(theirs.as_bytes()),
                &root
            ));
            let ours_for_them = InclusionProof::<Sha256>::try_from_bytes(bytes(&ours)).unwrap();
            assert!(
                ct_root
                    .verify_inclusion(&data(index), index, &ours_for_them)
                    .is_ok()
            );
        }
    }
}

#[test]
fn tampered_inclusion_proofs_fail() {
    let (leaves, roots) = fixture();
    let proofs: Vec<Vec<Vec<Hash>>> = (0..=MAX)
        .map(|size| {
            (0..size)
                .map(|i| inclusion_proof(&leaves[..], i, size).unwrap())
                .collect()
        })
        .collect();
    for size in 1..=MAX {
        let root = root_of(&roots[size as usize]);
        for index in 0..size {
            let proof = &proofs[size as usize][index as usize];
            let leaf = &leaves[index as usize];
            let ok = |leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash| {
                verify_inclusion(leaf, index, size, proof, root)
            };
            assert!(ok(leaf, index, size, proof, &root));

            // Any altered proof element.
            for k in 0..proof.len() {
                let mut bad = proof.clone();
                bad[k] = flip(&bad[k]);
                assert!(
                    !ok(leaf, index, size, &bad, &root),
                    "{size}/{index} elt {k}"
                );
            }
            // A shortened or lengthened proof.
            if let Some((_, shorter)) = proof.split_last() {
                assert!(!ok(leaf, index, size, shorter, &root));
            }
            let mut longer = proof.clone();
            longer.push(leaves[0]);
            assert!(!ok(leaf, index, size, &longer, &root));
            // Another leaf, a flipped root.
            assert!(!ok(&flip(leaf), index, size, proof, &root));
            assert!(!ok(leaf, index, size, proof, &flip(&root)));
            // Another index: the leaf at that index is not this one.
            for other in [index.wrapping_sub(1), index + 1] {
                if other < size {
                    assert!(
                        !ok(leaf, other, size, proof, &root),
                        "{size}/{index}->{other}"
                    );
                }
            }
            // Index out of range.
            assert!(!ok(leaf, size, size, proof, &root));
            // The root paired with a larger size; as for consistency proofs
            // below, ct-merkle's verifier is the oracle.
            for claimed in [size + 1, size + 5, 2 * size] {
                let theirs = RootHash::<Sha256>::new(*roots[size as usize].as_bytes(), claimed)
                    .verify_inclusion(
                        &data(index),
                        index,
                        &InclusionProof::try_from_bytes(bytes(proof)).unwrap(),
                    )
                    .is_ok();
                assert_eq!(
                    ok(leaf, index, claimed, proof, &root),
                    theirs,
                    "{size}/{index} claimed as size {claimed}"
                );
            }
            // Another size, with that size's genuine root: accepted only when
            // the proofs for both sizes are the same (the leaf is in a
            // complete subtree that both trees share).
            for other in [size - 1, size + 1] {
                if other > index && other <= MAX {
                    let other_root = root_of(&roots[other as usize]);
                    let same_proof = &proofs[other as usize][index as usize] == proof;
                    assert_eq!(
                        ok(leaf, index, other, proof, &other_root),
                        same_proof,
                        "{size}/{index} as size {other}"
                    );
                }
            }
        }
    }
}

#[test]
fn consistency_proofs_match_ct_merkle_and_verify_both_ways() {
    let (leaves, roots) = fixture();
    for new in 1..=MAX {
        let tree = ct_tree(new);
        let new_ct = &roots[new as usize];
        for old in 1..=new {
            let ours = consistency_proof(&leaves[..], old, new).unwrap();
            let theirs = tree.prove_consistency((new - old) as usize);
            assert_eq!(bytes(&ours), theirs.as_bytes(), "{old} -> {new}");

            let old_ct = &roots[old as usize];
            assert!(verify_consistency(
                old,
                new,
                &root_of(old_ct),
                &root_of(new_ct),
                &hashes(theirs.as_bytes())
            ));
            let ours_for_them = ConsistencyProof::<Sha256>::try_from_bytes(bytes(&ours)).unwrap();
            assert!(new_ct.verify_consistency(old_ct, &ours_for_them).is_ok());
        }
    }
}

#[test]
fn tampered_consistency_proofs_fail() {
    let (leaves, roots) = fixture();
    let root = |n: u64| root_of(&roots[n as usize]);
    let proof = |old: u64, new: u64| consistency_proof(&leaves[..], old, new).unwrap();
    for new in 1..=MAX {
        for old in 1..=new {
            let p = proof(old, new);
            let ok = |old: u64, new: u64, a: &Hash, b: &Hash, p: &[Hash]| {
                verify_consistency(old, new, a, b, p)
            };
            assert!(ok(old, new, &root(old), &root(new), &p));

            for k in 0..p.len() {
                let mut bad = p.clone();
                bad[k] = flip(&bad[k]);
                assert!(
                    !ok(old, new, &root(old), &root(new), &bad),
                    "{old}->{new} elt {k}"
                );
            }
            if let Some((_, shorter)) = p.split_last() {
                assert!(!ok(old, new, &root(old), &root(new), shorter));
            }
            let mut longer = p.clone();
            longer.push(leaves[0]);
            assert!(!ok(old, new, &root(old), &root(new), &longer));
            assert!(!ok(old, new, &flip(&root(old)), &root(new), &p));
            assert!(!ok(old, new, &root(old), &flip(&root(new)), &p));
            // Swapped sizes: a tree cannot extend a larger one.
            if old != new {
                assert!(!ok(new, old, &root(new), &root(old), &p));
            }
            // A root paired with a size it does not belong to. A proof can
            // fit several sizes (signed heads bind the size to the root, so
            // that is harmless), so the oracle here is ct-merkle's verifier:
            // both must give the same answer on these adversarial inputs.
            for claimed in [new + 1, new + 7, 2 * new] {
                let theirs = RootHash::<Sha256>::new(*roots[new as usize].as_bytes(), claimed)
                    .verify_consistency(
                        &roots[old as usize],
                        &ConsistencyProof::try_from_bytes(bytes(&p)).unwrap(),
                    )
                    .is_ok();
                assert_eq!(
                    ok(old, claimed, &root(old), &root(new), &p),
                    theirs,
                    "{old}->{new} claimed as {old}->{claimed}"
                );
            }
            // Other sizes, with their genuine roots: accepted only when the
            // proof for those sizes is the same proof.
            for (o, n) in [
                (old - 1, new),
                (old + 1, new),
                (old, new - 1),
                (old, new + 1),
            ] {
                if o >= 1 && o <= n && n <= MAX && (o, n) != (old, new) {
                    assert_eq!(
                        ok(o, n, &root(o), &root(n), &p),
                        proof(o, n) == p,
                        "{old}->{new} as {o}->{n}"
                    );
                }
            }
        }
    }
}

#[test]
fn consistency_with_the_empty_tree_and_with_itself() {
    let (leaves, roots) = fixture();
    let empty = merkle::empty_root();
    for n in 0..=MAX {
        let r = root_of(&roots[n as usize]);
        assert!(consistency_proof(&leaves[..], 0, n).unwrap().is_empty());
        assert!(consistency_proof(&leaves[..], n, n).unwrap().is_empty());
        assert!(verify_consistency(0, n, &empty, &r, &[]));
        assert!(verify_consistency(n, n, &r, &r, &[]));
        assert!(!verify_consistency(0, n, &flip(&empty), &r, &[]));
        assert!(!verify_consistency(n, n, &r, &flip(&r), &[]));
        assert!(!verify_consistency(n, n, &r, &r, &[r]));
        assert!(!verify_consistency(0, n, &empty, &r, &[r]));
    }
}
