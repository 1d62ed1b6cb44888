//! Submitting documents and versions, reading objects, content and evidence.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::auth::{own_object, require};
use super::{ApiError, AppState, ErrorBody};
use crate::access::{Principal, Role};
use crate::catalog::{Metadata, ObjectView};
use crate::evidence::EvidenceError;
use crate::ingest::{metadata_from_query, IngestError};
use crate::store::Upload;

/// The answer to a submission.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Submitted {
    pub aoid: String,
    pub version: i64,
    pub digests: std::collections::BTreeMap<String, String>,
    /// Always `pending` right after submission.
    pub state: String,
    /// The signature or seal validation (absent for unsigned documents).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub validation: Option<ValidationSummary>,
}

/// The summary of a validation in the submission response (the full
/// report: `GET /v1/objects/{aoid}/versions/{n}/validation`).
#[derive(Serialize)]
pub struct ValidationSummary {
    pub format: bewahr_core::signature::Format,
    pub indication: Option<bewahr_core::signature::Indication>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<bewahr_core::signature::SubIndication>,
    pub summary: String,
    pub signatures: Vec<SignatureSummary>,
}

/// One signature in the summary.
#[derive(Serialize)]
pub struct SignatureSummary {
    pub id: String,
    pub indication: bewahr_core::signature::Indication,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<bewahr_core::signature::SubIndication>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualification: Option<bewahr_core::signature::Qualification>,
}

impl From<&bewahr_core::signature::ValidationReport> for ValidationSummary {
    fn from(r: &bewahr_core::signature::ValidationReport) -> Self {
        ValidationSummary {
            format: r.format,
            indication: r.indication,
            sub_indication: r.sub_indication,
            summary: r.summary.clone(),
            signatures: r
                .signatures
                .iter()
                .map(|s| SignatureSummary {
                    id: s.id.clone(),
                    indication: s.indication,
                    sub_indication: s.sub_indication,
                    signer: s.signer.clone(),
                    signing_time: s.signing_time.clone(),
                    qualification: s.qualification.clone(),
                })
                .collect(),
        }
    }
}

/// The largest detached signature accepted (certificates and revocation data included).
const MAX_SIGNATURE: usize = 16 << 20;

/// Archive object ids are UUIDs; anything else cannot name an object.
pub(crate) fn check_aoid(aoid: &str) -> Result<(), ApiError> {
    let ok = aoid.len() == 36
        && aoid.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::NotFound("no such archive object".into()))
    }
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .unwrap_or("application/octet-stream")
        .to_string()
}

fn store_err(upload: Upload, e: impl std::fmt::Display) -> ApiError {
    upload.abort();
    ApiError::Internal(e.to_string())
}

/// Streams a body into an upload, within the size limit.
async fn stream_into(
    mut upload: Upload,
    mut body: impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin,
    limit: u64,
) -> Result<Upload, ApiError> {
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                upload.abort();
                return Err(ApiError::bad(
                    "bad_body",
                    format!("reading the request body failed: {e}"),
                ));
            }
        };
        if upload.size() + chunk.len() as u64 > limit {
            upload.abort();
            return Err(IngestError::TooLarge { limit }.into());
        }
        if let Err(e) = upload.write(&chunk) {
            return Err(store_err(upload, e));
        }
    }
    Ok(upload)
}

