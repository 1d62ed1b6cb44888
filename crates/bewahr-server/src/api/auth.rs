//! Authentication (bearer tokens) for every endpoint but `/healthz`, `/readyz`,
//! the S.4 WSDL and its schemas; and the role and tenant checks the handlers make.

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

/// Set by a handler on its response when the request is no one's doing
/// but a page's own refresh (the dashboard's live panels and plot data,
/// every few seconds while it is open): not written to the audit trail
/// (the page itself was).
#[derive(Clone, Copy, Debug)]
pub struct Unrecorded;

/// Set by a handler on its response: what the audit entry should say besides the result.
#[derive(Clone, Debug)]
pub struct AuditDetail(pub String);

/// The archive object a request is about, if its path names a valid one.
fn aoid_of(path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("/v1/objects/")
        .or_else(|| path.strip_prefix("/ui/objects/"))?;
    let aoid = rest.split('/').next()?;
    crate::ids::Aoid::parse(aoid)
        .ok()
        .map(crate::ids::Aoid::into_string)
}

/// The client's address, as the serve loop saw it (`None` in tests that
/// call the router directly: they all count as one unknown address).
fn peer_of(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Puts the request's [`Principal`] into its extensions, or answers 401;
/// records every authenticated request in the audit trail. Failed
/// authentications are counted per client address and recorded aggregated
/// ([`AuthGuard`]); an address over its failure budget gets 429 before its
/// credentials are looked up.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // the health checks, and the S.4 WSDL and its schemas (public documents
    // a SOAP client builds itself from)
    let public = path == "/healthz"
        || path == "/readyz"
        || (req.method() == axum::http::Method::GET
            && (path == "/s4" || path.starts_with("/s4/schemas/")));
    if public || crate::ui::is_public(&path) {
        return next.run(req).await;
    }
    // the web interface's session stands for the credential it was opened
    // with: on every page of the interface, and elsewhere only for reading
    // (the downloads its pages link to), never for changing anything
    // outside `/ui`, whose forms carry a CSRF token
    let ui = crate::ui::is_ui(&req);
    let session = if !req.headers().contains_key(header::AUTHORIZATION)
        && (ui
            || matches!(
                *req.method(),
                axum::http::Method::GET | axum::http::Method::HEAD
            )) {
        state.ui.sessions.of(req.headers())
    } else {
        None
    };
    if ui && session.is_none() {
        let to = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| path.clone());
        return crate::ui::to_login(&to);
    }
    let peer = peer_of(&req);
    let action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "(no route)".into())
    );
    let now = state.archive.now();
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
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
    let session_token = match session.as_deref().map(|s| &s.credential) {
        Some(crate::ui::Credential::Token(t)) => Some(t.clone()),
        _ => None,
    };
    let bearer = match &session_token {
        Some(t) => Some(Some(t.as_str())),
        None => req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().ok().and_then(|s| s.strip_prefix("Bearer "))),
    };
    let cached = match bearer {
        Some(Some(t)) => state.token_cache.get(t.trim()),
        _ => None,
    };
    let result = match cached {
        Some(p) => Ok(p),
        None => {
            // anything that would cost a lookup: refused while the address is blocked
            if let Some(wait) = state.auth_guard.blocked(peer) {
                metrics::counter!("bewahr_auth_blocked_total").increment(1);
                return ApiError::TooManyRequests(wait).into_response();
            }
            match bearer {
                None => match req.extensions().get::<crate::tls::ClientChain>().cloned() {
                    Some(chain) => client_principal(&state, &chain, now).await,
                    None => Err(AuthError::Missing),
                },
                Some(None) => Err(AuthError::Malformed),
                Some(Some(t)) => {
                    let r = state.catalog.authenticate(t.trim(), now_ms).await;
                    if let Ok((p, expires_ms)) = &r {
                        let left = expires_ms.map(|e| {
                            std::time::Duration::from_millis(e.saturating_sub(now_ms).max(0) as u64)
                        });
                        state.token_cache.put(t.trim(), p, left);
                    }
                    r.map(|(p, _)| p)
                }
            }
        }
    };
    match result {
        Ok(p) => {
            if let Err(wait) = state.limits.take(&p.token) {
                metrics::counter!("bewahr_rate_limited_total").increment(1);
                let who = format!("{} token {}", p.role.as_str(), p.token);
                let tenant = p.tenant.as_ref().map(|t| t.to_string());
                let e = entry(who, tenant, aoid_of(&path), "429", "rate limit".into());
                state.audit.record(e).await;
                return ApiError::TooManyRequests(wait).into_response();
            }
            req.extensions_mut().insert(p.clone());
            if let Some(s) = &session {
                req.extensions_mut().insert(s.clone());
            }
            let resp = next.run(req).await;
            if resp.extensions().get::<Unrecorded>().is_some() {
                return resp;
            }
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
                .record(entry(
                    who,
                    p.tenant.as_ref().map(|t| t.to_string()),
                    aoid,
                    &status,
                    detail,
                ))
                .await;
            resp
        }
        Err(AuthError::Unavailable(e)) => {
            // the credentials could not be checked: not the client's fault
            ApiError::Unavailable(e).into_response()
        }
        Err(e) if session.is_some() => {
            // the session's credential no longer holds (revoked, expired,
            // no client certificate on this connection): sign in again
            tracing::debug!(reason = %e, %path, "web interface session ended");
            state.ui.sessions.close(req.headers());
            crate::ui::to_login(if ui { &path } else { "/ui/" })
        }
        Err(e) => {
            // the client learns only that it is unauthorized; the log and the trail say why
            tracing::debug!(reason = %e, %path, ?peer, "authentication failed");
            metrics::counter!("bewahr_auth_failures_total").increment(1);
            let due = state.auth_guard.failed(peer, &e.to_string(), now_ms);
            for e in due {
                state.audit.record(e).await;
            }
            ApiError::Unauthorized.into_response()
        }
    }
}

