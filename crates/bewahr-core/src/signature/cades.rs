//! CMS / CAdES signer infos (RFC 5652, ETSI EN 319 122-1): the signature
//! value over the signed attributes, content type, message digest, the
//! signing-certificate binding (ESSCertID v1/v2), the claimed signing time
//! and a signature time-stamp. Pure: bytes in, findings out.

use const_oid::ObjectIdentifier as O;
use der::asn1::OctetString;
use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::Certificate;

use super::report::{Indication as I, SignatureReport, SubIndication as S};
use crate::alg::DigestAlgorithm;
use crate::tsp::sig;
use crate::tsp::signed_data::{SignedData, SignedDataError};
use crate::tsp::token::{
    SigningCertificate, SigningCertificateV2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST,
    ID_SIGNING_CERTIFICATE, ID_SIGNING_CERTIFICATE_V2, ID_SIGNING_TIME,
};
use crate::tsp::trust;

pub const ID_DATA: O = O::new_unwrap("1.2.840.113549.1.7.1");
pub const ID_AA_SIGNATURE_TIME_STAMP: O = O::new_unwrap("1.2.840.113549.1.9.16.2.14");

/// A parsed SignedData with the raw signed attributes of each signer.
pub struct Parsed {
    pub signed_data: SignedData,
    /// Per signer info: its signedAttrs re-tagged as SET OF, exactly as signed.
    pub raw_signed_attrs: Vec<Option<Vec<u8>>>,
    /// The encapsulated content, if the signature envelops it.
    pub econtent: Option<Vec<u8>>,
    pub certificates: Vec<Certificate>,
}

/// Why the bytes are not a usable SignedData.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmsError {
    #[error("not a CMS ContentInfo: {0}")]
    NotCms(String),
    #[error("the CMS content type is {0}, not signedData")]
    NotSignedData(String),
    #[error("SignedData is malformed: {0}")]
    Malformed(String),
    #[error("the SignedData has no signer info")]
    NoSigner,
}

/// Whether the bytes look like a DER ContentInfo of type signedData.
pub fn is_signed_data(bytes: &[u8]) -> bool {
    // SEQUENCE (any length form) { OBJECT IDENTIFIER 1.2.840.113549.1.7.2, ...
    const OID: [u8; 11] = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    let skip = match bytes.get(1) {
        Some(&l) if l <= 0x80 => 2,
        Some(&l) if l <= 0x84 => 2 + (l & 0x7f) as usize,
        _ => return false,
    };
    bytes.first() == Some(&0x30) && bytes.get(skip..skip + OID.len()) == Some(&OID[..])
}

/// Parses a SignedData in DER or BER ([`crate::tsp::signed_data`]: every
/// RevocationInfoChoice is read, OCSP responses included).
pub fn parse(bytes: &[u8]) -> Result<Parsed, CmsError> {
    if bytes.first() == Some(&0x30) && bytes.get(1) != Some(&0x80) {
        crate::ers::check_depth("CMS", bytes).map_err(|e| CmsError::Malformed(e.to_string()))?;
    }
    let sd = SignedData::parse(bytes).map_err(|e| match e {
        SignedDataError::NotSignedData(o) => CmsError::NotSignedData(o),
        SignedDataError::NotContentInfo(d) => CmsError::NotCms(d),
        SignedDataError::Ber(e) => CmsError::NotCms(e.to_string()),
        e => CmsError::Malformed(e.to_string()),
    })?;
    if sd.signer_infos.is_empty() {
        return Err(CmsError::NoSigner);
    }
    Ok(Parsed {
        raw_signed_attrs: sd.raw_signed_attrs.clone(),
        econtent: sd.econtent.clone(),
        certificates: sd.certificates.clone(),
        signed_data: sd,
    })
}

/// What the cryptographic checks of one signer found, for the later steps.
pub struct SignerCheck {
    pub report: SignatureReport,
    /// The signer's certificate, if found.
    pub signer: Option<Certificate>,
    /// Certificates carried with the signature.
    pub pool: Vec<Certificate>,
    /// Claimed signing time (signed attribute).
    pub signing_time: Option<OffsetDateTime>,
    /// The signature value (what a signature time-stamp covers).
    pub signature_value: Vec<u8>,
    /// Signature time-stamp tokens (unsigned attribute), raw.
    pub timestamps: Vec<Vec<u8>>,
    /// Whether the signature value and digests verified: later steps only
    /// judge certificates of signatures that did.
    pub crypto_ok: bool,
}

impl SignerCheck {
    /// A signature not (or not yet) checked: only its report.
    pub fn unchecked(report: SignatureReport) -> Self {
        SignerCheck {
            report,
            signer: None,
            pool: vec![],
            signing_time: None,
            signature_value: vec![],
            timestamps: vec![],
            crypto_ok: false,
        }
    }
}

