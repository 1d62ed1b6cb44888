//! What the catalog keeps for several nodes: the leader lease and its
//! fencing epoch, tree ids allocated once, settings every node follows, and
//! renewal runs and rehash ranges claimed with an owner and a lease.
//!
//! Contract:
//! - Lease times are the database server's clock (`now_sql`): the nodes'
//!   clocks may differ, the catalog's is one.
//! - The lease's `epoch` grows with every change of holder. A commit only
//!   the leader may make runs [`fence`] in its own transaction: it fails
//!   unless the epoch is still the one the node acquired, and it locks the
//!   lease row until commit, so a takeover waits for that commit.
//! - A tree id is allocated (and recorded with its kind and node) before
//!   the tree is written and is never handed out again.
//! - A claimed range or run has one owner; another node takes it only after
//!   its lease ran out, and the previous owner's results are refused then.

use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{Backend, Catalog, CatalogError, RENEWAL_TREE_BASE};

/// The database server's clock in Unix ms, as an SQL expression.
pub(crate) fn now_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "(CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))",
        Backend::Sqlite => "(CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
    }
}

/// The leader lease's row, as the catalog has it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LeaseRow {
    pub node: String,
    pub instance: String,
    pub epoch: i64,
    pub acquired_at_ms: i64,
    pub expires_at_ms: i64,
    /// The database's clock when it was read.
    pub now_ms: i64,
}

/// Proof, checked at commit, that the committer still holds the leader
/// lease it acquired (and, for a renewal run, still owns the run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub instance: String,
    pub epoch: i64,
}

/// A commit refused because its node no longer holds what it needs.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("fenced: this node ({instance}) no longer holds the leader lease of epoch {epoch}")]
    Lease { instance: String, epoch: i64 },
    #[error("fenced: renewal run {run} is no longer owned by this node ({owner})")]
    Run { run: i64, owner: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Fails unless `fence` is the lease's holder and epoch; locks the lease
/// row until the transaction ends (call it first: on SQLite the first write
/// takes the write lock).
pub(crate) async fn fence(tx: &mut Transaction<'_, Any>, f: &Fence) -> Result<(), FenceError> {
    let n = sqlx::query(
        "UPDATE leases SET epoch = epoch WHERE name = 'leader' AND instance = $1 AND epoch = $2",
    )
    .bind(&f.instance)
    .bind(f.epoch)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(FenceError::Lease {
            instance: f.instance.clone(),
            epoch: f.epoch,
        });
    }
    Ok(())
}

/// [`fence`] for the integration tests.
#[doc(hidden)]
pub async fn fence_for_tests(tx: &mut Transaction<'_, Any>, f: &Fence) -> Result<(), FenceError> {
    fence(tx, f).await
}

/// The advisory lock class of content digests (PostgreSQL: the two-key
/// form, apart from the single-key locks used elsewhere). A removal by the
/// sweeper holds a content's lock; a commit that refers to content takes
/// it shared, so the two exclude each other across nodes.
const CONTENT_LOCK: i32 = 0x6277_6373; // "bwcs"

/// The lock key of a content digest.
fn content_key(sha: &[u8; 32]) -> i32 {
    i32::from_be_bytes([sha[0], sha[1], sha[2], sha[3]])
}

/// Takes the locks of `shas` shared until the transaction ends (PostgreSQL).
pub(crate) async fn lock_contents_shared<'a>(
    tx: &mut Transaction<'_, Any>,
    shas: impl Iterator<Item = &'a [u8; 32]>,
) -> Result<(), sqlx::Error> {
    let mut keys: Vec<i32> = shas.map(content_key).collect();
    keys.sort_unstable();
    keys.dedup();
    for part in keys.chunks(1000) {
        let list = part
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join("),(");
        sqlx::query(AssertSqlSafe(format!(
            "SELECT pg_advisory_xact_lock_shared({CONTENT_LOCK}, k) FROM (VALUES ({list})) AS t(k)"
        )))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Takes content `sha`'s lock for its removal until the transaction ends (PostgreSQL).
pub(crate) async fn lock_content(
    tx: &mut Transaction<'_, Any>,
    sha: &[u8; 32],
) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT pg_advisory_xact_lock({CONTENT_LOCK}, {})",
        content_key(sha)
    )))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks tree `id` recorded (in the transaction that records it).
