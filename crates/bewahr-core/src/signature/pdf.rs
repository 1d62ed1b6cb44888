//! Signatures in a PDF file (ISO 32000-1/-2 §12.8, PAdES / ETSI EN 319 142-1).
//!
//! This module finds the signature dictionaries of a PDF and checks that each
//! one's `/ByteRange` is trustworthy: it starts at 0, both ranges lie inside the
//! file, they are ordered, and the only bytes they leave out are exactly the
//! `/Contents` hex string (with its `<` and `>`). It does not verify the CMS
//! signature itself; it hands out the DER of the CMS `SignedData` (or RFC 3161
//! token) and the signed bytes ([`signed_ranges`]) for a CMS verifier.
//!
//! # How signatures are found
//!
//! A signature dictionary's `/Contents` must be a direct hex string in the
//! file's bytes (it cannot live in an object stream, because the `/ByteRange`
//! gap must point at it), so the raw bytes are scanned for the name
//! `/ByteRange` on a token boundary. For each occurrence the innermost
//! dictionary `<< ... >>` that encloses it is parsed (nested dictionaries,
//! arrays and strings are respected, nesting is limited to
//! [`MAX_NESTING`] levels).
//!
//! Choices made where the format leaves room:
//!
//! * An occurrence that is not a top-level key of any enclosing dictionary
//!   (it lies inside a string, an array, a content stream, or no dictionary
//!   around it can be parsed) is *ignored*: it is not a signature dictionary.
//!   Ignoring can only make a file look *less* signed, never more.
//! * A dictionary that does have `/ByteRange` as a key but no `/Contents` is an
//!   *error* ([`PdfError::MissingContents`]): `/ByteRange` is defined only for
//!   signature dictionaries, and an archive should not silently drop a
//!   malformed signature.
//! * A dictionary that is cut off by the end of the file is an error
//!   ([`PdfError::UnterminatedDictionary`]), so a truncated signed file does not
//!   look unsigned; so is a dictionary that was still open at the key and has a
//!   syntax error after it ([`PdfError::MalformedDictionary`]). A syntax error
//!   *before* the key cannot be told apart from a `<<` inside a string or
//!   stream, so that candidate is passed over (and the key is ignored if no
//!   other dictionary encloses it).
//! * Duplicate keys in a signature dictionary are an error (they make the
//!   dictionary ambiguous).
//! * The signature dictionary itself must lie inside the signed bytes.
//! * `/Contents` is BER as well as DER: real signers (this module's test file
//!   included) write the outer `SEQUENCE` with indefinite length, so the end of
//!   the first TLV is found by walking the BER structure. Anything after it
//!   other than zero padding is an error ([`PdfError::ContentsTrailingData`]),
//!   since those bytes are not covered by the signature.
//! * `/Name`, `/Reason`, `/Location` and `/M` are read only when they are
//!   direct strings; an indirect reference gives `None` (the cross-reference
//!   table is not read).
//! * Keys are matched after decoding `#xx` escapes, but the scan itself looks
//!   for the literal bytes `/ByteRange`; a key written with escapes
//!   (`/Byte#52ange`) is not found.

use std::collections::HashMap;

/// Deepest nesting of dictionaries and arrays accepted inside a parsed
/// dictionary (and of indefinite-length BER inside `/Contents`).
pub const MAX_NESTING: usize = 32;

/// How many `<<` before a `/ByteRange` key are tried as the start of its
/// enclosing dictionary (nearest first).
const MAX_CANDIDATES: usize = 64;

/// One signature (or document time-stamp) dictionary of a PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfSignature {
    /// Index in file order (0-based).
    pub index: usize,
    /// Byte offset of the signature dictionary's `/ByteRange` key (for messages).
    pub offset: usize,
    /// The `/ByteRange` value `[a b c d]`: the signature covers `[a, a+b)` and `[c, c+d)`.
    pub byte_range: [usize; 4],
    /// The `/Contents` value: the DER (or BER) of the CMS `SignedData` (or RFC 3161
    /// token), with the zero padding after the outer TLV removed.
    pub contents: Vec<u8>,
    /// `/SubFilter`, e.g. `ETSI.CAdES.detached`, `adbe.pkcs7.detached`, `ETSI.RFC3161`.
    pub sub_filter: Option<String>,
    /// `/Filter`, e.g. `Adobe.PPKLite`.
    pub filter: Option<String>,
    /// `/Type /DocTimeStamp` or `/SubFilter /ETSI.RFC3161`.
    pub doc_timestamp: bool,
    /// `/Name`: the signer's name as written by the signing application.
    pub name: Option<String>,
    /// `/Reason`: the reason for signing.
    pub reason: Option<String>,
    /// `/Location`: where the document was signed.
    pub location: Option<String>,
    /// The `/M` value as written (PDF date string, e.g. `D:20190101120000+01'00'`).
    pub signing_time: Option<String>,
    /// `byte_range[2] + byte_range[3]` equals the file length.
    pub covers_whole_file: bool,
}

