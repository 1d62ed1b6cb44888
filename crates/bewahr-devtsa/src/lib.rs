//! The built-in development TSA: an in-process RFC 3161 signer, so that the
//! archive runs with no outside service. Its time-stamps are NOT qualified.
//!
//! On first use it creates an ECDSA P-256 root, signs a TSA certificate with
//! it (critical extendedKeyUsage id-kp-timeStamping) and throws the root key
//! away; it keeps the TSA key (PKCS#8) and both certificates (PEM).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use const_oid::ObjectIdentifier as O;
use der::asn1::{BitString, GeneralizedTime, Int, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode, EncodePem, Tag};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use time::OffsetDateTime;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::ers::raw;
use bewahr_core::tsp::request::PkiStatusInfo;
use bewahr_core::tsp::sig::{ECDSA_SHA256, EC_PUBLIC_KEY, P256};
use bewahr_core::tsp::token::*;
use bewahr_core::tsp::tstinfo::{GenTime, TstInfo};

/// The policy OID of the development TSA's time-stamps, under the enterprise number
/// RFC 5612 reserves for examples: it names no real policy, on purpose.
pub const DEV_POLICY: O = O::new_unwrap("1.3.6.1.4.1.32473.1.1");

const KEY_FILE: &str = "dev-tsa-key.p8";
const CERT_FILE: &str = "dev-tsa-certs.pem";

/// Errors of the development TSA.
#[derive(Debug, thiserror::Error)]
pub enum DevTsaError {
    #[error("development TSA files in {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("development TSA key or certificate in {dir} is unusable: {detail}")]
    Corrupt { dir: PathBuf, detail: String },
    #[error("development TSA: {0}")]
    Crypto(String),
}

/// An in-process TSA for development and tests.
pub struct DevTsa {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert: Certificate,
    cert_der: Vec<u8>,
    chain: Vec<Certificate>,
    serial: AtomicU64,
}

fn crypto(e: impl std::fmt::Display) -> DevTsaError {
    DevTsaError::Crypto(e.to_string())
}

fn x509_time(t: OffsetDateTime) -> Result<Time, DevTsaError> {
    let d = std::time::Duration::from_secs(t.unix_timestamp().max(0) as u64);
    Ok(if t.year() < 2050 {
        Time::UtcTime(UtcTime::from_unix_duration(d).map_err(crypto)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_unix_duration(d).map_err(crypto)?)
    })
}

fn ext(oid: O, critical: bool, value: &impl Encode) -> Result<Extension, DevTsaError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(crypto)?).map_err(crypto)?,
    })
}

fn ec_spki(public: &[u8]) -> Result<SubjectPublicKeyInfoOwned, DevTsaError> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: EC_PUBLIC_KEY,
            parameters: Some(Any::from(&P256)),
        },
        subject_public_key: BitString::from_bytes(public).map_err(crypto)?,
    })
}

fn random_serial(rng: &SystemRandom) -> Result<SerialNumber, DevTsaError> {
    let mut b = [0u8; 16];
    rng.fill(&mut b).map_err(crypto)?;
    b[0] = (b[0] & 0x7f) | 0x01;
    SerialNumber::new(&b).map_err(crypto)
}

fn sign_cert(
    tbs: TbsCertificate,
    issuer_key: &EcdsaKeyPair,
    rng: &SystemRandom,
) -> Result<Certificate, DevTsaError> {
    let sig = issuer_key
        .sign(rng, &tbs.to_der().map_err(crypto)?)
        .map_err(crypto)?;
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: ECDSA_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(sig.as_ref()).map_err(crypto)?,
    })
}

impl DevTsa {
    /// Creates a fresh TSA (root and TSA certificate valid from `now` for 30 years); returns it with its PKCS#8 key.
    pub fn generate(now: OffsetDateTime) -> Result<(Self, Vec<u8>), DevTsaError> {
        Self::generate_valid_for(now, time::Duration::days(365 * 30))
    }

