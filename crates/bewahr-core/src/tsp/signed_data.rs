//! CMS SignedData (RFC 5652 section 5) read as the field writes it: for
//! time-stamp tokens and CAdES signatures alike.
//!
//! Hand-written on purpose. `cms` 0.2 declares
//! `OtherRevocationInfoFormat.otherRevInfoFormat` as an AlgorithmIdentifier
//! where RFC 5652 section 10.2.1 says OBJECT IDENTIFIER, so every SignedData
//! whose `crls` holds an `other` entry (the OCSP responses of RFC 5940 that
//! Governikus and D-TRUST TSAs embed) fails to decode with it. This reader
//! walks the structure itself (BER or DER, [`crate::signature::ber`]),
//! decodes the parts `cms` and `x509-cert` read correctly (SignerInfo,
//! Certificate) with them, and keeps every revocation entry as the bytes it
//! arrived in:
//!
//! ```text
//! SignedData ::= SEQUENCE {
//!     version CMSVersion,
//!     digestAlgorithms DigestAlgorithmIdentifiers,
//!     encapContentInfo EncapsulatedContentInfo,
//!     certificates [0] IMPLICIT CertificateSet OPTIONAL,
//!     crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
//!     signerInfos SignerInfos }
//!
//! EncapsulatedContentInfo ::= SEQUENCE {
//!     eContentType ContentType,
//!     eContent [0] EXPLICIT OCTET STRING OPTIONAL }
//!
//! CertificateChoices ::= CHOICE {
//!     certificate Certificate,
//!     extendedCertificate [0] IMPLICIT ExtendedCertificate,  -- Obsolete
//!     v1AttrCert [1] IMPLICIT AttributeCertificateV1,        -- Obsolete
//!     v2AttrCert [2] IMPLICIT AttributeCertificateV2,
//!     other [3] IMPLICIT OtherCertificateFormat }
//!
//! RevocationInfoChoice ::= CHOICE {
//!     crl CertificateList,
//!     other [1] IMPLICIT OtherRevocationInfoFormat }
//!
//! OtherRevocationInfoFormat ::= SEQUENCE {
//!     otherRevInfoFormat OBJECT IDENTIFIER,
//!     otherRevInfo ANY DEFINED BY otherRevInfoFormat }
//! ```
//!
//! Two `other` formats are understood: `id-ri-ocsp-response` (RFC 5940,
//! an OCSPResponse) and `id-pkix-ocsp-basic` with a BasicOCSPResponse (the
//! form TR-ESOR-ERS section 3.4.2.2 describes). Both end up as OCSPResponse
//! DER in [`SignedData::revocation`]; the BasicOCSPResponse is wrapped
//! without touching its bytes, so its signature still verifies.

use const_oid::ObjectIdentifier as O;
use der::Decode;
use x509_cert::Certificate;

use super::oid::AnyOid;
use crate::ers::raw;
use crate::signature::ber;
use crate::signature::revocation::ValidationData;

pub const ID_SIGNED_DATA: O = O::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_DATA: O = O::new_unwrap("1.2.840.113549.1.7.1");
/// RFC 5940: `otherRevInfo` is an OCSPResponse.
pub const ID_RI_OCSP_RESPONSE: O = O::new_unwrap("1.3.6.1.5.5.7.16.2");
/// RFC 6960 / TR-ESOR-ERS: `otherRevInfo` is a BasicOCSPResponse.
pub const ID_PKIX_OCSP_BASIC: O = O::new_unwrap("1.3.6.1.5.5.7.48.1.1");

/// Why bytes are not a SignedData.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedDataError {
    #[error("not BER: {0}")]
    Ber(#[from] ber::BerError),
    #[error("not a CMS ContentInfo: {0}")]
    NotContentInfo(String),
    #[error("the CMS content type is {0}, not signedData")]
    NotSignedData(String),
    #[error("SignedData {field}: {detail}")]
    Malformed { field: &'static str, detail: String },
}

fn bad(field: &'static str, detail: impl std::fmt::Display) -> SignedDataError {
    SignedDataError::Malformed {
        field,
        detail: detail.to_string(),
    }
}

/// A revocation entry the reader does not interpret, kept byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherRevocation {
    pub format: AnyOid,
    /// The whole `[1] IMPLICIT OtherRevocationInfoFormat` TLV.
    pub der: Vec<u8>,
}

