//! bewahr's evidence core: RFC 4998 evidence records, hash trees, RFC 3161
//! time-stamp tokens, signature and seal checks (ETSI EN 319 102-1), PKIX
//! paths and the verifier.
//!
//! Pure: no network, no disk, no clock, no randomness of its own. Time
//! comes in as a parameter (`verify::Options::at`, `signature::Context::at`),
//! nonces as bytes (`tsp::TsaRequest::with_nonce`). Its dependency tree has
//! no tokio, reqwest, hyper, axum, sqlx or RocksDB (`.ci/run` checks it), so
//! the auditor's `bewahr verify` builds from this crate alone.

#![forbid(unsafe_code)]

pub mod alg;
pub mod ers;
#[doc(hidden)]
pub mod fuzzing;
pub mod hashtree;
pub mod signature;
pub mod tsp;
pub mod verify;