/// Why a PDF's signatures could not be read. `index` is the index the
/// signature would have had, `offset` the byte offset of its `/ByteRange` key
/// unless said otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// No `%PDF-` header in the first 1024 bytes.
    #[error("not a PDF file: no %PDF- header in the first 1024 bytes")]
    NotPdf,
    /// The dictionary around a `/ByteRange` key runs into the end of the file.
    #[error("signature {index}: the dictionary around /ByteRange at offset {offset} is not terminated before the end of the file")]
    UnterminatedDictionary { index: usize, offset: usize },
    /// The dictionary around a `/ByteRange` key has a syntax error after the key.
    #[error("signature {index}: the dictionary around /ByteRange at offset {offset} is malformed at offset {at}")]
    MalformedDictionary {
        index: usize,
        offset: usize,
        at: usize,
    },
    /// Dictionaries/arrays (or BER in `/Contents`) nested deeper than [`MAX_NESTING`].
    #[error("signature {index}: nesting deeper than {MAX_NESTING} levels at offset {at} (dictionary of /ByteRange at offset {offset})")]
    NestingTooDeep {
        index: usize,
        offset: usize,
        at: usize,
    },
    /// A key occurs twice in the signature dictionary.
    #[error("signature {index}: key /{key} occurs twice in the signature dictionary (second at offset {at})")]
    DuplicateKey {
        index: usize,
        key: String,
        at: usize,
    },
    /// The `/ByteRange` value is not an array of exactly four integers.
    #[error("signature {index}: /ByteRange at offset {offset} is not an array of four integers ({detail})")]
    ByteRangeSyntax {
        index: usize,
        offset: usize,
        detail: &'static str,
    },
    /// A `/ByteRange` number is negative.
    #[error(
        "signature {index}: /ByteRange at offset {offset} has a negative number at offset {at}"
    )]
    ByteRangeNegative {
        index: usize,
        offset: usize,
        at: usize,
    },
    /// A `/ByteRange` number, or a sum of two, does not fit in `usize`.
    #[error(
        "signature {index}: /ByteRange at offset {offset} has a number too large (at offset {at})"
    )]
    ByteRangeOverflow {
        index: usize,
        offset: usize,
        at: usize,
    },
    /// The first range does not start at 0.
    #[error("signature {index}: /ByteRange at offset {offset} starts at {start}, not 0")]
    ByteRangeStart {
        index: usize,
        offset: usize,
        start: usize,
    },
    /// The first range ends after the second one starts (`a+b > c`).
    #[error("signature {index}: /ByteRange at offset {offset}: first range ends at {first_end}, after the second starts at {second_start}")]
    ByteRangeOverlap {
        index: usize,
        offset: usize,
        first_end: usize,
        second_start: usize,
    },
    /// The second range ends beyond the end of the file (`c+d > len`).
    #[error("signature {index}: /ByteRange at offset {offset} ends at {end}, beyond the end of the file ({file_len} bytes)")]
    ByteRangeBeyondEnd {
        index: usize,
        offset: usize,
        end: usize,
        file_len: usize,
    },
    /// The unsigned gap `[a+b, c)` is not exactly the `/Contents` hex string.
    #[error("signature {index}: /ByteRange at offset {offset} leaves [{gap_start}, {gap_end}) unsigned, but /Contents is at [{contents_start}, {contents_end})")]
    ByteRangeGap {
        index: usize,
        offset: usize,
        gap_start: usize,
        gap_end: usize,
        contents_start: usize,
        contents_end: usize,
    },
    /// The signature dictionary is not entirely inside the signed bytes.
    #[error("signature {index}: the signature dictionary [{dict_start}, {dict_end}) is not inside the signed bytes (ending at {signed_end})")]
    DictionaryNotSigned {
        index: usize,
        dict_start: usize,
        dict_end: usize,
        signed_end: usize,
    },
    /// The dictionary has `/ByteRange` but no `/Contents`.
    #[error(
        "signature {index}: the dictionary with /ByteRange at offset {offset} has no /Contents"
    )]
    MissingContents { index: usize, offset: usize },
    /// `/Contents` is not a direct hex string.
    #[error("signature {index}: /Contents at offset {at} is not a direct hex string")]
    ContentsNotHexString { index: usize, at: usize },
    /// `/Contents` holds a byte that is neither a hex digit nor whitespace.
    #[error("signature {index}: /Contents has a non-hex byte 0x{byte:02x} at offset {at}")]
    ContentsNotHex { index: usize, at: usize, byte: u8 },
    /// The decoded `/Contents` does not start with a `SEQUENCE` tag (0x30).
    #[error("signature {index}: /Contents at offset {at} does not start with an ASN.1 SEQUENCE")]
    ContentsNotSequence { index: usize, at: usize },
    /// The outer TLV in `/Contents` is malformed or longer than the decoded bytes.
    #[error("signature {index}: the ASN.1 element in /Contents at offset {at} is malformed or longer than its {available} decoded bytes")]
    ContentsLength {
        index: usize,
        at: usize,
        available: usize,
    },
    /// Non-zero bytes follow the outer TLV in `/Contents` (they would be unsigned).
    #[error("signature {index}: /Contents at offset {at} has non-zero bytes after its ASN.1 element (at decoded byte {position})")]
    ContentsTrailingData {
        index: usize,
        at: usize,
        position: usize,
    },
    /// A hex string value (other than `/Contents`) does not decode.
    #[error("signature {index}: /{key} at offset {at} is a malformed hex string")]
    BadHexString {
        index: usize,
        key: &'static str,
        at: usize,
    },
}

/// Whether `bytes` looks like a PDF: `%PDF-` starts within the first 1024 bytes.
pub fn is_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024 + 4)];
    find(head, b"%PDF-", 0).is_some()
}

/// All signature dictionaries of `pdf`, in file order, each with its
/// `/ByteRange` checked (see the module documentation). A PDF without
/// signatures gives an empty vector.
pub fn signatures(pdf: &[u8]) -> Result<Vec<PdfSignature>, PdfError> {
    if !is_pdf(pdf) {
        return Err(PdfError::NotPdf);
    }
    let mut opens = Vec::new();
    let mut opens_scanned = 0;
    let mut cache: HashMap<usize, Result<Dict, LexError>> = HashMap::new();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(off) = find(pdf, b"/ByteRange", from) {
        from = off + 1;
        let after = off + b"/ByteRange".len();
        if pdf
            .get(after)
            .is_some_and(|&c| !is_white(c) && !is_delim(c))
        {
            continue; // a longer name such as /ByteRangeX
        }
        let index = found.len();
        dict_opens(pdf, opens_scanned, off, &mut opens);
        opens_scanned = off;
        let Some(dict) = enclosing_dict(pdf, &opens, &mut cache, off, index)? else {
            continue;
        };
        found.push(read_signature(pdf, dict, off, index)?);
    }
    Ok(found)
}

/// The bytes a signature covers: `[a, a+b)` followed by `[c, c+d)`, as two
/// slices. A range that does not fit in `pdf` (the signature came from other
/// bytes) is given as an empty slice.
pub fn signed_ranges<'a>(pdf: &'a [u8], sig: &PdfSignature) -> [&'a [u8]; 2] {
    let [a, b, c, d] = sig.byte_range;
    let range = |start: usize, len: usize| -> &'a [u8] {
        start
            .checked_add(len)
            .and_then(|end| pdf.get(start..end))
            .unwrap_or(&[])
    };
    [range(a, b), range(c, d)]
}

/// Number of revisions: the count of `%%EOF` markers that end a revision,
/// i.e. that follow `startxref <offset>` and stand at the end of a line or
/// of the file. `startxref 0` (the first-page trailer of a linearized file)
/// does not end a revision and is not counted.
pub fn revisions(pdf: &[u8]) -> usize {
    revision_ends(pdf).count()
}

/// How many revisions were appended after the one `sig` signs: the count of
/// revision-ending `%%EOF` markers (as in [`revisions`]) that start at or
/// after the end of its signed bytes (`c+d`). 0 for a signature that covers
/// the whole file.
pub fn revisions_after(pdf: &[u8], sig: &PdfSignature) -> usize {
    let signed_end = sig.byte_range[2].saturating_add(sig.byte_range[3]);
    revision_ends(pdf).filter(|&p| p >= signed_end).count()
}

// ---------------------------------------------------------------------------
// revisions

