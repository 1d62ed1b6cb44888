//! Typed identifiers: an archive object, a tenant, a version number.
//!
//! Each is parsed once, where it enters (a URL path, a SOAP body, a command
//! line), and from then on cannot hold a value that names nothing: the
//! service layer takes these types, never bare strings or integers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a value is not an identifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{0:?} is not an archive object id (a lowercase UUID)")]
    Aoid(String),
    #[error("{0:?} is not a tenant name (1 to 63 of a-z 0-9 -, not starting with -)")]
    Tenant(String),
    #[error("{0:?} is not a version number (1, 2, ...)")]
    Version(String),
}

/// An archive object id (TR-ESOR AOID): a UUID in its lowercase hyphenated
/// form, as bewahr assigns them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Aoid(String);

impl Aoid {
    /// Parses the canonical form (36 characters, lowercase hex, hyphens at
    /// 8, 13, 18 and 23); anything else cannot name an object.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == 36
            && s.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
                }
            });
        if ok {
            Ok(Aoid(s.to_string()))
        } else {
            Err(IdError::Aoid(s.chars().take(64).collect()))
        }
    }

    /// A new random (version 4) id.
    pub fn random() -> Self {
        let mut b = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
            .expect("the system's random source failed");
        b[6] = (b[6] & 0x0f) | 0x40;
        Self::from_bytes(b)
    }

    /// A new time-ordered (version 7, RFC 9562 5.7) id: 48 bits of Unix
    /// milliseconds, then 74 random bits. New objects get these: their ids
    /// grow with time, so the catalog's indexes on them (the objects' key,
    /// the audit trail's object index) take each new id near the last one
    /// instead of at a random place, and stay in the database's cache at
    /// tens of millions of objects (`docs/benchmarks.md`, catalog at 10 M).
    /// The id says when the object was created, as its metadata does to
    /// whoever may read it; the 74 random bits keep ids unguessable.
    pub fn time_ordered(unix_ms: u64) -> Self {
        let mut b = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b[6..])
            .expect("the system's random source failed");
        b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
        b[6] = (b[6] & 0x0f) | 0x70;
        Self::from_bytes(b)
    }

    fn from_bytes(mut b: [u8; 16]) -> Self {
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        Aoid(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A tenant (a municipality, an authority): the unit of isolation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// 1 to 63 characters of a-z, 0-9 and `-`, not starting with `-`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() < 64
            && !s.starts_with('-')
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if ok {
            Ok(TenantId(s.to_string()))
        } else {
            Err(IdError::Tenant(s.chars().take(64).collect()))
        }
    }

    /// A tenant name read back from the catalog, which only ever stored
    /// parsed names.
    pub(crate) fn from_catalog(s: String) -> Self {
        TenantId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A version of an archive object: 1 for the first submission, then 2, 3, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct VersionNo(i64);

impl VersionNo {
    pub const FIRST: VersionNo = VersionNo(1);

    pub fn new(n: i64) -> Result<Self, IdError> {
        if n >= 1 {
            Ok(VersionNo(n))
        } else {
            Err(IdError::Version(n.to_string()))
        }
    }

    /// Parses a decimal version number (no sign, no leading zeros).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::Version(s.chars().take(32).collect());
        if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>()
            .map_err(|_| bad())
            .and_then(|n| Self::new(n).map_err(|_| bad()))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

macro_rules! string_like {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $t {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_like!(Aoid);
string_like!(TenantId);

impl fmt::Display for VersionNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for VersionNo {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for VersionNo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_aoids_grow_with_time() {
        let a = Aoid::time_ordered(1_796_000_000_000);
        let b = Aoid::time_ordered(1_796_000_000_001);
        assert_eq!(Aoid::parse(a.as_str()).unwrap(), a);
        assert_eq!(&a.as_str()[14..15], "7");
        assert!(matches!(&a.as_str()[19..20], "8" | "9" | "a" | "b"));
        // 1796000000000 = 0x01a2_29f1_2800: the first 48 bits
        assert_eq!(&a.as_str()[..13], "01a229f1-2800");
        assert!(a < b);
        assert_ne!(
            Aoid::time_ordered(1).as_str()[15..],
            Aoid::time_ordered(1).as_str()[15..]
        );
    }

    #[test]
    fn aoids_parse_only_in_their_canonical_form() {
        let a = Aoid::random();
        assert_eq!(Aoid::parse(a.as_str()).unwrap(), a);
        assert_eq!(&a.as_str()[14..15], "4");
        for bad in [
            "",
            "5f0c",
            "5F0C0000-0000-4000-8000-000000000000",
            "5f0c0000-0000-4000-8000-00000000000",
            "5f0c0000x0000-4000-8000-000000000000",
            "5f0c0000-0000-4000-8000-00000000000g",
            "../../etc/passwd-0000-0000-000000000",
        ] {
            assert!(Aoid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_are_positive_decimal_numbers() {
        assert_eq!(VersionNo::parse("1").unwrap().get(), 1);
        assert_eq!(VersionNo::parse("42").unwrap().get(), 42);
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "01",
            "1.0",
            "x",
            "99999999999999999999",
        ] {
            assert!(VersionNo::parse(bad).is_err(), "{bad}");
        }
        assert!(VersionNo::new(0).is_err());
    }

    #[test]
    fn tenant_names() {
        for ok in ["musterstadt", "kreis-42", "a"] {
            assert_eq!(TenantId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "-x",
            "Musterstadt",
            "a/b",
            "../etc",
            &"a".repeat(64),
            "a b",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deserialising_checks_too() {
        assert!(serde_json::from_str::<Aoid>("\"nope\"").is_err());
        assert!(serde_json::from_str::<VersionNo>("0").is_err());
        assert_eq!(
            serde_json::from_str::<VersionNo>("3").unwrap(),
            VersionNo::new(3).unwrap()
        );
    }
}
