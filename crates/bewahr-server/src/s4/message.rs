//! Reading an S.4 request: the SOAP 1.1 envelope, the operation's element
//! (validated against `tr-esor-interfaces-v1.3.xsd`), its parameters and
//! its `dss:OptionalInputs`, into plain Rust values.
//!
//! libxml2's documents are not `Send`, so everything is read here, in one
//! synchronous step, before the service is called.

use base64::Engine;
use bewahr_xaip::schema::{self, Schema};
use bewahr_xaip::xml::{self, C14n};
use libxml::tree::{Document, Node};

use super::codes::{Minor, Outcome};

pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const TR: &str = "http://www.bsi.bund.de/tr-esor/api/1.3";
pub const DSS: &str = "urn:oasis:names:tc:dss:1.0:core:schema";
pub const XAIP: &str = "http://www.bsi.bund.de/tr-esor/xaip";
pub const PRES: &str = "http://uri.etsi.org/19512/v1.1.2#";
pub const VR: &str = "urn:oasis:names:tc:dss-x:1.0:profiles:verificationreport:schema#";
/// OASIS DSS 1.0's signature policy profile (`VerifyUnderSignaturePolicy`).
const SIGPOL: &str = "urn:oasis:names:tc:dss:1.0:profiles:SignaturePolicy:schema#";
/// The signature policy of TR-ESOR-E for Verify (also with `/DE/`, as
/// TR-ESOR-E writes it, and its `/shell` and `/chain` forms).
const VERIFY_XAIP_POLICY: &str = "http://www.bsi.bund.de/tr-esor/sigpolicy/verify-xaip";

/// The nine operations of `tr-esor-S-4-v1.3.wsdl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    RetrieveInfo,
    ArchiveSubmission,
    ArchiveUpdate,
    ArchiveRetrieval,
    ArchiveEvidence,
    ArchiveDeletion,
    ArchiveData,
    Verify,
    ArchiveTrace,
}

impl Op {
    pub const ALL: [Op; 9] = [
        Op::RetrieveInfo,
        Op::ArchiveSubmission,
        Op::ArchiveUpdate,
        Op::ArchiveRetrieval,
        Op::ArchiveEvidence,
        Op::ArchiveDeletion,
        Op::ArchiveData,
        Op::Verify,
        Op::ArchiveTrace,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::RetrieveInfo => "RetrieveInfo",
            Op::ArchiveSubmission => "ArchiveSubmission",
            Op::ArchiveUpdate => "ArchiveUpdate",
            Op::ArchiveRetrieval => "ArchiveRetrieval",
            Op::ArchiveEvidence => "ArchiveEvidence",
            Op::ArchiveDeletion => "ArchiveDeletion",
            Op::ArchiveData => "ArchiveData",
            Op::Verify => "Verify",
            Op::ArchiveTrace => "ArchiveTrace",
        }
    }

    /// The request element: `(namespace, local name)`.
    fn request_element(self) -> (&'static str, String) {
        match self {
            Op::Verify => (DSS, "VerifyRequest".into()),
            op => (TR, format!("{}Request", op.name())),
        }
    }

    /// The response element: `(prefix, local name)` (`tr` or `dss`).
    pub fn response_element(self) -> (&'static str, String) {
        match self {
            Op::Verify => ("dss", "VerifyResponse".into()),
            op => ("tr", format!("{}Response", op.name())),
        }
    }

    /// The WSDL's soapAction.
    pub fn soap_action(self) -> String {
        format!("http://www.bsi.bund.de/tr-esor/{}", self.name())
    }
}

