//! Who time-stamps the batches and renewals: the configured TSAs or the
//! built-in development TSA. The platform operator can switch TSAs while the
//! archive runs; the certificates of the TSAs used before stay trusted (the
//! archive's earlier time-stamps chain to them).

use std::sync::{Arc, RwLock};

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

/// Where time-stamps come from.
#[derive(Clone)]
pub enum TsaSource {
    /// The built-in development TSA (NOT qualified).
    Dev(Arc<DevTsa>),
    /// Configured RFC 3161 TSAs, tried in order.
    Remote(TsaClient),
}

impl TsaSource {
    fn certificates(&self) -> Vec<Certificate> {
        match self {
            TsaSource::Dev(tsa) => tsa.certificates().to_vec(),
            TsaSource::Remote(client) => client
                .endpoints()
                .iter()
                .flat_map(|e| e.trusted.iter().cloned())
                .collect(),
        }
    }

    fn trust_anchors(&self) -> Vec<Certificate> {
        match self {
            TsaSource::Dev(tsa) => tsa.certificates()[1..].to_vec(),
            TsaSource::Remote(_) => self.certificates(),
        }
    }
}

struct Inner {
    current: TsaSource,
    /// Trust anchors of the sources used before.
    earlier: Vec<Certificate>,
}

/// The archive's source of time-stamps (shared; cheap to clone).
#[derive(Clone)]
pub struct Stamper(Arc<RwLock<Inner>>);

impl Stamper {
    pub fn new(source: TsaSource) -> Self {
        Stamper(Arc::new(RwLock::new(Inner {
            current: source,
            earlier: vec![],
        })))
    }

    /// The built-in development TSA.
    pub fn dev(tsa: DevTsa) -> Self {
        Self::new(TsaSource::Dev(Arc::new(tsa)))
    }

    /// Configured TSAs.
    pub fn remote(client: TsaClient) -> Self {
        Self::new(TsaSource::Remote(client))
    }

    fn current(&self) -> TsaSource {
        match self.0.read() {
            Ok(g) => g.current.clone(),
            Err(e) => e.into_inner().current.clone(),
        }
    }

    /// Switches to another source; the current one's anchors stay trusted.
    pub fn replace(&self, source: TsaSource) {
        let mut g = match self.0.write() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        let old = g.current.trust_anchors();
        for c in old {
            if !g.earlier.contains(&c) {
                g.earlier.push(c);
            }
        }
        g.current = source;
    }

    /// Time-stamps `imprint`; `now` is the clock of the caller (used by the development TSA).
    pub async fn stamp(
        &self,
        alg: DigestAlgorithm,
        imprint: &[u8],
        now: OffsetDateTime,
    ) -> Result<Stamp, String> {
        match self.current() {
            TsaSource::Dev(tsa) => {
                let token = tsa
                    .timestamp(alg, imprint, None, now)
                    .map_err(|e| e.to_string())?;
                Ok(Stamp {
                    token,
                    tsa: "development TSA (not qualified)".into(),
                    gen_time: now.replace_nanosecond(0).unwrap_or(now),
                })
            }
            TsaSource::Remote(client) => {
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

    /// The certificates an auditor needs: the development TSA's chain, or
    /// the configured TSAs' trusted certificates, and those of earlier TSAs.
    pub fn certificates(&self) -> Vec<Certificate> {
        let g = match self.0.read() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        let mut v = g.current.certificates();
        v.extend(g.earlier.iter().cloned());
        v
    }

    /// Certificates to trust when verifying the archive's own records: the
    /// root of the development TSA, or the configured trusted certificates,
    /// and those of the TSAs used before.
    pub fn trust_anchors(&self) -> Vec<Certificate> {
        let g = match self.0.read() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        let mut v = g.current.trust_anchors();
        v.extend(g.earlier.iter().cloned());
        v
    }
}
