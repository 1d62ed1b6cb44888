//! Logical XAIPs (TR-ESOR-F 1.3, section 3.2): packages whose data,
//! metadata or credential objects are not in the package but referred to,
//! each by an `asic:DataObjectReference` (ETSI EN 319 162-1) with the
//! digest of the referenced file:
//!
//! ```text
//! dataObject/xmlData/asic:DataObjectReference@URI{ds:DigestMethod, ds:DigestValue}
//! metaDataObject/xmlMetaData/asic:DataObjectReference ...
//! credential/other/asic:DataObjectReference ...
//! ```
//!
//! The files arrive first, through the archive's upload interface
//! (TR-ESOR-E section 6), which answers with the references. The digest
//! only protects the transfer (it must match); the evidence covers the
//! referenced bytes themselves, as [`crate::Xaip::protected_objects`]
//! takes them ([`crate::References::files`]).
//!
//! An LXAIP can be given back as the XAIP it stands for
//! ([`Xaip::embed_references`]): each reference replaced by the file,
//! base64 encoded, in the element the XAIP schema has for it. TR-ESOR-F
//! allows that transformation (section 1, "Es darf eine Transformation
//! ... durchgeführt werden") without fixing its form; bewahr's is chosen
//! so that every object's hashed bytes stay the same, and the same
//! evidence record proves the LXAIP and the XAIP:
//!
//! | reference in | becomes | hashed (TR-ESOR-ERS) |
//! |---|---|---|
//! | `dataObject/xmlData` | `binaryData` | the decoded bytes = the file |
//! | `metaDataObject/xmlMetaData` | `binaryMetaData` | the decoded bytes = the file |
//! | `credential/other`, a CMS signature | `dss:SignatureObject/dss:Base64Signature` | the decoded bytes = the file |
//! | `credential/other`, an RFC 4998 record | `evidenceRecord/asn1EvidenceRecord` | the DER = the file |
//!
//! A credential file that is neither stays a reference (its canonical XML
//! would be hashed otherwise): it can still be downloaded by its URI.

use std::collections::HashMap;

use base64::Engine;
use libxml::tree::{Namespace, Node};

use crate::package::{Xaip, XaipError, XAIP_NS};
use crate::xml;

pub(crate) const ASIC_NS: &str = "http://uri.etsi.org/02918/v1.2.1#";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const DSS_NS: &str = "urn:oasis:names:tc:dss:1.0:core:schema";

/// One `asic:DataObjectReference` of a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The ID of the data, metadata or credential object it stands for.
    pub object_id: String,
    pub uri: String,
    /// `ds:DigestMethod@Algorithm`.
    pub digest_method: String,
    /// `ds:DigestValue`, decoded (`None`: missing or not base64).
    pub digest_value: Option<Vec<u8>>,
}

/// Whether `bytes` may hold references: a cheap test before a package is
/// read for them (a package without the element name has none).
/// Every submitted package passes here: a naive window comparison cost
/// about 2% of an S.4 submission (perf, `docs/benchmarks.md`).
pub fn may_have_references(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"DataObjectReference").is_some()
}

/// The root element's local name when `head` (the first bytes of a file)
/// is an XAIP, DXAIP or LXAIP: TR-ESOR-E section 6 does not let packages
/// through the upload interface (`uploadDataFormatNotSupported`).
pub fn package_root(head: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(&head[..head.len().min(8192)])
        .or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]))
        .ok()?;
    let text = text.trim_start_matches('\u{feff}');
    let mut rest = text;
    // the prolog: declaration, comments, processing instructions, white space
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r.find("?>")? + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->")? + 3..];
        } else {
            break;
        }
    }
    let tag = rest.strip_prefix('<')?;
    let end = tag.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
    let local = tag[..end].rsplit(':').next()?;
    let attrs = &tag[end..tag.find('>').unwrap_or(tag.len())];
    if !attrs.contains("http://www.bsi.bund.de/tr-esor/xaip") {
        return None;
    }
    match local {
        "XAIP" => Some("XAIP"),
        "DXAIP" => Some("DXAIP"),
        _ => None,
    }
}

