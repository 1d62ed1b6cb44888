//! The operations of ETSI TS 119 512, binding-neutral: a [`Request`] read
//! from JSON or XML becomes an [`Answer`] that either binding writes.
//!
//! Each operation is carried out as TR-ESOR-TRANS 1.3 maps it onto S.4
//! (PreservePO as ArchiveSubmission, RetrievePO as ArchiveRetrieval or
//! ArchiveEvidence, ...), through the same functions the S.4 interface
//! runs, so that both interfaces give one archive the same answers; the
//! S.4 result becomes the TS result in [`super::codes::of`]. What S.4 does
//! not have is done on the archive service directly: hash-only
//! preservation of DigestLists (scheme F.2), plain additions to an object
//! (UpdatePOC without a DXAIP), the validation of a record over data that
//! is not a package, and Search by metadata.

use base64::Engine;
use bytes::Bytes;

use super::codes::{self, PresMinor, PresResult};
use super::profile::{self, Profile};
use crate::access::Principal;
use crate::api::AppState;
use crate::catalog::Metadata;
use crate::ingest::DIGEST_LIST_MEDIA_TYPE;
use crate::s4::codes::Outcome;
use crate::s4::message::{ArchiveData, SubmitOptions};
use crate::s4::xaip_out::Event;
use crate::s4::{self, Ran};
use crate::service::{
    DeletionRequest, Import, Operation, PackageParts, SchemaCheck, ServiceError, Submission,
};

/// The operations, by their names in both bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresOp {
    RetrieveInfo,
    PreservePo,
    RetrievePo,
    DeletePo,
    UpdatePoc,
    RetrieveTrace,
    ValidateEvidence,
    Search,
}

impl PresOp {
    pub const ALL: [PresOp; 8] = [
        PresOp::RetrieveInfo,
        PresOp::PreservePo,
        PresOp::RetrievePo,
        PresOp::DeletePo,
        PresOp::UpdatePoc,
        PresOp::RetrieveTrace,
        PresOp::ValidateEvidence,
        PresOp::Search,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PresOp::RetrieveInfo => "RetrieveInfo",
            PresOp::PreservePo => "PreservePO",
            PresOp::RetrievePo => "RetrievePO",
            PresOp::DeletePo => "DeletePO",
            PresOp::UpdatePoc => "UpdatePOC",
            PresOp::RetrieveTrace => "RetrieveTrace",
            PresOp::ValidateEvidence => "ValidateEvidence",
            PresOp::Search => "Search",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == s)
    }
}

/// A PO's content: `binaryData` (decoded) or `xmlData` (the XML itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoData {
    Binary(Vec<u8>),
    Xml(Vec<u8>),
}

impl PoData {
    pub fn bytes(&self) -> &[u8] {
        match self {
            PoData::Binary(b) | PoData::Xml(b) => b,
        }
    }
}

/// A preservation object (`pres-POType`), in a request or an answer.
#[derive(Clone, Debug)]
pub struct Po {
    pub data: PoData,
    pub format_id: Option<String>,
    pub mime_type: Option<String>,
    pub id: Option<String>,
    pub rel_obj: Vec<String>,
}

/// `pres-EvidenceType`: a PO with the POID and version it is for.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub po: Po,
    pub po_id: Option<String>,
    pub ver_id: Option<String>,
}

/// `optIn`: policies, and further inputs as XML elements (in JSON, the
/// `val` of each `other`, base64; in XML, the children of `dsb:Other`).
#[derive(Clone, Debug, Default)]
pub struct OptIn {
    pub policy: Vec<String>,
    pub other: Vec<Vec<u8>>,
}

/// What a request asks, by operation.
#[derive(Clone, Debug)]
pub enum Ask {
    RetrieveInfo {
        profile: Option<String>,
        status: Option<String>,
    },
    Preserve {
        profile: Option<String>,
        pos: Vec<Po>,
    },
    Retrieve {
        po_id: String,
        versions: Vec<String>,
        sor: Option<String>,
        po_format: Option<String>,
        ev_format: Option<String>,
    },
    Delete {
        po_id: String,
        mode: Option<String>,
        requestor: Option<String>,
        reason: Option<String>,
    },
    Update {
        po_id: String,
        delta: Vec<Po>,
    },
    Trace {
        po_id: String,
    },
    Validate {
        evidence: Option<Evidence>,
        pos: Vec<Po>,
    },
    Search {
        filter: String,
    },
}

/// A request of either binding.
#[derive(Clone, Debug)]
pub struct Request {
    pub op: PresOp,
    pub req_id: Option<String>,
    pub opt_in: OptIn,
    pub ask: Ask,
}

/// What an operation answers, for either binding to write.
#[derive(Debug)]
pub struct Answer {
    pub result: PresResult,
    pub po_id: Option<String>,
    pub version_id: Option<String>,
    pub pos: Vec<Po>,
    pub trace: Option<Vec<Event>>,
    pub val_rep: Option<Po>,
    /// RFC 3339.
    pub poe: Option<String>,
    pub profiles: Vec<&'static Profile>,
    pub search: Vec<String>,
    /// Optional outputs: XML elements that stand alone (a verification
    /// report, Search's `tr:XAIPData`).
    pub other: Vec<String>,
    /// The archive object the request concerned (audit trail).
    pub aoid: Option<String>,
    /// More for the audit trail (a deletion's reason).
    pub audit: Option<String>,
}

impl Answer {
    pub fn of(result: PresResult) -> Self {
        Answer {
            result,
            po_id: None,
            version_id: None,
            pos: vec![],
            trace: None,
            val_rep: None,
            poe: None,
            profiles: vec![],
            search: vec![],
            other: vec![],
            aoid: None,
            audit: None,
        }
    }

    fn error(minor: PresMinor, message: impl Into<String>) -> Self {
        Self::of(PresResult::error(minor, message))
    }

    fn about(mut self, aoid: Option<String>) -> Self {
        self.aoid = aoid;
        self
    }
}

