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
        no_def_dtd: true,
        no_error: true,
        no_warning: true,
        pedantic: false,
        no_blanks: false,
        no_net: true,
        no_implied: false,
        huge: false,
        compact: false,
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
    let (mode, comments) = alg.mode();
    let mut out: Vec<u8> = Vec::new();
    let apex: xmlNodePtr = element.node_ptr();
    // SAFETY: the output buffer's context is `out`, which lives until the
    // buffer is closed below; libxml2 calls `collect` only with that
    // context and a valid (pointer, length). The visibility callback gets
    // `apex` as user data and only follows `parent` pointers of nodes of
    // the live document.
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
            Some(in_subtree),
            apex as *mut c_void,
            mode,
            std::ptr::null_mut(),
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

/// Visible when the node (for a namespace node: its element) is the apex
/// or below it.
unsafe extern "C" fn in_subtree(apex: *mut c_void, node: xmlNodePtr, parent: xmlNodePtr) -> c_int {
    // SAFETY: libxml2 hands nodes of the document being canonicalised;
    // `type_` is at the same offset in `xmlNode` and `xmlNs`.
    unsafe {
        let mut n = if node.is_null() || (*node).type_ == XML_NAMESPACE_DECL {
            parent
        } else {
            node
        };
        let apex = apex as xmlNodePtr;
        while !n.is_null() {
            if n == apex {
                return 1;
            }
            n = (*n).parent;
        }
    }
    0
}

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
