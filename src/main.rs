//! `bewahr`: the long-term preservation archive's one binary.

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser, Debug)]
#[command(
    name = "bewahr",
    version,
    about = "Long-term preservation archive (RFC 4998 evidence records, RFC 3161 time-stamps)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[cfg(feature = "server")]
    /// Run the archive: HTTP API, content store, catalog, batch sealing (embedded defaults without --config).
    Serve(cli::serve::ServeArgs),
    #[cfg(feature = "server")]
    /// Tenants (client organisations): create, list. Works on the catalog, also while the server runs.
    Tenant(cli::access::TenantArgs),
    #[cfg(feature = "server")]
    /// API tokens: create (printed once, on the last line), revoke.
    Token(cli::access::TokenArgs),
    #[cfg(feature = "server")]
    /// The audit trail: verify its hash chain and sealed heads.
    Audit(cli::access::AuditArgs),
    #[cfg(feature = "server")]
    /// Renewal administration of a running archive: plan, run, status, pause, resume.
    Renew(cli::renew::RenewArgs),
    #[cfg(feature = "server")]
    /// The sweeper for unreferenced content of a running archive: status, run.
    Sweep(cli::sweep::SweepArgs),
    /// Verify an RFC 4998 evidence record offline (no server, database or network needed).
    Verify(cli::verify::VerifyArgs),
    #[cfg(feature = "net")]
    /// Time-stamp files together (one hash tree, one time-stamp) and write an evidence record per file.
    Stamp(cli::stamp::StampArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BEWAHR_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        #[cfg(feature = "server")]
        Command::Serve(args) => cli::serve::run(args),
        #[cfg(feature = "server")]
        Command::Renew(args) => cli::renew::run(args),
        #[cfg(feature = "server")]
        Command::Sweep(args) => cli::sweep::run(args),
        #[cfg(feature = "server")]
        Command::Tenant(args) => cli::access::tenant(args),
        #[cfg(feature = "server")]
        Command::Audit(args) => cli::access::audit(args),
        #[cfg(feature = "server")]
        Command::Token(args) => cli::access::token(args),
        Command::Verify(args) => cli::verify::run(args),
        #[cfg(feature = "net")]
        Command::Stamp(args) => cli::stamp::run(args),
    };
    std::process::exit(code);
}
