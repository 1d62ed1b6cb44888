//! The content-addressed store, and the archive's hash-tree nodes.
//!
//! [`Store`] is the handle every part of the archive uses (writer, ingest,
//! sealer, evidence, renewal, sweeper): streaming uploads with their drop
//! guard, pieces for readers, the in-flight registry, and the tree calls,
//! over the two storage contracts in [`contract`] ([`ContentStore`],
//! [`TreeStore`]; dynamic dispatch per call, each call moving a whole value
//! of up to [`CHUNK`] bytes). [`RocksStore`] implements both; the fakes for
//! fault injection are in `crate::testing`.
//!
//! Contract of the handle:
//! - Content is keyed by its SHA-256. Storing identical bytes twice stores
//!   them once. Documents stream through in chunks of [`CHUNK`] bytes; no
//!   call needs a whole large document in memory.
//! - [`Store::put_content`] and [`Upload::finish`] write without waiting for
//!   the disk; **durable when [`Store::sync`] returns** `Ok`. The catalog
//!   writer calls it before it commits catalog entries, so content is
//!   durable before anything refers to it.
//! - [`Store::put_tree`] and [`Store::put_token`] are durable when they return.
//! - Every method is safe to call from many threads at once.
//! - Content whose catalog entry never committed (a crash mid-ingest, a
//!   refused upload) is unreferenced and invisible; an [`Upload`] dropped or
//!   aborted before `finish` removes its chunks; the sweeper removes
//!   unreferenced content that no submission has pinned ([`InFlight`]).

pub mod contract;
mod inflight;
mod rocks;
mod s3;
mod s3_tree;
mod tree;

pub use contract::{ContentStore, Listed, Located, TreeStore, UploadId};
pub use inflight::{InFlight, Pins};
pub use rocks::RocksStore;
pub use s3::{S3Settings, S3Store};
pub use tree::{StoredTree, TILE};

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use bewahr_core::alg::{DigestAlgorithm, Hasher};
use bewahr_core::hashtree::HashTree;

/// Size of one stored chunk of a large document.
pub const CHUNK: usize = 4 << 20;

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("store: corrupt entry {key}: {detail}")]
    Corrupt { key: String, detail: String },
    /// The store keeps the object under a retention or legal hold (S3
    /// Object Lock refused its removal): it stays until that ends.
    #[error("store: {key} is retained (Object Lock) and cannot be removed yet")]
    Retained { key: String },
    /// A failure of another backend (or one injected by a test), with what failed.
    #[error("store: {0}")]
    Backend(String),
}

/// The store handle (cheap to clone).
#[derive(Clone)]
pub struct Store {
    content: Arc<dyn ContentStore>,
    trees: Arc<dyn TreeStore>,
    in_flight: InFlight,
}

/// What was stored: the digest that keys it and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub sha256: [u8; 32],
    pub size: u64,
}

