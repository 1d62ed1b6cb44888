//! XAdES validation: a 1 MB enveloped XAdES baseline-B seal (RSA-3072,
//! SHA-256, C14N 1.1; XÖV-like records of 12 elements each) made by
//! signxml (tests/fixtures/xades-peer.py --big), validated with its
//! revocation data at hand (the CA's CRL, as the fetcher's cache would
//! hold it), on one thread.
//!
//! Before measuring, the bench checks that the seal validates TOTAL_PASSED.
//!
//! Measured:
//! - `xades_1mb_validate`: examine (parse, references, signature value,
//!   certificate path) + conclude (revocation, verdict): the whole;
//! - `xades_1mb_parse`: libxml2 parsing alone;
//! - `xades_1mb_c14n`: the document reference's canonicalisation alone
//!   (the document without the signature, C14N 1.1) through libxml2;
//! - `xades_1mb_c14n_direct`: the same through the writer validation uses
//!   (`xml::canonicalize_direct`), its share;
//! - `xades_1mb_sha256`: SHA-256 of the file, the floor.
//!
//! Run: `taskset -c 0 cargo bench --bench xades` (results in
//! docs/benchmarks.md). Without python3 and signxml the bench says why and
//! exits 0.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use bewahr::alg::DigestAlgorithm;
use bewahr::signature::{self, conclude, examine, Context, Indication, ValidationData};
use bewahr_xaip::xml::{self, C14n, Selection};
use criterion::{Criterion, Throughput};

const SIZE: usize = 1 << 20;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xades-peer.py");
    let made = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .args(["--big", &SIZE.to_string()])
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "xades bench skipped: xades-peer.py failed (python3 with signxml needed): {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("xades bench skipped: python3: {e}");
            return;
        }
    }
    let doc = std::fs::read(dir.path().join("big-enveloped.xml")).unwrap();
    let anchors =
        signature::parse_certificates(&std::fs::read(dir.path().join("ca.pem")).unwrap()).unwrap();
    let mut data = ValidationData::default();
    data.add_crl(&std::fs::read(dir.path().join("crl.der")).unwrap());
    let ctx = Context {
        anchors: &anchors,
        at: time::OffsetDateTime::now_utc(),
        poe: None,
        max_age: time::Duration::days(1),
        xml: Some(&signature::xml_engine::ENGINE),
    };
    let validate = || conclude(examine(&doc, None, &ctx), &data, &ctx).0;
    let report = validate();
    assert_eq!(
        report.indication,
        Some(Indication::TotalPassed),
        "{}",
        report.to_text()
    );
    eprintln!(
        "document: {} bytes, {}",
        doc.len(),
        report.signatures[0]
            .signature_algorithm
            .as_deref()
            .unwrap_or("?")
    );

    let parsed = xml::parse(&doc).unwrap();
    let ctx_x = libxml::xpath::Context::new(&parsed).unwrap();
    ctx_x
        .register_namespace("ds", "http://www.w3.org/2000/09/xmldsig#")
        .unwrap();
    let sig = ctx_x.evaluate("//ds:Signature").unwrap().get_nodes_as_vec();
    let mut enveloped = Selection::document();
    enveloped.without(&sig[0]);

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("xades");
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("xades_1mb_validate", |b| b.iter(|| black_box(validate())));
    g.bench_function("xades_1mb_parse", |b| {
        b.iter(|| black_box(xml::parse(&doc).unwrap()))
    });
    g.bench_function("xades_1mb_c14n", |b| {
        b.iter(|| {
            black_box(
                xml::canonicalize_selection(
                    &parsed,
                    &enveloped,
                    C14n::Inclusive11 { comments: false },
                    &[],
                )
                .unwrap(),
            )
        })
    });
    assert_eq!(
        xml::canonicalize_direct(
            &parsed,
            None,
            &enveloped,
            C14n::Inclusive11 { comments: false },
            &[]
        )
        .unwrap(),
        xml::canonicalize_selection(
            &parsed,
            &enveloped,
            C14n::Inclusive11 { comments: false },
            &[]
        )
        .unwrap(),
        "the direct writer and libxml2 differ"
    );
    g.bench_function("xades_1mb_c14n_direct", |b| {
        b.iter(|| {
            black_box(
                xml::canonicalize_direct(
                    &parsed,
                    None,
                    &enveloped,
                    C14n::Inclusive11 { comments: false },
                    &[],
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("xades_1mb_sha256", |b| {
        b.iter(|| black_box(DigestAlgorithm::Sha256.digest(&doc)))
    });
    g.finish();
    c.final_summary();
}