/// One `tr:ArchiveData` of a submission.
#[derive(Clone, Debug)]
pub struct ArchiveData {
    pub type_uri: String,
    pub id: String,
    pub mime_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The optional inputs of ArchiveSubmission and ArchiveUpdate that
/// TR-ESOR-E names (A3.1.1-1).
#[derive(Clone, Debug, Default)]
pub struct SubmitOptions {
    /// `xaip:AOID`: the AOID the caller chose for the new object.
    pub aoid: Option<String>,
    /// `vr:ReturnVerificationReport`.
    pub report: bool,
    /// `tr:ImportEvidence`: records of an earlier archive to import.
    pub import: Vec<crate::service::Import>,
}

pub(crate) fn submit_options(el: &Node, aoid_allowed: bool) -> Result<SubmitOptions, Outcome> {
    use crate::service::Import;
    let known: &[(&str, &str)] = if aoid_allowed {
        &[
            (XAIP, "AOID"),
            (VR, "ReturnVerificationReport"),
            (TR, "ImportEvidence"),
        ]
    } else {
        &[(VR, "ReturnVerificationReport"), (TR, "ImportEvidence")]
    };
    let inputs = optional_inputs(el, known)?;
    let mut import = vec![];
    for i in inputs.iter().filter(|n| xml::is(n, TR, "ImportEvidence")) {
        for c in i.get_child_elements() {
            if xml::is(&c, TR, "CredentialID") {
                import.push(Import::Credential(text(&c)));
            } else if xml::is(&c, XAIP, "evidenceRecord") {
                let Some(a) = xml::child(&c, XAIP, "asn1EvidenceRecord") else {
                    return Err(Outcome::error(
                        Minor::NotSupported,
                        "evidence records in their XML form (RFC 6283) are not imported by this version of bewahr; give the asn1EvidenceRecord",
                    ));
                };
                import.push(Import::Record {
                    version: c.get_attribute("VersionID"),
                    der: b64("asn1EvidenceRecord", &a.get_content())?,
                });
            }
        }
    }
    Ok(SubmitOptions {
        aoid: input(&inputs, XAIP, "AOID"),
        report: inputs
            .iter()
            .any(|n| xml::is(n, VR, "ReturnVerificationReport")),
        import,
    })
}

/// One `tr:DataLocation` of an ArchiveDataRequest.
#[derive(Clone, Debug)]
pub struct DataLocation {
    /// `@Type`: how the location is given (XPath).
    pub type_uri: Option<String>,
    /// The expression: the text of the location's child element (TR-ESOR-E:
    /// an `XPathFilter`), or its own text.
    pub expression: String,
    /// The namespaces in scope where the expression is written, which bind
    /// its prefixes (as XML-DSig binds an XPath filter's).
    pub namespaces: Vec<(String, String)>,
}

/// One `dss:Document` of a VerifyRequest.
#[derive(Clone, Debug)]
pub struct InputDocument {
    /// `InlineXML` (the element taken out as an XAIP is), `Base64XML` or
    /// `Base64Data` (decoded).
    pub bytes: Vec<u8>,
}

/// A VerifyRequest's `dss:SignatureObject`.
#[derive(Clone, Debug)]
pub enum SignatureInput {
    /// A signature detached over the document: `dss:Base64Signature`'s
    /// bytes (CMS, or an XML signature), or a `ds:Signature` (XAdES) as a
    /// document of its own (its inclusive canonical form with comments,
    /// taken in place, so that the namespaces in scope come with it).
    Signature(Vec<u8>),
    /// The `xaip:evidenceRecord`s in `dss:Other` (each one's
    /// `asn1EvidenceRecord`), e.g. one per version (C.2 M-ADD-01).
    Records(Vec<GivenRecord>),
}

/// An `xaip:evidenceRecord` given to Verify.
#[derive(Clone, Debug)]
pub struct GivenRecord {
    pub aoid: Option<String>,
    pub version: Option<String>,
    pub der: Vec<u8>,
}

/// A VerifyRequest.
#[derive(Clone, Debug)]
pub struct VerifyCall {
    pub documents: Vec<InputDocument>,
    pub signature: Option<SignatureInput>,
    /// `vr:ReturnVerificationReport` was given.
    pub report: bool,
}

/// `tr:ReasonOfDeletion`.
#[derive(Clone, Debug)]
pub struct ReasonOfDeletion {
    pub requestor: String,
    pub info: String,
}

/// What the request asks, by operation.
#[derive(Clone, Debug)]
pub enum Call {
    RetrieveInfo {
        profile: Option<String>,
        status: Option<String>,
    },
    SubmitData(Vec<ArchiveData>, SubmitOptions),
    /// An `xaip:XAIP` submission: the package element taken out of the
    /// envelope (inclusive C14N with comments: the namespaces in scope
    /// declared on it, everything else as sent).
    SubmitXaip(Vec<u8>, SubmitOptions),
    /// An ArchiveUpdate's `xaip:DXAIP`, taken out as an XAIP is, with the
    /// AOID its header names and the VersionID of its manifest.
    Update {
        package: Vec<u8>,
        aoid: Option<String>,
        version: String,
        options: SubmitOptions,
    },
    Retrieval {
        aoid: String,
        versions: Vec<String>,
        include_ers: Option<String>,
        po_format: Option<String>,
    },
    Evidence {
        aoid: String,
        versions: Vec<String>,
        format: Option<String>,
    },
    Deletion {
        aoid: String,
        reason: Option<ReasonOfDeletion>,
    },
    Trace {
        aoid: String,
    },
    Verify(VerifyCall),
    /// ArchiveData: discrete data of an archived object by XPath.
    Data {
        aoid: String,
        locations: Vec<DataLocation>,
    },
}

/// A request read from its envelope.
#[derive(Clone, Debug)]
pub struct Request {
    pub op: Op,
    pub request_id: Option<String>,
    pub call: Call,
}

/// Why a request cannot be answered as its operation.
#[derive(Debug)]
pub enum Unreadable {
    /// Not a SOAP 1.1 message at all (malformed XML, no envelope, a SOAP
    /// 1.2 envelope, an unknown body element): a SOAP fault.
    Fault { code: &'static str, reason: String },
    /// A known operation whose request breaks the rules: its response
    /// with this result (and the `RequestID`, if one was read).
    Result {
        op: Op,
        request_id: Option<String>,
        outcome: Outcome,
    },
}

fn fault(code: &'static str, reason: impl Into<String>) -> Unreadable {
    Unreadable::Fault {
        code,
        reason: reason.into(),
    }
}

/// Reads a request. `body` is the HTTP body (the SOAP envelope).
pub fn read(body: &[u8]) -> Result<Request, Unreadable> {
    let doc = xml::parse(body).map_err(|e| fault("Client", e.to_string()))?;
    let root = doc
        .get_root_element()
        .ok_or_else(|| fault("Client", "no root element"))?;
    if xml::is(&root, SOAP12, "Envelope") {
        return Err(fault(
            "VersionMismatch",
            "this is a SOAP 1.2 envelope; S.4 speaks SOAP 1.1",
        ));
    }
    if !xml::is(&root, SOAP11, "Envelope") {
        return Err(fault("Client", "the message is not a SOAP 1.1 envelope"));
    }
    if let Some(h) = xml::child(&root, SOAP11, "Header") {
        // headers bewahr must understand but does not: refuse (SOAP 1.1 4.2.3)
        for e in h.get_child_elements() {
            let must = e
                .get_attribute_ns("mustUnderstand", SOAP11)
                .is_some_and(|v| v.trim() == "1");
            if must {
                let (local, ns) = xml::name(&e);
                return Err(fault(
                    "MustUnderstand",
                    format!(
                        "the header {{{}}}{local} is not understood",
                        ns.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    let body_el = xml::child(&root, SOAP11, "Body")
        .ok_or_else(|| fault("Client", "the envelope has no Body"))?;
    let elements = body_el.get_child_elements();
    let [el] = elements.as_slice() else {
        return Err(fault(
            "Client",
            "the Body must hold exactly one request element",
        ));
    };
    let op = Op::ALL
        .into_iter()
        .find(|op| {
            let (ns, local) = op.request_element();
            xml::is(el, ns, &local)
        })
        .ok_or_else(|| {
            let (local, ns) = xml::name(el);
            fault(
                "Client",
                format!(
                    "{{{}}}{local} is not a request of the S.4 interface",
                    ns.unwrap_or_default()
                ),
            )
        })?;
    let request_id = el.get_attribute("RequestID");
    let result = |outcome: Outcome| Unreadable::Result {
        op,
        request_id: request_id.clone(),
        outcome,
    };
    // the request, where it is in the envelope, against the interface's schema
    if let Err(e) = schema::validate_element(el, Schema::S4) {
        let minor = if op == Op::ArchiveSubmission && xml::child(el, XAIP, "XAIP").is_some() {
            Minor::XaipNok
        } else if op == Op::ArchiveUpdate && xml::child(el, XAIP, "DXAIP").is_some() {
            Minor::DxaipNok
        } else if let Some(root) = (op == Op::Verify).then(|| inline_package(el)).flatten() {
            // a package to verify that is not valid: the package's fault
            if xml::is(&root, XAIP, "DXAIP") {
                Minor::DxaipNok
            } else {
                Minor::XaipNok
            }
        } else {
            Minor::ParameterError
        };
        return Err(result(Outcome::error(minor, e.to_string())));
    }
    let call = read_call(&doc, op, el).map_err(result)?;
    Ok(Request {
        op,
        request_id,
        call,
    })
}

/// The XAIP or DXAIP given inline to a VerifyRequest, if any.
fn inline_package(el: &Node) -> Option<Node> {
    let docs = xml::child(el, DSS, "InputDocuments")?;
    let found = xml::children(&docs, DSS, "Document")
        .filter_map(|d| xml::child(&d, DSS, "InlineXML"))
        .flat_map(|x| x.get_child_elements())
        .find(|r| xml::is(r, XAIP, "XAIP") || xml::is(r, XAIP, "DXAIP"));
    found
}

fn text(n: &Node) -> String {
    n.get_content().trim().to_string()
}

fn texts(el: &Node, ns: &str, local: &str) -> Vec<String> {
    xml::children(el, ns, local).map(|n| text(&n)).collect()
}

fn required(el: &Node, ns: &str, local: &str) -> Result<String, Outcome> {
    xml::child(el, ns, local)
        .map(|n| text(&n))
        .ok_or_else(|| Outcome::error(Minor::ParameterError, format!("{local} is missing")))
}

/// The `dss:OptionalInputs` children, each checked against the ones this
/// operation knows: anything else is refused (`notSupported`) before
/// anything is done.
fn optional_inputs(el: &Node, known: &[(&str, &str)]) -> Result<Vec<Node>, Outcome> {
    let Some(oi) = xml::child(el, DSS, "OptionalInputs") else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    for c in oi.get_child_elements() {
        if !known.iter().any(|(ns, local)| xml::is(&c, ns, local)) {
            let (local, ns) = xml::name(&c);
            return Err(Outcome::error(
                Minor::NotSupported,
                format!(
                    "the optional input {{{}}}{local} is not supported by this operation",
                    ns.unwrap_or_default()
                ),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

fn input(inputs: &[Node], ns: &str, local: &str) -> Option<String> {
    inputs.iter().find(|n| xml::is(n, ns, local)).map(text)
}

fn read_call(doc: &Document, op: Op, el: &Node) -> Result<Call, Outcome> {
    Ok(match op {
        Op::RetrieveInfo => {
            optional_inputs(el, &[])?;
            Call::RetrieveInfo {
                profile: xml::child(el, TR, "ProfileIdentifier").map(|n| text(&n)),
                status: xml::child(el, TR, "Status").map(|n| text(&n)),
            }
        }
        Op::ArchiveSubmission => {
            let options = submit_options(el, true)?;
            if let Some(x) = xml::child(el, XAIP, "XAIP") {
                let bytes = xml::canonicalize(doc, &x, C14n::Inclusive10 { comments: true })
                    .map_err(|e| Outcome::error(Minor::XaipNok, e.to_string()))?;
                Call::SubmitXaip(bytes, options)
            } else {
                let mut data = vec![];
                for d in xml::children(el, TR, "ArchiveData") {
                    let id = d.get_attribute("archiveDataID").unwrap_or_default();
                    let b64: String = d
                        .get_content()
                        .chars()
                        .filter(|c| !c.is_ascii_whitespace())
                        .collect();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64.as_bytes())
                        .map_err(|e| {
                            Outcome::error(
                                Minor::ParameterError,
                                format!("ArchiveData {id}: not base64 ({e})"),
                            )
                        })?;
                    data.push(ArchiveData {
                        type_uri: d.get_attribute("Type").unwrap_or_default(),
                        id,
                        mime_type: d.get_attribute("MimeType"),
                        bytes,
                    });
                }
                Call::SubmitData(data, options)
            }
        }
        Op::ArchiveRetrieval => {
            let inputs = optional_inputs(el, &[(TR, "IncludeERS"), (PRES, "POFormat")])?;
            Call::Retrieval {
                aoid: required(el, TR, "AOID")?,
                versions: texts(el, TR, "VersionID"),
                include_ers: input(&inputs, TR, "IncludeERS"),
                po_format: input(&inputs, PRES, "POFormat"),
            }
        }
        Op::ArchiveEvidence => {
            let inputs = optional_inputs(el, &[(TR, "ERSFormat")])?;
            Call::Evidence {
                aoid: required(el, TR, "AOID")?,
                versions: texts(el, TR, "VersionID"),
                format: input(&inputs, TR, "ERSFormat"),
            }
        }
        Op::ArchiveDeletion => {
            let inputs = optional_inputs(el, &[(TR, "ReasonOfDeletion")])?;
            let reason = inputs
                .iter()
                .find(|n| xml::is(n, TR, "ReasonOfDeletion"))
                .map(|r| ReasonOfDeletion {
                    requestor: xml::child(r, TR, "RequestorName")
                        .map(|n| text(&n))
                        .unwrap_or_default(),
                    info: xml::child(r, TR, "RequestInfo")
                        .map(|n| text(&n))
                        .unwrap_or_default(),
                });
            Call::Deletion {
                aoid: required(el, TR, "AOID")?,
                reason,
            }
        }
        Op::ArchiveTrace => {
            optional_inputs(el, &[])?;
            Call::Trace {
                aoid: required(el, TR, "AOID")?,
            }
        }
        Op::ArchiveUpdate => {
            let options = submit_options(el, false)?;
            let x = xml::child(el, XAIP, "DXAIP").ok_or_else(|| {
                Outcome::error(
                    Minor::NotSupported,
                    "ArchiveUpdate takes an xaip:DXAIP (a DLXAIP is a DXAIP whose objects are references)",
                )
            })?;
            let package = xml::canonicalize(doc, &x, C14n::Inclusive10 { comments: true })
                .map_err(|e| Outcome::error(Minor::DxaipNok, e.to_string()))?;
            let header = xml::child(&x, XAIP, "packageHeader");
            Call::Update {
                package,
                aoid: header
                    .as_ref()
                    .and_then(|h| xml::child(h, XAIP, "AOID"))
                    .map(|a| text(&a))
                    .filter(|a| !a.is_empty()),
                version: header
                    .as_ref()
                    .and_then(|h| xml::children(h, XAIP, "versionManifest").last())
                    .and_then(|m| m.get_attribute("VersionID"))
                    .unwrap_or_default(),
                options,
            }
        }
        Op::Verify => Call::Verify(read_verify(doc, el)?),
        Op::ArchiveData => {
            optional_inputs(el, &[])?;
            let mut locations = vec![];
            for l in xml::children(el, TR, "DataLocation") {
                let holder = l
                    .get_child_elements()
                    .into_iter()
                    .next()
                    .unwrap_or(l.clone());
                locations.push(DataLocation {
                    type_uri: l.get_attribute("Type"),
                    expression: holder.get_content().trim().to_string(),
                    namespaces: holder
                        .get_namespaces(doc)
                        .into_iter()
                        .map(|n| (n.get_prefix(), n.get_href()))
                        .collect(),
                });
            }
            Call::Data {
                aoid: required(el, TR, "AOID")?,
                locations,
            }
        }
    })
}

fn b64(what: &str, text: &str) -> Result<Vec<u8>, Outcome> {
    let t: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(t.as_bytes())
        .map_err(|e| Outcome::error(Minor::ParameterError, format!("{what}: not base64 ({e})")))
}

fn read_verify(doc: &Document, el: &Node) -> Result<VerifyCall, Outcome> {
    let inputs = optional_inputs(
        el,
        &[
            (VR, "ReturnVerificationReport"),
            (SIGPOL, "VerifyUnderSignaturePolicy"),
        ],
    )?;
    if let Some(p) = inputs
        .iter()
        .find(|n| xml::is(n, SIGPOL, "VerifyUnderSignaturePolicy"))
    {
        // the policy named, wherever the profile puts its identifier
        let named = p.get_content();
        let named = named.trim();
        let known = named.is_empty()
            || named.starts_with(VERIFY_XAIP_POLICY)
            || named.starts_with("http://www.bsi.bund.de/DE/tr-esor/sigpolicy/verify-xaip");
        if !known {
            return Err(Outcome::error(
                Minor::NotSupported,
                format!("the signature policy {named} is not one of this archive (it verifies under {VERIFY_XAIP_POLICY})"),
            ));
        }
    }
    let mut documents = vec![];
    if let Some(ds) = xml::child(el, DSS, "InputDocuments") {
        for d in xml::children(&ds, DSS, "Document") {
            let bytes = if let Some(x) = xml::child(&d, DSS, "InlineXML") {
                let inner = x.get_child_elements().into_iter().next().ok_or_else(|| {
                    Outcome::error(Minor::ParameterError, "an InlineXML without an element")
                })?;
                xml::canonicalize(doc, &inner, C14n::Inclusive10 { comments: true })
                    .map_err(|e| Outcome::error(Minor::ParameterError, e.to_string()))?
            } else if let Some(x) = xml::child(&d, DSS, "Base64XML") {
                b64("Base64XML", &x.get_content())?
            } else if let Some(x) = xml::child(&d, DSS, "Base64Data") {
                b64("Base64Data", &x.get_content())?
            } else {
                return Err(Outcome::error(
                    Minor::NotSupported,
                    "a document is given as InlineXML, Base64XML or Base64Data",
                ));
            };
            documents.push(InputDocument { bytes });
        }
    }
    let signature = match xml::child(el, DSS, "SignatureObject") {
        None => None,
        Some(so) => {
            if let Some(s) = xml::child(&so, DSS, "Base64Signature") {
                Some(SignatureInput::Signature(b64(
                    "Base64Signature",
                    &s.get_content(),
                )?))
            } else if let Some(s) =
                xml::child(&so, "http://www.w3.org/2000/09/xmldsig#", "Signature")
            {
                Some(SignatureInput::Signature(
                    xml::canonicalize(doc, &s, xml::C14n::Inclusive10 { comments: true }).map_err(
                        |e| Outcome::error(Minor::ParameterError, format!("ds:Signature: {e}")),
                    )?,
                ))
            } else if let Some(other) = xml::child(&so, DSS, "Other") {
                let mut records = vec![];
                for er in xml::children(&other, XAIP, "evidenceRecord") {
                    let Some(a) = xml::child(&er, XAIP, "asn1EvidenceRecord") else {
                        return Err(Outcome::error(
                            Minor::NotSupported,
                            "evidence records in their XML form (RFC 6283) are not verified by this version of bewahr; give the asn1EvidenceRecord",
                        ));
                    };
                    records.push(GivenRecord {
                        aoid: er.get_attribute("AOID"),
                        version: er.get_attribute("VersionID"),
                        der: b64("asn1EvidenceRecord", &a.get_content())?,
                    });
                }
                if records.is_empty() {
                    return Err(Outcome::error(
                        Minor::NotSupported,
                        "dss:Other is verified when it holds xaip:evidenceRecord elements",
                    ));
                }
                Some(SignatureInput::Records(records))
            } else {
                return Err(Outcome::error(
                    Minor::NotSupported,
                    "a SignatureObject is verified when it is a Base64Signature (CMS or XML), a ds:Signature, or an xaip:evidenceRecord in Other; time-stamps on their own are not yet",
                ));
            }
        }
    };
    if documents.is_empty() && signature.is_none() {
        return Err(Outcome::error(
            Minor::ParameterError,
            "nothing to verify: give InputDocuments, a SignatureObject, or both",
        ));
    }
    Ok(VerifyCall {
        documents,
        signature,
        report: inputs
            .iter()
            .any(|n| xml::is(n, VR, "ReturnVerificationReport")),
    })
}

/// Whether `doc`'s root is valid against the S.4 schema: for tests of the
/// responses (the response element taken out of its envelope).
pub fn response_is_valid(envelope: &[u8]) -> Result<(), String> {
    let doc: Document = xml::parse(envelope).map_err(|e| e.to_string())?;
    let root = doc.get_root_element().ok_or("no root")?;
    let body = xml::child(&root, SOAP11, "Body").ok_or("no Body")?;
    let el = body
        .get_child_elements()
        .into_iter()
        .next()
        .ok_or("an empty Body")?;
    valid_alone(&doc, &el)
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// A document of the S.4 schema on its own, outside an envelope (the
/// upload interface's `tr:UploadResponse` and `tr:DownloadResponse`),
/// validated against the schema.
pub fn document_is_valid(bytes: &[u8]) -> Result<(), String> {
    let doc: Document = xml::parse(bytes).map_err(|e| e.to_string())?;
    schema::validate_against(&doc, Schema::S4).map_err(|e| e.to_string())
}

/// `el` taken out of its document and validated against the S.4 schema
/// (inclusive C14N keeps every namespace in scope, also those used only
/// in content). The outer error: the element could not be taken out.
fn valid_alone(
    doc: &Document,
    el: &Node,
) -> Result<Result<(), schema::SchemaErrors>, xml::XmlError> {
    let alone = xml::canonicalize(doc, el, C14n::Inclusive10 { comments: false })?;
    let alone = xml::parse(&alone)?;
    Ok(schema::validate_against(&alone, Schema::S4))
}
