//! Configuration: embedded defaults, an optional TOML file, environment
//! variables (`BEWAHR_SECTION__KEY`), then command-line flags.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use bewahr_core::alg::DigestAlgorithm;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub store: Store,
    pub catalog: Catalog,
    pub batch: Batch,
    pub renewal: Renewal,
    pub cluster: Cluster,
    pub validation: Validation,
    pub evidence: EvidenceSettings,
    pub tsa: Vec<Tsa>,
    /// Settings per tenant (`[tenants.<name>]`).
    pub tenants: std::collections::BTreeMap<String, TenantSettings>,
}

/// What one tenant accepts.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// The `submissionInfo/clientID`s an XAIP or DXAIP of this tenant may
    /// name (TR-ESOR: the calling applications of the tenant). Empty: any,
    /// a package without one included; else a package must name one of
    /// these (`al/common#noPermission`, REST 403).
    pub client_ids: Vec<String>,
}

/// How the archive judges evidence records, its own and those it is given.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceSettings {
    /// `rfc4998` (default) or `tr-esor`. With `tr-esor`, `POST /v1/verify`
    /// requires revocation data for every TSA certificate, and sealing and
    /// renewal refuse a time-stamp for which the TSA's OCSP response or CRL
    /// cannot be had (they retry, as after a TSA failure). With `rfc4998`
    /// they fetch it all the same and embed what they get.
    pub profile: bewahr_core::verify::Profile,
}

/// Signature and seal validation at ingest.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Validation {
    pub enabled: bool,
    /// PEM bundles (or folders of PEM/DER files) of trust anchors for signers and TSAs.
    pub trust_anchors: Vec<String>,
    /// Time limit of each OCSP or CRL request.
    pub fetch_timeout_ms: u64,
    /// How long revocation data without nextUpdate counts as fresh.
    pub revocation_max_age_secs: i64,
    /// Documents larger than this are stored unvalidated (recorded as such).
    pub max_document_bytes: u64,
    /// The policy for submissions whose `system` has no entry of its own.
    pub policy: ValidationPolicy,
    /// Policies per submitting system (the metadata field `system`).
    pub systems: std::collections::BTreeMap<String, ValidationPolicy>,
}

/// What ingest does with a signature of a given outcome.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnOutcome {
    /// Refuse the submission (422 with the report); nothing is recorded.
    Reject,
    /// Archive the document and record the outcome.
    Accept,
}