/// Where a reference sits: the object element and the element holding it.
struct Site {
    object: Node,
    holder: Node,
    reference: Node,
}

impl Xaip {
    fn reference_sites(&self) -> Vec<Site> {
        let root = self.root();
        let mut out = vec![];
        for (section, element, holder) in [
            ("dataObjectsSection", "dataObject", "xmlData"),
            ("metaDataSection", "metaDataObject", "xmlMetaData"),
            ("credentialsSection", "credential", "other"),
        ] {
            let Some(s) = xml::child(&root, XAIP_NS, section) else {
                continue;
            };
            for object in xml::children(&s, XAIP_NS, element) {
                let Some(h) = xml::child(&object, XAIP_NS, holder) else {
                    continue;
                };
                if let Some(reference) = xml::child(&h, ASIC_NS, "DataObjectReference") {
                    out.push(Site {
                        object: object.clone(),
                        holder: h,
                        reference,
                    });
                }
            }
        }
        out
    }

    /// The references of the package (an LXAIP's or a DLXAIP's), in
    /// document order.
    pub fn references(&self) -> Vec<Reference> {
        self.reference_sites()
            .into_iter()
            .map(|s| {
                let id = ["dataObjectID", "metaDataID", "credentialID"]
                    .iter()
                    .find_map(|a| s.object.get_attribute(a))
                    .unwrap_or_default();
                Reference {
                    object_id: id,
                    uri: s.reference.get_attribute("URI").unwrap_or_default(),
                    digest_method: xml::child(&s.reference, DS_NS, "DigestMethod")
                        .and_then(|m| m.get_attribute("Algorithm"))
                        .unwrap_or_default(),
                    digest_value: xml::child(&s.reference, DS_NS, "DigestValue")
                        .and_then(|v| crate::package::base64_content(&v.get_content()).ok()),
                }
            })
            .collect()
    }

    /// Replaces, in this parsed package, each reference whose URI `files`
    /// holds by the file itself (see the module's table). The file must
    /// match the reference's digest. Returns how many were replaced.
    pub fn embed_references(&self, files: &HashMap<String, Vec<u8>>) -> Result<usize, XaipError> {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut n = 0;
        for site in self.reference_sites() {
            let r = &site.reference;
            let uri = r.get_attribute("URI").unwrap_or_default();
            let Some(file) = files.get(&uri) else {
                continue;
            };
            let id = ["dataObjectID", "metaDataID", "credentialID"]
                .iter()
                .find_map(|a| site.object.get_attribute(a))
                .unwrap_or_default();
            let fail = |what: &str| XaipError::Reference {
                id: id.clone(),
                uri: uri.clone(),
                what: what.to_string(),
            };
            let method = xml::child(r, DS_NS, "DigestMethod")
                .and_then(|m| m.get_attribute("Algorithm"))
                .unwrap_or_default();
            let want = xml::child(r, DS_NS, "DigestValue")
                .and_then(|v| crate::package::base64_content(&v.get_content()).ok());
            if crate::package::digest_of(&method, file) != want || want.is_none() {
                return Err(fail(
                    "the file does not match the reference's digest (hashValueMismatch)",
                ));
            }
            let edit = |e: Box<dyn std::error::Error + Send + Sync>| fail(&e.to_string());
            let mut holder = site.holder.clone();
            if xml::is(&site.object, XAIP_NS, "dataObject") {
                holder.set_name("binaryData").map_err(edit)?;
                holder.set_content(&b64(file)).map_err(edit)?;
            } else if xml::is(&site.object, XAIP_NS, "metaDataObject") {
                holder.set_name("binaryMetaData").map_err(edit)?;
                holder.set_content(&b64(file)).map_err(edit)?;
            } else if is_cms_signed_data(file) {
                holder.set_content("").map_err(edit)?;
                holder.set_name("SignatureObject").map_err(edit)?;
                let ns = Namespace::new("dss", DSS_NS, &mut holder).map_err(edit)?;
                holder.set_namespace(&ns).map_err(edit)?;
                let mut sig = holder
                    .new_child(Some(ns), "Base64Signature")
                    .map_err(edit)?;
                sig.set_content(&b64(file)).map_err(edit)?;
            } else if is_evidence_record(file) {
                holder.set_content("").map_err(edit)?;
                holder.set_name("evidenceRecord").map_err(edit)?;
                let mut er = holder
                    .new_child(holder.get_namespace(), "asn1EvidenceRecord")
                    .map_err(edit)?;
                er.set_content(&b64(file)).map_err(edit)?;
            } else {
                continue;
            }
            n += 1;
        }
        Ok(n)
    }
}

