//! `bewahr renew plan|run|status`: renewal administration through a
//! running server's admin API (the server holds the store and the catalog).

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct RenewArgs {
    /// The server's base URL.
    #[arg(
        long,
        env = "BEWAHR_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// An operator's API token.
    #[arg(long, env = "BEWAHR_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: RenewCommand,
}

#[derive(Subcommand, Debug)]
pub enum RenewCommand {
    /// Show the renewal plan: which chains need which renewal by when, and why.
    Plan,
    /// Start a renewal now (queued behind runs already queued).
    Run {
        /// timestamp or hashtree.
        #[arg(long)]
        kind: String,
        /// Hash-tree renewal: the algorithm of the new chains (e.g. sha512).
        #[arg(long)]
        digest_algorithm: Option<String>,
        /// all (every current chain) or due (what the plan says is due).
        #[arg(long, default_value = "all")]
        scope: String,
        /// Return at once instead of waiting for the run to end.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show the scheduler and the last runs, or one run.
    Status { id: Option<i64> },
    /// Pause the scheduler (a running renewal finishes first).
    Pause,
    /// Resume the scheduler.
    Resume,
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("bewahr renew: {msg}");
    2
}

async fn call(http: &reqwest::Client, req: reqwest::RequestBuilder) -> Result<Value, String> {
    let _ = http;
    let r = req
        .send()
        .await
        .map_err(|e| format!("cannot reach the server: {e}"))?;
    let status = r.status();
    let body: Value = r
        .json()
        .await
        .map_err(|e| format!("the server answered {status} without JSON: {e}"))?;
    if !status.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("(no message)");
        return Err(format!("{status}: {msg}"));
    }
    Ok(body)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn print_run(r: &Value) {
    println!(
        "run {} {} ({}, scope {}): {}  by {}",
        s(&r["id"]),
        s(&r["kind"]),
        r["digest_algorithm"].as_str().unwrap_or("same algorithm"),
        s(&r["scope"]),
        s(&r["state"]),
        s(&r["requested_by"]),
    );
    println!(
        "  queued {}  started {}  finished {}",
        s(&r["queued_at"]),
        s(&r["started_at"]),
        s(&r["finished_at"])
    );
    println!(
        "  {} object versions, {} trees renewed, {} new trees, {} TSA requests, {} bytes read",
        s(&r["chains"]),
        s(&r["trees_renewed"]),
        s(&r["trees_written"]),
        s(&r["tsa_requests"]),
        s(&r["bytes_read"])
    );
    for e in r["errors"].as_array().into_iter().flatten() {
        println!("  error: {}", s(e));
    }
    for n in r["not_renewed"].as_array().into_iter().flatten() {
        let what = match (n["aoid"].as_str(), n["seq"].as_i64()) {
            (Some(aoid), _) => format!("{aoid} version {}", s(&n["version"])),
            (None, Some(k)) if k < 0 => format!("audit head of batch {}", -k),
            _ => format!("chain of tree {}", s(&n["tree"])),
        };
        println!(
            "  not renewed: {what}: {} ({})",
            s(&n["reason"]),
            s(&n["detail"])
        );
    }
    if let Some(at) = r["retry_at"].as_str() {
        println!("  retried at {at}");
    }
}

fn print_plan(p: &Value) {
    println!(
        "renewal plan at {} (catalogue {}, margin {} days, hash-tree renewals to {})",
        s(&p["computed_at"]),
        s(&p["catalogue"]),
        s(&p["margin_days"]),
        s(&p["hash_algorithm"])
    );
    println!(
        "{} current chains carry {} object versions",
        s(&p["current_chains"]),
        s(&p["chains"])
    );
    let entries = p["entries"].as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        println!("nothing to renew");
    }
    for e in entries {
        println!(
            "{:<9} {:<9} due {}  deadline {}  {} ({} trees, {} versions): {}",
            s(&e["state"]),
            s(&e["kind"]),
            s(&e["due"]),
            s(&e["deadline"]),
            e["target_digest_algorithm"]
                .as_str()
                .map(|t| format!("{} -> {t}", s(&e["digest_algorithm"])))
                .unwrap_or_else(|| s(&e["digest_algorithm"])),
            s(&e["trees"]),
            s(&e["chains"]),
            s(&e["reason"])
        );
    }
    for pr in p["problems"].as_array().into_iter().flatten() {
        println!("problem: {}", s(pr));
    }
}

