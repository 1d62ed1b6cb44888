//! What the catalog keeps for renewal: the links between trees that make up
//! archive time-stamp chains, and the renewal runs.
//!
//! Contract: a tree's links are set once (NULL to a value) and never
//! changed, each in the same transaction that records the renewal tree, and
//! only if still NULL; so a renewal is recorded completely or not at all,
//! and never twice for the same chain. A held leaf (`held_leaves`: not
//! rehashed when its chain was closed for the others) is recorded in that
//! same transaction, and its own links are set once the same way.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
// Dynamic SQL here is only constant column lists and `in_list` of integers.
use sqlx::{AssertSqlSafe, Row};

use super::{rfc3339_ms, Catalog, CatalogError};

/// Renewal trees have ids from here up (sealed batches use their first seq).
pub const RENEWAL_TREE_BASE: i64 = 1 << 40;

/// What a tree in `batches` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TreeKind {
    /// A sealed batch of versions; leaves keyed by version seq.
    Initial,
    /// A time-stamp renewal; leaves are hashes of earlier trees' time-stamps, keyed by tree id.
    Timestamp,
    /// A hash-tree renewal; leaves keyed by version seq.
    Hashtree,
}

impl TreeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TreeKind::Initial => "initial",
            TreeKind::Timestamp => "timestamp",
            TreeKind::Hashtree => "hashtree",
        }
    }
    fn parse(s: &str) -> Result<Self, CatalogError> {
        Ok(match s {
            "initial" => TreeKind::Initial,
            "timestamp" => TreeKind::Timestamp,
            "hashtree" => TreeKind::Hashtree,
            o => return Err(CatalogError::Corrupt(format!("tree kind {o:?}"))),
        })
    }
}

/// A tree with its links, without its time-stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeLink {
    pub id: i64,
    pub kind: TreeKind,
    pub digest_algorithm: String,
    pub leaves: i64,
    pub gen_time_ms: i64,
    pub renewed_by: Option<i64>,
    pub rehashed_by: Option<i64>,
    pub chain_end: Option<i64>,
    /// The renewal run that wrote it (renewal trees).
    pub run_id: Option<i64>,
    /// Leaves that are object versions (a batch's leaf 0 may be the audit
    /// trail's head; a hash-tree renewal tree may hold audit heads too).
    pub versions: i64,
    /// Leaves that a hash-tree renewal left on this chain when it closed it
    /// for the others (`held_leaves`, open or rehashed since): evidence
    /// looks their links up there instead of taking `rehashed_by`.
    pub held: i64,
}

/// A tree with its time-stamp.
#[derive(Clone, Debug)]
pub struct Tree {
    pub link: TreeLink,
    pub tsa: String,
    pub token: Vec<u8>,
}

/// A renewal tree to record.
#[derive(Clone, Debug)]
pub struct NewTree {
    pub id: i64,
    pub kind: TreeKind,
    pub run_id: i64,
    pub created_at_ms: i64,
    pub digest_algorithm: String,
    pub leaves: i64,
    /// Smallest and largest leaf key.
    pub first_key: i64,
    pub last_key: i64,
    pub root: Vec<u8>,
    pub tsa: String,
    pub gen_time_ms: i64,
    pub token: Vec<u8>,
    /// Leaves that are sealed audit heads (keys -(batch id); hash-tree renewal).
    pub audit_leaves: i64,
}

/// A renewal run's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    /// Everything in scope was renewed.
    Done,
    /// The run ended but left something in scope not renewed (listed in
    /// `not_renewed`, with the reason); the scheduler retries it at `retry_at`.
    Incomplete,
    /// The run stopped (e.g. no time-stamp); what it recorded before stays.
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Incomplete => "incomplete",
            RunState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Result<Self, CatalogError> {
        Ok(match s {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "done" => RunState::Done,
            "incomplete" => RunState::Incomplete,
            "failed" => RunState::Failed,
            o => return Err(CatalogError::Corrupt(format!("renewal run state {o:?}"))),
        })
    }
    /// Whether an attempt of the run has ended (a retry may follow an incomplete one).
    pub fn ended(self) -> bool {
        matches!(
            self,
            RunState::Done | RunState::Incomplete | RunState::Failed
        )
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RunState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why a run did not renew something in its scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotRenewedReason {
    /// The document or a preserved item is not in the store.
    ContentMissing,
    /// The store failed to read the content.
    ReadFailed,
    /// The data-object group has members whose bytes are not stored.
    GroupNotStored,
    /// The leaf's record so far could not be built from the trees.
    RecordUnavailable,
    /// The version is in a tree but not sealed (catalog inconsistency).
    NotSealed,
    /// The chain's last time-stamp no longer verifies or can no longer be
    /// extended (its TSA certificate or algorithms ended): renewal cannot
    /// repair a lapsed chain.
    TimestampNotExtensible,
}

impl NotRenewedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NotRenewedReason::ContentMissing => "content_missing",
            NotRenewedReason::ReadFailed => "read_failed",
            NotRenewedReason::GroupNotStored => "group_not_stored",
            NotRenewedReason::RecordUnavailable => "record_unavailable",
            NotRenewedReason::NotSealed => "not_sealed",
            NotRenewedReason::TimestampNotExtensible => "timestamp_not_extensible",
        }
    }
}

