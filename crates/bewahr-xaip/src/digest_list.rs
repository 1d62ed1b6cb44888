//! A hash-only submission: ETSI TS 119 512's `pres:DigestList` (TR-ESOR-E
//! `ArchiveData` of Type `http://uri.etsi.org/19512/format/DigestList`).
//! The documents stay with the submitter; the archive preserves the list
//! of their digests, and its evidence record over the list proves when
//! each digest existed.
//!
//! ```text
//! DigestList: ds-rw:DigestMethod@Algorithm, ds-rw:DigestValue+ (base64), pres:Evidence?
//! ```

use base64::Engine;

use crate::schema::{self, Schema};
use crate::xml;

const PRES_NS: &str = "http://uri.etsi.org/19512/v1.1.2#";
const DSRW_NS: &str = "http://docs.oasis-open.org/dss-x/ns/xmldsig/rewritten";

/// A list read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestList {
    /// `DigestMethod@Algorithm`, as given.
    pub algorithm: String,
    /// Each `DigestValue`, decoded.
    pub digests: Vec<Vec<u8>>,
}

/// The length of a digest of `algorithm` (an `urn:oid:` or XML-DSig URI),
/// for the algorithms an archive's evidence can use.
pub fn digest_len(algorithm: &str) -> Option<usize> {
    Some(match algorithm.trim() {
        "urn:oid:2.16.840.1.101.3.4.2.4" | "http://www.w3.org/2001/04/xmldsig-more#sha224" => 28,
        "urn:oid:2.16.840.1.101.3.4.2.1"
        | "http://www.w3.org/2001/04/xmlenc#sha256"
        | "urn:oid:2.16.840.1.101.3.4.2.8"
        | "http://www.w3.org/2007/05/xmldsig-more#sha3-256" => 32,
        "urn:oid:2.16.840.1.101.3.4.2.2"
        | "http://www.w3.org/2001/04/xmldsig-more#sha384"
        | "urn:oid:2.16.840.1.101.3.4.2.9"
        | "http://www.w3.org/2007/05/xmldsig-more#sha3-384" => 48,
        "urn:oid:2.16.840.1.101.3.4.2.3"
        | "http://www.w3.org/2001/04/xmlenc#sha512"
        | "urn:oid:2.16.840.1.101.3.4.2.10"
        | "http://www.w3.org/2007/05/xmldsig-more#sha3-512" => 64,
        _ => return None,
    })
}

/// Reads a `pres:DigestList`: valid against TS 119 512's schema, an
/// algorithm of SHA-2 or SHA-3, and every value a digest of that
/// algorithm's length (a value of another length is no digest of anything
/// and would preserve nothing). What is wrong, said for its author.
pub fn read(bytes: &[u8]) -> Result<DigestList, String> {
    let doc = xml::parse(bytes).map_err(|e| e.to_string())?;
    let root = doc.get_root_element().ok_or("no root element")?;
    if !xml::is(&root, PRES_NS, "DigestList") {
        let (local, ns) = xml::name(&root);
        return Err(format!(
            "the root element is {{{}}}{local}, not {{{PRES_NS}}}DigestList",
            ns.unwrap_or_default()
        ));
    }
    schema::validate_against(&doc, Schema::S4).map_err(|e| e.to_string())?;
    let algorithm = xml::child(&root, DSRW_NS, "DigestMethod")
        .and_then(|m| m.get_attribute("Algorithm"))
        .unwrap_or_default();
    let len = digest_len(&algorithm).ok_or_else(|| {
        format!("the digest algorithm {algorithm:?} is not one of SHA-224, SHA-256, SHA-384, SHA-512 or SHA3-256/384/512")
    })?;
    let mut digests = vec![];
    for (i, v) in xml::children(&root, DSRW_NS, "DigestValue").enumerate() {
        let text: String = v
            .get_content()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let d = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| format!("DigestValue {}: not base64 ({e})", i + 1))?;
        if d.len() != len {
            return Err(format!(
                "DigestValue {} has {} bytes; a digest of {algorithm} has {len}",
                i + 1,
                d.len()
            ));
        }
        digests.push(d);
    }
    Ok(DigestList { algorithm, digests })
}

