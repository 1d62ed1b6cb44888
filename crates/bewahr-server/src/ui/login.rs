//! Signing in (an API token pasted into the form, or the connection's
//! client certificate) and out.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::session::{self, Credential, LOGIN_COOKIE};
use super::{i18n, local, render_status, Viewer};
use crate::access::AuthError;
use crate::api::AppState;
use crate::audit::Entry;

/// The login form's double-submit token lives this long (seconds).
const FORM_TTL: u64 = 600;

fn login_page(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    next: Option<&str>,
    error: Option<String>,
) -> Response {
    let token = session::random_secret();
    let mut r = render_status(
        state,
        v,
        status,
        "login.html",
        minijinja::context! {
            form_token => token.clone(),
            next => local(next).unwrap_or_default(),
            error => error,
            tls => state.http.tls,
        },
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        state
            .ui
            .sessions
            .set_cookie(LOGIN_COOKIE, &token, Some(FORM_TTL)),
    );
    r
}

pub async fn form(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    login_page(
        &state,
        &v,
        StatusCode::OK,
        q.get("next").map(String::as_str),
        None,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    /// `token` (default) or `certificate`.
    #[serde(default)]
    method: String,
    /// The double-submit token.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

fn peer(headers_ext: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    headers_ext
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

pub async fn submit(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    Form(f): Form<LoginForm>,
) -> Response {
    let w = i18n::words(v.lang);
    let next = (!f.next.is_empty()).then_some(f.next.as_str());
    // the form must come from our login page (its cookie and field agree)
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::same(expected.as_bytes(), f.csrf.as_bytes()) {
        return login_page(
            &state,
            &v,
            StatusCode::FORBIDDEN,
            next,
            Some(w["login_expired"].into()),
        );
    }
    let peer = peer(&ext);
    if let Some(wait) = state.auth_guard.blocked(peer) {
        return login_page(
            &state,
            &v,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            Some(format!("{} ({wait} {}).", w["login_blocked"], w["seconds"])),
        );
    }
    let now = state.archive.now();
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let (result, credential) = if f.method == "certificate" {
        let r = match ext.get::<crate::tls::ClientChain>() {
            Some(chain) => crate::api::auth::client_principal(&state, chain, now).await,
            None => Err(AuthError::Missing),
        };
        (r, Credential::Certificate)
    } else {
        let t = f.token.trim().to_string();
        let r = state.catalog.authenticate(&t, now_ms).await.map(|(p, _)| p);
        (r, Credential::Token(t))
    };
    let p = match result {
        Ok(p) => p,
        Err(AuthError::Unavailable(e)) => {
            return login_page(&state, &v, StatusCode::SERVICE_UNAVAILABLE, next, Some(e));
        }
        Err(e) => {
            tracing::debug!(reason = %e, "web interface: sign-in failed");
            metrics::counter!("bewahr_auth_failures_total").increment(1);
            for entry in state.auth_guard.failed(peer, &e.to_string(), now_ms) {
                state.audit.record(entry).await;
            }
            let msg = if f.method == "certificate" {
                w["login_cert_failed"]
            } else {
                w["login_failed"]
            };
            return login_page(&state, &v, StatusCode::UNAUTHORIZED, next, Some(msg.into()));
        }
    };
    let cookie = state.ui.sessions.open(credential);
    state
        .audit
        .record(Entry {
            at_ms: now_ms,
            actor: format!("{} token {}", p.role.as_str(), p.token),
            tenant: p.tenant.as_ref().map(|t| t.to_string()),
            action: "POST /ui/login".into(),
            aoid: None,
            result: "303".into(),
            detail: format!(
                "signed in to the web interface ({})",
                if f.method == "certificate" {
                    "client certificate"
                } else {
                    "API token"
                }
            ),
        })
        .await;
    let to = local(next).unwrap_or_else(|| super::home(p.role).to_string());
    let mut r = Redirect::to(&to).into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        state.ui.sessions.set_cookie(session::COOKIE, &cookie, None),
    );
    h.append(
        header::SET_COOKIE,
        state.ui.sessions.set_cookie(LOGIN_COOKIE, "", Some(0)),
    );
    r
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return super::csrf_refused(&state, &v);
    }
    state.ui.sessions.close(&headers);
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        state.ui.sessions.set_cookie(session::COOKIE, "", Some(0)),
    );
    r
}
