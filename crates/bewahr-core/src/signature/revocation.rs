//! Revocation data: OCSP responses (RFC 6960) and CRLs (RFC 5280), checked
//! without I/O: the bytes, the certificate and its issuer come in, a status
//! with its times comes out. Fetching is [`super::fetch`]'s job.

use const_oid::ObjectIdentifier as O;
use der::asn1::{Null, OctetString};
use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    ResponderId, TbsRequest,
};

use crate::alg::DigestAlgorithm;
use crate::ers::raw;
use crate::tsp::sig;
use crate::tsp::trust;

pub const ID_PKIX_OCSP_BASIC: O = O::new_unwrap("1.3.6.1.5.5.7.48.1.1");
pub const ID_KP_OCSP_SIGNING: O = O::new_unwrap("1.3.6.1.5.5.7.3.9");

/// Why a piece of revocation data cannot be used for a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    #[error("{what} is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("OCSP responder answered {0:?}")]
    Status(String),
    #[error("the OCSP response has no answer for {subject}")]
    NotAbout { subject: String },
    #[error("the CRL is issued by {crl_issuer}, not by {issuer}, the issuer of {subject}")]
    OtherIssuer {
        crl_issuer: String,
        issuer: String,
        subject: String,
    },
    #[error("no certificate of the OCSP responder {responder} is authorised by {issuer} (id-kp-OCSPSigning)")]
    UnauthorisedResponder { responder: String, issuer: String },
    #[error("{what} signature by {signer}: {source}")]
    Signature {
        what: &'static str,
        signer: String,
        source: sig::SignatureError,
    },
}

/// A certificate's revocation status as one source states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Good,
    Revoked {
        at: OffsetDateTime,
        reason: Option<String>,
    },
    Unknown,
}

/// What one OCSP response or CRL says about one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// `OCSP` or `CRL`.
    pub source: &'static str,
    pub status: Status,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    /// Who signed the OCSP response or CRL.
    pub signer: String,
}

impl Evidence {
    /// Whether it speaks for the time `t`: issued no more than `max_age`
    /// before `t` (or after it), or `t` inside [thisUpdate, nextUpdate].
    pub fn fresh_for(&self, t: OffsetDateTime, max_age: time::Duration) -> bool {
        self.this_update >= t - max_age
            || self
                .next_update
                .is_some_and(|n| self.this_update <= t && t <= n)
    }

    /// Until when a cache may keep it.
    pub fn expires(&self, max_age: time::Duration) -> OffsetDateTime {
        self.next_update.unwrap_or(self.this_update + max_age)
    }
}

/// What is needed to ask for one certificate's status.
#[derive(Clone, Debug)]
pub struct Query {
    pub cert: Certificate,
    pub issuer: Certificate,
    pub ocsp_urls: Vec<String>,
    pub crl_urls: Vec<String>,
}

impl Query {
    pub fn new(cert: &Certificate, issuer: &Certificate) -> Self {
        Query {
            ocsp_urls: super::certs::ocsp_urls(cert),
            crl_urls: super::certs::crl_urls(cert),
            cert: cert.clone(),
            issuer: issuer.clone(),
        }
    }

    /// A key for caches: the issuer's key hash and the serial number.
    pub fn key(&self) -> String {
        format!(
            "{}:{}",
            hex::encode(issuer_key_hash(&self.issuer, DigestAlgorithm::Sha256)),
            hex::encode(self.cert.tbs_certificate.serial_number.as_bytes())
        )
    }
}

