//! Several nodes: two `bewahr serve` processes on one PostgreSQL catalog and
//! one S3 store (moto), submissions to both, `kill -9` of the leader
//! mid-sealing and mid-renewal. The other node takes over: every
//! acknowledged object is retrievable byte for byte with a valid evidence
//! record, each version is sealed exactly once, no renewal run is done
//! twice or left half done, and the audit trail stays one chain.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bewahr::verify::{AlgorithmPolicy, Options};
use sqlx::Row;

use crate::api::pg_database;
use crate::kill::{bearer_client, object_intact, post_renewal, submit, trust_anchors, wait_ready};
use crate::s3::{client, make_bucket, moto, Moto};
use crate::support::*;

/// The shared engines of a cluster test, and the nodes' data directories.
struct Cluster {
    _moto: Moto,
    endpoint: String,
    pg: String,
    db: String,
    root: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        crate::api::drop_pg_database(&self.db);
    }
}

impl Cluster {
    /// PostgreSQL and moto with a bucket with Object Lock; `None` (skip)
    /// when they are not there outside CI.
    async fn new() -> Option<Cluster> {
        let Some(m) = moto().await else {
            if std::env::var("BEWAHR_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("moto_server is required (BEWAHR_MOTO)");
            }
            eprintln!("SKIPPED: moto_server is not installed");
            return None;
        };
        let db = pg_database().await?;
        make_bucket(&client(&m.endpoint), "archive", true).await;
        Some(Cluster {
            endpoint: m.endpoint.clone(),
            _moto: m,
            pg: format!("postgres://postgres@127.0.0.1:5432/{db}"),
            db,
            root: tempdir(),
        })
    }

    fn dir(&self, node: &str) -> PathBuf {
        self.root.path().join(node)
    }

    /// The command line with this cluster's catalog and store.
    fn bewahr(&self, node: &str) -> std::process::Command {
        let mut c = bewahr();
        c.env("BEWAHR_CATALOG__URL", &self.pg)
            .env("BEWAHR_STORE__KIND", "s3")
            .env("BEWAHR_STORE__ENDPOINT", &self.endpoint)
            .env("BEWAHR_STORE__BUCKET", "archive")
            .env("BEWAHR_STORE__REGION", "us-east-1")
            .env("BEWAHR_STORE__EVIDENCE_RETENTION_DAYS", "10")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("BEWAHR_CLUSTER__NODE_ID", node)
            .env("BEWAHR_CLUSTER__LEASE_MS", "2000")
            .env("BEWAHR_CLUSTER__POLL_MS", "100")
            .env("BEWAHR_CLUSTER__REHASH_RANGE", "10")
            .env("BEWAHR_BATCH__INTERVAL_MS", "40")
            .env("BEWAHR_RENEWAL__AUTOMATIC", "false")
            .env("BEWAHR_LOG", "warn");
        c
    }