/// `ContentInfo { contentType id-signedData, ... }` (RFC 5652), DER or BER.
pub(crate) fn is_cms_signed_data(b: &[u8]) -> bool {
    const SIGNED_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    b.first() == Some(&0x30) && b.len() > 16 && b[..16].windows(11).any(|w| w == SIGNED_DATA)
}

/// `EvidenceRecord ::= SEQUENCE { version INTEGER { v1(1) }, ... }` (RFC 4998).
fn is_evidence_record(b: &[u8]) -> bool {
    if b.first() != Some(&0x30) || b.len() < 5 {
        return false;
    }
    // the length's own length
    let skip = match b[1] {
        l if l < 0x80 => 2,
        l => 2 + (l & 0x7f) as usize,
    };
    b.get(skip..skip + 3) == Some(&[0x02, 0x01, 0x01])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_roots_are_recognised() {
        let x = br#"<?xml version="1.0"?><!-- c --><xaip:XAIP XAIPVersion="1.3.0" xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip">"#;
        assert_eq!(package_root(x), Some("XAIP"));
        let d = b"\xef\xbb\xbf <DXAIP xmlns=\"http://www.bsi.bund.de/tr-esor/xaip\">";
        assert_eq!(package_root(d), Some("DXAIP"));
        assert_eq!(package_root(b"<XAIP xmlns=\"urn:other\">"), None);
        assert_eq!(package_root(b"%PDF-1.7"), None);
        assert_eq!(package_root(b"<?xml version='1.0'?><doc/>"), None);
    }

    #[test]
    fn references_are_looked_for_by_name() {
        assert!(may_have_references(
            &crate::c2("LXAIP_OK_SU_01a_005.xml").unwrap()
        ));
        assert!(!may_have_references(&crate::c2("XAIP_OK.xml").unwrap()));
        assert!(may_have_references(b"<asic:DataObjectReference URI='x'/>"));
        assert!(!may_have_references(b"DataObjectReferenc"));
    }

    #[test]
    fn kinds_of_credential_files() {
        let p7s = crate::c2("TXT_DATA.txt.p7s").unwrap();
        assert!(is_cms_signed_data(&p7s));
        assert!(!is_evidence_record(&p7s));
        let er = crate::c2("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers").unwrap();
        assert!(is_evidence_record(&er));
        assert!(!is_cms_signed_data(&er));
        assert!(!is_cms_signed_data(b"plain text"));
    }

    /// The files C.2's LXAIPs refer to, as the test uploads them: each
    /// reference mapped to the C.2 bytes of its digest.
    fn c2_files(x: &Xaip) -> HashMap<String, Vec<u8>> {
        let xaip = Xaip::parse(&crate::c2("XAIP_OK_SIG_OK.xml").unwrap()).unwrap();
        let mut candidates: Vec<Vec<u8>> = xaip
            .protected_objects("V001", &Default::default())
            .unwrap()
            .into_iter()
            .map(|o| o.bytes)
            .collect();
        candidates.push(crate::c2("TXT_DATA.txt.p7s").unwrap());
        candidates.push(crate::c2("XML_DATA.xml").unwrap());
        x.references()
            .into_iter()
            .filter_map(|r| {
                let f = candidates
                    .iter()
                    .find(|c| crate::package::digest_of(&r.digest_method, c) == r.digest_value)?;
                Some((r.uri, f.clone()))
            })
            .collect()
    }

    #[test]
    fn an_lxaip_protects_the_referenced_files_and_embeds_them() {
        let lxaip = crate::c2("LXAIP_OK_SU_01a_005.xml").unwrap();
        let x = Xaip::parse(&lxaip).unwrap();
        let refs = x.references();
        assert_eq!(
            refs.iter()
                .map(|r| r.object_id.as_str())
                .collect::<Vec<_>>(),
            ["DO-01", "DO-02", "MDO-01"]
        );
        let files = c2_files(&x);
        assert_eq!(files.len(), 3, "every reference has its C.2 file");
        // unresolved: refused with the reason
        let e = x
            .protected_objects("V001", &Default::default())
            .unwrap_err();
        assert!(e.to_string().contains("not uploaded"), "{e}");
        let with = crate::References {
            files: files.clone(),
            ..Default::default()
        };
        let objects = x.protected_objects("V001", &with).unwrap();
        // the bytes hashed are the files themselves
        for o in &objects {
            let r = refs.iter().find(|r| r.object_id == o.id).unwrap();
            assert_eq!(o.bytes, files[&r.uri], "{}", o.id);
        }
        // a file that does not match its digest is refused
        let mut wrong = files.clone();
        wrong.values_mut().next().unwrap().push(b'x');
        let bad = crate::References {
            files: wrong,
            ..Default::default()
        };
        assert!(x
            .protected_objects("V001", &bad)
            .unwrap_err()
            .to_string()
            .contains("hashValueMismatch"));
        // embedded: an XAIP, valid against the schema, whose objects hash
        // as the LXAIP's did
        assert_eq!(x.embed_references(&files).unwrap(), 3);
        let h = crate::History::parse(&[lxaip]).unwrap();
        h.embed_references(&files).unwrap();
        let xaip = h.union("AOID-1", None).unwrap();
        let text = String::from_utf8(xaip.clone()).unwrap();
        assert!(!text.contains("DataObjectReference"), "{text}");
        let resolved = Xaip::parse_valid(&xaip).unwrap();
        assert!(resolved.references().is_empty());
        let again = resolved
            .protected_objects("V001", &Default::default())
            .unwrap();
        let by_id = |v: &[crate::ProtectedObject]| {
            let mut v: Vec<(String, Vec<u8>)> =
                v.iter().map(|o| (o.id.clone(), o.bytes.clone())).collect();
            v.sort();
            v
        };
        assert_eq!(by_id(&again), by_id(&objects));
    }

    #[test]
    fn credential_references_embed_as_signatures() {
        let lxaip = crate::c2("LXAIP_OK_SIG_OK_SU_01a_011.xml").unwrap();
        let x = Xaip::parse(&lxaip).unwrap();
        let files = c2_files(&x);
        let with = crate::References {
            files: files.clone(),
            ..Default::default()
        };
        let v = x.versions()[0].clone();
        let before = x.protected_objects(&v, &with).unwrap();
        let h = crate::History::parse(&[lxaip]).unwrap();
        assert_eq!(h.embed_references(&files).unwrap(), x.references().len());
        let xaip = h.union("AOID-1", None).unwrap();
        let resolved = Xaip::parse_valid(&xaip).unwrap();
        let text = String::from_utf8(xaip).unwrap();
        assert!(text.contains("Base64Signature"), "{text}");
        let after = resolved.protected_objects(&v, &Default::default()).unwrap();
        let ids = |v: &[crate::ProtectedObject]| {
            let mut v: Vec<(String, Vec<u8>)> =
                v.iter().map(|o| (o.id.clone(), o.bytes.clone())).collect();
            v.sort();
            v
        };
        assert_eq!(ids(&after), ids(&before));
    }
}
