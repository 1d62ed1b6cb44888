//! XML-DSig reference processing (XML-DSig 1.1 section 4.4.3): a
//! `ds:Reference`'s URI dereferenced, its transforms applied in order, the
//! result turned into octets and digested.
//!
//! Data flows as XML-DSig defines it, as a node-set or as octets
//! ([`Data`]). A node-set is a [`Selection`] of a document: the subtree a
//! same-document URI names, narrowed by the enveloped-signature transform
//! and by XPath Filter 2.0; libxml2 canonicalises exactly that set. What a
//! reference may point to:
//! - `""`: the whole document (comments removed);
//! - `#id`: the one element whose `Id`, `ID`, `id` or `xml:id` attribute
//!   is `id` (more than one such element is refused: the trace of a
//!   signature-wrapping attack);
//! - `#xpointer(/)`, `#xpointer(id('id'))`: the same with comments kept;
//! - anything else: data outside the XML, which only the caller resolves
//!   (the detached document, an ASiC data object); no file or URL is read.

use bewahr_core::alg::DigestAlgorithm;
use bewahr_xaip::xml::{self, C14n, FilterOp, NodeId, Selection};
use libxml::tree::{Document, Node};

use crate::uris;

/// Why a reference could not be processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefError {
    /// The data it points to is not there (EN 319 102-1: SIGNED_DATA_NOT_FOUND).
    NotFound(String),
    /// A transform, URI form or algorithm this validator does not process.
    Unsupported(String),
    /// The reference or what it points to is malformed or ambiguous.
    Malformed(String),
}

impl std::fmt::Display for RefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefError::NotFound(m) | RefError::Unsupported(m) | RefError::Malformed(m) => {
                f.write_str(m)
            }
        }
    }
}

/// What flows between transforms.
enum Data {
    /// A node-set of the signature's document (`own: None`) or of XML
    /// parsed from octets along the way.
    Nodes {
        own: Option<Document>,
        sel: Selection,
    },
    Octets(Vec<u8>),
}

/// A processed reference.
pub struct Processed {
    /// The digest algorithm and the digest value the reference states.
    pub algorithm: DigestAlgorithm,
    pub stated: Vec<u8>,
    /// The digest of the data after the transforms.
    pub computed: Vec<u8>,
    /// The element a same-document reference points to.
    pub target: Option<NodeId>,
    /// The URI, when it points outside the XML.
    pub external: Option<String>,
}

/// A document's elements by their ID and what the canonical writer needs
/// to know of it ([`xml::index`]), built once per document and shared by
/// all its references.
pub type IdIndex<'d> = xml::DocIndex<'d>;

/// The element whose ID attribute is `id`, exactly one.
pub fn by_id(ids: &IdIndex, id: &str) -> Result<NodeId, RefError> {
    let found = ids.ids.get(id).map(Vec::as_slice).unwrap_or_default();
    match found.len() {
        0 => Err(RefError::NotFound(format!("no element has the ID {id:?}"))),
        1 => Ok(found[0]),
        n => Err(RefError::Malformed(format!(
            "{n} elements carry the ID {id:?}: the reference is ambiguous and refused (the trace of a signature-wrapping attack)"
        ))),
    }
}

/// The namespaces in scope at `node` (prefix, URI), nearest declaration first.
fn in_scope(node: &Node) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    let mut n = Some(node.clone());
    while let Some(cur) = n {
        for ns in cur.get_namespace_declarations() {
            let p = ns.get_prefix();
            if !out.iter().any(|(q, _)| *q == p) {
                out.push((p, ns.get_href()));
            }
        }
        n = cur.get_parent();
    }
    out
}

