//! The catalog's one writer: group commit of submissions, and the sealer's
//! reads and writes, serialised.

use std::sync::Arc;

use sqlx::{AnyConnection, Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::{
    Accepted, Backend, Batch, Catalog, CatalogError, Fence, GroupCommit, NewVersion, Pending,
};
use crate::store::{Listed, Store, StoreError};

/// Why a write did not happen (nothing of it was recorded, except maybe
/// for [`WriteError::Unconfirmed`]).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("unknown archive object {0}")]
    UnknownAoid(String),
    /// The version was to follow another than the object's latest.
    #[error("archive object {aoid}: the new version was to follow version {after}, but the latest is {latest}")]
    NotLatest {
        aoid: String,
        after: i64,
        latest: i64,
    },
    /// The AOID a submitter chose names an archive object already (or
    /// one that was deleted: an AOID is never given twice).
    #[error("the AOID {0} is in use")]
    ExistingAoid(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The content store failed (shared by every submission of the group).
    #[error("store: {0}")]
    Store(#[source] Arc<StoreError>),
    /// A blocking task of the writer failed (it panicked).
    #[error("a blocking task of the catalog writer failed: {0}")]
    Task(String),
    /// The content was removed (it was unreferenced) while this submission
    /// was being uploaded: nothing was recorded; send it again.
    #[error("the content was deleted while this submission was uploaded; send it again")]
    ContentGone,
    #[error("the catalog writer has stopped")]
    Stopped,
    /// The transaction failed and was rolled back (the cause is logged).
    #[error("catalog commit failed: {0}")]
    Commit(#[source] Arc<CatalogError>),
    /// `COMMIT` failed: the writes may or may not have been recorded (the
    /// connection broke after it was sent). Not redone; a client that sends
    /// the submission again gets a second version, never a corrupt one.
    #[error("the catalog commit's outcome is unknown (it may have been recorded): {0}")]
    Unconfirmed(#[source] Arc<CatalogError>),
    #[error("sealing: {0}")]
    Inconsistent(String),
    /// This node lost the leader lease: another node seals now.
    #[error("sealing: {0}")]
    Fenced(String),
    /// A deletion the rules refuse (legal hold, pending versions).
    #[error("{0}")]
    Refused(String),
    /// A deletion before the retention date without a reason and a requestor.
    #[error("{0}")]
    ReasonRequired(String),
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

/// What a deletion did. The same whether or not another object (of any
/// tenant) holds identical content: the deletion removes no content itself
/// (the sweeper does, later), so neither this answer nor its timing tells.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub aoid: String,
    pub versions: i64,
    /// Whether it was deleted before its retention date (with a reason).
    pub before_retention: bool,
}

/// What one sweep step (a page of candidates) did in the writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Content removed from the store, and its bytes.
    pub removed: u64,
    pub bytes: u64,
    /// Candidates a version references again (committed since the sweeper looked).
    pub referenced: u64,
    /// Candidates a submission in flight has pinned.
    pub pinned: u64,
    /// Candidates the store refused to remove yet (Object Lock).
    pub retained: u64,
}

enum Op {
    Ingest(NewVersion, oneshot::Sender<Result<Accepted, WriteError>>),
    Pending(usize, oneshot::Sender<Result<Vec<Pending>, WriteError>>),
    Seal(
        Batch,
        Vec<i64>,
        Fence,
        oneshot::Sender<Result<(), WriteError>>,
    ),
    Delete(Deletion, oneshot::Sender<Result<Deleted, WriteError>>),
    Sweep(
        Vec<Listed>,
        oneshot::Sender<Result<SweepOutcome, WriteError>>,
    ),
    Audit(Vec<crate::audit::Entry>, AuditReply),
}

type AuditReply = oneshot::Sender<Result<(i64, [u8; 32]), WriteError>>;

/// Handle to the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
    /// The newest `content_sweeps` id this writer has seen.
    sweep_gen: Arc<std::sync::atomic::AtomicI64>,
}

/// Most submissions committed in one transaction.
const GROUP: usize = 2048;

impl Writer {
    /// Starts the writer task under `sup`; it ends once every handle is
    /// dropped and what was queued is committed.
    pub fn start(catalog: Catalog, store: Store, sup: &crate::supervisor::Supervisor) -> Self {
        Self::start_with(catalog, store, Arc::new(super::Commit), sup)
    }

    /// As [`Writer::start`], committing groups through `commit` (the seam
    /// of the fault-injection tests).
    pub fn start_with(
        catalog: Catalog,
        store: Store,
        commit: Arc<dyn GroupCommit>,
        sup: &crate::supervisor::Supervisor,
    ) -> Self {
        let (tx, rx) = mpsc::channel(GROUP * 4);
        let sweep_gen = Arc::new(std::sync::atomic::AtomicI64::new(0));
        sup.spawn(
            "catalog-writer",
            run(catalog, store, commit, rx, sweep_gen.clone()),
        );
        Writer { tx, sweep_gen }
    }

    /// The newest removal by the sweeper this node knows of (never newer
    /// than the catalog's): a submission takes it before it writes its
    /// content; a removal after it, of that content, refuses it at commit.
    pub fn sweep_generation(&self) -> i64 {
        self.sweep_gen.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Reads the catalog's newest removal (at start, before the first
    /// submission takes [`Writer::sweep_generation`]).
    pub async fn load_sweep_generation(&self, catalog: &Catalog) -> Result<(), CatalogError> {
        let newest: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM content_sweeps")
            .fetch_one(catalog.pool())
            .await?
            .try_get(0)?;
        self.sweep_gen
            .fetch_max(newest, std::sync::atomic::Ordering::SeqCst);
        Ok(())
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
    /// Removes no content: what no other version references any more is
    /// left to the sweeper ([`Writer::sweep`]).
    pub async fn delete(&self, d: Deletion) -> Result<Deleted, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Delete(d, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Appends entries to the audit trail, in the transaction of the next
    /// group of submissions (or on its own if none is waiting); returns the
    /// new head of the chain, committed (durably) when it returns `Ok`.
    pub async fn audit(
        &self,
        entries: Vec<crate::audit::Entry>,
    ) -> Result<(i64, [u8; 32]), WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Audit(entries, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Removes those of `candidates` that no version references and no
    /// submission has pinned, re-checked here, serialised with the group
    /// commits: a submission of identical bytes either committed before
    /// (its row is seen) or holds its pin until after (the pin is seen).
    pub async fn sweep(&self, candidates: Vec<Listed>) -> Result<SweepOutcome, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Sweep(candidates, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Records a sealed batch over the pending versions `seqs` (ascending),
    /// fenced: only while `fence` is still the leader lease's epoch.
    pub async fn seal(&self, b: Batch, seqs: Vec<i64>, fence: Fence) -> Result<(), WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Seal(b, seqs, fence, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }
}

async fn run(
    catalog: Catalog,
    store: Store,
    commit: Arc<dyn GroupCommit>,
    mut rx: mpsc::Receiver<Op>,
    sweep_gen: Arc<std::sync::atomic::AtomicI64>,
) {
    // the group commits' own connection: on SQLite its page cache stays
    // warm (no other connection writes through it); taken again after an error
    let mut conn: Option<AnyConnection> = None;
    let mut queue: Vec<Op> = Vec::with_capacity(GROUP);
    while let Some(first) = rx.recv().await {
        queue.push(first);
        while queue.len() < GROUP {
            match rx.try_recv() {
                Ok(op) => queue.push(op),
                Err(_) => break,
            }
        }
        // this round's audit entries join the first group commit of it
        let mut audit: Vec<(Vec<crate::audit::Entry>, AuditReply)> = Vec::new();
        let mut rest = Vec::with_capacity(queue.len());
        for op in queue.drain(..) {
            match op {
                Op::Audit(e, r) => audit.push((e, r)),
                op => rest.push(op),
            }
        }
        let mut ops = rest.into_iter().peekable();
        while let Some(op) = ops.next() {
            match op {
                Op::Ingest(v, reply) => {
                    let mut group = vec![(v, reply)];
                    while let Some(Op::Ingest(..)) = ops.peek() {
                        if let Some(Op::Ingest(v, r)) = ops.next() {
                            group.push((v, r));
                        }
                    }
                    ingest_group(
                        &catalog, &store, &*commit, &mut conn, group, &mut audit, &sweep_gen,
                    )
                    .await;
                }
                Op::Pending(limit, reply) => {
                    let _ = reply.send(pending(&catalog, limit).await);
                }
                Op::Seal(b, seqs, fence, reply) => {
                    let _ = reply.send(seal(&catalog, b, &seqs, &fence).await);
                }
                Op::Delete(d, reply) => {
                    let _ = reply.send(delete(&catalog, d).await);
                }
                Op::Sweep(c, reply) => {
                    let _ = reply.send(sweep(&catalog, &store, c, &sweep_gen).await);
                }
                Op::Audit(..) => unreachable!("taken out above"),
            }
        }
        if !audit.is_empty() {
            append_audit(&catalog, std::mem::take(&mut audit)).await;
        }
    }
}

/// Appends audit entries in a transaction of their own.
async fn append_audit(catalog: &Catalog, audit: Vec<(Vec<crate::audit::Entry>, AuditReply)>) {
    let entries: Vec<crate::audit::Entry> = audit.iter().flat_map(|(e, _)| e.clone()).collect();
    let r = crate::audit::append(catalog, &entries)
        .await
        .map_err(Arc::new);
    for (_, reply) in audit {
        let _ = reply.send(r.clone().map_err(WriteError::Commit));
    }
}

type Reply = oneshot::Sender<Result<Accepted, WriteError>>;

/// Why a group's transaction did not commit.
enum GroupError {
    /// Before `COMMIT`: rolled back, nothing recorded; may be redone.
    NotRecorded(CatalogError),
    /// `COMMIT` itself failed: recorded or not, unknown; never redone.
    Unconfirmed(CatalogError),
}

/// Every content a version refers to.
fn contents(v: &NewVersion) -> impl Iterator<Item = &[u8; 32]> {
    std::iter::once(&v.sha256)
        .chain(v.stored_members.iter())
        .chain(v.validation.iter().flat_map(|val| {
            [&val.data_sha256, &val.report_sha256]
                .into_iter()
                .chain(val.signature_sha256.as_ref())
        }))
}

/// Several nodes (PostgreSQL): which of `versions` refer to content the
/// sweeper (on the leader) removed after the version's content was written
/// or found (`sweep_gen`). Takes each content's lock shared until the
/// transaction ends: a removal waits for this commit, and then sees its
/// rows. Refreshes the writer's `sweep_gen`. SQLite (one node): the
/// in-flight pins do this, none refused here.
async fn swept_meanwhile(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    versions: &[NewVersion],
    sweep_gen: &std::sync::atomic::AtomicI64,
) -> Result<Vec<bool>, CatalogError> {
    let none = vec![false; versions.len()];
    if backend != Backend::Postgres || versions.is_empty() {
        return Ok(none);
    }
    super::lock_contents_shared(tx, versions.iter().flat_map(contents)).await?;
    let newest: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM content_sweeps")
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    sweep_gen.fetch_max(newest, std::sync::atomic::Ordering::SeqCst);
    let oldest = versions.iter().map(|v| v.sweep_gen).min().unwrap_or(0);
    if newest <= oldest {
        return Ok(none); // nothing removed since any of them was written
    }
    let rows = sqlx::query("SELECT sha256, id FROM content_sweeps WHERE id > $1")
        .bind(oldest)
        .fetch_all(&mut **tx)
        .await?;
    let mut swept: std::collections::HashMap<Vec<u8>, i64> = std::collections::HashMap::new();
    for r in rows {
        let sha: Vec<u8> = r.try_get(0)?;
        let id: i64 = r.try_get(1)?;
        let e = swept.entry(sha).or_insert(id);
        *e = (*e).max(id);
    }
    Ok(versions
        .iter()
        .map(|v| contents(v).any(|c| swept.get(c.as_slice()).is_some_and(|&id| id > v.sweep_gen)))
        .collect())
}

/// Several nodes (PostgreSQL): takes content `sha`'s lock for the removal
/// (waits for commits that refer to it) and checks its references under it.
async fn references_locked(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sha: &[u8; 32],
) -> Result<i64, CatalogError> {
    super::lock_content(tx, sha).await?;
    Ok(sqlx::query(sqlx::AssertSqlSafe(super::REFERENCES_SQL))
        .bind(sha.to_vec())
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}

type GroupResult = (Vec<Result<Accepted, WriteError>>, Option<(i64, [u8; 32])>);

/// One transaction: the versions (multi-row) and the audit entries.
async fn commit_group(
    catalog: &Catalog,
    commit: &dyn GroupCommit,
    conn: &mut Option<AnyConnection>,
    versions: &[NewVersion],
    entries: &[crate::audit::Entry],
    sweep_gen: &std::sync::atomic::AtomicI64,
) -> Result<GroupResult, GroupError> {
    let c = match conn {
        Some(c) => c,
        None => match catalog.pool().acquire().await {
            Ok(c) => conn.insert(c.detach()),
            Err(e) => return Err(GroupError::NotRecorded(e.into())),
        },
    };
    let result = async {
        let mut tx = c
            .begin()
            .await
            .map_err(|e| GroupError::NotRecorded(e.into()))?;
        let statements = async {
            let gone = swept_meanwhile(&mut tx, catalog.backend(), versions, sweep_gen).await?;
            let out = if gone.iter().any(|g| *g) {
                let kept: Vec<NewVersion> = versions
                    .iter()
                    .zip(&gone)
                    .filter(|(_, g)| !**g)
                    .map(|(v, _)| v.clone())
                    .collect();
                let mut done = insert_all(&mut tx, catalog.backend(), &kept)
                    .await?
                    .into_iter();
                gone.iter()
                    .map(|g| match g {
                        true => Err(WriteError::ContentGone),
                        false => done.next().unwrap_or(Err(WriteError::ContentGone)),
                    })
                    .collect()
            } else {
                insert_all(&mut tx, catalog.backend(), versions).await?
            };
            let head = match entries.is_empty() {
                true => None,
                false => Some(crate::audit::append_in(&mut tx, catalog.backend(), entries).await?),
            };
            Ok::<_, CatalogError>((out, head))
        }
        .await;
        // an error of a statement: the transaction is rolled back on drop
        let done = statements.map_err(GroupError::NotRecorded)?;
        commit
            .commit(tx)
            .await
            .map_err(|e| GroupError::Unconfirmed(e.into()))?;
        Ok(done)
    }
    .await;
    if result.is_err() {
        *conn = None; // a fresh one next time
    }
    result
}

/// Records a group of submissions in one transaction, with `audit` (taken
/// only if that transaction commits).
async fn ingest_group(
    catalog: &Catalog,
    store: &Store,
    commit: &dyn GroupCommit,
    conn: &mut Option<AnyConnection>,
    group: Vec<(NewVersion, Reply)>,
    audit: &mut Vec<(Vec<crate::audit::Entry>, AuditReply)>,
    sweep_gen: &std::sync::atomic::AtomicI64,
) {
    // content first: one fsync makes every upload of the group durable
    let s = store.clone();
    let digests: Vec<[u8; 32]> = group.iter().map(|(v, _)| v.sha256).collect();
    let retained: Vec<Option<(i64, Vec<[u8; 32]>)>> =
        group.iter().map(|(v, _)| retention(v)).collect();
    let present = match tokio::task::spawn_blocking(move || {
        s.sync()?;
        let present = digests
            .iter()
            .map(|d| s.has(d))
            .collect::<Result<Vec<bool>, _>>()?;
        // a store that enforces retention (S3 Object Lock) keeps every
        // content of a version until its retention date before the catalog
        // records it (a version whose content is gone fails below anyway)
        for (r, ok) in retained.iter().zip(&present) {
            let (Some((until, contents)), true) = (r, ok) else {
                continue;
            };
            for d in contents {
                s.retain(d, *until)?;
            }
        }
        Ok::<_, crate::store::StoreError>(present)
    })
    .await
    {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            let e = Arc::new(e);
            for (_, r) in group {
                let _ = r.send(Err(WriteError::Store(e.clone())));
            }
            return;
        }
        Err(e) => {
            let e = e.to_string();
            for (_, r) in group {
                let _ = r.send(Err(WriteError::Task(e.clone())));
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
            let _ = r.send(Err(WriteError::ContentGone));
        }
    }
    let group = kept;
    if group.is_empty() {
        return;
    }
    let (versions, replies): (Vec<NewVersion>, Vec<Reply>) = group.into_iter().unzip();
    let entries: Vec<crate::audit::Entry> = audit.iter().flat_map(|(e, _)| e.clone()).collect();
    let mut result = commit_group(catalog, commit, conn, &versions, &entries, sweep_gen).await;
    if matches!(result, Err(GroupError::NotRecorded(_))) && !audit.is_empty() {
        // the submissions must not fail for the audit trail's sake: alone
        // again (only when nothing was recorded: a failed COMMIT may have been)
        result = commit_group(catalog, commit, conn, &versions, &[], sweep_gen).await;
    }
    match result {
        Ok((results, head)) => {
            if let Some(head) = head {
                for (_, reply) in audit.drain(..) {
                    let _ = reply.send(Ok(head));
                }
            }
            for (reply, res) in replies.into_iter().zip(results) {
                let _ = reply.send(res);
            }
        }
        Err(GroupError::NotRecorded(e)) => {
            tracing::error!(error = %e, submissions = versions.len(), "catalog commit failed; nothing of the group was recorded");
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(WriteError::Commit(e.clone())));
            }
        }
        Err(GroupError::Unconfirmed(e)) => {
            tracing::error!(error = %e, submissions = versions.len(), "catalog COMMIT failed; the group may or may not be recorded");
            let e = Arc::new(e);
            // the audit queue sends its entries again: the trail may hold them
            // twice (each chained), never lose them
            for (_, reply) in audit.drain(..) {
                let _ = reply.send(Err(WriteError::Unconfirmed(e.clone())));
            }
            for reply in replies {
                let _ = reply.send(Err(WriteError::Unconfirmed(e.clone())));
            }
        }
    }
}

/// A retention date `YYYY-MM-DD` as the start of that day, UTC, in Unix
/// seconds (what the store's retention is set to).
pub(crate) fn retention_secs(date: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date, format).ok()?;
    Some(day.midnight().assume_utc().unix_timestamp())
}

/// A version's retention date (the start of that day, UTC, in Unix
/// seconds) and every content it refers to; `None` without a date.
fn retention(v: &NewVersion) -> Option<(i64, Vec<[u8; 32]>)> {
    let until = retention_secs(v.metadata.retention_until.as_deref()?)?;
    let mut contents = vec![v.sha256];
    contents.extend(&v.stored_members);
    if let Some(val) = &v.validation {
        contents.extend(val.signature_sha256);
        contents.extend([val.data_sha256, val.report_sha256]);
    }
    contents.sort_unstable();
    contents.dedup();
    Some((until, contents))
}

/// A new object's id: time-ordered ([`crate::ids::Aoid::time_ordered`]).
fn new_aoid() -> String {
    crate::ids::Aoid::time_ordered(crate::activity::wall_ms().max(0) as u64).into_string()
}

/// Row counts of the multi-row statements: few distinct statements, so
/// each stays in the connection's prepared-statement cache.
const ROWS: [usize; 4] = [256, 32, 4, 1];

/// `(?, ?, ..), (..)` (SQLite) or `($1, $2, ..), (..)` (PostgreSQL): `rows`
/// tuples of `cols` parameters. SQLite gets nameless `?`: sqlx looks up the
/// name of every numbered parameter, and SQLite finds a name by a linear
/// search, which made binding a statement of thousands quadratic.
pub(crate) fn placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

/// Splits `rows` into the parts of one multi-row statement each, of the
/// sizes in [`ROWS`] (largest first).
pub(crate) fn statement_parts<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let n = ROWS.into_iter().find(|&n| n <= rows.len())?;
        let (part, rest) = rows.split_at(n);
        rows = rest;
        Some(part)
    })
}

/// Records every version of a group in one transaction, with multi-row
/// statements; per version its [`Accepted`], or why it was refused (an
/// unknown AOID refuses that version only).
async fn insert_all(
    tx: &mut AnyConnection,
    backend: Backend,
    group: &[NewVersion],
) -> Result<Vec<Result<Accepted, WriteError>>, CatalogError> {
    // 1. the AOID and version number of each
    let mut out: Vec<Result<Accepted, WriteError>> = Vec::with_capacity(group.len());
    let mut created: Vec<usize> = Vec::new();
    for (i, v) in group.iter().enumerate() {
        match &v.aoid {
            None => {
                let aoid = match &v.requested_aoid {
                    None => Some(new_aoid()),
                    Some(wanted) => {
                        // taken in the catalog, or by an earlier submission of this group
                        let in_group = created
                            .iter()
                            .any(|&j| out[j].as_ref().is_ok_and(|a| a.aoid == *wanted));
                        let in_catalog = !in_group
                            && sqlx::query("SELECT 1 FROM objects WHERE aoid = $1")
                                .bind(wanted)
                                .fetch_optional(&mut *tx)
                                .await?
                                .is_some();
                        (!in_group && !in_catalog).then(|| wanted.clone())
                    }
                };
                match aoid {
                    Some(aoid) => {
                        created.push(i);
                        out.push(Ok(Accepted {
                            aoid,
                            version: 1,
                            seq: 0,
                        }));
                    }
                    None => out.push(Err(WriteError::ExistingAoid(
                        v.requested_aoid.clone().unwrap_or_default(),
                    ))),
                }
            }
            Some(aoid) => {
                // a deleted object takes no new version, even one whose handler checked
                // ownership before the deletion was committed (the writer orders both)
                let row = match v.after {
                    None => sqlx::query("UPDATE objects SET latest_version = latest_version + 1 WHERE aoid = $1 AND deleted_at IS NULL RETURNING latest_version")
                        .bind(aoid)
                        .fetch_optional(&mut *tx)
                        .await?,
                    // only after the version it names (an update of an XAIP)
                    Some(after) => sqlx::query("UPDATE objects SET latest_version = latest_version + 1 WHERE aoid = $1 AND deleted_at IS NULL AND latest_version = $2 RETURNING latest_version")
                        .bind(aoid)
                        .bind(after)
                        .fetch_optional(&mut *tx)
                        .await?,
                };
                out.push(match row {
                    Some(r) => Ok(Accepted {
                        aoid: aoid.clone(),
                        version: r.try_get(0)?,
                        seq: 0,
                    }),
                    None => {
                        let latest: Option<i64> = match v.after {
                            None => None,
                            Some(_) => sqlx::query("SELECT latest_version FROM objects WHERE aoid = $1 AND deleted_at IS NULL")
                                .bind(aoid)
                                .fetch_optional(&mut *tx)
                                .await?
                                .map(|r| r.try_get(0))
                                .transpose()?,
                        };
                        Err(match (latest, v.after) {
                            (Some(latest), Some(after)) => WriteError::NotLatest {
                                aoid: aoid.clone(),
                                after,
                                latest,
                            },
                            _ => WriteError::UnknownAoid(aoid.clone()),
                        })
                    }
                });
            }
        }
    }
    // 2. the new archive objects
    for part in statement_parts(&created) {
        let sql = format!(
            "INSERT INTO objects (aoid, created_at, latest_version, tenant) VALUES {}",
            placeholders(backend, part.len(), 4)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in part {
            let a = out[i].as_ref().expect("a new object");
            q = q
                .bind(a.aoid.clone())
                .bind(group[i].submitted_at_ms)
                .bind(1i64)
                .bind(group[i].tenant.clone());
        }
        q.execute(&mut *tx).await?;
    }
    // 3. the versions; their seq comes back by (aoid, version)
    let ok: Vec<usize> = (0..group.len()).filter(|&i| out[i].is_ok()).collect();
    let mut index: std::collections::HashMap<(String, i64), usize> = ok
        .iter()
        .map(|&i| {
            let a = out[i].as_ref().expect("ok");
            ((a.aoid.clone(), a.version), i)
        })
        .collect();
    for part in statement_parts(&ok) {
        let sql = format!(
            "INSERT INTO versions (aoid, version, submitted_at, system, file_ref, title, retention_until, media_type, meta, size, sha256, members, salt, stored_members) \
             VALUES {} RETURNING seq, aoid, version",
            placeholders(backend, part.len(), 14)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in part {
            let (v, a) = (&group[i], out[i].as_ref().expect("ok"));
            let meta = serde_json::to_string(&v.metadata.meta).unwrap_or_else(|_| "{}".into());
            q = q
                .bind(a.aoid.clone())
                .bind(a.version)
                .bind(v.submitted_at_ms)
                .bind(v.metadata.system.clone())
                .bind(v.metadata.file_ref.clone())
                .bind(v.metadata.title.clone())
                .bind(v.metadata.retention_until.clone())
                .bind(v.media_type.clone())
                .bind(meta)
                .bind(v.size as i64)
                .bind(v.sha256.to_vec())
                .bind(v.members.concat())
                .bind(v.salt.clone())
                .bind((!v.stored_members.is_empty()).then(|| v.stored_members.concat()));
        }
        for r in q.fetch_all(&mut *tx).await? {
            let (seq, aoid, version): (i64, String, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let i = index.remove(&(aoid, version)).ok_or_else(|| {
                CatalogError::Corrupt(format!(
                    "an insert returned seq {seq} for a version not in it"
                ))
            })?;
            if let Ok(a) = &mut out[i] {
                a.seq = seq;
            }
        }
    }
    if !index.is_empty() {
        return Err(CatalogError::Corrupt(format!(
            "{} inserted versions returned no seq",
            index.len()
        )));
    }
    // 4. validation summaries (signed documents only)
    for (i, v) in group.iter().enumerate() {
        let (Some(val), Ok(a)) = (&v.validation, &out[i]) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO validations (seq, format, indication, sub_indication, summary, validated_at, decision, signature_sha256, data_sha256, report_sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(a.seq)
        .bind(&val.format)
        .bind(&val.indication)
        .bind(val.sub_indication.clone())
        .bind(&val.summary)
        .bind(val.validated_at_ms)
        .bind(&val.decision)
        .bind(val.signature_sha256.map(|s| s.to_vec()))
        .bind(val.data_sha256.to_vec())
        .bind(val.report_sha256.to_vec())
        .execute(&mut *tx)
        .await?;
    }
    // 5. the stored members beyond the document, one row each, for the
    // sweeper (`Catalog::references`); the items of the validation row
    // above are found through it already
    let mut members: Vec<(i64, [u8; 32])> = vec![];
    for (i, v) in group.iter().enumerate() {
        let Ok(a) = &out[i] else { continue };
        let counted: Vec<[u8; 32]> = v
            .validation
            .as_ref()
            .map(|val| {
                let mut c = vec![val.data_sha256, val.report_sha256];
                c.extend(val.signature_sha256);
                c
            })
            .unwrap_or_default();
        // each once per version (seq is the version's own): a check within
        // its few members, not across the whole group
        for (k, s) in v.stored_members.iter().enumerate() {
            if !counted.contains(s) && !v.stored_members[..k].contains(s) {
                members.push((a.seq, *s));
            }
        }
    }
    for part in statement_parts(&members) {
        let sql = format!(
            "INSERT INTO version_members (seq, sha256) VALUES {}",
            placeholders(backend, part.len(), 2)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (seq, sha) in part {
            q = q.bind(*seq).bind(sha.to_vec());
        }
        q.execute(&mut *tx).await?;
    }
    Ok(out)
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

async fn seal(catalog: &Catalog, b: Batch, seqs: &[i64], f: &Fence) -> Result<(), WriteError> {
    let mut tx = catalog.pool().begin().await.map_err(CatalogError::from)?;
    super::fence(&mut tx, f).await.map_err(|e| match e {
        super::FenceError::Db(e) => WriteError::Catalog(e.into()),
        e => WriteError::Fenced(e.to_string()),
    })?;
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
    super::tree_recorded(&mut tx, b.id, b.sealed_at_ms)
        .await
        .map_err(CatalogError::from)?;
    // the versions by seq: several nodes commit concurrently, so the
    // pending versions need not be a contiguous range of seqs
    let mut done = 0;
    for part in seqs.chunks(1000) {
        let list = part
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        done += sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE versions SET batch_id = $1 WHERE batch_id IS NULL AND seq IN ({list})"
        )))
        .bind(b.id)
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::from)?
        .rows_affected();
    }
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
    if done != versions || seqs.len() as u64 != versions {
        // rolled back on drop: the batch stays pending
        return Err(WriteError::Inconsistent(format!(
            "batch {} covers {} versions but {} of its {} were pending",
            b.id,
            versions,
            done,
            seqs.len()
        )));
    }
    tx.commit().await.map_err(CatalogError::from)?;
    Ok(())
}

async fn delete(catalog: &Catalog, d: Deletion) -> Result<Deleted, WriteError> {
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
        "SELECT version, batch_id, retention_until FROM versions WHERE aoid = $1 ORDER BY version",
    )
    .bind(&d.aoid)
    .fetch_all(&mut *tx)
    .await
    .map_err(CatalogError::from)?;
    let mut retained: Option<String> = None;
    for r in &rows {
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
    }
    let has = |s: &Option<String>| s.as_ref().is_some_and(|x| !x.trim().is_empty());
    if let Some(u) = &retained {
        if !(has(&d.reason) && has(&d.requestor)) {
            return Err(WriteError::ReasonRequired(format!(
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
    // no content is removed here: the sweeper removes what no version
    // references any more, so that this answer and its time are the same
    // whether or not another object (of any tenant) holds identical bytes
    Ok(Deleted {
        aoid: d.aoid,
        versions: rows.len() as i64,
        before_retention: retained.is_some(),
    })
}

/// The writer's side of a sweep: every candidate re-checked against the
/// catalog and the in-flight pins, removed under the registry's lock.
async fn sweep(
    catalog: &Catalog,
    store: &Store,
    candidates: Vec<Listed>,
    sweep_gen: &std::sync::atomic::AtomicI64,
) -> Result<SweepOutcome, WriteError> {
    let mut out = SweepOutcome::default();
    for c in candidates {
        // several nodes: the removal holds the content's lock and is
        // recorded (content_sweeps) in the same transaction
        let mut tx = match catalog.backend() {
            Backend::Postgres => {
                let mut tx = catalog.pool().begin().await.map_err(CatalogError::from)?;
                if references_locked(&mut tx, &c.sha256).await? > 0 {
                    out.referenced += 1;
                    continue;
                }
                Some(tx)
            }
            Backend::Sqlite => {
                if catalog.references(&c.sha256).await? > 0 {
                    out.referenced += 1;
                    continue;
                }
                None
            }
        };
        let (s, sha) = (store.clone(), c.sha256);
        let removed = tokio::task::spawn_blocking(move || {
            s.in_flight()
                .unless_pinned(&sha, || s.delete_content(&sha))
                .transpose()
        })
        .await
        .map_err(|e| WriteError::Task(e.to_string()))?;
        let removed = match removed {
            Err(crate::store::StoreError::Retained { .. }) => {
                out.retained += 1;
                continue;
            }
            r => r.map_err(|e| WriteError::Store(Arc::new(e)))?,
        };
        let mut swept = None;
        if let (Some(tx), Some(true)) = (tx.as_mut(), removed) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let id: i64 = sqlx::query(
                "INSERT INTO content_sweeps (sha256, swept_at) VALUES ($1, $2) RETURNING id",
            )
            .bind(c.sha256.to_vec())
            .bind(now)
            .fetch_one(&mut **tx)
            .await
            .map_err(CatalogError::from)?
            .try_get(0)
            .map_err(CatalogError::from)?;
            swept = Some(id);
        }
        if let Some(tx) = tx {
            tx.commit().await.map_err(CatalogError::from)?;
        }
        // this node's next submissions know of the removal (their content is
        // written after it); another node learns it at its next group commit
        if let Some(id) = swept {
            sweep_gen.fetch_max(id, std::sync::atomic::Ordering::SeqCst);
        }
        match removed {
            None => out.pinned += 1,
            Some(true) => {
                out.removed += 1;
                out.bytes += c.size;
            }
            Some(false) => {} // gone already
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_cover_every_row_with_few_sizes() {
        for n in 0..2100 {
            let rows: Vec<usize> = (0..n).collect();
            let parts: Vec<&[usize]> = statement_parts(&rows).collect();
            assert_eq!(parts.concat(), rows);
            assert!(parts.iter().all(|p| ROWS.contains(&p.len())));
            // greedy: never more than 7 of a smaller size
            assert!(parts.iter().filter(|p| p.len() < 256).count() <= 7 * 3);
        }
    }

    #[test]
    fn placeholders_per_backend() {
        assert_eq!(placeholders(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(
            placeholders(Backend::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
    }
}
