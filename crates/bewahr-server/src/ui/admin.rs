//! `/ui/admin`: the dashboard. The operator sees the whole installation
//! (workers, TSAs, sealing, ingest over time, the renewal plan and runs,
//! the audit trail); a tenant's admin sees the workers and sealing (read
//! only) and the audit trail of its own tenant. The panels refresh every
//! few seconds through htmx (`/ui/admin/panels`); without JavaScript the
//! page shows the same figures as of its loading.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::{error_page, i18n, render, Viewer};
use crate::access::Role;
use crate::api::AppState;

/// The figures of the live panels.
async fn panels_ctx(state: &AppState, v: &Viewer) -> Result<minijinja::Value, String> {
    let p = v.principal.as_ref().ok_or("not signed in")?;
    let operator = p.role == Role::Operator;
    let tenant = match p.role {
        Role::Operator => None,
        _ => p.tenant.as_ref().map(|t| t.to_string()),
    };
    let audit = crate::audit::recent(&state.catalog, tenant.as_deref(), 15)
        .await
        .map_err(|e| e.to_string())?;
    let runs = if operator {
        state.catalog.runs(5).await.map_err(|e| e.to_string())?
    } else {
        vec![]
    };
    let a = state.sealer.activity();
    let now = a.current(crate::activity::wall_ms(), state.sealer.pending() as u64);
    let rate = a.rate_per_min(&now, 5 * 60_000);
    Ok(minijinja::context! {
        operator => operator,
        workers => state.supervisor.report(),
        sealing => state.sealer.status(),
        cluster => state.cluster.status(),
        scheduler => state.renewer.status(),
        tsas => if operator { state.stamper.stats() } else { vec![] },
        activity => now,
        rate_per_min => rate,
        runs => runs,
        audit => audit,
    })
}

fn operator_or_admin(v: &Viewer) -> bool {
    v.principal
        .as_ref()
        .is_some_and(|p| matches!(p.role, Role::Operator | Role::Admin))
}

fn not_allowed(state: &AppState, v: &Viewer) -> Response {
    error_page(
        state,
        v,
        StatusCode::FORBIDDEN,
        &format!(
            "{}: {}",
            i18n::words(v.lang)["error"],
            "the dashboard is for the operator and tenant admins"
        ),
    )
}

pub async fn dashboard(State(state): State<AppState>, v: Viewer) -> Response {
    if v.principal.is_none() {
        return super::to_login(&v.path);
    }
    if !operator_or_admin(&v) {
        return not_allowed(&state, &v);
    }
    let panels = match panels_ctx(&state, &v).await {
        Ok(c) => c,
        Err(e) => return error_page(&state, &v, StatusCode::SERVICE_UNAVAILABLE, &e),
    };
    let plan = state.ui.plan.lock().ok().and_then(|p| p.clone());
    render(
        &state,
        &v,
        "admin.html",
        minijinja::context! { panels => panels, plan => plan, dry_run => false },
    )
}

/// The live panels alone (htmx swaps them in).
pub async fn panels(State(state): State<AppState>, v: Viewer) -> Response {
    if v.principal.is_none() || !operator_or_admin(&v) {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    let mut r = match panels_ctx(&state, &v).await {
        Ok(c) => render(
            &state,
            &v,
            "admin_panels.html",
            minijinja::context! { panels => c },
        ),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    };
    // the page's own refresh, not a view of its own
    r.extensions_mut().insert(crate::api::auth::Unrecorded);
    r
}

#[derive(Deserialize)]
pub struct SeriesQuery {
    /// How far back (hours, 1 to 24; default 6).
    hours: Option<u32>,
}

/// The ingest series (columns for uPlot); the operator's.
pub async fn series(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<SeriesQuery>,
) -> Response {
    if v.principal.as_ref().map(|p| p.role) != Some(Role::Operator) {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    let hours = q.hours.unwrap_or(6).clamp(1, 24) as i64;
    let since = crate::activity::wall_ms() - hours * 3_600_000;
    let plot = state.sealer.activity().plot(since);
    let mut r = ([(header::CACHE_CONTROL, "no-store")], axum::Json(plot)).into_response();
    r.extensions_mut().insert(crate::api::auth::Unrecorded);
    r
}

#[derive(Deserialize)]
pub struct DryRunForm {
    #[serde(default)]
    csrf: String,
}

/// Computes the renewal plan now and shows what a run of scope `due`
/// would renew; writes nothing.
pub async fn dry_run(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<DryRunForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return super::csrf_refused(&state, &v);
    }
    if v.principal.as_ref().map(|p| p.role) != Some(Role::Operator) {
        return not_allowed(&state, &v);
    }
    let plan = match state.renewer.plan().await {
        Ok(p) => p,
        Err(e) => return error_page(&state, &v, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    if let Ok(mut g) = state.ui.plan.lock() {
        *g = Some(plan.clone());
    }
    let due: Vec<_> = plan.due().cloned().collect();
    let would = minijinja::context! {
        entries => due.len(),
        trees => due.iter().map(|e| e.trees).sum::<i64>(),
        chains => due.iter().map(|e| e.chains).sum::<i64>(),
        // one time-stamp per new tree: per algorithm for time-stamp
        // renewal, per batch of leaves for hash-tree renewal (at least one)
        timestamps => due.len(),
    };
    let panels = match panels_ctx(&state, &v).await {
        Ok(c) => c,
        Err(e) => return error_page(&state, &v, StatusCode::SERVICE_UNAVAILABLE, &e),
    };
    render(
        &state,
        &v,
        "admin.html",
        minijinja::context! { panels => panels, plan => plan, dry_run => true, would => would },
    )
}