/// Exclusive C14N's `ec:InclusiveNamespaces/@PrefixList` under `method`.
pub fn inclusive_prefixes(method: &Node) -> Vec<String> {
    method
        .get_child_elements()
        .iter()
        .filter(|c| c.get_name() == "InclusiveNamespaces")
        .filter(|c| {
            c.get_namespace()
                .is_some_and(|n| n.get_href() == uris::EXC_C14N)
        })
        .filter_map(|c| c.get_attribute("PrefixList"))
        .flat_map(|l| {
            l.split_ascii_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Dereferences `uri` (section 4.4.3.2, 4.4.3.3).
fn dereference(
    ids: &IdIndex,
    uri: Option<&str>,
    external: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Data, Option<NodeId>, Option<String>), RefError> {
    let Some(uri) = uri else {
        // the application is to know; in the documents bewahr sees there is
        // nothing it could mean but the detached data
        return match external("") {
            Some(b) => Ok((Data::Octets(b), None, Some(String::new()))),
            None => Err(RefError::NotFound(
                "a reference without URI, and no detached data was given".into(),
            )),
        };
    };
    let nodes =
        |sel: Selection, target: Option<NodeId>| Ok((Data::Nodes { own: None, sel }, target, None));
    if uri.is_empty() {
        return nodes(Selection::document(), None);
    }
    if let Some(frag) = uri.strip_prefix('#') {
        if frag == "xpointer(/)" {
            let mut sel = Selection::document();
            sel.comments = true;
            return nodes(sel, None);
        }
        if let Some(id) = frag
            .strip_prefix("xpointer(id(")
            .and_then(|r| r.strip_suffix("))"))
        {
            let id = id.trim_matches(['\'', '"']);
            let el = by_id(ids, id)?;
            let mut sel = Selection::subtree_of(el);
            sel.comments = true;
            return nodes(sel, Some(el));
        }
        if frag.starts_with("xpointer(") {
            return Err(RefError::Unsupported(format!(
                "the XPointer {frag:?} (only #xpointer(/) and #xpointer(id('...')) are processed)"
            )));
        }
        return match by_id(ids, frag) {
            Ok(el) => nodes(Selection::subtree_of(el), Some(el)),
            // a signature taken out of its package (an XAIP credential)
            // may name a data object of the package by its ID: the caller
            // resolves that like external data
            Err(RefError::NotFound(m)) => match external(uri) {
                Some(b) => Ok((Data::Octets(b), None, Some(uri.to_string()))),
                None => Err(RefError::NotFound(m)),
            },
            Err(e) => Err(e),
        };
    }
    match external(uri) {
        Some(b) => Ok((Data::Octets(b), None, Some(uri.to_string()))),
        None => Err(RefError::NotFound(format!(
            "the referenced data {uri:?} is not there (a detached signature needs its document beside it)"
        ))),
    }
}

/// The string value of a node-set (section 6.6.2: the base64 transform's
/// input): the text of the selected element. Only whole subtrees are taken.
fn string_value(
    doc: &Document,
    sel: &Selection,
    target: Option<NodeId>,
) -> Result<String, RefError> {
    if sel.is_plain() {
        return Ok(match target {
            Some(t) => xml::text_of(doc, t),
            None => doc
                .get_root_element()
                .map(|r| xml::text_of(doc, NodeId::of(&r)))
                .unwrap_or_default(),
        });
    }
    Err(RefError::Unsupported(
        "the base64 transform over a filtered node-set".into(),
    ))
}

fn canonical(
    doc: &Document,
    index: &IdIndex,
    sel: &Selection,
    alg: C14n,
    prefixes: &[String],
) -> Result<Vec<u8>, RefError> {
    // the index describes the signature's document; XML parsed from octets
    // along the way is canonicalised without it
    xml::canonicalize_direct(doc, Some(index), sel, alg, prefixes)
        .map_err(|e| RefError::Malformed(format!("canonicalisation: {e}")))
}

/// One XPath Filter 2.0 transform's steps, evaluated on `doc`.
fn filter2(doc: &Document, transform: &Node) -> Result<Vec<(FilterOp, Vec<Node>)>, RefError> {
    let mut steps = vec![];
    for x in transform.get_child_elements() {
        if !xml::is(&x, uris::FILTER2, "XPath") {
            continue;
        }
        let op = match x.get_attribute("Filter").as_deref() {
            Some("intersect") => FilterOp::Intersect,
            Some("subtract") => FilterOp::Subtract,
            Some("union") => FilterOp::Union,
            other => {
                return Err(RefError::Malformed(format!(
                    "XPath Filter 2.0: Filter {other:?} (intersect, subtract or union)"
                )))
            }
        };
        let expr = x.get_content();
        let ctx = libxml::xpath::Context::new(doc)
            .map_err(|_| RefError::Malformed("XPath context".into()))?;
        for (p, href) in in_scope(&x) {
            if !p.is_empty() {
                let _ = ctx.register_namespace(&p, &href);
            }
        }
        let found = ctx.evaluate(expr.trim()).map_err(|_| {
            RefError::Unsupported(format!(
                "XPath Filter 2.0 expression {:?} cannot be evaluated here",
                expr.trim()
            ))
        })?;
        steps.push((op, found.get_nodes_as_vec()));
    }
    if steps.is_empty() {
        return Err(RefError::Malformed(
            "XPath Filter 2.0 transform without an XPath".into(),
        ));
    }
    Ok(steps)
}

/// Processes one `ds:Reference` of `signature` (section 4.4.3).
pub fn process(
    doc: &Document,
    ids: &IdIndex,
    signature: &Node,
    reference: &Node,
    external: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Processed, RefError> {
    let ds = |n: &Node, local: &str| xml::child(n, uris::DS, local);
    let method = ds(reference, "DigestMethod")
        .and_then(|m| m.get_attribute("Algorithm"))
        .ok_or_else(|| RefError::Malformed("a reference without DigestMethod".into()))?;
    let algorithm = uris::digest(&method)
        .ok_or_else(|| RefError::Unsupported(format!("the digest method {method}")))?;
    let stated = ds(reference, "DigestValue")
        .map(|v| uris::base64(&v.get_content()))
        .ok_or_else(|| RefError::Malformed("a reference without DigestValue".into()))?
        .map_err(|e| RefError::Malformed(format!("DigestValue is not base64: {e}")))?;
    let uri = reference.get_attribute("URI");
    let (mut data, target, ext) = dereference(ids, uri.as_deref(), external)?;
    let transforms: Vec<Node> = ds(reference, "Transforms")
        .map(|t| xml::children(&t, uris::DS, "Transform").collect())
        .unwrap_or_default();
    if transforms.len() > 16 {
        return Err(RefError::Malformed(format!(
            "{} transforms on one reference",
            transforms.len()
        )));
    }
    for t in &transforms {
        let alg = t.get_attribute("Algorithm").unwrap_or_default();
        // octets into a transform that takes a node-set: parsed first
        // (section 4.4.3.2), with the same doors shut
        if let Data::Octets(b) = &data {
            if alg == uris::FILTER2 || C14n::from_uri(&alg).is_some() {
                let parsed = xml::parse(b)
                    .map_err(|e| RefError::Malformed(format!("the referenced data as XML: {e}")))?;
                let mut sel = Selection::document();
                sel.comments = true;
                data = Data::Nodes {
                    own: Some(parsed),
                    sel,
                };
            }
        }
        data = match (alg.as_str(), data) {
            (uris::ENVELOPED, Data::Nodes { own: None, mut sel }) => {
                sel.without(signature);
                Data::Nodes { own: None, sel }
            }
            (uris::ENVELOPED, _) => {
                return Err(RefError::Malformed(
                    "the enveloped-signature transform on data outside the signature's document"
                        .into(),
                ))
            }
            (uris::FILTER2, Data::Nodes { own, mut sel }) => {
                let steps = filter2(own.as_ref().unwrap_or(doc), t)?;
                sel.filter(steps);
                Data::Nodes { own, sel }
            }
            (a, Data::Nodes { own, sel }) if C14n::from_uri(a).is_some() => {
                let c = C14n::from_uri(a).expect("checked");
                Data::Octets(canonical(
                    own.as_ref().unwrap_or(doc),
                    ids,
                    &sel,
                    c,
                    &inclusive_prefixes(t),
                )?)
            }
            (uris::BASE64, Data::Nodes { own, sel }) => {
                let text = string_value(own.as_ref().unwrap_or(doc), &sel, target)?;
                Data::Octets(
                    uris::base64(&text)
                        .map_err(|e| RefError::Malformed(format!("base64 transform: {e}")))?,
                )
            }
            (uris::BASE64, Data::Octets(b)) => {
                let text = String::from_utf8(b)
                    .map_err(|_| RefError::Malformed("base64 transform: not text".into()))?;
                Data::Octets(
                    uris::base64(&text)
                        .map_err(|e| RefError::Malformed(format!("base64 transform: {e}")))?,
                )
            }
            (uris::XPATH, _) => {
                return Err(RefError::Unsupported(
                    "the XPath 1.0 transform (XPath Filter 2.0 is processed)".into(),
                ))
            }
            (other, _) => return Err(RefError::Unsupported(format!("the transform {other:?}"))),
        };
    }
    let octets = match data {
        Data::Octets(b) => b,
        // a node-set at the end is canonicalised with C14N 1.0 (section 4.4.3.2)
        Data::Nodes { own, sel } => canonical(
            own.as_ref().unwrap_or(doc),
            ids,
            &sel,
            C14n::Inclusive10 { comments: false },
            &[],
        )?,
    };
    Ok(Processed {
        computed: algorithm.digest(&octets),
        algorithm,
        stated,
        target,
        external: ext,
    })
}
