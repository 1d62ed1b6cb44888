//! The archive's hash trees in S3, in the tiles of the RocksDB store (see
//! `tree`): one object per tile of [`TILE`] nodes, per tile of
//! [`SEQ_TILE`] leaf keys, per data-object group and per token, under
//! `trees/<id>/`, and a marker `tree-ids/<id>` written last (what
//! [`TreeStore::tree_ids`] lists: a tree whose marker is missing was not
//! finished). Every object is written with an Object Lock retention up to
//! [`S3Store::evidence_until`]: at least `evidence_retention_days`, and at
//! least the latest retention date of any version the store has been told
//! of, so that a tree outlives everything it proves. A tree written again
//! (a batch rebuilt after a crash before the catalog recorded it) becomes a
//! new S3 version of each key; readers see the latest, the old ones stay
//! retained, unread.

use futures_util::stream::{self, StreamExt, TryStreamExt};

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use bewahr_core::hashtree::{level_sizes, sibling_positions, HashTree};

use super::contract::TreeStore;
use super::s3::{failed, S3Store};
use super::tree::{StoredTree, SEQ_TILE, TILE};
use super::{corrupt, StoreError};

impl S3Store {
    fn tree_key(&self, id: u64, rest: &str) -> String {
        self.key(&format!("trees/{id:016x}/{rest}"))
    }

    fn node_key(&self, id: u64, level: usize, tile: usize) -> String {
        self.tree_key(id, &format!("n/{level:02x}/{tile:08x}"))
    }

    fn seq_key(&self, id: u64, tile: usize) -> String {
        self.tree_key(id, &format!("k/{tile:08x}"))
    }

    fn seq_index_key(&self, id: u64) -> String {
        self.tree_key(id, "k/index")
    }

    fn marker_key(&self, id: u64) -> String {
        self.key(&format!("tree-ids/{id:016x}"))
    }

    /// Writes evidence objects, `concurrency` at a time, each retained
    /// until [`S3Store::evidence_until`]; durable when it returns.
    async fn put_evidence(&self, items: Vec<(String, Vec<u8>)>) -> Result<(), StoreError> {
        let until = DateTime::from_secs(self.evidence_until());
        let mode = self.object_mode();
        stream::iter(items)
            .map(|(key, body)| {
                let (c, b, mode) = (&self.inner.client, &self.inner.bucket, mode.clone());
                async move {
                    c.put_object()
                        .bucket(b)
                        .key(&key)
                        .object_lock_mode(mode)
                        .object_lock_retain_until_date(until)
                        .body(ByteStream::from(body))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| failed("PutObject", &key, e))
                }
            })
            .buffer_unordered(self.inner.concurrency)
            .try_collect()
            .await
    }

    /// Reads objects, `concurrency` at a time, in the order asked.
    async fn get_all(&self, keys: Vec<String>) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        stream::iter(keys)
            .map(|key| async move {
                Ok::<_, StoreError>(
                    Self::get(&self.inner.client, &self.inner.bucket, &key, None)
                        .await?
                        .map(|(v, _)| v),
                )
            })
            .buffered(self.inner.concurrency)
            .try_collect()
            .await
    }

    async fn get_one(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_all(vec![key]).await?.pop().flatten())
    }

    async fn seq_index(&self, id: u64) -> Result<Option<Vec<i64>>, StoreError> {
        let key = self.seq_index_key(id);
        let Some(v) = self.get_one(key.clone()).await? else {
            return Ok(None);
        };
        if v.is_empty() || v.len() % 8 != 0 {
            return Err(corrupt(key.as_bytes(), "malformed leaf index"));
        }
        Ok(Some(seqs(&v)))
    }
}

fn seqs(v: &[u8]) -> Vec<i64> {
    v.chunks_exact(8)
        .map(|c| i64::from_be_bytes(c.try_into().expect("8")))
        .collect()
}

impl TreeStore for S3Store {
    fn put_tree(&self, id: u64, tree: &HashTree, keys: &[i64]) -> Result<(), StoreError> {
        let width = tree.algorithm().output_len();
        let mut items = Vec::new();
        for (level, bytes) in tree.levels().enumerate() {
            for (t, tile) in bytes.chunks(TILE * width).enumerate() {
                items.push((self.node_key(id, level, t), tile.to_vec()));
            }
        }
        let mut index = Vec::with_capacity(keys.len().div_ceil(SEQ_TILE) * 8);
        for (t, tile) in keys.chunks(SEQ_TILE).enumerate() {
            index.extend_from_slice(&tile[0].to_be_bytes());
            items.push((
                self.seq_key(id, t),
                tile.iter().flat_map(|s| s.to_be_bytes()).collect(),
            ));
        }
        let me = self.clone();
        let last = vec![
            (self.seq_index_key(id), index),
            (self.marker_key(id), vec![]),
        ];
        self.block(async move {
            me.put_evidence(items).await?;
            // the index and the marker once every tile is there
            me.put_evidence(last).await
        })
    }

    fn put_groups(&self, id: u64, groups: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
        let items = groups
            .iter()
            .map(|(seq, m)| {
                (
                    self.tree_key(id, &format!("g/{:016x}", *seq as u64)),
                    m.clone(),
                )
            })
            .collect();
        let me = self.clone();
        self.block(async move { me.put_evidence(items).await })
    }

