//! Renewal over the years, in seconds: the archive runs on a clock of the
//! test's; TSAs with short-lived certificates are swapped in as an operator
//! would; the algorithm catalogue retires SHA-256. The years: development
//! TSA A seals; time-stamp renewal with TSA B when A's certificate nears
//! its end; hash-tree renewal to SHA-512 when SHA-256 nears its end;
//! time-stamp renewal with a real TSA (`openssl ts`, RSA-3072); hash-tree
//! renewal to SHA3-512 with it. After every step every
//! evidence record verifies (bewahr's verifier; at the end also
//! `bewahr verify` and Bouncy Castle 1.72). Interrupted renewals (fault
//! injection at each step, a TSA outage) leave every record as valid as
//! before and are redone exactly once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bewahr::catalog::{NotRenewedReason, RunView};
use bewahr::renewal::{Ctx, RunError, Settings};
use bewahr::seal::{Clock, Stamper, TsaSource};
use bewahr::tsp::client::{TsaClient, TsaEndpoint};
use bewahr::tsp::devtsa::DevTsa;
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options, Report};
use der::EncodePem;
use serde_json::Value;
use time::{Duration as Days, OffsetDateTime};

use crate::api::{archive_at, get, post, send, Db, TestArchive};
use crate::support::*;

/// A clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn at(t: OffsetDateTime) -> Self {
        TestClock(Arc::new(AtomicI64::new(t.unix_timestamp())))
    }
    fn set(&self, t: OffsetDateTime) {
        self.0.store(t.unix_timestamp(), Ordering::SeqCst);
    }
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0.load(Ordering::SeqCst)).unwrap()
    }
    fn clock(&self) -> Clock {
        let c = self.0.clone();
        Arc::new(move || OffsetDateTime::from_unix_timestamp(c.load(Ordering::SeqCst)).unwrap())
    }
}

/// A catalogue that retires SHA-256 at `sha256_until` and rates the test TSAs' keys open-ended.
fn catalogue(sha256_until: &str) -> String {
    catalogue_retiring("sha256", sha256_until)
}

/// A catalogue in which `retired` ends at `until` and every other hash the
/// tests use stays suitable.
fn catalogue_retiring(retired: &str, until: &str) -> String {
    let mut s = "[catalogue]\nname = \"renewal test\"\nversion = \"1\"\n".to_string();
    for h in ["sha256", "sha384", "sha512", "sha3-384", "sha3-512"] {
        let u = if h == retired { until } else { "open" };
        s.push_str(&format!(
            "[[hash]]\nname = \"{h}\"\nuntil = \"{u}\"\nsource = \"test\"\n"
        ));
    }
    s.push_str(
        "[[signature]]\nalgorithm = \"rsa\"\nmin_bits = 3000\nuntil = \"open\"\nsource = \"test\"\n\
         [[signature]]\nalgorithm = \"ecdsa\"\nmin_bits = 256\nuntil = \"open\"\nsource = \"test\"\n",
    );
    s
}

fn dev_tsa(from: OffsetDateTime, days: i64) -> DevTsa {
    DevTsa::generate_valid_for(from, Days::days(days))
        .unwrap()
        .0
}

async fn submit(a: &TestArchive, doc: &[u8]) -> String {
    let (st, _, body) = send(
        &a.router,
        post("/v1/objects?title=renewal", "text/plain", doc.to_vec()),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice::<Value>(&body).unwrap()["aoid"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn record(a: &TestArchive, aoid: &str) -> Vec<u8> {
    let (st, _, er) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&er));
    er
}

/// Every record verifies with its document at `at`; returns (chains, archive time-stamps) of each.
async fn check_all(
    a: &TestArchive,
    docs: &[(String, Vec<u8>)],
    policy: &AlgorithmPolicy,
    at: OffsetDateTime,
) -> Vec<(usize, usize)> {
    let trusted = a.state().renewer.ctx().trusted();
    let mut out = Vec::new();
    for (aoid, doc) in docs {
        let er = record(a, aoid).await;
        let opts = Options::new(&trusted, at, policy);
        let r: Report = verify::verify_der(&er, &mut InMemory(vec![doc.clone()]), &opts);
        assert_eq!(
            r.indication,
            Indication::Passed,
            "{aoid}: {}\n{}",
            r.summary,
            r.to_text()
        );
        out.push((r.chains, r.archive_time_stamps.len()));
    }
    out
}

/// The renewer's trust anchors as a PEM file in `dir`, for `bewahr verify --tsa-cert`.
fn anchors_file(a: &TestArchive, dir: &std::path::Path) -> std::path::PathBuf {
    let pem: String = a
        .state()
        .renewer
        .ctx()
        .trusted()
        .iter()
        .map(|c| c.to_pem(der::pem::LineEnding::LF).unwrap())
        .collect();
    let path = dir.join("anchors.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

/// A version's record in its XML form (RFC 6283) is valid against the
/// schema and verifies over the document at `at`, as its DER form does;
/// returns both reports (XML, DER).
async fn check_xml_form(
    a: &TestArchive,
    aoid: &str,
    doc: &[u8],
    policy: &AlgorithmPolicy,
    at: OffsetDateTime,
) -> (Report, Report) {
    use bewahr::signature::xml_engine::ers;
    let (st, _, xml) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?format=rfc6283")),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&xml));
    let parsed = bewahr_xaip::xml::parse(&xml).unwrap();
    bewahr_xaip::schema::validate_against(&parsed, bewahr_xaip::schema::Schema::Ers)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&xml)));
    let trusted = a.state().renewer.ctx().trusted();
    let opts = Options::new(&trusted, at, policy);
    let x = ers::verify_xml(&xml, Some(&[doc.to_vec()]), &mut verify::NoData, &opts);
    assert_eq!(x.indication, Indication::Passed, "{aoid}: {}", x.to_text());
    // another document fails
    let other = [b"not the document".to_vec()];
    let f = ers::verify_xml(&xml, Some(&other), &mut verify::NoData, &opts);
    assert_eq!(f.indication, Indication::Failed, "{}", f.to_text());
    let der = record(a, aoid).await;
    let d = verify::verify_der(&der, &mut InMemory(vec![doc.to_vec()]), &opts);
    assert_eq!(d.indication, Indication::Passed, "{aoid}: {}", d.to_text());
    (x, d)
}

