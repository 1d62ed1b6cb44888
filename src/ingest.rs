//! Ingest: validating what a submitter sends, streaming the document into
//! the store and recording the version (durably) in the catalog.

use time::{Date, OffsetDateTime};

use crate::alg::DigestAlgorithm;
use crate::catalog::{Accepted, Metadata, NewVersion, WriteError, Writer};
use crate::seal::{Clock, Sealer};
use crate::store::{Store, StoreError, Upload};

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
}

/// The ingest pipeline.
#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub writer: Writer,
    pub sealer: Sealer,
    pub algorithm: DigestAlgorithm,
    pub clock: Clock,
    pub max_body: u64,
}

impl Ingest {
    /// Starts streaming a document into the store.
    pub fn begin(&self) -> Upload {
        self.store.upload().with_digest(self.algorithm)
    }

    pub fn today(&self) -> Date {
        (self.clock)().date()
    }

    /// Finishes the upload and records the version; durable when it returns `Ok`.
    pub async fn commit(
        &self,
        upload: Upload,
        aoid: Option<String>,
        tenant: Option<String>,
        metadata: Metadata,
        media_type: String,
    ) -> Result<Receipt, IngestError> {
        if upload.size() == 0 {
            upload.abort();
            return Err(IngestError::Empty);
        }
        if let Err(e) = validate(&metadata, self.today()) {
            upload.abort();
            return Err(e);
        }
        let (stored, extra) = tokio::task::spawn_blocking(move || upload.finish())
            .await
            .map_err(|e| IngestError::Write(WriteError::Store(e.to_string())))??;
        let leaf = extra.unwrap_or_else(|| stored.sha256.to_vec());
        // the salt keeps sibling hashes in shared trees from telling anything about this document
        let mut salt = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).map_err(
            |_| IngestError::Write(WriteError::Store("no randomness for the salt".into())),
        )?;
        let salt_hash = self.algorithm.digest(&salt);
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
                members: vec![leaf, salt_hash],
                salt: Some(salt),
                submitted_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
            })
            .await
            .map_err(|e| match e {
                WriteError::UnknownAoid(a) => IngestError::UnknownAoid(a),
                e => IngestError::Write(e),
            })?;
        self.sealer.submitted();
        metrics::counter!("bewahr_objects_total").increment(1);
        metrics::counter!("bewahr_bytes_total").increment(stored.size);
        Ok(Receipt {
            accepted,
            sha256: stored.sha256,
            size: stored.size,
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