/// Something in a run's scope that it did not renew, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotRenewed {
    /// Hash-tree renewal: the leaf: a version's seq, or -(batch id) for the
    /// audit head that batch sealed. Absent when a whole chain was not renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aoid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The chain's first tree (hash-tree renewal) or last tree (time-stamp renewal).
    pub tree: i64,
    pub reason: NotRenewedReason,
    pub detail: String,
}

/// A leaf a hash-tree renewal could not rehash, kept on its chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLeaf {
    /// The version's seq, or -(batch id) for a sealed audit head.
    pub key: i64,
    pub chain_start: i64,
    pub reason: NotRenewedReason,
    pub detail: String,
}

/// Where a held leaf's chains go: `None`s while its chain is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldLink {
    pub rehashed_by: Option<i64>,
    pub chain_end: Option<i64>,
}

/// Held leaves of one chain that a hash-tree renewal rehashed now: their
/// chain closes at `chain_end` for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    pub chain_start: i64,
    pub chain_end: i64,
    pub keys: Vec<i64>,
}

/// A renewal run, as admins see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: i64,
    /// `timestamp` or `hashtree`.
    pub kind: String,
    /// Hash-tree renewal: the new digest algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_algorithm: Option<String>,
    /// `all` (every current chain) or `due` (what the plan says is due).
    pub scope: String,
    /// `queued`, `running`, `done`, `incomplete` (see `not_renewed`; retried
    /// at `retry_at`) or `failed`.
    pub state: RunState,
    pub requested_by: String,
    pub reason: String,
    pub queued_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub attempts: i64,
    /// Object versions whose evidence the run extended.
    pub chains: i64,
    /// Trees (chain ends or chain starts) renewed.
    pub trees_renewed: i64,
    /// Renewal trees written, one time-stamp each.
    pub trees_written: i64,
    pub tsa_requests: i64,
    pub bytes_read: i64,
    /// Time-stamps that no longer verified (not renewed), and other errors.
    pub errors: Vec<String>,
    /// What the run's last attempt left not renewed in its scope, and why.
    pub not_renewed: Vec<NotRenewed>,
    /// An incomplete run: when the scheduler tries it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    /// The node and process that runs (or last ran) it: `node/instance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Hash-tree renewal: leaves rehashed per node.
    pub shares: std::collections::BTreeMap<String, i64>,
    /// While it runs: the object versions it is to extend in all (with
    /// `chains`, its progress); known once its attempt has planned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chains_total: Option<i64>,
}

/// Counts a run adds up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub chains: i64,
    pub trees_renewed: i64,
    pub trees_written: i64,
    pub tsa_requests: i64,
    pub bytes_read: i64,
}

/// What a run (attempt) did: its counts, its errors, and what it left not renewed.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub counts: RunCounts,
    pub errors: Vec<String>,
    pub not_renewed: Vec<NotRenewed>,
}

const LINK_COLS: &str =
    "id, kind, digest_algorithm, leaves, gen_time, renewed_by, rehashed_by, chain_end, run_id, \
 \
     leaves - audit_leaves - (SELECT COUNT(*) FROM audit_seals s WHERE s.batch_id = batches.id), \
     (SELECT COUNT(*) FROM held_leaves h WHERE h.chain_start = batches.id)";
const RUN_COLS: &str = "id, kind, digest_algorithm, scope, state, requested_by, reason, queued_at, started_at, finished_at, attempts, chains, trees_renewed, trees_written, tsa_requests, bytes_read, errors, not_renewed, retry_at, owner, shares, chains_total";

