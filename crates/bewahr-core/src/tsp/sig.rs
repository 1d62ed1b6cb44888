//! Signature verification (ring) for time-stamp tokens and certificates.

use const_oid::ObjectIdentifier as O;
use der::{Decode, Sequence};
use ring::signature as rs;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::alg::DigestAlgorithm;

pub const RSA_ENCRYPTION: O = O::new_unwrap("1.2.840.113549.1.1.1");
pub const SHA1_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.5");
pub const SHA256_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.11");
pub const SHA384_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.12");
pub const SHA512_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.13");
pub const RSASSA_PSS: O = O::new_unwrap("1.2.840.113549.1.1.10");
pub const MGF1: O = O::new_unwrap("1.2.840.113549.1.1.8");
pub const EC_PUBLIC_KEY: O = O::new_unwrap("1.2.840.10045.2.1");
pub const ECDSA_SHA256: O = O::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_SHA384: O = O::new_unwrap("1.2.840.10045.4.3.3");
pub const ECDSA_SHA512: O = O::new_unwrap("1.2.840.10045.4.3.4");
pub const P256: O = O::new_unwrap("1.2.840.10045.3.1.7");
pub const P384: O = O::new_unwrap("1.3.132.0.34");

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("unsupported signature algorithm {0}")]
    Unsupported(String),
    #[error("malformed public key: {0}")]
    BadKey(String),
    #[error("the signature value does not verify ({0})")]
    Invalid(String),
}

/// A signature algorithm resolved to what is needed to verify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    RsaPkcs1(DigestAlgorithm),
    RsaPss { hash: DigestAlgorithm, salt: usize },
    Ecdsa(DigestAlgorithm),
}

impl Scheme {
    pub fn name(self, key: &KeyInfo) -> String {
        match self {
            Scheme::RsaPkcs1(d) => format!("rsa{}-pkcs1v15-{d}", key.bits),
            Scheme::RsaPss { hash, salt } if salt == hash.output_len() => {
                format!("rsa{}-pss-{hash}", key.bits)
            }
            Scheme::RsaPss { hash, salt } => format!("rsa{}-pss-{hash}-salt{salt}", key.bits),
            Scheme::Ecdsa(d) => format!("ecdsa-{}-{d}", key.curve.unwrap_or("?")),
        }
    }
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            Scheme::RsaPkcs1(d) | Scheme::RsaPss { hash: d, .. } | Scheme::Ecdsa(d) => d,
        }
    }
}

/// ```text
/// RSASSA-PSS-params ::= SEQUENCE {
///     hashAlgorithm      [0] HashAlgorithm      DEFAULT sha1,
///     maskGenAlgorithm   [1] MaskGenAlgorithm   DEFAULT mgf1SHA1,
///     saltLength         [2] INTEGER            DEFAULT 20,
///     trailerField       [3] TrailerField       DEFAULT trailerFieldBC }
/// ```
#[derive(Clone, Debug, Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", optional = "true", tag_mode = "EXPLICIT")]
    salt: Option<u32>,
    #[asn1(context_specific = "3", optional = "true", tag_mode = "EXPLICIT")]
    trailer: Option<u32>,
}

