//! Parsing and checking RFC 3161 time-stamp tokens: the CMS SignedData
//! signature, the signed attributes, the ESSCertID / ESSCertIDv2 binding to
//! the signer certificate and its timeStamping key purpose. Trust in the
//! signer (a path to a trusted certificate) is [`crate::tsp::trust`]'s job.

use const_oid::ObjectIdentifier as O;
use der::asn1::OctetString;
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::Certificate;

use super::sig::{self, KeyInfo, SignatureError};
use super::tstinfo::TstInfo;
use crate::alg::DigestAlgorithm;
use crate::ers::raw;

pub const ID_SIGNED_DATA: O = O::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_CT_TST_INFO: O = O::new_unwrap("1.2.840.113549.1.9.16.1.4");
pub const ID_CONTENT_TYPE: O = O::new_unwrap("1.2.840.113549.1.9.3");
pub const ID_MESSAGE_DIGEST: O = O::new_unwrap("1.2.840.113549.1.9.4");
pub const ID_SIGNING_TIME: O = O::new_unwrap("1.2.840.113549.1.9.5");
pub const ID_SIGNING_CERTIFICATE: O = O::new_unwrap("1.2.840.113549.1.9.16.2.12");
pub const ID_SIGNING_CERTIFICATE_V2: O = O::new_unwrap("1.2.840.113549.1.9.16.2.47");
pub const ID_KP_TIME_STAMPING: O = O::new_unwrap("1.3.6.1.5.5.7.3.8");
pub const ID_CE_EXT_KEY_USAGE: O = O::new_unwrap("2.5.29.37");
pub const ID_CE_SUBJECT_KEY_IDENTIFIER: O = O::new_unwrap("2.5.29.14");

/// ```text
/// SigningCertificate ::= SEQUENCE {
///     certs       SEQUENCE OF ESSCertID,
///     policies    SEQUENCE OF PolicyInformation OPTIONAL }
/// ESSCertID ::= SEQUENCE {
///     certHash    Hash,                      -- SHA-1
///     issuerSerial IssuerSerial OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
pub struct SigningCertificate {
    pub certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    pub policies: Option<der::Any>,
}

#[derive(Clone, Debug, Sequence)]
pub struct EssCertId {
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// ```text
/// SigningCertificateV2 ::= SEQUENCE {
///     certs       SEQUENCE OF ESSCertIDv2,
///     policies    SEQUENCE OF PolicyInformation OPTIONAL }
/// ESSCertIDv2 ::= SEQUENCE {
///     hashAlgorithm  AlgorithmIdentifier DEFAULT {algorithm id-sha256},
///     certHash       Hash,
///     issuerSerial   IssuerSerial OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<der::Any>,
}

#[derive(Clone, Debug, Sequence)]
pub struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// ```text
/// IssuerSerial ::= SEQUENCE {
///     issuer         GeneralNames,
///     serialNumber   CertificateSerialNumber }
/// ```
#[derive(Clone, Debug, Sequence)]
pub struct IssuerSerial {
    pub issuer: der::Any,
    pub serial_number: x509_cert::serial_number::SerialNumber,
}

/// Why a time-stamp token is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("time-stamp token is malformed: {0}")]
    Format(String),
    #[error("time-stamp token: content type {0} is not SignedData")]
    NotSignedData(String),
    #[error("time-stamp token: encapsulated content type {0} is not TSTInfo")]
    NotTstInfo(String),
    #[error("time-stamp token has {0} signer infos; RFC 3161 allows exactly one, the TSA's")]
    SignerCount(usize),
    #[error("time-stamp token: signed attribute {0} is missing")]
    MissingAttribute(&'static str),
    #[error("time-stamp token: signed content-type attribute is not id-ct-TSTInfo")]
    ContentTypeMismatch,
    #[error("time-stamp token: message-digest attribute does not match the TSTInfo ({alg})")]
    MessageDigestMismatch { alg: DigestAlgorithm },
    #[error("time-stamp token: the signer certificate ({signer}) is neither in the token nor among the given certificates")]
    NoSignerCertificate { signer: String },
    #[error("time-stamp token: the {attribute} attribute does not identify the signer certificate {subject}")]
    SigningCertificateMismatch {
        attribute: &'static str,
        subject: String,
    },
    #[error("time-stamp token signature by {subject}: {source}")]
    Signature {
        subject: String,
        source: SignatureError,
    },
    #[error("TSA certificate {subject}: {detail}")]
    KeyPurpose {
        subject: String,
        detail: &'static str,
    },
}

