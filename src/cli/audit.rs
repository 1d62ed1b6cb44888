//! `bewahr audit verify`: the audit trail checked against the catalog and
//! against the store (`bewahr::audit::proof`). It opens the store
//! read-only, so it runs beside the server.

use std::path::PathBuf;

use bewahr::audit::proof::{verify_trail, TrailReport};
use bewahr::catalog::Catalog;
use bewahr::config::Config;
use x509_cert::Certificate;

/// The certificates the archive trusts for its own time-stamps: the
/// development TSA's root (if it has one in the data directory), each
/// configured TSA's `trusted_certs`, `renewal.trusted_certs`, and `extra`.
fn trusted(cfg: &Config, extra: &[PathBuf]) -> Result<Vec<Certificate>, String> {
    let mut out = Vec::new();
    let dev = bewahr::tsp::devtsa::DevTsa::load_certificates(&cfg.server.data_dir.join("tsa"))
        .map_err(|e| e.to_string())?;
    if let Some(chain) = dev {
        out.extend(chain.into_iter().skip(1)); // its root, as the stamper trusts it
    }
    let files = cfg
        .tsa
        .iter()
        .map(|t| t.trusted_certs.as_str())
        .chain([cfg.renewal.trusted_certs.as_str()])
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .chain(extra.iter().cloned());
    for f in files {
        for c in super::load_certificates(&f)? {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

fn print(r: &TrailReport) {
    for s in &r.seals {
        println!(
            "batch {}: {}, time-stamp {} from the {}{}",
            s.batch,
            s.seq
                .map(|q| format!("seals the head of entry {q}"))
                .unwrap_or_else(|| "seals no head of the trail".into()),
            s.gen_time.as_deref().unwrap_or("(unreadable)"),
            s.token_from,
            match s.tsa_trusted {
                Some(true) => ", TSA trusted",
                Some(false) => ", TSA NOT trusted",
                None => "",
            }
        );
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    if r.intact() {
        println!(
            "audit trail intact: {} entries, head {}; {} sealed head(s) match the store's trees and time-stamps{}",
            r.entries,
            r.head,
            r.seals.len(),
            r.last_sealed_seq
                .map(|s| format!(", the last at entry {s}"))
                .unwrap_or_default()
        );
    }
}

/// Runs the check; 0 intact, 1 broken, 2 could not check.
pub fn verify(cfg: &Config, json: bool, tsa_certs: &[PathBuf]) -> i32 {
    let fail = |msg: String| {
        eprintln!("bewahr audit: {msg}");
        2
    };
    let anchors = match trusted(cfg, tsa_certs) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let store = match bewahr::server::open_store_read_only(cfg) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e.to_string()),
    };
    rt.block_on(async {
        let catalog = match Catalog::open(&cfg.catalog_url(), 2).await {
            Ok(c) => c,
            Err(e) => return fail(e.to_string()),
        };
        let r = match verify_trail(&catalog, &store, &anchors).await {
            Ok(r) => r,
            Err(e) => return fail(e.to_string()),
        };
        if json {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        } else {
            print(&r);
        }
        if r.intact() {
            return 0;
        }
        for f in &r.failures {
            eprintln!("bewahr audit: the audit trail is BROKEN: {f}");
        }
        1
    })
}
