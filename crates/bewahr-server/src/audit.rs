//! The audit trail (TR-ESOR: renewals and deletions must be logged; ETSI TS
//! 119 512 RetrieveTrace): every request with its principal and result,
//! every authentication failure, every renewal run.
//!
//! Tamper-evident: entry `n`'s hash is SHA-256 over the hash of entry `n-1`
//! and entry `n`'s fields (length-prefixed); the head of the chain is sealed
//! into each batch as leaf 0 (`audit_seals`), so the archive's own
//! time-stamps prove the trail up to there.
//!
//! Contract: the server's catalog writer appends in its group commits, each
//! continuing from the head in the catalog inside its transaction (the
//! command line appends the same way, so the chain stays linear);
//! [`Audit::record`] returns once the entry is queued, not durable.
//! An entry recorded right before a crash may be lost; one that was
//! committed is durable and can never be changed without breaking the chain.

pub mod proof;
pub mod seals;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use sqlx::Row;
use tokio::sync::mpsc;

use crate::catalog::{rfc3339_ms, Catalog, CatalogError, WriteError, Writer};

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub at_ms: i64,
    pub actor: String,
    pub tenant: Option<String>,
    pub action: String,
    pub aoid: Option<String>,
    pub result: String,
    pub detail: String,
}

/// An entry as auditors see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aoid: Option<String>,
    pub result: String,
    pub detail: String,
    /// Hex SHA-256 chain hash.
    pub hash: String,
}

/// The hash that chains entry `seq` to `prev`.
pub fn chain_hash(prev: &[u8; 32], seq: i64, e: &Entry) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(e.at_ms.to_be_bytes());
    for f in [
        Some(e.actor.as_str()),
        e.tenant.as_deref(),
        Some(e.action.as_str()),
        e.aoid.as_deref(),
        Some(e.result.as_str()),
        Some(e.detail.as_str()),
    ] {
        match f {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    h.finalize().into()
}

/// Handle to the audit writer.
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::Sender<Entry>,
    head: Arc<Mutex<(i64, [u8; 32])>>,
}

impl Audit {
    /// Starts the writer, continuing the chain in the catalog. Entries are
    /// appended by the catalog's one writer (`catalog`'s [`Writer`]), in the
    /// transaction of its next group commit: no second connection competes
    /// for the catalog's write lock, and an entry is durable with it.
    pub async fn start(
        catalog: Catalog,
        writer: Writer,
        sup: &crate::supervisor::Supervisor,
    ) -> Result<Self, CatalogError> {
        let head = committed_head(&catalog).await?;
        let head = Arc::new(Mutex::new(head));
        let (tx, rx) = mpsc::channel(65_536);
        sup.spawn("audit-queue", queue(writer, rx, head.clone()));
        Ok(Audit { tx, head })
    }

    /// Queues an entry.
    pub async fn record(&self, e: Entry) {
        if self.tx.send(e).await.is_err() {
            tracing::error!("the audit writer has stopped");
        }
    }

    /// The committed head of the chain: (seq, hash); (0, zeros) when empty.
    pub fn head(&self) -> (i64, [u8; 32]) {
        self.head.lock().map(|h| *h).unwrap_or((0, [0u8; 32]))
    }
}

/// The head of the chain as committed now (by any node): (seq, hash);
/// (0, zeros) when empty.
pub async fn committed_head(catalog: &Catalog) -> Result<(i64, [u8; 32]), CatalogError> {
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(catalog.pool())
        .await?;
    Ok(match last {
        Some(r) => {
            let h: Vec<u8> = r.try_get(1)?;
            (
                r.try_get(0)?,
                h.try_into()
                    .map_err(|_| CatalogError::Corrupt("audit hash is not 32 bytes".into()))?,
            )
        }
        None => (0, [0u8; 32]),
    })
}

