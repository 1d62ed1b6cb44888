//! Evidence on demand: the RFC 4998 record of an object version, built from
//! the catalog's trees (their time-stamps and links) and the store's tree
//! tiles. Nothing per object is pre-rendered.
//!
//! A version's record: chain 1 starts at the batch that sealed it and goes
//! on through each time-stamp renewal tree that renewed its last tree
//! (`renewed_by`); when a hash-tree renewal started a new chain
//! (`rehashed_by` on the chain's first tree), the chain stops at
//! `chain_end` and the next one starts at the renewal tree, as long as the
//! version is one of its leaves. A leaf that renewal could not rehash is
//! held on its chain (`held_leaves`): for it the chain stays open past
//! `chain_end`, until a later hash-tree renewal rehashes it; that one's
//! tree and chain end are in its held row.
//!
//! The audit head a batch sealed as leaf 0 (key 0) has a record too
//! ([`Evidence::audit_head_record`]): in hash-tree renewal trees its key is
//! -(batch id) ([`leaf_key`]), as versions' seqs are positive.
//!
//! Invariant: the bytes of a record's ArchiveTimeStampSequence up to a
//! hash-tree renewal never change (the renewal hashed them); so the
//! encoding here must stay as it is, and a closed chain is never extended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::catalog::{Catalog, CatalogError, Location, Tree, TreeKind};
use crate::store::{Store, StoreError, StoredTree};
use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::ers::{encode_archive_time_stamp, encode_record, encode_sequence};
use bewahr_core::hashtree::{assemble_reduced, bridged_head, bridged_leaf, hash_sorted};

/// Why no evidence record.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("no such archive object or version")]
    NotFound,
    #[error("the version is pending: its batch is not sealed yet")]
    Pending { seq: i64 },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("evidence for seq {seq}: {detail}")]
    Inconsistent { seq: i64, detail: String },
}

/// One archive time-stamp of a version's record: the tree, and the leaf key
/// that leads into it (the version's seq, or the previous tree's id).
#[derive(Clone)]
pub struct Step {
    pub tree: Arc<Tree>,
    pub key: i64,
}

/// A version's archive time-stamps, chain by chain, before encoding.
pub type ChainPlan = Vec<Vec<Step>>;

/// A version's archive time-stamps, encoded.
#[derive(Clone, Debug)]
pub struct Chains {
    /// The chains' digest algorithms, in order.
    pub algorithms: Vec<DigestAlgorithm>,
    /// The DER of each archive time-stamp, chain by chain.
    pub chains: Vec<Vec<Vec<u8>>>,
    /// The id of the last tree of the last chain.
    pub last_tree: i64,
    /// For each chain after the first (each started by a hash-tree
    /// renewal): the data objects' plain hashes under its algorithm if the
    /// renewal was bridged (empty if not). The RFC 6283 form needs them
    /// (`bewahr_xmlsig::ers::from_der`); the DER record does not carry them.
    pub rehashed: Vec<Vec<Vec<u8>>>,
}

impl Chains {
    /// The DER ArchiveTimeStampSequence.
    pub fn sequence(&self) -> Vec<u8> {
        encode_sequence(&self.chains)
    }
    /// The DER evidence record.
    pub fn record(&self) -> Vec<u8> {
        encode_record(&self.algorithms, &self.sequence())
    }
}

/// The key of a leaf in hash-tree renewal trees and in `held_leaves`: a
/// version's seq, or for the audit head batch `batch_id` sealed (seq 0 in
/// the batch) -(batch id).
pub fn leaf_key(seq: i64, batch_id: i64) -> i64 {
    if seq == 0 {
        -batch_id
    } else {
        seq
    }
}

/// Builds evidence records; keeps recently used trees (their time-stamps
/// and links) in memory. Renewal calls [`Evidence::invalidate`] after it
/// links trees; renewals of other nodes are noticed through the catalog's
/// links generation, read at most every [`LINKS_CHECK`].
#[derive(Clone)]
pub struct Evidence {
    catalog: Catalog,
    store: Store,
    trees: Arc<Mutex<HashMap<i64, Arc<Tree>>>>,
    /// The links generation the cache holds, and when it was last compared.
    links: Arc<Mutex<(i64, Option<std::time::Instant>)>>,
}

