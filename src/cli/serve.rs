//! `bewahr serve`: the archive's HTTP server.

use std::path::PathBuf;
use std::time::Duration;

use bewahr::config::Config;

/// Arguments of `bewahr serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Configuration file (TOML, see config/bewahr.toml); without it, embedded defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (store, SQLite catalog, development TSA); overrides server.data_dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on; overrides server.listen.
    #[arg(long)]
    pub listen: Option<String>,
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("bewahr serve: {msg}");
    2
}

pub fn run(args: ServeArgs) -> i32 {
    let mut cfg = match Config::load(args.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(d) = args.data_dir {
        cfg.server.data_dir = d;
    }
    if let Some(l) = args.listen {
        cfg.server.listen = l;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(async move {
        let tls = match bewahr::server::tls_config(&cfg) {
            Ok(t) => t,
            Err(e) => return fail(e),
        };
        let archive = match bewahr::server::start(&cfg, bewahr::seal::system_clock()).await {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        let listener = match tokio::net::TcpListener::bind(&cfg.server.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("cannot listen on {}: {e}", cfg.server.listen)),
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(%addr, data_dir = %cfg.server.data_dir.display(), catalog = ?archive.state.catalog.backend(), "bewahr is listening");
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("bewahr listening on {scheme}://{addr} (web interface: {scheme}://{addr}/ui/)");
        let app = bewahr::api::app(archive.state.clone());
        let shutdown = async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
            tracing::info!("shutting down");
        };
        let deadline = Duration::from_secs(cfg.server.shutdown_deadline_secs);
        let opts = bewahr::tls::ServeOptions {
            header_timeout: Duration::from_secs(cfg.server.header_timeout_secs),
            max_connections: cfg.server.max_connections,
            idle_timeout: Duration::from_secs(cfg.server.idle_timeout_secs),
            drain_deadline: deadline,
        };
        let served = bewahr::tls::serve(listener, app, tls, opts, shutdown).await;
        // the connections are drained; now the workers (the writer commits what it holds)
        let report = archive.shutdown(deadline).await;
        if let Err(e) = served {
            return fail(e);
        }
        if report.iter().any(|w| w.state == bewahr::supervisor::WorkerState::Abandoned) {
            eprintln!("bewahr serve: some workers did not stop in time (recovered at the next start)");
        }
        0
    })
}
