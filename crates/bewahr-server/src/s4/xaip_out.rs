//! The answers that carry archive objects: ArchiveRetrieval (an XAIP of
//! the selected versions), ArchiveEvidence (`xaip:evidenceRecord`s) and
//! ArchiveTrace (`pres:Trace`).

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;

use super::codes::{Minor, Outcome};
use super::respond::{esc, leaf};
use super::{outcome_of, parse_version_id, version_id, Ran};
use crate::access::Principal;
use crate::api::AppState;
use crate::catalog::{ObjectView, VersionView};
use crate::ids::VersionNo;
use crate::service::{Operation, TraceQuery};

/// `pres:POFormat` of an XAIP: the default form of retrieval. An LXAIP
/// is given as the XAIP it stands for, its files embedded.
const XAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/xaip/1.3";
/// `pres:POFormat` of an LXAIP: an object archived as an LXAIP as it was
/// submitted, its references kept (C.2 M-RE-01a); an XAIP is an LXAIP
/// without references.
const LXAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/lxaip/1.3";
const RFC4998: &str = "urn:ietf:rfc:4998";
const RFC6283: &str = "urn:ietf:rfc:6283";
/// How long ArchiveEvidence waits for a version's batch to be sealed.
const EVIDENCE_WAIT: Duration = Duration::from_secs(30);
/// The retention date written for a version kept until it is deleted (an
/// XAIP must name one).
const NO_END: &str = "9999-12-31";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The versions a request selects: none given, the latest; `ALL`, every
/// one; else those named. Also the VersionIDs that name no version.
fn select<'a>(view: &'a ObjectView, wanted: &[String]) -> (Vec<&'a VersionView>, Vec<String>) {
    if wanted.is_empty() {
        return (
            view.versions
                .iter()
                .max_by_key(|v| v.version)
                .into_iter()
                .collect(),
            vec![],
        );
    }
    if wanted.iter().any(|w| w == "ALL") {
        return (view.versions.iter().collect(), vec![]);
    }
    let mut found = vec![];
    let mut unknown = vec![];
    for w in wanted {
        let by_package_id = view.versions.iter().find(|v| vid_of(v) == *w);
        match by_package_id.or_else(|| {
            parse_version_id(w).and_then(|n| view.versions.iter().find(|v| v.version == n.get()))
        }) {
            Some(v) if !found.iter().any(|f: &&VersionView| f.version == v.version) => {
                found.push(v)
            }
            Some(_) => {}
            None => unknown.push(w.clone()),
        }
    }
    found.sort_by_key(|v| v.version);
    (found, unknown)
}

/// A version's VersionID: the package's own for a version archived as an
/// XAIP, else `V001`, ...
fn vid_of(v: &VersionView) -> String {
    v.metadata
        .meta
        .get("xaip.version")
        .cloned()
        .unwrap_or_else(|| version_id(v.version))
}

/// The result when some VersionIDs named nothing: an error if nothing was
/// found, else a warning that names them.
fn partly(found: usize, unknown: &[String]) -> Outcome {
    if unknown.is_empty() {
        Outcome::ok()
    } else if found == 0 {
        Outcome::error(
            Minor::UnknownVersionId,
            format!("unknown VersionID: {}", unknown.join(", ")),
        )
    } else {
        Outcome::warning(
            Minor::RequestOnlyPartlySuccessfulWarning,
            format!("unknown VersionID, left out: {}", unknown.join(", ")),
        )
    }
}

async fn object(
    state: &AppState,
    p: &Principal,
    aoid: &str,
) -> Result<ObjectView, super::codes::Outcome> {
    let owned = state
        .archive
        .authorize_object(p, Operation::ReadObject, aoid)
        .await
        .map_err(|e| outcome_of(&e))?;
    state
        .archive
        .object(&owned)
        .await
        .map_err(|e| outcome_of(&e))
}

/// A catalog version's number as the service takes it.
fn number(v: &VersionView) -> Result<VersionNo, (crate::service::ServiceError, Option<String>)> {
    VersionNo::new(v.version)
        .map_err(|e| (crate::service::ServiceError::Corrupt(e.to_string()), None))
}

