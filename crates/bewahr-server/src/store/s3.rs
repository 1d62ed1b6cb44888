//! The S3 implementation of [`ContentStore`] and [`TreeStore`]
//! (`[store] kind = "s3"`): an S3-compatible object store with Object Lock
//! and versioning, shared by every node of an installation.
//!
//! The client is the AWS SDK (`aws-sdk-s3`: every S3 call bewahr needs,
//! Object Lock included, which `object_store` does not cover), without its
//! default HTTP client (rustls on aws-lc): the smithy client on rustls with
//! ring, the project's one crypto provider. The SDK is asynchronous and the
//! storage contracts block (their callers run them on blocking threads or
//! inside the catalog writer); the store therefore owns a small runtime of
//! its own and waits for each call's task on a channel, which is safe from
//! any thread, inside a runtime or not, and cannot starve the server's
//! workers.
//!
//! Layout under `prefix` (every key written once; hex is lower case):
//! - `content/<sha256>`: a document of at most [`CHUNK`] bytes, as it is;
//!   or, for a larger one, a 29-byte manifest (the RocksDB store's entry:
//!   `1`, size, upload id, chunk count) with the user metadata
//!   `bewahr-form: chunked` and `bewahr-size`.
//! - `blobs/<upload id>`: a larger document as one object (one PUT up to
//!   [`SINGLE_PUT`] bytes, else a multipart upload of [`PART`]-byte parts);
//!   chunk `i` is the byte range `i * CHUNK ..`.
//! - `trees/...`: hash trees (see `s3_tree`).
//!
//! Large bodies (blobs and their parts) are sent with an unsigned payload
//! (`UNSIGNED-PAYLOAD`, S3's own option): SigV4 would hash every byte once
//! more with SHA-256, which bewahr has just done for the content's address;
//! the SDK's CRC32 checksum, which S3 verifies, and TLS keep the bytes
//! whole. Small objects keep the signed payload.
//!
//! Semantics beyond the contract:
//! - **Durable on return.** S3 acknowledges a write once it is durable;
//!   `sync` has nothing left to do. The chunks of an upload are held (at
//!   most [`SINGLE_PUT`] + [`CHUNK`] bytes) or sent as parts, and reach S3
//!   as one object when `put_chunked` completes it, before the manifest.
//! - **Written once.** Manifests and small documents are written with
//!   `If-None-Match: *`; an answer 412 means identical bytes are there.
//! - **Retention.** [`ContentStore::retain`] extends an object's Object Lock
//!   retention (never shortens it: S3 refuses that in COMPLIANCE mode, and
//!   some servers accept it, so bewahr reads the retention first) and
//!   [`ContentStore::legal_hold`] sets the S3 legal hold, on the entry and
//!   its blob alike.
//! - **Deletion** removes every version of the entry, then of its blob
//!   (with versioning a plain DELETE only adds a delete marker). A version
//!   still retained or held is refused by S3: [`StoreError::Retained`].
//!   Should the blob's removal fail after the entry's, the blob stays, an
//!   orphan under `blobs/` (logged).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, ObjectLockEnabled,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode,
};
use aws_sdk_s3::Client;

use super::contract::{ContentStore, Listed, Located, UploadId};
use super::{StoreError, CHUNK};
use crate::config::LockMode;

/// A larger document up to this size goes to S3 in one PUT (held in memory
/// meanwhile); above it, in a multipart upload.
pub const SINGLE_PUT: usize = 16 << 20;
/// Part size of multipart uploads (S3's minimum is 5 MiB, the last part aside).
pub const PART: usize = 8 << 20;

const FORM: &str = "bewahr-form";
const SIZE: &str = "bewahr-size";
const MANIFEST_LEN: i64 = 29;

/// Where and how to reach the bucket.
#[derive(Clone, Debug)]
pub struct S3Settings {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub lock_mode: LockMode,
    pub evidence_retention: Duration,
    /// PEM of the CA of the service's certificate (empty: the system's roots).
    pub ca_pem: Vec<u8>,
    pub concurrency: usize,
}

