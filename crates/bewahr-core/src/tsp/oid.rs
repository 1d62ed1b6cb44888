//! OBJECT IDENTIFIERs as signed structures really carry them.
//!
//! `const-oid` 0.9 refuses OIDs of fewer than three arcs (`1.2`, `1.1.1` in
//! the encoding `06 01 2a`, `06 02 29 01`), which X.680 allows and which test
//! TSAs (Governikus among them) write as their policy. A policy is signed and
//! cannot be changed, so fields a TSA fills are read with [`AnyOid`]: any
//! syntactically valid OID, kept as its content octets.
//!
//! ```text
//! -- X.690 8.19: subidentifiers in base 128, high bit set on all but the
//! -- last octet of each, no leading 0x80; the first subidentifier is
//! -- 40 * arc1 + arc2.
//! ```

use der::{DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Tag, Writer};

/// Any syntactically valid OBJECT IDENTIFIER (X.690 8.19), byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AnyOid(Vec<u8>);

/// Why content octets are not an OBJECT IDENTIFIER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OidError {
    #[error("an OBJECT IDENTIFIER has no content octets")]
    Empty,
    #[error("a subidentifier of the OBJECT IDENTIFIER starts with 0x80 (not minimal)")]
    NotMinimal,
    #[error("the OBJECT IDENTIFIER's last subidentifier is cut off")]
    Truncated,
    #[error("a subidentifier of the OBJECT IDENTIFIER is larger than 2^64")]
    TooLarge,
}

impl AnyOid {
    /// Checks content octets (without tag and length).
    pub fn from_content(bytes: &[u8]) -> Result<Self, OidError> {
        if bytes.is_empty() {
            return Err(OidError::Empty);
        }
        let mut start = true;
        let mut bits = 0u32;
        for &b in bytes {
            if start && b == 0x80 {
                return Err(OidError::NotMinimal);
            }
            bits += 7;
            if bits > 70 {
                return Err(OidError::TooLarge);
            }
            start = b & 0x80 == 0;
            if start {
                bits = 0;
            }
        }
        if !start {
            return Err(OidError::Truncated);
        }
        Ok(AnyOid(bytes.to_vec()))
    }

    /// From dotted notation (`1.2`, `2.999.1`); at least two arcs.
    pub fn from_dotted(s: &str) -> Option<Self> {
        let arcs: Vec<u128> = s
            .split('.')
            .map(|a| a.parse().ok())
            .collect::<Option<_>>()?;
        if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
            return None;
        }
        let mut out = Vec::new();
        let mut put = |mut v: u128| {
            let mut tmp = vec![(v & 0x7f) as u8];
            v >>= 7;
            while v > 0 {
                tmp.push(0x80 | (v & 0x7f) as u8);
                v >>= 7;
            }
            out.extend(tmp.iter().rev());
        };
        put(arcs[0] * 40 + arcs[1]);
        for a in &arcs[2..] {
            put(*a);
        }
        AnyOid::from_content(&out).ok()
    }

    /// The content octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The arcs (the first subidentifier split into two per X.690 8.19.4).
    pub fn arcs(&self) -> Vec<u128> {
        let mut subs = Vec::new();
        let mut v: u128 = 0;
        for &b in &self.0 {
            v = (v << 7) | u128::from(b & 0x7f);
            if b & 0x80 == 0 {
                subs.push(v);
                v = 0;
            }
        }
        let mut arcs = Vec::with_capacity(subs.len() + 1);
        let first = subs.first().copied().unwrap_or(0);
        let (a, b) = match first {
            f if f < 40 => (0, f),
            f if f < 80 => (1, f - 40),
            f => (2, f - 80),
        };
        arcs.push(a);
        arcs.push(b);
        arcs.extend_from_slice(subs.get(1..).unwrap_or_default());
        arcs
    }

    /// The same OID in `const-oid`'s type, where that type can hold it.
    pub fn to_const_oid(&self) -> Option<const_oid::ObjectIdentifier> {
        const_oid::ObjectIdentifier::from_bytes(&self.0).ok()
    }
}

