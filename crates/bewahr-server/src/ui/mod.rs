//! The web interface at `/ui/`: auditors find an object, see its proof and
//! verify records; admins watch the archive. Served by `bewahr serve`
//! itself: server-rendered HTML (minijinja templates compiled into the
//! binary) that works without JavaScript; two vendored scripts (htmx for
//! the dashboard's live panels, uPlot for its plots; `ui/static/SOURCES.md`
//! records their versions, licences and checksums) and one of ours.
//!
//! Every page goes through the API's authentication
//! (`api::auth::authenticate`): a session ([`session`]) stands for the
//! credential it was opened with, so roles, tenant isolation, rate limits
//! and the audit trail are the API's. Pages call the archive service and
//! the workers' handles like the REST handlers do; nothing here reads
//! the store or the catalog around them.

mod admin;
mod assets;
pub mod i18n;
mod login;
mod objects;
pub mod session;
mod verify;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;

use crate::access::{Principal, Role};
use crate::api::AppState;
use i18n::Lang;
pub use session::{Credential, Session, Sessions};

/// The interface's templates and sessions.
pub struct Ui {
    env: Environment<'static>,
    pub sessions: Sessions,
    /// The last renewal plan computed for the dashboard (it is costly on a
    /// large catalog: computed on request, by the dry run).
    plan: std::sync::Mutex<Option<crate::renewal::Plan>>,
}

/// The templates, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../ui/templates/base.html")),
    ("login.html", include_str!("../../ui/templates/login.html")),
    (
        "objects.html",
        include_str!("../../ui/templates/objects.html"),
    ),
    (
        "object.html",
        include_str!("../../ui/templates/object.html"),
    ),
    (
        "report.html",
        include_str!("../../ui/templates/report.html"),
    ),
    (
        "verify.html",
        include_str!("../../ui/templates/verify.html"),
    ),
    ("admin.html", include_str!("../../ui/templates/admin.html")),
    (
        "admin_panels.html",
        include_str!("../../ui/templates/admin_panels.html"),
    ),
    ("error.html", include_str!("../../ui/templates/error.html")),
];

impl Ui {
    /// `secure`: the server speaks TLS (cookies are marked Secure).
    pub fn new(secure: bool) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env.add_filter("thousands", thousands);
        Ui {
            env,
            sessions: Sessions::new(secure),
            plan: Default::default(),
        }
    }
}

/// 1234567 → "1 234 567" (a thin space, as DIN 5008 and the English style guides allow).
fn thousands(v: i64) -> String {
    let s = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Who is looking, in which language: what every page's frame needs.
#[derive(Clone)]
pub struct Viewer {
    pub lang: Lang,
    pub principal: Option<Principal>,
    pub session: Option<Arc<Session>>,
    /// The path of the request (the language switch comes back to it).
    pub path: String,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Viewer {
            lang: lang_of(&parts.headers),
            principal: parts.extensions.get::<Principal>().cloned(),
            session: parts.extensions.get::<Arc<Session>>().cloned(),
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/ui/".into()),
        })
    }
}

impl Viewer {
    fn csrf(&self) -> &str {
        self.session.as_ref().map(|s| s.csrf.as_str()).unwrap_or("")
    }

    /// Whether a form's CSRF token is the session's.
    pub fn csrf_ok(&self, given: &str) -> bool {
        self.session.as_ref().is_some_and(|s| s.csrf_ok(given))
    }

    fn role(&self) -> Option<Role> {
        self.principal.as_ref().map(|p| p.role)
    }
}

/// The language a request asks for: its cookie, else German.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    session::cookie(headers, session::LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or(Lang::De)
}

/// Renders `name` with the frame's variables and `ctx`; an error page if
/// the template fails (a bug: the tests render every page).
pub(crate) fn render(state: &AppState, v: &Viewer, name: &str, ctx: minijinja::Value) -> Response {
    render_status(state, v, StatusCode::OK, name, ctx)
}

