//! XML through libxml2: parsing with the doors shut (no DTDs, no entities
//! from outside, no network), and canonicalisation of an element's subtree
//! (W3C C14N 1.0, C14N 1.1 and Exclusive C14N 1.0, with or without
//! comments) as a document subset, exactly per the specifications.
//!
//! Why this module calls `xmlC14NExecute` itself rather than the `libxml`
//! crate's `Node::canonicalize`: the crate collects libxml2's output
//! through `String::from_utf8_lossy` chunk by chunk, and libxml2 cuts its
//! output into chunks at byte counts, not character boundaries; a German
//! umlaut that falls on a cut would come out as U+FFFD and the hash would
//! be wrong. Here the bytes are collected as bytes.

use std::ffi::{c_char, c_int, c_void};

use libxml::bindings::{
    xmlC14NExecute, xmlDocPtr, xmlNodePtr, xmlOutputBufferClose, xmlOutputBufferCreateIO,
};
use libxml::parser::{Parser, ParserOptions};
use libxml::tree::{Document, Node};

mod tree_c14n;

/// A canonicalisation algorithm, by its URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum C14n {
    /// `http://www.w3.org/TR/2001/REC-xml-c14n-20010315` (`#WithComments`)
    Inclusive10 { comments: bool },
    /// `http://www.w3.org/2006/12/xml-c14n11` (`#WithComments`)
    Inclusive11 { comments: bool },
    /// `http://www.w3.org/2001/10/xml-exc-c14n#` (`#WithComments`)
    Exclusive10 { comments: bool },
}

impl C14n {
    /// TR-ESOR-F: without a `ds:CanonicalizationMethod` in the package
    /// header, inclusive C14N 1.0 without comments applies.
    pub const TR_ESOR_DEFAULT: C14n = C14n::Inclusive10 { comments: false };

    /// The algorithm a URI names, or `None` for one that is not a C14N.
    pub fn from_uri(uri: &str) -> Option<C14n> {
        Some(match uri.trim() {
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315" => {
                C14n::Inclusive10 { comments: false }
            }
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments" => {
                C14n::Inclusive10 { comments: true }
            }
            "http://www.w3.org/2006/12/xml-c14n11" => C14n::Inclusive11 { comments: false },
            "http://www.w3.org/2006/12/xml-c14n11#WithComments" => {
                C14n::Inclusive11 { comments: true }
            }
            "http://www.w3.org/2001/10/xml-exc-c14n#" => C14n::Exclusive10 { comments: false },
            "http://www.w3.org/2001/10/xml-exc-c14n#WithComments" => {
                C14n::Exclusive10 { comments: true }
            }
            _ => return None,
        })
    }

    /// libxml2's mode number and whether comments are kept.
    fn mode(self) -> (c_int, bool) {
        // xmlC14NMode: XML_C14N_1_0 = 0, XML_C14N_EXCLUSIVE_1_0 = 1, XML_C14N_1_1 = 2
        match self {
            C14n::Inclusive10 { comments } => (0, comments),
            C14n::Exclusive10 { comments } => (1, comments),
            C14n::Inclusive11 { comments } => (2, comments),
        }
    }
}

/// What can go wrong with XML.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    #[error("documents with a DTD (<!DOCTYPE ...>) are refused")]
    Dtd,
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("canonicalisation failed")]
    C14n,
}

/// The largest document parsed at all (libxml2 takes lengths as `int`).
pub const MAX_DOCUMENT: usize = i32::MAX as usize;

/// Parses `bytes` strictly: no recovery from errors, no network, no DTD
/// (a document that declares one is refused: entity expansion and
/// external entities are not this archive's business), no entity
/// substitution, libxml2's default limits (no `XML_PARSE_HUGE`).
pub fn parse(bytes: &[u8]) -> Result<Document, XmlError> {
    if bytes.len() > MAX_DOCUMENT {
        return Err(XmlError::TooLarge(MAX_DOCUMENT));
    }
    crate::schema::init_libxml2();
    let parser = Parser::default();
    let opts = ParserOptions {
        recover: false,
        // not `true`: the libxml crate maps it to bit 4, which for the XML
        // parser is XML_PARSE_DTDLOAD (HTML's "no default doctype"): a
        // `<!DOCTYPE r SYSTEM "/local/path">` would have had a local file
        // read before the document is refused for its DTD
        no_def_dtd: false,
        no_error: true,
        no_warning: true,
        pedantic: false,
        no_blanks: false,
        no_net: true,
        no_implied: false,
        huge: false,
        // short text nodes kept inside their node: fewer allocations
        // (a third of a large document's parse time is malloc and free)
        compact: true,
        ignore_enc: false,
        encoding: None,
    };
    let doc = parser
        .parse_string_with_options(bytes, opts)
        .map_err(|e| XmlError::Malformed(format!("{e:?}")))?;
    if has_dtd(&doc) {
        return Err(XmlError::Dtd);
    }
    if doc.get_root_element().is_none() {
        return Err(XmlError::Malformed("no root element".into()));
    }
    Ok(doc)
}

