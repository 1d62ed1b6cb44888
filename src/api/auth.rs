//! Authentication (bearer tokens) for every endpoint but `/healthz` and
//! `/readyz`, and the role and tenant checks the handlers make.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::access::{AuthError, Principal, Role};
use crate::audit::Entry;

/// Set by a handler on its response when the request created an object
/// (the path does not name it yet), for the audit trail.
#[derive(Clone, Debug)]
pub struct CreatedObject(pub String);

/// Set by a handler on its response: what the audit entry should say besides the result.
#[derive(Clone, Debug)]
pub struct AuditDetail(pub String);

/// The archive object a request is about, if its path names a valid one.
fn aoid_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v1/objects/")?;
    let aoid = rest.split('/').next()?;
    super::objects::check_aoid(aoid).ok()?;
    Some(aoid.to_string())
}

/// Puts the request's [`Principal`] into its extensions, or answers 401;
/// records every request but health checks in the audit trail.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    let action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "(no route)".into())
    );
    let now_ms = ((state.ingest.clock)().unix_timestamp_nanos() / 1_000_000) as i64;
    let entry = |actor: String,
                 tenant: Option<String>,
                 aoid: Option<String>,
                 result: &str,
                 detail: String| Entry {
        at_ms: now_ms,
        actor,
        tenant,
        action: action.clone(),
        aoid,
        result: result.to_string(),
        detail,
    };
    let result = match req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")))
    {
        None => match req.extensions().get::<crate::tls::ClientChain>() {
            Some(chain) => client_principal(&state, chain, (state.ingest.clock)()),
            None => Err(AuthError::Missing),
        },
        Some(None) => Err(AuthError::Malformed),
        Some(Some(t)) => match state.token_cache.get(t.trim()) {
            Some(p) => Ok(p),
            None => {
                let r = state.catalog.authenticate(t.trim(), now_ms).await;
                if let Ok((p, expires_ms)) = &r {
                    let left = expires_ms.map(|e| {
                        std::time::Duration::from_millis(e.saturating_sub(now_ms).max(0) as u64)
                    });
                    state.token_cache.put(t.trim(), p, left);
                }
                r.map(|(p, _)| p)
            }
        },
    };
    match result {
        Ok(p) => {
            if let Err(wait) = state.limits.take(&p.token) {
                metrics::counter!("bewahr_rate_limited_total").increment(1);
                let who = format!("{} token {}", p.role.as_str(), p.token);
                let e = entry(who, p.tenant, aoid_of(&path), "429", "rate limit".into());
                state.audit.record(e).await;
                return ApiError::TooManyRequests(wait).into_response();
            }
            req.extensions_mut().insert(p.clone());
            let resp = next.run(req).await;
            let aoid = aoid_of(&path).or_else(|| {
                resp.extensions()
                    .get::<CreatedObject>()
                    .map(|c| c.0.clone())
            });
            let detail = resp
                .extensions()
                .get::<AuditDetail>()
                .map(|d| d.0.clone())
                .unwrap_or_default();
            let who = format!("{} token {}", p.role.as_str(), p.token);
            let status = resp.status().as_u16().to_string();
            state
                .audit
                .record(entry(who, p.tenant, aoid, &status, detail))
                .await;
            resp
        }
        Err(e) => {
            // the client learns only that it is unauthorized; the log and the trail say why
            tracing::warn!(reason = %e, %path, "authentication failed");
            metrics::counter!("bewahr_auth_failures_total").increment(1);
            let detail = format!("authentication failed: {e}");
            let e = entry("anonymous".into(), None, aoid_of(&path), "401", detail);
            state.audit.record(e).await;
            ApiError::Unauthorized.into_response()
        }
    }
}

/// Recently checked tokens, so that a busy client does not cost a catalog
/// lookup per request. An entry lives at most [`TOKEN_CACHE_TTL`] (and never
/// past the token's expiry); revocation over HTTP empties the cache at once,
/// one on the command line takes effect within the TTL.
#[derive(Clone, Default)]
pub struct TokenCache {
    map: std::sync::Arc<std::sync::Mutex<CachedTokens>>,
}

/// SHA-256 of a token → who it is, and until when that is trusted.
type CachedTokens = std::collections::HashMap<[u8; 32], (Principal, std::time::Instant)>;

