//! TR-ESOR S.4 (BSI TR-03125 Annex E 1.3) over SOAP 1.1: `POST /s4`, the
//! WSDL at `GET /s4?wsdl`, its schemas below `/s4/schemas/`.
//!
//! A thin interface on the archive service, like the REST API: a request
//! is read and checked against the schema ([`message`]), the caller is
//! authorised by the service, the service does the work, and its answer
//! or error becomes an S.4 result code in one place ([`outcome_of`]).
//! Authentication is the REST API's (bearer token or client certificate);
//! every call is in the audit trail with its operation and result.

pub mod codes;
pub mod message;
pub mod profile;
pub mod respond;
pub mod upload;
pub(crate) mod verify_out;
pub mod wsdl;
pub(crate) mod xaip_out;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;

use crate::access::Principal;
use crate::api::auth::{AuditDetail, CreatedObject};
use crate::api::AppState;
use crate::catalog::Metadata;
use crate::ids::Aoid;
use crate::ids::VersionNo;
use crate::service::{
    DeletionRequest, Operation, PackageFault, RecordCheck, SchemaCheck, ServiceError, Submission,
};
use codes::{Minor, Outcome};
use message::{ArchiveData, Call, Op, Request, SubmitOptions, Unreadable};

/// The routes of the S.4 interface (their body limit is set in `app()`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/s4", get(wsdl::get).post(call))
        .route("/s4/schemas/{*path}", get(wsdl::schema))
        .route("/s4/download", get(upload::download))
}

/// The upload of files for LXAIPs ([`upload`]): streamed against the
/// document limit, not the SOAP message's (set in `app()`).
pub fn upload_routes() -> Router<AppState> {
    Router::new().route("/s4/upload", axum::routing::post(upload::upload))
}

/// The `Type`s of `ArchiveData` accepted: signed documents and signature
/// containers, whose signatures the archive validates as for every
/// document (ETSI's URIs, as C.2 uses them).
const DATA_TYPES: &[&str] = &[
    "http://uri.etsi.org/ades/CAdES",
    "http://uri.etsi.org/ades/XAdES",
    "http://uri.etsi.org/ades/PAdES",
    "http://uri.etsi.org/ades/ASiC/type/ASiC-S",
    "http://uri.etsi.org/ades/ASiC/type/ASiC-E",
];

/// The `Type` of a hash-only `ArchiveData` (ETSI TS 119 512 `pres:DigestList`).
pub(crate) const DIGEST_LIST: &str = "http://uri.etsi.org/19512/format/DigestList";

/// `POST /s4`: one S.4 request.
async fn call(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let read = match tokio::task::spawn_blocking(move || message::read(&body)).await {
        Ok(r) => r,
        Err(e) => return respond::fault("Server", &format!("reading the request failed: {e}")),
    };
    let req = match read {
        Ok(r) => r,
        Err(Unreadable::Fault { code, reason }) => return respond::fault(code, &reason),
        Err(Unreadable::Result {
            op,
            request_id,
            outcome,
        }) => {
            return answer(
                op,
                request_id.as_deref(),
                outcome,
                String::new(),
                None,
                None,
            )
        }
    };
    // a SOAPAction, if sent, must name the operation of the body
    if let Some(action) = headers.get("soapaction").and_then(|v| v.to_str().ok()) {
        let action = action.trim().trim_matches('"');
        if !action.is_empty() && action != req.op.soap_action() {
            return respond::fault(
                "Client",
                &format!(
                    "the SOAPAction {action} does not match the body's {} request",
                    req.op.name()
                ),
            );
        }
    }
    let (outcome, body, aoid) = run(&state, &principal, &req).await;
    // a deletion's reason and requestor go into the trail with it
    let extra = match &req.call {
        Call::Deletion { reason, .. } => Some(deletion_request(reason.as_ref()).audit_detail()),
        _ => None,
    };
    answer(
        req.op,
        req.request_id.as_deref(),
        outcome,
        body,
        aoid,
        extra,
    )
}