fn has_dtd(doc: &Document) -> bool {
    let p: xmlDocPtr = doc.doc_ptr();
    // SAFETY: `p` is the live document `doc` owns; reading two pointer
    // fields does not outlive it.
    unsafe { !(*p).intSubset.is_null() || !(*p).extSubset.is_null() }
}

/// The canonical form of `element` and its subtree, as the document subset
/// the XPath `(//. | //@* | //namespace::*)[ancestor-or-self::node() = E]`
/// selects (XML-DSig's same-document reference to an element): with
/// inclusive C14N the namespaces in scope from the ancestors are rendered
/// on the element, with exclusive C14N only those it visibly uses.
pub fn canonicalize(doc: &Document, element: &Node, alg: C14n) -> Result<Vec<u8>, XmlError> {
    let mut subtree = Selection::subtree(element);
    subtree.comments = true;
    canonicalize_selection(doc, &subtree, alg, &[])
}

/// How an XPath Filter 2.0 step combines its node-set with the filter so
/// far (XML-DSig XPath Filter 2.0, section 3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterOp {
    Intersect,
    Subtract,
    Union,
}

/// A node-set of a document as XML-DSig's reference processing makes it:
/// the subtree a same-document URI selects, narrowed by the transforms
/// (enveloped-signature, XPath Filter 2.0) in their order.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `#id`: only this element's subtree; `None`: the whole document (`URI=""`).
    apex: Option<usize>,
    /// One entry per transform: its steps, each with the roots of the
    /// subtrees its XPath selected (node pointers, as identities).
    transforms: Vec<Vec<(FilterOp, Vec<usize>)>>,
    /// Comments stay in (an XPointer reference); `URI=""` and `#id` drop them.
    pub comments: bool,
}

impl Selection {
    /// The whole document (`URI=""`), without comments.
    pub fn document() -> Self {
        Selection::default()
    }

    /// The subtree of `element` (`URI="#id"`), without comments.
    pub fn subtree(element: &Node) -> Self {
        Self::subtree_of(NodeId::of(element))
    }

    /// The subtree of the element `id` names.
    pub fn subtree_of(id: NodeId) -> Self {
        Selection {
            apex: Some(id.0),
            ..Selection::default()
        }
    }

    /// The enveloped-signature transform: the signature element's subtree is
    /// removed.
    pub fn without(&mut self, element: &Node) {
        self.transforms.push(vec![(
            FilterOp::Subtract,
            vec![element.node_ptr() as usize],
        )]);
    }

    /// One XPath Filter 2.0 transform: its steps, each with the nodes its
    /// expression selected (their subtrees count).
    pub fn filter(&mut self, steps: Vec<(FilterOp, Vec<Node>)>) {
        self.transforms.push(
            steps
                .into_iter()
                .map(|(op, nodes)| {
                    let mut roots: Vec<usize> =
                        nodes.iter().map(|n| n.node_ptr() as usize).collect();
                    roots.sort_unstable();
                    (op, roots)
                })
                .collect(),
        );
    }

    /// No transform has narrowed it: the whole document or one subtree.
    pub fn is_plain(&self) -> bool {
        self.transforms.is_empty()
    }

