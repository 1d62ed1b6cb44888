//! Until when an algorithm protects evidence (the "secure date" rule), from
//! the algorithm catalogue.
//!
//! The catalogue is a TOML file (`config/algorithms.toml` is the default,
//! compiled in; an admin points `renewal.algorithms` or `bewahr verify
//! --algorithms` at a copy). Each entry names the first day on which an
//! algorithm is no longer suitable, and the source of that date:
//!
//! ```toml
//! [[hash]]
//! name = "sha1"
//! until = "2012-08-01"      # or "open"
//! source = "..."
//!
//! [[signature]]
//! algorithm = "rsa"         # rsa (PKCS#1 v1.5 and PSS) or ecdsa
//! min_bits = 3000           # the entry with the largest min_bits <= the key size applies
//! until = "open"
//! source = "..."
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use time::format_description::well_known::Iso8601;
use time::{Date, OffsetDateTime};

use crate::alg::DigestAlgorithm;

/// The catalogue shipped with bewahr.
pub const DEFAULT_CATALOGUE: &str = include_str!("../../../../config/algorithms.toml");

/// Signature algorithm families the catalogue rates by key size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureFamily {
    /// RSA, PKCS#1 v1.5 and RSASSA-PSS.
    Rsa,
    Ecdsa,
}

impl std::fmt::Display for SignatureFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureFamily::Rsa => "rsa",
            SignatureFamily::Ecdsa => "ecdsa",
        })
    }
}

/// One rated key size of a signature family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureEntry {
    pub family: SignatureFamily,
    pub min_bits: usize,
    pub until: Option<OffsetDateTime>,
    pub source: String,
}

/// Until when each algorithm is suitable; a hash absent from the catalogue is
/// not suitable at all, `None` means open-ended.
#[derive(Clone, Debug)]
pub struct AlgorithmPolicy {
    pub name: String,
    pub version: String,
    pub hash_until: BTreeMap<DigestAlgorithm, (Option<OffsetDateTime>, String)>,
    /// Sorted by family, then `min_bits`.
    pub signatures: Vec<SignatureEntry>,
}

/// The catalogue does not rate an algorithm (or key size): not suitable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unrated;