/// The list in TS 119 512's XML form, as the archive stores it: the
/// algorithm as given, each value in base64.
pub fn write(list: &DigestList) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut s = String::with_capacity(160 + list.digests.len() * 100);
    s.push_str(&format!(
        r#"<pres:DigestList xmlns:pres="{PRES_NS}" xmlns:ds-rw="{DSRW_NS}"><ds-rw:DigestMethod Algorithm=""#
    ));
    for c in list.algorithm.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '"' => s.push_str("&quot;"),
            c => s.push(c),
        }
    }
    s.push_str("\"/>");
    for d in &list.digests {
        s.push_str("<ds-rw:DigestValue>");
        s.push_str(&engine.encode(d));
        s.push_str("</ds-rw:DigestValue>");
    }
    s.push_str("</pres:DigestList>");
    s
}

/// Checks the values of a list read in another form (TS 119 512's JSON
/// `pres-DigestListType`) as [`read`] checks the XML one: a known
/// algorithm, at least one value, each of the algorithm's length.
pub fn check(algorithm: &str, digests: &[Vec<u8>]) -> Result<(), String> {
    let len = digest_len(algorithm).ok_or_else(|| {
        format!("the digest algorithm {algorithm:?} is not one of SHA-224, SHA-256, SHA-384, SHA-512 or SHA3-256/384/512")
    })?;
    if digests.is_empty() {
        return Err("the list holds no digest value".into());
    }
    for (i, d) in digests.iter().enumerate() {
        if d.len() != len {
            return Err(format!(
                "digest value {} has {} bytes; a digest of {algorithm} has {len}",
                i + 1,
                d.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(alg: &str, values: &[&str]) -> String {
        let mut s = format!(
            r#"<pres:DigestList xmlns:pres="{PRES_NS}" xmlns:ds-rw="{DSRW_NS}"><ds-rw:DigestMethod Algorithm="{alg}"/>"#
        );
        for v in values {
            s.push_str(&format!("<ds-rw:DigestValue>{v}</ds-rw:DigestValue>"));
        }
        s.push_str("</pres:DigestList>");
        s
    }

    #[test]
    fn digests_of_their_algorithms_length() {
        let sha256 = "urn:oid:2.16.840.1.101.3.4.2.1";
        let ok = read(list(sha256, &["wy/tbZ9qnMF8SgmKcvMJKCgyVZJP2k/GTYjclk5ffCk="]).as_bytes())
            .unwrap();
        assert_eq!(ok.digests[0].len(), 32);
        // C.2's DIGEST_LIST.xml: 33 bytes (a stray 0x29 after the SHA-256)
        let e = read(list(sha256, &["wy/tbZ9qnMF8SgmKcvMJKCgyVZJP2k/GTYjclk5ffCkp"]).as_bytes())
            .unwrap_err();
        assert!(e.contains("33 bytes"), "{e}");
        let e = read(list("urn:oid:1.3.14.3.2.26", &["AAAA"]).as_bytes()).unwrap_err();
        assert!(e.contains("not one of"), "{e}");
        assert!(
            read(list(sha256, &[]).as_bytes()).is_err(),
            "one value at least (schema)"
        );
        assert!(read(b"<x/>").is_err());
    }

    #[test]
    fn written_lists_read_back() {
        let list = DigestList {
            algorithm: "urn:oid:2.16.840.1.101.3.4.2.3".into(),
            digests: vec![vec![7u8; 64], vec![0u8; 64]],
        };
        assert_eq!(read(write(&list).as_bytes()).unwrap(), list);
        assert!(check(&list.algorithm, &list.digests).is_ok());
        assert!(check(&list.algorithm, &[vec![1u8; 32]]).is_err());
        assert!(check(&list.algorithm, &[]).is_err());
    }
}
