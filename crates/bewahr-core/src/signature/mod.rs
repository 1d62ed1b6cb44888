//! Validating electronic signatures and seals (ETSI EN 319 102-1): CAdES
//! detached and enveloping, PAdES, ASiC-S and ASiC-E with CAdES (and their
//! time-stamps and evidence records), and XAdES (plain, detached and in
//! ASiC) through an XML engine the caller plugs in ([`XmlSignatures`]:
//! the core links no XML canonicaliser; `bewahr-xmlsig` is the one the
//! archive and `bewahr verify` use). Without one, XAdES is recognised and
//! reported as not supported, never as valid.
//!
//! Pure, in three steps, so that the network stays outside:
//! 1. [`examine`]: recognise the format, check every signature
//!    cryptographically and build its certificate path;
//! 2. [`queries`]: which certificates need revocation data (the caller
//!    fetches it, `bewahr_net::fetch::Fetcher`, or takes it from what was preserved);
//! 3. [`conclude`]: judge paths, validity and revocation at the best
//!    signature time and return the report and the validation data to keep.

pub mod asic;
pub mod ber;
pub mod cades;
pub mod certs;
pub mod pdf;
pub mod report;
pub mod revocation;

pub use report::{
    Finding, Format, Indication, Qualification, SignatureReport, SubIndication, ValidationReport,
};
pub use revocation::{Query, ValidationData};

use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::alg::DigestAlgorithm;
use crate::tsp::trust::{self, TrustError};
use report::{Indication as I, SubIndication as S};

/// What the validator trusts and when it judges.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Trust anchors for signers' and TSAs' certificate paths.
    pub anchors: &'a [Certificate],
    /// The time of the validation.
    pub at: OffsetDateTime,
    /// A proof that the signature existed at this time (an evidence
    /// record's first time-stamp): the certificates are judged then.
    pub poe: Option<OffsetDateTime>,
    /// Revocation data older than this before the time it must speak for is
    /// not fresh (unless that time is inside its thisUpdate..nextUpdate).
    pub max_age: time::Duration,
    /// The XML signature engine (XML-DSig and XAdES); `None`: XAdES is
    /// reported as not supported.
    pub xml: Option<&'a dyn XmlSignatures>,
}

/// Validates XML signatures (XML-DSig, XAdES, ETSI EN 319 132-1) up to
/// the point where the core takes over: it finds each signature, checks
/// its references and signature value, and hands back the signer, the
/// certificates the signature carries and its signature time-stamps.
/// Certificate paths, time-stamps, revocation and the verdict are the
/// core's, the same as for CAdES and PAdES.
pub trait XmlSignatures: Sync {
    /// Checks every signature in `xml`. `external` resolves a reference to
    /// data outside the XML (a detached signature's document, an ASiC
    /// container's data object) by its URI; `id` names the signature(s)
    /// in the report.
    fn check(&self, xml: &[u8], external: &dyn Fn(&str) -> Option<Vec<u8>>, id: &str)
        -> XmlChecked;
}

/// What an [`XmlSignatures`] engine found.
#[derive(Default)]
pub struct XmlChecked {
    /// One per signature: its report so far, the signer, the certificates
    /// it carries, and (as `signature_value`) the bytes its signature
    /// time-stamps cover (the canonical `ds:SignatureValue` element).
    pub signers: Vec<cades::SignerCheck>,
    /// About the document as a whole (not well-formed, no signature, ...).
    pub findings: Vec<Finding>,
    /// Validation data carried in the signatures (XAdES `CertificateValues`,
    /// `RevocationValues`): used beside what the caller fetches.
    pub embedded: ValidationData,
    /// The external URIs whose data a signature's valid reference covers.
    pub covered: Vec<String>,
}

/// One signature under examination.
pub struct Check {
    pub cades: cades::SignerCheck,
    /// From signer to anchor, if a path was found.
    pub path: Result<Vec<Certificate>, TrustError>,
    /// The earliest valid signature time-stamp's genTime.
    pub timestamp: Option<OffsetDateTime>,
    /// Whether this is a time-stamp or evidence record, judged already
    /// (no signer certificate path or revocation to check).
    pub settled: bool,
}

/// The result of [`examine`].
pub struct Examined {
    pub format: Format,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    /// Revocation data and certificates that came with the signatures
    /// (XAdES-LT): [`conclude`] uses them beside the caller's.
    pub embedded: ValidationData,
}