pub fn run(args: RenewArgs) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(run_async(args))
}

async fn run_async(args: RenewArgs) -> i32 {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = &args.token {
        match reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")) {
            Ok(v) => {
                headers.insert(reqwest::header::AUTHORIZATION, v);
            }
            Err(_) => return fail("the token is not a valid header value"),
        }
    }
    let http = match reqwest::Client::builder().default_headers(headers).build() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let base = args.url.trim_end_matches('/').to_string();
    let out = |v: &Value, text: &dyn Fn(&Value)| {
        if args.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            text(v);
        }
    };
    let result = match &args.command {
        RenewCommand::Plan => call(&http, http.get(format!("{base}/v1/admin/renewals/plan")))
            .await
            .map(|v| out(&v, &print_plan)),
        RenewCommand::Status { id: Some(id) } => {
            call(&http, http.get(format!("{base}/v1/admin/renewals/{id}")))
                .await
                .map(|v| out(&v, &print_run))
        }
        RenewCommand::Status { id: None } => {
            call(&http, http.get(format!("{base}/v1/admin/renewals")))
                .await
                .map(|v| {
                    out(&v, &|v| {
                        let sch = &v["scheduler"];
                        println!(
                            "scheduler: {}{}{}",
                            s(&sch["state"]),
                            if sch["automatic"] == Value::Bool(false) {
                                " (manual only)"
                            } else {
                                ""
                            },
                            sch["last_check"]
                                .as_str()
                                .map(|c| format!(", last plan {c}"))
                                .unwrap_or_default()
                        );
                        if let Some(e) = sch["last_error"].as_str() {
                            println!("last error: {e}");
                        }
                        for r in v["runs"].as_array().into_iter().flatten() {
                            print_run(r);
                        }
                    })
                })
        }
        RenewCommand::Pause | RenewCommand::Resume => {
            let what = if matches!(args.command, RenewCommand::Pause) {
                "pause"
            } else {
                "resume"
            };
            call(
                &http,
                http.post(format!("{base}/v1/admin/renewals/scheduler/{what}")),
            )
            .await
            .map(|v| out(&v, &|v| println!("scheduler: {}", s(&v["state"]))))
        }
        RenewCommand::Run {
            kind,
            digest_algorithm,
            scope,
            no_wait,
        } => {
            let body = serde_json::json!({"kind": kind, "digest_algorithm": digest_algorithm, "scope": scope});
            match call(
                &http,
                http.post(format!("{base}/v1/admin/renewals")).json(&body),
            )
            .await
            {
                Err(e) => Err(e),
                Ok(v) => {
                    let id = v["id"].as_i64().unwrap_or_default();
                    if *no_wait {
                        out(&v, &|_| println!("renewal run {id} queued"));
                        Ok(())
                    } else {
                        eprintln!("renewal run {id} queued; waiting for it to end (Ctrl-C leaves it running)");
                        // the run's progress as the API reports it while it runs
                        let mut progress: Option<super::progress::Progress> = None;
                        loop {
                            match call(&http, http.get(format!("{base}/v1/admin/renewals/{id}")))
                                .await
                            {
                                Ok(r)
                                    if r["state"] == "done"
                                        || r["state"] == "failed"
                                        || r["state"] == "incomplete" =>
                                {
                                    if let Some(p) = progress.take() {
                                        p.finish();
                                    }
                                    out(&r, &print_run);
                                    if r["state"] == "failed" {
                                        return 1;
                                    }
                                    if r["state"] == "incomplete" {
                                        return 2; // something was not renewed; the run is retried
                                    }
                                    break Ok(());
                                }
                                Ok(r) => {
                                    if let Some(total) = r["chains_total"].as_i64() {
                                        let p = progress.get_or_insert_with(|| {
                                            super::progress::Progress::new(
                                                format!("renewal run {id}"),
                                                super::progress::Unit::Chains,
                                                total as u64,
                                            )
                                        });
                                        p.set_total(total as u64);
                                        p.set_extra(format!(
                                            "{} read",
                                            super::progress::human_bytes(
                                                r["bytes_read"].as_i64().unwrap_or(0) as u64
                                            )
                                        ));
                                        p.set(r["chains"].as_i64().unwrap_or(0) as u64);
                                    }
                                    tokio::time::sleep(Duration::from_millis(500)).await
                                }
                                Err(e) => break Err(e),
                            }
                        }
                    }
                }
            }
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}
