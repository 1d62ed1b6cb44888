//! BER to DER, for CMS signatures written by streaming encoders
//! (indefinite lengths, constructed OCTET STRINGs): PDF signatures and
//! `.p7m` files often come that way, and the `cms` crate reads DER only.
//! The signed attributes are DER in any valid signature (RFC 5652 5.4), so
//! converting the whole structure leaves the bytes they sign unchanged.

/// Why the bytes are not BER.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BER at byte {offset}: {detail}")]
pub struct BerError {
    pub offset: usize,
    pub detail: &'static str,
}

const MAX_DEPTH: usize = 64;

/// Converts one BER TLV (and nothing after it but zero padding) to DER.
pub fn to_der(input: &[u8]) -> Result<Vec<u8>, BerError> {
    let mut out = Vec::with_capacity(input.len());
    let end = convert(input, 0, 0, &mut out)?;
    if input[end..].iter().any(|b| *b != 0) {
        return Err(BerError {
            offset: end,
            detail: "data after the end of the structure",
        });
    }
    Ok(out)
}

/// The length of the one BER TLV at the start of `input` (definite or
/// indefinite length), without converting anything.
pub fn tlv_len(input: &[u8]) -> Result<usize, BerError> {
    scan(input, 0, 0)
}

/// The TLVs inside one constructed BER TLV, each exactly as received
/// (the end-of-contents octets of an indefinite length are not a child).
pub fn children(tlv: &[u8]) -> Result<Vec<&[u8]>, BerError> {
    let (tag_end, constructed) = tag(tlv, 0)?;
    if !constructed {
        return Err(err(0, "a primitive value has no children"));
    }
    let (len, body) = length(tlv, tag_end)?;
    let end = scan(tlv, 0, 0)?;
    // an indefinite length ends in the end-of-contents octets, which are no child
    let stop = if len.is_some() { end } else { end - 2 };
    let mut out = Vec::new();
    let mut p = body;
    while p < stop {
        let n = scan(&tlv[..stop], p, 1)?;
        out.push(&tlv[p..n]);
        p = n;
    }
    Ok(out)
}

/// The end of the TLV at `pos`.
fn scan(input: &[u8], pos: usize, depth: usize) -> Result<usize, BerError> {
    if depth > MAX_DEPTH {
        return Err(err(pos, "nested too deeply"));
    }
    let (tag_end, constructed) = tag(input, pos)?;
    let (len, body) = length(input, tag_end)?;
    match len {
        Some(l) => body
            .checked_add(l)
            .filter(|e| *e <= input.len())
            .ok_or(err(body, "value runs past the end")),
        None if !constructed => Err(err(tag_end, "indefinite length on a primitive value")),
        None => {
            let mut p = body;
            loop {
                if input.get(p..p + 2) == Some(&[0, 0]) {
                    return Ok(p + 2);
                }
                if p >= input.len() {
                    return Err(err(p, "missing end-of-contents"));
                }
                p = scan(input, p, depth + 1)?;
            }
        }
    }
}

/// Whether converting would leave the bytes as they are: one TLV, every
/// length definite and minimal, no constructed OCTET STRING (the forms
/// [`to_der`] rewrites). Walks the headers without allocating.
pub fn is_der(input: &[u8]) -> bool {
    fn header(b: &[u8], p: usize) -> Option<(bool, usize, usize)> {
        let t = *b.get(p)?;
        if t & 0x1f == 0x1f {
            return None; // multi-byte tags: leave it to the converter
        }
        let l0 = *b.get(p + 1)? as usize;
        let (hl, len) = if l0 < 0x80 {
            (2, l0)
        } else {
            let n = l0 & 0x7f;
            if n == 0 || n > 4 || *b.get(p + 2)? == 0 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *b.get(p + 2 + i)? as usize;
            }
            if len < 0x80 || (n > 1 && len < 1 << (8 * (n - 1))) {
                return None; // not minimal
            }
            (2 + n, len)
        };
        if t == 0x24 {
            return None;
        }
        Some((t & 0x20 != 0, hl, len))
    }
    let mut ends: Vec<usize> = Vec::new();
    let mut p = 0usize;
    let Some((_, hl, len)) = header(input, 0) else {
        return false;
    };
    if hl + len != input.len() {
        return false;
    }
    while p < input.len() {
        while ends.last().is_some_and(|e| p >= *e) {
            ends.pop();
        }
        let Some((constructed, hl, len)) = header(input, p) else {
            return false;
        };
        let end = p + hl + len;
        if end > input.len() || ends.last().is_some_and(|e| end > *e) {
            return false;
        }
        if constructed {
            if ends.len() >= MAX_DEPTH {
                return false;
            }
            ends.push(end);
            p += hl;
        } else {
            p = end;
        }
    }
    true
}

