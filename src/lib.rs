//! bewahr: a long-term preservation archive in the style of BSI TR-03125 (TR-ESOR).
//!
//! This library is the one name the integration tests, benches and fuzz
//! targets use; it re-exports the workspace's crates along their seams:
//! the evidence core `bewahr-core` ([`alg`], [`ers`], [`hashtree`], [`tsp`],
//! [`signature`], [`verify`]: no I/O, time as a parameter), the network edge
//! `bewahr-net` ([`tsp::client`], [`signature::fetch`]), the development TSA
//! `bewahr-devtsa` ([`tsp::devtsa`]) and the archive service `bewahr-server`.

pub use bewahr_core::{alg, ers, hashtree, verify};

/// The fuzz targets' bodies: the core's (`bewahr_core::fuzzing`), with the
/// `xml` target through the XML signature engine and the RFC 6283 reader,
/// which the core does not link.
pub mod fuzzing {
    pub use bewahr_core::fuzzing::{
        asic, cms_decode, er_decode, pdf, revocation_data, signature_examine, tsp_decode, Target,
    };

    /// Every target, by the name of its folder under `tests/fuzz/corpus/`.
    pub const TARGETS: &[Target] = &[
        ("er_decode", er_decode),
        ("tsp_decode", tsp_decode),
        ("cms_decode", cms_decode),
        ("revocation", revocation_data),
        ("pdf", pdf),
        ("asic", asic),
        ("xml", xml),
        ("signature", signature_examine),
    ];

    /// XML: recognition, every signature in it (and the bytes as a detached
    /// XML signature over a small document) through the XAdES engine, and
    /// the bytes as an RFC 6283 record, no network.
    pub fn xml(data: &[u8]) {
        use bewahr_core::signature::{self, Context, ValidationData};
        let _ = signature::recognise(data, None);
        let ctx = Context {
            anchors: &[],
            at: time::macros::datetime!(2026-01-01 0:00 UTC),
            poe: None,
            max_age: time::Duration::days(1),
            xml: Some(&bewahr_xmlsig::ENGINE),
        };
        for (doc, sig) in [(data, None), (&b"<d>x</d>"[..], Some(data))] {
            let ex = signature::examine(doc, sig, &ctx);
            let _ = signature::queries(&ex);
            let _ = signature::conclude(ex, &ValidationData::default(), &ctx);
        }
        if bewahr_xmlsig::ers::is_xml_record(data) {
            let policy = bewahr_core::verify::AlgorithmPolicy::default();
            let opts = bewahr_core::verify::Options::new(&[], ctx.at, &policy);
            let _ = bewahr_xmlsig::ers::verify_xml(
                data,
                Some(&[b"x".to_vec()]),
                &mut bewahr_core::verify::NoData,
                &opts,
            );
        }
    }
}

/// RFC 3161 time-stamps (`bewahr_core::tsp`), with the HTTP client and the
/// development TSA when built with the `net` feature.
pub mod tsp {
    pub use bewahr_core::tsp::*;
    #[cfg(feature = "net")]
    pub use bewahr_devtsa as devtsa;
    #[cfg(feature = "net")]
    pub use bewahr_net::tsa_client as client;
}

/// Signature and seal validation (`bewahr_core::signature`), with the
/// OCSP/CRL fetcher when built with the `net` feature.
pub mod signature {
    pub use bewahr_core::signature::*;
    #[cfg(feature = "net")]
    pub use bewahr_net::fetch;
    /// XML signatures (XML-DSig, XAdES): the engine for [`Context::xml`].
    pub use bewahr_xmlsig as xml_engine;
}

#[cfg(feature = "net")]
pub use bewahr_durable as durable;

#[cfg(feature = "server")]
pub use bewahr_server::{
    access, activity, api, audit, catalog, cluster, config, evidence, ids, ingest, pres, renewal,
    s4, seal, server, service, store, supervisor, sweeper, testing, tls, ui, validation,
};
