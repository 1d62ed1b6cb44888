//! RFC 4998 Evidence Record Syntax: the ASN.1 types, DER in both directions.
//!
//! The module `ERS {iso(1) identified-organization(3) dod(6) internet(1) security(5)
//! mechanisms(5) ltans(11) id-mod(0) id-mod-ers88(2) id-mod-ers88-v1(1)}` is
//! `DEFINITIONS IMPLICIT TAGS`; every context-specific tag below is implicit.
//! (The `cms` crate's evidence-record types use explicit tags and do not
//! decode real records.)
//!
//! Time-stamp tokens are kept as the exact bytes they arrived in ([`RawTlv`]),
//! because renewal hashes them (RFC 4998 section 5.2) and re-encoding could
//! change them.

pub(crate) mod build;
pub mod raw;

pub use build::{
    encode_archive_time_stamp, encode_record, encode_sequence, encode_single_chain_record,
    record_for_leaf, SingleChainRecord,
};
pub use raw::RawTlv;

use der::asn1::{ObjectIdentifier, OctetString};
use der::{
    Decode, DecodeValue, Encode, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag,
    Writer,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

/// Nesting deeper than this is refused before decoding (evidence records are
/// shallow; an attacker's deeply nested DER must not exhaust the stack).
pub const MAX_DEPTH: usize = 32;

/// ```text
/// EvidenceRecord ::= SEQUENCE {
///     version                   INTEGER { v1(1) } ,
///     digestAlgorithms          SEQUENCE OF AlgorithmIdentifier,
///     cryptoInfos               [0] CryptoInfos OPTIONAL,
///     encryptionInfo            [1] EncryptionInfo OPTIONAL,
///     archiveTimeStampSequence  ArchiveTimeStampSequence
/// }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
#[asn1(tag_mode = "IMPLICIT")]
pub struct EvidenceRecord {
    pub version: u8,
    pub digest_algorithms: Vec<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "0", optional = "true", constructed = "true")]
    pub crypto_infos: Option<CryptoInfos>,
    #[asn1(context_specific = "1", optional = "true", constructed = "true")]
    pub encryption_info: Option<EncryptionInfo>,
    pub archive_time_stamp_sequence: ArchiveTimeStampSequence,
}

/// ```text
/// CryptoInfos ::= SEQUENCE SIZE (1..MAX) OF Attribute
/// ```
pub type CryptoInfos = Vec<Attribute>;

/// ```text
/// EncryptionInfo ::= SEQUENCE {
///     encryptionInfoType     OBJECT IDENTIFIER,
///     encryptionInfoValue    ANY DEFINED BY encryptionInfoType
/// }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EncryptionInfo {
    pub encryption_info_type: ObjectIdentifier,
    pub encryption_info_value: der::Any,
}

/// ```text
/// ArchiveTimeStampSequence ::= SEQUENCE OF ArchiveTimeStampChain
/// ```
pub type ArchiveTimeStampSequence = Vec<ArchiveTimeStampChain>;

/// ```text
/// ArchiveTimeStampChain ::= SEQUENCE OF ArchiveTimeStamp
/// ```
pub type ArchiveTimeStampChain = Vec<ArchiveTimeStamp>;

/// ```text
/// ArchiveTimeStamp ::= SEQUENCE {
///     digestAlgorithm [0] AlgorithmIdentifier OPTIONAL,
///     attributes      [1] Attributes OPTIONAL,
///     reducedHashtree [2] SEQUENCE OF PartialHashtree OPTIONAL,
///     timeStamp       ContentInfo
/// }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
#[asn1(tag_mode = "IMPLICIT")]
pub struct ArchiveTimeStamp {
    #[asn1(context_specific = "0", optional = "true", constructed = "true")]
    pub digest_algorithm: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", optional = "true", constructed = "true")]
    pub attributes: Option<Attributes>,
    #[asn1(context_specific = "2", optional = "true", constructed = "true")]
    pub reduced_hashtree: Option<Vec<PartialHashtree>>,
    /// The RFC 3161 TimeStampToken (a CMS ContentInfo), byte for byte.
    pub time_stamp: RawTlv,
}

/// ```text
/// PartialHashtree ::= SEQUENCE OF OCTET STRING
/// ```
pub type PartialHashtree = Vec<OctetString>;

/// ```text
/// Attributes ::= SET SIZE (1..MAX) OF Attribute
/// ```
///
/// Kept in the order received (a BER producer may not have sorted them).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Attributes(pub Vec<Attribute>);

impl FixedTag for Attributes {
    const TAG: Tag = Tag::Set;
}

impl<'a> DecodeValue<'a> for Attributes {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        reader.read_nested(header.length, |r| {
            let mut v = Vec::new();
            while !r.is_finished() {
                v.push(Attribute::decode(r)?);
            }
            Ok(Attributes(v))
        })
    }
}

impl EncodeValue for Attributes {
    fn value_len(&self) -> der::Result<Length> {
        self.0
            .iter()
            .try_fold(Length::ZERO, |acc, a| acc + a.encoded_len()?)
    }
    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.0.iter().try_for_each(|a| a.encode(writer))
    }
}

