//! The archive service: the one layer every interface calls (the REST API
//! today; TR-ESOR S.4 and ETSI TS 119 512 next). Submit, add a version,
//! retrieve, evidence, delete, legal hold, validation, trace and search
//! live here once, with their rules: which role may do what, and that a
//! tenant only ever sees its own objects.
//!
//! Authorisation is a value: [`ArchiveService::authorize_object`] checks the
//! role, parses the id and checks the tenant, and returns an [`Owned`]; every
//! operation on an object takes one, so none can run unchecked. Interfaces
//! do no checks of their own (REST: the `OwnedObject` extractor calls
//! `authorize_object` once per request).

mod error;
mod incoming;
mod lifecycle;
mod objects;
mod query;
mod uploads;
mod verify;
mod xaip;

pub use error::ServiceError;
pub use incoming::Incoming;
pub use lifecycle::{DeletionRequest, LegalHoldChange};
pub use objects::{ByteStream, Content, PreservedValidation, Submission, ValidationItem};
pub use query::{SearchHit, SearchPage, SearchQuery, TraceQuery};
pub use uploads::{
    Download, UploadReceipt, DEFAULT_UPLOAD_TTL, REFERENCE_UNUSABLE, UPLOAD_FORMAT_REFUSED,
    UPLOAD_URI_PREFIX,
};
pub use verify::{DetachedRecord, Judgement, PackageVerdict, Verdict, BESIDE};
pub use xaip::{
    Import, PackageFault, PackageParts, RecordCheck, SchemaCheck, DEFAULT_SUBMISSION_TOLERANCE,
    IMPORTED_RECORDS, XAIP_MEDIA_TYPE,
};

use std::collections::BTreeMap;

use std::time::Duration;

use time::{Date, OffsetDateTime};

use crate::access::{Principal, Role};
use crate::catalog::Catalog;
use crate::evidence::Evidence;
use crate::ids::{Aoid, TenantId, VersionNo};
use crate::ingest::Ingest;
use crate::seal::Sealer;

/// What a caller asks of the archive. Each operation names the roles that
/// may do it: the one place where that is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A new archive object (TR-ESOR ArchiveSubmission, TS 119 512 PreservePO).
    Submit,
    /// A new version of an object (ArchiveUpdate, UpdatePOC).
    AddVersion,
    /// An object's metadata, versions and states.
    ReadObject,
    /// A version's bytes (ArchiveRetrieval, RetrievePO).
    ReadContent,
    /// A version's evidence record (ArchiveEvidence).
    Evidence,
    /// A version's preserved signature validation.
    Validation,
    /// Deleting an object (ArchiveDeletion, DeletePO).
    Delete,
    /// Setting or lifting a legal hold.
    LegalHold,
    /// The audit trail (ArchiveTrace, RetrieveTrace).
    Trace,
    /// Finding objects by their metadata (ArchiveData, Search).
    Search,
    /// Verifying a record or a signature with the archive's verifier.
    Verify,
}

impl Operation {
    /// The roles that may do this.
    pub const fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Operation::Submit | Operation::AddVersion => &[Submitter],
            // the eAkte system may do all TR-ESOR lets the calling
            // application do with its own objects: read them back, fetch
            // their evidence, trace them and ask for their deletion
            Operation::ReadObject
            | Operation::ReadContent
            | Operation::Evidence
            | Operation::Validation
            | Operation::Search
            | Operation::Verify => &[Submitter, Auditor, Admin],
            Operation::Delete => &[Submitter, Admin],
            Operation::LegalHold => &[Admin],
            Operation::Trace => &[Submitter, Auditor, Admin, Operator],
        }
    }

    /// Whether the operation also applies to a deleted object (its trail
    /// stays readable).
    const fn sees_deleted(self) -> bool {
        matches!(self, Operation::Trace)
    }

    /// For messages: "read this object", ...
    pub fn describe(self) -> &'static str {
        match self {
            Operation::Submit => "submit documents",
            Operation::AddVersion => "add versions",
            Operation::ReadObject => "read archive objects",
            Operation::ReadContent => "read archived content",
            Operation::Evidence => "fetch evidence records",
            Operation::Validation => "read validation reports",
            Operation::Delete => "delete archive objects",
            Operation::LegalHold => "set legal holds",
            Operation::Trace => "read the audit trail",
            Operation::Search => "search archive objects",
            Operation::Verify => "verify evidence",
        }
    }
}

/// A caller allowed to do an operation that names no object (submit,
/// search, trace, verify). Only [`ArchiveService::authorize`] makes one.
#[derive(Clone, Debug)]
pub struct Authorized {
    principal: Principal,
    op: Operation,
}

impl Authorized {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The caller's tenant; `None` for the platform operator.
    pub fn tenant(&self) -> Option<&TenantId> {
        self.principal.tenant.as_ref()
    }

    pub fn operation(&self) -> Operation {
        self.op
    }
}