fn link_row(r: &AnyRow) -> Result<TreeLink, CatalogError> {
    Ok(TreeLink {
        id: r.try_get(0)?,
        kind: TreeKind::parse(&r.try_get::<String, _>(1)?)?,
        digest_algorithm: r.try_get(2)?,
        leaves: r.try_get(3)?,
        gen_time_ms: r.try_get(4)?,
        renewed_by: r.try_get(5)?,
        rehashed_by: r.try_get(6)?,
        chain_end: r.try_get(7)?,
        run_id: r.try_get(8)?,
        versions: r.try_get(9)?,
        held: r.try_get(10)?,
    })
}

fn run_row(r: &AnyRow) -> Result<RunView, CatalogError> {
    let errors: String = r.try_get(16)?;
    let not_renewed: String = r.try_get(17)?;
    Ok(RunView {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        digest_algorithm: r.try_get(2)?,
        scope: r.try_get(3)?,
        state: RunState::parse(&r.try_get::<String, _>(4)?)?,
        requested_by: r.try_get(5)?,
        reason: r.try_get(6)?,
        queued_at: rfc3339_ms(r.try_get(7)?),
        started_at: r.try_get::<Option<i64>, _>(8)?.map(rfc3339_ms),
        finished_at: r.try_get::<Option<i64>, _>(9)?.map(rfc3339_ms),
        attempts: r.try_get(10)?,
        chains: r.try_get(11)?,
        trees_renewed: r.try_get(12)?,
        trees_written: r.try_get(13)?,
        tsa_requests: r.try_get(14)?,
        bytes_read: r.try_get(15)?,
        errors: serde_json::from_str(&errors)
            .map_err(|e| CatalogError::Corrupt(format!("renewal errors: {e}")))?,
        not_renewed: serde_json::from_str(&not_renewed)
            .map_err(|e| CatalogError::Corrupt(format!("renewal not_renewed: {e}")))?,
        retry_at: r.try_get::<Option<i64>, _>(18)?.map(rfc3339_ms),
        owner: r.try_get(19)?,
        shares: serde_json::from_str(&r.try_get::<String, _>(20)?)
            .map_err(|e| CatalogError::Corrupt(format!("renewal shares: {e}")))?,
        chains_total: r.try_get(21)?,
    })
}

/// `IN (...)` of integers (never user text).
fn in_list(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 8);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s
}

/// What hash-tree renewal needs of a version.
#[derive(Clone, Debug)]
pub struct VersionLeaf {
    pub seq: i64,
    pub aoid: String,
    pub version: i64,
    pub sha256: [u8; 32],
    /// The sealed data-object group (hashes in the batch's algorithm).
    pub members: Vec<u8>,
    pub batch_id: Option<i64>,
    /// The secret salt (the group's second member is its hash).
    pub salt: Option<Vec<u8>>,
    /// SHA-256 of the stored group members after the salt, in group order.
    pub stored_members: Vec<[u8; 32]>,
    /// The document's media type (a hash-only list's values are members
    /// of the group after the stored ones: [`crate::ingest::Extras::given`]).
    pub media_type: String,
}

/// Why a renewal was not recorded (nothing of it was).
#[derive(Debug, thiserror::Error)]
pub enum RenewalCommitError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("tree {0} was renewed by another run meanwhile; nothing recorded")]
    AlreadyRenewed(i64),
    /// This node lost the leader lease or the run: nothing recorded.
    #[error("{0}; nothing recorded")]
    Fenced(String),
}

impl From<super::FenceError> for RenewalCommitError {
    fn from(e: super::FenceError) -> Self {
        match e {
            super::FenceError::Db(e) => e.into(),
            e => RenewalCommitError::Fenced(e.to_string()),
        }
    }
}

/// What a renewal commit checks in its transaction: the leader lease's
/// epoch (several nodes) and that the run is still this owner's.
#[derive(Clone, Debug)]
pub struct RunGuard {
    pub fence: Option<super::Fence>,
    pub run: i64,
    pub owner: String,
}

