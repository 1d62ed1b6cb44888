//! RFC 3161 TSTInfo, with a genTime that may carry fractions of a second.
//!
//! (`x509_tsp::TstInfo` uses `der`'s GeneralizedTime, which refuses the
//! fractional seconds that many TSAs write, and `const-oid`'s OID type,
//! which refuses the two-arc policies some TSAs sign: the policy is an
//! [`AnyOid`], the extensions are kept as their bytes.)

use der::asn1::Int;
use der::{DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag, Writer};
use time::OffsetDateTime;
use x509_cert::ext::pkix::name::GeneralName;
pub use x509_tsp::{Accuracy, MessageImprint};

use super::oid::AnyOid;

/// ```text
/// TSTInfo ::= SEQUENCE  {
///     version                      INTEGER  { v1(1) },
///     policy                       TSAPolicyId,
///     messageImprint               MessageImprint,
///     serialNumber                 INTEGER,
///     genTime                      GeneralizedTime,
///     accuracy                     Accuracy                 OPTIONAL,
///     ordering                     BOOLEAN             DEFAULT FALSE,
///     nonce                        INTEGER                  OPTIONAL,
///     tsa                          [0] GeneralName          OPTIONAL,
///     extensions                   [1] IMPLICIT Extensions   OPTIONAL  }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: AnyOid,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: GenTime,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<RawSequence>,
}

/// The value of a SEQUENCE kept as its content octets (TSTInfo extensions,
/// whose OIDs are the TSA's own and are not interpreted).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RawSequence(pub Vec<u8>);

impl FixedTag for RawSequence {
    const TAG: Tag = Tag::Sequence;
}

impl<'a> DecodeValue<'a> for RawSequence {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        Ok(RawSequence(reader.read_vec(header.length)?))
    }
}

impl EncodeValue for RawSequence {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }
    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

/// A GeneralizedTime `YYYYMMDDHHMMSS[.f+]Z` (RFC 3161 section 2.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GenTime(pub OffsetDateTime);

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

impl GenTime {
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 15 || *b.last()? != b'Z' {
            return None;
        }
        let year = digits(&b[0..4])? as i32;
        let month = time::Month::try_from(digits(&b[4..6])? as u8).ok()?;
        let date = time::Date::from_calendar_date(year, month, digits(&b[6..8])? as u8).ok()?;
        let (h, m, s) = (
            digits(&b[8..10])? as u8,
            digits(&b[10..12])? as u8,
            digits(&b[12..14])? as u8,
        );
        let rest = &b[14..b.len() - 1];
        let nanos = if rest.is_empty() {
            0
        } else {
            let frac = rest.strip_prefix(b".")?;
            if frac.is_empty() || frac.len() > 9 {
                return None;
            }
            digits(frac)? * 10u32.pow(9 - frac.len() as u32)
        };
        let t = time::Time::from_hms_nano(h, m, s, nanos).ok()?;
        Some(GenTime(time::PrimitiveDateTime::new(date, t).assume_utc()))
    }

    fn render(&self) -> String {
        let t = self.0;
        let mut s = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        if t.nanosecond() != 0 {
            let f = format!("{:09}", t.nanosecond());
            s.push('.');
            s.push_str(f.trim_end_matches('0'));
        }
        s.push('Z');
        s
    }
}

impl<'a> DecodeValue<'a> for GenTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let b = reader.read_vec(header.length)?;
        GenTime::parse(&b).ok_or_else(|| der::Tag::GeneralizedTime.value_error())
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.render().len())
    }
    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.render().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};

    #[test]
    fn fractions_round_trip() {
        for s in [
            "20220802180553Z",
            "20220802180553.5Z",
            "20220802180553.123456Z",
        ] {
            let mut der = vec![0x18, s.len() as u8];
            der.extend_from_slice(s.as_bytes());
            let t = GenTime::from_der(&der).unwrap();
            assert_eq!(t.to_der().unwrap(), der);
        }
        assert!(GenTime::parse(b"20221302180553Z").is_none());
        assert!(GenTime::parse(b"20220802180553.Z").is_none());
        assert!(GenTime::parse(b"2022080218055Z").is_none());
    }
}
