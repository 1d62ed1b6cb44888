//! Trust in one archive time-stamp's TSA: the certificate path at genTime
//! and the revocation status of every certificate on it (RFC 4998 section
//! 5.3, TR-ESOR-ERS section 3.6), from the validation data that the token
//! carries, that the record's `cryptoInfos` or the time-stamp's attributes
//! carry, or that the caller gives.

use der::Encode;
use serde::Serialize;
use time::OffsetDateTime;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

use crate::ers::raw;
use crate::signature::revocation::{best_status, Status, ValidationData};
use crate::tsp::signed_data::wrap_basic_ocsp;
use crate::tsp::token::CheckedToken;
use crate::tsp::trust::{self, TrustError};

/// RFC 5126 6.3.3 `id-aa-ets-certValues`: CertificateValues ::= SEQUENCE OF Certificate.
pub const ID_AA_ETS_CERT_VALUES: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.23");
/// RFC 5126 6.3.4 `id-aa-ets-revocationValues`.
pub const ID_AA_ETS_REVOCATION_VALUES: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.24");

/// Where a certificate or a piece of revocation data came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The time-stamp token's SignedData (`certificates`, `crls`).
    Token,
    /// The evidence record's `cryptoInfos`.
    CryptoInfos,
    /// The archive time-stamp's `attributes`.
    Attributes,
    /// Given to the verifier (`--cert`, `--revocation`, preserved validation data).
    Given,
    /// A trusted certificate (`--tsa-cert`).
    Trusted,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Token => "token",
            Source::CryptoInfos => "cryptoInfos",
            Source::Attributes => "attributes",
            Source::Given => "given",
            Source::Trusted => "trusted",
        })
    }
}

/// A certificate the verifier used for one time-stamp.
#[derive(Clone, Debug, Serialize)]
pub struct CertificateUse {
    /// `tsa`, `ca` or `trust-anchor`.
    pub role: &'static str,
    pub subject: String,
    pub serial_number: String,
    pub sha256: String,
    pub source: Source,
}

/// Revocation data the verifier used (or looked for) for one certificate.
#[derive(Clone, Debug, Serialize)]
pub struct RevocationUse {
    /// The certificate it is about.
    pub subject: String,
    /// `OCSP` or `CRL`; absent when none was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// `good`, `revoked`, `unknown` or `missing`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this_update: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Why data that was present could not be used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// The validation data of one record, by where it was found.
#[derive(Clone, Debug, Default)]
pub struct RecordData {
    pub crypto_infos: ValidationData,
    /// Per chain and time-stamp: what its `attributes` carry.
    pub attributes: Vec<Vec<ValidationData>>,
}

/// Reads certificate and revocation values (RFC 5126 6.3.3/6.3.4) from attributes.
///
/// ```text
/// CertificateValues ::= SEQUENCE OF Certificate
/// RevocationValues ::= SEQUENCE {
///     crlVals     [0] SEQUENCE OF CertificateList OPTIONAL,
///     ocspVals    [1] SEQUENCE OF BasicOCSPResponse OPTIONAL,
///     otherRevVals [2] OtherRevVals OPTIONAL }
/// ```
///
/// The tags are EXPLICIT in RFC 5126's module; values tagged IMPLICIT are
/// read too. A CRL or OCSP response given in any other attribute is not.
pub fn read_attributes(attrs: &[Attribute]) -> ValidationData {
    let mut v = ValidationData::default();
    for a in attrs {
        for value in a.values.iter() {
            let Ok(der) = value.to_der() else { continue };
            if a.oid == ID_AA_ETS_CERT_VALUES {
                for c in raw::children(&der).unwrap_or_default() {
                    v.add_certificate(c);
                }
            } else if a.oid == ID_AA_ETS_REVOCATION_VALUES {
                for field in raw::children(&der).unwrap_or_default() {
                    let items = tagged_list(field);
                    match field.first() {
                        Some(0xa0) => items.iter().for_each(|c| v.add_crl(c)),
                        Some(0xa1) => items.iter().for_each(|o| v.add_ocsp(&as_ocsp_response(o))),
                        _ => {}
                    }
                }
            }
        }
    }
    v
}

/// The elements of `[n] SEQUENCE OF X` (explicit) or `[n] IMPLICIT SEQUENCE OF X`.
fn tagged_list(field: &[u8]) -> Vec<Vec<u8>> {
    let kids = raw::children(field).unwrap_or_default();
    // explicit: one SEQUENCE whose elements are themselves signed structures
    // (SEQUENCE { tbs, algorithm, BIT STRING }); implicit: the elements directly
    let is_signed = |x: &[u8]| {
        raw::children(x)
            .and_then(|k| k.last().map(|l| l.first() == Some(&0x03)))
            .unwrap_or(false)
    };
    if kids.len() == 1 && !is_signed(kids[0]) {
        return raw::children(kids[0])
            .unwrap_or_default()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
    }
    kids.into_iter().map(<[u8]>::to_vec).collect()
}

/// A BasicOCSPResponse wrapped as OCSPResponse; an OCSPResponse as it is.
fn as_ocsp_response(o: &[u8]) -> Vec<u8> {
    let first_child_tag = raw::children(o).and_then(|k| k.first().map(|f| f[0]));
    if first_child_tag == Some(0x0a) {
        o.to_vec()
    } else {
        wrap_basic_ocsp(o)
    }
}

/// What the verifier needs besides the token.
pub struct Inputs<'a> {
    pub trusted: &'a [Certificate],
    pub extra: &'a [Certificate],
    pub given: &'a ValidationData,
    pub crypto_infos: &'a ValidationData,
    pub attributes: &'a ValidationData,
    pub max_age: time::Duration,
}

