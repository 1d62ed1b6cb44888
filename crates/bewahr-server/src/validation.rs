//! Signature and seal validation at ingest: the service side of
//! [`bewahr_core::signature`]. Runs the pure validator, fetches revocation data
//! (cached), applies the submitting system's policy and prepares what is
//! preserved with the version (detached signature, validation data, report).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::config::{self, OnOutcome, ValidationPolicy};
use bewahr_core::signature::{self, Context, Format, Indication, ValidationReport};
use bewahr_net::fetch::Fetcher;

/// Why the validator could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("validation.trust_anchors: {path}: {detail}")]
    Anchors { path: String, detail: String },
}

/// What validation produced for one submission.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub report: ValidationReport,
    /// The report's JSON, exactly as preserved and hashed.
    pub report_json: Vec<u8>,
    /// The ValidationData DER, as preserved and hashed.
    pub data_der: Vec<u8>,
}

/// What the policy says about a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    /// Refused: nothing is archived; the reason and the report go back to the submitter.
    Reject(String),
}

/// The validator of one archive.
#[derive(Clone)]
pub struct Validator {
    anchors: Arc<Vec<Certificate>>,
    fetcher: Fetcher,
    settings: Arc<config::Validation>,
}

/// Reads trust anchors from PEM bundles or folders of PEM/DER files.
pub fn load_anchors(paths: &[String]) -> Result<Vec<Certificate>, SetupError> {
    let mut out = vec![];
    for p in paths {
        let err = |detail: String| SetupError::Anchors {
            path: p.clone(),
            detail,
        };
        let path = Path::new(p);
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| err(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| ["pem", "crt", "cer", "der"].contains(&x))
                })
                .collect();
            v.sort();
            v
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            let bytes = std::fs::read(&f).map_err(|e| err(format!("{}: {e}", f.display())))?;
            out.extend(
                signature::parse_certificates(&bytes)
                    .map_err(|e| err(format!("{}: {e}", f.display())))?,
            );
        }
    }
    Ok(out)
}

impl Validator {
    pub fn new(settings: &config::Validation) -> Result<Self, SetupError> {
        Ok(Self::with_anchors(
            settings,
            load_anchors(&settings.trust_anchors)?,
        ))
    }

    pub fn with_anchors(settings: &config::Validation, anchors: Vec<Certificate>) -> Self {
        Validator {
            anchors: Arc::new(anchors),
            fetcher: Fetcher::new(
                Duration::from_millis(settings.fetch_timeout_ms),
                time::Duration::seconds(settings.revocation_max_age_secs),
            ),
            settings: Arc::new(settings.clone()),
        }
    }

    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    pub fn max_document_bytes(&self) -> u64 {
        self.settings.max_document_bytes
    }