/// A catalogue that cannot be used, and where.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("algorithm catalogue: {0}")]
    Parse(String),
    #[error("algorithm catalogue, {entry}: {detail}")]
    Entry { entry: String, detail: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    catalogue: Header,
    #[serde(default)]
    hash: Vec<HashRow>,
    #[serde(default)]
    signature: Vec<SigRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: String,
    version: String,
    #[serde(default)]
    #[allow(dead_code)]
    sources: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashRow {
    name: String,
    until: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigRow {
    algorithm: String,
    min_bits: usize,
    until: String,
    source: String,
}

fn parse_until(entry: &str, s: &str) -> Result<Option<OffsetDateTime>, CatalogueError> {
    if s.eq_ignore_ascii_case("open") {
        return Ok(None);
    }
    let d = Date::parse(s, &Iso8601::DATE).map_err(|e| CatalogueError::Entry {
        entry: entry.to_string(),
        detail: format!("until = {s:?} is neither YYYY-MM-DD nor \"open\": {e}"),
    })?;
    Ok(Some(d.midnight().assume_utc()))
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        AlgorithmPolicy::from_toml(DEFAULT_CATALOGUE).expect("the built-in catalogue parses")
    }
}

impl AlgorithmPolicy {
    /// Reads a catalogue.
    pub fn from_toml(text: &str) -> Result<Self, CatalogueError> {
        let f: File = toml::from_str(text).map_err(|e| CatalogueError::Parse(e.to_string()))?;
        let mut hash_until = BTreeMap::new();
        for h in f.hash {
            let entry = format!("hash {}", h.name);
            let alg = DigestAlgorithm::from_name(&h.name).map_err(|e| CatalogueError::Entry {
                entry: entry.clone(),
                detail: e.to_string(),
            })?;
            let until = parse_until(&entry, &h.until)?;
            if hash_until.insert(alg, (until, h.source)).is_some() {
                return Err(CatalogueError::Entry {
                    entry,
                    detail: "listed twice".into(),
                });
            }
        }
        let mut signatures = Vec::new();
        for s in f.signature {
            let entry = format!("signature {} {} bits", s.algorithm, s.min_bits);
            let family = match s.algorithm.to_ascii_lowercase().as_str() {
                "rsa" => SignatureFamily::Rsa,
                "ecdsa" => SignatureFamily::Ecdsa,
                other => {
                    return Err(CatalogueError::Entry {
                        entry,
                        detail: format!("unknown algorithm {other:?} (rsa or ecdsa)"),
                    })
                }
            };
            let until = parse_until(&entry, &s.until)?;
            signatures.push(SignatureEntry {
                family,
                min_bits: s.min_bits,
                until,
                source: s.source,
            });
        }
        signatures.sort_by_key(|e| (e.family, e.min_bits));
        if signatures
            .windows(2)
            .any(|w| w[0].family == w[1].family && w[0].min_bits == w[1].min_bits)
        {
            return Err(CatalogueError::Parse(
                "a signature key size is listed twice".into(),
            ));
        }
        Ok(AlgorithmPolicy {
            name: f.catalogue.name,
            version: f.catalogue.version,
            hash_until,
            signatures,
        })
    }

    /// Until when `alg` is suitable (`None`: open-ended).
    pub fn hash_end(&self, alg: DigestAlgorithm) -> Result<Option<OffsetDateTime>, Unrated> {
        self.hash_until.get(&alg).map(|(u, _)| *u).ok_or(Unrated)
    }

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

    /// The entry that rates a `bits`-bit key of `family` (`None`: smaller
    /// than every listed size, so not suitable).
    pub fn signature_entry(&self, family: SignatureFamily, bits: usize) -> Option<&SignatureEntry> {
        self.signatures
            .iter()
            .filter(|e| e.family == family && e.min_bits <= bits)
            .max_by_key(|e| e.min_bits)
    }

    /// Until when a `bits`-bit `family` signature is suitable (`None`: open-ended).
    pub fn signature_end(
        &self,
        family: SignatureFamily,
        bits: usize,
    ) -> Result<Option<OffsetDateTime>, Unrated> {
        self.signature_entry(family, bits)
            .map(|e| e.until)
            .ok_or(Unrated)
    }

    /// `None` if the signature is suitable through `until`, else the date it
    /// stopped being so.
    pub fn signature_unsuitable_before(
        &self,
        family: SignatureFamily,
        bits: usize,
        until: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        match self.signature_end(family, bits) {
            Ok(Some(end)) if end < until => Some(end),
            Ok(_) => None,
            Err(Unrated) => Some(OffsetDateTime::UNIX_EPOCH),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_built_in_catalogue_rates_what_the_archive_uses() {
        let p = AlgorithmPolicy::default();
        assert!(p
            .hash_unsuitable_before(DigestAlgorithm::Sha1, datetime!(2020-01-01 0:00 UTC))
            .is_some());
        for a in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            assert!(p
                .hash_unsuitable_before(a, datetime!(2026-11-23 0:00 UTC))
                .is_none());
        }
        assert!(p.signature_end(SignatureFamily::Rsa, 3072).is_ok());
        assert!(p.signature_end(SignatureFamily::Ecdsa, 256).is_ok());
        assert!(p.signature_end(SignatureFamily::Rsa, 512).is_err());
        assert!(p
            .signature_unsuitable_before(SignatureFamily::Rsa, 1024, datetime!(2026-11-23 0:00 UTC))
            .is_some());
    }

    #[test]
    fn bad_catalogues_are_refused_with_the_entry() {
        let head = "[catalogue]\nname = \"t\"\nversion = \"1\"\n";
        let e = AlgorithmPolicy::from_toml(&format!(
            "{head}[[hash]]\nname = \"md5\"\nuntil = \"open\"\nsource = \"x\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("hash md5"), "{e}");
        let e = AlgorithmPolicy::from_toml(&format!(
            "{head}[[hash]]\nname = \"sha256\"\nuntil = \"soon\"\nsource = \"x\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
        let e = AlgorithmPolicy::from_toml(&format!("{head}[[hash]]\nname = \"sha256\"\n"))
            .unwrap_err();
        assert!(e.to_string().contains("until"), "{e}");
        let p = AlgorithmPolicy::from_toml(&format!(
            "{head}[[hash]]\nname = \"SHA-256\"\nuntil = \"2027-01-01\"\nsource = \"x\"\n"
        ))
        .unwrap();
        assert_eq!(
            p.hash_end(DigestAlgorithm::Sha256),
            Ok(Some(datetime!(2027-01-01 0:00 UTC)))
        );
        assert_eq!(p.hash_end(DigestAlgorithm::Sha512), Err(Unrated));
    }
}
