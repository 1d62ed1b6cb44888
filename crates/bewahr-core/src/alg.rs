//! Digest algorithms: identifiers, names and hashing.
//!
//! RFC 4998 trees may be built with SHA-256, SHA-384, SHA-512 and SHA3-256/384/512;
//! SHA-1, SHA-224 and SHA3-224 are accepted when verifying old records.

use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use sha2::Digest as _;
use spki::AlgorithmIdentifierOwned;

/// A digest algorithm known to bewahr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

/// OIDs of the digest algorithms.
pub mod oid {
    use const_oid::ObjectIdentifier as O;
    pub const SHA1: O = O::new_unwrap("1.3.14.3.2.26");
    pub const SHA224: O = O::new_unwrap("2.16.840.1.101.3.4.2.4");
    pub const SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: O = O::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: O = O::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const SHA3_224: O = O::new_unwrap("2.16.840.1.101.3.4.2.7");
    pub const SHA3_256: O = O::new_unwrap("2.16.840.1.101.3.4.2.8");
    pub const SHA3_384: O = O::new_unwrap("2.16.840.1.101.3.4.2.9");
    pub const SHA3_512: O = O::new_unwrap("2.16.840.1.101.3.4.2.10");
}

/// A digest algorithm identifier that bewahr does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown digest algorithm {0}")]
pub struct UnknownAlgorithm(pub String);

impl DigestAlgorithm {
    /// Every algorithm, strongest last.
    pub const ALL: [DigestAlgorithm; 9] = [
        Self::Sha1,
        Self::Sha224,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
        Self::Sha3_224,
        Self::Sha3_256,
        Self::Sha3_384,
        Self::Sha3_512,
    ];

    /// Whether new hash trees may be built with this algorithm.
    pub fn allowed_for_creation(self) -> bool {
        !matches!(self, Self::Sha1 | Self::Sha224 | Self::Sha3_224)
    }

    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => oid::SHA1,
            Self::Sha224 => oid::SHA224,
            Self::Sha256 => oid::SHA256,
            Self::Sha384 => oid::SHA384,
            Self::Sha512 => oid::SHA512,
            Self::Sha3_224 => oid::SHA3_224,
            Self::Sha3_256 => oid::SHA3_256,
            Self::Sha3_384 => oid::SHA3_384,
            Self::Sha3_512 => oid::SHA3_512,
        }
    }

    pub fn from_oid(oid: &ObjectIdentifier) -> Result<Self, UnknownAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.oid() == *oid)
            .ok_or_else(|| UnknownAlgorithm(oid.to_string()))
    }

    /// The algorithm of an AlgorithmIdentifier; parameters must be absent or NULL.
    pub fn from_algorithm_identifier(
        ai: &AlgorithmIdentifierOwned,
    ) -> Result<Self, UnknownAlgorithm> {
        let alg = Self::from_oid(&ai.oid)?;
        match &ai.parameters {
            None => Ok(alg),
            Some(p) if p.is_null() => Ok(alg),
            Some(_) => Err(UnknownAlgorithm(format!(
                "{} with unexpected parameters",
                ai.oid
            ))),
        }
    }

    /// The AlgorithmIdentifier bewahr writes: parameters absent (RFC 5754 says
    /// SHOULD omit; verifiers treat absent and NULL alike).
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }

    /// The AlgorithmIdentifier with NULL parameters (as some TSAs and Bouncy Castle write).
    pub fn algorithm_identifier_null(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(AnyRef::NULL.into()),
        }
    }

    /// Short lowercase name, e.g. `sha256`, `sha3-512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Sha3_224 => "sha3-224",
            Self::Sha3_256 => "sha3-256",
            Self::Sha3_384 => "sha3-384",
            Self::Sha3_512 => "sha3-512",
        }
    }

    /// Parses a name as [`DigestAlgorithm::name`] gives it; `-` and `_` and case do not matter.
    pub fn from_name(s: &str) -> Result<Self, UnknownAlgorithm> {
        let norm: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|a| a.name().replace('-', "") == norm)
            .ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 | Self::Sha3_224 => 28,
            Self::Sha256 | Self::Sha3_256 => 32,
            Self::Sha384 | Self::Sha3_384 => 48,
            Self::Sha512 | Self::Sha3_512 => 64,
        }
    }

    /// Hashes one byte string.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        self.digest_parts(&[data])
    }

    /// Hashes the concatenation of several byte strings.
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut h = Hasher::new(self);
        for p in parts {
            h.update(p);
        }
        h.finish()
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DigestAlgorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

/// An incremental hasher for any [`DigestAlgorithm`] (for streaming large documents).
///
/// SHA-256, SHA-384 and SHA-512 use ring's assembly (one crypto provider for
/// everything): on the benchmark machine its SHA-512 streams about a third
/// faster than the `sha2` crate's, and its SHA-256 about a tenth.
#[derive(Clone)]
pub enum Hasher {
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(ring::digest::Context),
    Sha384(ring::digest::Context),
    Sha512(ring::digest::Context),
    Sha3_224(sha3::Sha3_224),
    Sha3_256(sha3::Sha3_256),
    Sha3_384(sha3::Sha3_384),
    Sha3_512(sha3::Sha3_512),
}

impl Hasher {
    pub fn new(alg: DigestAlgorithm) -> Self {
        match alg {
            DigestAlgorithm::Sha1 => Self::Sha1(Default::default()),
            DigestAlgorithm::Sha224 => Self::Sha224(Default::default()),
            DigestAlgorithm::Sha256 => {
                Self::Sha256(ring::digest::Context::new(&ring::digest::SHA256))
            }
            DigestAlgorithm::Sha384 => {
                Self::Sha384(ring::digest::Context::new(&ring::digest::SHA384))
            }
            DigestAlgorithm::Sha512 => {
                Self::Sha512(ring::digest::Context::new(&ring::digest::SHA512))
            }
            DigestAlgorithm::Sha3_224 => Self::Sha3_224(Default::default()),
            DigestAlgorithm::Sha3_256 => Self::Sha3_256(Default::default()),
            DigestAlgorithm::Sha3_384 => Self::Sha3_384(Default::default()),
            DigestAlgorithm::Sha3_512 => Self::Sha3_512(Default::default()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha224(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
            Self::Sha3_224(h) => h.update(data),
            Self::Sha3_256(h) => h.update(data),
            Self::Sha3_384(h) => h.update(data),
            Self::Sha3_512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha224(h) => h.finalize().to_vec(),
            Self::Sha256(h) | Self::Sha384(h) | Self::Sha512(h) => h.finish().as_ref().to_vec(),
            Self::Sha3_224(h) => h.finalize().to_vec(),
            Self::Sha3_256(h) => h.finalize().to_vec(),
            Self::Sha3_384(h) => h.finalize().to_vec(),
            Self::Sha3_512(h) => h.finalize().to_vec(),
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in DigestAlgorithm::ALL {
            assert_eq!(DigestAlgorithm::from_name(a.name()).unwrap(), a);
            assert_eq!(DigestAlgorithm::from_oid(&a.oid()).unwrap(), a);
            assert_eq!(a.digest(b"abc").len(), a.output_len());
        }
        assert_eq!(
            DigestAlgorithm::from_name("SHA3_256").unwrap(),
            DigestAlgorithm::Sha3_256
        );
        assert!(DigestAlgorithm::from_name("md5").is_err());
    }

    #[test]
    fn known_answer() {
        assert_eq!(
            hex::encode(DigestAlgorithm::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(DigestAlgorithm::Sha3_256.digest(b"abc")),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
    }
}
