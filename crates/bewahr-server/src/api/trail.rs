//! The audit trail for auditors (ETSI TS 119 512 RetrieveTrace).

use axum::extract::{Extension, Query, State};
use axum::Json;
use serde::Deserialize;

use super::auth::{own_object_or_deleted, require};
use super::objects::check_aoid;
use super::{ApiError, AppState};
use crate::access::{Principal, Role};
use crate::audit::{entries, EntryView};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TraceQuery {
    /// Only the entries about this archive object.
    pub aoid: Option<String>,
    /// Entries after this sequence number (for paging).
    pub after: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

/// The audit trail of the caller's tenant (the operator's: all of it), oldest first.
#[utoipa::path(get, path = "/v1/audit", params(TraceQuery),
    responses((status = 200, body = [EntryView]), (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn trace(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<TraceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<EntryView>>, ApiError> {
    require(&p, &[Role::Auditor, Role::Admin, Role::Operator])?;
    let Query(q) = q.map_err(|e| ApiError::rejected("invalid_query", e.status(), e.body_text()))?;
    if let Some(a) = &q.aoid {
        check_aoid(a)?;
        if p.role != Role::Operator {
            own_object_or_deleted(&state, &p, a).await?;
        }
    }
    let tenant = match p.role {
        Role::Operator => None,
        _ => p.tenant.as_deref(),
    };
    Ok(Json(
        entries(
            &state.catalog,
            tenant,
            q.aoid.as_deref(),
            q.after.unwrap_or(0),
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?,
    ))
}