/// Resolves a signature AlgorithmIdentifier; `digest` is the CMS digestAlgorithm,
/// needed when the signature algorithm is plain rsaEncryption.
pub fn scheme(
    sig_alg: &AlgorithmIdentifierOwned,
    digest: Option<DigestAlgorithm>,
) -> Result<Scheme, SignatureError> {
    let unsupported = || SignatureError::Unsupported(sig_alg.oid.to_string());
    Ok(match sig_alg.oid {
        RSA_ENCRYPTION => Scheme::RsaPkcs1(digest.ok_or_else(unsupported)?),
        SHA1_WITH_RSA => Scheme::RsaPkcs1(DigestAlgorithm::Sha1),
        SHA256_WITH_RSA => Scheme::RsaPkcs1(DigestAlgorithm::Sha256),
        SHA384_WITH_RSA => Scheme::RsaPkcs1(DigestAlgorithm::Sha384),
        SHA512_WITH_RSA => Scheme::RsaPkcs1(DigestAlgorithm::Sha512),
        // some CMS producers name the key, not the scheme (RFC 5753 allows only the scheme)
        EC_PUBLIC_KEY => Scheme::Ecdsa(digest.ok_or_else(unsupported)?),
        ECDSA_SHA256 => Scheme::Ecdsa(DigestAlgorithm::Sha256),
        ECDSA_SHA384 => Scheme::Ecdsa(DigestAlgorithm::Sha384),
        ECDSA_SHA512 => Scheme::Ecdsa(DigestAlgorithm::Sha512),
        RSASSA_PSS => {
            let params = sig_alg.parameters.as_ref().ok_or_else(|| {
                SignatureError::Unsupported("RSASSA-PSS without parameters".into())
            })?;
            let p: PssParams = params
                .decode_as()
                .map_err(|e| SignatureError::Unsupported(format!("RSASSA-PSS parameters: {e}")))?;
            let hash = match &p.hash {
                Some(h) => DigestAlgorithm::from_algorithm_identifier(h)
                    .map_err(|e| SignatureError::Unsupported(e.to_string()))?,
                None => DigestAlgorithm::Sha1,
            };
            if let Some(m) = &p.mgf {
                let inner: Option<AlgorithmIdentifierOwned> =
                    m.parameters.as_ref().and_then(|a| a.decode_as().ok());
                let mgf_hash = inner
                    .as_ref()
                    .and_then(|i| DigestAlgorithm::from_algorithm_identifier(i).ok());
                if m.oid != MGF1 || mgf_hash != Some(hash) {
                    return Err(SignatureError::Unsupported(
                        "RSASSA-PSS with a mask generation other than MGF1 with the same hash"
                            .into(),
                    ));
                }
            }
            let salt = p.salt.unwrap_or(20) as usize;
            if p.trailer.unwrap_or(1) != 1 {
                return Err(SignatureError::Unsupported(
                    "RSASSA-PSS trailer field other than 1".into(),
                ));
            }
            Scheme::RsaPss { hash, salt }
        }
        _ => return Err(unsupported()),
    })
}

/// What the report says about a public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub bits: usize,
    pub curve: Option<&'static str>,
}

#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    _exponent: der::asn1::UintRef<'a>,
}

/// Size (and curve) of a public key.
pub fn key_info(spki: &SubjectPublicKeyInfoOwned) -> Result<KeyInfo, SignatureError> {
    let key = spki.subject_public_key.raw_bytes();
    match spki.algorithm.oid {
        RSA_ENCRYPTION | RSASSA_PSS => {
            let k =
                RsaPublicKey::from_der(key).map_err(|e| SignatureError::BadKey(e.to_string()))?;
            let m = k.modulus.as_bytes();
            let bits = m.len() * 8 - m.first().map(|b| b.leading_zeros() as usize).unwrap_or(0);
            Ok(KeyInfo { bits, curve: None })
        }
        EC_PUBLIC_KEY => {
            let curve: O = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as().ok())
                .ok_or_else(|| SignatureError::BadKey("EC key without a named curve".into()))?;
            match curve {
                P256 => Ok(KeyInfo {
                    bits: 256,
                    curve: Some("p256"),
                }),
                P384 => Ok(KeyInfo {
                    bits: 384,
                    curve: Some("p384"),
                }),
                other => Err(SignatureError::Unsupported(format!("EC curve {other}"))),
            }
        }
        other => Err(SignatureError::Unsupported(format!(
            "public key algorithm {other}"
        ))),
    }
}