/// Hands queued entries to the catalog writer, as many at a time as have
/// accumulated (at most 4,096), in order.
async fn queue(writer: Writer, mut rx: mpsc::Receiver<Entry>, head: Arc<Mutex<(i64, [u8; 32])>>) {
    let mut batch = Vec::with_capacity(4096);
    while let Some(e) = rx.recv().await {
        batch.push(e);
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let mut delay = std::time::Duration::from_millis(50);
        loop {
            match writer.audit(batch.clone()).await {
                Ok(h) => {
                    if let Ok(mut g) = head.lock() {
                        *g = h;
                    }
                    break;
                }
                Err(WriteError::Stopped) => {
                    tracing::error!(
                        entries = batch.len(),
                        "audit trail: the catalog writer has stopped"
                    );
                    return;
                }
                Err(e) => {
                    // the chain must not have gaps: retry until the catalog takes it
                    tracing::error!(error = %e, entries = batch.len(), "audit trail: cannot write; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(10));
                }
            }
        }
        batch.clear();
    }
}

/// Appends entries to the chain in one transaction, continuing from the
/// head as the catalog has it (so the command line can append while the
/// server runs: a concurrent append makes one of them fail and retry);
/// returns the new head.
pub async fn append(catalog: &Catalog, entries: &[Entry]) -> Result<(i64, [u8; 32]), CatalogError> {
    let mut conn = catalog.pool().acquire().await?;
    append_on(&mut conn, catalog.backend(), entries).await
}

async fn append_on(
    conn: &mut sqlx::AnyConnection,
    backend: crate::catalog::Backend,
    entries: &[Entry],
) -> Result<(i64, [u8; 32]), CatalogError> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    let head = append_in(&mut tx, backend, entries).await?;
    tx.commit().await?;
    Ok(head)
}

/// Appends entries inside the caller's transaction, continuing from the
/// head as the catalog has it; returns the new head (valid once the caller
/// commits).
pub(crate) async fn append_in(
    tx: &mut sqlx::AnyConnection,
    backend: crate::catalog::Backend,
    entries: &[Entry],
) -> Result<(i64, [u8; 32]), CatalogError> {
    if backend == crate::catalog::Backend::Postgres {
        // one appender at a time, held until commit
        sqlx::query("SELECT pg_advisory_xact_lock(6451)")
            .execute(&mut *tx)
            .await?;
    }
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (mut seq, mut hash) = match last {
        Some(r) => {
            let h: Vec<u8> = r.try_get(1)?;
            (
                r.try_get::<i64, _>(0)?,
                <[u8; 32]>::try_from(h.as_slice())
                    .map_err(|_| CatalogError::Corrupt("audit hash is not 32 bytes".into()))?,
            )
        }
        None => (0, [0u8; 32]),
    };
    // multi-row statements of a few fixed sizes
    for part in crate::catalog::statement_parts(entries) {
        let sql = format!(
            "INSERT INTO audit (seq, at, actor, tenant, action, aoid, result, detail, hash) VALUES {}",
            crate::catalog::placeholders(backend, part.len(), 9)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in part {
            seq += 1;
            hash = chain_hash(&hash, seq, e);
            q = q
                .bind(seq)
                .bind(e.at_ms)
                .bind(e.actor.clone())
                .bind(e.tenant.clone())
                .bind(e.action.clone())
                .bind(e.aoid.clone())
                .bind(e.result.clone())
                .bind(e.detail.clone())
                .bind(hash.to_vec());
        }
        q.execute(&mut *tx).await?;
    }
    Ok((seq, hash))
}

fn view(r: &sqlx::any::AnyRow) -> Result<(EntryView, Entry, [u8; 32]), CatalogError> {
    let hash: Vec<u8> = r.try_get(8)?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| CatalogError::Corrupt("audit hash is not 32 bytes".into()))?;
    let e = Entry {
        at_ms: r.try_get(1)?,
        actor: r.try_get(2)?,
        tenant: r.try_get(3)?,
        action: r.try_get(4)?,
        aoid: r.try_get(5)?,
        result: r.try_get(6)?,
        detail: r.try_get(7)?,
    };
    Ok((
        EntryView {
            seq: r.try_get(0)?,
            at: rfc3339_ms(e.at_ms),
            actor: e.actor.clone(),
            tenant: e.tenant.clone(),
            action: e.action.clone(),
            aoid: e.aoid.clone(),
            result: e.result.clone(),
            detail: e.detail.clone(),
            hash: hex::encode(hash),
        },
        e,
        hash,
    ))
}

const COLS: &str = "seq, at, actor, tenant, action, aoid, result, detail, hash";

/// Entries of `tenant` (all, for `None`), optionally of one object, after `after`, oldest first.
pub async fn entries(
    catalog: &Catalog,
    tenant: Option<&str>,
    aoid: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<EntryView>, CatalogError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM audit WHERE seq > $1 AND ($2 IS NULL OR tenant = $2) AND ($3 IS NULL OR aoid = $3) ORDER BY seq LIMIT $4"
    )))
    .bind(after)
    .bind(tenant.map(str::to_string))
    .bind(aoid.map(str::to_string))
    .bind(limit)
    .fetch_all(catalog.pool())
    .await?;
    rows.iter().map(|r| view(r).map(|v| v.0)).collect()
}

