//! The auditor's pages: search (`/ui/objects`) and an object with its
//! proof (`/ui/objects/{aoid}`).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::{error_page, i18n, render, service_error, Viewer};
use crate::api::AppState;
use crate::ids::VersionNo;
use crate::service::{Operation, SearchQuery};

/// `/ui/objects?file_ref=...&title=...&system=...&from=...&to=...`
pub async fn search(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(p) = v.principal.clone() else {
        return super::to_login(&v.path);
    };
    let field = |k: &str| {
        q.get(k)
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_string())
    };
    let query = SearchQuery {
        file_ref: field("file_ref"),
        system: field("system"),
        title: field("title"),
        submitted_from: field("from"),
        submitted_to: field("to"),
        after: field("after"),
        limit: Some(50),
    };
    let asked = query.file_ref.is_some()
        || query.system.is_some()
        || query.title.is_some()
        || query.submitted_from.is_some()
        || query.submitted_to.is_some()
        || q.contains_key("all");
    let mut results = None;
    let mut next = None;
    let mut error = None;
    if p.tenant.is_some() && asked {
        match state.archive.authorize(&p, Operation::Search) {
            Ok(who) => match state.archive.search(&who, &query).await {
                Ok(page) => {
                    next = page.next.map(|n| {
                        let mut q2 = q.clone();
                        q2.insert("after".into(), n);
                        q2.remove("all");
                        q2.insert("all".into(), "1".into());
                        query_string(&q2)
                    });
                    results = Some(page.objects);
                }
                Err(e) => error = Some(e.to_string()),
            },
            Err(e) => return service_error(&state, &v, e),
        }
    }
    render(
        &state,
        &v,
        "objects.html",
        minijinja::context! {
            q => q,
            results => results,
            next => next,
            error => error,
            operator => p.tenant.is_none(),
        },
    )
}