fn odt(t: der::asn1::GeneralizedTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn xtime(t: x509_cert::time::Time) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn issuer_key_hash(issuer: &Certificate, alg: DigestAlgorithm) -> Vec<u8> {
    alg.digest(
        issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
}

fn cert_id(cert: &Certificate, issuer: &Certificate, alg: DigestAlgorithm) -> Option<CertId> {
    let name = cert.tbs_certificate.issuer.to_der().ok()?;
    Some(CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: alg.oid(),
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(alg.digest(&name)).ok()?,
        issuer_key_hash: OctetString::new(issuer_key_hash(issuer, alg)).ok()?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

fn matches(id: &CertId, cert: &Certificate, issuer: &Certificate) -> bool {
    let Ok(alg) = DigestAlgorithm::from_oid(&id.hash_algorithm.oid) else {
        return false;
    };
    cert_id(cert, issuer, alg).is_some_and(|mine| {
        mine.issuer_name_hash == id.issuer_name_hash
            && mine.issuer_key_hash == id.issuer_key_hash
            && mine.serial_number == id.serial_number
    })
}

/// An OCSPRequest for one certificate (CertID with SHA-1, the hash every
/// responder understands; no nonce, so that responses can be cached).
pub fn ocsp_request(cert: &Certificate, issuer: &Certificate) -> Result<Vec<u8>, RevocationError> {
    let id = cert_id(cert, issuer, DigestAlgorithm::Sha1).ok_or(RevocationError::Malformed {
        what: "certificate",
        detail: "cannot encode its issuer".into(),
    })?;
    OcspRequest {
        tbs_request: TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .map_err(|e| RevocationError::Malformed {
        what: "OCSP request",
        detail: e.to_string(),
    })
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> RevocationError {
    move |e| RevocationError::Malformed {
        what,
        detail: e.to_string(),
    }
}

fn has_ocsp_signing(c: &Certificate) -> bool {
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == crate::tsp::token::ID_CE_EXT_KEY_USAGE)
        .and_then(|e| Vec::<O>::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|p| p.contains(&ID_KP_OCSP_SIGNING))
}

fn verify_signed(
    what: &'static str,
    signer: &Certificate,
    alg: &spki::AlgorithmIdentifierOwned,
    tbs: &[u8],
    signature: &[u8],
) -> Result<(), RevocationError> {
    let err = |source| RevocationError::Signature {
        what,
        signer: trust::subject(signer),
        source,
    };
    let scheme = sig::scheme(alg, None).map_err(err)?;
    sig::verify(
        &signer.tbs_certificate.subject_public_key_info,
        scheme,
        tbs,
        signature,
    )
    .map_err(err)?;
    Ok(())
}

/// A copy of a DER structure with the fractional seconds of every
/// GeneralizedTime removed (`20261202101500.123456Z` → `20261202101500Z`).
fn without_fractions(tlv: &[u8]) -> Vec<u8> {
    fn walk(tlv: &[u8], depth: usize) -> Vec<u8> {
        let tag = tlv[0];
        if tag == 0x18 {
            if let Some(v) = tlv.get(2..).filter(|_| tlv[1] < 0x80) {
                if let Some(dot) = v.iter().position(|b| *b == b'.') {
                    let zone = v
                        .iter()
                        .rposition(|b| !b.is_ascii_digit())
                        .filter(|z| *z > dot);
                    let mut t = v[..dot].to_vec();
                    if let Some(z) = zone {
                        t.extend_from_slice(&v[z..]);
                    }
                    return raw::wrap(0x18, &t);
                }
            }
            return tlv.to_vec();
        }
        if tag & 0x20 == 0 || depth > 32 {
            return tlv.to_vec();
        }
        match raw::children(tlv) {
            Some(kids) => {
                let body: Vec<u8> = kids.iter().flat_map(|k| walk(k, depth + 1)).collect();
                raw::wrap(tag, &body)
            }
            None => tlv.to_vec(),
        }
    }
    if tlv.is_empty() {
        return vec![];
    }
    walk(tlv, 0)
}

/// Parses an OCSPResponse and says what it states about `cert`, after
/// checking its signature: by the issuer itself, or by a responder
/// certificate the issuer signed for id-kp-OCSPSigning (RFC 6960 4.2.2.2).
pub fn check_ocsp(
    der_bytes: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
) -> Result<Evidence, RevocationError> {
    crate::ers::check_depth("OCSPResponse", der_bytes).map_err(|e| RevocationError::Malformed {
        what: "OCSP response",
        detail: e.to_string(),
    })?;
    let normal = super::ber::to_der(der_bytes).map_err(|e| RevocationError::Malformed {
        what: "OCSP response",
        detail: e.to_string(),
    })?;
    let resp = OcspResponse::from_der(&normal).map_err(malformed("OCSP response"))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(RevocationError::Status(format!(
            "{:?}",
            resp.response_status
        )));
    }
    let bytes = resp.response_bytes.ok_or(RevocationError::Malformed {
        what: "OCSP response",
        detail: "successful but without responseBytes".into(),
    })?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(RevocationError::Malformed {
            what: "OCSP response",
            detail: format!(
                "response type {} is not id-pkix-ocsp-basic",
                bytes.response_type
            ),
        });
    }
    let basic_der = bytes.response.as_bytes();
    // responders write fractional seconds (RFC 6960 forbids them, der refuses
    // them): the fields are read from a copy without; the signature is checked
    // over the original bytes
    let basic = BasicOcspResponse::from_der(&without_fractions(basic_der))
        .map_err(malformed("BasicOCSPResponse"))?;
    let tbs = raw::children(basic_der)
        .and_then(|c| c.first().copied())
        .ok_or(RevocationError::Malformed {
            what: "BasicOCSPResponse",
            detail: "no tbsResponseData".into(),
        })?;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|s| matches(&s.cert_id, cert, issuer))
        .ok_or_else(|| RevocationError::NotAbout {
            subject: trust::subject(cert),
        })?;

    // who signed it
    let is_responder = |c: &Certificate| match &basic.tbs_response_data.responder_id {
        ResponderId::ByName(n) => &c.tbs_certificate.subject == n,
        ResponderId::ByKey(k) => {
            k.as_bytes() == issuer_key_hash(c, DigestAlgorithm::Sha1).as_slice()
        }
    };
    let signature = basic.signature.as_bytes().unwrap_or_default();
    let signer = if is_responder(issuer) {
        issuer.clone()
    } else {
        let delegated = basic
            .certs
            .iter()
            .flatten()
            .filter(|c| is_responder(c))
            .find(|c| has_ocsp_signing(c) && trust::verify_issued_by(c, issuer).is_ok())
            .cloned();
        delegated.ok_or_else(|| RevocationError::UnauthorisedResponder {
            responder: format!("{:?}", basic.tbs_response_data.responder_id)
                .chars()
                .take(200)
                .collect(),
            issuer: trust::subject(issuer),
        })?
    };
    verify_signed(
        "OCSP response",
        &signer,
        &basic.signature_algorithm,
        tbs,
        signature,
    )?;
    let status = match &single.cert_status {
        CertStatus::Good(_) => Status::Good,
        CertStatus::Revoked(r) => Status::Revoked {
            at: odt(r.revocation_time.0),
            reason: r.revocation_reason.map(|x| format!("{x:?}")),
        },
        CertStatus::Unknown(_) => Status::Unknown,
    };
    Ok(Evidence {
        source: "OCSP",
        status,
        this_update: odt(single.this_update.0),
        next_update: single.next_update.map(|t| odt(t.0)),
        signer: trust::subject(&signer),
    })
}

/// Parses a CRL and says what it states about `cert`, after checking that
/// `issuer` issued and signed it.
pub fn check_crl(
    der_bytes: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
) -> Result<Evidence, RevocationError> {
    crate::ers::check_depth("CRL", der_bytes).map_err(|e| RevocationError::Malformed {
        what: "CRL",
        detail: e.to_string(),
    })?;
    // a CRL may arrive in BER: its fields are read from the DER form, its
    // signature checked over the tbsCertList as received (then as DER)
    let normal = super::ber::to_der(der_bytes).map_err(|e| RevocationError::Malformed {
        what: "CRL",
        detail: e.to_string(),
    })?;
    let crl = CertificateList::from_der(&normal).map_err(malformed("CRL"))?;
    if crl.tbs_cert_list.issuer != cert.tbs_certificate.issuer
        || crl.tbs_cert_list.issuer != issuer.tbs_certificate.subject
    {
        return Err(RevocationError::OtherIssuer {
            crl_issuer: crl.tbs_cert_list.issuer.to_string(),
            issuer: trust::subject(issuer),
            subject: trust::subject(cert),
        });
    }
    if !super::certs::may_sign_crls(issuer) {
        return Err(RevocationError::Signature {
            what: "CRL",
            signer: trust::subject(issuer),
            source: sig::SignatureError::BadKey("the issuer's keyUsage lacks cRLSign".into()),
        });
    }
    let received_tbs = super::ber::children(der_bytes)
        .ok()
        .and_then(|c| c.first().map(|t| t.to_vec()));
    let der_tbs = raw::children(&normal)
        .and_then(|c| c.first().map(|t| t.to_vec()))
        .ok_or(RevocationError::Malformed {
            what: "CRL",
            detail: "no tbsCertList".into(),
        })?;
    let signature = crl.signature.as_bytes().unwrap_or_default();
    let first = verify_signed(
        "CRL",
        issuer,
        &crl.signature_algorithm,
        received_tbs.as_deref().unwrap_or(&der_tbs),
        signature,
    );
    if let Err(e) = first {
        if received_tbs
            .as_deref()
            .is_none_or(|r| r == der_tbs.as_slice())
        {
            return Err(e);
        }
        verify_signed("CRL", issuer, &crl.signature_algorithm, &der_tbs, signature)
            .map_err(|_| e)?;
    }
    let serial = &cert.tbs_certificate.serial_number;
    let status = crl
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .find(|r| &r.serial_number == serial)
        .map(|r| Status::Revoked {
            at: xtime(r.revocation_date),
            reason: None,
        })
        .unwrap_or(Status::Good);
    Ok(Evidence {
        source: "CRL",
        status,
        this_update: xtime(crl.tbs_cert_list.this_update),
        next_update: crl.tbs_cert_list.next_update.map(xtime),
        signer: trust::subject(issuer),
    })
}

/// The validation data preserved with a signed document: the certificates
/// of its paths and the revocation data that was used, each kept byte for
/// byte. Its DER is one member of the version's data-object group, so the
/// evidence record proves it.
///
/// ```text
/// ValidationData ::= SEQUENCE {
///     version        INTEGER { v1(1) },
///     certificates   SEQUENCE OF Certificate,
///     crls           SEQUENCE OF CertificateList,
///     ocspResponses  SEQUENCE OF OCSPResponse }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationData {
    pub certificates: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
    pub ocsp_responses: Vec<Vec<u8>>,
}

impl ValidationData {
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.crls.is_empty() && self.ocsp_responses.is_empty()
    }

    fn push_unique(list: &mut Vec<Vec<u8>>, item: &[u8]) {
        if !list.iter().any(|x| x == item) {
            list.push(item.to_vec());
        }
    }

    pub fn add_certificate(&mut self, der: &[u8]) {
        Self::push_unique(&mut self.certificates, der)
    }
    pub fn add_crl(&mut self, der: &[u8]) {
        Self::push_unique(&mut self.crls, der)
    }
    pub fn add_ocsp(&mut self, der: &[u8]) {
        Self::push_unique(&mut self.ocsp_responses, der)
    }
    /// Adds everything `other` holds that this does not.
    pub fn merge(&mut self, other: &ValidationData) {
        for c in &other.certificates {
            self.add_certificate(c);
        }
        for c in &other.crls {
            self.add_crl(c);
        }
        for o in &other.ocsp_responses {
            self.add_ocsp(o);
        }
    }

    pub fn to_der(&self) -> Vec<u8> {
        let seq = |items: &[Vec<u8>]| raw::wrap(0x30, &items.concat());
        let body = [
            vec![0x02, 0x01, 0x01],
            seq(&self.certificates),
            seq(&self.crls),
            seq(&self.ocsp_responses),
        ]
        .concat();
        raw::wrap(0x30, &body)
    }

    pub fn from_der(bytes: &[u8]) -> Result<Self, RevocationError> {
        let bad = |detail: &str| RevocationError::Malformed {
            what: "ValidationData",
            detail: detail.into(),
        };
        crate::ers::check_depth("ValidationData", bytes).map_err(|e| bad(&e.to_string()))?;
        if bytes.first() != Some(&0x30) {
            return Err(bad("not a SEQUENCE"));
        }
        let fields = raw::children(bytes).ok_or_else(|| bad("bad length"))?;
        if fields.len() != 4 || fields[0] != [0x02, 0x01, 0x01] {
            return Err(bad("expected version 1 and three lists"));
        }
        let list = |f: &[u8]| -> Result<Vec<Vec<u8>>, RevocationError> {
            if f.first() != Some(&0x30) {
                return Err(bad("a list is not a SEQUENCE"));
            }
            Ok(raw::children(f)
                .ok_or_else(|| bad("bad length in a list"))?
                .into_iter()
                .map(|x| x.to_vec())
                .collect())
        };
        let v = ValidationData {
            certificates: list(fields[1])?,
            crls: list(fields[2])?,
            ocsp_responses: list(fields[3])?,
        };
        if v.to_der() != bytes {
            return Err(bad("not in DER (it does not re-encode to the same bytes)"));
        }
        Ok(v)
    }

    /// The certificates that parse.
    pub fn parsed_certificates(&self) -> Vec<Certificate> {
        self.certificates
            .iter()
            .filter_map(|c| Certificate::from_der(c).ok())
            .collect()
    }
}