async fn json(a: &TestArchive, uri: &str) -> Value {
    let (st, _, body) = send(&a.router, get(uri)).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "{uri}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

async fn post_json(a: &TestArchive, uri: &str, body: &str) -> (StatusCode, Value) {
    let (st, _, b) = send(&a.router, post(uri, "application/json", body.to_string())).await;
    (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// Waits for the scheduler to finish a run of `kind` after `after` (run id).
async fn wait_run(a: &TestArchive, kind: &str, after: i64) -> Value {
    for _ in 0..500 {
        let runs = json(a, "/v1/admin/renewals").await;
        if let Some(r) = runs["runs"].as_array().unwrap().iter().find(|r| {
            r["kind"] == kind
                && r["id"].as_i64().unwrap() > after
                && (r["state"] == "done" || r["state"] == "failed")
        }) {
            return r.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no {kind} run ended: {}",
        json(a, "/v1/admin/renewals").await
    );
}

async fn years_of_renewals(db: Db) {
    let real_now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let t0 = real_now - Days::days(400);
    let clock = TestClock::at(t0);
    let dir = tempdir();
    let cat = dir.path().join("algorithms.toml");
    // the trees' hash (SHA-384) ends at day 300; SHA-256, which the TSAs'
    // signatures use, stays suitable (the catalogue rates those too)
    let tree_hash_end = (t0 + Days::days(300)).date();
    let text = catalogue_retiring("sha384", &tree_hash_end.to_string());
    std::fs::write(&cat, &text).unwrap();
    let policy = AlgorithmPolicy::from_toml(&text).unwrap();
    let cat_path = cat.display().to_string();
    let Some(a) = archive_at(
        db,
        |c| {
            c.renewal.algorithms = cat_path;
            c.renewal.retry_min_ms = 10;
            c.batch.digest_algorithm = "sha384".into();
        },
        Some(Stamper::dev(dev_tsa(t0, 200))), // TSA A: its certificate ends at t0 + 200 days
        clock.clock(),
    )
    .await
    else {
        return;
    };

    // year 0: documents in two batches, and a second version
    let mut docs = Vec::new();
    for i in 0..12 {
        let doc = format!("Bescheid {i}: ").repeat(i + 1).into_bytes();
        let aoid = submit(&a, &doc).await;
        docs.push((aoid, doc));
        if i == 5 {
            record(&a, &docs[0].0).await; // the first batch is sealed
        }
    }
    let v2 = b"Bescheid 0, amended".to_vec();
    let (st, _, _) = send(
        &a.router,
        post(
            &format!("/v1/objects/{}/versions", docs[0].0),
            "text/plain",
            v2.clone(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    docs[0].1 = v2; // the latest version is what evidence?version= defaults to
    let c = check_all(&a, &docs, &policy, clock.now()).await;
    assert!(c.iter().all(|&x| x == (1, 1)), "{c:?}");

    let plan = json(&a, "/v1/admin/renewals/plan").await;
    let kinds: Vec<(&str, &str)> = plan["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![("timestamp", "scheduled"), ("hashtree", "scheduled")],
        "{plan}"
    );
    assert_eq!(plan["chains"], 13, "{plan}");

    // day 120: A's certificate ends within the 90-day margin; the operator
    // configured TSA B; the scheduler renews the time-stamps by itself
    clock.set(t0 + Days::days(120));
    a.state().stamper.replace(TsaSource::Dev(Arc::new(dev_tsa(
        t0 + Days::days(120),
        1000,
    ))));
    let plan = json(&a, "/v1/admin/renewals/plan").await;
    assert_eq!(plan["entries"][0]["state"], "due", "{plan}");
    a.state().renewer.check_now();
    let run = wait_run(&a, "timestamp", 0).await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["requested_by"], "scheduler");
    assert_eq!(run["chains"], 13, "{run}");
    // the progress figure the command line's bar and the dashboard show
    assert_eq!(run["chains_total"], 13, "{run}");
    assert_eq!(run["trees_written"], 1, "{run}");
    assert_eq!(run["tsa_requests"], 1, "{run}");
    assert_eq!(run["errors"], serde_json::json!([]), "{run}");
    let ts_run = run["id"].as_i64().unwrap();
    let c = check_all(&a, &docs, &policy, clock.now()).await;
    assert!(c.iter().all(|&x| x == (1, 2)), "{c:?}");
    // the renewed records in their XML form too (the renewal was bridged):
    // schema-valid, and proving the same with the same time-stamps
    for (aoid, doc) in &docs {
        let (x, d) = check_xml_form(&a, aoid, doc, &policy, clock.now()).await;
        assert_eq!((x.chains, x.archive_time_stamps.len()), (1, 2));
        let serials = |r: &Report| -> Vec<Option<String>> {
            r.archive_time_stamps
                .iter()
                .map(|s| s.serial_number.clone())
                .collect()
        };
        assert_eq!(serials(&x), serials(&d));
    }
    // and on the command line (the XML told by its content)
    {
        let out = tempdir();
        let anchors = anchors_file(&a, out.path());
        let (aoid, doc) = &docs[3];
        let (_, _, xml) = send(
            &a.router,
            get(&format!("/v1/objects/{aoid}/evidence?format=rfc6283")),
        )
        .await;
        for (name, bytes) in [("er.xml", xml.as_slice()), ("doc.bin", doc)] {
            std::fs::write(out.path().join(name), bytes).unwrap();
        }
        let at = clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let o = crate::support::run(
            bewahr()
                .args(["verify", "--json", "--er"])
                .arg(out.path().join("er.xml"))
                .arg("--data")
                .arg(out.path().join("doc.bin"))
                .arg("--tsa-cert")
                .arg(&anchors)
                .arg("--algorithms")
                .arg(&cat)
                .args(["--at", &at]),
        );
        let j = crate::support::json(&o);
        assert_eq!(j["indication"], "PASSED", "{j}");
        assert_eq!(j["chains"], 1, "{j}");
    }

    // day 220: SHA-384 ends at day 300 (catalogue), within the margin: hash-tree renewal to SHA-512
    clock.set(t0 + Days::days(220));
    a.state().renewer.check_now();
    let hrun = wait_run(&a, "hashtree", ts_run).await;
    assert_eq!(hrun["state"], "done", "{hrun}");
    assert_eq!(hrun["digest_algorithm"], "sha512");
    assert_eq!(hrun["chains"], 13, "{hrun}");
    assert_eq!(hrun["chains_total"], 13, "{hrun}");
    let bytes: usize =
        docs.iter().map(|d| d.1.len()).sum::<usize>() + format!("Bescheid {}: ", 0).len(); // version 1 of the first object is rehashed too
    assert_eq!(
        hrun["bytes_read"].as_u64().unwrap() as usize,
        bytes,
        "{hrun}"
    );
    let c = check_all(&a, &docs, &policy, clock.now()).await;
    assert!(c.iter().all(|&x| x == (2, 3)), "{c:?}");
    // the hash-tree renewal was bridged: the records keep their XML form,
    // now with a second chain that covers the canonical XML of the first
    for (aoid, doc) in &docs {
        let (x, _) = check_xml_form(&a, aoid, doc, &policy, clock.now()).await;
        assert_eq!((x.chains, x.archive_time_stamps.len()), (2, 3));
    }
    let plan = json(&a, "/v1/admin/renewals/plan").await;
    assert!(
        plan["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "scheduled"),
        "{plan}"
    );

    // today: an admin renews the time-stamps with a real TSA (openssl ts, RSA-3072)
    clock.set(OffsetDateTime::now_utc());
    let mut ep = TsaEndpoint::new("openssl", &crate::openssl::serve(false).await);
    ep.trusted = crate::openssl::ca();
    a.state()
        .stamper
        .replace(TsaSource::Remote(TsaClient::new(vec![ep]).unwrap()));
    let (st, body) = post_json(&a, "/v1/admin/renewals", r#"{"kind": "timestamp"}"#).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let done: RunView = a
        .state()
        .renewer
        .wait(id, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state, "done", "{done:?}");
    assert!(done.requested_by.starts_with("operator token "), "{done:?}");
    let run_json = json(&a, &format!("/v1/admin/renewals/{id}")).await;
    assert_eq!(run_json["chains"], 13, "{run_json}");
    let at = OffsetDateTime::now_utc() + Days::minutes(1);
    let c = check_all(&a, &docs, &policy, at).await;
    assert!(c.iter().all(|&x| x == (2, 4)), "{c:?}");

    // and a second hash-tree renewal, to SHA3-512, with the same real TSA
    let (st, body) = post_json(
        &a,
        "/v1/admin/renewals",
        r#"{"kind": "hashtree", "digest_algorithm": "sha3-512"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let done = a
        .state()
        .renewer
        .wait(id, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state, "done", "{done:?}");
    assert_eq!(done.chains, 13, "{done:?}");
    let at = OffsetDateTime::now_utc() + Days::minutes(1);
    let c = check_all(&a, &docs, &policy, at).await;
    assert!(c.iter().all(|&x| x == (3, 5)), "{c:?}");

    // the same records on the command line, and with Bouncy Castle
    let out = tempdir();
    let anchors_path = anchors_file(&a, out.path());
    for (i, (aoid, doc)) in docs.iter().enumerate() {
        let er = record(&a, aoid).await;
        let erp = out.path().join(format!("{i}.ers"));
        let dp = out.path().join(format!("{i}.bin"));
        std::fs::write(&erp, &er).unwrap();
        std::fs::write(&dp, doc).unwrap();
        if i < 3 {
            // three chains, two of them bridged hash-tree renewals, in XML too
            let (x, _) = check_xml_form(&a, aoid, doc, &policy, at).await;
            assert_eq!((x.chains, x.archive_time_stamps.len()), (3, 5));
            let (_, _, xml) = send(
                &a.router,
                get(&format!("/v1/objects/{aoid}/evidence?format=rfc6283")),
            )
            .await;
            let xp = out.path().join(format!("{i}.xml"));
            std::fs::write(&xp, xml).unwrap();
            // both forms on the command line
            for er in [&erp, &xp] {
                let o = crate::support::run(
                    bewahr()
                        .args(["verify", "--json", "--er"])
                        .arg(er)
                        .arg("--data")
                        .arg(&dp)
                        .arg("--tsa-cert")
                        .arg(&anchors_path)
                        .arg("--algorithms")
                        .arg(&cat),
                );
                let j = crate::support::json(&o);
                assert_eq!(j["indication"], "PASSED", "{}: {j}", er.display());
                assert_eq!(j["chains"], 3, "{j}");
            }
        }
        crate::bouncycastle::validate_with_bc(&erp, &dp);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn years_of_renewals_keep_every_record_valid_sqlite() {
    years_of_renewals(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn years_of_renewals_keep_every_record_valid_postgres() {
    years_of_renewals(Db::Postgres).await;
}

/// An archive on `clock` whose own scheduler stays out of the way (manual
/// only, paused): the tests drive renewal through their own [`Ctx`].
async fn paused_archive(clock: &TestClock, stamper: Stamper) -> Option<TestArchive> {
    let a = archive_at(
        Db::Sqlite,
        |c| c.renewal.automatic = false,
        Some(stamper),
        clock.clock(),
    )
    .await?;
    a.state().renewer.pause().await.unwrap();
    Some(a)
}

/// A renewal context beside the archive's (whose scheduler is paused),
/// trusting what the archive trusts (as `renewal.trusted_certs` would).
fn ctx(a: &TestArchive, clock: &TestClock, stamper: Stamper, settings: Settings) -> Ctx {
    let s = a.state();
    Ctx::new(
        s.catalog.clone(),
        s.ingest.store.clone(),
        s.evidence.clone(),
        stamper,
        clock.clock(),
        s.renewer.ctx().trusted(),
        s.renewer.ctx().policy(),
        settings,
    )
}

async fn queue(a: &TestArchive, kind: &str, alg: Option<&str>, now: OffsetDateTime) -> RunView {
    let id = a
        .state()
        .catalog
        .queue_run(
            kind,
            alg,
            "all",
            "test",
            "fault injection",
            now.unix_timestamp() * 1000,
        )
        .await
        .unwrap();
    a.state().catalog.run(id).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_renewal_leaves_every_record_valid_and_is_redone_once() {
    let clock = TestClock::at(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap());
    let stamper = Stamper::dev(dev_tsa(clock.now() - Days::days(1), 3650));
    let Some(a) = paused_archive(&clock, stamper.clone()).await else {
        return;
    };
    let policy = AlgorithmPolicy::default();
    let mut docs = Vec::new();
    for i in 0..6 {
        let doc = format!("Akte {i}").into_bytes();
        docs.push((submit(&a, &doc).await, doc));
    }
    let mut expect = check_all(&a, &docs, &policy, clock.now()).await[0];
    assert_eq!(expect, (1, 1));
    let steps: [(&str, &str, Option<&str>); 8] = [
        ("timestamp:verified", "timestamp", None),
        ("timestamp:stamped", "timestamp", None),
        ("timestamp:stored", "timestamp", None),
        ("timestamp:committed", "timestamp", None),
        ("hashtree:hashed", "hashtree", Some("sha512")),
        ("hashtree:stamped", "hashtree", Some("sha384")),
        ("hashtree:stored", "hashtree", Some("sha3-512")),
        ("hashtree:committed", "hashtree", Some("sha3-384")),
    ];
    for (step, kind, alg) in steps {
        clock.set(clock.now() + Days::days(1));
        let run = queue(&a, kind, alg, clock.now()).await;
        let faulty = ctx(&a, &clock, stamper.clone(), Settings::default())
            .with_fault(Arc::new(move |s| s == step));
        match faulty.execute(&run).await {
            Err(RunError::Fault(s)) => assert_eq!(s, step),
            other => panic!("{step}: expected the injected fault, got {other:?}"),
        }
        // as valid as before; complete where the step was after the commit
        let renewed = |e: (usize, usize)| match kind {
            "timestamp" => (e.0, e.1 + 1),
            _ => (e.0 + 1, e.1 + 1),
        };
        let now = check_all(&a, &docs, &policy, clock.now()).await;
        let after_commit = step.ends_with(":committed");
        let want = if after_commit {
            renewed(expect)
        } else {
            expect
        };
        assert!(
            now.iter().all(|&x| x == want),
            "{step}: {now:?}, want {want:?}"
        );
        assert_eq!(
            a.state().catalog.run(run.id).await.unwrap().unwrap().state,
            "running",
            "{step}: an interrupted run stays running until the next start"
        );
        // the next start queues it again and redoes it: exactly one renewal in all
        assert_eq!(
            a.state()
                .catalog
                .requeue_interrupted_runs(None)
                .await
                .unwrap(),
            1
        );
        let run = a.state().catalog.run(run.id).await.unwrap().unwrap();
        let done = ctx(&a, &clock, stamper.clone(), Settings::default())
            .execute(&run)
            .await
            .unwrap();
        assert_eq!(done.state, "done", "{step}: {done:?}");
        assert_eq!(done.attempts, 2, "{step}: {done:?}");
        expect = renewed(expect);
        let now = check_all(&a, &docs, &policy, clock.now()).await;
        assert!(
            now.iter().all(|&x| x == expect),
            "{step}: {now:?}, want {expect:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tsa_outage_fails_the_run_and_changes_nothing() {
    let clock = TestClock::at(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap());
    let good = Stamper::dev(dev_tsa(clock.now() - Days::days(1), 3650));
    let Some(a) = paused_archive(&clock, good.clone()).await else {
        return;
    };
    let policy = AlgorithmPolicy::default();
    let docs = vec![(submit(&a, b"Akte").await, b"Akte".to_vec())];
    check_all(&a, &docs, &policy, clock.now()).await;
    let mut dead = TsaEndpoint::new("down", format!("http://127.0.0.1:{}/", free_port()));
    dead.timeout = Duration::from_millis(300);
    dead.retries = 0;
    let down = Stamper::remote(TsaClient::new(vec![dead]).unwrap());
    let settings = Settings {
        max_attempts: 3,
        retry_min: Duration::from_millis(10),
        ..Settings::default()
    };
    for (kind, alg) in [("timestamp", None), ("hashtree", Some("sha512"))] {
        let run = queue(&a, kind, alg, clock.now()).await;
        let r = ctx(&a, &clock, down.clone(), settings.clone())
            .execute(&run)
            .await
            .unwrap();
        assert_eq!(r.state, "failed", "{r:?}");
        assert_eq!(r.tsa_requests, 3, "{r:?}");
        assert!(
            r.errors
                .iter()
                .any(|e| e.contains("no time-stamp after 3 attempt(s)")),
            "{r:?}"
        );
        let c = check_all(&a, &docs, &policy, clock.now()).await;
        assert_eq!(c, vec![(1, 1)], "{kind}: nothing changed");
    }
    // the TSA is back: the next run renews
    let run = queue(&a, "timestamp", None, clock.now()).await;
    let r = ctx(&a, &clock, good, settings).execute(&run).await.unwrap();
    assert_eq!(r.state, "done", "{r:?}");
    assert_eq!(
        check_all(&a, &docs, &policy, clock.now()).await,
        vec![(1, 2)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn time_stamps_that_no_longer_verify_are_reported_not_renewed() {
    // A's certificate ended before the renewal: too late to extend the chain
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - Days::days(100);
    let clock = TestClock::at(t0);
    let Some(a) = paused_archive(&clock, Stamper::dev(dev_tsa(t0, 30))).await else {
        return;
    };
    let docs = vec![(submit(&a, b"late").await, b"late".to_vec())];
    check_all(&a, &docs, &AlgorithmPolicy::default(), clock.now()).await;
    clock.set(t0 + Days::days(40));
    let plan = a.state().renewer.plan().await.unwrap();
    assert_eq!(plan.entries[0].state, "overdue", "{plan:?}");
    let b = Stamper::dev(dev_tsa(t0 + Days::days(40), 1000));
    let run = queue(&a, "timestamp", None, clock.now()).await;
    let r = ctx(&a, &clock, b, Settings::default())
        .execute(&run)
        .await
        .unwrap();
    // not "done": the run says what it could not renew, and why
    assert_eq!(r.state, "incomplete", "{r:?}");
    assert_eq!(r.chains, 0, "{r:?}");
    assert_eq!(r.not_renewed.len(), 1, "{r:?}");
    assert_eq!(
        r.not_renewed[0].reason,
        NotRenewedReason::TimestampNotExtensible,
        "{r:?}"
    );
    assert!(
        r.not_renewed[0]
            .detail
            .contains("can no longer be extended"),
        "{r:?}"
    );
    assert!(r.retry_at.is_some(), "{r:?}");
    // the record is what it was: one time-stamp, whose certificate has ended
    let er = record(&a, &docs[0].0).await;
    let trusted = a.state().renewer.ctx().trusted();
    let rep = verify::verify_der(
        &er,
        &mut InMemory(vec![docs[0].1.clone()]),
        &Options::new(&trusted, clock.now(), &AlgorithmPolicy::default()),
    );
    assert_eq!(rep.archive_time_stamps.len(), 1);
    assert_eq!(
        rep.indication,
        Indication::Indeterminate,
        "{}",
        rep.to_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_requests_and_catalogues_that_cannot_be_used_are_refused() {
    let Some(a) = archive_at(
        Db::Sqlite,
        |c| c.renewal.automatic = false,
        None,
        bewahr::seal::system_clock(),
    )
    .await
    else {
        return;
    };
    for (body, what) in [
        (r#"{"kind": "both"}"#, "unknown renewal kind"),
        (r#"{"kind": "hashtree"}"#, "digest_algorithm"),
        (r#"{"kind": "hashtree", "digest_algorithm": "md5"}"#, "md5"),
        (
            r#"{"kind": "hashtree", "digest_algorithm": "sha1"}"#,
            "not suitable",
        ),
        (r#"{"kind": "timestamp", "scope": "some"}"#, "scope"),
        (r#"{"kind": "timestamp", "when": "now"}"#, "when"),
        ("kind=timestamp", "JSON"),
    ] {
        let (st, b) = post_json(&a, "/v1/admin/renewals", body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {b}");
        let msg = b["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(msg.contains(what), "{body}: {msg}");
    }
    assert!(
        a.state().catalog.runs(10).await.unwrap().is_empty(),
        "nothing queued"
    );
    // one at a time: a second request while the first waits is refused
    let (st, _, b) = send(
        &a.router,
        post("/v1/admin/renewals/scheduler/pause", "application/json", ""),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&b).unwrap()["state"],
        "paused"
    );
    let (st, first) = post_json(&a, "/v1/admin/renewals", r#"{"kind": "timestamp"}"#).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (st, b) = post_json(
        &a,
        "/v1/admin/renewals",
        r#"{"kind": "hashtree", "digest_algorithm": "sha512"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["error"]["code"], "renewal_running");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = first["id"].as_i64().unwrap();
    assert_eq!(
        json(&a, &format!("/v1/admin/renewals/{id}")).await["state"],
        "queued"
    );
    // resumed, it runs (nothing to renew in an empty archive)
    let (st, _) = post_json(&a, "/v1/admin/renewals/scheduler/resume", "").await;
    assert_eq!(st, StatusCode::OK);
    let r = a
        .state()
        .renewer
        .wait(id, Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, "done", "{r:?}");
    for uri in ["/v1/admin/renewals/999999", "/v1/admin/renewals/abc"] {
        let (st, _, _) = send(&a.router, get(uri)).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{uri}");
    }
    // catalogues that cannot be used stop the start, naming the entry
    let dir = tempdir();
    for (text, what) in [
        ("[catalogue]\nname = \"x\"\nversion = \"1\"\n[[hash]]\nname = \"md4\"\nuntil = \"open\"\nsource = \"x\"\n", "hash md4"),
        ("[catalogue]\nname = \"x\"\nversion = \"1\"\n[[hash]]\nname = \"sha256\"\nuntil = \"31.12.2030\"\nsource = \"x\"\n", "31.12.2030"),
        ("[catalogue]\nname = \"x\"\nversion = \"1\"\n[[hash]]\nname = \"sha256\"\nuntil = \"open\"\nsource = \"x\"\n[[hash]]\nname = \"SHA-256\"\nuntil = \"2030-01-01\"\nsource = \"y\"\n", "listed twice"),
        ("[catalogue]\nname = \"x\"\nversion = \"1\"\n[[signature]]\nalgorithm = \"rsa\"\nmin_bits = 3000\nuntil = \"open\"\nsource = \"x\"\n[[signature]]\nalgorithm = \"rsa\"\nmin_bits = 3000\nuntil = \"2030-01-01\"\nsource = \"y\"\n", "listed twice"),
        ("[catalogue]\nname = \"x\"\nversion = \"1\"\n[[signature]]\nalgorithm = \"dsa\"\nmin_bits = 3000\nuntil = \"open\"\nsource = \"x\"\n", "dsa"),
    ] {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text).unwrap();
        let e = bewahr::config::Config::load(
            None,
            [("BEWAHR_RENEWAL__ALGORITHMS".to_string(), p.display().to_string())],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("renewal.algorithms") && e.contains(what), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_replaces_the_algorithm_catalogue_while_the_archive_runs() {
    let Some(a) = archive_at(
        Db::Sqlite,
        |c| c.renewal.automatic = false,
        None,
        bewahr::seal::system_clock(),
    )
    .await
    else {
        return;
    };
    submit(&a, b"Akte").await;
    let aoid = submit(&a, b"Akte 2").await;
    record(&a, &aoid).await;
    let cat = json(&a, "/v1/admin/algorithms").await;
    assert_eq!(cat["name"], "bewahr default catalogue", "{cat}");
    assert_eq!(cat["hash"]["sha256"], Value::Null, "open-ended: {cat}");
    // retire SHA-256 next month: hash-tree renewal is due now
    let next_month = (OffsetDateTime::now_utc() + Days::days(30))
        .date()
        .to_string();
    let (st, _, b) = send(
        &a.router,
        axum::http::Request::put("/v1/admin/algorithms")
            .header("content-type", "application/toml")
            .body(axum::body::Body::from(catalogue(&next_month)))
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let plan = json(&a, "/v1/admin/renewals/plan").await;
    assert!(
        plan["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "hashtree" && e["state"] == "due"),
        "{plan}"
    );
    // a catalogue that cannot be used changes nothing
    let (st, _, b) = send(
        &a.router,
        axum::http::Request::put("/v1/admin/algorithms")
            .body(axum::body::Body::from("[catalogue]\nname = 1\n"))
            .unwrap(),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    assert_eq!(
        json(&a, "/v1/admin/algorithms").await["name"],
        "renewal test"
    );
}

/// Verifies `er` over `data` at `at`: (indication, chains, archive time-stamps).
fn verdict(
    a: &TestArchive,
    er: &[u8],
    data: &[u8],
    policy: &AlgorithmPolicy,
    at: OffsetDateTime,
) -> (Indication, usize, usize) {
    let trusted = a.state().renewer.ctx().trusted();
    let r = verify::verify_der(
        er,
        &mut InMemory(vec![data.to_vec()]),
        &Options::new(&trusted, at, policy),
    );
    (r.indication, r.chains, r.archive_time_stamps.len())
}

/// Polls run `id` until it is in `state`.
async fn wait_state(a: &TestArchive, id: i64, state: &str) -> RunView {
    for _ in 0..1500 {
        let r = a.state().catalog.run(id).await.unwrap().unwrap();
        if r.state == state {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "run {id} never {state}: {:?}",
        a.state().catalog.run(id).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_version_keeps_its_open_chain_and_is_renewed_by_the_retry_sqlite() {
    an_unreadable_version_keeps_its_open_chain(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_version_keeps_its_open_chain_and_is_renewed_by_the_retry_postgres() {
    an_unreadable_version_keeps_its_open_chain(Db::Postgres).await;
}

/// A hash-tree renewal cannot read one version's content: that version
/// keeps its chain open (its record unchanged, still extended by time-stamp
/// renewal), the run ends incomplete naming it, every other version is
/// renewed; once the content is back, the scheduler's retry renews it.
async fn an_unreadable_version_keeps_its_open_chain(db: Db) {
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = TestClock::at(t0);
    let Some(a) = archive_at(
        db,
        |c| {
            c.renewal.automatic = false; // the scheduler only executes and retries
            c.renewal.retry_min_ms = 10;
            c.batch.digest_algorithm = "sha384".into();
        },
        Some(Stamper::dev(dev_tsa(t0 - Days::days(1), 3650))),
        clock.clock(),
    )
    .await
    else {
        return;
    };
    // SHA-384 (the batches' hash) retired ten days from now: only renewed records pass after
    let retired = AlgorithmPolicy::from_toml(&catalogue_retiring(
        "sha384",
        &(t0 + Days::days(10)).date().to_string(),
    ))
    .unwrap();
    let later = t0 + Days::days(20);
    let policy = AlgorithmPolicy::default();
    let docs: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("Akte {i}: ").repeat(i + 1).into_bytes())
        .collect();
    let aoids = futures_util::future::join_all(docs.iter().map(|d| submit(&a, d))).await;
    let docs: Vec<(String, Vec<u8>)> = aoids.into_iter().zip(docs).collect();
    assert!(check_all(&a, &docs, &policy, t0)
        .await
        .iter()
        .all(|&c| c == (1, 1)));
    let cat = &a.state().catalog;
    let store = a.state().ingest.store.clone();
    // the broken version shares its batch with at least one other
    let mut locs = Vec::new();
    for (aoid, _) in &docs {
        locs.push(cat.locate(aoid, None).await.unwrap().unwrap());
    }
    let broken = (0..docs.len())
        .find(|&i| {
            locs.iter()
                .filter(|l| l.batch_id == locs[i].batch_id)
                .count()
                > 1
        })
        .expect("two versions in one batch");
    let (aoid, doc) = docs[broken].clone();
    let batch = locs[broken].batch_id.unwrap();
    let before = record(&a, &aoid).await;
    // a fault through the store's API: the content is gone
    assert!(store.delete_content(&locs[broken].sha256).unwrap());

    let (st, body) = post_json(
        &a,
        "/v1/admin/renewals",
        r#"{"kind": "hashtree", "digest_algorithm": "sha512"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let r = a
        .state()
        .renewer
        .wait(id, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, "incomplete", "{r:?}");
    let view = json(&a, &format!("/v1/admin/renewals/{id}")).await;
    assert_eq!(view["state"], "incomplete", "{view}");
    assert_eq!(view["chains"], 4, "every other version is renewed: {view}");
    let nr = view["not_renewed"].as_array().unwrap();
    assert_eq!(nr.len(), 1, "{view}");
    assert_eq!(nr[0]["aoid"], aoid.as_str(), "{view}");
    assert_eq!(nr[0]["version"], 1, "{view}");
    assert_eq!(nr[0]["seq"], locs[broken].seq, "{view}");
    assert_eq!(nr[0]["tree"], batch, "{view}");
    assert_eq!(nr[0]["reason"], "content_missing", "{view}");
    assert!(view["retry_at"].is_string(), "{view}");
    let why = a.state().renewer.status().last_error.unwrap_or_default();
    assert!(
        why.contains(&format!("run {id} incomplete")) && why.contains("content_missing"),
        "{why}"
    );

    // its record is what it was (its chain not closed) and verifies as before
    assert_eq!(record(&a, &aoid).await, before);
    assert_eq!(
        verdict(&a, &before, &doc, &policy, t0),
        (Indication::Passed, 1, 1)
    );
    // the others moved on to SHA-512 and outlive SHA-384; it does not, yet
    for (i, (o, d)) in docs.iter().enumerate() {
        let v = verdict(&a, &record(&a, o).await, d, &retired, later);
        if i == broken {
            assert_ne!(v.0, Indication::Passed, "{o}: {v:?}");
        } else {
            assert_eq!(v, (Indication::Passed, 2, 2), "{o}");
        }
    }
    // its chain is open: a time-stamp renewal extends it past the batch's chain end
    let (st, body) = post_json(&a, "/v1/admin/renewals", r#"{"kind": "timestamp"}"#).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    let ts = body["id"].as_i64().unwrap();
    let r = a
        .state()
        .renewer
        .wait(ts, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, "done", "{r:?}");
    for (i, (o, d)) in docs.iter().enumerate() {
        let want = if i == broken { (1, 2) } else { (2, 3) };
        let v = verdict(&a, &record(&a, o).await, d, &policy, t0);
        assert_eq!(v, (Indication::Passed, want.0, want.1), "{o}");
    }

    // the content is restored; the scheduler retries the run at its time and completes it
    store.put_content(&doc).unwrap();
    store.sync().unwrap();
    clock.set(t0 + Days::days(1));
    a.state().renewer.check_now();
    let r = wait_state(&a, id, "done").await;
    assert_eq!(r.attempts, 2, "{r:?}");
    assert!(r.not_renewed.is_empty() && r.retry_at.is_none(), "{r:?}");
    assert_eq!(r.chains, 5, "{r:?}");
    for (o, d) in &docs {
        let er = record(&a, o).await;
        assert_eq!(
            verdict(&a, &er, d, &policy, clock.now()),
            (Indication::Passed, 2, 3),
            "{o}"
        );
        assert_eq!(
            verdict(&a, &er, d, &retired, later).0,
            Indication::Passed,
            "{o}"
        );
    }
    // nothing is left open or due twice: a new run finds nothing to rehash
    let run = queue(&a, "hashtree", Some("sha512"), clock.now()).await;
    a.state().renewer.pause().await.unwrap();
    let r = ctx(&a, &clock, a.state().stamper.clone(), Settings::default())
        .execute(&run)
        .await
        .unwrap();
    assert_eq!(
        (r.state, r.chains, r.trees_written),
        (bewahr::catalog::RunState::Done, 0, 0),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sealed_audit_head_outlives_its_hash_algorithm_through_hash_tree_renewal() {
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = TestClock::at(t0);
    let stamper = Stamper::dev(dev_tsa(t0 - Days::days(1), 3650));
    let Some(a) = archive_at(
        Db::Sqlite,
        |c| {
            c.renewal.automatic = false;
            c.batch.digest_algorithm = "sha384".into();
        },
        Some(stamper.clone()),
        clock.clock(),
    )
    .await
    else {
        return;
    };
    a.state().renewer.pause().await.unwrap();
    let retired = AlgorithmPolicy::from_toml(&catalogue_retiring(
        "sha384",
        &(t0 + Days::days(10)).date().to_string(),
    ))
    .unwrap();
    let later = t0 + Days::days(20);
    let policy = AlgorithmPolicy::default();
    let docs = vec![(submit(&a, b"Akte A").await, b"Akte A".to_vec())];
    check_all(&a, &docs, &policy, t0).await;
    let batch = a
        .state()
        .catalog
        .locate(&docs[0].0, None)
        .await
        .unwrap()
        .unwrap()
        .batch_id
        .unwrap();
    let ev = &a.state().evidence;
    let (head, before) = ev.audit_head_record(batch).await.unwrap();
    assert_eq!(
        verdict(&a, &before, &head, &policy, t0),
        (Indication::Passed, 1, 1)
    );
    // SHA-384 retired: the sealed head's original record no longer proves anything
    assert_ne!(
        verdict(&a, &before, &head, &retired, later).0,
        Indication::Passed
    );

    // hash-tree renewal to SHA-512, a time-stamp renewal, and another to SHA3-512
    let mut want = (1, 1);
    for (kind, alg) in [
        ("hashtree", Some("sha512")),
        ("timestamp", None),
        ("hashtree", Some("sha3-512")),
    ] {
        clock.set(clock.now() + Days::hours(1));
        let run = queue(&a, kind, alg, clock.now()).await;
        let r = ctx(&a, &clock, stamper.clone(), Settings::default())
            .execute(&run)
            .await
            .unwrap();
        assert_eq!(r.state, "done", "{kind}: {r:?}");
        assert_eq!(
            r.chains, 1,
            "{kind}: only object versions are counted: {r:?}"
        );
        want = match kind {
            "timestamp" => (want.0, want.1 + 1),
            _ => (want.0 + 1, want.1 + 1),
        };
        let (h, er) = ev.audit_head_record(batch).await.unwrap();
        assert_eq!(h, head);
        assert_eq!(
            verdict(&a, &er, &head, &policy, clock.now()),
            (Indication::Passed, want.0, want.1),
            "{kind}"
        );
        // the record of the head so far is kept byte for byte in every renewal
        assert!(er.len() > before.len());
        assert_eq!(
            verdict(&a, &er, &head, &retired, later),
            (Indication::Passed, want.0, want.1),
            "{kind}: the renewed chain outlives SHA-384"
        );
    }
    assert_eq!(want, (3, 4));
    // the object's record went the same way
    assert_eq!(check_all(&a, &docs, &retired, later).await, vec![(3, 4)]);
    // and the trail's proof against the store still holds beside the renewal trees
    let r = bewahr::audit::proof::verify_trail(&a.state().catalog, &a.state().ingest.store, &[])
        .await
        .unwrap();
    assert!(r.intact(), "{:#?}", r.failures);
    assert!(
        r.trees_in_store > r.seals.len(),
        "renewal trees are in the store too"
    );
}
