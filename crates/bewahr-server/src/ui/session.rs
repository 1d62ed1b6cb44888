//! Sessions of the web interface, their cookies and CSRF tokens.
//!
//! A session stands for the credential it was opened with: an API token
//! (kept in this process's memory only, never in the cookie) or the
//! client certificate of the TLS connection. Every request of a session
//! is authenticated again with that credential by the same code as the
//! API's (`api::auth::authenticate`), so a revoked or expired token ends
//! its sessions, and the same roles, tenant checks, rate limits and audit
//! trail apply.
//!
//! - The cookie (`bewahr_session`) holds 32 random bytes; the table is keyed
//!   by their SHA-256. HttpOnly, SameSite=Strict, Path=/, Secure when the
//!   server speaks TLS. A session ends after [`IDLE`] without a request,
//!   after [`LIFETIME`] in any case, and on logout.
//! - Every form that changes something carries the session's CSRF token
//!   (a hidden field `csrf`), compared in constant time. The login form,
//!   before a session exists, carries a token that must match a short-lived
//!   cookie of its own (`bewahr_login`, double submit).
//!
//! Contract: sessions live in the memory of one process. With several
//! nodes, the load balancer keeps a browser on one node (sticky sessions)
//! or the user signs in again on another.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use sha2::Digest;

/// The session cookie.
pub const COOKIE: &str = "bewahr_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "bewahr_login";
/// The language cookie (`de` or `en`; not a secret).
pub const LANG_COOKIE: &str = "bewahr_lang";
/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// And after this long in any case.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// What a session was opened with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An API token (its full text; checked again on every request).
    Token(String),
    /// The client certificate of the connection (checked on every request).
    Certificate,
}

/// One signed-in browser.
#[derive(Debug)]
pub struct Session {
    pub credential: Credential,
    /// The CSRF token of its forms.
    pub csrf: String,
    opened: std::time::Instant,
}

impl Session {
    /// Whether a form's `csrf` is this session's (constant time).
    pub fn csrf_ok(&self, given: &str) -> bool {
        same(self.csrf.as_bytes(), given.as_bytes())
    }
}

/// Constant-time comparison of two secrets.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes, base64url.
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .expect("the system's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn key(cookie: &str) -> [u8; 32] {
    sha2::Sha256::digest(cookie.as_bytes()).into()
}

/// The open sessions of this process.
#[derive(Clone)]
pub struct Sessions {
    open: moka::sync::Cache<[u8; 32], Arc<Session>>,
    /// Whether cookies are marked Secure (the server speaks TLS).
    secure: bool,
}

impl Sessions {
    pub fn new(secure: bool) -> Self {
        Sessions {
            open: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(IDLE)
                .time_to_live(LIFETIME)
                .build(),
            secure,
        }
    }

    /// Opens a session; returns the cookie's value.
    pub fn open(&self, credential: Credential) -> String {
        let cookie = random_secret();
        self.open.insert(
            key(&cookie),
            Arc::new(Session {
                credential,
                csrf: random_secret(),
                opened: std::time::Instant::now(),
            }),
        );
        cookie
    }

    /// The session a request's cookie names, if it is open.
    pub fn of(&self, headers: &HeaderMap) -> Option<Arc<Session>> {
        let c = cookie(headers, COOKIE)?;
        let s = self.open.get(&key(c))?;
        (s.opened.elapsed() < LIFETIME).then_some(s)
    }

    /// Ends the session a request's cookie names.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(c) = cookie(headers, COOKIE) {
            self.open.invalidate(&key(c));
        }
    }

    /// `Set-Cookie` for `name=value` (`max_age` in seconds; 0 removes it).
    pub fn set_cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if let Some(s) = max_age {
            v.push_str(&format!("; Max-Age={s}"));
        }
        if self.secure {
            v.push_str("; Secure");
        }
        HeaderValue::from_str(&v).expect("cookie values are base64url or fixed words")
    }
}

/// The value of cookie `name` in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_sessions() {
        let s = Sessions::new(true);
        let c = s.open(Credential::Token("bwr_x".into()));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("a=b; {COOKIE}={c}; bewahr_lang=en")
                .parse()
                .unwrap(),
        );
        let got = s.of(&h).unwrap();
        assert_eq!(got.credential, Credential::Token("bwr_x".into()));
        assert!(got.csrf_ok(&got.csrf.clone()));
        assert!(!got.csrf_ok("nope"));
        assert_eq!(cookie(&h, LANG_COOKIE), Some("en"));
        s.close(&h);
        assert!(s.of(&h).is_none());
        let set = s.set_cookie(COOKIE, "v", Some(0));
        assert_eq!(
            set.to_str().unwrap(),
            "bewahr_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        );
    }
}
