//! Verification on request (TR-ESOR-E 1.3 Verify; C.2 M-VE-01 to M-VE-07):
//! an XAIP or DXAIP with everything it carries, an evidence record given
//! beside a package, or a signed document. Nothing is stored.
//!
//! A package is judged as on submission, without the checks that only a
//! new submission has (its retention period and submission time):
//! - its form: valid against the XAIP schema, `XAIPVersion` 1.3.0;
//! - each CMS signature among its credentials, by the archive's
//!   validator: a signature whose indication is TOTAL-FAILED fails it;
//! - each evidence record it carries, and one given beside it, against
//!   the protected objects of the version the record is for, by the
//!   archive's verifier: a FAILED record fails it; one whose hash or
//!   signature algorithm is no longer suitable is reported as such.
//!
//! INDETERMINATE results (a signer or TSA without a trust anchor here, no
//! revocation data) do not fail a package; the report says what is
//! missing. A DXAIP's placeholders stand for objects of the archive
//! object it names; when the caller may read that object, they are read
//! from it, else what depends on them is INDETERMINATE.

use std::sync::Arc;

use bewahr_core::signature;
use bewahr_core::verify::{self, InMemory, Options};
use bewahr_xaip::{History, References, SignatureForm, Xaip, XaipError};

use super::{ArchiveService, Authorized, Operation, PackageFault, RecordCheck, ServiceError};

/// What a verification found about one signature or evidence record.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// The credential's ID, or `SignatureObject/n` ([`BESIDE`]) for the
    /// n-th record given beside the package, or `Document` for a signed
    /// document.
    pub id: String,
    /// An evidence record (else a signature).
    pub record: bool,
    /// The version a record is for.
    pub version: Option<String>,
    pub verdict: Verdict,
    /// EN 319 102-1's indication and sub-indication, as the report has them.
    pub indication: String,
    pub sub_indication: Option<String>,
    pub summary: String,
    /// A record's digest algorithms (OIDs), in the order of its time-stamps.
    pub digest_algorithms: Vec<String>,
    /// A record's archive time-stamp chains.
    pub chains: usize,
    /// The algorithms of a record are no longer suitable.
    pub unsuitable: bool,
    /// The verifier's or validator's report (JSON).
    pub report: Option<serde_json::Value>,
}

/// The three outcomes of OASIS DSS-X's verification report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    Indetermined,
}

impl Verdict {
    /// `urn:oasis:names:tc:dss:1.0:detail:…`
    pub fn uri(self) -> &'static str {
        match self {
            Verdict::Valid => "urn:oasis:names:tc:dss:1.0:detail:valid",
            Verdict::Invalid => "urn:oasis:names:tc:dss:1.0:detail:invalid",
            Verdict::Indetermined => "urn:oasis:names:tc:dss:1.0:detail:indetermined",
        }
    }
}

/// What the verification of a package found.
#[derive(Clone, Debug)]
pub struct PackageVerdict {
    /// A DXAIP (else an XAIP).
    pub update: bool,
    pub package_id: String,
    pub aoid: Option<String>,
    pub versions: Vec<String>,
    pub judgements: Vec<Judgement>,
    /// Why the package does not verify (the first reason, by TR-ESOR-E's
    /// order: form, signatures, records); `None`: it verifies.
    pub fault: Option<(PackageFault, String)>,
    /// No fault, but a record's algorithms are no longer suitable.
    pub unsuitable: Option<String>,
}

/// How a judgement of a record given beside the package is named
/// (`SignatureObject/1`, ...); a credential's is its ID.
pub const BESIDE: &str = "SignatureObject";

/// An evidence record given beside a package (`dss:SignatureObject/dss:Other/xaip:evidenceRecord`).
#[derive(Clone, Debug)]
pub struct DetachedRecord {
    pub aoid: Option<String>,
    pub version: Option<String>,
    pub der: Vec<u8>,
}

/// A version's protected objects, or why they cannot be had.
type VersionObjects = Result<Vec<Vec<u8>>, String>;

/// A CMS signature among a package's credentials.
struct FoundSignature {
    credential_id: String,
    /// CMS (DER or BER) or a `ds:Signature` document (in place).
    cms: Vec<u8>,
    /// An XML signature as pasted into the package, tried when it fails in place.
    standalone: Option<Vec<u8>>,
    /// Its first related object's bytes.
    data: Option<Vec<u8>>,
    /// It carries no content: it is over `data`.
    detached: bool,
}

