//! The Merkle tree over ledger events, as in RFC 6962 and RFC 9162 (Certificate
//! Transparency).
//!
//! A tree over the events makes the log tamper-evident with small proofs: one
//! signed root commits to every event, an inclusion proof shows that an event
//! is in the log in `O(log n)` hashes, and a consistency proof shows that
//! today's log extends a root published earlier, so history cannot be
//! rewritten without the change showing. Leaves and inner nodes are hashed with
//! different prefixes (`0x00` and `0x01`) so that an inner node can never be
//! passed off as a leaf.
//!
//! Three parts, kept apart on purpose:
//! - proof *generation* ([`root`], [`inclusion_proof`], [`consistency_proof`])
//!   follows the recursive definitions of RFC 9162 §2.1 and reads the tree
//!   through [`HashSource`], so storage decides which nodes it keeps;
//! - proof *verification* ([`verify_inclusion`], [`verify_consistency`]) is the
//!   iterative algorithm of RFC 9162 §2.1.3.2 and §2.1.4.2 and shares no code
//!   with generation, so a bug in one is caught by the other;
//! - [`Frontier`] maintains the root of a growing log from the roots of its
//!   completed subtrees, so a writer never rereads old leaves.
//!
//! Leaf indices are event sequence numbers: the first event is leaf 0.

use std::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 leaf, node or root hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    /// Wraps 32 bytes read from storage or a proof.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Wraps a slice read from storage; `None` unless it is exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Hash {
    /// Lower-case hex, the usual way to show a hash to people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the empty tree: `SHA-256()` of no bytes (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Read access to the hashes of a tree, as storage keeps them.
///
/// Only [`HashSource::leaf_hash`] is required. Storage that also keeps the
/// roots of completed subtrees (as reported by [`Frontier::append_reporting`])
/// overrides [`HashSource::subtree`] to answer from them, and calls
/// [`subtree_from_children`] for a node it does not have: that function asks
/// `subtree` again for the two children, so lookups fall back level by level
/// and reach leaves only below the lowest stored level.
pub trait HashSource {
    /// Why a hash could not be read.
    type Error;

    /// The hash of leaf `index` (the event with that seq).
    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error>;

    /// The root of the complete subtree of `2^level` leaves that starts at leaf
    /// `index << level`. Only called for subtrees wholly inside the tree being
    /// read. The default computes it from leaves.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        subtree_from_children(self, level, index)
    }
}

/// Computes a complete subtree root from its two children, each read through
/// [`HashSource::subtree`] (or [`HashSource::leaf_hash`] at level 0). This is
/// the default of `subtree`, and the fallback for an override that does not
/// store a node.
pub fn subtree_from_children<S: HashSource + ?Sized>(
    source: &S,
    level: u32,
    index: u64,
) -> Result<Hash, S::Error> {
    if level == 0 {
        return source.leaf_hash(index);
    }
    let left = source.subtree(level - 1, index * 2)?;
    let right = source.subtree(level - 1, index * 2 + 1)?;
    Ok(node_hash(&left, &right))
}

/// An in-memory tree: a slice of leaf hashes, in leaf order.
impl HashSource for [Hash] {
    type Error = NotStored;

    fn leaf_hash(&self, index: u64) -> Result<Hash, NotStored> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.get(i))
            .copied()
            .ok_or(NotStored { level: 0, index })
    }
}