fn doc_finding(i: I, s: Option<S>, m: impl Into<String>) -> Finding {
    Finding::new(i, s, m)
}

fn settled(report: SignatureReport) -> Check {
    Check {
        cades: cades::SignerCheck::unchecked(report),
        path: Err(TrustError::NoPath {
            subject: String::new(),
            detail: String::new(),
        }),
        timestamp: None,
        settled: true,
    }
}

/// PEM armour (`-----BEGIN PKCS7-----`, `CMS`) around a CMS structure, removed.
fn dearmor(bytes: &[u8]) -> Option<Vec<u8>> {
    // the header first: a large document that is not PEM is not read
    // through (UTF-8 validation of 1 MB costs a tenth of a millisecond,
    // twice per validation); Unicode white space before the header is
    // still read as before
    let head = bytes.trim_ascii_start();
    if head.first().is_some_and(u8::is_ascii)
        && !(head.starts_with(b"-----BEGIN PKCS7-----") || head.starts_with(b"-----BEGIN CMS-----"))
    {
        return None;
    }
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(1 << 24))?).ok()?;
    let t = text.trim_start();
    let (_, der) = der::pem::decode_vec(t.as_bytes()).ok()?;
    Some(der)
}

fn looks_like_xml_signature(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64)];
    let start = head
        .iter()
        .position(|b| !b" \t\r\n\xef\xbb\xbf".contains(b))
        .unwrap_or(0);
    if head.get(start) != Some(&b'<') {
        return false;
    }
    memchr::memmem::find(bytes, b"http://www.w3.org/2000/09/xmldsig#").is_some()
}

/// Recognises the format of a document (and of a detached signature given beside it).
pub fn recognise(document: &[u8], signature: Option<&[u8]>) -> Format {
    if let Some(sig) = signature {
        let der = dearmor(sig);
        let sig = der.as_deref().unwrap_or(sig);
        if cades::is_signed_data(sig) {
            return Format::CadesDetached;
        }
        if looks_like_xml_signature(sig) {
            return Format::Xades;
        }
    }
    let der = dearmor(document);
    let doc = der.as_deref().unwrap_or(document);
    if cades::is_signed_data(doc) {
        return match cades::parse(doc) {
            Ok(p) if p.econtent.is_none() => Format::CadesDetached,
            _ => Format::CadesEnveloping,
        };
    }
    if pdf::is_pdf(doc) {
        return match pdf::signatures(doc) {
            Ok(s) if s.is_empty() => Format::None,
            _ => Format::Pades,
        };
    }
    if asic::is_zip(doc) {
        return match asic::open(doc) {
            Ok(c) if c.mimetype.as_deref() == Some("application/vnd.etsi.asic-s+zip") => {
                Format::AsicS
            }
            Ok(c) if c.mimetype.as_deref() == Some("application/vnd.etsi.asic-e+zip") => {
                Format::AsicE
            }
            Ok(c)
                if c.cades_signatures.is_empty()
                    && c.xades_signatures.is_empty()
                    && c.timestamps.is_empty()
                    && c.evidence_records.is_empty() =>
            {
                Format::None
            }
            Ok(c) => match c.kind {
                asic::AsicKind::Simple => Format::AsicS,
                asic::AsicKind::Extended => Format::AsicE,
            },
            // a damaged container that says it is ASiC is reported as one
            Err(_) if doc.windows(24).any(|w| w == b"application/vnd.etsi.asic") => {
                if doc.windows(10).any(|w| w == b"asic-s+zip") {
                    Format::AsicS
                } else {
                    Format::AsicE
                }
            }
            Err(_) => Format::None,
        };
    }
    if looks_like_xml_signature(doc) {
        return Format::Xades;
    }
    Format::None
}