/// Offsets of the `%%EOF` markers that end a revision.
fn revision_ends(pdf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let p = find(pdf, b"%%EOF", from)?;
        from = p + 1;
        if ends_revision(pdf, p) {
            return Some(p);
        }
    })
}

/// Whether the `%%EOF` at `p` follows `startxref <non-zero offset>` and ends its line.
fn ends_revision(pdf: &[u8], p: usize) -> bool {
    if pdf.get(p + 5).is_some_and(|&c| !is_white(c)) {
        return false;
    }
    let mut i = p;
    let skip_white_back = |mut i: usize| {
        while i > 0 && is_white(pdf[i - 1]) {
            i -= 1;
        }
        i
    };
    let before = skip_white_back(i);
    if before == i {
        return false; // "%%EOF" not on its own line
    }
    i = before;
    let digits_end = i;
    while i > 0 && pdf[i - 1].is_ascii_digit() {
        i -= 1;
    }
    let digits = &pdf[i..digits_end];
    if digits.is_empty() || digits.iter().all(|&c| c == b'0') {
        return false;
    }
    let before = skip_white_back(i);
    if before == i {
        return false;
    }
    before >= 9 && &pdf[before - 9..before] == b"startxref"
}

// ---------------------------------------------------------------------------
// finding and reading a signature dictionary

/// Finds the innermost dictionary that has the `/ByteRange` key at `off` as a
/// top-level key. `Ok(None)`: the occurrence is not a dictionary key.
fn enclosing_dict<'c>(
    pdf: &[u8],
    opens: &[usize],
    cache: &'c mut HashMap<usize, Result<Dict, LexError>>,
    off: usize,
    index: usize,
) -> Result<Option<&'c Dict>, PdfError> {
    // `opens` is sorted; candidates are the `<<` before `off`, nearest first.
    let below = opens.partition_point(|&p| p < off);
    let candidates: Vec<usize> = opens[..below]
        .iter()
        .rev()
        .take(MAX_CANDIDATES)
        .copied()
        .collect();
    let mut chosen = None;
    for start in candidates {
        let parsed = cache.entry(start).or_insert_with(|| {
            let mut parser = Parser { buf: pdf };
            parser.dict(start, 0)
        });
        match parsed {
            Err(LexError::TooDeep(at)) => {
                return Err(PdfError::NestingTooDeep {
                    index,
                    offset: off,
                    at: *at,
                })
            }
            Err(LexError::Eof) => {
                return Err(PdfError::UnterminatedDictionary { index, offset: off })
            }
            Err(LexError::Syntax(at)) if *at > off => {
                // the dictionary was still open at the key: it is the signature's, and broken
                return Err(PdfError::MalformedDictionary {
                    index,
                    offset: off,
                    at: *at,
                });
            }
            Err(LexError::Syntax(_)) => continue, // not a dictionary (e.g. `<<` in a string)
            Ok(d) if d.end <= off => continue,    // closed before the key: a sibling
            Ok(d) => {
                if d.entries.iter().any(|e| e.key_start == off) {
                    chosen = Some(start);
                }
                break; // the innermost enclosing dictionary
            }
        }
    }
    Ok(chosen.and_then(|start| cache.get(&start).and_then(|r| r.as_ref().ok())))
}

/// Reads and checks the signature whose dictionary is `dict` and whose
/// `/ByteRange` key is at `off`.
fn read_signature(
    pdf: &[u8],
    dict: &Dict,
    off: usize,
    index: usize,
) -> Result<PdfSignature, PdfError> {
    // Duplicate keys make the dictionary ambiguous.
    let mut seen = std::collections::HashSet::with_capacity(dict.entries.len());
    for e in &dict.entries {
        if !seen.insert(e.key.as_slice()) {
            return Err(PdfError::DuplicateKey {
                index,
                key: String::from_utf8_lossy(&e.key).into_owned(),
                at: e.key_start,
            });
        }
    }
    let get = |key: &[u8]| dict.entries.iter().find(|e| e.key == key).map(|e| &e.value);

    // (the chosen dictionary always has the key)
    let byte_range_value = get(b"ByteRange").ok_or(PdfError::ByteRangeSyntax {
        index,
        offset: off,
        detail: "key not found",
    })?;
    let byte_range = parse_byte_range(pdf, byte_range_value, off, index)?;
    let [a, b, c, d] = byte_range;
    if a != 0 {
        return Err(PdfError::ByteRangeStart {
            index,
            offset: off,
            start: a,
        });
    }
    let overflow = |at| PdfError::ByteRangeOverflow {
        index,
        offset: off,
        at,
    };
    let first_end = a.checked_add(b).ok_or_else(|| overflow(off))?;
    let signed_end = c.checked_add(d).ok_or_else(|| overflow(off))?;
    if first_end > c {
        return Err(PdfError::ByteRangeOverlap {
            index,
            offset: off,
            first_end,
            second_start: c,
        });
    }
    if signed_end > pdf.len() {
        return Err(PdfError::ByteRangeBeyondEnd {
            index,
            offset: off,
            end: signed_end,
            file_len: pdf.len(),
        });
    }
    let contents = get(b"Contents").ok_or(PdfError::MissingContents { index, offset: off })?;
    let Kind::Hex = contents.kind else {
        return Err(PdfError::ContentsNotHexString {
            index,
            at: contents.start,
        });
    };
    if (first_end, c) != (contents.start, contents.end) {
        return Err(PdfError::ByteRangeGap {
            index,
            offset: off,
            gap_start: first_end,
            gap_end: c,
            contents_start: contents.start,
            contents_end: contents.end,
        });
    }
    if dict.start < a || dict.end > signed_end {
        return Err(PdfError::DictionaryNotSigned {
            index,
            dict_start: dict.start,
            dict_end: dict.end,
            signed_end,
        });
    }
    let contents = read_contents(pdf, contents, index)?;

    let name_of = |key: &[u8]| match get(key) {
        Some(v) if matches!(v.kind, Kind::Name) => Some(decode_name(&pdf[v.start + 1..v.end])),
        _ => None,
    };
    let text_of = |key: &'static str| -> Result<Option<String>, PdfError> {
        match get(key.as_bytes()) {
            Some(v) => match v.kind {
                Kind::Literal => Ok(Some(text_string(&literal_bytes(
                    &pdf[v.start + 1..v.end - 1],
                )))),
                Kind::Hex => hex_bytes(&pdf[v.start + 1..v.end - 1], v.start + 1)
                    .map(|b| Some(text_string(&b)))
                    .map_err(|_| PdfError::BadHexString {
                        index,
                        key,
                        at: v.start,
                    }),
                _ => Ok(None),
            },
            None => Ok(None),
        }
    };
    let sub_filter = name_of(b"SubFilter");
    let doc_timestamp = name_of(b"Type").as_deref() == Some("DocTimeStamp")
        || sub_filter.as_deref() == Some("ETSI.RFC3161");
    Ok(PdfSignature {
        index,
        offset: off,
        byte_range,
        contents,
        filter: name_of(b"Filter"),
        sub_filter,
        doc_timestamp,
        name: text_of("Name")?,
        reason: text_of("Reason")?,
        location: text_of("Location")?,
        signing_time: text_of("M")?,
        covers_whole_file: signed_end == pdf.len(),
    })
}