    /// As [`generate`](Self::generate), with certificates valid from `now` for `lifetime`
    /// (tests of renewal make TSAs whose certificates end soon).
    pub fn generate_valid_for(
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<(Self, Vec<u8>), DevTsaError> {
        let rng = SystemRandom::new();
        let root_p8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).map_err(crypto)?;
        let root =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, root_p8.as_ref(), &rng)
                .map_err(crypto)?;
        let tsa_p8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).map_err(crypto)?;
        let tsa = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, tsa_p8.as_ref(), &rng)
            .map_err(crypto)?;
        let start = now - time::Duration::hours(1);
        let end = now + lifetime;
        let root_name = Name::from_str("CN=bewahr development root (NOT QUALIFIED),O=bewahr")
            .map_err(crypto)?;
        let tsa_name =
            Name::from_str("CN=bewahr development TSA (NOT QUALIFIED),O=bewahr").map_err(crypto)?;
        let root_ski = DigestAlgorithm::Sha1.digest(root.public_key().as_ref());
        let tsa_ski = DigestAlgorithm::Sha1.digest(tsa.public_key().as_ref());
        let validity = Validity {
            not_before: x509_time(start)?,
            not_after: x509_time(end)?,
        };
        let sig_alg = AlgorithmIdentifierOwned {
            oid: ECDSA_SHA256,
            parameters: None,
        };

        let root_tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial(&rng)?,
            signature: sig_alg.clone(),
            issuer: root_name.clone(),
            validity,
            subject: root_name.clone(),
            subject_public_key_info: ec_spki(root.public_key().as_ref())?,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(vec![
                ext(
                    ID_CE_BASIC_CONSTRAINTS,
                    true,
                    &BasicConstraints {
                        ca: true,
                        path_len_constraint: Some(0),
                    },
                )?,
                ext(
                    ID_CE_KEY_USAGE,
                    true,
                    &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
                )?,
                ext(
                    ID_CE_SUBJECT_KEY_IDENTIFIER,
                    false,
                    &SubjectKeyIdentifier(OctetString::new(root_ski.clone()).map_err(crypto)?),
                )?,
            ]),
        };
        let root_cert = sign_cert(root_tbs, &root, &rng)?;
        let tsa_tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial(&rng)?,
            signature: sig_alg,
            issuer: root_name,
            validity,
            subject: tsa_name,
            subject_public_key_info: ec_spki(tsa.public_key().as_ref())?,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(vec![
                ext(
                    ID_CE_BASIC_CONSTRAINTS,
                    true,
                    &BasicConstraints {
                        ca: false,
                        path_len_constraint: None,
                    },
                )?,
                ext(
                    ID_CE_KEY_USAGE,
                    true,
                    &KeyUsage(KeyUsages::DigitalSignature.into()),
                )?,
                ext(
                    ID_CE_EXT_KEY_USAGE,
                    true,
                    &ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING]),
                )?,
                ext(
                    ID_CE_SUBJECT_KEY_IDENTIFIER,
                    false,
                    &SubjectKeyIdentifier(OctetString::new(tsa_ski).map_err(crypto)?),
                )?,
                ext(
                    ID_CE_AUTHORITY_KEY_IDENTIFIER,
                    false,
                    &AuthorityKeyIdentifier {
                        key_identifier: Some(OctetString::new(root_ski).map_err(crypto)?),
                        authority_cert_issuer: None,
                        authority_cert_serial_number: None,
                    },
                )?,
            ]),
        };
        let tsa_cert = sign_cert(tsa_tbs, &root, &rng)?;
        let p8 = tsa_p8.as_ref().to_vec();
        Ok((Self::from_parts(&p8, vec![tsa_cert, root_cert])?, p8))
    }

    fn from_parts(pkcs8: &[u8], chain: Vec<Certificate>) -> Result<Self, DevTsaError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
            .map_err(crypto)?;
        let cert = chain
            .first()
            .cloned()
            .ok_or_else(|| crypto("no TSA certificate"))?;
        if cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            != key.public_key().as_ref()
        {
            return Err(crypto("the TSA certificate does not match the key"));
        }
        let mut seed = [0u8; 8];
        rng.fill(&mut seed).map_err(crypto)?;
        Ok(DevTsa {
            key,
            rng,
            cert_der: cert.to_der().map_err(crypto)?,
            cert,
            chain,
            serial: AtomicU64::new(u64::from_be_bytes(seed) >> 2),
        })
    }

    /// The certificates (TSA first, then its root) of the TSA kept in `dir`,
    /// without its key and without creating anything; `None` if there is none.
    pub fn load_certificates(dir: &Path) -> Result<Option<Vec<Certificate>>, DevTsaError> {
        let cp = dir.join(CERT_FILE);
        if !cp.exists() {
            return Ok(None);
        }
        let pem = std::fs::read(&cp).map_err(|source| DevTsaError::Io {
            dir: dir.to_path_buf(),
            source,
        })?;
        Certificate::load_pem_chain(&pem)
            .map(Some)
            .map_err(|e| DevTsaError::Corrupt {
                dir: dir.to_path_buf(),
                detail: e.to_string(),
            })
    }

    /// Loads the TSA from `dir`, creating it there on first use (files written durably).
    pub fn load_or_create(dir: &Path, now: OffsetDateTime) -> Result<Self, DevTsaError> {
        let io = |source| DevTsaError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let corrupt = |detail: String| DevTsaError::Corrupt {
            dir: dir.to_path_buf(),
            detail,
        };
        let (kp, cp) = (dir.join(KEY_FILE), dir.join(CERT_FILE));
        let tsa = if kp.exists() && cp.exists() {
            let p8 = std::fs::read(&kp).map_err(io)?;
            let pem = std::fs::read(&cp).map_err(io)?;
            let chain = Certificate::load_pem_chain(&pem).map_err(|e| corrupt(e.to_string()))?;
            Self::from_parts(&p8, chain).map_err(|e| corrupt(e.to_string()))?
        } else {
            std::fs::create_dir_all(dir).map_err(io)?;
            let (tsa, p8) = Self::generate(now)?;
            bewahr_durable::write_file(&kp, &p8, true).map_err(io)?;
            bewahr_durable::write_file(&cp, tsa.certificates_pem().as_bytes(), false)
                .map_err(io)?;
            tsa
        };
        tracing::warn!(
            tsa = %tsa.cert.tbs_certificate.subject,
            "the built-in development TSA is in use: its time-stamps are NOT QUALIFIED and prove nothing to a third party; configure a qualified TSA for production"
        );
        Ok(tsa)
    }

    /// The TSA certificate first, then its root.
    pub fn certificates(&self) -> &[Certificate] {
        &self.chain
    }

    pub fn certificates_pem(&self) -> String {
        self.chain
            .iter()
            .filter_map(|c| c.to_pem(der::pem::LineEnding::LF).ok())
            .collect()
    }

    /// Issues a TimeStampToken over `imprint` at `now`.
    pub fn timestamp(
        &self,
        alg: DigestAlgorithm,
        imprint: &[u8],
        nonce: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, DevTsaError> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let tst = TstInfo {
            version: 1,
            policy: DEV_POLICY.into(),
            message_imprint: x509_tsp::MessageImprint {
                hash_algorithm: spki::AlgorithmIdentifier {
                    oid: alg.oid(),
                    parameters: None,
                },
                hashed_message: OctetString::new(imprint).map_err(crypto)?,
            },
            serial_number: Int::new(&minimal_positive(&serial.to_be_bytes())).map_err(crypto)?,
            gen_time: GenTime(now.replace_nanosecond(0).map_err(crypto)?),
            accuracy: Some(x509_tsp::Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce: nonce.map(Int::new).transpose().map_err(crypto)?,
            tsa: None,
            extensions: None,
        };
        let tst_der = tst.to_der().map_err(crypto)?;
        let attr = |oid: O, value: Any| -> Result<Attribute, DevTsaError> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value]).map_err(crypto)?,
            })
        };
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(DigestAlgorithm::Sha256.digest(&self.cert_der))
                    .map_err(crypto)?,
                issuer_serial: None,
            }],
            policies: None,
        };
        let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
            attr(ID_CONTENT_TYPE, Any::from(&ID_CT_TST_INFO))?,
            attr(
                ID_MESSAGE_DIGEST,
                Any::new(Tag::OctetString, DigestAlgorithm::Sha256.digest(&tst_der))
                    .map_err(crypto)?,
            )?,
            attr(
                ID_SIGNING_CERTIFICATE_V2,
                Any::encode_from(&ess).map_err(crypto)?,
            )?,
        ])
        .map_err(crypto)?;
        let signature = self
            .key
            .sign(&self.rng, &signed_attrs.to_der().map_err(crypto)?)
            .map_err(crypto)?;
        let sha256 = DigestAlgorithm::Sha256.algorithm_identifier();
        let si = cms::signed_data::SignerInfo {
            version: cms::content_info::CmsVersion::V1,
            sid: cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(
                cms::cert::IssuerAndSerialNumber {
                    issuer: self.cert.tbs_certificate.issuer.clone(),
                    serial_number: self.cert.tbs_certificate.serial_number.clone(),
                },
            ),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_SHA256,
                parameters: None,
            },
            signature: OctetString::new(signature.as_ref()).map_err(crypto)?,
            unsigned_attrs: None,
        };
        let certs = self
            .chain
            .iter()
            .map(|c| cms::cert::CertificateChoices::Certificate(c.clone()))
            .collect::<Vec<_>>();
        let sd = cms::signed_data::SignedData {
            version: cms::content_info::CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256]).map_err(crypto)?,
            encap_content_info: cms::signed_data::EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(Any::new(Tag::OctetString, tst_der).map_err(crypto)?),
            },
            certificates: Some(cms::signed_data::CertificateSet(
                SetOfVec::try_from(certs).map_err(crypto)?,
            )),
            crls: None,
            signer_infos: cms::signed_data::SignerInfos(
                SetOfVec::try_from(vec![si]).map_err(crypto)?,
            ),
        };
        let ci = cms::content_info::ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&sd).map_err(crypto)?,
        };
        ci.to_der().map_err(crypto)
    }

    /// Answers a DER TimeStampReq with a DER TimeStampResp, as a TSA server does.
    pub fn respond(&self, request: &[u8], now: OffsetDateTime) -> Vec<u8> {
        let reject = |fail_bit: usize, text: String| -> Vec<u8> {
            let mut bits = vec![0u8; fail_bit / 8 + 1];
            bits[fail_bit / 8] |= 0x80 >> (fail_bit % 8);
            let unused = (7 - fail_bit % 8) as u8;
            let status = PkiStatusInfo {
                status: 2,
                status_string: Some(vec![text]),
                fail_info: BitString::new(unused, bits).ok(),
            };
            raw::wrap(0x30, &status.to_der().unwrap_or_default())
        };
        let req = match x509_tsp::TimeStampReq::from_der(request) {
            Ok(r) => r,
            Err(e) => return reject(5, format!("badDataFormat: {e}")),
        };
        let alg = match DigestAlgorithm::from_oid(&req.message_imprint.hash_algorithm.oid) {
            Ok(a) if req.message_imprint.hashed_message.as_bytes().len() == a.output_len() => a,
            Ok(_) => {
                return reject(
                    5,
                    "badDataFormat: imprint length does not fit its algorithm".into(),
                )
            }
            Err(e) => return reject(0, format!("badAlg: {e}")),
        };
        if let Some(p) = req.req_policy {
            if p != DEV_POLICY {
                return reject(15, format!("unacceptedPolicy: {p}"));
            }
        }
        match self.timestamp(
            alg,
            req.message_imprint.hashed_message.as_bytes(),
            req.nonce.as_ref().map(|n| n.as_bytes()),
            now,
        ) {
            Ok(token) => {
                let status = PkiStatusInfo {
                    status: 0,
                    status_string: None,
                    fail_info: None,
                }
                .to_der()
                .unwrap_or_default();
                let mut content = status;
                content.extend_from_slice(&token);
                raw::wrap(0x30, &content)
            }
            Err(e) => reject(25, format!("systemFailure: {e}")),
        }
    }
}

const ID_CE_BASIC_CONSTRAINTS: O = O::new_unwrap("2.5.29.19");
const ID_CE_KEY_USAGE: O = O::new_unwrap("2.5.29.15");
const ID_CE_AUTHORITY_KEY_IDENTIFIER: O = O::new_unwrap("2.5.29.35");

fn minimal_positive(b: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
    if v.is_empty() || v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    v
}