/// Records in `r` how the signature value verified (the same words for CMS
/// and XML signatures); `true` when it did.
pub fn record_signature_value(
    r: &mut SignatureReport,
    scheme: sig::Scheme,
    verified: Result<sig::KeyInfo, sig::SignatureError>,
) -> bool {
    match verified {
        Ok(key) => {
            let name = scheme.name(&key);
            r.add(
                I::TotalPassed,
                None,
                format!("the signature value verifies ({name})"),
            );
            r.signature_algorithm = Some(name);
            true
        }
        Err(e @ sig::SignatureError::Invalid(_)) => {
            r.add(
                I::TotalFailed,
                Some(S::SigCryptoFailure),
                format!("signature value: {e}"),
            );
            false
        }
        Err(e) => {
            r.add(
                I::Indeterminate,
                Some(S::CryptoConstraintsFailure),
                format!("signature: {e}"),
            );
            false
        }
    }
}

/// Checks every signer of `parsed` against the content: `content` is the
/// detached data (in parts, e.g. a PDF's two byte ranges) or `None` to use
/// the encapsulated content. `extra` are certificates known from elsewhere.
pub fn check_signers(
    parsed: &Parsed,
    content: Option<&[&[u8]]>,
    extra: &[Certificate],
    id_prefix: &str,
) -> Vec<SignerCheck> {
    let sd = &parsed.signed_data;
    let n = sd.signer_infos.len();
    let econtent_parts: Vec<&[u8]>;
    let content: Option<&[&[u8]]> = match (content, &parsed.econtent) {
        (Some(c), _) => Some(c),
        (None, Some(e)) => {
            econtent_parts = vec![e.as_slice()];
            Some(&econtent_parts)
        }
        (None, None) => None,
    };
    sd.signer_infos
        .iter()
        .enumerate()
        .map(|(i, si)| {
            let id = if n == 1 {
                id_prefix.to_string()
            } else {
                format!("{id_prefix}, signer {}", i + 1)
            };
            check_one(
                parsed,
                si,
                parsed.raw_signed_attrs[i].as_deref(),
                content,
                extra,
                id,
            )
        })
        .collect()
}

