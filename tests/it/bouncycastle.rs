//! Interop with Bouncy Castle 1.72 (`org.bouncycastle.tsp.ers`), through
//! tests/java/BcErs.java compiled with javac against Debian's jars:
//! records bewahr writes validate with Bouncy Castle; records Bouncy Castle
//! writes (one tree over many files, after its time-stamp renewal, after its
//! hash-tree renewal) verify with `bewahr verify`, and tampered data fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bewahr::alg::DigestAlgorithm;
use bewahr::ers::record_for_leaf;
use bewahr::hashtree::HashTree;
use bewahr::tsp::devtsa::DevTsa;

use crate::support::*;

const JARS: [&str; 3] = [
    "/usr/share/java/bcprov.jar",
    "/usr/share/java/bcpkix.jar",
    "/usr/share/java/bcutil.jar",
];

/// Compiles BcErs.java once; `None` (skip) when Java or the jars are missing outside CI.
fn bc() -> Option<&'static (PathBuf, String)> {
    static CLASSES: OnceLock<Option<(PathBuf, String)>> = OnceLock::new();
    CLASSES
        .get_or_init(|| {
            let jars_ok = JARS.iter().all(|j| Path::new(j).exists());
            if !jars_ok && std::env::var("BEWAHR_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("Bouncy Castle jars are required: apt-get install libbcprov-java libbcpkix-java libbcutil-java");
            }
            if !jars_ok || !have("javac", &["-version"]) {
                eprintln!("SKIPPED: Bouncy Castle 1.72 jars or javac missing");
                return None;
            }
            let dir = std::env::temp_dir().join(format!("bewahr-bcers-{}", std::process::id()));
            let cp = JARS.join(":");
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/java/BcErs.java");
            let o = run(Command::new("javac").args(["-cp", &cp, "-d"]).arg(&dir).arg(src));
            assert!(o.status.success(), "javac: {}", String::from_utf8_lossy(&o.stderr));
            Some((dir.clone(), format!("{}:{cp}", dir.display())))
        })
        .as_ref()
}

