//! Reading discrete data out of an archived package by XPath (TR-ESOR-E
//! 1.3 section 3.6, ArchiveData), with libxml2's XPath 1.0.
//!
//! TR-ESOR-E names XPath 2.0 (`http://www.w3.org/TR/2007/REC-xpath20-20070123/`)
//! and leaves the detail to the product: bewahr evaluates the expression
//! as XPath 1.0, which is what libxml2 (the library every XML step of
//! bewahr uses) offers; XPath 2.0's additions (sequences, `if`, typed
//! functions) are refused as malformed expressions.

use libxml::tree::NodeType;
use libxml::xpath::Context;

use crate::xml::{self, C14n, XmlError};

/// The most items one expression may select.
pub const MAX_ITEMS: usize = 10_000;

/// One item an expression selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selected {
    /// An element, canonicalised (inclusive C14N 1.0 without comments: the
    /// namespaces in scope declared on it, so it stands on its own).
    Element(Vec<u8>),
    /// An attribute's or a text node's value, or the value of an
    /// expression that is a string, number or boolean.
    Text(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("the expression {expression:?} is not an XPath 1.0 expression this archive evaluates: {reason}")]
    Expression { expression: String, reason: String },
    #[error("the expression selects more than {MAX_ITEMS} items")]
    TooMany,
}

/// What `expression` selects in `package`, its prefixes bound by
/// `namespaces` (prefix, namespace). An empty list: nothing matched.
pub fn select(
    package: &[u8],
    expression: &str,
    namespaces: &[(String, String)],
) -> Result<Vec<Selected>, SelectError> {
    let doc = xml::parse(package)?;
    let bad = |reason: String| SelectError::Expression {
        expression: expression.chars().take(200).collect(),
        reason,
    };
    let ctx = Context::new(&doc).map_err(|_| bad("no XPath context".into()))?;
    for (prefix, href) in namespaces {
        if !prefix.is_empty() {
            ctx.register_namespace(prefix, href)
                .map_err(|_| bad(format!("the prefix {prefix} cannot be bound")))?;
        }
    }
    let found = ctx
        .evaluate_checked(expression)
        .map_err(|e| bad(e.to_string()))?;
    let nodes = found.get_nodes_as_vec();
    if nodes.is_empty() {
        // a string, number or boolean, or an empty node-set (which casts to "")
        let text = found.to_string();
        return Ok(if text.is_empty() {
            vec![]
        } else {
            vec![Selected::Text(text)]
        });
    }
    if nodes.len() > MAX_ITEMS {
        return Err(SelectError::TooMany);
    }
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        out.push(match n.get_type() {
            Some(NodeType::ElementNode) => Selected::Element(xml::canonicalize(
                &doc,
                &n,
                C14n::Inclusive10 { comments: false },
            )?),
            _ => Selected::Text(n.get_content()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = r#"<x:XAIP xmlns:x="urn:x" xmlns:m="urn:m"><x:h><x:r>2100-01-01</x:r></x:h><x:o id="a"><m:v k="1">eins</m:v></x:o></x:XAIP>"#;

    fn ns() -> Vec<(String, String)> {
        vec![("p".into(), "urn:x".into()), ("m".into(), "urn:m".into())]
    }

    #[test]
    fn elements_attributes_text_and_values() {
        let s = select(X.as_bytes(), "//p:r", &ns()).unwrap();
        assert_eq!(
            s,
            [Selected::Element(
                br#"<x:r xmlns:m="urn:m" xmlns:x="urn:x">2100-01-01</x:r>"#.to_vec()
            )]
        );
        assert_eq!(
            select(X.as_bytes(), "//m:v/@k", &ns()).unwrap(),
            [Selected::Text("1".into())]
        );
        assert_eq!(
            select(X.as_bytes(), "string(//p:o[@id='a']/m:v)", &ns()).unwrap(),
            [Selected::Text("eins".into())]
        );
        assert_eq!(
            select(X.as_bytes(), "count(//p:o)", &ns()).unwrap(),
            [Selected::Text("1".into())]
        );
        assert!(select(X.as_bytes(), "//p:nothing", &ns())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_expressions_and_unbound_prefixes_are_refused() {
        for e in ["//p:r[", "//q:r", "for $i in (1,2) return $i"] {
            assert!(
                matches!(
                    select(X.as_bytes(), e, &ns()),
                    Err(SelectError::Expression { .. })
                ),
                "{e}"
            );
        }
    }
}
