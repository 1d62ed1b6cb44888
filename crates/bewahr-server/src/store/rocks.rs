//! The RocksDB implementation of [`ContentStore`] and [`TreeStore`].
//!
//! Column families: `content` (small documents, one value each, those of
//! 64 KiB and more in blob files), `chunks` (4 MiB chunks of large
//! documents and their entries, written without the WAL and flushed by
//! `sync`), `index` (per digest its size and write time, for the sweeper's
//! walk: small values, so walking it never reads a document), `nodes` and
//! `leaves` (the trees).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};

use super::contract::{ContentStore, Listed, Located, UploadId};
use super::{corrupt, StoreError};

pub(super) const CF_CONTENT: &str = "content";
pub(super) const CF_CHUNKS: &str = "chunks";
pub(super) const CF_INDEX: &str = "index";
pub(super) const CF_NODES: &str = "nodes";
pub(super) const CF_LEAVES: &str = "leaves";

/// Content entry: tag 0 = inline bytes follow; tag 1 = chunked: size (8), upload id (16), chunk count (4).
const INLINE: u8 = 0;
const CHUNKED: u8 = 1;

/// The RocksDB store (cheap to clone).
#[derive(Clone)]
pub struct RocksStore {
    db: Arc<DB>,
    /// Chunks were written (without the WAL) since the last sync.
    chunks_dirty: Arc<AtomicBool>,
    /// Writes that `sync` must make durable went to the write-ahead log
    /// since the last sync (content entries, removals). The index entry of
    /// a chunked content does not count: see [`ContentStore::put_chunked`]
    /// here.
    wal_dirty: Arc<AtomicBool>,
}

