//! bewahr: a long-term preservation archive in the style of BSI TR-03125 (TR-ESOR).
//!
//! This library is the one name the integration tests, benches and fuzz
//! targets use; it re-exports the workspace's crates along their seams:
//! the evidence core `bewahr-core` ([`alg`], [`ers`], [`hashtree`], [`tsp`],
//! [`signature`], [`verify`]: no I/O, time as a parameter), the network edge
//! `bewahr-net` ([`tsp::client`], [`signature::fetch`]), the development TSA
//! `bewahr-devtsa` ([`tsp::devtsa`]) and the archive service `bewahr-server`.

pub use bewahr_core::{alg, ers, fuzzing, hashtree, verify};

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
    access, api, audit, catalog, config, evidence, ids, ingest, pres, renewal, s4, seal, server,
    service, store, supervisor, sweeper, testing, tls, validation,
};