/// Step 1: recognises the format, checks every signature cryptographically
/// and builds the certificate paths.
pub fn examine(document: &[u8], signature: Option<&[u8]>, ctx: &Context<'_>) -> Examined {
    // a PDF is scanned for its signature dictionaries once, not once to
    // recognise it and again to validate it
    if signature.is_none() && pdf::is_pdf(document) && !cades::is_signed_data(document) {
        let sigs = pdf::signatures(document);
        let format = match &sigs {
            Ok(s) if s.is_empty() => Format::None,
            _ => Format::Pades,
        };
        let mut ex = Examined {
            format,
            checks: vec![],
            findings: vec![],
            embedded: ValidationData::default(),
        };
        if format == Format::Pades {
            pades(&mut ex, document, sigs, ctx);
        }
        return ex;
    }
    let format = recognise(document, signature);
    let mut ex = Examined {
        format,
        checks: vec![],
        findings: vec![],
        embedded: ValidationData::default(),
    };
    let doc_der = dearmor(document);
    let doc = doc_der.as_deref().unwrap_or(document);
    match format {
        Format::None => {}
        Format::Xades => match signature {
            // detached: every reference outside the signature is to the document given beside it
            Some(sig) => {
                xades(
                    &mut ex,
                    sig,
                    &|_| Some(document.to_vec()),
                    "XML signature",
                    ctx,
                );
            }
            None => {
                xades(&mut ex, document, &|_| None, "XML signature", ctx);
            }
        },
        Format::CadesDetached | Format::CadesEnveloping => {
            let sig_der = signature.map(|s| dearmor(s).unwrap_or_else(|| s.to_vec()));
            let (cms_bytes, content): (&[u8], Option<Vec<&[u8]>>) = match &sig_der {
                Some(s) => (s.as_slice(), Some(vec![document])),
                None => (doc, None),
            };
            cms_signers(&mut ex, cms_bytes, content.as_deref(), "CMS signature", ctx);
        }
        Format::Pades => pades(&mut ex, doc, pdf::signatures(doc), ctx),
        Format::AsicS | Format::AsicE => asic_container(&mut ex, doc, ctx),
    }
    ex
}

/// XML signatures through the engine in the context (or "not supported").
fn xades(
    ex: &mut Examined,
    xml: &[u8],
    external: &dyn Fn(&str) -> Option<Vec<u8>>,
    id: &str,
    ctx: &Context<'_>,
) -> Vec<String> {
    let Some(engine) = ctx.xml else {
        ex.checks.push(settled(xades_unsupported(id)));
        return vec![];
    };
    let found = engine.check(xml, external, id);
    for s in found.signers {
        ex.checks.push(with_path(s, ctx));
    }
    ex.findings.extend(found.findings);
    ex.embedded.merge(&found.embedded);
    found.covered
}

fn xades_unsupported(id: &str) -> SignatureReport {
    let mut r = SignatureReport::new(id);
    r.add(
        I::Indeterminate,
        Some(S::FormatFailure),
        "XAdES (XML) signature recognised; validating XAdES is not supported yet, so it is reported neither valid nor invalid",
    );
    r
}

fn cms_signers(
    ex: &mut Examined,
    cms_bytes: &[u8],
    content: Option<&[&[u8]]>,
    id: &str,
    ctx: &Context<'_>,
) -> Vec<usize> {
    let parsed = match cades::parse(cms_bytes) {
        Ok(p) => p,
        Err(e) => {
            let mut r = SignatureReport::new(id);
            let sub = match e {
                cades::CmsError::NoSigner => S::NoSigningCertificateFound,
                _ => S::FormatFailure,
            };
            r.add(
                if matches!(e, cades::CmsError::NoSigner) {
                    I::Indeterminate
                } else {
                    I::TotalFailed
                },
                Some(sub),
                e.to_string(),
            );
            ex.checks.push(settled(r));
            return vec![ex.checks.len() - 1];
        }
    };
    let mut idx = vec![];
    for c in cades::check_signers(&parsed, content, &[], id) {
        ex.checks.push(with_path(c, ctx));
        idx.push(ex.checks.len() - 1);
    }
    idx
}

