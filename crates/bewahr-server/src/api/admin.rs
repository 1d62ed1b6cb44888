//! Renewal administration: the plan, runs, the scheduler.
//!
//! These endpoints change what the archive does, never what it holds: a
//! renewal only adds time-stamps and chains.

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::require;
use super::{ApiError, AppState};
use crate::access::{AccessError, Principal, Role};
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
pub async fn plan(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Plan>, ApiError> {
    require(&p, &[Role::Operator])?;
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
    Extension(p): Extension<Principal>,
    body: Result<Json<RenewalRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Operator])?;
    let Json(req) =
        body.map_err(|e| ApiError::rejected("invalid_renewal", e.status(), e.body_text()))?;
    let id = state
        .renewer
        .request(
            &req.kind,
            req.digest_algorithm.as_deref(),
            req.scope.as_deref(),
            &format!("operator token {}", p.token),
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
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Runs>, ApiError> {
    require(&p, &[Role::Operator])?;
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
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    require(&p, &[Role::Operator])?;
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
pub async fn pause(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<SchedulerStatus>, ApiError> {
    require(&p, &[Role::Operator])?;
    state.renewer.pause().await?;
    Ok(Json(state.renewer.status()))
}

/// Resume the scheduler.
#[utoipa::path(post, path = "/v1/admin/renewals/scheduler/resume", responses((status = 200, body = SchedulerStatus)))]
pub async fn resume(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<SchedulerStatus>, ApiError> {
    require(&p, &[Role::Operator])?;
    state.renewer.resume().await?;
    Ok(Json(state.renewer.status()))
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Invalid(m) => ApiError::bad("invalid_request", m),
            e @ AccessError::TenantExists(_) => ApiError::Conflict {
                code: "exists",
                message: e.to_string(),
            },
            e @ (AccessError::NoTenant(_) | AccessError::NoToken(_)) => {
                ApiError::NotFound(e.to_string())
            }
            AccessError::Catalog(e) => e.into(),
        }
    }
}

/// The tenant a principal's administration is confined to (`None`: the operator, all).
fn tenant_scope(p: &Principal) -> Option<&str> {
    match p.role {
        Role::Operator => None,
        _ => p.tenant.as_ref().map(|t| t.as_str()),
    }
}

fn now_ms(state: &AppState) -> i64 {
    (state.archive.now().unix_timestamp_nanos() / 1_000_000) as i64
}

fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::rejected("invalid_request", e.status(), e.body_text()))
}

/// A tenant to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// 1 to 63 of a-z, 0-9 and '-'.
    pub name: String,
}

/// Create a tenant (operator).
#[utoipa::path(post, path = "/v1/admin/tenants", request_body = NewTenant,
    responses((status = 201), (status = 400, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewTenant>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Operator])?;
    let t = json_body(body)?;
    state
        .catalog
        .create_tenant(
            &t.name,
            &format!("operator token {}", p.token),
            now_ms(&state),
        )
        .await?;
    tracing::info!(tenant = %t.name, by = %p.token, "tenant created");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"name": t.name})),
    )
        .into_response())
}

/// The tenants (operator).
#[utoipa::path(get, path = "/v1/admin/tenants", responses((status = 200)))]
pub async fn tenants(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<String>>, ApiError> {
    require(&p, &[Role::Operator])?;
    Ok(Json(state.catalog.tenants().await?))
}

/// A token to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// `submitter`, `auditor`, `admin` or `operator`.
    pub role: String,
    /// The tenant (all roles but `operator`); a tenant admin may leave it out.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A created token: the secret is shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
}

/// Create a token: the operator for any tenant (and operator tokens), a
/// tenant's admin for its own tenant.
#[utoipa::path(post, path = "/v1/admin/tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = super::ErrorBody), (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Operator, Role::Admin])?;
    let t = json_body(body)?;
    let role = Role::parse(&t.role)?;
    let tenant = match p.role {
        Role::Operator => t.tenant,
        _ => {
            if role == Role::Operator
                || t.tenant
                    .as_ref()
                    .is_some_and(|x| Some(x.as_str()) != p.tenant.as_ref().map(|t| t.as_str()))
            {
                return Err(ApiError::Forbidden(
                    "a tenant admin creates tokens of its own tenant only".into(),
                ));
            }
            p.tenant.as_ref().map(|t| t.to_string())
        }
    };
    let now = now_ms(&state);
    let expires = t.expires_in_days.map(|d| now + i64::from(d) * 86_400_000);
    let (id, token) = state
        .catalog
        .create_token(
            tenant.as_deref(),
            role,
            t.label.as_deref().unwrap_or(""),
            expires,
            &format!("{} token {}", p.role.as_str(), p.token),
            now,
        )
        .await?;
    tracing::info!(token = %id, role = role.as_str(), tenant = ?tenant, by = %p.token, "token created");
    let detail = format!(
        "token {id} created: role {}, tenant {}{}",
        role.as_str(),
        tenant.as_deref().unwrap_or("-"),
        expires
            .map(|e| format!(", expires {}", crate::catalog::rfc3339_ms(e)))
            .unwrap_or_default()
    );
    let mut resp = (StatusCode::CREATED, Json(CreatedToken { id, token })).into_response();
    resp.extensions_mut()
        .insert(super::auth::AuditDetail(detail));
    Ok(resp)
}

