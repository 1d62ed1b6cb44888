//! Ingest: validating what a submitter sends, streaming the document into
//! the store and recording the version (durably) in the catalog.

use time::{Date, OffsetDateTime};

use crate::catalog::{Accepted, Metadata, NewVersion, WriteError, Writer};
use crate::seal::{Clock, Sealer};
use crate::store::{Store, StoreError, Upload};
use bewahr_core::alg::DigestAlgorithm;

/// Why a submission was refused; nothing of it was recorded.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("the document is empty")]
    Empty,
    #[error("the document is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("unknown archive object {0}")]
    UnknownAoid(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Write(WriteError),
    /// The submitting system's validation policy refused the signature.
    #[error("{reason}")]
    Refused {
        reason: String,
        report: Option<Box<bewahr_core::signature::ValidationReport>>,
    },
}

fn invalid(field: &str, message: impl Into<String>) -> IngestError {
    IngestError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

const MAX_TEXT: usize = 1024;
const MAX_META: usize = 64;

fn check_text(field: &str, v: &Option<String>) -> Result<(), IngestError> {
    if let Some(s) = v {
        if s.is_empty() || s.len() > MAX_TEXT {
            return Err(invalid(field, format!("must be 1 to {MAX_TEXT} bytes")));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(invalid(field, "must not contain control characters"));
        }
    }
    Ok(())
}

/// Checks metadata against the rules (and that the retention date is not before `today`).
pub fn validate(m: &Metadata, today: Date) -> Result<(), IngestError> {
    check_text("system", &m.system)?;
    check_text("file_ref", &m.file_ref)?;
    check_text("title", &m.title)?;
    if let Some(r) = &m.retention_until {
        let d = Date::parse(r, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| invalid("retention_until", format!("{r:?} is not a date YYYY-MM-DD")))?;
        if d < today {
            return Err(invalid(
                "retention_until",
                format!("{r} is in the past: the retention period is already over"),
            ));
        }
    }
    if m.meta.len() > MAX_META {
        return Err(invalid("meta", format!("at most {MAX_META} pairs")));
    }
    for (k, v) in &m.meta {
        if k.is_empty()
            || k.len() > 64
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(invalid(
                &format!("meta.{k}"),
                "keys are 1 to 64 of A-Z a-z 0-9 _ . -",
            ));
        }
        if v.len() > 4096 || v.chars().any(|c| c.is_control()) {
            return Err(invalid(
                &format!("meta.{k}"),
                "values are at most 4096 bytes, without control characters",
            ));
        }
    }
    Ok(())
}

/// Metadata from query parameters: `system`, `file_ref`, `title`,
/// `retention_until`, and `meta.KEY=VALUE`.
pub fn metadata_from_query(params: &[(String, String)]) -> Result<Metadata, IngestError> {
    let mut m = Metadata::default();
    for (k, v) in params {
        let slot = match k.as_str() {
            "system" => &mut m.system,
            "file_ref" => &mut m.file_ref,
            "title" => &mut m.title,
            "retention_until" => &mut m.retention_until,
            _ => {
                if let Some(key) = k.strip_prefix("meta.") {
                    if m.meta.insert(key.to_string(), v.clone()).is_some() {
                        return Err(invalid(k, "given twice"));
                    }
                    continue;
                }
                return Err(invalid(
                    k,
                    "unknown parameter (system, file_ref, title, retention_until, meta.KEY)",
                ));
            }
        };
        if slot.replace(v.clone()).is_some() {
            return Err(invalid(k, "given twice"));
        }
    }
    Ok(m)
}

/// A version the archive accepted.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub accepted: Accepted,
    pub sha256: [u8; 32],
    pub size: u64,
    /// The signature validation, if the document was signed.
    pub validation: Option<bewahr_core::signature::ValidationReport>,
}

/// What comes with a document beyond its bytes and metadata.
#[derive(Default)]
pub struct Extras {
    /// A detached signature submitted beside the document.
    pub signature: Option<Vec<u8>>,
    /// Further objects of the version, members of its data-object group
    /// and stored content-addressed (deduplicated) beside the document:
    /// an XAIP's protected objects, as TR-ESOR-ERS hashes them.
    pub parts: Vec<Vec<u8>>,
    /// Signature validations the caller made (an XAIP's embedded
    /// signatures, each with its signature's bytes), preserved in the
    /// version's group like the document's own.
    pub validations: Vec<(Option<Vec<u8>>, crate::validation::Outcome)>,
    /// Whether ingest examines the document itself for a signature (not
    /// for an XAIP: its signatures are its credentials).
    pub examine: bool,
    /// The version the new one must follow: when the object's latest
    /// version is another by the time the catalog records it, nothing is
    /// recorded ([`WriteError::NotLatest`]). A DXAIP names the version it
    /// updates; two updates of one version cannot both succeed.
    pub after: Option<i64>,
    /// For a new archive object: the AOID its submitter chose (TR-ESOR-E:
    /// `xaip:AOID` as an optional input); `None`: the archive assigns one.
    /// An AOID in use, or once used, is refused ([`WriteError::ExistingAoid`]).
    pub aoid: Option<String>,
    /// The values of a hash-only list (a TS 119 512 DigestList, stored as
    /// the version's document in the form [`DIGEST_LIST_MEDIA_TYPE`]
    /// names): each is a data object of the version's group (hashed with
    /// the tree's algorithm, after everything else), so its record proves
    /// each value, and hash-tree renewal rehashes them from the stored list.
    /// The archive treats the values as data (TS 119 512 F.2.5, NOTE): it
    /// cannot know what they are digests of.
    pub given: Vec<Vec<u8>>,
}

