//! The audit trail's proof against the store (`bewahr::audit::proof`): a
//! clean trail verifies; an entry changed in the catalog, a chain recomputed
//! with its seal rows by someone who can write the catalog, and a trail cut
//! after its last seal are all found through leaf 0 of the batches' trees
//! in the store; a sealed head's evidence record verifies offline.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use bewahr::audit::proof::{verify_trail, Failure, TrailReport};
use bewahr::audit::{chain_hash, Entry};
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};
use sqlx::Row;

use crate::api::{archive, get, js, post, send, Db, TestArchive};
use crate::support::*;

/// An archive with `n` batches sealed one after the other (each seals the
/// audit head of its moment as leaf 0), and the audit queue settled.
async fn sealed(db: Db, n: usize) -> Option<TestArchive> {
    let a = archive(db).await?;
    for i in 0..n {
        let (st, _, b) = send(
            &a.router,
            post(
                "/v1/objects",
                "text/plain",
                format!("Aktenvermerk {i}").into_bytes(),
            ),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
        let aoid = js(&b)["aoid"].as_str().unwrap().to_string();
        let (st, _, _) = send(
            &a.router,
            get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        // the next batch seals a later head than this one
        settle(&a).await;
    }
    Some(a)
}

/// Waits until the audit queue has written what the requests so far queued.
async fn settle(a: &TestArchive) {
    let mut last = -1;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let n = entries(a).await;
        if n == last {
            return;
        }
        last = n;
    }
    panic!("the audit trail did not settle");
}

async fn entries(a: &TestArchive) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM audit")
        .fetch_one(a.state().catalog.pool())
        .await
        .unwrap()
        .get(0)
}