impl RunGuard {
    async fn check(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<(), RenewalCommitError> {
        if let Some(f) = &self.fence {
            super::fence(tx, f).await?;
        }
        super::fence_run(tx, self.run, &self.owner).await?;
        // the links change: every node's tree cache learns it (Evidence)
        sqlx::query("UPDATE links_generation SET generation = generation + 1 WHERE id = 1")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl From<sqlx::Error> for RenewalCommitError {
    fn from(e: sqlx::Error) -> Self {
        RenewalCommitError::Catalog(e.into())
    }
}

impl Catalog {
    /// Every tree's links, in id order.
    pub async fn tree_links(&self) -> Result<Vec<TreeLink>, CatalogError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LINK_COLS} FROM batches ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(link_row).collect()
    }

    /// One tree with its time-stamp.
    pub async fn tree(&self, id: i64) -> Result<Option<Tree>, CatalogError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LINK_COLS}, tsa, token FROM batches WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Tree {
                link: link_row(&r)?,
                tsa: r.try_get(11)?,
                token: r.try_get(12)?,
            })
        })
        .transpose()
    }

    async fn insert_tree(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        t: &NewTree,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO batches (id, sealed_at, digest_algorithm, leaves, first_seq, last_seq, root, tsa, gen_time, token, kind, run_id, audit_leaves) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(t.id)
        .bind(t.created_at_ms)
        .bind(&t.digest_algorithm)
        .bind(t.leaves)
        .bind(t.first_key)
        .bind(t.last_key)
        .bind(&t.root)
        .bind(&t.tsa)
        .bind(t.gen_time_ms)
        .bind(&t.token)
        .bind(t.kind.as_str())
        .bind(t.run_id)
        .bind(t.audit_leaves)
        .execute(&mut **tx)
        .await?;
        super::tree_recorded(tx, t.id, t.created_at_ms).await?;
        Ok(())
    }

    /// Records a time-stamp renewal tree that continues the chains ending in
    /// `renewed`: all of it, or nothing if any of them was renewed meanwhile.
    pub async fn commit_timestamp_renewal(
        &self,
        tree: &NewTree,
        renewed: &[i64],
        guard: &RunGuard,
    ) -> Result<(), RenewalCommitError> {
        let mut tx = self.pool().begin().await?;
        // writes first: on SQLite the first statement takes the write lock
        guard.check(&mut tx).await?;
        for chunk in renewed.chunks(500) {
            let n = sqlx::query(AssertSqlSafe(format!(
                "UPDATE batches SET renewed_by = $1 WHERE renewed_by IS NULL AND id IN ({})",
                in_list(chunk)
            )))
            .bind(tree.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != chunk.len() as u64 {
                let first = chunk[0];
                return Err(RenewalCommitError::AlreadyRenewed(first));
            }
        }
        Self::insert_tree(&mut tx, tree).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a hash-tree renewal tree that starts a new chain for the
    /// versions of the chains starting at each `(start, chain_end)`, except
    /// the `held` leaves of those chains (not rehashed: they stay on their
    /// chain, open), and for the `released` held leaves of earlier runs. All
    /// of it, or nothing if any of those links was set meanwhile.
    pub async fn commit_hashtree_renewal(
        &self,
        tree: &NewTree,
        starts: &[(i64, i64)],
        held: &[HeldLeaf],
        released: &[Released],
        guard: &RunGuard,
    ) -> Result<(), RenewalCommitError> {
        let mut tx = self.pool().begin().await?;
        guard.check(&mut tx).await?;
        for r in released {
            for chunk in r.keys.chunks(500) {
                let n = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE held_leaves SET rehashed_by = $1, chain_end = $2 \
                     WHERE chain_start = $3 AND rehashed_by IS NULL AND leaf_key IN ({})",
                    in_list(chunk)
                )))
                .bind(tree.id)
                .bind(r.chain_end)
                .bind(r.chain_start)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != chunk.len() as u64 {
                    return Err(RenewalCommitError::AlreadyRenewed(r.chain_start));
                }
            }
        }
        for h in held {
            sqlx::query(
                "INSERT INTO held_leaves (leaf_key, chain_start, run_id, reason, detail, held_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(h.key)
            .bind(h.chain_start)
            .bind(tree.run_id)
            .bind(h.reason.as_str())
            .bind(&h.detail)
            .bind(tree.created_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        for &(start, end) in starts {
            let n = sqlx::query(
                "UPDATE batches SET rehashed_by = $1, chain_end = $2 WHERE id = $3 AND rehashed_by IS NULL",
            )
            .bind(tree.id)
            .bind(end)
            .bind(start)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Err(RenewalCommitError::AlreadyRenewed(start));
            }
        }
        Self::insert_tree(&mut tx, tree).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The content digests, data-object groups, sealing batches and salts of versions, by seq.
    pub async fn versions_by_seq(&self, seqs: &[i64]) -> Result<Vec<VersionLeaf>, CatalogError> {
        let mut out = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(500) {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT seq, sha256, members, batch_id, salt, stored_members, aoid, version, media_type FROM versions WHERE deleted_at IS NULL AND seq IN ({}) ORDER BY seq",
                in_list(chunk)
            )))
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                let sha: Vec<u8> = r.try_get(1)?;
                out.push(VersionLeaf {
                    seq: r.try_get(0)?,
                    aoid: r.try_get(6)?,
                    version: r.try_get(7)?,
                    sha256: sha
                        .try_into()
                        .map_err(|_| CatalogError::Corrupt("sha256 is not 32 bytes".into()))?,
                    members: r.try_get(2)?,
                    batch_id: r.try_get(3)?,
                    salt: r.try_get(4)?,
                    stored_members: split_digests(r.try_get::<Option<Vec<u8>>, _>(5)?)?,
                    media_type: r.try_get(8)?,
                });
            }
        }
        out.sort_by_key(|v| v.seq);
        Ok(out)
    }

    /// Queues a renewal run; returns its id.
    pub async fn queue_run(
        &self,
        kind: &str,
        digest_algorithm: Option<&str>,
        scope: &str,
        requested_by: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<i64, CatalogError> {
        let r = sqlx::query(
            "INSERT INTO renewals (kind, digest_algorithm, scope, state, requested_by, reason, queued_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6) RETURNING id",
        )
        .bind(kind)
        .bind(digest_algorithm.map(str::to_string))
        .bind(scope)
        .bind(requested_by)
        .bind(reason)
        .bind(now_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(r.try_get(0)?)
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunView>, CatalogError> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM renewals WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| run_row(&r)).transpose()
    }

    /// The newest runs first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunView>, CatalogError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM renewals ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_row).collect()
    }

    /// The oldest queued run.
    pub async fn next_queued_run(&self) -> Result<Option<RunView>, CatalogError> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM renewals WHERE state = 'queued' ORDER BY id LIMIT 1"
        )))
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| run_row(&r)).transpose()
    }

    /// The oldest run that is queued or running, if any.
    pub async fn open_run(&self) -> Result<Option<(i64, String)>, CatalogError> {
        let r = sqlx::query(
            "SELECT id, state FROM renewals WHERE state IN ('queued', 'running') ORDER BY id LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Runs an earlier instance of node `node` (of any node: `None`) left
    /// `running` (it crashed or was killed) go back to the queue; returns
    /// how many. Runs of other nodes are taken over once their lease runs
    /// out ([`Catalog::claim_run`]).
    pub async fn requeue_interrupted_runs(&self, node: Option<&str>) -> Result<u64, CatalogError> {
        let prefix = node.map(|n| format!("{n}/")).unwrap_or_default();
        Ok(sqlx::query(
            "UPDATE renewals SET state = 'queued', owner = NULL, lease_until = NULL \
             WHERE state = 'running' AND ($1 = 0 OR owner IS NULL OR substr(owner, 1, CAST($1 AS INTEGER)) = $2)",
        )
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// The incomplete run whose retry is due at `now_ms` (the earliest).
    pub async fn retry_due_run(&self, now_ms: i64) -> Result<Option<RunView>, CatalogError> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM renewals WHERE state = 'incomplete' AND retry_at <= $1 ORDER BY retry_at, id LIMIT 1"
        )))
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| run_row(&r)).transpose()
    }

    /// When the next retry of an incomplete run of `kind` (any kind: `None`) is due.
    pub async fn next_retry(&self, kind: Option<&str>) -> Result<Option<i64>, CatalogError> {
        let r =
            match kind {
                Some(k) => sqlx::query(
                    "SELECT MIN(retry_at) FROM renewals WHERE state = 'incomplete' AND kind = $1",
                )
                .bind(k.to_string())
                .fetch_one(self.pool())
                .await?,
                None => {
                    sqlx::query("SELECT MIN(retry_at) FROM renewals WHERE state = 'incomplete'")
                        .fetch_one(self.pool())
                        .await?
                }
            };
        Ok(r.try_get(0)?)
    }

    /// Queues incomplete run `id` again (its retry); false if it is no longer incomplete.
    pub async fn requeue_incomplete_run(&self, id: i64) -> Result<bool, CatalogError> {
        Ok(sqlx::query(
            "UPDATE renewals SET state = 'queued', retry_at = NULL WHERE id = $1 AND state = 'incomplete'",
        )
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// The held leaves whose chain is still open: (leaf key, chain start).
    pub async fn open_held_leaves(&self) -> Result<Vec<(i64, i64)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT leaf_key, chain_start FROM held_leaves WHERE rehashed_by IS NULL ORDER BY chain_start, leaf_key",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Where held leaf `key` of the chain starting at `chain_start` goes, if it is held there.
    pub async fn held_link(
        &self,
        key: i64,
        chain_start: i64,
    ) -> Result<Option<HeldLink>, CatalogError> {
        let r = sqlx::query(
            "SELECT rehashed_by, chain_end FROM held_leaves WHERE leaf_key = $1 AND chain_start = $2",
        )
        .bind(key)
        .bind(chain_start)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok(HeldLink {
                rehashed_by: r.try_get(0)?,
                chain_end: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// The audit head batch `batch_id` sealed as its leaf 0: (audit seq, head).
    pub async fn sealed_audit_head(
        &self,
        batch_id: i64,
    ) -> Result<Option<(i64, Vec<u8>)>, CatalogError> {
        let r = sqlx::query("SELECT audit_seq, head FROM audit_seals WHERE batch_id = $1")
            .bind(batch_id)
            .fetch_optional(self.pool())
            .await?;
        r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Starts an attempt of run `id`, owned by `owner` for `lease_ms` (the
    /// database's clock).
    pub async fn start_run(
        &self,
        id: i64,
        now_ms: i64,
        owner: &str,
        lease_ms: i64,
    ) -> Result<(), CatalogError> {
        let sql = format!(
            "UPDATE renewals SET state = 'running', started_at = $1, attempts = attempts + 1, \
             owner = $2, lease_until = {} + $3 WHERE id = $4",
            super::now_sql(self.backend())
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(owner)
            .bind(lease_ms)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a run's progress (counts so far) or its end (`state` done,
    /// incomplete with the time of its retry, or failed), if `owner` still
    /// owns it (else another node took it over: nothing recorded).
    /// Records how many object versions the run's attempt is to extend in
    /// all (by its owner; the progress figure next to `chains`).
    pub async fn set_run_total(
        &self,
        id: i64,
        owner: &str,
        chains_total: i64,
    ) -> Result<(), CatalogError> {
        sqlx::query("UPDATE renewals SET chains_total = $1 WHERE id = $2 AND owner = $3")
            .bind(chains_total)
            .bind(id)
            .bind(owner)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Progress of a running run between its commits (by its owner): the
    /// object versions done so far, `chains` until the next commit says
    /// what was recorded.
    pub async fn set_run_progress(
        &self,
        id: i64,
        owner: &str,
        chains: i64,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE renewals SET chains = $1 WHERE id = $2 AND owner = $3 AND state = 'running'",
        )
        .bind(chains)
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn update_run(
        &self,
        id: i64,
        owner: &str,
        state: RunState,
        report: &RunReport,
        finished_ms: Option<i64>,
        retry_at_ms: Option<i64>,
    ) -> Result<(), CatalogError> {
        let counts = &report.counts;
        sqlx::query(
            "UPDATE renewals SET state = $1, chains = $2, trees_renewed = $3, trees_written = $4, tsa_requests = $5, \
             bytes_read = $6, errors = $7, finished_at = $8, not_renewed = $9, retry_at = $10 WHERE id = $11 AND owner = $12",
        )
        .bind(state.as_str())
        .bind(counts.chains)
        .bind(counts.trees_renewed)
        .bind(counts.trees_written)
        .bind(counts.tsa_requests)
        .bind(counts.bytes_read)
        .bind(serde_json::to_string(&report.errors).unwrap_or_else(|_| "[]".into()))
        .bind(finished_ms)
        .bind(serde_json::to_string(&report.not_renewed).unwrap_or_else(|_| "[]".into()))
        .bind(retry_at_ms)
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// SHA-256 digests stored concatenated (`versions.stored_members`).
pub fn split_digests(b: Option<Vec<u8>>) -> Result<Vec<[u8; 32]>, CatalogError> {
    let b = b.unwrap_or_default();
    if !b.len().is_multiple_of(32) {
        return Err(CatalogError::Corrupt(
            "stored_members is not a list of SHA-256 digests".into(),
        ));
    }
    Ok(b.chunks(32)
        .map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]))
        .collect())
}
