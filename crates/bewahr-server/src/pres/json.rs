//! The JSON binding of ETSI TS 119 512 (its Annex D OpenAPI document):
//! `POST /pres/{operation}`, member names exactly as the TS's JSON schema
//! gives them, HTTP 200 with the result in `result` (the only response the
//! OpenAPI document defines), `reqId` echoed.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::codes::{PresMinor, PresResult};
use super::run::{self, Answer, Ask, Evidence, OptIn, Po, PoData, PresOp, Request};
use crate::access::Principal;
use crate::api::AppState;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `dsb-AnyType`, as far as optional inputs use it.
#[derive(Deserialize, Default)]
struct AnyType {
    #[serde(default)]
    val: Option<String>,
}

#[derive(Deserialize, Default)]
struct OptionalInputs {
    #[serde(default)]
    policy: Vec<String>,
    #[serde(default)]
    other: Vec<AnyType>,
}

#[derive(Deserialize, Default)]
struct BinaryData {
    value: Option<String>,
}

#[derive(Deserialize, Default)]
struct XmlData {
    #[serde(rename = "b64Content")]
    b64_content: Option<String>,
}

/// `pres-POType` and `pres-EvidenceType` (the latter adds `poId`, `verId`).
#[derive(Deserialize, Default)]
struct PoType {
    #[serde(rename = "binaryData")]
    binary_data: Option<BinaryData>,
    #[serde(rename = "xmlData")]
    xml_data: Option<XmlData>,
    #[serde(rename = "formatId")]
    format_id: Option<String>,
    #[serde(rename = "mimeType")]
    mime_type: Option<String>,
    id: Option<String>,
    #[serde(rename = "relObj", default)]
    rel_obj: Vec<String>,
    #[serde(rename = "poId")]
    po_id: Option<String>,
    #[serde(rename = "verId")]
    ver_id: Option<String>,
}

/// Every member of every request (each operation reads its own).
#[derive(Deserialize, Default)]
struct Body {
    #[serde(rename = "optIn")]
    opt_in: Option<OptionalInputs>,
    #[serde(rename = "reqId")]
    req_id: Option<String>,
    pro: Option<String>,
    stat: Option<String>,
    #[serde(default)]
    po: Vec<PoType>,
    #[serde(rename = "poId")]
    po_id: Option<String>,
    #[serde(rename = "versionId", default)]
    version_id: Vec<String>,
    sor: Option<String>,
    #[serde(rename = "poFormat")]
    po_format: Option<String>,
    #[serde(rename = "evFormat")]
    ev_format: Option<String>,
    #[serde(rename = "mod")]
    mode: Option<String>,
    crn: Option<String>,
    reason: Option<String>,
    #[serde(rename = "deltaPoc", default)]
    delta_poc: Vec<PoType>,
    ev: Option<PoType>,
    fi: Option<String>,
}

fn po_of(p: PoType, what: &str) -> Result<Po, String> {
    let data = match (p.binary_data, p.xml_data) {
        (Some(b), None) => PoData::Binary(
            b64()
                .decode(b.value.unwrap_or_default().as_bytes())
                .map_err(|e| format!("{what}: binaryData.value is not base64 ({e})"))?,
        ),
        (None, Some(x)) => PoData::Xml(
            b64()
                .decode(x.b64_content.unwrap_or_default().as_bytes())
                .map_err(|e| format!("{what}: xmlData.b64Content is not base64 ({e})"))?,
        ),
        _ => return Err(format!("{what}: exactly one of binaryData and xmlData")),
    };
    Ok(Po {
        data,
        format_id: p.format_id,
        mime_type: p.mime_type,
        id: p.id,
        rel_obj: p.rel_obj,
    })
}

fn required(v: Option<String>, name: &str) -> Result<String, String> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{name} is required"))
}

