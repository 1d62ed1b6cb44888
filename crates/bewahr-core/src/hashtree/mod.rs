//! RFC 4998 section 4 hash trees.
//!
//! A node's value is the hash of the binary-ascending concatenation of its
//! children's values; an odd node at the end of a level moves up unchanged
//! (that level is then absent from its reduced hash tree). A data-object group
//! (several hashes for one archived object) is one leaf whose value is the
//! hash of its sorted members.
//!
//! Leaves stay in the order given (a batch's tree can be rebuilt from the
//! catalog's ordered list). All levels live in one flat buffer: a tree over
//! n SHA-256 leaves takes 64·n bytes.

mod fast;
mod verify;

pub use verify::{root_from_reduced, Reading, ReducedTreeError};

use crate::alg::DigestAlgorithm;
use std::collections::BTreeMap;

/// A hash tree over leaves, with every level kept for extracting reduced trees.
pub struct HashTree {
    alg: DigestAlgorithm,
    width: usize,
    /// All levels, leaves first, each node `width` bytes.
    nodes: Vec<u8>,
    /// (start node index, node count) of each level, leaves first.
    levels: Vec<(usize, usize)>,
    /// Members of the leaves that are data-object groups of more than one hash, sorted.
    groups: BTreeMap<usize, Vec<Vec<u8>>>,
}

/// What went wrong building a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("a hash tree needs at least one leaf")]
    Empty,
    #[error("leaf {index}: a {alg} hash has {expected} bytes, got {got}")]
    WrongLength {
        index: usize,
        alg: DigestAlgorithm,
        expected: usize,
        got: usize,
    },
    #[error("leaf {index}: a data-object group needs at least one member")]
    EmptyGroup { index: usize },
    #[error("leaf {index} does not exist: the tree has {leaves} leaves")]
    NoSuchLeaf { index: usize, leaves: usize },
}

/// Hashes the sorted concatenation of two equally long values into `out`.
#[inline]
pub fn hash_pair(alg: DigestAlgorithm, a: &[u8], b: &[u8], out: &mut [u8]) {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    match alg {
        DigestAlgorithm::Sha256 if lo.len() == 32 && hi.len() == 32 => {
            fast::sha256_pair(lo, hi, out)
        }
        DigestAlgorithm::Sha512 if lo.len() == 64 && hi.len() == 64 => {
            fast::sha512_pair(lo, hi, out)
        }
        _ => out.copy_from_slice(&alg.digest_parts(&[lo, hi])),
    }
}

/// Hashes the binary-ascending concatenation of any number of values.
pub fn hash_sorted(alg: DigestAlgorithm, values: &[&[u8]]) -> Vec<u8> {
    let mut v: Vec<&[u8]> = values.to_vec();
    v.sort_unstable();
    alg.digest_parts(&v)
}

impl HashTree {
    /// Builds a tree over leaves that are one hash each.
    pub fn from_hashes<I, H>(alg: DigestAlgorithm, leaves: I) -> Result<Self, TreeError>
    where
        I: IntoIterator<Item = H>,
        I::IntoIter: ExactSizeIterator,
        H: AsRef<[u8]>,
    {
        let iter = leaves.into_iter();
        let n = iter.len();
        let mut b = TreeBuilder::with_capacity(alg, n);
        for h in iter {
            b.push(h.as_ref())?;
        }
        b.build()
    }

    /// Builds a tree over leaves that may be data-object groups.
    pub fn from_groups(alg: DigestAlgorithm, leaves: &[Vec<Vec<u8>>]) -> Result<Self, TreeError> {
        let mut b = TreeBuilder::with_capacity(alg, leaves.len());
        for g in leaves {
            b.push_group(g.iter().map(|m| m.as_slice()))?;
        }
        b.build()
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.alg
    }

    pub fn leaf_count(&self) -> usize {
        self.levels[0].1
    }

    fn node(&self, level: usize, i: usize) -> &[u8] {
        let start = (self.levels[level].0 + i) * self.width;
        &self.nodes[start..start + self.width]
    }

    /// The value of leaf `i` (for a group, the hash of its sorted members).
    pub fn leaf(&self, i: usize) -> &[u8] {
        self.node(0, i)
    }