/// Parses a `/ByteRange` value: an array of four non-negative integers.
fn parse_byte_range(
    pdf: &[u8],
    v: &Value,
    off: usize,
    index: usize,
) -> Result<[usize; 4], PdfError> {
    let syntax = |detail| PdfError::ByteRangeSyntax {
        index,
        offset: off,
        detail,
    };
    let Kind::Array(items) = &v.kind else {
        return Err(syntax("not an array"));
    };
    if items.len() != 4 {
        return Err(syntax("not exactly four elements"));
    }
    let mut out = [0usize; 4];
    for (slot, item) in out.iter_mut().zip(items) {
        if !matches!(item.kind, Kind::Token) {
            return Err(syntax("an element is not a number"));
        }
        let tok = &pdf[item.start..item.end];
        let digits = match tok.first() {
            Some(b'-') => {
                return Err(PdfError::ByteRangeNegative {
                    index,
                    offset: off,
                    at: item.start,
                })
            }
            Some(b'+') => &tok[1..],
            _ => tok,
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(syntax("an element is not an integer"));
        }
        let mut n: usize = 0;
        for &dgt in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(dgt - b'0')))
                .ok_or(PdfError::ByteRangeOverflow {
                    index,
                    offset: off,
                    at: item.start,
                })?;
        }
        *slot = n;
    }
    Ok(out)
}

/// Decodes `/Contents` and cuts it to its first BER/DER TLV.
fn read_contents(pdf: &[u8], v: &Value, index: usize) -> Result<Vec<u8>, PdfError> {
    let mut raw = hex_bytes(&pdf[v.start + 1..v.end - 1], v.start + 1)
        .map_err(|(at, byte)| PdfError::ContentsNotHex { index, at, byte })?;
    if raw.first() != Some(&0x30) {
        return Err(PdfError::ContentsNotSequence { index, at: v.start });
    }
    let len = ber_tlv_end(&raw, 0, 0).ok_or(PdfError::ContentsLength {
        index,
        at: v.start,
        available: raw.len(),
    })?;
    if let Some(p) = raw[len..].iter().position(|&b| b != 0) {
        return Err(PdfError::ContentsTrailingData {
            index,
            at: v.start,
            position: len + p,
        });
    }
    raw.truncate(len);
    Ok(raw)
}

/// End of the BER TLV at `pos` in `buf` (definite or indefinite length), or
/// `None` if it is malformed, nested too deeply or runs past the end.
fn ber_tlv_end(buf: &[u8], mut pos: usize, depth: usize) -> Option<usize> {
    if depth > MAX_NESTING {
        return None;
    }
    let tag = *buf.get(pos)?;
    pos += 1;
    if tag & 0x1f == 0x1f {
        // high tag number: base-128 continuation bytes (at most 4)
        let mut n = 0;
        loop {
            let c = *buf.get(pos)?;
            pos += 1;
            n += 1;
            if c & 0x80 == 0 {
                break;
            }
            if n >= 4 {
                return None;
            }
        }
    }
    let first = *buf.get(pos)?;
    pos += 1;
    let len = match first {
        0..=0x7f => usize::from(first),
        0x80 => {
            if tag & 0x20 == 0 {
                return None; // indefinite length needs a constructed encoding
            }
            loop {
                if buf.get(pos..pos + 2)? == [0, 0] {
                    return Some(pos + 2);
                }
                pos = ber_tlv_end(buf, pos, depth + 1)?;
            }
        }
        0xff => return None,
        _ => {
            let n = usize::from(first & 0x7f);
            if n > std::mem::size_of::<usize>() {
                return None;
            }
            let mut len = 0usize;
            for &b in buf.get(pos..pos + n)? {
                len = len.checked_mul(256)?.checked_add(usize::from(b))?;
            }
            pos += n;
            len
        }
    };
    let end = pos.checked_add(len)?;
    (end <= buf.len()).then_some(end)
}

// ---------------------------------------------------------------------------
// a small PDF object parser

/// A parsed value: its byte span in the file and what it is.
#[derive(Debug)]
struct Value {
    /// Offset of the first byte of the value.
    start: usize,
    /// Offset just after the value.
    end: usize,
    kind: Kind,
}

/// What a [`Value`] is; containers keep their elements, strings and names only their span.
#[derive(Debug)]
enum Kind {
    /// `<< ... >>` (its entries are not kept; only the signature dictionary's are needed).
    Dict,
    /// `[ ... ]`
    Array(Vec<Value>),
    /// `/Name` (span includes the `/`).
    Name,
    /// `( ... )` (span includes the parentheses).
    Literal,
    /// `< ... >` (span includes the angle brackets).
    Hex,
    /// `n g R`.
    Ref,
    /// A number or keyword.
    Token,
}

/// A parsed dictionary with its top-level entries.
#[derive(Debug)]
struct Dict {
    /// Offset of its `<<`.
    start: usize,
    /// Offset just after its `>>`.
    end: usize,
    entries: Vec<Entry>,
}

/// One key/value pair of a [`Dict`].
#[derive(Debug)]
struct Entry {
    /// The key with `#xx` escapes decoded, without the `/`.
    key: Vec<u8>,
    /// Offset of the key's `/`.
    key_start: usize,
    value: Value,
}

/// Why a dictionary could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LexError {
    /// The end of the file came first.
    Eof,
    /// Something that does not belong there, at this offset.
    Syntax(usize),
    /// Nesting deeper than [`MAX_NESTING`], at this offset.
    TooDeep(usize),
}

/// Parser over the file's bytes.
struct Parser<'a> {
    buf: &'a [u8],
}

