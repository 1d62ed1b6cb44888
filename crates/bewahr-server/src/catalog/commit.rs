//! The seam between the store's `sync` and the catalog's `COMMIT` in the
//! writer's group commit, so that fault-injection tests can fail or "crash"
//! exactly there (`crate::testing::FaultyCommit`).

use futures_util::future::BoxFuture;
use sqlx::{Any, Transaction};

/// Commits the transaction of one group of submissions.
///
/// Contract: the writer calls it once per group, after the store's `sync`
/// returned `Ok` and every statement of the group ran in `tx`; calls are
/// serialised (one writer). `Ok` means committed and durable. `Err` means
/// the outcome is **unknown**: the transaction may have been rolled back
/// (not persisted) or committed (the connection broke after `COMMIT` was
/// sent: persisted). The writer therefore never redoes a group whose commit
/// failed, and tells the clients that the outcome is unconfirmed.
pub trait GroupCommit: Send + Sync + 'static {
    fn commit<'c>(&'c self, tx: Transaction<'c, Any>) -> BoxFuture<'c, Result<(), sqlx::Error>>;
}

/// The real thing: `COMMIT`.
pub struct Commit;

impl GroupCommit for Commit {
    fn commit<'c>(&'c self, tx: Transaction<'c, Any>) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(tx.commit())
    }
}