/// Reads a submission: raw body + query metadata, or multipart `document` + `metadata`.
async fn receive(
    state: &AppState,
    params: Vec<(String, String)>,
    req: Request,
) -> Result<(Upload, Metadata, String, Option<Vec<u8>>), ApiError> {
    let headers = req.headers().clone();
    let ct = media_type(&headers);
    let limit = state.ingest.max_body;
    if ct.starts_with("multipart/form-data") {
        if !params.is_empty() {
            return Err(ApiError::bad("invalid_metadata", "with multipart/form-data, give the metadata as the JSON `metadata` part, not as query parameters"));
        }
        let mut mp = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::rejected("bad_multipart", e.status(), e.body_text()))?;
        let mut upload: Option<(Upload, String)> = None;
        let mut metadata: Option<Metadata> = None;
        let mut signature: Option<Vec<u8>> = None;
        let fail = |u: Option<(Upload, String)>, e: ApiError| {
            if let Some((u, _)) = u {
                u.abort();
            }
            e
        };
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    return Err(fail(
                        upload,
                        ApiError::rejected("bad_multipart", e.status(), e.body_text()),
                    ))
                }
            };
            match field.name() {
                Some("document") if upload.is_none() => {
                    let mt = field
                        .content_type()
                        .unwrap_or("application/octet-stream")
                        .to_string();
                    let stream = field.map(|r| r.map_err(|e| e.body_text()));
                    let u = stream_into(state.ingest.begin(), Box::pin(stream), limit).await?;
                    upload = Some((u, mt));
                }
                Some("metadata") if metadata.is_none() => {
                    let mut field = field;
                    let text =
                        match super::read_part(&mut field, 256 * 1024, "the metadata part").await {
                            Ok(t) => t,
                            Err(ApiError::TooLarge(_)) => {
                                return Err(fail(
                                    upload,
                                    ApiError::bad(
                                        "invalid_metadata",
                                        "the metadata part is larger than 256 KiB",
                                    ),
                                ))
                            }
                            Err(e) => return Err(fail(upload, e)),
                        };
                    match serde_json::from_slice::<Metadata>(&text) {
                        Ok(m) => metadata = Some(m),
                        Err(e) => {
                            return Err(fail(
                                upload,
                                ApiError::bad(
                                    "invalid_metadata",
                                    format!("the metadata part is not valid: {e}"),
                                ),
                            ))
                        }
                    }
                }
                Some("signature") if signature.is_none() => {
                    let mut field = field;
                    match super::read_part(&mut field, MAX_SIGNATURE, "the signature part").await {
                        Ok(b) => signature = Some(b),
                        Err(ApiError::TooLarge(_)) => {
                            return Err(fail(
                                upload,
                                ApiError::bad(
                                    "bad_signature",
                                    format!(
                                        "the signature part is larger than {MAX_SIGNATURE} bytes"
                                    ),
                                ),
                            ))
                        }
                        Err(e) => return Err(fail(upload, e)),
                    }
                }
                other => {
                    let name = other.unwrap_or("(unnamed)").to_string();
                    return Err(fail(upload, ApiError::bad("bad_multipart", format!("unexpected or repeated part {name:?}: send one `document`, at most one `metadata` and at most one detached `signature`"))));
                }
            }
        }
        let Some((u, mt)) = upload else {
            return Err(ApiError::bad("empty_document", "no `document` part"));
        };
        if let Some(s) = &signature {
            if !bewahr_core::signature::cades::is_signed_data(s)
                && !s.trim_ascii_start().starts_with(b"-----BEGIN")
            {
                u.abort();
                return Err(ApiError::bad(
                    "bad_signature",
                    "the `signature` part is not a CMS/CAdES signature (DER or PEM): send the .p7s file",
                ));
            }
        }
        Ok((u, metadata.unwrap_or_default(), mt, signature))
    } else {
        let metadata = metadata_from_query(&params)?;
        // refuse bad metadata before reading a possibly large body
        crate::ingest::validate(&metadata, state.ingest.today())?;
        let stream = req
            .into_body()
            .into_data_stream()
            .map(|r| r.map_err(|e| e.to_string()));
        let u = stream_into(state.ingest.begin(), stream, limit).await?;
        Ok((u, metadata, ct, None))
    }
}

async fn submit_inner(
    state: AppState,
    p: Principal,
    aoid: Option<String>,
    params: Vec<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let (upload, metadata, mt, signature) = receive(&state, params, req).await?;
    let r = state
        .ingest
        .commit(upload, aoid, p.tenant.clone(), metadata, mt, signature)
        .await?;
    let body = Submitted {
        aoid: r.accepted.aoid.clone(),
        version: r.accepted.version,
        digests: [("sha256".to_string(), hex::encode(r.sha256))]
            .into_iter()
            .collect(),
        state: "pending".into(),
        validation: r.validation.as_ref().map(ValidationSummary::from),
    };
    let location = format!("/v1/objects/{}", r.accepted.aoid);
    let mut resp = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response();
    resp.extensions_mut()
        .insert(super::auth::CreatedObject(r.accepted.aoid.clone()));
    Ok(resp)
}

/// Submit a document: a new archive object with version 1.
#[utoipa::path(post, path = "/v1/objects",
    params(("file_ref" = Option<String>, Query, description = "file reference (Aktenzeichen)"),
           ("title" = Option<String>, Query), ("system" = Option<String>, Query, description = "submitting system"),
           ("retention_until" = Option<String>, Query, description = "YYYY-MM-DD, not in the past")),
    request_body(content = Vec<u8>, description = "the document as the raw body (its Content-Type is kept), or multipart/form-data with a `document` part and a JSON `metadata` part"),
    responses((status = 201, body = Submitted, description = "stored durably, pending its batch's time-stamp"),
               (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(params): Query<Vec<(String, String)>>,
    req: Request,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Submitter])?;
    submit_inner(state, p, None, params, req).await
}

