//! RFC 6283 (XMLERS) evidence records, read into the verifier's
//! [`Walk`] and verified by the same code as RFC 4998 records.
//!
//! ```text
//! <EvidenceRecord Version="1.0">                    urn:ietf:params:xml:ns:ers
//!   <EncryptionInformation/>?  <SupportingInformationList/>?   (not protected)
//!   <ArchiveTimeStampSequence>
//!     <ArchiveTimeStampChain Order="n">+
//!       <DigestMethod Algorithm=""/>  <CanonicalizationMethod Algorithm=""/>
//!       <ArchiveTimeStamp Order="k">+
//!         <HashTree><Sequence Order="j"><DigestValue>b64</DigestValue>+</Sequence>+</HashTree>?
//!         <TimeStamp>
//!           <TimeStampToken Type="RFC3161">b64 DER</TimeStampToken>
//!           <CryptographicInformationList>?  (CERT, CRL, OCSP, SCVP)
//!         </TimeStamp>
//!         <Attributes/>?
//! ```
//!
//! What differs from RFC 4998 is handed to the verifier as bytes:
//! - a time-stamp renewal (section 4.2.1) covers the canonical form, with
//!   the chain's method, of the previous time-stamp's `<TimeStamp>` element;
//! - a hash-tree renewal (section 4.2.2) puts h(d) and the hash of the
//!   `<ArchiveTimeStampSequence>` holding only the earlier chains
//!   (canonicalised with the new chain's method, the whitespace between the
//!   chains kept) side by side in its first `<Sequence>`;
//! - XML data objects are hashed in the canonical form of the chain's
//!   method ([`XmlData`]).
//!
//! Chains, time-stamps and sequences are taken in the order of their
//! `Order` attributes (1, 2, ... without gaps, as the schema's `OrderType`
//! and section 2.1 ask).

use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::signature::ValidationData;
use bewahr_core::verify::{
    self, DataObjects, Finding, Indication, Options, Report, SubIndication, Syntax, Walk,
    WalkChain, WalkStamp,
};
use bewahr_xaip::xml::{self, C14n, Selection};
use libxml::tree::{Document, Node};

use crate::uris;

/// The RFC 6283 namespace.
pub const ERS: &str = "urn:ietf:params:xml:ns:ers";

/// Whether `bytes` look like an RFC 6283 record (XML with the ERS
/// namespace near its start), not a DER one.
pub fn is_xml_record(bytes: &[u8]) -> bool {
    looks_like_xml(bytes) && {
        let head = &bytes[..bytes.len().min(4096)];
        head.windows(ERS.len()).any(|w| w == ERS.as_bytes())
    }
}

/// A parsed record: its walk and, per chain, the canonicalisation method
/// its data objects are hashed with.
pub struct XmlRecord {
    pub walk: Walk,
    pub c14n: Vec<Option<C14n>>,
}

fn ers_children<'a>(n: &'a Node, local: &'a str) -> impl Iterator<Item = Node> + 'a {
    xml::children(n, ERS, local)
}

/// The children named `local`, in the order of their `Order` attribute,
/// which must run 1, 2, ... without gaps.
fn ordered(parent: &Node, local: &str) -> Result<Vec<Node>, String> {
    let mut v: Vec<(i64, Node)> = vec![];
    for c in ers_children(parent, local) {
        let o = c
            .get_attribute("Order")
            .and_then(|o| o.trim().parse::<i64>().ok())
            .ok_or_else(|| format!("{local} without a numeric Order attribute"))?;
        v.push((o, c));
    }
    v.sort_by_key(|(o, _)| *o);
    for (k, (o, _)) in v.iter().enumerate() {
        if *o != k as i64 + 1 {
            return Err(format!(
                "the {local} elements are numbered {:?}, not 1, 2, ... (RFC 6283 2.1)",
                v.iter().map(|(o, _)| *o).collect::<Vec<_>>()
            ));
        }
    }
    Ok(v.into_iter().map(|(_, n)| n).collect())
}

fn canonical(doc: &Document, sel: &Selection, c: C14n) -> Result<Vec<u8>, String> {
    xml::canonicalize_selection(doc, sel, c, &[]).map_err(|e| e.to_string())
}

