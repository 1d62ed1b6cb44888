//! The storage contracts: what the archive needs of a content store and of
//! a tree store, independent of the backend. The RocksDB store
//! ([`super::RocksStore`]) implements both; an object store (S3) can too:
//! every key is a plain byte string (a SHA-256, an upload id and a chunk
//! number, a tree id and a leaf key), no backend type is in a signature, and
//! every call moves a whole value (at most [`super::CHUNK`] bytes).
//!
//! Failure semantics, for every method: `Err` means "failed, and what the
//! call wrote may or may not be there" (Sunlight's "failed but persisted"
//! is allowed); callers therefore only ever redo a call (every write is
//! idempotent) or leave what it wrote unreferenced, for the sweeper.

use bewahr_core::hashtree::HashTree;

use super::{StoreError, StoredTree};

/// The random id of one streamed upload; its chunks are keyed by it.
pub type UploadId = [u8; 16];

/// One entry of the sweeper's walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub sha256: [u8; 32],
    pub size: u64,
    /// When the entry was (last) written, Unix milliseconds.
    pub written_ms: u64,
}

/// Where a content's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Located {
    /// The whole content, in its entry.
    Inline(Vec<u8>),
    /// `chunks` chunks of upload `upload`, `size` bytes in all.
    Chunked {
        size: u64,
        upload: UploadId,
        chunks: u32,
    },
}

impl Located {
    pub fn size(&self) -> u64 {
        match self {
            Located::Inline(b) => b.len() as u64,
            Located::Chunked { size, .. } => *size,
        }
    }
}