/// The request of `op` in `body`; `Err`: what is wrong (with the `reqId`,
/// if one could be read).
fn read(op: PresOp, body: &[u8]) -> Result<Request, (Option<String>, String)> {
    let b: Body = serde_json::from_slice(body).map_err(|e| {
        let req_id = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("reqId").and_then(|r| r.as_str()).map(String::from));
        (
            req_id,
            format!("the {} request is not its JSON object: {e}", op.name()),
        )
    })?;
    let req_id = b.req_id.clone();
    let fail = |m: String| (req_id.clone(), m);
    let opt_in = match b.opt_in {
        None => OptIn::default(),
        Some(o) => OptIn {
            policy: o.policy,
            other: o
                .other
                .into_iter()
                .enumerate()
                .map(|(i, a)| {
                    b64()
                        .decode(a.val.unwrap_or_default().as_bytes())
                        .map_err(|e| format!("optIn.other[{i}].val is not base64 ({e})"))
                })
                .collect::<Result<_, _>>()
                .map_err(fail)?,
        },
    };
    let pos = |list: Vec<PoType>, name: &str| -> Result<Vec<Po>, (Option<String>, String)> {
        list.into_iter()
            .enumerate()
            .map(|(i, p)| po_of(p, &format!("{name}[{i}]")))
            .collect::<Result<_, _>>()
            .map_err(|m| (req_id.clone(), m))
    };
    let ask = match op {
        PresOp::RetrieveInfo => Ask::RetrieveInfo {
            profile: b.pro,
            status: b.stat,
        },
        PresOp::PreservePo => Ask::Preserve {
            profile: b.pro,
            pos: pos(b.po, "po")?,
        },
        PresOp::RetrievePo => Ask::Retrieve {
            po_id: required(b.po_id, "poId").map_err(fail)?,
            versions: b.version_id,
            sor: b.sor,
            po_format: b.po_format,
            ev_format: b.ev_format,
        },
        PresOp::DeletePo => Ask::Delete {
            po_id: required(b.po_id, "poId").map_err(fail)?,
            mode: b.mode,
            requestor: b.crn,
            reason: b.reason,
        },
        PresOp::UpdatePoc => Ask::Update {
            po_id: required(b.po_id, "poId").map_err(fail)?,
            delta: pos(b.delta_poc, "deltaPoc")?,
        },
        PresOp::RetrieveTrace => Ask::Trace {
            po_id: required(b.po_id, "poId").map_err(fail)?,
        },
        PresOp::ValidateEvidence => {
            let evidence = match b.ev {
                None => None,
                Some(mut e) => {
                    let (po_id, ver_id) = (e.po_id.take(), e.ver_id.take());
                    Some(Evidence {
                        po: po_of(e, "ev").map_err(fail)?,
                        po_id,
                        ver_id,
                    })
                }
            };
            Ask::Validate {
                evidence,
                pos: pos(b.po, "po")?,
            }
        }
        PresOp::Search => Ask::Search {
            filter: required(b.fi, "fi").map_err(fail)?,
        },
    };
    Ok(Request {
        op,
        req_id,
        opt_in,
        ask,
    })
}

/// `POST /pres/{operation}`.
pub async fn call(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(op): Path<String>,
    body: Bytes,
) -> Response {
    let Some(op) = PresOp::parse(&op) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({
                "error": "unknown_operation",
                "message": format!("{op} is not an operation of ETSI TS 119 512 (RetrieveInfo, PreservePO, RetrievePO, DeletePO, UpdatePOC, RetrieveTrace, ValidateEvidence, Search)"),
            })),
        )
            .into_response();
    };
    let (req_id, answer) = match read(op, &body) {
        Ok(req) => {
            let a = run::run(&state, &principal, &req).await;
            (req.req_id, a)
        }
        Err((req_id, why)) => (
            req_id,
            Answer::of(PresResult::error(PresMinor::ParameterError, why)),
        ),
    };
    let mut resp = Json(write(op, req_id.as_deref(), &answer)).into_response();
    super::audit(&mut resp, "TS 119 512", op, &answer);
    resp
}

fn result(r: &PresResult) -> Value {
    let mut v = json!({ "maj": r.major });
    if let Some(m) = &r.minor {
        v["min"] = Value::String(m.clone());
    }
    if let Some(m) = &r.message {
        v["msg"] = json!({ "value": m, "lang": "en" });
    }
    v
}