/// [`to_der`], without copying what is DER already.
pub fn to_der_cow(input: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, BerError> {
    if is_der(input) {
        Ok(std::borrow::Cow::Borrowed(input))
    } else {
        to_der(input).map(std::borrow::Cow::Owned)
    }
}

/// Whether the bytes use any BER-only form (so converting is needed).
pub fn is_indefinite(input: &[u8]) -> bool {
    input.len() > 1 && input[0] & 0x20 != 0 && input[1] == 0x80
}

fn err(offset: usize, detail: &'static str) -> BerError {
    BerError { offset, detail }
}

/// Reads a tag at `pos`: returns (tag bytes end, constructed).
fn tag(input: &[u8], pos: usize) -> Result<(usize, bool), BerError> {
    let first = *input.get(pos).ok_or(err(pos, "truncated tag"))?;
    let mut p = pos + 1;
    if first & 0x1f == 0x1f {
        loop {
            let b = *input.get(p).ok_or(err(p, "truncated tag"))?;
            p += 1;
            if p - pos > 6 {
                return Err(err(pos, "tag number too large"));
            }
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    Ok((p, first & 0x20 != 0))
}

/// Reads a length at `pos`: `None` for indefinite; returns the position after it.
fn length(input: &[u8], pos: usize) -> Result<(Option<usize>, usize), BerError> {
    let b = *input.get(pos).ok_or(err(pos, "truncated length"))?;
    if b < 0x80 {
        return Ok((Some(b as usize), pos + 1));
    }
    if b == 0x80 {
        return Ok((None, pos + 1));
    }
    let n = (b & 0x7f) as usize;
    if n > 4 {
        return Err(err(pos, "length too large"));
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *input.get(pos + 1 + i).ok_or(err(pos, "truncated length"))? as usize;
    }
    Ok((Some(len), pos + 1 + n))
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Converts the TLV at `pos` into `out`; returns the position after it.
fn convert(input: &[u8], pos: usize, depth: usize, out: &mut Vec<u8>) -> Result<usize, BerError> {
    if depth > MAX_DEPTH {
        return Err(err(pos, "nested too deeply"));
    }
    let (tag_end, constructed) = tag(input, pos)?;
    let (len, body) = length(input, tag_end)?;
    let tag_bytes = &input[pos..tag_end];
    if !constructed {
        let len = len.ok_or(err(tag_end, "indefinite length on a primitive value"))?;
        let end = body
            .checked_add(len)
            .filter(|e| *e <= input.len())
            .ok_or(err(body, "value runs past the end"))?;
        out.extend_from_slice(tag_bytes);
        put_len(out, len);
        out.extend_from_slice(&input[body..end]);
        return Ok(end);
    }
    // children, up to the definite end or the end-of-contents octets
    let mut children = Vec::new();
    let mut p = body;
    let end = match len {
        Some(l) => {
            let end = body
                .checked_add(l)
                .filter(|e| *e <= input.len())
                .ok_or(err(body, "value runs past the end"))?;
            while p < end {
                p = convert(input, p, depth + 1, &mut children)?;
            }
            if p != end {
                return Err(err(p, "children overrun their parent"));
            }
            end
        }
        None => loop {
            if input.get(p..p + 2) == Some(&[0, 0]) {
                break p + 2;
            }
            if p >= input.len() {
                return Err(err(p, "missing end-of-contents"));
            }
            p = convert(input, p, depth + 1, &mut children)?;
        },
    };
    // a constructed OCTET STRING (universal 4) becomes one primitive OCTET STRING
    if tag_bytes == [0x24] {
        let mut content = Vec::with_capacity(children.len());
        let mut q = 0;
        while q < children.len() {
            let (te, _) = tag(&children, q)?;
            let (l, b) = length(&children, te)?;
            let l = l.ok_or(err(q, "indefinite length inside an OCTET STRING"))?;
            if children[q] & 0x1f != 0x04 {
                return Err(err(q, "a constructed OCTET STRING holds something else"));
            }
            content.extend_from_slice(&children[b..b + l]);
            q = b + l;
        }
        out.push(0x04);
        put_len(out, content.len());
        out.extend_from_slice(&content);
        return Ok(end);
    }
    out.extend_from_slice(tag_bytes);
    put_len(out, children.len());
    out.extend_from_slice(&children);
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_and_constructed_strings() {
        // SEQUENCE (indef) { OCTET STRING constructed (indef) { 04 01 aa, 04 01 bb }, INTEGER 5 }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0xaa, 0x04, 0x01, 0xbb, 0, 0, 0x02, 0x01, 5, 0, 0,
        ];
        assert_eq!(
            to_der(&ber).unwrap(),
            vec![0x30, 0x07, 0x04, 0x02, 0xaa, 0xbb, 0x02, 0x01, 5]
        );
        let der = [0x30, 0x03, 0x02, 0x01, 7];
        assert_eq!(to_der(&der).unwrap(), der.to_vec());
        // padding after the structure is allowed, anything else is not
        assert!(to_der(&[0x30, 0x03, 0x02, 0x01, 7, 0, 0]).is_ok());
        assert!(to_der(&[0x30, 0x03, 0x02, 0x01, 7, 1]).is_err());
        for bad in [
            &[0x30, 0x80, 0x02, 0x01][..],
            &[0x04, 0x80, 0, 0],
            &[0x30, 0x05, 0x02],
        ] {
            assert!(to_der(bad).is_err());
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 100).flatten().collect();
        assert!(to_der(&deep).is_err());
        assert!(tlv_len(&deep).is_err());
    }

    #[test]
    fn is_der_agrees_with_the_converter() {
        for b in [
            &[0x30, 0x03, 0x02, 0x01, 7][..],
            &[0x30, 0x80, 0x02, 0x01, 5, 0, 0],
            &[0x30, 0x81, 0x03, 0x02, 0x01, 7],
            &[0x24, 0x03, 0x04, 0x01, 0xaa],
            &[0x30, 0x03, 0x02, 0x01, 7, 0],
            &[0x30, 0x05, 0x02, 0x01],
        ] {
            let conv = to_der(b).ok();
            assert_eq!(is_der(b), conv.as_deref() == Some(b), "{b:02x?}");
        }
    }

    #[test]
    fn children_as_received() {
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0xaa, 0x04, 0x01, 0xbb, 0, 0, 0x02, 0x01, 5, 0, 0,
            0xff,
        ];
        assert_eq!(tlv_len(&ber).unwrap(), 17);
        let kids = children(&ber).unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0], &ber[2..12]);
        assert_eq!(kids[1], &[0x02, 0x01, 5]);
        assert_eq!(children(kids[0]).unwrap().len(), 2);
        assert!(children(&[0x02, 0x01, 5]).is_err());
        assert_eq!(
            children(&[0x30, 0x03, 0x02, 0x01, 7]).unwrap(),
            vec![&[0x02, 0x01, 7][..]]
        );
        assert!(children(&[0x30, 0x04, 0x02, 0x01, 7]).is_err());
    }
}