/// What ingest does with a validation result.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationPolicy {
    /// `reject` (422 with the report) or `accept` (archive and record) a TOTAL_FAILED signature.
    pub on_failed: OnOutcome,
    /// The same for INDETERMINATE.
    pub on_indeterminate: OnOutcome,
    /// Refuse documents that carry no signature or seal.
    pub require_signature: bool,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            enabled: true,
            trust_anchors: vec![],
            fetch_timeout_ms: 5000,
            revocation_max_age_secs: 86_400,
            max_document_bytes: 256 << 20,
            policy: ValidationPolicy::default(),
            systems: Default::default(),
        }
    }
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        ValidationPolicy {
            on_failed: OnOutcome::Reject,
            on_indeterminate: OnOutcome::Accept,
            require_signature: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    pub listen: String,
    pub data_dir: PathBuf,
    pub max_body_bytes: u64,
    pub request_timeout_secs: u64,
    pub header_timeout_secs: u64,
    pub rate_limit_per_token: u32,
    pub rate_limit_burst: u32,
    /// The largest body of every route but the uploads.
    pub max_request_body_bytes: usize,
    /// Failed authentications per client address and minute before it is
    /// blocked (0: no limit), and how many at once.
    pub auth_failures_per_minute: u32,
    pub auth_failure_burst: u32,
    /// Failed authentications are written to the audit trail as one count
    /// per address and this interval.
    pub auth_audit_interval_secs: u64,
    /// At most this many client connections at once.
    pub max_connections: usize,
    /// A connection with no request for this long is closed.
    pub idle_timeout_secs: u64,
    /// On shutdown, connections and workers get this long to finish.
    pub shutdown_deadline_secs: u64,
    pub tls_cert: String,
    pub tls_key: String,
    pub client_ca: String,
    /// The address clients reach the server by (`https://archiv.example`),
    /// for the WSDLs it publishes; empty: the scheme of the listener and
    /// the request's `Host`.
    pub public_url: String,
    /// The largest SOAP message (S.4) accepted: documents travel inside
    /// it in base64 and the whole message is parsed in memory.
    pub max_soap_message_bytes: usize,
    /// How far (in hours) an XAIP's `submissionTime` may be from the
    /// server's clock (TR-ESOR-E `XAIP_NOK_SUBMTIME`).
    pub xaip_submission_tolerance_hours: u32,
    /// How long (in hours) a file uploaded for an LXAIP waits for the
    /// package that refers to it; then it is removed (TR-ESOR-E 6.1).
    pub lxaip_upload_ttl_hours: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Store {
    pub kind: StoreKind,
    pub path: String,
    /// Flushes and compactions write with O_DIRECT (past the page cache).
    pub direct_io: bool,
    /// Seconds between sweeps for unreferenced content (0: only when asked).
    pub sweep_interval_secs: u64,
    /// Content written less than this many seconds ago is never swept.
    pub sweep_grace_secs: u64,
    /// The S3 store (`kind = "s3"`): the service's URL (`https://s3.example`;
    /// empty: AWS for `region`).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// A prefix of every key (several archives in one bucket), e.g. `bewahr/`.
    pub prefix: String,
    /// Credentials when `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` are not
    /// set (those win).
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Object Lock mode of the retentions bewahr sets.
    pub lock_mode: LockMode,
    /// Hash trees, tokens and other evidence data are retained at least
    /// this many days from writing (and at least as long as the latest
    /// retention date of any version when they are written).
    pub evidence_retention_days: u32,
    /// PEM file of the CA that issued the S3 service's certificate, if not
    /// a public one.
    pub ca_file: String,
    /// Requests to S3 at once per tree write or read.
    pub concurrency: usize,
}

/// The S3 Object Lock retention mode.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Nobody, not even the bucket's owner, can shorten or remove it.
    #[default]
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can.
    Governance,
}

