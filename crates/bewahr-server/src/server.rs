//! Putting the archive together: store, catalog, writer, stamper, sealer, router.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::api::AppState;
use crate::audit::Audit;
use crate::catalog::{Catalog, Writer};
use crate::config::Config;
use crate::evidence::Evidence;
use crate::ingest::Ingest;
use crate::renewal::{Ctx as RenewalCtx, Renewer};
use crate::seal::{Clock, SealConfig, Sealer, Stamper};
use crate::store::{ContentStore, RocksStore, Store, TreeStore};
use bewahr_devtsa::DevTsa;
use bewahr_net::tsa_client::{TsaAuth, TsaClient, TsaEndpoint};

/// Why the archive did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("store at {path}: {source}")]
    Store {
        path: String,
        source: crate::store::StoreError,
    },
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    DevTsa(#[from] bewahr_devtsa::DevTsaError),
    #[error("TSA {name}: {detail}")]
    Tsa { name: String, detail: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Validation(#[from] crate::validation::SetupError),
}

/// The CA of client certificates (`server.client_ca`); empty when unset.
fn load_client_ca(cfg: &Config) -> Result<Vec<x509_cert::Certificate>, StartError> {
    let path = &cfg.server.client_ca;
    if path.is_empty() {
        return Ok(vec![]);
    }
    let pem = std::fs::read(path).map_err(|e| StartError::Tls(format!("{path}: {e}")))?;
    x509_cert::Certificate::load_pem_chain(&pem)
        .map_err(|e| StartError::Tls(format!("{path}: {e}")))
}

/// The rustls configuration for `server.tls_cert` / `tls_key` (and
/// `client_ca`), or `None` for plain HTTP.
pub fn tls_config(cfg: &Config) -> Result<Option<rustls::ServerConfig>, StartError> {
    if cfg.server.tls_cert.is_empty() {
        return Ok(None);
    }
    let ca = load_client_ca(cfg)?;
    let ca = (!ca.is_empty()).then_some(ca);
    crate::tls::server_config(
        std::path::Path::new(&cfg.server.tls_cert),
        std::path::Path::new(&cfg.server.tls_key),
        ca.as_deref(),
    )
    .map(Some)
    .map_err(|e| StartError::Tls(e.to_string()))
}

/// The process-wide Prometheus recorder.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // a second install (another archive in the same process, in tests) keeps the first
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

fn stamper(cfg: &Config, clock: &Clock) -> Result<Stamper, StartError> {
    if cfg.tsa.is_empty() {
        let tsa = DevTsa::load_or_create(&cfg.server.data_dir.join("tsa"), clock())?;
        return Ok(Stamper::dev(tsa));
    }
    let mut eps = Vec::new();
    for t in &cfg.tsa {
        let err = |detail: String| StartError::Tsa {
            name: t.name.clone(),
            detail,
        };
        let mut ep = TsaEndpoint::new(&t.name, &t.url);
        ep.timeout = Duration::from_millis(t.timeout_ms);
        ep.retries = t.retries;
        if !t.trusted_certs.is_empty() {
            let pem = std::fs::read(&t.trusted_certs)
                .map_err(|e| err(format!("{}: {e}", t.trusted_certs)))?;
            ep.trusted = x509_cert::Certificate::load_pem_chain(&pem)
                .map_err(|e| err(format!("{}: {e}", t.trusted_certs)))?;
        }
        if !t.policy.is_empty() {
            ep.policy = Some(
                t.policy
                    .parse()
                    .map_err(|e| err(format!("policy {}: {e}", t.policy)))?,
            );
        }
        if !t.bearer_token_env.is_empty() {
            let token = std::env::var(&t.bearer_token_env).map_err(|_| {
                err(format!(
                    "environment variable {} is not set",
                    t.bearer_token_env
                ))
            })?;
            ep.auth = Some(TsaAuth::Bearer(token));
        } else if !t.basic_user.is_empty() {
            let password = std::env::var(&t.basic_password_env).map_err(|_| {
                err(format!(
                    "environment variable {} is not set",
                    t.basic_password_env
                ))
            })?;
            ep.auth = Some(TsaAuth::Basic {
                user: t.basic_user.clone(),
                password,
            });
        }
        eps.push(ep);
    }
    Ok(Stamper::remote(TsaClient::new(eps).map_err(|e| {
        StartError::Tsa {
            name: "client".into(),
            detail: e.to_string(),
        }
    })?))
}

/// A running archive's parts.
pub struct Archive {
    pub state: AppState,
    /// The workers; [`Archive::shutdown`] drains them.
    pub supervisor: crate::supervisor::Supervisor,
    /// Holds PostgreSQL's advisory lock for the life of the archive.
    _lock: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
}

impl Archive {
    /// Stops the workers: the sealer and the scheduler end their loops, the
    /// audit queue and the writer commit what they hold; whatever is still
    /// running after `deadline` is cancelled (and recovered at the next
    /// start). Call it once the HTTP server is drained.
    pub async fn shutdown(self, deadline: Duration) -> Vec<crate::supervisor::WorkerReport> {
        let sup = self.supervisor.clone();
        drop(self);
        let report = sup.shutdown(deadline).await;
        for w in &report {
            tracing::info!(worker = w.name, state = ?w.state, "worker at shutdown");
        }
        report
    }
}

/// Opens the store and catalog, starts the writer and the sealer.
pub async fn start(cfg: &Config, clock: Clock) -> Result<Archive, StartError> {
    start_with(cfg, clock, None).await
}

/// Wraps the opened content store (a fault-injecting fake around it).
pub type WrapContent = Arc<dyn Fn(Arc<dyn ContentStore>) -> Arc<dyn ContentStore> + Send + Sync>;

/// Replacements of the storage seams, for fault-injection tests
/// (`crate::testing::Faults::seams`); the default is the real thing.
#[derive(Clone, Default)]
pub struct Seams {
    /// Wraps the opened content store.
    pub content: Option<WrapContent>,
    /// Commits the writer's groups.
    pub commit: Option<Arc<dyn crate::catalog::GroupCommit>>,
}

/// As [`start`], with a given stamper instead of the configured one.
pub async fn start_with(
    cfg: &Config,
    clock: Clock,
    stamper_override: Option<Stamper>,
) -> Result<Archive, StartError> {
    start_with_seams(cfg, clock, stamper_override, Seams::default()).await
}

/// Opens the configured store: RocksDB in `store.path`, or the S3 bucket.
/// The two halves of a store.
type Stores = (Arc<dyn ContentStore>, Arc<dyn TreeStore>);

fn open_store(cfg: &Config) -> Result<Stores, StartError> {
    match cfg.store.kind {
        crate::config::StoreKind::Rocksdb => {
            let path = cfg.store_path();
            let rocks = Arc::new(RocksStore::open_with(&path, cfg.store.direct_io).map_err(
                |source| StartError::Store {
                    path: path.display().to_string(),
                    source,
                },
            )?);
            Ok((rocks.clone(), rocks))
        }
        crate::config::StoreKind::S3 => {
            let place = format!(
                "s3 bucket {:?} at {:?}",
                cfg.store.bucket, cfg.store.endpoint
            );
            let s3 = crate::store::S3Settings::from_config(&cfg.store, |k| std::env::var(k).ok())
                .and_then(|s| crate::store::S3Store::open(&s))
                .map(Arc::new)
                .map_err(|source| StartError::Store {
                    path: place,
                    source,
                })?;
            Ok((s3.clone(), s3))
        }
    }
}

/// Opens the configured store for reading beside a running server (for
/// `bewahr audit verify`): RocksDB read-only, or the S3 bucket (which every
/// node shares anyway). Errors name the store.
pub fn open_store_read_only(cfg: &Config) -> Result<Store, String> {
    match cfg.store.kind {
        crate::config::StoreKind::Rocksdb => {
            let path = cfg.store_path();
            Store::open_read_only(&path).map_err(|e| format!("store at {}: {e}", path.display()))
        }
        crate::config::StoreKind::S3 => {
            let (content, trees) = open_store(cfg).map_err(|e| e.to_string())?;
            Ok(Store::with(content, trees))
        }
    }
}

/// As [`start_with`], with storage seams replaced.
pub async fn start_with_seams(
    cfg: &Config,
    clock: Clock,
    stamper_override: Option<Stamper>,
    seams: Seams,
) -> Result<Archive, StartError> {
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.server.data_dir).map_err(|e| StartError::Store {
        path: cfg.server.data_dir.display().to_string(),
        source: crate::store::StoreError::Corrupt {
            key: String::new(),
            detail: e.to_string(),
        },
    })?;
    let (content, trees) = open_store(cfg)?;
    let content: Arc<dyn ContentStore> = match &seams.content {
        Some(wrap) => wrap(content),
        None => content,
    };
    let store = Store::with(content, trees);
    let catalog = Catalog::open(&cfg.catalog_url(), cfg.catalog.max_connections).await?;
    // several nodes share an S3 store; a node-local store serves one node
    let lock = match cfg.store.kind {
        crate::config::StoreKind::Rocksdb => catalog.lock().await?,
        crate::config::StoreKind::S3 => None,
    };
    // evidence written from now on outlives every version's retention date
    if let Some(until) = catalog
        .latest_retention()
        .await?
        .and_then(|d| crate::catalog::retention_secs(&d))
    {
        store.evidence_at_least(until);
    }
    let stamper = match stamper_override {
        Some(s) => s,
        None => stamper(cfg, &clock)?,
    };
    // every new time-stamp carries its TSA's path and revocation data (RFC 4998 4.2);
    // client certificates are checked through the same fetcher
    let tsa_fetcher = bewahr_net::fetch::Fetcher::new(
        Duration::from_millis(cfg.validation.fetch_timeout_ms),
        time::Duration::seconds(cfg.validation.revocation_max_age_secs),
    );
    let stamper = stamper.with_tsa_validation(
        tsa_fetcher.clone(),
        cfg.evidence.profile == bewahr_core::verify::Profile::TrEsor,
    );
    let supervisor = crate::supervisor::Supervisor::new();
    let cluster =
        crate::cluster::Cluster::start(catalog.clone(), cfg.cluster_settings(), &supervisor).await;
    let writer = match seams.commit {
        Some(c) => Writer::start_with(catalog.clone(), store.clone(), c, &supervisor),
        None => Writer::start(catalog.clone(), store.clone(), &supervisor),
    };
    writer.load_sweep_generation(&catalog).await?;
    let sweeper = crate::sweeper::Sweeper::start(
        catalog.clone(),
        store.clone(),
        writer.clone(),
        crate::sweeper::SweepSettings {
            interval: Duration::from_secs(cfg.store.sweep_interval_secs),
            grace: Duration::from_secs(cfg.store.sweep_grace_secs),
        },
        cluster.clone(),
        &supervisor,
    );
    let audit = Audit::start(catalog.clone(), writer.clone(), &supervisor).await?;
    let pending = catalog.pending_count().await? as usize;
    let algorithm = cfg.digest_algorithm()?;
    let metrics = metrics_handle();
    let sealer = Sealer::start(
        SealConfig {
            interval: Duration::from_millis(cfg.batch.interval_ms),
            max_objects: cfg.batch.max_objects,
            algorithm,
            retry_min: Duration::from_millis(cfg.batch.retry_min_ms),
            retry_max: Duration::from_millis(cfg.batch.retry_max_ms),
        },
        crate::seal::SealWith {
            writer: writer.clone(),
            store: store.clone(),
            stamper: stamper.clone(),
            clock: clock.clone(),
            catalog: catalog.clone(),
            cluster: cluster.clone(),
            audit: true,
        },
        pending,
        &supervisor,
    );
    if catalog.token_count().await.unwrap_or(1) == 0 {
        let hint = format!(
            "no API tokens yet: create the operator's first one with `bewahr token create --role operator --data-dir {}` (every endpoint but /healthz and /readyz needs a token)",
            cfg.server.data_dir.display()
        );
        tracing::warn!("{hint}");
        eprintln!("{hint}");
    }
    let policy = Arc::new(cfg.algorithm_policy()?);
    let client_ca = load_client_ca(cfg)?;
    let mut trusted = Vec::new();
    if !cfg.renewal.trusted_certs.is_empty() {
        let path = &cfg.renewal.trusted_certs;
        let pem = std::fs::read(path).map_err(|e| StartError::Tsa {
            name: "renewal.trusted_certs".into(),
            detail: format!("{path}: {e}"),
        })?;
        trusted.extend(x509_cert::Certificate::load_pem_chain(&pem).map_err(|e| {
            StartError::Tsa {
                name: "renewal.trusted_certs".into(),
                detail: format!("{path}: {e}"),
            }
        })?);
    }
    let evidence = Evidence::new(catalog.clone(), store.clone());
    let renewer = Renewer::start(
        RenewalCtx::new(
            catalog.clone(),
            store.clone(),
            evidence.clone(),
            stamper.clone(),
            clock.clone(),
            trusted,
            policy.clone(),
            cfg.renewal_settings()?,
        )
        .with_audit(audit.clone())
        .with_cluster(cluster.clone()),
        &supervisor,
    )
    .await?;
    let ingest = Ingest {
        store: store.clone(),
        writer,
        sealer: sealer.clone(),
        algorithm,
        clock,
        max_body: cfg.server.max_body_bytes,
        validator: if cfg.validation.enabled {
            Some(crate::validation::Validator::new(&cfg.validation)?)
        } else {
            None
        },
    };
    let auth_guard = crate::api::auth::AuthGuard::new(
        cfg.server.auth_failures_per_minute,
        cfg.server.auth_failure_burst,
        Duration::from_secs(cfg.server.auth_audit_interval_secs),
    );
    {
        // the counts of failed authentications reach the trail even when the failures stop
        let (guard, audit, clock) = (auth_guard.clone(), audit.clone(), ingest.clock.clone());
        let mut stop = supervisor.stop_signal();
        let every = Duration::from_secs(cfg.server.auth_audit_interval_secs.max(1));
        supervisor.spawn("auth-audit", async move {
            loop {
                let last = tokio::select! {
                    _ = tokio::time::sleep(every) => false,
                    _ = stop.stopped() => true,
                };
                let now_ms = (clock().unix_timestamp_nanos() / 1_000_000) as i64;
                for e in guard.flush(now_ms, last) {
                    audit.record(e).await;
                }
                if last {
                    return;
                }
            }
        });
    }
    let archive = crate::service::ArchiveService::new(
        ingest.clone(),
        catalog.clone(),
        evidence.clone(),
        sealer.clone(),
        cfg.batch.interval_ms.div_ceil(1000).max(1),
    )
    .with_submission_tolerance(time::Duration::hours(
        cfg.server.xaip_submission_tolerance_hours.into(),
    ))
    .with_upload_ttl(time::Duration::hours(
        cfg.server.lxaip_upload_ttl_hours.into(),
    ))
    .with_client_ids(
        cfg.tenants
            .iter()
            .map(|(t, s)| (t.clone(), s.client_ids.clone()))
            .collect(),
    );
    let state = AppState::new(crate::api::Shared {
        archive,
        ingest,
        evidence,
        catalog,
        stamper,
        sealer,
        renewer,
        audit,
        client_ca: Arc::new(client_ca),
        token_cache: Default::default(),
        limits: crate::api::auth::RateLimits::new(
            cfg.server.rate_limit_per_token,
            cfg.server.rate_limit_burst,
        ),
        auth_guard,
        // the same fetcher (and cache) as for the TSAs' revocation data
        client_cert_fetcher: tsa_fetcher,
        http: crate::api::HttpPolicy {
            max_request_body: cfg.server.max_request_body_bytes,
            request_timeout: Duration::from_secs(cfg.server.request_timeout_secs),
            max_soap_message: cfg.server.max_soap_message_bytes,
            public_url: (!cfg.server.public_url.is_empty())
                .then(|| cfg.server.public_url.trim_end_matches('/').to_string()),
            tls: !cfg.server.tls_cert.is_empty(),
        },
        supervisor: supervisor.clone(),
        metrics,
        retry_after_secs: cfg.batch.interval_ms.div_ceil(1000).max(1),
        evidence_profile: cfg.evidence.profile,
        sweeper,
        cluster,
        ui: crate::ui::Ui::new(!cfg.server.tls_cert.is_empty()),
    });
    crate::activity::spawn_sampler(
        state.sealer.activity().clone(),
        state.sealer.clone(),
        &supervisor,
    );
    Ok(Archive {
        state,
        supervisor,
        _lock: lock,
    })
}