pub(crate) async fn tree_recorded(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tree_ids SET recorded_at = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Fails unless renewal run `run` is owned by `owner`.
pub(crate) async fn fence_run(
    tx: &mut Transaction<'_, Any>,
    run: i64,
    owner: &str,
) -> Result<(), FenceError> {
    let n = sqlx::query("UPDATE renewals SET owner = owner WHERE id = $1 AND owner = $2")
        .bind(run)
        .bind(owner)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(FenceError::Run {
            run,
            owner: owner.to_string(),
        });
    }
    Ok(())
}

/// What is claimed with an owner and a lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// A renewal run (`renewals`: queued, running).
    Run,
    /// A rehash range (`rehash_ranges`: open, claimed).
    Range,
}

impl Claim {
    fn table(self) -> &'static str {
        match self {
            Claim::Run => "renewals",
            Claim::Range => "rehash_ranges",
        }
    }
    fn open(self) -> &'static str {
        match self {
            Claim::Run => "queued",
            Claim::Range => "open",
        }
    }
    fn held(self) -> &'static str {
        match self {
            Claim::Run => "running",
            Claim::Range => "claimed",
        }
    }
}

/// A claimed rehash range: its id and its work (JSON).
#[derive(Clone, Debug)]
pub struct ClaimedRange {
    pub id: i64,
    pub run_id: i64,
    pub target: String,
    pub work: String,
}

/// A finished range's owner, leaves and result (JSON).
#[derive(Clone, Debug)]
pub struct DoneRange {
    pub id: i64,
    pub owner: String,
    pub leaves: i64,
    pub result: String,
}