/// Where content and trees are kept.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// RocksDB in `store.path` (default: `data_dir/store`).
    #[default]
    Rocksdb,
    /// An S3-compatible object store with Object Lock and versioning
    /// (`endpoint`, `bucket`, `region`).
    S3,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Catalog {
    pub url: String,
    pub max_connections: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Batch {
    pub interval_ms: u64,
    pub max_objects: usize,
    pub digest_algorithm: String,
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
}

/// Several nodes on one PostgreSQL catalog and one S3 store.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cluster {
    /// This node's id, unique in the cluster; empty: the host name and the
    /// listener's port.
    pub node_id: String,
    /// How long the leader lease (and a claimed renewal run or rehash
    /// range) lasts without renewal; another node takes over after it.
    pub lease_ms: u64,
    /// Leaves per range of a hash-tree renewal's rehashing, claimed by any node.
    pub rehash_range: usize,
    /// How often a node looks for work others published (queued runs, ranges).
    pub poll_ms: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            node_id: String::new(),
            lease_ms: 15_000,
            rehash_range: 2_000,
            poll_ms: 1_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Renewal {
    pub automatic: bool,
    pub algorithms: String,
    pub margin_days: i64,
    pub check_interval_secs: u64,
    pub hash_algorithm: String,
    pub trusted_certs: String,
    pub max_leaves: usize,
    pub max_attempts: u32,
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    pub workers: usize,
}

impl Default for Renewal {
    fn default() -> Self {
        Renewal {
            automatic: true,
            algorithms: String::new(),
            margin_days: 90,
            check_interval_secs: 3600,
            hash_algorithm: "sha512".into(),
            trusted_certs: String::new(),
            max_leaves: 100_000,
            max_attempts: 5,
            retry_min_ms: 1000,
            retry_max_ms: 60_000,
            workers: 0,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tsa {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub trusted_certs: String,
    #[serde(default)]
    pub policy: String,
    #[serde(default = "default_tsa_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_tsa_retries")]
    pub retries: u32,
    #[serde(default)]
    pub bearer_token_env: String,
    #[serde(default)]
    pub basic_user: String,
    #[serde(default)]
    pub basic_password_env: String,
}

fn default_tsa_timeout() -> u64 {
    10_000
}
fn default_tsa_retries() -> u32 {
    2
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            data_dir: "./bewahr-data".into(),
            max_body_bytes: 4 << 30,
            request_timeout_secs: 3600,
            header_timeout_secs: 30,
            rate_limit_per_token: 10_000,
            rate_limit_burst: 20_000,
            max_request_body_bytes: 1 << 20,
            auth_failures_per_minute: 60,
            auth_failure_burst: 100,
            auth_audit_interval_secs: 60,
            max_connections: 4096,
            idle_timeout_secs: 120,
            shutdown_deadline_secs: 30,
            tls_cert: String::new(),
            tls_key: String::new(),
            client_ca: String::new(),
            public_url: String::new(),
            max_soap_message_bytes: 64 << 20,
            xaip_submission_tolerance_hours: crate::service::DEFAULT_SUBMISSION_TOLERANCE
                .whole_hours() as u32,
            lxaip_upload_ttl_hours: crate::service::DEFAULT_UPLOAD_TTL.whole_hours() as u32,
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store {
            kind: StoreKind::Rocksdb,
            path: String::new(),
            direct_io: true,
            sweep_interval_secs: 3600,
            sweep_grace_secs: 3600,
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            prefix: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            lock_mode: LockMode::Compliance,
            evidence_retention_days: 36_525,
            ca_file: String::new(),
            concurrency: 32,
        }
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            url: String::new(),
            max_connections: 8,
        }
    }
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            interval_ms: 2000,
            max_objects: 100_000,
            digest_algorithm: "sha256".into(),
            retry_min_ms: 1000,
            retry_max_ms: 60_000,
        }
    }
}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config: {0}")]
    Parse(String),
    #[error("config: {key}: {detail}")]
    Invalid { key: &'static str, detail: String },
}