impl S3Settings {
    /// From the configuration; credentials from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` if set, else from
    /// the file.
    pub fn from_config(
        s: &crate::config::Store,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StoreError> {
        let missing = |what: &str| {
            StoreError::Backend(format!(
                "s3: store.{what} is required with store.kind = \"s3\""
            ))
        };
        if s.bucket.is_empty() {
            return Err(missing("bucket"));
        }
        if s.region.is_empty() {
            return Err(missing("region"));
        }
        let (access_key_id, secret_access_key) = match (
            env("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty()),
            env("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty()),
        ) {
            (Some(a), Some(s)) => (a, s),
            _ if !s.access_key_id.is_empty() && !s.secret_access_key.is_empty() => {
                (s.access_key_id.clone(), s.secret_access_key.clone())
            }
            _ => {
                return Err(StoreError::Backend(
                    "s3: no credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or store.access_key_id and store.secret_access_key)".into(),
                ))
            }
        };
        let ca_pem = if s.ca_file.is_empty() {
            vec![]
        } else {
            std::fs::read(&s.ca_file)
                .map_err(|e| StoreError::Backend(format!("s3: store.ca_file {}: {e}", s.ca_file)))?
        };
        Ok(S3Settings {
            endpoint: s.endpoint.clone(),
            bucket: s.bucket.clone(),
            region: s.region.clone(),
            prefix: s.prefix.clone(),
            access_key_id,
            secret_access_key,
            session_token: env("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
            lock_mode: s.lock_mode,
            evidence_retention: Duration::from_secs(u64::from(s.evidence_retention_days) * 86_400),
            ca_pem,
            concurrency: s.concurrency.max(1),
        })
    }
}

/// An upload whose chunks are on their way to S3.
#[derive(Default)]
struct Pending {
    /// Bytes not yet sent.
    buf: Vec<u8>,
    /// The S3 multipart upload, once the document outgrew [`SINGLE_PUT`].
    multipart: Option<String>,
    parts: Vec<CompletedPart>,
}

/// The runtime the SDK's calls run on; shut down without waiting when the
/// store goes (dropping a runtime inside another one would panic).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The S3 store (cheap to clone).
#[derive(Clone)]
pub struct S3Store {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    rt: Runtime,
    pub(super) client: Client,
    pub(super) bucket: String,
    pub(super) prefix: String,
    mode: LockMode,
    pub(super) evidence_retention: Duration,
    pub(super) concurrency: usize,
    /// The latest retention date (Unix seconds) of any version known to
    /// the store: evidence written now is retained at least this long.
    pub(super) horizon: std::sync::atomic::AtomicI64,
    uploads: Mutex<HashMap<UploadId, Pending>>,
    /// Retentions known to be set (key: object key), to spare a request.
    retained: moka::sync::Cache<String, i64>,
}

pub(super) type S3Error<E> = SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

/// The HTTP status of a failed call, if the service answered.
pub(super) fn status<E>(e: &S3Error<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

pub(super) fn failed<E>(op: &str, key: &str, e: S3Error<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Backend(format!("s3 {op} {key}: {}", DisplayErrorContext(e)))
}

fn retained_error<E: ProvideErrorMetadata>(key: &str, e: &S3Error<E>) -> Option<StoreError> {
    (status(e) == Some(403) || e.code() == Some("AccessDenied")).then(|| StoreError::Retained {
        key: key.to_string(),
    })
}

impl S3Store {
    /// Connects to the bucket and checks that it has Object Lock and
    /// versioning (refusing it otherwise: without them nothing keeps a
    /// written object from being overwritten or removed).
    pub fn open(s: &S3Settings) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bewahr-s3")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("s3: runtime: {e}")))?;
        use aws_smithy_http_client::tls;
        let mut tls_provider = aws_smithy_http_client::Builder::new().tls_provider(
            tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring),
        );
        if !s.ca_pem.is_empty() {
            let ctx = tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(s.ca_pem.clone()))
                .build()
                .map_err(|e| StoreError::Backend(format!("s3: store.ca_file: {e}")))?;
            tls_provider = tls_provider.tls_context(ctx);
        }
        let http = tls_provider.build_https();
        let mut conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(s.region.clone()))
            .credentials_provider(Credentials::new(
                s.access_key_id.clone(),
                s.secret_access_key.clone(),
                s.session_token.clone(),
                None,
                "bewahr",
            ))
            .http_client(http)
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(300))
                    .build(),
            );
        if !s.endpoint.is_empty() {
            // S3-compatible servers (Ceph RGW, MinIO, StorageGRID) address
            // buckets by path; AWS by host name
            conf = conf.endpoint_url(s.endpoint.clone()).force_path_style(true);
        }
        let client = Client::from_conf(conf.build());
        let horizon = now_secs() + s.evidence_retention.as_secs() as i64;
        let store = S3Store {
            inner: Arc::new(Inner {
                rt: Runtime(Some(rt)),
                client,
                bucket: s.bucket.clone(),
                prefix: s.prefix.clone(),
                mode: s.lock_mode,
                evidence_retention: s.evidence_retention,
                concurrency: s.concurrency,
                horizon: horizon.into(),
                uploads: Mutex::new(HashMap::new()),
                retained: moka::sync::Cache::new(100_000),
            }),
        };
        store.check_bucket()?;
        Ok(store)
    }

    fn check_bucket(&self) -> Result<(), StoreError> {
        let (c, b) = (self.inner.client.clone(), self.inner.bucket.clone());
        self.block(async move {
            let enabled = match c.get_bucket_versioning().bucket(&b).send().await {
                Ok(v) => v.status() == Some(&BucketVersioningStatus::Enabled),
                // moto names the answer's root GetBucketVersioningResponse
                // where S3 has VersioningConfiguration, which the SDK refuses:
                // the status is read from the answer itself then
                Err(e) if status(&e) == Some(200) => e
                    .raw_response()
                    .and_then(|r| r.body().bytes())
                    .is_some_and(|body| {
                        String::from_utf8_lossy(body).contains("<Status>Enabled</Status>")
                    }),
                Err(e) => return Err(failed("GetBucketVersioning", &b, e)),
            };
            if !enabled {
                return Err(StoreError::Backend(format!(
                    "s3: bucket {b} does not have versioning enabled (create it with Object Lock, which enables versioning)"
                )));
            }
            let l = c
                .get_object_lock_configuration()
                .bucket(&b)
                .send()
                .await
                .map_err(|e| failed("GetObjectLockConfiguration", &b, e))?;
            let enabled = l
                .object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                == Some(&ObjectLockEnabled::Enabled);
            if !enabled {
                return Err(StoreError::Backend(format!(
                    "s3: bucket {b} does not have Object Lock enabled (it can only be turned on when the bucket is created, e.g. aws s3api create-bucket --object-lock-enabled-for-bucket)"
                )));
            }
            Ok(())
        })
    }

    /// Runs `f` on the store's runtime and waits for it (from any thread).
    pub(super) fn block<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let rt = self.inner.rt.0.as_ref().expect("running until dropped");
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| {
            StoreError::Backend("s3: the request's task ended without an answer".into())
        })?
    }

    pub(super) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.inner.prefix)
    }

    fn content_key(&self, sha256: &[u8; 32]) -> String {
        self.key(&format!("content/{}", hex::encode(sha256)))
    }

    fn blob_key(&self, upload: &UploadId) -> String {
        self.key(&format!("blobs/{}", hex::encode(upload)))
    }

    /// The Object Lock mode of retentions bewahr sets.
    fn mode(&self) -> ObjectLockRetentionMode {
        match self.inner.mode {
            LockMode::Compliance => ObjectLockRetentionMode::Compliance,
            LockMode::Governance => ObjectLockRetentionMode::Governance,
        }
    }

    pub(super) fn object_mode(&self) -> ObjectLockMode {
        match self.inner.mode {
            LockMode::Compliance => ObjectLockMode::Compliance,
            LockMode::Governance => ObjectLockMode::Governance,
        }
    }

    /// Evidence written now is retained until then (Unix seconds).
    pub(super) fn evidence_until(&self) -> i64 {
        let floor = now_secs() + self.inner.evidence_retention.as_secs() as i64;
        floor.max(self.inner.horizon.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Writes `key` unless it exists (`If-None-Match: *`); `Ok(false)` if
    /// it did.
    async fn put_once(
        c: Client,
        bucket: String,
        key: String,
        body: Vec<u8>,
        meta: Option<(u64, &'static str)>,
    ) -> Result<bool, StoreError> {
        let mut req = c
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(body));
        if let Some((size, form)) = meta {
            req = req.metadata(FORM, form).metadata(SIZE, size.to_string());
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(412) => Ok(false),
            Err(e) => Err(failed("PutObject", &key, e)),
        }
    }

    /// HEAD of `key`: `None` if absent, else (size, chunked manifest?, true size).
    async fn head(
        c: &Client,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(u64, bool, u64)>, StoreError> {
        match c.head_object().bucket(bucket).key(key).send().await {
            Ok(h) => {
                let len = h.content_length().unwrap_or(0).max(0) as u64;
                let meta = h.metadata();
                let chunked = meta.and_then(|m| m.get(FORM)).map(String::as_str) == Some("chunked");
                let size = match chunked {
                    true => meta
                        .and_then(|m| m.get(SIZE))
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| {
                            super::corrupt(key.as_bytes(), "manifest without its size")
                        })?,
                    false => len,
                };
                Ok(Some((len, chunked, size)))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(failed("HeadObject", key, e)),
        }
    }

    /// The whole object `key` (or the byte range), `None` if absent.
    pub(super) async fn get(
        c: &Client,
        bucket: &str,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Option<(Vec<u8>, bool)>, StoreError> {
        let mut req = c.get_object().bucket(bucket).key(key);
        if let Some((from, to)) = range {
            req = req.range(format!("bytes={from}-{to}"));
        }
        match req.send().await {
            Ok(o) => {
                let chunked =
                    o.metadata().and_then(|m| m.get(FORM)).map(String::as_str) == Some("chunked");
                let body = o
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::Backend(format!("s3 GetObject {key}: {e}")))?;
                Ok(Some((body.into_bytes().to_vec(), chunked)))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(failed("GetObject", key, e)),
        }
    }

    /// Removes every version (and delete marker) of `key`; `Ok(false)` if
    /// there was none.
    pub(super) async fn delete_versions(
        c: &Client,
        bucket: &str,
        key: &str,
    ) -> Result<bool, StoreError> {
        let mut found = false;
        let mut marker: Option<(String, Option<String>)> = None;
        loop {
            let mut req = c.list_object_versions().bucket(bucket).prefix(key);
            if let Some((k, v)) = &marker {
                req = req.key_marker(k);
                if let Some(v) = v {
                    req = req.version_id_marker(v);
                }
            }
            let out = req
                .send()
                .await
                .map_err(|e| failed("ListObjectVersions", key, e))?;
            let ids: Vec<String> = out
                .versions()
                .iter()
                .filter(|v| v.key() == Some(key))
                .filter_map(|v| v.version_id().map(str::to_string))
                .chain(
                    out.delete_markers()
                        .iter()
                        .filter(|m| m.key() == Some(key))
                        .filter_map(|m| m.version_id().map(str::to_string)),
                )
                .collect();
            for id in ids {
                found = true;
                if let Err(e) = c
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .version_id(&id)
                    .send()
                    .await
                {
                    return Err(
                        retained_error(key, &e).unwrap_or_else(|| failed("DeleteObject", key, e))
                    );
                }
            }
            if out.is_truncated() != Some(true) {
                return Ok(found);
            }
            marker = Some((
                out.next_key_marker().unwrap_or(key).to_string(),
                out.next_version_id_marker().map(str::to_string),
            ));
        }
    }

    /// Extends the retention of `key` to `until` (Unix seconds) unless it
    /// is retained at least that long already.
    pub(super) async fn extend(&self, key: String, until: i64) -> Result<(), StoreError> {
        if self.inner.retained.get(&key).is_some_and(|u| u >= until) {
            return Ok(());
        }
        let (c, b) = (&self.inner.client, &self.inner.bucket);
        // the retention from a HEAD (its Object Lock headers), which every
        // server answers alike; moto answers GetObjectRetention of an object
        // without one with the object itself
        let current = match c.head_object().bucket(b).key(&key).send().await {
            Ok(h) => h.object_lock_retain_until_date().map(|d| d.secs()),
            Err(e) => return Err(failed("HeadObject", &key, e)),
        };
        if current.is_some_and(|c| c >= until) {
            self.inner.retained.insert(key, current.unwrap_or(until));
            return Ok(());
        }
        c.put_object_retention()
            .bucket(b)
            .key(&key)
            .retention(
                ObjectLockRetention::builder()
                    .mode(self.mode())
                    .retain_until_date(DateTime::from_secs(until))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| failed("PutObjectRetention", &key, e))?;
        self.inner.retained.insert(key, until);
        Ok(())
    }

    /// The keys holding content `sha256` (entry, and blob if chunked).
    async fn keys_of(&self, sha256: &[u8; 32]) -> Result<Option<Vec<String>>, StoreError> {
        let (c, b) = (&self.inner.client, &self.inner.bucket);
        let key = self.content_key(sha256);
        // a HEAD first: a small document is not downloaded to learn that it is one
        let Some((_, chunked, _)) = Self::head(c, b, &key).await? else {
            return Ok(None);
        };
        let mut keys = vec![key];
        if chunked {
            let Some((data, _)) = Self::get(c, b, &keys[0], None).await? else {
                return Ok(None);
            };
            if let Located::Chunked { upload, .. } = parse_manifest(sha256, &data)? {
                keys.push(self.blob_key(&upload));
            }
        }
        Ok(Some(keys))
    }

    async fn send_part(
        &self,
        upload: &UploadId,
        p: &mut Pending,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError> {
        let (c, b, key) = (
            &self.inner.client,
            &self.inner.bucket,
            self.blob_key(upload),
        );
        let id = match &p.multipart {
            Some(id) => id.clone(),
            None => {
                let out = c
                    .create_multipart_upload()
                    .bucket(b)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| failed("CreateMultipartUpload", &key, e))?;
                let id = out
                    .upload_id()
                    .ok_or_else(|| {
                        StoreError::Backend(format!("s3 CreateMultipartUpload {key}: no upload id"))
                    })?
                    .to_string();
                p.multipart = Some(id.clone());
                id
            }
        };
        let n = p.parts.len() as i32 + 1;
        let out = c
            .upload_part()
            .bucket(b)
            .key(&key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(bytes))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| failed("UploadPart", &key, e))?;
        p.parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_string))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    /// Aborts an upload's multipart upload after a failure (logged if that
    /// fails too: the bucket's lifecycle rule for incomplete multipart
    /// uploads removes it then).
    async fn abort_multipart(&self, upload: &UploadId, p: &Pending) {
        let Some(id) = &p.multipart else { return };
        let key = self.blob_key(upload);
        if let Err(e) = self
            .inner
            .client
            .abort_multipart_upload()
            .bucket(&self.inner.bucket)
            .key(&key)
            .upload_id(id)
            .send()
            .await
        {
            tracing::warn!(error = %DisplayErrorContext(e), key = %key, "could not abort a multipart upload");
        }
    }

    fn take_pending(&self, upload: &UploadId) -> Pending {
        self.inner
            .uploads
            .lock()
            .expect("uploads lock")
            .remove(upload)
            .unwrap_or_default()
    }
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn parse_manifest(sha256: &[u8; 32], v: &[u8]) -> Result<Located, StoreError> {
    if v.len() != MANIFEST_LEN as usize || v[0] != 1 {
        return Err(super::corrupt(sha256, "unknown content manifest"));
    }
    Ok(Located::Chunked {
        size: u64::from_be_bytes(v[1..9].try_into().expect("8 bytes")),
        upload: v[9..25].try_into().expect("16 bytes"),
        chunks: u32::from_be_bytes(v[25..29].try_into().expect("4 bytes")),
    })
}

fn manifest(size: u64, upload: &UploadId, chunks: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(MANIFEST_LEN as usize);
    v.push(1);
    v.extend_from_slice(&size.to_be_bytes());
    v.extend_from_slice(upload);
    v.extend_from_slice(&chunks.to_be_bytes());
    v
}

impl ContentStore for S3Store {
    fn exists(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.size(sha256)?.is_some())
    }

    fn size(&self, sha256: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        let (c, b, key) = (
            self.inner.client.clone(),
            self.inner.bucket.clone(),
            self.content_key(sha256),
        );
        self.block(async move { Ok(Self::head(&c, &b, &key).await?.map(|(_, _, size)| size)) })
    }

    fn locate(&self, sha256: &[u8; 32]) -> Result<Option<Located>, StoreError> {
        let (c, b, key) = (
            self.inner.client.clone(),
            self.inner.bucket.clone(),
            self.content_key(sha256),
        );
        let got = self.block(async move { Self::get(&c, &b, &key, None).await })?;
        match got {
            None => Ok(None),
            Some((data, true)) => parse_manifest(sha256, &data).map(Some),
            Some((data, false)) => Ok(Some(Located::Inline(data))),
        }
    }

    fn writes_once(&self) -> bool {
        true // If-None-Match: an answer 412 is identical content there
    }

    fn put_inline(&self, sha256: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        let (c, b, key) = (
            self.inner.client.clone(),
            self.inner.bucket.clone(),
            self.content_key(sha256),
        );
        let body = data.to_vec();
        self.block(async move { Self::put_once(c, b, key, body, None).await.map(|_| ()) })
    }

    fn put_chunk(&self, upload: &UploadId, index: u32, data: &[u8]) -> Result<(), StoreError> {
        let mut p = self.take_pending(upload);
        if index as usize * CHUNK != p.parts.len() * PART + p.buf.len() {
            return Err(StoreError::Backend(format!(
                "s3: chunk {index} of upload {} out of order",
                hex::encode(upload)
            )));
        }
        p.buf.extend_from_slice(data);
        if p.multipart.is_some() || p.buf.len() > SINGLE_PUT {
            let me = self.clone();
            let upload = *upload;
            p = self.block(async move {
                let sent = async {
                    while p.buf.len() >= PART {
                        let rest = p.buf.split_off(PART);
                        let part = std::mem::replace(&mut p.buf, rest);
                        me.send_part(&upload, &mut p, part).await?;
                    }
                    Ok(())
                }
                .await;
                match sent {
                    Ok(()) => Ok(p),
                    Err(e) => {
                        me.abort_multipart(&upload, &p).await;
                        Err(e)
                    }
                }
            })?;
        }
        self.inner
            .uploads
            .lock()
            .expect("uploads lock")
            .insert(*upload, p);
        Ok(())
    }

    fn put_chunked(
        &self,
        sha256: &[u8; 32],
        size: u64,
        upload: &UploadId,
        chunks: u32,
    ) -> Result<(), StoreError> {
        let mut p = self.take_pending(upload);
        let me = self.clone();
        let (upload, sha256) = (*upload, *sha256);
        self.block(async move {
            let (c, b) = (&me.inner.client, &me.inner.bucket);
            let blob = me.blob_key(&upload);
            match p.multipart.clone() {
                None => {
                    c.put_object()
                        .bucket(b)
                        .key(&blob)
                        .body(ByteStream::from(std::mem::take(&mut p.buf)))
                        .customize()
                        .disable_payload_signing()
                        .send()
                        .await
                        .map_err(|e| failed("PutObject", &blob, e))?;
                }
                Some(id) => {
                    let completed = async {
                        if !p.buf.is_empty() {
                            let last = std::mem::take(&mut p.buf);
                            me.send_part(&upload, &mut p, last).await?;
                        }
                        c.complete_multipart_upload()
                        .bucket(b)
                        .key(&blob)
                        .upload_id(&id)
                        .multipart_upload(
                            CompletedMultipartUpload::builder()
                                .set_parts(Some(p.parts.clone()))
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| failed("CompleteMultipartUpload", &blob, e))
                    }
                    .await;
                    if let Err(e) = completed {
                        me.abort_multipart(&upload, &p).await;
                        return Err(e);
                    }
                }
            }
            let entry = me.content_key(&sha256);
            let fresh = Self::put_once(
                c.clone(),
                b.clone(),
                entry,
                manifest(size, &upload, chunks),
                Some((size, "chunked")),
            )
            .await?;
            if !fresh {
                // identical content was stored meanwhile: this blob is not needed
                if let Err(e) = Self::delete_versions(c, b, &blob).await {
                    tracing::warn!(error = %e, key = %blob, "could not remove a blob another upload made redundant");
                }
            }
            Ok(())
        })
    }

    fn chunk(&self, upload: &UploadId, index: u32) -> Result<Vec<u8>, StoreError> {
        let (c, b, key) = (
            self.inner.client.clone(),
            self.inner.bucket.clone(),
            self.blob_key(upload),
        );
        let from = index as u64 * CHUNK as u64;
        let to = from + CHUNK as u64 - 1;
        let got = self.block(async move { Self::get(&c, &b, &key, Some((from, to))).await })?;
        match got {
            Some((v, _)) if !v.is_empty() => Ok(v),
            _ => Err(super::corrupt(
                &super::rocks::chunk_key(upload, index),
                "missing chunk",
            )),
        }
    }

    fn remove_chunks(&self, upload: &UploadId, chunks: u32) -> Result<(), StoreError> {
        let p = self.take_pending(upload);
        if chunks == 0 && p.multipart.is_none() {
            // a small document (never chunked): nothing of it is under blobs/,
            // and listing the key's versions costs the server a scan
            return Ok(());
        }
        let me = self.clone();
        let upload = *upload;
        self.block(async move {
            let (c, b, blob) = (&me.inner.client, &me.inner.bucket, me.blob_key(&upload));
            if let Some(id) = p.multipart {
                c.abort_multipart_upload()
                    .bucket(b)
                    .key(&blob)
                    .upload_id(id)
                    .send()
                    .await
                    .map_err(|e| failed("AbortMultipartUpload", &blob, e))?;
            }
            Self::delete_versions(c, b, &blob).await.map(|_| ())
        })
    }

    fn delete(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        let me = self.clone();
        let sha256 = *sha256;
        self.block(async move {
            let (c, b) = (&me.inner.client, &me.inner.bucket);
            let entry = me.content_key(&sha256);
            let blob = match Self::get(c, b, &entry, None).await? {
                Some((data, true)) => match parse_manifest(&sha256, &data)? {
                    Located::Chunked { upload, .. } => Some(me.blob_key(&upload)),
                    Located::Inline(_) => None,
                },
                _ => None,
            };
            let found = Self::delete_versions(c, b, &entry).await?;
            if let Some(blob) = blob {
                if let Err(e) = Self::delete_versions(c, b, &blob).await {
                    tracing::error!(error = %e, key = %blob, "the entry is removed but not its blob: an orphan under blobs/");
                    return Err(e);
                }
            }
            me.inner.retained.invalidate(&entry);
            Ok(found)
        })
    }

    /// Nothing to do: every write was acknowledged durable by S3.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn list(&self, after: Option<&[u8; 32]>, limit: usize) -> Result<Vec<Listed>, StoreError> {
        let me = self.clone();
        let prefix = self.key("content/");
        let start = after.map(|a| format!("{prefix}{}", hex::encode(a)));
        self.block(async move {
            let (c, b) = (&me.inner.client, &me.inner.bucket);
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut req = c
                    .list_objects_v2()
                    .bucket(b)
                    .prefix(&prefix)
                    .max_keys((limit - out.len()).clamp(1, 1000) as i32);
                req = match &token {
                    Some(t) => req.continuation_token(t),
                    None => req.set_start_after(start.clone()),
                };
                let page = req
                    .send()
                    .await
                    .map_err(|e| failed("ListObjectsV2", &prefix, e))?;
                for o in page.contents() {
                    let key = o.key().unwrap_or_default();
                    let Some(sha256) = key
                        .strip_prefix(prefix.as_str())
                        .and_then(|h| hex::decode(h).ok())
                        .and_then(|v| <[u8; 32]>::try_from(v).ok())
                    else {
                        continue; // not a content entry
                    };
                    let mut size = o.size().unwrap_or(0).max(0) as u64;
                    if o.size() == Some(MANIFEST_LEN) {
                        if let Some((_, true, s)) = Self::head(c, b, key).await? {
                            size = s;
                        }
                    }
                    let written_ms = o
                        .last_modified()
                        .and_then(|d| d.to_millis().ok())
                        .unwrap_or(0)
                        .max(0) as u64;
                    out.push(Listed {
                        sha256,
                        size,
                        written_ms,
                    });
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => return Ok(out),
                }
            }
        })
    }

    fn retain(&self, sha256: &[u8; 32], until: i64) -> Result<(), StoreError> {
        let me = self.clone();
        let sha256 = *sha256;
        self.block(async move {
            let Some(keys) = me.keys_of(&sha256).await? else {
                return Err(super::corrupt(&sha256, "no such content to retain"));
            };
            for k in keys {
                me.extend(k, until).await?;
            }
            Ok(())
        })
    }

    fn legal_hold(&self, sha256: &[u8; 32], on: bool) -> Result<(), StoreError> {
        let me = self.clone();
        let sha256 = *sha256;
        self.block(async move {
            let Some(keys) = me.keys_of(&sha256).await? else {
                return Ok(()); // nothing stored to hold
            };
            let status = match on {
                true => ObjectLockLegalHoldStatus::On,
                false => ObjectLockLegalHoldStatus::Off,
            };
            for k in keys {
                me.inner
                    .client
                    .put_object_legal_hold()
                    .bucket(&me.inner.bucket)
                    .key(&k)
                    .legal_hold(
                        ObjectLockLegalHold::builder()
                            .status(status.clone())
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| failed("PutObjectLegalHold", &k, e))?;
            }
            Ok(())
        })
    }
}