fn query_string(q: &BTreeMap<String, String>) -> String {
    q.iter()
        .map(|(k, v)| format!("{}={}", super::form_urlencode(k), super::form_urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One archive time-stamp on the timeline.
#[derive(Serialize)]
struct Stamp {
    chain: usize,
    index: usize,
    gen_time: Option<String>,
    tsa: Option<String>,
    digest_algorithm: Option<String>,
    covers: &'static str,
    indication: String,
    sub_indication: Option<String>,
}

/// The reduced hash tree of a chain's first time-stamp, level by level (hex).
#[derive(Serialize)]
struct TreePath {
    chain: usize,
    levels: Vec<Vec<String>>,
}

/// `/ui/objects/{aoid}?v=n`
pub async fn object(
    State(state): State<AppState>,
    v: Viewer,
    Path(aoid): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(p) = v.principal.clone() else {
        return super::to_login(&v.path);
    };
    let owned = match state
        .archive
        .authorize_object(&p, Operation::ReadObject, &aoid)
        .await
    {
        Ok(o) => o,
        Err(e) => return service_error(&state, &v, e),
    };
    let view = match state.archive.object(&owned).await {
        Ok(o) => o,
        Err(e) => return service_error(&state, &v, e),
    };
    let latest = view.versions.iter().map(|x| x.version).max().unwrap_or(1);
    let n = q
        .get("v")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(latest);
    let Some(version) = view.versions.iter().find(|x| x.version == n).cloned() else {
        return error_page(
            &state,
            &v,
            StatusCode::NOT_FOUND,
            &format!(
                "{} {n}: {}",
                i18n::words(v.lang)["version"],
                i18n::words(v.lang)["not_found"]
            ),
        );
    };
    let Ok(vn) = VersionNo::new(n) else {
        return error_page(&state, &v, StatusCode::NOT_FOUND, "no such version");
    };
    // the seal or signature validation made on receipt
    let validation = match state
        .archive
        .authorize_object(&p, Operation::Validation, &aoid)
        .await
    {
        Ok(o) => match state.archive.validation(&o, vn).await {
            Ok((_, pv)) => pv.map(|pv| {
                minijinja::context! {
                    format => pv.row.format,
                    indication => pv.row.indication,
                    sub_indication => pv.row.sub_indication,
                    summary => pv.row.summary,
                    decision => pv.row.decision,
                    validated_at => crate::catalog::rfc3339_ms(pv.row.validated_at_ms),
                    detached => pv.row.signature_sha256.is_some(),
                    report => serde_json::to_string_pretty(&pv.report).unwrap_or_default(),
                }
            }),
            Err(e) => return service_error(&state, &v, e),
        },
        Err(_) => None,
    };
    // the evidence record, built now and verified against the version's data
    let mut evidence = None;
    let mut pending = false;
    if let Ok(ev) = state
        .archive
        .authorize_object(&p, Operation::Evidence, &aoid)
        .await
    {
        match state.archive.evidence(&ev, Some(vn), Duration::ZERO).await {
            Ok((_, der)) => {
                let group = match state
                    .archive
                    .authorize_object(&p, Operation::ReadContent, &aoid)
                    .await
                {
                    Ok(rc) => match state.archive.version_group(&rc, vn).await {
                        Ok(g) => g,
                        Err(e) => return service_error(&state, &v, e),
                    },
                    Err(_) => None,
                };
                let report = super::verify::verify_record(&state, der.clone(), group, vec![]).await;
                evidence = Some(record_view(&der, &report));
            }
            Err(crate::service::ServiceError::Pending { .. }) => pending = true,
            Err(e) => return service_error(&state, &v, e),
        }
    }
    let versions: Vec<_> = view.versions.iter().rev().cloned().collect();
    render(
        &state,
        &v,
        "object.html",
        minijinja::context! {
            aoid => view.aoid,
            created_at => view.created_at,
            versions => versions,
            v => version,
            validation => validation,
            evidence => evidence,
            pending => pending,
            is_document => version.media_type != crate::service::XAIP_MEDIA_TYPE
                && version.media_type != crate::ingest::DIGEST_LIST_MEDIA_TYPE,
        },
    )
}

/// What the object page shows of a verified record.
pub(super) fn record_view(der: &[u8], report: &bewahr_core::verify::Report) -> minijinja::Value {
    let stamps: Vec<Stamp> = report
        .archive_time_stamps
        .iter()
        .map(|a| Stamp {
            chain: a.chain,
            index: a.index,
            gen_time: a.gen_time.clone(),
            tsa: a.tsa.clone(),
            digest_algorithm: a.digest_algorithm.clone(),
            covers: a.covers,
            indication: a.indication.to_string(),
            sub_indication: a.sub_indication.map(|s| s.to_string()),
        })
        .collect();
    let paths: Vec<TreePath> = bewahr_core::ers::EvidenceRecord::from_der_checked(der)
        .map(|r| {
            r.archive_time_stamp_sequence
                .iter()
                .enumerate()
                .filter_map(|(i, chain)| {
                    let first = chain.first()?;
                    Some(TreePath {
                        chain: i + 1,
                        levels: first
                            .reduced_tree_slices()
                            .unwrap_or_default()
                            .iter()
                            .map(|l| l.iter().map(hex::encode).collect())
                            .collect(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let findings: Vec<_> = report
        .findings
        .iter()
        .chain(
            report
                .archive_time_stamps
                .iter()
                .flat_map(|a| a.findings.iter()),
        )
        .map(|f| {
            minijinja::context! {
                indication => f.indication.to_string(),
                sub_indication => f.sub_indication.map(|s| s.to_string()),
                message => f.message.clone(),
            }
        })
        .collect();
    minijinja::context! {
        indication => report.indication.to_string(),
        sub_indication => report.sub_indication.map(|s| s.to_string()),
        summary => report.summary.clone(),
        verification_time => report.verification_time.clone(),
        data_checked => report.data_checked,
        chains => report.chains,
        stamps => stamps,
        paths => paths,
        findings => findings,
        json => serde_json::to_string_pretty(report).unwrap_or_default(),
    }
}
