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
use super::signed_data::{SignedData, SignedDataError};
use super::tstinfo::TstInfo;
use crate::alg::DigestAlgorithm;
use crate::ers::raw;
use crate::signature::revocation::ValidationData;

pub use super::signed_data::ID_SIGNED_DATA;
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
    #[error("time-stamp token: SignedData version {0}, but RFC 5652 section 5.1 requires at least 3 for id-ct-TSTInfo")]
    SignedDataVersion(u64),
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
    /// Whether the signer certificate came from the token itself (else from the given ones).
    pub signer_in_token: bool,
    /// The certificates the token carries.
    pub certificates: Vec<Certificate>,
    /// What the token's SignedData carries for validating its signer: the
    /// certificates, the CRLs and the OCSP responses (RFC 5940, and the
    /// BasicOCSPResponses of TR-ESOR-ERS wrapped as OCSPResponse), as received.
    pub carried: ValidationData,
    pub signature_algorithm: String,
    /// The digest inside the signature scheme (rated by the algorithm catalogue).
    pub signature_digest: DigestAlgorithm,
    pub key: KeyInfo,
    /// Whether the signer certificate's extendedKeyUsage is critical and only timeStamping (RFC 3161 2.3).
    pub key_purpose_ok: bool,
    /// Deviations that do not make the token unusable.
    pub notes: Vec<String>,
}

/// Parses a TimeStampToken far enough to read its TSTInfo, without checking anything.
pub fn read_tst_info(token: &[u8]) -> Result<TstInfo, TokenError> {
    let sd = SignedData::parse_content(token).map_err(|e| match e {
        SignedDataError::NotSignedData(oid) => TokenError::NotSignedData(oid),
        e => fmt_err("SignedData", e),
    })?;
    tst_info(&sd).map(|(t, _)| t)
}

fn fmt_err(what: &str, e: impl std::fmt::Display) -> TokenError {
    TokenError::Format(format!("{what}: {e}"))
}

/// Reads the token's SignedData (DER or BER; see [`super::signed_data`]).
pub fn signed_data(token: &[u8]) -> Result<SignedData, TokenError> {
    if token.first() == Some(&0x30) && token.get(1) != Some(&0x80) {
        crate::ers::check_depth("TimeStampToken", token)
            .map_err(|e| TokenError::Format(e.to_string()))?;
    }
    SignedData::parse(token).map_err(|e| match e {
        SignedDataError::NotSignedData(oid) => TokenError::NotSignedData(oid),
        e => fmt_err("SignedData", e),
    })
}

fn tst_info(sd: &SignedData) -> Result<(TstInfo, Vec<u8>), TokenError> {
    if sd.econtent_type != ID_CT_TST_INFO {
        return Err(TokenError::NotTstInfo(sd.econtent_type.to_string()));
    }
    let bytes = sd
        .econtent
        .clone()
        .ok_or_else(|| TokenError::Format("no encapsulated TSTInfo".into()))?;
    let t = match TstInfo::from_der(&bytes) {
        Ok(t) => t,
        // a BER TSTInfo (the TSA hashed these bytes, so they stay as they are for the digest)
        Err(e) => crate::signature::ber::to_der(&bytes)
            .ok()
            .and_then(|d| TstInfo::from_der(&d).ok())
            .ok_or_else(|| fmt_err("TSTInfo", e))?,
    };
    if t.version != 1 {
        return Err(TokenError::Format(format!("TSTInfo version {}", t.version)));
    }
    Ok((t, bytes))
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
    let sd = signed_data(token)?;
    // RFC 5652 5.1: version 3 whenever eContentType is not id-data (5 when
    // crls holds `other` entries, as an embedded OCSP response is); below 3
    // a token is malformed
    let mut notes = Vec::new();
    let required = sd.required_version();
    if sd.version < 3 {
        return Err(TokenError::SignedDataVersion(sd.version));
    }
    if sd.version != required {
        notes.push(format!(
            "SignedData version {} where RFC 5652 section 5.1 prescribes {required} for what it holds (read anyway)",
            sd.version
        ));
    }
    for o in &sd.other_revocation {
        notes.push(format!(
            "the token's crls holds revocation data of a format bewahr does not read ({}); kept, not used",
            o.format
        ));
    }
    let (tst, tst_der) = tst_info(&sd)?;
    if sd.signer_infos.len() != 1 {
        return Err(TokenError::SignerCount(sd.signer_infos.len()));
    }
    let si = &sd.signer_infos[0];
    let signed_attrs_der = sd.raw_signed_attrs[0]
        .clone()
        .ok_or(TokenError::MissingAttribute("signedAttrs"))?;
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

    let carried = sd.certificates.clone();
    let in_token = find_signer(&si.sid, &carried);
    let signer_in_token = in_token.is_some();
    let signer = in_token
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
    let spki = &signer.tbs_certificate.subject_public_key_info;
    let key = match sig::verify(spki, scheme, &signed_attrs_der, si.signature.as_bytes()) {
        Ok(k) => k,
        // signed attributes received unsorted: the signature is over their DER (sorted) form
        Err(first) => sorted_set(&signed_attrs_der)
            .filter(|d| *d != signed_attrs_der)
            .and_then(|d| sig::verify(spki, scheme, &d, si.signature.as_bytes()).ok())
            .ok_or_else(|| TokenError::Signature {
                subject: subject(&signer),
                source: first,
            })?,
    };

    let imprint_algorithm = DigestAlgorithm::from_oid(&tst.message_imprint.hash_algorithm.oid)
        .map_err(|e| fmt_err("messageImprint", e))?;
    let key_purpose_ok = has_timestamping_purpose(&signer).is_ok();
    Ok(CheckedToken {
        gen_time: tst.gen_time.0,
        imprint_algorithm,
        imprint: tst.message_imprint.hashed_message.as_bytes().to_vec(),
        tst_info: tst,
        signature_algorithm: scheme.name(&key),
        signature_digest: scheme.digest(),
        signer,
        signer_in_token,
        certificates: carried,
        carried: sd.revocation,
        key,
        key_purpose_ok,
        notes,
    })
}

/// The DER form of a SET OF: its elements sorted by their encodings (X.690 11.6).
fn sorted_set(set: &[u8]) -> Option<Vec<u8>> {
    let mut kids = raw::children(set)?;
    kids.sort();
    Some(raw::wrap(set[0], &kids.concat()))
}
