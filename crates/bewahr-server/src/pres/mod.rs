//! ETSI TS 119 512 V1.1.2, the preservation protocol, in both its
//! bindings: JSON at `POST /pres/{operation}` ([`json`]) and SOAP 1.2 at
//! `POST /pres/soap` ([`soap`]), with BSI's profile of it for TR-ESOR 1.3
//! and a profile for hash-only preservation ([`profile`]).
//!
//! A thin interface like S.4: a request is read into one binding-neutral
//! [`run::Request`], carried out as TR-ESOR-TRANS maps it onto S.4 (on
//! the same functions and the same archive service), and the result
//! mapped in one place ([`codes`]). Authentication, roles, tenants, the
//! audit trail and limits are the other interfaces' (set in `app()`).

pub mod codes;
pub mod json;
pub mod profile;
pub mod run;
pub mod soap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::auth::{AuditDetail, CreatedObject};
use crate::api::AppState;
use run::{Answer, PresOp};

/// The routes of both bindings (their body limit is set in `app()`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pres/soap", get(soap::get).post(soap::call))
        .route("/pres/openapi.json", get(openapi_redirect))
        .route("/pres/schemas/{*path}", get(schema))
        .route("/pres/{op}", post(json::call))
}

/// ETSI's OpenAPI document and the JSON schemas it refers to (relatively:
/// they are served side by side), as published (`schemas/PROVENANCE.md`).
const JSON_SCHEMAS: &[(&str, &[u8])] = &[
    (
        OPENAPI,
        include_bytes!("../../schemas/ts119512/19512-Preservation-API-openapi-1.1.2.json"),
    ),
    (
        "19512-Preservation-API-schema-1.1.2.json",
        include_bytes!("../../schemas/ts119512/19512-Preservation-API-schema-1.1.2.json"),
    ),
    (
        "oasis-dss-core-schema-2.0-cs02.json",
        include_bytes!("../../schemas/ts119512/oasis-dss-core-schema-2.0-cs02.json"),
    ),
    (
        "oasis-dss-metadata-schema-1.0-cs02.json",
        include_bytes!("../../schemas/ts119512/oasis-dss-metadata-schema-1.0-cs02.json"),
    ),
];

const OPENAPI: &str = "19512-Preservation-API-openapi-1.1.2.json";

/// A JSON schema of the binding by file name.
pub fn json_schema(name: &str) -> Option<&'static [u8]> {
    JSON_SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
}

/// ETSI's OpenAPI document with its one `servers` entry set to this
/// archive's `/pres` (as published, it names `127.0.0.1:{port}`).
pub fn openapi(base: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(json_schema(OPENAPI).expect("embedded"))
        .expect("ETSI's OpenAPI document is JSON");
    v["servers"] = serde_json::json!([{
        "url": format!("{base}/pres"),
        "description": "bewahr: ETSI TS 119 512 (JSON binding)",
    }]);
    v
}

/// `GET /pres/openapi.json`: to the document beside its schemas.
async fn openapi_redirect() -> Redirect {
    Redirect::temporary(&format!("/pres/schemas/ts119512/{OPENAPI}"))
}

/// `GET /pres/schemas/{path}`: the XML schemas (as for S.4) and, below
/// `ts119512/`, the JSON binding's documents.
async fn schema(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
) -> Response {
    match path.strip_prefix("ts119512/") {
        Some(OPENAPI) => {
            let base = crate::s4::wsdl::base_url(&state, &headers);
            axum::Json(openapi(&base)).into_response()
        }
        Some(name) => match json_schema(name) {
            Some(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
            None => (StatusCode::NOT_FOUND, "no such schema\n").into_response(),
        },
        None => crate::s4::wsdl::schema(Path(path)).await,
    }
}

/// What the audit trail records of a request: the operation, its result,
/// the object it concerned.
fn audit(resp: &mut Response, binding: &str, op: PresOp, a: &Answer) {
    let mut detail = format!("{binding} {}: {}", op.name(), a.result.major);
    if let Some(m) = &a.result.minor {
        detail.push(' ');
        detail.push_str(m);
    }
    if let Some(x) = &a.audit {
        detail.push_str("; ");
        detail.push_str(x);
    }
    resp.extensions_mut().insert(AuditDetail(detail));
    if let Some(aoid) = &a.aoid {
        resp.extensions_mut().insert(CreatedObject(aoid.clone()));
    }
}