const XAIP_NS: &str = "http://www.bsi.bund.de/tr-esor/xaip";
const TR_NS: &str = "http://www.bsi.bund.de/tr-esor/api/1.3";
const DSS_NS: &str = "urn:oasis:names:tc:dss:1.0:core:schema";
/// The namespaces S.4's answers bind on their envelope, declared on an
/// element taken out of one so that it stands alone.
const S4_NAMESPACES: &[(&str, &str)] = &[
    ("tr", TR_NS),
    ("dss", DSS_NS),
    ("xaip", XAIP_NS),
    ("pres", "http://uri.etsi.org/19512/v1.1.2#"),
    ("md", "http://docs.oasis-open.org/dss-x/ns/metadata"),
    ("ds", "http://www.w3.org/2000/09/xmldsig#"),
];

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Runs a request.
pub async fn run(state: &AppState, p: &Principal, req: &Request) -> Answer {
    match &req.ask {
        Ask::RetrieveInfo { profile, status } => {
            if let Some(a) = no_other(&req.opt_in) {
                return a;
            }
            match profile::select(profile.as_deref(), status.as_deref(), state.archive.now()) {
                Ok(found) => {
                    let mut a = Answer::of(PresResult::ok());
                    a.profiles = found;
                    a
                }
                Err(why) => Answer::error(PresMinor::ParameterError, why),
            }
        }
        Ask::Preserve { profile, pos } => {
            preserve(state, p, &req.opt_in, profile.as_deref(), pos).await
        }
        Ask::Retrieve {
            po_id,
            versions,
            sor,
            po_format,
            ev_format,
        } => {
            if let Some(a) = no_other(&req.opt_in) {
                return a;
            }
            retrieve(
                state,
                p,
                po_id,
                versions,
                sor.as_deref(),
                po_format.as_deref(),
                ev_format.as_deref(),
            )
            .await
            .about(Some(po_id.clone()))
        }
        Ask::Delete {
            po_id,
            mode,
            requestor,
            reason,
        } => {
            if let Some(a) = no_other(&req.opt_in) {
                return a;
            }
            delete(state, p, po_id, mode.as_deref(), requestor, reason)
                .await
                .about(Some(po_id.clone()))
        }
        Ask::Update { po_id, delta } => update(state, p, &req.opt_in, po_id, delta)
            .await
            .about(Some(po_id.clone())),
        Ask::Trace { po_id } => {
            if let Some(a) = no_other(&req.opt_in) {
                return a;
            }
            match s4::xaip_out::events(state, p, po_id).await {
                Ok((outcome, events)) => {
                    let mut a = Answer::of(codes::of(&outcome));
                    a.trace = Some(events);
                    a
                }
                Err((e, _)) => failed(&e),
            }
            .about(Some(po_id.clone()))
        }
        Ask::Validate { evidence, pos } => validate(state, p, evidence.as_ref(), pos).await,
        Ask::Search { filter } => {
            if let Some(a) = no_other(&req.opt_in) {
                return a;
            }
            search(state, p, filter).await
        }
    }
}

/// TR-ESOR-TRANS: optional inputs the S.4 operation does not know are
/// refused (`notSupported`) before anything is done.
fn no_other(o: &OptIn) -> Option<Answer> {
    (!o.other.is_empty() || !o.policy.is_empty()).then(|| {
        Answer::error(
            PresMinor::NotSupported,
            "this operation takes no optional inputs",
        )
    })
}

fn failed(e: &ServiceError) -> Answer {
    Answer::of(codes::of(&s4::outcome_of(e)))
}

/// The answer of an S.4 operation: its result, the AOID it concerned.
fn from_ran(r: Ran, outcome_of: fn(&ServiceError) -> Outcome) -> (Answer, String) {
    match r {
        Ok((o, body, aoid)) => (Answer::of(codes::of(&o)).about(aoid), body),
        Err((e, aoid)) => (
            Answer::of(codes::of(&outcome_of(&e))).about(aoid),
            String::new(),
        ),
    }
}

/// The optional inputs of PreservePO and UpdatePOC, read as S.4 reads its
/// own (`xaip:AOID`, `vr:ReturnVerificationReport`, `tr:ImportEvidence`:
/// TR-ESOR-TRANS 3.1.1), and the policies the profile has.
fn submit_options(
    o: &OptIn,
    profile: Option<&Profile>,
    aoid_allowed: bool,
) -> Result<SubmitOptions, PresResult> {
    if let Some(p) = o
        .policy
        .iter()
        .find(|p| profile.is_none_or(|pr| !pr.accepts_policy(p)))
    {
        return Err(PresResult::error(
            PresMinor::NotSupported,
            format!("the policy {p} is not one of the profile's"),
        ));
    }
    if o.other.is_empty() {
        return Ok(SubmitOptions::default());
    }
    let mut xml = String::from("<tr:ArchiveSubmissionRequest");
    for (prefix, ns) in S4_NAMESPACES {
        xml.push_str(&format!(" xmlns:{prefix}=\"{ns}\""));
    }
    xml.push_str("><dss:OptionalInputs>");
    for e in &o.other {
        let text = std::str::from_utf8(e).map_err(|_| {
            PresResult::error(
                PresMinor::ParameterError,
                "an optional input is not UTF-8 XML",
            )
        })?;
        // each must be one element of its own (no declaration inside)
        let text = text.trim_start();
        let text = match text.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").map(|(_, r)| r).unwrap_or(""),
            None => text,
        };
        xml.push_str(text);
    }
    xml.push_str("</dss:OptionalInputs></tr:ArchiveSubmissionRequest>");
    let doc = bewahr_xaip::xml::parse(xml.as_bytes()).map_err(|e| {
        PresResult::error(
            PresMinor::ParameterError,
            format!("the optional inputs are not XML elements: {e}"),
        )
    })?;
    let root = doc
        .get_root_element()
        .ok_or_else(|| PresResult::error(PresMinor::ParameterError, "no optional input"))?;
    s4::message::submit_options(&root, aoid_allowed).map_err(|o| codes::of(&o))
}