/// How stale a node's view of another node's renewal may be.
pub const LINKS_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

const TREE_CACHE: usize = 4096;

fn inconsistent(seq: i64, detail: impl Into<String>) -> EvidenceError {
    EvidenceError::Inconsistent {
        seq,
        detail: detail.into(),
    }
}

impl Evidence {
    pub fn new(catalog: Catalog, store: Store) -> Self {
        Evidence {
            catalog,
            store,
            trees: Arc::new(Mutex::new(HashMap::new())),
            links: Arc::new(Mutex::new((0, None))),
        }
    }

    /// Forgets cached trees (their links changed).
    pub fn invalidate(&self) {
        if let Ok(mut m) = self.trees.lock() {
            m.clear();
        }
    }

    /// Forgets cached trees if another node's renewal changed links since
    /// the last look (at most every [`LINKS_CHECK`]).
    async fn follow_links(&self) -> Result<(), EvidenceError> {
        let due = self
            .links
            .lock()
            .map(|l| l.1.is_none_or(|at| at.elapsed() >= LINKS_CHECK))
            .unwrap_or(true);
        if !due {
            return Ok(());
        }
        let g = self.catalog.links_generation().await?;
        let changed = match self.links.lock() {
            Ok(mut l) => {
                let changed = l.0 != g;
                *l = (g, Some(std::time::Instant::now()));
                changed
            }
            Err(_) => true,
        };
        if changed {
            self.invalidate();
        }
        Ok(())
    }