fn answer(
    op: Op,
    request_id: Option<&str>,
    outcome: Outcome,
    body: String,
    aoid: Option<String>,
    extra: Option<String>,
) -> Response {
    // the elements the schema requires even of a failed answer
    let body = match op {
        Op::ArchiveTrace if body.is_empty() => "<pres:Trace/>".to_string(),
        Op::ArchiveData if body.is_empty() => {
            let mut b = String::from("<tr:XAIPData>");
            respond::result(&mut b, &outcome);
            b.push_str("<tr:DataLocation/></tr:XAIPData>");
            b
        }
        _ => body,
    };
    let mut resp = respond::envelope(op, request_id, &outcome, &body);
    let mut detail = format!("S.4 {}: {}", op.name(), outcome.major.uri());
    if let Some(m) = outcome.minor {
        detail.push(' ');
        detail.push_str(&m.uri());
    }
    if let Some(x) = extra {
        detail.push_str("; ");
        detail.push_str(&x);
    }
    resp.extensions_mut().insert(AuditDetail(detail));
    if let Some(a) = aoid {
        resp.extensions_mut().insert(CreatedObject(a));
    }
    resp
}

/// The result code of a service error: the one place S.4 maps them.
pub(crate) fn outcome_of(e: &ServiceError) -> Outcome {
    match e {
        ServiceError::Forbidden { .. } => Outcome::error(Minor::NoPermission, e.to_string()),
        ServiceError::NotFound(m) => Outcome::error(Minor::UnknownAoid, m.clone()),
        ServiceError::Invalid { message, .. } => {
            Outcome::error(Minor::ParameterError, message.clone())
        }
        ServiceError::TooLarge(m) => Outcome::error(Minor::ParameterError, m.clone()),
        ServiceError::Conflict {
            code: "reason_required",
            message,
        } => Outcome::error(Minor::MissingReasonOfDeletion, message.clone()),
        ServiceError::Conflict {
            code: "existing_aoid",
            message,
        } => Outcome::error(Minor::ExistingAoid, message.clone()),
        ServiceError::Conflict { message, .. } => {
            Outcome::error(Minor::ParameterError, message.clone())
        }
        ServiceError::Refused { reason, .. } => Outcome::error(Minor::InvalidSignature, reason.clone()),
        ServiceError::Package { fault, message, .. } => Outcome::error(
            match fault {
                PackageFault::Nok => Minor::XaipNok,
                PackageFault::Expired => Minor::XaipNokExpired,
                PackageFault::SubmissionTime => Minor::XaipNokSubmTime,
                PackageFault::Signature => Minor::XaipNokSig,
                PackageFault::EvidenceRecord => Minor::XaipNokEr,
                // the faults of updates, should one reach here
                PackageFault::Aoid => Minor::UnknownAoid,
                PackageFault::Version => Minor::DxaipNokVersion,
                PackageFault::Id => Minor::DxaipNokId,
                PackageFault::Client => Minor::NoPermission,
            },
            message.clone(),
        ),
        ServiceError::Pending { retry_after_secs } => Outcome::error(
            Minor::InternalError,
            format!(
                "the version is not sealed yet: its evidence record exists in about {retry_after_secs} s"
            ),
        ),
        e => {
            tracing::error!(error = %e, "S.4 request failed");
            Outcome::error(Minor::InternalError, e.to_string())
        }
    }
}

/// How evidence records a caller brings are judged: by the archive's
/// verifier, its trusted TSAs, algorithm catalogue and profile.
pub(crate) fn record_check(state: &AppState) -> RecordCheck {
    let ctx = state.renewer.ctx();
    RecordCheck {
        trusted: ctx.trusted().to_vec(),
        policy: ctx.policy(),
        profile: state.evidence_profile,
    }
}

/// The service's deletion request of an S.4 `ReasonOfDeletion`.
pub(crate) fn deletion_request(reason: Option<&message::ReasonOfDeletion>) -> DeletionRequest {
    DeletionRequest {
        reason: reason.map(|r| r.info.clone()),
        requestor: reason.map(|r| r.requestor.clone()),
    }
}

