//! The content-addressed store (RocksDB), and the archive's hash-tree nodes.
//!
//! Contract:
//! - Content is keyed by its SHA-256. Storing identical bytes twice stores
//!   them once. Documents stream through in chunks of [`CHUNK`] bytes; no
//!   call needs a whole large document in memory.
//! - [`Store::put_content`] and friends write without waiting for the disk;
//!   **durable when [`Store::sync`] returns** (one fsync of the write-ahead
//!   log covers every earlier write). The ingest committer calls it before it
//!   commits catalog entries, so content is durable before anything refers to it.
//! - [`Store::put_tree`] and [`Store::put_token`] are durable when they return.
//! - Every method is safe to call from many threads at once.
//! - Content whose catalog entry never committed (a crash mid-ingest, a
//!   refused upload) is unreferenced and invisible; [`Upload::abort`] removes
//!   what it wrote.

mod tree;

pub use tree::StoredTree;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use sha2::{Digest, Sha256};

use bewahr_core::alg::{DigestAlgorithm, Hasher};

/// Size of one stored chunk of a large document.
pub const CHUNK: usize = 4 << 20;

const CF_CONTENT: &str = "content";
const CF_CHUNKS: &str = "chunks";
const CF_NODES: &str = "nodes";
const CF_LEAVES: &str = "leaves";

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("store: corrupt entry {key}: {detail}")]
    Corrupt { key: String, detail: String },
}

/// The RocksDB store.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
    /// Chunks were written (without the WAL) since the last sync.
    chunks_dirty: Arc<std::sync::atomic::AtomicBool>,
}

/// What was stored: the digest that keys it and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub sha256: [u8; 32],
    pub size: u64,
}

/// Content entry: tag 0 = inline bytes follow; tag 1 = chunked: size (8), upload id (16), chunk count (4).
const INLINE: u8 = 0;
const CHUNKED: u8 = 1;