struct Read {
    update: bool,
    package_id: String,
    aoid: Option<String>,
    versions: Vec<String>,
    /// A record given beside the package for another package or version.
    mismatch: Option<String>,
    /// Per version: its protected objects' bytes, or why they cannot be had.
    objects: Vec<(String, VersionObjects)>,
    signatures: Vec<FoundSignature>,
    /// (credential, version, DER)
    records: Vec<(String, String, Vec<u8>)>,
}

impl ArchiveService {
    /// Verifies a package (and a record given beside it). `Err` only when
    /// the verification could not be done; a package that does not verify
    /// is an `Ok` whose `fault` says why.
    pub async fn verify_package(
        &self,
        who: &Authorized,
        package: Vec<u8>,
        detached: Vec<DetachedRecord>,
        checks: &RecordCheck,
    ) -> Result<PackageVerdict, ServiceError> {
        if who.op != Operation::Verify {
            return Err(ServiceError::Forbidden {
                role: who.principal.role,
                op: Operation::Verify,
            });
        }
        let now = self.now();
        // a DXAIP's earlier objects, from the object it names, if the
        // caller may read it
        let history = self.history_for(who, &package).await;
        // an LXAIP's files, where an archived package of the caller's
        // tenant used them and the caller may read that object
        let files = self.archived_files(who, &package).await?;
        let earlier = match &history {
            Some(h) => self.files_of(who.tenant(), h).await.unwrap_or_default(),
            None => Default::default(),
        };
        let read = {
            let package = package.clone();
            let detached = detached.clone();
            tokio::task::spawn_blocking(move || read(&package, history, detached, files, &earlier))
                .await
                .map_err(|e| ServiceError::Task(e.to_string()))?
        };
        let read = match read {
            Ok(r) => r,
            Err((update, message)) => {
                return Ok(PackageVerdict {
                    update,
                    package_id: String::new(),
                    aoid: None,
                    versions: vec![],
                    judgements: vec![],
                    fault: Some((PackageFault::Nok, message)),
                    unsuitable: None,
                })
            }
        };
        let mut judgements = vec![];
        let mut fault: Option<(PackageFault, String)> = None;
        for s in read.signatures {
            let id = s.credential_id;
            let j = self
                .judge_signature(
                    &id,
                    (s.cms, s.standalone),
                    s.data.filter(|_| s.detached),
                    s.detached,
                    now,
                )
                .await;
            if j.verdict == Verdict::Invalid && fault.is_none() {
                fault = Some((
                    PackageFault::Signature,
                    format!("credential {id}: {}", j.summary),
                ));
            }
            judgements.push(j);
        }
        if let (Some(m), None) = (&read.mismatch, &fault) {
            fault = Some((PackageFault::EvidenceRecord, m.clone()));
        }
        // the records, each against its version's objects
        let objects = read.objects.clone();
        let records = read.records.clone();
        let checks = checks.clone();
        let found = tokio::task::spawn_blocking(move || {
            records
                .into_iter()
                .map(|(id, version, der)| {
                    let group = objects.iter().find(|(v, _)| *v == version).map(|(_, o)| o);
                    let mut opts = Options::new(&checks.trusted, now, &checks.policy);
                    opts.profile = checks.profile;
                    let report = match group {
                        Some(Ok(group)) => {
                            verify::verify_der(&der, &mut InMemory(group.clone()), &opts)
                        }
                        // the record alone: the data cannot be checked
                        _ => verify::verify_der(&der, &mut InMemory(vec![]), &opts),
                    };
                    let unresolved = match group {
                        Some(Err(why)) => Some(why.clone()),
                        None => Some(format!("the package has no version {version}")),
                        Some(Ok(_)) => None,
                    };
                    (id, version, report, unresolved)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))?;
        let mut unsuitable = None;
        for (id, version, report, unresolved) in found {
            // a hash algorithm no longer suitable, wherever the verifier
            // found it (an untrusted TSA is the worse result and so the
            // record's sub-indication)
            let hash_finding = |f: &verify::Finding| {
                f.sub_indication == Some(verify::SubIndication::CryptoConstraintsFailureNoPoe)
                    && f.message.starts_with(verify::HASH_UNSUITABLE)
            };
            let weak = report.findings.iter().any(hash_finding)
                || report
                    .archive_time_stamps
                    .iter()
                    .any(|a| a.findings.iter().any(hash_finding));
            let mut verdict = match report.indication {
                verify::Indication::Passed => Verdict::Valid,
                verify::Indication::Indeterminate => Verdict::Indetermined,
                verify::Indication::Failed => Verdict::Invalid,
            };
            let mut summary = report.summary.clone();
            // without the version's objects the record could not be
            // checked against them: that is not a verdict on the record
            // (unless the record itself is malformed)
            if let Some(why) = unresolved
                .as_ref()
                .filter(|_| report.sub_indication != Some(verify::SubIndication::FormatFailure))
            {
                verdict = Verdict::Indetermined;
                summary = format!("{summary} (not checked against the version's objects: {why})");
            }
            if weak && unsuitable.is_none() {
                unsuitable = Some(format!(
                    "credential {id} (version {version}): {}",
                    report.summary
                ));
            } else if verdict == Verdict::Invalid && fault.is_none() {
                fault = Some((
                    PackageFault::EvidenceRecord,
                    format!(
                        "credential {id}: the evidence record does not verify for version {version}: {}",
                        report.summary
                    ),
                ));
            }
            judgements.push(Judgement {
                id,
                record: true,
                version: Some(version),
                verdict,
                indication: report.indication.to_string(),
                sub_indication: report.sub_indication.map(|s| s.to_string()),
                summary,
                digest_algorithms: report
                    .archive_time_stamps
                    .iter()
                    .filter_map(|a| a.digest_algorithm.clone())
                    .collect(),
                chains: report.chains,
                unsuitable: weak,
                report: serde_json::to_value(&report).ok(),
            });
        }
        Ok(PackageVerdict {
            update: read.update,
            package_id: read.package_id,
            aoid: read.aoid,
            versions: read.versions,
            judgements,
            unsuitable: if fault.is_none() { unsuitable } else { None },
            fault,
        })
    }

    /// Verifies a signed document (and a detached signature over it) by
    /// the archive's validator. `None`: nothing in it is a signature.
    pub async fn verify_signature(
        &self,
        who: &Authorized,
        document: Vec<u8>,
        signature: Option<Vec<u8>>,
    ) -> Result<Option<Judgement>, ServiceError> {
        if who.op != Operation::Verify {
            return Err(ServiceError::Forbidden {
                role: who.principal.role,
                op: Operation::Verify,
            });
        }
        let now = self.now();
        let detached = signature.is_some();
        Ok(match signature {
            Some(sig) => {
                let j = self
                    .judge_signature("Document", (sig, None), Some(document), detached, now)
                    .await;
                Some(j)
            }
            None => {
                let v = self.ingest.validator.as_ref().ok_or_else(|| {
                    ServiceError::invalid(
                        "no_validator",
                        "this archive validates no signatures (validation is off)",
                    )
                })?;
                v.validate(Arc::new(document), None, now)
                    .await
                    .map(|o| judgement_of("Document", &o))
            }
        })
    }

    async fn judge_signature(
        &self,
        id: &str,
        (signature, standalone): (Vec<u8>, Option<Vec<u8>>),
        data: Option<Vec<u8>>,
        detached: bool,
        now: time::OffsetDateTime,
    ) -> Judgement {
        let indeterminate = |why: String| Judgement {
            id: id.to_string(),
            record: false,
            version: None,
            verdict: Verdict::Indetermined,
            indication: "INDETERMINATE".into(),
            sub_indication: None,
            summary: why,
            digest_algorithms: vec![],
            chains: 0,
            unsuitable: false,
            report: None,
        };
        let Some(v) = &self.ingest.validator else {
            return indeterminate(
                "this archive validates no signatures (validation is off)".into(),
            );
        };
        if detached && data.is_none() {
            return indeterminate(
                "a detached signature whose signed object is not at hand (a placeholder of an object the caller may not read)".into(),
            );
        }
        let data = data.filter(|_| detached).map(Arc::new);
        let (outcome, _) = v.validate_pasted(data, signature, standalone, now).await;
        match outcome {
            Some(o) => judgement_of(id, &o),
            None => Judgement {
                verdict: Verdict::Invalid,
                indication: "TOTAL_FAILED".into(),
                sub_indication: Some("FORMAT_FAILURE".into()),
                ..indeterminate("no signature was found in it".into())
            },
        }
    }

    /// The files an LXAIP given to Verify refers to, by URI: those of its
    /// references that an archived package of the caller's tenant used,
    /// where the caller may read that package's object (C.2 M-VE-01a
    /// verifies the LXAIP it archived), and the tenant's uploads no
    /// package used yet (M-VE-04a verifies before it submits); Verify
    /// reads them and spends none. Others stay unresolved, and what
    /// depends on them cannot be verified.
    async fn archived_files(
        &self,
        who: &Authorized,
        package: &[u8],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>, ServiceError> {
        let mut out = std::collections::HashMap::new();
        if !bewahr_xaip::lxaip::may_have_references(package) {
            return Ok(out);
        }
        let refs = super::uploads::package_references(package.to_vec())
            .await?
            .unwrap_or_default();
        let tenant = who.tenant().map(|t| t.as_str());
        let now_ms = self.now_ms();
        for r in refs {
            let Some(row) = self.catalog.upload(&r.uri, tenant).await? else {
                continue;
            };
            let unspent = row.spent_at_ms.is_none() && row.expires_at_ms > now_ms;
            let readable = unspent
                || match row.package() {
                    None => false,
                    Some(by) => match self.catalog.upload_holder(&by).await? {
                        None => false,
                        Some((aoid, _)) => self
                            .authorize_object(who.principal(), Operation::ReadContent, &aoid)
                            .await
                            .is_ok(),
                    },
                };
            if readable {
                if let Some(bytes) = self.stored_bytes(row.sha256).await? {
                    out.insert(r.uri, bytes);
                }
            }
        }
        Ok(out)
    }

    /// The stored packages of the archive object a DXAIP names, when the
    /// caller may read it.
    async fn history_for(&self, who: &Authorized, package: &[u8]) -> Option<Vec<Vec<u8>>> {
        // cheap: only a DXAIP with an AOID needs its history
        let head = &package[..package.len().min(4096)];
        if !String::from_utf8_lossy(head).contains("DXAIP") {
            return None;
        }
        let aoid = {
            let p = package.to_vec();
            tokio::task::spawn_blocking(move || Xaip::parse(&p).ok().and_then(|x| x.aoid()))
                .await
                .ok()??
        };
        let obj = self
            .authorize_object(who.principal(), Operation::ReadContent, &aoid)
            .await
            .ok()?;
        let view = self.catalog.object(obj.aoid().as_str()).await.ok()??;
        let mut versions: Vec<i64> = view
            .versions
            .iter()
            .filter(|v| v.media_type == super::XAIP_MEDIA_TYPE)
            .map(|v| v.version)
            .collect();
        versions.sort();
        let mut out = vec![];
        for v in versions {
            out.push(self.stored_document(&obj, v).await.ok()?);
        }
        Some(out)
    }
}

fn judgement_of(id: &str, o: &crate::validation::Outcome) -> Judgement {
    let r = &o.report;
    let verdict = match r.indication {
        Some(signature::Indication::TotalPassed) => Verdict::Valid,
        Some(signature::Indication::TotalFailed) => Verdict::Invalid,
        _ => Verdict::Indetermined,
    };
    let text = |v: serde_json::Value| v.as_str().map(String::from);
    Judgement {
        id: id.to_string(),
        record: false,
        version: None,
        verdict,
        indication: r
            .indication
            .and_then(|i| serde_json::to_value(i).ok().and_then(text))
            .unwrap_or_else(|| "INDETERMINATE".into()),
        sub_indication: r
            .sub_indication
            .and_then(|s| serde_json::to_value(s).ok().and_then(text)),
        summary: r.summary.clone(),
        digest_algorithms: vec![],
        chains: 0,
        unsuitable: false,
        report: serde_json::to_value(r).ok(),
    }
}

/// Reads a package for verification (blocking: libxml2). `Err`: it is
/// not a package this archive reads, with whether it claims to be a DXAIP.
fn read(
    bytes: &[u8],
    history: Option<Vec<Vec<u8>>>,
    detached: Vec<DetachedRecord>,
    files: std::collections::HashMap<String, Vec<u8>>,
    earlier: &std::collections::HashMap<String, Vec<u8>>,
) -> Result<Read, (bool, String)> {
    let claims_update = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).contains("DXAIP");
    let x = Xaip::parse_valid(bytes).map_err(|e| match e {
        XaipError::Invalid(s) => (
            claims_update,
            format!("not valid against tr-esor-xaip-v1.3.xsd: {s}"),
        ),
        e => (claims_update, e.to_string()),
    })?;
    let update = x.prev_version().is_some();
    let nok = |e: &dyn std::fmt::Display| (update, e.to_string());
    match x.xaip_version() {
        Some(v) if v == bewahr_xaip::submission::XAIP_VERSION => {}
        other => {
            return Err((
                update,
                format!(
                    "XAIPVersion is {:?}; this archive reads TR-ESOR-F {}",
                    other.unwrap_or_default(),
                    bewahr_xaip::submission::XAIP_VERSION
                ),
            ))
        }
    }
    let mut refs = References {
        files,
        ..Default::default()
    };
    let mut unresolved = None;
    if update {
        match history.map(|h| History::parse(&h)) {
            Some(Ok(h)) => {
                refs.earlier = h
                    .earlier(x.placeholders().iter().map(String::as_str), earlier)
                    .map_err(|e| nok(&e))?;
            }
            _ => {
                unresolved = Some(
                    "its placeholders stand for objects of an archive object the caller may not read here"
                        .to_string(),
                )
            }
        }
    }
    let versions = x.versions();
    let mut objects = vec![];
    let mut records = vec![];
    for v in &versions {
        let got = x
            .protected_objects(v, &refs)
            .map(|o| o.into_iter().map(|o| o.bytes).collect::<Vec<_>>())
            .map_err(|e| match &unresolved {
                Some(u) => format!("{e}; {u}"),
                None => e.to_string(),
            });
        objects.push((v.clone(), got));
        for r in x.embedded_records(v).map_err(|e| nok(&e))? {
            records.push((r.credential_id, v.clone(), r.der));
        }
    }
    // a record given beside the package must name it (TR-ESOR-E:
    // evidenceRecord@AOID and @VersionID)
    let mut mismatch = None;
    for (n, d) in detached.into_iter().enumerate() {
        let version = d
            .version
            .clone()
            .or_else(|| versions.last().cloned())
            .unwrap_or_default();
        match (&d.aoid, x.aoid()) {
            (Some(given), Some(mine)) if *given != mine => {
                mismatch = Some(format!(
                    "the evidence record given is for archive object {given}, the package is {mine}"
                ))
            }
            _ if !versions.contains(&version) => {
                mismatch = Some(format!(
                    "the evidence record given is for version {version}, which the package does not have (it has {})",
                    versions.join(", ")
                ))
            }
            _ => records.push((format!("{BESIDE}/{}", n + 1), version, d.der)),
        }
    }
    let mut signatures = vec![];
    for s in x.signatures(&refs).map_err(|e| nok(&e))? {
        match s.form {
            SignatureForm::Cms(cms) => {
                let detached = signature::cades::parse(&cms)
                    .map(|p| p.econtent.is_none())
                    .unwrap_or(false);
                let data = s.related.first().map(|(_, b)| b.clone());
                signatures.push(FoundSignature {
                    credential_id: s.credential_id,
                    cms,
                    standalone: None,
                    data,
                    detached,
                });
            }
            // XAdES: references outside the signature are to its related object
            SignatureForm::Xml {
                in_place,
                standalone,
            } => {
                let data = s.related.first().map(|(_, b)| b.clone());
                signatures.push(FoundSignature {
                    credential_id: s.credential_id,
                    cms: in_place,
                    standalone,
                    detached: data.is_some(),
                    data,
                });
            }
        }
    }
    Ok(Read {
        update,
        package_id: x.package_id().unwrap_or_default(),
        aoid: x.aoid(),
        versions,
        mismatch,
        objects,
        signatures,
        records,
    })
}