/// The result code of a failed ArchiveUpdate: the DXAIP codes of
/// TR-ESOR-E where they apply.
pub(crate) fn update_outcome(e: &ServiceError) -> Outcome {
    match e {
        ServiceError::NotFound(m) => Outcome::error(Minor::DxaipNokAoid, m.clone()),
        ServiceError::Package { fault, message, .. } => Outcome::error(
            match fault {
                PackageFault::Nok => Minor::DxaipNok,
                PackageFault::Expired => Minor::DxaipNokExpired,
                PackageFault::SubmissionTime => Minor::DxaipNokSubmTime,
                PackageFault::Signature => Minor::DxaipNokSig,
                PackageFault::EvidenceRecord => Minor::DxaipNokEr,
                PackageFault::Aoid => Minor::DxaipNokAoid,
                PackageFault::Version => Minor::DxaipNokVersion,
                PackageFault::Id => Minor::DxaipNokId,
                PackageFault::Client => Minor::NoPermission,
            },
            message.clone(),
        ),
        e => outcome_of(e),
    }
}

/// Runs a request: its result, the elements after `dss:Result`, and the
/// archive object it concerned (for the audit trail).
async fn run(state: &AppState, p: &Principal, req: &Request) -> (Outcome, String, Option<String>) {
    let r = match &req.call {
        Call::RetrieveInfo { profile, status } => {
            match profile::select(profile.as_deref(), status.as_deref(), state.archive.now()) {
                Ok(found) => {
                    let mut body = String::new();
                    for f in found {
                        f.write(&mut body);
                    }
                    Ok((Outcome::ok(), body, None))
                }
                Err(o) => Ok((o, String::new(), None)),
            }
        }
        Call::SubmitData(data, options) => {
            let r = submit_data(state, p, data, options, false).await;
            let subject = match (options.report, data.as_slice()) {
                (true, [d]) => Some(verify_out::Subject::Signed(&d.bytes)),
                _ => None,
            };
            Ok(with_report(state, p, r, subject, outcome_of).await)
        }
        Call::SubmitXaip(package, options) => {
            let r = submit_xaip(state, p, package, options, SchemaCheck::DoneWithRequest).await;
            let subject = options
                .report
                .then_some(verify_out::Subject::Package(package));
            Ok(with_report(state, p, r, subject, outcome_of).await)
        }
        Call::Update {
            package,
            aoid,
            version,
            options,
        } => {
            let r = update_xaip(
                state,
                p,
                package,
                aoid.as_deref(),
                version,
                options,
                SchemaCheck::DoneWithRequest,
            )
            .await;
            let subject = options
                .report
                .then_some(verify_out::Subject::Package(package));
            Ok(with_report(state, p, r, subject, update_outcome).await)
        }
        Call::Retrieval {
            aoid,
            versions,
            include_ers,
            po_format,
        } => {
            xaip_out::retrieve(
                state,
                p,
                aoid,
                versions,
                include_ers.as_deref(),
                po_format.as_deref(),
            )
            .await
        }
        Call::Evidence {
            aoid,
            versions,
            format,
        } => xaip_out::evidence(state, p, aoid, versions, format.as_deref()).await,
        Call::Deletion { aoid, reason } => {
            let owned = state
                .archive
                .authorize_object(p, Operation::Delete, aoid)
                .await;
            match owned {
                Err(e) => Err((e, Some(aoid.clone()))),
                Ok(obj) => {
                    let d = deletion_request(reason.as_ref());
                    match state.archive.delete(&obj, &d).await {
                        Ok(_) => Ok((Outcome::ok(), String::new(), Some(aoid.clone()))),
                        Err(e) => Err((e, Some(aoid.clone()))),
                    }
                }
            }
        }
        Call::Trace { aoid } => xaip_out::trace(state, p, aoid).await,
        Call::Verify(v) => verify_out::verify(state, p, v).await,
        Call::Data { aoid, locations } => xaip_out::data(state, p, aoid, locations).await,
    };
    match r {
        Ok(x) => x,
        Err((e, aoid)) => (outcome_of(&e), String::new(), aoid),
    }
}