/// Submit a new version of an archive object.
#[utoipa::path(post, path = "/v1/objects/{aoid}/versions", params(("aoid" = String, Path)),
    request_body(content = Vec<u8>, description = "as for POST /v1/objects"),
    responses((status = 201, body = Submitted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn submit_version(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(aoid): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    req: Request,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Submitter])?;
    check_aoid(&aoid)?;
    own_object(&state, &p, &aoid).await?;
    submit_inner(state, p, Some(aoid), params, req).await
}

/// An archive object: metadata, versions, states.
#[utoipa::path(get, path = "/v1/objects/{aoid}", params(("aoid" = String, Path)),
    responses((status = 200, body = ObjectView), (status = 404, body = ErrorBody)))]
pub async fn get_object(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(aoid): Path<String>,
) -> Result<Json<ObjectView>, ApiError> {
    require(&p, &[Role::Submitter, Role::Auditor, Role::Admin])?;
    check_aoid(&aoid)?;
    own_object(&state, &p, &aoid).await?;
    state
        .catalog
        .object(&aoid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("unknown archive object {aoid}")))
}

/// The bytes of a version, exactly as submitted.
#[utoipa::path(get, path = "/v1/objects/{aoid}/versions/{n}/content", params(("aoid" = String, Path), ("n" = i64, Path)),
    responses((status = 200, content_type = "application/octet-stream", description = "the document with its media type"), (status = 404, body = ErrorBody)))]
pub async fn get_content(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((aoid, n)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Auditor, Role::Admin])?;
    check_aoid(&aoid)?;
    own_object(&state, &p, &aoid).await?;
    let n: i64 = n
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no version {n}")))?;
    let loc = state
        .catalog
        .locate(&aoid, Some(n))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no version {n} of {aoid}")))?;
    let store = state.ingest.store.clone();
    let sha = loc.sha256;
    let reader = tokio::task::spawn_blocking(move || store.read(&sha))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "content {} of {aoid} v{n} is missing from the store",
                hex::encode(sha)
            ))
        })?;
    // one blocking task per piece (4 MiB at most), none while the client
    // is slow to read: a slow reader holds no thread of the blocking pool
    let stream = futures_util::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        let step = tokio::task::spawn_blocking(move || {
            let piece = reader.next_piece();
            (reader, piece)
        })
        .await;
        match step {
            Ok((reader, Ok(Some(p)))) => Some((Ok(Bytes::from(p)), Some(reader))),
            Ok((_, Ok(None))) => None,
            Ok((_, Err(e))) => Some((Err(std::io::Error::other(e.to_string())), None)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, loc.media_type),
            (header::CONTENT_LENGTH, loc.size.to_string()),
            (header::ETAG, format!("\"sha256:{}\"", hex::encode(sha))),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EvidenceQuery {
    /// The version (default: the latest).
    pub version: Option<i64>,
    /// Seconds to wait for the batch to be sealed (at most 60).
    pub wait: Option<u64>,
}

/// The RFC 4998 evidence record (DER) of a version, built on demand.
#[utoipa::path(get, path = "/v1/objects/{aoid}/evidence", params(("aoid" = String, Path), EvidenceQuery),
    responses((status = 200, content_type = "application/octet-stream", description = "DER EvidenceRecord (RFC 4998)"),
               (status = 404, body = ErrorBody), (status = 409, description = "{\"state\": \"pending\"}: the batch is not sealed yet")))]