/// Builds the path and checks the signature time-stamps of a signer.
fn with_path(mut c: cades::SignerCheck, ctx: &Context<'_>) -> Check {
    let path = match &c.signer {
        Some(s) => trust::build_path(s, &c.pool, ctx.anchors),
        None => Err(TrustError::NoPath {
            subject: "(no signer certificate)".into(),
            detail: String::new(),
        }),
    };
    let mut earliest: Option<OffsetDateTime> = None;
    for tok in &c.timestamps {
        match signature_timestamp(tok, &c.signature_value, ctx) {
            Ok(t) => {
                c.report.add(
                    I::TotalPassed,
                    None,
                    format!(
                        "signature time-stamp of {} verifies: the signature existed then",
                        trust::rfc3339(t)
                    ),
                );
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
            Err(e) => c.report.add(
                I::TotalPassed,
                None,
                format!("a signature time-stamp is not used as proof of existence: {e}"),
            ),
        }
    }
    if let Some(t) = earliest {
        c.report.signature_timestamp = Some(trust::rfc3339(t));
    }
    Check {
        cades: c,
        path,
        timestamp: earliest,
        settled: false,
    }
}

/// A signature time-stamp: a valid token over the signature value whose TSA has a path to an anchor.
fn signature_timestamp(
    token: &[u8],
    signature_value: &[u8],
    ctx: &Context<'_>,
) -> Result<OffsetDateTime, String> {
    let tok = crate::tsp::check_token(token, &[]).map_err(|e| e.to_string())?;
    if tok.imprint != tok.imprint_algorithm.digest(signature_value) {
        return Err("its message imprint is not the hash of the signature value".into());
    }
    trust::validate_path(&tok.signer, &tok.certificates, ctx.anchors, tok.gen_time)
        .map_err(|e| e.to_string())?;
    Ok(tok.gen_time)
}

/// A time-stamp token over `parts` (PDF document time-stamp, ASiC time-stamp).
fn timestamp_report(
    id: String,
    token: &[u8],
    parts: &[&[u8]],
    ctx: &Context<'_>,
) -> SignatureReport {
    let mut r = SignatureReport::new(id);
    match crate::tsp::check_token(token, &[]) {
        Err(e) => r.add(I::TotalFailed, Some(S::FormatFailure), e.to_string()),
        Ok(tok) => {
            r.signer = Some(trust::subject(&tok.signer));
            r.signing_time = Some(trust::rfc3339(tok.gen_time));
            r.signature_algorithm = Some(tok.signature_algorithm.clone());
            r.add(
                I::TotalPassed,
                None,
                "the time-stamp token's signature verifies",
            );
            if tok.imprint == tok.imprint_algorithm.digest_parts(parts) {
                r.add(
                    I::TotalPassed,
                    None,
                    format!(
                        "its message imprint ({}) matches the time-stamped data",
                        tok.imprint_algorithm
                    ),
                );
            } else {
                r.add(
                    I::TotalFailed,
                    Some(S::HashFailure),
                    format!(
                        "its message imprint ({}) does not match the time-stamped data",
                        tok.imprint_algorithm
                    ),
                );
            }
            match trust::validate_path(&tok.signer, &tok.certificates, ctx.anchors, tok.gen_time) {
                Ok(a) => r.add(
                    I::TotalPassed,
                    None,
                    format!(
                        "TSA certificate path to the trust anchor {} valid at genTime",
                        trust::subject(&a)
                    ),
                ),
                Err(e) => r.add(
                    I::Indeterminate,
                    Some(S::NoCertificateChainFound),
                    format!("TSA: {e}"),
                ),
            }
        }
    }
    r
}

fn pades(
    ex: &mut Examined,
    doc: &[u8],
    sigs: Result<Vec<pdf::PdfSignature>, pdf::PdfError>,
    ctx: &Context<'_>,
) {
    let sigs = match sigs {
        Ok(s) => s,
        Err(e) => {
            ex.findings.push(doc_finding(
                I::TotalFailed,
                Some(S::FormatFailure),
                format!("PDF: {e}"),
            ));
            return;
        }
    };
    let revisions = if sigs.iter().all(|s| s.covers_whole_file) {
        0
    } else {
        pdf::revisions(doc)
    };
    for s in &sigs {
        let id = match &s.name {
            Some(n) => format!("PDF signature {} ({n})", s.index + 1),
            None => format!("PDF signature {}", s.index + 1),
        };
        let ranges = pdf::signed_ranges(doc, s);
        let signed_len = s.byte_range[2] + s.byte_range[3];
        let coverage = if s.covers_whole_file {
            "it covers the whole file".to_string()
        } else {
            format!(
                "it covers bytes 0..{signed_len} of {}: the file was changed after signing by incremental update(s) (the file has {revisions} revision(s)); only the signed revision is proven",
                doc.len()
            )
        };
        if s.doc_timestamp {
            let mut r = timestamp_report(id, &s.contents, &ranges, ctx);
            r.covers_whole_document = Some(s.covers_whole_file);
            r.add(
                I::TotalPassed,
                None,
                format!("document time-stamp; {coverage}"),
            );
            ex.checks.push(settled(r));
            continue;
        }
        let sub = s.sub_filter.as_deref().unwrap_or("");
        if !matches!(sub, "ETSI.CAdES.detached" | "adbe.pkcs7.detached") {
            let mut r = SignatureReport::new(id);
            r.add(I::Indeterminate, Some(S::FormatFailure), format!("signature sub-filter {sub:?} is not supported (ETSI.CAdES.detached, adbe.pkcs7.detached, ETSI.RFC3161 are)"));
            ex.checks.push(settled(r));
            continue;
        }
        for i in cms_signers(ex, &s.contents, Some(&ranges), &id, ctx) {
            let r = &mut ex.checks[i].cades.report;
            r.covers_whole_document = Some(s.covers_whole_file);
            r.add(
                I::TotalPassed,
                None,
                format!("ByteRange {:?}: {coverage}", s.byte_range),
            );
            if r.signing_time.is_none() {
                r.signing_time = s.signing_time.clone();
            }
        }
    }
}

fn asic_container(ex: &mut Examined, doc: &[u8], ctx: &Context<'_>) {
    let c = match asic::open(doc) {
        Ok(c) => c,
        Err(e) => {
            ex.findings.push(doc_finding(
                I::TotalFailed,
                Some(S::FormatFailure),
                format!("ASiC container: {e}"),
            ));
            return;
        }
    };
    let data = |name: &str| {
        c.data_objects
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    };
    let simple = matches!(c.kind, asic::AsicKind::Simple);
    if simple && c.data_objects.len() != 1 {
        ex.findings.push(doc_finding(
            I::TotalFailed,
            Some(S::FormatFailure),
            format!(
                "an ASiC-S container holds exactly one data object, this one {}",
                c.data_objects.len()
            ),
        ));
        return;
    }
    let mut covered: Vec<String> = vec![];
    // what a signature, time-stamp or evidence record file signs: the data
    // object (ASiC-S) or its manifest (ASiC-E), whose references are checked
    let target = |file: &str, ex: &mut Examined, covered: &mut Vec<String>| -> Option<Vec<u8>> {
        if simple {
            let (n, b) = &c.data_objects[0];
            covered.push(n.clone());
            return Some(b.clone());
        }
        let Some(m) = c
            .manifests
            .iter()
            .find(|m| m.sig_reference.as_deref() == Some(file))
        else {
            ex.findings.push(doc_finding(
                I::TotalFailed,
                Some(S::FormatFailure),
                format!("{file}: no ASiCManifest refers to it (SigReference)"),
            ));
            return None;
        };
        let mut ok = true;
        for r in &m.references {
            let alg = xml_digest_algorithm(&r.digest_method);
            match (data(&r.uri), alg) {
                (None, _) => {
                    ok = false;
                    ex.findings.push(doc_finding(
                        I::TotalFailed,
                        Some(S::SignedDataNotFound),
                        format!(
                            "{}: the referenced data object {} is not in the container",
                            m.name, r.uri
                        ),
                    ));
                }
                (_, None) => {
                    ok = false;
                    ex.findings.push(doc_finding(
                        I::Indeterminate,
                        Some(S::CryptoConstraintsFailure),
                        format!("{}: unsupported digest method {}", m.name, r.digest_method),
                    ));
                }
                (Some(b), Some(a)) if a.digest(b) == r.digest_value => {
                    covered.push(r.uri.clone());
                }
                (Some(_), Some(a)) => {
                    ok = false;
                    ex.findings.push(doc_finding(
                        I::TotalFailed,
                        Some(S::HashFailure),
                        format!(
                            "{}: the {a} digest of {} does not match: it was changed after signing",
                            m.name, r.uri
                        ),
                    ));
                }
            }
        }
        if ok {
            ex.findings.push(doc_finding(
                I::TotalPassed,
                None,
                format!(
                    "{}: the digests of all {} referenced data objects match",
                    m.name,
                    m.references.len()
                ),
            ));
        }
        Some(m.bytes.clone())
    };
    for (name, bytes) in &c.cades_signatures {
        if let Some(t) = target(name, ex, &mut covered) {
            cms_signers(ex, bytes, Some(&[t.as_slice()]), name, ctx);
        }
    }
    // an XAdES signature in a container names the data objects it signs
    // in its own references (by their names in the container)
    for (name, xml) in &c.xades_signatures {
        let resolve = |uri: &str| data(&asic::uri_to_name(uri)).map(|b| b.to_vec());
        for uri in xades(ex, xml, &resolve, name, ctx) {
            let n = asic::uri_to_name(&uri);
            if !covered.contains(&n) {
                covered.push(n);
            }
        }
    }
    for (name, tok) in &c.timestamps {
        if let Some(t) = target(name, ex, &mut covered) {
            let r = timestamp_report(name.clone(), tok, &[&t], ctx);
            ex.checks.push(settled(r));
        }
    }
    for (name, er) in &c.evidence_records {
        let members: Vec<Vec<u8>> = if simple {
            covered.push(c.data_objects[0].0.clone());
            vec![c.data_objects[0].1.clone()]
        } else {
            match c
                .manifests
                .iter()
                .find(|m| m.sig_reference.as_deref() == Some(name.as_str()))
            {
                Some(m) => m
                    .references
                    .iter()
                    .filter_map(|r| data(&r.uri).map(|b| b.to_vec()))
                    .collect(),
                None => c.data_objects.iter().map(|(_, b)| b.clone()).collect(),
            }
        };
        ex.checks
            .push(settled(evidence_record_report(name, er, members, ctx)));
    }
    for (n, _) in &c.data_objects {
        if !covered.contains(n) && c.evidence_records.is_empty() {
            ex.findings.push(doc_finding(
                I::TotalPassed,
                None,
                format!("data object {n} is not covered by any signature or time-stamp"),
            ));
        }
    }
}

/// An RFC 4998 evidence record inside a container, verified over the data objects it protects.
fn evidence_record_report(
    name: &str,
    er: &[u8],
    members: Vec<Vec<u8>>,
    ctx: &Context<'_>,
) -> SignatureReport {
    let mut r = SignatureReport::new(name);
    let policy = crate::verify::AlgorithmPolicy::default();
    let opts = crate::verify::Options::new(ctx.anchors, ctx.at, &policy);
    // all data objects together (a group in the first list); failing that,
    // each on its own, and then every one of them must be proven: a record
    // that proves one object of a container says nothing of the others
    let mut rep =
        crate::verify::verify_der(er, &mut crate::verify::InMemory(members.clone()), &opts);
    if rep.indication != crate::verify::Indication::Passed && members.len() > 1 {
        let each: Vec<crate::verify::Report> = members
            .iter()
            .map(|m| {
                crate::verify::verify_der(er, &mut crate::verify::InMemory(vec![m.clone()]), &opts)
            })
            .collect();
        if each
            .iter()
            .all(|one| one.indication == crate::verify::Indication::Passed)
        {
            rep = each.into_iter().next().expect("more than one member");
        }
    }
    use crate::verify::{Indication as VI, SubIndication as VS};
    let (i, s) = match (rep.indication, rep.sub_indication) {
        (VI::Passed, _) => (I::TotalPassed, None),
        (VI::Failed, Some(VS::HashFailure)) => (I::TotalFailed, Some(S::HashFailure)),
        (VI::Failed, Some(VS::SigCryptoFailure)) => (I::TotalFailed, Some(S::SigCryptoFailure)),
        (VI::Failed, _) => (I::TotalFailed, Some(S::FormatFailure)),
        (VI::Indeterminate, Some(VS::NoPoe | VS::NoCertificateChainFound)) => {
            (I::Indeterminate, Some(S::NoCertificateChainFound))
        }
        (VI::Indeterminate, Some(VS::OutOfBoundsNoPoe)) => {
            (I::Indeterminate, Some(S::OutOfBoundsNoPoe))
        }
        (VI::Indeterminate, Some(VS::CryptoConstraintsFailureNoPoe)) => {
            (I::Indeterminate, Some(S::CryptoConstraintsFailure))
        }
        (VI::Indeterminate, _) => (I::Indeterminate, Some(S::SignedDataNotFound)),
    };
    r.add(i, s, format!("evidence record (RFC 4998): {}", rep.summary));
    r
}

/// An XML-DSig `DigestMethod` URI (XML-DSig 1.1 section 6.2, RFC 6931 2.1).
pub fn xml_digest_algorithm(uri: &str) -> Option<DigestAlgorithm> {
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => DigestAlgorithm::Sha1,
        "http://www.w3.org/2001/04/xmldsig-more#sha224" => DigestAlgorithm::Sha224,
        "http://www.w3.org/2001/04/xmlenc#sha256" => DigestAlgorithm::Sha256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => DigestAlgorithm::Sha384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => DigestAlgorithm::Sha512,
        "http://www.w3.org/2007/05/xmldsig-more#sha3-256" => DigestAlgorithm::Sha3_256,
        "http://www.w3.org/2007/05/xmldsig-more#sha3-384" => DigestAlgorithm::Sha3_384,
        "http://www.w3.org/2007/05/xmldsig-more#sha3-512" => DigestAlgorithm::Sha3_512,
        _ => return None,
    })
}