/// A node that a [`HashSource`] does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ledger tree node at level {level}, index {index} is not stored")]
pub struct NotStored {
    /// The node's level (0 for leaves).
    pub level: u32,
    /// The node's index within its level.
    pub index: u64,
}

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProofError<E> {
    /// The event is not in the tree.
    #[error("event {index} is not in a ledger of {size} events")]
    OutOfRange {
        /// The event asked for.
        index: u64,
        /// The size of the tree.
        size: u64,
    },
    /// The "old" tree is larger than the new one.
    #[error("a ledger of {new} events cannot extend one of {old} events")]
    Shrinks {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// The tree could not be read.
    #[error(transparent)]
    Source(E),
}

/// The largest power of two strictly less than `n`, for `n >= 2`: where RFC
/// 9162 splits a tree of `n` leaves into its left and right subtrees.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start..start + n])` for `n >= 1`, where `start` is a multiple of the
/// largest power of two not above `n`, as every range the RFC recursions
/// visit is. Complete ranges are read whole from the source.
fn range_hash<S: HashSource + ?Sized>(source: &S, start: u64, n: u64) -> Result<Hash, S::Error> {
    if n.is_power_of_two() {
        let level = n.trailing_zeros();
        return source.subtree(level, start >> level);
    }
    let k = split(n);
    let left = range_hash(source, start, k)?;
    let right = range_hash(source, start + k, n - k)?;
    Ok(node_hash(&left, &right))
}

/// The Merkle Tree Hash of the first `size` leaves (RFC 9162 §2.1.1).
pub fn root<S: HashSource + ?Sized>(source: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(source, 0, size)
}

/// The inclusion proof (audit path) of leaf `index` in the tree of the first
/// `size` leaves: `PATH(index, D[size])` of RFC 9162 §2.1.3.1, leaf side
/// first.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof).map_err(ProofError::Source)?;
    Ok(proof)
}

/// `PATH(m, D[start..start + n])`.
fn path<S: HashSource + ?Sized>(
    source: &S,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(source, m, start, k, out)?;
        out.push(range_hash(source, start + k, n - k)?);
    } else {
        path(source, m - k, start + k, n - k, out)?;
        out.push(range_hash(source, start, k)?);
    }
    Ok(())
}