fn stop(o: Outcome, aoid: &str) -> Ran {
    Ok((o, String::new(), Some(aoid.to_string())))
}

/// ArchiveRetrieval: the selected versions as one XAIP, each version's
/// document a `dataObject` (base64), with its evidence record as a
/// credential when `IncludeERS` asks for RFC 4998.
pub async fn retrieve(
    state: &AppState,
    p: &Principal,
    aoid: &str,
    versions: &[String],
    include_ers: Option<&str>,
    po_format: Option<&str>,
) -> Ran {
    if let Some(f) = po_format.filter(|f| *f != XAIP_FORMAT && *f != LXAIP_FORMAT) {
        return stop(
            Outcome::error(
                Minor::UnknownPoFormat,
                format!(
                    "retrieval gives an XAIP ({XAIP_FORMAT}) or an LXAIP ({LXAIP_FORMAT}), not {f}"
                ),
            ),
            aoid,
        );
    }
    let embed = po_format != Some(LXAIP_FORMAT);
    if let Some(f) = include_ers.filter(|f| *f != RFC4998) {
        return stop(
            Outcome::error(
                Minor::NotSupported,
                format!("evidence records are given as {RFC4998}, not {f}"),
            ),
            aoid,
        );
    }
    let view = match object(state, p, aoid).await {
        Ok(v) => v,
        Err(o) => return stop(o, aoid),
    };
    let (selected, unknown) = select(&view, versions);
    let outcome = partly(selected.len(), &unknown);
    if selected.is_empty() {
        return stop(outcome, aoid);
    }
    let total: u64 = selected.iter().map(|v| v.size.div_ceil(3) * 4).sum();
    if total > state.http.max_soap_message as u64 {
        return stop(
            Outcome::error(
                Minor::ParameterError,
                format!(
                    "the versions asked for are {total} bytes in base64, more than an S.4 message may carry ({}); ask for fewer, or fetch them by GET /v1/objects/{aoid}/versions/{{n}}/content",
                    state.http.max_soap_message
                ),
            ),
            aoid,
        );
    }
    let reader = state
        .archive
        .authorize_object(p, Operation::ReadContent, aoid)
        .await
        .map_err(|e| (e, Some(aoid.to_string())))?;
    let is_package = view
        .versions
        .iter()
        .any(|v| v.media_type == crate::service::XAIP_MEDIA_TYPE);
    // a package's versions are read whole: each one's objects may be in
    // an earlier one
    let reading: Vec<&VersionView> = if is_package {
        let mut all: Vec<&VersionView> = view.versions.iter().collect();
        all.sort_by_key(|v| v.version);
        all
    } else {
        selected.clone()
    };
    let mut contents = Vec::with_capacity(reading.len());
    for v in &reading {
        let n = number(v)?;
        let mut c = state
            .archive
            .content(&reader, n)
            .await
            .map_err(|e| (e, Some(aoid.to_string())))?;
        let mut bytes = Vec::with_capacity(v.size as usize);
        while let Some(piece) = c.body.next().await {
            let piece = piece.map_err(|e| {
                (
                    crate::service::ServiceError::Task(e.to_string()),
                    Some(aoid.to_string()),
                )
            })?;
            bytes.extend_from_slice(&piece);
        }
        contents.push(bytes);
    }
    let mut records = Vec::new();
    if include_ers.is_some() {
        let ev = state
            .archive
            .authorize_object(p, Operation::Evidence, aoid)
            .await
            .map_err(|e| (e, Some(aoid.to_string())))?;
        for v in &selected {
            let n = number(v)?;
            let (_, der) = state
                .archive
                .evidence(&ev, Some(n), EVIDENCE_WAIT)
                .await
                .map_err(|e| (e, Some(aoid.to_string())))?;
            records.push(der);
        }
    }
    if is_package {
        let all = selected.len() == view.versions.len();
        // an LXAIP as the XAIP it stands for: its files, embedded
        let files = if embed {
            state
                .archive
                .referenced_files(&reader, &contents)
                .await
                .map_err(|e| (e, Some(aoid.to_string())))?
        } else {
            Default::default()
        };
        let embedded: u64 = files
            .values()
            .map(|f| (f.len() as u64).div_ceil(3) * 4)
            .sum();
        if total + embedded > state.http.max_soap_message as u64 {
            return stop(
                Outcome::error(
                    Minor::ParameterError,
                    format!(
                        "the package with its files embedded is {} bytes in base64, more than an S.4 message may carry ({}); ask for the LXAIP ({LXAIP_FORMAT}) and download its files by GET /s4/download?uri=",
                        total + embedded,
                        state.http.max_soap_message
                    ),
                ),
                aoid,
            );
        }
        return archived_package(&view.aoid, &selected, all, contents, records, files)
            .await
            .map(|out| (outcome, out, Some(aoid.to_string())))
            .map_err(|e| (e, Some(aoid.to_string())));
    }
    let mut out = String::new();
    write_xaip(&mut out, &view.aoid, &selected, &contents, &records);
    Ok((outcome, out, Some(aoid.to_string())))
}