    /// A tree, from the cache or the catalog.
    pub async fn tree(&self, id: i64) -> Result<Arc<Tree>, EvidenceError> {
        self.follow_links().await?;
        if let Some(t) = self.trees.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(t);
        }
        let t = Arc::new(
            self.catalog
                .tree(id)
                .await?
                .ok_or_else(|| inconsistent(id, "tree row missing"))?,
        );
        if let Ok(mut m) = self.trees.lock() {
            if m.len() >= TREE_CACHE {
                m.clear();
            }
            m.insert(id, t.clone());
        }
        Ok(t)
    }

    /// The trees of the chain that starts at `start` under leaf key `key`,
    /// up to `end` (the chain's end where a hash-tree renewal closed it for
    /// this leaf) or to its last tree.
    async fn chain_from(
        &self,
        start: Arc<Tree>,
        key: i64,
        end: Option<i64>,
        seq: i64,
    ) -> Result<Vec<Step>, EvidenceError> {
        let mut steps = vec![Step {
            tree: start.clone(),
            key,
        }];
        let mut cur = start;
        while Some(cur.link.id) != end {
            let Some(next) = cur.link.renewed_by else {
                break;
            };
            let t = self.tree(next).await?;
            steps.push(Step {
                tree: t.clone(),
                key: cur.link.id,
            });
            cur = t;
        }
        if let Some(end) = end {
            if cur.link.id != end {
                return Err(inconsistent(
                    seq,
                    format!(
                        "chain of tree {} does not reach its end {end}",
                        steps[0].tree.link.id
                    ),
                ));
            }
        }
        Ok(steps)
    }

    /// Every chain that may hold `seq`, from the batch that sealed it
    /// (seq 0: the audit head the batch sealed as its leaf 0).
    pub async fn plan(&self, seq: i64, batch_id: i64) -> Result<ChainPlan, EvidenceError> {
        let key = leaf_key(seq, batch_id);
        let mut start = self.tree(batch_id).await?;
        let mut plan = Vec::new();
        loop {
            let held = match start.link.held {
                0 => None,
                _ => self.catalog.held_link(key, start.link.id).await?,
            };
            let next = match held {
                Some(h) => h.rehashed_by.map(|r| (r, h.chain_end)),
                None => start.link.rehashed_by.map(|r| (r, start.link.chain_end)),
            };
            let first_key = match start.link.kind {
                TreeKind::Initial => seq,
                _ => key,
            };
            let end = next.and_then(|(_, end)| end);
            plan.push(self.chain_from(start.clone(), first_key, end, seq).await?);
            match next.map(|(r, _)| r) {
                Some(h) => start = self.tree(h).await?,
                None => break,
            }
            if plan.len() > 64 {
                return Err(inconsistent(seq, "more than 64 chains: a link loop?"));
            }
        }
        Ok(plan)
    }

    /// The DER evidence record of `aoid` at `version` (`None`: the latest).
    pub async fn record(
        &self,
        aoid: &str,
        version: Option<i64>,
    ) -> Result<(Location, Vec<u8>), EvidenceError> {
        let (loc, chains) = self.chains(aoid, version).await?;
        Ok((loc, chains.record()))
    }

    /// The archive time-stamps of `aoid` at `version` (`None`: the latest),
    /// encoded, with what the RFC 6283 form needs beside them.
    pub async fn chains(
        &self,
        aoid: &str,
        version: Option<i64>,
    ) -> Result<(Location, Chains), EvidenceError> {
        let loc = self
            .catalog
            .locate(aoid, version)
            .await?
            .ok_or(EvidenceError::NotFound)?;
        let batch_id = loc
            .batch_id
            .ok_or(EvidenceError::Pending { seq: loc.seq })?;
        let plan = self.plan(loc.seq, batch_id).await?;
        let store = self.store.clone();
        let seq = loc.seq;
        let members = loc.members.clone();
        let chains =
            tokio::task::spawn_blocking(move || build_chains(&store, seq, &members, &plan))
                .await
                .map_err(|e| inconsistent(seq, e.to_string()))??;
        Ok((loc, chains))
    }

    /// The audit head batch `batch_id` sealed as its leaf 0, and its DER
    /// evidence record (every chain, through time-stamp and hash-tree renewals).
    pub async fn audit_head_record(
        &self,
        batch_id: i64,
    ) -> Result<(Vec<u8>, Vec<u8>), EvidenceError> {
        let (_, head) = self
            .catalog
            .sealed_audit_head(batch_id)
            .await?
            .ok_or(EvidenceError::NotFound)?;
        let members = self.audit_head_members(batch_id, &head).await?;
        let plan = self.plan(0, batch_id).await?;
        let store = self.store.clone();
        let der = tokio::task::spawn_blocking(move || {
            build_chains(&store, 0, &members, &plan).map(|c| c.record())
        })
        .await
        .map_err(|e| inconsistent(0, e.to_string()))??;
        Ok((head, der))
    }

    /// Leaf 0 of batch `batch_id` as sealed: the hash of the audit head in the batch's algorithm.
    pub async fn audit_head_members(
        &self,
        batch_id: i64,
        head: &[u8],
    ) -> Result<Vec<u8>, EvidenceError> {
        let batch = self.tree(batch_id).await?;
        let alg = DigestAlgorithm::from_name(&batch.link.digest_algorithm)
            .map_err(|e| inconsistent(0, e.to_string()))?;
        Ok(alg.digest(head))
    }
}

/// The members of a time-stamp renewal tree's leaf for the chain whose
/// last token was `prev`: `None` for a leaf that is the hash of the token's
/// DER (renewals before they were bridged), the group {H(DER),
/// H(C14N of its RFC 6283 `<TimeStamp>`)} for a bridged one (see
/// `renewal::run::run_timestamp`). Derived from the token rather than
/// stored: it costs a hash of a few kilobytes, where a stored group costs
/// a read (an S3 request) per renewal of every record built.
fn renewal_group(
    alg: DigestAlgorithm,
    prev: &[u8],
    leaf: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    // the pair of `bewahr_xmlsig::ers::renewal_bridge`, its second hash
    // only for a leaf that is not the first (earlier renewals)
    let a = alg.digest(prev);
    if a == leaf {
        return Ok(None);
    }
    let x = bewahr_xmlsig::ers::timestamp_renewal_hash(alg, prev);
    if hash_sorted(alg, &[&a, &x]) != leaf {
        return Err("the leaf of the renewed time-stamp is neither its hash nor the bridged pair of its hashes".into());
    }
    Ok(Some([a, x].concat()))
}

