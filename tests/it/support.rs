//! Shared helpers of the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn c2(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/tr-esor-c2/TESTDATA")
        .join(name)
}

pub fn bewahr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bewahr"))
}

/// Whether an external peer is on the machine. In CI (`BEWAHR_REQUIRE_PEERS=1`,
/// set by `.ci/run`) a missing peer fails the test instead of skipping it.
pub fn have(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("BEWAHR_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{tool} is required (BEWAHR_REQUIRE_PEERS=1) but not available: run .ci/run or install it");
        }
        eprintln!("SKIPPED: {tool} is not installed; this interop test did not run");
    }
    ok
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// An OpenSSL TSA (RSA-3072) made once per test run by tests/fixtures/openssl-tsa.sh.
pub fn openssl_tsa() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("bewahr-openssl-tsa-{}", std::process::id()));
        let st = Command::new("bash")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openssl-tsa.sh"))
            .arg(&dir)
            .status()
            .expect("bash");
        assert!(st.success(), "openssl-tsa.sh failed");
        dir
    })
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

/// Starts `certomancer animate` with the test configuration on `port`, its
/// keys under `key_root` (made by tests/fixtures/certomancer/make-keys.sh).
pub fn animate_certomancer(key_root: &Path, port: u16) -> std::process::Child {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certomancer");
    Command::new("certomancer")
        .arg("--config")
        .arg(fixtures.join("certomancer.yml"))
        .arg("--key-root")
        .arg(key_root)
        .args([
            "--service-url-prefix",
            &format!("http://127.0.0.1:{port}"),
            "animate",
            "--no-web-ui",
            "--port",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("certomancer")
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the C.2 records are checked with: the self-signed certificates
/// their first token carries (or all of its certificates when none is
/// self-signed) as trust anchors, and a time one day after its genTime.
pub fn c2_trust(record: &[u8]) -> (Vec<x509_cert::Certificate>, time::OffsetDateTime) {
    let er = bewahr::ers::EvidenceRecord::from_der_checked(record).unwrap();
    let token = er.archive_time_stamp_sequence[0][0].time_stamp.as_bytes();
    let checked = bewahr::tsp::token::check_token(token, &[]).unwrap();
    let roots: Vec<_> = checked
        .certificates
        .iter()
        .filter(|c| c.tbs_certificate.issuer == c.tbs_certificate.subject)
        .cloned()
        .collect();
    let trusted = if roots.is_empty() {
        checked.certificates.clone()
    } else {
        roots
    };
    (trusted, checked.gen_time + time::Duration::days(1))
}

/// Writes certificates as one PEM file and returns its path.
pub fn pem_file(dir: &Path, name: &str, certs: &[x509_cert::Certificate]) -> PathBuf {
    use der::EncodePem;
    let pem: String = certs
        .iter()
        .map(|c| c.to_pem(der::pem::LineEnding::LF).unwrap())
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}
