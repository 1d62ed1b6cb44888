//! Submitting documents and versions; reading objects, content, evidence
//! and the preserved validation.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use super::{ArchiveService, Authorized, Operation, Owned, ServiceError};
use crate::catalog::{Location, Metadata, ObjectView, ValidationRow};
use crate::evidence::EvidenceError;
use crate::ids::{Aoid, VersionNo};
use crate::ingest::Receipt;
use crate::store::{StoreError, Upload};

/// A document on its way in: its bytes already streamed into an
/// [`Upload`] (begun with [`ArchiveService::begin_upload`]), and what
/// comes with it. Dropping a submission that was not handed to the
/// service removes the upload's content (the upload's drop guard).
pub struct Submission {
    pub upload: Upload,
    pub metadata: Metadata,
    pub media_type: String,
    /// A detached signature submitted beside the document (CMS, DER or PEM).
    pub signature: Option<Vec<u8>>,
    /// An XAIP: its protected objects and its signatures' validations
    /// (`None`: a plain document, examined for a signature).
    pub package: Option<super::PackageParts>,
}

/// A version's bytes, exactly as submitted, as a stream of pieces (4 MiB
/// at most each; each read in a short blocking task of its own, so a slow
/// reader holds no thread).
pub struct Content {
    pub location: Location,
    pub body: ByteStream,
}

/// Stored content on its way to a client.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Streams stored content: one blocking task per piece (4 MiB at most),
/// none while the client is slow to read, so a slow reader holds no
/// thread of the blocking pool.
pub(crate) fn stream(reader: crate::store::ContentReader) -> ByteStream {
    Box::pin(futures_util::stream::unfold(
        Some(reader),
        |reader| async move {
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
        },
    ))
}

/// The largest document an ASiC container is assembled for (the
/// container is built in memory; ASiC readers, bewahr's among them, take
/// entries up to 256 MiB).
pub const MAX_ASIC_DOCUMENT: u64 = 256 << 20;

/// A file name extension for a document in a container.
fn extension(media_type: &str, bytes: &[u8]) -> &'static str {
    match media_type.split(';').next().unwrap_or("").trim() {
        "application/pdf" => "pdf",
        "application/xml" | "text/xml" => "xml",
        "text/plain" => "txt",
        "application/pkcs7-mime" => "p7m",
        "application/vnd.etsi.asic-s+zip" => "asics",
        "application/vnd.etsi.asic-e+zip" => "asice",
        "image/tiff" => "tif",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ if bytes.starts_with(b"%PDF-") => "pdf",
        _ if bytes.first() == Some(&b'<') => "xml",
        _ => "bin",
    }
}

/// The preserved validation of a version: the catalog's row, the report
/// and the validation data, read back from the store.
pub struct PreservedValidation {
    pub row: ValidationRow,
    pub report: serde_json::Value,
    pub data: bewahr_core::signature::ValidationData,
}

/// One preserved item of a version's data-object group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationItem {
    /// The report (JSON).
    Report,
    /// The ValidationData (DER).
    Data,
    /// The detached signature.
    Signature,
}

impl ValidationItem {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "report" => Some(ValidationItem::Report),
            "data" => Some(ValidationItem::Data),
            "signature" => Some(ValidationItem::Signature),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ValidationItem::Report => "application/json",
            ValidationItem::Data => "application/octet-stream",
            ValidationItem::Signature => "application/pkcs7-signature",
        }
    }
}

impl ArchiveService {
    /// Starts receiving a document (hashed in SHA-256 and the tree's
    /// algorithm as it arrives): pieces are written to the store by
    /// blocking tasks, within the archive's size limit.
    pub fn begin_upload(&self) -> super::Incoming {
        super::Incoming::new(self.ingest.begin(), self.ingest.max_body)
    }

    /// The algorithm of the archive's hash trees (new versions' leaves).
    pub fn tree_algorithm(&self) -> bewahr_core::alg::DigestAlgorithm {
        self.ingest.algorithm
    }