impl From<const_oid::ObjectIdentifier> for AnyOid {
    fn from(o: const_oid::ObjectIdentifier) -> Self {
        AnyOid(o.as_bytes().to_vec())
    }
}

impl PartialEq<const_oid::ObjectIdentifier> for AnyOid {
    fn eq(&self, other: &const_oid::ObjectIdentifier) -> bool {
        self.0 == other.as_bytes()
    }
}

impl std::fmt::Display for AnyOid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let arcs: Vec<String> = self.arcs().iter().map(|a| a.to_string()).collect();
        f.write_str(&arcs.join("."))
    }
}

impl FixedTag for AnyOid {
    const TAG: Tag = Tag::ObjectIdentifier;
}

impl<'a> DecodeValue<'a> for AnyOid {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let b = reader.read_vec(header.length)?;
        AnyOid::from_content(&b).map_err(|_| Tag::ObjectIdentifier.value_error())
    }
}

impl EncodeValue for AnyOid {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }
    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};
    use proptest::prelude::*;

    #[test]
    fn short_oids_that_const_oid_refuses() {
        // 1.2 and 1.1.1, as Governikus test TSAs write their policy
        for (der, dotted) in [
            (&[0x06, 0x01, 0x2a][..], "1.2"),
            (&[0x06, 0x02, 0x29, 0x01][..], "1.1.1"),
            (&[0x06, 0x01, 0x00][..], "0.0"),
            (&[0x06, 0x03, 0x88, 0x37, 0x01][..], "2.999.1"),
        ] {
            let o = AnyOid::from_der(der).unwrap();
            assert_eq!(o.to_string(), dotted);
            assert_eq!(o.to_der().unwrap(), der);
            assert_eq!(AnyOid::from_dotted(dotted).unwrap(), o);
        }
        assert!(const_oid::ObjectIdentifier::from_bytes(&[0x2a]).is_err());
    }

    #[test]
    fn malformed_oids_are_refused() {
        assert_eq!(AnyOid::from_content(&[]), Err(OidError::Empty));
        assert_eq!(
            AnyOid::from_content(&[0x2a, 0x80, 0x01]),
            Err(OidError::NotMinimal)
        );
        assert_eq!(
            AnyOid::from_content(&[0x2a, 0x81]),
            Err(OidError::Truncated)
        );
        assert_eq!(AnyOid::from_content(&[0xff; 12]), Err(OidError::TooLarge));
        assert!(AnyOid::from_dotted("3.1").is_none());
        assert!(AnyOid::from_dotted("1.40").is_none());
        assert!(AnyOid::from_dotted("1").is_none());
    }

    #[test]
    fn agrees_with_const_oid_where_both_read() {
        let o = const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
        let a = AnyOid::from(o);
        assert_eq!(a.to_string(), o.to_string());
        assert_eq!(a.to_const_oid(), Some(o));
        assert!(a == o);
    }

    proptest! {
        #[test]
        fn dotted_round_trip(a in 0u128..3, b in 0u128..40, rest in proptest::collection::vec(0u128..u64::MAX as u128, 0..6)) {
            let mut s = format!("{a}.{b}");
            for r in &rest { s.push_str(&format!(".{r}")); }
            let o = AnyOid::from_dotted(&s).unwrap();
            prop_assert_eq!(o.to_string(), s);
            let der = o.to_der().unwrap();
            prop_assert_eq!(AnyOid::from_der(&der).unwrap(), o);
        }

        #[test]
        fn any_content_decodes_or_errs(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
            if let Ok(o) = AnyOid::from_content(&bytes) {
                prop_assert_eq!(AnyOid::from_dotted(&o.to_string()), Some(o));
            }
        }
    }
}
