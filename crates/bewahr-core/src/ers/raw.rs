//! A TLV kept byte for byte.

use der::{Decode, Encode, Length, Reader, Writer};

/// Any DER TLV, kept as the exact bytes it was decoded from.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RawTlv(Vec<u8>);

impl RawTlv {
    /// Wraps bytes that must hold exactly one DER TLV.
    pub fn from_der_bytes(bytes: Vec<u8>) -> der::Result<Self> {
        let any = der::AnyRef::from_der(&bytes)?;
        let _ = any;
        Ok(RawTlv(bytes))
    }
    /// Wraps a TLV exactly as received, BER included (checked by the caller).
    pub(crate) fn received(bytes: Vec<u8>) -> Self {
        RawTlv(bytes)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl<'a> Decode<'a> for RawTlv {
    fn decode<R: Reader<'a>>(reader: &mut R) -> der::Result<Self> {
        let header = reader.peek_header()?;
        let total = (header.encoded_len()? + header.length)?;
        let bytes = reader.read_slice(total)?;
        // make sure the value itself is well-formed DER TLV structure
        der::AnyRef::from_der(bytes)?;
        Ok(RawTlv(bytes.to_vec()))
    }
}

impl Encode for RawTlv {
    fn encoded_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }
    fn encode(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

/// Reads a DER header: (first tag byte, header length, value length).
/// Only the single-byte tag numbers used by PKIX are supported; `None` on anything else.
pub(crate) fn read_header(b: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *b.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let l0 = *b.get(1)? as usize;
    if l0 < 0x80 {
        return Some((tag, 2, l0));
    }
    let n = l0 & 0x7f;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *b.get(2 + i)? as usize;
    }
    Some((tag, 2 + n, len))
}

/// The TLVs inside one constructed TLV, or `None` if it is malformed.
pub fn children(tlv: &[u8]) -> Option<Vec<&[u8]>> {
    let (_, hl, len) = read_header(tlv)?;
    let value = tlv.get(hl..hl.checked_add(len)?)?;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < value.len() {
        let (_, h, l) = read_header(&value[pos..])?;
        let end = pos.checked_add(h)?.checked_add(l)?;
        out.push(value.get(pos..end)?);
        pos = end;
    }
    Some(out)
}

/// One TLV with the given tag around `content` (DER definite length).
pub fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    crate::ers::build::put_header(&mut out, tag, content.len());
    out.extend_from_slice(content);
    out
}