impl Store {
    /// Opens (creating if needed) the store in `path`, with flushes and
    /// compactions written past the page cache; only one process may hold it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, true)
    }

    /// As [`Store::open`]; `direct_io`: flushes and compactions with O_DIRECT.
    pub fn open_with(path: &Path, direct_io: bool) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.increase_parallelism(2);
        opts.set_max_total_wal_size(512 << 20);
        // flushes and compactions write with O_DIRECT: content is written
        // once and read rarely, so it does not go through (and evict) the
        // page cache, and the kernel does not copy it once more
        opts.set_use_direct_io_for_flush_and_compaction(direct_io);
        // large documents: 4 MiB chunks go to blob files (written once, never
        // rewritten by compaction) and skip the write-ahead log; `sync`
        // flushes them instead, so each byte reaches the disk once
        let mut big = blob_options();
        big.set_compression_type(rocksdb::DBCompressionType::None);
        big.set_write_buffer_size(128 << 20);
        // documents of 64 KiB and more (below CHUNK) also go to blob files
        // when their memtable is flushed: compaction never rewrites them
        let mut content = blob_options();
        // every column family: one block cache, and bloom filters, so that
        // asking for content that is not there (every new submission does,
        // to deduplicate) reads no table blocks
        let cache = rocksdb::Cache::new_lru_cache(128 << 20);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        let (mut nodes, mut leaves) = (Options::default(), Options::default());
        for o in [&mut content, &mut big, &mut nodes, &mut leaves] {
            o.set_block_based_table_factory(&table);
        }
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_CONTENT, content),
            ColumnFamilyDescriptor::new(CF_CHUNKS, big),
            ColumnFamilyDescriptor::new(CF_NODES, nodes),
            ColumnFamilyDescriptor::new(CF_LEAVES, leaves),
        ];
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Store {
            db: Arc::new(db),
            chunks_dirty: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Opens the store in `path` read-only, beside a server that may hold
    /// it (for `bewahr audit verify`): it sees what was written up to now
    /// and writes nothing; writing through it fails.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let opts = Options::default();
        let db = DB::open_cf_for_read_only(
            &opts,
            path,
            [CF_CONTENT, CF_CHUNKS, CF_NODES, CF_LEAVES],
            false,
        )?;
        Ok(Store {
            db: Arc::new(db),
            chunks_dirty: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }

    /// Makes every earlier write durable: chunks of large documents by
    /// flushing them to their (synced) blob and table files, everything else
    /// by one fsync of the write-ahead log.
    pub fn sync(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.chunks_dirty.swap(false, Ordering::SeqCst) {
            let mut fo = rocksdb::FlushOptions::default();
            fo.set_wait(true);
            if let Err(e) = self.db.flush_cf_opt(self.cf(CF_CHUNKS), &fo) {
                self.chunks_dirty.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// The content entry: an inline document (in `content`) or the pointer
    /// to a large document's chunks (in `chunks`, beside them, so that it is
    /// durable only once the chunks written before it are: flushes of one
    /// column family happen in order).
    fn entry(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.db.get_cf(self.cf(CF_CONTENT), sha256)? {
            return Ok(Some(v));
        }
        Ok(self.db.get_cf(self.cf(CF_CHUNKS), sha256)?)
    }

    /// Whether content with this digest is stored.
    pub fn has(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_CONTENT), sha256)?
            .is_some()
            || self.db.get_pinned_cf(self.cf(CF_CHUNKS), sha256)?.is_some())
    }

    /// Stores a small document in one write (not yet durable: see [`Store::sync`]).
    pub fn put_content(&self, data: &[u8]) -> Result<Stored, StoreError> {
        let sha256: [u8; 32] = Sha256::digest(data).into();
        if !self.has(&sha256)? {
            let mut v = Vec::with_capacity(data.len() + 1);
            v.push(INLINE);
            v.extend_from_slice(data);
            let mut wo = WriteOptions::default();
            wo.set_sync(false);
            self.db.put_cf_opt(self.cf(CF_CONTENT), sha256, v, &wo)?;
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
        let Some(v) = self.entry(sha256)? else {
            return Ok(None);
        };
        Ok(Some(match v.first() {
            Some(&INLINE) => (v.len() - 1) as u64,
            Some(&CHUNKED) if v.len() == 29 => {
                u64::from_be_bytes(v[1..9].try_into().expect("8 bytes"))
            }
            _ => return Err(corrupt(sha256, "unknown content entry")),
        }))
    }

    /// Reads stored content piece by piece (each piece at most [`CHUNK`] bytes).
    pub fn read(&self, sha256: &[u8; 32]) -> Result<Option<ContentReader>, StoreError> {
        let Some(v) = self.entry(sha256)? else {
            return Ok(None);
        };
        match v.first() {
            Some(&INLINE) => Ok(Some(ContentReader {
                store: self.clone(),
                inline: Some(v[1..].to_vec()),
                id: [0; 16],
                next: 0,
                count: 0,
            })),
            Some(&CHUNKED) if v.len() == 29 => {
                let id: [u8; 16] = v[9..25].try_into().expect("16 bytes");
                let count = u32::from_be_bytes(v[25..29].try_into().expect("4 bytes"));
                Ok(Some(ContentReader {
                    store: self.clone(),
                    inline: None,
                    id,
                    next: 0,
                    count,
                }))
            }
            _ => Err(corrupt(sha256, "unknown content entry")),
        }
    }

    /// Removes content (every chunk and its entry); durable when it returns.
    /// The caller makes sure no archived version refers to it any more.
    pub fn delete_content(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        let Some(v) = self.entry(sha256)? else {
            return Ok(false);
        };
        let mut wb = rocksdb::WriteBatch::default();
        if v.first() == Some(&CHUNKED) && v.len() == 29 {
            let id: [u8; 16] = v[9..25].try_into().expect("16 bytes");
            let count = u32::from_be_bytes(v[25..29].try_into().expect("4 bytes"));
            for i in 0..count {
                wb.delete_cf(self.cf(CF_CHUNKS), chunk_key(&id, i));
            }
        }
        wb.delete_cf(self.cf(CF_CONTENT), sha256);
        wb.delete_cf(self.cf(CF_CHUNKS), sha256);
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(wb, &wo)?;
        Ok(true)
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

    /// Flushes the memtables and waits until no flush or compaction is
    /// running or pending (for benchmarks that must measure a quiet store).
    pub fn settle(&self) -> Result<(), StoreError> {
        let mut o = rocksdb::WaitForCompactOptions::default();
        o.set_flush(true);
        self.db.wait_for_compact(&o)?;
        Ok(())
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }
}

/// A column family whose values of 64 KiB and more go to blob files, without
/// blob garbage collection: it relocates live blobs out of old files in every
/// compaction, which for write-once content doubled the bytes written and
/// spent most of a core on checksums. A blob file goes once no live content
/// is left in it.
fn blob_options() -> Options {
    let mut o = Options::default();
    o.set_enable_blob_files(true);
    o.set_min_blob_size(64 << 10);
    o.set_blob_file_size(256 << 20);
    o.set_enable_blob_gc(false);
    o
}

fn corrupt(key: &[u8], detail: &str) -> StoreError {
    StoreError::Corrupt {
        key: hex::encode(key),
        detail: detail.into(),
    }
}

fn chunk_key(id: &[u8; 16], index: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(id);
    k[16..].copy_from_slice(&index.to_be_bytes());
    k
}

const HEAD: usize = 1024;

/// A document being streamed into the store.
pub struct Upload {
    store: Store,
    id: [u8; 16],
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
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        wo.disable_wal(true); // made durable by Store::sync's flush
        self.store.db.put_cf_opt(
            self.store.cf(CF_CHUNKS),
            chunk_key(&self.id, self.chunks),
            &self.buf,
            &wo,
        )?;
        self.store
            .chunks_dirty
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.chunks += 1;
        self.buf.clear();
        Ok(())
    }

    /// Finishes the upload: the content entry is written (not yet durable: see
    /// [`Store::sync`]). Returns what was stored and the extra digest, if asked for.
    pub fn finish(mut self) -> Result<(Stored, Option<Vec<u8>>), StoreError> {
        let hasher = std::mem::replace(&mut self.hasher, Hasher::new(DigestAlgorithm::Sha256));
        let sha256: [u8; 32] = hasher.finish().try_into().expect("SHA-256 is 32 bytes");
        let extra = self.extra.take().map(|h| h.finish());
        let stored = Stored {
            sha256,
            size: self.size,
        };
        if self.store.has(&sha256)? {
            self.remove_chunks();
            self.settled = true;
            return Ok((stored, extra));
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        if self.chunks == 0 {
            let cf = self.store.cf(CF_CONTENT);
            let mut v = Vec::with_capacity(self.buf.len() + 1);
            v.push(INLINE);
            v.extend_from_slice(&self.buf);
            self.store.db.put_cf_opt(cf, sha256, v, &wo)?;
        } else {
            if !self.buf.is_empty() {
                self.flush_chunk()?;
            }
            let mut v = Vec::with_capacity(29);
            v.push(CHUNKED);
            v.extend_from_slice(&self.size.to_be_bytes());
            v.extend_from_slice(&self.id);
            v.extend_from_slice(&self.chunks.to_be_bytes());
            // after its chunks, in their column family, without the WAL (see `entry`)
            wo.disable_wal(true);
            self.store
                .db
                .put_cf_opt(self.store.cf(CF_CHUNKS), sha256, v, &wo)?;
            self.store
                .chunks_dirty
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.settled = true;
        Ok((stored, extra))
    }

    /// Drops what this upload wrote.
    pub fn abort(mut self) {
        self.remove_chunks();
        self.settled = true;
    }

    fn remove_chunks(&mut self) {
        if self.chunks > 0 {
            let mut b = WriteBatch::default();
            b.delete_range_cf(
                self.store.cf(CF_CHUNKS),
                chunk_key(&self.id, 0),
                chunk_key(&self.id, self.chunks),
            );
            if let Err(e) = self.store.db.write(b) {
                tracing::warn!(error = %e, "could not remove the chunks of an aborted upload");
            }
        }
    }
}

/// Reads stored content piece by piece.
pub struct ContentReader {
    store: Store,
    inline: Option<Vec<u8>>,
    id: [u8; 16],
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
        let k = chunk_key(&self.id, self.next);
        let v = self
            .store
            .db
            .get_cf(self.store.cf(CF_CHUNKS), k)?
            .ok_or_else(|| corrupt(&k, "missing chunk"))?;
        self.next += 1;
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests;