/// Where and why a DER input could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{what}: DER error at byte {position}: {kind}")]
    Der {
        what: &'static str,
        position: String,
        kind: String,
    },
    #[error("{what}: nested deeper than {MAX_DEPTH} levels at byte {position}")]
    TooDeep { what: &'static str, position: usize },
    #[error("{what}: unsupported version {version} (only v1 is defined)")]
    Version { what: &'static str, version: u8 },
    #[error("{what}: {len} trailing bytes after the structure")]
    Trailing { what: &'static str, len: usize },
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

impl DecodeError {
    pub(crate) fn der(what: &'static str, e: der::Error) -> Self {
        DecodeError::Der {
            what,
            position: e
                .position()
                .map(|p| u32::from(p).to_string())
                .unwrap_or_else(|| "?".into()),
            kind: e.kind().to_string(),
        }
    }
}

/// Refuses DER nested deeper than [`MAX_DEPTH`] (walks the TLV headers without recursion).
pub fn check_depth(what: &'static str, input: &[u8]) -> Result<(), DecodeError> {
    // stack of end offsets of open constructed values
    let mut ends: Vec<usize> = Vec::new();
    let mut pos = 0usize;
    while pos < input.len() {
        while let Some(&e) = ends.last() {
            if pos >= e {
                ends.pop();
            } else {
                break;
            }
        }
        let (tag, hl, len) = match raw::read_header(&input[pos..]) {
            Some(h) => h,
            None => return Ok(()), // let the real decoder name the error
        };
        let end = pos.saturating_add(hl).saturating_add(len);
        if tag & 0x20 != 0 {
            ends.push(end);
            if ends.len() > MAX_DEPTH {
                return Err(DecodeError::TooDeep {
                    what,
                    position: pos,
                });
            }
            pos += hl;
        } else {
            pos = end;
        }
    }
    Ok(())
}

impl EvidenceRecord {
    /// Decodes an evidence record, with the checks RFC 4998 implies.
    ///
    /// DER is the rule. A record in BER (indefinite lengths, constructed
    /// strings, non-minimal lengths; seen around time-stamp tokens that a
    /// streaming CMS encoder wrote) is read too: its structure through its DER
    /// form, each time-stamp token kept as the bytes it arrived in, since
    /// time-stamp renewal hashed those bytes. Such a record does not
    /// re-encode to its input; [`crate::verify`] reports that it was BER.
    pub fn from_der_checked(bytes: &[u8]) -> Result<Self, DecodeError> {
        match Self::from_der_strict(bytes) {
            Ok(er) => Ok(er),
            Err(strict) => Self::from_ber(bytes).ok_or(strict),
        }
    }

    fn from_ber(bytes: &[u8]) -> Option<Self> {
        use crate::signature::ber;
        // one TLV and nothing after it (no padding either)
        if ber::tlv_len(bytes).ok()? != bytes.len() {
            return None;
        }
        let der = ber::to_der(bytes).ok()?;
        if der == bytes {
            return None;
        }
        let fields = ber::children(bytes).ok()?;
        let tokens: Vec<Vec<&[u8]>> = ber::children(fields.last()?)
            .ok()?
            .into_iter()
            .map(|chain| {
                ber::children(chain)
                    .ok()?
                    .into_iter()
                    .map(|ats| ber::children(ats).ok()?.last().copied())
                    .collect::<Option<Vec<_>>>()
            })
            .collect::<Option<_>>()?;
        let mut er = Self::from_der_strict(&der).ok()?;
        if tokens.len() != er.archive_time_stamp_sequence.len() {
            return None;
        }
        for (chain, raw_chain) in er.archive_time_stamp_sequence.iter_mut().zip(&tokens) {
            if chain.len() != raw_chain.len() {
                return None;
            }
            for (ats, raw_token) in chain.iter_mut().zip(raw_chain) {
                ats.time_stamp = RawTlv::received(raw_token.to_vec());
            }
        }
        Some(er)
    }

    fn from_der_strict(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "EvidenceRecord";
        check_depth(WHAT, bytes)?;
        let er = EvidenceRecord::from_der(bytes).map_err(|e| DecodeError::der(WHAT, e))?;
        // der's derive skips unknown context-specific fields with lower tag
        // numbers; a record must be exactly what it decodes to
        if er.to_der().map_err(|e| DecodeError::der(WHAT, e))? != bytes {
            return Err(DecodeError::Invalid {
                what: WHAT,
                detail: "unexpected fields or non-canonical DER (it does not re-encode to the same bytes)".into(),
            });
        }
        if er.version != 1 {
            return Err(DecodeError::Version {
                what: WHAT,
                version: er.version,
            });
        }
        if er.archive_time_stamp_sequence.is_empty() {
            return Err(DecodeError::Invalid {
                what: WHAT,
                detail: "archiveTimeStampSequence is empty".into(),
            });
        }
        for (i, chain) in er.archive_time_stamp_sequence.iter().enumerate() {
            if chain.is_empty() {
                return Err(DecodeError::Invalid {
                    what: WHAT,
                    detail: format!("archiveTimeStampChain {i} is empty"),
                });
            }
        }
        Ok(er)
    }

    /// DER of the ArchiveTimeStampSequence made of the first `chains` chains
    /// (the input of hash-tree renewal, RFC 4998 section 5.2 step 3).
    pub fn sequence_prefix_der(&self, chains: usize) -> der::Result<Vec<u8>> {
        self.archive_time_stamp_sequence[..chains].to_vec().to_der()
    }
}

impl ArchiveTimeStamp {
    /// The reduced hash tree as byte slices.
    pub fn reduced_tree_slices(&self) -> Option<Vec<Vec<&[u8]>>> {
        self.reduced_hashtree.as_ref().map(|t| {
            t.iter()
                .map(|p| p.iter().map(|o| o.as_bytes()).collect())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests;