/// A SignedData, with what it carries besides the signature.
#[derive(Clone, Debug)]
pub struct SignedData {
    /// CMSVersion.
    pub version: u64,
    pub econtent_type: AnyOid,
    /// The encapsulated content's octets (a constructed OCTET STRING joined).
    pub econtent: Option<Vec<u8>>,
    /// The X.509 certificates of `certificates` that decode.
    pub certificates: Vec<Certificate>,
    /// The other entries of `certificates` (attribute certificates, other
    /// formats, and X.509 certificates that did not decode), as received.
    pub other_certificates: Vec<Vec<u8>>,
    /// CRLs as received, and OCSP responses (as OCSPResponse DER).
    pub revocation: ValidationData,
    /// `other` revocation entries of formats not understood.
    pub other_revocation: Vec<OtherRevocation>,
    /// How many `crls` entries are `other` (understood or not).
    pub other_revocation_count: usize,
    pub signer_infos: Vec<cms::signed_data::SignerInfo>,
    /// Per signer info: its signedAttrs re-tagged as SET OF (the bytes the
    /// signature covers, RFC 5652 5.4), or `None` if it has none.
    pub raw_signed_attrs: Vec<Option<Vec<u8>>>,
}

fn read_oid(field: &'static str, tlv: &[u8]) -> Result<AnyOid, SignedDataError> {
    if tlv.first() != Some(&0x06) {
        return Err(bad(field, "not an OBJECT IDENTIFIER"));
    }
    let (_, hl, len) = raw::read_header(tlv).ok_or_else(|| bad(field, "bad length"))?;
    AnyOid::from_content(&tlv[hl..hl + len]).map_err(|e| bad(field, e))
}

fn der_of(field: &'static str, tlv: &[u8]) -> Result<Vec<u8>, SignedDataError> {
    ber::to_der_cow(tlv)
        .map(|c| c.into_owned())
        .map_err(|e| bad(field, e))
}

/// The content octets of an OCTET STRING (primitive or constructed).
fn octets(field: &'static str, tlv: &[u8]) -> Result<Vec<u8>, SignedDataError> {
    let d = der_of(field, tlv)?;
    if d.first() != Some(&0x04) {
        return Err(bad(field, "not an OCTET STRING"));
    }
    let (_, hl, len) = raw::read_header(&d).ok_or_else(|| bad(field, "bad length"))?;
    Ok(d[hl..hl + len].to_vec())
}

/// Wraps a BasicOCSPResponse into a successful OCSPResponse (RFC 6960 4.2.1).
pub fn wrap_basic_ocsp(basic: &[u8]) -> Vec<u8> {
    let oid = [
        0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01,
    ];
    let bytes = raw::wrap(0x30, &[&oid[..], &raw::wrap(0x04, basic)].concat());
    raw::wrap(
        0x30,
        &[&[0x0a, 0x01, 0x00][..], &raw::wrap(0xa0, &bytes)].concat(),
    )
}

impl SignedData {
    /// Reads a ContentInfo of type signedData, DER or BER.
    pub fn parse(content_info: &[u8]) -> Result<SignedData, SignedDataError> {
        Self::read(content_info, true)
    }

    /// Only the version and the encapsulated content (no certificates,
    /// revocation data or signer infos are decoded): for reading a TSTInfo.
    pub fn parse_content(content_info: &[u8]) -> Result<SignedData, SignedDataError> {
        Self::read(content_info, false)
    }

