use super::*;
use proptest::prelude::*;

fn leaves(n: usize) -> Vec<[u8; 32]> {
    (0..n as u32)
        .map(|i| {
            let d = DigestAlgorithm::Sha256.digest(&i.to_be_bytes());
            d.try_into().unwrap()
        })
        .collect()
}

/// The reference: rs_merkle with an RFC 4998 hasher (sorted concatenation).
#[derive(Clone)]
struct Rfc4998Sha256;
impl rs_merkle::Hasher for Rfc4998Sha256 {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        DigestAlgorithm::Sha256.digest(data).try_into().unwrap()
    }
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => hash_sorted(DigestAlgorithm::Sha256, &[left, r])
                .try_into()
                .unwrap(),
            None => *left,
        }
    }
}

#[test]
fn fast_pair_hash_matches_sha2() {
    let a = [7u8; 32];
    let b = [9u8; 32];
    let mut out = [0u8; 32];
    hash_pair(DigestAlgorithm::Sha256, &b, &a, &mut out);
    assert_eq!(
        out.to_vec(),
        DigestAlgorithm::Sha256.digest_parts(&[&a, &b])
    );
    let a = [7u8; 64];
    let b = [9u8; 64];
    let mut out = [0u8; 64];
    hash_pair(DigestAlgorithm::Sha512, &b, &a, &mut out);
    assert_eq!(
        out.to_vec(),
        DigestAlgorithm::Sha512.digest_parts(&[&a, &b])
    );
}

#[test]
fn single_leaf_has_no_reduced_tree() {
    let l = leaves(1);
    let t = HashTree::from_hashes(DigestAlgorithm::Sha256, &l).unwrap();
    assert_eq!(t.root(), &l[0]);
    assert!(t.reduced(0).unwrap().is_none());
    assert!(matches!(t.reduced(1), Err(TreeError::NoSuchLeaf { .. })));
}

#[test]
fn empty_and_wrong_length_are_errors() {
    assert_eq!(
        HashTree::from_hashes(DigestAlgorithm::Sha256, Vec::<Vec<u8>>::new()).err(),
        Some(TreeError::Empty)
    );
    let err = HashTree::from_hashes(DigestAlgorithm::Sha256, [vec![0u8; 31]])
        .err()
        .unwrap();
    assert!(err.to_string().contains("31"), "{err}");
}

#[test]
fn group_leaf_lists_its_members_first() {
    let a = DigestAlgorithm::Sha256.digest(b"document");
    let b = DigestAlgorithm::Sha256.digest(b"signature data");
    let c = DigestAlgorithm::Sha256.digest(b"other");
    let t = HashTree::from_groups(
        DigestAlgorithm::Sha256,
        &[vec![a.clone(), b.clone()], vec![c.clone()]],
    )
    .unwrap();
    let r = t.reduced(0).unwrap().unwrap();
    assert_eq!(r.len(), 2);
    assert!(r[0].contains(&a.as_slice()) && r[0].contains(&b.as_slice()));
    for reading in [Reading::Literal, Reading::CarryLone] {
        assert_eq!(
            root_from_reduced(DigestAlgorithm::Sha256, &r, &[&a, &b], reading).unwrap(),
            t.root()
        );
    }
    // a group alone in its tree
    let t = HashTree::from_groups(DigestAlgorithm::Sha256, &[vec![a.clone(), b.clone()]]).unwrap();
    let r = t.reduced(0).unwrap().unwrap();
    assert_eq!(
        root_from_reduced(DigestAlgorithm::Sha256, &r, &[&a], Reading::Literal).unwrap(),
        t.root()
    );
}

#[test]
fn bouncy_castle_shape_needs_carry_lone_reading() {
    let l = leaves(4);
    let t = HashTree::from_hashes(DigestAlgorithm::Sha256, &l).unwrap();
    let ours = t.reduced(2).unwrap().unwrap();
    // Bouncy Castle 1.72 writes [{h}, {sibling}, {sibling}]
    let bc: Vec<Vec<&[u8]>> = vec![vec![&l[2]], vec![&l[3]], vec![ours[1][0]]];
    assert_eq!(
        root_from_reduced(DigestAlgorithm::Sha256, &bc, &[&l[2]], Reading::CarryLone).unwrap(),
        t.root()
    );
    assert_ne!(
        root_from_reduced(DigestAlgorithm::Sha256, &bc, &[&l[2]], Reading::Literal).unwrap(),
        t.root()
    );
}