/// Reads a record. `Err`: it is no RFC 6283 record (not XML, not the
/// schema's structure); the message says why.
pub fn read(bytes: &[u8]) -> Result<XmlRecord, String> {
    let doc = xml::parse(bytes).map_err(|e| e.to_string())?;
    let root = doc.get_root_element().ok_or("no root element")?;
    if !xml::is(&root, ERS, "EvidenceRecord") {
        return Err("the root is not ers:EvidenceRecord (urn:ietf:params:xml:ns:ers)".into());
    }
    let mut findings = vec![Finding {
        indication: Indication::Passed,
        sub_indication: None,
        message: "an RFC 6283 (XML) evidence record".into(),
    }];
    match root.get_attribute("Version").as_deref().map(str::trim) {
        Some("1.0") | Some("1") => {}
        other => return Err(format!("Version {other:?} (RFC 6283 defines 1.0)")),
    }
    for (local, what) in [
        ("EncryptionInformation", "EncryptionInformation"),
        ("SupportingInformationList", "a SupportingInformationList"),
    ] {
        if xml::child(&root, ERS, local).is_some() {
            findings.push(Finding {
                indication: Indication::Passed,
                sub_indication: None,
                message: format!("the record carries {what}: not protected by any time-stamp, and outside TR-ESOR's Basis-XERS profile"),
            });
        }
    }
    let seq =
        xml::child(&root, ERS, "ArchiveTimeStampSequence").ok_or("no ArchiveTimeStampSequence")?;
    let chains = ordered(&seq, "ArchiveTimeStampChain")?;
    if chains.is_empty() {
        return Err("no ArchiveTimeStampChain".into());
    }
    let mut walk_chains = vec![];
    let mut c14ns = vec![];
    let mut attributes = vec![];
    for (ci, chain) in chains.iter().enumerate() {
        let dm = xml::child(chain, ERS, "DigestMethod")
            .and_then(|d| d.get_attribute("Algorithm"))
            .unwrap_or_default();
        let algorithm = uris::digest(&dm).ok_or(format!(
            "chain {}: DigestMethod {dm:?} is not a known digest algorithm",
            ci + 1
        ));
        let cm = xml::child(chain, ERS, "CanonicalizationMethod")
            .and_then(|d| d.get_attribute("Algorithm"))
            .unwrap_or_default();
        let c14n = C14n::from_uri(&cm);
        if c14n.is_none() {
            findings.push(Finding {
                indication: Indication::Failed,
                sub_indication: Some(SubIndication::FormatFailure),
                message: format!(
                    "chain {}: CanonicalizationMethod {cm:?} is not a known canonicalisation",
                    ci + 1
                ),
            });
        }
        c14ns.push(c14n);
        let stamps_el = ordered(chain, "ArchiveTimeStamp")?;
        if stamps_el.is_empty() {
            return Err(format!("chain {}: no ArchiveTimeStamp", ci + 1));
        }
        // a hash-tree renewal covers the earlier chains: the sequence with
        // this chain and the later ones left out, in this chain's c14n
        let earlier = (ci > 0).then(|| {
            let mut sel = Selection::subtree(&seq);
            sel.comments = true;
            for later in &chains[ci..] {
                sel.without(later);
            }
            c14n.ok_or_else(|| "the chain's canonicalisation is unknown".to_string())
                .and_then(|c| canonical(&doc, &sel, c))
        });
        let mut stamps = vec![];
        let mut attrs = vec![];
        for (ai, ats) in stamps_el.iter().enumerate() {
            let ts = xml::child(ats, ERS, "TimeStamp").ok_or(format!(
                "archive time-stamp {}.{}: no TimeStamp",
                ci + 1,
                ai + 1
            ))?;
            let tok_el = xml::child(&ts, ERS, "TimeStampToken").ok_or(format!(
                "archive time-stamp {}.{}: no TimeStampToken",
                ci + 1,
                ai + 1
            ))?;
            let ty = tok_el.get_attribute("Type").unwrap_or_default();
            if ty != "RFC3161" {
                return Err(format!(
                    "archive time-stamp {}.{}: TimeStampToken Type {ty:?} (RFC3161 is verified)",
                    ci + 1,
                    ai + 1
                ));
            }
            let token = uris::base64(&tok_el.get_content()).map_err(|e| {
                format!(
                    "archive time-stamp {}.{}: TimeStampToken: {e}",
                    ci + 1,
                    ai + 1
                )
            })?;
            let mut vd = ValidationData::default();
            if let Some(list) = xml::child(&ts, ERS, "CryptographicInformationList") {
                for info in ers_children(&list, "CryptographicInformation") {
                    let Ok(der) = uris::base64(&info.get_content()) else {
                        continue;
                    };
                    match info.get_attribute("Type").as_deref() {
                        Some("CERT") => vd.add_certificate(&der),
                        Some("CRL") => vd.add_crl(&der),
                        Some("OCSP") => vd.add_ocsp(&der),
                        _ => {}
                    }
                }
            }
            attrs.push(vd);
            let tree = match xml::child(ats, ERS, "HashTree") {
                None => None,
                Some(t) => {
                    let mut lists = vec![];
                    for s in ordered(&t, "Sequence")? {
                        let mut l = vec![];
                        for d in ers_children(&s, "DigestValue") {
                            l.push(uris::base64(&d.get_content()).map_err(|e| {
                                format!(
                                    "archive time-stamp {}.{}: DigestValue: {e}",
                                    ci + 1,
                                    ai + 1
                                )
                            })?);
                        }
                        lists.push(l);
                    }
                    Some(lists)
                }
            };
            let previous = if ai > 0 {
                let prev_ts = xml::child(&stamps_el[ai - 1], ERS, "TimeStamp")
                    .ok_or("a previous archive time-stamp without TimeStamp")?;
                match c14n {
                    Some(c) => {
                        let mut sel = Selection::subtree(&prev_ts);
                        sel.comments = true;
                        vec![(canonical(&doc, &sel, c)?, "")]
                    }
                    None => vec![],
                }
            } else {
                vec![]
            };
            stamps.push(WalkStamp {
                token,
                digest_algorithm: None,
                tree,
                previous,
                earlier: if ai == 0 { earlier.clone() } else { None },
            });
        }
        attributes.push(attrs);
        walk_chains.push(WalkChain {
            algorithm: algorithm.clone(),
            stamps,
        });
    }
    Ok(XmlRecord {
        walk: Walk {
            syntax: Syntax::Rfc6283,
            listed: None,
            chains: walk_chains,
            data: verify::tsa::RecordData {
                crypto_infos: ValidationData::default(),
                attributes,
            },
            findings,
        },
        c14n: c14ns,
    })
}

