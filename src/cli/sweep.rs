//! `bewahr sweep status|run`: the sweeper for unreferenced content, through
//! a running server's admin API (the server holds the store and the catalog).

use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct SweepArgs {
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
    pub command: SweepCommand,
}

#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// The sweeper's state, its last run and totals.
    Status,
    /// Sweep now and print the run.
    Run,
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("bewahr sweep: {msg}");
    2
}

fn print_run(r: &Value) {
    println!(
        "{} run {} .. {}: {} examined, {} removed ({} bytes); kept {} referenced, {} in flight, {} within the grace period{}",
        r["trigger"].as_str().unwrap_or("-"),
        r["started"].as_str().unwrap_or("-"),
        r["finished"].as_str().unwrap_or("-"),
        r["examined"],
        r["removed"],
        r["bytes_removed"],
        r["referenced"],
        r["pinned"],
        r["young"],
        r["error"]
            .as_str()
            .map(|e| format!("; failed: {e}"))
            .unwrap_or_default()
    );
}

fn print_status(s: &Value) {
    println!(
        "sweeper {}: every {} s (0: on request), grace {} s; {} runs removed {} contents ({} bytes)",
        s["state"].as_str().unwrap_or("-"),
        s["interval_secs"],
        s["grace_secs"],
        s["runs"],
        s["total_removed"],
        s["total_bytes_removed"]
    );
    if s["last_run"].is_object() {
        print_run(&s["last_run"]);
    }
}

pub fn run(args: SweepArgs) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(run_async(args))
}

async fn run_async(args: SweepArgs) -> i32 {
    let base = args.url.trim_end_matches('/');
    let http = reqwest::Client::new();
    let req = match args.command {
        SweepCommand::Status => http.get(format!("{base}/v1/admin/sweeper")),
        SweepCommand::Run => http.post(format!("{base}/v1/admin/sweeper/run")),
    };
    let req = match &args.token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let r = match req.send().await {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot reach the server: {e}")),
    };
    let status = r.status();
    let body: Value = match r.json().await {
        Ok(b) => b,
        Err(e) => return fail(format!("the server answered {status} without JSON: {e}")),
    };
    if !status.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("(no message)");
        return fail(format!("{status}: {msg}"));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
    } else if matches!(args.command, SweepCommand::Run) {
        print_run(&body);
    } else {
        print_status(&body);
    }
    0
}