/// The latest `limit` entries of `tenant` (`None`: all), newest first
/// (the admin dashboard).
pub async fn recent(
    catalog: &Catalog,
    tenant: Option<&str>,
    limit: i64,
) -> Result<Vec<EntryView>, CatalogError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM audit WHERE ($1 IS NULL OR tenant = $1) ORDER BY seq DESC LIMIT $2"
    )))
    .bind(tenant.map(str::to_string))
    .bind(limit)
    .fetch_all(catalog.pool())
    .await?;
    rows.iter().map(|r| view(r).map(|v| v.0)).collect()
}

/// Where the chain is broken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("audit entry {seq}: {detail}")]
    Broken { seq: i64, detail: String },
}

/// What checking the whole chain found.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ChainReport {
    pub entries: i64,
    pub head: String,
    /// Batches that sealed a head, all matching the recomputed chain.
    pub sealed_heads: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sealed_seq: Option<i64>,
}

/// Recomputes the whole chain and compares every sealed head.
pub async fn verify_chain(
    catalog: &Catalog,
) -> Result<Result<ChainReport, ChainError>, CatalogError> {
    let mut seals: std::collections::BTreeMap<i64, Vec<(Vec<u8>, i64)>> = Default::default();
    for r in sqlx::query("SELECT audit_seq, head, batch_id FROM audit_seals ORDER BY audit_seq")
        .fetch_all(catalog.pool())
        .await?
    {
        seals
            .entry(r.try_get(0)?)
            .or_default()
            .push((r.try_get(1)?, r.try_get(2)?));
    }
    let mut prev = [0u8; 32];
    let mut expect = 1i64;
    let mut sealed = 0i64;
    let mut last_sealed = None;
    if let Some(z) = seals.get(&0) {
        sealed += z.len() as i64; // sealed before the first entry: the empty head
    }
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM audit WHERE seq >= $1 ORDER BY seq LIMIT 10000"
        )))
        .bind(expect)
        .fetch_all(catalog.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let (v, e, hash) = view(r)?;
            if v.seq != expect {
                return Ok(Err(ChainError::Broken {
                    seq: expect,
                    detail: format!("missing (the next entry is {})", v.seq),
                }));
            }
            let want = chain_hash(&prev, v.seq, &e);
            if want != hash {
                return Ok(Err(ChainError::Broken {
                    seq: v.seq,
                    detail: "its hash does not follow from the entry before and its fields: changed, inserted or reordered".into(),
                }));
            }
            if let Some(s) = seals.get(&v.seq) {
                for (head, batch) in s {
                    if head.as_slice() != hash.as_slice() {
                        return Ok(Err(ChainError::Broken {
                            seq: v.seq,
                            detail: format!("batch {batch} sealed another head for it"),
                        }));
                    }
                    sealed += 1;
                    last_sealed = Some(v.seq);
                }
            }
            prev = hash;
            expect += 1;
        }
    }
    if let Some((&seq, _)) = seals.range(expect..).next() {
        return Ok(Err(ChainError::Broken {
            seq,
            detail: "a batch sealed this entry, but the trail ends before it: entries were removed"
                .into(),
        }));
    }
    Ok(Ok(ChainReport {
        entries: expect - 1,
        head: hex::encode(prev),
        sealed_heads: sealed,
        last_sealed_seq: last_sealed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(action: &str, aoid: Option<&str>) -> Entry {
        Entry {
            at_ms: 1,
            actor: "t".into(),
            tenant: None,
            action: action.into(),
            aoid: aoid.map(str::to_string),
            result: "200".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn the_hash_covers_every_field_and_the_order() {
        let h = chain_hash(&[0; 32], 1, &e("a", None));
        assert_ne!(h, chain_hash(&[0; 32], 2, &e("a", None)));
        assert_ne!(h, chain_hash(&[1; 32], 1, &e("a", None)));
        assert_ne!(h, chain_hash(&[0; 32], 1, &e("b", None)));
        assert_ne!(h, chain_hash(&[0; 32], 1, &e("a", Some(""))));
        // fields cannot run into each other
        let mut x = e("ab", None);
        x.result = "c".into();
        let mut y = e("a", None);
        y.result = "bc".into();
        assert_ne!(chain_hash(&[0; 32], 1, &x), chain_hash(&[0; 32], 1, &y));
    }
}
