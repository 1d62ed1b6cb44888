//! ETSI TS 119 512 through the real router, in both bindings: every
//! operation with C.2's packages, a DigestList round trip whose evidence
//! covers exactly the given values and stays valid through time-stamp and
//! hash-tree renewal, and a client driven by ETSI's OpenAPI document.
//! Every JSON response is validated against ETSI's JSON schema (by the
//! `jsonschema` crate), every XML response against the TS's XSD.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};
use serde_json::{json, Value};

use crate::api::{archive, count_versions, send, Db, TestArchive};
use crate::s4::el;
use crate::s4_xaip::{file, objects_of, package_text};

const SUCCESS: &str = "urn:oasis:names:tc:dss:1.0:resultmajor:Success";
const REQUESTER: &str = "urn:oasis:names:tc:dss:1.0:resultmajor:RequesterError";
const ERR: &str = "http://uri.etsi.org/19512/error/";
const BSI: &str = "http://www.bsi.bund.de/tr-esor/V1.3/profile/preservation-api/V1.1.2_MAX";
const HASH_ONLY: &str = "urn:bewahr:ts119512:profile:hash-only:v1";
const XAIP: &str = "http://www.bsi.bund.de/tr-esor/xaip/1.3";
const DIGEST_LIST: &str = "http://uri.etsi.org/19512/format/DigestList";
const SHA512: &str = "urn:oid:2.16.840.1.101.3.4.2.3";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

/// ETSI's JSON schema and the DSS-X 2.0 schemas it refers to, as the
/// archive serves them, for the validator to resolve references into.
struct Served;