    /// Starts node `node` on a free port; its base URL. The nodes share the
    /// development TSA's key (as they would share a configured TSA).
    async fn start(&self, node: &str, http: &reqwest::Client) -> (Proc, String) {
        let dir = self.dir(node);
        std::fs::create_dir_all(&dir).unwrap();
        let first = self.dir("a").join("tsa");
        if node != "a" && first.exists() && !dir.join("tsa").exists() {
            copy_dir(&first, &dir.join("tsa"));
        }
        let port = free_port();
        let child = self
            .bewahr(node)
            .args(["serve", "--data-dir"])
            .arg(&dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = Proc(child);
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(http, &base).await;
        (child, base)
    }

    /// Clients with tokens made on the command line (the catalog is shared:
    /// they work on every node): (submitter, auditor, operator).
    fn clients(&self) -> (reqwest::Client, reqwest::Client, reqwest::Client) {
        let dir = self.dir("a");
        std::fs::create_dir_all(&dir).unwrap();
        let o = run(self
            .bewahr("a")
            .args(["tenant", "create", "cluster", "--data-dir"])
            .arg(&dir));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let token = |role: &str| {
            let mut c = self.bewahr("a");
            c.args(["token", "create", "--role", role, "--data-dir"])
                .arg(&dir);
            if role != "operator" {
                c.args(["--tenant", "cluster"]);
            }
            let o = run(&mut c);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            bearer_client(stdout(&o).lines().last().unwrap())
        };
        (token("submitter"), token("auditor"), token("operator"))
    }

    /// Nodes `a` (started first: the leader) and `b` (a follower).
    async fn two_nodes(&self, op: &reqwest::Client) -> ((Proc, String), (Proc, String)) {
        let a = self.start("a", op).await;
        leads(op, &a.1, Duration::from_secs(10)).await;
        let b = self.start("b", op).await;
        let h = health(op, &b.1).await;
        assert_eq!(h["cluster"]["role"], "follower", "{h}");
        assert_eq!(h["cluster"]["leader"], "a", "{h}");
        (a, b)
    }

    async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.pg).await.unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A node's process, killed when dropped (a failing test leaves none behind).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kill(p: &mut Proc) {
    p.0.kill().unwrap(); // SIGKILL
    p.0.wait().unwrap();
}