/// The S.4 verification report in an S.4 answer's body (if any), as an
/// element that stands alone.
fn report_in(body: &str) -> Option<String> {
    let start = body.find("<vr:VerificationReport")?;
    let end = body.rfind("</vr:VerificationReport>")? + "</vr:VerificationReport>".len();
    let report = &body[start..end];
    let mut decls = String::new();
    for (prefix, ns) in S4_NAMESPACES {
        decls.push_str(&format!(" xmlns:{prefix}=\"{ns}\""));
    }
    Some(format!(
        "<vr:VerificationReport{decls}{}",
        &report["<vr:VerificationReport".len()..]
    ))
}

fn is_package_format(f: Option<&str>) -> bool {
    matches!(f, Some(profile::XAIP_FORMAT | profile::LXAIP_FORMAT))
        || f.is_some_and(|f| f == "http://www.bsi.bund.de/tr-esor/xaip/1.2")
}

/// PreservePO: exactly one PO (TR-ESOR-TRANS 3.1): an (L)XAIP as
/// ArchiveSubmission's `xaip:XAIP`, a DigestList as hash-only
/// preservation, anything else as an `ArchiveData` of its format.
async fn preserve(
    state: &AppState,
    p: &Principal,
    opt_in: &OptIn,
    profile_id: Option<&str>,
    pos: &[Po],
) -> Answer {
    let now = state.archive.now();
    let Some(profile_id) = profile_id else {
        return Answer::error(PresMinor::ParameterError, "pro (the profile) is required");
    };
    let Some(profile) = profile::active(profile_id, now) else {
        return Answer::error(
            PresMinor::ParameterError,
            format!("{profile_id} is not an active preservation profile of this service (RetrieveInfo lists them)"),
        );
    };
    let options = match submit_options(opt_in, Some(profile), true) {
        Ok(o) => o,
        Err(r) => return Answer::of(r),
    };
    let [po] = pos else {
        return Answer::error(
            PresMinor::NotSupported,
            format!(
                "PreservePO takes exactly one PO here ({} given): each becomes an archive object of its own, and a POID is not reserved without one",
                pos.len()
            ),
        );
    };
    let format = po.format_id.as_deref();
    if format == Some(profile::DIGEST_LIST) {
        return preserve_digests(state, p, po, &options).await;
    }
    if profile.id == profile::HASH_ONLY {
        return Answer::error(
            PresMinor::UnknownPoFormat,
            format!(
                "the profile {} preserves DigestLists ({}) only",
                profile.id,
                profile::DIGEST_LIST
            ),
        );
    }
    if format.is_none() && po.mime_type.is_none() {
        return Answer::error(
            PresMinor::ParameterError,
            "a PO without formatId needs a mimeType (TS 119 512 5.6.1)",
        );
    }
    let bytes = po.data.bytes();
    if is_package_format(format) {
        let r = s4::submit_xaip(state, p, bytes, &options, SchemaCheck::Needed).await;
        let subject = options
            .report
            .then_some(s4::verify_out::Subject::Package(bytes));
        let (o, body, aoid) = s4::with_report(state, p, r, subject, s4::outcome_of).await;
        return submitted(o, &body, aoid);
    }
    let data = ArchiveData {
        type_uri: format
            .map(str::to_string)
            .or_else(|| po.mime_type.clone())
            .unwrap_or_default(),
        id: po.id.clone().unwrap_or_else(|| "PO-1".into()),
        mime_type: po.mime_type.clone(),
        bytes: bytes.to_vec(),
    };
    let r = s4::submit_data(state, p, std::slice::from_ref(&data), &options, true).await;
    let subject = options
        .report
        .then_some(s4::verify_out::Subject::Signed(bytes));
    let (o, body, aoid) = s4::with_report(state, p, r, subject, s4::outcome_of).await;
    submitted(o, &body, aoid)
}

fn submitted(o: Outcome, body: &str, aoid: Option<String>) -> Answer {
    let mut a = Answer::of(codes::of(&o));
    if a.result.is_success() {
        a.po_id = aoid.clone();
    }
    a.other.extend(report_in(body));
    a.about(aoid)
}

/// A DigestList as a PO: TS 119 512's XML `pres:DigestList` (in `xmlData`,
/// or as `binaryData`), or its JSON `pres-DigestListType` in `binaryData`
/// (as it is, or inside `{"pres-DigestListType": ...}` as the UCLouvain
/// server writes it; `digAlg` a URI or an object with `alg`). The list
/// checked, and the records it carries (`ev`).
#[derive(Debug)]
struct GivenList {
    list: bewahr_xaip::digest_list::DigestList,
    records: Vec<Vec<u8>>,
}

fn read_digest_list(po: &Po) -> Result<GivenList, String> {
    let bytes = po.data.bytes();
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'<') {
        let list = bewahr_xaip::digest_list::read(bytes)?;
        // a pres:Evidence inside the XML list
        let doc = bewahr_xaip::xml::parse(bytes).map_err(|e| e.to_string())?;
        let root = doc.get_root_element().ok_or("no root element")?;
        let mut records = vec![];
        for ev in bewahr_xaip::xml::children(&root, "http://uri.etsi.org/19512/v1.1.2#", "Evidence")
        {
            let bin =
                bewahr_xaip::xml::child(&ev, "http://uri.etsi.org/19512/v1.1.2#", "binaryData")
                    .ok_or(
                        "a pres:Evidence of the list holds no binaryData (an RFC 4998 record)",
                    )?;
            let text: String = bin
                .get_content()
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            records.push(
                b64()
                    .decode(text)
                    .map_err(|e| format!("the list's evidence is not base64: {e}"))?,
            );
        }
        return Ok(GivenList { list, records });
    }
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("neither XML nor JSON: {e}"))?;
    let v = v.get("pres-DigestListType").unwrap_or(&v);
    let algorithm = match v.get("digAlg") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(o @ serde_json::Value::Object(_)) => o
            .get("alg")
            .or_else(|| o.get("Algorithm"))
            .and_then(|a| a.as_str())
            .ok_or("digAlg names no algorithm (alg)")?
            .to_string(),
        _ => return Err("digAlg is required".into()),
    };
    let values = v
        .get("digVal")
        .and_then(|d| d.as_array())
        .ok_or("digVal (an array of base64 values) is required")?;
    let mut digests = Vec::with_capacity(values.len());
    for (i, d) in values.iter().enumerate() {
        let s = d
            .as_str()
            .ok_or_else(|| format!("digVal {}: not a string", i + 1))?;
        digests.push(
            b64()
                .decode(s.as_bytes())
                .map_err(|e| format!("digVal {}: not base64 ({e})", i + 1))?,
        );
    }
    bewahr_xaip::digest_list::check(&algorithm, &digests)?;
    let mut records = vec![];
    if let Some(ev) = v.get("ev") {
        let value = ev
            .get("binaryData")
            .and_then(|b| b.get("value"))
            .and_then(|b| b.as_str())
            .ok_or("ev: an RFC 4998 record in binaryData.value is expected")?;
        records.push(
            b64()
                .decode(value.as_bytes())
                .map_err(|e| format!("ev: not base64 ({e})"))?,
        );
    }
    Ok(GivenList {
        list: bewahr_xaip::digest_list::DigestList { algorithm, digests },
        records,
    })
}