pub(crate) type Ran = Result<(Outcome, String, Option<String>), (ServiceError, Option<String>)>;

/// A submission's or update's answer with, when `subject` is given (the
/// caller asked by `vr:ReturnVerificationReport`), the verification report
/// of what was submitted in `dss:OptionalOutputs`, before the AOID or
/// VersionID, also when the submission was refused.
pub(crate) async fn with_report(
    state: &AppState,
    p: &Principal,
    r: Ran,
    subject: Option<verify_out::Subject<'_>>,
    outcome: fn(&ServiceError) -> Outcome,
) -> (Outcome, String, Option<String>) {
    let (o, body, aoid) = match r {
        Ok(x) => x,
        Err((e, aoid)) => (outcome(&e), String::new(), aoid),
    };
    match subject {
        None => (o, body, aoid),
        Some(s) => {
            let report = verify_out::report_of(state, p, s).await;
            (o, format!("{report}{body}"), aoid)
        }
    }
}

/// ArchiveSubmission of one `ArchiveData`: a new archive object whose
/// version 1 is the decoded bytes, validated and stored like every
/// document; its `Type` and `archiveDataID` are kept as metadata.
/// `any_type`: a `Type` outside S.4's list is taken too (TS 119 512's
/// PreservePO preserves any format).
pub(crate) async fn submit_data(
    state: &AppState,
    p: &Principal,
    data: &[ArchiveData],
    options: &SubmitOptions,
    any_type: bool,
) -> Ran {
    let no = |o: Outcome| Ok((o, String::new(), None));
    let [d] = data else {
        return no(Outcome::error(
            Minor::NotSupported,
            "one ArchiveData per submission: each document becomes an archive object of its own",
        ));
    };
    // a hash-only submission: the list of digests is the archived
    // document, its evidence record proves when each digest existed
    let digest_list = d.type_uri == DIGEST_LIST;
    if digest_list {
        let bytes = d.bytes.clone();
        let read = tokio::task::spawn_blocking(move || bewahr_xaip::digest_list::read(&bytes))
            .await
            .map_err(|e| (ServiceError::Task(e.to_string()), None))?;
        if let Err(why) = read {
            return no(Outcome::error(
                Minor::ParameterError,
                format!(
                    "ArchiveData {}: not a DigestList this archive preserves: {why}",
                    d.id
                ),
            ));
        }
    } else if !any_type && !DATA_TYPES.contains(&d.type_uri.as_str()) {
        return no(Outcome::error(
            Minor::UnknownArchiveDataType,
            format!(
                "ArchiveData of Type {} is not accepted (accepted: {})",
                d.type_uri,
                DATA_TYPES.join(", ")
            ),
        ));
    }
    let who = state
        .archive
        .authorize(p, Operation::Submit)
        .map_err(|e| (e, None))?;
    let mut metadata = Metadata::default();
    metadata.meta.insert("s4.type".into(), d.type_uri.clone());
    metadata
        .meta
        .insert("s4.archiveDataID".into(), d.id.clone());
    // records of an earlier archive over the document (tr:ImportEvidence)
    let imported = state
        .archive
        .document_imports(&d.bytes, &options.import, &record_check(state))
        .await
        .map_err(|e| (e, None))?;
    let package = imported.map(|(parts, (key, value))| {
        metadata.meta.insert(key, value);
        parts
    });
    state
        .archive
        .check_metadata(&metadata)
        .map_err(|e| (e, None))?;
    let mut incoming = state.archive.begin_upload();
    incoming
        .push(Bytes::from(d.bytes.clone()))
        .await
        .map_err(|e| (e, None))?;
    let upload = incoming.finish().await.map_err(|e| (e, None))?;
    let media_type = d
        .mime_type
        .clone()
        .filter(|m| m.parse::<axum::http::HeaderValue>().is_ok() && m.contains('/'))
        .unwrap_or_else(|| {
            if digest_list {
                "application/xml".into()
            } else {
                "application/octet-stream".into()
            }
        });
    let aoid = requested_aoid(options)?;
    let receipt = state
        .archive
        .submit_as(
            &who,
            aoid,
            Submission {
                upload,
                metadata,
                media_type,
                signature: None,
                package,
            },
        )
        .await
        .map_err(|e| (e, None))?;
    let aoid = receipt.accepted.aoid.clone();
    let mut body = String::new();
    respond::leaf(&mut body, "tr:AOID", &aoid);
    Ok((Outcome::ok(), body, Some(aoid)))
}