/// The outcome for one time-stamp's TSA.
pub struct Judged {
    /// The validated path (leaf first, anchor last), or empty.
    pub path: Vec<Certificate>,
    pub certificates: Vec<CertificateUse>,
    pub revocation: Vec<RevocationUse>,
    /// The earliest revocation after genTime on the path (the end of what this time-stamp proves).
    pub revoked_after: Option<(OffsetDateTime, String)>,
    /// Certificates revoked at or before genTime.
    pub revoked_before: Vec<(String, OffsetDateTime)>,
    /// Certificates for which no usable revocation data was found.
    pub missing: Vec<String>,
    pub error: Option<TrustError>,
    /// The anchor's validity did not cover genTime (information only).
    pub anchor_note: Option<String>,
}

fn cert_source(c: &Certificate, der: &[u8], tok: &CheckedToken, inp: &Inputs<'_>) -> Source {
    let has = |v: &ValidationData| v.certificates.iter().any(|x| x.as_slice() == der);
    if tok.certificates.contains(c) {
        Source::Token
    } else if inp.trusted.contains(c) {
        Source::Trusted
    } else if has(inp.crypto_infos) {
        Source::CryptoInfos
    } else if has(inp.attributes) {
        Source::Attributes
    } else {
        Source::Given
    }
}