/// Hash-only preservation (TS 119 512 scheme F.2): the list, in its XML
/// form, is the new object's document, and each value a data object of
/// its group (TS F.2.5's NOTE: the archive takes the values as data), so
/// the version's record proves each one; records given with the list (and
/// by `tr:ImportEvidence`) must verify over its values and are kept in the
/// group, renewed with it.
async fn preserve_digests(
    state: &AppState,
    p: &Principal,
    po: &Po,
    options: &SubmitOptions,
) -> Answer {
    let po2 = po.clone();
    let read = match tokio::task::spawn_blocking(move || read_digest_list(&po2)).await {
        Ok(r) => r,
        Err(e) => return Answer::error(PresMinor::InternalError, e.to_string()),
    };
    let given = match read {
        Ok(g) => g,
        Err(why) => {
            return Answer::error(
                PresMinor::PoFormatError,
                format!("not a DigestList this archive preserves: {why}"),
            )
        }
    };
    let who = match state.archive.authorize(p, Operation::Submit) {
        Ok(w) => w,
        Err(e) => return failed(&e),
    };
    let aoid = match s4::requested_aoid(options) {
        Ok(a) => a,
        Err((e, _)) => return failed(&e),
    };
    let mut imports = options.import.clone();
    imports.extend(
        given
            .records
            .into_iter()
            .map(|der| Import::Record { version: None, der }),
    );
    let values = given.list.digests.clone();
    let imported = match state
        .archive
        .imports_over(values.clone(), &imports, &s4::record_check(state))
        .await
    {
        Ok(i) => i,
        Err(e) => return failed(&e),
    };
    let mut metadata = Metadata::default();
    metadata
        .meta
        .insert("pres.formatId".into(), profile::DIGEST_LIST.into());
    metadata
        .meta
        .insert("pres.digestAlgorithm".into(), given.list.algorithm.clone());
    if let Some(id) = &po.id {
        metadata.meta.insert("pres.id".into(), id.clone());
    }
    let mut parts = PackageParts {
        examine: false,
        given: values,
        ..Default::default()
    };
    if let Some((imported, (key, value))) = imported {
        metadata.meta.insert(key, value);
        parts.parts = imported.parts;
    }
    if let Err(e) = state.archive.check_metadata(&metadata) {
        return failed(&e);
    }
    let stored = bewahr_xaip::digest_list::write(&given.list);
    let upload = match upload(state, stored.into_bytes()).await {
        Ok(u) => u,
        Err(e) => return failed(&e),
    };
    let receipt = state
        .archive
        .submit_as(
            &who,
            aoid,
            Submission {
                upload,
                metadata,
                media_type: DIGEST_LIST_MEDIA_TYPE.into(),
                signature: None,
                package: Some(parts),
            },
        )
        .await;
    match receipt {
        Ok(r) => {
            let mut a = Answer::of(PresResult::ok());
            a.po_id = Some(r.accepted.aoid.clone());
            a.about(Some(r.accepted.aoid))
        }
        Err(e) => failed(&e),
    }
}

/// Bytes held in memory, written to the store as a document on its way in.
async fn upload(state: &AppState, bytes: Vec<u8>) -> Result<crate::store::Upload, ServiceError> {
    let mut incoming = state.archive.begin_upload();
    incoming.push(Bytes::from(bytes)).await?;
    incoming.finish().await
}

/// The evidence format asked for: `false` RFC 4998 (either URI), `true`
/// RFC 6283 (either URI, as `sor` Evidence gives it); `Err`: the answer for
/// another.
fn evidence_format(f: Option<&str>) -> Result<bool, PresResult> {
    match f {
        None | Some("urn:ietf:rfc:4998" | "urn:ietf:rfc:4998:EvidenceRecord") => Ok(false),
        Some("urn:ietf:rfc:6283" | "urn:ietf:rfc:6283:EvidenceRecord") => Ok(true),
        Some(f) => Err(PresResult::error(
            PresMinor::UnknownEvidenceFormat,
            format!("{f} is not an evidence format of this service (urn:ietf:rfc:4998:EvidenceRecord, urn:ietf:rfc:6283:EvidenceRecord)"),
        )),
    }
}