    /// The root: what the archive time-stamp's message imprint covers.
    pub fn root(&self) -> &[u8] {
        self.node(self.levels.len() - 1, 0)
    }

    /// Bytes of heap this tree holds (for the memory-per-leaf figure).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() + self.levels.capacity() * 16
    }

    /// The reduced hash tree of leaf `i`, as RFC 4998 section 4.2 lists it.
    ///
    /// For a single-hash leaf it has the shape `[{h(d), sibling}, {sibling}, ...]`,
    /// which both readings of section 4.3 accept; for a group,
    /// `[{members...}, {sibling}, ...]`. `None` when the tree is that one leaf
    /// and the leaf is one hash: the time-stamp then covers h(d) directly.
    pub fn reduced(&self, i: usize) -> Result<Option<Vec<Vec<&[u8]>>>, TreeError> {
        let n = self.leaf_count();
        if i >= n {
            return Err(TreeError::NoSuchLeaf {
                index: i,
                leaves: n,
            });
        }
        let siblings = sibling_positions(n, i)
            .into_iter()
            .map(|(l, j)| self.node(l, j))
            .collect();
        let members = self
            .groups
            .get(&i)
            .map(|m| m.iter().map(|x| x.as_slice()).collect());
        Ok(assemble_reduced(self.leaf(i), members, siblings))
    }

    /// Every level, leaves first, as a flat buffer of `width`-byte nodes.
    pub fn levels(&self) -> impl Iterator<Item = &[u8]> {
        self.levels.iter().map(move |&(start, count)| {
            &self.nodes[start * self.width..(start + count) * self.width]
        })
    }
}

/// Node counts of each level of a tree over `n` leaves, leaves first.
pub fn level_sizes(mut n: usize) -> Vec<usize> {
    let mut v = vec![n];
    while n > 1 {
        n = n.div_ceil(2);
        v.push(n);
    }
    v
}

/// The (level, index) of each sibling on the path of leaf `i` up to the root,
/// lowest first; levels where the node is the odd one out have none.
pub fn sibling_positions(n: usize, i: usize) -> Vec<(usize, usize)> {
    let sizes = level_sizes(n);
    let mut out = Vec::with_capacity(sizes.len());
    let mut idx = i;
    for (level, &count) in sizes.iter().enumerate().take(sizes.len() - 1) {
        let sib = idx ^ 1;
        if sib < count {
            out.push((level, sib));
        }
        idx /= 2;
    }
    out
}

/// A reduced hash tree from a leaf (or its group's members) and its siblings
/// in [`sibling_positions`] order; `None` for a lone single-hash leaf.
pub fn assemble_reduced<'a>(
    leaf: &'a [u8],
    members: Option<Vec<&'a [u8]>>,
    siblings: Vec<&'a [u8]>,
) -> Option<Vec<Vec<&'a [u8]>>> {
    let mut lists = Vec::with_capacity(siblings.len() + 1);
    let mut rest = siblings.into_iter();
    match members {
        Some(mut m) => {
            m.sort_unstable();
            lists.push(m);
        }
        None => {
            let mut first = vec![leaf, rest.next()?];
            first.sort_unstable();
            lists.push(first);
        }
    }
    lists.extend(rest.map(|s| vec![s]));
    Some(lists)
}

/// The leaf of a bridged hash-tree renewal (`docs/research/rfc6283.md`
/// section 3), which both the RFC 4998 and the RFC 6283 form of a record
/// reach: H(sort(X, Y)), where Y is what RFC 4998 reaches from the data
/// objects' renewed values `renewed` (p_i = H'(h'(d_i) || ha)): p_1 for
/// one, H'(sort(p_1..p_n)) for a group; X is the value the XML form
/// reaches from its own first sequence (`bewahr_xmlsig::ers::hashtree_bridge`).
pub fn bridged_leaf(alg: DigestAlgorithm, renewed: &[&[u8]], x: &[u8]) -> Vec<u8> {
    let y = match renewed {
        [one] => one.to_vec(),
        _ => hash_sorted(alg, renewed),
    };
    hash_sorted(alg, &[x, &y])
}

