//! The archive's hash trees in the store, in tiles: each level is cut into
//! tiles of [`TILE`] nodes, one key each, so sealing a batch of 100,000
//! leaves writes about 800 keys and an evidence record reads one tile per
//! level. Beside them, per batch, the ordered catalog sequence numbers of its
//! leaves (also in tiles, with a small index), to find a version's leaf.

use rocksdb::{WriteBatch, WriteOptions};

use super::contract::TreeStore;
use super::rocks::{RocksStore, CF_LEAVES, CF_NODES};
use super::{corrupt, StoreError};
use bewahr_core::hashtree::{level_sizes, sibling_positions, HashTree};

/// Nodes per tile.
pub const TILE: usize = 256;
/// Sequence numbers per tile of the leaf index.
pub(super) const SEQ_TILE: usize = 1024;

fn node_key(batch: u64, level: u8, tile: u32) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[..8].copy_from_slice(&batch.to_be_bytes());
    k[8] = level;
    k[9..].copy_from_slice(&tile.to_be_bytes());
    k
}

fn seq_key(batch: u64, tile: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&batch.to_be_bytes());
    k[8..].copy_from_slice(&tile.to_be_bytes());
    k
}

/// Key of a batch's seq-tile index: the first seq of every tile.
fn seq_index_key(batch: u64) -> [u8; 12] {
    seq_key(batch, u32::MAX)
}

/// Key of a leaf's data-object group: after the batch's seq tiles and index.
fn group_key(batch: u64, seq: i64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..8].copy_from_slice(&batch.to_be_bytes());
    k[8] = 0xff;
    k[9..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Key of a sealed batch's time-stamp token: beside its tree, so that the
/// store alone proves what the tree's root was when (see `audit::proof`).
fn token_key(batch: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&batch.to_be_bytes());
    k[8] = 0xfe;
    k
}

/// What the store knows of a sealed batch's tree.
#[derive(Clone, Debug)]
pub struct StoredTree {
    pub batch: u64,
    pub leaves: usize,
    pub width: usize,
}

impl TreeStore for RocksStore {
    /// Writes every level of `tree` and the sequence numbers of its leaves
    /// (in leaf order, ascending); durable when it returns. Rewriting a batch
    /// (after a crash before the catalog recorded it) overwrites it.
    fn put_tree(&self, batch: u64, tree: &HashTree, seqs: &[i64]) -> Result<(), StoreError> {
        let width = tree.algorithm().output_len();
        let mut wb = WriteBatch::default();
        let nodes = self.cf(CF_NODES);
        for (level, bytes) in tree.levels().enumerate() {
            for (t, tile) in bytes.chunks(TILE * width).enumerate() {
                wb.put_cf(nodes, node_key(batch, level as u8, t as u32), tile);
            }
        }
        let leaves = self.cf(CF_LEAVES);
        let mut index = Vec::with_capacity(seqs.len().div_ceil(SEQ_TILE) * 8);
        for (t, tile) in seqs.chunks(SEQ_TILE).enumerate() {
            index.extend_from_slice(&tile[0].to_be_bytes());
            let v: Vec<u8> = tile.iter().flat_map(|s| s.to_be_bytes()).collect();
            wb.put_cf(leaves, seq_key(batch, t as u32), v);
        }
        wb.put_cf(leaves, seq_index_key(batch), index);
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db().write_opt(wb, &wo)?;
        Ok(())
    }

    /// Writes the data-object groups of leaves whose group has more than one
    /// member (hash-tree renewal trees; a sealed batch's groups are in the
    /// catalog); durable when it returns.
    fn put_groups(&self, batch: u64, groups: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
        if groups.is_empty() {
            return Ok(());
        }
        let leaves = self.cf(CF_LEAVES);
        let mut wb = WriteBatch::default();
        for (seq, members) in groups {
            wb.put_cf(leaves, group_key(batch, *seq), members);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db().write_opt(wb, &wo)?;
        Ok(())
    }

    /// The data-object group of leaf `seq` of `batch`, if it has one of more than one member.
    fn group(&self, batch: u64, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db()
            .get_pinned_cf(self.cf(CF_LEAVES), group_key(batch, seq))?
            .map(|v| v.to_vec()))
    }

    /// The leaf keys of `batch` in leaf order (versions' seqs, or for a
    /// time-stamp renewal tree the ids of the trees it renews).
    fn tree_keys(&self, batch: u64) -> Result<Vec<i64>, StoreError> {
        let leaves = self.cf(CF_LEAVES);
        let Some(index) = self.db().get_pinned_cf(leaves, seq_index_key(batch))? else {
            return Ok(vec![]);
        };
        let tiles = index.len() / 8;
        let keys: Vec<[u8; 12]> = (0..tiles).map(|t| seq_key(batch, t as u32)).collect();
        let mut out = Vec::with_capacity(tiles * SEQ_TILE);
        for (key, v) in keys
            .iter()
            .zip(self.db().batched_multi_get_cf(leaves, &keys, false))
        {
            let v = v?.ok_or_else(|| corrupt(key, "missing leaf tile"))?;
            out.extend(
                v.chunks_exact(8)
                    .map(|c| i64::from_be_bytes(c.try_into().expect("8"))),
            );
        }
        Ok(out)
    }

