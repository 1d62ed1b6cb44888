//! The catalog (sqlx): SQLite embedded, PostgreSQL for large installations.
//!
//! Contract:
//! - Reads go to the pool and may run concurrently.
//! - Every write goes through one [`Writer`] task, which groups concurrent
//!   submissions into one transaction (group commit) and calls the store's
//!   `sync` before committing, so a committed entry never refers to content
//!   that is not durable. A write is durable when its reply arrives.
//! - A node's writes are serialised through its writer; several nodes
//!   (PostgreSQL and an S3 store) commit concurrently, so sequence numbers
//!   are unique but not in commit order across nodes: a batch is the list
//!   of versions it sealed (each `batch_id IS NULL` until then), not a range.
//! - Roles one node holds at a time (sealing, renewal, the sweeper) go with
//!   the leader lease (`cluster`); its commits are fenced by the epoch.
//! - With a node-local store (RocksDB), one `bewahr serve` per catalog
//!   (PostgreSQL: an advisory lock enforces it).

mod cluster;
mod commit;
mod model;
mod renewal;
pub mod search;
mod uploads;
mod writer;

pub(crate) use cluster::{
    fence, fence_run, lock_content, lock_contents_shared, now_sql, tree_recorded,
};
pub use cluster::{fence_for_tests, Claim, ClaimedRange, DoneRange, Fence, FenceError, LeaseRow};
pub use commit::{Commit, GroupCommit};
pub use model::*;
pub use renewal::*;
pub use uploads::{NewUpload, Spend, UploadRow};
pub(crate) use writer::retention_secs;
pub(crate) use writer::{placeholders, statement_parts};
pub use writer::{Deleted, Deletion, SweepOutcome, WriteError, Writer};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Catalog errors.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog: {0}")]
    Db(#[from] sqlx::Error),
    #[error("catalog migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("catalog: another bewahr server holds this PostgreSQL catalog (with store.kind = \"rocksdb\" one node only: several nodes share an S3 store)")]
    Locked,
    #[error("catalog: corrupt row: {0}")]
    Corrupt(String),
}

impl CatalogError {
    /// The catalog could not be reached (pool exhausted or closed, the
    /// connection or TLS broke): the request may succeed later, and the
    /// answer is 503, never 401 or 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            CatalogError::Db(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::WorkerCrashed
            )
        )
    }
}

/// The catalog's read side and its pool.
#[derive(Clone)]
pub struct Catalog {
    pool: AnyPool,
    backend: Backend,
}

/// How many live references a content has (versions not deleted: as
/// document, validation item or group member; unspent uploads).
pub(crate) const REFERENCES_SQL: &str = "SELECT (SELECT COUNT(*) FROM versions WHERE sha256 = $1 AND deleted_at IS NULL) \
     + (SELECT COUNT(*) FROM validations v JOIN versions x ON x.seq = v.seq WHERE x.deleted_at IS NULL \
        AND (v.signature_sha256 = $1 OR v.data_sha256 = $1 OR v.report_sha256 = $1)) \
     + (SELECT COUNT(*) FROM version_members m JOIN versions x ON x.seq = m.seq WHERE x.deleted_at IS NULL \
        AND m.sha256 = $1) \
     + (SELECT COUNT(*) FROM uploads WHERE sha256 = $1 AND spent_at IS NULL)";

const ADVISORY_LOCK: i64 = 0x6265_7761_6872; // "bewahr"