fn java(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let (_, cp) = bc().expect("compiled");
    run(Command::new("java").args(["-cp", cp, "BcErs"]).args(args))
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

#[test]
fn records_bewahr_writes_validate_with_bouncy_castle() {
    if bc().is_none() {
        return;
    }
    let dir = tempdir();
    let tsa = DevTsa::generate(time::OffsetDateTime::now_utc()).unwrap().0;
    // several tree sizes, including one leaf (no reduced tree) and odd sizes
    for (n, alg) in [
        (1usize, DigestAlgorithm::Sha256),
        (2, DigestAlgorithm::Sha256),
        (7, DigestAlgorithm::Sha512),
        (64, DigestAlgorithm::Sha256),
        (101, DigestAlgorithm::Sha384),
    ] {
        let docs: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("document {i} of {n}").into_bytes())
            .collect();
        let tree =
            HashTree::from_hashes(alg, docs.iter().map(|d| alg.digest(d)).collect::<Vec<_>>())
                .unwrap();
        let token = tsa
            .timestamp(alg, tree.root(), None, time::OffsetDateTime::now_utc())
            .unwrap();
        for i in [0, n / 2, n - 1] {
            let er = dir.path().join(format!("{n}-{i}.ers"));
            let data = dir.path().join(format!("{n}-{i}.bin"));
            std::fs::write(&er, record_for_leaf(&tree, i, &token).unwrap()).unwrap();
            std::fs::write(&data, &docs[i]).unwrap();
            let o = java(&[os("validate"), er.as_os_str(), data.as_os_str()]);
            assert!(
                o.status.success(),
                "BC rejects leaf {i} of {n} ({alg}): {}{}",
                stdout(&o),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(stdout(&o).contains("VALID"), "{}", stdout(&o));
            // and BC notices another document
            std::fs::write(&data, b"not the archived document").unwrap();
            let o = java(&[os("validate"), er.as_os_str(), data.as_os_str()]);
            assert_eq!(
                o.status.code(),
                Some(1),
                "BC accepted a wrong document: {}",
                stdout(&o)
            );
        }
    }
}

#[test]
fn records_bouncy_castle_writes_verify_with_bewahr_also_after_its_renewals() {
    if bc().is_none() {
        return;
    }
    let dir = tempdir();
    let gen = dir.path().join("gen");
    let o = java(&[os("generate"), gen.as_os_str(), os("25")]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let tsa_pem = gen.join("tsa.pem");
    let verify = |er: &Path, data: &Path, certs: &[&Path]| {
        let mut cmd = bewahr();
        cmd.args(["verify", "--json", "--er"])
            .arg(er)
            .arg("--data")
            .arg(data);
        for c in certs {
            cmd.arg("--tsa-cert").arg(c);
        }
        run(&mut cmd)
    };
    for i in [0usize, 7, 24] {
        let er = gen.join(format!("data-{i}.ers"));
        let data = gen.join(format!("data-{i}.bin"));
        let o = verify(&er, &data, &[&tsa_pem]);
        assert_eq!(o.status.code(), Some(0), "BC record {i}: {}", stdout(&o));
        // tampered data fails
        let other = gen.join(format!("data-{}.bin", (i + 1) % 25));
        let o = verify(&er, &other, &[&tsa_pem]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(json(&o)["sub_indication"], "HASH_FAILURE");
    }

    // time-stamp renewal by Bouncy Castle, with a second TSA
    let er = gen.join("data-3.ers");
    let data = gen.join("data-3.bin");
    let tsa2 = dir.path().join("tsa2");
    let ts = dir.path().join("ts-renewed.ers");
    let o = java(&[
        os("renew-ts"),
        er.as_os_str(),
        ts.as_os_str(),
        tsa2.as_os_str(),
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = verify(&ts, &data, &[&tsa_pem, &tsa2.join("tsa.pem")]);
    let j = json(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "after BC time-stamp renewal: {}",
        stdout(&o)
    );
    assert_eq!(j["archive_time_stamps"].as_array().unwrap().len(), 2);

    // then hash-tree renewal (SHA-512) by Bouncy Castle: a second chain
    let hr = dir.path().join("hash-renewed.ers");
    let o = java(&[
        os("renew-hash"),
        ts.as_os_str(),
        hr.as_os_str(),
        tsa2.as_os_str(),
        data.as_os_str(),
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = verify(&hr, &data, &[&tsa_pem, &tsa2.join("tsa.pem")]);
    let j = json(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "after BC hash-tree renewal: {}",
        stdout(&o)
    );
    assert_eq!(j["chains"], 2);
    // the renewed record with another document fails
    let o = verify(
        &hr,
        &gen.join("data-4.bin"),
        &[&tsa_pem, &tsa2.join("tsa.pem")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // without the data, everything else is checked
    let o = run(bewahr()
        .args(["verify", "--json", "--er"])
        .arg(&hr)
        .arg("--tsa-cert")
        .arg(&tsa_pem)
        .arg("--tsa-cert")
        .arg(tsa2.join("tsa.pem")));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        json(&o)["sub_indication"],
        "SIGNED_DATA_NOT_FOUND",
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn records_from_the_running_archive_validate_with_bouncy_castle() {
    use crate::api::{archive, get, post, send, Db};
    if bc().is_none() {
        return;
    }
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let dir = tempdir();
    for i in 0..5 {
        let doc = format!("Bescheid {i}").repeat(i + 1).into_bytes();
        let (st, _, body) = send(
            &a.router,
            post("/v1/objects?title=bc", "text/plain", doc.clone()),
        )
        .await;
        assert_eq!(st, axum::http::StatusCode::CREATED);
        let aoid = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["aoid"]
            .as_str()
            .unwrap()
            .to_string();
        let (st, _, er) = send(
            &a.router,
            get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
        )
        .await;
        assert_eq!(st, axum::http::StatusCode::OK);
        let erp = dir.path().join(format!("{i}.ers"));
        let dp = dir.path().join(format!("{i}.txt"));
        std::fs::write(&erp, er).unwrap();
        std::fs::write(&dp, &doc).unwrap();
        let o = java(&[os("validate"), erp.as_os_str(), dp.as_os_str()]);
        assert!(
            o.status.success(),
            "BC rejects the archive's record: {}{}",
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Bouncy Castle 1.72 validates `er` over `data` (skipped without Java outside CI).
pub(crate) fn validate_with_bc(er: &Path, data: &Path) {
    if bc().is_none() {
        return;
    }
    let o = java(&[os("validate"), er.as_os_str(), data.as_os_str()]);
    assert!(
        o.status.success(),
        "BC rejects {}: {}{}",
        er.display(),
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
}