    fn read(content_info: &[u8], full: bool) -> Result<SignedData, SignedDataError> {
        let end = ber::tlv_len(content_info)?;
        if content_info[end..].iter().any(|b| *b != 0) {
            return Err(SignedDataError::NotContentInfo(
                "data after the end of the structure".into(),
            ));
        }
        let ci = &content_info[..end];
        if ci.first() != Some(&0x30) {
            return Err(SignedDataError::NotContentInfo("not a SEQUENCE".into()));
        }
        let fields = ber::children(ci)?;
        if fields.len() != 2 || fields[1].first() != Some(&0xa0) {
            return Err(SignedDataError::NotContentInfo(
                "expected contentType and [0] content".into(),
            ));
        }
        let ct = read_oid("contentType", fields[0])
            .map_err(|e| SignedDataError::NotContentInfo(e.to_string()))?;
        if ct != ID_SIGNED_DATA {
            return Err(SignedDataError::NotSignedData(ct.to_string()));
        }
        let inner = ber::children(fields[1])?;
        let [sd] = inner[..] else {
            return Err(SignedDataError::NotContentInfo(
                "[0] content must hold exactly one value".into(),
            ));
        };
        if sd.first() != Some(&0x30) {
            return Err(bad("", "not a SEQUENCE"));
        }
        let f = ber::children(sd)?;
        if f.len() < 4 {
            return Err(bad("", format!("{} fields, at least 4 expected", f.len())));
        }
        // version
        let v = der_of("version", f[0])?;
        if v.first() != Some(&0x02) || v.len() < 3 || v.len() > 10 || v[2] & 0x80 != 0 {
            return Err(bad("version", "not a small non-negative INTEGER"));
        }
        let version = v[2..].iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        if f[1].first() != Some(&0x31) {
            return Err(bad("digestAlgorithms", "not a SET"));
        }
        // encapContentInfo
        if f[2].first() != Some(&0x30) {
            return Err(bad("encapContentInfo", "not a SEQUENCE"));
        }
        let eci = ber::children(f[2])?;
        let econtent_type = read_oid(
            "eContentType",
            eci.first()
                .ok_or_else(|| bad("encapContentInfo", "empty"))?,
        )?;
        let econtent = match eci.get(1) {
            None => None,
            Some(t) if t.first() == Some(&0xa0) => {
                let v = ber::children(t)?;
                let [os] = v[..] else {
                    return Err(bad("eContent", "[0] must hold one OCTET STRING"));
                };
                Some(octets("eContent", os)?)
            }
            Some(_) => return Err(bad("eContent", "not [0] EXPLICIT")),
        };
        if eci.len() > 2 {
            return Err(bad("encapContentInfo", "unexpected fields"));
        }

        let mut out = SignedData {
            version,
            econtent_type,
            econtent,
            certificates: vec![],
            other_certificates: vec![],
            revocation: ValidationData::default(),
            other_revocation: vec![],
            other_revocation_count: 0,
            signer_infos: vec![],
            raw_signed_attrs: vec![],
        };
        if !full {
            return Ok(out);
        }
        let rest = &f[3..];
        let (last, optional) = rest
            .split_last()
            .ok_or_else(|| bad("signerInfos", "missing"))?;
        let mut seen = 0u8;
        for o in optional {
            match o.first() {
                Some(&0xa0) if seen < 1 => {
                    seen = 1;
                    out.read_certificates(o)?;
                }
                Some(&0xa1) if seen < 2 => {
                    seen = 2;
                    out.read_crls(o)?;
                }
                _ => return Err(bad("", "unexpected field before signerInfos")),
            }
        }
        if last.first() != Some(&0x31) {
            return Err(bad("signerInfos", "not a SET"));
        }
        for si in ber::children(last)? {
            let si_der = ber::to_der_cow(si).map_err(|e| bad("signerInfo", e))?;
            let parsed = cms::signed_data::SignerInfo::from_der(&si_der)
                .map_err(|e| bad("signerInfo", e))?;
            let attrs = ber::children(si)?
                .into_iter()
                .find(|x| x.first() == Some(&0xa0))
                .map(|a| {
                    let mut v = der_of("signedAttrs", a)?;
                    v[0] = 0x31;
                    Ok::<_, SignedDataError>(v)
                })
                .transpose()?;
            out.signer_infos.push(parsed);
            out.raw_signed_attrs.push(attrs);
        }
        Ok(out)
    }

