//! Archiving an XAIP (TR-ESOR-F 1.3): the package is checked as TR-ESOR-E
//! asks (schema, XAIPVersion, retention period, submission time, every
//! signature it carries, every evidence record it carries), then kept byte
//! for byte as the version's document, and each protected object of its
//! version is stored content-addressed beside it as a member of the
//! version's data-object group. The version's evidence record thereby
//! covers exactly what TR-ESOR-ERS and BSI's ERVerifyTool hash for the
//! version (`bewahr verify --xaip` checks it against the package).
//!
//! The AOID is assigned by the archive; retrieval writes it into the
//! package header ([`bewahr_xaip::Xaip::with_aoid`]). The stored bytes
//! are the package as submitted.

use std::sync::Arc;

use bewahr_core::verify::{self, AlgorithmPolicy, InMemory, Options, Profile};
use bewahr_xaip::{History, References, Refusal, SignatureForm, UpdateRefusal, Xaip, XaipError};
use bytes::Bytes;
use x509_cert::Certificate;

use super::{ArchiveService, Authorized, Operation, Owned, ServiceError, Submission};
use crate::catalog::{Metadata, VersionView};
use crate::ingest::Receipt;
use crate::validation::{Decision, Outcome};

/// The files of an LXAIP's references, by URI.
pub(super) type Files = std::collections::HashMap<String, Vec<u8>>;

/// The catalog's media type of a version that is an XAIP (bewahr's name;
/// no media type is registered for XAIPs).
pub const XAIP_MEDIA_TYPE: &str = "application/vnd.bsi.tr-esor.xaip+xml";

/// How far a package's submission time may be from the archive's clock
/// unless configured (C.2's testbed: 10 days).
pub const DEFAULT_SUBMISSION_TOLERANCE: time::Duration = time::Duration::days(10);

/// An XAIP's objects as ingest takes them (see [`crate::ingest::Extras`]).
#[derive(Default)]
pub struct PackageParts {
    /// The protected objects of the version, as TR-ESOR-ERS hashes them.
    pub parts: Vec<Vec<u8>>,
    /// Each embedded CMS signature with its validation.
    pub validations: Vec<(Option<Vec<u8>>, Outcome)>,
    /// The version a DXAIP updates (see [`crate::ingest::Extras::after`]).
    pub after: Option<i64>,
    /// Whether ingest examines the document itself for a signature: a
    /// document of its own with imported records, not a package (its
    /// signatures are its credentials).
    pub examine: bool,
    /// A hash-only list (TS 119 512 DigestList): its values, each a data
    /// object of the version's group (see [`crate::ingest::Extras::given`]).
    pub given: Vec<Vec<u8>>,
}

/// Why a package was refused, by TR-ESOR-E's result codes. Nothing of it
/// was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFault {
    /// `XAIP_NOK`: not valid, or not an XAIP this archive takes.
    Nok,
    /// `XAIP_NOK_EXPIRED`.
    Expired,
    /// `XAIP_NOK_SUBMTIME`.
    SubmissionTime,
    /// `XAIP_NOK_SIG`: a signature the package carries is not valid.
    Signature,
    /// `XAIP_NOK_ER`: an evidence record the package carries does not verify.
    EvidenceRecord,
    /// `DXAIP_NOK_AOID`: the update names no archive object of the
    /// caller's that was archived as an XAIP.
    Aoid,
    /// `DXAIP_NOK_Version`: `prevVersion` is not the latest version (or
    /// the new VersionID is taken).
    Version,
    /// `DXAIP_NOK_ID`: a placeholder for no earlier object, or a new
    /// object with an earlier one's ID.
    Id,
    /// The package names a `clientID` its tenant does not accept
    /// (`al/common#noPermission`).
    Client,
}

