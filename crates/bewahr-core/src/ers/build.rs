//! Writing evidence records fast: the hot path of evidence on demand.
//!
//! The DER is written directly from its parts (archive time-stamps, chains,
//! the record), without building the owned [`EvidenceRecord`](super::EvidenceRecord)
//! tree; the tests check that the bytes are the derived encoder's. Hash-tree
//! renewal hashes what [`encode_sequence`] writes, so this is the one place
//! that writes it.

use crate::alg::DigestAlgorithm;

/// An evidence record with one archive time-stamp: a leaf's reduced hash tree
/// and the time-stamp over its tree's root.
#[derive(Clone, Debug)]
pub struct SingleChainRecord<'a> {
    pub digest_algorithm: DigestAlgorithm,
    /// The reduced hash tree, `None` for a single object time-stamped directly.
    pub reduced_hashtree: Option<&'a [Vec<&'a [u8]>]>,
    /// The DER TimeStampToken (ContentInfo).
    pub time_stamp: &'a [u8],
}

fn len_len(len: usize) -> usize {
    match len {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 5,
    }
}

fn tlv(len: usize) -> usize {
    1 + len_len(len) + len
}

pub(crate) fn put_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xffff => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        0x1_0000..=0xff_ffff => {
            out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8])
        }
        _ => out.extend_from_slice(&[
            0x84,
            (len >> 24) as u8,
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
        ]),
    }
}

/// Encodes an evidence record with a single chain of a single archive time-stamp.
///
/// The archive time-stamp names its digestAlgorithm (absent parameters), and
/// digestAlgorithms lists that one algorithm.
pub fn encode_single_chain_record(rec: &SingleChainRecord<'_>) -> Vec<u8> {
    let ats = encode_archive_time_stamp(rec.digest_algorithm, rec.reduced_hashtree, rec.time_stamp);
    encode_record(&[rec.digest_algorithm], &encode_sequence(&[vec![ats]]))
}

/// The evidence record of leaf `leaf` of `tree`, whose root `time_stamp` covers.
pub fn record_for_leaf(
    tree: &crate::hashtree::HashTree,
    leaf: usize,
    time_stamp: &[u8],
) -> Result<Vec<u8>, crate::hashtree::TreeError> {
    let reduced = tree.reduced(leaf)?;
    Ok(encode_single_chain_record(&SingleChainRecord {
        digest_algorithm: tree.algorithm(),
        reduced_hashtree: reduced.as_deref(),
        time_stamp,
    }))
}

/// Encodes one ArchiveTimeStamp (digestAlgorithm named, absent parameters;
/// no attributes), the way [`encode_single_chain_record`] writes it.
pub fn encode_archive_time_stamp(
    digest_algorithm: DigestAlgorithm,
    reduced_hashtree: Option<&[Vec<&[u8]>]>,
    time_stamp: &[u8],
) -> Vec<u8> {
    let oid = digest_algorithm.oid();
    let oid_bytes = oid.as_bytes();
    let oid_tlv = tlv(oid_bytes.len());
    let mut tree_content = 0usize;
    if let Some(tree) = reduced_hashtree {
        for list in tree {
            let inner: usize = list.iter().map(|h| tlv(h.len())).sum();
            tree_content += tlv(inner);
        }
    }
    let tree_field = if reduced_hashtree.is_some() {
        tlv(tree_content)
    } else {
        0
    };
    let ats_content = tlv(oid_tlv) + tree_field + time_stamp.len();
    let mut out = Vec::with_capacity(tlv(ats_content));
    put_header(&mut out, 0x30, ats_content);
    put_header(&mut out, 0xa0, oid_tlv);
    put_header(&mut out, 0x06, oid_bytes.len());
    out.extend_from_slice(oid_bytes);
    if let Some(tree) = reduced_hashtree {
        put_header(&mut out, 0xa2, tree_content);
        for list in tree {
            let inner: usize = list.iter().map(|h| tlv(h.len())).sum();
            put_header(&mut out, 0x30, inner);
            for h in list {
                put_header(&mut out, 0x04, h.len());
                out.extend_from_slice(h);
            }
        }
    }
    out.extend_from_slice(time_stamp);
    out
}

/// Encodes an ArchiveTimeStampSequence from the DER of its archive
/// time-stamps, chain by chain. Its hash is the input of hash-tree renewal,
/// so this is the one place that writes it.
pub fn encode_sequence(chains: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let chain_lens: Vec<usize> = chains
        .iter()
        .map(|c| c.iter().map(|a| a.len()).sum())
        .collect();
    let content: usize = chain_lens.iter().map(|&l| tlv(l)).sum();
    let mut out = Vec::with_capacity(tlv(content));
    put_header(&mut out, 0x30, content);
    for (c, len) in chains.iter().zip(chain_lens) {
        put_header(&mut out, 0x30, len);
        for a in c {
            out.extend_from_slice(a);
        }
    }
    out
}

/// Encodes an evidence record around an encoded ArchiveTimeStampSequence;
/// `digest_algorithms` lists each algorithm once, in the order given.
pub fn encode_record(digest_algorithms: &[DigestAlgorithm], sequence: &[u8]) -> Vec<u8> {
    let mut algs: Vec<DigestAlgorithm> = Vec::new();
    for a in digest_algorithms {
        if !algs.contains(a) {
            algs.push(*a);
        }
    }
    let ids: usize = algs
        .iter()
        .map(|a| tlv(tlv(a.oid().as_bytes().len())))
        .sum();
    let content = 3 + tlv(ids) + sequence.len();
    let mut out = Vec::with_capacity(tlv(content));
    put_header(&mut out, 0x30, content);
    out.extend_from_slice(&[0x02, 0x01, 0x01]);
    put_header(&mut out, 0x30, ids);
    for a in &algs {
        let oid = a.oid();
        let b = oid.as_bytes();
        put_header(&mut out, 0x30, tlv(b.len()));
        put_header(&mut out, 0x06, b.len());
        out.extend_from_slice(b);
    }
    out.extend_from_slice(sequence);
    out
}