    /// Whether a node (an element, attribute, text ..., or a namespace node
    /// given as its element) is in the set.
    fn contains(&self, node: xmlNodePtr) -> bool {
        // whether the node or an ancestor is one of `roots` (sorted)
        let under = |roots: &[usize]| {
            let mut n = node;
            while !n.is_null() {
                if roots.binary_search(&(n as usize)).is_ok() {
                    return true;
                }
                // SAFETY: `n` is a node of the live document being
                // canonicalised; only its `parent` pointer is read.
                n = unsafe { (*n).parent };
            }
            false
        };
        self.apex.is_none_or(|apex| under(&[apex]))
            && self.transforms.iter().all(|steps| {
                steps.iter().fold(true, |f, (op, roots)| match op {
                    FilterOp::Intersect => f && under(roots),
                    FilterOp::Subtract => f && !under(roots),
                    FilterOp::Union => f || under(roots),
                })
            })
    }
}

/// An element of a parsed document by its identity (the document must
/// outlive its use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(usize);

impl NodeId {
    pub fn of(node: &Node) -> NodeId {
        NodeId(node.node_ptr() as usize)
    }
}

/// The children of a node, in document order.
///
/// # Safety
/// `n` is a node of a live document that outlives the call.
unsafe fn child_nodes(n: xmlNodePtr) -> Vec<xmlNodePtr> {
    let mut out = vec![];
    // SAFETY: see above; only `children` and `next` are read.
    unsafe {
        let mut c = (*n).children;
        while !c.is_null() {
            out.push(c);
            c = (*c).next;
        }
    }
    out
}

/// Whether the C string `p` (NULL counts as no string) is `s`, compared
/// byte by byte up to the first difference: most names differ from the one
/// sought in their first byte, and a `strlen` and `memcmp` per element of
/// a large document cost more than that.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives the call; `s`
/// holds no NUL.
unsafe fn c_eq(p: *const u8, s: &[u8]) -> bool {
    if p.is_null() {
        return false;
    }
    // SAFETY: see above; reading stops at the first byte that differs from
    // `s`, at the latest at the string's NUL.
    unsafe {
        for (i, &b) in s.iter().enumerate() {
            if *p.add(i) != b {
                return false;
            }
        }
        *p.add(s.len()) == 0
    }
}

const XML_ELEMENT_NODE: u32 = 1;
const XML_ATTRIBUTE_NODE: u32 = 2;
const XML_TEXT_NODE: u32 = 3;
const XML_CDATA_SECTION_NODE: u32 = 4;
const XML_NS: &[u8] = b"http://www.w3.org/XML/1998/namespace";

/// What one walk over a parsed document finds that signature validation
/// asks for again and again: the elements by the value of their ID
/// attribute (`Id`, `ID`, `id` without namespace, or `xml:id`: what an
/// XML-DSig `#id` reference names), and whether every namespace
/// declaration is one the direct canonical writer takes (so that it need
/// not walk the whole document again for each `#id` reference: libxml2
/// refuses a relative namespace URI anywhere in the document, whatever the
/// node-set). Borrows the document it describes.
pub struct DocIndex<'d> {
    doc: &'d Document,
    /// The elements by ID value, in document order.
    pub ids: std::collections::HashMap<String, Vec<NodeId>>,
    namespaces_plain: bool,
}

impl DocIndex<'_> {
    /// Whether this index describes `doc`.
    fn describes(&self, doc: &Document) -> bool {
        self.doc.doc_ptr() == doc.doc_ptr()
    }
}

/// Builds the [`DocIndex`] of `doc` in one walk over the tree (an XPath
/// query per reference costs a walk each, and allocates on every
/// attribute).
pub fn index(doc: &Document) -> DocIndex<'_> {
    let mut out = DocIndex {
        doc,
        ids: Default::default(),
        namespaces_plain: true,
    };
    let Some(root) = doc.get_root_element() else {
        return out;
    };
    let mut stack: Vec<xmlNodePtr> = vec![root.node_ptr()];
    // SAFETY: the walk follows `children`, `next`, `properties` and
    // `nsDef` of the live document `doc`, which is borrowed for the whole
    // call; names and values are NUL-terminated strings libxml2 owns.
    unsafe {
        while let Some(n) = stack.pop() {
            if !(*n).nsDef.is_null() && !tree_c14n::declarations_plain(n) {
                out.namespaces_plain = false;
            }
            let mut a = (*n).properties;
            while !a.is_null() {
                let name = (*a).name;
                let ns = (*a).ns;
                let is_id = if ns.is_null() {
                    c_eq(name, b"Id") || c_eq(name, b"ID") || c_eq(name, b"id")
                } else {
                    c_eq(name, b"id") && c_eq((*ns).href, XML_NS)
                };
                if is_id {
                    let mut value = Vec::new();
                    let mut t = (*a).children;
                    while !t.is_null() {
                        if !(*t).content.is_null() {
                            value.extend_from_slice(
                                std::ffi::CStr::from_ptr((*t).content as *const c_char).to_bytes(),
                            );
                        }
                        t = (*t).next;
                    }
                    out.ids
                        .entry(String::from_utf8_lossy(&value).into_owned())
                        .or_default()
                        .push(NodeId(n as usize));
                }
                a = (*a).next;
            }
            let mut c = (*n).children;
            while !c.is_null() {
                if (*c).type_ == XML_ELEMENT_NODE {
                    stack.push(c);
                }
                c = (*c).next;
            }
        }
    }
    out
}

