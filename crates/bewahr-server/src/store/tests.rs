use super::*;
use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::hashtree::{assemble_reduced, HashTree};

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    (d, s)
}

#[test]
fn identical_content_is_stored_once_and_read_back() {
    let (_d, s) = store();
    let a = s.put_content(b"Bescheid").unwrap();
    let b = s.put_content(b"Bescheid").unwrap();
    assert_eq!(a, b);
    s.sync().unwrap();
    assert_eq!(s.read_all(&a.sha256).unwrap().unwrap(), b"Bescheid");
    assert_eq!(s.size(&a.sha256).unwrap(), Some(8));
    assert!(s.read(&[0; 32]).unwrap().is_none());
}

#[test]
fn large_content_streams_in_chunks() {
    let (_d, s) = store();
    let data: Vec<u8> = (0..(CHUNK * 2 + 12345)).map(|i| (i % 251) as u8).collect();
    let mut up = s.upload().with_digest(DigestAlgorithm::Sha512);
    for piece in data.chunks(100_000) {
        up.write(piece).unwrap();
    }
    let (stored, extra) = up.finish().unwrap();
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(
        stored.sha256.to_vec(),
        DigestAlgorithm::Sha256.digest(&data)
    );
    assert_eq!(extra.unwrap(), DigestAlgorithm::Sha512.digest(&data));
    let mut r = s.read(&stored.sha256).unwrap().unwrap();
    let mut pieces = 0;
    let mut back = Vec::new();
    while let Some(p) = r.next_piece().unwrap() {
        assert!(p.len() <= CHUNK);
        back.extend(p);
        pieces += 1;
    }
    assert_eq!(pieces, 3);
    assert_eq!(back, data);
    // the same again is deduplicated
    let mut up = s.upload();
    up.write(&data).unwrap();
    assert_eq!(up.finish().unwrap().0, stored);
}

#[test]
fn stored_trees_give_the_same_reduced_trees() {
    let (_d, s) = store();
    for n in [1usize, 2, 3, 257, 1000, 3000] {
        let leaves: Vec<Vec<u8>> = (0..n as u32)
            .map(|i| DigestAlgorithm::Sha256.digest(&i.to_be_bytes()))
            .collect();
        let tree = HashTree::from_hashes(DigestAlgorithm::Sha256, &leaves).unwrap();
        let seqs: Vec<i64> = (0..n as i64).map(|i| 1000 + 3 * i).collect();
        let batch = n as u64;
        s.put_tree(batch, &tree, &seqs).unwrap();
        let st = StoredTree {
            batch,
            leaves: n,
            width: 32,
        };
        for i in [0, n / 2, n - 1] {
            assert_eq!(s.leaf_index(batch, seqs[i]).unwrap(), Some(i));
            let (leaf, sibs) = s.path(&st, i).unwrap();
            assert_eq!(leaf, leaves[i]);
            let got = assemble_reduced(&leaf, None, sibs.iter().map(|v| v.as_slice()).collect());
            assert_eq!(got, tree.reduced(i).unwrap());
        }
        assert_eq!(s.leaf_index(batch, 1).unwrap(), None);
        assert_eq!(s.leaf_index(batch, 1001).unwrap(), None);
    }
}

#[test]
fn large_content_is_durable_after_sync_and_deleted_completely() {
    let dir = tempfile::tempdir().unwrap();
    let doc: Vec<u8> = (0..(10u32 << 20) + 123).map(|i| (i % 251) as u8).collect();
    let sha = {
        let s = Store::open(dir.path()).unwrap();
        let mut up = s.upload();
        for part in doc.chunks(1 << 20) {
            up.write(part).unwrap();
        }
        let (stored, _) = up.finish().unwrap();
        s.sync().unwrap();
        stored.sha256
    };
    // reopened: every chunk and the entry are there
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.size(&sha).unwrap(), Some(doc.len() as u64));
    assert_eq!(s.read_all(&sha).unwrap().unwrap(), doc);
    // identical bytes are not stored again
    let mut up = s.upload();
    up.write(&doc).unwrap();
    assert_eq!(up.finish().unwrap().0.sha256, sha);
    assert!(s.delete_content(&sha).unwrap());
    assert!(!s.has(&sha).unwrap());
    assert_eq!(s.read(&sha).unwrap().map(|_| ()), None);
    assert!(!s.delete_content(&sha).unwrap(), "deleted once");
}

#[test]
fn a_dropped_upload_leaves_no_chunks_behind() {
    let (_d, s) = store();
    let count = |s: &Store| {
        s.db()
            .iterator_cf(s.cf(CF_CHUNKS), rocksdb::IteratorMode::Start)
            .count()
    };
    let mut up = s.upload();
    up.write(&vec![7u8; (CHUNK * 2) + 10]).unwrap();
    assert_eq!(count(&s), 2, "two full chunks were written");
    drop(up); // a cancelled request: never finished, never aborted
    assert_eq!(count(&s), 0, "the drop guard removed them");
    // a finished upload keeps its chunks
    let mut up = s.upload();
    up.write(&vec![8u8; CHUNK + 1]).unwrap();
    let (stored, _) = up.finish().unwrap();
    assert_eq!(
        s.read_all(&stored.sha256).unwrap().unwrap().len(),
        CHUNK + 1
    );
}

#[test]
fn trees_and_tokens_are_found_from_the_store_alone() {
    let (d, s) = store();
    let mut ids = vec![];
    // one tree over two leaf-index tiles and several node tiles, one small, one of SHA-512
    for (batch, n, alg) in [
        (7u64, 2500usize, DigestAlgorithm::Sha256),
        (3000, 3, DigestAlgorithm::Sha256),
        (1 << 40, 5, DigestAlgorithm::Sha512),
    ] {
        let leaves: Vec<Vec<u8>> = (0..n).map(|i| alg.digest(&i.to_be_bytes())).collect();
        let tree = HashTree::from_hashes(alg, leaves.iter()).unwrap();
        let seqs: Vec<i64> = (0..n as i64).collect();
        s.put_tree(batch, &tree, &seqs).unwrap();
        let shape = s.stored_tree(batch).unwrap().unwrap();
        assert_eq!((shape.leaves, shape.width), (n, alg.output_len()));
        let (leaf, _) = s.path(&shape, 0).unwrap();
        assert_eq!(leaf, tree.leaf(0));
        ids.push(batch);
    }
    s.put_token(7, b"token of batch 7").unwrap();
    s.put_groups(3000, &[(1, vec![1; 64])]).unwrap();
    assert_eq!(s.tree_ids().unwrap(), ids);
    assert_eq!(s.token(7).unwrap().unwrap(), b"token of batch 7");
    assert_eq!(s.token(3000).unwrap(), None);
    assert!(s.stored_tree(8).unwrap().is_none());
    // read-only, as `bewahr audit verify` opens it beside the server
    let ro = Store::open_read_only(d.path()).unwrap();
    assert_eq!(ro.tree_ids().unwrap(), ids);
    assert_eq!(ro.token(7).unwrap().unwrap(), b"token of batch 7");
    assert!(ro.put_token(9, b"x").is_err());
}
