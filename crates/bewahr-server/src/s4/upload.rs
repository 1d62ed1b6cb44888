//! The upload and download interface of LXAIPs (TR-ESOR-E section 6,
//! whose transport the standard leaves to the product):
//!
//! - `POST /s4/upload`: the body is the file (any media type, streamed,
//!   up to the document limit). The answer is a `tr:UploadResponse` (the
//!   element TR-ESOR-E 6.1.2 recommends) with `dss:Result` and one
//!   `asic:DataObjectReference`: the URI to put into the LXAIP and the
//!   file's SHA-256. Refused: archive packages and ASiC-AIPs
//!   (`arl/uploadDataFormatNotSupported`).
//! - `GET /s4/download?uri=URI`: the file an archived LXAIP or DLXAIP
//!   refers to by `URI`, as uploaded (`application/octet-stream`); an
//!   error is a `tr:DownloadResponse` with its `dss:Result`.
//!
//! Both take the REST API's authentication; the upload needs the
//! submitter's role, the download may read the package's object.

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::Engine;
use futures_util::StreamExt;

use super::codes::{Minor, Outcome, API};
use super::respond::{esc, result};
use crate::access::Principal;
use crate::api::auth::{AuditDetail, CreatedObject};
use crate::api::AppState;
use crate::service::{Operation, ServiceError, REFERENCE_UNUSABLE, UPLOAD_FORMAT_REFUSED};

const NAMESPACES: &str = concat!(
    " xmlns:tr=\"http://www.bsi.bund.de/tr-esor/api/1.3\"",
    " xmlns:dss=\"urn:oasis:names:tc:dss:1.0:core:schema\"",
    " xmlns:asic=\"http://uri.etsi.org/02918/v1.2.1#\"",
    " xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\""
);

/// The digest method of the references the archive gives.
pub const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

fn document(element: &str, outcome: &Outcome, body: &str) -> String {
    let mut out = String::with_capacity(512 + body.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><tr:");
    out.push_str(element);
    out.push_str(NAMESPACES);
    out.push_str(" Profile=\"");
    out.push_str(API);
    out.push_str("\">");
    result(&mut out, outcome);
    out.push_str(body);
    out.push_str("</tr:");
    out.push_str(element);
    out.push('>');
    out
}

fn xml(status: StatusCode, body: String, audit: String) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response();
    r.extensions_mut().insert(AuditDetail(audit));
    r
}

/// The result code and HTTP status of a failed upload or download.
fn failure(e: &ServiceError) -> (StatusCode, Outcome) {
    match e {
        ServiceError::Invalid {
            code: UPLOAD_FORMAT_REFUSED,
            message,
        } => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Outcome::error(Minor::UploadDataFormatNotSupported, message.clone()),
        ),
        ServiceError::Forbidden { .. } => (
            StatusCode::FORBIDDEN,
            Outcome::error(Minor::NoPermission, e.to_string()),
        ),
        ServiceError::NotFound(m) => (
            StatusCode::NOT_FOUND,
            Outcome::error(Minor::UnknownUri, m.clone()),
        ),
        ServiceError::TooLarge(m) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            Outcome::error(Minor::ParameterError, m.clone()),
        ),
        ServiceError::Invalid { code, message } if *code != REFERENCE_UNUSABLE => (
            StatusCode::BAD_REQUEST,
            Outcome::error(Minor::ParameterError, message.clone()),
        ),
        e => {
            tracing::error!(error = %e, "S.4 upload or download failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Outcome::error(Minor::InternalError, e.to_string()),
            )
        }
    }
}

/// `POST /s4/upload`.
pub async fn upload(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    req: Request,
) -> Response {
    let refused = |e: ServiceError| {
        let (status, o) = failure(&e);
        let body = document("UploadResponse", &o, "");
        xml(status, body, format!("S.4 upload: {}", e))
    };
    let who = match state.archive.authorize(&principal, Operation::Submit) {
        Ok(w) => w,
        Err(e) => return refused(e),
    };
    let mut incoming = state.archive.begin_upload();
    let mut body = req.into_body().into_data_stream();
    while let Some(piece) = body.next().await {
        let r = match piece {
            Ok(p) => incoming.push(p).await,
            Err(e) => {
                incoming.abort();
                Err(ServiceError::invalid(
                    "bad_body",
                    format!("reading the request body failed: {e}"),
                ))
            }
        };
        if let Err(e) = r {
            return refused(e);
        }
    }
    match state.archive.finish_upload(&who, incoming).await {
        Err(e) => refused(e),
        Ok(r) => {
            let reference = format!(
                "<asic:DataObjectReference URI=\"{}\"><ds:DigestMethod Algorithm=\"{SHA256_URI}\"/><ds:DigestValue>{}</ds:DigestValue></asic:DataObjectReference>",
                esc(&r.uri),
                base64::engine::general_purpose::STANDARD.encode(r.sha256)
            );
            let body = document("UploadResponse", &Outcome::ok(), &reference);
            let mut resp = xml(
                StatusCode::OK,
                body,
                format!(
                    "S.4 upload: {} ({} bytes, SHA-256 {}, usable until {})",
                    r.uri,
                    r.size,
                    hex::encode(r.sha256),
                    bewahr_core::tsp::trust::rfc3339(r.expires_at)
                ),
            );
            resp.headers_mut().insert(
                "x-bewahr-upload-expires",
                bewahr_core::tsp::trust::rfc3339(r.expires_at)
                    .parse()
                    .expect("RFC 3339 is a header value"),
            );
            resp
        }
    }
}

#[derive(serde::Deserialize)]
pub struct DownloadQuery {
    uri: String,
}

/// `GET /s4/download?uri=URI`.
pub async fn download(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    match state.archive.download(&principal, &q.uri).await {
        Err(e) => {
            let (status, o) = failure(&e);
            xml(
                status,
                document("DownloadResponse", &o, ""),
                format!("S.4 download of {}: {e}", q.uri),
            )
        }
        Ok(d) => {
            let mut r = Response::new(Body::from_stream(d.body));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                "application/octet-stream".parse().expect("a header value"),
            );
            h.insert(header::CONTENT_LENGTH, d.size.into());
            if let Ok(v) = format!(
                "sha-256=:{}:",
                base64::engine::general_purpose::STANDARD.encode(d.sha256)
            )
            .parse()
            {
                h.insert("repr-digest", v);
            }
            r.extensions_mut().insert(AuditDetail(format!(
                "S.4 download of {} (v{} of {})",
                q.uri, d.version, d.aoid
            )));
            r.extensions_mut().insert(CreatedObject(d.aoid));
            r
        }
    }
}