/// Content addressed by its SHA-256.
///
/// Contract:
/// - **Durability.** `put_inline`, `put_chunk`, `put_chunked`, `delete`
///   and `remove_chunks` need not be durable when they return; everything
///   written before a `sync` that returned `Ok` is (a removal lost in a
///   crash only leaves unreferenced content, which the next sweep finds
///   again). A `sync` that returns `Err` may have made some or all
///   earlier writes durable (a torn sync): the caller treats them as
///   unreferenced (nothing in the catalog names them) and may redo.
///   One exception, for speed: the sweeper's index entry of a chunked
///   content (what `list` walks) need only survive a crash of the process,
///   not of the machine; losing it leaves an unreferenced content unlisted,
///   never a referenced one lost.
/// - **Idempotent redo.** Writing a key again writes the same value
///   (content is keyed by its digest; a chunk by its upload and index);
///   deleting what is gone answers `Ok(false)`.
/// - **Ordering.** A chunked entry is written after its chunks; once a
///   `sync` covers the entry it covers the chunks (a reader never finds an
///   entry whose chunks are missing after a crash).
/// - **Concurrency.** Every method may be called from many threads at once.
///   Calls block (they are for `spawn_blocking` or small writes).
/// - **Deletion.** The store does not know who refers to content: the
///   caller (the sweeper, through the writer) decides, under the in-flight
///   registry's lock (see [`super::InFlight`]).
pub trait ContentStore: Send + Sync + 'static {
    /// Whether an entry for `sha256` exists.
    fn exists(&self, sha256: &[u8; 32]) -> Result<bool, StoreError>;
    /// The size of the content stored for `sha256`, or `None`.
    fn size(&self, sha256: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        Ok(self.locate(sha256)?.map(|l| l.size()))
    }
    /// The entry for `sha256`, or `None`.
    fn locate(&self, sha256: &[u8; 32]) -> Result<Option<Located>, StoreError>;
    /// Writes a whole (small) content under its digest.
    fn put_inline(&self, sha256: &[u8; 32], data: &[u8]) -> Result<(), StoreError>;
    /// Whether `put_inline` itself keeps identical content that is stored
    /// already (a conditional write, S3's `If-None-Match`), so that a
    /// writer need not ask [`ContentStore::exists`] first (a round trip).
    fn writes_once(&self) -> bool {
        false
    }
    /// Writes chunk `index` of upload `upload`.
    fn put_chunk(&self, upload: &UploadId, index: u32, data: &[u8]) -> Result<(), StoreError>;
    /// Writes the entry of a chunked content (after all its chunks).
    fn put_chunked(
        &self,
        sha256: &[u8; 32],
        size: u64,
        upload: &UploadId,
        chunks: u32,
    ) -> Result<(), StoreError>;
    /// Chunk `index` of upload `upload` (an error if it is missing).
    fn chunk(&self, upload: &UploadId, index: u32) -> Result<Vec<u8>, StoreError>;
    /// Removes chunks `0..chunks` of an upload that never got an entry.
    fn remove_chunks(&self, upload: &UploadId, chunks: u32) -> Result<(), StoreError>;
    /// Removes the entry and its chunks; `Ok(false)` if there was none.
    fn delete(&self, sha256: &[u8; 32]) -> Result<bool, StoreError>;
    /// Makes every earlier write durable (see the contract above).
    fn sync(&self) -> Result<(), StoreError>;
    /// Up to `limit` entries with a digest above `after` (all from the
    /// start for `None`), in digest order: the sweeper's walk. Entries
    /// written or deleted during a walk may or may not be listed.
    fn list(&self, after: Option<&[u8; 32]>, limit: usize) -> Result<Vec<Listed>, StoreError>;
    /// Keeps content `sha256` at least until `until` (Unix seconds), in a
    /// store that enforces retention (S3 Object Lock): extended, never
    /// shortened; durable when it returns. A store without retention does
    /// nothing (the catalog's retention dates hold there).
    fn retain(&self, _sha256: &[u8; 32], _until: i64) -> Result<(), StoreError> {
        Ok(())
    }
    /// Sets or lifts the store's legal hold on content `sha256` (S3 legal
    /// hold); nothing in a store without one.
    fn legal_hold(&self, _sha256: &[u8; 32], _on: bool) -> Result<(), StoreError> {
        Ok(())
    }
    /// Waits until background work (flushes, compactions) is done; for
    /// benchmarks that must measure a quiet store. Nothing to wait for by default.
    fn settle(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The archive's hash trees (batches and renewal trees), keyed by tree id.
///
/// Contract:
/// - **Durability.** `put_tree` and `put_groups` are durable when they
///   return `Ok`; on `Err` some of the tree may be there.
/// - **Idempotent redo.** Writing a tree id again overwrites it with the
///   new levels (a batch rebuilt after a crash before the catalog recorded
///   it); a tree is only read once the catalog names it, so a half-written
///   or stale tree is never seen.
/// - **Concurrency.** Every method may be called from many threads at once.
pub trait TreeStore: Send + Sync + 'static {
    /// Writes every level of `tree` and its leaves' keys (in leaf order, ascending).
    fn put_tree(&self, id: u64, tree: &HashTree, keys: &[i64]) -> Result<(), StoreError>;
    /// Writes the data-object groups of leaves with more than one member.
    fn put_groups(&self, id: u64, groups: &[(i64, Vec<u8>)]) -> Result<(), StoreError>;
    /// The data-object group of leaf `key` of tree `id`, if it has one.
    fn group(&self, id: u64, key: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// The leaf keys of tree `id` in leaf order.
    fn tree_keys(&self, id: u64) -> Result<Vec<i64>, StoreError>;
    /// The leaf index of key `key` in tree `id`.
    fn leaf_index(&self, id: u64, key: i64) -> Result<Option<usize>, StoreError>;
    /// The leaf value and its siblings' values, in `sibling_positions` order.
    fn path(&self, tree: &StoredTree, i: usize) -> Result<(Vec<u8>, Vec<Vec<u8>>), StoreError>;
    /// Keeps a sealed batch's time-stamp token (as received) beside its
    /// tree; durable when it returns (the sealer writes it before the tree,
    /// so that every tree the store lists has its token; the catalog
    /// records the batch last).
    fn put_token(&self, id: u64, token: &[u8]) -> Result<(), StoreError>;
    /// The token kept beside tree `id` (`None` for renewal trees and for
    /// batches sealed before tokens were kept in the store).
    fn token(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every tree id in the store, ascending, from the store's own keys (a
    /// tree whose catalog row was removed is still listed).
    fn tree_ids(&self) -> Result<Vec<u64>, StoreError>;
    /// A tree's shape (leaf count, node width) from the store alone.
    fn stored_tree(&self, id: u64) -> Result<Option<StoredTree>, StoreError>;
    /// Trees and tokens written from now on must be kept at least until
    /// `until` (Unix seconds): a version with that retention date exists.
    /// A store that enforces retention (S3 Object Lock) retains them so;
    /// others keep everything anyway.
    fn evidence_at_least(&self, _until: i64) {}
}