/// A time-stamp token whose signature and signer binding have been checked.
#[derive(Clone, Debug)]
pub struct CheckedToken {
    pub tst_info: TstInfo,
    pub gen_time: OffsetDateTime,
    pub imprint_algorithm: DigestAlgorithm,
    pub imprint: Vec<u8>,
    /// The certificate that signed the token.
    pub signer: Certificate,
    /// The certificates the token carries.
    pub certificates: Vec<Certificate>,
    pub signature_algorithm: String,
    pub key: KeyInfo,
    /// Whether the signer certificate's extendedKeyUsage is critical and only timeStamping (RFC 3161 2.3).
    pub key_purpose_ok: bool,
}

/// Parses a TimeStampToken far enough to read its TSTInfo, without checking anything.
pub fn read_tst_info(token: &[u8]) -> Result<TstInfo, TokenError> {
    let (sd, _) = signed_data(token)?;
    tst_info(&sd).map(|(t, _)| t)
}

fn fmt_err(what: &str, e: impl std::fmt::Display) -> TokenError {
    TokenError::Format(format!("{what}: {e}"))
}

fn signed_data(token: &[u8]) -> Result<(cms::signed_data::SignedData, Vec<u8>), TokenError> {
    crate::ers::check_depth("TimeStampToken", token)
        .map_err(|e| TokenError::Format(e.to_string()))?;
    let ci =
        cms::content_info::ContentInfo::from_der(token).map_err(|e| fmt_err("ContentInfo", e))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(TokenError::NotSignedData(ci.content_type.to_string()));
    }
    let sd: cms::signed_data::SignedData = ci
        .content
        .decode_as()
        .map_err(|e| fmt_err("SignedData", e))?;
    // the signed attributes exactly as signed: [0] IMPLICIT SET OF, re-tagged as SET
    let raw_attrs = raw_signed_attrs(token)
        .ok_or_else(|| TokenError::Format("cannot locate the signer info".into()))?;
    Ok((sd, raw_attrs))
}

fn tst_info(sd: &cms::signed_data::SignedData) -> Result<(TstInfo, Vec<u8>), TokenError> {
    let eci = &sd.encap_content_info;
    if eci.econtent_type != ID_CT_TST_INFO {
        return Err(TokenError::NotTstInfo(eci.econtent_type.to_string()));
    }
    let content = eci
        .econtent
        .as_ref()
        .ok_or_else(|| TokenError::Format("no encapsulated TSTInfo".into()))?;
    let octets: OctetString = content.decode_as().map_err(|e| fmt_err("eContent", e))?;
    let bytes = octets.into_bytes();
    let t = TstInfo::from_der(&bytes).map_err(|e| fmt_err("TSTInfo", e))?;
    if t.version != 1 {
        return Err(TokenError::Format(format!("TSTInfo version {}", t.version)));
    }
    Ok((t, bytes))
}

/// ContentInfo → [0] → SignedData → signerInfos (last SET) → first SignerInfo → [0] signedAttrs.
fn raw_signed_attrs(token: &[u8]) -> Option<Vec<u8>> {
    raw_signed_attrs_each(token, 1).pop().flatten()
}

