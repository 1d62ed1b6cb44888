//! Submitting documents and versions, reading objects, content and evidence.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::extract::{op, Allowed, OwnedObject};
use super::{ApiError, AppState, ErrorBody};
use crate::catalog::{Metadata, ObjectView};
use crate::ids::VersionNo;
use crate::ingest::metadata_from_query;
use crate::service::{
    DeletionRequest, LegalHoldChange, PreservedValidation, Submission, ValidationItem,
};
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

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// Streams a body into the store (hashing and writes in blocking tasks),
/// within the archive's size limit.
async fn stream_into(
    mut incoming: crate::service::Incoming,
    mut body: impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin,
) -> Result<Upload, ApiError> {
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => incoming.push(c).await?,
            Err(e) => {
                incoming.abort();
                return Err(ApiError::bad(
                    "bad_body",
                    format!("reading the request body failed: {e}"),
                ));
            }
        }
    }
    Ok(incoming.finish().await?)
}

/// Reads a submission: raw body + query metadata, or multipart `document` + `metadata`.
async fn receive(
    state: &AppState,
    params: Vec<(String, String)>,
    req: Request,
) -> Result<Submission, ApiError> {
    let headers = req.headers().clone();
    let ct = media_type(&headers);
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
                    let u = stream_into(state.archive.begin_upload(), Box::pin(stream)).await?;
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
                && bewahr_core::signature::recognise(b"", Some(s))
                    != bewahr_core::signature::Format::Xades
            {
                u.abort();
                return Err(ApiError::bad(
                    "bad_signature",
                    "the `signature` part is neither a CMS/CAdES signature (DER or PEM) nor an XML signature (XAdES): send the .p7s or the detached .xml signature",
                ));
            }
        }
        Ok(Submission {
            upload: u,
            metadata: metadata.unwrap_or_default(),
            media_type: mt,
            signature,
            package: None,
        })
    } else {
        let metadata = metadata_from_query(&params)?;
        // refuse bad metadata before reading a possibly large body
        state.archive.check_metadata(&metadata)?;
        let stream = req
            .into_body()
            .into_data_stream()
            .map(|r| r.map_err(|e| e.to_string()));
        let upload = stream_into(state.archive.begin_upload(), stream).await?;
        Ok(Submission {
            upload,
            metadata,
            media_type: ct,
            signature: None,
            package: None,
        })
    }
}

/// The answer to a submission, with its `Location`.
fn submitted(r: crate::ingest::Receipt) -> Response {
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
    resp
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
    Allowed { who, .. }: Allowed<op::Submit>,
    Query(params): Query<Vec<(String, String)>>,
    req: Request,
) -> Result<Response, ApiError> {
    let s = receive(&state, params, req).await?;
    Ok(submitted(state.archive.submit(&who, s).await?))
}

/// Submit a new version of an archive object.
#[utoipa::path(post, path = "/v1/objects/{aoid}/versions", params(("aoid" = String, Path)),
    request_body(content = Vec<u8>, description = "as for POST /v1/objects"),
    responses((status = 201, body = Submitted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn submit_version(
    State(state): State<AppState>,
    obj: OwnedObject<op::AddVersion>,
    Query(params): Query<Vec<(String, String)>>,
    req: Request,
) -> Result<Response, ApiError> {
    let s = receive(&state, params, req).await?;
    Ok(submitted(state.archive.add_version(&obj.object, s).await?))
}

/// Find the caller's tenant's archive objects by metadata (every filter
/// given must hold for one version), in the order they were created.
#[utoipa::path(get, path = "/v1/objects", params(crate::service::SearchQuery),
    responses((status = 200, body = crate::service::SearchPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Allowed { who, .. }: Allowed<op::Search>,
    q: Result<Query<crate::service::SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<crate::service::SearchPage>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::rejected("invalid_query", e.status(), e.body_text()))?;
    Ok(Json(state.archive.search(&who, &q).await?))
}

/// An archive object: metadata, versions, states.
#[utoipa::path(get, path = "/v1/objects/{aoid}", params(("aoid" = String, Path)),
    responses((status = 200, body = ObjectView), (status = 404, body = ErrorBody)))]
pub async fn get_object(
    State(state): State<AppState>,
    obj: OwnedObject<op::ReadObject>,
) -> Result<Json<ObjectView>, ApiError> {
    Ok(Json(state.archive.object(&obj.object).await?))
}

/// The version the path names (the extractor parsed it; a route without
/// `{n}` never asks).
fn path_version<O: super::extract::Op>(obj: &OwnedObject<O>) -> Result<VersionNo, ApiError> {
    obj.version
        .ok_or_else(|| ApiError::NotFound("no such version".into()))
}

/// The bytes of a version, exactly as submitted.
#[utoipa::path(get, path = "/v1/objects/{aoid}/versions/{n}/content", params(("aoid" = String, Path), ("n" = i64, Path)),
    responses((status = 200, content_type = "application/octet-stream", description = "the document with its media type"), (status = 404, body = ErrorBody)))]
pub async fn get_content(
    State(state): State<AppState>,
    obj: OwnedObject<op::ReadContent>,
) -> Result<Response, ApiError> {
    let c = state
        .archive
        .content(&obj.object, path_version(&obj)?)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, c.location.media_type),
            (header::CONTENT_LENGTH, c.location.size.to_string()),
            (
                header::ETAG,
                format!("\"sha256:{}\"", hex::encode(c.location.sha256)),
            ),
        ],
        Body::from_stream(c.body),
    )
        .into_response())
}

