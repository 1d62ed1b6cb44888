//! The upload and download interface of LXAIPs (TR-ESOR-E section 6).
//!
//! A file is uploaded first (streamed into the content store like every
//! document, any size up to the document limit) and answered with an
//! `asic:DataObjectReference`: a URI of the archive's
//! (`urn:bewahr:upload:<128 random bits>`) and the file's SHA-256. An
//! LXAIP or DLXAIP then refers to it by that URI; its digest must match.
//!
//! Rules (TR-ESOR-E 6.1, C.2 M-ADD-03a):
//! - a reference serves one package: reading a package spends every
//!   reference it names, whether the package is then archived or refused,
//!   and a package naming a spent, unknown or expired reference is refused
//!   (`parameterError`);
//! - a reference is the uploading tenant's (another tenant's is unknown);
//! - an unused upload is removed after `lxaip_upload_ttl_hours`;
//! - packages (XAIP, DXAIP, LXAIP) and ASiC-AIPs are not taken
//!   (`uploadDataFormatNotSupported`).
//!
//! The files of an archived package are members of its version's group,
//! so they are preserved, proved, renewed and deleted with it. They can be
//! downloaded by their URI while the package's version lives
//! ([`ArchiveService::download`]), and retrieval can give the package as
//! the XAIP it stands for ([`ArchiveService::referenced_files`]).

use std::collections::HashMap;

use bytes::Bytes;
use sha2::Digest;

use super::{ArchiveService, Authorized, Incoming, Operation, ServiceError};
use crate::catalog::{NewUpload, Spend};
use crate::ids::TenantId;
use crate::store::Pins;

/// The scheme of the URIs the archive gives uploads.
pub const UPLOAD_URI_PREFIX: &str = "urn:bewahr:upload:";

/// How long an upload waits for its package unless configured (7 days).
pub const DEFAULT_UPLOAD_TTL: time::Duration = time::Duration::days(7);

/// An accepted upload: what the `asic:DataObjectReference` says of it.
#[derive(Clone, Debug)]
pub struct UploadReceipt {
    pub uri: String,
    pub sha256: [u8; 32],
    pub size: u64,
    pub expires_at: time::OffsetDateTime,
}

/// A preserved file, streamed.
pub struct Download {
    /// The archive object whose package referred to it.
    pub aoid: String,
    pub version: i64,
    pub size: u64,
    pub sha256: [u8; 32],
    pub body: super::ByteStream,
}

/// The files of a package's references, claimed for it.
#[derive(Default)]
pub(super) struct Claimed {
    pub files: HashMap<String, Vec<u8>>,
    /// The files' digests, pinned until the package is recorded or refused.
    pub pins: Option<Pins>,
}

/// An upload is refused for its format (S.4: `uploadDataFormatNotSupported`).
pub const UPLOAD_FORMAT_REFUSED: &str = "upload_format_not_supported";
/// A package names a reference it may not use (S.4: `parameterError`).
pub const REFERENCE_UNUSABLE: &str = "reference_unusable";

/// Whether a ZIP container holds an (L)XAIP: an ASiC-AIP (TR-ESOR-F 3.3).
fn zip_holds_package(bytes: &[u8]) -> bool {
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    for i in 0..z.len() {
        let Ok(mut f) = z.by_index(i) else { continue };
        if f.is_dir() {
            continue;
        }
        let mut head = Vec::with_capacity(8192);
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut f, 8192), &mut head);
        if bewahr_xaip::lxaip::package_root(&head).is_some() {
            return true;
        }
    }
    false
}

/// How many bytes of files one LXAIP may refer to when no validator sets
/// the limit (they are read into memory).
const LXAIP_FILES_IN_MEMORY: u64 = 256 << 20;

/// The references a package names (`Err`: it cannot be read), parsed off
/// the async workers. Only called for bytes that
/// [`bewahr_xaip::lxaip::may_have_references`].
pub(super) async fn package_references(
    package: Vec<u8>,
) -> Result<Result<Vec<bewahr_xaip::Reference>, bewahr_xaip::XaipError>, ServiceError> {
    tokio::task::spawn_blocking(move || bewahr_xaip::Xaip::parse(&package).map(|x| x.references()))
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))
}

/// The largest ZIP examined for a package inside (an ASiC-AIP is read whole).
const ZIP_EXAMINED: u64 = 64 << 20;

impl ArchiveService {
    /// Stored content, whole, read off the async workers.
    pub(super) async fn stored_bytes(
        &self,
        sha256: [u8; 32],
    ) -> Result<Option<Vec<u8>>, ServiceError> {
        let store = self.ingest.store.clone();
        Ok(tokio::task::spawn_blocking(move || store.read_all(&sha256)).await??)
    }

