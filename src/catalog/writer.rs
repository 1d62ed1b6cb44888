//! The catalog's one writer: group commit of submissions, and the sealer's
//! reads and writes, serialised.

use sqlx::{Any, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::{Accepted, Batch, Catalog, CatalogError, NewVersion, Pending};
use crate::store::Store;

/// Why a write did not happen (nothing of it was recorded).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("unknown archive object {0}")]
    UnknownAoid(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("store: {0}")]
    Store(String),
    #[error("the catalog writer has stopped")]
    Stopped,
    #[error("sealing: {0}")]
    Inconsistent(String),
}

enum Op {
    Ingest(NewVersion, oneshot::Sender<Result<Accepted, WriteError>>),
    Pending(usize, oneshot::Sender<Result<Vec<Pending>, WriteError>>),
    Seal(Batch, oneshot::Sender<Result<(), WriteError>>),
}

/// Handle to the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

/// Most submissions committed in one transaction.
const GROUP: usize = 2048;

impl Writer {
    /// Starts the writer task.
    pub fn start(catalog: Catalog, store: Store) -> Self {
        let (tx, rx) = mpsc::channel(GROUP * 4);
        tokio::spawn(run(catalog, store, rx));
        Writer { tx }
    }

    /// Records a version; durable (content and entry) when it returns `Ok`.
    pub async fn ingest(&self, v: NewVersion) -> Result<Accepted, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Ingest(v, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// The oldest pending versions, in seq order.
    pub async fn pending(&self, limit: usize) -> Result<Vec<Pending>, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Pending(limit, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Records a sealed batch over the pending range `first_seq..=last_seq`.
    pub async fn seal(&self, b: Batch) -> Result<(), WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Seal(b, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }
}

async fn run(catalog: Catalog, store: Store, mut rx: mpsc::Receiver<Op>) {
    let mut queue: Vec<Op> = Vec::with_capacity(GROUP);
    while let Some(first) = rx.recv().await {
        queue.push(first);
        while queue.len() < GROUP {
            match rx.try_recv() {
                Ok(op) => queue.push(op),
                Err(_) => break,
            }
        }
        let mut ops = std::mem::take(&mut queue).into_iter().peekable();
        while let Some(op) = ops.next() {
            match op {
                Op::Ingest(v, reply) => {
                    let mut group = vec![(v, reply)];
                    while let Some(Op::Ingest(..)) = ops.peek() {
                        if let Some(Op::Ingest(v, r)) = ops.next() {
                            group.push((v, r));
                        }
                    }
                    ingest_group(&catalog, &store, group).await;
                }
                Op::Pending(limit, reply) => {
                    let _ = reply.send(pending(&catalog, limit).await);
                }
                Op::Seal(b, reply) => {
                    let _ = reply.send(seal(&catalog, b).await);
                }
            }
        }
    }
}

type Reply = oneshot::Sender<Result<Accepted, WriteError>>;

async fn ingest_group(catalog: &Catalog, store: &Store, group: Vec<(NewVersion, Reply)>) {
    // content first: one fsync makes every upload of the group durable
    let s = store.clone();
    if let Err(e) = tokio::task::spawn_blocking(move || s.sync())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        for (_, r) in group {
            let _ = r.send(Err(WriteError::Store(e.clone())));
        }
        return;
    }
    let result: Result<Vec<Result<Accepted, WriteError>>, CatalogError> = async {
        let mut tx = catalog.pool().begin().await?;
        let mut out = Vec::with_capacity(group.len());
        for (v, _) in &group {
            out.push(insert(&mut tx, v).await?);
        }
        tx.commit().await?;
        Ok(out)
    }
    .await;
    match result {
        Ok(results) => {
            for ((_, reply), res) in group.into_iter().zip(results) {
                let _ = reply.send(res);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, submissions = group.len(), "catalog commit failed; nothing of the group was recorded");
            let msg = e.to_string();
            for (_, reply) in group {
                let _ = reply.send(Err(WriteError::Catalog(CatalogError::Corrupt(msg.clone()))));
            }
        }
    }
}

fn new_aoid() -> String {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("randomness");
    b[6] = (b[6] & 0x0f) | 0x40; // UUID version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    v: &NewVersion,
) -> Result<Result<Accepted, WriteError>, CatalogError> {
    let (aoid, version) = match &v.aoid {
        None => {
            let aoid = new_aoid();
            sqlx::query(
                "INSERT INTO objects (aoid, created_at, latest_version, tenant) VALUES ($1, $2, 1, $3)",
            )
            .bind(&aoid)
            .bind(v.submitted_at_ms)
            .bind(v.tenant.clone())
            .execute(&mut **tx)
            .await?;
            (aoid, 1i64)
        }
        Some(aoid) => {
            let row = sqlx::query("UPDATE objects SET latest_version = latest_version + 1 WHERE aoid = $1 RETURNING latest_version")
                .bind(aoid)
                .fetch_optional(&mut **tx)
                .await?;
            match row {
                Some(r) => (aoid.clone(), r.try_get(0)?),
                None => return Ok(Err(WriteError::UnknownAoid(aoid.clone()))),
            }
        }
    };
    let meta = serde_json::to_string(&v.metadata.meta).unwrap_or_else(|_| "{}".into());
    let members: Vec<u8> = v.members.concat();
    let row = sqlx::query(
        "INSERT INTO versions (aoid, version, submitted_at, system, file_ref, title, retention_until, media_type, meta, size, sha256, members, salt) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING seq",
    )
    .bind(&aoid)
    .bind(version)
    .bind(v.submitted_at_ms)
    .bind(v.metadata.system.clone())
    .bind(v.metadata.file_ref.clone())
    .bind(v.metadata.title.clone())
    .bind(v.metadata.retention_until.clone())
    .bind(&v.media_type)
    .bind(meta)
    .bind(v.size as i64)
    .bind(v.sha256.to_vec())
    .bind(members)
    .bind(v.salt.clone())
    .fetch_one(&mut **tx)
    .await?;
    Ok(Ok(Accepted {
        aoid,
        version,
        seq: row.try_get(0)?,
    }))
}

async fn pending(catalog: &Catalog, limit: usize) -> Result<Vec<Pending>, WriteError> {
    let rows = sqlx::query(
        "SELECT seq, members FROM versions WHERE batch_id IS NULL ORDER BY seq LIMIT $1",
    )
    .bind(limit as i64)
    .fetch_all(catalog.pool())
    .await
    .map_err(CatalogError::from)?;
    rows.iter()
        .map(|r| {
            Ok(Pending {
                seq: r.try_get(0).map_err(CatalogError::from)?,
                members: r.try_get(1).map_err(CatalogError::from)?,
            })
        })
        .collect()
}

async fn seal(catalog: &Catalog, b: Batch) -> Result<(), WriteError> {
    let mut tx = catalog.pool().begin().await.map_err(CatalogError::from)?;
    sqlx::query(
        "INSERT INTO batches (id, sealed_at, digest_algorithm, leaves, first_seq, last_seq, root, tsa, gen_time, token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(b.id)
    .bind(b.sealed_at_ms)
    .bind(&b.digest_algorithm)
    .bind(b.leaves)
    .bind(b.first_seq)
    .bind(b.last_seq)
    .bind(&b.root)
    .bind(&b.tsa)
    .bind(b.gen_time_ms)
    .bind(&b.token)
    .execute(&mut *tx)
    .await
    .map_err(CatalogError::from)?;
    let done = sqlx::query(
        "UPDATE versions SET batch_id = $1 WHERE batch_id IS NULL AND seq >= $2 AND seq <= $3",
    )
    .bind(b.id)
    .bind(b.first_seq)
    .bind(b.last_seq)
    .execute(&mut *tx)
    .await
    .map_err(CatalogError::from)?
    .rows_affected();
    let mut versions = b.leaves as u64;
    if let Some((seq, head)) = &b.audit_head {
        versions -= 1;
        sqlx::query("INSERT INTO audit_seals (batch_id, audit_seq, head) VALUES ($1, $2, $3)")
            .bind(b.id)
            .bind(*seq)
            .bind(head.to_vec())
            .execute(&mut *tx)
            .await
            .map_err(CatalogError::from)?;
    }
    if done != versions {
        // rolled back on drop: the batch stays pending
        return Err(WriteError::Inconsistent(format!(
            "batch {} covers {} versions but {} were pending in its range",
            b.id, versions, done
        )));
    }
    tx.commit().await.map_err(CatalogError::from)?;
    Ok(())
}