/// Failed authentications per client address: a GCRA limit ([`governor`])
/// that, once spent, blocks the address for the time the limiter names,
/// and counts that are written to the audit trail once per interval and
/// address (one entry: how many, from where, between when, the last
/// reason), so that a flood neither fills the trail nor queues behind the
/// submissions' audit entries.
#[derive(Clone)]
pub struct AuthGuard {
    limiter: Option<std::sync::Arc<governor::DefaultKeyedRateLimiter<Option<std::net::IpAddr>>>>,
    blocked: moka::sync::Cache<Option<std::net::IpAddr>, std::time::Instant>,
    counts: std::sync::Arc<std::sync::Mutex<FailureWindow>>,
    interval_ms: i64,
}

#[derive(Default)]
struct FailureWindow {
    start_ms: i64,
    by_peer: std::collections::HashMap<Option<std::net::IpAddr>, FailureCount>,
    /// Failures of addresses beyond [`MAX_TRACKED`] in this window.
    others: u64,
    /// When a failure was last written at once (at most once per interval).
    announced_ms: Option<i64>,
}

struct FailureCount {
    count: u64,
    first_ms: i64,
    last_ms: i64,
    last_reason: String,
}

/// Addresses counted separately per interval (the rest are summed up).
const MAX_TRACKED: usize = 10_000;

impl AuthGuard {
    /// `per_minute` failures per address (0: no limit), `burst` at once;
    /// counts go to the audit trail every `interval`.
    pub fn new(per_minute: u32, burst: u32, interval: std::time::Duration) -> Self {
        let limiter = keyed_limiter(per_minute, burst, governor::Quota::per_minute);
        AuthGuard {
            limiter,
            blocked: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
            counts: Default::default(),
            interval_ms: interval.as_millis().max(1) as i64,
        }
    }

    /// Seconds the address must wait, if it is blocked.
    pub fn blocked(&self, peer: Option<std::net::IpAddr>) -> Option<u64> {
        let until = self.blocked.get(&peer)?;
        let now = std::time::Instant::now();
        if until <= now {
            self.blocked.invalidate(&peer);
            return None;
        }
        Some((until - now).as_secs().max(1))
    }

    /// Counts a failure; blocks the address once its budget is spent.
    /// Returns the audit entries that are due (windows that ended).
    pub fn failed(&self, peer: Option<std::net::IpAddr>, reason: &str, now_ms: i64) -> Vec<Entry> {
        if let Some(l) = &self.limiter {
            if let Err(not_until) = l.check_key(&peer) {
                let wait = wait_of(&not_until);
                self.blocked.insert(
                    peer,
                    std::time::Instant::now() + wait.max(std::time::Duration::from_secs(1)),
                );
                tracing::warn!(
                    ?peer,
                    wait_s = wait.as_secs(),
                    "authentication failures: address blocked"
                );
            }
            if l.len() > 100_000 {
                l.retain_recent();
            }
        }
        let mut due = self.flush(now_ms, false);
        let Ok(mut w) = self.counts.lock() else {
            return due;
        };
        if w.by_peer.is_empty() && w.others == 0 && w.start_ms == 0 {
            w.start_ms = now_ms;
        }
        let tracked = w.by_peer.len();
        match w.by_peer.get_mut(&peer) {
            Some(c) => {
                c.count += 1;
                c.last_ms = now_ms;
                if c.last_reason != reason {
                    c.last_reason = reason.to_string();
                }
            }
            None if tracked < MAX_TRACKED => {
                w.by_peer.insert(
                    peer,
                    FailureCount {
                        count: 1,
                        first_ms: now_ms,
                        last_ms: now_ms,
                        last_reason: reason.to_string(),
                    },
                );
            }
            None => w.others += 1,
        }
        // the first failure after a quiet interval is written at once (an
        // admin sees an attack start), the rest when the window ends
        let quiet = w
            .announced_ms
            .is_none_or(|t| now_ms - t >= self.interval_ms);
        if quiet {
            w.announced_ms = Some(now_ms);
            drop(w);
            due.extend(self.flush(now_ms, true));
        }
        due
    }

