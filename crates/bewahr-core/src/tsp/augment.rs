//! Adding validation data to a time-stamp token, right after it arrives.
//!
//! RFC 4998 section 4.2: "The data (e.g. certificates, CRLs, or OCSP
//! responses) needed to verify the timestamp MUST be preserved, and SHOULD be
//! stored in the timestamp itself"; TR-ESOR-ERS section 3.6 asks the archive
//! to add the TSA's full path and revocation data to a new archive
//! time-stamp. `certificates` and `crls` of a SignedData are outside what
//! the signature covers, so they can be filled in without breaking it; it
//! must happen before anything hashes the token (a later time-stamp renewal
//! covers its exact bytes), which is why the archive does it before it
//! stores the token.
//!
//! OCSP responses go in as RFC 5940 `id-ri-ocsp-response` entries (what the
//! TSAs of the field write; TR-ESOR-ERS also describes a BasicOCSPResponse
//! under `id-pkix-ocsp-basic`, which bewahr reads but does not write). With
//! an `other` entry in `crls`, RFC 5652 section 5.1 makes the version 5.

use crate::ers::raw;
use crate::signature::ber;

/// Why a token could not be augmented (it is then used as it came).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AugmentError {
    #[error("the token is not BER: {0}")]
    Ber(#[from] ber::BerError),
    #[error("the token is not a SignedData ContentInfo: {0}")]
    Shape(&'static str),
}

/// `id-ri-ocsp-response` (1.3.6.1.5.5.7.16.2) as a DER OBJECT IDENTIFIER.
const ID_RI_OCSP_RESPONSE_DER: [u8; 10] =
    [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x10, 0x02];

/// `token` with `certificates` (DER), `crls` (DER) and `ocsp_responses`
/// (OCSPResponse DER) added to its SignedData, each once. Returns the token
/// unchanged when there is nothing new. A BER token comes back in DER.
pub fn add_validation_data(
    token: &[u8],
    certificates: &[Vec<u8>],
    crls: &[Vec<u8>],
    ocsp_responses: &[Vec<u8>],
) -> Result<Vec<u8>, AugmentError> {
    let der = ber::to_der(token)?;
    let ci = raw::children(&der).ok_or(AugmentError::Shape("ContentInfo"))?;
    if ci.len() != 2 || ci[1].first() != Some(&0xa0) {
        return Err(AugmentError::Shape("ContentInfo"));
    }
    let inner = raw::children(ci[1]).ok_or(AugmentError::Shape("[0] content"))?;
    let [sd] = inner[..] else {
        return Err(AugmentError::Shape("[0] content"));
    };
    let f = raw::children(sd).ok_or(AugmentError::Shape("SignedData"))?;
    if f.len() < 4 || f[0].first() != Some(&0x02) || f.last().and_then(|l| l.first()) != Some(&0x31)
    {
        return Err(AugmentError::Shape("SignedData"));
    }
    let mut certs: Vec<Vec<u8>> = Vec::new();
    let mut revs: Vec<Vec<u8>> = Vec::new();
    for field in &f[3..f.len() - 1] {
        let kids = raw::children(field).ok_or(AugmentError::Shape("certificates or crls"))?;
        match field.first() {
            Some(0xa0) => certs.extend(kids.iter().map(|k| k.to_vec())),
            Some(0xa1) => revs.extend(kids.iter().map(|k| k.to_vec())),
            _ => return Err(AugmentError::Shape("field before signerInfos")),
        }
    }
    let mut changed = false;
    for c in certificates {
        if !certs.contains(c) {
            certs.push(c.clone());
            changed = true;
        }
    }
    for c in crls {
        if !revs.contains(c) {
            revs.push(c.clone());
            changed = true;
        }
    }
    for o in ocsp_responses {
        let entry = raw::wrap(0xa1, &[&ID_RI_OCSP_RESPONSE_DER[..], o].concat());
        if !revs.contains(&entry) {
            revs.push(entry);
            changed = true;
        }
    }
    if !changed {
        return Ok(token.to_vec());
    }
    // DER: a SET OF in the order of its elements' encodings (X.690 11.6)
    certs.sort();
    revs.sort();
    let has_other = revs.iter().any(|r| r.first() == Some(&0xa1))
        || certs.iter().any(|c| c.first() == Some(&0xa3));
    let version: Vec<u8> = if has_other {
        vec![0x02, 0x01, 0x05]
    } else {
        f[0].to_vec()
    };
    let mut body = version;
    body.extend_from_slice(f[1]);
    body.extend_from_slice(f[2]);
    if !certs.is_empty() {
        body.extend(raw::wrap(0xa0, &certs.concat()));
    }
    if !revs.is_empty() {
        body.extend(raw::wrap(0xa1, &revs.concat()));
    }
    body.extend_from_slice(f[f.len() - 1]);
    let sd = raw::wrap(0x30, &body);
    Ok(raw::wrap(0x30, &[ci[0], &raw::wrap(0xa0, &sd)].concat()))
}