/// The version as an ASiC container with its evidence record
/// (`META-INF/evidencerecord.ers`): ASiC-S with the document alone, ASiC-E
/// with the document and its preserved signature, validation data and
/// report (when the caller may read them), each covered by the record.
#[utoipa::path(get, path = "/v1/objects/{aoid}/versions/{n}/asic", params(("aoid" = String, Path), ("n" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.etsi.asic-e+zip", description = "the ASiC-S or ASiC-E container"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not sealed yet"), (status = 422, body = ErrorBody)))]
pub async fn get_asic(
    State(state): State<AppState>,
    obj: OwnedObject<op::ReadContent>,
) -> Result<Response, ApiError> {
    let n = path_version(&obj)?;
    let (zip, mt) = state.archive.asic(&obj.object, n).await?;
    let ext = if mt == bewahr_core::signature::asic::MIMETYPE_S {
        "asics"
    } else {
        "asice"
    };
    let name = format!(
        "attachment; filename=\"{}-v{}.{ext}\"",
        obj.object.aoid(),
        n.get()
    );
    Ok((
        [
            (header::CONTENT_TYPE, mt.to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        zip,
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EvidenceQuery {
    /// The version (default: the latest).
    pub version: Option<i64>,
    /// `rfc4998` (DER, the default) or `rfc6283` (XML; for a version whose
    /// renewals were bridged to it and whose XML data is in canonical form).
    pub format: Option<String>,
    /// Seconds to wait for the batch to be sealed (at most 60).
    pub wait: Option<u64>,
}

/// The RFC 4998 evidence record (DER) of a version, built on demand.
#[utoipa::path(get, path = "/v1/objects/{aoid}/evidence", params(("aoid" = String, Path), EvidenceQuery),
    responses((status = 200, content_type = "application/octet-stream", description = "DER EvidenceRecord (RFC 4998)"),
               (status = 404, body = ErrorBody), (status = 409, description = "{\"state\": \"pending\"}: the batch is not sealed yet")))]
pub async fn get_evidence(
    State(state): State<AppState>,
    obj: OwnedObject<op::Evidence>,
    Query(q): Query<EvidenceQuery>,
) -> Result<Response, ApiError> {
    let version = match q.version {
        Some(v) => {
            Some(VersionNo::new(v).map_err(|_| ApiError::NotFound(format!("no version {v}")))?)
        }
        None => None,
    };
    let wait = Duration::from_secs(q.wait.unwrap_or(0));
    let xml = match q.format.as_deref() {
        None | Some("rfc4998") => false,
        Some("rfc6283") => true,
        Some(f) => {
            return Err(ApiError::BadRequest {
                code: "unknown_format",
                message: format!("format {f:?}: rfc4998 (DER, the default) or rfc6283 (XML)"),
            })
        }
    };
    let (loc, record, mt, ext) = if xml {
        let (loc, x) = state
            .archive
            .evidence_rfc6283(&obj.object, version, wait)
            .await?;
        (loc, x, "application/xml", "xml")
    } else {
        let (loc, der) = state.archive.evidence(&obj.object, version, wait).await?;
        (loc, der, "application/octet-stream", "ers")
    };
    let name = format!(
        "attachment; filename=\"{}-v{}.{ext}\"",
        obj.object.aoid(),
        loc.version
    );
    Ok((
        [
            (header::CONTENT_TYPE, mt.to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        record,
    )
        .into_response())
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
    obj: OwnedObject<op::Delete>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body =
        body.map_err(|e| ApiError::rejected("invalid_request", e.status(), e.body_text()))?;
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
    // the trail records the request whatever its outcome
    let mut resp = match state.archive.delete(&obj.object, &req).await {
        Ok(done) => Json(done).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    };
    resp.extensions_mut()
        .insert(super::auth::AuditDetail(req.audit_detail()));
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
    obj: OwnedObject<op::LegalHold>,
    body: Result<Json<LegalHold>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(h) =
        body.map_err(|e| ApiError::rejected("invalid_request", e.status(), e.body_text()))?;
    let change = LegalHoldChange::new(h.hold, h.reason.as_deref())?;
    state.archive.set_legal_hold(&obj.object, &change).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.extensions_mut()
        .insert(super::auth::AuditDetail(change.audit_detail()));
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
    obj: OwnedObject<op::Validation>,
) -> Result<Response, ApiError> {
    let (loc, preserved) = state
        .archive
        .validation(&obj.object, path_version(&obj)?)
        .await?;
    let Some(PreservedValidation { row, report, data }) = preserved else {
        return Ok(Json(serde_json::json!({
            "version": loc.version,
            "format": "none",
            "summary": "the document carried no signature or seal (or was archived without validation)",
        }))
        .into_response());
    };
    use base64::Engine;
    let b64 = |v: &[Vec<u8>]| -> Vec<String> {
        v.iter()
            .map(|x| base64::engine::general_purpose::STANDARD.encode(x))
            .collect()
    };
    let base = format!(
        "/v1/objects/{}/versions/{}/validation",
        obj.object.aoid(),
        loc.version
    );
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

/// One preserved item exactly as hashed into the version's data-object
/// group: `report` (JSON), `data` (ValidationData DER) or `signature` (the
/// detached signature). Give them to `bewahr verify --data` with the document.
#[utoipa::path(get, path = "/v1/objects/{aoid}/versions/{n}/validation/{item}", params(("aoid" = String, Path), ("n" = i64, Path), ("item" = String, Path, description = "report, data or signature")),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
pub async fn get_validation_item(
    State(state): State<AppState>,
    obj: OwnedObject<op::Validation>,
    Path((_, _, item)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let which = ValidationItem::parse(&item).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no preserved item {item:?} (report, data, signature)"
        ))
    })?;
    let bytes = state
        .archive
        .validation_item(&obj.object, path_version(&obj)?, which)
        .await?;
    Ok(([(header::CONTENT_TYPE, which.media_type())], bytes).into_response())
}