/// The signed attributes of the first `n` SignerInfos exactly as signed:
/// ContentInfo → [0] → SignedData → signerInfos (last SET) → each
/// SignerInfo → [0] signedAttrs, re-tagged as SET OF (RFC 5652 5.4).
pub fn raw_signed_attrs_each(content_info: &[u8], n: usize) -> Vec<Option<Vec<u8>>> {
    let infos = (|| {
        let ci = raw::children(content_info)?;
        let sd = *raw::children(ci.get(1)?)?.first()?;
        let fields = raw::children(sd)?;
        let set = fields.iter().rev().find(|f| f.first() == Some(&0x31))?;
        raw::children(set)
    })()
    .unwrap_or_default();
    (0..n)
        .map(|i| {
            let si = infos.get(i)?;
            let attrs = raw::children(si)?
                .into_iter()
                .find(|f| f.first() == Some(&0xa0))?;
            let mut v = attrs.to_vec();
            v[0] = 0x31;
            Some(v)
        })
        .collect()
}

fn subject(c: &Certificate) -> String {
    c.tbs_certificate.subject.to_string()
}

/// The certificate in `pool` that a SignerInfo's sid names.
pub fn find_signer<'a>(
    sid: &cms::signed_data::SignerIdentifier,
    pool: &'a [Certificate],
) -> Option<&'a Certificate> {
    use cms::signed_data::SignerIdentifier as S;
    pool.iter().find(|c| match sid {
        S::IssuerAndSerialNumber(ias) => {
            c.tbs_certificate.issuer == ias.issuer
                && c.tbs_certificate.serial_number == ias.serial_number
        }
        S::SubjectKeyIdentifier(ski) => c.tbs_certificate.extensions.iter().flatten().any(|e| {
            e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER
                && e.extn_value.as_bytes().ends_with(ski.0.as_bytes())
        }),
    })
}