/// An object archived as an XAIP comes back as a package, with the
/// archive's AOID in its header and the evidence records asked for in its
/// credentials section. An object of one version is the package as it was
/// submitted; one updated by DXAIPs is the union of its versions
/// ([`bewahr_xaip::History::union`]): the manifests of the versions asked
/// for and the objects they name. `packages` are all the object's stored
/// packages, oldest first; `all`: every version was asked for.
async fn archived_package(
    aoid: &str,
    selected: &[&VersionView],
    all: bool,
    packages: Vec<Vec<u8>>,
    records: Vec<Vec<u8>>,
    files: std::collections::HashMap<String, Vec<u8>>,
) -> Result<String, crate::service::ServiceError> {
    use crate::service::ServiceError;
    let aoid = aoid.to_string();
    let vids: Vec<String> = selected.iter().map(|v| vid_of(v)).collect();
    let out = tokio::task::spawn_blocking(move || {
        let mut p = match packages.as_slice() {
            [package] if files.is_empty() => bewahr_xaip::Xaip::with_aoid(package, &aoid)?,
            _ => {
                let history = bewahr_xaip::History::parse(&packages)?;
                history.embed_references(&files)?;
                history.union(&aoid, (!all).then_some(vids.as_slice()))?
            }
        };
        if !records.is_empty() {
            let pairs: Vec<(String, Vec<u8>)> = vids.into_iter().zip(records).collect();
            p = bewahr_xaip::Xaip::with_records(&p, &aoid, &pairs)?;
        }
        Ok::<_, bewahr_xaip::XaipError>(p)
    })
    .await
    .map_err(|e| ServiceError::Task(e.to_string()))?
    .map_err(|e| ServiceError::Corrupt(format!("the archived package: {e}")))?;
    let text = String::from_utf8(out)
        .map_err(|_| ServiceError::Corrupt("the archived package is not UTF-8".into()))?;
    // a package stored as a document of its own may start with an XML
    // declaration, which cannot stand inside the response
    let body = match text.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, r)| r.trim_start().to_string())
            .unwrap_or_default(),
        None => text,
    };
    Ok(body)
}

/// Whether `s` can be an `xs:ID` (an NCName, ASCII here).
fn is_ncname(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || "_-.".contains(x))
}