fn po(p: &Po) -> Value {
    let mut v = Map::new();
    match &p.data {
        PoData::Binary(b) => {
            v.insert("binaryData".into(), json!({ "value": b64().encode(b) }));
        }
        PoData::Xml(x) => {
            v.insert("xmlData".into(), json!({ "b64Content": b64().encode(x) }));
        }
    }
    if let Some(f) = &p.format_id {
        v.insert("formatId".into(), Value::String(f.clone()));
    }
    if let Some(m) = &p.mime_type {
        v.insert("mimeType".into(), Value::String(m.clone()));
    }
    if let Some(i) = &p.id {
        v.insert("id".into(), Value::String(i.clone()));
    }
    if !p.rel_obj.is_empty() {
        v.insert("relObj".into(), json!(p.rel_obj));
    }
    Value::Object(v)
}

/// The response object of `op`.
pub fn write(op: PresOp, req_id: Option<&str>, a: &Answer) -> Value {
    let mut v = Map::new();
    v.insert("result".into(), result(&a.result));
    if let Some(r) = req_id {
        v.insert("reqId".into(), Value::String(r.into()));
    }
    if !a.other.is_empty() {
        let other: Vec<Value> = a
            .other
            .iter()
            .map(|x| json!({ "val": b64().encode(x.as_bytes()), "mimeType": "application/xml" }))
            .collect();
        v.insert("optOut".into(), json!({ "other": other }));
    }
    match op {
        PresOp::RetrieveInfo => {
            v.insert(
                "pro".into(),
                Value::Array(a.profiles.iter().map(|p| p.json()).collect()),
            );
        }
        PresOp::PreservePo => {
            if let Some(id) = &a.po_id {
                v.insert("poId".into(), Value::String(id.clone()));
            }
        }
        PresOp::RetrievePo => {
            if !a.pos.is_empty() {
                v.insert("po".into(), Value::Array(a.pos.iter().map(po).collect()));
            }
        }
        PresOp::UpdatePoc => {
            if let Some(id) = &a.version_id {
                v.insert("versionId".into(), Value::String(id.clone()));
            }
        }
        PresOp::RetrieveTrace => {
            // `trace` is required, also of a failed answer
            let events: Vec<Value> = a
                .trace
                .iter()
                .flatten()
                .map(|e| {
                    let mut ev = json!({
                        "time": e.time,
                        "sub": e.subject,
                        "op": e.operation,
                        "det": e.detail,
                    });
                    if let Some(o) = &e.object {
                        ev["obj"] = Value::String(o.clone());
                    }
                    ev
                })
                .collect();
            v.insert("trace".into(), json!({ "event": events }));
        }
        PresOp::ValidateEvidence => {
            if let Some(r) = &a.val_rep {
                v.insert("valRep".into(), po(r));
            }
            if let Some(t) = &a.poe {
                v.insert("poe".into(), Value::String(t.clone()));
            }
        }
        PresOp::Search => {
            if !a.search.is_empty() {
                v.insert("poId".into(), json!(a.search));
            }
        }
        PresOp::DeletePo => {}
    }
    Value::Object(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_with_the_schemas_member_names() {
        let r = read(
            PresOp::RetrievePo,
            br#"{"reqId": "r1", "poId": "p", "versionId": ["all"], "sor": "Evidence", "evFormat": "urn:ietf:rfc:4998:EvidenceRecord"}"#,
        )
        .unwrap();
        assert_eq!(r.req_id.as_deref(), Some("r1"));
        let Ask::Retrieve {
            po_id,
            versions,
            sor,
            ..
        } = r.ask
        else {
            panic!()
        };
        assert_eq!(
            (po_id.as_str(), versions, sor.as_deref()),
            ("p", vec!["all".to_string()], Some("Evidence"))
        );
        let e = read(PresOp::RetrievePo, br#"{"reqId": "r2"}"#).unwrap_err();
        assert_eq!(e, (Some("r2".into()), "poId is required".into()));
        let e = read(PresOp::DeletePo, br#"{"reqId": "r3", "poId": 7}"#).unwrap_err();
        assert_eq!(e.0.as_deref(), Some("r3"));
        let e = read(
            PresOp::PreservePo,
            br#"{"pro": "x", "po": [{"binaryData": {"value": "AA=="}, "xmlData": {"b64Content": "AA=="}}]}"#,
        )
        .unwrap_err();
        assert!(e.1.contains("exactly one of"), "{}", e.1);
    }
}