/// Proof that a caller may do an operation on an archive object of its
/// own tenant. Only [`ArchiveService::authorize_object`] makes one.
#[derive(Clone, Debug)]
pub struct Owned {
    principal: Principal,
    op: Operation,
    aoid: Aoid,
}

impl Owned {
    pub fn aoid(&self) -> &Aoid {
        &self.aoid
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn operation(&self) -> Operation {
        self.op
    }

    fn expect(&self, op: Operation) -> Result<(), ServiceError> {
        // an Owned for one operation is no licence for another
        if self.op == op {
            Ok(())
        } else {
            Err(ServiceError::Forbidden {
                role: self.principal.role,
                op,
            })
        }
    }
}

/// The archive service. Cheap to clone.
#[derive(Clone)]
pub struct ArchiveService {
    ingest: Ingest,
    catalog: Catalog,
    evidence: Evidence,
    sealer: Sealer,
    /// Seconds a client is told to wait before asking again for pending evidence.
    retry_after_secs: u64,
    /// How far an XAIP's submission time may be from the archive's clock.
    submission_tolerance: time::Duration,
    /// The XAIP clientIDs a tenant accepts ([`Self::with_client_ids`]).
    client_ids: BTreeMap<String, Vec<String>>,
    /// How long an upload for an LXAIP waits for its package.
    upload_ttl: time::Duration,
}

/// The longest a caller may wait for a version to be sealed.
pub const MAX_EVIDENCE_WAIT: Duration = Duration::from_secs(60);

impl ArchiveService {
    pub fn new(
        ingest: Ingest,
        catalog: Catalog,
        evidence: Evidence,
        sealer: Sealer,
        retry_after_secs: u64,
    ) -> Self {
        ArchiveService {
            ingest,
            catalog,
            evidence,
            sealer,
            retry_after_secs,
            submission_tolerance: DEFAULT_SUBMISSION_TOLERANCE,
            client_ids: BTreeMap::new(),
            upload_ttl: DEFAULT_UPLOAD_TTL,
        }
    }

    /// How long a file uploaded for an LXAIP waits for the package that
    /// refers to it ([`Self::finish_upload`]).
    pub fn with_upload_ttl(mut self, t: time::Duration) -> Self {
        self.upload_ttl = t;
        self
    }

    /// How far an XAIP's submission time may be from the archive's clock
    /// (TR-ESOR-E `XAIP_NOK_SUBMTIME`).
    pub fn with_submission_tolerance(mut self, t: time::Duration) -> Self {
        self.submission_tolerance = t;
        self
    }

    /// The XAIP clientIDs each tenant accepts (a tenant not named, or
    /// with none listed, accepts any).
    pub fn with_client_ids(mut self, by_tenant: BTreeMap<String, Vec<String>>) -> Self {
        self.client_ids = by_tenant;
        self
    }

    /// The service's clock.
    pub fn now(&self) -> OffsetDateTime {
        (self.ingest.clock)()
    }

    /// The service's clock in Unix milliseconds (the catalog's times).
    fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub fn today(&self) -> Date {
        self.ingest.today()
    }

    /// The trust anchors of signature and seal validation (none when
    /// validation is off).
    pub fn signature_anchors(&self) -> Vec<x509_cert::Certificate> {
        self.ingest
            .validator
            .as_ref()
            .map(|v| v.anchors().to_vec())
            .unwrap_or_default()
    }

    /// `Forbidden` unless the caller's role may do `op`.
    pub fn authorize(&self, p: &Principal, op: Operation) -> Result<Authorized, ServiceError> {
        if !op.roles().contains(&p.role) {
            return Err(ServiceError::Forbidden { role: p.role, op });
        }
        Ok(Authorized {
            principal: p.clone(),
            op,
        })
    }

    /// Checks, in this order, that the caller's role may do `op`
    /// (`Forbidden`), that `aoid` is an archive object id, and that the
    /// object exists and belongs to the caller's tenant (`NotFound` for
    /// both: another tenant's object is not found, not forbidden, so no
    /// caller can probe for ids).
    pub async fn authorize_object(
        &self,
        p: &Principal,
        op: Operation,
        aoid: &str,
    ) -> Result<Owned, ServiceError> {
        let who = self.authorize(p, op)?;
        let aoid =
            Aoid::parse(aoid).map_err(|_| ServiceError::not_found("no such archive object"))?;
        let tenant = self
            .catalog
            .object_tenant(aoid.as_str(), op.sees_deleted())
            .await?;
        match (tenant, &who.principal.tenant) {
            (Some(Some(t)), Some(mine)) if mine == t.as_str() => Ok(Owned {
                principal: who.principal,
                op,
                aoid,
            }),
            _ => Err(ServiceError::not_found("no such archive object")),
        }
    }

    fn version_not_found(aoid: &Aoid, v: Option<VersionNo>) -> ServiceError {
        match v {
            Some(v) => ServiceError::not_found(format!("no version {v} of {aoid}")),
            None => ServiceError::not_found(format!("unknown archive object {aoid}")),
        }
    }
}