impl Parser<'_> {
    /// Skips whitespace and comments from `pos`.
    fn skip(&self, mut pos: usize) -> usize {
        while let Some(&c) = self.buf.get(pos) {
            if is_white(c) {
                pos += 1;
            } else if c == b'%' {
                while self.buf.get(pos).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    pos += 1;
                }
            } else {
                break;
            }
        }
        pos
    }

    /// End of the run of regular characters at `pos`.
    fn regular_end(&self, mut pos: usize) -> usize {
        while self
            .buf
            .get(pos)
            .is_some_and(|&c| !is_white(c) && !is_delim(c))
        {
            pos += 1;
        }
        pos
    }

    /// Parses the dictionary whose `<<` is at `start`, keeping its entries.
    fn dict(&mut self, start: usize, depth: usize) -> Result<Dict, LexError> {
        if depth >= MAX_NESTING {
            return Err(LexError::TooDeep(start));
        }
        let mut pos = start + 2;
        let mut entries = Vec::new();
        loop {
            pos = self.skip(pos);
            match self.buf.get(pos) {
                None => return Err(LexError::Eof),
                Some(b'>') => {
                    return match self.buf.get(pos + 1) {
                        Some(b'>') => Ok(Dict {
                            start,
                            end: pos + 2,
                            entries,
                        }),
                        Some(_) => Err(LexError::Syntax(pos)),
                        None => Err(LexError::Eof),
                    }
                }
                Some(b'/') => {
                    let key_start = pos;
                    let key_end = self.regular_end(pos + 1);
                    let key = decode_name_bytes(&self.buf[pos + 1..key_end]);
                    let value = self.object(key_end, depth + 1)?;
                    pos = value.end;
                    entries.push(Entry {
                        key,
                        key_start,
                        value,
                    });
                }
                Some(_) => return Err(LexError::Syntax(pos)),
            }
        }
    }

    /// Parses the object that starts after whitespace at `pos`.
    fn object(&mut self, pos: usize, depth: usize) -> Result<Value, LexError> {
        let start = self.skip(pos);
        let c = *self.buf.get(start).ok_or(LexError::Eof)?;
        let (end, kind) = match c {
            b'<' if self.buf.get(start + 1) == Some(&b'<') => {
                (self.dict(start, depth)?.end, Kind::Dict)
            }
            b'<' => {
                // Lenient: anything up to `>`; decoding is checked by the user.
                let close = self.buf[start..]
                    .iter()
                    .position(|&c| c == b'>')
                    .ok_or(LexError::Eof)?;
                (start + close + 1, Kind::Hex)
            }
            b'(' => (self.literal_end(start)?, Kind::Literal),
            b'[' => {
                if depth >= MAX_NESTING {
                    return Err(LexError::TooDeep(start));
                }
                let mut items = Vec::new();
                let mut p = start + 1;
                loop {
                    p = self.skip(p);
                    match self.buf.get(p) {
                        None => return Err(LexError::Eof),
                        Some(b']') => break,
                        Some(_) => {
                            let item = self.object(p, depth + 1)?;
                            p = item.end;
                            items.push(item);
                        }
                    }
                }
                (p + 1, Kind::Array(items))
            }
            b'/' => (self.regular_end(start + 1), Kind::Name),
            b')' | b'>' | b']' | b'{' | b'}' => return Err(LexError::Syntax(start)),
            _ => {
                let end = self.regular_end(start);
                match self.reference_end(start, end) {
                    Some(ref_end) => (ref_end, Kind::Ref),
                    None => (end, Kind::Token),
                }
            }
        };
        Ok(Value { start, end, kind })
    }

    /// If the token `[start, end)` begins an indirect reference `n g R`, its end.
    fn reference_end(&self, start: usize, end: usize) -> Option<usize> {
        let is_uint = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        if !is_uint(&self.buf[start..end]) {
            return None;
        }
        let g_start = self.skip(end);
        let g_end = self.regular_end(g_start);
        if g_start == end || !is_uint(&self.buf[g_start..g_end]) {
            return None;
        }
        let r_start = self.skip(g_end);
        let r_end = self.regular_end(r_start);
        (r_start > g_end && &self.buf[r_start..r_end] == b"R").then_some(r_end)
    }

    /// End (after the `)`) of the literal string whose `(` is at `start`.
    fn literal_end(&self, start: usize) -> Result<usize, LexError> {
        let mut depth = 0usize;
        let mut pos = start;
        loop {
            match self.buf.get(pos) {
                None => return Err(LexError::Eof),
                Some(b'\\') => pos += 1,
                Some(b'(') => depth += 1,
                Some(b')') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(pos + 1);
                    }
                }
                Some(_) => {}
            }
            pos += 1;
        }
    }
}

/// Appends to `out` the offsets of every `<<` that starts in `[from, to)`, in order.
fn dict_opens(pdf: &[u8], mut from: usize, to: usize, out: &mut Vec<usize>) {
    let to = to.min(pdf.len());
    while let Some(p) = pdf
        .get(from..to)
        .and_then(|s| s.iter().position(|&c| c == b'<'))
    {
        let at = from + p;
        if pdf.get(at + 1) == Some(&b'<') {
            out.push(at);
        }
        from = at + 1;
    }
}

// ---------------------------------------------------------------------------
// lexical helpers