/// The tokens: all for the operator, the tenant's for its admin; never a secret.
#[utoipa::path(get, path = "/v1/admin/tokens",
    responses((status = 200, body = Vec<crate::access::TokenView>), (status = 403, body = super::ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<crate::access::TokenView>>, ApiError> {
    require(&p, &[Role::Operator, Role::Admin])?;
    let scope = tenant_scope(&p);
    Ok(Json(state.catalog.list_tokens(scope).await?))
}

/// Options of a revocation.
#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct RevokeQuery {
    /// Also revoke every token this one created (and those they created).
    #[serde(default)]
    pub cascade: bool,
}

/// Revoke a token: the operator any, a tenant's admin those of its tenant.
#[utoipa::path(delete, path = "/v1/admin/tokens/{id}", params(("id" = String, Path), RevokeQuery),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<RevokeQuery>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Operator, Role::Admin])?;
    let scope = tenant_scope(&p);
    let now = now_ms(&state);
    state.catalog.revoke_token(&id, scope, now).await?;
    let mut also = Vec::new();
    if q.cascade {
        for child in state.catalog.tokens_created_by(&id).await? {
            // a tenant admin's tokens are its tenant's; the scope check stays
            match state.catalog.revoke_token(&child, scope, now).await {
                Ok(()) => also.push(child),
                Err(AccessError::NoToken(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    state.token_cache.clear(); // at once, not after the cache's TTL
    tracing::info!(token = %id, by = %p.token, also = ?also, "token revoked");
    let detail = if also.is_empty() {
        format!("token {id} revoked")
    } else {
        format!(
            "token {id} revoked, and the tokens it created: {}",
            also.join(", ")
        )
    };
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.extensions_mut()
        .insert(super::auth::AuditDetail(detail));
    Ok(resp)
}

/// The algorithm catalogue in force, as the planner and the verifier use it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Catalogue {
    pub name: String,
    pub version: String,
    /// Hash algorithm: first day no longer suitable (RFC 3339), absent if open-ended.
    pub hash: std::collections::BTreeMap<String, Option<String>>,
    /// `rsa >= 3000`-style keys: first day no longer suitable.
    pub signature: std::collections::BTreeMap<String, Option<String>>,
}

fn catalogue_view(p: &bewahr_core::verify::AlgorithmPolicy) -> Catalogue {
    let t = |d: &Option<time::OffsetDateTime>| d.map(bewahr_core::tsp::trust::rfc3339);
    Catalogue {
        name: p.name.clone(),
        version: p.version.clone(),
        hash: p
            .hash_until
            .iter()
            .map(|(a, (u, _))| (a.to_string(), t(u)))
            .collect(),
        signature: p
            .signatures
            .iter()
            .map(|e| (format!("{} >= {}", e.family, e.min_bits), t(&e.until)))
            .collect(),
    }
}

/// The algorithm catalogue in force (operator).
#[utoipa::path(get, path = "/v1/admin/algorithms", responses((status = 200, body = Catalogue)))]
pub async fn algorithms(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Catalogue>, ApiError> {
    require(&p, &[Role::Operator])?;
    Ok(Json(catalogue_view(&state.renewer.ctx().policy())))
}

/// Replace the algorithm catalogue while the archive runs (operator): the
/// body is a catalogue file (TOML, as config/algorithms.toml). The plan and
/// the verifier use it from the next request; a restart goes back to
/// `renewal.algorithms` (put the file there to keep it).
#[utoipa::path(put, path = "/v1/admin/algorithms", request_body(content = String, content_type = "application/toml"),
    responses((status = 200, body = Catalogue), (status = 400, body = super::ErrorBody)))]
pub async fn replace_algorithms(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<Response, ApiError> {
    let body =
        body.map_err(|e| ApiError::rejected("invalid_catalogue", e.status(), e.body_text()))?;
    require(&p, &[Role::Operator])?;
    let policy = bewahr_core::verify::AlgorithmPolicy::from_toml(&body)
        .map_err(|e| ApiError::bad("invalid_catalogue", e.to_string()))?;
    let view = catalogue_view(&policy);
    tracing::warn!(catalogue = %format!("{} {}", policy.name, policy.version), by = %p.token, "algorithm catalogue replaced");
    state.renewer.ctx().set_policy(policy);
    state.renewer.check_now();
    let mut resp = Json(view).into_response();
    resp.extensions_mut()
        .insert(super::auth::AuditDetail(format!(
            "algorithm catalogue replaced by {}",
            p.token
        )));
    Ok(resp)
}

/// Every worker's state (operator).
#[utoipa::path(get, path = "/v1/admin/workers",
    responses((status = 200, body = Vec<crate::supervisor::WorkerReport>), (status = 403, body = super::ErrorBody)))]
pub async fn workers(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&p, &[Role::Operator])?;
    Ok(Json(serde_json::json!({
        "workers": state.supervisor.report(),
        "sealer": state.sealer.status(),
        "renewal_scheduler": state.renewer.status(),
        "cluster": state.cluster.status(),
    })))
}

/// The sweeper for unreferenced content: state, last run, totals (operator).
#[utoipa::path(get, path = "/v1/admin/sweeper",
    responses((status = 200, body = crate::sweeper::SweeperStatus), (status = 403, body = super::ErrorBody)))]
pub async fn sweeper(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<crate::sweeper::SweeperStatus>, ApiError> {
    require(&p, &[Role::Operator])?;
    Ok(Json(state.sweeper.status()))
}

/// Runs a sweep now (after the one running, if any) and answers with it (operator).
#[utoipa::path(post, path = "/v1/admin/sweeper/run",
    responses((status = 200, body = crate::sweeper::SweepRun), (status = 403, body = super::ErrorBody)))]
pub async fn sweep(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<crate::sweeper::SweepRun>, ApiError> {
    require(&p, &[Role::Operator])?;
    let run = state
        .sweeper
        .run_now()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    tracing::info!(operator = %p.token, removed = run.removed, "sweep run on request");
    Ok(Json(run))
}