    fn context(&self, at: OffsetDateTime) -> Context<'_> {
        Context {
            anchors: &self.anchors,
            at,
            poe: None,
            max_age: time::Duration::seconds(self.settings.revocation_max_age_secs),
            xml: Some(&bewahr_xmlsig::ENGINE),
        }
    }

    /// Validates a document (and a detached signature) as of `now`.
    /// `None`: the document is not signed (and no signature was given).
    pub async fn validate(
        &self,
        document: Arc<Vec<u8>>,
        signature: Option<Arc<Vec<u8>>>,
        now: OffsetDateTime,
    ) -> Option<Outcome> {
        let me = self.clone();
        let (doc, sig) = (document.clone(), signature.clone());
        let examined = tokio::task::spawn_blocking(move || {
            signature::examine(&doc, sig.as_deref().map(|s| s.as_slice()), &me.context(now))
        })
        .await
        .ok()?;
        if examined.format == Format::None && signature.is_none() {
            return None;
        }
        let queries = signature::queries(&examined);
        let fetched = self.fetcher.fetch(&queries, now).await;
        if !fetched.errors.is_empty() {
            tracing::info!(errors = ?fetched.errors, "revocation data could not all be fetched");
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let (mut report, data) = signature::conclude(examined, &fetched.data, &me.context(now));
            // why revocation data is missing, for the submitter and the auditor
            for e in &fetched.errors {
                report.findings.push(signature::Finding {
                    indication: Indication::Indeterminate,
                    sub_indication: Some(signature::SubIndication::TryLater),
                    message: format!("revocation data could not be fetched: {e}"),
                });
            }
            Some(Outcome {
                report_json: serde_json::to_vec_pretty(&report).unwrap_or_default(),
                data_der: data.to_der(),
                report,
            })
        })
        .await
        .ok()?
    }

    /// A signature with the data it is over (`None`: it carries what it
    /// signs), as the validator takes them.
    async fn validate_over(
        &self,
        data: Option<Arc<Vec<u8>>>,
        signature: Arc<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Option<Outcome> {
        match data {
            Some(d) => self.validate(d, Some(signature), now).await,
            None => self.validate(signature, None, now).await,
        }
    }

    /// An XML signature taken from a package (an XAIP credential): in
    /// place first; if it fails there, as a document of its own (a
    /// signature made elsewhere with inclusive C14N does not verify inside
    /// the package, whose namespaces C14N then takes in). Returns the
    /// outcome and the form of the signature it is about.
    pub async fn validate_pasted(
        &self,
        data: Option<Arc<Vec<u8>>>,
        in_place: Vec<u8>,
        standalone: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> (Option<Outcome>, Vec<u8>) {
        let in_place = Arc::new(in_place);
        let first = self
            .validate_over(data.clone(), in_place.clone(), now)
            .await;
        let failed = first
            .as_ref()
            .is_some_and(|o| o.report.indication == Some(Indication::TotalFailed));
        if let (true, Some(alone)) = (failed, standalone) {
            let alone = Arc::new(alone);
            if let Some(mut o) = self.validate_over(data, alone.clone(), now).await {
                if o.report.indication != Some(Indication::TotalFailed) {
                    o.report.findings.push(signature::Finding {
                        indication: Indication::TotalPassed,
                        sub_indication: None,
                        message: "validated as a document of its own (its exclusive canonical form: each namespace declared where it is used): in place, the package's namespaces change its canonical form and it does not verify there".into(),
                    });
                    o.report_json = serde_json::to_vec_pretty(&o.report).unwrap_or_default();
                    return (Some(o), Arc::unwrap_or_clone(alone));
                }
            }
        }
        (first, Arc::unwrap_or_clone(in_place))
    }

    /// The policy of a submitting system (or the default).
    pub fn policy(&self, system: Option<&str>) -> &ValidationPolicy {
        system
            .and_then(|s| self.settings.systems.get(s))
            .unwrap_or(&self.settings.policy)
    }

    /// What the policy does with a result (`None`: unsigned).
    pub fn decide(&self, outcome: Option<&Outcome>, system: Option<&str>) -> Decision {
        let p = self.policy(system);
        let Some(o) = outcome else {
            return if p.require_signature {
                Decision::Reject(
                    "the document carries no signature or seal, and this system's policy requires one"
                        .into(),
                )
            } else {
                Decision::Accept
            };
        };
        match o.report.indication {
            Some(Indication::TotalFailed) if p.on_failed == OnOutcome::Reject => {
                Decision::Reject(format!(
                    "the signature is not valid ({}); this system's policy refuses it",
                    o.report.short()
                ))
            }
            Some(Indication::Indeterminate) if p.on_indeterminate == OnOutcome::Reject => {
                Decision::Reject(format!(
                    "the signature could not be confirmed ({}); this system's policy refuses it",
                    o.report.short()
                ))
            }
            None if p.require_signature => Decision::Reject(
                "no signature or seal was found, and this system's policy requires one".into(),
            ),
            _ => Decision::Accept,
        }
    }
}

/// Whether the first bytes could start a signed document (CMS, PEM, PDF,
/// ZIP, XML): everything else is not examined at all.
pub fn may_be_signed(head: &[u8]) -> bool {
    let h = &head[..head.len().min(1024)];
    h.first() == Some(&0x30)
        || h.starts_with(b"PK\x03\x04")
        || h.windows(5).any(|w| w == b"%PDF-")
        || h.starts_with(b"-----BEGIN")
        || h.iter()
            .find(|b| !b" \t\r\n\xef\xbb\xbf".contains(b))
            .is_some_and(|b| *b == b'<')
}