pub(crate) fn render_status(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    name: &str,
    ctx: minijinja::Value,
) -> Response {
    let role = v.role().map(Role::as_str).unwrap_or("");
    let tenant = v
        .principal
        .as_ref()
        .and_then(|p| p.tenant.as_ref())
        .map(|t| t.to_string());
    let frame = minijinja::context! {
        L => i18n::words(v.lang),
        lang => v.lang.code(),
        other_lang => match v.lang { Lang::De => "en", Lang::En => "de" },
        csrf => v.csrf(),
        role => role,
        tenant => tenant,
        who => v.principal.as_ref().map(|p| p.token.clone()),
        here => v.path.clone(),
        ..ctx
    };
    let html = state
        .ui
        .env
        .get_template(name)
        .and_then(|t| t.render(frame));
    match html {
        Ok(h) => page(status, h),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a page could not be rendered");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "<!doctype html><title>bewahr</title><p>internal error: {}</p>",
                    escape(&e.to_string())
                ),
            )
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An HTML response with the interface's security headers.
fn page(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    r
}

/// No inline scripts or styles, nothing from elsewhere, never in a frame,
/// never cached.
fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// An error page: `status` and what went wrong.
pub(crate) fn error_page(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    message: &str,
) -> Response {
    render_status(
        state,
        v,
        status,
        "error.html",
        minijinja::context! { status => status.as_u16(), message => message },
    )
}

/// A service error as an error page (the API's status for it).
pub(crate) fn service_error(
    state: &AppState,
    v: &Viewer,
    e: crate::service::ServiceError,
) -> Response {
    let message = e.to_string();
    let status = crate::api::ApiError::from(e).into_response().status();
    error_page(state, v, status, &message)
}

/// The form a CSRF check refused.
pub(crate) fn csrf_refused(state: &AppState, v: &Viewer) -> Response {
    error_page(
        state,
        v,
        StatusCode::FORBIDDEN,
        i18n::words(v.lang)["csrf_failed"],
    )
}

/// Paths under `/ui` that need no session: the login form, the static
/// files and the language switch.
pub fn is_public(path: &str) -> bool {
    path == "/ui/login" || path.starts_with("/ui/static/") || path.starts_with("/ui/lang/")
}

/// Where an unauthenticated request for a page is sent.
pub fn to_login(path_and_query: &str) -> Response {
    let next: String = form_urlencode(path_and_query);
    Redirect::to(&format!("/ui/login?next={next}")).into_response()
}

fn form_urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A page to go back to after login or a language switch: only a path of
/// this interface (never another site).
fn local(next: Option<&str>) -> Option<String> {
    let n = next?;
    (n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') && !n.contains("://"))
        .then(|| n.to_string())
}

/// The home page of a role.
fn home(role: Role) -> &'static str {
    match role {
        Role::Operator => "/ui/admin",
        _ => "/ui/objects",
    }
}

async fn index(v: Viewer) -> Response {
    Redirect::to(home(v.role().unwrap_or(Role::Auditor))).into_response()
}

/// The language switch: sets the cookie and goes back.
async fn switch_lang(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Path(code): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::De);
    let back = local(q.get("back").map(String::as_str)).unwrap_or_else(|| "/ui/".into());
    let mut r = Redirect::to(&back).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        state
            .ui
            .sessions
            .set_cookie(session::LANG_COOKIE, lang.code(), Some(365 * 86_400)),
    );
    r
}

/// The interface's routes (under the API's authentication, see [`is_public`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/logout", post(login::logout))
        .route("/ui/lang/{code}", get(switch_lang))
        .route("/ui/static/{name}", get(assets::serve))
        .route("/ui/objects", get(objects::search))
        .route("/ui/objects/{aoid}", get(objects::object))
        .route(
            "/ui/verify",
            get(verify::form)
                .post(verify::submit)
                .layer(axum::extract::DefaultBodyLimit::max(verify::LIMIT)),
        )
        .route("/ui/admin", get(admin::dashboard))
        .route("/ui/admin/panels", get(admin::panels))
        .route("/ui/admin/series.json", get(admin::series))
        .route("/ui/admin/dry-run", post(admin::dry_run))
}

/// Whether a request is for the interface.
pub fn is_ui(req: &Request) -> bool {
    let p = req.uri().path();
    p == "/ui" || p.starts_with("/ui/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_pages_to_go_back_to() {
        assert_eq!(
            local(Some("/ui/objects?x=1")).as_deref(),
            Some("/ui/objects?x=1")
        );
        for bad in [
            "https://evil.example/ui/",
            "//evil.example/ui/",
            "/v1/objects",
            "/ui/\\evil",
        ] {
            assert_eq!(local(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn every_template_parses() {
        let _ = Ui::new(false);
        assert_eq!(thousands(1234567), "1\u{2009}234\u{2009}567");
        assert_eq!(thousands(12), "12");
    }
}
