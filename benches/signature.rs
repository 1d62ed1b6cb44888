//! Signature validation: a 1 MB PAdES document (`pades/seal-1mb.pdf` of
//! tests/fixtures/signing, the seal with a 3-certificate chain seal →
//! signing-ca → root) validated with revocation data from a warm
//! [`Fetcher`] cache, on one thread (tokio current-thread runtime).
//!
//! The fixtures are made in a temporary directory (make-keys.sh,
//! make-signed.sh) and certomancer serves OCSP on a free port, as
//! tests/fixtures/signing/README.md says. Before measuring, the bench checks
//! that the document validates TOTAL_PASSED and that the cache keeps the
//! archive from asking the OCSP responders again: after the first
//! validation the OCSP request count stays the same for `BEWAHR_BENCH_ITERS`
//! (default 1,000) further validations of this document and for another
//! document of the same signer (`pades/seal.pdf`).
//!
//! Measured:
//! - `pades_1mb_validate_cached`: examine + queries + fetch (cache) + conclude;
//! - `pades_1mb_examine`, `pades_1mb_fetch_cached`, `pades_1mb_conclude`: the parts;
//! - `pades_1mb_hash_only`: SHA-256 of the whole file, the floor.
//!
//! Run: `taskset -c 0 cargo bench --bench signature` (results in
//! docs/benchmarks.md); add `-- --quick` or `-- --measurement-time 2` for a
//! short run. The certomancer answers have nextUpdate = thisUpdate + 10 min,
//! so a run longer than that asks once more (correctly). Without certomancer,
//! pyHanko or openssl the bench says why and exits 0.

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bewahr::alg::DigestAlgorithm;
use bewahr::signature::fetch::{FetchStats, Fetcher};
use bewahr::signature::{
    conclude, examine, queries, Context, Indication, ValidationData, ValidationReport,
};
use criterion::{BatchSize, Criterion, Throughput};
use time::OffsetDateTime;
use x509_cert::Certificate;