/// RetrievePO (TR-ESOR-TRANS 3.5): `sor` PO and POwithEmbeddedEvidence
/// (the default) as ArchiveRetrieval (with `IncludeERS`), Evidence as
/// ArchiveEvidence; POwithDetachedEvidence is not supported.
async fn retrieve(
    state: &AppState,
    p: &Principal,
    po_id: &str,
    versions: &[String],
    sor: Option<&str>,
    po_format: Option<&str>,
    ev_format: Option<&str>,
) -> Answer {
    let xml_evidence = match evidence_format(ev_format) {
        Ok(x) => x,
        Err(r) => return Answer::of(r),
    };
    let versions: Vec<String> = versions
        .iter()
        .map(|v| {
            if v.eq_ignore_ascii_case("all") {
                "ALL".to_string()
            } else {
                v.clone()
            }
        })
        .collect();
    let embedded = match sor {
        None | Some("POwithEmbeddedEvidence") => true,
        Some("PO") => false,
        Some("Evidence") => {
            let (asked, format_id) = if xml_evidence {
                ("urn:ietf:rfc:6283", "urn:ietf:rfc:6283:EvidenceRecord")
            } else {
                ("urn:ietf:rfc:4998", "urn:ietf:rfc:4998:EvidenceRecord")
            };
            return match s4::xaip_out::records(state, p, po_id, &versions, Some(asked)).await {
                Ok((outcome, records, _)) => {
                    let mut a = Answer::of(codes::of(&outcome));
                    a.pos = records
                        .iter()
                        .map(|r| {
                            let mut x = String::new();
                            s4::xaip_out::write_record(&mut x, &r.aoid, &r.vid, &r.der);
                            // the record stands alone: its namespace on it
                            let x = x.replacen(
                                "<xaip:evidenceRecord ",
                                &format!("<xaip:evidenceRecord xmlns:xaip=\"{XAIP_NS}\" "),
                                1,
                            );
                            Po {
                                data: PoData::Xml(x.into_bytes()),
                                format_id: Some(format_id.into()),
                                mime_type: Some("application/xml".into()),
                                id: Some(format!("ER-{}", r.vid)),
                                rel_obj: vec![r.vid.clone()],
                            }
                        })
                        .collect();
                    a
                }
                Err((e, _)) => failed(&e),
            };
        }
        Some("POwithDetachedEvidence") => {
            return Answer::error(
                PresMinor::NotSupported,
                "POwithDetachedEvidence is not supported (TR-ESOR-TRANS 3.5.1): ask for the PO, then for its Evidence",
            )
        }
        Some(s) => {
            return Answer::error(
                PresMinor::ParameterError,
                format!("sor {s:?}: one of PO, Evidence, POwithEmbeddedEvidence, POwithDetachedEvidence"),
            )
        }
    };
    // a document version as an ASiC-ERS container (EN 319 162-1 4.4.3/4.4.4)
    if po_format == Some(profile::ASIC_ERS_FORMAT) {
        if xml_evidence {
            return Answer::error(
                PresMinor::UnknownEvidenceFormat,
                "an ASiC-ERS container carries the RFC 4998 record (META-INF/evidencerecord.ers)",
            );
        }
        return match s4::xaip_out::asic_containers(state, p, po_id, &versions).await {
            Ok((outcome, found)) => {
                let mut a = Answer::of(codes::of(&outcome));
                a.pos = found
                    .into_iter()
                    .map(|(vid, zip, mime)| Po {
                        data: PoData::Binary(zip),
                        format_id: Some(profile::ASIC_ERS_FORMAT.into()),
                        mime_type: Some(mime.into()),
                        id: Some(vid.clone()),
                        rel_obj: vec![vid],
                    })
                    .collect();
                a
            }
            // a package: no ASiC container for it
            Err((
                ServiceError::Invalid {
                    code: "no_asic_for_packages",
                    message,
                },
                _,
            )) => Answer::error(PresMinor::UnknownPoFormat, message),
            Err((e, _)) => failed(&e),
        };
    }
    let format = match po_format {
        None | Some(profile::XAIP_FORMAT) => profile::XAIP_FORMAT,
        Some(profile::LXAIP_FORMAT) => profile::LXAIP_FORMAT,
        Some(f) => {
            return Answer::error(
                PresMinor::UnknownPoFormat,
                format!(
                    "a PO is given as an XAIP ({}) or an LXAIP ({}), not {f}",
                    profile::XAIP_FORMAT,
                    profile::LXAIP_FORMAT
                ),
            )
        }
    };
    if embedded && xml_evidence {
        return Answer::error(
            PresMinor::UnknownEvidenceFormat,
            "a PO with embedded evidence carries its records as RFC 4998 (a package's XML parts are hashed in the form its header names); ask for sor Evidence to have a document's record as RFC 6283",
        );
    }
    let r = s4::xaip_out::retrieve(
        state,
        p,
        po_id,
        &versions,
        embedded.then_some("urn:ietf:rfc:4998"),
        Some(format),
    )
    .await;
    let (mut a, body) = from_ran(r, s4::outcome_of);
    if !body.is_empty() {
        a.pos.push(Po {
            data: PoData::Xml(body.into_bytes()),
            format_id: Some(format.into()),
            mime_type: Some("application/xml".into()),
            id: Some(po_id.to_string()),
            rel_obj: vec![],
        });
    }
    a
}

/// DeletePO (TR-ESOR-TRANS 3.6): `crn` and `reason` as S.4's
/// ReasonOfDeletion, with the same retention rules; `OnlySubDOs` is not
/// supported.
async fn delete(
    state: &AppState,
    p: &Principal,
    po_id: &str,
    mode: Option<&str>,
    requestor: &Option<String>,
    reason: &Option<String>,
) -> Answer {
    match mode {
        None | Some("SubDOsAndEvidence") => {}
        Some("OnlySubDOs") => {
            return Answer::error(
                PresMinor::NotSupported,
                "mod OnlySubDOs is not supported (TR-ESOR-TRANS 3.6.1): an object is deleted with its evidence",
            )
        }
        Some(m) => {
            return Answer::error(
                PresMinor::UnknownMode,
                format!("mod {m:?}: OnlySubDOs or SubDOsAndEvidence"),
            )
        }
    }
    let d = DeletionRequest {
        reason: reason.clone(),
        requestor: requestor.clone(),
    };
    let detail = d.audit_detail();
    let r = match state
        .archive
        .authorize_object(p, Operation::Delete, po_id)
        .await
    {
        Err(e) => failed(&e),
        Ok(obj) => match state.archive.delete(&obj, &d).await {
            Ok(_) => Answer::of(PresResult::ok()),
            Err(e) => failed(&e),
        },
    };
    Answer {
        audit: Some(detail),
        ..r
    }
}