pub async fn get_evidence(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(aoid): Path<String>,
    Query(q): Query<EvidenceQuery>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Submitter, Role::Auditor, Role::Admin])?;
    check_aoid(&aoid)?;
    own_object(&state, &p, &aoid).await?;
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(60));
    let mut waited = false;
    loop {
        match state.evidence.record(&aoid, q.version).await {
            Ok((loc, der)) => {
                metrics::counter!("bewahr_evidence_records_total").increment(1);
                let name = format!("attachment; filename=\"{aoid}-v{}.ers\"", loc.version);
                return Ok((
                    [
                        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                        (header::CONTENT_DISPOSITION, name),
                    ],
                    der,
                )
                    .into_response());
            }
            Err(EvidenceError::Pending { seq }) if !waited && !wait.is_zero() => {
                state.sealer.wait_sealed(seq, wait).await;
                waited = true;
            }
            Err(EvidenceError::Pending { .. }) => {
                return Ok((
                    StatusCode::CONFLICT,
                    [(header::RETRY_AFTER, state.retry_after_secs.to_string())],
                    Json(serde_json::json!({"state": "pending"})),
                )
                    .into_response());
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Why an object is deleted (TR-ESOR ReasonOfDeletion).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionRequest {
    /// Required before the retention date.
    #[serde(default)]
    pub reason: Option<String>,
    /// Who asked for it (RequestorName); required before the retention date.
    #[serde(default)]
    pub requestor: Option<String>,
}

/// Delete an archive object (the tenant's admin): content and metadata go,
/// every other object's evidence stays valid. Refused under legal hold,
/// while a version is pending, and before the retention date unless a
/// reason and a requestor are given.
#[utoipa::path(delete, path = "/v1/objects/{aoid}", params(("aoid" = String, Path)), request_body = Option<DeletionRequest>,
    responses((status = 200, body = crate::catalog::Deleted), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "legal hold, retention date, or a pending version")))]
pub async fn delete_object(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(aoid): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body =
        body.map_err(|e| ApiError::rejected("invalid_request", e.status(), e.body_text()))?;
    require(&p, &[Role::Admin])?;
    check_aoid(&aoid)?;
    own_object(&state, &p, &aoid).await?;
    let req: DeletionRequest = if body.iter().all(|b| b.is_ascii_whitespace()) {
        DeletionRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad(
                "invalid_request",
                format!("the body must be JSON {{\"reason\": ..., \"requestor\": ...}}: {e}"),
            )
        })?
    };
    let now = (state.ingest.clock)();
    let d = crate::catalog::Deletion {
        aoid: aoid.clone(),
        reason: req.reason.clone(),
        requestor: req.requestor.clone(),
        by: p.token.clone(),
        at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        today: state.ingest.today().to_string(),
    };
    let detail = format!(
        "reason: {}; requestor: {}",
        req.reason.as_deref().unwrap_or("-"),
        req.requestor.as_deref().unwrap_or("-")
    );
    let mut resp = match state.ingest.writer.delete(d).await {
        Ok(done) => {
            tracing::info!(%aoid, by = %p.token, %detail, versions = done.versions, "archive object deleted");
            metrics::counter!("bewahr_deletions_total").increment(1);
            Json(done).into_response()
        }
        Err(crate::catalog::WriteError::Refused(m)) => ApiError::Conflict {
            code: "deletion_refused",
            message: m,
        }
        .into_response(),
        Err(crate::catalog::WriteError::UnknownAoid(_)) => {
            ApiError::NotFound("no such archive object".into()).into_response()
        }
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    };
    resp.extensions_mut()
        .insert(super::auth::AuditDetail(detail));
    Ok(resp)
}

/// Set or lift a legal hold.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHold {
    pub hold: bool,
    /// Why (required to set a hold).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Set or lift the legal hold of an archive object (the tenant's admin): under a hold nothing deletes it.
#[utoipa::path(put, path = "/v1/objects/{aoid}/legal-hold", params(("aoid" = String, Path)), request_body = LegalHold,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn legal_hold(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(aoid): Path<String>,
    body: Result<Json<LegalHold>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require(&p, &[Role::Admin])?;
    check_aoid(&aoid)?;
    own_object(&state, &p, &aoid).await?;
    let Json(h) =
        body.map_err(|e| ApiError::rejected("invalid_request", e.status(), e.body_text()))?;
    let reason = h.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if h.hold && reason.is_none() {
        return Err(ApiError::bad(
            "invalid_request",
            "a legal hold needs a reason",
        ));
    }
    let set = if h.hold { reason } else { None };
    if !state.catalog.set_legal_hold(&aoid, set).await? {
        return Err(ApiError::NotFound("no such archive object".into()));
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.extensions_mut()
        .insert(super::auth::AuditDetail(match set {
            Some(r) => format!("legal hold set: {r}"),
            None => "legal hold lifted".into(),
        }));
    Ok(resp)
}

/// The preserved validation of a version, as JSON: the report and the
/// collected validation data (certificates, OCSP responses, CRLs, base64),
/// with the SHA-256 of each preserved item (each is a member of the
/// version's data-object group, so its evidence record proves them).
#[utoipa::path(get, path = "/v1/objects/{aoid}/versions/{n}/validation", params(("aoid" = String, Path), ("n" = i64, Path)),
    responses((status = 200, description = "report and validation data"), (status = 404, body = ErrorBody)))]