impl RocksStore {
    /// Opens (creating if needed) the store in `path`; `direct_io`: flushes
    /// and compactions with O_DIRECT. Only one process may hold it.
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
        let (mut nodes, mut leaves, mut index) =
            (Options::default(), Options::default(), Options::default());
        for o in [&mut content, &mut big, &mut nodes, &mut leaves, &mut index] {
            o.set_block_based_table_factory(&table);
        }
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_CONTENT, content),
            ColumnFamilyDescriptor::new(CF_CHUNKS, big),
            ColumnFamilyDescriptor::new(CF_NODES, nodes),
            ColumnFamilyDescriptor::new(CF_LEAVES, leaves),
            ColumnFamilyDescriptor::new(CF_INDEX, index),
        ];
        // a store from before the index: its content is indexed once, now
        let unindexed = DB::list_cf(&opts, path)
            .map(|cfs| !cfs.iter().any(|c| c == CF_INDEX))
            .unwrap_or(false);
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let store = RocksStore {
            db: Arc::new(db),
            chunks_dirty: Arc::new(AtomicBool::new(false)),
            wal_dirty: Arc::new(AtomicBool::new(false)),
        };
        if unindexed {
            store.build_index()?;
        }
        Ok(store)
    }

    /// Indexes every content entry (write time 0: older than any grace
    /// period); synced when it returns. Reads every document once.
    fn build_index(&self) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        let mut n = 0u64;
        for cf in [CF_CONTENT, CF_CHUNKS] {
            for kv in self
                .db
                .iterator_cf(self.cf(cf), rocksdb::IteratorMode::Start)
            {
                let (k, v) = kv?;
                let Ok(sha256) = <[u8; 32]>::try_from(&k[..]) else {
                    continue; // a chunk
                };
                let size = match self.located(&sha256, v.to_vec())? {
                    Located::Inline(b) => b.len() as u64,
                    Located::Chunked { size, .. } => size,
                };
                let mut iv = [0u8; 16];
                iv[..8].copy_from_slice(&size.to_be_bytes());
                wb.put_cf(self.cf(CF_INDEX), sha256, iv);
                n += 1;
                if n.is_multiple_of(4096) {
                    self.db.write(std::mem::take(&mut wb))?;
                }
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(wb, &wo)?;
        tracing::info!(contents = n, "indexed the store's content for the sweeper");
        Ok(())
    }

    fn located(&self, sha256: &[u8; 32], mut v: Vec<u8>) -> Result<Located, StoreError> {
        match v.first() {
            Some(&INLINE) => {
                v.remove(0);
                Ok(Located::Inline(v))
            }
            Some(&CHUNKED) => parse_chunked(sha256, &v),
            _ => Err(corrupt(sha256, "unknown content entry")),
        }
    }

    /// Opens the store in `path` read-only, beside a server that may hold
    /// it: it sees what was written up to now; every write through it fails.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let opts = Options::default();
        let cfs = DB::list_cf(&opts, path)?;
        let db = DB::open_cf_for_read_only(&opts, path, cfs, false)?;
        Ok(RocksStore {
            db: Arc::new(db),
            chunks_dirty: Arc::new(AtomicBool::new(false)),
            wal_dirty: Arc::new(AtomicBool::new(false)),
        })
    }

    pub(super) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }

    /// Makes this a store from before the index (for the upgrade test).
    #[cfg(test)]
    pub(super) fn drop_index(mut self) -> Result<(), StoreError> {
        Arc::get_mut(&mut self.db)
            .expect("the only handle")
            .drop_cf(CF_INDEX)?;
        Ok(())
    }

    pub(super) fn db(&self) -> &DB {
        &self.db
    }

    fn entry(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.db.get_cf(self.cf(CF_CONTENT), sha256)? {
            return Ok(Some(v));
        }
        Ok(self.db.get_cf(self.cf(CF_CHUNKS), sha256)?)
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

pub(super) fn chunk_key(id: &UploadId, index: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(id);
    k[16..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The index value: size (8) and the write time in Unix milliseconds (8).
fn index_value(size: u64) -> [u8; 16] {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&size.to_be_bytes());
    v[8..].copy_from_slice(&now.to_be_bytes());
    v
}

fn parse_chunked(sha256: &[u8; 32], v: &[u8]) -> Result<Located, StoreError> {
    if v.len() != 29 {
        return Err(corrupt(sha256, "unknown content entry"));
    }
    Ok(Located::Chunked {
        size: u64::from_be_bytes(v[1..9].try_into().expect("8 bytes")),
        upload: v[9..25].try_into().expect("16 bytes"),
        chunks: u32::from_be_bytes(v[25..29].try_into().expect("4 bytes")),
    })
}

impl ContentStore for RocksStore {
    fn exists(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_CONTENT), sha256)?
            .is_some()
            || self.db.get_pinned_cf(self.cf(CF_CHUNKS), sha256)?.is_some())
    }

    fn locate(&self, sha256: &[u8; 32]) -> Result<Option<Located>, StoreError> {
        match self.entry(sha256)? {
            Some(v) => self.located(sha256, v).map(Some),
            None => Ok(None),
        }
    }

    fn put_inline(&self, sha256: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        let mut v = Vec::with_capacity(data.len() + 1);
        v.push(INLINE);
        v.extend_from_slice(data);
        let mut wb = WriteBatch::default();
        wb.put_cf(self.cf(CF_CONTENT), sha256, v);
        wb.put_cf(self.cf(CF_INDEX), sha256, index_value(data.len() as u64));
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(wb, &wo)?;
        self.wal_dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn put_chunk(&self, upload: &UploadId, index: u32, data: &[u8]) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        wo.disable_wal(true); // made durable by sync's flush
        self.db
            .put_cf_opt(self.cf(CF_CHUNKS), chunk_key(upload, index), data, &wo)?;
        self.chunks_dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn put_chunked(
        &self,
        sha256: &[u8; 32],
        size: u64,
        upload: &UploadId,
        chunks: u32,
    ) -> Result<(), StoreError> {
        // the index first, with the WAL (an index key without its entry is
        // harmless: `delete` drops it). It reaches the operating system at
        // once, so it survives a crash of the process; `sync` does not wait
        // for its fsync: an fsync of the log for each group of large
        // documents alone cost 10-20% of their throughput (docs/benchmarks.md),
        // and all a power failure can do is lose the sweeper's hint for an
        // unreferenced content, which then stays (never data loss).
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db
            .put_cf_opt(self.cf(CF_INDEX), sha256, index_value(size), &wo)?;
        let mut v = Vec::with_capacity(29);
        v.push(CHUNKED);
        v.extend_from_slice(&size.to_be_bytes());
        v.extend_from_slice(upload);
        v.extend_from_slice(&chunks.to_be_bytes());
        // after its chunks, in their column family, without the WAL: flushes
        // of one column family happen in order, so it is durable only once
        // the chunks written before it are
        wo.disable_wal(true);
        self.db.put_cf_opt(self.cf(CF_CHUNKS), sha256, v, &wo)?;
        self.chunks_dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn chunk(&self, upload: &UploadId, index: u32) -> Result<Vec<u8>, StoreError> {
        let k = chunk_key(upload, index);
        self.db
            .get_cf(self.cf(CF_CHUNKS), k)?
            .ok_or_else(|| corrupt(&k, "missing chunk"))
    }

    fn remove_chunks(&self, upload: &UploadId, chunks: u32) -> Result<(), StoreError> {
        if chunks == 0 {
            return Ok(());
        }
        let mut b = WriteBatch::default();
        b.delete_range_cf(
            self.cf(CF_CHUNKS),
            chunk_key(upload, 0),
            chunk_key(upload, chunks),
        );
        self.db.write(b)?;
        self.wal_dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn delete(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        let located = self.locate(sha256)?;
        let indexed = self.db.get_pinned_cf(self.cf(CF_INDEX), sha256)?.is_some();
        if located.is_none() && !indexed {
            return Ok(false);
        }
        let mut wb = WriteBatch::default();
        if let Some(Located::Chunked { upload, chunks, .. }) = &located {
            for i in 0..*chunks {
                wb.delete_cf(self.cf(CF_CHUNKS), chunk_key(upload, i));
            }
        }
        wb.delete_cf(self.cf(CF_CONTENT), sha256);
        wb.delete_cf(self.cf(CF_CHUNKS), sha256);
        wb.delete_cf(self.cf(CF_INDEX), sha256);
        // not synced: one fsync per removal would hold the catalog writer
        // (the sweeper removes from inside it); the next sync covers it
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(wb, &wo)?;
        self.wal_dirty.store(true, Ordering::SeqCst);
        Ok(located.is_some())
    }

    /// Makes every earlier write durable: one fsync of the write-ahead log
    /// (content entries, the index), then the chunks of large documents and
    /// their entries by flushing them to their (synced) blob and table files.
    fn sync(&self) -> Result<(), StoreError> {
        if self.wal_dirty.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.db.flush_wal(true) {
                self.wal_dirty.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        if self.chunks_dirty.swap(false, Ordering::SeqCst) {
            let mut fo = rocksdb::FlushOptions::default();
            fo.set_wait(true);
            if let Err(e) = self.db.flush_cf_opt(self.cf(CF_CHUNKS), &fo) {
                self.chunks_dirty.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        Ok(())
    }

    fn list(&self, after: Option<&[u8; 32]>, limit: usize) -> Result<Vec<Listed>, StoreError> {
        let mode = match after {
            Some(a) => rocksdb::IteratorMode::From(a, rocksdb::Direction::Forward),
            None => rocksdb::IteratorMode::Start,
        };
        let mut out = Vec::with_capacity(limit.min(4096));
        for kv in self.db.iterator_cf(self.cf(CF_INDEX), mode) {
            let (k, v) = kv?;
            let Ok(sha256) = <[u8; 32]>::try_from(&k[..]) else {
                return Err(corrupt(&k, "index key is not a SHA-256"));
            };
            if Some(&sha256) == after {
                continue;
            }
            if v.len() != 16 {
                return Err(corrupt(&k, "short index value"));
            }
            out.push(Listed {
                sha256,
                size: u64::from_be_bytes(v[..8].try_into().expect("8 bytes")),
                written_ms: u64::from_be_bytes(v[8..].try_into().expect("8 bytes")),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn settle(&self) -> Result<(), StoreError> {
        let mut o = rocksdb::WaitForCompactOptions::default();
        o.set_flush(true);
        self.db.wait_for_compact(&o)?;
        Ok(())
    }
}
