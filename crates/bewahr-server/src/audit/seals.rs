//! The sealed heads of the audit trail, for auditors: which entry's head
//! each batch sealed as its leaf 0, and the exact bytes that leaf hashes.
//!
//! Leaf 0 of a batch's tree is H(head), head being the 32 bytes of the
//! chain hash of the entry (all zeros before the first entry); so the head
//! is the data object of the evidence record of a sealed head, and
//! `bewahr verify --er head.ers --data head.bin` checks it offline. A head
//! reveals nothing of the entries but their hash.

use serde::Serialize;
use sqlx::Row;

use crate::catalog::{rfc3339_ms, Catalog, CatalogError};

/// A sealed head as auditors see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SealView {
    /// The entry whose head was sealed (0: before the first entry).
    pub seq: i64,
    /// Hex of the 32 head bytes (what leaf 0 hashes).
    pub head: String,
    /// The batch whose tree holds the head as leaf 0.
    pub batch: i64,
    /// The genTime of the batch's time-stamp.
    pub gen_time: String,
    pub tsa: String,
}

/// Sealed heads of batches after batch `after`, in batch order (which is
/// the order of the heads), at most `limit`.
pub async fn list(
    catalog: &Catalog,
    after: i64,
    limit: i64,
) -> Result<Vec<SealView>, CatalogError> {
    let rows = sqlx::query(
        "SELECT s.audit_seq, s.head, s.batch_id, b.gen_time, b.tsa FROM audit_seals s \
         JOIN batches b ON b.id = s.batch_id WHERE s.batch_id > $1 ORDER BY s.batch_id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(catalog.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let head: Vec<u8> = r.try_get(1)?;
            Ok(SealView {
                seq: r.try_get(0)?,
                head: hex::encode(head),
                batch: r.try_get(2)?,
                gen_time: rfc3339_ms(r.try_get(3)?),
                tsa: r.try_get(4)?,
            })
        })
        .collect()
}

/// The first batch that sealed the head of entry `seq`, and that head.
pub async fn find(catalog: &Catalog, seq: i64) -> Result<Option<(i64, [u8; 32])>, CatalogError> {
    let Some(r) = sqlx::query(
        "SELECT batch_id, head FROM audit_seals WHERE audit_seq = $1 ORDER BY batch_id LIMIT 1",
    )
    .bind(seq)
    .fetch_optional(catalog.pool())
    .await?
    else {
        return Ok(None);
    };
    let head: Vec<u8> = r.try_get(1)?;
    let head = <[u8; 32]>::try_from(head.as_slice())
        .map_err(|_| CatalogError::Corrupt("audit seal head is not 32 bytes".into()))?;
    Ok(Some((r.try_get(0)?, head)))
}