/// The test PKI in a temporary directory and certomancer serving it; killed on drop.
struct Pki {
    child: Child,
    out: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Why the bench cannot run here, if it cannot.
fn missing_tool() -> Option<String> {
    let ok = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok("certomancer", &["--help"]) {
        return Some("certomancer not found (pip install certomancer)".into());
    }
    if !ok("python3", &["-c", "import pyhanko.sign"]) {
        return Some("pyHanko not importable by python3 (pip install pyhanko)".into());
    }
    if !ok("openssl", &["version"]) {
        return Some("openssl not found".into());
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(script: &Path, args: &[&std::ffi::OsStr]) {
    let t = Instant::now();
    let st = Command::new("bash")
        .arg(script)
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "{} failed: {st}", script.display());
    println!(
        "setup: {} took {:.1} s",
        script.display(),
        t.elapsed().as_secs_f64()
    );
}

/// Keys, certificates and signed documents, then certomancer on a free port.
async fn start() -> Pki {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // the port goes into the certificates, so it is chosen first
    let port = free_port();
    let prefix = format!("http://127.0.0.1:{port}");
    run(
        &fixtures.join("certomancer/make-keys.sh"),
        &[dir.path().as_os_str()],
    );
    run(
        &fixtures.join("signing/make-signed.sh"),
        &[
            dir.path().as_os_str(),
            out.as_os_str(),
            std::ffi::OsStr::new(&prefix),
        ],
    );
    let log = std::fs::File::create(dir.path().join("certomancer.log")).unwrap();
    let child = Command::new("certomancer")
        .arg("--config")
        .arg(fixtures.join("certomancer/certomancer.yml"))
        .arg("--key-root")
        .arg(dir.path())
        .args([
            "--service-url-prefix",
            &prefix,
            "animate",
            "--no-web-ui",
            "--port",
        ])
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("certomancer");
    let mut pki = Pki { child, out, dir };
    let t = Instant::now();
    let http = reqwest::Client::new();
    let url = format!("{prefix}/bewahr/certs/root/ca.cert.pem");
    loop {
        if let Ok(r) = http.get(&url).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if let Ok(Some(st)) = pki.child.try_wait() {
            let mut s = String::new();
            let _ = std::fs::File::open(pki.dir.path().join("certomancer.log"))
                .and_then(|mut f| f.read_to_string(&mut s));
            panic!("certomancer exited ({st}):\n{s}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "certomancer did not answer {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "setup: certomancer answered after {:.1} s",
        t.elapsed().as_secs_f64()
    );
    pki
}

fn ctx(anchors: &[Certificate], at: OffsetDateTime) -> Context<'_> {
    Context {
        anchors,
        at,
        poe: None,
        max_age: time::Duration::days(1),
        xml: Some(&bewahr::signature::xml_engine::ENGINE),
    }
}

/// The whole validation of one document as of now, as the archive does it.
async fn validate(
    pdf: &[u8],
    anchors: &[Certificate],
    fetcher: &Fetcher,
) -> (ValidationReport, Vec<String>) {
    let now = OffsetDateTime::now_utc();
    let ctx = ctx(anchors, now);
    let ex = examine(pdf, None, &ctx);
    let q = queries(&ex);
    let fetched = fetcher.fetch(&q, now).await;
    let (report, _keep) = conclude(ex, &fetched.data, &ctx);
    (report, fetched.errors)
}

fn passed(what: &str, report: &ValidationReport, errors: &[String]) {
    if report.indication != Some(Indication::TotalPassed) {
        panic!(
            "{what} does not validate TOTAL_PASSED; fetch errors {errors:?}; report:\n{}",
            serde_json::to_string_pretty(report).unwrap()
        );
    }
}

fn show(s: FetchStats) -> String {
    format!(
        "OCSP requests {}, CRL requests {}, cache hits {}, failures {}",
        s.ocsp_requests, s.crl_requests, s.cache_hits, s.failures
    )
}

fn main() {
    if let Some(why) = missing_tool() {
        println!("signature bench skipped: {why}");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pki = rt.block_on(start());
    let read = |p: &str| std::fs::read(pki.out.join(p)).unwrap();
    let pdf = read("pades/seal-1mb.pdf");
    let small = read("pades/seal.pdf");
    let anchors = Certificate::load_pem_chain(&read("certs/root.pem")).unwrap();
    let fetcher = Fetcher::new(Duration::from_secs(10), time::Duration::days(1));

    // ---- the checks: TOTAL_PASSED, and the cache answers for the signer
    let t = Instant::now();
    let (report, errors) = rt.block_on(validate(&pdf, &anchors, &fetcher));
    let cold = t.elapsed();
    passed("pades/seal-1mb.pdf", &report, &errors);
    let nq = queries(&examine(
        &pdf,
        None,
        &ctx(&anchors, OffsetDateTime::now_utc()),
    ))
    .len();
    let first = fetcher.stats();
    println!(
        "check: pades/seal-1mb.pdf ({} bytes): {:?}, chain of {}: {}",
        pdf.len(),
        report.indication,
        report.signatures[0].chain.len(),
        report.signatures[0].chain.join(" <- ")
    );
    println!(
        "check: first validation (cold cache, {nq} certificates to ask about): {:.1} ms; {}",
        cold.as_secs_f64() * 1e3,
        show(first)
    );
    assert_eq!(report.signatures[0].chain.len(), 3, "a 3-certificate chain");
    assert_eq!(
        first.ocsp_requests, nq as u64,
        "one OCSP request per certificate"
    );
    assert_eq!((first.crl_requests, first.failures), (0, 0));
    let n = env("BEWAHR_BENCH_ITERS", 1000);
    let t = Instant::now();
    for _ in 0..n {
        let (r, e) = rt.block_on(validate(&pdf, &anchors, &fetcher));
        passed("pades/seal-1mb.pdf", &r, &e);
    }
    let warm = t.elapsed();
    let after = fetcher.stats();
    println!(
        "check: {n} more validations (warm cache): {:.3} ms each; {}",
        warm.as_secs_f64() * 1e3 / n as f64,
        show(after)
    );
    assert_eq!(
        after.ocsp_requests, first.ocsp_requests,
        "the cache must answer"
    );
    assert_eq!(after.cache_hits, first.cache_hits + n * nq as u64);
    let (r, e) = rt.block_on(validate(&small, &anchors, &fetcher));
    passed("pades/seal.pdf", &r, &e);
    let other = fetcher.stats();
    println!(
        "check: then pades/seal.pdf (another document of the same signer): {}",
        show(other)
    );
    assert_eq!(
        other.ocsp_requests, first.ocsp_requests,
        "the cache must answer"
    );

    // ---- the measurements
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mut g = c.benchmark_group("signature");
    g.throughput(Throughput::Bytes(pdf.len() as u64));
    g.bench_function("pades_1mb_validate_cached", |b| {
        b.iter(|| rt.block_on(validate(black_box(&pdf), &anchors, &fetcher)))
    });
    let now = OffsetDateTime::now_utc();
    let cx = ctx(&anchors, now);
    g.bench_function("pades_1mb_examine", |b| {
        b.iter(|| examine(black_box(&pdf), None, &cx))
    });
    let q = queries(&examine(&pdf, None, &cx));
    g.bench_function("pades_1mb_fetch_cached", |b| {
        b.iter(|| rt.block_on(fetcher.fetch(black_box(&q), now)))
    });
    let data: ValidationData = rt.block_on(fetcher.fetch(&q, now)).data;
    g.bench_function("pades_1mb_conclude", |b| {
        b.iter_batched(
            || examine(&pdf, None, &cx),
            |ex| conclude(ex, &data, &cx),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("pades_1mb_hash_only", |b| {
        b.iter(|| DigestAlgorithm::Sha256.digest(black_box(&pdf)))
    });
    g.finish();
    c.final_summary();

    let end = fetcher.stats();
    println!("after the measurements: {}", show(end));
    if end.ocsp_requests != first.ocsp_requests {
        println!(
            "note: the responders were asked again ({} requests): the cached answers passed their nextUpdate (10 min) during the run",
            end.ocsp_requests - first.ocsp_requests
        );
    }
    drop(pki);
}