impl Extras {
    /// A plain document, examined for a signature (and `signature` beside it).
    pub fn document(signature: Option<Vec<u8>>) -> Self {
        Extras {
            signature,
            examine: true,
            ..Default::default()
        }
    }
}

/// The media type of a hash-only list as the archive stores it: TS 119
/// 512's XML `pres:DigestList` (see [`Extras::given`]). Hash-tree renewal
/// reads a version of this type to rehash its values.
pub const DIGEST_LIST_MEDIA_TYPE: &str = "application/vnd.etsi.19512.digestlist+xml";

/// The ingest pipeline.
#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub writer: Writer,
    pub sealer: Sealer,
    pub algorithm: DigestAlgorithm,
    pub clock: Clock,
    pub max_body: u64,
    /// Signature and seal validation; `None`: documents are archived unexamined.
    pub validator: Option<crate::validation::Validator>,
}

impl Ingest {
    /// Starts streaming a document into the store.
    pub fn begin(&self) -> Upload {
        self.store.upload().with_digest(self.algorithm)
    }

    pub fn today(&self) -> Date {
        (self.clock)().date()
    }

    /// Stores a validation's signature (if given), validation data and
    /// report as members of the version's group; the catalog's row.
    fn preserve(
        &self,
        stored_members: &mut Vec<([u8; 32], Vec<u8>)>,
        pins: &mut crate::store::Pins,
        signature: Option<&[u8]>,
        o: &crate::validation::Outcome,
    ) -> Result<Box<crate::catalog::ValidationRow>, IngestError> {
        let mut put = |bytes: &[u8]| -> Result<[u8; 32], IngestError> {
            let s = self.store.put_content_pinned(bytes, pins)?;
            stored_members.push((s.sha256, self.algorithm.digest(bytes)));
            Ok(s.sha256)
        };
        let signature_sha256 = match signature {
            Some(s) => Some(put(s)?),
            None => None,
        };
        let data_sha256 = put(&o.data_der)?;
        let report_sha256 = put(&o.report_json)?;
        Ok(Box::new(crate::catalog::ValidationRow {
            format: serde_json::to_value(o.report.format)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            indication: o
                .report
                .indication
                .map(|i| i.to_string())
                .unwrap_or_default(),
            sub_indication: o.report.sub_indication.map(|s| s.to_string()),
            summary: o.report.summary.clone(),
            validated_at_ms: ((self.clock)().unix_timestamp_nanos() / 1_000_000) as i64,
            decision: "accepted".into(),
            signature_sha256,
            data_sha256,
            report_sha256,
        }))
    }

