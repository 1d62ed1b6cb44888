//! The service layer's one error type. Every interface maps it to its own
//! answers in one place (REST: `api::error`; S.4 and TS 119 512: their
//! result codes).

use crate::access::Role;
use crate::catalog::{CatalogError, WriteError};
use crate::evidence::EvidenceError;
use crate::ingest::IngestError;
use crate::store::StoreError;

use super::Operation;

/// Why an operation of the archive service did not happen. Unless a
/// variant says otherwise, nothing of the request was recorded.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller's role may not do this (whatever the object).
    #[error("{} {} token may not {}", if matches!(role, Role::Submitter) { "a" } else { "an" }, role.as_str(), op.describe())]
    Forbidden { role: Role, op: Operation },
    /// No such object or version for this caller: unknown, malformed,
    /// deleted, or another tenant's (indistinguishable on purpose).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or breaks a rule; `code` names the rule.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// The request conflicts with the object's state (legal hold,
    /// retention period, a pending version).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The submission policy refused the document's signature.
    #[error("{reason}")]
    Refused {
        reason: String,
        report: Option<Box<bewahr_core::signature::ValidationReport>>,
    },
    /// An archive package (XAIP) was refused: `fault` says why in
    /// TR-ESOR-E's terms; `report` is the signature validation or record
    /// verification report where one was made.
    #[error("{message}")]
    Package {
        fault: super::xaip::PackageFault,
        message: String,
        report: Option<serde_json::Value>,
    },
    /// The version's batch is not sealed yet: ask again later.
    #[error("the version is not sealed yet")]
    Pending { retry_after_secs: u64 },
    /// The catalog does not answer (an outage): retry later.
    #[error("the catalog does not answer: {0}")]
    Unavailable(#[source] CatalogError),
    /// The catalog failed otherwise.
    #[error(transparent)]
    Catalog(CatalogError),
    /// The content store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The catalog writer failed (the write may or may not have happened:
    /// see [`WriteError`]).
    #[error(transparent)]
    Write(WriteError),
    /// Building an evidence record failed (an inconsistency between
    /// catalog and store).
    #[error(transparent)]
    Evidence(EvidenceError),
    /// A worker task of the service failed (a panic in a blocking task).
    #[error("a worker task failed: {0}")]
    Task(String),
    /// What the archive holds is inconsistent (a preserved item missing or
    /// unreadable).
    #[error("{0}")]
    Corrupt(String),
}

impl ServiceError {
    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ServiceError::NotFound(message.into())
    }
}

impl From<CatalogError> for ServiceError {
    fn from(e: CatalogError) -> Self {
        if e.is_unavailable() {
            ServiceError::Unavailable(e)
        } else {
            ServiceError::Catalog(e)
        }
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(e: tokio::task::JoinError) -> Self {
        ServiceError::Task(e.to_string())
    }
}

impl From<WriteError> for ServiceError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::UnknownAoid(_) => ServiceError::not_found("no such archive object"),
            e @ WriteError::ExistingAoid(_) => ServiceError::Conflict {
                code: "existing_aoid",
                message: e.to_string(),
            },
            e @ WriteError::NotLatest { .. } => ServiceError::Conflict {
                code: "not_latest_version",
                message: e.to_string(),
            },
            WriteError::Refused(message) => ServiceError::Conflict {
                code: "deletion_refused",
                message,
            },
            WriteError::ReasonRequired(message) => ServiceError::Conflict {
                code: "reason_required",
                message,
            },
            e @ WriteError::ContentGone => ServiceError::Conflict {
                code: "resubmit",
                message: e.to_string(),
            },
            e => ServiceError::Write(e),
        }
    }
}

impl From<IngestError> for ServiceError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid { .. } => ServiceError::invalid("invalid_metadata", e.to_string()),
            IngestError::Empty => ServiceError::invalid(
                "empty_document",
                "the document is empty: send its bytes as the request body or the `document` part",
            ),
            IngestError::TooLarge { .. } => ServiceError::TooLarge(e.to_string()),
            IngestError::UnknownAoid(_) => ServiceError::not_found("no such archive object"),
            IngestError::Refused { reason, report } => ServiceError::Refused { reason, report },
            IngestError::Store(e) => ServiceError::Store(e),
            IngestError::Write(e) => e.into(),
        }
    }
}

impl From<EvidenceError> for ServiceError {
    fn from(e: EvidenceError) -> Self {
        match e {
            EvidenceError::NotFound => ServiceError::not_found("no such archive object or version"),
            e => ServiceError::Evidence(e),
        }
    }
}
