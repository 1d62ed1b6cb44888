//! Trust in a TSA: a certificate path from the token's signer to a trusted certificate.

use der::Encode;
use time::OffsetDateTime;
use x509_cert::Certificate;

use super::sig::{self, SignatureError};

/// Why a signer certificate is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("no path from {subject} to a trusted certificate{detail}")]
    NoPath { subject: String, detail: String },
    #[error("certificate {subject} is not valid at {at}: valid {not_before} to {not_after}")]
    OutsideValidity {
        subject: String,
        at: String,
        not_before: String,
        not_after: String,
        expired: bool,
    },
    #[error("signature on certificate {subject}: {source}")]
    Signature {
        subject: String,
        source: SignatureError,
    },
    #[error("certificate {subject} is used as a CA but is not one (basicConstraints)")]
    NotACa { subject: String },
}

pub fn subject(c: &Certificate) -> String {
    c.tbs_certificate.subject.to_string()
}

pub fn not_before(c: &Certificate) -> OffsetDateTime {
    to_odt(c.tbs_certificate.validity.not_before)
}

pub fn not_after(c: &Certificate) -> OffsetDateTime {
    to_odt(c.tbs_certificate.validity.not_after)
}

fn to_odt(t: x509_cert::time::Time) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

pub fn check_validity(c: &Certificate, at: OffsetDateTime) -> Result<(), TrustError> {
    let (nb, na) = (not_before(c), not_after(c));
    if at < nb || at > na {
        return Err(TrustError::OutsideValidity {
            subject: subject(c),
            at: rfc3339(at),
            not_before: rfc3339(nb),
            not_after: rfc3339(na),
            expired: at > na,
        });
    }
    Ok(())
}

pub fn is_ca(c: &Certificate) -> bool {
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
        .and_then(|e| {
            <x509_cert::ext::pkix::BasicConstraints as der::Decode>::from_der(
                e.extn_value.as_bytes(),
            )
            .ok()
        })
        .is_some_and(|bc| bc.ca)
}

/// Checks that `issuer` signed `cert`.
pub fn verify_issued_by(cert: &Certificate, issuer: &Certificate) -> Result<(), TrustError> {
    let err = |source| TrustError::Signature {
        subject: subject(cert),
        source,
    };
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| err(SignatureError::BadKey(e.to_string())))?;
    let scheme = sig::scheme(&cert.signature_algorithm, None).map_err(err)?;
    sig::verify(
        &issuer.tbs_certificate.subject_public_key_info,
        scheme,
        &tbs,
        cert.signature.as_bytes().unwrap_or_default(),
    )
    .map_err(err)?;
    Ok(())
}

/// Builds and checks a path from `leaf` up to one of `anchors`, through
/// `pool`, with every certificate valid at `at`. Returns the trusted
/// certificate the path ends in.
pub fn validate_path(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: OffsetDateTime,
) -> Result<Certificate, TrustError> {
    let path = validated_path(leaf, pool, anchors, at)?;
    Ok(path.last().unwrap_or(leaf).clone())
}

/// As [`validate_path`], returning the whole path (leaf first, anchor last).
///
/// RFC 5280 section 6.1.1 (d): a trust anchor is an input to path
/// validation, a name and a key, not a certificate whose validity period is
/// checked; so an anchor that expired before `at` does not fail the path
/// (callers report it as information, [`anchor_outside_validity`]). A leaf
/// that is itself the anchor is still judged as the signer's certificate.
pub fn validated_path(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: OffsetDateTime,
) -> Result<Vec<Certificate>, TrustError> {
    let path = build_path(leaf, pool, anchors)?;
    let n = path.len();
    for (i, c) in path.iter().enumerate() {
        if i > 0 && i + 1 == n {
            continue;
        }
        check_validity(c, at)?;
    }
    Ok(path)
}

/// For a path from [`validated_path`]: the anchor's validity period, if `at`
/// lies outside it (information only, RFC 5280 6.1).
pub fn anchor_outside_validity(path: &[Certificate], at: OffsetDateTime) -> Option<TrustError> {
    if path.len() < 2 {
        return None;
    }
    check_validity(path.last()?, at).err()
}

/// Builds a path from `leaf` up to one of `anchors` through `pool`: each
/// certificate's signature verifies with the next one's key, and every
/// issuer that is not an anchor is a CA. Validity periods are not checked
/// (the caller judges them at the time that matters). The path starts with
/// `leaf` and ends with the anchor; a certificate appears at most once, so
/// a loop in the pool ends the search instead of the stack.
pub fn build_path(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
) -> Result<Vec<Certificate>, TrustError> {
    let mut path: Vec<Certificate> = vec![leaf.clone()];
    for _ in 0..8 {
        let current = path.last().unwrap_or(leaf);
        if anchors.iter().any(|a| a == current) {
            return Ok(path);
        }
        let issuer_name = &current.tbs_certificate.issuer;
        let mut namesakes = anchors
            .iter()
            .chain(pool.iter())
            .filter(|c| &c.tbs_certificate.subject == issuer_name && !path.contains(c));
        let mut first_error = None;
        let issuer = namesakes.find(|c| match verify_issued_by(current, c) {
            Ok(()) => true,
            Err(e) => {
                first_error.get_or_insert(e);
                false
            }
        });
        let Some(issuer) = issuer else {
            let detail = first_error.map(|e| format!(" ({e})")).unwrap_or_default();
            return Err(TrustError::NoPath {
                subject: subject(leaf),
                detail,
            });
        };
        if !is_ca(issuer) && !anchors.iter().any(|a| a == issuer) {
            return Err(TrustError::NotACa {
                subject: subject(issuer),
            });
        }
        path.push(issuer.clone());
    }
    Err(TrustError::NoPath {
        subject: subject(leaf),
        detail: " (path longer than 8)".into(),
    })
}