/// A TOML scalar if the text parses as one (numbers, booleans), else a string.
fn env_scalar(v: &str) -> toml::Value {
    format!("x = {v}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("x"))
        .filter(|x| !x.is_table() && !x.is_array())
        .unwrap_or(toml::Value::String(v.to_string()))
}

impl Config {
    /// Loads defaults, then `file` (if given), then `BEWAHR_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut value: toml::Table = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                text.parse().map_err(|e: toml::de::Error| {
                    ConfigError::Parse(format!("{}: {e}", p.display()))
                })?
            }
            None => toml::Table::new(),
        };
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("BEWAHR_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let known = [
                "server",
                "store",
                "catalog",
                "batch",
                "renewal",
                "cluster",
                "validation",
                "evidence",
            ];
            if section == "tsa" {
                // BEWAHR_TSA__URL etc. set the first [[tsa]] entry: a TSA
                // configured from the environment is used, never silently
                // dropped in favour of the development TSA
                let parsed = env_scalar(&v);
                let list = value
                    .entry("tsa")
                    .or_insert_with(|| toml::Value::Array(vec![]));
                let toml::Value::Array(list) = list else {
                    return Err(ConfigError::Parse("tsa is not a list of tables".into()));
                };
                if list.is_empty() {
                    let mut t = toml::Table::new();
                    t.insert("name".into(), toml::Value::String("tsa".into()));
                    list.push(toml::Value::Table(t));
                }
                match &mut list[0] {
                    toml::Value::Table(t) => {
                        t.insert(key, parsed);
                    }
                    _ => return Err(ConfigError::Parse("tsa is not a list of tables".into())),
                }
                continue;
            }
            if !known.contains(&section.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "environment",
                    detail: format!(
                        "{k}: no section {section:?} (BEWAHR_<SECTION>__<KEY> with SECTION one of {}, tsa)",
                        known.join(", ")
                    ),
                });
            }
            let parsed = env_scalar(&v);
            let table = value
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match table {
                toml::Value::Table(t) => {
                    t.insert(key, parsed);
                }
                _ => return Err(ConfigError::Parse(format!("{section} is not a table"))),
            }
        }
        let cfg: Config = toml::Value::Table(value)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let alg = self.digest_algorithm()?;
        if !alg.allowed_for_creation() {
            return Err(ConfigError::Invalid {
                key: "batch.digest_algorithm",
                detail: format!("{alg} may not be used for new hash trees"),
            });
        }
        if self.validation.fetch_timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "validation.fetch_timeout_ms",
                detail: "must be positive".into(),
            });
        }
        if self.batch.max_objects == 0 || self.batch.interval_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "batch",
                detail: "interval_ms and max_objects must be positive".into(),
            });
        }
        if !(self.catalog.url.is_empty()
            || self.catalog.url.starts_with("sqlite:")
            || self.catalog.url.starts_with("postgres://")
            || self.catalog.url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                key: "catalog.url",
                detail: "sqlite://PATH or postgres://...".into(),
            });
        }
        if self.server.tls_cert.is_empty() != self.server.tls_key.is_empty() {
            return Err(ConfigError::Invalid {
                key: "server.tls_cert",
                detail: "tls_cert and tls_key go together".into(),
            });
        }
        if !self.server.client_ca.is_empty() && self.server.tls_cert.is_empty() {
            return Err(ConfigError::Invalid {
                key: "server.client_ca",
                detail: "client certificates need TLS: set tls_cert and tls_key".into(),
            });
        }
        let r = &self.renewal;
        if r.margin_days < 0
            || r.check_interval_secs == 0
            || r.max_leaves == 0
            || r.max_attempts == 0
        {
            return Err(ConfigError::Invalid {
                key: "renewal",
                detail: "margin_days must not be negative; check_interval_secs, max_leaves and max_attempts must be positive".into(),
            });
        }
        let c = &self.cluster;
        if c.lease_ms < 300 || c.rehash_range == 0 || c.poll_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "cluster",
                detail: "lease_ms must be at least 300; rehash_range and poll_ms must be positive"
                    .into(),
            });
        }
        let h = self.renewal_settings()?.hash_algorithm;
        if !h.allowed_for_creation() {
            return Err(ConfigError::Invalid {
                key: "renewal.hash_algorithm",
                detail: format!("{h} may not be used for new hash trees"),
            });
        }
        self.algorithm_policy()?;
        for t in &self.tsa {
            if !(t.url.starts_with("http://") || t.url.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    key: "tsa.url",
                    detail: format!("{}: not an http(s) URL", t.url),
                });
            }
        }
        Ok(())
    }

    /// The algorithm catalogue: the built-in one, or `renewal.algorithms`.
    pub fn algorithm_policy(&self) -> Result<bewahr_core::verify::AlgorithmPolicy, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            key: "renewal.algorithms",
            detail,
        };
        if self.renewal.algorithms.is_empty() {
            return Ok(bewahr_core::verify::AlgorithmPolicy::default());
        }
        let text = std::fs::read_to_string(&self.renewal.algorithms)
            .map_err(|e| invalid(format!("{}: {e}", self.renewal.algorithms)))?;
        bewahr_core::verify::AlgorithmPolicy::from_toml(&text)
            .map_err(|e| invalid(format!("{}: {e}", self.renewal.algorithms)))
    }

    /// The settings of the renewal scheduler.
    pub fn renewal_settings(&self) -> Result<crate::renewal::Settings, ConfigError> {
        let r = &self.renewal;
        let hash_algorithm =
            DigestAlgorithm::from_name(&r.hash_algorithm).map_err(|e| ConfigError::Invalid {
                key: "renewal.hash_algorithm",
                detail: e.to_string(),
            })?;
        let d = crate::renewal::Settings::default();
        Ok(crate::renewal::Settings {
            margin: time::Duration::days(r.margin_days),
            check_interval: std::time::Duration::from_secs(r.check_interval_secs),
            automatic: r.automatic,
            hash_algorithm,
            max_leaves: r.max_leaves,
            retry_min: std::time::Duration::from_millis(r.retry_min_ms),
            retry_max: std::time::Duration::from_millis(r.retry_max_ms),
            max_attempts: r.max_attempts,
            workers: if r.workers == 0 { d.workers } else { r.workers },
            rehash_range: self.cluster.rehash_range,
            poll: std::time::Duration::from_millis(self.cluster.poll_ms),
        })
    }

    /// The lease settings, with the default node id.
    pub fn cluster_settings(&self) -> crate::cluster::ClusterSettings {
        crate::cluster::ClusterSettings {
            node_id: if self.cluster.node_id.is_empty() {
                crate::cluster::default_node_id(&self.server.listen)
            } else {
                self.cluster.node_id.clone()
            },
            lease: std::time::Duration::from_millis(self.cluster.lease_ms),
            shared: self.store.kind == StoreKind::S3,
        }
    }

    pub fn digest_algorithm(&self) -> Result<DigestAlgorithm, ConfigError> {
        DigestAlgorithm::from_name(&self.batch.digest_algorithm).map_err(|e| ConfigError::Invalid {
            key: "batch.digest_algorithm",
            detail: e.to_string(),
        })
    }

    pub fn store_path(&self) -> PathBuf {
        if self.store.path.is_empty() {
            self.server.data_dir.join("store")
        } else {
            PathBuf::from(&self.store.path)
        }
    }

    pub fn catalog_url(&self) -> String {
        if self.catalog.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.server.data_dir.join("catalog.db").display()
            )
        } else {
            self.catalog.url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_is_the_defaults() {
        let shipped = Config::load(
            Some(Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../config/bewahr.toml"
            ))),
            [],
        )
        .unwrap();
        let d = Config::default();
        assert_eq!(format!("{shipped:?}"), format!("{d:?}"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = Config::load(
            None,
            [
                ("BEWAHR_BATCH__INTERVAL_MS".into(), "250".into()),
                ("BEWAHR_SERVER__LISTEN".into(), "0.0.0.0:9".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.batch.interval_ms, 250);
        assert_eq!(c.server.listen, "0.0.0.0:9");
        assert_eq!(c.evidence.profile, bewahr_core::verify::Profile::Rfc4998);
        let c = Config::load(
            None,
            [("BEWAHR_EVIDENCE__PROFILE".into(), "tr-esor".into())],
        )
        .unwrap();
        assert_eq!(c.evidence.profile, bewahr_core::verify::Profile::TrEsor);
        let e =
            Config::load(None, [("BEWAHR_EVIDENCE__PROFILE".into(), "strict".into())]).unwrap_err();
        assert!(e.to_string().contains("strict"), "{e}");
    }

    #[test]
    fn a_tsa_from_the_environment_is_used_and_typos_are_refused() {
        // the TSA set only in the environment: configured, not the development TSA
        let c = Config::load(
            None,
            [
                ("BEWAHR_TSA__URL".into(), "https://tsa.example/tsp".into()),
                ("BEWAHR_TSA__POLICY".into(), "1.2.3.4".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.tsa.len(), 1);
        assert_eq!(c.tsa[0].url, "https://tsa.example/tsp");
        assert_eq!(c.tsa[0].policy, "1.2.3.4");
        // a mistyped section is an error, not a silent default
        let e = Config::load(None, [("BEWAHR_TSAS__URL".into(), "https://x".into())]).unwrap_err();
        assert!(e.to_string().contains("BEWAHR_TSAS__URL"), "{e}");
        // a bad TSA URL from the environment stops the start
        let e = Config::load(None, [("BEWAHR_TSA__URL".into(), "tsa.example".into())]).unwrap_err();
        assert!(e.to_string().contains("tsa.url"), "{e}");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = Config::load(
            None,
            [("BEWAHR_BATCH__DIGEST_ALGORITHM".into(), "sha1".into())],
        )
        .unwrap_err();
        assert!(e.to_string().contains("batch.digest_algorithm"), "{e}");
        let e =
            Config::load(None, [("BEWAHR_BATCH__INTERVAL_MS".into(), "soon".into())]).unwrap_err();
        assert!(e.to_string().contains("interval_ms"), "{e}");
    }
}
