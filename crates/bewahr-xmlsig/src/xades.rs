//! A document's XML signatures checked as XAdES (ETSI EN 319 132-1):
//! references, `ds:SignedInfo` and the signature value (XML-DSig 1.1
//! section 4.4), then the qualifying properties:
//! - signed: `SigningCertificateV2` (or v1) naming the signer's certificate
//!   by its digest (EN 319 132-1 5.2.2), `SigningTime` (5.2.1); the
//!   `SignedProperties` must be covered by a reference of type
//!   `http://uri.etsi.org/01903#SignedProperties`;
//! - unsigned: `SignatureTimeStamp` (5.3, level T) over the canonical
//!   `ds:SignatureValue` element, `CertificateValues` and
//!   `RevocationValues` (5.4, level LT, also inside
//!   `xadesv141:TimeStampValidationData`), `xadesv141:ArchiveTimeStamp`
//!   (5.5, level LTA: recognised and reported; its token is not used as a
//!   proof of existence here).
//!
//! Without qualifying properties the signature is plain XML-DSig: checked
//! the same way, with the certificate from `ds:KeyInfo` and a finding that
//! nothing binds it to the signature.

use bewahr_core::signature::cades::SignerCheck;
use bewahr_core::signature::{
    certs, Finding, Indication as I, SignatureReport, SubIndication as S, ValidationData,
    XmlChecked,
};
use bewahr_core::tsp::{sig, trust};
use bewahr_xaip::xml::{self, C14n, Selection};
use der::Decode;
use libxml::tree::{Document, Node};
use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::reference::{self, RefError};
use crate::uris::{self, DS, XADES, XADES141};

/// Every signature in `xml`, each checked.
pub fn check_document(
    xml_bytes: &[u8],
    external: &dyn Fn(&str) -> Option<Vec<u8>>,
    id: &str,
) -> XmlChecked {
    let mut out = XmlChecked::default();
    let doc = match xml::parse(xml_bytes) {
        Ok(d) => d,
        Err(e) => {
            out.findings.push(Finding::new(
                I::TotalFailed,
                Some(S::FormatFailure),
                format!("{id}: {e}"),
            ));
            return out;
        }
    };
    let sigs = signatures(&doc);
    if sigs.is_empty() {
        out.findings.push(Finding::new(
            I::TotalFailed,
            Some(S::FormatFailure),
            format!("{id}: no ds:Signature element"),
        ));
        return out;
    }
    let ids = xml::index(&doc);
    let many = sigs.len() > 1;
    for (k, s) in sigs.iter().enumerate() {
        let name = match (many, s.get_attribute("Id")) {
            (false, _) => id.to_string(),
            (true, Some(sid)) => format!("{id}, signature {} ({sid})", k + 1),
            (true, None) => format!("{id}, signature {}", k + 1),
        };
        let one = check_signature(&doc, &ids, s, external, name);
        out.signers.push(one.check);
        out.covered.extend(one.covered);
        out.embedded.merge(&one.embedded);
    }
    out
}

/// The `ds:Signature` elements that are not inside another signature
/// (counter-signatures are part of the signature they counter-sign).
fn signatures(doc: &Document) -> Vec<Node> {
    xml::outermost(doc, DS, "Signature")
}

struct One {
    check: SignerCheck,
    covered: Vec<String>,
    embedded: ValidationData,
}

fn ds(n: &Node, local: &str) -> Option<Node> {
    xml::child(n, DS, local)
}

/// Certificates in `EncapsulatedX509Certificate` / `ds:X509Certificate` children.
fn certificates(parent: &Node, ns: &str, local: &str, r: &mut SignatureReport) -> Vec<Vec<u8>> {
    let mut out = vec![];
    for c in xml::children(parent, ns, local) {
        match uris::base64(&c.get_content()) {
            Ok(der) if Certificate::from_der(&der).is_ok() => out.push(der),
            _ => r.add(
                I::TotalPassed,
                None,
                format!("a {local} that is not a certificate was ignored"),
            ),
        }
    }
    out
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let t = text.trim();
    let fmt = time::format_description::well_known::Rfc3339;
    OffsetDateTime::parse(t, &fmt)
        .ok()
        // xs:dateTime without a zone: XAdES asks for UTC
        .or_else(|| OffsetDateTime::parse(&format!("{t}Z"), &fmt).ok())
}

