//! A document arriving in pieces: hashing and store writes happen in
//! blocking tasks, never on the async workers that serve connections.
//!
//! On the server's multi-threaded runtime each batch of pieces is written
//! in place (`block_in_place`); elsewhere in a blocking task, pipelined
//! with receiving the next batch (one write in flight, in order).

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::ServiceError;
use crate::store::{StoreError, Upload};

/// Pieces are gathered up to this many bytes, then hashed and written in
/// one blocking task: few hand-offs per document (each costs two thread
/// wake-ups), little memory (two batches per upload at most).
const HAND_OFF: usize = 1 << 20;

/// A small remainder is written inline at the end: a memcpy and a few
/// microseconds of hashing, less than a hand-off.
const INLINE_REMAINDER: usize = 64 << 10;

type Write = JoinHandle<Result<Upload, StoreError>>;

/// A document on its way into the store. Dropping it (a cancelled request,
/// a client gone mid-body) removes what was written (the upload's drop
/// guard, also for a write in flight, which drops the upload when it
/// ends); so does every error it returns.
pub struct Incoming {
    /// The upload, when no write is in flight.
    upload: Option<Upload>,
    /// The write in flight, which hands the upload back.
    writing: Option<Write>,
    /// Bytes in the store or in flight.
    written: u64,
    pending: Vec<Bytes>,
    pending_len: usize,
    limit: u64,
}

impl Incoming {
    pub(crate) fn new(upload: Upload, limit: u64) -> Self {
        Incoming {
            upload: Some(upload),
            writing: None,
            written: 0,
            pending: Vec::new(),
            pending_len: 0,
            limit,
        }
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.written + self.pending_len as u64
    }

    /// Takes the next piece; `TooLarge` (and the upload removed) past the limit.
    pub async fn push(&mut self, piece: Bytes) -> Result<(), ServiceError> {
        if self.size() + piece.len() as u64 > self.limit {
            self.abort();
            return Err(ServiceError::TooLarge(format!(
                "the document is larger than the limit of {} bytes",
                self.limit
            )));
        }
        self.pending_len += piece.len();
        self.pending.push(piece);
        if self.pending_len >= HAND_OFF {
            self.hand_off().await?;
        }
        Ok(())
    }

    /// Waits for the write in flight and takes the upload back.
    async fn settle(&mut self) -> Result<(), ServiceError> {
        if let Some(w) = self.writing.take() {
            match w.await {
                Ok(Ok(u)) => self.upload = Some(u),
                Ok(Err(e)) => {
                    self.abort();
                    return Err(e.into());
                }
                // a panic in the task dropped the upload: its guard removed it
                Err(e) => {
                    self.abort();
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Writes the gathered pieces off the async workers. On the
    /// multi-threaded runtime (the server's) in place: the worker thread
    /// turns into a blocking thread for the while and hands its other
    /// tasks to a fresh worker ([`tokio::task::block_in_place`]), so the
    /// bytes stay in this core's cache and no thread has to be woken. A
    /// hand-off to the blocking pool instead (pipelined, one write in
    /// flight) cost 10 to 16% of the throughput of 10 MB documents
    /// (docs/benchmarks.md); it remains for single-threaded runtimes,
    /// where a worker cannot step aside.
    async fn hand_off(&mut self) -> Result<(), ServiceError> {
        self.settle().await?;
        let Some(mut upload) = self.upload.take() else {
            return Err(ServiceError::Task("the upload was already given up".into()));
        };
        let pieces = std::mem::take(&mut self.pending);
        self.written += self.pending_len as u64;
        self.pending_len = 0;
        let write = move || {
            for p in &pieces {
                if let Err(e) = upload.write(p) {
                    upload.abort();
                    return Err(e);
                }
            }
            Ok(upload)
        };
        if tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
        {
            match tokio::task::block_in_place(write) {
                Ok(u) => self.upload = Some(u),
                Err(e) => {
                    self.abort();
                    return Err(e.into());
                }
            }
        } else {
            self.writing = Some(tokio::task::spawn_blocking(write));
        }
        Ok(())
    }

    /// All pieces written: the upload, ready for the service to commit.
    pub async fn finish(mut self) -> Result<Upload, ServiceError> {
        if self.pending_len >= INLINE_REMAINDER {
            self.hand_off().await?;
        }
        self.settle().await?;
        let mut upload = self
            .upload
            .take()
            .ok_or_else(|| ServiceError::Task("the upload was already given up".into()))?;
        for p in std::mem::take(&mut self.pending) {
            if let Err(e) = upload.write(&p) {
                upload.abort();
                return Err(e.into());
            }
        }
        Ok(upload)
    }

    /// Gives the document up and removes what was written (a write in
    /// flight removes its part when it ends: the upload is dropped there).
    pub fn abort(&mut self) {
        self.pending.clear();
        self.pending_len = 0;
        if let Some(w) = self.writing.take() {
            // the task keeps running to its end, then drops the upload,
            // whose guard removes the chunks
            drop(w);
        }
        if let Some(u) = self.upload.take() {
            u.abort();
        }
    }
}
