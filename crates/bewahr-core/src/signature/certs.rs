//! What a signer's certificate says: QcStatements (ETSI EN 319 412-5), key
//! usage, and where its revocation status is published (AIA, CRL DP).

use const_oid::ObjectIdentifier as O;
use der::{Decode, Encode, Sequence};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints, KeyUsage, KeyUsages};
use x509_cert::Certificate;

use super::report::Qualification;

pub const ID_PE_QC_STATEMENTS: O = O::new_unwrap("1.3.6.1.5.5.7.1.3");
pub const ID_ETSI_QCS_QC_COMPLIANCE: O = O::new_unwrap("0.4.0.1862.1.1");
pub const ID_ETSI_QCS_QC_SSCD: O = O::new_unwrap("0.4.0.1862.1.4");
pub const ID_ETSI_QCS_QC_TYPE: O = O::new_unwrap("0.4.0.1862.1.6");
pub const ID_ETSI_QCT_ESIGN: O = O::new_unwrap("0.4.0.1862.1.6.1");
pub const ID_ETSI_QCT_ESEAL: O = O::new_unwrap("0.4.0.1862.1.6.2");
pub const ID_ETSI_QCT_WEB: O = O::new_unwrap("0.4.0.1862.1.6.3");
pub const ID_AD_OCSP: O = O::new_unwrap("1.3.6.1.5.5.7.48.1");
pub const ID_AD_CA_ISSUERS: O = O::new_unwrap("1.3.6.1.5.5.7.48.2");
pub const ID_PE_AUTHORITY_INFO_ACCESS: O = O::new_unwrap("1.3.6.1.5.5.7.1.1");
pub const ID_CE_CRL_DISTRIBUTION_POINTS: O = O::new_unwrap("2.5.29.31");
pub const ID_CE_KEY_USAGE: O = O::new_unwrap("2.5.29.15");

/// ```text
/// QCStatements ::= SEQUENCE OF QCStatement
/// QCStatement ::= SEQUENCE {
///     statementId   QC-STATEMENT.&id({SupportedStatements}),
///     statementInfo QC-STATEMENT.&Type({SupportedStatements}{@statementId}) OPTIONAL }
/// QcType ::= SEQUENCE OF OBJECT IDENTIFIER (id-etsi-qct-esign | id-etsi-qct-eseal | id-etsi-qct-web, ...)
/// ```
#[derive(Clone, Debug, Sequence)]
pub struct QcStatement {
    pub statement_id: O,
    #[asn1(optional = "true")]
    pub statement_info: Option<der::Any>,
}

fn extension<'a>(c: &'a Certificate, oid: &O) -> Option<&'a [u8]> {
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| &e.extn_id == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// Reads the certificate's QcStatements; `None` without the extension.
pub fn qualification(c: &Certificate) -> Option<Qualification> {
    let ext = extension(c, &ID_PE_QC_STATEMENTS)?;
    let statements = Vec::<QcStatement>::from_der(ext).ok()?;
    let has = |oid: O| statements.iter().any(|s| s.statement_id == oid);
    let types: Vec<O> = statements
        .iter()
        .filter(|s| s.statement_id == ID_ETSI_QCS_QC_TYPE)
        .filter_map(|s| s.statement_info.as_ref())
        .filter_map(|a| a.decode_as::<Vec<O>>().ok())
        .flatten()
        .collect();
    let qualified = has(ID_ETSI_QCS_QC_COMPLIANCE);
    let kind = if types.contains(&ID_ETSI_QCT_ESEAL) {
        "seal"
    } else if types.contains(&ID_ETSI_QCT_ESIGN) {
        "signature"
    } else if types.contains(&ID_ETSI_QCT_WEB) {
        "website"
    } else if qualified {
        // EN 319 412-5 4.2.3: without QcType, an EU qualified certificate is for signatures
        "signature"
    } else {
        "unknown"
    };
    Some(Qualification {
        qualified,
        qscd: has(ID_ETSI_QCS_QC_SSCD),
        kind: kind.into(),
    })
}

/// The key usage bits, if the extension is there.
pub fn key_usage(c: &Certificate) -> Option<KeyUsage> {
    KeyUsage::from_der(extension(c, &ID_CE_KEY_USAGE)?).ok()
}

/// Whether the key may sign documents (digitalSignature or nonRepudiation;
/// no keyUsage extension means no restriction).
pub fn may_sign(c: &Certificate) -> bool {
    key_usage(c).is_none_or(|ku| {
        ku.0.contains(KeyUsages::DigitalSignature) || ku.0.contains(KeyUsages::NonRepudiation)
    })
}

/// Whether the key may sign certificates (keyCertSign; absent: no restriction).
pub fn may_sign_certificates(c: &Certificate) -> bool {
    key_usage(c).is_none_or(|ku| ku.0.contains(KeyUsages::KeyCertSign))
}

/// Whether the key may sign CRLs (cRLSign; absent: no restriction).
pub fn may_sign_crls(c: &Certificate) -> bool {
    key_usage(c).is_none_or(|ku| ku.0.contains(KeyUsages::CRLSign))
}

fn uri(g: &GeneralName) -> Option<String> {
    match g {
        GeneralName::UniformResourceIdentifier(u) => {
            let s = u.as_str();
            (s.starts_with("http://") || s.starts_with("https://")).then(|| s.to_string())
        }
        _ => None,
    }
}

/// HTTP URLs of the certificate's OCSP responders (AIA id-ad-ocsp).
pub fn ocsp_urls(c: &Certificate) -> Vec<String> {
    aia(c, &ID_AD_OCSP)
}

/// HTTP URLs where the issuer's certificate is published (AIA id-ad-caIssuers).
pub fn ca_issuer_urls(c: &Certificate) -> Vec<String> {
    aia(c, &ID_AD_CA_ISSUERS)
}

fn aia(c: &Certificate, method: &O) -> Vec<String> {
    extension(c, &ID_PE_AUTHORITY_INFO_ACCESS)
        .and_then(|e| AuthorityInfoAccessSyntax::from_der(e).ok())
        .map(|a| {
            a.0.iter()
                .filter(|d| &d.access_method == method)
                .filter_map(|d| uri(&d.access_location))
                .collect()
        })
        .unwrap_or_default()
}

/// HTTP URLs of the certificate's CRL distribution points.
pub fn crl_urls(c: &Certificate) -> Vec<String> {
    extension(c, &ID_CE_CRL_DISTRIBUTION_POINTS)
        .and_then(|e| CrlDistributionPoints::from_der(e).ok())
        .map(|d| {
            d.0.iter()
                .filter_map(|dp| match &dp.distribution_point {
                    Some(DistributionPointName::FullName(names)) => {
                        Some(names.iter().filter_map(uri).collect::<Vec<_>>())
                    }
                    _ => None,
                })
                .flatten()
                .collect()
        })
        .unwrap_or_default()
}

/// SHA-256 of the certificate's DER, hex: how reports name a certificate exactly.
pub fn fingerprint(c: &Certificate) -> String {
    hex::encode(crate::alg::DigestAlgorithm::Sha256.digest(&c.to_der().unwrap_or_default()))
}
