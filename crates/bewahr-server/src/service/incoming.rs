//! A document arriving in pieces: hashing and store writes happen in
//! blocking tasks, never on the async workers that serve connections.

use bytes::Bytes;

use super::ServiceError;
use crate::store::Upload;

/// Pieces are gathered up to this many bytes, then hashed and written in
/// one blocking task (a hand-off costs microseconds; this many bytes take
/// a few hundred of them to hash).
const HAND_OFF: usize = 256 << 10;

/// A document on its way into the store. Dropping it (a cancelled request,
/// a client gone mid-body) removes what was written (the upload's drop
/// guard); so does every error it returns.
pub struct Incoming {
    upload: Option<Upload>,
    pending: Vec<Bytes>,
    pending_len: usize,
    limit: u64,
}

impl Incoming {
    pub(crate) fn new(upload: Upload, limit: u64) -> Self {
        Incoming {
            upload: Some(upload),
            pending: Vec::new(),
            pending_len: 0,
            limit,
        }
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.upload.as_ref().map_or(0, Upload::size) + self.pending_len as u64
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

    /// Writes the gathered pieces in a blocking task.
    async fn hand_off(&mut self) -> Result<(), ServiceError> {
        let Some(mut upload) = self.upload.take() else {
            return Err(ServiceError::Task("the upload was already given up".into()));
        };
        let pieces = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let done = tokio::task::spawn_blocking(move || {
            for p in &pieces {
                if let Err(e) = upload.write(p) {
                    upload.abort();
                    return Err(e);
                }
            }
            Ok(upload)
        })
        .await;
        match done {
            Ok(Ok(u)) => {
                self.upload = Some(u);
                Ok(())
            }
            Ok(Err(e)) => Err(e.into()),
            // a panic in the task dropped the upload: its guard removed it
            Err(e) => Err(e.into()),
        }
    }

    /// All pieces written: the upload, ready for the service to commit.
    pub async fn finish(mut self) -> Result<Upload, ServiceError> {
        if self.pending_len > 0 {
            if self.pending_len >= 64 << 10 {
                self.hand_off().await?;
            } else if let Some(u) = self.upload.as_mut() {
                // a small remainder: a memcpy and a few microseconds of hashing
                for p in std::mem::take(&mut self.pending) {
                    u.write(&p)?;
                }
                self.pending_len = 0;
            }
        }
        self.upload
            .take()
            .ok_or_else(|| ServiceError::Task("the upload was already given up".into()))
    }

    /// Gives the document up and removes what was written.
    pub fn abort(&mut self) {
        self.pending.clear();
        self.pending_len = 0;
        if let Some(u) = self.upload.take() {
            u.abort();
        }
    }
}