    /// Keeps a sealed batch's time-stamp token (as received) beside its
    /// tree; durable when it returns. The sealer writes it right before the
    /// tree (a listed tree has its token) and the catalog records the batch last.
    fn put_token(&self, batch: u64, token: &[u8]) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db()
            .put_cf_opt(self.cf(CF_LEAVES), token_key(batch), token, &wo)?;
        Ok(())
    }

    /// The time-stamp token kept beside `batch`'s tree (`None` for renewal
    /// trees and for batches sealed before tokens were kept in the store).
    fn token(&self, batch: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db()
            .get_pinned_cf(self.cf(CF_LEAVES), token_key(batch))?
            .map(|v| v.to_vec()))
    }

    /// The ids of every tree in the store (sealed batches and renewal
    /// trees), ascending, from the store's own keys: a tree whose catalog
    /// row was removed is still listed.
    fn tree_ids(&self) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        let mut it = self.db().raw_iterator_cf(self.cf(CF_LEAVES));
        it.seek([0u8; 8]);
        while let Some(k) = it.key() {
            let Some(id) = k.get(..8) else {
                return Err(corrupt(k, "short leaf key"));
            };
            let id = u64::from_be_bytes(id.try_into().expect("8"));
            if self
                .db()
                .get_pinned_cf(self.cf(CF_LEAVES), seq_index_key(id))?
                .is_some()
            {
                out.push(id);
            }
            let Some(next) = id.checked_add(1) else {
                break;
            };
            it.seek(next.to_be_bytes());
        }
        it.status()?;
        Ok(out)
    }

    /// The shape of `batch`'s tree from the store alone: its leaf count
    /// (from the leaf index) and node width (from the first leaf tile);
    /// `None` if the store has no such tree.
    fn stored_tree(&self, batch: u64) -> Result<Option<StoredTree>, StoreError> {
        let leaves_cf = self.cf(CF_LEAVES);
        let ikey = seq_index_key(batch);
        let Some(index) = self.db().get_pinned_cf(leaves_cf, ikey)? else {
            return Ok(None);
        };
        let tiles = index.len() / 8;
        if tiles == 0 || index.len() % 8 != 0 {
            return Err(corrupt(&ikey, "malformed leaf index"));
        }
        let lkey = seq_key(batch, (tiles - 1) as u32);
        let last = self
            .db()
            .get_pinned_cf(leaves_cf, lkey)?
            .ok_or_else(|| corrupt(&lkey, "missing leaf tile"))?;
        let leaves = (tiles - 1) * SEQ_TILE + last.len() / 8;
        let nkey = node_key(batch, 0, 0);
        let first = self
            .db()
            .get_pinned_cf(self.cf(CF_NODES), nkey)?
            .ok_or_else(|| corrupt(&nkey, "missing tree tile"))?;
        let in_tile = leaves.min(TILE);
        if leaves == 0 || first.len() % in_tile != 0 || first.is_empty() {
            return Err(corrupt(&nkey, "tree tile does not fit the leaf count"));
        }
        Ok(Some(StoredTree {
            batch,
            leaves,
            width: first.len() / in_tile,
        }))
    }

    /// The leaf index of catalog sequence number `seq` in `batch`.
    fn leaf_index(&self, batch: u64, seq: i64) -> Result<Option<usize>, StoreError> {
        let leaves = self.cf(CF_LEAVES);
        let Some(index) = self.db().get_pinned_cf(leaves, seq_index_key(batch))? else {
            return Ok(None);
        };
        let firsts: Vec<i64> = index
            .chunks_exact(8)
            .map(|c| i64::from_be_bytes(c.try_into().expect("8")))
            .collect();
        let t = match firsts.binary_search(&seq) {
            Ok(t) => t,
            Err(0) => return Ok(None),
            Err(t) => t - 1,
        };
        let key = seq_key(batch, t as u32);
        let tile = self
            .db()
            .get_pinned_cf(leaves, key)?
            .ok_or_else(|| corrupt(&key, "missing leaf tile"))?;
        let seqs: Vec<i64> = tile
            .chunks_exact(8)
            .map(|c| i64::from_be_bytes(c.try_into().expect("8")))
            .collect();
        Ok(seqs.binary_search(&seq).ok().map(|i| t * SEQ_TILE + i))
    }

    /// The leaf value and the sibling values of leaf `i` in a tree of `n`
    /// leaves, in [`sibling_positions`] order.
    fn path(&self, tree: &StoredTree, i: usize) -> Result<(Vec<u8>, Vec<Vec<u8>>), StoreError> {
        let w = tree.width;
        let mut wanted: Vec<(usize, usize)> = vec![(0, i)];
        wanted.extend(sibling_positions(tree.leaves, i));
        let sizes = level_sizes(tree.leaves);
        let keys: Vec<[u8; 13]> = wanted
            .iter()
            .map(|&(l, j)| node_key(tree.batch, l as u8, (j / TILE) as u32))
            .collect();
        let nodes = self.cf(CF_NODES);
        let got = self.db().batched_multi_get_cf(nodes, &keys, false);
        let mut out = Vec::with_capacity(wanted.len());
        for (((l, j), key), v) in wanted.iter().zip(&keys).zip(got) {
            let v = v?.ok_or_else(|| corrupt(key, "missing tree tile"))?;
            let off = (j % TILE) * w;
            if *j >= sizes[*l] || v.len() < off + w {
                return Err(corrupt(key, "short tree tile"));
            }
            out.push(v[off..off + w].to_vec());
        }
        let leaf = out.remove(0);
        Ok((leaf, out))
    }
}
