//! The HTTP interface (`/v1`, JSON, OpenAPI at `/v1/openapi.json`).
//! `app(state)` is the whole router; tests drive it with `oneshot`.

mod admin;
pub mod auth;
mod error;
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

/// Everything the handlers need.
#[derive(Clone)]
pub struct AppState {
    pub ingest: Ingest,
    pub catalog: Catalog,
    pub evidence: Evidence,
    pub stamper: Stamper,
    pub sealer: Sealer,
    pub renewer: Renewer,
    pub audit: crate::audit::Audit,
    pub limits: auth::RateLimits,
    pub token_cache: auth::TokenCache,
    /// The CA of client certificates (mutual TLS); empty: tokens only.
    pub client_ca: Arc<Vec<x509_cert::Certificate>>,
    pub metrics: PrometheusHandle,
    /// Seconds a client is told to wait before asking again for pending evidence.
    pub retry_after_secs: u64,
    /// The evidence profile `POST /v1/verify` judges by (`[evidence] profile`).
    pub evidence_profile: crate::verify::Profile,
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
        objects::get_object,
        objects::get_content,
        objects::get_evidence,
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
        admin::algorithms,
        admin::replace_algorithms,
        trail::trace,
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
        crate::seal::SealerStatus,
        crate::renewal::Plan,
        crate::renewal::PlanEntry,
        crate::renewal::SchedulerStatus,
        crate::catalog::RunView,
        admin::RenewalRequest,
        admin::Queued,
        admin::Runs,
        admin::NewTenant,
        admin::NewToken,
        admin::CreatedToken,
        admin::Catalogue,
        crate::audit::EntryView,
        crate::catalog::Deleted,
        objects::DeletionRequest,
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

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/objects", post(objects::submit))
        .route(
            "/v1/objects/{aoid}",
            get(objects::get_object).delete(objects::delete_object),
        )
        .route(
            "/v1/objects/{aoid}/legal-hold",
            axum::routing::put(objects::legal_hold),
        )
        .route("/v1/objects/{aoid}/versions", post(objects::submit_version))
        .route(
            "/v1/objects/{aoid}/versions/{n}/content",
            get(objects::get_content),
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
        .route("/v1/verify", post(service::verify))
        .route("/v1/audit", get(trail::trace))
        .route("/v1/admin/renewals", get(admin::list).post(admin::start))
        .route("/v1/admin/renewals/plan", get(admin::plan))
        .route("/v1/admin/renewals/scheduler/pause", post(admin::pause))
        .route("/v1/admin/renewals/scheduler/resume", post(admin::resume))
        .route("/v1/admin/renewals/{id}", get(admin::get))
        .route(
            "/v1/admin/tenants",
            get(admin::tenants).post(admin::create_tenant),
        )
        .route("/v1/admin/tokens", post(admin::create_token))
        .route(
            "/v1/admin/algorithms",
            get(admin::algorithms).put(admin::replace_algorithms),
        )
        .route(
            "/v1/admin/tokens/{id}",
            axum::routing::delete(admin::revoke_token),
        )
        .route("/v1/tsa/certificates", get(service::tsa_certificates))
        .route("/v1/openapi.json", get(service::openapi))
        .route("/healthz", get(service::healthz))
        .route("/readyz", get(service::readyz))
        .route("/metrics", get(service::metrics))
        // bodies are streamed and limited by the handlers themselves
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn(track))
        .with_state(state)
}