impl Store {
    /// Opens (creating if needed) the RocksDB store in `path`, with flushes
    /// and compactions written past the page cache; only one process may hold it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, true)
    }

    /// As [`Store::open`]; `direct_io`: flushes and compactions with O_DIRECT.
    pub fn open_with(path: &Path, direct_io: bool) -> Result<Self, StoreError> {
        let r = Arc::new(RocksStore::open_with(path, direct_io)?);
        Ok(Self::with(r.clone(), r))
    }

    /// A store over any implementation of the contracts.
    pub fn with(content: Arc<dyn ContentStore>, trees: Arc<dyn TreeStore>) -> Self {
        Store {
            content,
            trees,
            in_flight: InFlight::default(),
        }
    }

    /// Opens the RocksDB store in `path` read-only, beside a server that
    /// may hold it (for `bewahr audit verify`): it sees what was written up
    /// to now and writes nothing; writing through it fails.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let r = Arc::new(RocksStore::open_read_only(path)?);
        Ok(Self::with(r.clone(), r))
    }

    /// The content store behind this handle.
    pub fn content(&self) -> &Arc<dyn ContentStore> {
        &self.content
    }

    /// The submissions' pins (see [`InFlight`]).
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// Makes every earlier content write durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.content.sync()
    }

    /// Whether content with this digest is stored.
    pub fn has(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        self.content.exists(sha256)
    }

    /// Stores a small document in one write (not yet durable: see
    /// [`Store::sync`]), unpinned: unless a catalog row references it, the
    /// sweeper may remove it once it is older than the grace period.
    pub fn put_content(&self, data: &[u8]) -> Result<Stored, StoreError> {
        let mut pins = self.in_flight.pins();
        self.put_content_pinned(data, &mut pins)
    }

    /// As [`Store::put_content`], pinning the digest in `pins` first (so
    /// the sweeper cannot remove the content before the catalog names it).
    pub fn put_content_pinned(&self, data: &[u8], pins: &mut Pins) -> Result<Stored, StoreError> {
        let sha256: [u8; 32] = Sha256::digest(data).into();
        pins.hold(sha256);
        if self.content.writes_once() || !self.content.exists(&sha256)? {
            self.content.put_inline(&sha256, data)?;
        }
        Ok(Stored {
            sha256,
            size: data.len() as u64,
        })
    }

    /// Starts a streamed upload.
    pub fn upload(&self) -> Upload {
        let mut id = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
            .expect("randomness");
        Upload {
            store: self.clone(),
            id,
            buf: Vec::new(),
            chunks: 0,
            size: 0,
            hasher: Hasher::new(DigestAlgorithm::Sha256),
            extra: None,
            head: Vec::new(),
            settled: false,
        }
    }

    /// The size of stored content, or `None`.
    pub fn size(&self, sha256: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        self.content.size(sha256)
    }

    /// Reads stored content piece by piece (each piece at most [`CHUNK`] bytes).
    pub fn read(&self, sha256: &[u8; 32]) -> Result<Option<ContentReader>, StoreError> {
        Ok(self.content.locate(sha256)?.map(|l| match l {
            Located::Inline(v) => ContentReader {
                content: self.content.clone(),
                inline: Some(v),
                id: [0; 16],
                next: 0,
                count: 0,
            },
            Located::Chunked { upload, chunks, .. } => ContentReader {
                content: self.content.clone(),
                inline: None,
                id: upload,
                next: 0,
                count: chunks,
            },
        }))
    }

    /// Removes content (every chunk and its entry); durable after the next
    /// [`Store::sync`]. Only the sweeper calls it, through the catalog writer, for content no
    /// catalog row references and no submission has pinned.
    pub fn delete_content(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        self.content.delete(sha256)
    }

    /// See [`ContentStore::retain`].
    /// Evidence written after it is retained as long (see [`TreeStore::evidence_at_least`]).
    pub fn retain(&self, sha256: &[u8; 32], until: i64) -> Result<(), StoreError> {
        self.trees.evidence_at_least(until);
        self.content.retain(sha256, until)
    }

    /// See [`TreeStore::evidence_at_least`].
    pub fn evidence_at_least(&self, until: i64) {
        self.trees.evidence_at_least(until)
    }

    /// See [`ContentStore::legal_hold`].
    pub fn legal_hold(&self, sha256: &[u8; 32], on: bool) -> Result<(), StoreError> {
        self.content.legal_hold(sha256, on)
    }

    /// Reads a whole document into memory (for small documents and tests).
    pub fn read_all(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(mut r) = self.read(sha256)? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        while let Some(p) = r.next_piece()? {
            out.extend_from_slice(&p);
        }
        Ok(Some(out))
    }

    /// Waits until no flush or compaction is running or pending (for
    /// benchmarks that must measure a quiet store).
    pub fn settle(&self) -> Result<(), StoreError> {
        self.content.settle()
    }

    /// Writes every level of `tree` and the keys of its leaves (see [`TreeStore::put_tree`]).
    pub fn put_tree(&self, id: u64, tree: &HashTree, keys: &[i64]) -> Result<(), StoreError> {
        self.trees.put_tree(id, tree, keys)
    }

    /// See [`TreeStore::put_token`].
    pub fn put_token(&self, id: u64, token: &[u8]) -> Result<(), StoreError> {
        self.trees.put_token(id, token)
    }

    /// See [`TreeStore::token`].
    pub fn token(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.trees.token(id)
    }

    /// See [`TreeStore::tree_ids`].
    pub fn tree_ids(&self) -> Result<Vec<u64>, StoreError> {
        self.trees.tree_ids()
    }

    /// See [`TreeStore::stored_tree`].
    pub fn stored_tree(&self, id: u64) -> Result<Option<StoredTree>, StoreError> {
        self.trees.stored_tree(id)
    }

    /// See [`TreeStore::put_groups`].
    pub fn put_groups(&self, id: u64, groups: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
        self.trees.put_groups(id, groups)
    }

    /// See [`TreeStore::group`].
    pub fn group(&self, id: u64, key: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.trees.group(id, key)
    }

    /// See [`TreeStore::tree_keys`].
    pub fn tree_keys(&self, id: u64) -> Result<Vec<i64>, StoreError> {
        self.trees.tree_keys(id)
    }

    /// See [`TreeStore::leaf_index`].
    pub fn leaf_index(&self, id: u64, key: i64) -> Result<Option<usize>, StoreError> {
        self.trees.leaf_index(id, key)
    }

    /// See [`TreeStore::path`].
    pub fn path(&self, tree: &StoredTree, i: usize) -> Result<(Vec<u8>, Vec<Vec<u8>>), StoreError> {
        self.trees.path(tree, i)
    }
}