/// The qualifying properties of `signature` (in one of its `ds:Object`s).
fn qualifying_properties(signature: &Node) -> Option<Node> {
    xml::children(signature, DS, "Object")
        .find_map(|o| xml::child(&o, XADES, "QualifyingProperties"))
}

fn check_signature(
    doc: &Document,
    ids: &reference::IdIndex,
    signature: &Node,
    external: &dyn Fn(&str) -> Option<Vec<u8>>,
    name: String,
) -> One {
    let mut r = SignatureReport::new(name);
    let mut one = One {
        check: SignerCheck::unchecked(SignatureReport::new("")),
        covered: vec![],
        embedded: ValidationData::default(),
    };
    let done = |mut one: One, r: SignatureReport| {
        one.check.crypto_ok = one.check.crypto_ok && r.indication == I::TotalPassed;
        one.check.report = r;
        one
    };
    // the structure (XML-DSig 4.2)
    let (Some(si), Some(sv)) = (ds(signature, "SignedInfo"), ds(signature, "SignatureValue"))
    else {
        r.add(
            I::TotalFailed,
            Some(S::FormatFailure),
            "the signature lacks ds:SignedInfo or ds:SignatureValue",
        );
        return done(one, r);
    };
    let c14n_el = ds(&si, "CanonicalizationMethod");
    let c14n_uri = c14n_el
        .as_ref()
        .and_then(|c| c.get_attribute("Algorithm"))
        .unwrap_or_default();
    let Some(si_c14n) = C14n::from_uri(&c14n_uri) else {
        r.add(
            I::Indeterminate,
            Some(S::FormatFailure),
            format!("the canonicalisation method {c14n_uri:?} of ds:SignedInfo is not supported"),
        );
        return done(one, r);
    };
    let method_uri = ds(&si, "SignatureMethod")
        .and_then(|m| m.get_attribute("Algorithm"))
        .unwrap_or_default();
    let value = match uris::base64(&sv.get_content()) {
        Ok(v) if !v.is_empty() => v,
        _ => {
            r.add(
                I::TotalFailed,
                Some(S::FormatFailure),
                "ds:SignatureValue is not base64",
            );
            return done(one, r);
        }
    };
    let references: Vec<Node> = xml::children(&si, DS, "Reference").collect();
    if references.is_empty() {
        r.add(
            I::TotalFailed,
            Some(S::FormatFailure),
            "ds:SignedInfo has no reference",
        );
        return done(one, r);
    }

    // the references (4.4.3)
    let qp = qualifying_properties(signature);
    let signed_props = qp
        .as_ref()
        .and_then(|q| xml::child(q, XADES, "SignedProperties"));
    let mut props_signed = false;
    let mut data_refs = 0;
    for (k, rf) in references.iter().enumerate() {
        let uri = rf.get_attribute("URI");
        let what = match uri.as_deref() {
            Some("") => "the document".to_string(),
            Some(u) => u.to_string(),
            None => format!("reference {} (no URI)", k + 1),
        };
        let is_props_ref =
            rf.get_attribute("Type").as_deref() == Some(uris::SIGNED_PROPERTIES_TYPE);
        match reference::process(doc, ids, signature, rf, external) {
            Ok(p) if p.computed == p.stated => {
                let points_at_props = matches!((p.target, &signed_props), (Some(t), Some(sp)) if t == xml::NodeId::of(sp));
                if points_at_props {
                    props_signed = true;
                } else {
                    data_refs += 1;
                }
                if is_props_ref && !points_at_props {
                    r.add(
                        I::TotalFailed,
                        Some(S::FormatFailure),
                        format!("the SignedProperties reference {what} does not point to this signature's xades:SignedProperties"),
                    );
                }
                r.add(
                    I::TotalPassed,
                    None,
                    format!("reference to {what} ({}): the digest matches", p.algorithm),
                );
                if let Some(e) = p.external {
                    one.covered.push(e);
                }
            }
            Ok(p) => r.add(
                I::TotalFailed,
                Some(S::HashFailure),
                format!(
                    "reference to {what} ({}): the digest does not match: the data was changed after signing, or it is not the data that was signed",
                    p.algorithm
                ),
            ),
            Err(RefError::NotFound(m)) => {
                r.add(I::Indeterminate, Some(S::SignedDataNotFound), format!("reference to {what}: {m}"))
            }
            Err(RefError::Unsupported(m)) => r.add(
                I::Indeterminate,
                Some(S::FormatFailure),
                format!("reference to {what}: not supported: {m}"),
            ),
            Err(RefError::Malformed(m)) => {
                r.add(I::TotalFailed, Some(S::FormatFailure), format!("reference to {what}: {m}"))
            }
        }
    }
    if data_refs == 0 && r.indication == I::TotalPassed {
        r.add(
            I::TotalFailed,
            Some(S::FormatFailure),
            "no reference signs any data (only the signature's own properties)",
        );
    }

    // certificates carried: KeyInfo, then LT's CertificateValues
    let mut key_info: Vec<Vec<u8>> = vec![];
    if let Some(ki) = ds(signature, "KeyInfo") {
        for x in xml::children(&ki, DS, "X509Data") {
            key_info.extend(certificates(&x, DS, "X509Certificate", &mut r));
        }
    }
    let unsigned = qp
        .as_ref()
        .and_then(|q| xml::child(q, XADES, "UnsignedProperties"))
        .and_then(|u| xml::child(&u, XADES, "UnsignedSignatureProperties"));
    let mut carried: Vec<Vec<u8>> = key_info.clone();
    let mut timestamps: Vec<(Vec<u8>, C14n)> = vec![];
    let mut archive_timestamps = 0;
    if let Some(u) = &unsigned {
        for p in u.get_child_elements() {
            let ns = p.get_namespace().map(|n| n.get_href()).unwrap_or_default();
            match (ns.as_str(), p.get_name().as_str()) {
                (XADES, "SignatureTimeStamp") => {
                    // without a method: inclusive C14N 1.0 (EN 319 132-1 5.3)
                    let c = ds(&p, "CanonicalizationMethod")
                        .and_then(|c| c.get_attribute("Algorithm"))
                        .map_or(Some(C14n::Inclusive10 { comments: false }), |u| {
                            C14n::from_uri(&u)
                        });
                    for t in xml::children(&p, XADES, "EncapsulatedTimeStamp") {
                        match (uris::base64(&t.get_content()), c) {
                            (Ok(tok), Some(c)) => timestamps.push((tok, c)),
                            (Err(_), _) => r.add(I::TotalPassed, None, "a signature time-stamp that is not base64 was ignored"),
                            (_, None) => r.add(I::TotalPassed, None, "a signature time-stamp with an unknown canonicalisation method was ignored"),
                        }
                    }
                }
                (XADES, "CertificateValues") => {
                    certificate_values(&p, &mut one.embedded, &mut carried, &mut r)
                }
                (XADES, "RevocationValues") => revocation_values(&p, &mut one.embedded, &mut r),
                (XADES141, "TimeStampValidationData") => {
                    if let Some(v) = xml::child(&p, XADES, "CertificateValues") {
                        certificate_values(&v, &mut one.embedded, &mut carried, &mut r);
                    }
                    if let Some(rv) = xml::child(&p, XADES, "RevocationValues") {
                        revocation_values(&rv, &mut one.embedded, &mut r);
                    }
                }
                (XADES141, "ArchiveTimeStamp") => archive_timestamps += 1,
                _ => {}
            }
        }
    }
    if archive_timestamps > 0 {
        r.add(
            I::TotalPassed,
            None,
            format!("{archive_timestamps} archive time-stamp(s) (XAdES-LTA) present: not used as proof of existence by this validator (the signature time-stamp and the archive's own evidence record are)"),
        );
    }
    one.check.pool = carried
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();

    // the signed properties (EN 319 132-1 5.2)
    let ssp = signed_props
        .as_ref()
        .and_then(|sp| xml::child(sp, XADES, "SignedSignatureProperties"));
    let mut cert_refs: Vec<(bewahr_core::alg::DigestAlgorithm, Vec<u8>)> = vec![];
    let mut ref_kind = "";
    if let Some(ssp) = &ssp {
        for (local, kind) in [
            ("SigningCertificateV2", "SigningCertificateV2"),
            ("SigningCertificate", "SigningCertificate"),
        ] {
            if let Some(sc) = xml::child(ssp, XADES, local) {
                ref_kind = kind;
                for cert in xml::children(&sc, XADES, "Cert") {
                    let Some(cd) = xml::child(&cert, XADES, "CertDigest") else {
                        continue;
                    };
                    let alg = ds(&cd, "DigestMethod")
                        .and_then(|m| m.get_attribute("Algorithm"))
                        .and_then(|u| uris::digest(&u));
                    let val =
                        ds(&cd, "DigestValue").and_then(|v| uris::base64(&v.get_content()).ok());
                    if let (Some(a), Some(v)) = (alg, val) {
                        cert_refs.push((a, v));
                    }
                }
                break;
            }
        }
        if let Some(t) = xml::child(ssp, XADES, "SigningTime") {
            match parse_time(&t.get_content()) {
                Some(t) => {
                    one.check.signing_time = Some(t);
                    r.signing_time = Some(trust::rfc3339(t));
                }
                None => r.add(
                    I::TotalFailed,
                    Some(S::FormatFailure),
                    "xades:SigningTime is not a date and time",
                ),
            }
        }
    }
    if qp.is_none() {
        r.add(I::TotalPassed, None, "no XAdES qualifying properties: a plain XML-DSig signature (not XAdES baseline); nothing binds the certificate in ds:KeyInfo to it");
    } else if signed_props.is_none() {
        r.add(
            I::TotalFailed,
            Some(S::FormatFailure),
            "xades:QualifyingProperties without xades:SignedProperties",
        );
    } else if !props_signed {
        r.add(
            I::TotalFailed,
            Some(S::FormatFailure),
            "the xades:SignedProperties are not covered by a reference of the signature",
        );
    }

    // the signer (EN 319 102-1 5.2.3: identification of the signing certificate)
    let signer_der: Option<Vec<u8>> = if cert_refs.is_empty() {
        if qp.is_some() && signed_props.is_some() {
            r.add(I::TotalPassed, None, "no signing certificate reference among the signed properties (not XAdES baseline): the certificate in ds:KeyInfo is taken");
        }
        key_info.first().cloned()
    } else {
        let hit = carried
            .iter()
            .find(|c| cert_refs.iter().any(|(a, d)| a.digest(c) == *d))
            .cloned();
        match &hit {
            Some(_) => r.add(I::TotalPassed, None, format!("the signing certificate reference ({ref_kind}) identifies the signer's certificate")),
            None => r.add(I::Indeterminate, Some(S::NoSigningCertificateFound), format!("no certificate the signature carries matches its signing certificate reference ({ref_kind}, by digest)")),
        }
        hit
    };
    let signer = signer_der
        .as_deref()
        .and_then(|d| Certificate::from_der(d).ok());
    let Some(signer) = signer else {
        if r.indication == I::TotalPassed {
            r.add(
                I::Indeterminate,
                Some(S::NoSigningCertificateFound),
                "the signature carries no signer certificate (ds:KeyInfo/ds:X509Data)",
            );
        }
        return done(one, r);
    };
    r.signer = Some(trust::subject(&signer));
    r.signer_certificate_sha256 = Some(certs::fingerprint(&signer));
    r.qualification = certs::qualification(&signer);
    one.check.signer = Some(signer.clone());

    // signature time-stamps: over the canonical ds:SignatureValue element (5.3)
    if let Some((_, c)) = timestamps.first() {
        match xml::canonicalize_direct(doc, Some(ids), &Selection::subtree(&sv), *c, &[]) {
            Ok(b) => one.check.signature_value = b,
            Err(e) => r.add(
                I::TotalPassed,
                None,
                format!("the signature time-stamps are not used: ds:SignatureValue: {e}"),
            ),
        }
        if timestamps.iter().any(|(_, d)| d != c) {
            r.add(I::TotalPassed, None, "signature time-stamps with different canonicalisation methods: only those with the first one's are used");
        }
        one.check.timestamps = timestamps
            .iter()
            .filter(|(_, d)| d == c)
            .map(|(t, _)| t.clone())
            .collect();
    }

    // the signature value over the canonical SignedInfo (4.4.1)
    let Some((scheme, fixed)) = uris::signature(&method_uri) else {
        r.add(
            I::Indeterminate,
            Some(S::CryptoConstraintsFailure),
            format!("the signature method {method_uri:?} is not supported"),
        );
        return done(one, r);
    };
    let prefixes = c14n_el
        .as_ref()
        .map(reference::inclusive_prefixes)
        .unwrap_or_default();
    let signed = match xml::canonicalize_direct(
        doc,
        Some(ids),
        &Selection::subtree(&si),
        si_c14n,
        &prefixes,
    ) {
        Ok(b) => b,
        Err(e) => {
            r.add(
                I::TotalFailed,
                Some(S::FormatFailure),
                format!("ds:SignedInfo: {e}"),
            );
            return done(one, r);
        }
    };
    let value = if fixed {
        match sig::ecdsa_fixed_to_der(&value) {
            Some(v) => v,
            None => {
                r.add(
                    I::TotalFailed,
                    Some(S::FormatFailure),
                    "the ECDSA signature value is not r||s",
                );
                return done(one, r);
            }
        }
    } else {
        value
    };
    let verified = sig::verify(
        &signer.tbs_certificate.subject_public_key_info,
        scheme,
        &signed,
        &value,
    );
    one.check.crypto_ok =
        bewahr_core::signature::cades::record_signature_value(&mut r, scheme, verified);
    done(one, r)
}