impl PackageFault {
    /// The REST error code.
    pub fn code(self) -> &'static str {
        match self {
            PackageFault::Nok => "xaip_nok",
            PackageFault::Expired => "xaip_nok_expired",
            PackageFault::SubmissionTime => "xaip_nok_submtime",
            PackageFault::Signature => "xaip_nok_sig",
            PackageFault::EvidenceRecord => "xaip_nok_er",
            PackageFault::Aoid => "dxaip_nok_aoid",
            PackageFault::Version => "dxaip_nok_version",
            PackageFault::Id => "dxaip_nok_id",
            PackageFault::Client => "client_not_accepted",
        }
    }
}

/// An evidence record to import with a package (TR-ESOR-E A3.1.1-2,
/// `tr:ImportEvidence`): made by an earlier archive for the version. It
/// must verify completely (PASSED: its time-stamps to a trust anchor of
/// this archive), or the package is refused (`XAIP_NOK_ER`). Imported, it
/// is preserved with the version: a member of its data-object group, so
/// the archive's own record proves it, and given back by ArchiveEvidence
/// beside the archive's record.
#[derive(Clone, Debug)]
pub enum Import {
    /// `xaip:evidenceRecord` (DER), for the VersionID it names.
    Record {
        version: Option<String>,
        der: Vec<u8>,
    },
    /// `tr:CredentialID`: a record the package carries.
    Credential(String),
}

/// The metadata key under which a version lists the SHA-256 (hex, comma
/// separated) of the evidence records imported with it.
pub const IMPORTED_RECORDS: &str = "xaip.imported_records";

/// Whether the package still needs its schema check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaCheck {
    /// Validate it against `tr-esor-xaip-v1.3.xsd` (a package on its own).
    Needed,
    /// The caller validated it already: an S.4 request is validated as a
    /// whole against `tr-esor-interfaces-v1.3.xsd`, which takes the
    /// `xaip:XAIP` in it by reference to the XAIP schema (strictly), so
    /// a second validation would find nothing new and cost as much again.
    DoneWithRequest,
}

/// How the evidence records a package carries are judged: as the
/// archive's own verifier judges records (its trusted TSAs, its algorithm
/// catalogue, its profile).
#[derive(Clone)]
pub struct RecordCheck {
    pub trusted: Vec<Certificate>,
    pub policy: Arc<AlgorithmPolicy>,
    pub profile: Profile,
}

impl ArchiveService {
    /// Archives an XAIP as a new archive object of the caller's tenant.
    /// Durable when it returns `Ok`; a refused package leaves nothing
    /// behind ([`ServiceError::Package`] with the reason and, for
    /// signatures and records, the report).
    pub async fn submit_xaip(
        &self,
        who: &Authorized,
        aoid: Option<crate::ids::Aoid>,
        package: Vec<u8>,
        schema: SchemaCheck,
        records: &RecordCheck,
        import: &[Import],
    ) -> Result<Receipt, ServiceError> {
        // shared with the blocking check, not copied
        let package = Bytes::from(package);
        // an LXAIP's references are spent now, whatever comes of it
        let claimed = self.claim_references(who.tenant(), &package).await?;
        let checked = self
            .check_package(package.clone(), schema, None, claimed.files)
            .await?;
        self.check_client(who.tenant(), &checked.facts)?;
        let (metadata, parts) = self.judge(checked, records, import).await?;
        let s = self.package_submission(package, metadata, parts).await?;
        let r = self.submit_as(who, aoid, s).await;
        drop(claimed.pins);
        r
    }

    /// The submission of a checked package: the package as the version's
    /// document, its parts beside it.
    async fn package_submission(
        &self,
        package: Bytes,
        metadata: Metadata,
        parts: PackageParts,
    ) -> Result<Submission, ServiceError> {
        let mut incoming = self.begin_upload();
        incoming.push(package).await?;
        Ok(Submission {
            upload: incoming.finish().await?,
            metadata,
            media_type: XAIP_MEDIA_TYPE.into(),
            signature: None,
            package: Some(parts),
        })
    }