fn corrupt(key: &[u8], detail: &str) -> StoreError {
    StoreError::Corrupt {
        key: hex::encode(key),
        detail: detail.into(),
    }
}

const HEAD: usize = 1024;

/// A document being streamed into the store.
pub struct Upload {
    store: Store,
    id: UploadId,
    buf: Vec<u8>,
    chunks: u32,
    size: u64,
    hasher: Hasher,
    /// a second digest computed in the same pass (the tree's algorithm, if not SHA-256)
    extra: Option<Hasher>,
    /// the first bytes, for recognising the format of large documents
    head: Vec<u8>,
    /// Finished or aborted: nothing is left to clean up on drop.
    settled: bool,
}

/// What a finished upload stored; `pins` keep it from the sweeper until dropped.
pub struct Finished {
    pub stored: Stored,
    /// The extra digest, if one was asked for.
    pub extra: Option<Vec<u8>>,
    pub pins: Pins,
}

/// An upload dropped before it finished (a cancelled request, a client
/// that went away mid-body, a handler's early return) removes its chunks.
impl Drop for Upload {
    fn drop(&mut self) {
        if !self.settled {
            self.remove_chunks();
        }
    }
}

impl Upload {
    /// Also computes `alg` over the content (one pass over the bytes).
    pub fn with_digest(mut self, alg: DigestAlgorithm) -> Self {
        if alg != DigestAlgorithm::Sha256 {
            self.extra = Some(Hasher::new(alg));
        }
        self
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first bytes of the document (up to 1 KiB).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The whole document, while it is small enough to be held in memory
    /// (no chunk written yet); `None` once it is larger.
    pub fn inline(&self) -> Option<&[u8]> {
        (self.chunks == 0).then_some(self.buf.as_slice())
    }

    /// Appends bytes; full chunks go to the store right away.
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), StoreError> {
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        self.hasher.update(data);
        if let Some(h) = &mut self.extra {
            h.update(data);
        }
        self.size += data.len() as u64;
        while !data.is_empty() {
            let room = CHUNK - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK {
                self.flush_chunk()?;
            }
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<(), StoreError> {
        // counted first: a failed write may have stored it (the drop guard removes it too)
        self.chunks += 1;
        self.store
            .content
            .put_chunk(&self.id, self.chunks - 1, &self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Finishes the upload: the digest is pinned, then the content entry is
    /// written unless identical content is stored (not yet durable: see
    /// [`Store::sync`]).
    pub fn finish(mut self) -> Result<Finished, StoreError> {
        let hasher = std::mem::replace(&mut self.hasher, Hasher::new(DigestAlgorithm::Sha256));
        let sha256: [u8; 32] = hasher.finish().try_into().expect("SHA-256 is 32 bytes");
        let extra = self.extra.take().map(|h| h.finish());
        let stored = Stored {
            sha256,
            size: self.size,
        };
        let mut pins = self.store.in_flight.pins();
        pins.hold(sha256);
        if self.chunks == 0 && self.store.content.writes_once() {
            // one conditional write, no question first
            self.store.content.put_inline(&sha256, &self.buf)?;
            self.settled = true;
            return Ok(Finished {
                stored,
                extra,
                pins,
            });
        }
        if self.store.content.exists(&sha256)? {
            self.remove_chunks();
            self.settled = true;
            return Ok(Finished {
                stored,
                extra,
                pins,
            });
        }
        if self.chunks == 0 {
            self.store.content.put_inline(&sha256, &self.buf)?;
        } else {
            if !self.buf.is_empty() {
                self.flush_chunk()?;
            }
            self.store
                .content
                .put_chunked(&sha256, self.size, &self.id, self.chunks)?;
        }
        self.settled = true;
        Ok(Finished {
            stored,
            extra,
            pins,
        })
    }

    /// Drops what this upload wrote.
    pub fn abort(mut self) {
        self.remove_chunks();
        self.settled = true;
    }

    fn remove_chunks(&mut self) {
        if let Err(e) = self.store.content.remove_chunks(&self.id, self.chunks) {
            tracing::warn!(error = %e, "could not remove the chunks of an aborted upload");
        }
    }
}

/// Reads stored content piece by piece.
pub struct ContentReader {
    content: Arc<dyn ContentStore>,
    inline: Option<Vec<u8>>,
    id: UploadId,
    next: u32,
    count: u32,
}

impl ContentReader {
    /// The next piece, or `None` at the end.
    pub fn next_piece(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.inline.take() {
            return Ok(Some(v));
        }
        if self.next >= self.count {
            return Ok(None);
        }
        let v = self.content.chunk(&self.id, self.next)?;
        self.next += 1;
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests;
