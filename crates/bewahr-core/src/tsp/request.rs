//! RFC 3161 requests and the full check of a TSA's response.

use const_oid::ObjectIdentifier as O;
use der::asn1::{BitString, Int, OctetString};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifier;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

use super::token::{check_token, CheckedToken, TokenError};
use super::trust::{self, TrustError};
use crate::alg::DigestAlgorithm;
use crate::ers::raw;

/// ```text
/// PKIStatusInfo ::= SEQUENCE {
///     status        PKIStatus,
///     statusString  PKIFreeText     OPTIONAL,
///     failInfo      PKIFailureInfo  OPTIONAL  }
/// ```
#[derive(Clone, Debug, Sequence)]
pub struct PkiStatusInfo {
    pub status: u8,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// A time-stamp request of bewahr's: imprint, nonce, certReq = true.
#[derive(Clone, Debug)]
pub struct TsaRequest {
    pub algorithm: DigestAlgorithm,
    pub imprint: Vec<u8>,
    /// Positive, minimal big-endian nonce.
    pub nonce: Vec<u8>,
    pub policy: Option<O>,
}

impl TsaRequest {
    /// A request for `imprint` with the 64-bit `nonce` the caller drew (the
    /// core takes randomness as a parameter: `bewahr_net::tsa_client::new_request`
    /// draws it from the system). The top bit is cleared and the next one set,
    /// so the INTEGER is positive and always 8 bytes long.
    pub fn with_nonce(
        algorithm: DigestAlgorithm,
        imprint: Vec<u8>,
        mut nonce: [u8; 8],
        policy: Option<O>,
    ) -> Self {
        nonce[0] = (nonce[0] & 0x7f) | 0x40;
        TsaRequest {
            algorithm,
            imprint,
            nonce: nonce.to_vec(),
            policy,
        }
    }

    pub fn to_der(&self) -> Vec<u8> {
        let req = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifier {
                    oid: self.algorithm.oid(),
                    parameters: Some(der::Any::null()),
                },
                hashed_message: OctetString::new(self.imprint.clone()).expect("short imprint"),
            },
            req_policy: self.policy,
            nonce: Some(Int::new(&self.nonce).expect("minimal nonce")),
            cert_req: true,
            extensions: None,
        };
        req.to_der().expect("a request always encodes")
    }
}

/// Why a TSA's answer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("the TSA's response is malformed: {0}")]
    Malformed(String),
    #[error("the TSA refused: status {status}{}{}", text.as_ref().map(|t| format!(", \"{t}\"")).unwrap_or_default(), fail_info.as_ref().map(|f| format!(", failInfo {f}")).unwrap_or_default())]
    Rejected {
        status: u8,
        text: Option<String>,
        fail_info: Option<String>,
    },
    #[error("the TSA granted the request but sent no token")]
    NoToken,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the token's message imprint ({got_alg}:{got}) is not the one requested ({want_alg}:{want})")]
    ImprintMismatch {
        want_alg: DigestAlgorithm,
        want: String,
        got_alg: String,
        got: String,
    },
    #[error("the token's nonce {got} is not the request's {want}")]
    NonceMismatch { want: String, got: String },
    #[error("the token's policy {got} is not the requested {want}")]
    PolicyMismatch { want: String, got: String },
    #[error("the TSA is not trusted: {0}")]
    Untrusted(#[from] TrustError),
    #[error("TSA certificate: {0}")]
    KeyPurpose(&'static str),
}

/// A checked time-stamp token, with its exact bytes.
#[derive(Clone, Debug)]
pub struct Granted {
    pub token: Vec<u8>,
    pub checked: CheckedToken,
}

/// Checks a TimeStampResp against the request it answers: status, imprint,
/// nonce, policy, the token's signature and signer binding, the timeStamping
/// key purpose, and (when `trusted` is not empty) a path to a trusted certificate.
pub fn check_response(
    req: &TsaRequest,
    resp: &[u8],
    trusted: &[Certificate],
) -> Result<Granted, ResponseError> {
    crate::ers::check_depth("TimeStampResp", resp)
        .map_err(|e| ResponseError::Malformed(e.to_string()))?;
    der::AnyRef::from_der(resp).map_err(|e| ResponseError::Malformed(e.to_string()))?;
    let parts =
        raw::children(resp).ok_or_else(|| ResponseError::Malformed("not a SEQUENCE".into()))?;
    if resp[0] != 0x30 || parts.is_empty() || parts.len() > 2 {
        return Err(ResponseError::Malformed(
            "expected SEQUENCE { status, timeStampToken OPTIONAL }".into(),
        ));
    }
    let status = PkiStatusInfo::from_der(parts[0])
        .map_err(|e| ResponseError::Malformed(format!("PKIStatusInfo: {e}")))?;
    if status.status > 1 {
        return Err(ResponseError::Rejected {
            status: status.status,
            text: status.status_string.map(|v| v.join("; ")),
            fail_info: status.fail_info.map(|b| hex::encode(b.raw_bytes())),
        });
    }
    let token = parts.get(1).ok_or(ResponseError::NoToken)?.to_vec();
    let checked = check_token(&token, trusted)?;
    let t = &checked.tst_info;
    if checked.imprint_algorithm != req.algorithm || checked.imprint != req.imprint {
        return Err(ResponseError::ImprintMismatch {
            want_alg: req.algorithm,
            want: hex::encode(&req.imprint),
            got_alg: checked.imprint_algorithm.to_string(),
            got: hex::encode(&checked.imprint),
        });
    }
    let got_nonce = t
        .nonce
        .as_ref()
        .map(|n| hex::encode(n.as_bytes()))
        .unwrap_or_else(|| "(none)".into());
    if got_nonce != hex::encode(&req.nonce) {
        return Err(ResponseError::NonceMismatch {
            want: hex::encode(&req.nonce),
            got: got_nonce,
        });
    }
    if let Some(p) = req.policy {
        if t.policy != p {
            return Err(ResponseError::PolicyMismatch {
                want: p.to_string(),
                got: t.policy.to_string(),
            });
        }
    }
    super::token::has_timestamping_purpose(&checked.signer).map_err(ResponseError::KeyPurpose)?;
    if !trusted.is_empty() {
        trust::validate_path(
            &checked.signer,
            &checked.certificates,
            trusted,
            checked.gen_time,
        )?;
    }
    Ok(Granted { token, checked })
}

/// The genTime a response claims, for logs; `None` if unreadable.
pub fn gen_time_of(token: &[u8]) -> Option<OffsetDateTime> {
    super::token::read_tst_info(token)
        .ok()
        .map(|t| t.gen_time.0)
}
