//! Who time-stamps the batches: the configured TSAs or the built-in development TSA.

use std::sync::Arc;

use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::alg::DigestAlgorithm;
use crate::tsp::client::TsaClient;
use crate::tsp::devtsa::DevTsa;

/// A time-stamp for a batch root.
#[derive(Clone, Debug)]
pub struct Stamp {
    pub token: Vec<u8>,
    pub tsa: String,
    pub gen_time: OffsetDateTime,
}

/// The archive's source of time-stamps.
#[derive(Clone)]
pub enum Stamper {
    /// The built-in development TSA (NOT qualified).
    Dev(Arc<DevTsa>),
    /// Configured RFC 3161 TSAs, tried in order.
    Remote(TsaClient),
}

impl Stamper {
    /// Time-stamps `imprint`; `now` is the clock of the caller (used by the development TSA).
    pub async fn stamp(
        &self,
        alg: DigestAlgorithm,
        imprint: &[u8],
        now: OffsetDateTime,
    ) -> Result<Stamp, String> {
        match self {
            Stamper::Dev(tsa) => {
                let token = tsa
                    .timestamp(alg, imprint, None, now)
                    .map_err(|e| e.to_string())?;
                Ok(Stamp {
                    token,
                    tsa: "development TSA (not qualified)".into(),
                    gen_time: now.replace_nanosecond(0).unwrap_or(now),
                })
            }
            Stamper::Remote(client) => {
                let issued = client
                    .timestamp(alg, imprint)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Stamp {
                    gen_time: issued.granted.checked.gen_time,
                    tsa: issued.tsa,
                    token: issued.granted.token,
                })
            }
        }
    }

    /// The certificates an auditor needs to trust: the development TSA's
    /// chain, or the configured TSAs' trusted certificates.
    pub fn certificates(&self) -> Vec<Certificate> {
        match self {
            Stamper::Dev(tsa) => tsa.certificates().to_vec(),
            Stamper::Remote(client) => client
                .endpoints()
                .iter()
                .flat_map(|e| e.trusted.iter().cloned())
                .collect(),
        }
    }

    /// Certificates to trust when verifying the archive's own records: the
    /// root of the development TSA, or the configured trusted certificates.
    pub fn trust_anchors(&self) -> Vec<Certificate> {
        match self {
            Stamper::Dev(tsa) => tsa.certificates()[1..].to_vec(),
            Stamper::Remote(_) => self.certificates(),
        }
    }
}
