//! Until when an algorithm protects evidence (the "secure date" rule).
//!
//! The built-in table follows ETSI TS 119 312 as EU DSS ships it; the
//! renewal issue replaces it with the admin's catalogue file.

use std::collections::BTreeMap;
use time::macros::datetime;
use time::OffsetDateTime;

use crate::alg::DigestAlgorithm;

/// Until when each hash algorithm is suitable; absent means open-ended.
#[derive(Clone, Debug)]
pub struct AlgorithmPolicy {
    pub hash_until: BTreeMap<DigestAlgorithm, (Option<OffsetDateTime>, String)>,
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        let src = "ETSI TS 119 312 (as in EU DSS)";
        let mut m = BTreeMap::new();
        m.insert(
            DigestAlgorithm::Sha1,
            (Some(datetime!(2012-08-01 0:00 UTC)), src.to_string()),
        );
        m.insert(
            DigestAlgorithm::Sha224,
            (Some(datetime!(2029-01-01 0:00 UTC)), src.to_string()),
        );
        m.insert(
            DigestAlgorithm::Sha3_224,
            (Some(datetime!(2029-01-01 0:00 UTC)), src.to_string()),
        );
        for a in [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
            DigestAlgorithm::Sha3_256,
            DigestAlgorithm::Sha3_384,
            DigestAlgorithm::Sha3_512,
        ] {
            m.insert(a, (None, src.to_string()));
        }
        AlgorithmPolicy { hash_until: m }
    }
}

impl AlgorithmPolicy {
    /// `None` if `alg` is suitable through `until`, else the date it stopped being so.
    pub fn hash_unsuitable_before(
        &self,
        alg: DigestAlgorithm,
        until: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        match self.hash_until.get(&alg) {
            Some((Some(end), _)) if *end < until => Some(*end),
            Some(_) => None,
            None => Some(OffsetDateTime::UNIX_EPOCH),
        }
    }
}