async fn health(http: &reqwest::Client, base: &str) -> serde_json::Value {
    http.get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the node at `base` leads.
async fn leads(http: &reqwest::Client, base: &str, within: Duration) {
    let end = Instant::now() + within;
    loop {
        let h = health(http, base).await;
        if h["cluster"]["role"] == "leader" {
            return;
        }
        assert!(Instant::now() < end, "{base} did not take the lease: {h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submits documents to `base` until the request fails (the node was
/// killed) or `stop` is set; the acknowledged ones.
async fn submit_until(
    http: reqwest::Client,
    base: String,
    tag: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<(String, Vec<u8>)> {
    let mut ok = Vec::new();
    for i in 0.. {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        let doc = format!("{tag} document {i} ")
            .repeat(1 + i % 40)
            .into_bytes();
        match http
            .post(format!("{base}/v1/objects?title=cluster"))
            .header("content-type", "text/plain")
            .body(doc.clone())
            .send()
            .await
        {
            Ok(r) if r.status() == 201 => {
                let j: serde_json::Value = r.json().await.unwrap();
                ok.push((j["aoid"].as_str().unwrap().to_string(), doc));
            }
            _ => break, // killed (or refused): not acknowledged
        }
    }
    ok
}

/// Every object: a valid evidence record of `chains` chains and its bytes, from `base`.
async fn check_all(
    aud: &reqwest::Client,
    base: &str,
    objects: &[(String, Vec<u8>)],
    trusted: &[x509_cert::Certificate],
    chains: usize,
) {
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(trusted, time::OffsetDateTime::now_utc(), &policy);
    for (aoid, doc) in objects {
        let rep = object_intact(aud, base, aoid, doc, &opts).await;
        assert_eq!(rep.chains, chains, "{aoid}: {}", rep.to_text());
    }
}

/// Each version in exactly one sealed batch: none pending, and the sealed
/// batches' leaves (less their audit-head leaf) add up to the versions.
async fn sealed_exactly_once(db: &sqlx::PgPool) {
    let r = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM versions), \
                (SELECT COUNT(*) FROM versions WHERE batch_id IS NULL), \
                (SELECT CAST(COALESCE(SUM(leaves), 0) AS BIGINT) FROM batches WHERE kind = 'initial'), \
                (SELECT COUNT(*) FROM audit_seals)",
    )
    .fetch_one(db)
    .await
    .unwrap();
    let (versions, pending, leaves, heads): (i64, i64, i64, i64) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    assert_eq!(pending, 0);
    assert_eq!(
        leaves - heads,
        versions,
        "leaves of sealed batches vs versions"
    );
}

/// The audit trail is one chain, its sealed heads proven (abandoned
/// sealing attempts of the killed leader are reported, not failed).
fn audit_intact(c: &Cluster) {
    let o = run(c
        .bewahr("b")
        .args(["audit", "verify", "--data-dir"])
        .arg(c.dir("b")));
    assert!(
        o.status.success(),
        "{}\n{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_take_submissions_and_the_follower_seals_after_kill_9_of_the_leader() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    let (sub, aud, op) = c.clients();
    let ((mut a, base_a), (mut b, base_b)) = c.two_nodes(&op).await;

    // writers on both nodes; the leader is killed while it seals
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..6 {
        let base = if w % 2 == 0 { &base_a } else { &base_b };
        tasks.push(tokio::spawn(submit_until(
            sub.clone(),
            base.clone(),
            format!("writer {w}"),
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    kill(&mut a);
    // node b goes on taking submissions and takes the lease over
    tokio::time::sleep(Duration::from_millis(800)).await;
    leads(&op, &base_b, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.unwrap());
    }
    assert!(acknowledged.len() > 20, "{}", acknowledged.len());

    // a comes back (same node id): a follower now
    let (mut a, base_a) = c.start("a", &op).await;
    assert_eq!(health(&op, &base_a).await["cluster"]["role"], "follower");
    let trusted = trust_anchors(&op, &base_b).await;
    check_all(&aud, &base_b, &acknowledged, &trusted, 1).await;
    // every node serves every object
    check_all(&aud, &base_a, &acknowledged[..10], &trusted, 1).await;
    sealed_exactly_once(&c.db().await).await;
    kill(&mut a);
    kill(&mut b);
    audit_intact(&c);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_share_a_hash_tree_renewal_and_the_follower_finishes_it_after_kill_9() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    let (sub, aud, op) = c.clients();
    let ((mut a, base_a), (mut b, base_b)) = c.two_nodes(&op).await;
    let mut docs = Vec::new();
    for i in 0..120u32 {
        let doc: Vec<u8> = (0..128 * 1024u32)
            .map(|j| (j.wrapping_mul(i + 3) >> 2) as u8)
            .collect();
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        docs.push((submit(&sub, base, &doc).await, doc));
    }
    let trusted = trust_anchors(&op, &base_a).await;
    check_all(&aud, &base_b, &docs, &trusted, 1).await;
    let db = c.db().await;

    // 1. both alive: the rehashing is shared (asked of the follower; the leader runs it)
    let id = renew(&op, &base_b, "sha512").await;
    let run = run_done(&op, &base_a, id).await;
    let shares = run["shares"].as_object().unwrap().clone();
    assert!(
        shares.get("a").and_then(|v| v.as_i64()).unwrap_or(0) > 0
            && shares.get("b").and_then(|v| v.as_i64()).unwrap_or(0) > 0,
        "both nodes rehashed: {run}"
    );
    eprintln!("hash-tree renewal shares (leaves per node): {shares:?}");

    // 2. the leader is killed mid-renewal: b takes the run over and finishes it once
    let id = renew(&op, &base_b, "sha3-512").await;
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let done: i64 =
            sqlx::query("SELECT COUNT(*) FROM rehash_ranges WHERE run_id = $1 AND state = 'done'")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
                .get(0);
        if done > 0 {
            break;
        }
        assert!(Instant::now() < end, "the renewal did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill(&mut a);
    leads(&op, &base_b, Duration::from_secs(10)).await;
    let run = run_done(&op, &base_b, id).await;
    assert!(run["attempts"].as_i64().unwrap() >= 2, "taken over: {run}");
    assert!(run["owner"].as_str().unwrap().starts_with("b/"), "{run}");
    // one tree per renewal: none written twice
    let trees: i64 =
        sqlx::query("SELECT COUNT(*) FROM batches WHERE kind = 'hashtree' AND run_id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap()
            .get(0);
    assert_eq!(trees, 1);
    let all: i64 = sqlx::query("SELECT COUNT(*) FROM renewals")
        .fetch_one(&db)
        .await
        .unwrap()
        .get(0);
    assert_eq!(all, 2);
    // every record: three chains (SHA-256, SHA-512, SHA3-512)
    check_all(&aud, &base_b, &docs, &trusted, 3).await;
    kill(&mut b);
    audit_intact(&c);
}

async fn renew(op: &reqwest::Client, base: &str, alg: &str) -> i64 {
    post_renewal(
        op,
        base,
        serde_json::json!({"kind": "hashtree", "digest_algorithm": alg}),
    )
    .await
}

async fn run_done(op: &reqwest::Client, base: &str, id: i64) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let r: serde_json::Value = op
            .get(format!("{base}/v1/admin/renewals/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match r["state"].as_str() {
            Some("done") => return r,
            Some("failed") | Some("incomplete") => panic!("run {id}: {r}"),
            _ => {}
        }
        assert!(Instant::now() < end, "run {id} did not end: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The lease and its fencing, on the catalog alone (SQLite and, when it is
/// there, PostgreSQL): one holder at a time, the epoch grows with every
/// change of holder, a node that lost the lease cannot record a batch.
#[tokio::test(flavor = "multi_thread")]
async fn the_leader_lease_fences_a_node_that_lost_it() {
    let dir = tempdir();
    let mut urls = vec![format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("catalog.db").display()
    )];
    let pg = pg_database().await;
    if let Some(db) = &pg {
        urls.push(format!("postgres://postgres@127.0.0.1:5432/{db}"));
    }
    for url in urls {
        let cat = bewahr::catalog::Catalog::open(&url, 4).await.unwrap();
        let e1 = cat.acquire_lease("a", "a/1", 400, false).await.unwrap();
        assert_eq!(e1, Some(1), "{url}");
        // held: b does not get it; a renews it (same epoch)
        assert_eq!(
            cat.acquire_lease("b", "b/1", 400, false).await.unwrap(),
            None
        );
        assert_eq!(cat.acquire_lease("a", "a/1", 400, false).await.unwrap(), e1);
        // a pauses past its lease: b takes it, a new epoch
        tokio::time::sleep(Duration::from_millis(600)).await;
        let e2 = cat.acquire_lease("b", "b/1", 400, false).await.unwrap();
        assert_eq!(e2, Some(2), "{url}");
        assert_eq!(cat.lease().await.unwrap().node, "b");
        // a's commit with its old fence is refused; b's goes through
        let mut tx = cat.pool().begin().await.unwrap();
        let stale = bewahr::catalog::Fence {
            instance: "a/1".into(),
            epoch: 1,
        };
        let e = bewahr::catalog::fence_for_tests(&mut tx, &stale).await;
        assert!(e.is_err(), "{url}: a stale fence must not pass");
        drop(tx);
        let mut tx = cat.pool().begin().await.unwrap();
        let current = bewahr::catalog::Fence {
            instance: "b/1".into(),
            epoch: 2,
        };
        bewahr::catalog::fence_for_tests(&mut tx, &current)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // a restarted instance of b (same node id) takes b's lease at once, a new epoch
        assert_eq!(
            cat.acquire_lease("b", "b/2", 400, false).await.unwrap(),
            Some(3)
        );
        // tree ids are never handed out twice
        let x = cat
            .allocate_tree_id("initial", "b", 0, false)
            .await
            .unwrap();
        let y = cat
            .allocate_tree_id("initial", "b", 0, false)
            .await
            .unwrap();
        let r = cat
            .allocate_tree_id("hashtree", "b", 0, true)
            .await
            .unwrap();
        assert!(y > x && x > 0 && r >= 1 << 40, "{x} {y} {r}");
        assert_eq!(cat.tree_allocation(x).await.unwrap().unwrap().0, "b");
        cat.pool().close().await;
    }
    if let Some(db) = pg {
        crate::api::drop_pg_database(&db);
    }
}