/// Verifies `signature` over `message` with the key in `spki`.
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    scheme: Scheme,
    message: &[u8],
    signature: &[u8],
) -> Result<KeyInfo, SignatureError> {
    let info = key_info(spki)?;
    let key = spki.subject_public_key.raw_bytes();
    let alg: &dyn rs::VerificationAlgorithm = match (scheme, info.curve) {
        (Scheme::RsaPkcs1(d), None) => match (d, info.bits >= 2048) {
            (DigestAlgorithm::Sha1, _) => &rs::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            (DigestAlgorithm::Sha256, true) => &rs::RSA_PKCS1_2048_8192_SHA256,
            (DigestAlgorithm::Sha256, false) => &rs::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            (DigestAlgorithm::Sha384, _) => &rs::RSA_PKCS1_2048_8192_SHA384,
            (DigestAlgorithm::Sha512, true) => &rs::RSA_PKCS1_2048_8192_SHA512,
            (DigestAlgorithm::Sha512, false) => &rs::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
            (d, _) => {
                return Err(SignatureError::Unsupported(format!(
                    "RSA PKCS#1 v1.5 with {d}"
                )))
            }
        },
        (Scheme::RsaPss { hash, salt }, None) if salt != hash.output_len() => {
            verify_pss_any_salt(key, hash, salt, message, signature).map_err(|e| match e {
                SignatureError::Invalid(_) => SignatureError::Invalid(scheme.name(&info)),
                e => e,
            })?;
            return Ok(info);
        }
        (Scheme::RsaPss { hash, .. }, None) => match hash {
            DigestAlgorithm::Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
            DigestAlgorithm::Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
            DigestAlgorithm::Sha512 => &rs::RSA_PSS_2048_8192_SHA512,
            d => return Err(SignatureError::Unsupported(format!("RSASSA-PSS with {d}"))),
        },
        (Scheme::Ecdsa(d), Some(curve)) => match (curve, d) {
            ("p256", DigestAlgorithm::Sha256) => &rs::ECDSA_P256_SHA256_ASN1,
            ("p256", DigestAlgorithm::Sha384) => &rs::ECDSA_P256_SHA384_ASN1,
            ("p384", DigestAlgorithm::Sha256) => &rs::ECDSA_P384_SHA256_ASN1,
            ("p384", DigestAlgorithm::Sha384) => &rs::ECDSA_P384_SHA384_ASN1,
            (c, d) => {
                verify_ecdsa_prehash(c, key, &d.digest(message), signature).map_err(
                    |e| match e {
                        SignatureError::Invalid(_) => SignatureError::Invalid(scheme.name(&info)),
                        e => e,
                    },
                )?;
                return Ok(info);
            }
        },
        _ => {
            return Err(SignatureError::Unsupported(
                "signature algorithm does not match the key type".into(),
            ))
        }
    };
    rs::UnparsedPublicKey::new(alg, key)
        .verify(message, signature)
        .map_err(|_| SignatureError::Invalid(scheme.name(&info)))?;
    Ok(info)
}

/// ECDSA with a digest ring does not pair with the curve (FIPS 186-4
/// 6.4: the digest is truncated to the curve's order length), by the
/// RustCrypto curve crates.
fn verify_ecdsa_prehash(
    curve: &str,
    key: &[u8],
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let bad_key = |e: String| SignatureError::BadKey(e);
    let invalid = || SignatureError::Invalid(String::new());
    match curve {
        "p256" => {
            let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                .map_err(|e| bad_key(e.to_string()))?;
            let s = p256::ecdsa::Signature::from_der(signature).map_err(|_| invalid())?;
            k.verify_prehash(digest, &s).map_err(|_| invalid())
        }
        "p384" => {
            let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(key)
                .map_err(|e| bad_key(e.to_string()))?;
            let s = p384::ecdsa::Signature::from_der(signature).map_err(|_| invalid())?;
            k.verify_prehash(digest, &s).map_err(|_| invalid())
        }
        c => Err(SignatureError::Unsupported(format!("ECDSA on {c}"))),
    }
}

/// An ECDSA signature as XML-DSig writes it (RFC 4050 / RFC 6931: r and s
/// as two big-endian integers of the curve's length, concatenated) in the
/// DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` that
/// [`verify`] takes.
pub fn ecdsa_fixed_to_der(fixed: &[u8]) -> Option<Vec<u8>> {
    if fixed.is_empty() || !fixed.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    // a DER INTEGER: no leading zero bytes, and one before a high bit
    let int = |x: &[u8]| {
        let x = &x[x.iter().position(|b| *b != 0).unwrap_or(x.len() - 1)..];
        let body = if x[0] & 0x80 != 0 {
            [&[0u8][..], x].concat()
        } else {
            x.to_vec()
        };
        crate::ers::raw::wrap(0x02, &body)
    };
    Some(crate::ers::raw::wrap(0x30, &[int(r), int(s)].concat()))
}

/// RSASSA-PSS with a salt length ring does not take (e.g. the maximum salt
/// length that some TSAs and certomancer use).
fn verify_pss_any_salt(
    key: &[u8],
    hash: DigestAlgorithm,
    salt: usize,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    let pk = rsa::RsaPublicKey::from_pkcs1_der(key)
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    let pss = match hash {
        DigestAlgorithm::Sha256 => rsa::Pss::new_with_salt::<sha2::Sha256>(salt),
        DigestAlgorithm::Sha384 => rsa::Pss::new_with_salt::<sha2::Sha384>(salt),
        DigestAlgorithm::Sha512 => rsa::Pss::new_with_salt::<sha2::Sha512>(salt),
        d => return Err(SignatureError::Unsupported(format!("RSASSA-PSS with {d}"))),
    };
    pk.verify(pss, &hash.digest(message), signature)
        .map_err(|_| SignatureError::Invalid(String::new()))
}