impl jsonschema::Retrieve for Served {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix("https://schemas.test/")
            .ok_or_else(|| format!("{uri} is not one of the binding's schemas"))?;
        let bytes =
            bewahr::pres::json_schema(name).ok_or_else(|| format!("{name} is not served"))?;
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// ETSI's JSON schema compiled for one of its definitions.
fn validator(definition: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$ref": format!("https://schemas.test/19512-Preservation-API-schema-1.1.2.json#/definitions/{definition}"),
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_retriever(Served)
        .build(&root)
        .unwrap_or_else(|e| panic!("{definition}: {e}"))
}

/// Asserts that `v` is valid against `definition` of ETSI's schema.
fn schema_valid(v: &Value, definition: &str) {
    let val = validator(definition);
    let errors: Vec<String> = val
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{definition}: {errors:?}\n{v:#}");
}

/// A JSON call as `who`; the response, checked against its schema type.
async fn call(a: &TestArchive, who: &str, op: &str, body: Value) -> Value {
    let req = Request::post(format!("/pres/{op}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", a.tokens[who]))
        .body(Body::from(body.to_string()))
        .unwrap();
    let (st, h, b) = send(&a.raw, req).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let v: Value = serde_json::from_slice(&b).unwrap();
    let definition = match op {
        "RetrieveInfo" => "pres-RetrieveInfoResponseType",
        "PreservePO" => "pres-PreservePOResponseType",
        "RetrievePO" => "pres-RetrievePOResponseType",
        "DeletePO" => "pres-ResponseType",
        "UpdatePOC" => "pres-UpdatePOCResponseType",
        "RetrieveTrace" => "pres-RetrieveTraceResponseType",
        "ValidateEvidence" => "pres-ValidateEvidenceResponseType",
        "Search" => "pres-SearchResponseType",
        _ => unreachable!(),
    };
    schema_valid(&v, definition);
    v
}

fn assert_result(v: &Value, major: &str, minor: Option<&str>) {
    assert_eq!(v["result"]["maj"], major, "{v:#}");
    assert_eq!(
        v["result"]["min"].as_str(),
        minor.map(|m| format!("{ERR}{m}")).as_deref(),
        "{v:#}"
    );
}

fn xml_po(bytes: &[u8], format: &str) -> Value {
    json!({ "xmlData": { "b64Content": b64(bytes) }, "formatId": format, "mimeType": "application/xml" })
}

/// Preserves a C.2 package through the JSON binding; its POID.
async fn preserve_xaip(a: &TestArchive, name: &str) -> String {
    let v = call(
        a,
        "submitter",
        "PreservePO",
        json!({ "reqId": "pp-1", "pro": BSI, "po": [xml_po(&file(name), XAIP)] }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    assert_eq!(v["reqId"], "pp-1");
    v["poId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn retrieve_info_lists_both_profiles_in_both_bindings() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let v = call(&a, "auditor", "RetrieveInfo", json!({ "reqId": "ri" })).await;
    assert_result(&v, SUCCESS, None);
    assert_eq!(v["reqId"], "ri");
    let ids: Vec<&str> = v["pro"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [BSI, HASH_ONLY]);
    let hash_only = &v["pro"][1];
    assert_eq!(
        hash_only["sid"],
        "http://uri.etsi.org/19512/scheme/pgd+wts+ers"
    );
    assert_eq!(hash_only["psm"], "WithTemporaryStorage");
    assert!(hash_only["perp"].is_string());
    assert_eq!(
        v["pro"][0]["sid"],
        "http://uri.etsi.org/19512/scheme/pds+pgd+aug+wst+ers"
    );
    assert_eq!(v["pro"][0]["ef"][0]["fid"], "urn:ietf:rfc:4998");
    // stable: the same profile again, by its identifier
    let again = call(&a, "auditor", "RetrieveInfo", json!({ "pro": HASH_ONLY })).await;
    assert_eq!(again["pro"][0], v["pro"][1]);
    assert!(again.get("reqId").is_none());
    let v = call(
        &a,
        "auditor",
        "RetrieveInfo",
        json!({ "pro": "urn:x:none" }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("parameterError"));
    let v = call(&a, "auditor", "RetrieveInfo", json!({ "stat": "inactive" })).await;
    assert_result(&v, SUCCESS, None);
    assert!(v["pro"].as_array().unwrap().is_empty());

    // the XML binding: the same profiles, valid against the TS's schema
    let resp = soap12(&a, "auditor", "<pres:RetrieveInfo RequestID=\"ri-x\"/>").await;
    assert!(resp.contains("RequestID=\"ri-x\""), "{resp}");
    assert_eq!(el(&resp, "ResultMajor"), Some(SUCCESS));
    assert!(resp.contains(&format!(
        "<md:ProfileIdentifier>{HASH_ONLY}</md:ProfileIdentifier>"
    )));
    assert!(resp.contains(
        "<pres:PreservationStorageModel>WithTemporaryStorage</pres:PreservationStorageModel>"
    ));
}

#[tokio::test]
async fn an_xaip_through_every_operation_of_the_json_binding() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let original = file("XAIP_OK_SIG_OK.xml");
    let po_id = preserve_xaip(&a, "XAIP_OK_SIG_OK.xml").await;

    // RetrievePO, the package alone: the archive's AOID in it
    let v = call(
        &a,
        "submitter",
        "RetrievePO",
        json!({ "poId": po_id, "sor": "PO" }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    assert_eq!(v["po"][0]["formatId"], XAIP);
    let got = unb64(v["po"][0]["xmlData"]["b64Content"].as_str().unwrap());
    let x = bewahr_xaip::Xaip::parse_valid(&got).unwrap();
    assert_eq!(x.aoid().as_deref(), Some(po_id.as_str()));
    let first = bewahr_xaip::Xaip::parse(&original).unwrap();
    assert_eq!(objects_of(&x, "V001"), objects_of(&first, "V001"));

    // Evidence: the record as an xaip:evidenceRecord (TR-ESOR-TRANS 3.5.1), which proves the package's objects
    let v = call(
        &a,
        "auditor",
        "RetrievePO",
        json!({ "poId": po_id, "sor": "Evidence", "evFormat": "urn:ietf:rfc:4998:EvidenceRecord" }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    assert_eq!(v["po"][0]["formatId"], "urn:ietf:rfc:4998:EvidenceRecord");
    let er_xml =
        String::from_utf8(unb64(v["po"][0]["xmlData"]["b64Content"].as_str().unwrap())).unwrap();
    assert!(
        er_xml.contains(&format!("AOID=\"{po_id}\"")) && er_xml.contains("VersionID=\"V001\""),
        "{er_xml}"
    );
    let der = unb64(el(&er_xml, "asn1EvidenceRecord").unwrap());
    let r = crate::s4_xaip::check_record(&a, &der, objects_of(&x, "V001"));
    assert_eq!(r.indication, Indication::Passed, "{}", r.summary);

    // the default (POwithEmbeddedEvidence): the record among the credentials
    let v = call(&a, "auditor", "RetrievePO", json!({ "poId": po_id })).await;
    assert_result(&v, SUCCESS, None);
    let with =
        String::from_utf8(unb64(v["po"][0]["xmlData"]["b64Content"].as_str().unwrap())).unwrap();
    assert!(with.contains("asn1EvidenceRecord"));

    // what TR-ESOR-TRANS refuses, with the TS's codes
    for (body, minor) in [
        (
            json!({ "poId": po_id, "sor": "POwithDetachedEvidence" }),
            "notSupported",
        ),
        (
            json!({ "poId": po_id, "evFormat": "urn:ietf:rfc:6283:EvidenceRecord" }),
            "unknownEvidenceFormat",
        ),
        (
            json!({ "poId": po_id, "poFormat": "http://uri.etsi.org/ades/ASiC/type/ASiC-ERS" }),
            "unknownPOFormat",
        ),
        (
            json!({ "poId": "7b1b3b4e-0000-4000-8000-000000000000" }),
            "unknownPOID",
        ),
        (
            json!({ "poId": po_id, "optIn": { "other": [{ "val": b64(b"<x:y xmlns:x=\"urn:x\"/>") }] } }),
            "notSupported",
        ),
    ] {
        let v = call(&a, "submitter", "RetrievePO", body).await;
        assert_result(&v, REQUESTER, Some(minor));
    }
    let v = call(
        &a,
        "submitter",
        "RetrievePO",
        json!({ "poId": po_id, "versionId": ["V001", "V009"], "sor": "PO" }),
    )
    .await;
    assert_eq!(v["result"]["maj"], SUCCESS);
    assert_eq!(v["po"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["result"]["min"],
        "http://uri.etsi.org/19512/warning/requestOnlyPartlySuccessful"
    );

    // tenant isolation: another tenant's caller learns nothing
    let v = call(&a, "t2-submitter", "RetrievePO", json!({ "poId": po_id })).await;
    assert_eq!(v["result"]["maj"], REQUESTER);
    assert!(v.get("po").is_none());

    // ValidateEvidence: the package and its record (TR-ESOR-VR report, proof of existence)
    let v = call(
        &a,
        "auditor",
        "ValidateEvidence",
        json!({
            "ev": { "binaryData": { "value": b64(&der) }, "formatId": "urn:ietf:rfc:4998:EvidenceRecord", "poId": po_id, "verId": "V001" },
            "po": [xml_po(&got, XAIP)],
        }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    assert!(v["poe"].is_string(), "{v:#}");
    let report = String::from_utf8(unb64(
        v["valRep"]["xmlData"]["b64Content"].as_str().unwrap(),
    ))
    .unwrap();
    assert!(report.contains("EvidenceRecordReport"), "{report}");
    assert!(bewahr_xaip::xml::parse(report.as_bytes()).is_ok());

    // Search, TR-ESOR-TRANS's filter: AOID and XPath
    let fi =
        json!({ "AOID": po_id, "XPath": "//xaip:dataObject[@dataObjectID='DO-01']/@dataObjectID" })
            .to_string();
    let v = call(&a, "auditor", "Search", json!({ "fi": fi })).await;
    assert_result(&v, SUCCESS, None);
    assert_eq!(v["poId"], json!([po_id]));
    let data = String::from_utf8(unb64(v["optOut"]["other"][0]["val"].as_str().unwrap())).unwrap();
    assert!(data.contains("DO-01"), "{data}");
    let fi = json!({ "AOID": po_id, "XPath": "//nothing" }).to_string();
    let v = call(&a, "auditor", "Search", json!({ "fi": fi })).await;
    assert_eq!(v["result"]["maj"], REQUESTER);
    let v = call(&a, "auditor", "Search", json!({ "fi": "not json" })).await;
    assert_result(&v, REQUESTER, Some("parameterError"));

    // UpdatePOC with C.2's DXAIP (for XAIP_OK): V002; its AOID must be the POID
    let other = preserve_xaip(&a, "XAIP_OK.xml").await;
    let dxaip = package_text(&file("DXAIP_OK.xml")).replacen("TO_BE_CHANGED", &other, 1);
    let dx = xml_po(dxaip.as_bytes(), "http://www.bsi.bund.de/tr-esor/dxaip/1.3");
    let before = count_versions(&a).await;
    let v = call(
        &a,
        "submitter",
        "UpdatePOC",
        json!({ "poId": po_id, "deltaPoc": [dx] }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("DeltaPOCInternalProblem"));
    assert_eq!(count_versions(&a).await, before);
    let v = call(
        &a,
        "submitter",
        "UpdatePOC",
        json!({ "poId": other, "deltaPoc": [dx] }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    assert_eq!(v["versionId"], "V002");
    let before = count_versions(&a).await;
    // a plain addition to a package is not an update of it
    let v = call(
        &a,
        "submitter",
        "UpdatePOC",
        json!({ "poId": other, "deltaPoc": [{ "binaryData": { "value": b64(b"%PDF-1.7") }, "mimeType": "application/pdf" }] }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("unknownDeltaPOCType"));
    assert_eq!(count_versions(&a).await, before);

    // RetrieveTrace: the trail of the object, with these calls in it
    let v = call(&a, "auditor", "RetrieveTrace", json!({ "poId": po_id })).await;
    assert_result(&v, SUCCESS, None);
    let events = v["trace"]["event"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["det"].as_str().unwrap().contains("TS 119 512 PreservePO")),
        "{v:#}"
    );
    // the trail entry of a call is written after its answer: under load a
    // moment later
    let has_update = |v: &Value| {
        v["trace"]["event"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["det"].as_str().unwrap().contains("UpdatePOC"))
    };
    let mut v = Value::Null;
    for _ in 0..100 {
        v = call(&a, "auditor", "RetrieveTrace", json!({ "poId": other })).await;
        if has_update(&v) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(has_update(&v), "{v:#}");

    // DeletePO: OnlySubDOs is not supported; with a requestor and reason it is deleted
    let v = call(
        &a,
        "submitter",
        "DeletePO",
        json!({ "poId": po_id, "mod": "OnlySubDOs" }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("notSupported"));
    let v = call(
        &a,
        "submitter",
        "DeletePO",
        json!({ "poId": po_id, "mod": "Sometimes" }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("unknownMode"));
    let v = call(
        &a,
        "submitter",
        "DeletePO",
        json!({ "reqId": "del", "poId": po_id, "crn": "Sachbearbeiterin Muster", "reason": "Aussonderung nach Fristablauf" }),
    )
    .await;
    assert_eq!(v["reqId"], "del");
    assert_result(&v, SUCCESS, None);
    let v = call(&a, "submitter", "RetrievePO", json!({ "poId": po_id })).await;
    assert_result(&v, REQUESTER, Some("unknownPOID"));
    // the trail is appended with the writer's next group commit
    let mut found = false;
    for _ in 0..100 {
        let v = call(&a, "auditor", "RetrieveTrace", json!({ "poId": po_id })).await;
        let events = v["trace"]["event"].as_array().unwrap();
        if events
            .iter()
            .any(|e| e["det"].as_str().unwrap().contains("Aussonderung"))
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(found, "the deletion's reason is in the trail");
}

#[tokio::test]
async fn refused_and_malformed_requests() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let before = count_versions(&a).await;
    // an XAIP that breaks the rules: the TS's POFormatError, nothing stored
    let v = call(
        &a,
        "submitter",
        "PreservePO",
        json!({ "pro": BSI, "po": [xml_po(&file("XAIP_NOK_SIG.xml"), XAIP)] }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("POFormatError"));
    assert!(
        v["result"]["msg"]["value"]
            .as_str()
            .unwrap()
            .contains("XAIP_NOK_SIG"),
        "{v:#}"
    );
    // no or another profile, two POs, a DigestList's stray byte (C.2's DIGEST_LIST.xml)
    let pdf =
        json!({ "binaryData": { "value": b64(b"%PDF-1.7 x") }, "mimeType": "application/pdf" });
    for (body, minor) in [
        (json!({ "po": [pdf] }), "parameterError"),
        (json!({ "pro": "urn:x", "po": [pdf] }), "parameterError"),
        (json!({ "pro": BSI, "po": [pdf, pdf] }), "notSupported"),
        (json!({ "pro": HASH_ONLY, "po": [pdf] }), "unknownPOFormat"),
        (
            json!({ "pro": BSI, "po": [{ "binaryData": { "value": b64(b"x") } }] }),
            "parameterError",
        ),
        (
            json!({ "pro": HASH_ONLY, "po": [{ "xmlData": { "b64Content": b64(&file("DIGEST_LIST.xml")) }, "formatId": DIGEST_LIST }] }),
            "POFormatError",
        ),
        (
            json!({ "pro": BSI, "po": [pdf], "optIn": { "policy": ["urn:x:policy"] } }),
            "notSupported",
        ),
    ] {
        let v = call(&a, "submitter", "PreservePO", body.clone()).await;
        assert_result(&v, REQUESTER, Some(minor));
    }
    assert_eq!(count_versions(&a).await, before);
    // an auditor may not preserve
    let v = call(
        &a,
        "auditor",
        "PreservePO",
        json!({ "pro": BSI, "po": [pdf] }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("noPermission"));
    // not JSON, not the operation's object, not an operation
    let req = |path: &str, body: &'static str| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", a.tokens["submitter"]),
            )
            .body(Body::from(body))
            .unwrap()
    };
    let (st, _, b) = send(
        &a.raw,
        req("/pres/RetrievePO", "{\"reqId\": \"r9\", \"poId\": 5}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let v: Value = serde_json::from_slice(&b).unwrap();
    schema_valid(&v, "pres-RetrievePOResponseType");
    assert_result(&v, REQUESTER, Some("parameterError"));
    assert_eq!(v["reqId"], "r9");
    let (st, _, _) = send(&a.raw, req("/pres/Archive", "{}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // without credentials: nothing
    let (st, _, _) = send(
        &a.raw,
        Request::post("/pres/RetrieveInfo")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

/// A DigestList of `values` (SHA-512) as the JSON `pres-DigestListType`,
/// base64 in binaryData (as the UCLouvain server takes it).
fn digest_list_po(values: &[Vec<u8>]) -> Value {
    let list =
        json!({ "digAlg": SHA512, "digVal": values.iter().map(|v| b64(v)).collect::<Vec<_>>() });
    json!({ "binaryData": { "value": b64(list.to_string().as_bytes()) }, "formatId": DIGEST_LIST, "mimeType": "application/json" })
}

/// The object's record (the TS's Evidence), DER.
async fn record_of(a: &TestArchive, po_id: &str) -> Vec<u8> {
    let v = call(
        a,
        "auditor",
        "RetrievePO",
        json!({ "poId": po_id, "sor": "Evidence" }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    let x =
        String::from_utf8(unb64(v["po"][0]["xmlData"]["b64Content"].as_str().unwrap())).unwrap();
    unb64(el(&x, "asn1EvidenceRecord").unwrap())
}

fn check(a: &TestArchive, der: &[u8], values: &[Vec<u8>]) -> verify::Report {
    let trusted = a.state().renewer.ctx().trusted();
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(
        &trusted,
        time::OffsetDateTime::now_utc() + time::Duration::minutes(1),
        &policy,
    );
    verify::verify_der(der, &mut InMemory(values.to_vec()), &opts)
}

async fn renew(a: &TestArchive, body: &str) {
    let req = Request::post("/v1/admin/renewals")
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", a.tokens["operator"]),
        )
        .body(Body::from(body.to_string()))
        .unwrap();
    let (st, _, b) = send(&a.raw, req).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&b));
    let id = serde_json::from_slice::<Value>(&b).unwrap()["id"]
        .as_i64()
        .unwrap();
    let done = a
        .state()
        .renewer
        .wait(id, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state, "done", "{done:?}");
}

#[tokio::test]
async fn a_digest_list_round_trip_proves_exactly_its_values_through_renewals() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    use sha2::Digest;
    let values: Vec<Vec<u8>> = (0..5u8)
        .map(|i| sha2::Sha512::digest(format!("Bescheid {i}")).to_vec())
        .collect();
    let v = call(
        &a,
        "submitter",
        "PreservePO",
        json!({ "reqId": "dl", "pro": HASH_ONLY, "po": [digest_list_po(&values)] }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    let po_id = v["poId"].as_str().unwrap().to_string();

    let der = record_of(&a, &po_id).await;
    let r = check(&a, &der, &values);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    // the group: the values, then nothing but the stored list and the salt
    let er = bewahr::ers::EvidenceRecord::from_der_checked(&der).unwrap();
    let first = er.archive_time_stamp_sequence[0][0]
        .reduced_hashtree
        .as_ref()
        .unwrap()[0]
        .clone();
    let leaves: Vec<Vec<u8>> = first.iter().map(|o| o.as_bytes().to_vec()).collect();
    assert_eq!(leaves.len(), values.len() + 2, "{leaves:?}");
    for v in &values {
        assert!(leaves.contains(&sha2::Sha256::digest(v).to_vec()));
    }
    // one value changed, one left out: not proven
    let mut wrong = values.clone();
    wrong[2][0] ^= 1;
    assert_ne!(check(&a, &der, &wrong).indication, Indication::Passed);

    // ValidateEvidence with the list and the record: proof of existence
    let v = call(
        &a,
        "auditor",
        "ValidateEvidence",
        json!({ "ev": { "binaryData": { "value": b64(&der) } }, "po": [digest_list_po(&values)] }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    assert!(v["poe"].is_string(), "{v:#}");
    assert_eq!(v["valRep"]["mimeType"], "application/json");
    let v = call(
        &a,
        "auditor",
        "ValidateEvidence",
        json!({ "ev": { "binaryData": { "value": b64(&der) } }, "po": [digest_list_po(&wrong)] }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("parameterError"));
    assert!(v.get("poe").is_none());

    // RetrievePO of the list: only digests are kept, in the TS's XML form
    let v = call(
        &a,
        "submitter",
        "RetrievePO",
        json!({ "poId": po_id, "sor": "PO" }),
    )
    .await;
    let package =
        String::from_utf8(unb64(v["po"][0]["xmlData"]["b64Content"].as_str().unwrap())).unwrap();
    assert!(
        package.contains("application/vnd.etsi.19512.digestlist+xml"),
        "{package}"
    );

    // time-stamp renewal, then hash-tree renewal to SHA-512: still proven,
    // the values rehashed from the stored list
    renew(&a, r#"{"kind": "timestamp"}"#).await;
    let der = record_of(&a, &po_id).await;
    let r = check(&a, &der, &values);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    assert_eq!(r.archive_time_stamps.len(), 2);
    renew(&a, r#"{"kind": "hashtree", "digest_algorithm": "sha512"}"#).await;
    let der = record_of(&a, &po_id).await;
    let r = check(&a, &der, &values);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    assert_eq!(r.chains, 2);
    assert_ne!(check(&a, &der, &wrong).indication, Indication::Passed);

    // a list carrying that record is imported and renewed with the new object
    let list = json!({ "digAlg": SHA512, "digVal": values.iter().map(|v| b64(v)).collect::<Vec<_>>(), "ev": { "binaryData": { "value": b64(&der) } } });
    let po = json!({ "binaryData": { "value": b64(list.to_string().as_bytes()) }, "formatId": DIGEST_LIST });
    let v = call(
        &a,
        "submitter",
        "PreservePO",
        json!({ "pro": HASH_ONLY, "po": [po] }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    let second = v["poId"].as_str().unwrap().to_string();
    let v = call(
        &a,
        "auditor",
        "RetrievePO",
        json!({ "poId": second, "sor": "Evidence" }),
    )
    .await;
    assert_eq!(
        v["po"].as_array().unwrap().len(),
        2,
        "the archive's record, then the imported one"
    );
    // a record over other values is not imported: nothing is stored
    let before = count_versions(&a).await;
    let list = json!({ "digAlg": SHA512, "digVal": wrong.iter().map(|v| b64(v)).collect::<Vec<_>>(), "ev": { "binaryData": { "value": b64(&der) } } });
    let po = json!({ "binaryData": { "value": b64(list.to_string().as_bytes()) }, "formatId": DIGEST_LIST });
    let v = call(
        &a,
        "submitter",
        "PreservePO",
        json!({ "pro": HASH_ONLY, "po": [po] }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("parameterError"));
    assert_eq!(count_versions(&a).await, before);
}

/// A SOAP 1.2 call as `who`; the response envelope, valid against the TS's schema.
async fn soap12(a: &TestArchive, who: &str, body: &str) -> String {
    let env = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:pres="http://uri.etsi.org/19512/v1.1.2#" xmlns:dsb="http://docs.oasis-open.org/dss-x/ns/base"><env:Body>{body}</env:Body></env:Envelope>"#
    );
    let req = Request::post("/pres/soap")
        .header(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")
        .header(header::AUTHORIZATION, format!("Bearer {}", a.tokens[who]))
        .body(Body::from(env))
        .unwrap();
    let (st, h, b) = send(&a.raw, req).await;
    let resp = String::from_utf8(b).unwrap();
    assert_eq!(st, StatusCode::OK, "{resp}");
    assert_eq!(
        h[header::CONTENT_TYPE],
        "application/soap+xml; charset=utf-8"
    );
    if let Err(e) = bewahr::pres::soap::response_is_valid(resp.as_bytes()) {
        panic!("not valid against the TS 119 512 schema: {e}\n{resp}");
    }
    resp
}

#[tokio::test]
async fn the_xml_binding_preserves_retrieves_and_validates() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    // the WSDL and its schemas from the server's URL alone
    let (st, _, w) = send(
        &a.raw,
        Request::get("/pres/soap?wsdl")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", a.tokens["auditor"]),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let w = String::from_utf8(w).unwrap();
    assert!(w.contains("/pres/soap\"/>"), "{w}");

    // an XAIP in xmlData
    let resp = soap12(
        &a,
        "submitter",
        &format!(
            "<pres:PreservePO RequestID=\"x1\"><pres:Profile>{BSI}</pres:Profile><pres:PO FormatId=\"{XAIP}\"><pres:xmlData>{}</pres:xmlData></pres:PO></pres:PreservePO>",
            package_text(&file("XAIP_OK.xml"))
        ),
    )
    .await;
    assert_eq!(el(&resp, "ResultMajor"), Some(SUCCESS), "{resp}");
    let po_id = el(&resp, "POID").unwrap().to_string();
    let resp = soap12(
        &a,
        "submitter",
        &format!("<pres:RetrievePO><pres:POID>{po_id}</pres:POID><pres:SubjectOfRetrieval>PO</pres:SubjectOfRetrieval></pres:RetrievePO>"),
    )
    .await;
    assert_eq!(el(&resp, "ResultMajor"), Some(SUCCESS), "{resp}");
    assert!(
        resp.contains(&format!("<xaip:AOID>{po_id}</xaip:AOID>")),
        "{resp}"
    );

    // a DigestList in its XML form (base64 in binaryData: the schema's
    // xmlData takes only elements of other namespaces), its record, and
    // ValidateEvidence over it
    let list = format!(
        r#"<pres:DigestList xmlns:pres="http://uri.etsi.org/19512/v1.1.2#" xmlns:ds-rw="http://docs.oasis-open.org/dss-x/ns/xmldsig/rewritten"><ds-rw:DigestMethod Algorithm="urn:oid:2.16.840.1.101.3.4.2.1"/><ds-rw:DigestValue>{}</ds-rw:DigestValue></pres:DigestList>"#,
        b64(&[7u8; 32])
    );
    let resp = soap12(
        &a,
        "submitter",
        &format!("<pres:PreservePO><pres:Profile>{HASH_ONLY}</pres:Profile><pres:PO FormatId=\"{DIGEST_LIST}\"><pres:binaryData>{}</pres:binaryData></pres:PO></pres:PreservePO>", b64(list.as_bytes())),
    )
    .await;
    assert_eq!(el(&resp, "ResultMajor"), Some(SUCCESS), "{resp}");
    let list_id = el(&resp, "POID").unwrap().to_string();
    let resp = soap12(
        &a,
        "auditor",
        &format!("<pres:RetrievePO><pres:POID>{list_id}</pres:POID><pres:SubjectOfRetrieval>Evidence</pres:SubjectOfRetrieval></pres:RetrievePO>"),
    )
    .await;
    assert_eq!(el(&resp, "ResultMajor"), Some(SUCCESS), "{resp}");
    let der = unb64(el(&resp, "asn1EvidenceRecord").unwrap());
    assert_eq!(
        check(&a, &der, &[vec![7u8; 32]]).indication,
        Indication::Passed
    );
    let resp = soap12(
        &a,
        "auditor",
        &format!(
            "<pres:ValidateEvidence><pres:Evidence FormatId=\"urn:ietf:rfc:4998:EvidenceRecord\"><pres:binaryData>{}</pres:binaryData></pres:Evidence><pres:PO FormatId=\"{DIGEST_LIST}\"><pres:binaryData>{}</pres:binaryData></pres:PO></pres:ValidateEvidence>",
            b64(&der),
            b64(list.as_bytes())
        ),
    )
    .await;
    assert_eq!(el(&resp, "ResultMajor"), Some(SUCCESS), "{resp}");
    assert!(el(&resp, "ProofOfExistence").is_some(), "{resp}");

    // trace, deletion (a reason is needed before the retention date ends:
    // the list has none, so it goes without), search by metadata
    let resp = soap12(
        &a,
        "auditor",
        &format!("<pres:RetrieveTrace><pres:POID>{list_id}</pres:POID></pres:RetrieveTrace>"),
    )
    .await;
    assert!(resp.contains("<pres:Event>"), "{resp}");
    let resp = soap12(
        &a,
        "auditor",
        r#"<pres:Search><pres:Filter>{"submitted_from": "2000-01-01"}</pres:Filter></pres:Search>"#,
    )
    .await;
    assert!(
        resp.contains(&format!("<pres:POID>{list_id}</pres:POID>")),
        "{resp}"
    );
    let resp = soap12(&a, "submitter", &format!("<pres:DeletePO><pres:POID>{list_id}</pres:POID><pres:Mode>OnlySubDOs</pres:Mode></pres:DeletePO>")).await;
    assert_eq!(
        el(&resp, "ResultMinor"),
        Some("http://uri.etsi.org/19512/error/notSupported")
    );
    let resp = soap12(
        &a,
        "submitter",
        &format!("<pres:DeletePO><pres:POID>{list_id}</pres:POID></pres:DeletePO>"),
    )
    .await;
    assert_eq!(el(&resp, "ResultMajor"), Some(SUCCESS), "{resp}");

    // a request against the schema: the result says so; SOAP 1.1: a fault
    let resp = soap12(
        &a,
        "submitter",
        "<pres:RetrievePO><pres:Nonsense/></pres:RetrievePO>",
    )
    .await;
    assert_eq!(
        el(&resp, "ResultMinor"),
        Some("http://uri.etsi.org/19512/error/parameterError"),
        "{resp}"
    );
    let req = Request::post("/pres/soap")
        .header(header::AUTHORIZATION, format!("Bearer {}", a.tokens["auditor"]))
        .body(Body::from(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#))
        .unwrap();
    let (st, _, b) = send(&a.raw, req).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&b).contains("env:VersionMismatch"));
}

/// A client driven by ETSI's OpenAPI document as the archive serves it:
/// every path it names is called with a request built from the request
/// schema's required members, and every answer is checked against the
/// response schema the document gives for it.
#[tokio::test]
async fn a_client_driven_by_the_openapi_document() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let auth = format!("Bearer {}", a.tokens["submitter"]);
    let (st, h, _) = send(
        &a.raw,
        Request::get("/pres/openapi.json")
            .header(header::AUTHORIZATION, &auth)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::TEMPORARY_REDIRECT);
    let location = h[header::LOCATION].to_str().unwrap().to_string();
    let (st, _, doc) = send(
        &a.raw,
        Request::get(&location)
            .header(header::AUTHORIZATION, &auth)
            .header(header::HOST, "archiv.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    let server = doc["servers"][0]["url"].as_str().unwrap();
    assert_eq!(server, "http://archiv.example/pres");
    let po_id = preserve_xaip(&a, "XAIP_OK.xml").await;
    let definition = |r: &Value| -> String {
        r["$ref"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 8);
    let schema: Value = serde_json::from_slice(
        bewahr::pres::json_schema("19512-Preservation-API-schema-1.1.2.json").unwrap(),
    )
    .unwrap();
    for (path, item) in paths {
        let post = &item["post"];
        let req_def = definition(&post["requestBody"]["content"]["application/json"]["schema"]);
        let resp_def =
            definition(&post["responses"]["200"]["content"]["application/json"]["schema"]);
        // the request: every required member, with a value of its kind
        let mut body = serde_json::Map::new();
        for m in schema["definitions"][&req_def]["required"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let m = m.as_str().unwrap();
            let value = match m {
                "pro" => json!(BSI),
                "poId" => json!(po_id),
                "fi" => json!(json!({ "AOID": po_id, "XPath": "//xaip:AOID" }).to_string()),
                "deltaPoc" => {
                    json!([{ "binaryData": { "value": b64(b"x") }, "mimeType": "text/plain" }])
                }
                other => panic!("{path}: a required member {other} this client does not know"),
            };
            body.insert(m.to_string(), value);
        }
        body.insert("reqId".into(), json!(format!("openapi {path}")));
        let body = Value::Object(body);
        schema_valid(&body, &req_def);
        let req = Request::post(format!(
            "{}{path}",
            server.trim_start_matches("http://archiv.example")
        ))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, &auth)
        .body(Body::from(body.to_string()))
        .unwrap();
        let (st, _, b) = send(&a.raw, req).await;
        assert_eq!(st, StatusCode::OK, "{path}");
        let v: Value = serde_json::from_slice(&b).unwrap();
        schema_valid(&v, &resp_def);
        assert_eq!(v["reqId"], format!("openapi {path}"), "{path}");
        assert!(v["result"]["maj"].is_string(), "{path}: {v}");
    }
}

/// RetrievePO with `poFormat` ASiC-ERS: a document PO as an ASiC-S
/// container with its evidence record (the archive's ASiC export), which
/// verifies; an XAIP PO has no such form (`unknownPOFormat`).
#[tokio::test]
async fn a_document_po_comes_as_asic_ers() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    const ASIC_ERS: &str = "http://uri.etsi.org/ades/ASiC/type/ASiC-ERS";
    let text = b"Bescheid: Baugenehmigung erteilt";
    let v = call(
        &a,
        "submitter",
        "PreservePO",
        json!({ "pro": BSI, "po": [{ "binaryData": { "value": b64(text) }, "mimeType": "text/plain" }] }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    let po_id = v["poId"].as_str().unwrap().to_string();
    // sealed: the evidence is there
    let v = call(
        &a,
        "auditor",
        "RetrievePO",
        json!({ "poId": po_id, "sor": "Evidence" }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    let v = call(
        &a,
        "submitter",
        "RetrievePO",
        json!({ "poId": po_id, "sor": "PO", "poFormat": ASIC_ERS }),
    )
    .await;
    assert_result(&v, SUCCESS, None);
    assert_eq!(v["po"][0]["formatId"], ASIC_ERS, "{v:#}");
    assert_eq!(v["po"][0]["mimeType"], "application/vnd.etsi.asic-s+zip");
    let zip = unb64(v["po"][0]["binaryData"]["value"].as_str().unwrap());
    let c = bewahr::signature::asic::open(&zip).unwrap();
    assert_eq!(c.data_objects[0].1, text);
    let anchors = a.state().stamper.trust_anchors();
    let ctx = bewahr::signature::Context {
        anchors: &anchors,
        at: time::OffsetDateTime::now_utc(),
        poe: None,
        max_age: time::Duration::days(1),
        xml: None,
    };
    let r = bewahr::signature::conclude(
        bewahr::signature::examine(&zip, None, &ctx),
        &Default::default(),
        &ctx,
    )
    .0;
    assert_eq!(
        r.indication,
        Some(bewahr::signature::Indication::TotalPassed),
        "{}",
        r.to_text()
    );
    // a package has no ASiC form
    let xaip = preserve_xaip(&a, "XAIP_OK.xml").await;
    let v = call(
        &a,
        "submitter",
        "RetrievePO",
        json!({ "poId": xaip, "poFormat": ASIC_ERS }),
    )
    .await;
    assert_result(&v, REQUESTER, Some("unknownPOFormat"));
}
