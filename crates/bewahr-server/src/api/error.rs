//! The API's one error type, mapped to HTTP in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::evidence::EvidenceError;
use crate::ingest::IngestError;

/// An error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug)]
pub enum ApiError {
    BadRequest {
        code: &'static str,
        message: String,
    },
    NotFound(String),
    /// 401: no valid credentials (never says which check failed).
    Unauthorized,
    /// 403: valid credentials, not allowed.
    Forbidden(String),
    /// 429: the token's rate limit; retry after this many seconds.
    TooManyRequests(u64),
    Conflict {
        code: &'static str,
        message: String,
    },
    TooLarge(String),
    /// 503: a part the request needs (the catalog) does not answer; retry later.
    Unavailable(String),
    /// 422: the submission policy refused the document's signature; the report goes back.
    Refused {
        message: String,
        report: Option<Box<bewahr_core::signature::ValidationReport>>,
    },
    /// 422: an archive package (XAIP) was refused; `code` is TR-ESOR-E's
    /// reason (`xaip_nok_sig`, ...), the report goes back where one was made.
    Package {
        code: &'static str,
        message: String,
        report: Option<serde_json::Value>,
    },
    /// 409 `{"state": "pending"}`: the version's batch is not sealed yet;
    /// retry after this many seconds.
    Pending(u64),
    /// Logged, never echoed.
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl ApiError {
    /// An extractor's rejection: 413 when the body was over its limit,
    /// else 400 with `code`.
    pub fn rejected(code: &'static str, status: StatusCode, text: String) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(text)
        } else {
            ApiError::bad(code, text)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Unauthorized = self {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                Json(ErrorBody {
                    error: ErrorDetail {
                        code: "unauthorized".into(),
                        message:
                            "missing or invalid credentials: send `Authorization: Bearer <token>`"
                                .into(),
                    },
                }),
            )
                .into_response();
        }
        if let ApiError::TooManyRequests(secs) = self {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, secs.to_string())],
                Json(ErrorBody {
                    error: ErrorDetail {
                        code: "rate_limited".into(),
                        message: format!("too many requests with this token; retry in {secs} s"),
                    },
                }),
            )
                .into_response();
        }
        if let ApiError::Unavailable(detail) = self {
            tracing::warn!(%detail, "service unavailable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "5")],
                Json(ErrorBody {
                    error: ErrorDetail {
                        code: "unavailable".into(),
                        message: "the archive's catalog does not answer; retry shortly".into(),
                    },
                }),
            )
                .into_response();
        }
        if let ApiError::Pending(secs) = self {
            return (
                StatusCode::CONFLICT,
                [(axum::http::header::RETRY_AFTER, secs.to_string())],
                Json(serde_json::json!({"state": "pending"})),
            )
                .into_response();
        }
        if let ApiError::Refused { message, report } = self {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({
                    "error": {"code": "signature_refused", "message": message},
                    "validation": report,
                })),
            )
                .into_response();
        }
        if let ApiError::Package {
            code,
            message,
            report,
        } = self
        {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({
                    "error": {"code": code, "message": message},
                    "report": report,
                })),
            )
                .into_response();
        }
        let (status, code, message) = match self {
            ApiError::Unauthorized
            | ApiError::TooManyRequests(_)
            | ApiError::Refused { .. }
            | ApiError::Package { .. }
            | ApiError::Pending(_)
            | ApiError::Unavailable(_) => {
                unreachable!("answered above")
            }
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m),
            ApiError::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m),
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, code, message),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", m),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the server log has the details".to_string(),
                )
            }
        };
        (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message,
                },
            }),
        )
            .into_response()
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl From<EvidenceError> for ApiError {
    fn from(e: EvidenceError) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl From<crate::catalog::CatalogError> for ApiError {
    fn from(e: crate::catalog::CatalogError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as S;
        match e {
            S::Forbidden { .. } => ApiError::Forbidden(e.to_string()),
            S::NotFound(m) => ApiError::NotFound(m),
            S::Invalid { code, message } => ApiError::BadRequest { code, message },
            S::TooLarge(m) => ApiError::TooLarge(m),
            S::Conflict { code, message } => ApiError::Conflict { code, message },
            S::Refused { reason, report } => ApiError::Refused {
                message: reason,
                report,
            },
            S::Package {
                fault: crate::service::PackageFault::Client,
                message,
                ..
            } => ApiError::Forbidden(message),
            S::Package {
                fault,
                message,
                report,
            } => ApiError::Package {
                code: fault.code(),
                message,
                report,
            },
            S::Pending { retry_after_secs } => ApiError::Pending(retry_after_secs),
            S::Unavailable(e) => ApiError::Unavailable(e.to_string()),
            e @ (S::Catalog(_)
            | S::Store(_)
            | S::Write(_)
            | S::Evidence(_)
            | S::Task(_)
            | S::Corrupt(_)) => ApiError::Internal(error_chain(&e)),
        }
    }
}

/// An error and its sources, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
