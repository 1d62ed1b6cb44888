//! The HTTP interface (`/v1`, JSON, OpenAPI at `/v1/openapi.json`).
//! `app(state)` is the whole router; tests drive it with `oneshot`.

mod admin;
pub mod auth;
mod error;
pub mod extract;
mod objects;
mod service;
mod trail;

pub use error::{ApiError, ErrorBody};

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::OpenApi;

use crate::catalog::Catalog;
use crate::evidence::Evidence;
use crate::ingest::Ingest;
use crate::renewal::Renewer;
use crate::seal::{Sealer, Stamper};

/// Everything the handlers need, behind one `Arc`. axum clones the state
/// for every request and again for every middleware layer that takes it;
/// as a plain struct of some twenty handles that was about a hundred
/// atomic reference counts touched per request from both cores (with their
/// drops 3.2% of the samples of 4 KB submissions, docs/benchmarks.md), now it is one.
/// The fields are read through `Deref`: `state.catalog` as before.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The archive service: every object operation goes through it.
    pub archive: crate::service::ArchiveService,
    pub ingest: Ingest,
    pub catalog: Catalog,
    pub evidence: Evidence,
    pub stamper: Stamper,
    pub sealer: Sealer,
    pub renewer: Renewer,
    pub audit: crate::audit::Audit,
    pub limits: auth::RateLimits,
    pub token_cache: auth::TokenCache,
    /// Failed authentications per client address (limit and aggregated audit).
    pub auth_guard: auth::AuthGuard,
    /// Revocation status of client certificates (OCSP, CRL; cached).
    pub client_cert_fetcher: bewahr_net::fetch::Fetcher,
    /// Limits and timeouts of the HTTP interface.
    pub http: HttpPolicy,
    /// The workers and their states.
    pub supervisor: crate::supervisor::Supervisor,
    /// The CA of client certificates (mutual TLS); empty: tokens only.
    pub client_ca: Arc<Vec<x509_cert::Certificate>>,
    pub metrics: PrometheusHandle,
    /// Seconds a client is told to wait before asking again for pending evidence.
    pub retry_after_secs: u64,
    /// The evidence profile `POST /v1/verify` judges by (`[evidence] profile`).
    pub evidence_profile: bewahr_core::verify::Profile,
    /// The sweeper for unreferenced content (`/v1/admin/sweeper`).
    pub sweeper: crate::sweeper::Sweeper,
    /// This node's place among several (`/v1/admin/status`, `/healthz`).
    pub cluster: crate::cluster::Cluster,
    /// The web interface (`/ui/`): templates and sessions.
    pub ui: crate::ui::Ui,
}