/// The AOID and last VersionID a DXAIP's header names (standalone bytes).
fn dxaip_header(bytes: &[u8]) -> Option<(Option<String>, String)> {
    let doc = bewahr_xaip::xml::parse(bytes).ok()?;
    let root = doc.get_root_element()?;
    if !bewahr_xaip::xml::is(&root, XAIP_NS, "DXAIP") {
        return None;
    }
    let header = bewahr_xaip::xml::child(&root, XAIP_NS, "packageHeader");
    let aoid = header
        .as_ref()
        .and_then(|h| bewahr_xaip::xml::child(h, XAIP_NS, "AOID"))
        .map(|a| a.get_content().trim().to_string())
        .filter(|a| !a.is_empty());
    let vid = header
        .as_ref()
        .and_then(|h| bewahr_xaip::xml::children(h, XAIP_NS, "versionManifest").last())
        .and_then(|m| m.get_attribute("VersionID"))
        .unwrap_or_default();
    Some((aoid, vid))
}

/// UpdatePOC (TR-ESOR-TRANS 3.3): one DXAIP or DLXAIP as ArchiveUpdate
/// (its `packageHeader/AOID` must be the POID); other POs are plain
/// additions, each a new version of an object that is not a package.
async fn update(
    state: &AppState,
    p: &Principal,
    opt_in: &OptIn,
    po_id: &str,
    delta: &[Po],
) -> Answer {
    let options = match submit_options(opt_in, None, false) {
        Ok(o) => o,
        Err(r) => return Answer::of(r),
    };
    if delta.is_empty() {
        return Answer::error(PresMinor::ParameterError, "deltaPoc holds no PO");
    }
    let is_delta = |po: &Po| {
        matches!(
            po.format_id.as_deref(),
            Some(profile::DXAIP_FORMAT | profile::DLXAIP_FORMAT)
        )
    };
    if delta.iter().any(is_delta) {
        let [po] = delta else {
            return Answer::error(
                PresMinor::UnknownDeltaPocType,
                "a DXAIP updates an object on its own: one PO in deltaPoc",
            );
        };
        let bytes = po.data.bytes().to_vec();
        let read = tokio::task::spawn_blocking({
            let b = bytes.clone();
            move || dxaip_header(&b)
        })
        .await
        .ok()
        .flatten();
        let Some((aoid, vid)) = read else {
            return Answer::error(
                PresMinor::DeltaPocInternalProblem,
                "the PO is not an XML xaip:DXAIP",
            );
        };
        if aoid.as_deref() != Some(po_id) {
            return Answer::error(
                PresMinor::DeltaPocInternalProblem,
                format!(
                    "the DXAIP's packageHeader/AOID ({}) is not the POID {po_id} (TR-ESOR-TRANS 3.3.1)",
                    aoid.as_deref().unwrap_or("none")
                ),
            );
        }
        let r = s4::update_xaip(
            state,
            p,
            &bytes,
            Some(po_id),
            &vid,
            &options,
            SchemaCheck::Needed,
        )
        .await;
        let subject = options
            .report
            .then_some(s4::verify_out::Subject::Package(&bytes));
        let (o, body, _) = s4::with_report(state, p, r, subject, s4::update_outcome).await;
        let mut a = Answer::of(codes::of(&o));
        if a.result.is_success() {
            a.version_id = Some(vid);
        }
        a.other.extend(report_in(&body));
        return a;
    }
    if options.report || !options.import.is_empty() {
        return Answer::error(
            PresMinor::NotSupported,
            "a plain addition takes no optional inputs",
        );
    }
    let obj = match state
        .archive
        .authorize_object(p, Operation::AddVersion, po_id)
        .await
    {
        Ok(o) => o,
        Err(e) => return failed(&e),
    };
    let view = match state
        .archive
        .authorize_object(p, Operation::ReadObject, po_id)
        .await
    {
        Ok(o) => state.archive.object(&o).await,
        Err(e) => Err(e),
    };
    let view = match view {
        Ok(v) => v,
        Err(e) => return failed(&e),
    };
    if view.versions.iter().any(|v| {
        v.media_type == crate::service::XAIP_MEDIA_TYPE || v.media_type == DIGEST_LIST_MEDIA_TYPE
    }) {
        return Answer::error(
            PresMinor::UnknownDeltaPocType,
            format!(
                "archive object {po_id} is a package or a hash-only list: it is updated by a DXAIP ({})",
                profile::DXAIP_FORMAT
            ),
        );
    }
    let mut last = None;
    for po in delta {
        let mut metadata = Metadata::default();
        if let Some(f) = &po.format_id {
            metadata.meta.insert("s4.type".into(), f.clone());
        }
        if let Some(id) = &po.id {
            metadata.meta.insert("s4.archiveDataID".into(), id.clone());
        }
        let upload = match upload(state, po.data.bytes().to_vec()).await {
            Ok(u) => u,
            Err(e) => return failed(&e),
        };
        let media_type = po
            .mime_type
            .clone()
            .filter(|m| m.parse::<axum::http::HeaderValue>().is_ok() && m.contains('/'))
            .unwrap_or_else(|| "application/octet-stream".into());
        match state
            .archive
            .add_version(
                &obj,
                Submission {
                    upload,
                    metadata,
                    media_type,
                    signature: None,
                    package: None,
                },
            )
            .await
        {
            Ok(r) => last = Some(r.accepted.version),
            Err(e) => return failed(&e),
        }
    }
    let mut a = Answer::of(PresResult::ok());
    a.version_id = last.map(s4::version_id);
    a
}

/// An evidence record given to ValidateEvidence: DER (`binaryData`), or
/// an `xaip:evidenceRecord` (`xmlData`, TR-ESOR-TRANS 3.7.1) with the AOID
/// and VersionID it names.
fn given_record(ev: &Evidence) -> Result<crate::service::DetachedRecord, String> {
    match &ev.po.data {
        PoData::Binary(der) => Ok(crate::service::DetachedRecord {
            aoid: ev.po_id.clone(),
            version: ev.ver_id.clone(),
            der: der.clone(),
        }),
        PoData::Xml(x) => {
            let doc = bewahr_xaip::xml::parse(x).map_err(|e| e.to_string())?;
            let root = doc.get_root_element().ok_or("no root element")?;
            if !bewahr_xaip::xml::is(&root, XAIP_NS, "evidenceRecord") {
                return Err("an evidence record in xmlData is an xaip:evidenceRecord".into());
            }
            let asn1 = bewahr_xaip::xml::child(&root, XAIP_NS, "asn1EvidenceRecord")
                .ok_or("the xaip:evidenceRecord has no asn1EvidenceRecord (RFC 6283 records are not read yet)")?;
            let text: String = asn1
                .get_content()
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            Ok(crate::service::DetachedRecord {
                aoid: root.get_attribute("AOID").or_else(|| ev.po_id.clone()),
                version: root
                    .get_attribute("VersionID")
                    .or_else(|| ev.ver_id.clone()),
                der: b64().decode(text).map_err(|e| e.to_string())?,
            })
        }
    }
}