/// The elements named `local` in namespace `ns` that are not inside
/// another one (a signature's counter-signatures stay with it), in
/// document order. One walk over the tree; an XPath `//` query costs
/// several times as much on a large document.
pub fn outermost(doc: &Document, ns: &str, local: &str) -> Vec<Node> {
    let Some(root) = doc.get_root_element() else {
        return vec![];
    };
    let mut found: Vec<Vec<xmlNodePtr>> = vec![];
    // (node, path from the root to it)
    let mut stack: Vec<(xmlNodePtr, usize)> = vec![(root.node_ptr(), 0)];
    let mut path: Vec<xmlNodePtr> = vec![];
    // SAFETY: the walk follows `children`, `next`, `name` and `ns` of the
    // live document `doc`, borrowed for the whole call.
    unsafe {
        while let Some((n, depth)) = stack.pop() {
            path.truncate(depth);
            path.push(n);
            let nsp = (*n).ns;
            let matches = c_eq((*n).name, local.as_bytes())
                && !nsp.is_null()
                && c_eq((*nsp).href, ns.as_bytes());
            if matches {
                found.push(path.clone());
                continue;
            }
            // children in reverse, so that they come off the stack in
            // document order
            let mark = stack.len();
            let mut c = (*n).children;
            while !c.is_null() {
                if (*c).type_ == XML_ELEMENT_NODE {
                    stack.push((c, depth + 1));
                }
                c = (*c).next;
            }
            stack[mark..].reverse();
        }
    }
    // the libxml crate hands out nodes of a document only by walking it:
    // follow each path from the root
    found
        .iter()
        .filter_map(|p| {
            let mut cur = root.clone();
            for want in &p[1..] {
                let mut c = cur.get_first_child();
                while let Some(x) = &c {
                    if x.node_ptr() == *want {
                        break;
                    }
                    c = x.get_next_sibling();
                }
                cur = c?;
            }
            Some(cur)
        })
        .collect()
}

