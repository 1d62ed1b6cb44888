//! The XML binding of ETSI TS 119 512: SOAP 1.2, document/literal, at
//! `POST /pres/soap`; the WSDL at `GET /pres/soap?wsdl` (as BSI's
//! transformator publishes it, with this server's addresses), its schemas
//! below `/pres/schemas/`.
//!
//! A request is read in one synchronous step (libxml2 documents are not
//! `Send`) and validated against the TS's schema (imported by S.4's, which
//! is loaded once); the answer is written as text, like S.4's.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::Engine;
use bytes::Bytes;

use super::codes::{PresMinor, PresResult};
use super::run::{self, Answer, Ask, Evidence, OptIn, Po, PoData, PresOp, Request};
use crate::access::Principal;
use crate::api::AppState;
use crate::s4::respond::{esc, leaf};
use bewahr_xaip::schema::{self, Schema};
use bewahr_xaip::xml::{self, C14n};
use libxml::tree::Node;

pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const PRES: &str = "http://uri.etsi.org/19512/v1.1.2#";
const DSB: &str = "http://docs.oasis-open.org/dss-x/ns/base";
const MD: &str = "http://docs.oasis-open.org/dss-x/ns/metadata";
const WSDL: &str = "tr-esor-1.3/19512-Preservation-API_V.1.1.2.wsdl";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Why a message cannot be answered as its operation.
enum Unreadable {
    /// Not a SOAP 1.2 message of this interface: a SOAP fault
    /// (`VersionMismatch`, `MustUnderstand`, `Sender`).
    Fault(&'static str, String),
    /// An operation whose request breaks the rules: its answer with this
    /// result.
    Result(PresOp, Option<String>, PresResult),
}

fn text(n: &Node) -> String {
    n.get_content().trim().to_string()
}

fn opt(el: &Node, local: &str) -> Option<String> {
    xml::child(el, PRES, local).map(|n| text(&n))
}

fn po_of(doc: &libxml::tree::Document, el: &Node) -> Result<Po, String> {
    let data = if let Some(b) = xml::child(el, PRES, "binaryData") {
        let t: String = b
            .get_content()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        PoData::Binary(
            b64()
                .decode(t.as_bytes())
                .map_err(|e| format!("binaryData is not base64: {e}"))?,
        )
    } else if let Some(x) = xml::child(el, PRES, "xmlData") {
        let inner = x
            .get_child_elements()
            .into_iter()
            .next()
            .ok_or("xmlData holds no element")?;
        // the element taken out with the namespaces in scope (as S.4 does)
        PoData::Xml(
            xml::canonicalize(doc, &inner, C14n::Inclusive10 { comments: true })
                .map_err(|e| e.to_string())?,
        )
    } else {
        return Err("a PO holds binaryData or xmlData".into());
    };
    Ok(Po {
        data,
        format_id: el.get_attribute("FormatId"),
        mime_type: el.get_attribute("MimeType"),
        id: el.get_attribute("ID"),
        rel_obj: el
            .get_attribute("RelatedObjects")
            .map(|r| r.split_whitespace().map(String::from).collect())
            .unwrap_or_default(),
    })
}

fn read(body: &[u8]) -> Result<Request, Unreadable> {
    let fault = |m: String| Unreadable::Fault("Sender", m);
    let doc = xml::parse(body).map_err(|e| fault(e.to_string()))?;
    let root = doc
        .get_root_element()
        .ok_or_else(|| fault("no root element".into()))?;
    if xml::is(&root, SOAP11, "Envelope") {
        return Err(Unreadable::Fault(
            "VersionMismatch",
            "this is a SOAP 1.1 envelope; the TS 119 512 binding speaks SOAP 1.2 (S.4, SOAP 1.1, is at /s4)".into(),
        ));
    }
    if !xml::is(&root, SOAP12, "Envelope") {
        return Err(fault("the message is not a SOAP 1.2 envelope".into()));
    }
    if let Some(h) = xml::child(&root, SOAP12, "Header") {
        for e in h.get_child_elements() {
            let must = e
                .get_attribute_ns("mustUnderstand", SOAP12)
                .is_some_and(|v| matches!(v.trim(), "1" | "true"));
            if must {
                let (local, ns) = xml::name(&e);
                return Err(Unreadable::Fault(
                    "MustUnderstand",
                    format!(
                        "the header {{{}}}{local} is not understood",
                        ns.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    let body_el = xml::child(&root, SOAP12, "Body")
        .ok_or_else(|| fault("the envelope has no Body".into()))?;
    let elements = body_el.get_child_elements();
    let [el] = elements.as_slice() else {
        return Err(fault(
            "the Body must hold exactly one request element".into(),
        ));
    };
    let op = PresOp::ALL
        .into_iter()
        .find(|op| xml::is(el, PRES, op.name()))
        .ok_or_else(|| {
            let (local, ns) = xml::name(el);
            fault(format!(
                "{{{}}}{local} is not a request of ETSI TS 119 512",
                ns.unwrap_or_default()
            ))
        })?;
    let req_id = el.get_attribute("RequestID");
    let result = |minor: PresMinor, m: String| {
        Unreadable::Result(op, req_id.clone(), PresResult::error(minor, m))
    };
    if let Err(e) = schema::validate_element(el, Schema::S4) {
        // a package that is not valid is the PO's fault
        let with_xml = xml::children(el, PRES, "PO")
            .chain(xml::children(el, PRES, "DeltaPOC"))
            .any(|p| xml::child(&p, PRES, "xmlData").is_some());
        let minor = match op {
            PresOp::PreservePo if with_xml => PresMinor::PoFormatError,
            PresOp::UpdatePoc if with_xml => PresMinor::DeltaPocInternalProblem,
            _ => PresMinor::ParameterError,
        };
        return Err(result(minor, e.to_string()));
    }
    let mut opt_in = OptIn::default();
    if let Some(o) = xml::child(el, PRES, "OptionalInputs") {
        for c in o.get_child_elements() {
            if xml::is(&c, DSB, "ServicePolicy") {
                opt_in.policy.push(text(&c));
            } else if xml::is(&c, DSB, "Language") {
                // answers are in English; a preferred language changes nothing
            } else if xml::is(&c, DSB, "Other") {
                let v = xml::child(&c, DSB, "Value")
                    .map(|v| text(&v))
                    .unwrap_or_default();
                let v: String = v.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                opt_in.other.push(b64().decode(v.as_bytes()).map_err(|e| {
                    result(
                        PresMinor::ParameterError,
                        format!("dsb:Other/dsb:Value is not base64: {e}"),
                    )
                })?);
            } else {
                return Err(result(
                    PresMinor::NotSupported,
                    format!("the optional input {} is not supported", c.get_name()),
                ));
            }
        }
    }
    let required = |local: &str| {
        opt(el, local)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| result(PresMinor::ParameterError, format!("{local} is required")))
    };
    let pos = |local: &str| -> Result<Vec<Po>, Unreadable> {
        xml::children(el, PRES, local)
            .map(|p| po_of(&doc, &p))
            .collect::<Result<_, _>>()
            .map_err(|m| result(PresMinor::ParameterError, m))
    };
    let ask = match op {
        PresOp::RetrieveInfo => Ask::RetrieveInfo {
            profile: opt(el, "Profile"),
            status: opt(el, "Status"),
        },
        PresOp::PreservePo => Ask::Preserve {
            profile: opt(el, "Profile"),
            pos: pos("PO")?,
        },
        PresOp::RetrievePo => Ask::Retrieve {
            po_id: required("POID")?,
            versions: xml::children(el, PRES, "VersionID")
                .map(|v| text(&v))
                .collect(),
            sor: opt(el, "SubjectOfRetrieval"),
            po_format: opt(el, "POFormat"),
            ev_format: opt(el, "EvidenceFormat"),
        },
        PresOp::DeletePo => Ask::Delete {
            po_id: required("POID")?,
            mode: opt(el, "Mode"),
            requestor: opt(el, "ClaimedRequestorName"),
            reason: opt(el, "Reason"),
        },
        PresOp::UpdatePoc => Ask::Update {
            po_id: required("POID")?,
            delta: pos("DeltaPOC")?,
        },
        PresOp::RetrieveTrace => Ask::Trace {
            po_id: required("POID")?,
        },
        PresOp::ValidateEvidence => {
            let evidence = match xml::child(el, PRES, "Evidence") {
                None => None,
                Some(e) => Some(Evidence {
                    po: po_of(&doc, &e).map_err(|m| result(PresMinor::ParameterError, m))?,
                    po_id: e.get_attribute("POID"),
                    ver_id: e.get_attribute("VersionID"),
                }),
            };
            Ask::Validate {
                evidence,
                pos: pos("PO")?,
            }
        }
        PresOp::Search => Ask::Search {
            filter: required("Filter")?,
        },
    };
    Ok(Request {
        op,
        req_id,
        opt_in,
        ask,
    })
}

/// `POST /pres/soap`: one request.
pub async fn call(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let read = match tokio::task::spawn_blocking(move || read(&body)).await {
        Ok(r) => r,
        Err(e) => return fault("Receiver", &format!("reading the request failed: {e}")),
    };
    let (op, req_id, answer) = match read {
        Err(Unreadable::Fault(code, why)) => return fault(code, &why),
        Err(Unreadable::Result(op, req_id, r)) => (op, req_id, Answer::of(r)),
        Ok(req) => {
            // an action, if sent (SOAP 1.2: in the media type), must name the body's operation
            let action = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|ct| {
                    ct.split(';')
                        .map(str::trim)
                        .find_map(|p| p.strip_prefix("action="))
                        .map(|a| a.trim_matches('"').to_string())
                });
            if let Some(a) = action.filter(|a| !a.is_empty()) {
                if a != format!("{PRES}{}", req.op.name()) {
                    return fault(
                        "Sender",
                        &format!(
                            "the action {a} does not match the body's {} request",
                            req.op.name()
                        ),
                    );
                }
            }
            let a = run::run(&state, &principal, &req).await;
            (req.op, req.req_id, a)
        }
    };
    let mut resp = envelope(op, req_id.as_deref(), &answer);
    super::audit(&mut resp, "TS 119 512 SOAP", op, &answer);
    resp
}

fn fault(code: &str, reason: &str) -> Response {
    let status = if code == "Receiver" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope xmlns:env=\"{SOAP12}\"><env:Body><env:Fault><env:Code><env:Value>env:{code}</env:Value></env:Code><env:Reason><env:Text xml:lang=\"en\">{}</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>",
        esc(reason)
    );
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Whether `s` can be an `xs:ID` (an NCName, ASCII here).
fn is_ncname(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || "_-.".contains(x))
}

fn po(out: &mut String, element: &str, p: &Po, extra: &str) {
    out.push('<');
    out.push_str(element);
    if let Some(f) = &p.format_id {
        out.push_str(&format!(" FormatId=\"{}\"", esc(f)));
    }
    if let Some(m) = &p.mime_type {
        out.push_str(&format!(" MimeType=\"{}\"", esc(m)));
    }
    if let Some(i) = p.id.as_ref().filter(|i| is_ncname(i)) {
        out.push_str(&format!(" ID=\"{}\"", esc(i)));
    }
    out.push_str(extra);
    out.push('>');
    match &p.data {
        PoData::Binary(b) => {
            out.push_str("<pres:binaryData>");
            out.push_str(&b64().encode(b));
            out.push_str("</pres:binaryData>");
        }
        PoData::Xml(x) => {
            out.push_str("<pres:xmlData>");
            let text = String::from_utf8_lossy(x);
            // no XML declaration inside the message
            let text = match text.trim_start().strip_prefix("<?xml") {
                Some(rest) => rest
                    .split_once("?>")
                    .map(|(_, r)| r.to_string())
                    .unwrap_or_default(),
                None => text.to_string(),
            };
            out.push_str(&text);
            out.push_str("</pres:xmlData>");
        }
    }
    out.push_str("</");
    out.push_str(element);
    out.push('>');
}

/// The whole answer: the envelope, the response element (namespaces on
/// it), optional outputs, `dsb:Result`, the operation's elements.
fn envelope(op: PresOp, req_id: Option<&str>, a: &Answer) -> Response {
    let mut out = String::with_capacity(1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push_str(&format!(
        "<env:Envelope xmlns:env=\"{SOAP12}\"><env:Body><pres:{}Response xmlns:pres=\"{PRES}\" xmlns:dsb=\"{DSB}\" xmlns:md=\"{MD}\"",
        op.name()
    ));
    if let Some(r) = req_id {
        out.push_str(&format!(" RequestID=\"{}\"", esc(r)));
    }
    out.push('>');
    if !a.other.is_empty() {
        out.push_str("<pres:OptionalOutputs>");
        for x in &a.other {
            out.push_str("<dsb:Other MimeType=\"application/xml\"><dsb:Value>");
            out.push_str(&b64().encode(x.as_bytes()));
            out.push_str("</dsb:Value></dsb:Other>");
        }
        out.push_str("</pres:OptionalOutputs>");
    }
    out.push_str("<dsb:Result>");
    leaf(&mut out, "dsb:ResultMajor", a.result.major);
    if let Some(m) = &a.result.minor {
        leaf(&mut out, "dsb:ResultMinor", m);
    }
    if let Some(m) = &a.result.message {
        out.push_str("<dsb:ResultMessage xml:lang=\"en\">");
        out.push_str(&esc(m));
        out.push_str("</dsb:ResultMessage>");
    }
    out.push_str("</dsb:Result>");
    match op {
        PresOp::RetrieveInfo => {
            for p in &a.profiles {
                p.xml(&mut out);
            }
        }
        PresOp::PreservePo => {
            if let Some(id) = &a.po_id {
                leaf(&mut out, "pres:POID", id);
            }
        }
        PresOp::RetrievePo => {
            for p in &a.pos {
                po(&mut out, "pres:PO", p, "");
            }
        }
        PresOp::UpdatePoc => {
            if let Some(v) = &a.version_id {
                leaf(&mut out, "pres:VersionID", v);
            }
        }
        PresOp::RetrieveTrace => {
            out.push_str("<pres:Trace>");
            for e in a.trace.iter().flatten() {
                out.push_str("<pres:Event>");
                leaf(&mut out, "pres:Time", &e.time);
                leaf(&mut out, "pres:Subject", &e.subject);
                leaf(&mut out, "pres:Operation", &e.operation);
                if let Some(o) = &e.object {
                    leaf(&mut out, "pres:Object", o);
                }
                leaf(&mut out, "pres:Detail", &e.detail);
                out.push_str("</pres:Event>");
            }
            out.push_str("</pres:Trace>");
        }
        PresOp::ValidateEvidence => {
            if let Some(r) = &a.val_rep {
                po(&mut out, "pres:ValidationReport", r, "");
            }
            if let Some(t) = &a.poe {
                leaf(&mut out, "pres:ProofOfExistence", t);
            }
        }
        PresOp::Search => {
            for id in &a.search {
                leaf(&mut out, "pres:POID", id);
            }
        }
        PresOp::DeletePo => {}
    }
    out.push_str(&format!(
        "</pres:{}Response></env:Body></env:Envelope>",
        op.name()
    ));
    (
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        out,
    )
        .into_response()
}

/// The TS's WSDL with this server's addresses: its service at
/// `/pres/soap`, its schemas at `/pres/schemas/...` (served as published).
pub fn wsdl(base: &str) -> String {
    let original = bewahr_xaip::schema::file(WSDL).expect("the TS 119 512 WSDL is embedded");
    let text = String::from_utf8_lossy(original);
    text.replace(
        "<xsd:include schemaLocation=\"19512-Preservation-API_V.1.1.2.xsd\"/>",
        &format!("<xsd:include schemaLocation=\"{base}/pres/schemas/tr-esor-1.3/19512-Preservation-API_V.1.1.2.xsd\"/>"),
    )
    .replace(
        "<xsd:include schemaLocation=\"tr-esor-interfaces-v1.3.xsd\" />",
        &format!("<xsd:include schemaLocation=\"{base}/pres/schemas/tr-esor-1.3/tr-esor-interfaces-v1.3.xsd\" />"),
    )
    .replace(
        "<soap12:address location=\"http://127.0.0.1:18080\"/>",
        &format!("<soap12:address location=\"{base}/pres/soap\"/>"),
    )
}

/// `GET /pres/soap?wsdl`; without the query, a pointer to it.
pub async fn get(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let base = crate::s4::wsdl::base_url(&state, &headers);
    if q.is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        (
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            wsdl(&base),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("ETSI TS 119 512 (SOAP 1.2): POST requests here; the WSDL is at {base}/pres/soap?wsdl; the JSON binding at {base}/pres/{{operation}}\n"),
        )
            .into_response()
    }
}

/// Whether a response envelope's body element is valid against the TS's
/// schema, taken out of the envelope: for tests of the responses.
pub fn response_is_valid(envelope: &[u8]) -> Result<(), String> {
    let doc = xml::parse(envelope).map_err(|e| e.to_string())?;
    let root = doc.get_root_element().ok_or("no root")?;
    let body = xml::child(&root, SOAP12, "Body").ok_or("no Body")?;
    let el = body
        .get_child_elements()
        .into_iter()
        .next()
        .ok_or("an empty Body")?;
    let alone = xml::canonicalize(&doc, &el, C14n::Inclusive10 { comments: false })
        .map_err(|e| e.to_string())?;
    crate::s4::message::document_is_valid(&alone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wsdl_points_at_this_server() {
        let w = wsdl("https://archiv.example");
        assert!(w.contains("<soap12:address location=\"https://archiv.example/pres/soap\"/>"));
        assert!(w.contains(
            "https://archiv.example/pres/schemas/tr-esor-1.3/19512-Preservation-API_V.1.1.2.xsd"
        ));
        assert!(w.contains(
            "https://archiv.example/pres/schemas/tr-esor-1.3/tr-esor-interfaces-v1.3.xsd"
        ));
        assert!(!w.contains("127.0.0.1:18080"));
        // (the EvidenceExchange include at ETSI's forge is commented out in the WSDL)
        for loc in crate::s4::wsdl::imports(&w)
            .into_iter()
            .filter(|l| !l.starts_with("https://forge.etsi.org/"))
        {
            let path = loc
                .strip_prefix("https://archiv.example/pres/schemas/")
                .unwrap_or_else(|| panic!("{loc} is not served here"));
            assert!(bewahr_xaip::schema::file(path).is_some(), "{path}");
        }
    }

    #[test]
    fn soap_11_and_strangers_are_faults() {
        assert!(matches!(
            read(format!("<e:Envelope xmlns:e=\"{SOAP11}\"><e:Body/></e:Envelope>").as_bytes()),
            Err(Unreadable::Fault("VersionMismatch", _))
        ));
        assert!(matches!(
            read(
                format!("<e:Envelope xmlns:e=\"{SOAP12}\"><e:Body><x/></e:Body></e:Envelope>")
                    .as_bytes()
            ),
            Err(Unreadable::Fault("Sender", _))
        ));
    }
}