/// PDF whitespace (ISO 32000-1 Table 1).
fn is_white(c: u8) -> bool {
    matches!(c, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// PDF delimiters (ISO 32000-1 Table 2).
fn is_delim(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// First occurrence of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let p = hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|&c| c == first)?;
        i += p;
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Value of a hex digit.
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes the inside of a hex string (whitespace allowed, an odd final digit
/// is followed by 0). On error, the file offset and value of the bad byte
/// (`base` is the file offset of `inner`).
fn hex_bytes(inner: &[u8], base: usize) -> Result<Vec<u8>, (usize, u8)> {
    /// Digit value, [`HEX_WHITE`] for whitespace, [`HEX_BAD`] for anything else.
    const TABLE: [u8; 256] = {
        let mut t = [HEX_BAD; 256];
        let mut i = 0;
        while i < 256 {
            let c = i as u8;
            t[i] = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ' => HEX_WHITE,
                _ => HEX_BAD,
            };
            i += 1;
        }
        t
    };
    const HEX_WHITE: u8 = 0xfe;
    const HEX_BAD: u8 = 0xff;
    let mut out = Vec::with_capacity(inner.len() / 2);
    let mut high: Option<u8> = None;
    for (i, &c) in inner.iter().enumerate() {
        let v = TABLE[usize::from(c)];
        if v == HEX_WHITE {
            continue;
        }
        if v == HEX_BAD {
            return Err((base + i, c));
        }
        match high.take() {
            Some(h) => out.push(h << 4 | v),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        out.push(h << 4);
    }
    Ok(out)
}

/// Decodes the inside of a literal string: escapes `\n \r \t \b \f \( \) \\`,
/// octal `\ddd`, line continuation, and end-of-line normalisation to `\n`.
fn literal_bytes(inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&c) = inner.get(i) {
        i += 1;
        match c {
            b'\\' => {
                let Some(&e) = inner.get(i) else { break };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match inner.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((v & 0xff) as u8);
                    }
                    b'\r' => {
                        if inner.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => out.push(other), // `\(`, `\)`, `\\`, and unknown escapes
                }
            }
            b'\r' => {
                if inner.get(i) == Some(&b'\n') {
                    i += 1;
                }
                out.push(b'\n');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Decodes `#xx` escapes of a name (without its `/`); a `#` not followed by
/// two hex digits is kept as is.
fn decode_name_bytes(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        if c == b'#' {
            if let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex_val),
                raw.get(i + 2).copied().and_then(hex_val),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A name (without its `/`) as text.
fn decode_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(&decode_name_bytes(raw)).into_owned()
}

/// A PDF text string as text: UTF-16BE with BOM, UTF-8 with BOM, else PDFDocEncoding.
fn text_string(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(rest) = b.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    b.iter().map(|&c| pdf_doc_char(c)).collect()
}

/// One PDFDocEncoding byte as a char (ISO 32000-1 Annex D.2).
fn pdf_doc_char(c: u8) -> char {
    const LOW: [char; 8] = ['˘', 'ˇ', 'ˆ', '˙', '˝', '˛', '˚', '˜']; // 0x18..=0x1f
    const HIGH: [char; 33] = [
        '•', '†', '‡', '…', '—', '–', 'ƒ', '⁄', '‹', '›', '−', '‰', '„', '“', '”', '‘', '’', '‚',
        '™', 'ﬁ', 'ﬂ', 'Ł', 'Œ', 'Š', 'Ÿ', 'Ž', 'ı', 'ł', 'œ', 'š', 'ž', '\u{fffd}', '€',
    ]; // 0x80..=0xa0
    match c {
        0x18..=0x1f => LOW[usize::from(c - 0x18)],
        0x80..=0xa0 => HIGH[usize::from(c - 0x80)],
        0xad => '\u{fffd}',
        _ => char::from(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C2: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/tr-esor-c2/TESTDATA"
    );

    fn pades() -> Vec<u8> {
        std::fs::read(format!("{C2}/PADES_VISIBLE.pdf")).expect("C.2 test data")
    }

    /// A minimal one-signature PDF. `dict_extra` goes into the signature
    /// dictionary before `/Contents`; `br` overrides the computed ByteRange
    /// text (`None`: correct values).
    fn build(contents: &str, dict_extra: &str, br: Option<&str>) -> Vec<u8> {
        build_with(
            &format!(
                "/Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached {dict_extra}"
            ),
            contents,
            br,
        )
    }

    /// As [`build`], with the whole dictionary text before `/Contents` given.
    fn build_with(dict_head: &str, contents: &str, br: Option<&str>) -> Vec<u8> {
        let head = format!("%PDF-1.7\n1 0 obj\n<< {dict_head} /Contents ");
        let placeholder = " ".repeat(60);
        let tail = format!(
            " /ByteRange [{placeholder}] >>\nendobj\ntrailer\n<< /Size 2 >>\nstartxref\n9\n%%EOF\n"
        );
        let gap_start = head.len();
        let gap_end = gap_start + contents.len();
        let total = gap_end + tail.len();
        let numbers = match br {
            Some(s) => s.to_string(),
            None => format!("0 {gap_start} {gap_end} {}", total - gap_end),
        };
        assert!(numbers.len() <= placeholder.len());
        let tail = tail.replacen(
            &placeholder,
            &format!("{numbers:<width$}", width = placeholder.len()),
            1,
        );
        format!("{head}{contents}{tail}").into_bytes()
    }

    /// A small valid `/Contents`: SEQUENCE { INTEGER 1 } and zero padding.
    const GOOD: &str = "<3003020101 000000>";

    #[test]
    fn pades_visible() {
        let pdf = pades();
        assert!(is_pdf(&pdf));
        assert_eq!(pdf.len(), 144108);
        let sigs = signatures(&pdf).expect("signatures");
        assert_eq!(sigs.len(), 1);
        let s = &sigs[0];
        assert_eq!(s.index, 0);
        assert_eq!(s.byte_range, [0, 25991, 51017, 93091]);
        assert_eq!(s.offset, 51018);
        assert_eq!(s.sub_filter.as_deref(), Some("ETSI.CAdES.detached"));
        assert_eq!(s.filter.as_deref(), Some("Adobe.PPKLite"));
        assert!(!s.doc_timestamp);
        assert!(s.covers_whole_file);
        assert_eq!(s.signing_time.as_deref(), Some("D:20191025134659+02'00'"));
        assert_eq!(s.reason.as_deref(), Some(""));
        assert_eq!(s.location.as_deref(), Some(""));
        assert_eq!(s.name, None);
        assert_eq!(s.contents[0], 0x30);
        assert_eq!(ber_tlv_end(&s.contents, 0, 0), Some(s.contents.len()));
        assert_eq!(s.contents.len(), 2924); // the outer SEQUENCE has indefinite length
        let [r1, r2] = signed_ranges(&pdf, s);
        assert_eq!(r1.len(), 25991);
        assert_eq!(r2.len(), 93091);
        assert_eq!(r1.last(), Some(&b' '));
        assert_eq!(r2.first(), Some(&b'\n'));
        assert_eq!(revisions(&pdf), 2);
        assert_eq!(revisions_after(&pdf, s), 0);
    }

    #[test]
    fn synthetic_ok_with_strings_and_escapes() {
        let pdf = build(
            GOOD,
            r"/Name (J\(o\)s\\e \101\102C\n) /Reason <FEFF00C4> /Location (M\374nchen) /M (D:20190101120000+01'00') /Prop_Build << /App << /Name /X >> /R (<<) >>",
            None,
        );
        let sigs = signatures(&pdf).expect("signatures");
        assert_eq!(sigs.len(), 1);
        let s = &sigs[0];
        assert_eq!(s.contents, [0x30, 0x03, 0x02, 0x01, 0x01]);
        assert_eq!(s.name.as_deref(), Some("J(o)s\\e ABC\n"));
        assert_eq!(s.reason.as_deref(), Some("Ä"));
        assert_eq!(s.location.as_deref(), Some("München"));
        assert_eq!(s.signing_time.as_deref(), Some("D:20190101120000+01'00'"));
        assert!(s.covers_whole_file);
        assert_eq!(revisions(&pdf), 1);
    }

    #[test]
    fn doc_timestamp_and_name_escapes() {
        let pdf = build_with("/Type /DocTimeStamp", GOOD, None);
        let s = &signatures(&pdf).unwrap()[0];
        assert!(s.doc_timestamp);
        assert_eq!((s.sub_filter.as_deref(), s.filter.as_deref()), (None, None));
        let pdf = build_with("/Type /Si#67 /SubFilter /ETSI#2ERFC3161", GOOD, None);
        let s = &signatures(&pdf).unwrap()[0];
        assert_eq!(s.sub_filter.as_deref(), Some("ETSI.RFC3161"));
        assert!(s.doc_timestamp);
        let pdf = build_with("/Type /Sig /SubFilter /adbe.pkcs7.detached", GOOD, None);
        assert!(!signatures(&pdf).unwrap()[0].doc_timestamp);
    }

    #[test]
    fn no_signature_and_not_pdf() {
        assert_eq!(
            signatures(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"),
            Ok(vec![])
        );
        assert_eq!(signatures(b"hello world"), Err(PdfError::NotPdf));
        assert_eq!(signatures(b""), Err(PdfError::NotPdf));
        let mut late = vec![b' '; 1024];
        late.extend_from_slice(b"%PDF-1.7");
        assert_eq!(signatures(&late), Err(PdfError::NotPdf));
        assert!(is_pdf(&late[1..]));
    }

    #[test]
    fn byte_range_outside_dictionary_is_ignored() {
        // in a literal string, in an array, in no dictionary at all, and as a longer name
        let pdf = b"%PDF-1.7\n<< /Reason (/ByteRange [0 1 2 3]) /A [/ByteRange] >>\nBT (/ByteRange) Tj ET\n<< /ByteRangeX 1 >>";
        assert_eq!(signatures(pdf), Ok(vec![]));
    }

    #[test]
    fn incremental_update_after_signature() {
        let mut pdf = build(GOOD, "", None);
        pdf.extend_from_slice(b"2 0 obj\n<< >>\nendobj\nstartxref\n1234\n%%EOF\n");
        let s = &signatures(&pdf).unwrap()[0];
        assert!(!s.covers_whole_file);
        assert_eq!(revisions(&pdf), 2);
        assert_eq!(revisions_after(&pdf, s), 1);
        // startxref 0 (linearization) and a %%EOF in running text are not revisions
        pdf.extend_from_slice(b"startxref\n0\n%%EOF\n(%%EOF) x%%EOF\n");
        assert_eq!(revisions(&pdf), 2);
    }

    #[test]
    fn truncated_file() {
        let pdf = pades();
        assert_eq!(
            signatures(&pdf[..100_000]),
            Err(PdfError::ByteRangeBeyondEnd {
                index: 0,
                offset: 51018,
                end: 144108,
                file_len: 100_000
            })
        );
        // cut inside the signature dictionary
        assert_eq!(
            signatures(&pdf[..51035]),
            Err(PdfError::UnterminatedDictionary {
                index: 0,
                offset: 51018
            })
        );
        // cut inside the /Contents hex string: the /ByteRange is gone, so nothing is found
        assert_eq!(signatures(&pdf[..40_000]), Ok(vec![]));
    }

    #[test]
    fn byte_range_beyond_end() {
        let pdf = build(GOOD, "", Some("0 100 120 100000"));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeBeyondEnd {
                index: 0,
                end: 100120,
                ..
            })
        ));
    }

    #[test]
    fn overlapping_ranges() {
        let ok = build(GOOD, "", None);
        let s = &signatures(&ok).unwrap()[0];
        let [_, b, c, d] = s.byte_range;
        let pdf = build(GOOD, "", Some(&format!("0 {} {c} {d}", c + 5)));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeOverlap { index: 0, first_end, second_start, .. })
                if first_end == c + 5 && second_start == c
        ));
        let pdf = build(GOOD, "", Some(&format!("0 {b} 0 {d}")));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeOverlap { .. })
        ));
    }

    #[test]
    fn gap_not_equal_to_contents() {
        let ok = build(GOOD, "", None);
        let [_, b, c, d] = signatures(&ok).unwrap()[0].byte_range;
        for br in [
            format!("0 {} {c} {d}", b - 1),
            format!("0 {} {c} {d}", b + 1),
            format!("0 {b} {} {}", c - 1, d + 1),
            format!("0 {b} {} {}", c + 1, d - 1),
        ] {
            let pdf = build(GOOD, "", Some(&br));
            assert!(
                matches!(
                    signatures(&pdf),
                    Err(PdfError::ByteRangeGap { index: 0, .. })
                ),
                "{br}: {:?}",
                signatures(&pdf)
            );
        }
    }

    #[test]
    fn dictionary_must_be_signed() {
        let ok = build(GOOD, "", None);
        let [_, b, c, _] = signatures(&ok).unwrap()[0].byte_range;
        let pdf = build(GOOD, "", Some(&format!("0 {b} {c} 5")));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::DictionaryNotSigned { index: 0, .. })
        ));
    }

    #[test]
    fn start_not_zero() {
        let ok = build(GOOD, "", None);
        let [_, b, c, d] = signatures(&ok).unwrap()[0].byte_range;
        let pdf = build(GOOD, "", Some(&format!("1 {} {c} {d}", b - 1)));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeStart {
                index: 0,
                start: 1,
                ..
            })
        ));
    }

    #[test]
    fn non_hex_contents() {
        let pdf = build("<3003020101zz00>", "", None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ContentsNotHex {
                index: 0,
                byte: b'z',
                ..
            })
        ));
        // whitespace inside the hex string is fine
        let pdf = build("<30 03\n02\r01\t01 00>", "", None);
        assert_eq!(signatures(&pdf).unwrap()[0].contents.len(), 5);
    }

    #[test]
    fn contents_structure() {
        let pdf = build("<0403010203>", "", None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ContentsNotSequence { index: 0, .. })
        ));
        let pdf = build("<>", "", None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ContentsNotSequence { index: 0, .. })
        ));
        // declared length longer than the bytes
        let pdf = build("<3010020101>", "", None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ContentsLength {
                index: 0,
                available: 5,
                ..
            })
        ));
        // long-form length that overflows, and indefinite length without end-of-contents
        for hex in ["<30ffffffffffffffffff>", "<308902010100>", "<3080020101>"] {
            let pdf = build(hex, "", None);
            assert!(
                matches!(signatures(&pdf), Err(PdfError::ContentsLength { .. })),
                "{hex}"
            );
        }
        // indefinite length with end-of-contents, then padding
        let pdf = build("<30800201010000 0000>", "", None);
        assert_eq!(signatures(&pdf).unwrap()[0].contents.len(), 7);
        // unsigned junk after the element
        let pdf = build("<3003020101 0000AB00>", "", None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ContentsTrailingData {
                index: 0,
                position: 7,
                ..
            })
        ));
    }

    #[test]
    fn contents_missing_or_indirect() {
        let pdf = b"%PDF-1.7\n<< /Type /Sig /ByteRange [0 1 2 3] >>";
        assert!(matches!(
            signatures(pdf),
            Err(PdfError::MissingContents {
                index: 0,
                offset: 23
            })
        ));
        let pdf = b"%PDF-1.7\n<< /Contents 5 0 R /ByteRange [0 1 2 40] >>";
        assert!(matches!(
            signatures(pdf),
            Err(PdfError::ContentsNotHexString { index: 0, .. })
        ));
    }

    #[test]
    fn negative_and_huge_numbers() {
        let pdf = build(GOOD, "", Some("0 -5 10 10"));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeNegative { index: 0, .. })
        ));
        let pdf = build(GOOD, "", Some("0 99999999999999999999999999 10 10"));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeOverflow { index: 0, .. })
        ));
        let max = usize::MAX;
        let pdf = build(GOOD, "", Some(&format!("0 10 20 {max}")));
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeOverflow { index: 0, .. })
        ));
        for (br, what) in [
            ("0 1.5 10 10", "real"),
            ("0 10 10", "three"),
            ("0 1 2 3 4", "five"),
            ("0 1 0 R 3", "reference"),
            ("0 (1) 2 3", "string"),
        ] {
            let pdf = build(GOOD, "", Some(br));
            assert!(
                matches!(
                    signatures(&pdf),
                    Err(PdfError::ByteRangeSyntax { index: 0, .. })
                ),
                "{what}: {:?}",
                signatures(&pdf)
            );
        }
        let pdf = b"%PDF-1.7\n<< /Contents <30> /ByteRange 5 >>";
        assert!(matches!(
            signatures(pdf),
            Err(PdfError::ByteRangeSyntax {
                detail: "not an array",
                ..
            })
        ));
        // comments and odd whitespace between the numbers are fine
        let ok = build(GOOD, "", None);
        let [_, b, c, d] = signatures(&ok).unwrap()[0].byte_range;
        let pdf = build(GOOD, "", Some(&format!("0%x\n{b}\x0c+{c}\r\n\t{d}")));
        assert_eq!(signatures(&pdf).unwrap()[0].byte_range, [0, b, c, d]);
    }

    #[test]
    fn deep_nesting() {
        let deep = format!("/X {}{}", "<< /A ".repeat(1000), ">>".repeat(1000));
        let pdf = build(GOOD, &deep, None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::NestingTooDeep { index: 0, .. })
        ));
        let deep = format!("/X {}{}", "[".repeat(1000), "]".repeat(1000));
        let pdf = build(GOOD, &deep, None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::NestingTooDeep { index: 0, .. })
        ));
        // 1000 unclosed `<<` before a signature dictionary: the innermost is the signature
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend("<<".repeat(1000).bytes());
        pdf.extend_from_slice(b" /Contents <3003020101> /ByteRange [0 1 2 3] >>");
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ByteRangeGap { index: 0, .. })
        ));
        // and 1000 `<<` with nothing after them
        let mut pdf = b"%PDF-1.7\n/ByteRange [0 1 2 3]".to_vec();
        pdf.extend("<<".repeat(1000).bytes());
        assert_eq!(signatures(&pdf), Ok(vec![]));
        // deep BER inside /Contents
        let mut hex = String::from("<");
        for _ in 0..100 {
            hex.push_str("3080");
        }
        for _ in 0..100 {
            hex.push_str("0000");
        }
        hex.push('>');
        let pdf = build(&hex, "", None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::ContentsLength { index: 0, .. })
        ));
    }

    #[test]
    fn duplicate_keys() {
        let pdf = build(GOOD, "/Contents <3003020101>", None);
        assert!(matches!(
            signatures(&pdf),
            Err(PdfError::DuplicateKey { index: 0, ref key, .. }) if key == "Contents"
        ));
    }

    #[test]
    fn two_signatures_get_indices_and_errors_name_them() {
        let one = build(GOOD, "", None);
        let mut two = one.clone();
        // a second dictionary after the first: it covers [0, ..) with its own gap
        let second_start = two.len();
        let head = "<< /Type /Sig /Contents ";
        let contents = "<3003020101>";
        let gap_start = second_start + head.len();
        let gap_end = gap_start + contents.len();
        let mut tail =
            format!(" /ByteRange [0 {gap_start} {gap_end} XXXXX] >>\nstartxref\n77\n%%EOF\n");
        let total = gap_end + tail.len();
        tail = tail.replace("XXXXX", &format!("{:<5}", total - gap_end));
        two.extend(format!("{head}{contents}{tail}").bytes());
        let sigs = signatures(&two).unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!((sigs[0].index, sigs[1].index), (0, 1));
        assert!(!sigs[0].covers_whole_file && sigs[1].covers_whole_file);
        assert_eq!(revisions_after(&two, &sigs[0]), 1);
        assert_eq!(revisions_after(&two, &sigs[1]), 0);
        // break the second one
        let broken = String::from_utf8(two)
            .unwrap()
            .replace("<3003020101>", "<3003020101");
        assert!(matches!(
            signatures(broken.as_bytes()),
            Err(PdfError::MalformedDictionary { index: 1, .. })
        ));
    }

    #[test]
    fn signed_ranges_of_foreign_signature_are_empty() {
        let pdf = pades();
        let s = signatures(&pdf).unwrap().remove(0);
        let [a, b] = signed_ranges(&pdf[..1000], &s);
        assert_eq!(a.len(), 0);
        assert_eq!(b.len(), 0);
    }

    /// Flipping any byte of the signature dictionary region (its first 4 KiB,
    /// and the end of `/Contents` through the `>>`) must give a result, never a panic.
    #[test]
    fn flipped_bytes_do_not_panic() {
        let mut pdf = pades();
        let sig_type = find(&pdf, b"/Type /Sig\n/Location", 0).expect("sig dict");
        let dict_start = pdf[..sig_type]
            .windows(2)
            .rposition(|w| w == b"<<")
            .expect("<<");
        let key = find(&pdf, b"/ByteRange", 0).expect("key");
        let regions = [dict_start..dict_start + 4096, key - 256..key + 64];
        let (mut ok, mut err) = (0, 0);
        for (n, region) in regions.into_iter().enumerate() {
            for i in region.clone() {
                let orig = pdf[i];
                let mut flips = vec![orig ^ 0xff];
                // delimiters too near the keys, where they change the structure most
                if n == 1 || i < region.start + 128 {
                    flips.extend([b'(', b'>', b'%']);
                }
                for new in flips {
                    pdf[i] = new;
                    match signatures(&pdf) {
                        Ok(_) => ok += 1,
                        Err(_) => err += 1,
                    }
                }
                pdf[i] = orig;
            }
        }
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
        assert_eq!(signatures(&pdf).unwrap().len(), 1);
    }
}