pub async fn get_validation(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((aoid, n)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (row, loc) = validation_row(&state, &p, &aoid, &n).await?;
    let Some(row) = row else {
        return Ok(Json(serde_json::json!({
            "version": loc.version,
            "format": "none",
            "summary": "the document carried no signature or seal (or was archived without validation)",
        }))
        .into_response());
    };
    let read = |sha: [u8; 32]| {
        let store = state.ingest.store.clone();
        async move {
            tokio::task::spawn_blocking(move || store.read_all(&sha))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .ok_or_else(|| {
                    ApiError::Internal(format!(
                        "preserved item {} is missing from the store",
                        hex::encode(sha)
                    ))
                })
        }
    };
    let report: serde_json::Value = serde_json::from_slice(&read(row.report_sha256).await?)
        .map_err(|e| ApiError::Internal(format!("preserved report: {e}")))?;
    let data = bewahr_core::signature::ValidationData::from_der(&read(row.data_sha256).await?)
        .map_err(|e| ApiError::Internal(format!("preserved validation data: {e}")))?;
    use base64::Engine;
    let b64 = |v: &[Vec<u8>]| -> Vec<String> {
        v.iter()
            .map(|x| base64::engine::general_purpose::STANDARD.encode(x))
            .collect()
    };
    let base = format!("/v1/objects/{aoid}/versions/{}/validation", loc.version);
    Ok(Json(serde_json::json!({
        "version": loc.version,
        "format": row.format,
        "indication": row.indication,
        "sub_indication": row.sub_indication,
        "summary": row.summary,
        "validated_at": crate::catalog::rfc3339_ms(row.validated_at_ms),
        "decision": row.decision,
        "report": report,
        "validation_data": {
            "certificates": b64(&data.certificates),
            "ocsp_responses": b64(&data.ocsp_responses),
            "crls": b64(&data.crls),
        },
        "preserved": {
            "report": {"sha256": hex::encode(row.report_sha256), "href": format!("{base}/report")},
            "validation_data": {"sha256": hex::encode(row.data_sha256), "href": format!("{base}/data")},
            "signature": row.signature_sha256.map(|s| serde_json::json!({"sha256": hex::encode(s), "href": format!("{base}/signature")})),
        },
    }))
    .into_response())
}

async fn validation_row(
    state: &AppState,
    p: &Principal,
    aoid: &str,
    n: &str,
) -> Result<
    (
        Option<crate::catalog::ValidationRow>,
        crate::catalog::Location,
    ),
    ApiError,
> {
    require(p, &[Role::Submitter, Role::Auditor, Role::Admin])?;
    check_aoid(aoid)?;
    own_object(state, p, aoid).await?;
    let n: i64 = n
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no version {n}")))?;
    let loc = state
        .catalog
        .locate(aoid, Some(n))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no version {n} of {aoid}")))?;
    Ok((state.catalog.validation(loc.seq).await?, loc))
}

/// One preserved item exactly as hashed into the version's data-object
/// group: `report` (JSON), `data` (ValidationData DER) or `signature` (the
/// detached signature). Give them to `bewahr verify --data` with the document.
#[utoipa::path(get, path = "/v1/objects/{aoid}/versions/{n}/validation/{item}", params(("aoid" = String, Path), ("n" = i64, Path), ("item" = String, Path, description = "report, data or signature")),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
pub async fn get_validation_item(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((aoid, n, item)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (row, _) = validation_row(&state, &p, &aoid, &n).await?;
    let row =
        row.ok_or_else(|| ApiError::NotFound("this version has no preserved validation".into()))?;
    let (sha, ct) = match item.as_str() {
        "report" => (Some(row.report_sha256), "application/json"),
        "data" => (Some(row.data_sha256), "application/octet-stream"),
        "signature" => (row.signature_sha256, "application/pkcs7-signature"),
        _ => (None, ""),
    };
    let sha = sha.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no preserved item {item:?} (report, data, signature)"
        ))
    })?;
    let store = state.ingest.store.clone();
    let bytes = tokio::task::spawn_blocking(move || store.read_all(&sha))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Internal("a preserved item is missing from the store".into()))?;
    Ok(([(header::CONTENT_TYPE, ct.to_string())], bytes).into_response())
}
