//! Verification, the TSA certificates, health, readiness, metrics, OpenAPI.

use axum::extract::{Extension, Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use der::EncodePem;
use serde::Serialize;
use utoipa::OpenApi;

use super::auth::require;
use super::extract::{op, Allowed};
use super::{ApiError, AppState};
use crate::access::{Principal, Role};
use crate::seal::SealerStatus;
use bewahr_core::verify::{self, InMemory, NoData, Options};

const VERIFY_LIMIT: usize = 256 << 20;

/// Verify an evidence record (and optionally the document) with the archive's verifier.
#[utoipa::path(post, path = "/v1/verify",
    request_body(content_type = "multipart/form-data", description = "`evidence`: the DER evidence record; `document` (optional, repeatable for a data-object group): the data"),
    responses((status = 200, description = "the verifier's report (ETSI EN 319 102-1 indications)"), (status = 400, body = super::ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    _allowed: Allowed<op::Verify>,
    mut mp: Multipart,
) -> Result<Response, ApiError> {
    let mut evidence: Option<Vec<u8>> = None;
    let mut documents: Vec<Vec<u8>> = Vec::new();
    let mut signature: Option<Vec<u8>> = None;
    let mut validation_data: Option<Vec<u8>> = None;
    let mut total = 0usize;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::rejected("bad_multipart", e.status(), e.body_text()))?
    {
        let name = field.name().unwrap_or("").to_string();
        let mut field = field;
        let left = VERIFY_LIMIT.saturating_sub(total);
        let bytes = super::read_part(&mut field, left, "the verification request")
            .await
            .map_err(|e| match e {
                ApiError::TooLarge(_) => ApiError::TooLarge(format!("verification takes at most {VERIFY_LIMIT} bytes; use `bewahr verify` for larger documents")),
                e => e,
            })?;
        total += bytes.len();
        match name.as_str() {
            "evidence" if evidence.is_none() => evidence = Some(bytes.to_vec()),
            "document" => documents.push(bytes.to_vec()),
            "signature" if signature.is_none() => signature = Some(bytes.to_vec()),
            "validation_data" if validation_data.is_none() => {
                validation_data = Some(bytes.to_vec())
            }
            other => {
                return Err(ApiError::bad(
                    "bad_multipart",
                    format!("unexpected or repeated part {other:?}: send `evidence`, optionally `document` (repeatable), and for re-validating a signature `signature` (detached) and `validation_data`"),
                ))
            }
        }
    }
    let evidence = evidence.ok_or_else(|| ApiError::bad("bad_multipart", "no `evidence` part"))?;
    let trusted = state.renewer.ctx().trusted();
    let now = state.archive.now();
    let policy = state.renewer.ctx().policy();
    let profile = state.evidence_profile;
    let preserved = match &validation_data {
        Some(v) => Some(
            bewahr_core::signature::ValidationData::from_der(v).map_err(|e| {
                ApiError::bad(
                    "bad_validation_data",
                    format!("the validation_data part: {e}"),
                )
            })?,
        ),
        None => None,
    };
    let anchors = state.archive.signature_anchors();
    let value = tokio::task::spawn_blocking(move || {
        let given = preserved.clone().unwrap_or_default();
        let mut opts = Options::new(&trusted, now, &policy);
        opts.profile = profile;
        opts.validation_data = &given;
        let document = documents.first().cloned();
        let mut group = documents;
        group.extend(signature.iter().cloned());
        group.extend(validation_data.iter().cloned());
        let report = if group.is_empty() {
            verify::verify_der(&evidence, &mut NoData, &opts)
        } else {
            verify::verify_der(&evidence, &mut InMemory(group), &opts)
        };
        let mut value = serde_json::to_value(&report).unwrap_or_default();
        // the document's signature, as of the time the record proves (re-validation)
        if let (Some(doc), true) = (document, preserved.is_some() || signature.is_some()) {
            let poe = (report.indication == verify::Indication::Passed)
                .then(|| {
                    report
                        .archive_time_stamps
                        .first()
                        .and_then(|a| a.gen_time.clone())
                })
                .flatten()
                .and_then(|t| {
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .ok()
                });
            let vd = preserved.unwrap_or_default();
            let ctx = bewahr_core::signature::Context {
                anchors: &anchors,
                at: now,
                poe: None,
                max_age: time::Duration::days(1),
                xml: Some(&bewahr_xmlsig::ENGINE),
            };
            let sr = match poe {
                Some(poe) => {
                    bewahr_core::signature::revalidate(&doc, signature.as_deref(), &vd, poe, &ctx)
                }
                None => {
                    let ex = bewahr_core::signature::examine(&doc, signature.as_deref(), &ctx);
                    bewahr_core::signature::conclude(ex, &vd, &ctx).0
                }
            };
            if let Some(o) = value.as_object_mut() {
                o.insert(
                    "signature".into(),
                    serde_json::to_value(&sr).unwrap_or_default(),
                );
            }
        }
        value
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    metrics::counter!("bewahr_verifications_total").increment(1);
    Ok(Json(value).into_response())
}

/// PEM of the certificates of every TSA the archive uses and has used (the
/// trust anchors for verifying its records offline).
#[utoipa::path(get, path = "/v1/tsa/certificates", responses((status = 200, content_type = "application/x-pem-file")))]
pub async fn tsa_certificates(State(state): State<AppState>) -> Response {
    let mut certs = state.stamper.certificates();
    for c in &state.renewer.ctx().extra_trusted {
        if !certs.contains(c) {
            certs.push(c.clone());
        }
    }
    let pem: String = certs
        .iter()
        .filter_map(|c| c.to_pem(der::pem::LineEnding::LF).ok())
        .collect();
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

/// Overall health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    /// Sealing fails for now (ingest goes on; objects stay pending).
    Degraded,
    /// A worker is gone: the process should be restarted (503).
    Failed,
}

/// Liveness: the workers and the state of batch sealing.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub sealing: SealerStatus,
    /// This node and the leader (who seals and renews).
    pub cluster: crate::cluster::ClusterStatus,
    pub workers: Vec<crate::supervisor::WorkerReport>,
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let sealing = state.sealer.status();
    let workers = state.supervisor.report();
    let status = if workers.iter().any(|w| w.state.is_fault()) {
        HealthStatus::Failed
    } else if sealing.consecutive_failures > 0 {
        HealthStatus::Degraded
    } else {
        HealthStatus::Ok
    };
    let code = if status == HealthStatus::Failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(Health {
            status,
            sealing,
            cluster: state.cluster.status(),
            workers,
        }),
    )
        .into_response()
}

/// Readiness: the catalog answers.
#[utoipa::path(get, path = "/readyz", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.catalog.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"ready": true}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"ready": false, "reason": "the catalog does not answer"})),
            )
                .into_response()
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Operator])?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response())
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(super::ApiDoc::openapi())
}