/// Step 2: the certificates whose revocation status is needed (each
/// certificate of each path but the trust anchor, with its issuer).
pub fn queries(ex: &Examined) -> Vec<Query> {
    let mut out: Vec<Query> = vec![];
    for c in ex.checks.iter().filter(|c| !c.settled && c.cades.crypto_ok) {
        if let Ok(path) = &c.path {
            for w in path.windows(2) {
                let q = Query::new(&w[0], &w[1]);
                if !out.iter().any(|o| o.cert == q.cert) {
                    out.push(q);
                }
            }
        }
    }
    out
}

/// Step 3: judges every signature at its best signature time with the given
/// revocation data; returns the report and the validation data to preserve
/// (the certificates of the paths and the revocation data that was used).
pub fn conclude(
    ex: Examined,
    data: &ValidationData,
    ctx: &Context<'_>,
) -> (ValidationReport, ValidationData) {
    let mut keep = ValidationData::default();
    let mut sigs = vec![];
    // what came with the signatures (XAdES-LT) beside what the caller has
    let merged;
    let data = if ex.embedded.is_empty() {
        data
    } else {
        merged = {
            let mut m = data.clone();
            m.merge(&ex.embedded);
            m
        };
        &merged
    };
    for c in ex.checks {
        if c.settled || !c.cades.crypto_ok {
            sigs.push(c.cades.report);
            continue;
        }
        sigs.push(judge(c, data, ctx, &mut keep));
    }
    let mut report = ValidationReport {
        format: ex.format,
        indication: None,
        sub_indication: None,
        summary: String::new(),
        validation_time: trust::rfc3339(ctx.at),
        proof_of_existence: ctx.poe.map(trust::rfc3339),
        signatures: sigs,
        findings: ex.findings,
    };
    report.conclude();
    (report, keep)
}

