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
    /// A deletion the rules refuse (legal hold, retention, pending versions).
    #[error("{0}")]
    Refused(String),
}

/// A deletion to carry out (TR-ESOR ArchiveDeletion).
#[derive(Clone, Debug)]
pub struct Deletion {
    pub aoid: String,
    pub reason: Option<String>,
    pub requestor: Option<String>,
    /// Who asked (a token id).
    pub by: String,
    pub at_ms: i64,
    /// Today, YYYY-MM-DD: versions retained beyond it need a reason and a requestor.
    pub today: String,
}

/// What a deletion removed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub aoid: String,
    pub versions: i64,
    /// Stored documents removed (identical content of other objects stays).
    pub contents_removed: i64,
    /// Whether it was deleted before its retention date (with a reason).
    pub before_retention: bool,
}

enum Op {
    Ingest(NewVersion, oneshot::Sender<Result<Accepted, WriteError>>),
    Pending(usize, oneshot::Sender<Result<Vec<Pending>, WriteError>>),
    Seal(Batch, oneshot::Sender<Result<(), WriteError>>),
    Delete(Deletion, oneshot::Sender<Result<Deleted, WriteError>>),
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

    /// Deletes an archive object: refused under legal hold, while a version
    /// is pending, or before its retention date without reason and requestor.
    /// Serialised with submissions, so content is never removed under a
    /// submission that deduplicated against it.
    pub async fn delete(&self, d: Deletion) -> Result<Deleted, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Delete(d, tx))
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
                Op::Delete(d, reply) => {
                    let _ = reply.send(delete(&catalog, &store, d).await);
                }
            }
        }
    }
}

type Reply = oneshot::Sender<Result<Accepted, WriteError>>;