/// ArchiveSubmission of an XAIP: the AOID the archive assigned.
/// The AOID the caller chose (`xaip:AOID`), which must be of the archive's
/// form.
pub(crate) fn requested_aoid(
    options: &SubmitOptions,
) -> Result<Option<Aoid>, (ServiceError, Option<String>)> {
    options
        .aoid
        .as_deref()
        .map(|a| {
            Aoid::parse(a).map_err(|_| {
                (
                    ServiceError::invalid(
                        "bad_aoid",
                        format!("the AOID {a:?} given as an optional input is not of this archive's form: a UUID, 36 characters, lowercase hex with hyphens (e.g. 3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b)"),
                    ),
                    None,
                )
            })
        })
        .transpose()
}

pub(crate) async fn submit_xaip(
    state: &AppState,
    p: &Principal,
    package: &[u8],
    options: &SubmitOptions,
    schema: SchemaCheck,
) -> Ran {
    let aoid = requested_aoid(options)?;
    let who = state
        .archive
        .authorize(p, Operation::Submit)
        .map_err(|e| (e, None))?;
    let records = record_check(state);
    let receipt = state
        .archive
        .submit_xaip(
            &who,
            aoid,
            package.to_vec(),
            schema,
            &records,
            &options.import,
        )
        .await
        .map_err(|e| (e, None))?;
    let aoid = receipt.accepted.aoid.clone();
    let mut body = String::new();
    respond::leaf(&mut body, "tr:AOID", &aoid);
    Ok((Outcome::ok(), body, Some(aoid)))
}

/// ArchiveUpdate of an XAIP by a DXAIP: the new version's VersionID. The
/// object is the one the DXAIP's `packageHeader/AOID` names.
pub(crate) async fn update_xaip(
    state: &AppState,
    p: &Principal,
    package: &[u8],
    aoid: Option<&str>,
    vid: &str,
    options: &SubmitOptions,
    schema: SchemaCheck,
) -> Ran {
    let Some(aoid) = aoid.map(str::to_string) else {
        return Err((
            ServiceError::Package {
                fault: PackageFault::Aoid,
                message: "the DXAIP names no archive object: packageHeader/AOID is required".into(),
                report: None,
            },
            None,
        ));
    };
    let obj = state
        .archive
        .authorize_object(p, Operation::AddVersion, &aoid)
        .await
        .map_err(|e| (e, Some(aoid.clone())))?;
    let records = record_check(state);
    state
        .archive
        .update_xaip(&obj, package.to_vec(), schema, &records, &options.import)
        .await
        .map_err(|e| (e, Some(aoid.clone())))?;
    let mut body = String::new();
    respond::leaf(&mut body, "tr:VersionID", vid);
    Ok((Outcome::ok(), body, Some(aoid)))
}

/// A TR-ESOR VersionID for a version number: `V001`, as C.2 writes them.
pub fn version_id(v: i64) -> String {
    format!("V{v:03}")
}

/// A version number from a VersionID (`V001`, `v1`, `1`).
pub fn parse_version_id(s: &str) -> Option<VersionNo> {
    let digits = s.strip_prefix(['V', 'v']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    VersionNo::new(digits.parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids() {
        assert_eq!(version_id(1), "V001");
        assert_eq!(version_id(1234), "V1234");
        for s in ["V001", "v1", "1", "V1"] {
            assert_eq!(parse_version_id(s).map(VersionNo::get), Some(1), "{s}");
        }
        for s in ["", "V", "V-1", "x1", "V0", "ALL"] {
            assert!(parse_version_id(s).is_none(), "{s}");
        }
    }
}