impl Catalog {
    /// Takes or renews the leader lease for `instance` of node `node` for
    /// `lease_ms`: renewed if it holds it, taken if it ran out or was held
    /// by an earlier instance of the same node (which died: node ids are
    /// unique in a cluster), or in any case with `sole` (a node-local store:
    /// this process is the only one, an earlier holder died). Returns the
    /// epoch, or `None` if another holds it.
    pub async fn acquire_lease(
        &self,
        node: &str,
        instance: &str,
        lease_ms: i64,
        sole: bool,
    ) -> Result<Option<i64>, CatalogError> {
        let now = now_sql(self.backend());
        let sql = format!(
            "UPDATE leases SET \
               epoch = CASE WHEN instance = $2 THEN epoch ELSE epoch + 1 END, \
               acquired_at = CASE WHEN instance = $2 THEN acquired_at ELSE {now} END, \
               node = $1, instance = $2, expires_at = {now} + $3 \
             WHERE name = 'leader' AND (instance = $2 OR node = $1 OR expires_at < {now} OR $4 = 1) \
             RETURNING epoch"
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(node)
            .bind(instance)
            .bind(lease_ms)
            .bind(i64::from(sole))
            .fetch_optional(self.pool())
            .await?;
        Ok(r.map(|r| r.try_get(0)).transpose()?)
    }

    /// Gives the lease up (at a clean stop), if `instance` holds it: the
    /// next node takes it at once instead of after it runs out.
    pub async fn release_lease(&self, instance: &str) -> Result<(), CatalogError> {
        sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = 'leader' AND instance = $1")
            .bind(instance)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The leader lease as the catalog has it.
    pub async fn lease(&self) -> Result<LeaseRow, CatalogError> {
        let sql = format!(
            "SELECT node, instance, epoch, acquired_at, expires_at, {} FROM leases WHERE name = 'leader'",
            now_sql(self.backend())
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(self.pool())
            .await?;
        Ok(LeaseRow {
            node: r.try_get(0)?,
            instance: r.try_get(1)?,
            epoch: r.try_get(2)?,
            acquired_at_ms: r.try_get(3)?,
            expires_at_ms: r.try_get(4)?,
            now_ms: r.try_get(5)?,
        })
    }

    /// Allocates a tree id that was never handed out: below 2^40 for a
    /// sealed batch (`renewal` false), from 2^40 up for a renewal tree.
    pub async fn allocate_tree_id(
        &self,
        kind: &str,
        node: &str,
        now_ms: i64,
        renewal: bool,
    ) -> Result<i64, CatalogError> {
        let range = if renewal { "id >= $4" } else { "id < $4" };
        let sql = format!(
            "INSERT INTO tree_ids (id, kind, node, allocated_at) \
             SELECT MAX(id) + 1, $1, $2, $3 FROM tree_ids WHERE {range} RETURNING id"
        );
        let mut last = None;
        // two allocations at once (only a fenced-off leader races the
        // leader) collide on the key: the loser tries again
        for _ in 0..5 {
            match sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(kind)
                .bind(node)
                .bind(now_ms)
                .bind(RENEWAL_TREE_BASE)
                .fetch_one(self.pool())
                .await
            {
                Ok(r) => return Ok(r.try_get(0)?),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    last = Some(sqlx::Error::Database(e))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.expect("tried").into())
    }

    /// Whether tree `id` is an abandoned attempt: allocated (by which
    /// node, when), never recorded, and no version names it as its batch.
    /// A tree in the store without a batches row that is not one is
    /// removed evidence.
    pub async fn tree_allocation(&self, id: i64) -> Result<Option<(String, i64)>, CatalogError> {
        let r = sqlx::query(
            "SELECT node, allocated_at FROM tree_ids WHERE id = $1 AND kind <> 'floor' \
             AND recorded_at IS NULL AND NOT EXISTS (SELECT 1 FROM versions WHERE batch_id = $1)",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// How often tree links changed (renewal commits, by any node).
    pub async fn links_generation(&self) -> Result<i64, CatalogError> {
        Ok(
            sqlx::query("SELECT generation FROM links_generation WHERE id = 1")
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }

    /// A setting every node follows.
    pub async fn flag(&self, name: &str) -> Result<Option<String>, CatalogError> {
        let r = sqlx::query("SELECT value FROM cluster_flags WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(r.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn set_flag(&self, name: &str, value: &str) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO cluster_flags (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Claims the oldest open item of `c`, or a held one whose owner's
    /// lease ran out (its node died), for `owner` for `lease_ms`; the row
    /// (`id` and `cols`). `FOR UPDATE SKIP LOCKED`: two nodes never claim
    /// the same item.
    async fn claim(
        &self,
        c: Claim,
        cols: &str,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Option<sqlx::any::AnyRow>, CatalogError> {
        let now = now_sql(self.backend());
        let skip = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let (table, open, held) = (c.table(), c.open(), c.held());
        let mut tx = self.pool().begin().await?;
        let pick = format!(
            "SELECT id{cols} FROM {table} WHERE state = '{open}' \
               OR (state = '{held}' AND (lease_until IS NULL OR lease_until < {now})) \
             ORDER BY id LIMIT 1{skip}"
        );
        let Some(r) = sqlx::query(AssertSqlSafe(pick))
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let id: i64 = r.try_get(0)?;
        let sql = format!(
            "UPDATE {table} SET state = '{held}', owner = $1, lease_until = {now} + $2 WHERE id = $3"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(owner)
            .bind(lease_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(r))
    }

    /// Extends `owner`'s lease on item `id` of `c`; false if it no longer owns it.
    pub async fn extend_claim(
        &self,
        c: Claim,
        id: i64,
        owner: &str,
        lease_ms: i64,
    ) -> Result<bool, CatalogError> {
        let sql = format!(
            "UPDATE {} SET lease_until = {} + $1 WHERE id = $2 AND owner = $3 AND state = '{}'",
            c.table(),
            now_sql(self.backend()),
            c.held()
        );
        Ok(sqlx::query(AssertSqlSafe(sql))
            .bind(lease_ms)
            .bind(id)
            .bind(owner)
            .execute(self.pool())
            .await?
            .rows_affected()
            == 1)
    }

    /// Extends `owner`'s lease on item `id` of `c` every third of `lease`
    /// until the task is aborted or the item is no longer `owner`'s.
    pub fn keep_claimed(
        &self,
        c: Claim,
        id: i64,
        owner: String,
        lease: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let catalog = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match catalog
                    .extend_claim(c, id, &owner, lease.as_millis() as i64)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(?c, id, error = %e, "claim not extended"),
                }
            }
        })
    }

    /// Claims the oldest queued run, or a running one whose owner's lease
    /// ran out, for `owner` (the attempt itself starts with [`Catalog::start_run`]).
    pub async fn claim_run(&self, owner: &str, lease_ms: i64) -> Result<Option<i64>, CatalogError> {
        Ok(match self.claim(Claim::Run, "", owner, lease_ms).await? {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Publishes a run's rehashing work as ranges (each a JSON work list of
    /// `leaves` leaves); ranges of the run's earlier attempts are removed.
    pub async fn publish_ranges(
        &self,
        run_id: i64,
        target: &str,
        ranges: &[(i64, String)],
    ) -> Result<Vec<i64>, CatalogError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM rehash_ranges WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        let mut ids = Vec::with_capacity(ranges.len());
        for (leaves, work) in ranges {
            let r = sqlx::query(
                "INSERT INTO rehash_ranges (run_id, target, leaves, work, state) \
                 VALUES ($1, $2, $3, $4, 'open') RETURNING id",
            )
            .bind(run_id)
            .bind(target)
            .bind(*leaves)
            .bind(work)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(r.try_get(0)?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Claims an open range, or a claimed one whose owner's lease ran out.
    pub async fn claim_range(
        &self,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Option<ClaimedRange>, CatalogError> {
        let Some(r) = self
            .claim(Claim::Range, ", run_id, target, work", owner, lease_ms)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(ClaimedRange {
            id: r.try_get(0)?,
            run_id: r.try_get(1)?,
            target: r.try_get(2)?,
            work: r.try_get(3)?,
        }))
    }

    /// Records range `id`'s result; false (and nothing recorded) if
    /// `owner` no longer owns it (its lease ran out and another took it).
    pub async fn finish_range(
        &self,
        id: i64,
        owner: &str,
        result: &str,
        now_ms: i64,
    ) -> Result<bool, CatalogError> {
        Ok(sqlx::query(
            "UPDATE rehash_ranges SET state = 'done', result = $1, done_at = $2 \
             WHERE id = $3 AND owner = $4 AND state = 'claimed'",
        )
        .bind(result)
        .bind(now_ms)
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// How many of run `run_id`'s ranges are done, of how many.
    pub async fn ranges_progress(&self, run_id: i64) -> Result<(i64, i64, i64), CatalogError> {
        let r = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0), \
             CAST(COALESCE(SUM(CASE WHEN state = 'done' THEN leaves ELSE 0 END), 0) AS BIGINT) \
             FROM rehash_ranges WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(self.pool())
        .await?;
        Ok((r.try_get(1)?, r.try_get(0)?, r.try_get(2)?))
    }

    /// Run `run_id`'s finished ranges, in the order they were published.
    pub async fn range_results(&self, run_id: i64) -> Result<Vec<DoneRange>, CatalogError> {
        let rows = sqlx::query(
            "SELECT id, owner, leaves, result FROM rehash_ranges \
             WHERE run_id = $1 AND state = 'done' ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DoneRange {
                    id: r.try_get(0)?,
                    owner: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                    leaves: r.try_get(2)?,
                    result: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Removes a run's ranges (its tree is recorded).
    pub async fn drop_ranges(&self, run_id: i64) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM rehash_ranges WHERE run_id = $1")
            .bind(run_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Adds leaves rehashed per node to run `id`'s shares.
    pub async fn add_shares(
        &self,
        id: i64,
        shares: &std::collections::BTreeMap<String, i64>,
    ) -> Result<(), CatalogError> {
        let r = sqlx::query("SELECT shares FROM renewals WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let mut all: std::collections::BTreeMap<String, i64> = r
            .and_then(|r| r.try_get::<String, _>(0).ok())
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        for (k, v) in shares {
            *all.entry(k.clone()).or_default() += v;
        }
        sqlx::query("UPDATE renewals SET shares = $1 WHERE id = $2")
            .bind(serde_json::to_string(&all).unwrap_or_else(|_| "{}".into()))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
