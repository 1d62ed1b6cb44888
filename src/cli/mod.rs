//! The `bewahr` command line.

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
pub mod audit;
pub mod progress;
#[cfg(feature = "server")]
pub mod renew;
#[cfg(feature = "server")]
pub mod serve;
#[cfg(feature = "net")]
pub mod stamp;
#[cfg(feature = "server")]
pub mod sweep;
pub mod verify;
pub mod xaip;

use std::path::Path;
use x509_cert::Certificate;

/// Loads every certificate in a PEM (one or more) or DER file.
pub fn load_certificates(path: &Path) -> Result<Vec<Certificate>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") || bytes.windows(10).any(|w| w == b"-----BEGIN") {
        Certificate::load_pem_chain(&bytes)
            .map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))
    } else {
        <Certificate as der::Decode>::from_der(&bytes)
            .map(|c| vec![c])
            .map_err(|e| format!("{}: not a DER certificate: {e}", path.display()))
    }
}
