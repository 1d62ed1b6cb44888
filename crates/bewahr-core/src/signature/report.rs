//! The signature validation report, in the terms of ETSI EN 319 102-1
//! (clause 5.1.3: main indication and sub-indication per signature).

use serde::{Deserialize, Serialize};

/// Main indication of a signature's validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Indication {
    TotalPassed,
    Indeterminate,
    TotalFailed,
}

/// Sub-indications of EN 319 102-1 table 5 that this validator gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubIndication {
    FormatFailure,
    HashFailure,
    SigCryptoFailure,
    Revoked,
    Expired,
    NotYetValid,
    SigConstraintsFailure,
    ChainConstraintsFailure,
    CertificateChainGeneralFailure,
    CryptoConstraintsFailure,
    NoSigningCertificateFound,
    NoCertificateChainFound,
    RevokedNoPoe,
    OutOfBoundsNoPoe,
    OutOfBoundsNotRevoked,
    TryLater,
    SignedDataNotFound,
}

impl std::fmt::Display for Indication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Indication::TotalPassed => "TOTAL_PASSED",
            Indication::Indeterminate => "INDETERMINATE",
            Indication::TotalFailed => "TOTAL_FAILED",
        })
    }
}

impl std::fmt::Display for SubIndication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = serde_json::to_value(self).ok();
        f.write_str(v.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

/// The container or encoding the document came in, recognised from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// No signature found: an unsigned document.
    None,
    /// CMS / CAdES SignedData without content, with the document beside it.
    CadesDetached,
    /// CMS / CAdES SignedData with the document inside (`.p7m`).
    CadesEnveloping,
    /// A PDF with signature dictionaries.
    Pades,
    AsicS,
    AsicE,
    /// XML with an XML-DSig / XAdES signature: recognised, not validated yet.
    Xades,
}

/// One check and its outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    pub indication: Indication,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    pub message: String,
}

impl Finding {
    pub fn new(
        indication: Indication,
        sub_indication: Option<SubIndication>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            indication,
            sub_indication,
            message: message.into(),
        }
    }
}

/// What the certificate says about itself (QcStatements, ETSI EN 319 412-5).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Qualification {
    /// QcCompliance: an EU qualified certificate.
    pub qualified: bool,
    /// QcSSCD: the key is on a qualified signature/seal creation device.
    pub qscd: bool,
    /// `seal` (QcType eseal), `signature` (esign, or QcCompliance without a
    /// QcType), `website` (eweb) or `unknown`.
    pub kind: String,
}

/// The validation of one signature (or time-stamp or evidence record in a container).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignatureReport {
    /// Where it is: `CMS signer 1`, `PDF signature 1 (Sig1)`, `META-INF/signature.p7s`.
    pub id: String,
    pub indication: Indication,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_certificate_sha256: Option<String>,
    /// The signing-time attribute (claimed, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    /// genTime of a valid signature time-stamp (a proof of existence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_timestamp: Option<String>,
    /// The time the certificates were judged at (the best signature time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
    /// Subjects from the signer up to the trust anchor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// For PDF signatures: whether the signed byte ranges end at the end of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covers_whole_document: Option<bool>,
    pub findings: Vec<Finding>,
}

impl SignatureReport {
    pub fn new(id: impl Into<String>) -> Self {
        SignatureReport {
            id: id.into(),
            indication: Indication::TotalPassed,
            sub_indication: None,
            signer: None,
            signer_certificate_sha256: None,
            signing_time: None,
            signature_timestamp: None,
            validated_at: None,
            signature_algorithm: None,
            qualification: None,
            chain: vec![],
            covers_whole_document: None,
            findings: vec![],
        }
    }

    /// Records a finding; the report's indication becomes the worst seen
    /// (the first sub-indication of that worst indication stays).
    pub fn add(&mut self, i: Indication, s: Option<SubIndication>, message: impl Into<String>) {
        if i > self.indication {
            self.indication = i;
            self.sub_indication = s;
        }
        self.findings.push(Finding {
            indication: i,
            sub_indication: s,
            message: message.into(),
        });
    }
}

/// The validation report of one document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ValidationReport {
    pub format: Format,
    /// The worst of the signatures' indications; `None` for an unsigned document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indication: Option<Indication>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    pub summary: String,
    /// When the validation ran (RFC 3339).
    pub validation_time: String,
    /// The proof of existence the validation used (an evidence record's
    /// first time-stamp), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_of_existence: Option<String>,
    pub signatures: Vec<SignatureReport>,
    /// Findings about the document as a whole (container structure).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

impl ValidationReport {
    /// Sets the overall result from the signatures: the worst one decides.
    pub fn conclude(&mut self) {
        let mut worst: Option<&SignatureReport> = None;
        for s in &self.signatures {
            if worst.is_none_or(|w| s.indication > w.indication) {
                worst = Some(s);
            }
        }
        let doc_worst = self.findings.iter().max_by_key(|f| f.indication);
        match (worst, doc_worst) {
            (_, Some(f)) if worst.is_none_or(|w| f.indication > w.indication) => {
                self.indication = Some(f.indication);
                self.sub_indication = f.sub_indication;
                self.summary = f.message.clone();
            }
            (Some(w), _) => {
                self.indication = Some(w.indication);
                self.sub_indication = w.sub_indication;
                let n = self.signatures.len();
                self.summary = match w.indication {
                    Indication::TotalPassed => format!(
                        "{} signature{} valid",
                        n,
                        if n == 1 { " is" } else { "s are" }
                    ),
                    _ => format!(
                        "{}: {}",
                        w.id,
                        w.findings
                            .iter()
                            .find(|f| f.indication == w.indication)
                            .map(|f| f.message.as_str())
                            .unwrap_or("")
                    ),
                };
            }
            (None, _) => {
                self.indication = None;
                self.sub_indication = None;
                self.summary = "no signature or seal found: the document is not signed".into();
            }
        }
    }

    /// One line for logs and the submission response.
    pub fn short(&self) -> String {
        match (self.indication, self.sub_indication) {
            (Some(i), Some(s)) => format!("{i}/{s}: {}", self.summary),
            (Some(i), None) => format!("{i}: {}", self.summary),
            _ => self.summary.clone(),
        }
    }

    /// The report as text, for `bewahr verify`.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "signature validation ({:?}): {}\n",
            self.format,
            self.short()
        );
        for s in &self.signatures {
            out.push_str(&format!(
                "  {}: {}{}\n",
                s.id,
                s.indication,
                s.sub_indication
                    .map(|x| format!("/{x}"))
                    .unwrap_or_default()
            ));
            if let Some(n) = &s.signer {
                out.push_str(&format!("    signer: {n}\n"));
            }
            if let Some(q) = &s.qualification {
                out.push_str(&format!(
                    "    qualified: {}, kind: {}, QSCD: {}\n",
                    q.qualified, q.kind, q.qscd
                ));
            }
            for f in &s.findings {
                out.push_str(&format!("    - {}: {}\n", f.indication, f.message));
            }
        }
        for f in &self.findings {
            out.push_str(&format!("  - {}: {}\n", f.indication, f.message));
        }
        out
    }
}
