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

/// The hash of the earlier chains RFC 6283 section 4.2.2 asks a hash-tree
/// renewal to cover, for the record `der` as the archive writes it in the
/// XML form: `alg` over the canonical form (inclusive C14N 1.0) of its
/// `<ArchiveTimeStampSequence>` with every chain of `der` ([`from_der`]
/// writes each chain in its canonical form; the sequence element adds the
/// `ers` declaration). `rehashed` is as for [`from_der`]. Not expressible
/// records (an unbridged renewal among them) have no such hash.
pub fn hashtree_renewal_hash(
    alg: DigestAlgorithm,
    der: &[u8],
    rehashed: &[Vec<Vec<u8>>],
) -> Result<Vec<u8>, NotExpressible> {
    let chains = xml_chains(der, rehashed)?;
    Ok(alg.digest(sequence_c14n(&chains).as_bytes()))
}

/// The value a bridged hash-tree renewal puts beside the leaf of RFC 4998
/// (`docs/research/rfc6283.md` section 3): X = H'(sort(h'(d_1)..h'(d_n),
/// ha)), the node RFC 6283's first `<Sequence>` {h'(d_i)..., ha} reaches,
/// `plain` the data objects' hashes, `ha` [`hashtree_renewal_hash`] of
/// the record so far. Renewal writes it, [`from_der`] finds it.
pub fn hashtree_bridge(alg: DigestAlgorithm, plain: &[Vec<u8>], ha: &[u8]) -> Vec<u8> {
    let mut all: Vec<&[u8]> = plain.iter().map(Vec::as_slice).collect();
    all.push(ha);
    bewahr_core::hashtree::hash_sorted(alg, &all)
}

/// The canonical form of an `<ArchiveTimeStampSequence>` with `chains` (each
/// already in canonical form) as the subtree of a written record.
fn sequence_c14n(chains: &[String]) -> String {
    format!(
        r#"<ers:ArchiveTimeStampSequence xmlns:ers="{ERS}">{}</ers:ArchiveTimeStampSequence>"#,
        chains.concat()
    )
}

/// The XML form (RFC 6283) of an RFC 4998 record: the same reduced hash
/// trees (each partial hash tree a `<Sequence>`) and the same time-stamp
/// tokens, so that both forms prove the same thing from the same trees and
/// time-stamps. Each chain's `DigestMethod` is its tokens' imprint
/// algorithm, its `CanonicalizationMethod` inclusive C14N 1.0 (TR-ESOR's
/// default); the caller checks that no data object is XML whose bytes
/// differ from their canonical form (the XML form hashes XML
/// canonicalised, the DER form as given).
///
/// A time-stamp renewal is expressible when it was bridged: the first
/// list of its reduced tree is exactly {a, x}, a the hash of the previous
/// token's DER (RFC 4998 section 5.2), x [`timestamp_renewal_hash`] of it
/// (RFC 6283 section 4.2.1). Its XML tree is `[{x}, {a}, rest...]`: RFC
/// 6283 passes the one value x up and hashes it with a, which is the
/// node the DER form reaches from {a, x}.
///
/// A hash-tree renewal (a chain after the first) is expressible when it
/// was bridged: its tree holds X ([`hashtree_bridge`] of the data objects'
/// plain hashes under the new algorithm and of the earlier chains' XML)
/// beside Y, the value RFC 4998 reaches from the data objects (DER
/// `[{p_1, X}, rest...]` for one object, `[{p_1..p_n}, {X}, rest...]` for
/// a group); the XML tree is `[{h'(d_1)..h'(d_n), ha}, {Y}, rest...]`.
/// `rehashed` gives, for each chain after the first, those plain hashes
/// (`h'(d_i)`, any order): the DER record does not carry them (its leaves
/// are H'(h'(d_i) || ha)). Not expressible: a record renewed before
/// renewals were bridged (its renewal covers the DER only).
pub fn from_der(der: &[u8], rehashed: &[Vec<Vec<u8>>]) -> Result<Vec<u8>, NotExpressible> {
    let chains = xml_chains(der, rehashed)?;
    let mut x = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><ers:EvidenceRecord xmlns:ers="urn:ietf:params:xml:ns:ers" Version="1.0"><ers:ArchiveTimeStampSequence>"#,
    );
    x.push_str(&chains.concat());
    x.push_str("</ers:ArchiveTimeStampSequence></ers:EvidenceRecord>");
    Ok(x.into_bytes())
}