/// Data objects for an XML record: XML data is hashed in its canonical
/// form with the chain's method (RFC 6283 3.2, 4.1.2), other data as it is.
pub struct XmlData<'a> {
    pub objects: &'a [Vec<u8>],
    pub c14n: Vec<Option<C14n>>,
}

impl DataObjects for XmlData<'_> {
    fn hashes(&mut self, alg: DigestAlgorithm) -> Result<Option<Vec<Vec<u8>>>, String> {
        self.hashes_for(alg, 0)
    }
    fn present(&self) -> bool {
        !self.objects.is_empty()
    }
    fn hashes_for(
        &mut self,
        alg: DigestAlgorithm,
        chain: usize,
    ) -> Result<Option<Vec<Vec<u8>>>, String> {
        let c = self.c14n.get(chain).copied().flatten();
        Ok(Some(
            self.objects
                .iter()
                .map(|o| match (c, looks_like_xml(o)) {
                    (Some(c), true) => match xml::parse(o) {
                        Ok(doc) => {
                            let mut sel = Selection::document();
                            sel.comments = true;
                            xml::canonicalize_selection(&doc, &sel, c, &[])
                                .map(|b| alg.digest(&b))
                                .unwrap_or_else(|_| alg.digest(o))
                        }
                        Err(_) => alg.digest(o),
                    },
                    _ => alg.digest(o),
                })
                .collect(),
        ))
    }
}

/// Whether the first character after white space (and a byte-order mark)
/// is `<`: XML, as far as the first bytes tell.
pub fn looks_like_xml(b: &[u8]) -> bool {
    b.iter()
        .find(|c| !b" \t\r\n\xef\xbb\xbf".contains(c))
        .is_some_and(|c| *c == b'<')
}

/// Verifies an RFC 6283 record over `objects` (their bytes: XML ones are
/// canonicalised per chain) or, without objects, over what `digests` gives.
pub fn verify_xml(
    bytes: &[u8],
    objects: Option<&[Vec<u8>]>,
    digests: &mut dyn DataObjects,
    opts: &Options<'_>,
) -> Report {
    let rec = match read(bytes) {
        Ok(r) => r,
        Err(e) => return Report::format_failure(e, opts.at),
    };
    match objects {
        Some(o) => verify::verify_walk(
            &rec.walk,
            &mut XmlData {
                objects: o,
                c14n: rec.c14n.clone(),
            },
            opts,
        ),
        None => verify::verify_walk(&rec.walk, digests, opts),
    }
}

