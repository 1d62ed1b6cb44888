//! Fault injection on a submission's way to durability (`bewahr::testing`):
//! at each point, what the client got, and what the archive holds after a
//! restart (store and catalog reopened). "Failed and not persisted" leaves
//! no catalog entry and only unreferenced content, which the sweeper
//! removes; "failed but persisted" leaves a consistent version that seals
//! and verifies; a retry by the client corrupts nothing.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use bewahr::access::Role;
use bewahr::api::app;
use bewahr::config::Config;
use bewahr::seal::system_clock;
use bewahr::server::{start_with_seams, Archive, Seams};
use bewahr::testing::{CommitFault, Faults, StoreFault};
use serde_json::Value;
use sha2::Digest;

use crate::api::{pg_database, send, Db};
use crate::support::tempdir;

/// An archive that can be stopped and started again on the same data.
struct Node {
    _dir: tempfile::TempDir,
    cfg: Config,
    archive: Option<Archive>,
    router: Router,
    /// `submitter`, `auditor` (tenant t1), `operator`.
    tokens: std::collections::HashMap<&'static str, String>,
}

impl Node {
    async fn start(db: Db, seams: Seams) -> Option<Node> {
        let dir = tempdir();
        let mut cfg = Config::default();
        cfg.server.data_dir = dir.path().to_path_buf();
        cfg.batch.interval_ms = 100;
        cfg.batch.retry_min_ms = 50;
        cfg.batch.retry_max_ms = 200;
        cfg.store.sweep_interval_secs = 0;
        cfg.store.sweep_grace_secs = 0;
        if let Db::Postgres = db {
            let name = pg_database().await?;
            cfg.catalog.url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        }
        let archive = start_with_seams(&cfg, system_clock(), None, seams)
            .await
            .unwrap();
        let c = &archive.state.catalog;
        c.create_tenant("t1", "test", 0).await.unwrap();
        let mut tokens = std::collections::HashMap::new();
        for (name, role, tenant) in [
            ("submitter", Role::Submitter, Some("t1")),
            ("auditor", Role::Auditor, Some("t1")),
            ("operator", Role::Operator, None),
        ] {
            let (_, t) = c
                .create_token(tenant, role, name, None, "test", 0)
                .await
                .unwrap();
            tokens.insert(name, t);
        }
        let router = app(archive.state.clone());
        Some(Node {
            _dir: dir,
            cfg,
            archive: Some(archive),
            router,
            tokens,
        })
    }

    /// Stops the archive (its workers drained) and starts it again without faults.
    async fn restart(&mut self) {
        let a = self.archive.take().expect("running");
        self.router = Router::new();
        a.shutdown(Duration::from_secs(10)).await;
        let a = start_with_seams(&self.cfg, system_clock(), None, Seams::default())
            .await
            .unwrap();
        self.router = app(a.state.clone());
        self.archive = Some(a);
    }

    fn state(&self) -> &bewahr::api::AppState {
        &self.archive.as_ref().expect("running").state
    }

    async fn call(&self, m: Method, uri: &str, who: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let r = Request::builder()
            .method(m)
            .uri(uri)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.tokens[who]),
            )
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(body))
            .unwrap();
        let (st, _, b) = send(&self.router, r).await;
        (st, b)
    }

    async fn submit(&self, doc: &[u8]) -> (StatusCode, Value) {
        let (st, b) = self
            .call(Method::POST, "/v1/objects", "submitter", doc.to_vec())
            .await;
        (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    async fn references(&self, sha: &[u8; 32]) -> i64 {
        self.state().catalog.references(sha).await.unwrap()
    }

    fn stored(&self, sha: &[u8; 32]) -> bool {
        self.state().ingest.store.has(sha).unwrap()
    }

    async fn sweep(&self) -> Value {
        let (st, b) = self
            .call(Method::POST, "/v1/admin/sweeper/run", "operator", vec![])
            .await;
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        serde_json::from_slice(&b).unwrap()
    }

    /// Every object holding `doc` has a sealed version whose evidence record verifies.
    async fn all_verify(&self, doc: &[u8], sha: &[u8; 32]) -> usize {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT aoid, version FROM versions WHERE sha256 = $1 AND deleted_at IS NULL",
        )
        .bind(sha.to_vec())
        .fetch_all(self.state().catalog.pool())
        .await
        .unwrap();
        let trusted = self.state().renewer.ctx().trusted();
        for r in &rows {
            let (aoid, version): (String, i64) = (r.get(0), r.get(1));
            let (st, er) = self
                .call(
                    Method::GET,
                    &format!("/v1/objects/{aoid}/evidence?version={version}&wait=20"),
                    "auditor",
                    vec![],
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&er));
            let rep = bewahr::verify::verify_der(
                &er,
                &mut bewahr::verify::InMemory(vec![doc.to_vec()]),
                &bewahr::verify::Options::new(
                    &trusted,
                    time::OffsetDateTime::now_utc(),
                    &bewahr::verify::AlgorithmPolicy::default(),
                ),
            );
            assert_eq!(
                rep.indication,
                bewahr::verify::Indication::Passed,
                "{}",
                rep.to_text()
            );
        }
        rows.len()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(name) = self
            .cfg
            .catalog
            .url
            .strip_prefix("postgres://postgres@127.0.0.1:5432/")
        {
            crate::api::drop_pg_database(name);
        }
    }
}

