//! The audit trail for auditors (ETSI TS 119 512 RetrieveTrace).

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

use super::extract::{op, Allowed};
use super::{ApiError, AppState};
use crate::audit::EntryView;

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
    Allowed { who, .. }: Allowed<op::Trace>,
    q: Result<Query<TraceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<EntryView>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::rejected("invalid_query", e.status(), e.body_text()))?;
    let q = crate::service::TraceQuery {
        aoid: q.aoid,
        after: q.after,
        limit: q.limit,
    };
    Ok(Json(state.archive.trace(&who, &q).await?))
}