    /// The entries of the window if it has ended (or `force`), and a new window.
    pub fn flush(&self, now_ms: i64, force: bool) -> Vec<Entry> {
        let Ok(mut w) = self.counts.lock() else {
            return vec![];
        };
        if w.by_peer.is_empty() && w.others == 0 {
            return vec![];
        }
        if !force && now_ms - w.start_ms < self.interval_ms {
            return vec![];
        }
        let announced_ms = w.announced_ms;
        let w = std::mem::replace(
            &mut *w,
            FailureWindow {
                start_ms: now_ms,
                announced_ms,
                ..Default::default()
            },
        );
        let mut out: Vec<Entry> = w
            .by_peer
            .into_iter()
            .map(|(peer, c)| {
                failure_entry(
                    c.last_ms,
                    format!(
                        "{} failed authentication{} from {} between {} and {}; last reason: {}",
                        c.count,
                        if c.count == 1 { "" } else { "s" },
                        peer.map_or("an unknown address".to_string(), |p| p.to_string()),
                        crate::catalog::rfc3339_ms(c.first_ms),
                        crate::catalog::rfc3339_ms(c.last_ms),
                        c.last_reason
                    ),
                )
            })
            .collect();
        if w.others > 0 {
            out.push(failure_entry(
                now_ms,
                format!(
                    "{} failed authentications from more than {MAX_TRACKED} other addresses since {}",
                    w.others,
                    crate::catalog::rfc3339_ms(w.start_ms)
                ),
            ));
        }
        out.sort_by_key(|e| e.at_ms);
        out
    }
}

/// The audit entry of aggregated authentication failures.
fn failure_entry(at_ms: i64, detail: String) -> Entry {
    Entry {
        at_ms,
        actor: "anonymous".into(),
        tenant: None,
        action: "authentication failed".into(),
        aoid: None,
        result: "401".into(),
        detail,
    }
}

/// A keyed GCRA limiter of `n` per `period` with `burst` at once; `None` when `n` is 0.
fn keyed_limiter<K: std::hash::Hash + Eq + Clone>(
    n: u32,
    burst: u32,
    per: fn(std::num::NonZeroU32) -> governor::Quota,
) -> Option<std::sync::Arc<governor::DefaultKeyedRateLimiter<K>>> {
    std::num::NonZeroU32::new(n).map(|n| {
        let quota =
            per(n).allow_burst(std::num::NonZeroU32::new(burst.max(1)).expect("at least 1"));
        std::sync::Arc::new(governor::RateLimiter::keyed(quota))
    })
}

/// How long a refused key must wait, from now.
fn wait_of(not_until: &governor::NotUntil<governor::clock::QuantaInstant>) -> std::time::Duration {
    use governor::clock::Clock;
    not_until.wait_time_from(governor::clock::DefaultClock::default().now())
}

/// Recently checked tokens, so that a busy client does not cost a catalog
/// lookup per request. An entry lives at most [`TOKEN_CACHE_TTL`] (and never
/// past the token's expiry); revocation over HTTP empties the cache at once,
/// one on the command line takes effect within the TTL. Keyed by the
/// token's SHA-256 (the cache never holds a secret), bounded in size.
#[derive(Clone)]
pub struct TokenCache {
    cache: moka::sync::Cache<[u8; 32], (Principal, std::time::Instant)>,
}

/// How long a checked token is trusted without asking the catalog again.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TOKEN_CACHE_TTL)
                .build(),
        }
    }
}

impl TokenCache {
    fn key(token: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).into()
    }
    fn get(&self, token: &str) -> Option<Principal> {
        let (p, until) = self.cache.get(&Self::key(token))?;
        (std::time::Instant::now() < until).then_some(p)
    }
    fn put(&self, token: &str, p: &Principal, expires_in: Option<std::time::Duration>) {
        let ttl = expires_in.map_or(TOKEN_CACHE_TTL, |e| e.min(TOKEN_CACHE_TTL));
        self.cache.insert(
            Self::key(token),
            (p.clone(), std::time::Instant::now() + ttl),
        );
    }
    /// Forgets every token (after a revocation).
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}

