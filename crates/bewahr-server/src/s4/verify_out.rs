//! Verify (TR-ESOR-E 1.3, `dss:VerifyRequest`): a package (XAIP or DXAIP)
//! with what it carries and an evidence record given beside it, or a
//! signed document; the verification report of TR-ESOR-VR 1.3 in the
//! `dss:OptionalOutputs` when `vr:ReturnVerificationReport` asks for it.

use super::codes::{Minor, Outcome};
use super::message::{SignatureInput, VerifyCall};
use super::respond::esc;
use super::{outcome_of, Ran};
use crate::access::Principal;
use crate::api::AppState;
use crate::service::{DetachedRecord, Judgement, Operation, PackageFault, PackageVerdict, Verdict};

use crate::service::BESIDE;

const VR_NS: &str = "urn:oasis:names:tc:dss-x:1.0:profiles:verificationreport:schema#";
const ESORVR_NS: &str = "http://www.bsi.bund.de/tr-esor/vr";

/// Whether `bytes` is an XML document whose root is `XAIP` or `DXAIP`
/// (of any prefix): the first start tag after the prolog.
pub(crate) fn is_package(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            match r.find("?>") {
                Some(i) => rest = &r[i + 2..],
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix("<!--") {
            match r.find("-->") {
                Some(i) => rest = &r[i + 3..],
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix('<') {
            let name: String = r
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            let local = name.rsplit(':').next().unwrap_or_default();
            return local == "XAIP" || local == "DXAIP";
        } else {
            return false;
        }
    }
}

pub async fn verify(state: &AppState, p: &Principal, call: &VerifyCall) -> Ran {
    let who = state
        .archive
        .authorize(p, Operation::Verify)
        .map_err(|e| (e, None))?;
    let stop = |o: Outcome| Ok((o, String::new(), None));
    let document = match call.documents.as_slice() {
        [] => None,
        [d] => Some(d.bytes.clone()),
        _ => {
            return stop(Outcome::error(
                Minor::ParameterError,
                "one document per VerifyRequest (a package, or a signed document with its detached signature in the SignatureObject)",
            ))
        }
    };
    let now = state.archive.now();
    match document {
        Some(doc) if is_package(&doc) => {
            let detached = match &call.signature {
                None => vec![],
                Some(SignatureInput::Records(given)) => given
                    .iter()
                    .map(|r| DetachedRecord {
                        aoid: r.aoid.clone(),
                        version: r.version.clone(),
                        der: r.der.clone(),
                    })
                    .collect(),
                Some(SignatureInput::Signature(_)) => {
                    return stop(Outcome::error(
                        Minor::ParameterError,
                        "a package carries its signatures as credentials; the SignatureObject beside it may be its evidence record",
                    ))
                }
            };
            let checks = super::record_check(state);
            let v = state
                .archive
                .verify_package(&who, doc, detached, &checks)
                .await
                .map_err(|e| (e, None))?;
            let outcome = package_outcome(&v);
            let body = if call.report {
                report(now, |out| package_report(out, &v))
            } else {
                String::new()
            };
            Ok((outcome, body, v.aoid.clone()))
        }
        Some(doc) => {
            let signature = match &call.signature {
                None => None,
                Some(SignatureInput::Signature(s)) => Some(s.clone()),
                Some(SignatureInput::Records(_)) => {
                    return stop(Outcome::error(
                        Minor::NotSupported,
                        "an evidence record is verified here with the XAIP it is for; for a record over other data use POST /v1/verify or `bewahr verify`",
                    ))
                }
            };
            signed(state, &who, doc, signature, call.report, now).await
        }
        None => match &call.signature {
            // an enveloping signature on its own
            Some(SignatureInput::Signature(s)) => {
                signed(state, &who, s.clone(), None, call.report, now).await
            }
            _ => stop(Outcome::error(
                Minor::ParameterError,
                "an evidence record is verified with the package it is for: give the package as the InputDocument",
            )),
        },
    }
}

async fn signed(
    state: &AppState,
    who: &crate::service::Authorized,
    doc: Vec<u8>,
    signature: Option<Vec<u8>>,
    want_report: bool,
    now: time::OffsetDateTime,
) -> Ran {
    let j = state
        .archive
        .verify_signature(who, doc, signature)
        .await
        .map_err(|e| (e, None));
    let j = match j {
        Ok(j) => j,
        Err((e, a)) => return Ok((outcome_of(&e), String::new(), a)),
    };
    let Some(j) = j else {
        return Ok((
            Outcome::error(
                Minor::InvalidSignature,
                "no signature was found in the document (nor a detached one given)",
            ),
            String::new(),
            None,
        ));
    };
    let outcome = match j.verdict {
        Verdict::Invalid => Outcome::error(Minor::InvalidSignature, j.summary.clone()),
        _ => Outcome::ok(),
    };
    let body = if want_report {
        report(now, |out| {
            individual(
                out,
                "/dss:VerifyRequest/dss:InputDocuments/dss:Document[1]",
                &j,
                |_| {},
            )
        })
    } else {
        String::new()
    };
    Ok((outcome, body, None))
}

/// What a submission's verification report is about.
pub enum Subject<'a> {
    /// An XAIP or DXAIP.
    Package(&'a [u8]),
    /// A signed document (`ArchiveData`).
    Signed(&'a [u8]),
}

/// The `dss:OptionalOutputs` with the verification report of what a
/// submission carried (TR-ESOR-E: `vr:ReturnVerificationReport` on
/// ArchiveSubmission and ArchiveUpdate), made by the same verification as
/// Verify's. Empty if the caller may not verify or nothing could be
/// examined; the submission's own result stands either way.
pub async fn report_of(state: &AppState, p: &Principal, subject: Subject<'_>) -> String {
    let Ok(who) = state.archive.authorize(p, Operation::Verify) else {
        return String::new();
    };
    let now = state.archive.now();
    match subject {
        Subject::Package(bytes) => {
            let checks = super::record_check(state);
            match state
                .archive
                .verify_package(&who, bytes.to_vec(), vec![], &checks)
                .await
            {
                Ok(v) => report(now, |out| package_report(out, &v)),
                Err(e) => {
                    tracing::warn!(error = %e, "the verification report of a submission could not be made");
                    String::new()
                }
            }
        }
        Subject::Signed(bytes) => match state
            .archive
            .verify_signature(&who, bytes.to_vec(), None)
            .await
        {
            Ok(Some(j)) => report(now, |out| {
                individual(
                    out,
                    "/tr:ArchiveSubmissionRequest/tr:ArchiveData[1]",
                    &j,
                    |_| {},
                )
            }),
            _ => String::new(),
        },
    }
}

/// The result code of a package's verification.
pub(crate) fn package_outcome(v: &PackageVerdict) -> Outcome {
    if let Some((fault, message)) = &v.fault {
        let minor = match (fault, v.update) {
            (PackageFault::Signature, false) => Minor::XaipNokSig,
            (PackageFault::Signature, true) => Minor::DxaipNokSig,
            (PackageFault::EvidenceRecord, false) => Minor::XaipNokEr,
            (PackageFault::EvidenceRecord, true) => Minor::DxaipNokEr,
            (_, false) => Minor::XaipNok,
            (_, true) => Minor::DxaipNok,
        };
        return Outcome::error(minor, message.clone());
    }
    if let Some(m) = &v.unsuitable {
        return Outcome::error(Minor::HashAlgorithmNotSuitable, m.clone());
    }
    Outcome::ok()
}

/// `dss:OptionalOutputs` with one `vr:VerificationReport`.
pub(crate) fn report(now: time::OffsetDateTime, body: impl FnOnce(&mut String)) -> String {
    let at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut out = format!(
        "<dss:OptionalOutputs><vr:VerificationReport xmlns:vr=\"{VR_NS}\" xmlns:esorvr=\"{ESORVR_NS}\"><dss:VerificationTimeInfo><dss:VerificationTime>{at}</dss:VerificationTime></dss:VerificationTimeInfo>"
    );
    body(&mut out);
    out.push_str("</vr:VerificationReport></dss:OptionalOutputs>");
    out
}

/// A `vr:VerificationResultType`'s content.
fn result_type(out: &mut String, verdict: Verdict, message: Option<&str>) {
    out.push_str("<vr:ResultMajor>");
    out.push_str(verdict.uri());
    out.push_str("</vr:ResultMajor>");
    if let Some(m) = message {
        out.push_str("<vr:ResultMessage xml:lang=\"en\">");
        out.push_str(&esc(m));
        out.push_str("</vr:ResultMessage>");
    }
}

fn message_of(j: &Judgement) -> String {
    match &j.sub_indication {
        Some(s) => format!("{} / {s}: {}", j.indication, j.summary),
        None => format!("{}: {}", j.indication, j.summary),
    }
}

/// One `vr:IndividualReport` for a signature or record, `details` writing
/// into its `vr:Details`.
fn individual(out: &mut String, xpath: &str, j: &Judgement, details: impl FnOnce(&mut String)) {
    out.push_str(&format!(
        "<vr:IndividualReport><vr:SignedObjectIdentifier XPath=\"{}\"/><dss:Result><dss:ResultMajor>{}</dss:ResultMajor><dss:ResultMessage xml:lang=\"en\">{}</dss:ResultMessage></dss:Result><vr:Details>",
        esc(xpath),
        j.verdict.uri(),
        esc(&message_of(j))
    ));
    details(out);
    out.push_str("</vr:Details></vr:IndividualReport>");
}

/// `esorvr:EvidenceRecordReport` (TR-ESOR-VR 1.3 section 3).
fn record_report(out: &mut String, j: &Judgement) {
    let format_ok = if j.sub_indication.as_deref() == Some("FORMAT_FAILURE") {
        Verdict::Invalid
    } else {
        Verdict::Valid
    };
    out.push_str("<esorvr:EvidenceRecordReport ReportVersion=\"1.3.0\"><esorvr:FormatOK>");
    result_type(out, format_ok, None);
    out.push_str("</esorvr:FormatOK><esorvr:Version>urn:ietf:rfc:4998</esorvr:Version>");
    let mut seen: Vec<&str> = vec![];
    for a in &j.digest_algorithms {
        if seen.contains(&a.as_str()) {
            continue;
        }
        seen.push(a);
        out.push_str("<esorvr:DigestAlgorithm><vr:Algorithm>");
        out.push_str(&esc(a));
        out.push_str("</vr:Algorithm><vr:Suitability>");
        result_type(
            out,
            if j.unsuitable {
                Verdict::Invalid
            } else {
                Verdict::Valid
            },
            None,
        );
        out.push_str("</vr:Suitability></esorvr:DigestAlgorithm>");
    }
    out.push_str("<esorvr:ArchiveTimeStampSequence>");
    for _ in 0..j.chains {
        out.push_str("<esorvr:ArchiveTimeStampChain/>");
    }
    out.push_str("</esorvr:ArchiveTimeStampSequence></esorvr:EvidenceRecordReport>");
}

/// The report of a package: one `esorvr:XAIPReport` with each credential
/// examined, and one report per record given beside it.
pub(crate) fn package_report(out: &mut String, v: &PackageVerdict) {
    let verdict = if v.fault.is_some() || v.unsuitable.is_some() {
        Verdict::Invalid
    } else if v.judgements.iter().any(|j| j.verdict != Verdict::Valid) {
        Verdict::Indetermined
    } else {
        Verdict::Valid
    };
    let message = v
        .fault
        .as_ref()
        .map(|(_, m)| m.clone())
        .or_else(|| v.unsuitable.clone())
        .unwrap_or_else(|| "the package verifies".into());
    out.push_str(&format!(
        "<vr:IndividualReport><vr:SignedObjectIdentifier XPath=\"/dss:VerifyRequest/dss:InputDocuments/dss:Document[1]\"/><dss:Result><dss:ResultMajor>{}</dss:ResultMajor><dss:ResultMessage xml:lang=\"en\">{}</dss:ResultMessage></dss:Result><vr:Details>",
        verdict.uri(),
        esc(&message)
    ));
    let format_ok = if matches!(v.fault, Some((PackageFault::Nok, _))) {
        Verdict::Invalid
    } else {
        Verdict::Valid
    };
    out.push_str(
        "<esorvr:XAIPReport XAIPVersion=\"1.3.0\" ReportVersion=\"1.3.0\"><esorvr:FormatOK>",
    );
    result_type(
        out,
        format_ok,
        match &v.fault {
            Some((PackageFault::Nok, m)) => Some(m.as_str()),
            _ => None,
        },
    );
    out.push_str(&format!(
        "</esorvr:FormatOK><esorvr:packageHeader packageID=\"{}\">",
        esc(&v.package_id)
    ));
    if let Some(a) = &v.aoid {
        out.push_str(&format!("<esorvr:AOID>{}</esorvr:AOID>", esc(a)));
    }
    for version in &v.versions {
        out.push_str(&format!(
            "<esorvr:versionManifest VersionID=\"{}\"><esorvr:preservationInfo>",
            esc(version)
        ));
        result_type(out, Verdict::Valid, None);
        out.push_str("</esorvr:preservationInfo></esorvr:versionManifest>");
    }
    out.push_str("</esorvr:packageHeader>");
    let carried: Vec<&Judgement> = v
        .judgements
        .iter()
        .filter(|j| !j.id.starts_with(BESIDE))
        .collect();
    if !carried.is_empty() {
        out.push_str("<esorvr:credentialsSection>");
        for j in &carried {
            out.push_str(&format!(
                "<esorvr:credential credentialID=\"{}\">",
                esc(&j.id)
            ));
            if j.record {
                record_report(out, j);
            } else {
                out.push_str("<esorvr:other>");
                result_type(out, j.verdict, Some(&message_of(j)));
                out.push_str("</esorvr:other>");
            }
            out.push_str("</esorvr:credential>");
        }
        out.push_str("</esorvr:credentialsSection>");
    }
    out.push_str("</esorvr:XAIPReport></vr:Details></vr:IndividualReport>");
    for (n, j) in v
        .judgements
        .iter()
        .filter(|j| j.id.starts_with(BESIDE))
        .enumerate()
    {
        individual(
            out,
            &format!(
                "/dss:VerifyRequest/dss:SignatureObject/dss:Other/xaip:evidenceRecord[{}]",
                n + 1
            ),
            j,
            |o| record_report(o, j),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::is_package;

    #[test]
    fn packages_are_told_by_their_root() {
        assert!(is_package(
            b"<?xml version=\"1.0\"?>\n<!-- x --><xaip:XAIP a=\"1\">"
        ));
        assert!(is_package(
            b"<DXAIP xmlns=\"http://www.bsi.bund.de/tr-esor/xaip\">"
        ));
        assert!(!is_package(b"<xaip:XAIPX>"));
        assert!(!is_package(b"%PDF-1.7"));
        assert!(!is_package(b"<doc>XAIP</doc>"));
    }
}
