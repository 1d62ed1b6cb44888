//! Fakes for fault-injection tests: wrappers around the real content store
//! and the real group commit that fail, tear or "crash" once, at a chosen
//! point, and otherwise do exactly what the real ones do. An archive gets
//! them through [`crate::server::Seams`] ([`Faults::seams`]).
//!
//! The points, in the order of a submission:
//! - [`StoreFault::FailChunk`], [`StoreFault::TearChunk`]: a chunk write of
//!   a large upload fails (having written nothing, or half the chunk);
//! - [`StoreFault::FailSync`]: the writer's `sync` fails before anything
//!   is synced (failed and not persisted);
//! - [`StoreFault::TornSync`]: `sync` makes everything durable, then fails
//!   (failed, content persisted, no catalog entry);
//! - [`CommitFault::BeforeCommit`]: the process "crashes" between `sync`
//!   and `COMMIT` (the transaction is rolled back: not persisted);
//! - [`CommitFault::AfterCommit`]: `COMMIT` succeeds and the connection
//!   drops before its answer (failed but persisted).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use sqlx::{Any, Transaction};

use crate::catalog::GroupCommit;
use crate::store::{ContentStore, Listed, Located, StoreError, UploadId};

/// A fault of the content store, fired once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFault {
    FailChunk,
    TearChunk,
    FailSync,
    TornSync,
}

/// A fault of the group commit, fired once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitFault {
    BeforeCommit,
    AfterCommit,
}

/// The armed faults, shared by the fakes of one archive.
#[derive(Clone, Default)]
pub struct Faults {
    store: Arc<Mutex<Option<StoreFault>>>,
    commit: Arc<Mutex<Option<CommitFault>>>,
    fired: Arc<AtomicUsize>,
    /// Microseconds every `exists` waits after it looked (0: none): widens
    /// the window between a submission's deduplication and its commit.
    slow_exists_us: Arc<std::sync::atomic::AtomicU64>,
}

impl Faults {
    /// Fires `f` at the next matching store call.
    pub fn arm_store(&self, f: StoreFault) {
        *self.store.lock().expect("faults") = Some(f);
    }

    /// Fires `f` at the next group commit.
    pub fn arm_commit(&self, f: CommitFault) {
        *self.commit.lock().expect("faults") = Some(f);
    }

    /// Makes every `exists` answer `by` late (not a fault: a slow disk).
    pub fn slow_exists(&self, by: std::time::Duration) {
        self.slow_exists_us
            .store(by.as_micros() as u64, Ordering::SeqCst);
    }

    /// How many faults have fired.
    pub fn fired(&self) -> usize {
        self.fired.load(Ordering::SeqCst)
    }

    fn take_store(&self, want: &[StoreFault]) -> Option<StoreFault> {
        let mut g = self.store.lock().expect("faults");
        let f = (*g).filter(|f| want.contains(f))?;
        *g = None;
        self.fired.fetch_add(1, Ordering::SeqCst);
        Some(f)
    }

    fn take_commit(&self) -> Option<CommitFault> {
        let f = self.commit.lock().expect("faults").take()?;
        self.fired.fetch_add(1, Ordering::SeqCst);
        Some(f)
    }

    /// The seams that put these faults into an archive.
    pub fn seams(&self) -> crate::server::Seams {
        let faults = self.clone();
        crate::server::Seams {
            content: Some(Arc::new(
                move |inner: Arc<dyn ContentStore>| -> Arc<dyn ContentStore> {
                    faults.content(inner)
                },
            )),
            commit: Some(Arc::new(FaultyCommit {
                faults: self.clone(),
            })),
        }
    }

    /// A content store over `inner` with these faults.
    pub fn content(&self, inner: Arc<dyn ContentStore>) -> Arc<dyn ContentStore> {
        Arc::new(FaultyContent {
            inner,
            faults: self.clone(),
        })
    }
}

fn injected(what: &str) -> StoreError {
    StoreError::Backend(format!("injected fault: {what}"))
}

/// The real content store, with [`StoreFault`]s.
pub struct FaultyContent {
    inner: Arc<dyn ContentStore>,
    faults: Faults,
}

impl ContentStore for FaultyContent {
    fn exists(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        let r = self.inner.exists(sha256);
        let us = self.faults.slow_exists_us.load(Ordering::SeqCst);
        if us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(us));
        }
        r
    }
    fn locate(&self, sha256: &[u8; 32]) -> Result<Option<Located>, StoreError> {
        self.inner.locate(sha256)
    }
    fn put_inline(&self, sha256: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        self.inner.put_inline(sha256, data)
    }
    fn put_chunk(&self, upload: &UploadId, index: u32, data: &[u8]) -> Result<(), StoreError> {
        match self
            .faults
            .take_store(&[StoreFault::FailChunk, StoreFault::TearChunk])
        {
            Some(StoreFault::TearChunk) => {
                self.inner
                    .put_chunk(upload, index, &data[..data.len() / 2])?;
                Err(injected("torn chunk write"))
            }
            Some(_) => Err(injected("chunk write")),
            None => self.inner.put_chunk(upload, index, data),
        }
    }
    fn put_chunked(
        &self,
        sha256: &[u8; 32],
        size: u64,
        upload: &UploadId,
        chunks: u32,
    ) -> Result<(), StoreError> {
        self.inner.put_chunked(sha256, size, upload, chunks)
    }
    fn chunk(&self, upload: &UploadId, index: u32) -> Result<Vec<u8>, StoreError> {
        self.inner.chunk(upload, index)
    }
    fn remove_chunks(&self, upload: &UploadId, chunks: u32) -> Result<(), StoreError> {
        self.inner.remove_chunks(upload, chunks)
    }
    fn delete(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        self.inner.delete(sha256)
    }
    fn sync(&self) -> Result<(), StoreError> {
        match self
            .faults
            .take_store(&[StoreFault::FailSync, StoreFault::TornSync])
        {
            Some(StoreFault::TornSync) => {
                self.inner.sync()?;
                Err(injected("sync (after it synced)"))
            }
            Some(_) => Err(injected("sync")),
            None => self.inner.sync(),
        }
    }
    fn list(&self, after: Option<&[u8; 32]>, limit: usize) -> Result<Vec<Listed>, StoreError> {
        self.inner.list(after, limit)
    }
    fn size(&self, sha256: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        self.inner.size(sha256)
    }
    fn retain(&self, sha256: &[u8; 32], until: i64) -> Result<(), StoreError> {
        self.inner.retain(sha256, until)
    }
    fn legal_hold(&self, sha256: &[u8; 32], on: bool) -> Result<(), StoreError> {
        self.inner.legal_hold(sha256, on)
    }
    fn settle(&self) -> Result<(), StoreError> {
        self.inner.settle()
    }
}

/// The real group commit, with [`CommitFault`]s.
pub struct FaultyCommit {
    faults: Faults,
}

fn dropped(what: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        format!("injected fault: {what}"),
    ))
}

impl GroupCommit for FaultyCommit {
    fn commit<'c>(&'c self, tx: Transaction<'c, Any>) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self.faults.take_commit() {
                Some(CommitFault::BeforeCommit) => {
                    tx.rollback().await?;
                    Err(dropped("crash before COMMIT"))
                }
                Some(CommitFault::AfterCommit) => {
                    tx.commit().await?;
                    Err(dropped("connection lost after COMMIT"))
                }
                None => tx.commit().await,
            }
        })
    }
}