fn judge(
    c: Check,
    data: &ValidationData,
    ctx: &Context<'_>,
    keep: &mut ValidationData,
) -> SignatureReport {
    let mut r = c.cades.report;
    let path = match c.path {
        Ok(p) => p,
        Err(e) => {
            let (i, s) = match &e {
                TrustError::NoPath { .. } => (I::Indeterminate, S::NoCertificateChainFound),
                TrustError::NotACa { .. } => (I::Indeterminate, S::ChainConstraintsFailure),
                _ => (I::Indeterminate, S::CertificateChainGeneralFailure),
            };
            r.add(i, Some(s), format!("certificate path: {e}"));
            if let Some(s) = &c.cades.signer {
                keep.add_certificate(&s.to_der().unwrap_or_default());
            }
            return r;
        }
    };
    for p in &path {
        keep.add_certificate(&p.to_der().unwrap_or_default());
    }
    r.chain = path.iter().map(trust::subject).collect();
    // the best signature time: the earliest proof that the signature existed
    let best = [Some(ctx.at), ctx.poe, c.timestamp]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(ctx.at);
    r.validated_at = Some(trust::rfc3339(best));
    r.add(
        I::TotalPassed,
        None,
        format!(
            "certificate path of {} to the trust anchor {}",
            path.len(),
            trust::subject(path.last().unwrap_or(&path[0]))
        ),
    );
    let signer = &path[0];
    if !certs::may_sign(signer) {
        r.add(
            I::Indeterminate,
            Some(S::ChainConstraintsFailure),
            "the signer certificate's keyUsage allows neither digitalSignature nor nonRepudiation",
        );
    }
    for ca in path.iter().skip(1).take(path.len().saturating_sub(2)) {
        if !certs::may_sign_certificates(ca) {
            r.add(
                I::Indeterminate,
                Some(S::ChainConstraintsFailure),
                format!(
                    "CA certificate {}: keyUsage lacks keyCertSign",
                    trust::subject(ca)
                ),
            );
        }
    }
    // validity at the best signature time
    for (k, cert) in path.iter().enumerate() {
        let (nb, na) = (trust::not_before(cert), trust::not_after(cert));
        let who = if k == 0 {
            "the signer certificate"
        } else {
            "CA certificate"
        };
        if best < nb {
            r.add(
                if k == 0 {
                    I::TotalFailed
                } else {
                    I::Indeterminate
                },
                Some(S::NotYetValid),
                format!(
                    "{who} {} is valid only from {}, after the signature time {}",
                    trust::subject(cert),
                    trust::rfc3339(nb),
                    trust::rfc3339(best)
                ),
            );
        } else if best > na {
            r.add(
                I::Indeterminate,
                Some(S::OutOfBoundsNoPoe),
                format!("{who} {} expired at {}; there is no proof that the signature existed before (validation at {})", trust::subject(cert), trust::rfc3339(na), trust::rfc3339(best)),
            );
        }
    }
    // revocation status of each certificate but the anchor, for the best signature time
    for (k, w) in path.windows(2).enumerate() {
        let (cert, issuer) = (&w[0], &w[1]);
        let (found, errors) = revocation::best_status(data, cert, issuer, best, ctx.max_age);
        let name = trust::subject(cert);
        match found {
            None => {
                let why = if errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", errors.join("; "))
                };
                r.add(
                    I::Indeterminate,
                    Some(S::TryLater),
                    format!("no usable revocation information for {name}{why}"),
                );
            }
            Some((e, bytes)) => {
                if e.source == "OCSP" {
                    keep.add_ocsp(&bytes);
                } else {
                    keep.add_crl(&bytes);
                }
                let when = trust::rfc3339(e.this_update);
                match &e.status {
                    revocation::Status::Good => r.add(I::TotalPassed, None, format!("{name} is not revoked ({} by {}, thisUpdate {when})", e.source, e.signer)),
                    revocation::Status::Revoked { at, reason } if *at <= best => {
                        let reason = reason.as_ref().map(|x| format!(", reason {x}")).unwrap_or_default();
                        let (i, s) = if k == 0 { (I::TotalFailed, S::Revoked) } else { (I::Indeterminate, S::RevokedNoPoe) };
                        r.add(i, Some(s), format!("{name} was revoked at {}{reason}, before the signature time {} ({} by {})", trust::rfc3339(*at), trust::rfc3339(best), e.source, e.signer));
                    }
                    revocation::Status::Revoked { at, .. } => r.add(I::TotalPassed, None, format!("{name} was revoked at {}, after the signature time {}, which is proven", trust::rfc3339(*at), trust::rfc3339(best))),
                    revocation::Status::Unknown => r.add(I::Indeterminate, Some(S::TryLater), format!("the OCSP responder {} does not know {name}", e.signer)),
                }
            }
        }
    }
    r
}