/// Reads one multipart part chunk by chunk, refusing it (413) as soon as it
/// passes `cap` bytes: a part is never buffered beyond its cap.
pub(crate) async fn read_part(
    field: &mut axum::extract::multipart::Field<'_>,
    cap: usize,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ApiError::rejected("bad_multipart", e.status(), e.body_text()))?
    {
        if out.len() + chunk.len() > cap {
            return Err(ApiError::TooLarge(format!(
                "{what} is larger than {cap} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The HTTP interface's limits, all applied inside [`app`].
#[derive(Clone, Debug)]
pub struct HttpPolicy {
    /// The largest body of every route but the uploads (submissions and
    /// `POST /v1/verify`, which stream and have their own limits).
    pub max_request_body: usize,
    /// A request (body included) must be answered within this.
    pub request_timeout: std::time::Duration,
    /// The largest SOAP message (S.4).
    pub max_soap_message: usize,
    /// The server's address for clients (no trailing slash); `None`: from
    /// the request's `Host`.
    pub public_url: Option<String>,
    /// Whether the listener speaks TLS (the scheme of derived addresses).
    pub tls: bool,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            max_request_body: 1 << 20,
            request_timeout: std::time::Duration::from_secs(3600),
            max_soap_message: 64 << 20,
            public_url: None,
            tls: false,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bewahr",
        description = "Long-term preservation archive: submit documents, get RFC 4998 evidence records."
    ),
    paths(
        objects::submit,
        objects::submit_version,
        objects::search,
        objects::get_object,
        objects::get_content,
        objects::get_evidence,
        objects::get_asic,
        objects::get_validation,
        objects::get_validation_item,
        service::verify,
        service::tsa_certificates,
        service::healthz,
        service::readyz,
        service::metrics,
        admin::plan,
        admin::start,
        admin::list,
        admin::get,
        admin::pause,
        admin::resume,
        admin::create_tenant,
        admin::tenants,
        admin::create_token,
        admin::revoke_token,
        admin::list_tokens,
        admin::workers,
        admin::sweeper,
        admin::sweep,
        admin::algorithms,
        admin::replace_algorithms,
        trail::trace,
        trail::seals,
        trail::seal_evidence,
        trail::seal_head,
        objects::delete_object,
        objects::legal_hold,
    ),
    components(schemas(
        objects::Submitted,
        crate::catalog::ObjectView,
        crate::catalog::VersionView,
        crate::catalog::BatchView,
        crate::catalog::Metadata,
        crate::catalog::State,
        ErrorBody,
        error::ErrorDetail,
        service::Health,
        service::HealthStatus,
        crate::supervisor::WorkerReport,
        crate::supervisor::WorkerState,
        crate::seal::SealerState,
        crate::renewal::SchedulerState,
        crate::access::TokenView,
        crate::seal::SealerStatus,
        crate::renewal::Plan,
        crate::renewal::PlanEntry,
        crate::renewal::SchedulerStatus,
        crate::catalog::RunView,
        crate::catalog::RunState,
        crate::catalog::NotRenewed,
        crate::catalog::NotRenewedReason,
        crate::sweeper::SweeperStatus,
        crate::sweeper::SweeperState,
        crate::sweeper::SweepRun,
        crate::cluster::ClusterStatus,
        admin::RenewalRequest,
        admin::Queued,
        admin::Runs,
        admin::NewTenant,
        admin::NewToken,
        admin::CreatedToken,
        admin::Catalogue,
        crate::audit::EntryView,
        crate::audit::seals::SealView,
        crate::catalog::Deleted,
        crate::service::DeletionRequest,
        crate::service::SearchPage,
        crate::catalog::search::Found,
        objects::LegalHold
    ))
)]
pub struct ApiDoc;

async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    metrics::histogram!("bewahr_http_request_duration_seconds", "method" => method, "route" => route, "status" => resp.status().as_u16().to_string())
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Refuses a body whose declared length is over `limit` before reading it
/// (413, the API's error body); a streamed body without a length is cut
/// off at the limit by the extractors ([`DefaultBodyLimit`]), and a
/// handler that takes no body never reads it.
async fn declared_size(
    axum::extract::State(limit): axum::extract::State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return axum::response::IntoResponse::into_response(ApiError::TooLarge(format!(
            "this request takes a body of at most {limit} bytes"
        )));
    }
    next.run(req).await
}

/// The router, with all HTTP policy: body limits (a small one for every
/// route, lifted on the upload routes, which stream against their own),
/// the request timeout, authentication and metrics.
pub fn app(state: AppState) -> Router {
    let small = state.http.max_request_body;
    // the uploads: no blanket limit, each part and the document against its cap
    let uploads = Router::new()
        .route("/v1/objects", post(objects::submit).get(objects::search))
        .route("/v1/objects/{aoid}/versions", post(objects::submit_version))
        .route("/v1/verify", post(service::verify))
        .merge(crate::s4::upload_routes())
        .layer(DefaultBodyLimit::disable());
    let rest = Router::new()
        .route(
            "/v1/objects/{aoid}",
            get(objects::get_object).delete(objects::delete_object),
        )
        .route(
            "/v1/objects/{aoid}/legal-hold",
            axum::routing::put(objects::legal_hold),
        )
        .route(
            "/v1/objects/{aoid}/versions/{n}/content",
            get(objects::get_content),
        )
        .route(
            "/v1/objects/{aoid}/versions/{n}/asic",
            get(objects::get_asic),
        )
        .route("/v1/objects/{aoid}/evidence", get(objects::get_evidence))
        .route(
            "/v1/objects/{aoid}/versions/{n}/validation",
            get(objects::get_validation),
        )
        .route(
            "/v1/objects/{aoid}/versions/{n}/validation/{item}",
            get(objects::get_validation_item),
        )
        .route("/v1/audit", get(trail::trace))
        .route("/v1/audit/seals", get(trail::seals))
        .route("/v1/audit/seals/{seq}/evidence", get(trail::seal_evidence))
        .route("/v1/audit/seals/{seq}/head", get(trail::seal_head))
        .route("/v1/admin/renewals", get(admin::list).post(admin::start))
        .route("/v1/admin/renewals/plan", get(admin::plan))
        .route("/v1/admin/renewals/scheduler/pause", post(admin::pause))
        .route("/v1/admin/renewals/scheduler/resume", post(admin::resume))
        .route("/v1/admin/renewals/{id}", get(admin::get))
        .route(
            "/v1/admin/tenants",
            get(admin::tenants).post(admin::create_tenant),
        )
        .route(
            "/v1/admin/tokens",
            get(admin::list_tokens).post(admin::create_token),
        )
        .route(
            "/v1/admin/algorithms",
            get(admin::algorithms).put(admin::replace_algorithms),
        )
        .route(
            "/v1/admin/tokens/{id}",
            axum::routing::delete(admin::revoke_token),
        )
        .route("/v1/admin/workers", get(admin::workers))
        .route("/v1/admin/sweeper", get(admin::sweeper))
        .route("/v1/admin/sweeper/run", post(admin::sweep))
        .route("/v1/tsa/certificates", get(service::tsa_certificates))
        .route("/v1/openapi.json", get(service::openapi))
        .route("/healthz", get(service::healthz))
        .route("/readyz", get(service::readyz))
        .route("/metrics", get(service::metrics))
        // a declared length over the limit is refused before a byte is
        // read; a streamed body is cut off at the limit
        .layer(DefaultBodyLimit::max(small))
        .layer(axum::middleware::from_fn_with_state(small, declared_size));
    // S.4 and TS 119 512: whole messages (documents inside, in base64), up to their own limit
    let soap = state.http.max_soap_message;
    let s4 = crate::s4::routes()
        .merge(crate::pres::routes())
        .layer(DefaultBodyLimit::max(soap))
        .layer(axum::middleware::from_fn_with_state(soap, declared_size));
    // the web interface: its forms are small; the verify page lifts the
    // limit for its route and reads its parts against its own
    let ui = crate::ui::routes().layer(DefaultBodyLimit::max(small));
    uploads
        .merge(rest)
        .merge(s4)
        .merge(ui)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn(track))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.http.request_timeout,
        ))
        .with_state(state)
}