/// The earliest time a passed record's first time-stamp proves, from the
/// verifier's report (JSON).
fn poe_of(report: &serde_json::Value) -> Option<String> {
    (report.get("indication")?.as_str()? == "PASSED")
        .then(|| {
            report
                .get("archive_time_stamps")?
                .as_array()?
                .first()?
                .get("gen_time")?
                .as_str()
                .map(str::to_string)
        })
        .flatten()
}

/// ValidateEvidence (TR-ESOR-TRANS 3.7, as Verify): a package with the
/// records it carries (and the one given beside it) gives a TR-ESOR-VR
/// report; a record over other data (a document, or the values of a
/// DigestList) is verified over it by the archive's verifier, whose report
/// is the validation report. `poe`: when the data existed, if proven.
async fn validate(state: &AppState, p: &Principal, ev: Option<&Evidence>, pos: &[Po]) -> Answer {
    let who = match state.archive.authorize(p, Operation::Verify) {
        Ok(w) => w,
        Err(e) => return failed(&e),
    };
    if pos.len() > 1 {
        return Answer::error(
            PresMinor::ParameterError,
            "one PO per ValidateEvidence: a package, a document or a DigestList",
        );
    }
    let given = match ev.map(given_record).transpose() {
        Ok(g) => g,
        Err(why) => return Answer::error(PresMinor::ParameterError, format!("ev: {why}")),
    };
    let now = state.archive.now();
    let po = pos.first();
    let package = po.is_some_and(|po| {
        is_package_format(po.format_id.as_deref())
            || matches!(
                po.format_id.as_deref(),
                Some(profile::DXAIP_FORMAT | profile::DLXAIP_FORMAT)
            )
            || s4::verify_out::is_package(po.data.bytes())
    });
    if let (true, Some(po)) = (package, po) {
        let checks = s4::record_check(state);
        let v = match state
            .archive
            .verify_package(
                &who,
                po.data.bytes().to_vec(),
                given.into_iter().collect(),
                &checks,
            )
            .await
        {
            Ok(v) => v,
            Err(e) => return failed(&e),
        };
        let outcome = s4::verify_out::package_outcome(&v);
        let body = s4::verify_out::report(now, |out| s4::verify_out::package_report(out, &v));
        let mut a = Answer::of(codes::of(&outcome));
        if let Some(report) = report_in(&body) {
            a.val_rep = Some(Po {
                data: PoData::Xml(report.into_bytes()),
                format_id: Some("http://www.bsi.bund.de/tr-esor/vr/1.3".into()),
                mime_type: Some("application/xml".into()),
                id: None,
                rel_obj: vec![],
            });
        }
        if a.result.is_success() {
            a.poe = v
                .judgements
                .iter()
                .filter(|j| j.record)
                .filter_map(|j| j.report.as_ref().and_then(poe_of))
                .min();
        }
        return a.about(v.aoid.clone());
    }
    let Some(record) = given else {
        return Answer::error(
            PresMinor::ParameterError,
            "ev (an RFC 4998 evidence record) is required with a PO that is not a package",
        );
    };
    // the data objects the record is over: a DigestList's values, or the PO
    let objects: Vec<Vec<u8>> = match po {
        None => vec![],
        Some(po) if po.format_id.as_deref() == Some(profile::DIGEST_LIST) => {
            match read_digest_list(po) {
                Ok(g) => g.list.digests,
                Err(why) => {
                    return Answer::error(
                        PresMinor::PoFormatError,
                        format!("not a DigestList: {why}"),
                    )
                }
            }
        }
        Some(po) => vec![po.data.bytes().to_vec()],
    };
    let checks = s4::record_check(state);
    let report = tokio::task::spawn_blocking(move || {
        use bewahr_core::verify;
        let mut opts = verify::Options::new(&checks.trusted, now, &checks.policy);
        opts.profile = checks.profile;
        let r = if objects.is_empty() {
            verify::verify_der(&record.der, &mut verify::NoData, &opts)
        } else {
            verify::verify_der(&record.der, &mut verify::InMemory(objects), &opts)
        };
        serde_json::to_value(&r).unwrap_or_default()
    })
    .await;
    let report = match report {
        Ok(r) => r,
        Err(e) => return Answer::error(PresMinor::InternalError, e.to_string()),
    };
    let indication = report
        .get("indication")
        .and_then(|i| i.as_str())
        .unwrap_or("FAILED")
        .to_string();
    let mut a = if indication == "PASSED" && po.is_some() {
        Answer::of(PresResult::ok())
    } else if indication == "PASSED" {
        Answer::error(
            PresMinor::ParameterError,
            "the record is intact, but no PO was given: nothing is proven to have existed",
        )
    } else {
        Answer::error(
            PresMinor::ParameterError,
            format!(
                "the evidence record is {indication}{}: {}",
                report
                    .get("sub_indication")
                    .and_then(|s| s.as_str())
                    .map(|s| format!(" / {s}"))
                    .unwrap_or_default(),
                report.get("summary").and_then(|s| s.as_str()).unwrap_or("")
            ),
        )
    };
    if a.result.is_success() {
        a.poe = poe_of(&report);
    }
    a.val_rep = Some(Po {
        data: PoData::Binary(serde_json::to_vec(&report).unwrap_or_default()),
        format_id: Some("urn:bewahr:verification-report:json".into()),
        mime_type: Some("application/json".into()),
        id: None,
        rel_obj: vec![],
    });
    a
}