/// An XAIP of `versions` (in order), `contents[i]` the bytes of
/// `versions[i]`, `records[i]` its evidence record if any were asked for.
fn write_xaip(
    out: &mut String,
    aoid: &str,
    versions: &[&VersionView],
    contents: &[Vec<u8>],
    records: &[Vec<u8>],
) {
    // the data objects' IDs: the archiveDataID given at submission where
    // it is a usable, unique ID, else DO-V001, ...
    let mut used: HashSet<String> = HashSet::new();
    let ids: Vec<String> = versions
        .iter()
        .map(|v| {
            let vid = version_id(v.version);
            let given = v
                .metadata
                .meta
                .get("s4.archiveDataID")
                .filter(|g| is_ncname(g) && !g.starts_with("V0") && !used.contains(*g));
            let id = given.cloned().unwrap_or_else(|| format!("DO-{vid}"));
            used.insert(id.clone());
            id
        })
        .collect();
    // the namespaces declared on the root: the package stands alone (TS
    // 119 512 hands it on as a document of its own)
    out.push_str(concat!(
        "<xaip:XAIP xmlns:xaip=\"http://www.bsi.bund.de/tr-esor/xaip\"",
        " xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" XAIPVersion=\"1.3.0\">"
    ));
    out.push_str(&format!(
        "<xaip:packageHeader packageID=\"PH-{}\">",
        esc(aoid)
    ));
    leaf(out, "xaip:AOID", aoid);
    for (i, v) in versions.iter().enumerate() {
        let vid = version_id(v.version);
        out.push_str(&format!("<xaip:versionManifest VersionID=\"{vid}\">"));
        out.push_str("<xaip:preservationInfo>");
        leaf(
            out,
            "xaip:retentionPeriod",
            v.metadata.retention_until.as_deref().unwrap_or(NO_END),
        );
        out.push_str("</xaip:preservationInfo>");
        out.push_str(&format!(
            "<xaip:packageInfoUnit packageUnitID=\"PU-{vid}\">"
        ));
        leaf(out, "xaip:protectedObjectPointer", &ids[i]);
        if !records.is_empty() {
            leaf(out, "xaip:unprotectedObjectPointer", &format!("ER-{vid}"));
        }
        out.push_str("</xaip:packageInfoUnit></xaip:versionManifest>");
    }
    out.push_str(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
    );
    out.push_str("</xaip:packageHeader><xaip:dataObjectsSection>");
    for (i, v) in versions.iter().enumerate() {
        out.push_str(&format!(
            "<xaip:dataObject dataObjectID=\"{}\"><xaip:binaryData MimeType=\"{}\">",
            esc(&ids[i]),
            esc(&v.media_type)
        ));
        out.push_str(&b64(&contents[i]));
        out.push_str("</xaip:binaryData></xaip:dataObject>");
    }
    out.push_str("</xaip:dataObjectsSection>");
    if !records.is_empty() {
        out.push_str("<xaip:credentialsSection>");
        for (i, v) in versions.iter().enumerate() {
            let vid = version_id(v.version);
            out.push_str(&format!(
                "<xaip:credential credentialID=\"ER-{vid}\" relatedObjects=\"{vid}\">"
            ));
            write_record(out, aoid, &vid, &records[i]);
            out.push_str("</xaip:credential>");
        }
        out.push_str("</xaip:credentialsSection>");
    }
    out.push_str("</xaip:XAIP>");
}

pub fn write_record(out: &mut String, aoid: &str, vid: &str, der: &[u8]) {
    // an RFC 6283 record (this archive writes it with the `ers:` prefix and
    // one declaration on its root): its content as `xaip:xmlEvidenceRecord`
    if let Some(inner) = std::str::from_utf8(der).ok().and_then(|x| {
        let start = x.find("<ers:EvidenceRecord")?;
        let open_end = start + x[start..].find('>')? + 1;
        let close = x.rfind("</ers:EvidenceRecord>")?;
        (open_end <= close).then(|| &x[open_end..close])
    }) {
        out.push_str(&format!(
            "<xaip:evidenceRecord AOID=\"{}\" VersionID=\"{vid}\"><xaip:xmlEvidenceRecord xmlns:ers=\"urn:ietf:params:xml:ns:ers\" Version=\"1.0\">{inner}</xaip:xmlEvidenceRecord></xaip:evidenceRecord>",
            esc(aoid)
        ));
        return;
    }
    out.push_str(&format!(
        "<xaip:evidenceRecord AOID=\"{}\" VersionID=\"{vid}\"><xaip:asn1EvidenceRecord>",
        esc(aoid)
    ));
    out.push_str(&b64(der));
    out.push_str("</xaip:asn1EvidenceRecord></xaip:evidenceRecord>");
}

