//! Fetching revocation data over HTTP (OCSP first, the CRL as fallback),
//! with a time limit on every request and a cache that keeps each answer
//! until its nextUpdate, so that the documents of one signer cost one
//! request to the responder while the answer is valid.
//!
//! The only network access of signature validation. Answers are checked
//! ([`bewahr_core::signature::revocation`]) before they are cached or used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use bewahr_core::signature::revocation::{check_crl, check_ocsp, Evidence, Query, ValidationData};

/// A cached answer and until when it may be used.
#[derive(Clone)]
struct Cached {
    der: Vec<u8>,
    ocsp: bool,
    expires: OffsetDateTime,
}

/// Counters an operator can read (`/metrics`) and tests can check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStats {
    pub ocsp_requests: u64,
    pub crl_requests: u64,
    pub cache_hits: u64,
    pub failures: u64,
}

/// Fetches and caches revocation data. Cheap to clone; safe to share.
#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    timeout: Duration,
    max_age: time::Duration,
    /// By certificate (issuer key hash and serial): the last good answer.
    cache: Arc<Mutex<HashMap<String, Cached>>>,
    /// CRLs by URL.
    crls: Arc<Mutex<HashMap<String, Cached>>>,
    stats: Arc<Mutex<FetchStats>>,
}

/// What a fetch brought, and what went wrong on the way.
#[derive(Debug, Default)]
pub struct Fetched {
    pub data: ValidationData,
    pub errors: Vec<String>,
}

const MAX_RESPONSE: usize = 16 << 20;

impl Fetcher {
    /// `timeout` bounds every request (connect and read); `max_age` is how
    /// long an answer without nextUpdate is kept.
    pub fn new(timeout: Duration, max_age: time::Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("bewahr/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Fetcher {
            http,
            timeout,
            max_age,
            cache: Arc::default(),
            crls: Arc::default(),
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> FetchStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut FetchStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn cached(
        map: &Mutex<HashMap<String, Cached>>,
        key: &str,
        now: OffsetDateTime,
    ) -> Option<Cached> {
        let m = map.lock().unwrap_or_else(|e| e.into_inner());
        m.get(key).filter(|c| c.expires > now).cloned()
    }

    fn remember(map: &Mutex<HashMap<String, Cached>>, key: String, c: Cached) {
        let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 100_000 {
            m.clear();
        }
        m.insert(key, c);
    }

    async fn get_bytes(&self, req: reqwest::RequestBuilder, url: &str) -> Result<Vec<u8>, String> {
        let fut = async {
            let resp = req
                .send()
                .await
                .map_err(|e| format!("{url}: {}", chain(&e)))?;
            if !resp.status().is_success() {
                return Err(format!("{url}: HTTP {}", resp.status()));
            }
            if resp
                .content_length()
                .is_some_and(|n| n as usize > MAX_RESPONSE)
            {
                return Err(format!(
                    "{url}: the answer is larger than {MAX_RESPONSE} bytes"
                ));
            }
            let b = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
            if b.len() > MAX_RESPONSE {
                return Err(format!(
                    "{url}: the answer is larger than {MAX_RESPONSE} bytes"
                ));
            }
            Ok(b.to_vec())
        };
        // the client's timeout covers each request; this covers the whole exchange
        tokio::time::timeout(self.timeout + Duration::from_millis(500), fut)
            .await
            .map_err(|_| format!("{url}: no answer within {} ms", self.timeout.as_millis()))?
    }

    /// Revocation data for each query, as of `now`: the cache, else OCSP,
    /// else the CRL. Queries are answered concurrently.
    pub async fn fetch(&self, queries: &[Query], now: OffsetDateTime) -> Fetched {
        let mut set = tokio::task::JoinSet::new();
        for (i, q) in queries.iter().enumerate() {
            let (me, q) = (self.clone(), q.clone());
            set.spawn(async move { (i, me.one(&q, now).await) });
        }
        let mut results = Vec::with_capacity(queries.len());
        while let Some(r) = set.join_next().await {
            match r {
                Ok(x) => results.push(x),
                Err(e) => results.push((usize::MAX, Err(vec![format!("revocation fetch: {e}")]))),
            }
        }
        results.sort_by_key(|(i, _)| *i);
        let mut out = Fetched::default();
        for (_, r) in results {
            match r {
                Ok((der, true)) => out.data.add_ocsp(&der),
                Ok((der, false)) => out.data.add_crl(&der),
                Err(e) => out.errors.extend(e),
            }
        }
        out
    }

    async fn one(&self, q: &Query, now: OffsetDateTime) -> Result<(Vec<u8>, bool), Vec<String>> {
        let key = q.key();
        if let Some(c) = Self::cached(&self.cache, &key, now) {
            self.count(|s| s.cache_hits += 1);
            return Ok((c.der, c.ocsp));
        }
        let mut errors = vec![];
        let usable = |e: &Evidence| e.fresh_for(now, self.max_age);
        for url in &q.ocsp_urls {
            let body = match bewahr_core::signature::revocation::ocsp_request(&q.cert, &q.issuer) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(e.to_string());
                    break;
                }
            };
            self.count(|s| s.ocsp_requests += 1);
            let req = self
                .http
                .post(url)
                .header("content-type", "application/ocsp-request")
                .body(body);
            match self.get_bytes(req, url).await {
                Ok(der) => match check_ocsp(&der, &q.cert, &q.issuer) {
                    Ok(e) if usable(&e) => {
                        let c = Cached {
                            der: der.clone(),
                            ocsp: true,
                            expires: e.expires(self.max_age),
                        };
                        Self::remember(&self.cache, key, c);
                        return Ok((der, true));
                    }
                    Ok(_) => errors.push(format!("OCSP {url}: the answer is not fresh")),
                    Err(e) => errors.push(format!("OCSP {url}: {e}")),
                },
                Err(e) => errors.push(format!("OCSP {e}")),
            }
        }
        for url in &q.crl_urls {
            let der = match Self::cached(&self.crls, url, now) {
                Some(c) => {
                    self.count(|s| s.cache_hits += 1);
                    c.der
                }
                None => {
                    self.count(|s| s.crl_requests += 1);
                    match self.get_bytes(self.http.get(url), url).await {
                        Ok(d) => d,
                        Err(e) => {
                            errors.push(format!("CRL {e}"));
                            continue;
                        }
                    }
                }
            };
            match check_crl(&der, &q.cert, &q.issuer) {
                Ok(e) if usable(&e) => {
                    let c = Cached {
                        der: der.clone(),
                        ocsp: false,
                        expires: e.expires(self.max_age),
                    };
                    Self::remember(&self.crls, url.clone(), c);
                    return Ok((der, false));
                }
                Ok(_) => errors.push(format!("CRL {url}: not fresh")),
                Err(e) => errors.push(format!("CRL {url}: {e}")),
            }
        }
        if q.ocsp_urls.is_empty() && q.crl_urls.is_empty() {
            errors.push(format!(
                "{} names no OCSP responder and no CRL distribution point",
                bewahr_core::tsp::trust::subject(&q.cert)
            ));
        }
        self.count(|s| s.failures += 1);
        Err(errors)
    }
}

/// An error with its causes, for messages that say what really failed.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
