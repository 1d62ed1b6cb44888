//! bewahr's network edge: the RFC 3161 client ([`tsa_client`]) and the
//! fetching of OCSP responses and CRLs ([`fetch`]), over reqwest and rustls
//! (ring). What comes back is checked by `bewahr-core` before it is used.

#![forbid(unsafe_code)]

pub mod fetch;
pub mod tsa_client;