/// One version's evidence record as ArchiveEvidence gives it.
pub struct GivenRecord {
    /// The object's AOID as the catalog has it.
    pub aoid: String,
    pub vid: String,
    /// DER (RFC 4998), or the XML document (RFC 6283) when asked for.
    pub der: Vec<u8>,
}

/// Each selected version as an ASiC container with its evidence record
/// (the archive's `asic`: document versions only), with its VersionID and
/// media type; TS 119 512's RetrievePO with `poFormat` ASiC-ERS.
pub async fn asic_containers(
    state: &AppState,
    p: &Principal,
    aoid: &str,
    versions: &[String],
) -> Result<
    (Outcome, Vec<(String, Vec<u8>, &'static str)>),
    (crate::service::ServiceError, Option<String>),
> {
    let view = match object(state, p, aoid).await {
        Ok(v) => v,
        Err(o) => return Ok((o, vec![])),
    };
    let (selected, unknown) = select(&view, versions);
    if selected.is_empty() {
        return Ok((partly(0, &unknown), vec![]));
    }
    let owned = state
        .archive
        .authorize_object(p, Operation::ReadContent, aoid)
        .await
        .map_err(|e| (e, Some(aoid.to_string())))?;
    let mut out = vec![];
    for v in &selected {
        let (zip, mime) = state
            .archive
            .asic(&owned, number(v)?)
            .await
            .map_err(|e| (e, Some(aoid.to_string())))?;
        out.push((vid_of(v), zip, mime));
    }
    Ok((partly(out.len(), &unknown), out))
}

/// ArchiveEvidence: the RFC 4998 record of each selected version, built
/// from the stored tree and time-stamp (waiting a while for a version
/// whose batch is not sealed yet).
pub async fn evidence(
    state: &AppState,
    p: &Principal,
    aoid: &str,
    versions: &[String],
    format: Option<&str>,
) -> Ran {
    let (outcome, found, aoid_out) = records(state, p, aoid, versions, format).await?;
    let mut out = String::new();
    for r in &found {
        write_record(&mut out, &r.aoid, &r.vid, &r.der);
    }
    Ok((outcome, out, aoid_out))
}

/// The records ArchiveEvidence gives (each selected version's, then those
/// imported with it), with the request's result.
pub async fn records(
    state: &AppState,
    p: &Principal,
    aoid: &str,
    versions: &[String],
    format: Option<&str>,
) -> Result<
    (Outcome, Vec<GivenRecord>, Option<String>),
    (crate::service::ServiceError, Option<String>),
> {
    let stop = |o: Outcome| Ok((o, vec![], Some(aoid.to_string())));
    let xml = match format {
        None | Some(RFC4998) => false,
        Some(RFC6283) => true,
        Some(f) => {
            return stop(Outcome::error(
                Minor::NotSupported,
                format!("{f} is not an evidence record format of this archive"),
            ))
        }
    };
    let view = match object(state, p, aoid).await {
        Ok(v) => v,
        Err(o) => return stop(o),
    };
    let (selected, unknown) = select(&view, versions);
    if selected.is_empty() {
        return stop(partly(0, &unknown));
    }
    let ev = state
        .archive
        .authorize_object(p, Operation::Evidence, aoid)
        .await
        .map_err(|e| (e, Some(aoid.to_string())))?;
    let mut out = Vec::new();
    let mut failed: Vec<(String, Outcome)> = vec![];
    for v in &selected {
        let vid = vid_of(v);
        let n = number(v)?;
        let record = if xml {
            state
                .archive
                .evidence_rfc6283(&ev, Some(n), EVIDENCE_WAIT)
                .await
        } else {
            state.archive.evidence(&ev, Some(n), EVIDENCE_WAIT).await
        };
        match record {
            // the XML form is this archive's own record: the DER records of
            // an earlier archive imported with the version are not re-expressed
            Ok((_, x)) if xml => out.push(GivenRecord {
                aoid: view.aoid.clone(),
                vid: vid.clone(),
                der: x,
            }),
            Ok((_, der)) => {
                out.push(GivenRecord {
                    aoid: view.aoid.clone(),
                    vid: vid.clone(),
                    der,
                });
                // then those of an earlier archive, imported with the version
                match state.archive.imported_records(&ev, n).await {
                    Ok(imported) => {
                        for der in imported {
                            out.push(GivenRecord {
                                aoid: view.aoid.clone(),
                                vid: vid.clone(),
                                der,
                            });
                        }
                    }
                    Err(e) => failed.push((vid, outcome_of(&e))),
                }
            }
            Err(e) => failed.push((vid, outcome_of(&e))),
        }
    }
    let outcome = match (failed.len(), unknown.is_empty()) {
        (0, _) => partly(selected.len(), &unknown),
        (n, _) if n == selected.len() => failed.swap_remove(0).1,
        _ => {
            let mut left: Vec<String> = unknown.clone();
            left.extend(
                failed
                    .iter()
                    .map(|(vid, o)| format!("{vid} ({})", o.message.as_deref().unwrap_or(""))),
            );
            Outcome::warning(
                Minor::RequestOnlyPartlySuccessfulWarning,
                format!("left out: {}", left.join(", ")),
            )
        }
    };
    Ok((outcome, out, Some(aoid.to_string())))
}

/// The most trail entries one ArchiveTrace gives.
const MAX_EVENTS: usize = 100_000;

/// One entry of an object's trail, as `pres:Event` has it.
#[derive(Clone, Debug)]
pub struct Event {
    pub time: String,
    pub subject: String,
    pub operation: String,
    pub object: Option<String>,
    pub detail: String,
}

/// ArchiveTrace: the object's audit trail as `pres:Trace`, oldest first.
pub async fn trace(state: &AppState, p: &Principal, aoid: &str) -> Ran {
    let (outcome, events) = events(state, p, aoid).await?;
    let mut out = String::from("<pres:Trace>");
    for e in &events {
        out.push_str("<pres:Event>");
        leaf(&mut out, "pres:Time", &e.time);
        leaf(&mut out, "pres:Subject", &e.subject);
        leaf(&mut out, "pres:Operation", &e.operation);
        if let Some(a) = &e.object {
            leaf(&mut out, "pres:Object", a);
        }
        leaf(&mut out, "pres:Detail", &e.detail);
        out.push_str("</pres:Event>");
    }
    out.push_str("</pres:Trace>");
    Ok((outcome, out, Some(aoid.to_string())))
}

/// The object's trail entries, oldest first (at most [`MAX_EVENTS`]; a
/// warning says where the rest are).
pub async fn events(
    state: &AppState,
    p: &Principal,
    aoid: &str,
) -> Result<(Outcome, Vec<Event>), (crate::service::ServiceError, Option<String>)> {
    let who = state
        .archive
        .authorize(p, Operation::Trace)
        .map_err(|e| (e, None))?;
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let q = TraceQuery {
            aoid: Some(aoid.to_string()),
            after: Some(after),
            limit: Some(1000),
        };
        let page = state
            .archive
            .trace(&who, &q)
            .await
            .map_err(|e| (e, Some(aoid.to_string())))?;
        for e in &page {
            let detail = if e.detail.is_empty() {
                format!("result {}", e.result)
            } else {
                format!("result {}; {}", e.result, e.detail)
            };
            out.push(Event {
                time: e.at.clone(),
                subject: e.actor.clone(),
                operation: e.action.clone(),
                object: e.aoid.clone(),
                detail,
            });
            after = e.seq;
        }
        if page.len() < 1000 || out.len() >= MAX_EVENTS {
            break;
        }
    }
    let outcome = if out.len() >= MAX_EVENTS {
        Outcome::warning(
            Minor::RequestOnlyPartlySuccessfulWarning,
            format!("the first {MAX_EVENTS} entries; the rest by GET /v1/audit?aoid={aoid}&after={after}"),
        )
    } else {
        Outcome::ok()
    };
    Ok((outcome, out))
}

/// The `Type`s of a `tr:DataLocation` that name XPath: TR-ESOR-E's XPath
/// 2.0 URI (evaluated as XPath 1.0, see [`bewahr_xaip::select`]) and XPath
/// 1.0's.
const XPATH_TYPES: &[&str] = &[
    "http://www.w3.org/TR/2007/REC-xpath20-20070123/",
    "http://www.w3.org/TR/2007/REC-xpath20-20070123",
    "http://www.w3.org/TR/1999/REC-xpath-19991116",
];

/// ArchiveData: what each `DataLocation` selects in the archive object as
/// an XAIP (exactly the package ArchiveRetrieval of `ALL` gives: for an
/// object archived as an XAIP the union of its versions with the archive's
/// AOID). Each location's own result and value in its `tr:XAIPData`; the
/// request's result is ok if every location selected something, a warning
/// if some did.
pub async fn data(
    state: &AppState,
    p: &Principal,
    aoid: &str,
    locations: &[super::message::DataLocation],
) -> Ran {
    let (outcome, package, _) = retrieve(state, p, aoid, &["ALL".to_string()], None, None).await?;
    if !outcome.is_ok() {
        return stop(outcome, aoid);
    }
    let package = std::sync::Arc::new(package.into_bytes());
    let mut body = String::new();
    let mut found = 0;
    for l in locations {
        let ty = l.type_uri.as_deref().unwrap_or(XPATH_TYPES[0]);
        let selected = if !XPATH_TYPES.contains(&ty) {
            Err(Outcome::error(
                Minor::NotSupported,
                format!(
                    "a DataLocation of Type {ty}: this archive reads XPath ({})",
                    XPATH_TYPES[0]
                ),
            ))
        } else {
            let (package, loc) = (package.clone(), l.clone());
            let r = tokio::task::spawn_blocking(move || {
                bewahr_xaip::select::select(&package, &loc.expression, &loc.namespaces)
            })
            .await
            .map_err(|e| {
                (
                    crate::service::ServiceError::Task(e.to_string()),
                    Some(aoid.to_string()),
                )
            })?;
            match r {
                Ok(items) if items.is_empty() => Err(Outcome::error(
                    Minor::UnknownLocation,
                    format!("{} selects nothing in archive object {aoid}", l.expression),
                )),
                Ok(items) => Ok(items),
                Err(e) => Err(Outcome::error(Minor::ParameterError, e.to_string())),
            }
        };
        body.push_str("<tr:XAIPData>");
        match &selected {
            Ok(_) => super::respond::result(&mut body, &Outcome::ok()),
            Err(o) => super::respond::result(&mut body, o),
        }
        body.push_str(&format!("<tr:DataLocation Type=\"{}\">", esc(ty)));
        body.push_str(&esc(&l.expression));
        body.push_str("</tr:DataLocation>");
        if let Ok(items) = selected {
            found += 1;
            body.push_str("<tr:Value>");
            let mut first = true;
            for item in items {
                match item {
                    bewahr_xaip::select::Selected::Element(x) => {
                        body.push_str(&String::from_utf8_lossy(&x))
                    }
                    bewahr_xaip::select::Selected::Text(t) => {
                        if !first {
                            body.push('\n');
                        }
                        body.push_str(&esc(&t));
                    }
                }
                first = false;
            }
            body.push_str("</tr:Value>");
        }
        body.push_str("</tr:XAIPData>");
    }
    let outcome = if found == locations.len() {
        Outcome::ok()
    } else if found > 0 {
        Outcome::warning(
            Minor::RequestOnlyPartlySuccessfulWarning,
            format!(
                "{} of {} locations selected nothing or could not be read",
                locations.len() - found,
                locations.len()
            ),
        )
    } else {
        Outcome::error(
            Minor::ParameterError,
            "no DataLocation could be read (each XAIPData says why)",
        )
    };
    Ok((outcome, body, Some(aoid.to_string())))
}