    /// The largest document accepted, in bytes.
    pub fn max_document_bytes(&self) -> u64 {
        self.ingest.max_body
    }

    /// Checks metadata against the rules before a body is read.
    pub fn check_metadata(&self, m: &Metadata) -> Result<(), ServiceError> {
        crate::ingest::validate(m, self.today()).map_err(Into::into)
    }

    /// A new archive object with version 1 of the caller's tenant.
    /// Durable when it returns `Ok`.
    pub async fn submit(&self, who: &Authorized, s: Submission) -> Result<Receipt, ServiceError> {
        self.submit_as(who, None, s).await
    }

    /// [`Self::submit`] with the AOID the submitter chose (`None`: the
    /// archive's). An AOID in use or once used: `Conflict` `existing_aoid`.
    pub async fn submit_as(
        &self,
        who: &Authorized,
        aoid: Option<Aoid>,
        s: Submission,
    ) -> Result<Receipt, ServiceError> {
        if who.op != Operation::Submit {
            s.upload.abort();
            return Err(ServiceError::Forbidden {
                role: who.principal.role,
                op: Operation::Submit,
            });
        }
        let tenant = who.principal.tenant.as_ref().map(|t| t.to_string());
        self.commit(None, aoid.map(Aoid::into_string), tenant, s)
            .await
    }

    /// A new version of an owned object. Durable when it returns `Ok`; an
    /// object deleted meanwhile takes no new version (`NotFound`).
    pub async fn add_version(&self, obj: &Owned, s: Submission) -> Result<Receipt, ServiceError> {
        if let Err(e) = obj.expect(Operation::AddVersion) {
            s.upload.abort();
            return Err(e);
        }
        let tenant = obj.principal.tenant.as_ref().map(|t| t.to_string());
        self.commit(Some(obj.aoid.to_string()), None, tenant, s)
            .await
    }

    async fn commit(
        &self,
        aoid: Option<String>,
        requested: Option<String>,
        tenant: Option<String>,
        s: Submission,
    ) -> Result<Receipt, ServiceError> {
        Ok(self
            .ingest
            .commit(
                s.upload,
                aoid,
                tenant,
                s.metadata,
                s.media_type,
                crate::ingest::Extras {
                    aoid: requested,
                    ..match s.package {
                        None => crate::ingest::Extras::document(s.signature),
                        Some(p) => crate::ingest::Extras {
                            signature: s.signature,
                            parts: p.parts,
                            validations: p.validations,
                            examine: p.examine,
                            after: p.after,
                            aoid: None,
                            given: p.given,
                        },
                    }
                },
            )
            .await?)
    }

    /// An object with all its versions and their states.
    pub async fn object(&self, obj: &Owned) -> Result<ObjectView, ServiceError> {
        obj.expect(Operation::ReadObject)?;
        self.catalog
            .object(obj.aoid.as_str())
            .await?
            .ok_or_else(|| Self::version_not_found(&obj.aoid, None))
    }

    async fn locate(&self, obj: &Owned, v: Option<VersionNo>) -> Result<Location, ServiceError> {
        self.catalog
            .locate(obj.aoid.as_str(), v.map(VersionNo::get))
            .await?
            .ok_or_else(|| Self::version_not_found(&obj.aoid, v))
    }

    /// A version's bytes, streamed from the store.
    pub async fn content(&self, obj: &Owned, v: VersionNo) -> Result<Content, ServiceError> {
        obj.expect(Operation::ReadContent)?;
        let location = self.locate(obj, Some(v)).await?;
        let store = self.ingest.store.clone();
        let sha = location.sha256;
        let reader = tokio::task::spawn_blocking(move || store.read(&sha))
            .await??
            .ok_or_else(|| {
                ServiceError::Corrupt(format!(
                    "content {} of {} v{v} is missing from the store",
                    hex::encode(sha),
                    obj.aoid
                ))
            })?;
        Ok(Content {
            location,
            body: stream(reader),
        })
    }

