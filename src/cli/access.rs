//! `bewahr tenant create NAME` and `bewahr token create --role R [--tenant T]`:
//! they work on the server's catalog directly (also while it runs), with the
//! server's `--config` / `--data-dir`.

use std::path::PathBuf;

use bewahr::access::Role;
use bewahr::catalog::Catalog;
use bewahr::config::Config;
use clap::{Args, Subcommand};

/// Where the archive is.
#[derive(Args, Debug)]
pub struct Where {
    /// The server's configuration file.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The server's data directory (overrides server.data_dir).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TenantArgs {
    #[command(flatten)]
    pub at: Where,
    #[command(subcommand)]
    pub command: TenantCommand,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant (a client organisation, e.g. a municipality).
    Create { name: String },
    /// List the tenants.
    List,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub at: Where,
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; it is printed once, on the last line.
    Create {
        /// submitter, auditor, admin (of a tenant) or operator (of the platform).
        #[arg(long)]
        role: String,
        /// The tenant (every role but operator).
        #[arg(long)]
        tenant: Option<String>,
        /// What the token is for (shown in logs, never secret).
        #[arg(long, default_value = "")]
        label: String,
        /// Days until it expires (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Revoke a token by its id (the 16 hex digits after `bwr_`).
    Revoke { id: String },
}

fn fail(what: &str, msg: impl std::fmt::Display) -> i32 {
    eprintln!("bewahr {what}: {msg}");
    2
}

fn catalog_of(at: &Where) -> Result<(Config, tokio::runtime::Runtime), String> {
    let mut cfg =
        Config::load(at.config.as_deref(), std::env::vars()).map_err(|e| e.to_string())?;
    if let Some(d) = &at.data_dir {
        cfg.server.data_dir = d.clone();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    Ok((cfg, rt))
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Records what the command line did in the audit trail.
async fn record(
    catalog: &Catalog,
    action: &str,
    tenant: Option<String>,
    result: &str,
    detail: String,
) {
    let e = bewahr::audit::Entry {
        at_ms: now_ms(),
        actor: who(),
        tenant,
        action: action.to_string(),
        aoid: None,
        result: result.to_string(),
        detail,
    };
    if let Err(err) = bewahr::audit::append(catalog, &[e]).await {
        eprintln!("warning: could not write the audit trail: {err}");
    }
}

fn who() -> String {
    format!(
        "command line ({})",
        std::env::var("USER").unwrap_or_else(|_| "unknown user".into())
    )
}

pub fn tenant(args: TenantArgs) -> i32 {
    let (cfg, rt) = match catalog_of(&args.at) {
        Ok(x) => x,
        Err(e) => return fail("tenant", e),
    };
    rt.block_on(async {
        let catalog = match Catalog::open(&cfg.catalog_url(), 2).await {
            Ok(c) => c,
            Err(e) => return fail("tenant", e),
        };
        match args.command {
            TenantCommand::Create { name } => {
                let r = catalog.create_tenant(&name, &who(), now_ms()).await;
                let result = if r.is_ok() { "created" } else { "refused" };
                record(
                    &catalog,
                    "tenant create",
                    Some(name.clone()),
                    result,
                    String::new(),
                )
                .await;
                match r {
                    Ok(()) => {
                        println!("tenant {name} created");
                        0
                    }
                    Err(e) => fail("tenant", e),
                }
            }
            TenantCommand::List => match catalog.tenants().await {
                Ok(t) => {
                    for n in t {
                        println!("{n}");
                    }
                    0
                }
                Err(e) => fail("tenant", e),
            },
        }
    })
}

pub fn token(args: TokenArgs) -> i32 {
    let (cfg, rt) = match catalog_of(&args.at) {
        Ok(x) => x,
        Err(e) => return fail("token", e),
    };
    rt.block_on(async {
        let catalog = match Catalog::open(&cfg.catalog_url(), 2).await {
            Ok(c) => c,
            Err(e) => return fail("token", e),
        };
        match args.command {
            TokenCommand::Create {
                role,
                tenant,
                label,
                expires_days,
            } => {
                let role = match Role::parse(&role) {
                    Ok(r) => r,
                    Err(e) => return fail("token", e),
                };
                let now = now_ms();
                let expires = expires_days.map(|d| now + i64::from(d) * 86_400_000);
                let r = catalog
                    .create_token(tenant.as_deref(), role, &label, expires, &who(), now)
                    .await;
                let detail = match &r {
                    Ok((id, _)) => format!("token {id}, role {}", role.as_str()),
                    Err(e) => e.to_string(),
                };
                let result = if r.is_ok() { "created" } else { "refused" };
                record(&catalog, "token create", tenant.clone(), result, detail).await;
                match r {
                    Ok((id, token)) => {
                        println!(
                            "{} token {id}{} created; it is shown only now:",
                            role.as_str(),
                            tenant
                                .map(|t| format!(" of tenant {t}"))
                                .unwrap_or_default()
                        );
                        println!("{token}");
                        0
                    }
                    Err(e) => fail("token", e),
                }
            }
            TokenCommand::Revoke { id } => match catalog.revoke_token(&id, None, now_ms()).await {
                Ok(()) => {
                    record(
                        &catalog,
                        "token revoke",
                        None,
                        "revoked",
                        format!("token {id}"),
                    )
                    .await;
                    println!("token {id} revoked");
                    0
                }
                Err(e) => fail("token", e),
            },
        }
    })
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    pub at: Where,
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the whole hash chain of the audit trail and check every
    /// sealed head against the catalog and against the store: leaf 0 of each
    /// batch's tree, its time-stamp, the order of the genTimes.
    Verify {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// More trusted certificates of the archive's TSAs (PEM or DER; repeatable).
        #[arg(long)]
        tsa_cert: Vec<PathBuf>,
    },
}

pub fn audit(args: AuditArgs) -> i32 {
    let mut cfg = match Config::load(args.at.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => return fail("audit", e),
    };
    if let Some(d) = &args.at.data_dir {
        cfg.server.data_dir = d.clone();
    }
    let AuditCommand::Verify { json, tsa_cert } = args.command;
    super::audit::verify(&cfg, json, &tsa_cert)
}
