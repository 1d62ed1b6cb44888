//! Files uploaded for LXAIPs (TR-ESOR-E section 6): one row per upload,
//! named by the URI the archive gave it.
//!
//! Contract:
//! - An upload's row is written while its content is pinned in the store
//!   (`store::InFlight`), so the sweeper never sees the content without
//!   either the pin or the row. An unspent, unexpired row keeps its
//!   content (`Catalog::references`).
//! - A reference is spent at most once ([`Catalog::spend_uploads`]: one
//!   conditional `UPDATE` per URI, so of two packages naming it at the
//!   same moment one gets it). Spent is final: a package that was refused
//!   spent its references too (C.2 M-ADD-03a). From then on the content
//!   is kept by the version whose member it became, or by nothing.
//! - These rows are written here, not by the catalog's [`super::Writer`]:
//!   they belong to no version and no batch, and their order does not
//!   matter to sealing (the documented exception to "one write path").

use sqlx::Row;

use super::{Catalog, CatalogError};

/// `spent_by` of an upload whose time ran out unused.
const EXPIRED: &str = "expired";

/// A new upload.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub uri: String,
    pub tenant: Option<String>,
    pub sha256: [u8; 32],
    pub size: u64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// [`super::Writer::sweep_generation`] before the content was written.
    pub sweep_gen: i64,
}

/// An upload as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRow {
    pub uri: String,
    pub tenant: Option<String>,
    pub sha256: [u8; 32],
    pub size: u64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub spent_at_ms: Option<i64>,
    /// The SHA-256 (hex) of the package that named it, or `expired`.
    pub spent_by: Option<String>,
}

impl UploadRow {
    /// The SHA-256 of the package that spent it (none: unspent or expired).
    pub fn package(&self) -> Option<[u8; 32]> {
        self.spent_by
            .as_deref()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| b.try_into().ok())
    }
}

/// What spending one reference found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spend {
    /// Spent now, by this package: the content's SHA-256.
    Fresh { sha256: [u8; 32], size: u64 },
    /// Spent before, by a package.
    Spent,
    /// Its time ran out unused.
    Expired,
    /// No upload of the caller's tenant has this URI.
    Unknown,
}

fn row(r: &sqlx::any::AnyRow) -> Result<UploadRow, CatalogError> {
    let sha: Vec<u8> = r.try_get("sha256")?;
    Ok(UploadRow {
        uri: r.try_get("uri")?,
        tenant: r.try_get("tenant")?,
        sha256: sha
            .try_into()
            .map_err(|_| CatalogError::Corrupt("uploads.sha256 is not 32 bytes".into()))?,
        size: r.try_get::<i64, _>("size")? as u64,
        created_at_ms: r.try_get("created_at")?,
        expires_at_ms: r.try_get("expires_at")?,
        spent_at_ms: r.try_get("spent_at")?,
        spent_by: r.try_get("spent_by")?,
    })
}

const COLUMNS: &str = "uri, tenant, sha256, size, created_at, expires_at, spent_at, spent_by";

impl Catalog {
    /// Records an upload (its content durable and pinned); false (nothing
    /// recorded) if the sweeper of another node removed its content since
    /// it was written (PostgreSQL; see the writer's `swept_meanwhile`).
    pub async fn record_upload(&self, u: &NewUpload) -> Result<bool, CatalogError> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == super::Backend::Postgres {
            super::lock_contents_shared(&mut tx, std::iter::once(&u.sha256)).await?;
            let swept =
                sqlx::query("SELECT 1 FROM content_sweeps WHERE sha256 = $1 AND id > $2 LIMIT 1")
                    .bind(u.sha256.to_vec())
                    .bind(u.sweep_gen)
                    .fetch_optional(&mut *tx)
                    .await?;
            if swept.is_some() {
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO uploads (uri, tenant, sha256, size, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&u.uri)
        .bind(u.tenant.clone())
        .bind(u.sha256.to_vec())
        .bind(u.size as i64)
        .bind(u.created_at_ms)
        .bind(u.expires_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The upload named `uri`, if the tenant has one of that name.
    pub async fn upload(
        &self,
        uri: &str,
        tenant: Option<&str>,
    ) -> Result<Option<UploadRow>, CatalogError> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM uploads WHERE uri = $1 AND COALESCE(tenant, '') = $2"
        )))
        .bind(uri)
        .bind(tenant.unwrap_or_default())
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(row).transpose()
    }

    /// Spends the references `uris` for the package whose SHA-256 is
    /// `by`: each one that is the tenant's, unspent and unexpired becomes
    /// spent; the answer says per URI what was found.
    pub async fn spend_uploads(
        &self,
        uris: &[String],
        tenant: Option<&str>,
        by: &str,
        now_ms: i64,
    ) -> Result<Vec<Spend>, CatalogError> {
        let mut out = Vec::with_capacity(uris.len());
        for uri in uris {
            let got = sqlx::query(
                "UPDATE uploads SET spent_at = $1, spent_by = $2 \
                 WHERE uri = $3 AND COALESCE(tenant, '') = $4 AND spent_at IS NULL AND expires_at > $1 \
                 RETURNING sha256, size",
            )
            .bind(now_ms)
            .bind(by)
            .bind(uri)
            .bind(tenant.unwrap_or_default())
            .fetch_optional(self.pool())
            .await?;
            out.push(match got {
                Some(r) => {
                    let sha: Vec<u8> = r.try_get(0)?;
                    Spend::Fresh {
                        sha256: sha.try_into().map_err(|_| {
                            CatalogError::Corrupt("uploads.sha256 is not 32 bytes".into())
                        })?,
                        size: r.try_get::<i64, _>(1)? as u64,
                    }
                }
                None => match self.upload(uri, tenant).await? {
                    None => Spend::Unknown,
                    Some(UploadRow {
                        spent_by: Some(by), ..
                    }) if by != EXPIRED => Spend::Spent,
                    // marked by the sweeper, or its time ran out before
                    Some(_) => Spend::Expired,
                },
            });
        }
        Ok(out)
    }

    /// Marks the uploads whose time ran out unused as spent (`expired`):
    /// their content is then unreferenced and the sweeper removes it.
    /// Returns how many.
    pub async fn expire_uploads(&self, now_ms: i64) -> Result<u64, CatalogError> {
        Ok(sqlx::query(
            "UPDATE uploads SET spent_at = $1, spent_by = $2 WHERE spent_at IS NULL AND expires_at <= $1",
        )
        .bind(now_ms)
        .bind(EXPIRED)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// The archive object and version whose document is the package with
    /// SHA-256 `package`, while it is not deleted: where the files that
    /// package referred to are preserved (as members of the version's
    /// group), and whose readers may download them.
    pub async fn upload_holder(
        &self,
        package: &[u8; 32],
    ) -> Result<Option<(String, i64)>, CatalogError> {
        let r = sqlx::query(
            "SELECT aoid, version FROM versions WHERE sha256 = $1 AND deleted_at IS NULL ORDER BY seq LIMIT 1",
        )
        .bind(package.to_vec())
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }
}