/// The consistency proof that the tree of the first `new_size` leaves extends
/// the tree of the first `old_size`: `PROOF(old_size, D[new_size])` of RFC
/// 9162 §2.1.4.1. Empty when `old_size` is 0 or equal to `new_size`, where
/// there is nothing to prove.
pub fn consistency_proof<S: HashSource + ?Sized>(
    source: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if old_size > new_size {
        return Err(ProofError::Shrinks {
            old: old_size,
            new: new_size,
        });
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < new_size {
        subproof(source, old_size, 0, new_size, true, &mut proof).map_err(ProofError::Source)?;
    }
    Ok(proof)
}

/// `SUBPROOF(m, D[start..start + n], b)`. `b` says whether the subtree being
/// matched is still a prefix of the old tree, whose root the verifier has.
fn subproof<S: HashSource + ?Sized>(
    source: &S,
    m: u64,
    start: u64,
    n: u64,
    b: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if m == n {
        if !b {
            out.push(range_hash(source, start, n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(source, m, start, k, b, out)?;
        out.push(range_hash(source, start + k, n - k)?);
    } else {
        subproof(source, m - k, start + k, n - k, false, out)?;
        out.push(range_hash(source, start, k)?);
    }
    Ok(())
}

/// Checks an inclusion proof, by the algorithm of RFC 9162 §2.1.3.2: that
/// `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// Checks a consistency proof, by the algorithm of RFC 9162 §2.1.4.2: that
/// the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root`.
///
/// The RFC covers `0 < old_size < new_size`. For equal sizes the proof must
/// be empty and the roots equal; every tree extends the empty tree, whose
/// root must then be [`empty_root`] and whose proof is empty.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty() && *old_root == empty_root();
    }
    if proof.is_empty() {
        return false;
    }
    // When the old tree is a complete subtree the proof leaves out its root,
    // which the verifier already has.
    let implied: &[Hash] = if old_size.is_power_of_two() {
        std::slice::from_ref(old_root)
    } else {
        &[]
    };
    let mut path = implied.iter().chain(proof);
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let Some(first) = path.next() else {
        return false;
    };
    let (mut fr, mut sr) = (*first, *first);
    for c in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *old_root && sr == *new_root && sn == 0
}

/// A completed subtree created by an append: the root of leaves
/// `index << level .. (index + 1) << level`. Level 0 is the leaf itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height above the leaves.
    pub level: u32,
    /// Position within the level.
    pub index: u64,
    /// The subtree's root hash.
    pub hash: Hash,
}

/// The roots of the completed subtrees that make up a log of `size` leaves
/// (one per set bit of `size`, largest first): all a writer needs to append
/// and compute the root, in `O(log n)` hashes and memory.
///
/// INVARIANT: `peaks.len() == size.count_ones()`, and `peaks[i]` is the root
/// of the `i`-th complete subtree from the left. Upheld by [`Frontier::new`],
/// [`Frontier::load`] and [`Frontier::append_reporting`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of the first `size` leaves from storage, reading
    /// one subtree root per set bit of `size` (cheap when storage keeps the
    /// completed subtrees that [`Frontier::append_reporting`] reports).
    pub fn load<S: HashSource + ?Sized>(source: &S, size: u64) -> Result<Self, S::Error> {
        let mut peaks = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if (size >> level) & 1 == 1 {
                peaks.push(source.subtree(level, start >> level)?);
                start += 1 << level;
            }
        }
        // INVARIANT: one peak per set bit, left to right.
        Ok(Self { size, peaks })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree of all leaves appended so far.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        match peaks.next() {
            None => empty_root(),
            Some(last) => peaks.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Appends a leaf hash.
    pub fn append(&mut self, leaf: Hash) {
        self.append_reporting(leaf, |_| {});
    }

    /// Appends a leaf hash and reports every subtree it completes, lowest
    /// first: the leaf itself (level 0), then each node that it closes.
    /// Storage that keeps these can serve proofs and [`Frontier::load`]
    /// without rereading leaves.
    pub fn append_reporting(&mut self, leaf: Hash, mut on_node: impl FnMut(Node)) {
        let mut hash = leaf;
        on_node(Node {
            level: 0,
            index: self.size,
            hash,
        });
        // Each trailing one bit of the old size is a peak of the same height
        // as the subtree being built, so the two merge.
        let merges = self.size.trailing_ones() as usize;
        let keep = self.peaks.len().saturating_sub(merges);
        for (left, level) in self.peaks.drain(keep..).rev().zip(1u32..) {
            hash = node_hash(&left, &hash);
            on_node(Node {
                level,
                index: self.size >> level,
                hash,
            });
        }
        self.peaks.push(hash);
        self.size += 1;
        // INVARIANT: `merges` peaks became one, and size gained one: the
        // trailing ones of the old size became zeros and the next bit a one.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        let cases = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ];
        for (n, k) in cases {
            assert_eq!(split(n), k, "split({n})");
        }
        assert_eq!(split(u64::MAX), 1 << 63);
    }

    #[test]
    fn rfc_6962_known_roots() {
        // The empty root and the one-leaf root are fixed by the RFC; the
        // values are SHA-256("") and SHA-256(0x00).
        assert_eq!(
            empty_root().to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            leaf_hash(b"").to_string(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let l = leaves(3);
        let expected = node_hash(&node_hash(&l[0], &l[1]), &l[2]);
        assert_eq!(root(&l[..], 3).unwrap(), expected);
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut concat = Vec::new();
        concat.extend_from_slice(a.as_bytes());
        concat.extend_from_slice(b.as_bytes());
        assert_ne!(leaf_hash(&concat), node_hash(&a, &b));
    }

    #[test]
    fn missing_leaves_are_reported() {
        let l = leaves(3);
        assert_eq!(
            root(&l[..], 5).unwrap_err(),
            NotStored { level: 0, index: 3 }
        );
        assert!(matches!(
            inclusion_proof(&l[..], 3, 3),
            Err(ProofError::OutOfRange { index: 3, size: 3 })
        ));
        assert!(matches!(
            consistency_proof(&l[..], 3, 2),
            Err(ProofError::Shrinks { old: 3, new: 2 })
        ));
    }

    #[test]
    fn frontier_reports_each_completed_subtree_once() {
        let mut f = Frontier::new();
        let mut reported = Vec::new();
        for (i, leaf) in leaves(8).into_iter().enumerate() {
            f.append_reporting(leaf, |n| reported.push((i, n.level, n.index)));
        }
        let expected = [
            (0, 0, 0),
            (1, 0, 1),
            (1, 1, 0),
            (2, 0, 2),
            (3, 0, 3),
            (3, 1, 1),
            (3, 2, 0),
            (4, 0, 4),
            (5, 0, 5),
            (5, 1, 2),
            (6, 0, 6),
            (7, 0, 7),
            (7, 1, 3),
            (7, 2, 1),
            (7, 3, 0),
        ];
        assert_eq!(reported, expected);
    }
}