enum Point {
    Store(StoreFault),
    Commit(CommitFault),
}

/// One fault point: the client's answer, the archive after a restart, the
/// sweeper, and the client's retry. `persisted`: whether the failed
/// submission must be in the catalog after the restart.
async fn fault_point(db: Db, point: Point, persisted: bool) {
    let faults = Faults::default();
    let Some(mut n) = Node::start(db, faults.seams()).await else {
        return;
    };
    let what = match &point {
        Point::Store(f) => format!("{f:?}"),
        Point::Commit(f) => format!("{f:?}"),
    };
    let doc = format!("Bescheid nach Fehler {what}").into_bytes();
    let sha: [u8; 32] = sha2::Sha256::digest(&doc).into();
    match point {
        Point::Store(f) => faults.arm_store(f),
        Point::Commit(f) => faults.arm_commit(f),
    }
    let (st, b) = n.submit(&doc).await;
    assert_eq!(faults.fired(), 1, "{what}: the fault fired");
    assert!(
        st.is_server_error(),
        "{what}: the client is told the submission failed: {st} {b}"
    );
    n.restart().await;
    assert_eq!(
        n.references(&sha).await,
        i64::from(persisted),
        "{what}: catalog after the restart"
    );
    if persisted {
        // a consistent version: it seals, and its record verifies
        assert_eq!(n.all_verify(&doc, &sha).await, 1, "{what}");
        let run = n.sweep().await;
        assert_eq!(run["removed"], 0, "{what}: referenced content stays: {run}");
        assert!(n.stored(&sha), "{what}");
    } else {
        // only unreferenced content is left, and the sweeper removes it
        assert!(
            n.stored(&sha),
            "{what}: the content was written (not referenced)"
        );
        let run = n.sweep().await;
        assert_eq!(run["removed"], 1, "{what}: {run}");
        assert!(!n.stored(&sha), "{what}: swept");
    }
    // the client sends it again: one more version, nothing corrupted
    let (st, b) = n.submit(&doc).await;
    assert_eq!(st, StatusCode::CREATED, "{what}: retry: {b}");
    let want = 1 + usize::from(persisted);
    assert_eq!(n.references(&sha).await, want as i64, "{what}");
    assert_eq!(n.all_verify(&doc, &sha).await, want, "{what}");
    let run = n.sweep().await;
    assert_eq!(run["removed"], 0, "{what}: {run}");
    assert_eq!(
        n.state().ingest.store.read_all(&sha).unwrap().as_deref(),
        Some(&doc[..]),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_sync_is_not_persisted_and_swept() {
    fault_point(Db::Sqlite, Point::Store(StoreFault::FailSync), false).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_torn_sync_leaves_only_unreferenced_content() {
    fault_point(Db::Sqlite, Point::Store(StoreFault::TornSync), false).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_sync_and_commit_is_not_persisted() {
    fault_point(Db::Sqlite, Point::Commit(CommitFault::BeforeCommit), false).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_lost_after_it_was_persisted_is_a_sealable_version() {
    fault_point(Db::Sqlite, Point::Commit(CommitFault::AfterCommit), true).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_lost_after_it_was_persisted_is_a_sealable_version_postgres() {
    fault_point(Db::Postgres, Point::Commit(CommitFault::AfterCommit), true).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_sync_and_commit_is_not_persisted_postgres() {
    fault_point(
        Db::Postgres,
        Point::Commit(CommitFault::BeforeCommit),
        false,
    )
    .await
}

/// A large upload whose chunk write fails (nothing written, or half a
/// chunk): the client gets an error, the drop guard removes the chunks,
/// nothing is in the store's index or the catalog, and the next upload works.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_or_torn_chunk_write_leaves_nothing_behind() {
    let faults = Faults::default();
    let Some(n) = Node::start(Db::Sqlite, faults.seams()).await else {
        return;
    };
    for f in [StoreFault::FailChunk, StoreFault::TearChunk] {
        let doc: Vec<u8> = (0..(9 << 20) + 17)
            .map(|i: u32| (i % 253) as u8 ^ (f as u8))
            .collect();
        let sha: [u8; 32] = sha2::Sha256::digest(&doc).into();
        faults.arm_store(f);
        let (st, b) = n.submit(&doc).await;
        assert!(st.is_server_error(), "{f:?}: {st} {b}");
        assert!(!n.stored(&sha), "{f:?}");
        assert_eq!(n.references(&sha).await, 0, "{f:?}");
        let listed = n.state().ingest.store.content().list(None, 100).unwrap();
        assert!(listed.iter().all(|l| l.sha256 != sha), "{f:?}");
        let (st, b) = n.submit(&doc).await;
        assert_eq!(st, StatusCode::CREATED, "{f:?}: {b}");
        assert_eq!(
            n.state().ingest.store.read_all(&sha).unwrap().as_deref(),
            Some(&doc[..])
        );
    }
    assert_eq!(faults.fired(), 2);
}