/// Certificates in PEM or DER, one or many (trust anchor bundles).
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    if bytes.starts_with(b"-----") || bytes.iter().take(64).all(|b| b.is_ascii()) {
        Certificate::load_pem_chain(bytes).map_err(|e| e.to_string())
    } else {
        Certificate::from_der(bytes)
            .map(|c| vec![c])
            .map_err(|e| e.to_string())
    }
}

/// Re-validation years later: the signature as of `poe`, the time an
/// evidence record proves the document (and this data) existed, with only
/// the preserved validation data (no network). The seal was valid when it
/// was archived even if its certificate has expired since.
pub fn revalidate(
    document: &[u8],
    signature: Option<&[u8]>,
    preserved: &ValidationData,
    poe: OffsetDateTime,
    ctx: &Context<'_>,
) -> ValidationReport {
    let ctx = Context {
        poe: Some(poe),
        ..*ctx
    };
    let anchors = ctx.anchors;
    let mut ex = examine(document, signature, &ctx);
    let extra = preserved.parsed_certificates();
    for c in ex
        .checks
        .iter_mut()
        .filter(|c| !c.settled && c.path.is_err())
    {
        if let Some(s) = &c.cades.signer {
            let pool: Vec<Certificate> = c.cades.pool.iter().chain(&extra).cloned().collect();
            c.path = trust::build_path(s, &pool, anchors);
        }
    }
    conclude(ex, preserved, &ctx).0
}