async fn ingest_group(catalog: &Catalog, store: &Store, group: Vec<(NewVersion, Reply)>) {
    // content first: one fsync makes every upload of the group durable
    let s = store.clone();
    let digests: Vec<[u8; 32]> = group.iter().map(|(v, _)| v.sha256).collect();
    let present = match tokio::task::spawn_blocking(move || {
        s.sync()?;
        digests
            .iter()
            .map(|d| s.has(d))
            .collect::<Result<Vec<bool>, _>>()
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            for (_, r) in group {
                let _ = r.send(Err(WriteError::Store(e.clone())));
            }
            return;
        }
    };
    // a deletion (serialised before us) may have removed content a
    // submission deduplicated against: that submission must be sent again
    let mut kept = Vec::with_capacity(group.len());
    for ((v, r), ok) in group.into_iter().zip(present) {
        if ok {
            kept.push((v, r));
        } else {
            let _ = r.send(Err(WriteError::Store(
                "the content was deleted while this submission was uploaded; send it again".into(),
            )));
        }
    }
    let group = kept;
    if group.is_empty() {
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
        "INSERT INTO versions (aoid, version, submitted_at, system, file_ref, title, retention_until, media_type, meta, size, sha256, members, salt, stored_members) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq",
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
    .bind((!v.stored_members.is_empty()).then(|| v.stored_members.concat()))
    .fetch_one(&mut **tx)
    .await?;
    let seq: i64 = row.try_get(0)?;
    if let Some(val) = &v.validation {
        sqlx::query(
            "INSERT INTO validations (seq, format, indication, sub_indication, summary, validated_at, decision, signature_sha256, data_sha256, report_sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq)
        .bind(&val.format)
        .bind(&val.indication)
        .bind(val.sub_indication.clone())
        .bind(&val.summary)
        .bind(val.validated_at_ms)
        .bind(&val.decision)
        .bind(val.signature_sha256.map(|s| s.to_vec()))
        .bind(val.data_sha256.to_vec())
        .bind(val.report_sha256.to_vec())
        .execute(&mut **tx)
        .await?;
    }
    Ok(Ok(Accepted { aoid, version, seq }))
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

async fn delete(catalog: &Catalog, store: &Store, d: Deletion) -> Result<Deleted, WriteError> {
    let mut tx = catalog.pool().begin().await.map_err(CatalogError::from)?;
    // the write first: it takes SQLite's write lock; the checks below run under it
    let n =
        sqlx::query("UPDATE objects SET deleted_at = $1 WHERE aoid = $2 AND deleted_at IS NULL")
            .bind(d.at_ms)
            .bind(&d.aoid)
            .execute(&mut *tx)
            .await
            .map_err(CatalogError::from)?
            .rows_affected();
    if n == 0 {
        return Err(WriteError::UnknownAoid(d.aoid));
    }
    let obj = sqlx::query("SELECT legal_hold FROM objects WHERE aoid = $1")
        .bind(&d.aoid)
        .fetch_one(&mut *tx)
        .await
        .map_err(CatalogError::from)?;
    let hold: Option<String> = obj.try_get(0).map_err(CatalogError::from)?;
    if let Some(h) = hold {
        return Err(WriteError::Refused(format!(
            "the object is under legal hold ({h}); it cannot be deleted until the hold is lifted"
        )));
    }
    let rows = sqlx::query(
        "SELECT version, batch_id, retention_until, sha256, stored_members FROM versions WHERE aoid = $1 ORDER BY version",
    )
    .bind(&d.aoid)
    .fetch_all(&mut *tx)
    .await
    .map_err(CatalogError::from)?;
    let mut retained: Option<String> = None;
    let mut digests: Vec<Vec<u8>> = Vec::new();
    // the preserved validation items (signature, validation data, report)
    let mut preserved: Vec<[u8; 32]> = Vec::new();
    for r in &rows {
        preserved.extend(crate::catalog::split_digests(
            r.try_get::<Option<Vec<u8>>, _>(4)
                .map_err(CatalogError::from)?,
        )?);
        let version: i64 = r.try_get(0).map_err(CatalogError::from)?;
        let batch: Option<i64> = r.try_get(1).map_err(CatalogError::from)?;
        if batch.is_none() {
            return Err(WriteError::Refused(format!(
                "version {version} is pending; delete the object once its batch is sealed"
            )));
        }
        let until: Option<String> = r.try_get(2).map_err(CatalogError::from)?;
        if let Some(u) = until {
            if u > d.today && retained.as_ref().is_none_or(|x| u > *x) {
                retained = Some(u);
            }
        }
        digests.push(r.try_get(3).map_err(CatalogError::from)?);
    }
    let has = |s: &Option<String>| s.as_ref().is_some_and(|x| !x.trim().is_empty());
    if let Some(u) = &retained {
        if !(has(&d.reason) && has(&d.requestor)) {
            return Err(WriteError::Refused(format!(
                "the object is to be retained until {u}: deleting it before then needs a reason and a requestor"
            )));
        }
    }
    let info = serde_json::json!({"reason": d.reason, "requestor": d.requestor, "by": d.by, "before_retention": retained});
    sqlx::query("UPDATE objects SET deletion = $1 WHERE aoid = $2")
        .bind(info.to_string())
        .bind(&d.aoid)
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::from)?;
    // the validation summary names the signer: it goes with the metadata
    sqlx::query("UPDATE validations SET summary = '' WHERE seq IN (SELECT seq FROM versions WHERE aoid = $1)")
        .bind(&d.aoid)
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::from)?;
    // metadata and salt go; seq, batch and digest stay (other objects' trees hold the leaf hash)
    sqlx::query(
        "UPDATE versions SET deleted_at = $1, system = NULL, file_ref = NULL, title = NULL, meta = '{}', salt = NULL WHERE aoid = $2",
    )
    .bind(d.at_ms)
    .bind(&d.aoid)
    .execute(&mut *tx)
    .await
    .map_err(CatalogError::from)?;
    tx.commit().await.map_err(CatalogError::from)?;
    // content nobody else refers to, as a document or as a preserved validation
    // item (a crash here leaves unreferenced content, never missing content)
    let mut removed = 0;
    let mut candidates: Vec<[u8; 32]> = digests
        .iter()
        .filter_map(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
        .chain(preserved)
        .collect();
    candidates.sort();
    candidates.dedup();
    for sha in candidates {
        let live: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM versions WHERE sha256 = $1 AND deleted_at IS NULL) \
             + (SELECT COUNT(*) FROM validations v JOIN versions x ON x.seq = v.seq WHERE x.deleted_at IS NULL \
                AND (v.signature_sha256 = $1 OR v.data_sha256 = $1 OR v.report_sha256 = $1))",
        )
        .bind(sha.to_vec())
        .fetch_one(catalog.pool())
        .await
        .map_err(CatalogError::from)?
        .try_get(0)
        .map_err(CatalogError::from)?;
        if live == 0 {
            let s = store.clone();
            let gone = tokio::task::spawn_blocking(move || s.delete_content(&sha))
                .await
                .map_err(|e| WriteError::Store(e.to_string()))?
                .map_err(|e| WriteError::Store(e.to_string()))?;
            removed += i64::from(gone);
        }
    }
    Ok(Deleted {
        aoid: d.aoid,
        versions: rows.len() as i64,
        contents_removed: removed,
        before_retention: retained.is_some(),
    })
}
