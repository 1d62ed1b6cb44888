//! Renewal administration: the plan, runs, the scheduler.
//!
//! These endpoints change what the archive does, never what it holds: a
//! renewal only adds time-stamps and chains.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::catalog::RunView;
use crate::renewal::{Plan, RequestError, RunError, SchedulerStatus};

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Catalog(e) => e.into(),
            e @ RequestError::Busy(..) => ApiError::Conflict {
                code: "renewal_running",
                message: e.to_string(),
            },
            e => ApiError::bad("invalid_renewal", e.to_string()),
        }
    }
}

/// The renewal plan: which chains need which renewal by when, and why.
#[utoipa::path(get, path = "/v1/admin/renewals/plan", responses((status = 200, body = Plan)))]
pub async fn plan(State(state): State<AppState>) -> Result<Json<Plan>, ApiError> {
    Ok(Json(state.renewer.plan().await?))
}

/// A renewal to start.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewalRequest {
    /// `timestamp` or `hashtree`.
    pub kind: String,
    /// Hash-tree renewal: the algorithm of the new chains (e.g. `sha512`).
    #[serde(default)]
    pub digest_algorithm: Option<String>,
    /// `all` (default: every current chain; for hash-tree renewal those not
    /// yet on `digest_algorithm`) or `due` (what the plan says is due).
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Queued {
    pub id: i64,
    pub state: &'static str,
}

/// Queue a renewal run now; it runs after the runs queued before it.
#[utoipa::path(post, path = "/v1/admin/renewals", request_body = RenewalRequest,
    responses((status = 202, body = Queued), (status = 400, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    body: Result<Json<RenewalRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad("invalid_renewal", e.body_text()))?;
    let id = state
        .renewer
        .request(
            &req.kind,
            req.digest_algorithm.as_deref(),
            req.scope.as_deref(),
            "admin (HTTP)",
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            id,
            state: "queued",
        }),
    )
        .into_response())
}

/// Renewal runs and the scheduler.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Runs {
    pub scheduler: SchedulerStatus,
    /// Newest first.
    pub runs: Vec<RunView>,
}

/// The scheduler's state and the last 100 runs.
#[utoipa::path(get, path = "/v1/admin/renewals", responses((status = 200, body = Runs)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Runs>, ApiError> {
    Ok(Json(Runs {
        scheduler: state.renewer.status(),
        runs: state.catalog.runs(100).await?,
    }))
}

/// One run: state, counts, errors.
#[utoipa::path(get, path = "/v1/admin/renewals/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = RunView), (status = 404, body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no renewal run {id:?}")))?;
    state
        .catalog
        .run(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no renewal run {id}")))
}

/// Pause the scheduler: no run starts (a running one finishes) until resumed.
#[utoipa::path(post, path = "/v1/admin/renewals/scheduler/pause", responses((status = 200, body = SchedulerStatus)))]
pub async fn pause(State(state): State<AppState>) -> Json<SchedulerStatus> {
    state.renewer.pause();
    Json(state.renewer.status())
}

/// Resume the scheduler.
#[utoipa::path(post, path = "/v1/admin/renewals/scheduler/resume", responses((status = 200, body = SchedulerStatus)))]
pub async fn resume(State(state): State<AppState>) -> Json<SchedulerStatus> {
    state.renewer.resume();
    Json(state.renewer.status())
}