/// The text of the element `id` names and its descendants (XPath's
/// string-value of an element); `_doc` is the document it is in, borrowed
/// so that it lives while the element is read.
pub fn text_of(_doc: &Document, id: NodeId) -> String {
    let mut out = Vec::new();
    let mut stack: Vec<xmlNodePtr> = vec![id.0 as xmlNodePtr];
    // SAFETY: `id` names an element of `doc`, borrowed for the call; the
    // walk reads `children`, `next`, `type_` and `content`. The stack
    // holds siblings in reverse so the text comes out in document order.
    unsafe {
        while let Some(n) = stack.pop() {
            match (*n).type_ {
                XML_TEXT_NODE | XML_CDATA_SECTION_NODE if !(*n).content.is_null() => {
                    out.extend_from_slice(
                        std::ffi::CStr::from_ptr((*n).content as *const c_char).to_bytes(),
                    );
                }
                XML_ELEMENT_NODE => stack.extend(child_nodes(n).into_iter().rev()),
                _ => {}
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical form of a [`Selection`] of `doc` with `alg`;
/// `inclusive_prefixes` is exclusive C14N's `InclusiveNamespaces
/// PrefixList` (`#default` for the default namespace).
pub fn canonicalize_selection(
    doc: &Document,
    selection: &Selection,
    alg: C14n,
    inclusive_prefixes: &[String],
) -> Result<Vec<u8>, XmlError> {
    let (mode, comments) = alg.mode();
    let comments = comments && selection.comments;
    let prefixes: Vec<std::ffi::CString> = inclusive_prefixes
        .iter()
        .map(|p| std::ffi::CString::new(p.as_str()).map_err(|_| XmlError::C14n))
        .collect::<Result<_, _>>()?;
    let mut prefix_ptrs: Vec<*mut u8> = prefixes
        .iter()
        .map(|p| p.as_ptr() as *mut u8)
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect();
    let mut out: Vec<u8> = Vec::new();
    // SAFETY: the output buffer's context is `out`, which lives until the
    // buffer is closed below; libxml2 calls `collect` only with that
    // context and a valid (pointer, length). The visibility callback's
    // user data is `selection`, which outlives the call, and reads only
    // `parent` and `type_` of the document's nodes; `prefix_ptrs` is a
    // NULL-terminated array of C strings that live in `prefixes` until the
    // call returns.
    let rc = unsafe {
        let buf = xmlOutputBufferCreateIO(
            Some(collect),
            None,
            &mut out as *mut Vec<u8> as *mut c_void,
            std::ptr::null_mut(),
        );
        if buf.is_null() {
            return Err(XmlError::C14n);
        }
        let rc = xmlC14NExecute(
            doc.doc_ptr(),
            Some(in_selection),
            selection as *const Selection as *mut c_void,
            mode,
            if inclusive_prefixes.is_empty() || mode != 1 {
                std::ptr::null_mut()
            } else {
                prefix_ptrs.as_mut_ptr()
            },
            c_int::from(comments),
            buf,
        );
        let closed = xmlOutputBufferClose(buf);
        if closed < 0 {
            return Err(XmlError::C14n);
        }
        rc
    };
    if rc < 0 {
        return Err(XmlError::C14n);
    }
    Ok(out)
}

/// The canonical form of a [`Selection`], as [`canonicalize_selection`]
/// gives it, written by this crate's own writer from libxml2's tree where
/// that covers the node-set (the whole document or a subtree, less whole
/// subtrees: what XML signatures' references and `ds:SignedInfo` ask for)
/// and by libxml2 otherwise. The same bytes either way; several times
/// faster on large documents (see [`tree_c14n`]). XML signature
/// validation uses it; the archive's own hashes of XAIP content stay with
/// [`canonicalize_selection`].
///
/// `index`, the document's [`DocIndex`] if the caller has it, saves the
/// writer a walk over the rest of the document for an `#id` node-set.
pub fn canonicalize_direct(
    doc: &Document,
    index: Option<&DocIndex>,
    selection: &Selection,
    alg: C14n,
    inclusive_prefixes: &[String],
) -> Result<Vec<u8>, XmlError> {
    let checked = match index {
        Some(i) if i.describes(doc) => {
            if !i.namespaces_plain {
                return canonicalize_selection(doc, selection, alg, inclusive_prefixes);
            }
            true
        }
        _ => false,
    };
    match tree_c14n::write(doc, selection, alg, inclusive_prefixes, checked) {
        Some(out) => Ok(out),
        None => canonicalize_selection(doc, selection, alg, inclusive_prefixes),
    }
}

/// Visible when the node (for a namespace node: its element) is in the selection.
unsafe extern "C" fn in_selection(
    selection: *mut c_void,
    node: xmlNodePtr,
    parent: xmlNodePtr,
) -> c_int {
    // SAFETY: see `canonicalize_selection`; `type_` is at the same offset
    // in `xmlNode` and `xmlNs`.
    unsafe {
        // a namespace node or an attribute is in the set with its element
        let n = if node.is_null()
            || (*node).type_ == XML_NAMESPACE_DECL
            || (*node).type_ == XML_ATTRIBUTE_NODE
        {
            parent
        } else {
            node
        };
        let sel = &*(selection as *const Selection);
        c_int::from(sel.contains(n))
    }
}

/// libxml2's write callback: appends the bytes to the `Vec<u8>` context.
unsafe extern "C" fn collect(ctx: *mut c_void, buffer: *const c_char, len: c_int) -> c_int {
    if ctx.is_null() || len < 0 {
        return -1;
    }
    // SAFETY: see `canonicalize`: `ctx` is the `Vec<u8>`, `buffer` holds `len` bytes.
    unsafe {
        let out = &mut *(ctx as *mut Vec<u8>);
        out.extend_from_slice(std::slice::from_raw_parts(
            buffer as *const u8,
            len as usize,
        ));
    }
    len
}

/// XML_NAMESPACE_DECL: libxml2 passes namespace nodes (an `xmlNs`, whose
/// second field is its type like an `xmlNode`'s) with their element as
/// `parent`.
const XML_NAMESPACE_DECL: u32 = 18;

/// The element's local name and namespace URI.
pub fn name(node: &Node) -> (String, Option<String>) {
    (node.get_name(), node.get_namespace().map(|n| n.get_href()))
}

/// Whether `node` is the element `local` in namespace `ns`.
pub fn is(node: &Node, ns: &str, local: &str) -> bool {
    node.is_element_node()
        && node.get_name() == local
        && node.get_namespace().is_some_and(|n| n.get_href() == ns)
}

/// The child elements of `node` named `local` in `ns`.
pub fn children<'a>(
    node: &'a Node,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node> + 'a {
    node.get_child_elements()
        .into_iter()
        .filter(move |c| is(c, ns, local))
}

/// The first child element of `node` named `local` in `ns`.
pub fn child(node: &Node, ns: &str, local: &str) -> Option<Node> {
    children(node, ns, local).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str, path: &[&str], alg: C14n) -> String {
        let doc = parse(xml.as_bytes()).unwrap();
        let mut n = doc.get_root_element().unwrap();
        for p in path {
            n = n
                .get_child_elements()
                .into_iter()
                .find(|c| c.get_name() == *p)
                .unwrap();
        }
        String::from_utf8(canonicalize(&doc, &n, alg).unwrap()).unwrap()
    }

    const NESTED: &str = r#"<a:root xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><a:child z="2" y="1"><inner/><!-- c --></a:child></a:root>"#;

    #[test]
    fn inclusive_subtree_carries_the_namespaces_in_scope() {
        assert_eq!(
            c14n(NESTED, &["child"], C14n::Inclusive10 { comments: false }),
            r#"<a:child xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" y="1" z="2"><inner></inner></a:child>"#
        );
    }

    #[test]
    fn exclusive_subtree_carries_only_the_namespaces_it_uses() {
        assert_eq!(
            c14n(NESTED, &["child"], C14n::Exclusive10 { comments: false }),
            r#"<a:child xmlns:a="urn:a" y="1" z="2"><inner xmlns="urn:d"></inner></a:child>"#
        );
        assert_eq!(
            c14n(NESTED, &["child"], C14n::Exclusive10 { comments: true }),
            r#"<a:child xmlns:a="urn:a" y="1" z="2"><inner xmlns="urn:d"></inner><!-- c --></a:child>"#
        );
    }

    #[test]
    fn multibyte_characters_survive_libxml2s_output_chunks() {
        // far more than libxml2's 4000-byte output chunks, with a two-byte
        // character at every odd offset
        let text = "ü".repeat(20_000);
        let xml = format!("<r><t>{text}</t></r>");
        let out = c14n(&xml, &["t"], C14n::Exclusive10 { comments: false });
        assert_eq!(out, format!("<t>{text}</t>"));
    }

    #[test]
    fn hostile_documents_are_refused() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>"#;
        assert!(matches!(parse(laughs.as_bytes()), Err(XmlError::Dtd)));
        let external = r#"<?xml version="1.0"?><!DOCTYPE l SYSTEM "http://example.org/x.dtd"><l/>"#;
        assert!(matches!(parse(external.as_bytes()), Err(XmlError::Dtd)));
        // a local external DTD is not even read: a broken one would make
        // the document malformed if it were
        let dir = std::env::temp_dir().join(format!("bewahr-dtd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dtd = dir.join("broken.dtd");
        std::fs::write(&dtd, "<!ENTITY % broken \"unterminated").unwrap();
        let local = format!(
            r#"<?xml version="1.0"?><!DOCTYPE l SYSTEM "{}"><l/>"#,
            dtd.display()
        );
        let refused = parse(local.as_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(refused, Err(XmlError::Dtd)), "{:?}", refused.err());
        assert!(matches!(parse(b"<a><b></a>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b""), Err(XmlError::Malformed(_))));
        // deep nesting: libxml2's default depth limit (256 without XML_PARSE_HUGE)
        let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn algorithm_uris() {
        assert_eq!(
            C14n::from_uri("http://www.w3.org/2001/10/xml-exc-c14n#"),
            Some(C14n::Exclusive10 { comments: false })
        );
        assert_eq!(
            C14n::from_uri("http://www.w3.org/2000/09/xmldsig#sha1"),
            None
        );
    }
}