/// The X.509 certificates a SignedData carries (other certificate formats are skipped).
pub fn carried_certificates(sd: &cms::signed_data::SignedData) -> Vec<Certificate> {
    sd.certificates
        .iter()
        .flat_map(|s| s.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// Whether the certificate has a critical extendedKeyUsage of exactly id-kp-timeStamping.
pub fn has_timestamping_purpose(c: &Certificate) -> Result<(), &'static str> {
    let ext = c
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
        .ok_or("no extendedKeyUsage extension (RFC 3161 requires id-kp-timeStamping)")?;
    let purposes =
        Vec::<O>::from_der(ext.extn_value.as_bytes()).map_err(|_| "malformed extendedKeyUsage")?;
    if purposes != [ID_KP_TIME_STAMPING] {
        return Err("extendedKeyUsage is not exactly id-kp-timeStamping");
    }
    if !ext.critical {
        return Err("extendedKeyUsage is not critical (RFC 3161 section 2.3)");
    }
    Ok(())
}

/// Parses a token and checks everything that needs no trust decision.
///
/// `extra` are certificates known from elsewhere (trusted TSA certificates,
/// certificates preserved beside the record); the signer may be among them.
pub fn check_token(token: &[u8], extra: &[Certificate]) -> Result<CheckedToken, TokenError> {
    let (sd, signed_attrs_der) = signed_data(token)?;
    let (tst, tst_der) = tst_info(&sd)?;
    let signers: Vec<_> = sd.signer_infos.0.iter().collect();
    if signers.len() != 1 {
        return Err(TokenError::SignerCount(signers.len()));
    }
    let si = signers[0];
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or(TokenError::MissingAttribute("signedAttrs"))?;
    let attr = |oid: O| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };

    let ct: O = attr(ID_CONTENT_TYPE)
        .ok_or(TokenError::MissingAttribute("content-type"))?
        .decode_as()
        .map_err(|e| fmt_err("content-type attribute", e))?;
    if ct != ID_CT_TST_INFO {
        return Err(TokenError::ContentTypeMismatch);
    }
    let digest_alg = DigestAlgorithm::from_algorithm_identifier(&si.digest_alg).map_err(|e| {
        TokenError::Signature {
            subject: "?".into(),
            source: SignatureError::Unsupported(e.to_string()),
        }
    })?;
    let md: OctetString = attr(ID_MESSAGE_DIGEST)
        .ok_or(TokenError::MissingAttribute("message-digest"))?
        .decode_as()
        .map_err(|e| fmt_err("message-digest attribute", e))?;
    if md.as_bytes() != digest_alg.digest(&tst_der).as_slice() {
        return Err(TokenError::MessageDigestMismatch { alg: digest_alg });
    }

    let carried = carried_certificates(&sd);
    let signer = find_signer(&si.sid, &carried)
        .or_else(|| find_signer(&si.sid, extra))
        .cloned()
        .ok_or_else(|| TokenError::NoSignerCertificate {
            signer: format!("{:?}", si.sid).chars().take(200).collect(),
        })?;
    let signer_der = signer
        .to_der()
        .map_err(|e| fmt_err("signer certificate", e))?;

    // ESSCertID (v1, SHA-1) or ESSCertIDv2 (RFC 5816): the first entry is the signer
    if let Some(v2) = attr(ID_SIGNING_CERTIFICATE_V2) {
        let sc: SigningCertificateV2 = v2
            .decode_as()
            .map_err(|e| fmt_err("signing-certificate-v2 attribute", e))?;
        let first = sc
            .certs
            .first()
            .ok_or(TokenError::MissingAttribute("ESSCertIDv2"))?;
        let alg = match &first.hash_algorithm {
            Some(a) => DigestAlgorithm::from_algorithm_identifier(a)
                .map_err(|e| fmt_err("ESSCertIDv2", e))?,
            None => DigestAlgorithm::Sha256,
        };
        if first.cert_hash.as_bytes() != alg.digest(&signer_der).as_slice()
            || first
                .issuer_serial
                .as_ref()
                .is_some_and(|is| is.serial_number != signer.tbs_certificate.serial_number)
        {
            return Err(TokenError::SigningCertificateMismatch {
                attribute: "signing-certificate-v2",
                subject: subject(&signer),
            });
        }
    } else if let Some(v1) = attr(ID_SIGNING_CERTIFICATE) {
        let sc: SigningCertificate = v1
            .decode_as()
            .map_err(|e| fmt_err("signing-certificate attribute", e))?;
        let first = sc
            .certs
            .first()
            .ok_or(TokenError::MissingAttribute("ESSCertID"))?;
        if first.cert_hash.as_bytes() != DigestAlgorithm::Sha1.digest(&signer_der).as_slice()
            || first
                .issuer_serial
                .as_ref()
                .is_some_and(|is| is.serial_number != signer.tbs_certificate.serial_number)
        {
            return Err(TokenError::SigningCertificateMismatch {
                attribute: "signing-certificate",
                subject: subject(&signer),
            });
        }
    } else {
        return Err(TokenError::MissingAttribute(
            "signing-certificate or signing-certificate-v2",
        ));
    }

    let scheme = sig::scheme(&si.signature_algorithm, Some(digest_alg)).map_err(|source| {
        TokenError::Signature {
            subject: subject(&signer),
            source,
        }
    })?;
    let key = sig::verify(
        &signer.tbs_certificate.subject_public_key_info,
        scheme,
        &signed_attrs_der,
        si.signature.as_bytes(),
    )
    .map_err(|source| TokenError::Signature {
        subject: subject(&signer),
        source,
    })?;

    let imprint_algorithm = DigestAlgorithm::from_oid(&tst.message_imprint.hash_algorithm.oid)
        .map_err(|e| fmt_err("messageImprint", e))?;
    let key_purpose_ok = has_timestamping_purpose(&signer).is_ok();
    Ok(CheckedToken {
        gen_time: tst.gen_time.0,
        imprint_algorithm,
        imprint: tst.message_imprint.hashed_message.as_bytes().to_vec(),
        tst_info: tst,
        signature_algorithm: scheme.name(&key),
        signer,
        certificates: carried,
        key,
        key_purpose_ok,
    })
}