    /// Finishes the upload and records the version; durable when it returns `Ok`.
    /// `signature` is a detached signature submitted beside the document.
    pub async fn commit(
        &self,
        upload: Upload,
        aoid: Option<String>,
        tenant: Option<String>,
        metadata: Metadata,
        media_type: String,
        extras: Extras,
    ) -> Result<Receipt, IngestError> {
        // before any content is written or found in the store (see NewVersion::sweep_gen)
        let sweep_gen = self.writer.sweep_generation();
        let Extras {
            signature,
            parts,
            validations,
            examine,
            after,
            aoid: requested_aoid,
            given,
        } = extras;
        if (media_type == DIGEST_LIST_MEDIA_TYPE) == given.is_empty() {
            upload.abort();
            return Err(invalid(
                "media_type",
                format!("{DIGEST_LIST_MEDIA_TYPE} is the archive's form of a hash-only list and is given to nothing else"),
            ));
        }
        if upload.size() == 0 {
            upload.abort();
            return Err(IngestError::Empty);
        }
        if let Err(e) = validate(&metadata, self.today()) {
            upload.abort();
            return Err(e);
        }
        let examine = self.validator.as_ref().filter(|v| {
            examine
                && (signature.is_some() || crate::validation::may_be_signed(upload.head()))
                && upload.size() <= v.max_document_bytes()
        });
        let inline = examine.and(upload.inline().map(|b| b.to_vec()));
        // the digests stay pinned (safe from the sweeper) until the writer answered
        let crate::store::Finished {
            stored,
            extra,
            mut pins,
        } = if upload.inline().is_some_and(|b| b.len() <= 64 << 10) {
            // a small document: one small memtable write, not worth a thread hand-off
            upload.finish()?
        } else {
            tokio::task::spawn_blocking(move || upload.finish())
                .await
                .map_err(|e| IngestError::Write(WriteError::Task(e.to_string())))??
        };
        // preserved items: SHA-256 (store key) and digest in the tree's algorithm
        let mut stored_members: Vec<([u8; 32], Vec<u8>)> = vec![];
        // the version's other objects (an XAIP's protected objects) first
        for part in &parts {
            let s = self.store.put_content_pinned(part, &mut pins)?;
            stored_members.push((s.sha256, self.algorithm.digest(part)));
        }
        drop(parts);
        let mut validation = None;
        let mut report = None;
        // validations the caller made (an XAIP's signatures), preserved
        // like the document's own; the catalog's row is the worst of them
        let mut worst: Option<(u8, Box<crate::catalog::ValidationRow>, _)> = None;
        for (sig, o) in validations {
            let row = self.preserve(&mut stored_members, &mut pins, sig.as_deref(), &o)?;
            let rank = match o.report.indication {
                Some(bewahr_core::signature::Indication::TotalFailed) => 3,
                Some(bewahr_core::signature::Indication::Indeterminate) => 2,
                Some(_) => 1,
                None => 0,
            };
            if worst.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                worst = Some((rank, row, o.report));
            }
        }
        if let Some((_, row, r)) = worst {
            validation = Some(row);
            report = Some(r);
        }
        if let Some(v) = &self.validator {
            let outcome = match examine {
                None => None,
                Some(_) => {
                    let doc = match inline {
                        Some(d) => d,
                        None => {
                            let (store, sha) = (self.store.clone(), stored.sha256);
                            tokio::task::spawn_blocking(move || store.read_all(&sha))
                                .await
                                .map_err(|e| IngestError::Write(WriteError::Task(e.to_string())))??
                                .unwrap_or_default()
                        }
                    };
                    v.validate(
                        std::sync::Arc::new(doc),
                        signature.clone().map(std::sync::Arc::new),
                        (self.clock)(),
                    )
                    .await
                }
            };
            if let crate::validation::Decision::Reject(reason) =
                v.decide(outcome.as_ref(), metadata.system.as_deref())
            {
                // the content stays unreferenced (invisible) in the store; nothing is recorded
                return Err(IngestError::Refused {
                    reason,
                    report: outcome.map(|o| Box::new(o.report)),
                });
            }
            if let Some(o) = outcome {
                validation = Some(self.preserve(
                    &mut stored_members,
                    &mut pins,
                    signature.as_deref(),
                    &o,
                )?);
                report = Some(o.report);
            }
        }
        let leaf = extra.unwrap_or_else(|| stored.sha256.to_vec());
        // the salt keeps sibling hashes in shared trees from telling anything about this document
        let mut salt = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).map_err(
            |_| {
                IngestError::Write(WriteError::Task(
                    "the system's random source failed (salt)".into(),
                ))
            },
        )?;
        let salt_hash = self.algorithm.digest(&salt);
        let mut members = vec![leaf, salt_hash];
        members.extend(stored_members.iter().map(|(_, h)| h.clone()));
        members.extend(given.iter().map(|v| self.algorithm.digest(v)));
        let now: OffsetDateTime = (self.clock)();
        let accepted = self
            .writer
            .ingest(NewVersion {
                aoid,
                tenant,
                metadata,
                media_type,
                size: stored.size,
                sha256: stored.sha256,
                members,
                salt: Some(salt),
                stored_members: stored_members.iter().map(|(s, _)| *s).collect(),
                validation,
                submitted_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
                after,
                requested_aoid,
                sweep_gen,
            })
            .await
            .map_err(|e| match e {
                WriteError::UnknownAoid(a) => IngestError::UnknownAoid(a),
                e => IngestError::Write(e),
            })?;
        drop(pins);
        self.sealer.submitted(stored.size);
        metrics::counter!("bewahr_objects_total").increment(1);
        metrics::counter!("bewahr_bytes_total").increment(stored.size);
        Ok(Receipt {
            accepted,
            sha256: stored.sha256,
            size: stored.size,
            validation: report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn metadata_rules() {
        let today = date!(2026 - 11 - 23);
        let q = |pairs: &[(&str, &str)]| {
            metadata_from_query(
                &pairs
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let m = q(&[
            ("file_ref", "AZ 1-2/3"),
            ("retention_until", "2056-12-31"),
            ("meta.kind", "Bescheid"),
        ])
        .unwrap();
        assert!(validate(&m, today).is_ok());
        assert_eq!(m.meta["kind"], "Bescheid");
        assert!(q(&[("colour", "red")]).is_err());
        assert!(q(&[("title", "a"), ("title", "b")]).is_err());
        for bad in [
            ("retention_until", "2020-01-01"),
            ("retention_until", "31.12.2056"),
            ("meta.a b", "x"),
            ("title", ""),
        ] {
            let m = q(&[bad]);
            assert!(
                m.is_err() || validate(&m.unwrap(), today).is_err(),
                "{bad:?}"
            );
        }
    }
}