    /// Adds the version a DXAIP brings to the archive object archived as
    /// an XAIP that `obj` names (TR-ESOR-E ArchiveUpdate). The DXAIP is
    /// kept as submitted as the new version's document; the version's
    /// protected objects, those of earlier versions its placeholders
    /// stand for included, are its data-object group. Its `prevVersion`
    /// must be the latest version, also at the moment the catalog records
    /// it (two updates of one version: one wins, the other is refused).
    pub async fn update_xaip(
        &self,
        obj: &Owned,
        package: Vec<u8>,
        schema: SchemaCheck,
        records: &RecordCheck,
        import: &[Import],
    ) -> Result<Receipt, ServiceError> {
        obj.expect(Operation::AddVersion)?;
        let view = self
            .catalog
            .object(obj.aoid().as_str())
            .await?
            .ok_or_else(|| {
                package_error(
                    PackageFault::Aoid,
                    format!("no archive object {}", obj.aoid()),
                    None,
                )
            })?;
        let mut versions: Vec<&VersionView> = view.versions.iter().collect();
        versions.sort_by_key(|v| v.version);
        if versions.is_empty() || versions.iter().any(|v| v.media_type != XAIP_MEDIA_TYPE) {
            return Err(package_error(
                PackageFault::Aoid,
                format!(
                    "archive object {} was not archived as an XAIP: it takes new versions by the REST API, not as DXAIPs",
                    obj.aoid()
                ),
                None,
            ));
        }
        let latest = versions.last().map(|v| v.version).unwrap_or_default();
        let mut history = Vec::with_capacity(versions.len());
        for v in &versions {
            history.push(self.stored_document(obj, v.version).await?);
        }
        let package = Bytes::from(package);
        // a DLXAIP's references are spent now, whatever comes of it
        let claimed = self
            .claim_references(obj.principal.tenant.as_ref(), &package)
            .await?;
        // the files of earlier LXAIPs, for the placeholders that stand for them
        let earlier_files = self
            .files_of(obj.principal.tenant.as_ref(), &history)
            .await?;
        let checked = self
            .check_package(
                package.clone(),
                schema,
                Some((history, earlier_files)),
                claimed.files,
            )
            .await?;
        self.check_client(obj.principal.tenant.as_ref(), &checked.facts)?;
        let (metadata, mut parts) = self.judge(checked, records, import).await?;
        parts.after = Some(latest);
        let s = self.package_submission(package, metadata, parts).await?;
        let r = self.add_version(obj, s).await.map_err(|e| match e {
            ServiceError::Conflict {
                code: "not_latest_version",
                message,
            } => package_error(PackageFault::Version, message, None),
            e => e,
        });
        drop(claimed.pins);
        r
    }

    /// The evidence records to import with a document submitted on its
    /// own (S.4 `ArchiveData` with `tr:ImportEvidence`): each given as
    /// `xaip:evidenceRecord` and verifying completely over the document
    /// (PASSED: its time-stamps to a trust anchor of this archive), else
    /// the submission is refused (`import_not_verified`) and nothing is
    /// stored. The parts to keep with the version (each a member of its
    /// group, given back by ArchiveEvidence) and the metadata naming them.
    pub async fn document_imports(
        &self,
        document: &[u8],
        import: &[Import],
        records: &RecordCheck,
    ) -> Result<Option<(PackageParts, (String, String))>, ServiceError> {
        self.imports_over(vec![document.to_vec()], import, records)
            .await
    }

