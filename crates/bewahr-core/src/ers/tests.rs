use super::*;
use std::path::PathBuf;

pub(crate) fn c2_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/tr-esor-c2/TESTDATA")
}

#[test]
fn c2_records_round_trip() {
    let mut n = 0;
    for entry in std::fs::read_dir(c2_dir()).expect("C.2 test data beside the clone") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ers") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let er = EvidenceRecord::from_der_checked(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            er.to_der().unwrap(),
            bytes,
            "{} does not round-trip",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 23);
}

#[test]
fn fast_writer_matches_derived_encoder() {
    let h1 = [1u8; 32];
    let h2 = [2u8; 32];
    let h3 = [3u8; 32];
    let token = hex::decode("3003020101").unwrap();
    let tree: Vec<Vec<&[u8]>> = vec![vec![&h1, &h2], vec![&h3]];
    let fast = encode_single_chain_record(&SingleChainRecord {
        digest_algorithm: crate::alg::DigestAlgorithm::Sha256,
        reduced_hashtree: Some(&tree),
        time_stamp: &token,
    });
    let er = EvidenceRecord {
        version: 1,
        digest_algorithms: vec![crate::alg::DigestAlgorithm::Sha256.algorithm_identifier()],
        crypto_infos: None,
        encryption_info: None,
        archive_time_stamp_sequence: vec![vec![ArchiveTimeStamp {
            digest_algorithm: Some(crate::alg::DigestAlgorithm::Sha256.algorithm_identifier()),
            attributes: None,
            reduced_hashtree: Some(
                tree.iter()
                    .map(|l| l.iter().map(|h| OctetString::new(*h).unwrap()).collect())
                    .collect(),
            ),
            time_stamp: RawTlv::from_der_bytes(token.clone()).unwrap(),
        }]],
    };
    assert_eq!(fast, er.to_der().unwrap());
    assert_eq!(EvidenceRecord::from_der_checked(&fast).unwrap(), er);
}

#[test]
fn deep_nesting_is_refused() {
    let mut v = vec![0x04, 0x00];
    for _ in 0..100 {
        let mut w = vec![0x30];
        if v.len() < 128 {
            w.push(v.len() as u8);
        } else {
            w.extend_from_slice(&[0x82, (v.len() >> 8) as u8, v.len() as u8]);
        }
        w.extend_from_slice(&v);
        v = w;
    }
    let err = EvidenceRecord::from_der_checked(&v).unwrap_err();
    assert!(matches!(err, DecodeError::TooDeep { .. }), "{err}");
}

#[test]
fn truncated_and_trailing_inputs_name_the_error() {
    let bytes = std::fs::read(c2_dir().join("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers")).unwrap();
    for cut in [1, 10, 100, bytes.len() - 1] {
        let err = EvidenceRecord::from_der_checked(&bytes[..cut]).unwrap_err();
        assert!(err.to_string().contains("EvidenceRecord"), "{err}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(EvidenceRecord::from_der_checked(&long).is_err());
    // wrong outer tag
    let mut wrong = bytes.clone();
    wrong[0] = 0x31;
    let err = EvidenceRecord::from_der_checked(&wrong).unwrap_err();
    assert!(err.to_string().contains("byte"), "{err}");
}

#[test]
fn unknown_context_fields_are_refused_not_skipped() {
    // found by the er_decode fuzz target: a second [0] where [2] belongs was
    // silently dropped by der's derive
    let b = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/fuzz/er-duplicate-context-field.der"
    ))
    .unwrap();
    let err = EvidenceRecord::from_der_checked(&b).unwrap_err();
    assert!(err.to_string().contains("re-encode"), "{err}");
}

#[test]
fn multi_chain_writer_matches_derived_encoder() {
    use crate::alg::DigestAlgorithm::{Sha256, Sha512};
    let (h1, h2, h3) = ([1u8; 32], [2u8; 32], [3u8; 64]);
    let token = hex::decode("3003020101").unwrap();
    let t1: Vec<Vec<&[u8]>> = vec![vec![&h1, &h2]];
    let t3: Vec<Vec<&[u8]>> = vec![vec![&h3], vec![&h3]];
    let ats = |alg: crate::alg::DigestAlgorithm, tree: Option<&Vec<Vec<&[u8]>>>| ArchiveTimeStamp {
        digest_algorithm: Some(alg.algorithm_identifier()),
        attributes: None,
        reduced_hashtree: tree.map(|t| {
            t.iter()
                .map(|l| l.iter().map(|h| OctetString::new(*h).unwrap()).collect())
                .collect()
        }),
        time_stamp: RawTlv::from_der_bytes(token.clone()).unwrap(),
    };
    let chains = vec![
        vec![
            encode_archive_time_stamp(Sha256, Some(&t1), &token),
            encode_archive_time_stamp(Sha256, None, &token),
        ],
        vec![encode_archive_time_stamp(Sha512, Some(&t3), &token)],
    ];
    let seq = encode_sequence(&chains);
    let fast = encode_record(&[Sha256, Sha256, Sha512], &seq);
    let er = EvidenceRecord {
        version: 1,
        digest_algorithms: vec![Sha256.algorithm_identifier(), Sha512.algorithm_identifier()],
        crypto_infos: None,
        encryption_info: None,
        archive_time_stamp_sequence: vec![
            vec![ats(Sha256, Some(&t1)), ats(Sha256, None)],
            vec![ats(Sha512, Some(&t3))],
        ],
    };
    assert_eq!(fast, er.to_der().unwrap());
    assert_eq!(
        er.sequence_prefix_der(1).unwrap(),
        encode_sequence(&chains[..1])
    );
    assert_eq!(EvidenceRecord::from_der_checked(&fast).unwrap(), er);
}