    /// The version RFC 5652 section 5.1 prescribes for what this SignedData holds.
    pub fn required_version(&self) -> u64 {
        let cert_tag = |t: u8| {
            self.other_certificates
                .iter()
                .any(|c| c.first() == Some(&t))
        };
        if cert_tag(0xa3) || self.other_revocation_count > 0 {
            5
        } else if cert_tag(0xa2) {
            4
        } else if cert_tag(0xa1)
            || self
                .signer_infos
                .iter()
                .any(|si| si.version == cms::content_info::CmsVersion::V3)
            || self.econtent_type != ID_DATA
        {
            3
        } else {
            1
        }
    }

    fn read_certificates(&mut self, set: &[u8]) -> Result<(), SignedDataError> {
        for c in ber::children(set)? {
            let decoded = if c.first() == Some(&0x30) {
                ber::to_der_cow(c)
                    .ok()
                    .and_then(|d| Certificate::from_der(&d).ok())
            } else {
                None
            };
            match decoded {
                Some(cert) => {
                    self.revocation.add_certificate(c);
                    self.certificates.push(cert);
                }
                None => self.other_certificates.push(c.to_vec()),
            }
        }
        Ok(())
    }

    fn read_crls(&mut self, set: &[u8]) -> Result<(), SignedDataError> {
        for r in ber::children(set)? {
            match r.first() {
                Some(&0x30) => self.revocation.add_crl(r),
                Some(&0xa1) => {
                    let parts = ber::children(r)?;
                    if parts.len() != 2 {
                        return Err(bad(
                            "crls",
                            "OtherRevocationInfoFormat must have two fields",
                        ));
                    }
                    let format = read_oid("otherRevInfoFormat", parts[0])?;
                    self.other_revocation_count += 1;
                    if format == ID_RI_OCSP_RESPONSE {
                        self.revocation.add_ocsp(parts[1]);
                    } else if format == ID_PKIX_OCSP_BASIC {
                        self.revocation.add_ocsp(&wrap_basic_ocsp(parts[1]));
                    } else {
                        self.other_revocation.push(OtherRevocation {
                            format,
                            der: r.to_vec(),
                        });
                    }
                }
                _ => return Err(bad("crls", "neither a CRL nor [1] other")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_ocsp_is_wrapped_without_changing_it() {
        let basic = [0x30, 0x03, 0x02, 0x01, 0x07];
        let w = wrap_basic_ocsp(&basic);
        let resp = raw::children(&w).unwrap();
        assert_eq!(resp[0], [0x0a, 0x01, 0x00]);
        let rb = raw::children(resp[1]).unwrap();
        let rb = raw::children(rb[0]).unwrap();
        assert_eq!(
            read_oid("x", rb[0]).unwrap().to_string(),
            "1.3.6.1.5.5.7.48.1.1"
        );
        assert_eq!(octets("x", rb[1]).unwrap(), basic);
    }

    #[test]
    fn refuses_what_is_not_signed_data() {
        assert!(matches!(
            SignedData::parse(&[0x30, 0x03, 0x02, 0x01, 0x01]),
            Err(SignedDataError::NotContentInfo(_))
        ));
        // ContentInfo of id-data
        let ci = raw::wrap(
            0x30,
            &[
                &[
                    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
                ][..],
                &raw::wrap(0xa0, &[0x04, 0x00]),
            ]
            .concat(),
        );
        assert!(matches!(
            SignedData::parse(&ci),
            Err(SignedDataError::NotSignedData(_))
        ));
        assert!(SignedData::parse(&[0x30, 0x80]).is_err());
    }
}
