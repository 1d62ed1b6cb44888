//! Writing S.4 responses: the SOAP 1.1 envelope, `dss:Result`, faults.
//!
//! Responses are written as text by this small writer rather than through
//! a DOM: they are flat, their shape is fixed by the schema (the tests
//! validate every response against it), and a base64 document of many
//! megabytes goes straight into the output buffer.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::codes::{Outcome, API};
use super::message::{Op, SOAP11};

/// XML text with the five predefined entities escaped (`&`, `<`, `>`,
/// quotes), and characters XML 1.0 cannot carry dropped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An element with text content: `<name>text</name>`.
pub fn leaf(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&esc(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `dss:Result`.
pub fn result(out: &mut String, o: &Outcome) {
    out.push_str("<dss:Result>");
    leaf(out, "dss:ResultMajor", &o.major.uri());
    if let Some(m) = o.minor {
        leaf(out, "dss:ResultMinor", &m.uri());
    }
    if let Some(msg) = &o.message {
        out.push_str("<dss:ResultMessage xml:lang=\"en\">");
        out.push_str(&esc(msg));
        out.push_str("</dss:ResultMessage>");
    }
    out.push_str("</dss:Result>");
}

const NAMESPACES: &str = concat!(
    " xmlns:tr=\"http://www.bsi.bund.de/tr-esor/api/1.3\"",
    " xmlns:dss=\"urn:oasis:names:tc:dss:1.0:core:schema\"",
    " xmlns:xaip=\"http://www.bsi.bund.de/tr-esor/xaip\"",
    " xmlns:pres=\"http://uri.etsi.org/19512/v1.1.2#\"",
    " xmlns:md=\"http://docs.oasis-open.org/dss-x/ns/metadata\"",
    " xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\""
);

/// A whole response: the envelope, the operation's response element (all
/// namespaces declared on it, so it stands alone), `dss:Result`, then
/// `body` (the operation's own elements, already written).
pub fn envelope(op: Op, request_id: Option<&str>, outcome: &Outcome, body: &str) -> Response {
    let (prefix, local) = op.response_element();
    let mut out = String::with_capacity(512 + body.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push_str("<soap:Envelope xmlns:soap=\"");
    out.push_str(SOAP11);
    out.push_str("\"><soap:Body><");
    out.push_str(prefix);
    out.push(':');
    out.push_str(&local);
    out.push_str(NAMESPACES);
    if let Some(id) = request_id {
        out.push_str(" RequestID=\"");
        out.push_str(&esc(id));
        out.push('"');
    }
    out.push_str(" Profile=\"");
    out.push_str(API);
    out.push_str("\">");
    result(&mut out, outcome);
    out.push_str(body);
    out.push_str("</");
    out.push_str(prefix);
    out.push(':');
    out.push_str(&local);
    out.push_str("></soap:Body></soap:Envelope>");
    xml_response(StatusCode::OK, out)
}

/// A SOAP 1.1 fault (HTTP 500, as SOAP 1.1 section 6.2 requires).
/// `code` is `Client`, `Server`, `VersionMismatch` or `MustUnderstand`.
pub fn fault(code: &str, reason: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{SOAP11}\"><soap:Body><soap:Fault><faultcode>soap:{}</faultcode><faultstring xml:lang=\"en\">{}</faultstring></soap:Fault></soap:Body></soap:Envelope>",
        esc(code),
        esc(reason)
    );
    xml_response(StatusCode::INTERNAL_SERVER_ERROR, body)
}

pub fn xml_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_namespaces_are_the_ones_the_parser_reads() {
        use super::super::message::{DSS, PRES, TR, XAIP};
        for ns in [TR, DSS, XAIP, PRES] {
            assert!(NAMESPACES.contains(&format!("=\"{ns}\"")), "{ns}");
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