/// Per-token request rate limits (GCRA, [`governor`], in memory).
#[derive(Clone)]
pub struct RateLimits {
    limiter: Option<std::sync::Arc<governor::DefaultKeyedRateLimiter<String>>>,
}

impl RateLimits {
    /// `per_second` 0 turns the limits off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimits {
            limiter: keyed_limiter(per_second, burst, governor::Quota::per_second),
        }
    }

    /// `Ok` to go on, or the seconds to wait.
    pub fn take(&self, token: &str) -> Result<(), u64> {
        let Some(l) = &self.limiter else {
            return Ok(());
        };
        if l.len() > 100_000 {
            l.retain_recent(); // bounded memory: forget tokens whose buckets are full again
        }
        l.check_key(&token.to_string())
            .map_err(|not_until| wait_of(&not_until).as_secs_f64().ceil().max(1.0) as u64)
    }
}

/// The principal a client certificate names: a path to `server.client_ca`
/// valid now, the leaf's extendedKeyUsage naming id-kp-clientAuth (RFC 5280
/// 4.2.1.12; a leaf without the extension is refused too: every client
/// certificate of a serious PKI says what it is for), and no certificate on
/// the path revoked (OCSP or CRL, fetched and cached until nextUpdate; a
/// certificate that names neither responder nor CRL cannot be checked and
/// is accepted, one whose status cannot be had is refused). O = the tenant,
/// OU = the role.
pub(crate) async fn client_principal(
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
        &hex::encode(bewahr_core::alg::DigestAlgorithm::Sha256.digest(chain.0[0].as_ref()))[..16]
    );
    if state.client_ca.is_empty() {
        return Err(AuthError::Unknown(id));
    }
    let pool: Vec<_> = certs[1..]
        .iter()
        .chain(state.client_ca.iter())
        .cloned()
        .collect();
    let path = bewahr_core::tsp::trust::validated_path(leaf, &pool, &state.client_ca, now)
        .map_err(|_| AuthError::Unknown(id.clone()))?;
    if !has_client_auth(leaf) {
        return Err(AuthError::NotForClients(id));
    }
    let mut queries = Vec::new();
    for pair in path.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        use bewahr_core::signature::certs::{crl_urls, ocsp_urls};
        if !ocsp_urls(cert).is_empty() || !crl_urls(cert).is_empty() {
            queries.push((cert.clone(), issuer.clone()));
        }
    }
    if !queries.is_empty() {
        let q: Vec<_> = queries
            .iter()
            .map(|(c, i)| bewahr_core::signature::Query::new(c, i))
            .collect();
        let fetched = state.client_cert_fetcher.fetch(&q, now).await;
        for (cert, issuer) in &queries {
            let (best, errors) = bewahr_core::signature::revocation::best_status(
                &fetched.data,
                cert,
                issuer,
                now,
                time::Duration::days(1),
            );
            let who = bewahr_core::tsp::trust::subject(cert);
            match best {
                Some((ev, _)) => match ev.status {
                    bewahr_core::signature::revocation::Status::Good => {}
                    bewahr_core::signature::revocation::Status::Revoked { .. } => {
                        return Err(AuthError::CertificateRevoked(format!("{id} ({who})")))
                    }
                    bewahr_core::signature::revocation::Status::Unknown => {
                        return Err(AuthError::NoRevocationStatus(format!(
                            "{id} ({who}): the responder does not know it"
                        )))
                    }
                },
                None => {
                    let why = fetched
                        .errors
                        .iter()
                        .chain(errors.iter())
                        .cloned()
                        .collect::<Vec<_>>();
                    return Err(AuthError::NoRevocationStatus(format!(
                        "{id} ({who}): {}",
                        if why.is_empty() {
                            "no answer".to_string()
                        } else {
                            why.join("; ")
                        }
                    )));
                }
            }
        }
    }
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
        _ => Some(
            org.and_then(|o| crate::ids::TenantId::parse(&o).ok())
                .ok_or_else(|| AuthError::Unknown(id.clone()))?,
        ),
    };
    Ok(Principal {
        token: id,
        tenant,
        role,
    })
}

/// Whether the certificate's extendedKeyUsage names id-kp-clientAuth (or anyExtendedKeyUsage).
fn has_client_auth(cert: &x509_cert::Certificate) -> bool {
    use der::Decode;
    const CLIENT_AUTH: const_oid::ObjectIdentifier =
        const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
    const ANY: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("2.5.29.37.0");
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE)
        .filter_map(|e| {
            x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok()
        })
        .any(|eku| eku.0.iter().any(|o| *o == CLIENT_AUTH || *o == ANY))
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