    /// Finishes an upload for an LXAIP: durable when it returns `Ok`, then
    /// usable by one package of the caller's tenant until it expires.
    pub async fn finish_upload(
        &self,
        who: &Authorized,
        incoming: Incoming,
    ) -> Result<UploadReceipt, ServiceError> {
        if who.operation() != Operation::Submit {
            return Err(ServiceError::Forbidden {
                role: who.principal().role,
                op: Operation::Submit,
            });
        }
        let upload = incoming.finish().await?;
        if upload.size() == 0 {
            upload.abort();
            return Err(ServiceError::invalid("empty", "the upload is empty"));
        }
        // the whole upload while it is small, else its first KiB
        if let Some(root) =
            bewahr_xaip::lxaip::package_root(upload.inline().unwrap_or(upload.head()))
        {
            upload.abort();
            return Err(ServiceError::invalid(
                UPLOAD_FORMAT_REFUSED,
                format!("an archive package ({root}) is not uploaded: submit it (TR-ESOR-E 6: no XAIP, LXAIP or ASiC-AIP by upload)"),
            ));
        }
        let zip = upload.head().starts_with(b"PK\x03\x04");
        // before the content is written or found in the store (NewUpload::sweep_gen)
        let sweep_gen = self.ingest.writer.sweep_generation();
        let store = self.ingest.store.clone();
        let finished = tokio::task::spawn_blocking(move || -> Result<_, ServiceError> {
            let f = upload.finish()?;
            store.sync()?;
            Ok(f)
        })
        .await??;
        let (sha256, size) = (finished.stored.sha256, finished.stored.size);
        if zip && size <= ZIP_EXAMINED {
            let store = self.ingest.store.clone();
            let holds = tokio::task::spawn_blocking(move || {
                store
                    .read_all(&sha256)
                    .map(|b| b.is_some_and(|b| zip_holds_package(&b)))
            })
            .await??;
            if holds {
                // unreferenced: the sweeper removes it
                return Err(ServiceError::invalid(
                    UPLOAD_FORMAT_REFUSED,
                    "an ASiC-AIP (a container with an archive package) is not uploaded: submit it",
                ));
            }
        }
        let now = self.now();
        let expires_at = now + self.upload_ttl;
        let mut token = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut token)
            .map_err(|_| ServiceError::Task("the system's random source failed".into()))?;
        let uri = format!("{UPLOAD_URI_PREFIX}{}", hex::encode(token));
        let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
        let recorded = self
            .catalog
            .record_upload(&NewUpload {
                uri: uri.clone(),
                tenant: who.tenant().map(|t| t.as_str().to_string()),
                sha256,
                size,
                created_at_ms: ms(now),
                expires_at_ms: ms(expires_at),
                sweep_gen,
            })
            .await?;
        if !recorded {
            return Err(crate::catalog::WriteError::ContentGone.into());
        }
        // the row holds the content from here on
        drop(finished.pins);
        metrics::counter!("bewahr_uploads_total").increment(1);
        Ok(UploadReceipt {
            uri,
            sha256,
            size,
            expires_at,
        })
    }

    /// Spends the references a package names and reads their files
    /// (nothing when it names none). Refuses the package when one of them
    /// is not the tenant's, is spent or expired, or when the files are,
    /// together, larger than a document may be (they are read whole for
    /// their evidence and signatures).
    pub(super) async fn claim_references(
        &self,
        tenant: Option<&TenantId>,
        package: &Bytes,
    ) -> Result<Claimed, ServiceError> {
        if !bewahr_xaip::lxaip::may_have_references(package) {
            return Ok(Claimed::default());
        }
        // a package that cannot be read names nothing: its checks refuse it
        let refs = package_references(package.to_vec())
            .await?
            .unwrap_or_default();
        if refs.is_empty() {
            return Ok(Claimed::default());
        }
        let mut uris: Vec<String> = vec![];
        for r in &refs {
            if uris.contains(&r.uri) {
                return Err(ServiceError::invalid(
                    REFERENCE_UNUSABLE,
                    format!(
                        "the reference {} is named twice in the package: each serves one object",
                        r.uri
                    ),
                ));
            }
            uris.push(r.uri.clone());
        }
        let tenant = tenant.map(TenantId::as_str);
        // pin what the rows name before spending them: from the moment a
        // row is spent until the version is recorded, only the pin keeps
        // the content from the sweeper
        let mut pins = self.ingest.store.in_flight().pins();
        for u in &uris {
            if let Some(row) = self.catalog.upload(u, tenant).await? {
                pins.hold(row.sha256);
            }
        }
        let by = hex::encode(sha2::Sha256::digest(package));
        let now_ms = self.now_ms();
        let spent = self
            .catalog
            .spend_uploads(&uris, tenant, &by, now_ms)
            .await?;
        let mut fresh = vec![];
        let mut problems = vec![];
        for (uri, s) in uris.iter().zip(spent) {
            match s {
                Spend::Fresh { sha256, size } => fresh.push((uri.clone(), sha256, size)),
                Spend::Spent => problems.push(format!(
                    "{uri} was used by another package already (each reference serves one package, also when that package was refused)"
                )),
                Spend::Expired => problems.push(format!("{uri} expired unused")),
                Spend::Unknown => problems.push(format!("{uri} is no upload of this tenant")),
            }
        }
        if !problems.is_empty() {
            return Err(ServiceError::invalid(
                REFERENCE_UNUSABLE,
                format!(
                    "the package names references it may not use: {}",
                    problems.join("; ")
                ),
            ));
        }
        let total: u64 = fresh.iter().map(|(_, _, s)| s).sum();
        // read whole, like a signed document the validator examines
        let limit = self
            .ingest
            .validator
            .as_ref()
            .map(|v| v.max_document_bytes())
            .unwrap_or(LXAIP_FILES_IN_MEMORY);
        if total > limit {
            return Err(ServiceError::TooLarge(format!(
                "the files the package refers to are {total} bytes together, more than {limit} (validation.max_document_bytes); they are read whole for their evidence and signatures"
            )));
        }
        let store = self.ingest.store.clone();
        let files = tokio::task::spawn_blocking(move || {
            let mut files = HashMap::new();
            for (uri, sha, _) in fresh {
                let bytes = store.read_all(&sha)?.ok_or_else(|| {
                    ServiceError::Corrupt(format!(
                        "the upload {uri} ({}) is missing from the store",
                        hex::encode(sha)
                    ))
                })?;
                files.insert(uri, bytes);
            }
            Ok::<_, ServiceError>(files)
        })
        .await??;
        Ok(Claimed {
            files,
            pins: Some(pins),
        })
    }

    /// The files the references of an object's packages (`packages`, as
    /// stored) stand for, by URI: what retrieval embeds to give an LXAIP
    /// back as an XAIP. Each file is the one uploaded for that package.
    pub async fn referenced_files(
        &self,
        obj: &super::Owned,
        packages: &[Vec<u8>],
    ) -> Result<HashMap<String, Vec<u8>>, ServiceError> {
        obj.expect(Operation::ReadContent)?;
        self.files_of(obj.principal.tenant.as_ref(), packages).await
    }

    /// The files the references of `packages` (an object's, as stored, of
    /// `tenant`) stand for, by URI.
    pub(super) async fn files_of(
        &self,
        tenant: Option<&TenantId>,
        packages: &[Vec<u8>],
    ) -> Result<HashMap<String, Vec<u8>>, ServiceError> {
        let mut out = HashMap::new();
        let tenant = tenant.map(TenantId::as_str);
        for p in packages {
            if !bewahr_xaip::lxaip::may_have_references(p) {
                continue;
            }
            let refs = package_references(p.clone())
                .await?
                .map_err(|e| ServiceError::Corrupt(format!("an archived package: {e}")))?;
            let by = hex::encode(sha2::Sha256::digest(p));
            for r in refs {
                let row = self.catalog.upload(&r.uri, tenant).await?;
                let Some(row) = row.filter(|u| u.spent_by.as_deref() == Some(by.as_str())) else {
                    return Err(ServiceError::Corrupt(format!(
                        "the file of reference {} is not recorded for its package",
                        r.uri
                    )));
                };
                let bytes = self.stored_bytes(row.sha256).await?.ok_or_else(|| {
                    ServiceError::Corrupt(format!(
                        "the file of reference {} is missing from the store",
                        r.uri
                    ))
                })?;
                out.insert(r.uri, bytes);
            }
        }
        Ok(out)
    }

    /// A file an archived LXAIP or DLXAIP refers to, by its reference's
    /// URI (TR-ESOR-E 6.2), for a caller who may read that package's
    /// object. Unknown, unused and other tenants' URIs are not found alike.
    pub async fn download(
        &self,
        p: &crate::access::Principal,
        uri: &str,
    ) -> Result<Download, ServiceError> {
        let who = self.authorize(p, Operation::ReadContent)?;
        let not_found = || ServiceError::not_found(format!("no archived package refers to {uri}"));
        let tenant = who.principal.tenant.as_ref().map(TenantId::as_str);
        let row = self
            .catalog
            .upload(uri, tenant)
            .await?
            .ok_or_else(not_found)?;
        let package = row.package().ok_or_else(not_found)?;
        let (aoid, version) = self
            .catalog
            .upload_holder(&package)
            .await?
            .ok_or_else(not_found)?;
        // the object's own check: role, tenant, not deleted
        self.authorize_object(p, Operation::ReadContent, &aoid)
            .await?;
        let store = self.ingest.store.clone();
        let sha = row.sha256;
        let reader = tokio::task::spawn_blocking(move || store.read(&sha))
            .await??
            .ok_or_else(|| {
                ServiceError::Corrupt(format!(
                    "the file of {uri} ({}) is missing from the store",
                    hex::encode(sha)
                ))
            })?;
        Ok(Download {
            aoid,
            version,
            size: row.size,
            sha256: row.sha256,
            body: super::objects::stream(reader),
        })
    }
}
