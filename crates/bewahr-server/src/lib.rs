//! bewahr's archive service: content store (RocksDB), catalog (sqlx over
//! SQLite or PostgreSQL), ingest, batch sealing, evidence on demand,
//! renewal, tenancy and the audit trail, and the HTTP interface.
//!
//! The evidence core is `bewahr-core`; the network edge (TSA client,
//! OCSP/CRL fetching) `bewahr-net`; the development TSA `bewahr-devtsa`.

#![forbid(unsafe_code)]

pub mod access;
pub mod activity;
pub mod api;
pub mod audit;
pub mod catalog;
pub mod cluster;
pub mod config;
pub mod evidence;
pub mod ids;
pub mod ingest;
pub mod pres;
pub mod renewal;
pub mod s4;
pub mod seal;
pub mod server;
pub mod service;
pub mod store;
pub mod supervisor;
pub mod sweeper;
pub mod testing;
pub mod tls;
pub mod ui;
pub mod validation;