/// Search: TR-ESOR-TRANS's filter `{"AOID", "XPath"}` as ArchiveData
/// (the object's POID when the XPath selects something, the data in
/// `optOut`); or metadata filters (`{"file_ref", "system", "title",
/// "submitted_from", "submitted_to", "limit", "after"}`, as the REST
/// search takes them): the POIDs of the caller's objects that match.
async fn search(state: &AppState, p: &Principal, filter: &str) -> Answer {
    let v: serde_json::Value = match serde_json::from_str(filter) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => {
            return Answer::error(
                PresMinor::ParameterError,
                "fi is a JSON object: {\"AOID\": ..., \"XPath\": ...} (TR-ESOR-TRANS 3.8.1), or metadata filters {\"file_ref\", \"system\", \"title\", \"submitted_from\", \"submitted_to\"}",
            )
        }
    };
    if v.get("AOID").is_some() || v.get("XPath").is_some() {
        let (Some(aoid), Some(xpath)) = (
            v.get("AOID").and_then(|a| a.as_str()),
            v.get("XPath").and_then(|x| x.as_str()),
        ) else {
            return Answer::error(
                PresMinor::ParameterError,
                "the filter needs both AOID and XPath (strings)",
            );
        };
        let location = s4::message::DataLocation {
            type_uri: None,
            expression: xpath.to_string(),
            namespaces: S4_NAMESPACES
                .iter()
                .map(|(p, n)| (p.to_string(), n.to_string()))
                .collect(),
        };
        let r = s4::xaip_out::data(state, p, aoid, std::slice::from_ref(&location)).await;
        let (mut a, body) = from_ran(r, s4::outcome_of);
        if a.result.is_success() {
            a.search.push(aoid.to_string());
            if !body.is_empty() {
                let mut decls = String::new();
                for (prefix, ns) in S4_NAMESPACES {
                    decls.push_str(&format!(" xmlns:{prefix}=\"{ns}\""));
                }
                a.other
                    .push(body.replacen("<tr:XAIPData>", &format!("<tr:XAIPData{decls}>"), 1));
            }
        }
        return a;
    }
    let q: crate::service::SearchQuery = match serde_json::from_value(v) {
        Ok(q) => q,
        Err(e) => {
            return Answer::error(PresMinor::ParameterError, format!("the filter: {e}"));
        }
    };
    let who = match state.archive.authorize(p, Operation::Search) {
        Ok(w) => w,
        Err(e) => return failed(&e),
    };
    match state.archive.search(&who, &q).await {
        Ok(page) => {
            let mut a = Answer::of(PresResult::ok());
            a.search = page.objects.into_iter().map(|o| o.aoid).collect();
            if let Some(next) = page.next {
                a.result = PresResult {
                    major: codes::SUCCESS,
                    minor: Some(PresMinor::RequestOnlyPartlySuccessful.uri()),
                    message: Some(format!(
                        "more objects match: give \"after\": \"{next}\" in the filter for the next page"
                    )),
                };
            }
            a
        }
        Err(e) => failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn po(bytes: &[u8]) -> Po {
        Po {
            data: PoData::Binary(bytes.to_vec()),
            format_id: Some(profile::DIGEST_LIST.into()),
            mime_type: None,
            id: None,
            rel_obj: vec![],
        }
    }

    #[test]
    fn digest_lists_in_every_form() {
        let v = b64().encode([1u8; 32]);
        let plain = format!(r#"{{"digAlg": "urn:oid:2.16.840.1.101.3.4.2.1", "digVal": ["{v}"]}}"#);
        let wrapped = format!(
            r#"{{"pres-DigestListType": {{"digAlg": {{"alg": "urn:oid:2.16.840.1.101.3.4.2.1"}}, "digVal": ["{v}", "{v}"]}}}}"#
        );
        assert_eq!(
            read_digest_list(&po(plain.as_bytes()))
                .unwrap()
                .list
                .digests
                .len(),
            1
        );
        assert_eq!(
            read_digest_list(&po(wrapped.as_bytes()))
                .unwrap()
                .list
                .digests
                .len(),
            2
        );
        let xml = bewahr_xaip::digest_list::write(&bewahr_xaip::digest_list::DigestList {
            algorithm: "urn:oid:2.16.840.1.101.3.4.2.1".into(),
            digests: vec![vec![1u8; 32]],
        });
        assert_eq!(
            read_digest_list(&po(xml.as_bytes())).unwrap().list.digests,
            vec![vec![1u8; 32]]
        );
        let short = format!(
            r#"{{"digAlg": "urn:oid:2.16.840.1.101.3.4.2.1", "digVal": ["{}"]}}"#,
            b64().encode([1u8; 20])
        );
        assert!(read_digest_list(&po(short.as_bytes()))
            .unwrap_err()
            .contains("20 bytes"));
        assert!(read_digest_list(&po(br#"{"digVal": []}"#)).is_err());
        assert!(read_digest_list(&po(b"nonsense")).is_err());
    }

    #[test]
    fn reports_stand_alone() {
        let body = "<dss:OptionalOutputs><vr:VerificationReport xmlns:vr=\"v\"><dss:X/></vr:VerificationReport></dss:OptionalOutputs><tr:AOID>a</tr:AOID>";
        let r = report_in(body).unwrap();
        assert!(r.starts_with("<vr:VerificationReport xmlns:tr="));
        assert!(r.ends_with("<dss:X/></vr:VerificationReport>"));
        assert!(bewahr_xaip::xml::parse(r.as_bytes()).is_ok());
        assert!(report_in("<tr:AOID>a</tr:AOID>").is_none());
    }

    #[test]
    fn dxaip_headers() {
        let d = br#"<xaip:DXAIP xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip"><xaip:packageHeader><xaip:AOID>x</xaip:AOID><xaip:versionManifest VersionID="V002"/></xaip:packageHeader></xaip:DXAIP>"#;
        assert_eq!(dxaip_header(d), Some((Some("x".into()), "V002".into())));
        assert_eq!(dxaip_header(b"<a/>"), None);
    }
}