impl Catalog {
    /// Connects and applies the migrations of the backend.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, CatalogError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        if backend == Backend::Sqlite {
            // create the database file's directory
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .map(|p| p.split('?').next().unwrap_or(p))
            {
                if let Some(dir) = std::path::Path::new(path).parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(2))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384;")
                            .execute(conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("../../migrations/sqlite").run(&pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("../../migrations/postgres")
                    .run(&pool)
                    .await?
            }
        }
        Ok(Catalog { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// On PostgreSQL, takes the session-level advisory lock that keeps a
    /// second server off this catalog (taken only with a node-local store);
    /// the returned connection holds it.
    pub async fn lock(
        &self,
    ) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Any>>, CatalogError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(ADVISORY_LOCK)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        if !got {
            return Err(CatalogError::Locked);
        }
        Ok(Some(conn))
    }

    /// An object with all its versions.
    pub async fn object(&self, aoid: &str) -> Result<Option<ObjectView>, CatalogError> {
        let Some(obj) = sqlx::query("SELECT created_at FROM objects WHERE aoid = $1")
            .bind(aoid)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let created: i64 = obj.try_get(0)?;
        let rows = sqlx::query(
            "SELECT v.version, v.submitted_at, v.system, v.file_ref, v.title, v.retention_until, v.media_type, v.meta, v.size, v.sha256, v.batch_id, \
             b.gen_time, b.tsa, b.digest_algorithm, b.leaves \
             FROM versions v LEFT JOIN batches b ON b.id = v.batch_id WHERE v.aoid = $1 ORDER BY v.version",
        )
        .bind(aoid)
        .fetch_all(&self.pool)
        .await?;
        let mut versions = Vec::with_capacity(rows.len());
        for r in rows {
            versions.push(version_view(&r)?);
        }
        Ok(Some(ObjectView {
            aoid: aoid.to_string(),
            created_at: rfc3339_ms(created),
            versions,
        }))
    }

    /// Where a version is; `version` `None` means the latest.
    pub async fn locate(
        &self,
        aoid: &str,
        version: Option<i64>,
    ) -> Result<Option<Location>, CatalogError> {
        let row = match version {
            Some(v) => {
                sqlx::query("SELECT seq, version, batch_id, sha256, media_type, size, members FROM versions WHERE aoid = $1 AND version = $2")
                    .bind(aoid)
                    .bind(v)
                    .fetch_optional(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT seq, version, batch_id, sha256, media_type, size, members FROM versions WHERE aoid = $1 ORDER BY version DESC LIMIT 1")
                    .bind(aoid)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        let Some(r) = row else { return Ok(None) };
        let sha: Vec<u8> = r.try_get(3)?;
        Ok(Some(Location {
            seq: r.try_get(0)?,
            version: r.try_get(1)?,
            batch_id: r.try_get(2)?,
            sha256: sha
                .try_into()
                .map_err(|_| CatalogError::Corrupt("sha256 is not 32 bytes".into()))?,
            media_type: r.try_get(4)?,
            size: r.try_get::<i64, _>(5)? as u64,
            members: r.try_get(6)?,
        }))
    }

    /// The signature validation recorded with a version (by its seq).
    pub async fn validation(&self, seq: i64) -> Result<Option<ValidationRow>, CatalogError> {
        let row = sqlx::query("SELECT format, indication, sub_indication, summary, validated_at, decision, signature_sha256, data_sha256, report_sha256 FROM validations WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let digest = |v: Vec<u8>| {
            <[u8; 32]>::try_from(v.as_slice())
                .map_err(|_| CatalogError::Corrupt("validation digest is not 32 bytes".into()))
        };
        Ok(Some(ValidationRow {
            format: r.try_get(0)?,
            indication: r.try_get(1)?,
            sub_indication: r.try_get(2)?,
            summary: r.try_get(3)?,
            validated_at_ms: r.try_get(4)?,
            decision: r.try_get(5)?,
            signature_sha256: r
                .try_get::<Option<Vec<u8>>, _>(6)?
                .map(digest)
                .transpose()?,
            data_sha256: digest(r.try_get(7)?)?,
            report_sha256: digest(r.try_get(8)?)?,
        }))
    }

    /// A sealed batch.
    pub async fn batch(&self, id: i64) -> Result<Option<Batch>, CatalogError> {
        let row = sqlx::query("SELECT id, sealed_at, digest_algorithm, leaves, first_seq, last_seq, root, tsa, gen_time, token FROM batches WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| batch_row(&r)).transpose()
    }

    /// The newest sealed batch.
    pub async fn last_batch(&self) -> Result<Option<Batch>, CatalogError> {
        let row = sqlx::query("SELECT id, sealed_at, digest_algorithm, leaves, first_seq, last_seq, root, tsa, gen_time, token FROM batches WHERE kind = 'initial' ORDER BY id DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| batch_row(&r)).transpose()
    }

    /// How many versions that are not deleted reference content `sha256`:
    /// as their document, as a preserved validation item (detached
    /// signature, validation data, report) or as another member of their
    /// group (an XAIP's objects); pending versions count. And how many
    /// unspent uploads hold it (they are spent or expired before their
    /// content may go: `Catalog::expire_uploads`).
    pub async fn references(&self, sha256: &[u8; 32]) -> Result<i64, CatalogError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(REFERENCES_SQL))
            .bind(sha256.to_vec())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// Every stored content an object's versions refer to (documents,
    /// package members, signatures, validation reports), each once.
    pub async fn contents_of(&self, aoid: &str) -> Result<Vec<[u8; 32]>, CatalogError> {
        let rows = sqlx::query(
            "SELECT sha256 FROM versions WHERE aoid = $1 \
             UNION SELECT m.sha256 FROM version_members m JOIN versions x ON x.seq = m.seq WHERE x.aoid = $1 \
             UNION SELECT v.signature_sha256 FROM validations v JOIN versions x ON x.seq = v.seq WHERE x.aoid = $1 \
             UNION SELECT v.data_sha256 FROM validations v JOIN versions x ON x.seq = v.seq WHERE x.aoid = $1 \
             UNION SELECT v.report_sha256 FROM validations v JOIN versions x ON x.seq = v.seq WHERE x.aoid = $1",
        )
        .bind(aoid)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(v) = r.try_get::<Option<Vec<u8>>, _>(0)? {
                if let Ok(d) = <[u8; 32]>::try_from(v) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// Whether a live object other than `aoid` under legal hold refers to
    /// content `sha256` (lifting one object's hold must not lift the
    /// store's hold on content another held object shares).
    pub async fn held_elsewhere(
        &self,
        sha256: &[u8; 32],
        aoid: &str,
    ) -> Result<bool, CatalogError> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM objects o WHERE o.aoid <> $2 AND o.legal_hold IS NOT NULL AND o.deleted_at IS NULL AND o.aoid IN ( \
               SELECT aoid FROM versions WHERE sha256 = $1 \
               UNION SELECT x.aoid FROM version_members m JOIN versions x ON x.seq = m.seq WHERE m.sha256 = $1 \
               UNION SELECT x.aoid FROM validations v JOIN versions x ON x.seq = v.seq \
                 WHERE v.signature_sha256 = $1 OR v.data_sha256 = $1 OR v.report_sha256 = $1)",
        )
        .bind(sha256.to_vec())
        .bind(aoid)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(n > 0)
    }

    /// The latest retention date of any version (`YYYY-MM-DD`), if any.
    pub async fn latest_retention(&self) -> Result<Option<String>, CatalogError> {
        Ok(sqlx::query("SELECT MAX(retention_until) FROM versions")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// How many versions wait for sealing.
    /// Whether version `seq` is sealed (false also if there is none).
    pub async fn is_sealed(&self, seq: i64) -> Result<bool, CatalogError> {
        let r = sqlx::query("SELECT batch_id FROM versions WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        Ok(matches!(
            r.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()?,
            Some(Some(_))
        ))
    }

    pub async fn pending_count(&self) -> Result<i64, CatalogError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM versions WHERE batch_id IS NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }

    /// Objects and bytes recorded (for metrics at start-up).
    pub async fn totals(&self) -> Result<(i64, i64), CatalogError> {
        let r = sqlx::query("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM versions")
            .fetch_one(&self.pool)
            .await?;
        Ok((
            r.try_get(0)?,
            r.try_get::<i64, _>(1)
                .or_else(|_| r.try_get::<f64, _>(1).map(|f| f as i64))?,
        ))
    }

    /// A cheap query that proves the database answers.
    pub async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }
}

fn batch_row(r: &AnyRow) -> Result<Batch, CatalogError> {
    Ok(Batch {
        id: r.try_get(0)?,
        sealed_at_ms: r.try_get(1)?,
        digest_algorithm: r.try_get(2)?,
        leaves: r.try_get(3)?,
        first_seq: r.try_get(4)?,
        last_seq: r.try_get(5)?,
        root: r.try_get(6)?,
        tsa: r.try_get(7)?,
        gen_time_ms: r.try_get(8)?,
        token: r.try_get(9)?,
        audit_head: None,
    })
}

fn version_view(r: &AnyRow) -> Result<VersionView, CatalogError> {
    let meta: String = r.try_get(7)?;
    let sha: Vec<u8> = r.try_get(9)?;
    let batch_id: Option<i64> = r.try_get(10)?;
    let batch = match batch_id {
        Some(id) => Some(BatchView {
            id,
            gen_time: rfc3339_ms(r.try_get(11)?),
            tsa: r.try_get(12)?,
            digest_algorithm: r.try_get(13)?,
            leaves: r.try_get(14)?,
        }),
        None => None,
    };
    Ok(VersionView {
        version: r.try_get(0)?,
        state: if batch.is_some() {
            State::Preserved
        } else {
            State::Pending
        },
        submitted_at: rfc3339_ms(r.try_get(1)?),
        media_type: r.try_get(6)?,
        size: r.try_get::<i64, _>(8)? as u64,
        digests: [("sha256".to_string(), hex::encode(sha))]
            .into_iter()
            .collect(),
        metadata: Metadata {
            system: r.try_get(2)?,
            file_ref: r.try_get(3)?,
            title: r.try_get(4)?,
            retention_until: r.try_get(5)?,
            meta: serde_json::from_str(&meta)
                .map_err(|e| CatalogError::Corrupt(format!("meta: {e}")))?,
        },
        batch,
    })
}