    fn group(&self, id: u64, key: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let (me, k) = (
            self.clone(),
            self.tree_key(id, &format!("g/{:016x}", key as u64)),
        );
        self.block(async move { me.get_one(k).await })
    }

    fn tree_keys(&self, id: u64) -> Result<Vec<i64>, StoreError> {
        let me = self.clone();
        self.block(async move {
            let Some(index) = me.seq_index(id).await? else {
                return Ok(vec![]);
            };
            let keys: Vec<String> = (0..index.len()).map(|t| me.seq_key(id, t)).collect();
            let tiles = me.get_all(keys.clone()).await?;
            let mut out = Vec::with_capacity(index.len() * SEQ_TILE);
            for (k, v) in keys.iter().zip(tiles) {
                let v = v.ok_or_else(|| corrupt(k.as_bytes(), "missing leaf tile"))?;
                out.extend(seqs(&v));
            }
            Ok(out)
        })
    }

    fn leaf_index(&self, id: u64, key: i64) -> Result<Option<usize>, StoreError> {
        let me = self.clone();
        self.block(async move {
            let Some(firsts) = me.seq_index(id).await? else {
                return Ok(None);
            };
            let t = match firsts.binary_search(&key) {
                Ok(t) => t,
                Err(0) => return Ok(None),
                Err(t) => t - 1,
            };
            let k = me.seq_key(id, t);
            let tile = me
                .get_one(k.clone())
                .await?
                .ok_or_else(|| corrupt(k.as_bytes(), "missing leaf tile"))?;
            Ok(seqs(&tile)
                .binary_search(&key)
                .ok()
                .map(|i| t * SEQ_TILE + i))
        })
    }

    fn path(&self, tree: &StoredTree, i: usize) -> Result<(Vec<u8>, Vec<Vec<u8>>), StoreError> {
        let w = tree.width;
        let mut wanted: Vec<(usize, usize)> = vec![(0, i)];
        wanted.extend(sibling_positions(tree.leaves, i));
        let sizes = level_sizes(tree.leaves);
        let keys: Vec<String> = wanted
            .iter()
            .map(|&(l, j)| self.node_key(tree.batch, l, j / TILE))
            .collect();
        let me = self.clone();
        let got = self.block(async move { me.get_all(keys).await })?;
        let mut out = Vec::with_capacity(wanted.len());
        for ((l, j), v) in wanted.iter().zip(got) {
            let key = self.node_key(tree.batch, *l, j / TILE);
            let v = v.ok_or_else(|| corrupt(key.as_bytes(), "missing tree tile"))?;
            let off = (j % TILE) * w;
            if *j >= sizes[*l] || v.len() < off + w {
                return Err(corrupt(key.as_bytes(), "short tree tile"));
            }
            out.push(v[off..off + w].to_vec());
        }
        let leaf = out.remove(0);
        Ok((leaf, out))
    }

    fn put_token(&self, id: u64, token: &[u8]) -> Result<(), StoreError> {
        let (me, items) = (
            self.clone(),
            vec![(self.tree_key(id, "token"), token.to_vec())],
        );
        self.block(async move { me.put_evidence(items).await })
    }

    fn token(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let (me, k) = (self.clone(), self.tree_key(id, "token"));
        self.block(async move { me.get_one(k).await })
    }

    fn tree_ids(&self) -> Result<Vec<u64>, StoreError> {
        let me = self.clone();
        let prefix = self.key("tree-ids/");
        self.block(async move {
            let (c, b) = (&me.inner.client, &me.inner.bucket);
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = c
                    .list_objects_v2()
                    .bucket(b)
                    .prefix(&prefix)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| failed("ListObjectsV2", &prefix, e))?;
                for o in page.contents() {
                    let k = o.key().unwrap_or_default();
                    let id = k
                        .strip_prefix(prefix.as_str())
                        .and_then(|h| u64::from_str_radix(h, 16).ok())
                        .ok_or_else(|| corrupt(k.as_bytes(), "not a tree marker"))?;
                    out.push(id);
                }
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => break,
                }
            }
            out.sort_unstable();
            Ok(out)
        })
    }

    fn evidence_at_least(&self, until: i64) {
        self.inner
            .horizon
            .fetch_max(until, std::sync::atomic::Ordering::SeqCst);
    }

    fn stored_tree(&self, id: u64) -> Result<Option<StoredTree>, StoreError> {
        let me = self.clone();
        self.block(async move {
            let Some(index) = me.seq_index(id).await? else {
                return Ok(None);
            };
            let tiles = index.len();
            let (lkey, nkey) = (me.seq_key(id, tiles - 1), me.node_key(id, 0, 0));
            let mut got = me.get_all(vec![lkey.clone(), nkey.clone()]).await?;
            let first = got
                .pop()
                .flatten()
                .ok_or_else(|| corrupt(nkey.as_bytes(), "missing tree tile"))?;
            let last = got
                .pop()
                .flatten()
                .ok_or_else(|| corrupt(lkey.as_bytes(), "missing leaf tile"))?;
            let leaves = (tiles - 1) * SEQ_TILE + last.len() / 8;
            let in_tile = leaves.min(TILE);
            if leaves == 0 || first.is_empty() || first.len() % in_tile != 0 {
                return Err(corrupt(
                    nkey.as_bytes(),
                    "tree tile does not fit the leaf count",
                ));
            }
            Ok(Some(StoredTree {
                batch: id,
                leaves,
                width: first.len() / in_tile,
            }))
        })
    }
}