    /// A version as an ASiC container with its evidence record (ETSI EN
    /// 319 162-1 4.4.3/4.4.4): ASiC-S with the document alone, ASiC-E with
    /// the document and its preserved items (detached signature,
    /// validation data, validation report) when the caller may read them.
    /// Every data object is a member of the version's data-object group, so
    /// the record covers each. Needs a sealed version; packages (XAIP) and
    /// digest lists have their own forms and are refused. Assembled in
    /// memory, so documents are limited to [`MAX_ASIC_DOCUMENT`]. Returns
    /// the container and its media type (ASiC-S or ASiC-E).
    pub async fn asic(
        &self,
        obj: &Owned,
        v: VersionNo,
    ) -> Result<(Vec<u8>, &'static str), ServiceError> {
        obj.expect(Operation::ReadContent)?;
        let loc = self.locate(obj, Some(v)).await?;
        if loc.media_type == super::XAIP_MEDIA_TYPE
            || loc.media_type == crate::ingest::DIGEST_LIST_MEDIA_TYPE
        {
            return Err(ServiceError::invalid(
                "no_asic_for_packages",
                "an XAIP version's evidence comes with the package (retrieve it with its records), a digest list's as a record alone; ASiC containers are for documents",
            ));
        }
        if loc.size > MAX_ASIC_DOCUMENT {
            return Err(ServiceError::TooLarge(format!(
                "the document has {} bytes; ASiC containers are assembled for documents up to {MAX_ASIC_DOCUMENT} bytes: retrieve the content and the evidence record apart",
                loc.size
            )));
        }
        let ev = self
            .authorize_object(&obj.principal, Operation::Evidence, obj.aoid.as_str())
            .await?;
        let (_, er) = self.evidence(&ev, Some(v), Duration::ZERO).await?;
        let items = self.group_items(obj, &loc).await?;
        let kind = if items.len() == 1 {
            bewahr_core::signature::asic::MIMETYPE_S
        } else {
            bewahr_core::signature::asic::MIMETYPE_E
        };
        let media_type = loc.media_type.clone();
        let zip = tokio::task::spawn_blocking(move || {
            let objects: Vec<bewahr_core::signature::asic::DataObject<'_>> = items
                .iter()
                .map(
                    |(name, mt, bytes)| bewahr_core::signature::asic::DataObject {
                        name,
                        media_type: if mt.is_empty() { &media_type } else { mt },
                        bytes,
                    },
                )
                .collect();
            bewahr_core::signature::asic::with_evidence_record(&objects, &er)
                .map_err(|e| ServiceError::Corrupt(format!("ASiC container: {e}")))
        })
        .await??;
        Ok((zip, kind))
    }