/// The seal rows: (batch, audit seq), by batch.
async fn seal_rows(a: &TestArchive) -> Vec<(i64, i64)> {
    sqlx::query("SELECT batch_id, audit_seq FROM audit_seals ORDER BY batch_id")
        .fetch_all(a.state().catalog.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn check(a: &TestArchive) -> TrailReport {
    verify_trail(
        &a.state().catalog,
        &a.state().ingest.store,
        &a.state().stamper.trust_anchors(),
    )
    .await
    .unwrap()
}

async fn clean_archive_verifies(db: Db) {
    let Some(a) = sealed(db, 3).await else {
        return;
    };
    let seals = seal_rows(&a).await;
    assert!(seals.len() >= 3, "{seals:?}");
    let r = check(&a).await;
    assert!(r.intact(), "{:#?}", r);
    assert!(r.catalog_check.is_some());
    assert_eq!(r.seals.len(), seals.len(), "{:#?}", r.seals);
    assert_eq!(r.sealed_heads, seals.len() as i64);
    for (s, (batch, seq)) in r.seals.iter().zip(&seals) {
        assert_eq!(s.batch, *batch);
        assert_eq!(
            s.seq,
            Some(*seq),
            "leaf 0 in the store is the head of the row's entry"
        );
        assert_eq!(s.token_from, "store");
        assert_eq!(s.tsa_trusted, Some(true));
        assert!(s.gen_time.is_some());
    }
    // the sealed heads ascend with the batches
    assert!(seals.windows(2).all(|w| w[0].1 <= w[1].1), "{seals:?}");
    assert_eq!(r.entries, entries(&a).await);
    assert_eq!(r.last_sealed_seq, seals.last().map(|s| s.1));
    // the requests after the last seal are not protected yet, and it says so
    assert_eq!(r.unprotected_entries, r.entries - seals.last().unwrap().1);
    assert!(r.unprotected_entries > 0);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with(&format!("{} entries after", r.unprotected_entries))),
        "{:?}",
        r.warnings
    );
    // without trusted certificates the signatures are still checked, the trust is reported as unchecked
    let r = verify_trail(&a.state().catalog, &a.state().ingest.store, &[])
        .await
        .unwrap();
    assert!(r.intact(), "{:#?}", r.failures);
    assert!(r.seals.iter().all(|s| s.tsa_trusted.is_none()));
    assert!(r.warnings.iter().any(|w| w.contains("trust was not")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_trail_verifies_against_the_store_sqlite() {
    clean_archive_verifies(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_trail_verifies_against_the_store_postgres() {
    clean_archive_verifies(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_changed_in_the_catalog_is_found() {
    let Some(a) = sealed(Db::Sqlite, 3).await else {
        return;
    };
    let seals = seal_rows(&a).await;
    let k = seals.last().unwrap().1;
    assert!(k >= 1, "{seals:?}");
    sqlx::query("UPDATE audit SET result = '403' WHERE seq = $1")
        .bind(k)
        .execute(a.state().catalog.pool())
        .await
        .unwrap();
    let r = check(&a).await;
    assert!(!r.intact());
    assert!(r.catalog_check.is_none());
    assert!(
        matches!(&r.failures[0], Failure::Chain { seq, .. } if *seq == k),
        "{:#?}",
        r.failures
    );
    // the heads sealed from entry k on are no heads of the trail the entries now give; those before still are
    for (batch, seq) in &seals {
        let unknown = r
            .failures
            .iter()
            .any(|f| matches!(f, Failure::UnknownHead { batch: b, .. } if b == batch));
        assert_eq!(unknown, *seq >= k, "batch {batch}: {:#?}", r.failures);
    }
    assert!(r.seals.iter().any(|s| s.seq.is_some() && s.seq < Some(k)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_recomputed_with_its_seal_rows_is_found_through_the_store() {
    let Some(a) = sealed(Db::Sqlite, 3).await else {
        return;
    };
    let seals = seal_rows(&a).await;
    let pool = a.state().catalog.pool();
    let k = seals.last().unwrap().1;
    assert!(k >= 1, "{seals:?}");
    // an attacker with the catalog: change entry k, recompute every hash, rewrite the seal rows
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE audit SET detail = 'nothing happened' WHERE seq = $1")
        .bind(k)
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT seq, at, actor, tenant, action, aoid, result, detail FROM audit ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let mut prev = [0u8; 32];
    let mut heads = std::collections::HashMap::from([(0i64, prev)]);
    for r in &rows {
        let seq: i64 = r.get(0);
        let e = Entry {
            at_ms: r.get(1),
            actor: r.get(2),
            tenant: r.get(3),
            action: r.get(4),
            aoid: r.get(5),
            result: r.get(6),
            detail: r.get(7),
        };
        prev = chain_hash(&prev, seq, &e);
        heads.insert(seq, prev);
        sqlx::query("UPDATE audit SET hash = $1 WHERE seq = $2")
            .bind(prev.to_vec())
            .bind(seq)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for (batch, seq) in &seals {
        sqlx::query("UPDATE audit_seals SET head = $1 WHERE batch_id = $2")
            .bind(heads[seq].to_vec())
            .bind(batch)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // the catalog alone is fooled
    let catalog_only = bewahr::audit::verify_chain(&a.state().catalog)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(catalog_only.sealed_heads, seals.len() as i64);
    // the store is not
    let r = check(&a).await;
    assert!(!r.intact());
    assert!(r.catalog_check.is_some());
    for (batch, seq) in &seals {
        let f = r
            .failures
            .iter()
            .find(|f| matches!(f, Failure::UnknownHead { batch: b, .. } if b == batch));
        let Some(f) = f else {
            assert!(*seq < k, "batch {batch}: {:#?}", r.failures);
            continue;
        };
        assert!(*seq >= k, "batch {batch}: {f}");
        let msg = f.to_string();
        assert!(msg.contains(&format!("names entry {seq}")), "{msg}");
        assert!(msg.contains("recomputed"), "{msg}");
    }
    assert!(r.failures.iter().any(
        |f| matches!(f, Failure::UnknownHead { batch, .. } if *batch == seals.last().unwrap().0)
    ));
    // the time-stamps themselves are fine: it is the trail that changed
    assert!(r
        .failures
        .iter()
        .all(|f| matches!(f, Failure::UnknownHead { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trail_cut_after_its_last_seal_is_found() {
    let Some(a) = sealed(Db::Sqlite, 3).await else {
        return;
    };
    let seals = seal_rows(&a).await;
    let (last_batch, last_seq) = *seals.last().unwrap();
    let (_, keep) = seals[seals.len() - 2];
    assert!(keep < last_seq, "{seals:?}");
    let pool = a.state().catalog.pool();
    // remove every entry after the second last seal, the last seal row and its batch row
    let mut tx = pool.begin().await.unwrap();
    for q in [
        "DELETE FROM audit WHERE seq > $1",
        "DELETE FROM audit_seals WHERE audit_seq > $1",
    ] {
        sqlx::query(q).bind(keep).execute(&mut *tx).await.unwrap();
    }
    sqlx::query("DELETE FROM batches WHERE id = $1")
        .bind(last_batch)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let cut: i64 = sqlx::query("SELECT MAX(seq) FROM audit")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(cut, keep, "nothing was appended meanwhile");

    // the catalog alone sees an intact trail, ending at a seal
    let catalog_only = bewahr::audit::verify_chain(&a.state().catalog)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(catalog_only.last_sealed_seq, Some(keep));

    let r = check(&a).await;
    assert!(!r.intact());
    assert!(
        r.failures.iter().any(|f| matches!(
            f,
            Failure::UnknownHead { batch, entries, .. } if *batch == last_batch && *entries == keep
        )),
        "{:#?}",
        r.failures
    );
    assert!(
        r.failures
            .iter()
            .any(|f| matches!(f, Failure::BatchRow { batch, .. } if *batch == last_batch)),
        "{:#?}",
        r.failures
    );
    // its time-stamp came from the store and still covers the tree
    let last = r.seals.iter().find(|s| s.batch == last_batch).unwrap();
    assert_eq!(last.token_from, "store");
    assert_eq!(last.seq, None);
    assert_eq!(last.tsa_trusted, Some(true));
    assert!(!r
        .failures
        .iter()
        .any(|f| matches!(f, Failure::Imprint { .. } | Failure::Token { .. })));

    // the command line finds it too, beside the running server (the store opened read-only)
    let o = run(bewahr()
        .args(["audit", "verify", "--data-dir"])
        .arg(a._dir.path()));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}{err}", stdout(&o));
    assert!(
        err.contains(&format!(
            "batch {last_batch}: leaf 0 of its tree in the store is no head"
        )),
        "{err}"
    );
}

fn as_auditor(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_heads_evidence_record_verifies_offline() {
    let Some(a) = sealed(Db::Sqlite, 2).await else {
        return;
    };
    let (st, _, b) = send(&a.router, get("/v1/audit/seals")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let list = js(&b);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), seal_rows(&a).await.len());
    let seal = &list[list.len() - 1];
    let seq = seal["seq"].as_i64().unwrap();

    let (st, _, head) = send(&a.router, get(&format!("/v1/audit/seals/{seq}/head"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(head.len(), 32);
    assert_eq!(hex::encode(&head), seal["head"].as_str().unwrap());
    let (st, h, er) = send(&a.router, get(&format!("/v1/audit/seals/{seq}/evidence"))).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&er));
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");

    let policy = AlgorithmPolicy::default();
    let trusted = a.state().stamper.trust_anchors();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    let r = verify::verify_der(&er, &mut InMemory(vec![head.clone()]), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    let mut altered = head.clone();
    altered[31] ^= 1;
    let r = verify::verify_der(&er, &mut InMemory(vec![altered]), &opts);
    assert_eq!(r.indication, Indication::Failed, "{}", r.to_text());
    // the head is the entry's chain hash in the catalog
    let stored: Vec<u8> = sqlx::query("SELECT hash FROM audit WHERE seq = $1")
        .bind(seq)
        .fetch_one(a.state().catalog.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, head);

    // offline, with the command line and the TSA's certificates
    let dir = tempdir();
    let (st, _, pem) = send(&a.router, get("/v1/tsa/certificates")).await;
    assert_eq!(st, StatusCode::OK);
    for (name, bytes) in [("head.ers", &er), ("head.bin", &head), ("tsa.pem", &pem)] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let o = run(bewahr()
        .arg("verify")
        .arg("--er")
        .arg(dir.path().join("head.ers"))
        .arg("--data")
        .arg(dir.path().join("head.bin"))
        .arg("--tsa-cert")
        .arg(dir.path().join("tsa.pem")));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );

    // tenants' auditors get heads (a hash, nothing of the entries); submitters do not
    let (st, _, _) = send(
        &a.raw,
        as_auditor(
            &format!("/v1/audit/seals/{seq}/evidence"),
            &a.tokens["t2-auditor"],
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = send(
        &a.raw,
        as_auditor("/v1/audit/seals", &a.tokens["submitter"]),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = send(&a.router, get("/v1/audit/seals/999999/evidence")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = send(&a.router, get("/v1/audit/seals/x/head")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_heads_record_follows_time_stamp_renewal() {
    let Some(a) = sealed(Db::Sqlite, 2).await else {
        return;
    };
    let (st, _, b) = send(
        &a.router,
        post(
            "/v1/admin/renewals",
            "application/json",
            r#"{"kind": "timestamp"}"#.to_string(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&b));
    let id = js(&b)["id"].as_i64().unwrap();
    let done = a
        .state()
        .renewer
        .wait(id, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state, "done", "{done:?}");
    settle(&a).await;

    let seq = seal_rows(&a).await[0].1;
    let (_, _, head) = send(&a.router, get(&format!("/v1/audit/seals/{seq}/head"))).await;
    let (st, _, er) = send(&a.router, get(&format!("/v1/audit/seals/{seq}/evidence"))).await;
    assert_eq!(st, StatusCode::OK);
    let rec = bewahr::ers::EvidenceRecord::from_der_checked(&er).unwrap();
    assert_eq!(rec.archive_time_stamp_sequence.len(), 1);
    assert_eq!(
        rec.archive_time_stamp_sequence[0].len(),
        2,
        "the batch's time-stamp and its renewal"
    );
    let policy = AlgorithmPolicy::default();
    let trusted = a.state().stamper.trust_anchors();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    let r = verify::verify_der(&er, &mut InMemory(vec![head]), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());

    // the renewal trees are in the store beside the batches; the trail is still intact
    let r = check(&a).await;
    assert!(r.intact(), "{:#?}", r.failures);
    assert!(r.trees_in_store > r.seals.len(), "{r:#?}");
}