fn check_one(
    parsed: &Parsed,
    si: &cms::signed_data::SignerInfo,
    raw_attrs: Option<&[u8]>,
    content: Option<&[&[u8]]>,
    extra: &[Certificate],
    id: String,
) -> SignerCheck {
    let mut r = SignatureReport::new(id);
    let pool: Vec<Certificate> = parsed.certificates.clone();
    let signer = crate::tsp::token::find_signer(&si.sid, &pool)
        .or_else(|| crate::tsp::token::find_signer(&si.sid, extra))
        .cloned();
    let mut out = SignerCheck {
        report: SignatureReport::new(""),
        signer: signer.clone(),
        pool,
        signing_time: None,
        signature_value: si.signature.as_bytes().to_vec(),
        timestamps: vec![],
        crypto_ok: false,
    };
    if let Some(c) = &signer {
        r.signer = Some(trust::subject(c));
        r.signer_certificate_sha256 = Some(super::certs::fingerprint(c));
        r.qualification = super::certs::qualification(c);
    }
    for a in si.unsigned_attrs.iter().flat_map(|s| s.iter()) {
        if a.oid == ID_AA_SIGNATURE_TIME_STAMP {
            out.timestamps
                .extend(a.values.iter().filter_map(|v| v.to_der().ok()));
        }
    }

    let digest_alg = match DigestAlgorithm::from_algorithm_identifier(&si.digest_alg) {
        Ok(a) => a,
        Err(e) => {
            r.add(
                I::Indeterminate,
                Some(S::CryptoConstraintsFailure),
                format!("digest algorithm: {e}"),
            );
            out.report = r;
            return out;
        }
    };
    let Some(content) = content else {
        r.add(I::Indeterminate, Some(S::SignedDataNotFound), "the signature is detached and the signed document was not given (send it as the `document` part with the signature as `signature`)");
        out.report = r;
        return out;
    };
    let content_digest = digest_alg.digest_parts(content);
    let attrs = si.signed_attrs.as_ref();
    let attr = |oid: O| {
        attrs
            .into_iter()
            .flat_map(|a| a.iter())
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let signed_bytes: Vec<u8> = match (attrs, raw_attrs) {
        (Some(_), Some(raw_a)) => {
            // content type and message digest (RFC 5652 5.3, 11.1, 11.2)
            match attr(ID_CONTENT_TYPE).map(|v| v.decode_as::<O>()) {
                Some(Ok(ct)) if parsed.signed_data.econtent_type == ct => {}
                Some(Ok(ct)) => r.add(I::TotalFailed, Some(S::FormatFailure), format!("the content-type attribute {ct} differs from the encapsulated content type")),
                _ => r.add(I::TotalFailed, Some(S::FormatFailure), "the content-type signed attribute is missing or malformed"),
            }
            match attr(ID_MESSAGE_DIGEST).map(|v| v.decode_as::<OctetString>()) {
                Some(Ok(md)) if md.as_bytes() == content_digest.as_slice() => r.add(
                    I::TotalPassed,
                    None,
                    format!("the message digest ({digest_alg}) matches the signed data"),
                ),
                Some(Ok(_)) => r.add(
                    I::TotalFailed,
                    Some(S::HashFailure),
                    format!("the message digest ({digest_alg}) does not match the signed data: the document was changed after signing, or it is not the document that was signed"),
                ),
                _ => r.add(I::TotalFailed, Some(S::FormatFailure), "the message-digest signed attribute is missing or malformed"),
            }
            if let Some(t) = attr(ID_SIGNING_TIME) {
                if let Ok(t) = t.to_der().and_then(|d| x509_cert::time::Time::from_der(&d)) {
                    let t =
                        OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
                            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                    out.signing_time = Some(t);
                    r.signing_time = Some(trust::rfc3339(t));
                }
            }
            raw_a.to_vec()
        }
        (Some(_), None) => {
            r.add(
                I::TotalFailed,
                Some(S::FormatFailure),
                "cannot locate the signed attributes in the encoding",
            );
            out.report = r;
            return out;
        }
        // no signed attributes: the signature is over the content itself (plain CMS, not CAdES)
        (None, _) => {
            r.add(
                I::TotalPassed,
                None,
                "no signed attributes: a plain CMS signature over the content (not CAdES baseline)",
            );
            content.concat()
        }
    };

    let Some(signer) = signer else {
        r.add(
            I::Indeterminate,
            Some(S::NoSigningCertificateFound),
            "the signer's certificate is neither in the signature nor among the known certificates",
        );
        out.report = r;
        return out;
    };
    let signer_der = signer.to_der().unwrap_or_default();
    // ESSCertIDv2 (RFC 5035) or ESSCertID (RFC 2634): binds the certificate to the signature
    if let Some(v2) = attr(ID_SIGNING_CERTIFICATE_V2) {
        let ok = v2.decode_as::<SigningCertificateV2>().ok().and_then(|sc| {
            let first = sc.certs.first()?.clone();
            let alg = match &first.hash_algorithm {
                Some(a) => DigestAlgorithm::from_algorithm_identifier(a).ok()?,
                None => DigestAlgorithm::Sha256,
            };
            Some(first.cert_hash.as_bytes() == alg.digest(&signer_der).as_slice())
        });
        match ok {
            Some(true) => r.add(
                I::TotalPassed,
                None,
                "the signing-certificate-v2 attribute identifies the signer's certificate",
            ),
            _ => r.add(
                I::TotalFailed,
                Some(S::SigCryptoFailure),
                "the signing-certificate-v2 attribute does not identify the signer's certificate",
            ),
        }
    } else if let Some(v1) = attr(ID_SIGNING_CERTIFICATE) {
        let ok = v1.decode_as::<SigningCertificate>().ok().and_then(|sc| {
            Some(
                sc.certs.first()?.cert_hash.as_bytes()
                    == DigestAlgorithm::Sha1.digest(&signer_der).as_slice(),
            )
        });
        match ok {
            Some(true) => r.add(
                I::TotalPassed,
                None,
                "the signing-certificate attribute identifies the signer's certificate",
            ),
            _ => r.add(
                I::TotalFailed,
                Some(S::SigCryptoFailure),
                "the signing-certificate attribute does not identify the signer's certificate",
            ),
        }
    } else if attrs.is_some() {
        r.add(I::TotalPassed, None, "no signing-certificate(-v2) attribute: the certificate is not bound to the signature (not CAdES baseline)");
    }

    match sig::scheme(&si.signature_algorithm, Some(digest_alg)) {
        Err(e) => r.add(
            I::Indeterminate,
            Some(S::CryptoConstraintsFailure),
            format!("signature algorithm: {e}"),
        ),
        Ok(scheme) => {
            let verified = sig::verify(
                &signer.tbs_certificate.subject_public_key_info,
                scheme,
                &signed_bytes,
                si.signature.as_bytes(),
            );
            if record_signature_value(&mut r, scheme, verified) {
                out.crypto_ok = r.indication == I::TotalPassed;
            }
        }
    }
    out.report = r;
    out
}
