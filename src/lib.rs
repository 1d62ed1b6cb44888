//! bewahr: a long-term preservation archive in the style of BSI TR-03125 (TR-ESOR).
//!
//! The evidence core ([`alg`], [`ers`], [`hashtree`], [`tsp`], [`verify`]) does no
//! I/O of its own and takes time as a parameter; the network lives in
//! [`tsp::client`], the disk and the clock in the binary and the service.

pub mod alg;
pub mod durable;
pub mod ers;
pub mod hashtree;
pub mod tsp;
pub mod verify;