/// Builds the path at genTime and checks each certificate on it but the anchor.
///
/// `signer_subject` is the TSA certificate's subject, formatted by the caller.
pub fn judge(tok: &CheckedToken, signer_subject: &str, inp: &Inputs<'_>) -> Judged {
    let mut pool: Vec<Certificate> = tok.certificates.clone();
    for c in inp
        .crypto_infos
        .parsed_certificates()
        .into_iter()
        .chain(inp.attributes.parsed_certificates())
        .chain(inp.extra.iter().cloned())
        .chain(inp.given.parsed_certificates())
    {
        if !pool.contains(&c) {
            pool.push(c);
        }
    }
    // names are formatted once per certificate (formatting looks up every attribute type)
    let mut out = Judged {
        path: vec![],
        certificates: vec![],
        revocation: vec![],
        revoked_after: None,
        revoked_before: vec![],
        missing: vec![],
        error: None,
        anchor_note: None,
    };
    let path = match trust::validated_path(&tok.signer, &pool, inp.trusted, tok.gen_time) {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.anchor_note = trust::anchor_outside_validity(&path, tok.gen_time).map(|e| e.to_string());
    let n = path.len();
    for (i, c) in path.iter().enumerate() {
        let role = match (i, i + 1 == n) {
            (_, true) if i > 0 => "trust-anchor",
            (0, true) => "tsa (trusted directly)",
            (0, false) => "tsa",
            _ => "ca",
        };
        let der = c.to_der().unwrap_or_default();
        let source = if i == 0 && tok.signer_in_token {
            Source::Token
        } else {
            cert_source(c, &der, tok, inp)
        };
        out.certificates.push(CertificateUse {
            role,
            subject: if i == 0 {
                signer_subject.to_string()
            } else {
                trust::subject(c)
            },
            serial_number: hex::encode(c.tbs_certificate.serial_number.as_bytes()),
            sha256: hex::encode(crate::alg::DigestAlgorithm::Sha256.digest(&der)),
            source,
        });
    }
    // every certificate but the anchor; a TSA certificate trusted directly has no issuer to ask
    for i in 0..n.saturating_sub(1) {
        let (cert, issuer) = (&path[i], &path[i + 1]);
        let subject = out.certificates[i].subject.clone();
        let mut problems = Vec::new();
        let mut found = None;
        for (source, data) in [
            (Source::Token, &tok.carried),
            (Source::CryptoInfos, inp.crypto_infos),
            (Source::Attributes, inp.attributes),
            (Source::Given, inp.given),
        ] {
            let (best, errors) = best_status(data, cert, issuer, tok.gen_time, inp.max_age);
            problems.extend(errors.into_iter().map(|e| format!("{source}: {e}")));
            if let Some((ev, _)) = best {
                found = Some((ev, source));
                break;
            }
        }
        let Some((ev, source)) = found else {
            out.missing.push(subject.clone());
            out.revocation.push(RevocationUse {
                subject,
                kind: None,
                status: "missing",
                revoked_at: None,
                this_update: None,
                signer: None,
                source: None,
                problems,
            });
            continue;
        };
        let (status, revoked_at) = match &ev.status {
            Status::Good => ("good", None),
            Status::Unknown => ("unknown", None),
            Status::Revoked { at, .. } => ("revoked", Some(*at)),
        };
        if status == "unknown" {
            out.missing.push(subject.clone());
        }
        if let Some(at) = revoked_at {
            if at <= tok.gen_time {
                out.revoked_before.push((subject.clone(), at));
            } else if out.revoked_after.as_ref().is_none_or(|(t, _)| at < *t) {
                out.revoked_after = Some((at, subject.clone()));
            }
        }
        out.revocation.push(RevocationUse {
            subject,
            kind: Some(ev.source),
            status,
            revoked_at: revoked_at.map(trust::rfc3339),
            this_update: Some(trust::rfc3339(ev.this_update)),
            signer: Some(ev.signer),
            source: Some(source),
            problems,
        });
    }
    out.path = path;
    out
}

/// Reads what a record's `cryptoInfos` and its time-stamps' `attributes` carry.
pub fn record_data(er: &crate::ers::EvidenceRecord) -> RecordData {
    RecordData {
        crypto_infos: er
            .crypto_infos
            .as_ref()
            .map(|c| read_attributes(c))
            .unwrap_or_default(),
        attributes: er
            .archive_time_stamp_sequence
            .iter()
            .map(|chain| {
                chain
                    .iter()
                    .map(|ats| {
                        ats.attributes
                            .as_ref()
                            .map(|a| read_attributes(&a.0))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect(),
    }
}
