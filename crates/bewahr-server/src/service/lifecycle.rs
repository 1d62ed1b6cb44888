//! Deleting objects and legal holds.

use super::{ArchiveService, Operation, Owned, ServiceError};
use crate::catalog::{Deleted, Deletion};

/// Why an object is deleted (TR-ESOR ReasonOfDeletion, TS 119 512 `reason`).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionRequest {
    /// Required before the retention date.
    #[serde(default)]
    pub reason: Option<String>,
    /// Who asked for it (RequestorName); required before the retention date.
    #[serde(default)]
    pub requestor: Option<String>,
}

impl DeletionRequest {
    /// What the audit trail records of the request.
    pub fn audit_detail(&self) -> String {
        format!(
            "reason: {}; requestor: {}",
            self.reason.as_deref().unwrap_or("-"),
            self.requestor.as_deref().unwrap_or("-")
        )
    }
}

/// A legal hold set or lifted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegalHoldChange {
    Set { reason: String },
    Lifted,
}

impl LegalHoldChange {
    /// A hold needs a reason (not blank); lifting takes none.
    pub fn new(hold: bool, reason: Option<&str>) -> Result<Self, ServiceError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        match (hold, reason) {
            (true, Some(r)) => Ok(LegalHoldChange::Set {
                reason: r.to_string(),
            }),
            (true, None) => Err(ServiceError::invalid(
                "invalid_request",
                "a legal hold needs a reason",
            )),
            (false, _) => Ok(LegalHoldChange::Lifted),
        }
    }

    /// What the audit trail records.
    pub fn audit_detail(&self) -> String {
        match self {
            LegalHoldChange::Set { reason } => format!("legal hold set: {reason}"),
            LegalHoldChange::Lifted => "legal hold lifted".into(),
        }
    }
}

impl ArchiveService {
    /// Deletes an object: its content and metadata go, every other
    /// object's evidence stays valid. Refused (`Conflict`) under a legal
    /// hold, while a version is pending, and before the retention date
    /// unless a reason and a requestor are given.
    pub async fn delete(
        &self,
        obj: &Owned,
        req: &DeletionRequest,
    ) -> Result<Deleted, ServiceError> {
        obj.expect(Operation::Delete)?;
        let now = self.now();
        let d = Deletion {
            aoid: obj.aoid.to_string(),
            reason: req.reason.clone(),
            requestor: req.requestor.clone(),
            by: obj.principal.token.clone(),
            at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
            today: self.today().to_string(),
        };
        let done = self.ingest.writer.delete(d).await?;
        tracing::info!(aoid = %obj.aoid, by = %obj.principal.token, detail = %req.audit_detail(), versions = done.versions, "archive object deleted");
        metrics::counter!("bewahr_deletions_total").increment(1);
        Ok(done)
    }

    /// Sets or lifts the legal hold of an object: under a hold nothing deletes it.
    pub async fn set_legal_hold(
        &self,
        obj: &Owned,
        change: &LegalHoldChange,
    ) -> Result<(), ServiceError> {
        obj.expect(Operation::LegalHold)?;
        let reason = match change {
            LegalHoldChange::Set { reason } => Some(reason.as_str()),
            LegalHoldChange::Lifted => None,
        };
        if !self
            .catalog
            .set_legal_hold(obj.aoid.as_str(), reason)
            .await?
        {
            return Err(ServiceError::not_found("no such archive object"));
        }
        // the store's own hold (S3 legal hold), on every content of the
        // object; lifted only where no other held object shares the content
        let on = reason.is_some();
        let mut digests = self.catalog.contents_of(obj.aoid.as_str()).await?;
        if !on {
            let mut kept = Vec::with_capacity(digests.len());
            for d in digests {
                if !self.catalog.held_elsewhere(&d, obj.aoid.as_str()).await? {
                    kept.push(d);
                }
            }
            digests = kept;
        }
        let store = self.ingest.store.clone();
        tokio::task::spawn_blocking(move || {
            digests.iter().try_for_each(|d| store.legal_hold(d, on))
        })
        .await??;
        Ok(())
    }
}