/// The stored group of a leaf of a bridged hash-tree renewal
/// (`renewal::run`, `docs/research/rfc6283.md` section 3): the renewed
/// values p_i = H'(h'(d_i) || ha) RFC 4998 covers, X (the value the RFC
/// 6283 form reaches, `bewahr_xmlsig::ers::hashtree_bridge`) and the plain
/// hashes h'(d_i) the XML form lists. In the tree store as
/// `"BRG1" || n (u32, big-endian) || p_1..p_n || X || h_1..h_n`: 8 bytes
/// and 2n+1 values, never a multiple of the width as an unbridged group
/// (its members, concatenated) is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgedGroup {
    pub renewed: Vec<Vec<u8>>,
    pub bridge: Bridge,
}

/// What bridging adds to a hash-tree renewal's leaf: X and the data
/// objects' plain hashes h'(d_i) (the result a node gives for a leaf it
/// rehashed, beside the p_i).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bridge {
    pub x: Vec<u8>,
    pub plain: Vec<Vec<u8>>,
}

const BRIDGED: &[u8; 4] = b"BRG1";

impl BridgedGroup {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = BRIDGED.to_vec();
        out.extend_from_slice(&(self.renewed.len() as u32).to_be_bytes());
        let b = &self.bridge;
        for v in self.renewed.iter().chain([&b.x]).chain(&b.plain) {
            out.extend_from_slice(v);
        }
        out
    }

    /// `None` for bytes that are not a bridged group of `width`-byte values.
    pub fn decode(bytes: &[u8], width: usize) -> Option<Self> {
        let rest = bytes.strip_prefix(BRIDGED)?;
        let (n, values) = rest.split_first_chunk::<4>()?;
        let n = u32::from_be_bytes(*n) as usize;
        if n == 0 || width == 0 || values.len() != (2 * n + 1).checked_mul(width)? {
            return None;
        }
        let mut v = values.chunks(width).map(<[u8]>::to_vec);
        let renewed = v.by_ref().take(n).collect();
        let x = v.next()?;
        Some(Self {
            renewed,
            bridge: Bridge {
                x,
                plain: v.collect(),
            },
        })
    }

    /// The leaf value the group stands for.
    pub fn leaf(&self, alg: DigestAlgorithm) -> Vec<u8> {
        let r: Vec<&[u8]> = self.renewed.iter().map(Vec::as_slice).collect();
        bridged_leaf(alg, &r, &self.bridge.x)
    }
}

