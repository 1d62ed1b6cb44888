//! `/ui/verify`: an evidence record checked against a document (and,
//! optionally, a TSA certificate the archive does not know), by the same
//! verifier and trust anchors as `POST /v1/verify`. Nothing is stored.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{error_page, i18n, render, render_status, Viewer};
use crate::api::AppState;
use crate::service::Operation;
use bewahr_core::verify::{self, InMemory, NoData, Options};

/// The most a verification through the page takes (all parts together).
pub const LIMIT: usize = 256 << 20;

/// Verifies `der` against `data` (`None`: the record alone) with the
/// archive's trust anchors and `extra` ones, its algorithm policy and profile.
pub(crate) async fn verify_record(
    state: &AppState,
    der: Vec<u8>,
    data: Option<Vec<Vec<u8>>>,
    extra: Vec<x509_cert::Certificate>,
) -> verify::Report {
    let mut trusted = state.renewer.ctx().trusted();
    trusted.extend(extra);
    let now = state.archive.now();
    let policy = state.renewer.ctx().policy();
    let profile = state.evidence_profile;
    tokio::task::spawn_blocking(move || {
        let mut opts = Options::new(&trusted, now, &policy);
        opts.profile = profile;
        match data {
            Some(group) if !group.is_empty() => {
                verify::verify_der(&der, &mut InMemory(group), &opts)
            }
            _ => verify::verify_der(&der, &mut NoData, &opts),
        }
    })
    .await
    .unwrap_or_else(|e| verify::Report::format_failure(format!("the verifier failed: {e}"), now))
}

pub async fn form(State(state): State<AppState>, v: Viewer) -> Response {
    if v.principal.is_none() {
        return super::to_login(&v.path);
    }
    render(&state, &v, "verify.html", minijinja::context! {})
}

/// Certificates from PEM (one or more) or one DER certificate.
fn certificates(bytes: &[u8]) -> Option<Vec<x509_cert::Certificate>> {
    use der::Decode;
    if bytes.starts_with(b"-----BEGIN") {
        x509_cert::Certificate::load_pem_chain(bytes)
            .ok()
            .filter(|c| !c.is_empty())
    } else {
        x509_cert::Certificate::from_der(bytes)
            .ok()
            .map(|c| vec![c])
    }
}

pub async fn submit(State(state): State<AppState>, v: Viewer, mut mp: Multipart) -> Response {
    let Some(p) = v.principal.clone() else {
        return super::to_login(&v.path);
    };
    if let Err(e) = state.archive.authorize(&p, Operation::Verify) {
        return super::service_error(&state, &v, e);
    }
    let w = i18n::words(v.lang);
    let (mut csrf, mut document, mut evidence, mut cert) = (String::new(), None, None, None);
    let mut total = 0usize;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return error_page(&state, &v, e.status(), &e.body_text()),
        };
        let name = field.name().unwrap_or("").to_string();
        let mut field = field;
        let bytes = match crate::api::read_part(
            &mut field,
            LIMIT.saturating_sub(total),
            "the verification",
        )
        .await
        {
            Ok(b) => b,
            Err(crate::api::ApiError::TooLarge(m)) => {
                return error_page(&state, &v, StatusCode::PAYLOAD_TOO_LARGE, &m)
            }
            Err(e) => return e.into_response(),
        };
        total += bytes.len();
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "document" if !bytes.is_empty() => document = Some(bytes),
            "evidence" if !bytes.is_empty() => evidence = Some(bytes),
            "tsa_certificate" if !bytes.is_empty() => cert = Some(bytes),
            _ => {}
        }
    }
    if !v.csrf_ok(&csrf) {
        return super::csrf_refused(&state, &v);
    }
    let Some(evidence) = evidence else {
        return render_status(
            &state,
            &v,
            StatusCode::BAD_REQUEST,
            "verify.html",
            minijinja::context! { error => w["verify_missing"] },
        );
    };
    let extra = match cert.as_deref().map(certificates) {
        None => vec![],
        Some(Some(c)) => c,
        Some(None) => {
            return render_status(
                &state,
                &v,
                StatusCode::BAD_REQUEST,
                "verify.html",
                minijinja::context! { error => format!("{}.", w["bad_certificate"]) },
            )
        }
    };
    let report = verify_record(&state, evidence.clone(), document.map(|d| vec![d]), extra).await;
    metrics::counter!("bewahr_verifications_total").increment(1);
    render(
        &state,
        &v,
        "verify.html",
        minijinja::context! {
            evidence => super::objects::record_view(&evidence, &report),
        },
    )
}
