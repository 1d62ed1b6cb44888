//! What the catalog holds, as the API shows it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metadata a submitter gives with a document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The submitting eAkte system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The file reference (Aktenzeichen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Retention date, YYYY-MM-DD, not in the past.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_until: Option<String>,
    /// Free key/value pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// A version to record.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// `None`: a new archive object (version 1); `Some`: a new version of it.
    pub aoid: Option<String>,
    /// The tenant a new archive object belongs to.
    pub tenant: Option<String>,
    pub metadata: Metadata,
    pub media_type: String,
    pub size: u64,
    pub sha256: [u8; 32],
    /// The leaf's data-object group, hashes in the tree's algorithm.
    pub members: Vec<Vec<u8>>,
    /// The secret salt whose hash is the group's second member.
    pub salt: Option<Vec<u8>>,
    /// SHA-256 of the stored items that follow the salt in the group (in order).
    pub stored_members: Vec<[u8; 32]>,
    /// The signature validation, if the document was signed.
    pub validation: Option<Box<ValidationRow>>,
    pub submitted_at_ms: i64,
    /// For a new version: the version it must follow (`None`: whichever is
    /// the latest when it is recorded).
    pub after: Option<i64>,
    /// For a new archive object: the AOID its submitter chose.
    pub requested_aoid: Option<String>,
    /// [`super::Writer::sweep_generation`] before the version's content
    /// was written: a removal by the sweeper after it refuses the version.
    pub sweep_gen: i64,
}

/// What the catalog keeps of a signature validation (the report itself is in the store).
#[derive(Clone, Debug)]
pub struct ValidationRow {
    pub format: String,
    pub indication: String,
    pub sub_indication: Option<String>,
    pub summary: String,
    pub validated_at_ms: i64,
    pub decision: String,
    pub signature_sha256: Option<[u8; 32]>,
    pub data_sha256: [u8; 32],
    pub report_sha256: [u8; 32],
}

/// A recorded version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub aoid: String,
    pub version: i64,
    pub seq: i64,
}

/// Preservation state of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Stored durably, waiting for its batch's time-stamp.
    Pending,
    /// Covered by a sealed hash tree and its time-stamp.
    Preserved,
}

/// One version of an archive object.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub state: State,
    /// RFC 3339.
    pub submitted_at: String,
    pub media_type: String,
    pub size: u64,
    pub digests: BTreeMap<String, String>,
    #[serde(flatten)]
    pub metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchView>,
}

/// The batch that sealed a version.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    pub id: i64,
    pub gen_time: String,
    pub tsa: String,
    pub digest_algorithm: String,
    pub leaves: i64,
}

/// An archive object with its versions.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectView {
    pub aoid: String,
    pub created_at: String,
    pub versions: Vec<VersionView>,
}

/// Where a version is, for content and evidence.
#[derive(Clone, Debug)]
pub struct Location {
    pub seq: i64,
    pub version: i64,
    pub batch_id: Option<i64>,
    pub sha256: [u8; 32],
    pub media_type: String,
    pub size: u64,
    pub members: Vec<u8>,
}

/// A sealed batch.
#[derive(Clone, Debug)]
pub struct Batch {
    pub id: i64,
    pub sealed_at_ms: i64,
    pub digest_algorithm: String,
    pub leaves: i64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub root: Vec<u8>,
    pub tsa: String,
    pub gen_time_ms: i64,
    pub token: Vec<u8>,
    /// The head of the audit chain sealed as leaf 0 (key 0), if any.
    pub audit_head: Option<(i64, [u8; 32])>,
}

/// A version waiting to be sealed.
#[derive(Clone, Debug)]
pub struct Pending {
    pub seq: i64,
    pub members: Vec<u8>,
}

pub fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