    /// A document version's data-object group as (file name, media type
    /// (empty: the version's), bytes): the document, and its preserved
    /// items (detached signature, validation data, validation report) when
    /// the caller may read them.
    async fn group_items(
        &self,
        obj: &Owned,
        loc: &crate::catalog::Location,
    ) -> Result<Vec<(String, &'static str, Vec<u8>)>, ServiceError> {
        let document = self.read_preserved(loc.sha256).await?;
        let mut items: Vec<(String, &'static str, Vec<u8>)> = vec![(
            format!("document.{}", extension(&loc.media_type, &document)),
            "",
            document,
        )];
        // the preserved items, for a caller who may read them
        if self
            .authorize_object(&obj.principal, Operation::Validation, obj.aoid.as_str())
            .await
            .is_ok()
        {
            if let Some(row) = self.catalog.validation(loc.seq).await? {
                if let Some(sig) = row.signature_sha256 {
                    let bytes = self.read_preserved(sig).await?;
                    let xml = bewahr_core::signature::recognise(b"", Some(&bytes))
                        == bewahr_core::signature::Format::Xades;
                    let (name, mt) = if xml {
                        ("signature.xml", "application/xml")
                    } else {
                        ("signature.p7s", "application/pkcs7-signature")
                    };
                    items.push((name.into(), mt, bytes));
                }
                items.push((
                    "validation-data.der".into(),
                    "application/octet-stream",
                    self.read_preserved(row.data_sha256).await?,
                ));
                items.push((
                    "validation-report.json".into(),
                    "application/json",
                    self.read_preserved(row.report_sha256).await?,
                ));
            }
        }
        Ok(items)
    }

    /// The data objects a document version's evidence record covers, to
    /// verify the record against (the web interface's object page): the
    /// document and its preserved items. `None` for packages (XAIP) and
    /// digest lists, whose records cover objects of their own form, and for
    /// documents over [`MAX_ASIC_DOCUMENT`] bytes (held in memory here):
    /// their records are verified without the data.
    pub async fn version_group(
        &self,
        obj: &Owned,
        v: VersionNo,
    ) -> Result<Option<Vec<Vec<u8>>>, ServiceError> {
        obj.expect(Operation::ReadContent)?;
        let loc = self.locate(obj, Some(v)).await?;
        if loc.media_type == super::XAIP_MEDIA_TYPE
            || loc.media_type == crate::ingest::DIGEST_LIST_MEDIA_TYPE
            || loc.size > MAX_ASIC_DOCUMENT
        {
            return Ok(None);
        }
        let items = self.group_items(obj, &loc).await?;
        Ok(Some(items.into_iter().map(|(_, _, b)| b).collect()))
    }

    /// The evidence record of a version in its XML form (RFC 6283): the
    /// same trees and time-stamps as the DER record, for a version whose
    /// renewals were bridged (they cover the XML form's hashes too, see
    /// `bewahr_xmlsig::ers::from_der`) and whose data objects are hashed
    /// alike in both forms (none is XML whose bytes differ from their
    /// canonical form); `Invalid` with the reason otherwise.
    pub async fn evidence_rfc6283(
        &self,
        obj: &Owned,
        v: Option<VersionNo>,
        wait: Duration,
    ) -> Result<(Location, Vec<u8>), ServiceError> {
        let (loc, chains) = self.evidence_chains(obj, v, wait).await?;
        let refuse = |m: String| ServiceError::invalid("not_expressible_in_rfc6283", m);
        if loc.media_type == super::XAIP_MEDIA_TYPE {
            return Err(refuse("a package's XML parts are hashed in the canonical form its header names; its record is given in RFC 4998 form (ArchiveRetrieval with IncludeERS, ArchiveEvidence)".into()));
        }
        // before any data is read: a record that cannot be re-expressed is refused as it is
        let xml = bewahr_xmlsig::ers::from_der(&chains.record(), &chains.rehashed)
            .map_err(|e| refuse(e.0))?;
        // the document, and the preserved items, as they are hashed
        let mut items = vec![loc.sha256];
        if let Some(row) = self.catalog.validation(loc.seq).await? {
            items.extend(row.signature_sha256);
        }
        for sha in items {
            let size = if sha == loc.sha256 { loc.size } else { 0 };
            let store = self.ingest.store.clone();
            let alike = tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
                let Some(mut r) = store.read(&sha)? else {
                    return Ok(true);
                };
                let first = r.next_piece()?.unwrap_or_default();
                if !bewahr_xmlsig::ers::looks_like_xml(&first) {
                    return Ok(true);
                }
                // XML is read whole to canonicalise it: within the bound
                // the ASiC export keeps too
                if size > MAX_ASIC_DOCUMENT {
                    return Ok(false);
                }
                let mut all = first;
                while let Some(p) = r.next_piece()? {
                    all.extend(p);
                }
                Ok(bewahr_xmlsig::ers::hashed_alike(&all))
            })
            .await??;
            if !alike {
                return Err(refuse(format!("the version holds XML whose bytes are not in canonical form (or XML over {MAX_ASIC_DOCUMENT} bytes, which is not read whole to check): the XML form hashes its canonical form, the DER record hashed the bytes")));
            }
        }
        Ok((loc, xml))
    }

    /// The RFC 4998 evidence record (DER) of a version (`None`: the
    /// latest), built on demand. While its batch is not sealed, waits up
    /// to `wait` (at most [`super::MAX_EVIDENCE_WAIT`]) for it, then
    /// answers `Pending`.
    pub async fn evidence(
        &self,
        obj: &Owned,
        v: Option<VersionNo>,
        wait: Duration,
    ) -> Result<(Location, Vec<u8>), ServiceError> {
        let (loc, chains) = self.evidence_chains(obj, v, wait).await?;
        Ok((loc, chains.record()))
    }

    /// The version's archive time-stamps (see [`Self::evidence`]).
    async fn evidence_chains(
        &self,
        obj: &Owned,
        v: Option<VersionNo>,
        wait: Duration,
    ) -> Result<(Location, crate::evidence::Chains), ServiceError> {
        obj.expect(Operation::Evidence)?;
        let wait = wait.min(super::MAX_EVIDENCE_WAIT);
        let mut waited = false;
        loop {
            match self
                .evidence
                .chains(obj.aoid.as_str(), v.map(VersionNo::get))
                .await
            {
                Ok(r) => {
                    metrics::counter!("bewahr_evidence_records_total").increment(1);
                    return Ok(r);
                }
                Err(EvidenceError::Pending { seq }) if !waited && !wait.is_zero() => {
                    self.sealer.wait_sealed(seq, wait).await;
                    waited = true;
                }
                Err(EvidenceError::Pending { .. }) => {
                    return Err(ServiceError::Pending {
                        retry_after_secs: self.retry_after_secs,
                    })
                }
                Err(EvidenceError::NotFound) => return Err(Self::version_not_found(&obj.aoid, v)),
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn read_preserved(&self, sha: [u8; 32]) -> Result<Vec<u8>, ServiceError> {
        let store = self.ingest.store.clone();
        tokio::task::spawn_blocking(move || store.read_all(&sha))
            .await??
            .ok_or_else(|| {
                ServiceError::Corrupt(format!(
                    "preserved item {} is missing from the store",
                    hex::encode(sha)
                ))
            })
    }

    /// The preserved validation of a version (`None`: the document carried
    /// no signature, or was archived without validation).
    pub async fn validation(
        &self,
        obj: &Owned,
        v: VersionNo,
    ) -> Result<(Location, Option<PreservedValidation>), ServiceError> {
        obj.expect(Operation::Validation)?;
        let loc = self.locate(obj, Some(v)).await?;
        let Some(row) = self.catalog.validation(loc.seq).await? else {
            return Ok((loc, None));
        };
        let report = serde_json::from_slice(&self.read_preserved(row.report_sha256).await?)
            .map_err(|e| ServiceError::Corrupt(format!("preserved report: {e}")))?;
        let data = bewahr_core::signature::ValidationData::from_der(
            &self.read_preserved(row.data_sha256).await?,
        )
        .map_err(|e| ServiceError::Corrupt(format!("preserved validation data: {e}")))?;
        Ok((loc, Some(PreservedValidation { row, report, data })))
    }

    /// One preserved item exactly as hashed into the version's data-object group.
    pub async fn validation_item(
        &self,
        obj: &Owned,
        v: VersionNo,
        item: ValidationItem,
    ) -> Result<Vec<u8>, ServiceError> {
        obj.expect(Operation::Validation)?;
        let loc = self.locate(obj, Some(v)).await?;
        let row =
            self.catalog.validation(loc.seq).await?.ok_or_else(|| {
                ServiceError::not_found("this version has no preserved validation")
            })?;
        let sha = match item {
            ValidationItem::Report => Some(row.report_sha256),
            ValidationItem::Data => Some(row.data_sha256),
            ValidationItem::Signature => row.signature_sha256,
        }
        .ok_or_else(|| ServiceError::not_found("this version has no detached signature"))?;
        self.read_preserved(sha).await
    }
}