/// Encodes the archive time-stamps of leaf `seq` (whose sealed data-object
/// group is `members`) along `plan`. A chain started by a hash-tree renewal
/// that left `seq` out ends the record there.
pub fn build_chains(
    store: &Store,
    seq: i64,
    members: &[u8],
    plan: &ChainPlan,
) -> Result<Chains, EvidenceError> {
    let mut out = Chains {
        algorithms: Vec::with_capacity(plan.len()),
        chains: Vec::with_capacity(plan.len()),
        last_tree: 0,
        rehashed: Vec::new(),
    };
    'chains: for (ci, chain) in plan.iter().enumerate() {
        let mut encoded = Vec::with_capacity(chain.len());
        let mut alg0 = None;
        for (si, step) in chain.iter().enumerate() {
            let t = &step.tree;
            let alg = DigestAlgorithm::from_name(&t.link.digest_algorithm)
                .map_err(|e| inconsistent(seq, e.to_string()))?;
            alg0.get_or_insert(alg);
            let w = alg.output_len();
            let Some(idx) = store.leaf_index(t.link.id as u64, step.key)? else {
                if ci > 0 && si == 0 && t.link.kind == TreeKind::Hashtree {
                    break 'chains; // not rehashed (e.g. no content to rehash)
                }
                return Err(inconsistent(
                    seq,
                    format!(
                        "key {} not in the leaf index of tree {}",
                        step.key, t.link.id
                    ),
                ));
            };
            let stored = StoredTree {
                batch: t.link.id as u64,
                leaves: t.link.leaves as usize,
                width: w,
            };
            let (leaf, siblings) = store.path(&stored, idx)?;
            let group_bytes = match t.link.kind {
                TreeKind::Initial => Some(members.to_vec()),
                TreeKind::Hashtree => store.group(t.link.id as u64, step.key)?,
                TreeKind::Timestamp => {
                    let prev =
                        si.checked_sub(1)
                            .map(|p| &chain[p].tree.token)
                            .ok_or_else(|| {
                                inconsistent(
                                    seq,
                                    format!(
                                        "chain {} starts with a time-stamp renewal tree",
                                        ci + 1
                                    ),
                                )
                            })?;
                    renewal_group(alg, prev, &leaf)
                        .map_err(|e| inconsistent(seq, format!("tree {}: {e}", t.link.id)))?
                }
            };
            let bridged = match (&group_bytes, t.link.kind) {
                (Some(g), TreeKind::Hashtree) => BridgedGroup::decode(g, w),
                _ => None,
            };
            let reduced = match &bridged {
                Some(b) => {
                    if b.leaf(alg) != leaf {
                        return Err(inconsistent(
                            seq,
                            format!(
                                "tree {}: the leaf is not that of its stored bridged group",
                                t.link.id
                            ),
                        ));
                    }
                    let r: Vec<&[u8]> = b.renewed.iter().map(Vec::as_slice).collect();
                    let mut lists = bridged_head(&r, &b.bridge.x);
                    lists.extend(siblings.iter().map(|s| vec![s.as_slice()]));
                    Some(lists)
                }
                None => {
                    let group: Option<Vec<&[u8]>> = match &group_bytes {
                        Some(g) if g.len() > w && g.len() % w == 0 => Some(g.chunks(w).collect()),
                        _ => None,
                    };
                    assemble_reduced(
                        &leaf,
                        group,
                        siblings.iter().map(|s| s.as_slice()).collect(),
                    )
                }
            };
            encoded.push(encode_archive_time_stamp(alg, reduced.as_deref(), &t.token));
            if si == 0 && ci > 0 {
                // a hash-tree renewal: its plain hashes if it was bridged
                out.rehashed
                    .push(bridged.map(|b| b.bridge.plain).unwrap_or_default());
            }
            out.last_tree = t.link.id;
        }
        out.algorithms.push(alg0.expect("a chain has a tree"));
        out.chains.push(encoded);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A renewal leaf is read as what it is: the hash of the token (before
    /// renewals were bridged), the bridged pair, or neither (an error).
    #[test]
    fn time_stamp_renewal_leaves_are_told_apart() {
        let alg = DigestAlgorithm::Sha256;
        let token = b"\x30\x03\x02\x01\x07";
        let a = alg.digest(token);
        assert_eq!(renewal_group(alg, token, &a), Ok(None));
        let x = bewahr_xmlsig::ers::timestamp_renewal_hash(alg, token);
        let leaf = hash_sorted(alg, &[&x, &a]);
        assert_eq!(
            renewal_group(alg, token, &leaf),
            Ok(Some([a.clone(), x].concat()))
        );
        assert!(renewal_group(alg, token, &alg.digest(b"other")).is_err());
        assert!(renewal_group(alg, b"another token", &leaf).is_err());
    }

    /// A bridged group reads back as written, and is never taken for an
    /// unbridged one (its members concatenated) or the other way round.
    #[test]
    fn bridged_groups_are_told_from_plain_ones() {
        for alg in [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ] {
            let w = alg.output_len();
            for n in 1..=4u8 {
                let v = |k: u8| alg.digest(&[n, k]);
                let g = BridgedGroup {
                    renewed: (0..n).map(v).collect(),
                    bridge: Bridge {
                        x: v(100),
                        plain: (0..n).map(|k| v(200 + k)).collect(),
                    },
                };
                let bytes = g.encode();
                assert_ne!(bytes.len() % w, 0);
                assert_eq!(BridgedGroup::decode(&bytes, w), Some(g.clone()));
                // cut, or read with another width: not a bridged group
                assert_eq!(BridgedGroup::decode(&bytes[..bytes.len() - 1], w), None);
                assert_eq!(BridgedGroup::decode(&bytes, w + 16), None);
                // members concatenated, even starting with the tag: not one
                let plain = g.renewed.concat();
                assert_eq!(BridgedGroup::decode(&plain, w), None);
                let mut tagged = b"BRG1".to_vec();
                tagged.resize(w * 3, 0);
                assert_eq!(BridgedGroup::decode(&tagged, w), None);
            }
        }
    }
}
