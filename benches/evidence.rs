//! Evidence-core benchmarks: hash-tree building, evidence records on demand,
//! verifying one record with an RSA-3072 time-stamp, the extra hashes of
//! renewals bridged to RFC 6283, memory per leaf, and
//! Bouncy Castle 1.72's generator beside ours.
//!
//! Run: `cargo bench --bench evidence` (results in docs/benchmarks.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bewahr::alg::DigestAlgorithm;
use bewahr::ers::record_for_leaf;
use bewahr::hashtree::HashTree;
use bewahr::signature::xml_engine::ers as ers_xml;
use bewahr::tsp::devtsa::DevTsa;
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};
use criterion::{BatchSize, Criterion, Throughput};

/// Counts heap bytes in use, and the peak, to report memory per leaf.
struct Counting;
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        IN_USE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new > l.size() {
                let now = IN_USE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                IN_USE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const N: usize = 1_000_000;

fn leaves(n: usize) -> Vec<[u8; 32]> {
    (0..n as u64)
        .map(|i| {
            DigestAlgorithm::Sha256
                .digest(&i.to_le_bytes())
                .try_into()
                .unwrap()
        })
        .collect()
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rsa3072")
}

#[derive(Clone)]
struct Rfc4998;
impl rs_merkle::Hasher for Rfc4998 {
    type Hash = [u8; 32];
    fn hash(d: &[u8]) -> [u8; 32] {
        DigestAlgorithm::Sha256.digest(d).try_into().unwrap()
    }
    fn concat_and_hash(l: &[u8; 32], r: Option<&[u8; 32]>) -> [u8; 32] {
        match r {
            Some(r) => {
                let mut out = [0u8; 32];
                bewahr::hashtree::hash_pair(DigestAlgorithm::Sha256, l, r, &mut out);
                out
            }
            None => *l,
        }
    }
}

fn memory_report() {
    let input = leaves(N);
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let tree = HashTree::from_hashes(DigestAlgorithm::Sha256, &input).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let held = tree.heap_bytes();
    println!(
        "memory: tree over {N} SHA-256 leaves holds {:.1} bytes/leaf; peak during build {:.1} bytes/leaf (input hashes, 32 bytes/leaf, are the caller's and not counted)",
        held as f64 / N as f64,
        peak as f64 / N as f64
    );
    drop(tree);
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = rs_merkle::MerkleTree::<Rfc4998>::from_leaves(&input);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!(
        "memory: rs_merkle 1.5 over the same leaves: peak during build {:.1} bytes/leaf",
        peak as f64 / N as f64
    );
    black_box(t);
}

fn benches(c: &mut Criterion) {
    let input = leaves(N);
    let mut g = c.benchmark_group("hashtree");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("build_1M_sha256", |b| {
        b.iter(|| HashTree::from_hashes(DigestAlgorithm::Sha256, black_box(&input)).unwrap())
    });
    g.bench_function("rs_merkle_build_1M_sha256", |b| {
        b.iter(|| rs_merkle::MerkleTree::<Rfc4998>::from_leaves(black_box(&input)))
    });
    g.finish();

    // evidence records on demand from a 1M-leaf tree and an RSA-3072 token
    let tree = HashTree::from_hashes(DigestAlgorithm::Sha256, &input).unwrap();
    let token = bewahr::ers::EvidenceRecord::from_der_checked(
        &std::fs::read(vectors().join("doc-0.txt.ers")).unwrap(),
    )
    .unwrap()
    .archive_time_stamp_sequence[0][0]
        .time_stamp
        .as_bytes()
        .to_vec();
    let mut g = c.benchmark_group("evidence");
    const BATCH: usize = 10_000;
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0usize;
    g.bench_function("reduced_tree_and_der_record_1M_tree", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                next = (next + 7919) % N;
                black_box(record_for_leaf(&tree, next, &token).unwrap());
            }
        })
    });
    g.finish();

    // what bridging a time-stamp renewal to RFC 6283 adds, per chain end in
    // a renewal run and per renewal step of a record built: the hash of
    // the token's <TimeStamp> element (base64 of the token, SHA-256)
    let mut g = c.benchmark_group("renewal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bridged_renewal_hash_rsa3072_token", |b| {
        b.iter(|| {
            black_box(ers_xml::timestamp_renewal_hash(
                DigestAlgorithm::Sha256,
                black_box(&token),
            ))
        })
    });
    g.finish();

    // verify one record with an RSA-3072 time-stamp, the data and its trusted root
    let er = std::fs::read(vectors().join("doc-5.txt.ers")).unwrap();
    let data = std::fs::read(vectors().join("doc-5.txt")).unwrap();
    let ca =
        x509_cert::Certificate::load_pem_chain(&std::fs::read(vectors().join("ca.pem")).unwrap())
            .unwrap();
    let policy = AlgorithmPolicy::default();
    let at = time::macros::datetime!(2027-01-01 0:00 UTC);
    let opts = Options::new(&ca, at, &policy);
    let r = verify::verify_der(&er, &mut InMemory(vec![data.clone()]), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    // what bridging a hash-tree renewal to RFC 6283 adds per leaf rehashed:
    // the record's chains written in XML and hashed (a record of one chain
    // with one RSA-3072 time-stamp), then X over the leaf's plain hash
    let mut g = c.benchmark_group("renewal");
    g.throughput(Throughput::Elements(1));
    let plain = vec![DigestAlgorithm::Sha512.digest(&data)];
    g.bench_function("bridged_hashtree_leaf_rsa3072_record", |b| {
        b.iter(|| {
            let alg = DigestAlgorithm::Sha512;
            let ha = ers_xml::hashtree_renewal_hash(alg, black_box(&er), &[]).unwrap();
            black_box(ers_xml::hashtree_bridge(alg, &plain, &ha))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_record_rsa3072_with_data", |b| {
        b.iter_batched(
            || InMemory(vec![data.clone()]),
            |mut d| verify::verify_der(black_box(&er), &mut d, &opts),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Ours and Bouncy Castle 1.72's ERSArchiveTimeStampGenerator on the same job:
/// a tree over N objects, one time-stamp, an evidence record for every object.
fn bouncy_castle_comparison() {
    let sizes = [2000usize, 4000];
    let tsa = DevTsa::generate(time::OffsetDateTime::now_utc()).unwrap().0;
    for &n in &sizes {
        let data: Vec<Vec<u8>> = (0..n as u64).map(|i| i.to_le_bytes().repeat(8)).collect();
        let t = Instant::now();
        let alg = DigestAlgorithm::Sha256;
        let tree =
            HashTree::from_hashes(alg, data.iter().map(|d| alg.digest(d)).collect::<Vec<_>>())
                .unwrap();
        let token = tsa
            .timestamp(alg, tree.root(), None, time::OffsetDateTime::now_utc())
            .unwrap();
        let mut bytes = 0;
        for i in 0..n {
            bytes += record_for_leaf(&tree, i, &token).unwrap().len();
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "bewahr-generator leaves={n} seconds={s:.4} records_per_second={:.0} (bytes {bytes})",
            n as f64 / s
        );
    }
    let jars = [
        "/usr/share/java/bcprov.jar",
        "/usr/share/java/bcpkix.jar",
        "/usr/share/java/bcutil.jar",
    ];
    if !jars.iter().all(|j| Path::new(j).exists())
        || Command::new("javac").arg("-version").output().is_err()
    {
        println!(
            "bc-generator: SKIPPED (Bouncy Castle jars or javac missing; .ci/run installs them)"
        );
        return;
    }
    let classes = std::env::temp_dir().join("bewahr-bcers-bench");
    let cp = jars.join(":");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/java/BcErs.java");
    let st = Command::new("javac")
        .args(["-cp", &cp, "-d"])
        .arg(&classes)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "javac failed");
    let out = Command::new("java")
        .args([
            "-cp",
            &format!("{}:{cp}", classes.display()),
            "BcErs",
            "bench-gen",
        ])
        .args(sizes.iter().map(|s| s.to_string()))
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn main() {
    memory_report();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    // with a filter (`cargo bench --bench evidence -- verify`) only a filter naming it runs the comparison
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.is_empty()
        || filters
            .iter()
            .any(|f| "bouncy_castle_comparison".contains(f.as_str()))
    {
        bouncy_castle_comparison();
    }
}