/// Why a record cannot be given in the XML form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExpressible(pub String);

impl std::fmt::Display for NotExpressible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The namespace declaration and the element a written record's
/// `<TimeStamp>` has, as one string: `<ers:TimeStamp>` with its
/// `<ers:TimeStampToken Type="RFC3161">`, the token in base64 on one line,
/// nothing else (no `CryptographicInformationList`).
fn timestamp_element(token: &[u8], xmlns: bool) -> String {
    use base64::Engine;
    format!(
        r#"<ers:TimeStamp{}><ers:TimeStampToken Type="RFC3161">{}</ers:TimeStampToken></ers:TimeStamp>"#,
        if xmlns {
            r#" xmlns:ers="urn:ietf:params:xml:ns:ers""#
        } else {
            ""
        },
        base64::engine::general_purpose::STANDARD.encode(token)
    )
}

/// The hash RFC 6283 section 4.2.1 asks a time-stamp renewal to cover for
/// `token` as the archive writes it in the XML form: `alg` over the
/// canonical form (inclusive C14N 1.0, the chain's method) of the
/// `<TimeStamp>` element [`from_der`] writes for it. Written out here
/// rather than canonicalised: the element is the archive's own and its
/// canonical form is that string (inclusive C14N of a subtree adds the
/// `ers` declaration of the root; no other namespace or `xml:` attribute
/// is in scope); the tests hold it to libxml2's canonicalisation of a
/// written record.
///
/// A time-stamp renewal that also covers this value (beside the hash of
/// the token's DER, RFC 4998 section 5.2) can be given in both forms: the
/// "bridged" renewal of `docs/research/rfc6283.md` section 3.
pub fn timestamp_renewal_hash(alg: DigestAlgorithm, token: &[u8]) -> Vec<u8> {
    alg.digest(timestamp_element(token, true).as_bytes())
}

/// The two hashes a bridged time-stamp renewal covers for `token`, the
/// members of its leaf: (H(DER), [`timestamp_renewal_hash`]). Renewal
/// writes them, evidence reads them back, [`from_der`] finds them.
pub fn renewal_bridge(alg: DigestAlgorithm, token: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (alg.digest(token), timestamp_renewal_hash(alg, token))
}