/// Each chain of `der` as its `<ArchiveTimeStampChain>` element, written in
/// its canonical form (no namespace declaration: the record's root has it).
fn xml_chains(der: &[u8], rehashed: &[Vec<Vec<u8>>]) -> Result<Vec<String>, NotExpressible> {
    let no = |m: &str| NotExpressible(m.to_string());
    let er = bewahr_core::ers::EvidenceRecord::from_der_checked(der)
        .map_err(|e| NotExpressible(format!("the record does not decode: {e}")))?;
    if er.archive_time_stamp_sequence.is_empty() {
        return Err(no("the record has no archive time-stamp"));
    }
    if er.crypto_infos.is_some() || er.encryption_info.is_some() {
        return Err(no("the record carries cryptoInfos or encryptionInfo"));
    }
    let mut out: Vec<String> = Vec::new();
    for (ci, chain) in er.archive_time_stamp_sequence.iter().enumerate() {
        let at = |k: usize| {
            if er.archive_time_stamp_sequence.len() == 1 {
                format!("archive time-stamp {}", k + 1)
            } else {
                format!("archive time-stamp {}.{}", ci + 1, k + 1)
            }
        };
        let mut alg = None;
        let mut stamps = String::new();
        let mut previous: Option<&[u8]> = None;
        for (k, ats) in chain.iter().enumerate() {
            if ats.attributes.is_some() {
                return Err(NotExpressible(format!("{} carries attributes", at(k))));
            }
            let token = ats.time_stamp.as_bytes();
            let info = bewahr_core::tsp::token::read_tst_info(token)
                .map_err(|e| NotExpressible(format!("the time-stamp of {}: {e}", at(k))))?;
            let a = DigestAlgorithm::from_oid(&info.message_imprint.hash_algorithm.oid)
                .map_err(|e| NotExpressible(format!("the imprint algorithm of {}: {e}", at(k))))?;
            if *alg.get_or_insert(a) != a {
                return Err(NotExpressible(format!(
                    "{} uses {a}, the chain {}: an RFC 6283 chain has one DigestMethod",
                    at(k),
                    alg.expect("set")
                )));
            }
            let tree = ats.reduced_tree_slices();
            // values computed here that the XML tree refers to
            let (da, dx, ha, y, plain);
            let lists = match previous {
                None if ci == 0 => tree,
                None => {
                    plain = rehashed.get(ci - 1).filter(|p| !p.is_empty()).ok_or_else(|| {
                        NotExpressible(format!(
                            "{} renewed the hash tree before renewals covered the XML form too (RFC 6283 4.2.2 needs the hash of the canonical earlier chains, this renewal covers their DER only); the record is given in RFC 4998 form only",
                            at(k)
                        ))
                    })?;
                    ha = a.digest(sequence_c14n(&out).as_bytes());
                    let x = hashtree_bridge(a, plain, &ha);
                    let mut tree = tree.unwrap_or_default().into_iter();
                    let first = tree.next().unwrap_or_default();
                    let second = tree.as_slice().first();
                    y = if first.len() == 2 && first.contains(&x.as_slice()) {
                        // one data object: {p_1, X}
                        first
                            .iter()
                            .find(|v| **v != x.as_slice())
                            .unwrap_or(&first[0])
                            .to_vec()
                    } else if first.len() >= 2
                        && second.is_some_and(|s| s.len() == 1 && s[0] == x.as_slice())
                    {
                        // a group: {p_1..p_n}, {X}
                        tree.next();
                        bewahr_core::hashtree::hash_sorted(a, &first)
                    } else {
                        return Err(NotExpressible(format!(
                            "{} is a hash-tree renewal whose tree does not hold the hash of the record's XML form (renewed before renewals were bridged, or for other data objects); the record is given in RFC 4998 form only",
                            at(k)
                        )));
                    };
                    let mut first: Vec<&[u8]> = plain.iter().map(Vec::as_slice).collect();
                    first.push(&ha);
                    let mut xml_tree = vec![first, vec![y.as_slice()]];
                    xml_tree.extend(tree);
                    Some(xml_tree)
                }
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
                            "{} renewed the time-stamp before renewals covered its XML form too (RFC 6283 4.2.1 needs the hash of the canonical <TimeStamp>, this renewal covers the DER only); the record is given in RFC 4998 form only",
                            at(k)
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
        let alg = alg.ok_or_else(|| no("a chain of the record has no archive time-stamp"))?;
        let dm = digest_uri(alg).ok_or_else(|| no("an imprint algorithm has no XML-DSig URI"))?;
        out.push(format!(
            r#"<ers:ArchiveTimeStampChain Order="{}"><ers:DigestMethod Algorithm="{dm}"></ers:DigestMethod><ers:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></ers:CanonicalizationMethod>{stamps}</ers:ArchiveTimeStampChain>"#,
            ci + 1
        ));
    }
    Ok(out)
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
        let e = from_der(&der, &[]).unwrap_err();
        assert!(e.0.contains("renewed"), "{e}");
        assert!(from_der(b"\x30\x00", &[]).is_err());
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

    /// A development TSA valid from ten days ago for 1,000 days, and that start.
    fn test_tsa() -> (bewahr_devtsa::DevTsa, time::OffsetDateTime) {
        let t0 = time::OffsetDateTime::now_utc() - time::Duration::days(10);
        let (tsa, _) =
            bewahr_devtsa::DevTsa::generate_valid_for(t0, time::Duration::days(1000)).unwrap();
        (tsa, t0)
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
        use time::Duration;
        let (tsa, t0) = test_tsa();
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
                        let xml = from_der(&der, &[]).unwrap();
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
                            let e = from_der(&der, &[]).unwrap_err();
                            assert!(e.0.contains("XML form too"), "{e}");
                        }
                    }
                }
            }
        }
    }

    /// Records renewed by a bridged hash-tree renewal (SHA-256 to SHA-512;
    /// a data object alone and a group of two; directly and after a bridged
    /// time-stamp renewal; with a time-stamp renewal on top) verify in both
    /// forms over their document and fail over another; the XML form is
    /// refused without the plain hashes and for an unbridged renewal.
    #[test]
    fn bridged_hash_tree_renewals_verify_in_both_forms() {
        use bewahr_core::ers::{encode_archive_time_stamp, encode_record, encode_sequence};
        use bewahr_core::hashtree::{bridged_head, bridged_leaf, HashTree, TreeBuilder};
        use bewahr_core::verify::{AlgorithmPolicy, InMemory, NoData};
        use time::Duration;
        let (tsa, t0) = test_tsa();
        let trusted = tsa.certificates().to_vec();
        let policy = AlgorithmPolicy::default();
        let opts = Options::new(&trusted, t0 + Duration::days(5), &policy);
        let (a1, a2) = (DigestAlgorithm::Sha256, DigestAlgorithm::Sha512);
        // the siblings of leaf i of a tree of single-hash leaves
        let siblings = |t: &HashTree, i: usize| -> Vec<Vec<u8>> {
            let Some(lists) = t.reduced(i).unwrap() else {
                return vec![];
            };
            let mut first = lists[0].clone();
            let me = first.iter().position(|v| *v == t.leaf(i)).unwrap();
            first.remove(me);
            first
                .into_iter()
                .chain(lists[1..].iter().flatten().copied())
                .map(<[u8]>::to_vec)
                .collect()
        };
        // document 0 has a group (document and salt), the others one value
        let docs: Vec<Vec<Vec<u8>>> = vec![
            vec![b"Bescheid A".to_vec(), b"salt of A".to_vec()],
            vec![b"Bescheid B".to_vec()],
            vec![b"Bescheid C".to_vec()],
        ];
        for renewed_first in [false, true] {
            for leaves in 1..=3usize {
                let docs = &docs[..leaves];
                let groups: Vec<Vec<Vec<u8>>> = docs
                    .iter()
                    .map(|g| g.iter().map(|d| a1.digest(d)).collect())
                    .collect();
                let t1 = HashTree::from_groups(a1, &groups).unwrap();
                let tok1 = tsa.timestamp(a1, t1.root(), None, t0).unwrap();
                let mut chains: Vec<Vec<Vec<Vec<u8>>>> = (0..leaves)
                    .map(|i| {
                        vec![vec![encode_archive_time_stamp(
                            a1,
                            t1.reduced(i).unwrap().as_deref(),
                            &tok1,
                        )]]
                    })
                    .collect();
                if renewed_first {
                    let (a, x) = renewal_bridge(a1, &tok1);
                    let rt = HashTree::from_groups(a1, &[vec![a, x]]).unwrap();
                    let tok = tsa
                        .timestamp(a1, rt.root(), None, t0 + Duration::days(1))
                        .unwrap();
                    let ats =
                        encode_archive_time_stamp(a1, rt.reduced(0).unwrap().as_deref(), &tok);
                    for c in &mut chains {
                        c[0].push(ats.clone());
                    }
                }
                // the hash-tree renewal, bridged
                let mut heads = vec![];
                let mut plains = vec![];
                let mut rb = TreeBuilder::with_capacity(a2, leaves);
                for (i, c) in chains.iter().enumerate() {
                    let der = encode_record(&[a1], &encode_sequence(c));
                    let had = a2.digest(&encode_sequence(c));
                    let plain: Vec<Vec<u8>> = docs[i].iter().map(|d| a2.digest(d)).collect();
                    let p: Vec<Vec<u8>> =
                        plain.iter().map(|h| a2.digest_parts(&[h, &had])).collect();
                    let hax = hashtree_renewal_hash(a2, &der, &[]).unwrap();
                    let x = hashtree_bridge(a2, &plain, &hax);
                    let pr: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
                    rb.push(&bridged_leaf(a2, &pr, &x)).unwrap();
                    heads.push((p, x));
                    plains.push(plain);
                }
                let rt = rb.build().unwrap();
                let tok2 = tsa
                    .timestamp(a2, rt.root(), None, t0 + Duration::days(2))
                    .unwrap();
                // and a time-stamp renewal of the new chain on top
                let (a, x) = renewal_bridge(a2, &tok2);
                let tt = HashTree::from_groups(a2, &[vec![a, x]]).unwrap();
                let tok3 = tsa
                    .timestamp(a2, tt.root(), None, t0 + Duration::days(3))
                    .unwrap();
                let ats3 = encode_archive_time_stamp(a2, tt.reduced(0).unwrap().as_deref(), &tok3);
                for (i, c) in chains.iter_mut().enumerate() {
                    let (p, x) = &heads[i];
                    let pr: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
                    let sibs = siblings(&rt, i);
                    let mut lists = bridged_head(&pr, x);
                    lists.extend(sibs.iter().map(|s| vec![s.as_slice()]));
                    c.push(vec![encode_archive_time_stamp(a2, Some(&lists), &tok2)]);
                    c[1].push(ats3.clone());
                }
                for (i, c) in chains.iter().enumerate() {
                    let der = encode_record(&[a1, a2], &encode_sequence(c));
                    let doc = &docs[i][0];
                    let d = verify::verify_der(&der, &mut InMemory(vec![doc.clone()]), &opts);
                    assert_eq!(d.indication, Indication::Passed, "{}", d.to_text());
                    let rehashed = vec![plains[i].clone()];
                    let xml = from_der(&der, &rehashed).unwrap();
                    let x = verify_xml(&xml, Some(std::slice::from_ref(doc)), &mut NoData, &opts);
                    assert_eq!(x.indication, Indication::Passed, "{}", x.to_text());
                    assert_eq!(
                        x.archive_time_stamps.len(),
                        2 + usize::from(renewed_first) + 1
                    );
                    let other = verify_xml(&xml, Some(&[b"other".to_vec()]), &mut NoData, &opts);
                    assert_eq!(other.indication, Indication::Failed);
                    let doc_xml = xml::parse(&xml).unwrap();
                    bewahr_xaip::schema::validate_against(
                        &doc_xml,
                        bewahr_xaip::schema::Schema::Ers,
                    )
                    .unwrap();
                    // the XML form needs the plain hashes, and the right ones
                    let e = from_der(&der, &[]).unwrap_err();
                    assert!(e.0.contains("hash tree"), "{e}");
                    let wrong = vec![vec![a2.digest(b"other")]];
                    let e = from_der(&der, &wrong).unwrap_err();
                    assert!(e.0.contains("does not hold"), "{e}");
                }
                // unbridged (RFC 4998 only): the leaf is the data objects' own
                if leaves == 1 {
                    let c = &chains[0];
                    let had = a2.digest(&encode_sequence(&c[..1]));
                    let g: Vec<Vec<u8>> = docs[0]
                        .iter()
                        .map(|d| a2.digest_parts(&[&a2.digest(d), &had]))
                        .collect();
                    let t = HashTree::from_groups(a2, &[g]).unwrap();
                    let tok = tsa
                        .timestamp(a2, t.root(), None, t0 + Duration::days(2))
                        .unwrap();
                    let unbridged = vec![
                        c[0].clone(),
                        vec![encode_archive_time_stamp(
                            a2,
                            t.reduced(0).unwrap().as_deref(),
                            &tok,
                        )],
                    ];
                    let der = encode_record(&[a1, a2], &encode_sequence(&unbridged));
                    let d =
                        verify::verify_der(&der, &mut InMemory(vec![docs[0][0].clone()]), &opts);
                    assert_eq!(d.indication, Indication::Passed, "{}", d.to_text());
                    let e = from_der(&der, &[plains[0].clone()]).unwrap_err();
                    assert!(e.0.contains("does not hold"), "{e}");
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