/// `CertificateValues`: certificates that may complete the signer's path,
/// kept as the core's validation data.
fn certificate_values(
    v: &Node,
    data: &mut ValidationData,
    carried: &mut Vec<Vec<u8>>,
    r: &mut SignatureReport,
) {
    for c in certificates(v, XADES, "EncapsulatedX509Certificate", r) {
        data.add_certificate(&c);
        carried.push(c);
    }
}

/// `RevocationValues`: CRLs and OCSP responses, kept as the core's validation data.
fn revocation_values(rv: &Node, data: &mut ValidationData, r: &mut SignatureReport) {
    let values = |list: &str, item: &str, r: &mut SignatureReport| -> Vec<Vec<u8>> {
        let mut out = vec![];
        for v in xml::child(rv, XADES, list)
            .map(|l| xml::children(&l, XADES, item).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            match uris::base64(&v.get_content()) {
                Ok(der) => out.push(der),
                Err(_) => r.add(
                    I::TotalPassed,
                    None,
                    format!("an {item} that is not base64 was ignored"),
                ),
            }
        }
        out
    };
    for c in values("CRLValues", "EncapsulatedCRLValue", r) {
        data.add_crl(&c);
    }
    for o in values("OCSPValues", "EncapsulatedOCSPValue", r) {
        data.add_ocsp(&o);
    }
}