/// The first lists of the RFC 4998 reduced tree of a [`bridged_leaf`],
/// before the leaf's siblings: `[{p_1, X}]` for one data object (two
/// values, so that both readings of section 4.3 agree), `[{p_1..p_n},
/// {X}]` for a group.
pub fn bridged_head<'a>(renewed: &[&'a [u8]], x: &'a [u8]) -> Vec<Vec<&'a [u8]>> {
    let mut first = renewed.to_vec();
    let mut head = if first.len() == 1 {
        first.push(x);
        vec![]
    } else {
        vec![vec![x]]
    };
    first.sort_unstable();
    head.insert(0, first);
    head
}

/// Builds a [`HashTree`] leaf by leaf, writing each into the final buffer.
pub struct TreeBuilder {
    alg: DigestAlgorithm,
    width: usize,
    nodes: Vec<u8>,
    groups: BTreeMap<usize, Vec<Vec<u8>>>,
    count: usize,
}

/// Total nodes of all levels of a tree over `n` leaves.
fn total_nodes(n: usize) -> usize {
    level_sizes(n).iter().sum()
}

impl TreeBuilder {
    pub fn with_capacity(alg: DigestAlgorithm, leaves: usize) -> Self {
        let width = alg.output_len();
        TreeBuilder {
            alg,
            width,
            nodes: Vec::with_capacity(total_nodes(leaves.max(1)) * width),
            groups: BTreeMap::new(),
            count: 0,
        }
    }

    /// Adds a leaf that is one hash.
    pub fn push(&mut self, h: &[u8]) -> Result<(), TreeError> {
        if h.len() != self.width {
            return Err(TreeError::WrongLength {
                index: self.count,
                alg: self.alg,
                expected: self.width,
                got: h.len(),
            });
        }
        self.nodes.extend_from_slice(h);
        self.count += 1;
        Ok(())
    }

    /// Adds a leaf that is a data-object group (one member is the same as [`push`](Self::push)).
    pub fn push_group<'a>(
        &mut self,
        members: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), TreeError> {
        let mut m: Vec<&[u8]> = members.into_iter().collect();
        for h in &m {
            if h.len() != self.width {
                return Err(TreeError::WrongLength {
                    index: self.count,
                    alg: self.alg,
                    expected: self.width,
                    got: h.len(),
                });
            }
        }
        match m.len() {
            0 => Err(TreeError::EmptyGroup { index: self.count }),
            1 => self.push(m[0]),
            _ => {
                m.sort_unstable();
                let v = self.alg.digest_parts(&m);
                self.groups
                    .insert(self.count, m.iter().map(|x| x.to_vec()).collect());
                self.push(&v)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Computes every level above the leaves.
    pub fn build(mut self) -> Result<HashTree, TreeError> {
        if self.count == 0 {
            return Err(TreeError::Empty);
        }
        let w = self.width;
        let mut levels = vec![(0usize, self.count)];
        self.nodes
            .reserve_exact(total_nodes(self.count) * w - self.nodes.len());
        let (mut start, mut count) = (0usize, self.count);
        while count > 1 {
            let next_start = start + count;
            let next_count = count.div_ceil(2);
            let pairs = count / 2;
            // grow the buffer by the next level, then fill it
            let old_len = self.nodes.len();
            self.nodes.resize(old_len + next_count * w, 0);
            let (below, above) = self.nodes.split_at_mut(next_start * w);
            let src = &below[start * w..];
            match self.alg {
                DigestAlgorithm::Sha256 => fast::sha256_level(src, pairs, above),
                _ => {
                    for p in 0..pairs {
                        let a = &src[2 * p * w..(2 * p + 1) * w];
                        let b = &src[(2 * p + 1) * w..(2 * p + 2) * w];
                        hash_pair(self.alg, a, b, &mut above[p * w..(p + 1) * w]);
                    }
                }
            }
            if count % 2 == 1 {
                // the odd node moves up unchanged
                above[pairs * w..(pairs + 1) * w].copy_from_slice(&src[(count - 1) * w..count * w]);
            }
            levels.push((next_start, next_count));
            start = next_start;
            count = next_count;
        }
        Ok(HashTree {
            alg: self.alg,
            width: w,
            nodes: self.nodes,
            levels,
            groups: self.groups,
        })
    }
}

#[cfg(test)]
mod tests;
