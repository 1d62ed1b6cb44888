//! Who time-stamps the batches and renewals: the configured TSAs or the
//! built-in development TSA. The platform operator can switch TSAs while the
//! archive runs; the certificates of the TSAs used before stay trusted (the
//! archive's earlier time-stamps chain to them).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use time::OffsetDateTime;
use x509_cert::Certificate;

use bewahr_core::alg::DigestAlgorithm;
use bewahr_devtsa::DevTsa;
use bewahr_net::tsa_client::TsaClient;

/// The name the built-in development TSA's time-stamps are recorded under.
pub const DEV_TSA_NAME: &str = "development TSA (not qualified)";

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
    /// Fetching the TSA's revocation data for each new token.
    tsa_data: Option<TsaData>,
}

/// How the TSA's validation data is added to each new token.
#[derive(Clone)]
struct TsaData {
    fetcher: bewahr_net::fetch::Fetcher,
    /// Refuse a token whose TSA's status cannot be had (profile `tr-esor`).
    required: bool,
}

/// The archive's source of time-stamps (shared; cheap to clone).
#[derive(Clone)]
pub struct Stamper(Arc<RwLock<Inner>>, Arc<Mutex<BTreeMap<String, TsaStats>>>);

/// How a TSA answered this process lately (the admin dashboard).
#[derive(Clone, Debug, Default, Serialize)]
pub struct TsaStats {
    /// The TSA's name (for configured TSAs that failed all together: their names).
    pub name: String,
    pub granted: u64,
    pub failed: u64,
    /// The last time-stamp: when it was asked for (RFC 3339), its time
    /// and how long the answer took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_granted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_gen_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
}

impl Stamper {
    pub fn new(source: TsaSource) -> Self {
        Stamper(
            Arc::new(RwLock::new(Inner {
                current: source,
                earlier: vec![],
                tsa_data: None,
            })),
            Default::default(),
        )
    }