/// How long a checked token is trusted without asking the catalog again.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl TokenCache {
    fn key(token: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).into()
    }
    fn get(&self, token: &str) -> Option<Principal> {
        let m = self.map.lock().ok()?;
        let (p, until) = m.get(&Self::key(token))?;
        (std::time::Instant::now() < *until).then(|| p.clone())
    }
    fn put(&self, token: &str, p: &Principal, expires_in: Option<std::time::Duration>) {
        let ttl = expires_in.map_or(TOKEN_CACHE_TTL, |e| e.min(TOKEN_CACHE_TTL));
        if let Ok(mut m) = self.map.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(
                Self::key(token),
                (p.clone(), std::time::Instant::now() + ttl),
            );
        }
    }
    /// Forgets every token (after a revocation).
    pub fn clear(&self) {
        if let Ok(mut m) = self.map.lock() {
            m.clear();
        }
    }
}

/// Per-token request rate limits (token buckets, in memory).
#[derive(Clone)]
pub struct RateLimits {
    per_second: f64,
    burst: f64,
    buckets: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>,
    >,
}

impl RateLimits {
    /// `per_second` 0 turns the limits off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimits {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Default::default(),
        }
    }

    /// `Ok` to go on, or the seconds to wait.
    pub fn take(&self, token: &str) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = std::time::Instant::now();
        let Ok(mut m) = self.buckets.lock() else {
            return Ok(());
        };
        if m.len() > 100_000 {
            m.clear(); // bounded memory; a reset only forgives
        }
        let b = m.entry(token.to_string()).or_insert((self.burst, now));
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * self.per_second).min(self.burst);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.0) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// The principal a client certificate names: a path to `server.client_ca`
/// valid now; O = the tenant, OU = the role.
fn client_principal(
    state: &AppState,
    chain: &crate::tls::ClientChain,
    now: time::OffsetDateTime,
) -> Result<Principal, AuthError> {
    use der::Decode;
    let certs: Vec<x509_cert::Certificate> = chain
        .0
        .iter()
        .map(|c| x509_cert::Certificate::from_der(c.as_ref()))
        .collect::<Result<_, _>>()
        .map_err(|_| AuthError::Malformed)?;
    let leaf = certs.first().ok_or(AuthError::Malformed)?;
    let id = format!(
        "cert:{}",
        &hex::encode(crate::alg::DigestAlgorithm::Sha256.digest(chain.0[0].as_ref()))[..16]
    );
    if state.client_ca.is_empty() {
        return Err(AuthError::Unknown(id));
    }
    let pool: Vec<_> = certs[1..]
        .iter()
        .chain(state.client_ca.iter())
        .cloned()
        .collect();
    crate::tsp::trust::validate_path(leaf, &pool, &state.client_ca, now)
        .map_err(|_| AuthError::Unknown(id.clone()))?;
    let (mut org, mut unit) = (None, None);
    for rdn in leaf.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let text = der::asn1::Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_string())
                .or_else(|_| {
                    der::asn1::PrintableStringRef::try_from(&atv.value)
                        .map(|s| s.as_str().to_string())
                })
                .ok();
            match atv.oid.to_string().as_str() {
                "2.5.4.10" => org = text,
                "2.5.4.11" => unit = text,
                _ => {}
            }
        }
    }
    let role = unit
        .as_deref()
        .and_then(|u| Role::parse(u).ok())
        .ok_or_else(|| AuthError::Unknown(id.clone()))?;
    let tenant = match role {
        Role::Operator => None,
        _ => Some(org.ok_or_else(|| AuthError::Unknown(id.clone()))?),
    };
    Ok(Principal {
        token: id,
        tenant,
        role,
    })
}

/// `403` unless the principal has one of `roles`.
pub fn require(p: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&p.role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a {} token may not do this",
            p.role.as_str()
        )))
    }
}

/// `404` unless `aoid` is an object of the principal's tenant (another
/// tenant's object is not found, not forbidden: no probing for AOIDs).
pub async fn own_object(state: &AppState, p: &Principal, aoid: &str) -> Result<(), ApiError> {
    own(state, p, aoid, false).await
}

/// As [`own_object`], also for a deleted object (its audit trail stays readable).
pub async fn own_object_or_deleted(
    state: &AppState,
    p: &Principal,
    aoid: &str,
) -> Result<(), ApiError> {
    own(state, p, aoid, true).await
}

async fn own(
    state: &AppState,
    p: &Principal,
    aoid: &str,
    deleted_too: bool,
) -> Result<(), ApiError> {
    match state.catalog.object_tenant(aoid, deleted_too).await? {
        Some(Some(t)) if p.tenant.as_deref() == Some(t.as_str()) => Ok(()),
        _ => Err(ApiError::NotFound("no such archive object".into())),
    }
}
