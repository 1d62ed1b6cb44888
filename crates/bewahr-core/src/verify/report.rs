//! The verifier's report, named as in ETSI EN 319 102-1.

use serde::Serialize;

/// Main indication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Indication {
    Passed,
    Indeterminate,
    Failed,
}

/// Sub-indication of a failure or an indeterminate result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubIndication {
    FormatFailure,
    HashFailure,
    SigCryptoFailure,
    Expired,
    NotYetValid,
    NoPoe,
    Revoked,
    RevokedNoPoe,
    TryLater,
    NoCertificateChainFound,
    SigConstraintsFailure,
    CryptoConstraintsFailureNoPoe,
    OutOfBoundsNoPoe,
    SignedDataNotFound,
}

impl std::fmt::Display for Indication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            &serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        )
    }
}

impl std::fmt::Display for SubIndication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            &serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        )
    }
}

/// One finding: a result with the reason for it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub indication: Indication,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    pub message: String,
}

/// What was found about one archive time-stamp.
#[derive(Clone, Debug, Serialize)]
pub struct AtsReport {
    /// 1-based chain number.
    pub chain: usize,
    /// 1-based position in the chain.
    pub index: usize,
    pub covers: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gen_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsa: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_tree: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_via: Option<String>,
    /// The certificates of the TSA's path, and where each came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<super::tsa::CertificateUse>,
    /// The revocation data used for each of them, and where it came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revocation: Vec<super::tsa::RevocationUse>,
    pub indication: Indication,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    pub findings: Vec<Finding>,
}

/// The whole result of verifying one evidence record.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub indication: Indication,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    pub summary: String,
    pub verification_time: String,
    pub data_checked: bool,
    pub chains: usize,
    pub archive_time_stamps: Vec<AtsReport>,
    pub findings: Vec<Finding>,
}

impl AtsReport {
    pub(crate) fn add(
        &mut self,
        indication: Indication,
        sub: Option<SubIndication>,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            indication,
            sub_indication: sub,
            message: message.into(),
        });
        if indication > self.indication {
            self.indication = indication;
            self.sub_indication = sub;
        }
    }
}

impl Report {
    /// The report on a record that could not be read at all.
    pub fn format_failure(message: String, at: time::OffsetDateTime) -> Report {
        Report {
            indication: Indication::Failed,
            sub_indication: Some(SubIndication::FormatFailure),
            summary: message.clone(),
            verification_time: crate::tsp::trust::rfc3339(at),
            data_checked: false,
            chains: 0,
            archive_time_stamps: vec![],
            findings: vec![Finding {
                indication: Indication::Failed,
                sub_indication: Some(SubIndication::FormatFailure),
                message,
            }],
        }
    }

    /// Exit code of `bewahr verify`: 0 passed, 1 failed, 2 indeterminate.
    pub fn exit_code(&self) -> i32 {
        match self.indication {
            Indication::Passed => 0,
            Indication::Failed => 1,
            Indication::Indeterminate => 2,
        }
    }

    /// Human-readable text.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Evidence record: {} chain(s), {} archive time-stamp(s)",
            self.chains,
            self.archive_time_stamps.len()
        );
        let _ = writeln!(s, "Verification time: {}", self.verification_time);
        let _ = writeln!(
            s,
            "Data: {}",
            if self.data_checked {
                "checked"
            } else {
                "NOT checked (no --data or --digest given)"
            }
        );
        for f in &self.findings {
            let _ = writeln!(s, "  {}", fmt_finding(f));
        }
        for a in &self.archive_time_stamps {
            let _ = writeln!(
                s,
                "Archive time-stamp {}.{} ({}): {}{}",
                a.chain,
                a.index,
                a.covers,
                a.indication,
                a.sub_indication
                    .map(|x| format!(" / {x}"))
                    .unwrap_or_default()
            );
            for (k, v) in [
                ("genTime", &a.gen_time),
                ("TSA", &a.tsa),
                ("serial", &a.serial_number),
                ("policy", &a.policy),
                ("hash", &a.digest_algorithm),
                ("signature", &a.signature_algorithm),
                ("hash tree", &a.hash_tree),
                ("trusted via", &a.trusted_via),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(s, "    {k:<12} {v}");
                }
            }
            for c in &a.certificates {
                let _ = writeln!(
                    s,
                    "    {:<12} {} {} (serial {}, from {})",
                    "certificate", c.role, c.subject, c.serial_number, c.source
                );
            }
            for u in &a.revocation {
                let what = match (u.kind, u.source) {
                    (Some(k), Some(src)) => format!(
                        "{k} {} of {}, from {src}",
                        u.status,
                        u.this_update.as_deref().unwrap_or("?")
                    ),
                    _ => u.status.to_string(),
                };
                let _ = writeln!(s, "    {:<12} {}: {what}", "revocation", u.subject);
            }
            for f in &a.findings {
                let _ = writeln!(s, "    {}", fmt_finding(f));
            }
        }
        let _ = writeln!(
            s,
            "Result: {}{}: {}",
            self.indication,
            self.sub_indication
                .map(|x| format!(" / {x}"))
                .unwrap_or_default(),
            self.summary
        );
        s
    }
}

fn fmt_finding(f: &Finding) -> String {
    let tag = match f.indication {
        Indication::Passed => "ok  ".to_string(),
        i => format!(
            "{i}{}",
            f.sub_indication
                .map(|x| format!(" / {x}"))
                .unwrap_or_default()
        ),
    };
    format!("[{tag}] {}", f.message)
}