    /// How each TSA answered this process, by name.
    pub fn stats(&self) -> Vec<TsaStats> {
        self.1
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn count(&self, name: &str, f: impl FnOnce(&mut TsaStats)) {
        if let Ok(mut m) = self.1.lock() {
            let e = m.entry(name.to_string()).or_insert_with(|| TsaStats {
                name: name.to_string(),
                ..Default::default()
            });
            f(e);
        }
    }

    /// The built-in development TSA.
    pub fn dev(tsa: DevTsa) -> Self {
        Self::new(TsaSource::Dev(Arc::new(tsa)))
    }

    /// Configured TSAs.
    pub fn remote(client: TsaClient) -> Self {
        Self::new(TsaSource::Remote(client))
    }

    fn current(&self) -> (TsaSource, Option<TsaData>) {
        let g = match self.0.read() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        (g.current.clone(), g.tsa_data.clone())
    }

    /// From now on, each token of a configured TSA gets the TSA's
    /// certificate path and its OCSP response or CRL, fetched right after
    /// the token arrives and embedded in it ([`bewahr_core::tsp::augment`]).
    /// With `required`, a token for which they cannot be had is refused.
    pub fn with_tsa_validation(self, fetcher: bewahr_net::fetch::Fetcher, required: bool) -> Self {
        if let Ok(mut g) = self.0.write() {
            g.tsa_data = Some(TsaData { fetcher, required });
        }
        self
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

    /// Time-stamps `imprint`; `now` is the clock of the caller (used by the
    /// development TSA). Each answer and failure is counted ([`Self::stats`]).
    pub async fn stamp(
        &self,
        alg: DigestAlgorithm,
        imprint: &[u8],
        now: OffsetDateTime,
    ) -> Result<Stamp, String> {
        let asked = std::time::Instant::now();
        let at = bewahr_core::tsp::trust::rfc3339(now);
        let r = self.stamp_once(alg, imprint, now).await;
        let ms = asked.elapsed().as_millis() as u64;
        match &r {
            Ok(st) => self.count(&st.tsa, |e| {
                e.granted += 1;
                e.last_granted_at = Some(at);
                e.last_gen_time = Some(bewahr_core::tsp::trust::rfc3339(st.gen_time));
                e.last_latency_ms = Some(ms);
            }),
            Err(err) => {
                let name = match &self.current().0 {
                    TsaSource::Dev(_) => DEV_TSA_NAME.to_string(),
                    TsaSource::Remote(c) => c
                        .endpoints()
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                self.count(&name, |e| {
                    e.failed += 1;
                    e.last_error = Some(err.clone());
                    e.last_error_at = Some(at);
                });
            }
        }
        r
    }

    async fn stamp_once(
        &self,
        alg: DigestAlgorithm,
        imprint: &[u8],
        now: OffsetDateTime,
    ) -> Result<Stamp, String> {
        let (source, tsa_data) = self.current();
        match &source {
            TsaSource::Dev(tsa) => {
                let token = tsa
                    .timestamp(alg, imprint, None, now)
                    .map_err(|e| e.to_string())?;
                Ok(Stamp {
                    token,
                    tsa: DEV_TSA_NAME.into(),
                    gen_time: now.replace_nanosecond(0).unwrap_or(now),
                })
            }
            TsaSource::Remote(client) => {
                let issued = client
                    .timestamp(alg, imprint)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut token = issued.granted.token;
                if let Some(d) = &tsa_data {
                    let anchors = source.trust_anchors();
                    token = with_validation_data(token, &anchors, d, now).await?;
                }
                Ok(Stamp {
                    gen_time: issued.granted.checked.gen_time,
                    tsa: issued.tsa,
                    token,
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

/// The token with its TSA's path and revocation data in it. What the token
/// already carries is not fetched again. Errors only when `required`.
async fn with_validation_data(
    token: Vec<u8>,
    anchors: &[Certificate],
    d: &TsaData,
    now: OffsetDateTime,
) -> Result<Vec<u8>, String> {
    use bewahr_core::signature::revocation::{best_status, Query};
    use bewahr_core::tsp::{augment, check_token, trust};
    use der::Encode;

    let fail = |msg: String| -> Result<Vec<u8>, String> {
        if d.required {
            Err(format!("TSA validation data (profile tr-esor): {msg}"))
        } else {
            tracing::warn!("time-stamp kept without the TSA's revocation data: {msg}");
            Ok(token.clone())
        }
    };
    let tok = match check_token(&token, anchors) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let mut pool = tok.certificates.clone();
    pool.extend(anchors.iter().cloned());
    let path = match trust::build_path(&tok.signer, &pool, anchors) {
        Ok(p) => p,
        Err(e) => return fail(format!("no path to the TSA's trusted certificates: {e}")),
    };
    let max_age = time::Duration::days(1);
    let queries: Vec<Query> = path
        .windows(2)
        .filter(|w| {
            best_status(&tok.carried, &w[0], &w[1], tok.gen_time, max_age)
                .0
                .is_none()
        })
        .map(|w| Query::new(&w[0], &w[1]))
        .collect();
    let fetched = d.fetcher.fetch(&queries, now).await;
    let mut missing: Vec<String> = Vec::new();
    for q in &queries {
        match best_status(&fetched.data, &q.cert, &q.issuer, tok.gen_time, max_age).0 {
            None => missing.push(trust::subject(&q.cert)),
            // a TSA whose certificate was revoked by genTime gives no evidence at all
            Some((e, _)) => {
                if let bewahr_core::signature::revocation::Status::Revoked { at, .. } = e.status {
                    if at <= tok.gen_time {
                        return Err(format!(
                            "the TSA certificate path is revoked: {} since {}",
                            trust::subject(&q.cert),
                            trust::rfc3339(at)
                        ));
                    }
                }
            }
        }
    }
    let certs: Vec<Vec<u8>> = path
        .iter()
        .filter(|c| !tok.certificates.contains(c))
        .filter_map(|c| c.to_der().ok())
        .collect();
    let out = match augment::add_validation_data(
        &token,
        &certs,
        &fetched.data.crls,
        &fetched.data.ocsp_responses,
    ) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    // the augmented token must still be the same time-stamp
    match check_token(&out, anchors) {
        Ok(t) if t.imprint == tok.imprint && t.gen_time == tok.gen_time => {}
        Ok(_) => return fail("the augmented token differs from the one received".into()),
        Err(e) => return fail(format!("the augmented token does not check: {e}")),
    }
    if !missing.is_empty() {
        let msg = format!(
            "no revocation data for {}: {}",
            missing.join(", "),
            fetched.errors.join("; ")
        );
        if d.required {
            return Err(format!("TSA validation data (profile tr-esor): {msg}"));
        }
        tracing::warn!("time-stamp kept with incomplete TSA revocation data: {msg}");
    }
    Ok(out)
}
