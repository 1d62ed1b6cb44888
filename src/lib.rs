//! bewahr: a long-term preservation archive in the style of BSI TR-03125 (TR-ESOR).
//!
//! The evidence core ([`alg`], [`ers`], [`hashtree`], [`tsp`], [`verify`]) does no
//! I/O of its own and takes time as a parameter; the network lives in
//! [`tsp::client`], the disk and the clock in the binary and the service.

#[cfg(feature = "server")]
pub mod access;
pub mod alg;
#[cfg(feature = "server")]
pub mod api;
#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod catalog;
#[cfg(feature = "server")]
pub mod config;
pub mod durable;
pub mod ers;
#[cfg(feature = "server")]
pub mod evidence;
#[doc(hidden)]
pub mod fuzzing;
pub mod hashtree;
#[cfg(feature = "server")]
pub mod ingest;
#[cfg(feature = "server")]
pub mod renewal;
#[cfg(feature = "server")]
pub mod seal;
#[cfg(feature = "server")]
pub mod server;
pub mod signature;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod tls;
pub mod tsp;
#[cfg(feature = "server")]
pub mod validation;
pub mod verify;