    /// [`Self::document_imports`] for records over a group of data
    /// objects (the values of a hash-only list): each record must verify
    /// completely over all of them.
    pub async fn imports_over(
        &self,
        objects: Vec<Vec<u8>>,
        import: &[Import],
        records: &RecordCheck,
    ) -> Result<Option<(PackageParts, (String, String))>, ServiceError> {
        if import.is_empty() {
            return Ok(None);
        }
        let mut ders = vec![];
        for i in import {
            match i {
                Import::Credential(id) => {
                    return Err(ServiceError::invalid(
                        "import_not_verified",
                        format!("ImportEvidence names credential {id}: a document of its own has no credentials; give the record as xaip:evidenceRecord"),
                    ))
                }
                Import::Record { der, .. } => ders.push(der.clone()),
            }
        }
        let now = self.now();
        let (records, doc, given) = (records.clone(), objects, ders.clone());
        let reports = tokio::task::spawn_blocking(move || {
            given
                .iter()
                .map(|der| {
                    let mut opts = Options::new(&records.trusted, now, &records.policy);
                    opts.profile = records.profile;
                    verify::verify_der(der, &mut InMemory(doc.clone()), &opts)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))?;
        for (n, r) in reports.iter().enumerate() {
            if r.indication != verify::Indication::Passed {
                return Err(ServiceError::invalid(
                    "import_not_verified",
                    format!(
                        "the evidence record {} to import must verify completely over the document, its time-stamps to a trust anchor of this archive; it is {}: {}",
                        n + 1,
                        r.indication,
                        r.summary
                    ),
                ));
            }
        }
        use sha2::Digest;
        let listed = ders
            .iter()
            .map(|d| hex::encode(sha2::Sha256::digest(d)))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Some((
            PackageParts {
                parts: ders,
                validations: vec![],
                after: None,
                examine: true,
                given: vec![],
            },
            (IMPORTED_RECORDS.to_string(), listed),
        )))
    }

    /// The evidence records imported with a version ([`Import`]), as they
    /// were given, from the store.
    pub async fn imported_records(
        &self,
        obj: &Owned,
        v: crate::ids::VersionNo,
    ) -> Result<Vec<Vec<u8>>, ServiceError> {
        obj.expect(Operation::Evidence)?;
        let view = self
            .catalog
            .object(obj.aoid().as_str())
            .await?
            .ok_or_else(|| ServiceError::not_found("no such archive object"))?;
        let Some(listed) = view
            .versions
            .iter()
            .find(|x| x.version == v.get())
            .and_then(|x| x.metadata.meta.get(IMPORTED_RECORDS).cloned())
        else {
            return Ok(vec![]);
        };
        let mut out = vec![];
        for h in listed.split(',').filter(|h| !h.is_empty()) {
            let sha: [u8; 32] = hex::decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    ServiceError::Corrupt(format!("{}: {IMPORTED_RECORDS} {h:?}", obj.aoid()))
                })?;
            let store = self.ingest.store.clone();
            let what = format!("the imported record {h} of {} v{v}", obj.aoid());
            out.push(
                tokio::task::spawn_blocking(move || {
                    let mut r = store.read(&sha)?.ok_or_else(|| {
                        ServiceError::Corrupt(format!("{what} is missing from the store"))
                    })?;
                    let mut bytes = Vec::new();
                    while let Some(p) = r.next_piece()? {
                        bytes.extend_from_slice(&p);
                    }
                    Ok::<_, ServiceError>(bytes)
                })
                .await??,
            );
        }
        Ok(out)
    }

    /// Whether the caller's tenant accepts the package's `clientID`.
    fn check_client(
        &self,
        tenant: Option<&crate::ids::TenantId>,
        facts: &bewahr_xaip::VersionFacts,
    ) -> Result<(), ServiceError> {
        let Some(accepted) = tenant
            .and_then(|t| self.client_ids.get(t.as_str()))
            .filter(|a| !a.is_empty())
        else {
            return Ok(());
        };
        match facts.client_id.as_deref() {
            Some(c) if accepted.iter().any(|a| a == c) => Ok(()),
            Some(c) => Err(package_error(
                PackageFault::Client,
                format!(
                    "this tenant does not accept packages of clientID {c:?} (it accepts {})",
                    accepted.join(", ")
                ),
                None,
            )),
            None => Err(package_error(
                PackageFault::Client,
                format!(
                    "this tenant accepts packages that name their clientID (one of {})",
                    accepted.join(", ")
                ),
                None,
            )),
        }
    }

    /// A stored version's bytes, whole (a package is read to be parsed).
    pub(super) async fn stored_document(
        &self,
        obj: &Owned,
        v: i64,
    ) -> Result<Vec<u8>, ServiceError> {
        let location = self
            .catalog
            .locate(obj.aoid().as_str(), Some(v))
            .await?
            .ok_or_else(|| {
                ServiceError::Corrupt(format!("{} v{v} is not in the catalog", obj.aoid()))
            })?;
        let store = self.ingest.store.clone();
        let what = format!("{} v{v}", obj.aoid());
        tokio::task::spawn_blocking(move || {
            let mut reader = store.read(&location.sha256)?.ok_or_else(|| {
                ServiceError::Corrupt(format!("the content of {what} is missing from the store"))
            })?;
            let mut out = Vec::new();
            while let Some(piece) = reader.next_piece()? {
                out.extend_from_slice(&piece);
            }
            Ok(out)
        })
        .await?
    }

    /// Reads and checks a package on a blocking thread: an XAIP, or with
    /// the packages of the object it updates, a DXAIP.
    async fn check_package(
        &self,
        package: Bytes,
        schema: SchemaCheck,
        history: Option<(Vec<Vec<u8>>, Files)>,
        files: Files,
    ) -> Result<Checked, ServiceError> {
        let now = self.now();
        let tolerance = self.submission_tolerance;
        tokio::task::spawn_blocking(move || {
            let history = history.as_ref().map(|(p, f)| (p.as_slice(), f));
            read_package(&package, schema, history, files, now, tolerance)
        })
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))?
    }

    /// Judges what a checked package carries: each signature by the
    /// archive's validator and the submitting system's policy, each
    /// evidence record by the archive's verifier against the version's
    /// protected objects. The version's metadata and parts if all hold.
    async fn judge(
        &self,
        checked: Checked,
        records: &RecordCheck,
        import: &[Import],
    ) -> Result<(Metadata, PackageParts), ServiceError> {
        let now = self.now();
        let Checked {
            facts,
            mut objects,
            signatures,
            records: mut embedded,
        } = checked;
        // the records to import: those the package carries are named by
        // their credential; the others are checked like them, then kept
        let mut must_pass: Vec<String> = vec![];
        let mut imported: Vec<Vec<u8>> = vec![];
        for (n, i) in import.iter().enumerate() {
            match i {
                Import::Credential(id) => {
                    if !embedded.iter().any(|r| r.credential_id == *id) {
                        return Err(package_error(
                            PackageFault::EvidenceRecord,
                            format!(
                                "ImportEvidence names credential {id}, which is no evidence record of version {}",
                                facts.id
                            ),
                            None,
                        ));
                    }
                    must_pass.push(id.clone());
                }
                Import::Record { version, der } => {
                    if version.as_deref() != Some(facts.id.as_str()) {
                        return Err(package_error(
                            PackageFault::EvidenceRecord,
                            format!(
                                "the evidence record {} to import is for version {}, the package's is {}",
                                n + 1,
                                version.as_deref().unwrap_or("(none given)"),
                                facts.id
                            ),
                            None,
                        ));
                    }
                    let id = format!("ImportEvidence/{}", n + 1);
                    embedded.push(bewahr_xaip::EmbeddedRecord {
                        credential_id: id.clone(),
                        der: der.clone(),
                    });
                    must_pass.push(id);
                    imported.push(der.clone());
                }
            }
        }
        // the package's signatures, each by the archive's validator
        let mut validations = vec![];
        if let Some(v) = &self.ingest.validator {
            for s in signatures {
                // a detached signature is over its related object; an
                // enveloping one carries what it signs
                let data = s.detached.then(|| Arc::new(s.data.unwrap_or_default()));
                let (outcome, signature) = v
                    .validate_pasted(data, s.signature, s.standalone, now)
                    .await;
                let Some(o) = outcome else {
                    return Err(package_error(
                        PackageFault::Signature,
                        format!(
                            "credential {}: no signature was found in it",
                            s.credential_id
                        ),
                        None,
                    ));
                };
                if let Decision::Reject(reason) = v.decide(Some(&o), facts.client_id.as_deref()) {
                    return Err(package_error(
                        PackageFault::Signature,
                        format!("credential {}: {reason}", s.credential_id),
                        serde_json::to_value(&o.report).ok(),
                    ));
                }
                validations.push((Some(signature), o));
            }
        }
        // the evidence records it carries, against the version's objects
        if !embedded.is_empty() {
            let (records, group) = (records.clone(), objects.clone());
            let found = tokio::task::spawn_blocking(move || {
                embedded
                    .into_iter()
                    .map(|r| {
                        let mut opts = Options::new(&records.trusted, now, &records.policy);
                        opts.profile = records.profile;
                        let report =
                            verify::verify_der(&r.der, &mut InMemory(group.clone()), &opts);
                        (r.credential_id, report)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| ServiceError::Task(e.to_string()))?;
            for (id, report) in found {
                if must_pass.contains(&id) && report.indication != verify::Indication::Passed {
                    return Err(package_error(
                        PackageFault::EvidenceRecord,
                        format!(
                            "{id}: an evidence record to import must verify completely, its time-stamps to a trust anchor of this archive; for version {} it is {}: {}",
                            facts.id, report.indication, report.summary
                        ),
                        serde_json::to_value(&report).ok(),
                    ));
                }
                if report.indication == verify::Indication::Failed {
                    return Err(package_error(
                        PackageFault::EvidenceRecord,
                        format!(
                            "credential {id}: the evidence record does not verify for version {}: {}",
                            facts.id, report.summary
                        ),
                        serde_json::to_value(&report).ok(),
                    ));
                }
            }
        }
        let mut meta: std::collections::BTreeMap<String, String> =
            [("xaip.version".to_string(), facts.id.clone())].into();
        if !imported.is_empty() {
            use sha2::Digest;
            meta.insert(
                IMPORTED_RECORDS.to_string(),
                imported
                    .iter()
                    .map(|d| hex::encode(sha2::Sha256::digest(d)))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        // each imported record is a member of the version's group
        objects.extend(imported);
        let metadata = Metadata {
            system: facts.client_id.clone(),
            retention_until: Some(facts.retention.to_string()),
            meta,
            ..Default::default()
        };
        self.check_metadata(&metadata)?;
        Ok((
            metadata,
            PackageParts {
                parts: objects,
                validations,
                after: None,
                examine: false,
                given: vec![],
            },
        ))
    }
}

fn package_error(
    fault: PackageFault,
    message: impl Into<String>,
    report: Option<serde_json::Value>,
) -> ServiceError {
    ServiceError::Package {
        fault,
        message: message.into(),
        report,
    }
}

/// A package refused by the checks that need no validator.
fn refused(r: Refusal) -> ServiceError {
    match r {
        Refusal::Nok(m) => package_error(PackageFault::Nok, m, None),
        Refusal::Expired(m) => package_error(PackageFault::Expired, m, None),
        Refusal::SubmissionTime(m) => package_error(PackageFault::SubmissionTime, m, None),
    }
}

/// A signature of the package, ready for the validator.
struct Signature {
    credential_id: String,
    signature: Vec<u8>,
    /// An XML signature as pasted into the package, tried when it fails in place.
    standalone: Option<Vec<u8>>,
    /// The related object's bytes (a detached signature is over them).
    data: Option<Vec<u8>>,
    /// Whether the CMS carries no content of its own.
    detached: bool,
}

struct Checked {
    facts: bewahr_xaip::VersionFacts,
    objects: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
    records: Vec<bewahr_xaip::EmbeddedRecord>,
}

/// Everything that needs no validator or verifier (blocking: libxml2). With
/// `history` (the stored packages of the object, oldest first) the package
/// is a DXAIP updating it.
fn read_package(
    bytes: &[u8],
    schema: SchemaCheck,
    history: Option<(&[Vec<u8>], &Files)>,
    files: Files,
    now: time::OffsetDateTime,
    tolerance: time::Duration,
) -> Result<Checked, ServiceError> {
    let nok = |e: &dyn std::fmt::Display| package_error(PackageFault::Nok, e.to_string(), None);
    let parsed = match schema {
        SchemaCheck::Needed => Xaip::parse_valid(bytes),
        SchemaCheck::DoneWithRequest => Xaip::parse(bytes),
    };
    let x = parsed.map_err(|e| match e {
        XaipError::Invalid(s) => package_error(
            PackageFault::Nok,
            format!("not valid against tr-esor-xaip-v1.3.xsd: {s}"),
            None,
        ),
        e => nok(&e),
    })?;
    let (facts, refs) = match history {
        None => (
            x.check_submission(now, tolerance).map_err(refused)?,
            References {
                files,
                ..Default::default()
            },
        ),
        Some((packages, earlier_files)) => {
            let history = History::parse(packages)
                .map_err(|e| ServiceError::Corrupt(format!("an archived package: {e}")))?;
            let facts = x
                .check_update(&history, now, tolerance)
                .map_err(|r| match r {
                    UpdateRefusal::Package(r) => refused(r),
                    UpdateRefusal::Version(m) => package_error(PackageFault::Version, m, None),
                    UpdateRefusal::Id(m) => package_error(PackageFault::Id, m, None),
                })?;
            let placeholders = x.placeholders();
            let earlier = history
                .earlier(placeholders.iter().map(String::as_str), earlier_files)
                .map_err(|e| ServiceError::Corrupt(format!("an archived package: {e}")))?;
            (
                facts,
                References {
                    earlier,
                    files,
                    ..Default::default()
                },
            )
        }
    };
    let objects = x
        .protected_objects(&facts.id, &refs)
        .map_err(|e| nok(&e))?
        .into_iter()
        .map(|o| o.bytes)
        .collect();
    let mut signatures = vec![];
    for s in x.signatures(&refs).map_err(|e| nok(&e))? {
        match s.form {
            SignatureForm::Cms(cms) => {
                let detached = match bewahr_core::signature::cades::parse(&cms) {
                    Ok(p) => p.econtent.is_none(),
                    Err(e) => {
                        return Err(package_error(
                            PackageFault::Signature,
                            format!("credential {}: Base64Signature: {e}", s.credential_id),
                            None,
                        ))
                    }
                };
                let data = s.related.first().map(|(_, b)| b.clone());
                if detached && data.is_none() {
                    return Err(package_error(
                        PackageFault::Signature,
                        format!(
                            "credential {}: a detached signature whose relatedObjects name no data or metadata object",
                            s.credential_id
                        ),
                        None,
                    ));
                }
                signatures.push(Signature {
                    credential_id: s.credential_id,
                    signature: cms,
                    standalone: None,
                    data,
                    detached,
                });
            }
            // XAdES: references outside the signature are to its related
            // object (when it names one); same-document ones stay inside
            SignatureForm::Xml {
                in_place,
                standalone,
            } => {
                let data = s.related.first().map(|(_, b)| b.clone());
                signatures.push(Signature {
                    credential_id: s.credential_id,
                    signature: in_place,
                    standalone,
                    detached: data.is_some(),
                    data,
                });
            }
        }
    }
    let records = x
        .embedded_records(&facts.id)
        .map_err(|e| package_error(PackageFault::EvidenceRecord, e.to_string(), None))?;
    Ok(Checked {
        facts,
        objects,
        signatures,
        records,
    })
}