#[test]
fn computed_value_already_in_the_next_list() {
    // a writer that lists each path node: [{h0, h1}, {H(h0,h1), n23}]
    let alg = DigestAlgorithm::Sha256;
    let l = leaves(4);
    let t = HashTree::from_hashes(alg, &l).unwrap();
    let n01 = hash_sorted(alg, &[&l[0], &l[1]]);
    let n23 = hash_sorted(alg, &[&l[2], &l[3]]);
    let listed: Vec<Vec<&[u8]>> = vec![vec![&l[0], &l[1]], vec![&n01, &n23]];
    assert_eq!(
        root_from_reduced(alg, &listed, &[&l[0]], Reading::ValueListed).unwrap(),
        t.root()
    );
    assert_ne!(
        root_from_reduced(alg, &listed, &[&l[0]], Reading::Literal).unwrap(),
        t.root()
    );
    // a lone listed value: [{h0, h1}, {H(h0,h1)}] for a tree of two, carried up
    let t2 = HashTree::from_hashes(alg, &l[..2]).unwrap();
    let lone: Vec<Vec<&[u8]>> = vec![vec![&l[0], &l[1]], vec![&n01]];
    assert_eq!(
        root_from_reduced(alg, &lone, &[&l[0]], Reading::ValueListedCarryLone).unwrap(),
        t2.root()
    );
}

#[test]
fn genuinely_duplicated_leaves_still_verify() {
    // four identical leaves: n01 == n23, so the second list holds a value
    // equal to the computed one, and it must be added (literal reading)
    let alg = DigestAlgorithm::Sha256;
    let h = alg.digest(b"same");
    let l = vec![h.clone(), h.clone(), h.clone(), h.clone()];
    let t = HashTree::from_hashes(alg, &l).unwrap();
    let r = t.reduced(1).unwrap().unwrap();
    assert_eq!(r[0], vec![h.as_slice(), h.as_slice()]);
    assert_eq!(
        root_from_reduced(alg, &r, &[&h], Reading::Literal).unwrap(),
        t.root()
    );
    assert_ne!(
        root_from_reduced(alg, &r, &[&h], Reading::ValueListed).unwrap(),
        t.root()
    );
    // the verifier tries every reading, so one of them gives the root
    assert!(Reading::ALL
        .iter()
        .any(|rd| root_from_reduced(alg, &r, &[&h], *rd).unwrap() == t.root()));
}

#[test]
fn not_in_first_list() {
    let l = leaves(3);
    let t = HashTree::from_hashes(DigestAlgorithm::Sha256, &l).unwrap();
    let r = t.reduced(0).unwrap().unwrap();
    let err =
        root_from_reduced(DigestAlgorithm::Sha256, &r, &[&l[2]], Reading::Literal).unwrap_err();
    assert!(matches!(err, ReducedTreeError::NotInFirstList(_)));
}

proptest! {
    #[test]
    fn every_leaf_proves_the_root_in_both_readings(n in 1usize..300, pick in any::<prop::sample::Index>()) {
        let l = leaves(n);
        let t = HashTree::from_hashes(DigestAlgorithm::Sha256, &l).unwrap();
        let i = pick.index(n);
        match t.reduced(i).unwrap() {
            None => prop_assert_eq!(t.root(), &l[i]),
            Some(r) => {
                prop_assert!(r[0].len() == 2, "first list holds h(d) and a sibling");
                for list in &r[1..] { prop_assert_eq!(list.len(), 1); }
                for reading in [Reading::Literal, Reading::CarryLone] {
                    prop_assert_eq!(root_from_reduced(DigestAlgorithm::Sha256, &r, &[&l[i]], reading).unwrap(), t.root().to_vec());
                }
            }
        }
    }

    #[test]
    fn root_matches_rs_merkle(n in 1usize..500) {
        let l = leaves(n);
        let t = HashTree::from_hashes(DigestAlgorithm::Sha256, &l).unwrap();
        let reference = rs_merkle::MerkleTree::<Rfc4998Sha256>::from_leaves(&l);
        prop_assert_eq!(t.root().to_vec(), reference.root().unwrap().to_vec());
    }

    #[test]
    fn other_algorithms_agree_with_generic_path(n in 1usize..64, alg in prop::sample::select(vec![
        DigestAlgorithm::Sha384, DigestAlgorithm::Sha512, DigestAlgorithm::Sha3_256, DigestAlgorithm::Sha3_512])) {
        let l: Vec<Vec<u8>> = (0..n as u32).map(|i| alg.digest(&i.to_be_bytes())).collect();
        let t = HashTree::from_hashes(alg, &l).unwrap();
        for (i, leaf) in l.iter().enumerate() {
            if let Some(r) = t.reduced(i).unwrap() {
                prop_assert_eq!(root_from_reduced(alg, &r, &[leaf], Reading::Literal).unwrap(), t.root().to_vec());
            }
        }
    }
}
