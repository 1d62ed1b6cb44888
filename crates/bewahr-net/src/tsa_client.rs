//! The RFC 3161 HTTP client (reqwest over rustls with ring): several TSAs
//! tried in order, each with a timeout and retries with backoff, optional
//! HTTP basic auth or a bearer token.

use std::time::Duration;

use const_oid::ObjectIdentifier as O;
use x509_cert::Certificate;

use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::tsp::request::{check_response, Granted, ResponseError, TsaRequest};

/// A request for `imprint` with a fresh 64-bit nonce from the system's
/// randomness (the core's `TsaRequest::with_nonce` takes it as a parameter).
pub fn new_request(algorithm: DigestAlgorithm, imprint: Vec<u8>, policy: Option<O>) -> TsaRequest {
    let mut nonce = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .expect("system randomness");
    TsaRequest::with_nonce(algorithm, imprint, nonce, policy)
}

/// How to authenticate to a TSA.
#[derive(Clone, Debug)]
pub enum TsaAuth {
    Basic { user: String, password: String },
    Bearer(String),
}

/// One configured TSA.
#[derive(Clone, Debug)]
pub struct TsaEndpoint {
    pub name: String,
    pub url: String,
    pub auth: Option<TsaAuth>,
    /// Policy to ask for (reqPolicy); the token must then carry it.
    pub policy: Option<O>,
    /// Certificates of this TSA or roots of its chain; empty means no path is checked here.
    pub trusted: Vec<Certificate>,
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    pub backoff: Duration,
    /// Extra headers (e.g. certomancer's `X-Certomancer-Fake-Time` in tests).
    pub headers: Vec<(String, String)>,
}

impl TsaEndpoint {
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        TsaEndpoint {
            name: name.into(),
            url: url.into(),
            auth: None,
            policy: None,
            trusted: vec![],
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(200),
            headers: vec![],
        }
    }
}

/// What went wrong with one attempt at one TSA.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AttemptError {
    #[error("HTTP: {0}")]
    Http(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("HTTP status {status}: {body}")]
    Status { status: u16, body: String },
    #[error("unexpected content type {0:?} (want application/timestamp-reply)")]
    ContentType(String),
    #[error(transparent)]
    Response(#[from] ResponseError),
}

impl AttemptError {
    /// Whether trying the same TSA again may help.
    pub fn transient(&self) -> bool {
        match self {
            AttemptError::Http(_) | AttemptError::Timeout(_) => true,
            AttemptError::Status { status, .. } => *status >= 500 || *status == 429,
            AttemptError::ContentType(_) => false,
            AttemptError::Response(ResponseError::Rejected { status, .. }) => *status == 3, // waiting
            AttemptError::Response(_) => false,
        }
    }
}

/// Every TSA failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no TSA issued a time-stamp: {}", .attempts.iter().map(|(n, e)| format!("{n}: {e}")).collect::<Vec<_>>().join("; "))]
pub struct ClientError {
    pub attempts: Vec<(String, AttemptError)>,
}

/// A time-stamp issued by a named TSA.
#[derive(Clone, Debug)]
pub struct Issued {
    pub tsa: String,
    pub granted: Granted,
}

/// The RFC 3161 client.
#[derive(Clone)]
pub struct TsaClient {
    http: reqwest::Client,
    endpoints: Vec<TsaEndpoint>,
}

impl TsaClient {
    pub fn new(endpoints: Vec<TsaEndpoint>) -> Result<Self, AttemptError> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("bewahr/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AttemptError::Http(e.to_string()))?;
        Ok(TsaClient { http, endpoints })
    }

    pub fn endpoints(&self) -> &[TsaEndpoint] {
        &self.endpoints
    }

    /// Asks the TSAs in order until one issues a token that passes every check.
    pub async fn timestamp(
        &self,
        alg: DigestAlgorithm,
        imprint: &[u8],
    ) -> Result<Issued, ClientError> {
        let mut attempts = Vec::new();
        for ep in &self.endpoints {
            let mut delay = ep.backoff;
            for attempt in 0..=ep.retries {
                let req = new_request(alg, imprint.to_vec(), ep.policy);
                match self.once(ep, &req).await {
                    Ok(granted) => {
                        return Ok(Issued {
                            tsa: ep.name.clone(),
                            granted,
                        })
                    }
                    Err(e) => {
                        tracing::warn!(tsa = %ep.name, attempt = attempt + 1, error = %e, "time-stamp request failed");
                        let transient = e.transient();
                        attempts.push((ep.name.clone(), e));
                        if !transient || attempt == ep.retries {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                }
            }
        }
        Err(ClientError { attempts })
    }

    /// One request to one TSA, fully checked.
    pub async fn once(&self, ep: &TsaEndpoint, req: &TsaRequest) -> Result<Granted, AttemptError> {
        let mut rb = self
            .http
            .post(&ep.url)
            .timeout(ep.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
            .header(reqwest::header::ACCEPT, "application/timestamp-reply")
            .body(req.to_der());
        rb = match &ep.auth {
            Some(TsaAuth::Basic { user, password }) => rb.basic_auth(user, Some(password)),
            Some(TsaAuth::Bearer(t)) => rb.bearer_auth(t),
            None => rb,
        };
        for (k, v) in &ep.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let resp = rb.send().await.map_err(|e| {
            if e.is_timeout() {
                AttemptError::Timeout(ep.timeout)
            } else {
                AttemptError::Http(e.to_string())
            }
        })?;
        let status = resp.status();
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                AttemptError::Timeout(ep.timeout)
            } else {
                AttemptError::Http(e.to_string())
            }
        })?;
        if !status.is_success() {
            return Err(AttemptError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            });
        }
        if !ct.is_empty()
            && !ct.starts_with("application/timestamp-reply")
            && !ct.starts_with("application/timestamp-response")
            && !ct.starts_with("application/octet-stream")
        {
            return Err(AttemptError::ContentType(ct));
        }
        Ok(check_response(req, &body, &ep.trusted)?)
    }
}