/// The XML form (RFC 6283) of an RFC 4998 record of one chain: the same
/// reduced hash trees (each partial hash tree a `<Sequence>`) and the same
/// time-stamp tokens, so that both forms prove the same thing from the
/// same trees and time-stamps. The chain's `DigestMethod` is the tokens'
/// imprint algorithm, its `CanonicalizationMethod` inclusive C14N 1.0
/// (TR-ESOR's default); the caller checks that no data object is XML whose
/// bytes differ from their canonical form (the XML form hashes XML
/// canonicalised, the DER form as given).
///
/// A time-stamp renewal is expressible when it was bridged: the first
/// list of its reduced tree is exactly {a, x}, a the hash of the previous
/// token's DER (RFC 4998 section 5.2), x [`timestamp_renewal_hash`] of it
/// (RFC 6283 section 4.2.1). Its XML tree is `[{x}, {a}, rest...]`: RFC
/// 6283 passes the one value x up and hashes it with a, which is the
/// node the DER form reaches from {a, x}. Not expressible: a record
/// renewed before renewals were bridged (its renewal covers the DER
/// only), and one with more than one chain (a hash-tree renewal hashed
/// the DER of the earlier chains, RFC 6283 the canonical XML of them).
pub fn from_der(der: &[u8]) -> Result<Vec<u8>, NotExpressible> {
    let no = |m: &str| NotExpressible(m.to_string());
    let er = bewahr_core::ers::EvidenceRecord::from_der_checked(der)
        .map_err(|e| NotExpressible(format!("the record does not decode: {e}")))?;
    let chain = match er.archive_time_stamp_sequence.as_slice() {
        [chain] => chain,
        [] => return Err(no("the record has no archive time-stamp")),
        _ => return Err(no(
            "the record has been renewed by a hash-tree renewal, which time-stamped the DER of the earlier chains where RFC 6283 has their canonical XML; it is given in RFC 4998 form only",
        )),
    };
    if er.crypto_infos.is_some() || er.encryption_info.is_some() {
        return Err(no("the record carries cryptoInfos or encryptionInfo"));
    }
    let mut alg = None;
    let mut stamps = String::new();
    let mut previous: Option<&[u8]> = None;
    for (k, ats) in chain.iter().enumerate() {
        if ats.attributes.is_some() {
            return Err(NotExpressible(format!(
                "archive time-stamp {} carries attributes",
                k + 1
            )));
        }
        let token = ats.time_stamp.as_bytes();
        let info = bewahr_core::tsp::token::read_tst_info(token).map_err(|e| {
            NotExpressible(format!(
                "the time-stamp of archive time-stamp {}: {e}",
                k + 1
            ))
        })?;
        let a =
            DigestAlgorithm::from_oid(&info.message_imprint.hash_algorithm.oid).map_err(|e| {
                NotExpressible(format!(
                    "the imprint algorithm of archive time-stamp {}: {e}",
                    k + 1
                ))
            })?;
        if *alg.get_or_insert(a) != a {
            return Err(NotExpressible(format!(
                "archive time-stamp {} uses {a}, the chain {}: an RFC 6283 chain has one DigestMethod",
                k + 1,
                alg.expect("set")
            )));
        }
        let tree = ats.reduced_tree_slices();
        let (da, dx);
        let lists = match previous {
            None => tree,
            Some(prev) => {
                (da, dx) = renewal_bridge(a, prev);
                let mut tree = tree.unwrap_or_default();
                let mut first = if tree.is_empty() {
                    vec![]
                } else {
                    tree.remove(0)
                };
                first.sort_unstable();
                let mut want = vec![da.as_slice(), dx.as_slice()];
                want.sort_unstable();
                if first != want {
                    return Err(NotExpressible(format!(
                        "archive time-stamp {} renewed the time-stamp before renewals covered its XML form too (RFC 6283 4.2.1 needs the hash of the canonical <TimeStamp>, this renewal covers the DER only); the record is given in RFC 4998 form only",
                        k + 1
                    )));
                }
                let mut xml_tree = vec![vec![dx.as_slice()], vec![da.as_slice()]];
                xml_tree.extend(tree);
                Some(xml_tree)
            }
        };
        stamps.push_str(&archive_time_stamp(k + 1, lists.as_deref(), token));
        previous = Some(token);
    }
    let alg = alg.ok_or_else(|| no("the record has no archive time-stamp"))?;
    let dm = digest_uri(alg).ok_or_else(|| no("the imprint algorithm has no XML-DSig URI"))?;
    let mut x = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><ers:EvidenceRecord xmlns:ers="urn:ietf:params:xml:ns:ers" Version="1.0"><ers:ArchiveTimeStampSequence><ers:ArchiveTimeStampChain Order="1">"#,
    );
    x.push_str(&format!(
        r#"<ers:DigestMethod Algorithm="{dm}"/><ers:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>"#
    ));
    x.push_str(&stamps);
    x.push_str("</ers:ArchiveTimeStampChain></ers:ArchiveTimeStampSequence></ers:EvidenceRecord>");
    Ok(x.into_bytes())
}

