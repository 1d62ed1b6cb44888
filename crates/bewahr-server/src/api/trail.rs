//! The audit trail for auditors (ETSI TS 119 512 RetrieveTrace).

use axum::extract::{Extension, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::require;
use super::extract::{op, Allowed};
use super::{ApiError, AppState};
use crate::access::{Principal, Role};
use crate::audit::seals::{find as find_seal, list as seal_list, SealView};
use crate::audit::EntryView;

/// The audit trail of the caller's tenant (the operator's: all of it), oldest first.
#[utoipa::path(get, path = "/v1/audit", params(crate::service::TraceQuery),
    responses((status = 200, body = [EntryView]), (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn trace(
    State(state): State<AppState>,
    Allowed { who, .. }: Allowed<op::Trace>,
    q: Result<Query<crate::service::TraceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<EntryView>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::rejected("invalid_query", e.status(), e.body_text()))?;
    Ok(Json(state.archive.trace(&who, &q).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SealsQuery {
    /// Seals of batches after this batch id (for paging).
    pub after: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

/// The roles that may see sealed heads: a head is a hash that reveals no
/// entry, so tenants' auditors and admins get every head and its evidence
/// record (not other tenants' entries: those stay behind `GET /v1/audit`).
const SEAL_READERS: &[Role] = &[Role::Auditor, Role::Admin, Role::Operator];

/// The sealed heads of the audit trail: which entry's head each batch sealed as its leaf 0.
#[utoipa::path(get, path = "/v1/audit/seals", params(SealsQuery),
    responses((status = 200, body = [SealView]), (status = 403, body = super::ErrorBody)))]
pub async fn seals(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<SealsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<SealView>>, ApiError> {
    require(&p, SEAL_READERS)?;
    let Query(q) = q.map_err(|e| ApiError::rejected("invalid_query", e.status(), e.body_text()))?;
    Ok(Json(
        seal_list(
            &state.catalog,
            q.after.unwrap_or(-1),
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?,
    ))
}

/// The sealed head of entry `seq`: the first batch that sealed it, and the head.
async fn sealed(
    state: &AppState,
    p: &Principal,
    seq: &str,
) -> Result<(i64, i64, [u8; 32]), ApiError> {
    require(p, SEAL_READERS)?;
    let seq: i64 = seq
        .parse()
        .map_err(|_| ApiError::bad("invalid_seq", "the entry number is not an integer"))?;
    let (batch, head) = find_seal(&state.catalog, seq).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no batch sealed the head of audit entry {seq}"))
    })?;
    Ok((seq, batch, head))
}

/// The RFC 4998 evidence record (DER) of the head of entry `seq`, built on
/// demand like a version's (following time-stamp and hash-tree renewals). Its data object
/// is the 32 head bytes of `GET /v1/audit/seals/{seq}/head`.
#[utoipa::path(get, path = "/v1/audit/seals/{seq}/evidence", params(("seq" = i64, Path, description = "the audit entry whose sealed head")),
    responses((status = 200, content_type = "application/octet-stream", description = "DER EvidenceRecord (RFC 4998)"),
               (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn seal_evidence(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(seq): Path<String>,
) -> Result<Response, ApiError> {
    let (seq, batch, _) = sealed(&state, &p, &seq).await?;
    let (_, der) = state.evidence.audit_head_record(batch).await?;
    metrics::counter!("bewahr_evidence_records_total").increment(1);
    Ok(attachment(format!("audit-head-{seq}.ers"), der))
}

/// The 32 bytes of the head of entry `seq` that leaf 0 of its batch hashes:
/// the data object of its evidence record (`bewahr verify --data`).
#[utoipa::path(get, path = "/v1/audit/seals/{seq}/head", params(("seq" = i64, Path, description = "the audit entry whose sealed head")),
    responses((status = 200, content_type = "application/octet-stream", description = "the 32 head bytes"),
               (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn seal_head(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(seq): Path<String>,
) -> Result<Response, ApiError> {
    let (seq, _, head) = sealed(&state, &p, &seq).await?;
    Ok(attachment(format!("audit-head-{seq}.bin"), head.to_vec()))
}

fn attachment(name: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}