/// The best statement the data makes about `cert` for time `t`: verified
/// OCSP responses first, then CRLs; among usable ones the newest. The
/// errors of unusable ones are returned beside it.
pub fn best_status(
    data: &ValidationData,
    cert: &Certificate,
    issuer: &Certificate,
    t: OffsetDateTime,
    max_age: time::Duration,
) -> (Option<(Evidence, Vec<u8>)>, Vec<String>) {
    let mut errors = Vec::new();
    for (list, check) in [
        (
            &data.ocsp_responses,
            check_ocsp
                as fn(&[u8], &Certificate, &Certificate) -> Result<Evidence, RevocationError>,
        ),
        (&data.crls, check_crl),
    ] {
        let mut best: Option<(Evidence, Vec<u8>)> = None;
        for item in list {
            match check(item, cert, issuer) {
                Ok(e) if e.fresh_for(t, max_age) => {
                    if best
                        .as_ref()
                        .is_none_or(|(b, _)| e.this_update > b.this_update)
                    {
                        best = Some((e, item.clone()));
                    }
                }
                Ok(e) => errors.push(format!(
                    "{} of {} is too old for {}",
                    e.source,
                    trust::rfc3339(e.this_update),
                    trust::rfc3339(t)
                )),
                Err(RevocationError::NotAbout { .. } | RevocationError::OtherIssuer { .. }) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        if best.is_some() {
            return (best, errors);
        }
    }
    (None, errors)
}