/// One `<ArchiveTimeStamp>`: its hash tree (if any) and its `<TimeStamp>`.
fn archive_time_stamp(order: usize, tree: Option<&[Vec<&[u8]>]>, token: &[u8]) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut x = format!(r#"<ers:ArchiveTimeStamp Order="{order}">"#);
    if let Some(tree) = tree {
        x.push_str("<ers:HashTree>");
        for (k, list) in tree.iter().enumerate() {
            x.push_str(&format!(r#"<ers:Sequence Order="{}">"#, k + 1));
            for h in list {
                x.push_str(&format!("<ers:DigestValue>{}</ers:DigestValue>", b64(h)));
            }
            x.push_str("</ers:Sequence>");
        }
        x.push_str("</ers:HashTree>");
    }
    x.push_str(&timestamp_element(token, false));
    x.push_str("</ers:ArchiveTimeStamp>");
    x
}

/// The XML-DSig / RFC 6931 URI of a digest algorithm.
pub fn digest_uri(alg: DigestAlgorithm) -> Option<&'static str> {
    use DigestAlgorithm as D;
    Some(match alg {
        D::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
        D::Sha224 => "http://www.w3.org/2001/04/xmldsig-more#sha224",
        D::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
        D::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
        D::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        D::Sha3_256 => "http://www.w3.org/2007/05/xmldsig-more#sha3-256",
        D::Sha3_384 => "http://www.w3.org/2007/05/xmldsig-more#sha3-384",
        D::Sha3_512 => "http://www.w3.org/2007/05/xmldsig-more#sha3-512",
        _ => return None,
    })
}

/// Whether `bytes` would be hashed the same in both forms: not XML, or XML
/// already in its inclusive C14N 1.0 form.
pub fn hashed_alike(bytes: &[u8]) -> bool {
    if !looks_like_xml(bytes) {
        return true;
    }
    match xml::parse(bytes) {
        Ok(doc) => {
            let mut sel = Selection::document();
            sel.comments = true;
            xml::canonicalize_selection(&doc, &sel, C14n::Inclusive10 { comments: false }, &[])
                .is_ok_and(|c| c == bytes)
        }
        // not XML after all: hashed as bytes in both
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_renewed_before_bridging_are_not_re_expressed() {
        let der = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/vectors/field/ber-token-renewed.ers"
        ))
        .unwrap();
        let e = from_der(&der).unwrap_err();
        assert!(e.0.contains("renewed"), "{e}");
        assert!(from_der(b"\x30\x00").is_err());
    }

    /// The hash a bridged time-stamp renewal covers is the canonical form
    /// libxml2 gives the `<TimeStamp>` element of a written record, which
    /// is what the verifier hashes (RFC 6283 4.2.1).
    #[test]
    fn the_renewal_hash_is_that_of_the_written_time_stamp_element() {
        let tokens: [&[u8]; 2] = [b"\x30\x03\x02\x01\x01", &[0xffu8; 700]];
        let mut x = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><ers:EvidenceRecord xmlns:ers="urn:ietf:params:xml:ns:ers" Version="1.0"><ers:ArchiveTimeStampSequence><ers:ArchiveTimeStampChain Order="1"><ers:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ers:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>"#,
        );
        let (l1, l2) = ([7u8; 32], [9u8; 32]);
        x.push_str(&archive_time_stamp(1, None, tokens[0]));
        let tree = vec![vec![&l1[..]], vec![&l2[..]]];
        x.push_str(&archive_time_stamp(2, Some(&tree), tokens[1]));
        x.push_str(
            "</ers:ArchiveTimeStampChain></ers:ArchiveTimeStampSequence></ers:EvidenceRecord>",
        );
        let rec = read(x.as_bytes()).unwrap();
        let stamps = &rec.walk.chains[0].stamps;
        assert_eq!(stamps[1].token, tokens[1]);
        assert_eq!(
            stamps[1].tree.as_ref().unwrap(),
            &vec![l1.to_vec(), l2.to_vec()]
                .into_iter()
                .map(|v| vec![v])
                .collect::<Vec<_>>()
        );
        let canonical = &stamps[1].previous[0].0;
        assert_eq!(canonical, timestamp_element(tokens[0], true).as_bytes());
        for alg in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            assert_eq!(
                timestamp_renewal_hash(alg, tokens[0]),
                alg.digest(canonical)
            );
        }
        // and the record is valid against RFC 6283's schema
        let doc = xml::parse(x.as_bytes()).unwrap();
        bewahr_xaip::schema::validate_against(&doc, bewahr_xaip::schema::Schema::Ers).unwrap();
    }

    /// Records renewed by bridged time-stamp renewals, over every shape a
    /// renewal tree takes (one chain end, siblings, an odd one out, two
    /// renewals on top of each other), verify in both forms over their
    /// document and fail over another; an unbridged renewal is refused.
    #[test]
    fn bridged_time_stamp_renewals_verify_in_both_forms() {
        use bewahr_core::ers::{encode_archive_time_stamp, encode_record, encode_sequence};
        use bewahr_core::hashtree::{HashTree, TreeBuilder};
        use bewahr_core::verify::{AlgorithmPolicy, InMemory, NoData};
        use time::{Duration, OffsetDateTime};
        let t0 = OffsetDateTime::now_utc() - Duration::days(10);
        let (tsa, _) = bewahr_devtsa::DevTsa::generate_valid_for(t0, Duration::days(1000)).unwrap();
        let trusted = tsa.certificates().to_vec();
        let policy = AlgorithmPolicy::default();
        let opts = Options::new(&trusted, t0 + Duration::days(5), &policy);
        for alg in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            for batches in 1..=5usize {
                // batch b seals b+1 documents
                let docs: Vec<Vec<Vec<u8>>> = (0..batches)
                    .map(|b| {
                        (0..=b)
                            .map(|i| format!("Bescheid {b}.{i}").into_bytes())
                            .collect()
                    })
                    .collect();
                let trees: Vec<HashTree> = docs
                    .iter()
                    .map(|d| HashTree::from_hashes(alg, d.iter().map(|x| alg.digest(x))).unwrap())
                    .collect();
                let mut chains: Vec<Vec<Vec<Vec<u8>>>> = vec![]; // per batch, per doc: ATS DERs
                let mut tails = vec![];
                for (b, t) in trees.iter().enumerate() {
                    let token = tsa
                        .timestamp(alg, t.root(), None, t0 + Duration::hours(1))
                        .unwrap();
                    chains.push(
                        (0..docs[b].len())
                            .map(|i| {
                                vec![encode_archive_time_stamp(
                                    alg,
                                    t.reduced(i).unwrap().as_deref(),
                                    &token,
                                )]
                            })
                            .collect(),
                    );
                    tails.push(token);
                }
                let firsts = tails.clone();
                // two renewals: the second renews the first's token
                for day in 1..=2 {
                    let mut rb = TreeBuilder::with_capacity(alg, batches);
                    for token in &tails {
                        let (a, x) = renewal_bridge(alg, token);
                        rb.push_group([a.as_slice(), x.as_slice()]).unwrap();
                    }
                    let rt = rb.build().unwrap();
                    let token = tsa
                        .timestamp(alg, rt.root(), None, t0 + Duration::days(day))
                        .unwrap();
                    for (b, c) in chains.iter_mut().enumerate() {
                        let ats = encode_archive_time_stamp(
                            alg,
                            rt.reduced(b).unwrap().as_deref(),
                            &token,
                        );
                        for doc_chain in c.iter_mut() {
                            doc_chain.push(ats.clone());
                        }
                    }
                    tails = vec![token; batches];
                }
                for (b, c) in chains.iter().enumerate() {
                    for (i, chain) in c.iter().enumerate() {
                        let der =
                            encode_record(&[alg], &encode_sequence(std::slice::from_ref(chain)));
                        let doc = &docs[b][i];
                        let d = verify::verify_der(&der, &mut InMemory(vec![doc.clone()]), &opts);
                        assert_eq!(d.indication, Indication::Passed, "{}", d.to_text());
                        let xml = from_der(&der).unwrap();
                        let x =
                            verify_xml(&xml, Some(std::slice::from_ref(doc)), &mut NoData, &opts);
                        assert_eq!(x.indication, Indication::Passed, "{}", x.to_text());
                        assert_eq!(x.archive_time_stamps.len(), 3);
                        let other =
                            verify_xml(&xml, Some(&[b"other".to_vec()]), &mut NoData, &opts);
                        assert_eq!(other.indication, Indication::Failed);
                        // the same renewal, unbridged: the DER form only
                        if b == 0 && i == 0 && batches == 1 {
                            let unbridged = tsa
                                .timestamp(
                                    alg,
                                    &alg.digest(&firsts[0]),
                                    None,
                                    t0 + Duration::days(1),
                                )
                                .unwrap();
                            let mut c2 = chain[..1].to_vec();
                            c2.push(encode_archive_time_stamp(alg, None, &unbridged));
                            let der = encode_record(&[alg], &encode_sequence(&[c2]));
                            let d =
                                verify::verify_der(&der, &mut InMemory(vec![doc.clone()]), &opts);
                            assert_eq!(d.indication, Indication::Passed, "{}", d.to_text());
                            let e = from_der(&der).unwrap_err();
                            assert!(e.0.contains("XML form too"), "{e}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn xml_is_hashed_alike_only_in_canonical_form() {
        assert!(hashed_alike(b"%PDF-1.7"));
        assert!(hashed_alike(b"<a>x</a>"));
        assert!(!hashed_alike(b"<?xml version=\"1.0\"?>\n<a>x</a>"));
        assert!(!hashed_alike(b"<a b='1'/>"));
        // not XML after all: bytes in both forms
        assert!(hashed_alike(b"<<<"));
        assert!(is_xml_record(
            b"  <ers:EvidenceRecord xmlns:ers=\"urn:ietf:params:xml:ns:ers\"/>"
        ));
        assert!(!is_xml_record(b"\x30\x82"));
    }
}
